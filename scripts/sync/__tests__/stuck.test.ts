/**
 * R14 against the local org: a record Salesforce refuses for good (a validation rule
 * on Contact, another on Audience_Membership__c) never holds back the rest — the other
 * unsubscribes and memberships are delivered, the hourly cursor moves on — and after
 * DEAD_LETTER_AFTER runs it is a dead letter that `optout status` and `optout history`
 * explain, that no run sends again, and that `retryStuck` (optout retry) puts back.
 */
import { DEAD_LETTER_AFTER, STUCK_RETRY_DELAYS_MS } from '../../model/stuck';
import { HOURLY_CURSOR } from '../hourly';
import { exitCodeFor } from '../result';
import { isPending } from '../push-service';
import { setup, unsubscribe, type Fixture } from './fixture';
import { deployRules, member } from './stuck-fixture';

let f: Fixture | undefined;
afterEach(async () => {
    await f?.close();
    f = undefined;
});

describe('R14 a failing record never holds the rest back', () => {
    it('delivers the others, moves the cursor, dead-letters the refused after N runs, and retry puts them back', async () => {
        f = await setup();
        await deployRules(f);
        const [fine, blocked, member1, stuck] = await f.contacts([
            { LastName: 'Fine', Email: 'fine@example.com' },
            { LastName: 'Blocked', Email: 'blocked@example.com' },
            { LastName: 'Member', Email: 'member@example.com' },
            { LastName: 'Stuck', Email: 'stuck@example.com' }
        ]);
        await unsubscribe(f.ledger, [
            'fine@example.com',
            'blocked@example.com'
        ]);
        await member(f.ledger, 'member@example.com', 'news', 'Subscribed');
        await member(f.ledger, 'stuck@example.com', 'news', 'Subscribed');

        let t = Date.now();
        const at = (): Date => new Date(t);
        // Hourly first: its first run takes every record as new (and gives the
        // persons' unsubscribes a try at once); the push then meets the refusal.
        const hourly = await f.run('hourly', { now: at });
        expect(hourly.status).toBe('partial');
        expect(exitCodeFor(hourly)).toBe(3);
        expect(hourly.membershipsUpserted).toBe(1);
        expect(hourly.failed).toEqual([
            expect.objectContaining({
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                email: 'stuck@example.com'
            })
        ]);
        const push = await f.run('push', { now: at });
        expect(push.status).toBe('partial');
        expect(exitCodeFor(push)).toBe(3);
        expect(push.unsubscribesDelivered).toBe(1);
        expect(push.failed).toEqual([
            expect.objectContaining({
                recordId: blocked,
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION'
            })
        ]);
        // The cursor moves past the refused change (before R14 it stayed at 0).
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));
        expect(await f.values('Contact', [fine, blocked])).toEqual({
            [fine]: true,
            [blocked]: false
        });
        const rows = await f.memberships();
        expect(rows.map((r) => r.Contact__c)).toEqual([member1]);
        expect(push.stuck).toEqual({ retrying: 2, deadLetters: 0 });

        // The next runs before the back-off is over send nothing for them.
        const early = await f.run('push', { now: at });
        expect(early.failed).toEqual([]);
        expect(early.apiRequests).toBe(0);

        for (let i = 1; i < DEAD_LETTER_AFTER; i++) {
            t += STUCK_RETRY_DELAYS_MS[i - 1] + 1000;
            const p = await f.run('push', { now: at });
            const h = await f.run('hourly', { now: at });
            expect(p.failed).toHaveLength(1);
            expect(h.failed).toHaveLength(1);
        }
        const status = (await f.ledger.status()).stuck;
        expect(status).toMatchObject({ retrying: 0, deadLetters: 2 });
        expect(status.byReason).toEqual([
            expect.objectContaining({
                reason: 'validation_rule',
                deadLetters: 2,
                codes: { FIELD_CUSTOM_VALIDATION_EXCEPTION: 2 },
                whatToDo: expect.stringMatching(/validation rule/)
            })
        ]);
        expect(
            status.byReason[0].examples.map((e) => [
                e.kind,
                e.email,
                e.recordId
            ])
        ).toEqual(
            expect.arrayContaining([
                ['unsubscribe', 'blocked@example.com', blocked],
                [
                    'membership',
                    'stuck@example.com',
                    expect.stringContaining(stuck)
                ]
            ])
        );
        const history = await f.ledger.history('blocked@example.com');
        expect(history.stuck).toEqual([
            expect.objectContaining({
                state: 'dead_letter',
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                errorMessage: 'Blocked contacts cannot be opted out.',
                failures: DEAD_LETTER_AFTER,
                attempts: DEAD_LETTER_AFTER,
                reason: 'validation_rule'
            })
        ]);
        expect(
            history.audit.filter((a) => a.action === 'delivery_failed')
        ).toHaveLength(DEAD_LETTER_AFTER);

        // A dead letter is not sent again, however late.
        t += 30 * 24 * 3_600_000;
        const late = await f.run('push', { now: at });
        const lateHourly = await f.run('hourly', { now: at });
        expect(late.failed).toEqual([]);
        expect(lateHourly.failed).toEqual([]);
        expect(late.status).toBe('succeeded');

        // The admin fixes the cause (here: the record) and puts them back.
        await f.t.conn
            .sobject('Contact')
            .update({ Id: blocked, LastName: 'Unblocked' });
        const back = await f.ledger.retryStuck(
            { codes: ['FIELD_CUSTOM_VALIDATION_EXCEPTION'] },
            { at: at().toISOString() }
        );
        expect(back).toHaveLength(2);
        const again = await f.run('push', { now: at });
        expect(again.unsubscribesDelivered).toBe(1);
        expect(await f.values('Contact', [blocked])).toEqual({
            [blocked]: true
        });
        // The membership rule still refuses: it is back to retrying, counted afresh.
        const hourlyAgain = await f.run('hourly', { now: at });
        expect(hourlyAgain.failed).toHaveLength(1);
        expect((await f.ledger.status()).stuck).toMatchObject({
            retrying: 1,
            deadLetters: 0
        });
        expect((await f.ledger.stuckRecords())[0]).toMatchObject({
            kind: 'membership',
            failures: 1
        });
    });

    it('the nightly keeps the refusal on the unsubscribe and does not send it again before it is due', async () => {
        f = await setup();
        await deployRules(f);
        await f.settings({ nightlySyncEnabled: true });
        const [fine, blocked] = await f.contacts([
            { LastName: 'Fine', Email: 'fine@example.com' },
            { LastName: 'Blocked', Email: 'blocked@example.com' }
        ]);
        const [, id] = await unsubscribe(f.ledger, [
            'fine@example.com',
            'blocked@example.com'
        ]);
        const t = Date.now();
        const first = await f.run('nightly', { now: () => new Date(t) });
        expect(first.status).toBe('partial');
        expect(first.unsubscribesDelivered).toBe(1);
        expect(await f.ledger.getUnsubscribe(id)).toMatchObject({
            lastOutcome: 'rejected',
            failures: 1,
            errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
            errorRecordId: blocked
        });
        expect(await f.values('Contact', [fine])).toEqual({ [fine]: true });
        const second = await f.run('nightly', {
            now: () => new Date(t + 60_000)
        });
        expect(second.failed).toEqual([]);
        expect(second.status).toBe('succeeded');
        expect(second.skipped.stuck_record).toBe(1);
        expect((await f.ledger.getUnsubscribe(id))?.failures).toBe(1);
    });

    it('the webhook push loop leaves a refused unsubscribe to its back-off', async () => {
        f = await setup();
        await deployRules(f);
        await f.contacts([
            { LastName: 'Blocked', Email: 'blocked@example.com' }
        ]);
        const [id] = await unsubscribe(f.ledger, ['blocked@example.com']);
        await f.run('push');
        expect(await isPending(f.ledger, id)).toBe(false);
        // An explicit push of that id (the loop's) sends nothing before it is due.
        const r = await f.run('push', { unsubscribeIds: [id] });
        expect(r.apiRequests).toBe(0);
        expect((await f.ledger.getUnsubscribe(id))?.attempts).toBe(1);
    });
});
