/**
 * The batched reads the sync jobs make instead of joining their scratch tables to the
 * ledger's (sync/workspace.ts): each answers for a list at once, across IN-list chunks.
 */
import { makeId } from '../../model/ids';
import { Ledger } from '../ledger';

const contact = (n: number): string => makeId('003', n);

let ledger: Ledger;
beforeEach(() => {
    ledger = Ledger.open(':memory:');
});
afterEach(() => ledger.close());

function person(email: string, salesforceId?: string): number {
    return ledger.upsertPerson({ email, salesforceId }).person.id;
}

describe('reads for the jobs', () => {
    it('counts persons and membership changes after a seq', () => {
        expect(ledger.countPersons()).toBe(0);
        const ana = person('ana@example.com');
        person('bo@example.com');
        expect(ledger.countPersons()).toBe(2);
        ledger.upsertAudience({ id: 'news', name: 'News' });
        ledger.setMembershipStatus({
            personId: ana,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'platform'
        });
        const seq = ledger.maxSeq();
        expect(ledger.countMembershipChangesAfter(0)).toBe(1);
        expect(ledger.countMembershipChangesAfter(seq)).toBe(0);
    });

    it('finds persons by Salesforce id (the oldest) and by email, over many chunks', () => {
        const ids: number[] = [];
        for (let i = 0; i < 1200; i++)
            ids.push(person(`p${i}@example.com`, contact(i + 1)));
        // A second person on the first record: the oldest wins.
        person('later@example.com', contact(1));
        const { bySalesforceId, byEmail } = ledger.personIdsByRecord(
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
            ledger.personIdsLinkedTo([contact(1)], ['p5@example.com'])
        ).toEqual([ids[0], ids[5], ids[1199] + 1]);
    });

    it('tells which persons have an active global unsubscribe, with it', () => {
        const ana = person('ana@example.com', contact(1));
        const bo = person('bo@example.com');
        const u = ledger.recordUnsubscribe({
            personId: ana,
            scope: 'all',
            source: 'platform'
        }).unsubscribe;
        expect([
            ...ledger.personsWithActiveGlobalUnsubscribe([ana, bo])
        ]).toEqual([ana]);
        expect(ledger.personsWithGlobalUnsubscribe([bo, ana])).toEqual([
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
            ledger.activeGlobalUnsubscribes(0, 1),
            ledger.activeGlobalUnsubscribes(u.id, 1)
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

    it('answers the hourly: undelivered audience unsubscribe, held by another person', () => {
        ledger.upsertAudience({ id: 'news', name: 'News' });
        const ana = person('ana@example.com', contact(1));
        const bo = person('bo@example.com', contact(1));
        expect(ledger.undeliveredAudienceUnsubscribeId(bo, 'news')).toBeNull();
        const u = ledger.recordUnsubscribe({
            personId: bo,
            scope: 'audience',
            audienceId: 'news',
            source: 'platform'
        }).unsubscribe;
        expect(ledger.undeliveredAudienceUnsubscribeId(bo, 'news')).toBe(u.id);
        const held = (
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
        expect(held(ana, null, contact(1))).toBe(true);
        expect(held(bo, null, contact(1))).toBe(false);
        expect(held(ana, null)).toBe(false);
        expect(held(ana, 'bo@example.com')).toBe(true);
    });

    it('lists persons for whom R5b holds among those changed in a seq range', () => {
        ledger.upsertAudience({ id: 'a', name: 'A' });
        ledger.upsertAudience({ id: 'b', name: 'B' });
        const ana = person('ana@example.com');
        const bo = person('bo@example.com');
        for (const [p, a, status] of [
            [ana, 'a', 'Unsubscribed'],
            [ana, 'b', 'Archived'],
            [bo, 'a', 'Unsubscribed'],
            [bo, 'b', 'Subscribed']
        ] as const)
            ledger.setMembershipStatus({
                personId: p,
                audienceId: a,
                status,
                source: 'platform'
            });
        expect(
            ledger.personsUnsubscribedFromAllAudiences(0, ledger.maxSeq())
        ).toEqual([
            { personId: ana, emailNorm: 'ana@example.com', salesforceId: null }
        ]);
        expect(
            ledger.personsUnsubscribedFromAllAudiences(
                ledger.maxSeq(),
                ledger.maxSeq()
            )
        ).toEqual([]);
    });

    it('tells when the sync first wrote to Salesforce', () => {
        expect(ledger.firstSalesforceWriteAt()).toBeNull();
        ledger.appendAudit({
            action: 'field_write',
            emailNorm: 'ana@example.com',
            writtenAt: '2025-01-02T00:00:00.000Z'
        } as Parameters<Ledger['appendAudit']>[0]);
        expect(ledger.firstSalesforceWriteAt()).not.toBeNull();
    });
});
