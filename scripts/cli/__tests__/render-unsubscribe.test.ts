/** `optout unsubscribe` text at 80 and 160 columns: recorded, already, and after a push. */
import type { UnsubscribeResult } from '../commands/unsubscribe';
import { ResultBuilder } from '../../sync/result';
import { renderUnsubscribe } from '../render/unsubscribe';
import { WIDTHS, missingFacts, overflowing } from './render-ledger-helpers';

const RECORDED: UnsubscribeResult = {
    status: 'recorded',
    email: 'Ana.Lucia.Fernandes@example.com',
    scope: 'audience',
    audienceId: 'a1b2c3d4e5',
    source: 'webhook',
    reason: 'clicked unsubscribe in the November issue of the partner newsletter',
    unsubscribeId: 4_812,
    collectedAt: '2026-11-02T09:14:03.120Z',
    deliveredAt: null,
    personCreated: true,
    audienceCreated: false,
    membershipChanged: true,
    ledger: '/srv/optout/.optout/ledger.db'
};

function pushed(): UnsubscribeResult {
    const { result } = new ResultBuilder({
        job: 'push',
        runId: '6f1c2a9e-4b7d-4e8a-9c3f-2d5e8a1b7c40',
        dryRun: false,
        targetOrg: 'production-eu@example.com.optout',
        startedAt: '2026-11-02T09:14:03.500Z'
    });
    result.deferred = {
        count: 1,
        reason: 'The org has used 14,250 of its 15,000 API requests today (95%), above the 80% share the sync may use.'
    };
    result.apiRequests = 1;
    return { ...RECORDED, push: result };
}

describe.each(WIDTHS)('optout unsubscribe at %i columns', (columns) => {
    it.each([
        ['recorded', RECORDED, 'Pending: the next push'],
        [
            'already',
            {
                ...RECORDED,
                status: 'already' as const,
                deliveredAt: '2026-11-02T09:14:04.900Z'
            },
            'Delivered to Salesforce on 2026-11-02T09:14:04.900Z.'
        ],
        ['pushed', pushed(), 'still pending (deferred: The org has used']
    ])(
        '%s: fits, with the email, audience, id and state',
        (_, result, state) => {
            const text = renderUnsubscribe(result, columns);
            expect(overflowing(text, columns)).toEqual([]);
            expect(
                missingFacts(text, [
                    'Ana.Lucia.Fernandes@example.com',
                    'a1b2c3d4e5',
                    '4812',
                    'webhook',
                    '2026-11-02T09:14:03.120Z'
                ])
            ).toEqual([]);
            expect(text.replace(/\s+/g, ' ')).toContain(state);
        }
    );
});

it('starts with what happened, on one line when wide', () => {
    expect(renderUnsubscribe(RECORDED, 160).split('\n')[0]).toBe(
        'Recorded: Ana.Lucia.Fernandes@example.com unsubscribed from audience a1b2c3d4e5.'
    );
});
