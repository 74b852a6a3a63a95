import { LightningElement, api, wire } from 'lwc';
import {
    getRecord,
    getFieldValue,
    updateRecord,
    notifyRecordUpdateAvailable
} from 'lightning/uiRecordApi';
import { getRelatedListRecords } from 'lightning/uiRelatedListApi';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import LightningConfirm from 'lightning/confirm';
import {
    registerRefreshHandler,
    unregisterRefreshHandler
} from 'lightning/refresh';
// refreshApex re-reads wired Lightning Data Service results too; no Apex is called.
import { refreshApex } from '@salesforce/apex';
import { reduceErrors } from 'c/ldsUtils';
import LABELS, { formatLabel } from './labels';
import {
    RELATED_LIST_ID,
    PAGE_SIZE,
    MEMBERSHIP_FIELDS,
    MEMBERSHIP_OPTIONAL_FIELDS,
    MEMBERSHIP_SORT,
    personObject,
    optOutFieldsOf,
    toRow,
    unsubscribeFields
} from './memberships';

/**
 * Audience Subscriptions: on a Contact or Lead record page, the person's audience
 * memberships with their status, both opt-out fields, refresh and unsubscribe.
 * Reads and writes through Lightning Data Service only.
 */
export default class AudienceSubscriptions extends LightningElement {
    @api recordId;
    @api objectApiName;

    labels = LABELS;

    /** Wired results, kept whole for refreshApex. */
    membershipsResult;
    recordResult;

    records;
    membershipsError;
    record;
    recordError;
    refreshError;

    isRefreshing = false;
    /** Ids of memberships being unsubscribed (their buttons are disabled). */
    busyIds = [];

    refreshHandlerId;

    connectedCallback() {
        // Page-level refreshes (RefreshEvent, e.g. after a quick action) re-read us too.
        this.refreshHandlerId = registerRefreshHandler(
            this,
            this.refreshHandler
        );
    }

    disconnectedCallback() {
        unregisterRefreshHandler(this.refreshHandlerId);
    }

    /** Contact or Lead; undefined elsewhere (App page, other objects). */
    get personObjectApiName() {
        return personObject(this.recordId, this.objectApiName);
    }

    /** The record id the wires read, only on a Contact or Lead. */
    get personRecordId() {
        return this.personObjectApiName ? this.recordId : undefined;
    }

    get emailOptOutFields() {
        return optOutFieldsOf(this.personObjectApiName)?.required;
    }

    get salesOptOutFields() {
        return optOutFieldsOf(this.personObjectApiName)?.optional;
    }

    @wire(getRelatedListRecords, {
        parentRecordId: '$personRecordId',
        relatedListId: RELATED_LIST_ID,
        fields: MEMBERSHIP_FIELDS,
        optionalFields: MEMBERSHIP_OPTIONAL_FIELDS,
        sortBy: MEMBERSHIP_SORT,
        pageSize: PAGE_SIZE
    })
    wiredMemberships(result) {
        this.membershipsResult = result;
        if (result.data) {
            this.records = result.data.records;
            this.membershipsError = undefined;
        } else if (result.error) {
            this.records = undefined;
            this.membershipsError = result.error;
        }
    }

    // Marketo Sales Opt Out is optional: a user without access to it still sees the rest.
    @wire(getRecord, {
        recordId: '$personRecordId',
        fields: '$emailOptOutFields',
        optionalFields: '$salesOptOutFields'
    })
    wiredRecord(result) {
        this.recordResult = result;
        if (result.data) {
            this.record = result.data;
            this.recordError = undefined;
        } else if (result.error) {
            this.record = undefined;
            this.recordError = result.error;
        }
    }

    get hasRecordContext() {
        return !!this.personRecordId;
    }

    get isLoading() {
        return this.hasRecordContext && !this.records && !this.membershipsError;
    }

    get rows() {
        if (!this.records) {
            return [];
        }
        return this.records.map((record) => {
            const row = toRow(record);
            return {
                ...row,
                isBusy: this.busyIds.includes(row.id),
                unsubscribeTitle: formatLabel(
                    LABELS.unsubscribeTitle,
                    row.name
                ),
                hasChangedAt: !!row.changedAt
            };
        });
    }

    get hasRows() {
        return !!this.records && this.records.length > 0;
    }

    get isEmpty() {
        return !!this.records && this.records.length === 0;
    }

    get cardTitle() {
        return this.records
            ? `${LABELS.title} (${this.records.length})`
            : LABELS.title;
    }

    /** Both opt-out fields, each only when the record gave it (field access). */
    get optOuts() {
        const fields = optOutFieldsOf(this.personObjectApiName);
        if (!this.record || !fields) {
            return [];
        }
        return [
            { key: 'emailOptOut', label: LABELS.emailOptOut },
            { key: 'salesOptOut', label: LABELS.salesOptOut }
        ]
            .map(({ key, label }) => ({
                key,
                label,
                value: getFieldValue(this.record, fields[key])
            }))
            .filter((optOut) => optOut.value !== undefined)
            .map((optOut) => ({
                ...optOut,
                valueKey: `${optOut.key}-value`,
                text: optOut.value ? LABELS.yes : LABELS.no,
                valueClass: optOut.value
                    ? 'slds-hyphenate slds-text-color_error'
                    : 'slds-hyphenate'
            }));
    }

    get hasOptOuts() {
        return this.optOuts.length > 0;
    }

    get errorMessages() {
        const errors = [
            this.membershipsError,
            this.recordError,
            this.refreshError
        ].filter((error) => !!error);
        if (errors.length === 0) {
            return [];
        }
        const messages = reduceErrors(errors);
        return messages.length > 0 ? messages : [LABELS.unknownError];
    }

    get hasErrors() {
        return this.errorMessages.length > 0;
    }

    get isRefreshDisabled() {
        return !this.hasRecordContext || this.isRefreshing;
    }

    handleRefresh() {
        return this.refresh();
    }

    /** RefreshView API handler: resolves true once the data is re-read, else false. */
    refreshHandler() {
        return this.refresh();
    }

    /**
     * Re-reads both wires (and, after a change, tells LDS that the person record may
     * be stale for the other components of the page). A failure shows in the error
     * panel. Resolves true on success.
     */
    async refresh({ personChanged = false } = {}) {
        if (!this.hasRecordContext) {
            return false;
        }
        this.isRefreshing = true;
        this.refreshError = undefined;
        try {
            const reads = [
                refreshApex(this.membershipsResult),
                refreshApex(this.recordResult)
            ];
            if (personChanged) {
                reads.push(
                    notifyRecordUpdateAvailable([{ recordId: this.recordId }])
                );
            }
            await Promise.all(reads);
            return true;
        } catch (error) {
            this.refreshError = error;
            return false;
        } finally {
            this.isRefreshing = false;
        }
    }

    async handleUnsubscribe(event) {
        const membershipId = event.target.dataset.id;
        const row = this.rows.find((r) => r.id === membershipId);
        if (!row || !row.canUnsubscribe || row.isBusy) {
            return;
        }
        const confirmed = await LightningConfirm.open({
            label: LABELS.confirmTitle,
            message: formatLabel(LABELS.confirmMessage, row.name),
            theme: 'warning',
            variant: 'header'
        });
        if (!confirmed) {
            return;
        }

        this.busyIds = [...this.busyIds, membershipId];
        let saved = false;
        try {
            await updateRecord({
                fields: unsubscribeFields(membershipId, Date.now())
            });
            saved = true;
        } catch (error) {
            const messages = reduceErrors(error);
            this.toast(
                LABELS.errorTitle,
                messages.length > 0 ? messages.join(' ') : LABELS.unknownError,
                'error'
            );
        } finally {
            this.busyIds = this.busyIds.filter((id) => id !== membershipId);
        }
        if (!saved) {
            return;
        }

        this.toast(
            LABELS.successTitle,
            formatLabel(LABELS.successMessage, row.name),
            'success'
        );
        // Automation on memberships may also have changed the person (opt-out fields).
        await this.refresh({ personChanged: true });
    }

    toast(title, message, variant) {
        this.dispatchEvent(new ShowToastEvent({ title, message, variant }));
    }
}
