/** `optout retry` text at 80 and 160 columns. */
import type { RetriedRecord, RetryResult } from '../commands/retry';
import { retryCounts } from '../commands/retry';
import { renderRetry } from '../render/retry';
import {
    WIDTHS,
    UNWRAPPED,
    cutFacts,
    missingFacts,
    overflowing
} from './render-ledger-helpers';

const RECORDS: RetriedRecord[] = [
    {
        kind: 'unsubscribe',
        unsubscribeId: 4_812,
        personId: 7,
        email: 'Ana.Lucia.Fernandes@example.com',
        audienceId: null,
        state: 'dead_letter',
        errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        errorMessage: 'Blocked contacts cannot be opted out.',
        recordId: '0038d00000AbCdEAAZ',
        failures: 5,
        attempts: 6,
        lastAttemptAt: '2026-11-03T04:00:12.000Z',
        nextAttemptAt: null,
        deadAt: '2026-11-03T04:00:12.000Z',
        reason: 'validation_rule'
    },
    {
        kind: 'membership',
        unsubscribeId: null,
        personId: 9,
        email: 'private.person@example.org',
        audienceId: 'partner-offers',
        state: 'retrying',
        errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY',
        errorMessage: 'insufficient access rights on object id',
        recordId: 'partner-offers:0038d0000000003AAA',
        failures: 2,
        attempts: 2,
        lastAttemptAt: '2026-11-03T05:00:09.000Z',
        nextAttemptAt: '2026-11-03T07:00:09.000Z',
        deadAt: null,
        reason: 'no_access'
    }
];

const RESULT: RetryResult = {
    status: 'retried',
    ...retryCounts(RECORDS),
    filter: { all: true, email: null, reason: null },
    records: RECORDS,
    ledger: '/srv/optout/.optout/ledger.db'
};

const FACTS = [
    'Ana.Lucia.Fernandes@example.com',
    'private.person@example.org',
    '0038d00000AbCdEAAZ',
    'partner-offers:0038d0000000003AAA',
    'FIELD_CUSTOM_VALIDATION_EXCEPTION',
    'INSUFFICIENT_ACCESS_OR_READONLY',
    'dead letter',
    'retrying'
];

describe.each(WIDTHS)('optout retry at %i columns', (columns) => {
    const text = renderRetry(RESULT, columns);

    it('fits', () => {
        expect(overflowing(text, columns)).toEqual([]);
    });

    it('lists every record put back, ids and codes whole', () => {
        expect(missingFacts(text, FACTS)).toEqual([]);
        expect(cutFacts(text, renderRetry(RESULT, UNWRAPPED), FACTS)).toEqual(
            []
        );
        expect(text.replace(/\s+/g, ' ')).toContain(
            'Put back 2 record(s) (1 dead letter(s), 1 retrying)'
        );
    });
});

it('says when nothing matched', () => {
    expect(
        renderRetry(
            {
                ...RESULT,
                status: 'nothing_to_retry',
                ...retryCounts([]),
                records: []
            },
            80
        )
    ).toBe(
        'Nothing to retry: no stuck record matches (optout status lists them).'
    );
});
