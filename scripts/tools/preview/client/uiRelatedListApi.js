/**
 * lightning/uiRelatedListApi for the preview: getRelatedListRecords (wire), backed by
 * the preview server's UI API route over the local org.
 */
import { UiApiWireAdapter, fieldNames } from './uiApi';

class GetRelatedListRecordsAdapter extends UiApiWireAdapter {
    request(config) {
        if (!config.parentRecordId || !config.relatedListId) {
            return undefined;
        }
        return {
            path: `related-list-records/${encodeURIComponent(
                config.parentRecordId
            )}/${encodeURIComponent(config.relatedListId)}`,
            params: {
                fields: fieldNames(config.fields).join(',') || undefined,
                optionalFields:
                    fieldNames(config.optionalFields).join(',') || undefined,
                sortBy: fieldNames(config.sortBy).join(',') || undefined,
                pageSize: config.pageSize,
                where: config.where
            }
        };
    }

    /** The parent and every listed record: a change to any of them refreshes the list. */
    recordIds() {
        const ids =
            this.config && this.config.parentRecordId
                ? [this.config.parentRecordId]
                : [];
        const data = this.value && this.value.data;
        return data ? ids.concat(data.records.map((r) => r.id)) : ids;
    }
}

export function getRelatedListRecords() {
    throw new Error(
        'getRelatedListRecords is a wire adapter: use it with @wire'
    );
}
getRelatedListRecords.adapter = GetRelatedListRecordsAdapter;
