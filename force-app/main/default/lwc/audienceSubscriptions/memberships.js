/**
 * Pure helpers of the component: which fields it reads, how a membership record
 * (User Interface API shape) becomes a row on screen, and what an unsubscribe writes.
 */
import MEMBERSHIP_ID_FIELD from '@salesforce/schema/Audience_Membership__c.Id';
import AUDIENCE_ID_FIELD from '@salesforce/schema/Audience_Membership__c.Audience_Id__c';
import AUDIENCE_NAME_FIELD from '@salesforce/schema/Audience_Membership__c.Audience_Name__c';
import STATUS_FIELD from '@salesforce/schema/Audience_Membership__c.Status__c';
import STATUS_CHANGED_AT_FIELD from '@salesforce/schema/Audience_Membership__c.Status_Changed_At__c';
import SOURCE_FIELD from '@salesforce/schema/Audience_Membership__c.Source__c';
import PENDING_PUSH_FIELD from '@salesforce/schema/Audience_Membership__c.Pending_Push__c';
import REASON_FIELD from '@salesforce/schema/Audience_Membership__c.Unsubscribe_Reason__c';
import CONTACT_EMAIL_OPT_OUT_FIELD from '@salesforce/schema/Contact.HasOptedOutOfEmail';
import CONTACT_SALES_OPT_OUT_FIELD from '@salesforce/schema/Contact.Marketo_Sales_Opt_Out__c';
import LEAD_EMAIL_OPT_OUT_FIELD from '@salesforce/schema/Lead.HasOptedOutOfEmail';
import LEAD_SALES_OPT_OUT_FIELD from '@salesforce/schema/Lead.Marketo_Sales_Opt_Out__c';

/** Child relationship of Audience_Membership__c on Contact and on Lead. */
export const RELATED_LIST_ID = 'Audience_Memberships__r';

/** More than anyone belongs to; the UI API allows up to 1,999. */
export const PAGE_SIZE = 200;

/** 'Audience_Membership__c.Status__c' from a schema import (related-list adapters take strings). */
export function qualifiedName(field) {
    return `${field.objectApiName}.${field.fieldApiName}`;
}

/** Fields every row needs: an error if the user cannot read them. */
export const MEMBERSHIP_FIELDS = [
    AUDIENCE_ID_FIELD,
    AUDIENCE_NAME_FIELD,
    STATUS_FIELD,
    STATUS_CHANGED_AT_FIELD,
    SOURCE_FIELD,
    PENDING_PUSH_FIELD
].map(qualifiedName);

/** Shown when readable, left out silently otherwise. */
export const MEMBERSHIP_OPTIONAL_FIELDS = [REASON_FIELD].map(qualifiedName);

/** Alphabetical by audience name, as a related list would be. */
export const MEMBERSHIP_SORT = [qualifiedName(AUDIENCE_NAME_FIELD)];

/**
 * The two opt-out fields of each supported person object, and the field lists the
 * getRecord wire takes (built once, so the wire configuration stays the same object).
 */
function optOutFields(emailOptOut, salesOptOut) {
    return {
        emailOptOut,
        salesOptOut,
        required: [emailOptOut],
        optional: [salesOptOut]
    };
}

const OPT_OUT_FIELDS = {
    Contact: optOutFields(
        CONTACT_EMAIL_OPT_OUT_FIELD,
        CONTACT_SALES_OPT_OUT_FIELD
    ),
    Lead: optOutFields(LEAD_EMAIL_OPT_OUT_FIELD, LEAD_SALES_OPT_OUT_FIELD)
};

/** Key prefixes of the supported objects, for pages that give no objectApiName. */
const KEY_PREFIXES = { '003': 'Contact', '00Q': 'Lead' };

/**
 * The person object the component shows: Contact or Lead, else undefined.
 * @param {String} recordId
 * @param {String} objectApiName as given by the page, may be undefined
 */
export function personObject(recordId, objectApiName) {
    if (!recordId) {
        return undefined;
    }
    const name = objectApiName || KEY_PREFIXES[recordId.substring(0, 3)];
    return Object.prototype.hasOwnProperty.call(OPT_OUT_FIELDS, name)
        ? name
        : undefined;
}

/** The opt-out field imports of Contact or Lead. */
export function optOutFieldsOf(objectApiName) {
    return OPT_OUT_FIELDS[objectApiName];
}

/** Status API name -> SLDS badge theme (colour); the label text is always shown too. */
const STATUS_THEMES = {
    Subscribed: 'slds-theme_success',
    Pending: 'slds-theme_warning',
    Unsubscribed: 'slds-theme_error',
    Cleaned: 'slds-theme_error',
    Transactional: '',
    Archived: ''
};

export function badgeClassOf(status) {
    return STATUS_THEMES[status] || '';
}

/** Statuses a user can unsubscribe from in the component. */
export function canUnsubscribe(status) {
    return status === 'Subscribed' || status === 'Pending';
}

function fieldOf(record, field) {
    return record.fields[field.fieldApiName] || {};
}

function valueOf(record, field) {
    const value = fieldOf(record, field).value;
    return value === undefined ? null : value;
}

/** Picklist labels come translated in displayValue; other types may not have one. */
function labelOf(record, field) {
    const entry = fieldOf(record, field);
    return entry.displayValue ?? entry.value ?? null;
}

/**
 * One membership record (UI API record) as a row of the component.
 * @param {Object} record
 */
export function toRow(record) {
    const status = valueOf(record, STATUS_FIELD);
    return {
        id: record.id,
        name:
            valueOf(record, AUDIENCE_NAME_FIELD) ||
            valueOf(record, AUDIENCE_ID_FIELD) ||
            '',
        status,
        statusLabel: labelOf(record, STATUS_FIELD) || '',
        badgeClass: badgeClassOf(status),
        changedAt: valueOf(record, STATUS_CHANGED_AT_FIELD),
        sourceLabel: labelOf(record, SOURCE_FIELD),
        reason: valueOf(record, REASON_FIELD),
        pendingPush: valueOf(record, PENDING_PUSH_FIELD) === true,
        canUnsubscribe: canUnsubscribe(status)
    };
}

/**
 * The recordInput.fields of an unsubscribe made in the component: marked for the
 * next hourly sync to send to the marketing platform (DESIGN.md R5 c).
 * @param {String} membershipId
 * @param {Number} nowMs milliseconds since the epoch
 */
export function unsubscribeFields(membershipId, nowMs) {
    return {
        [MEMBERSHIP_ID_FIELD.fieldApiName]: membershipId,
        [STATUS_FIELD.fieldApiName]: 'Unsubscribed',
        [PENDING_PUSH_FIELD.fieldApiName]: true,
        [SOURCE_FIELD.fieldApiName]: 'Salesforce',
        [STATUS_CHANGED_AT_FIELD.fieldApiName]: new Date(nowMs).toISOString()
    };
}
