/**
 * `optout history` fits the terminal (issue 11, "tables that fit"): a realistic trail —
 * several unsubscribes, memberships, Salesforce writes with long error messages and
 * record ids — rendered at 80 and 160 columns keeps every line within the width and
 * every key fact whole.
 */
import type { HistoryResult } from '../commands/history';
import type { StuckDetail } from '../../ledger/ledger';
import type { AuditRecord, UnsubscribeRecord } from '../../ledger/types';
import { STUCK_REASON_CATALOGUE } from '../../model/stuck';
import { renderHistory, renderAudit } from '../render/history';
import {
    WIDTHS,
    UNWRAPPED,
    cutFacts,
    missingFacts,
    overflowing
} from './render-ledger-helpers';

const CONTACT = '0038d00000AbCdEAAZ';
const MEMBERSHIP_KEY = 'offers:0038d00000AbCdEAAZ';
const RUN_PUSH = '6f1c2a9e-4b7d-4e8a-9c3f-2d5e8a1b7c40';
const RUN_HOURLY = 'b2e4d6f8-1a3c-4e5f-8a9b-0c1d2e3f4a5b';
const VALIDATION_MESSAGE =
    'Blocked contacts cannot be opted out by an integration user: ask the data steward to review the record first (Contact_Opt_Out_Guard).';
const ACCESS_MESSAGE =
    'insufficient access rights on cross-reference id: the Opt_Out_Sync_Integration permission set does not grant Edit on Audience_Membership__c';

function unsubscribe(
    fields: Partial<UnsubscribeRecord> & Pick<UnsubscribeRecord, 'id'>
): UnsubscribeRecord {
    return {
        personId: 7,
        scope: 'all',
        audienceId: null,
        source: 'webhook',
        reason: null,
        collectedAt: '2026-11-02T09:14:03.120Z',
        deliveredAt: null,
        deliveredRunId: null,
        removedAt: null,
        removedReason: null,
        attempts: 0,
        lastAttemptAt: null,
        lastOutcome: null,
        nextAttemptAt: null,
        failures: 0,
        errorCode: null,
        errorMessage: null,
        errorRecordId: null,
        deadAt: null,
        ...fields
    };
}

let auditId = 0;
function audit(
    fields: Partial<AuditRecord> & Pick<AuditRecord, 'action' | 'at'>
): AuditRecord {
    return {
        id: ++auditId,
        runId: null,
        emailNorm: 'ana.lucia.fernandes@example.com',
        personId: 7,
        recordId: null,
        object: null,
        field: null,
        before: null,
        after: null,
        source: 'webhook',
        collectedAt: null,
        writtenAt: null,
        latencyMs: null,
        detail: null,
        ...fields
    };
}

const DEAD: StuckDetail = {
    kind: 'unsubscribe',
    unsubscribeId: 3,
    personId: 7,
    email: 'Ana.Lucia.Fernandes@example.com',
    audienceId: null,
    state: 'dead_letter',
    errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
    errorMessage: VALIDATION_MESSAGE,
    recordId: CONTACT,
    failures: 5,
    attempts: 6,
    lastAttemptAt: '2026-11-03T04:00:12.000Z',
    nextAttemptAt: null,
    deadAt: '2026-11-03T04:00:12.000Z',
    reason: 'validation_rule',
    whatToDo: STUCK_REASON_CATALOGUE.validation_rule.whatToDo
};

const RETRYING: StuckDetail = {
    kind: 'membership',
    unsubscribeId: null,
    personId: 7,
    email: 'Ana.Lucia.Fernandes@example.com',
    audienceId: 'offers',
    state: 'retrying',
    errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY',
    errorMessage: ACCESS_MESSAGE,
    recordId: MEMBERSHIP_KEY,
    failures: 2,
    attempts: 2,
    lastAttemptAt: '2026-11-03T05:00:09.000Z',
    nextAttemptAt: '2026-11-03T07:00:09.000Z',
    deadAt: null,
    reason: 'no_access',
    whatToDo: STUCK_REASON_CATALOGUE.no_access.whatToDo
};

const HISTORY: HistoryResult = {
    email: 'ana.lucia.fernandes@example.com',
    ledger: '/srv/optout/.optout/ledger.db',
    person: {
        id: 7,
        email: 'Ana.Lucia.Fernandes@example.com',
        emailNorm: 'ana.lucia.fernandes@example.com',
        salesforceId: CONTACT,
        createdAt: '2026-10-30T16:45:00.000Z',
        updatedAt: '2026-11-03T05:00:09.000Z'
    },
    memberships: [
        {
            personId: 7,
            audienceId: 'news',
            audienceName: 'Monthly newsletter',
            status: 'Unsubscribed',
            changedAt: '2026-11-02T09:14:03.120Z',
            source: 'webhook',
            reason: 'clicked unsubscribe in the November issue',
            seq: 41,
            syncOutcome: null,
            syncAttempts: 1,
            lastAttemptAt: '2026-11-02T10:00:05.000Z',
            nextAttemptAt: null,
            syncFailures: 0,
            syncErrorCode: null,
            syncErrorMessage: null,
            syncErrorRecordId: null,
            syncDeadAt: null
        },
        {
            personId: 7,
            audienceId: 'offers',
            audienceName: 'Special offers and partner events',
            status: 'Subscribed',
            changedAt: '2026-10-30T16:45:00.000Z',
            source: 'import',
            reason: null,
            seq: 12,
            syncOutcome: 'rejected',
            syncAttempts: 2,
            lastAttemptAt: '2026-11-03T05:00:09.000Z',
            nextAttemptAt: '2026-11-03T07:00:09.000Z',
            syncFailures: 2,
            syncErrorCode: 'INSUFFICIENT_ACCESS_OR_READONLY',
            syncErrorMessage: ACCESS_MESSAGE,
            syncErrorRecordId: MEMBERSHIP_KEY,
            syncDeadAt: null
        }
    ],
    unsubscribes: [
        unsubscribe({
            id: 1,
            scope: 'audience',
            audienceId: 'news',
            deliveredAt: '2026-11-02T09:14:04.900Z',
            deliveredRunId: RUN_PUSH,
            attempts: 1,
            lastOutcome: 'delivered'
        }),
        unsubscribe({
            id: 2,
            scope: 'audience',
            audienceId: 'events',
            source: 'platform',
            collectedAt: '2026-10-31T08:00:00.000Z',
            removedAt: '2026-11-01T12:30:00.000Z',
            removedReason: 'unsubscribed by mistake, confirmed by phone'
        }),
        unsubscribe({
            id: 3,
            collectedAt: '2026-11-02T22:41:17.554Z',
            attempts: 6,
            lastOutcome: 'dead_letter',
            failures: 5,
            errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
            errorMessage: VALIDATION_MESSAGE,
            errorRecordId: CONTACT,
            deadAt: '2026-11-03T04:00:12.000Z'
        })
    ],
    stuck: [DEAD, RETRYING],
    audit: [
        audit({
            action: 'import',
            at: '2026-10-30T16:45:00.000Z',
            source: 'import',
            recordId: 'offers',
            after: 'Subscribed'
        }),
        audit({
            action: 'unsubscribe_recorded',
            at: '2026-10-31T08:00:00.000Z',
            source: 'platform',
            after: 'events'
        }),
        audit({
            action: 'resubscribe',
            at: '2026-11-01T12:30:00.000Z',
            source: 'platform',
            before: 'events',
            detail: JSON.stringify({
                reason: 'unsubscribed by mistake, confirmed by phone'
            })
        }),
        audit({
            action: 'unsubscribe_recorded',
            at: '2026-11-02T09:14:03.120Z',
            after: 'news'
        }),
        audit({
            action: 'field_write',
            at: '2026-11-02T09:14:04.900Z',
            runId: RUN_PUSH,
            object: 'Contact',
            recordId: CONTACT,
            field: 'Email_Opt_Out_Audiences__c',
            before: null,
            after: 'news',
            latencyMs: 1780
        }),
        audit({
            action: 'unsubscribe_delivered',
            at: '2026-11-02T09:14:04.900Z',
            runId: RUN_PUSH,
            latencyMs: 1780,
            detail: JSON.stringify({ unsubscribeId: 1 })
        }),
        audit({
            action: 'delivery_failed',
            at: '2026-11-03T04:00:12.000Z',
            runId: RUN_PUSH,
            object: 'Contact',
            recordId: CONTACT,
            after: 'dead_letter',
            detail: JSON.stringify({
                unsubscribeId: 3,
                code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                message: VALIDATION_MESSAGE
            })
        }),
        audit({
            action: 'delivery_failed',
            at: '2026-11-03T05:00:09.000Z',
            runId: RUN_HOURLY,
            source: 'salesforce',
            object: 'Audience_Membership__c',
            recordId: MEMBERSHIP_KEY,
            after: 'rejected',
            detail: JSON.stringify({
                audienceId: 'offers',
                code: 'INSUFFICIENT_ACCESS_OR_READONLY',
                message: ACCESS_MESSAGE,
                nextAttemptAt: '2026-11-03T07:00:09.000Z'
            })
        })
    ]
};

/** What a person reading the trail must find, whole, at any width. */
const FACTS = [
    'Ana.Lucia.Fernandes@example.com',
    CONTACT,
    MEMBERSHIP_KEY,
    'news',
    'offers',
    'events',
    'Unsubscribed',
    'Subscribed',
    'dead letter',
    'FIELD_CUSTOM_VALIDATION_EXCEPTION',
    'INSUFFICIENT_ACCESS_OR_READONLY',
    'unsubscribe_recorded',
    'unsubscribe_delivered',
    'delivery_failed',
    'resubscribe',
    'field_write',
    'Email_Opt_Out_Audiences__c',
    '2026-11-02T09:14:03.120Z',
    '2026-11-03T07:00:09.000Z',
    RUN_PUSH,
    RUN_HOURLY
];

describe.each(WIDTHS)('optout history at %i columns', (columns) => {
    const text = renderHistory(HISTORY, columns);

    it('keeps every line within the width', () => {
        expect(overflowing(text, columns)).toEqual([]);
    });

    it('keeps every key fact whole', () => {
        expect(missingFacts(text, FACTS)).toEqual([]);
        // Nowhere cut either, not even where it appears a second time.
        expect(
            cutFacts(text, renderHistory(HISTORY, UNWRAPPED), [
                CONTACT,
                MEMBERSHIP_KEY,
                'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                'INSUFFICIENT_ACCESS_OR_READONLY',
                'Email_Opt_Out_Audiences__c',
                RUN_PUSH,
                RUN_HOURLY
            ])
        ).toEqual([]);
    });

    it('keeps the refusals’ explanations and what to do, word for word', () => {
        // Wrapping may move words to the next line, never drop or cut one.
        const words = text.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ').split(/\s+/);
        for (const phrase of [
            VALIDATION_MESSAGE,
            ACCESS_MESSAGE,
            DEAD.whatToDo,
            'unsubscribed by mistake, confirmed by phone'
        ])
            expect(words.join(' ')).toContain(phrase.split(/\s+/).join(' '));
    });
});

describe('the audit trail', () => {
    it('is a table when wide, one block per entry when narrow', () => {
        expect(renderAudit(HISTORY.audit, 160)).toMatch(/^┌/);
        const narrow = renderAudit(HISTORY.audit, 80);
        expect(narrow).not.toMatch(/[│┌]/);
        expect(narrow.split('\n')[0]).toBe(
            '2026-10-30T16:45:00.000Z import (import)'
        );
        expect(narrow).toContain(
            '2026-11-02T09:14:04.900Z field_write (webhook)\n' +
                `    Contact ${CONTACT} Email_Opt_Out_Audiences__c: — → news (latency\n` +
                '    1.8s)\n' +
                `    run ${RUN_PUSH}`
        );
    });

    it('says so when there is none', () => {
        expect(renderAudit([], 80)).toBe('No audit entries.');
    });
});

it('says when the ledger has no record of the email', () => {
    expect(
        renderHistory(
            {
                ...HISTORY,
                email: 'who@example.com',
                person: null,
                memberships: [],
                unsubscribes: [],
                stuck: [],
                audit: []
            },
            80
        )
    ).toBe('The ledger has no record of who@example.com.');
});
