import { createElement } from '@lwc/engine-dom';
import AudienceSubscriptions from 'c/audienceSubscriptions';
import {
    getRecord,
    updateRecord,
    notifyRecordUpdateAvailable
} from 'lightning/uiRecordApi';
import { getRelatedListRecords } from 'lightning/uiRelatedListApi';
import { ShowToastEventName } from 'lightning/platformShowToastEvent';
import LightningConfirm from 'lightning/confirm';
import {
    fireRefresh,
    registeredHandlerCount,
    unregisterRefreshHandler
} from 'lightning/refresh';
import { refreshApex } from '@salesforce/apex';

const mockContactMemberships = require('./data/getRelatedListRecordsContact.json');
const mockContactMembershipsAfter = require('./data/getRelatedListRecordsContactAfterUnsubscribe.json');
const mockLeadMemberships = require('./data/getRelatedListRecordsLead.json');
const mockNoMemberships = require('./data/getRelatedListRecordsEmpty.json');
const mockContact = require('./data/getRecordContact.json');
const mockContactNoSalesOptOut = require('./data/getRecordContactNoSalesOptOut.json');
const mockLead = require('./data/getRecordLead.json');
const mockRelatedListError = require('./data/relatedListError.json');
const mockGetRecordError = require('./data/getRecordError.json');
const mockUpdateRecordError = require('./data/updateRecordError.json');

// Labels that carry placeholders get their English text so substitution is tested;
// the others resolve to 'c.<name>' in sfdx-lwc-jest.
jest.mock(
    '@salesforce/label/c.Audience_Subscriptions_Confirm_Message',
    () => ({ default: 'Unsubscribe this person from {0}?' }),
    { virtual: true }
);
jest.mock(
    '@salesforce/label/c.Audience_Subscriptions_Success_Message',
    () => ({ default: 'Unsubscribed from {0}.' }),
    { virtual: true }
);
jest.mock(
    '@salesforce/label/c.Audience_Subscriptions_Unsubscribe_Title',
    () => ({ default: 'Unsubscribe from {0}' }),
    { virtual: true }
);

const CONTACT_ID = mockContact.id;
const LEAD_ID = mockLead.id;
const NOW = Date.parse('2026-03-02T09:30:00.000Z');

const STATUS_THEMES = {
    Subscribed: 'slds-theme_success',
    Pending: 'slds-theme_warning',
    Unsubscribed: 'slds-theme_error',
    Cleaned: 'slds-theme_error',
    Transactional: '',
    Archived: ''
};

function createComponent(props = {}) {
    const element = createElement('c-audience-subscriptions', {
        is: AudienceSubscriptions
    });
    Object.assign(element, props);
    document.body.appendChild(element);
    return element;
}

function createForContact() {
    return createComponent({ recordId: CONTACT_ID, objectApiName: 'Contact' });
}

/** Lets promise chains and the re-render they cause finish. */
function flushPromises() {
    // eslint-disable-next-line @lwc/lwc/no-async-operation
    return new Promise((resolve) => setTimeout(resolve, 0));
}

function query(element, selector) {
    return element.shadowRoot.querySelector(selector);
}

function queryAll(element, selector) {
    return [...element.shadowRoot.querySelectorAll(selector)];
}

function recordsOf(fixture) {
    return fixture.records;
}

function fieldValue(record, field) {
    return record.fields[field].value;
}

/** The <li> of a membership, by audience name. */
function rowOf(element, audienceName) {
    return queryAll(element, 'li.membership').find(
        (li) => li.querySelector('.audience-name').textContent === audienceName
    );
}

function collectToasts(element) {
    const toasts = [];
    element.addEventListener(ShowToastEventName, (event) =>
        toasts.push(event.detail)
    );
    return toasts;
}

async function loadContact({
    memberships = mockContactMemberships,
    record = mockContact
} = {}) {
    const element = createForContact();
    getRelatedListRecords.emit(memberships);
    getRecord.emit(record);
    await flushPromises();
    return element;
}

describe('c-audience-subscriptions', () => {
    beforeEach(() => {
        LightningConfirm.open.mockResolvedValue(true);
        updateRecord.mockResolvedValue({});
        refreshApex.mockResolvedValue();
        notifyRecordUpdateAvailable.mockResolvedValue();
    });

    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
        jest.restoreAllMocks();
    });

    describe('loading', () => {
        it('shows a spinner until the memberships arrive', async () => {
            const element = createForContact();
            await flushPromises();

            const spinner = query(element, 'lightning-spinner');
            expect(spinner).not.toBeNull();
            expect(spinner.alternativeText).toBe(
                'c.Audience_Subscriptions_Loading'
            );
            expect(query(element, 'li.membership')).toBeNull();
            expect(query(element, '.empty')).toBeNull();

            getRelatedListRecords.emit(mockContactMemberships);
            await flushPromises();
            expect(query(element, 'lightning-spinner')).toBeNull();

            await expect(element).toBeAccessible();
        });

        it('asks Lightning Data Service for the memberships and the Contact opt-out fields', async () => {
            const element = createForContact();
            await flushPromises();

            expect(getRelatedListRecords.getLastConfig()).toEqual({
                parentRecordId: CONTACT_ID,
                relatedListId: 'Audience_Memberships__r',
                fields: [
                    'Audience_Membership__c.Audience_Id__c',
                    'Audience_Membership__c.Audience_Name__c',
                    'Audience_Membership__c.Status__c',
                    'Audience_Membership__c.Status_Changed_At__c',
                    'Audience_Membership__c.Source__c',
                    'Audience_Membership__c.Pending_Push__c'
                ],
                optionalFields: [
                    'Audience_Membership__c.Unsubscribe_Reason__c'
                ],
                sortBy: ['Audience_Membership__c.Audience_Name__c'],
                pageSize: 200
            });
            expect(getRecord.getLastConfig()).toEqual({
                recordId: CONTACT_ID,
                fields: [
                    {
                        objectApiName: 'Contact',
                        fieldApiName: 'HasOptedOutOfEmail'
                    }
                ],
                optionalFields: [
                    {
                        objectApiName: 'Contact',
                        fieldApiName: 'Marketo_Sales_Opt_Out__c'
                    }
                ]
            });

            await expect(element).toBeAccessible();
        });
    });

    describe('memberships', () => {
        it('renders every membership with its status badge, last change and source', async () => {
            const element = await loadContact();
            const records = recordsOf(mockContactMemberships);

            const rows = queryAll(element, 'li.membership');
            expect(rows.map((li) => li.dataset.id)).toEqual(
                records.map((r) => r.id)
            );
            expect(
                rows.map((li) => li.querySelector('.audience-name').textContent)
            ).toEqual(records.map((r) => fieldValue(r, 'Audience_Name__c')));

            records.forEach((record, index) => {
                const status = fieldValue(record, 'Status__c');
                const badge = rows[index].querySelector('lightning-badge');
                expect(badge.label).toBe(record.fields.Status__c.displayValue);
                expect(badge.className).toBe(STATUS_THEMES[status]);

                const dateTime = rows[index].querySelector(
                    'lightning-formatted-date-time'
                );
                expect(dateTime?.value ?? null).toBe(
                    fieldValue(record, 'Status_Changed_At__c')
                );
                expect(rows[index].querySelector('.source').textContent).toBe(
                    record.fields.Source__c.displayValue || ''
                );
            });

            // No change time yet: a dash instead of a date
            expect(
                rowOf(element, 'Spring Launch 2024').querySelector(
                    '.changed-at'
                ).textContent
            ).toBe('—');

            // Every status has a colour of its own family
            expect(
                rowOf(element, 'Product Newsletter').querySelector(
                    'lightning-badge'
                ).className
            ).toBe('slds-theme_success');
            expect(
                rowOf(element, 'Partner Offers').querySelector(
                    'lightning-badge'
                ).className
            ).toBe('slds-theme_error');
            expect(
                rowOf(element, 'Events & Webinars').querySelector(
                    'lightning-badge'
                ).className
            ).toBe('slds-theme_warning');

            // Source shown as its picklist label, not the API name
            expect(
                rowOf(element, 'Product Newsletter').querySelector('.source')
                    .textContent
            ).toBe('Marketing platform');

            expect(query(element, 'lightning-card').title).toBe(
                `c.Audience_Subscriptions_Title (${records.length})`
            );
            await expect(element).toBeAccessible();
        });

        it('shows the reason and the waiting-for-sync note of a change made in Salesforce', async () => {
            const element = await loadContact();

            const partnerOffers = rowOf(element, 'Partner Offers');
            expect(partnerOffers.querySelector('.reason').textContent).toBe(
                'Asked on a call to stop partner offers'
            );
            expect(
                partnerOffers.querySelector('.pending-push').textContent.trim()
            ).toBe('c.Audience_Subscriptions_Pending_Push');

            const newsletter = rowOf(element, 'Product Newsletter');
            expect(newsletter.querySelector('.reason')).toBeNull();
            expect(newsletter.querySelector('.pending-push')).toBeNull();

            await expect(element).toBeAccessible();
        });

        it('offers Unsubscribe only on subscribed and pending audiences', async () => {
            const element = await loadContact();

            const buttons = queryAll(element, 'lightning-button.unsubscribe');
            expect(buttons.map((b) => b.dataset.id)).toEqual([
                rowOf(element, 'Events & Webinars').dataset.id,
                rowOf(element, 'Product Newsletter').dataset.id
            ]);
            buttons.forEach((button) => {
                expect(button.label).toBe(
                    'c.Audience_Subscriptions_Unsubscribe'
                );
                expect(button.disabled).toBe(false);
            });
            expect(buttons[1].title).toBe(
                'Unsubscribe from Product Newsletter'
            );
            expect(
                rowOf(element, 'Partner Offers').querySelector(
                    'lightning-button'
                )
            ).toBeNull();

            await expect(element).toBeAccessible();
        });

        it('shows the empty state when the person belongs to no audience', async () => {
            const element = await loadContact({
                memberships: mockNoMemberships
            });

            expect(query(element, '.empty').textContent.trim()).toBe(
                'c.Audience_Subscriptions_Empty'
            );
            expect(query(element, 'li.membership')).toBeNull();
            expect(query(element, 'lightning-spinner')).toBeNull();
            expect(query(element, 'lightning-card').title).toBe(
                'c.Audience_Subscriptions_Title (0)'
            );
            // The opt-out fields still show: they belong to the person
            expect(queryAll(element, '.opt-outs dd')).toHaveLength(2);

            await expect(element).toBeAccessible();
        });
    });

    describe('errors', () => {
        it('shows a readable message when the memberships cannot be read', async () => {
            const element = createForContact();
            getRelatedListRecords.error(
                mockRelatedListError.body,
                mockRelatedListError.status,
                mockRelatedListError.statusText
            );
            getRecord.emit(mockContact);
            await flushPromises();

            const panel = query(element, '.error-panel');
            expect(panel).not.toBeNull();
            expect(panel.getAttribute('role')).toBe('alert');
            expect(
                queryAll(element, '.error-messages li').map(
                    (li) => li.textContent
                )
            ).toEqual([mockRelatedListError.body[0].message]);
            expect(query(element, 'lightning-spinner')).toBeNull();
            expect(query(element, 'li.membership')).toBeNull();
            expect(query(element, '.empty')).toBeNull();

            await expect(element).toBeAccessible();
        });

        it('shows a readable message when the person record cannot be read, and the memberships still', async () => {
            const element = createForContact();
            getRelatedListRecords.emit(mockContactMemberships);
            getRecord.error(
                mockGetRecordError.body,
                mockGetRecordError.status,
                mockGetRecordError.statusText
            );
            await flushPromises();

            expect(
                queryAll(element, '.error-messages li').map(
                    (li) => li.textContent
                )
            ).toEqual([mockGetRecordError.body.message]);
            expect(query(element, '.opt-outs')).toBeNull();
            expect(queryAll(element, 'li.membership')).toHaveLength(
                mockContactMemberships.records.length
            );

            await expect(element).toBeAccessible();
        });

        it('falls back to a generic message when an error carries none', async () => {
            const element = await loadContact();
            refreshApex.mockRejectedValueOnce({});
            query(element, 'lightning-button-icon.refresh').click();
            await flushPromises();

            expect(
                queryAll(element, '.error-messages li').map(
                    (li) => li.textContent
                )
            ).toEqual(['c.Audience_Subscriptions_Unknown_Error']);

            await expect(element).toBeAccessible();
        });
    });

    describe('opt-out fields', () => {
        function optOutTexts(element) {
            return Object.fromEntries(
                queryAll(element, '.opt-outs dd').map((dd) => [
                    dd.dataset.field,
                    dd.textContent.trim()
                ])
            );
        }

        it('shows both opt-out fields of a contact, unchecked and checked', async () => {
            const element = await loadContact();

            expect(
                queryAll(element, '.opt-outs dt').map((dt) =>
                    dt.textContent.trim()
                )
            ).toEqual([
                'c.Audience_Subscriptions_Email_Opt_Out',
                'c.Audience_Subscriptions_Sales_Opt_Out'
            ]);
            // Contact fixture: Email Opt Out false, Marketo Sales Opt Out true
            expect(optOutTexts(element)).toEqual({
                emailOptOut: 'c.Audience_Subscriptions_No',
                salesOptOut: 'c.Audience_Subscriptions_Yes'
            });
            expect(
                query(element, 'dd[data-field="salesOptOut"]').classList
            ).toContain('slds-text-color_error');
            expect(
                query(element, 'dd[data-field="emailOptOut"]').classList
            ).not.toContain('slds-text-color_error');

            await expect(element).toBeAccessible();
        });

        it('leaves out Marketo Sales Opt Out when the user cannot read it', async () => {
            const element = await loadContact({
                record: mockContactNoSalesOptOut
            });

            expect(optOutTexts(element)).toEqual({
                emailOptOut: 'c.Audience_Subscriptions_Yes'
            });

            await expect(element).toBeAccessible();
        });
    });

    describe('refresh', () => {
        it('re-reads both wires from the refresh button and shows the new data', async () => {
            const element = await loadContact();
            const button = query(element, 'lightning-button-icon.refresh');
            expect(button.alternativeText).toBe(
                'c.Audience_Subscriptions_Refresh'
            );
            expect(button.iconName).toBe('utility:refresh');

            button.click();
            await flushPromises();

            expect(refreshApex).toHaveBeenCalledTimes(2);
            const refreshed = refreshApex.mock.calls.map(([result]) => result);
            expect(refreshed).toContainEqual({
                data: mockContactMemberships,
                error: undefined
            });
            expect(refreshed).toContainEqual({
                data: mockContact,
                error: undefined
            });

            // What LDS does after the re-read: provision the new data
            getRelatedListRecords.emit(mockContactMembershipsAfter);
            await flushPromises();
            expect(
                rowOf(element, 'Product Newsletter').querySelector(
                    'lightning-badge'
                ).className
            ).toBe('slds-theme_error');
            expect(
                queryAll(element, 'lightning-button.unsubscribe')
            ).toHaveLength(1);

            await expect(element).toBeAccessible();
        });

        it('re-reads when the page refreshes (RefreshView API) and stops listening when removed', async () => {
            const element = await loadContact();
            expect(registeredHandlerCount()).toBe(1);

            await expect(fireRefresh()).resolves.toEqual([true]);
            expect(refreshApex).toHaveBeenCalledTimes(2);

            await expect(element).toBeAccessible();

            document.body.removeChild(element);
            expect(unregisterRefreshHandler).toHaveBeenCalledTimes(1);
            expect(registeredHandlerCount()).toBe(0);
        });

        it('shows a readable message when the refresh fails', async () => {
            const element = await loadContact();
            refreshApex.mockRejectedValueOnce({
                body: { message: 'Network unavailable' }
            });

            query(element, 'lightning-button-icon.refresh').click();
            await flushPromises();

            expect(
                queryAll(element, '.error-messages li').map(
                    (li) => li.textContent
                )
            ).toEqual(['Network unavailable']);
            expect(
                query(element, 'lightning-button-icon.refresh').disabled
            ).toBe(false);

            await expect(element).toBeAccessible();
        });
    });

    describe('unsubscribe', () => {
        it('confirms, writes the unsubscribe, shows a success toast and refreshes', async () => {
            jest.spyOn(Date, 'now').mockReturnValue(NOW);
            const element = await loadContact();
            const toasts = collectToasts(element);
            const row = rowOf(element, 'Product Newsletter');

            row.querySelector('lightning-button.unsubscribe').click();
            await flushPromises();

            expect(LightningConfirm.open).toHaveBeenCalledTimes(1);
            expect(LightningConfirm.open).toHaveBeenCalledWith({
                label: 'c.Audience_Subscriptions_Confirm_Title',
                message: 'Unsubscribe this person from Product Newsletter?',
                theme: 'warning',
                variant: 'header'
            });
            expect(updateRecord).toHaveBeenCalledTimes(1);
            expect(updateRecord.mock.calls[0]).toEqual([
                {
                    fields: {
                        Id: row.dataset.id,
                        Status__c: 'Unsubscribed',
                        Pending_Push__c: true,
                        Source__c: 'Salesforce',
                        Status_Changed_At__c: '2026-03-02T09:30:00.000Z'
                    }
                }
            ]);
            expect(toasts).toEqual([
                {
                    title: 'c.Audience_Subscriptions_Success_Title',
                    message: 'Unsubscribed from Product Newsletter.',
                    variant: 'success'
                }
            ]);
            expect(refreshApex).toHaveBeenCalledTimes(2);
            expect(notifyRecordUpdateAvailable).toHaveBeenCalledWith([
                { recordId: CONTACT_ID }
            ]);

            await expect(element).toBeAccessible();
        });

        it('unsubscribes from a pending audience too', async () => {
            const element = await loadContact();
            const row = rowOf(element, 'Events & Webinars');

            row.querySelector('lightning-button.unsubscribe').click();
            await flushPromises();

            expect(updateRecord).toHaveBeenCalledTimes(1);
            expect(updateRecord.mock.calls[0][0].fields).toMatchObject({
                Id: row.dataset.id,
                Status__c: 'Unsubscribed'
            });

            await expect(element).toBeAccessible();
        });

        it('writes nothing when the user cancels the confirmation', async () => {
            LightningConfirm.open.mockResolvedValue(false);
            const element = await loadContact();
            const toasts = collectToasts(element);

            rowOf(element, 'Product Newsletter')
                .querySelector('lightning-button.unsubscribe')
                .click();
            await flushPromises();

            expect(LightningConfirm.open).toHaveBeenCalledTimes(1);
            expect(updateRecord).not.toHaveBeenCalled();
            expect(refreshApex).not.toHaveBeenCalled();
            expect(notifyRecordUpdateAvailable).not.toHaveBeenCalled();
            expect(toasts).toEqual([]);

            await expect(element).toBeAccessible();
        });

        it('shows an error toast with the reduced message when the write fails', async () => {
            updateRecord.mockRejectedValue(mockUpdateRecordError);
            const element = await loadContact();
            const toasts = collectToasts(element);
            const row = rowOf(element, 'Product Newsletter');

            row.querySelector('lightning-button.unsubscribe').click();
            await flushPromises();

            expect(updateRecord).toHaveBeenCalledTimes(1);
            expect(toasts).toEqual([
                {
                    title: 'c.Audience_Subscriptions_Error_Title',
                    message:
                        mockUpdateRecordError.body.output.errors[0].message,
                    variant: 'error'
                }
            ]);
            expect(refreshApex).not.toHaveBeenCalled();
            expect(notifyRecordUpdateAvailable).not.toHaveBeenCalled();
            // The row can be tried again
            expect(
                row.querySelector('lightning-button.unsubscribe').disabled
            ).toBe(false);

            await expect(element).toBeAccessible();
        });

        it('shows a generic error toast when the failure carries no message', async () => {
            updateRecord.mockRejectedValue({});
            const element = await loadContact();
            const toasts = collectToasts(element);

            rowOf(element, 'Product Newsletter')
                .querySelector('lightning-button.unsubscribe')
                .click();
            await flushPromises();

            expect(toasts).toEqual([
                {
                    title: 'c.Audience_Subscriptions_Error_Title',
                    message: 'c.Audience_Subscriptions_Unknown_Error',
                    variant: 'error'
                }
            ]);

            await expect(element).toBeAccessible();
        });

        it('disables the button while the write is in flight and ignores a second click', async () => {
            let finishWrite;
            updateRecord.mockImplementation(
                () =>
                    new Promise((resolve) => {
                        finishWrite = resolve;
                    })
            );
            const element = await loadContact();
            const row = rowOf(element, 'Product Newsletter');

            row.querySelector('lightning-button.unsubscribe').click();
            await flushPromises();
            const button = row.querySelector('lightning-button.unsubscribe');
            expect(button.disabled).toBe(true);

            button.click();
            await flushPromises();
            expect(LightningConfirm.open).toHaveBeenCalledTimes(1);
            expect(updateRecord).toHaveBeenCalledTimes(1);

            finishWrite({});
            await flushPromises();
            expect(
                row.querySelector('lightning-button.unsubscribe').disabled
            ).toBe(false);

            await expect(element).toBeAccessible();
        });
    });

    describe('lead', () => {
        it('reads the Lead opt-out fields, shows them and unsubscribes a lead', async () => {
            jest.spyOn(Date, 'now').mockReturnValue(NOW);
            const element = createComponent({
                recordId: LEAD_ID,
                objectApiName: 'Lead'
            });
            const toasts = collectToasts(element);
            getRelatedListRecords.emit(mockLeadMemberships);
            getRecord.emit(mockLead);
            await flushPromises();

            expect(getRelatedListRecords.getLastConfig().parentRecordId).toBe(
                LEAD_ID
            );
            expect(getRecord.getLastConfig()).toMatchObject({
                recordId: LEAD_ID,
                fields: [
                    {
                        objectApiName: 'Lead',
                        fieldApiName: 'HasOptedOutOfEmail'
                    }
                ],
                optionalFields: [
                    {
                        objectApiName: 'Lead',
                        fieldApiName: 'Marketo_Sales_Opt_Out__c'
                    }
                ]
            });
            // Lead fixture: Email Opt Out true, Marketo Sales Opt Out false
            expect(
                query(
                    element,
                    'dd[data-field="emailOptOut"]'
                ).textContent.trim()
            ).toBe('c.Audience_Subscriptions_Yes');
            expect(
                query(
                    element,
                    'dd[data-field="salesOptOut"]'
                ).textContent.trim()
            ).toBe('c.Audience_Subscriptions_No');
            expect(queryAll(element, 'li.membership')).toHaveLength(2);

            const row = rowOf(element, 'Product Newsletter');
            row.querySelector('lightning-button.unsubscribe').click();
            await flushPromises();

            expect(updateRecord).toHaveBeenCalledWith({
                fields: {
                    Id: row.dataset.id,
                    Status__c: 'Unsubscribed',
                    Pending_Push__c: true,
                    Source__c: 'Salesforce',
                    Status_Changed_At__c: '2026-03-02T09:30:00.000Z'
                }
            });
            expect(notifyRecordUpdateAvailable).toHaveBeenCalledWith([
                { recordId: LEAD_ID }
            ]);
            expect(toasts.map((t) => t.variant)).toEqual(['success']);

            await expect(element).toBeAccessible();
        });

        it('works out the object from the id when the page gives no objectApiName', async () => {
            const element = createComponent({ recordId: LEAD_ID });
            await flushPromises();

            expect(getRecord.getLastConfig().fields).toEqual([
                { objectApiName: 'Lead', fieldApiName: 'HasOptedOutOfEmail' }
            ]);
            expect(query(element, 'lightning-spinner')).not.toBeNull();

            await expect(element).toBeAccessible();
        });
    });

    describe('outside a Contact or Lead record page', () => {
        it('explains where the component belongs on an App page, and reads nothing', async () => {
            const element = createComponent();
            await flushPromises();

            expect(query(element, '.no-record').textContent.trim()).toBe(
                'c.Audience_Subscriptions_No_Record'
            );
            expect(query(element, 'lightning-spinner')).toBeNull();
            expect(getRelatedListRecords.getLastConfig().parentRecordId).toBe(
                undefined
            );
            expect(getRecord.getLastConfig().recordId).toBe(undefined);
            const refresh = query(element, 'lightning-button-icon.refresh');
            expect(refresh.disabled).toBe(true);

            await expect(fireRefresh()).resolves.toEqual([false]);
            expect(refreshApex).not.toHaveBeenCalled();

            await expect(element).toBeAccessible();
        });

        it('does the same on a record of another object', async () => {
            const element = createComponent({
                recordId: '0015g00000AbCdEAAV',
                objectApiName: 'Account'
            });
            await flushPromises();

            expect(query(element, '.no-record')).not.toBeNull();
            expect(getRecord.getLastConfig().fields).toBe(undefined);

            await expect(element).toBeAccessible();
        });
    });
});
