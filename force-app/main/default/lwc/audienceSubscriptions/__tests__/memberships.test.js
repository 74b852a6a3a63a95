import {
    badgeClassOf,
    canUnsubscribe,
    personObject,
    toRow,
    unsubscribeFields
} from '../memberships';
import { formatLabel } from '../labels';

const mockContactMemberships = require('./data/getRelatedListRecordsContact.json');

describe('audienceSubscriptions helpers', () => {
    it('colours every status of the picklist, and nothing else', () => {
        expect(badgeClassOf('Subscribed')).toBe('slds-theme_success');
        expect(badgeClassOf('Pending')).toBe('slds-theme_warning');
        expect(badgeClassOf('Unsubscribed')).toBe('slds-theme_error');
        expect(badgeClassOf('Cleaned')).toBe('slds-theme_error');
        expect(badgeClassOf('Transactional')).toBe('');
        expect(badgeClassOf('Archived')).toBe('');
        expect(badgeClassOf('Bounced')).toBe('');
        expect(badgeClassOf(null)).toBe('');
    });

    it('lets only subscribed and pending memberships be unsubscribed', () => {
        expect(
            [
                'Subscribed',
                'Unsubscribed',
                'Cleaned',
                'Pending',
                'Transactional',
                'Archived'
            ].filter(canUnsubscribe)
        ).toEqual(['Subscribed', 'Pending']);
    });

    it('knows Contact and Lead, from the page or from the id prefix', () => {
        expect(personObject('0035g00000KxYzAAAV', 'Contact')).toBe('Contact');
        expect(personObject('0035g00000KxYzAAAV')).toBe('Contact');
        expect(personObject('00Q5g00000Lm8nBEAR')).toBe('Lead');
        expect(personObject('0015g00000AbCdEAAV')).toBeUndefined();
        expect(personObject('0015g00000AbCdEAAV', 'Account')).toBeUndefined();
        expect(personObject(undefined, 'Contact')).toBeUndefined();
        // A page-given name wins over the prefix, and must be supported
        expect(personObject('0035g00000KxYzAAAV', 'toString')).toBeUndefined();
    });

    it('turns a UI API record into a row, tolerating missing values', () => {
        const full = toRow(mockContactMemberships.records[4]);
        expect(full).toEqual({
            id: 'a0B5g00000Q1aaeEAB',
            name: 'Product Newsletter',
            status: 'Subscribed',
            statusLabel: 'Subscribed',
            badgeClass: 'slds-theme_success',
            changedAt: '2026-01-12T08:30:00.000Z',
            sourceLabel: 'Marketing platform',
            reason: null,
            pendingPush: false,
            canUnsubscribe: true
        });

        const sparse = toRow({
            id: 'a0B5g00000Q1zzzEAB',
            fields: {
                Audience_Id__c: { displayValue: null, value: '42ab' },
                Status__c: { displayValue: 'Abonné', value: 'Subscribed' }
            }
        });
        expect(sparse).toMatchObject({
            name: '42ab',
            statusLabel: 'Abonné',
            changedAt: null,
            sourceLabel: null,
            reason: null,
            pendingPush: false
        });
        expect(toRow({ id: 'x', fields: {} })).toMatchObject({
            name: '',
            status: null,
            statusLabel: '',
            canUnsubscribe: false
        });
    });

    it('writes exactly the unsubscribe fields', () => {
        expect(
            unsubscribeFields(
                'a0B5g00000Q1aaeEAB',
                Date.parse('2026-03-02T09:30:00Z')
            )
        ).toEqual({
            Id: 'a0B5g00000Q1aaeEAB',
            Status__c: 'Unsubscribed',
            Pending_Push__c: true,
            Source__c: 'Salesforce',
            Status_Changed_At__c: '2026-03-02T09:30:00.000Z'
        });
    });

    it('fills label placeholders and leaves unknown ones', () => {
        expect(formatLabel('{0} of {1}', 'a', 2)).toBe('a of 2');
        expect(formatLabel('{1} then {0}', 'x', '$&')).toBe('$& then x');
        expect(formatLabel('Only {0} and {3}', 'one')).toBe('Only one and {3}');
        expect(formatLabel('No placeholder')).toBe('No placeholder');
    });
});
