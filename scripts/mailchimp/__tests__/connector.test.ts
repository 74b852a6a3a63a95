/**
 * The Mailchimp connector against the local Mailchimp: pull is incremental and
 * idempotent; push delivers every ledger unsubscribe that did not come from Mailchimp
 * exactly once (statusChanges() is Mailchimp's own record), also under 429/5xx faults,
 * dropped answers and a crash between Mailchimp applying a PATCH and the ledger
 * recording it; nothing ever sets a member to subscribed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import {
    type LocalMailchimp,
    startLocalMailchimp
} from '../../tools/local-mailchimp/server';
import { MailchimpClient, type ClientOptions } from '../client';
import { type ConnectorEvent, MailchimpSchedule } from '../job';
import { fetchLists } from '../lists';
import { PULL_JOB, pullMailchimp } from '../pull';
import { pushMailchimp, subscriberHash, type PushOptions } from '../push';
import { deliveryCounts } from '../../ledger/mailchimp-deliveries';

let dir: string;
let ledger: Ledger;
let mc: LocalMailchimp;
let now: number;

beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mc-connector-'));
    ledger = await Ledger.open(join(dir, 'ledger.db'));
    now = Date.UTC(2026, 0, 1, 12, 0, 0);
    mc = await startLocalMailchimp({ clock: () => now, batchStepMs: 1 });
});
afterEach(async () => {
    await ledger.close();
    await mc.close();
    rmSync(dir, { recursive: true, force: true });
});

function client(options: ClientOptions = {}): MailchimpClient {
    return new MailchimpClient(
        { apiKey: mc.apiKey, dc: mc.dc, apiUrl: mc.apiUrl },
        { backoffMs: 1, maxBackoffMs: 5, ...options }
    );
}

async function pull(): ReturnType<typeof pullMailchimp> {
    const c = client();
    return pullMailchimp(ledger, c, await fetchLists(c));
}

async function push(
    options: PushOptions = {},
    clientOptions: ClientOptions = {}
): ReturnType<typeof pushMailchimp> {
    const c = client(clientOptions);
    return pushMailchimp(ledger, c, await fetchLists(c), {
        pollMs: 5,
        ...options
    });
}

/** Changes the connector made (source api), as `list:email→status`. */
function apiChanges(): string[] {
    return mc.admin
        .statusChanges()
        .filter((c) => c.source === 'api')
        .map((c) => `${c.listId}:${c.email}→${c.to}`)
        .sort();
}

async function auditCount(): Promise<number> {
    return (await ledger.rowCounts()).audit;
}

/** news: ann, bob (unsubscribed in Mailchimp), cat (cleaned); events: ann, dan. */
function seedMailchimp(): { news: string; events: string } {
    const news = mc.admin.createList('Newsletter').id;
    const events = mc.admin.createList('Events').id;
    mc.admin.addMember(news, 'Ann@example.com');
    mc.admin.addMember(news, 'bob@example.com', 'unsubscribed');
    mc.admin.addMember(news, 'cat@example.com', 'cleaned');
    mc.admin.addMember(events, 'ann@example.com');
    mc.admin.addMember(events, 'dan@example.com');
    return { news, events };
}

describe('mailchimp pull', () => {
    it('reads everything the first time into memberships and audience unsubscribes', async () => {
        const { news, events } = seedMailchimp();
        const r = await pull();
        expect(r.audiencesCreated).toBe(2);
        expect((await ledger.getAudience(news))?.name).toBe('Newsletter');
        const status = async (
            email: string,
            list: string
        ): Promise<string | undefined> =>
            (
                await ledger.getMembership(
                    (await ledger.findPerson(email))?.id ?? -1,
                    list
                )
            )?.status;
        expect(await status('ann@example.com', news)).toBe('Subscribed');
        expect(await status('ann@example.com', events)).toBe('Subscribed');
        expect(await status('bob@example.com', news)).toBe('Unsubscribed');
        expect(await status('cat@example.com', news)).toBe('Cleaned');
        const bob = await ledger.listUnsubscribes(
            (await ledger.findPerson('bob@example.com'))?.id ?? -1
        );
        expect(bob).toHaveLength(1);
        expect(bob[0]).toMatchObject({
            scope: 'audience',
            audienceId: news,
            source: 'platform'
        });
        expect(bob[0].reason).toMatch(/^Mailchimp/);
        // It came from Mailchimp: push has nothing to send back.
        expect((await deliveryCounts(ledger)).in_mailchimp).toBe(1);
        expect(await ledger.getCursor(PULL_JOB, news)).toBe(
            new Date(now - 60_000).toISOString()
        );
        expect((await push()).pending).toBe(0);
        expect(apiChanges()).toEqual([]);
    });

    it('is idempotent and incremental: a second pull changes nothing, later pulls read only what changed', async () => {
        const { news } = seedMailchimp();
        for (let i = 0; i < 30; i++)
            mc.admin.addMember(news, `p${i}@example.com`);
        await pull();
        const audits = await auditCount();
        const seq = await ledger.maxSeq();
        now += 3_600_000;
        const second = await pull();
        expect(await auditCount()).toBe(audits);
        expect(await ledger.maxSeq()).toBe(seq);
        expect(
            second.audiences.every(
                (a) => a.changed === 0 && a.unsubscribes === 0
            )
        ).toBe(true);

        now += 3_600_000;
        mc.admin.setStatus(news, 'p7@example.com', 'unsubscribed', {
            reason: 'too many'
        });
        const third = await pull();
        const n = third.audiences.find((a) => a.listId === news);
        expect(n).toMatchObject({ changed: 1, unsubscribes: 1 });
        // The cursor moved past the first pull's members: the next pull reads only the
        // look-back (p7's second), not the audience.
        const fourth = await pull();
        expect(fourth.audiences.find((a) => a.listId === news)).toMatchObject({
            read: 1,
            changed: 0
        });
        const p7 = (await ledger.findPerson('p7@example.com'))?.id ?? -1;
        expect((await ledger.getMembership(p7, news))?.status).toBe(
            'Unsubscribed'
        );
        expect((await ledger.listUnsubscribes(p7))[0].reason).toBe(
            'Mailchimp: too many'
        );
        expect(await ledger.getCursor(PULL_JOB, news)).toBe(
            new Date(now - 60_000).toISOString()
        );
    });

    it('never lifts an active ledger unsubscribe when Mailchimp still shows the member subscribed (R4)', async () => {
        const { news } = seedMailchimp();
        await pull();
        await ledger.recordUnsubscribe({
            email: 'ann@example.com',
            scope: 'audience',
            audienceId: news,
            source: 'flow'
        });
        now += 3_600_000;
        mc.admin.setStatus(news, 'ann@example.com', 'pending', {
            source: 'admin'
        });
        await pull();
        const ann = (await ledger.findPerson('ann@example.com'))?.id ?? -1;
        expect((await ledger.getMembership(ann, news))?.status).toBe(
            'Unsubscribed'
        );
    });
});

describe('mailchimp push', () => {
    /** After a pull: a global unsubscribe for ann (2 audiences), one for dan's events, one for a stranger. */
    async function seedLedger(): Promise<{ news: string; events: string }> {
        const lists = seedMailchimp();
        await pull();
        await ledger.recordUnsubscribe({
            email: 'ANN@example.com',
            scope: 'all',
            source: 'salesforce'
        });
        await ledger.recordUnsubscribe({
            email: 'dan@example.com',
            scope: 'audience',
            audienceId: lists.events,
            source: 'flow'
        });
        await ledger.recordUnsubscribe({
            email: 'eve@example.com',
            scope: 'audience',
            audienceId: lists.news,
            source: 'webhook'
        });
        return lists;
    }

    it('sends each unsubscribe to its audiences once, skips members Mailchimp lacks, and never subscribes', async () => {
        const { news, events } = await seedLedger();
        const r = await push();
        expect(r.mode).toBe('requests');
        expect(r.delivered).toBe(3);
        expect(r.skipped).toEqual([
            expect.objectContaining({
                email: 'eve@example.com',
                listId: news,
                reason: expect.stringMatching(
                    /not a member.*404 Resource Not Found/
                )
            })
        ]);
        expect(apiChanges()).toEqual(
            [
                `${news}:Ann@example.com→unsubscribed`,
                `${events}:ann@example.com→unsubscribed`,
                `${events}:dan@example.com→unsubscribed`
            ].sort()
        );
        expect(
            mc.admin.statusChanges().some((c) => c.to === 'subscribed')
        ).toBe(false);
        const audit = (await ledger.auditForEmail('ann@example.com')).filter(
            (a) => a.action === 'mailchimp_delivered'
        );
        expect(audit.map((a) => a.recordId).sort()).toEqual(
            [news, events].sort()
        );
        expect(
            (await ledger.auditForEmail('eve@example.com')).filter(
                (a) => a.action === 'mailchimp_skipped'
            )
        ).toHaveLength(1);

        // A re-run sends nothing; a later pull of the now-unsubscribed members changes nothing to send.
        const again = await push();
        expect(again.pending).toBe(0);
        now += 3_600_000;
        await pull();
        expect((await push()).pending).toBe(0);
        expect(apiChanges()).toHaveLength(3);
    });

    it('limits itself to the audiences given', async () => {
        const { events } = await seedLedger();
        const c = client();
        const lists = (await fetchLists(c)).filter((l) => l.id === events);
        const r = await pushMailchimp(ledger, c, lists);
        expect(r.delivered).toBe(2);
        expect(apiChanges().every((s) => s.startsWith(`${events}:`))).toBe(
            true
        );
    });

    it('delivers exactly once under 429, 5xx and dropped answers', async () => {
        const { news, events } = await seedLedger();
        mc.admin.setFaults(
            '429:next=2,503:0.3,drop-after:next=2@updateMember,502:next=1@PATCH'
        );
        const r = await push({}, { maxAttempts: 20 });
        expect(r.failed).toEqual([]);
        expect(r.delivered).toBe(3);
        mc.admin.setFaults('');
        expect((await push()).pending).toBe(0);
        expect(apiChanges()).toEqual(
            [
                `${news}:Ann@example.com→unsubscribed`,
                `${events}:ann@example.com→unsubscribed`,
                `${events}:dan@example.com→unsubscribed`
            ].sort()
        );
        expect((await deliveryCounts(ledger)).delivered).toBe(3);
    });

    it('after a crash between Mailchimp applying a PATCH and the ledger recording it, the next run records it once', async () => {
        const { news } = await seedLedger();
        // Every PATCH is applied by Mailchimp but its answer never arrives, and this run
        // does not retry: as if the process died right after sending.
        mc.admin.setFaults('drop-after:1@updateMember');
        const crashed = await push({}, { maxAttempts: 1 });
        expect(crashed.delivered).toBe(0);
        expect(crashed.failed).toHaveLength(3);
        expect((await deliveryCounts(ledger)).delivered).toBe(0);
        expect(apiChanges()).toHaveLength(3);
        mc.admin.setFaults('');
        const next = await push();
        expect(next.delivered).toBe(3);
        expect(apiChanges()).toHaveLength(3);
        expect(
            (await ledger.auditForEmail('ann@example.com')).filter(
                (a) => a.action === 'mailchimp_delivered'
            )
        ).toHaveLength(2);
        expect(mc.admin.member(news, 'ann@example.com')?.status).toBe(
            'unsubscribed'
        );
    });

    it('uses batch operations above the threshold and reads each operation’s result from the archive', async () => {
        const news = mc.admin.createList('Newsletter').id;
        for (let i = 0; i < 120; i++)
            mc.admin.addMember(news, `p${i}@example.com`);
        await pull();
        for (let i = 0; i < 120; i++)
            await ledger.recordUnsubscribe({
                email: `p${i}@example.com`,
                scope: 'all',
                source: 'salesforce'
            });
        await ledger.recordUnsubscribe({
            email: 'ghost@example.com',
            scope: 'audience',
            audienceId: news,
            source: 'import'
        });
        const r = await push({ batchSize: 50 });
        expect(r.mode).toBe('batch');
        expect(r.batches).toHaveLength(3);
        expect(r.delivered).toBe(120);
        expect(r.skipped.map((s) => s.email)).toEqual(['ghost@example.com']);
        expect(mc.admin.stats().requests.updateMember ?? 0).toBe(0);
        expect(apiChanges()).toHaveLength(120);
        expect(
            mc.admin.statusChanges().some((c) => c.to === 'subscribed')
        ).toBe(false);
        expect((await push()).pending).toBe(0);
        expect(mc.admin.member(news, 'p0@example.com')?.id).toBe(
            subscriberHash('p0@example.com')
        );
    });

    it('runs pull then push as the hourly scheduled job, recorded as runs', async () => {
        const { news } = seedMailchimp();
        const events: ConnectorEvent[] = [];
        const jobs = new MailchimpSchedule({
            ledger,
            config: { apiKey: mc.apiKey, dc: mc.dc, apiUrl: mc.apiUrl },
            cron: '0 * * * *',
            timezone: 'UTC',
            onEvent: (e) => events.push(e)
        });
        await jobs.runOnce();
        await ledger.recordUnsubscribe({
            email: 'cat@example.com',
            scope: 'all',
            source: 'salesforce'
        });
        await jobs.runOnce();
        await jobs.stop();
        expect(events.map((e) => e.event)).toEqual(['mailchimp', 'mailchimp']);
        const last = events[1];
        expect(last.event === 'mailchimp' && last.push.delivered).toBe(1);
        expect(apiChanges()).toEqual([`${news}:cat@example.com→unsubscribed`]);
        expect((await ledger.listRuns()).map((r) => r.job).sort()).toEqual([
            'mailchimp-pull',
            'mailchimp-pull',
            'mailchimp-push',
            'mailchimp-push'
        ]);
        expect(await ledger.getLock('job:mailchimp')).toBeUndefined();
    });
});
