/** `optout resubscribe` text at 80 and 160 columns. */
import type { ResubscribeResult } from '../commands/resubscribe';
import { resubscribeNotes } from '../commands/resubscribe';
import type { UnsubscribeRecord } from '../../ledger/types';
import { renderResubscribe } from '../render/resubscribe';
import {
    WIDTHS,
    UNWRAPPED,
    cutFacts,
    missingFacts,
    overflowing
} from './render-ledger-helpers';

const REMOVED: UnsubscribeRecord = {
    id: 4_812,
    personId: 7,
    scope: 'all',
    audienceId: null,
    source: 'webhook',
    reason: null,
    collectedAt: '2026-11-02T09:14:03.120Z',
    deliveredAt: '2026-11-02T09:14:04.900Z',
    deliveredRunId: '6f1c2a9e-4b7d-4e8a-9c3f-2d5e8a1b7c40',
    removedAt: '2026-11-05T10:00:00.000Z',
    removedReason: 'unsubscribed by mistake, confirmed by phone',
    attempts: 1,
    lastAttemptAt: '2026-11-02T09:14:04.900Z',
    lastOutcome: 'delivered',
    nextAttemptAt: null,
    failures: 0,
    errorCode: null,
    errorMessage: null,
    errorRecordId: null,
    deadAt: null
};

const RESULT: ResubscribeResult = {
    status: 'removed',
    email: 'Ana.Lucia.Fernandes@example.com',
    scope: 'all',
    audienceId: null,
    reason: 'unsubscribed by mistake, confirmed by phone',
    removed: [REMOVED],
    membership: null,
    notes: resubscribeNotes('all', [REMOVED]),
    ledger: '/srv/optout/.optout/ledger.db'
};

describe.each(WIDTHS)('optout resubscribe at %i columns', (columns) => {
    const text = renderResubscribe(RESULT, columns);

    it('fits', () => {
        expect(overflowing(text, columns)).toEqual([]);
    });

    it('shows what was removed, whole, and what the admin must do', () => {
        const facts = [
            'Ana.Lucia.Fernandes@example.com',
            '4812',
            'webhook',
            '2026-11-02T09:14:03.120Z',
            '2026-11-02T09:14:04.900Z'
        ];
        expect(missingFacts(text, facts)).toEqual([]);
        expect(
            cutFacts(text, renderResubscribe(RESULT, UNWRAPPED), facts)
        ).toEqual([]);
        const flat = text.replace(/\s+/g, ' ');
        expect(flat).toContain(
            'Removed the global unsubscribe of Ana.Lucia.Fernandes@example.com (reason recorded: unsubscribed by mistake, confirmed by phone).'
        );
        expect(flat).toContain('an admin must uncheck it there');
    });
});

it('says when nothing was active', () => {
    expect(
        renderResubscribe(
            {
                ...RESULT,
                status: 'nothing_active',
                scope: 'audience',
                audienceId: 'news',
                removed: [],
                notes: []
            },
            80
        )
    ).toBe(
        'Nothing to remove: Ana.Lucia.Fernandes@example.com has no active unsubscribe\nfrom audience news.'
    );
});
