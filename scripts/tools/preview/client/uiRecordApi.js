/**
 * lightning/uiRecordApi for the preview: getRecord (wire), getFieldValue,
 * getFieldDisplayValue, updateRecord and notifyRecordUpdateAvailable, backed by the
 * preview server's UI API routes over the local org.
 */
import {
    UiApiWireAdapter,
    fieldNames,
    refreshRecords,
    uiApiRequest
} from './uiApi';

class GetRecordAdapter extends UiApiWireAdapter {
    request(config) {
        if (!config.recordId) {
            return undefined;
        }
        return {
            path: `records/${encodeURIComponent(config.recordId)}`,
            params: {
                fields: fieldNames(config.fields).join(',') || undefined,
                optionalFields:
                    fieldNames(config.optionalFields).join(',') || undefined
            }
        };
    }

    recordIds() {
        return this.config && this.config.recordId
            ? [this.config.recordId]
            : [];
    }
}

/** Wire adapter id; calling it imperatively is an error, as on the platform. */
export function getRecord() {
    throw new Error('getRecord is a wire adapter: use it with @wire');
}
getRecord.adapter = GetRecordAdapter;

function fieldPath(record, field) {
    const name =
        typeof field === 'string'
            ? field
            : `${field.objectApiName}.${field.fieldApiName}`;
    // 'Contact.Account.Name' -> ['Account', 'Name'] (the first part is the object)
    const parts = name.split('.');
    if (parts.length > 1 && parts[0] === record.apiName) {
        parts.shift();
    }
    return parts;
}

function fieldEntry(record, field) {
    if (!record) {
        return undefined;
    }
    let current = record;
    const parts = fieldPath(record, field);
    for (let i = 0; i < parts.length; i++) {
        const entry = current.fields ? current.fields[parts[i]] : undefined;
        if (!entry) {
            return undefined;
        }
        if (i === parts.length - 1) {
            return entry;
        }
        current = entry.value;
        if (!current) {
            return undefined;
        }
    }
    return undefined;
}

/** The value of a field of a UI API record; undefined when the record lacks it. */
export function getFieldValue(record, field) {
    const entry = fieldEntry(record, field);
    return entry ? entry.value : undefined;
}

/** The display value of a field of a UI API record; undefined when it has none. */
export function getFieldDisplayValue(record, field) {
    const entry = fieldEntry(record, field);
    return entry && entry.displayValue !== null
        ? entry.displayValue
        : undefined;
}

/**
 * Saves fields of one record (recordInput.fields with Id). Resolves the saved record;
 * rejects with the UI API write error. Live wires showing the record re-read it.
 */
export async function updateRecord(recordInput) {
    const fields = { ...(recordInput && recordInput.fields) };
    const recordId = fields.Id || fields.id;
    if (!recordId) {
        throw new Error('updateRecord: recordInput.fields.Id is required');
    }
    delete fields.Id;
    delete fields.id;
    const record = await uiApiRequest(
        'PATCH',
        `records/${encodeURIComponent(recordId)}`,
        {},
        { fields }
    );
    await refreshRecords([record.id]);
    return record;
}

/** Tells LDS these records changed on the server: live wires showing them re-read. */
export async function notifyRecordUpdateAvailable(recordIdentifiers) {
    const ids = (recordIdentifiers || []).map((r) => r.recordId);
    await refreshRecords(ids);
}
