/**
 * Unsubscribes and memberships of persons that match no Salesforce record yet (R6):
 * they are not lost (R11) — they wait, visibly, and are delivered once a record
 * appears, with the nightly sync off. And a person linked to a Salesforce id later
 * re-queues its memberships (R5a) and its global unsubscribe (R2).
 */
import { makeId } from '../../../model/ids';
import {
    recordUnsubscribeItems,
    parseUnsubscribeItems
} from '../../../webhook/intake';
import { isPending } from '../../../sync/push-service';
import { setup, type Fixture } from '../../../sync/__tests__/fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

const HOUR = 3_600_000;
const at =
    (base: Date, ms: number): (() => Date) =>
    () =>
        new Date(base.getTime() + ms);

async function member(
    fx: Fixture,
    email: string,
    audienceId: string,
    status: 'Subscribed' | 'Unsubscribed' | 'Cleaned'
): Promise<void> {
    const person = (await fx.ledger.upsertPerson({ email })).person;
    if (!(await fx.ledger.getAudience(audienceId)))
        await fx.ledger.upsertAudience({
            id: audienceId,
            name: `List ${audienceId}`
        });
    await fx.ledger.setMembershipStatus({
        personId: person.id,
        audienceId,
        status,
        source: 'platform'
    });
}

describe('a global unsubscribe with no matching record (R6, R11)', () => {
    it('waits visibly, is not marked delivered, costs no request on later pushes, and is delivered by the hourly retry once a record exists (nightly off)', async () => {
        f = await setup();
        const t0 = new Date();
        const { unsubscribe } = await f.ledger.recordUnsubscribe({
            email: 'ghost@example.com',
            salesforceId: makeId('003', 999_999),
            scope: 'all',
            source: 'webhook'
        });
        const first = await f.run('push', { now: at(t0, 0) });
        expect(first.skipped).toEqual({ no_matching_record: 1 });
        expect(first.unsubscribesDelivered).toBe(0);
        const waiting = await f.ledger.getUnsubscribe(unsubscribe.id);
        expect(waiting).toMatchObject({
            deliveredAt: null,
            attempts: 1,
            lastOutcome: 'no_matching_record'
        });
        expect(waiting?.nextAttemptAt).not.toBeNull();
        expect((await f.ledger.status()).pending).toMatchObject({
            count: 1,
            waitingForRecord: 1
        });
        // The webhook's push loop and the scheduler do not spin on it.
        expect(await isPending(f.ledger, unsubscribe.id)).toBe(false);
        expect(await f.ledger.countPushable()).toBe(0);
        f.reset();
        const again = await f.run('push', { now: at(t0, 60_000) });
        expect(again.apiRequests).toBe(0);
        expect(f.served()).toBe(0);

        // The record appears later (created by a user, an integration, a lead form).
        const [id] = await f.contacts([
            { LastName: 'Ghost', Email: 'Ghost@Example.com' }
        ]);
        // Not due yet: the hourly job leaves it for later.
        const early = await f.run('hourly', { now: at(t0, 10 * 60_000) });
        expect(early.unsubscribesDelivered).toBe(0);
        const due = await f.run('hourly', { now: at(t0, 25 * HOUR) });
        expect(due.unsubscribesDelivered).toBe(1);
        expect(due.recordsWritten).toBe(1);
        expect(await f.values('Contact', [id])).toEqual({ [id]: true });
        expect(await f.ledger.getUnsubscribe(unsubscribe.id)).toMatchObject({
            lastOutcome: 'delivered',
            attempts: 2
        });
        expect(
            (await f.ledger.getUnsubscribe(unsubscribe.id))?.deliveredAt
        ).not.toBeNull();
        const trail = await f.ledger.auditForEmail('ghost@example.com');
        expect(
            trail
                .filter((a) => a.action === 'field_write')
                .map((a) => a.recordId)
        ).toEqual([id]);
        expect((await f.ledger.status()).pending).toMatchObject({
            count: 0,
            waitingForRecord: 0
        });
    });

    it('backs off between retries (a person who never appears costs fewer and fewer lookups)', async () => {
        f = await setup();
        const t0 = new Date();
        const { unsubscribe } = await f.ledger.recordUnsubscribe({
            email: 'never@example.com',
            scope: 'all',
            source: 'webhook'
        });
        await f.run('push', { now: at(t0, 0) });
        const gaps: number[] = [];
        let last = t0.getTime();
        for (let hour = 1; hour <= 72; hour++) {
            const before = (await f.ledger.getUnsubscribe(unsubscribe.id))
                ?.attempts;
            await f.run('hourly', { now: at(t0, hour * HOUR) });
            const after = (await f.ledger.getUnsubscribe(unsubscribe.id))
                ?.attempts;
            if (after !== before) {
                gaps.push(t0.getTime() + hour * HOUR - last);
                last = t0.getTime() + hour * HOUR;
            }
        }
        expect(gaps.length).toBeGreaterThanOrEqual(4);
        expect(gaps.length).toBeLessThan(20);
        // Non-decreasing gaps, capped at a day.
        for (let i = 1; i < gaps.length; i++)
            expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]);
        expect(Math.max(...gaps)).toBeLessThanOrEqual(25 * HOUR);
        expect(
            (await f.ledger.getUnsubscribe(unsubscribe.id))?.deliveredAt
        ).toBeNull();
    });

    it('the nightly reconciliation does not mark an unmatched unsubscribe delivered either', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        await f.contacts([{ LastName: 'Other', Email: 'other@example.com' }]);
        const { unsubscribe } = await f.ledger.recordUnsubscribe({
            email: 'ghost@example.com',
            scope: 'all',
            source: 'webhook'
        });
        const r = await f.run('nightly');
        expect(r.skipped.no_matching_record).toBe(1);
        expect(
            (await f.ledger.getUnsubscribe(unsubscribe.id))?.deliveredAt
        ).toBeNull();
    });

    it('an audience unsubscribe with no record waits and reaches the membership row once the record exists', async () => {
        f = await setup();
        const t0 = new Date();
        await member(f, 'late@example.com', 'news', 'Subscribed');
        const { unsubscribe } = await f.ledger.recordUnsubscribe({
            email: 'late@example.com',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook'
        });
        await f.run('push', { now: at(t0, 0) });
        await f.run('hourly', { now: at(t0, 1000) });
        expect(
            (await f.ledger.getUnsubscribe(unsubscribe.id))?.deliveredAt
        ).toBeNull();
        expect(await f.memberships()).toEqual([]);
        const [id] = await f.contacts([
            { LastName: 'Late', Email: 'late@example.com' }
        ]);
        const r = await f.run('hourly', { now: at(t0, 25 * HOUR) });
        expect(r.membershipsUpserted).toBe(1);
        expect(r.unsubscribesDelivered).toBe(1);
        expect(
            (await f.memberships()).map((m) => [m.Contact__c, m.Status__c])
        ).toEqual([[id, 'Unsubscribed']]);
    });
});

describe('memberships of persons with no record yet (R5a)', () => {
    it('a membership whose person matches nothing is retried and reaches a record created later', async () => {
        f = await setup();
        const t0 = new Date();
        await member(f, 'later@example.com', 'news', 'Subscribed');
        const first = await f.run('hourly', { now: at(t0, 0) });
        expect(first.skipped).toMatchObject({ no_matching_record: 1 });
        expect((await f.ledger.status()).memberships).toMatchObject({
            waitingForRecord: 1
        });
        const [id] = await f.contacts([
            { LastName: 'Later', Email: 'later@example.com' }
        ]);
        const due = await f.run('hourly', { now: at(t0, 25 * HOUR) });
        expect(due.membershipsUpserted).toBe(1);
        expect(
            (await f.memberships()).map((m) => [m.Contact__c, m.Status__c])
        ).toEqual([[id, 'Subscribed']]);
        expect((await f.ledger.status()).memberships).toMatchObject({
            waitingForRecord: 0
        });
        // Settled: the next run writes nothing.
        f.reset();
        const again = await f.run('hourly', { now: at(t0, 50 * HOUR) });
        expect(again.membershipsUpserted).toBe(0);
    });

    it('linking a person to a Salesforce id (import) re-queues its memberships at once', async () => {
        f = await setup();
        await f.settings({ applyToSameEmail: false });
        await member(f, 'linked@example.com', 'news', 'Subscribed');
        await member(f, 'linked@example.com', 'offers', 'Cleaned');
        const first = await f.run('hourly');
        expect(first.membershipsUpserted).toBe(0);
        const [id] = await f.contacts([
            { LastName: 'Linked', Email: 'someone.else@example.com' }
        ]);
        await f.ledger.upsertPerson({
            email: 'linked@example.com',
            salesforceId: id
        });
        const r = await f.run('hourly');
        expect(r.membershipsUpserted).toBe(2);
        expect(
            (await f.memberships()).map((m) => [
                m.Membership_Key__c,
                m.Status__c
            ])
        ).toEqual([
            [`news:${id}`, 'Subscribed'],
            [`offers:${id}`, 'Cleaned']
        ]);
    });

    it('a webhook unsubscribe carrying a salesforceId links the person and re-queues its memberships and its global unsubscribe', async () => {
        f = await setup();
        await f.settings({ applyToSameEmail: false });
        await member(f, 'hooked@example.com', 'news', 'Subscribed');
        const [id] = await f.contacts([
            { LastName: 'Hooked', Email: 'hooked.at.work@example.com' }
        ]);
        await f.run('hourly');
        expect(await f.memberships()).toEqual([]);
        const outcomes = await recordUnsubscribeItems(
            f.ledger,
            parseUnsubscribeItems(
                { email: 'hooked@example.com', salesforceId: id },
                10
            )
        );
        expect(outcomes[0].outcome).toBe('recorded');
        const push = await f.run('push');
        expect(push.unsubscribesDelivered).toBe(1);
        expect(await f.values('Contact', [id])).toEqual({ [id]: true });
        const hourly = await f.run('hourly');
        expect(hourly.membershipsUpserted).toBe(1);
        expect((await f.memberships()).map((m) => m.Contact__c)).toEqual([id]);
    });

    it('a delivered global unsubscribe reaches a record the person is linked to later (nightly off)', async () => {
        f = await setup();
        const [first] = await f.contacts([
            { LastName: 'Two', Email: 'two@example.com' }
        ]);
        const { unsubscribe } = await f.ledger.recordUnsubscribe({
            email: 'two@example.com',
            scope: 'all',
            source: 'webhook'
        });
        expect((await f.run('push')).unsubscribesDelivered).toBe(1);
        const [second] = await f.contacts([
            { LastName: 'Two', Email: 'two.private@example.com' }
        ]);
        await f.ledger.upsertPerson({
            email: 'two@example.com',
            salesforceId: second
        });
        expect(await isPending(f.ledger, unsubscribe.id)).toBe(true);
        const r = await f.run('push');
        expect(r.unsubscribesDelivered).toBe(1);
        expect(await f.values('Contact', [first, second])).toEqual({
            [first]: true,
            [second]: true
        });
    });
});
