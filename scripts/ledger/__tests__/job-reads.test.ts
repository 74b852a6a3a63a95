/**
 * The batched reads the sync jobs make instead of joining their scratch tables to the
 * ledger's (sync/workspace.ts): each answers for a list at once, across IN-list chunks.
 */
import { makeId } from '../../model/ids';
import { Ledger } from '../ledger';

const contact = (n: number): string => makeId('003', n);

let ledger: Ledger;
beforeEach(async () => {
    ledger = await Ledger.open(':memory:');
});
afterEach(async () => ledger.close());

async function person(email: string, salesforceId?: string): Promise<number> {
    return (await ledger.upsertPerson({ email, salesforceId })).person.id;
}

describe('reads for the jobs', () => {
    it('counts persons and membership changes after a seq', async () => {
        expect(await ledger.countPersons()).toBe(0);
        const ana = await person('ana@example.com');
        await person('bo@example.com');
        expect(await ledger.countPersons()).toBe(2);
        await ledger.upsertAudience({ id: 'news', name: 'News' });
        await ledger.setMembershipStatus({
            personId: ana,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'platform'
        });
        const seq = await ledger.maxSeq();
        expect(await ledger.countMembershipChangesAfter(0)).toBe(1);
        expect(await ledger.countMembershipChangesAfter(seq)).toBe(0);
    });

    it('finds persons by Salesforce id (the oldest) and by email, over many chunks', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 1200; i++)
            ids.push(await person(`p${i}@example.com`, contact(i + 1)));
        // A second person on the first record: the oldest wins.
        await person('later@example.com', contact(1));
        const { bySalesforceId, byEmail } = await ledger.personIdsByRecord(
            [
                ...Array.from({ length: 1200 }, (_, i) => contact(i + 1)),
                contact(9999)
            ],
            ['p0@example.com', 'p1199@example.com', 'nobody@example.com']
        );
        expect(bySalesforceId.size).toBe(1200);
        expect(bySalesforceId.get(contact(1))).toBe(ids[0]);
        expect(bySalesforceId.get(contact(1200))).toBe(ids[1199]);
        expect(bySalesforceId.has(contact(9999))).toBe(false);
        expect([...byEmail]).toEqual([
            ['p0@example.com', ids[0]],
            ['p1199@example.com', ids[1199]]
        ]);
        // Every person linked, not only the oldest.
        expect(
            await ledger.personIdsLinkedTo([contact(1)], ['p5@example.com'])
        ).toEqual([ids[0], ids[5], ids[1199] + 1]);
    });

    it('tells which persons have an active global unsubscribe, with it', async () => {
        const ana = await person('ana@example.com', contact(1));
        const bo = await person('bo@example.com');
        const u = (
            await ledger.recordUnsubscribe({
                personId: ana,
                scope: 'all',
                source: 'platform'
            })
        ).unsubscribe;
        expect([
            ...(await ledger.personsWithActiveGlobalUnsubscribe([ana, bo]))
        ]).toEqual([ana]);
        expect(await ledger.personsWithGlobalUnsubscribe([bo, ana])).toEqual([
            {
                personId: ana,
                emailNorm: 'ana@example.com',
                salesforceId: contact(1),
                unsubscribeId: u.id,
                delivered: 0,
                source: 'platform',
                collectedAt: u.collectedAt
            },
            expect.objectContaining({ personId: bo, unsubscribeId: null })
        ]);
        const pages = [
            await ledger.activeGlobalUnsubscribes(0, 1),
            await ledger.activeGlobalUnsubscribes(u.id, 1)
        ];
        expect(pages[0]).toEqual([
            expect.objectContaining({
                id: u.id,
                personId: ana,
                salesforceId: contact(1),
                emailNorm: 'ana@example.com',
                deliveredAt: null
            })
        ]);
        expect(pages[1]).toEqual([]);
    });

    it('answers the hourly: undelivered audience unsubscribe, held by another person', async () => {
        await ledger.upsertAudience({ id: 'news', name: 'News' });
        const ana = await person('ana@example.com', contact(1));
        const bo = await person('bo@example.com', contact(1));
        expect(
            await ledger.undeliveredAudienceUnsubscribeId(bo, 'news')
        ).toBeNull();
        const u = (
            await ledger.recordUnsubscribe({
                personId: bo,
                scope: 'audience',
                audienceId: 'news',
                source: 'platform'
            })
        ).unsubscribe;
        expect(await ledger.undeliveredAudienceUnsubscribeId(bo, 'news')).toBe(
            u.id
        );
        const held = async (
            personId: number,
            emailNorm: string | null,
            id = contact(2)
        ) =>
            ledger.audienceHeldByAnother({
                audienceId: 'news',
                personId,
                salesforceId: id,
                emailNorm
            });
        expect(await held(ana, null, contact(1))).toBe(true);
        expect(await held(bo, null, contact(1))).toBe(false);
        expect(await held(ana, null)).toBe(false);
        expect(await held(ana, 'bo@example.com')).toBe(true);
    });

    it('lists persons for whom R5b holds among those changed in a seq range', async () => {
        await ledger.upsertAudience({ id: 'a', name: 'A' });
        await ledger.upsertAudience({ id: 'b', name: 'B' });
        const ana = await person('ana@example.com');
        const bo = await person('bo@example.com');
        for (const [p, a, status] of [
            [ana, 'a', 'Unsubscribed'],
            [ana, 'b', 'Archived'],
            [bo, 'a', 'Unsubscribed'],
            [bo, 'b', 'Subscribed']
        ] as const)
            await ledger.setMembershipStatus({
                personId: p,
                audienceId: a,
                status,
                source: 'platform'
            });
        expect(
            await ledger.personsUnsubscribedFromAllAudiences(
                0,
                await ledger.maxSeq()
            )
        ).toEqual([
            { personId: ana, emailNorm: 'ana@example.com', salesforceId: null }
        ]);
        expect(
            await ledger.personsUnsubscribedFromAllAudiences(
                await ledger.maxSeq(),
                await ledger.maxSeq()
            )
        ).toEqual([]);
    });

    it('tells when the sync first wrote to Salesforce', async () => {
        expect(await ledger.firstSalesforceWriteAt()).toBeNull();
        await ledger.appendAudit({
            action: 'field_write',
            emailNorm: 'ana@example.com',
            writtenAt: '2025-01-02T00:00:00.000Z'
        } as Parameters<Ledger['appendAudit']>[0]);
        expect(await ledger.firstSalesforceWriteAt()).not.toBeNull();
    });

    it('gives the incremental nightly the global unsubscribes recorded after a feed event, or undelivered and due', async () => {
        const unsub = async (email: string): Promise<number> =>
            (
                await ledger.recordUnsubscribe({
                    email,
                    scope: 'all',
                    source: 'webhook'
                })
            ).unsubscribe.id;
        const delivered = await unsub('old@example.com');
        await ledger.markDelivered([delivered], { runId: 'r1' });
        const waiting = await unsub('waiting@example.com');
        const due = await unsub('due@example.com');
        await ledger.recordUnsubscribeAttempts(
            [
                { id: waiting, outcome: 'no_matching_record' },
                { id: due, outcome: 'no_matching_record' }
            ],
            { at: '2025-01-01T00:00:00.000Z', delay: () => 0 }
        );
        await ledger.recordUnsubscribeAttempts(
            [{ id: waiting, outcome: 'no_matching_record' }],
            { at: '2999-01-01T00:00:00.000Z', delay: () => 0 }
        );
        const pending = await unsub('pending@example.com');
        await ledger.recordUnsubscribe({
            email: 'audience@example.com',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'News',
            source: 'webhook'
        });
        const seq = await ledger.lastSuppressionEventId();
        const ids = async (
            afterEventId: number,
            afterId = 0
        ): Promise<number[]> =>
            (
                await ledger.globalUnsubscribesToReconcile({
                    afterEventId,
                    afterId,
                    limit: 10,
                    dueBy: '2026-01-01T00:00:00.000Z'
                })
            ).map((u) => u.id);
        // From the beginning: every global one; after the last event: the undelivered
        // and due (not the delivered one, nor the one waiting until 2999).
        expect(await ids(0)).toEqual([delivered, waiting, due, pending]);
        expect(await ids(seq)).toEqual([due, pending]);
        expect(await ids(seq, due)).toEqual([pending]);
        // Delivered, then recorded again after a resubscribe: a new event.
        await ledger.resubscribe({ email: 'old@example.com', reason: 'asked' });
        const again = await unsub('old@example.com');
        await ledger.markDelivered([again], { runId: 'r2' });
        expect(await ids(seq)).toEqual([due, pending, again]);
        const rows = await ledger.globalUnsubscribesToReconcile({
            afterEventId: seq,
            afterId: pending,
            limit: 10
        });
        expect(rows).toEqual([
            expect.objectContaining({
                id: again,
                emailNorm: 'old@example.com',
                salesforceId: null,
                deliveredAt: expect.any(String)
            })
        ]);
        const of = await ledger.activeGlobalUnsubscribesOf([
            rows[0].personId,
            (await ledger.findPerson('audience@example.com'))!.id
        ]);
        expect(of.map((u) => u.id)).toEqual([again]);
    });
});
