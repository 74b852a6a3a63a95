/**
 * The webhook end to end against the local org (package deployed): a burst of webhook
 * calls is micro-batched into a handful of pushes, every unsubscribe reaches Salesforce
 * within the test, with few API requests; shutdown pushes what is still queued.
 */
import { Ledger } from '../../ledger/ledger';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient } from '../../salesforce/client';
import { preflight, startWebhook, type Webhook } from '../service';
import type { PushRun } from '../../sync/push-service';

const SECRET = 'org-test-secret-0123456789';
const LIST = '3f9a1c2b7d';

let t: TestOrg;
let ledger: Ledger;
let org: OrgClient;
let webhook: Webhook | undefined;
let runs: PushRun[];
let contactIds: string[];

beforeAll(async () => {
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    t = await startTestOrg({ deploy: true });
    contactIds = await seedRecords(t, 'Contact', fakePeople(320));
});

afterAll(async () => {
    await t?.close();
});

beforeEach(async () => {
    ledger = await Ledger.open(':memory:');
    await ledger.upsertAudience({ id: LIST, name: 'Monthly newsletter' });
    org = new OrgClient(t.conn as never, { targetOrg: 'local', local: true });
    runs = [];
    webhook = await startWebhook({
        ledger,
        org,
        secret: SECRET,
        port: 0,
        push: { maxDelayMs: 300 },
        onPush: (run) => runs.push(run)
    });
    t.admin.resetStats();
});

afterEach(async () => {
    await webhook?.close();
    await ledger.close();
});

async function post(path: string, body: string, type: string): Promise<number> {
    const res = await fetch(`${webhook?.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Bearer ${SECRET}` },
        body
    });
    await res.text();
    return res.status;
}

async function optedOut(ids: string[]): Promise<Record<string, boolean>> {
    const out: Record<string, boolean> = {};
    for (let i = 0; i < ids.length; i += 200) {
        const res = await t.conn.query<{
            Id: string;
            HasOptedOutOfEmail: boolean;
        }>(
            `SELECT Id, HasOptedOutOfEmail FROM Contact WHERE Id IN (${ids
                .slice(i, i + 200)
                .map((id) => `'${id}'`)
                .join(',')})`
        );
        for (const r of res.records) out[r.Id] = r.HasOptedOutOfEmail;
    }
    return out;
}

describe('the webhook against the local org', () => {
    it('checks at start that the package is there (R7)', async () => {
        await expect(preflight(org)).resolves.toMatchObject({
            field: 'HasOptedOutOfEmail'
        });
    });

    it('micro-batches a burst of 300 calls into a handful of pushes, each delivered within the test', async () => {
        // 250 global unsubscribes (JSON, one per call) and 50 Mailchimp audience ones.
        const calls: (() => Promise<number>)[] = [];
        for (let i = 0; i < 250; i++)
            calls.push(() =>
                post(
                    '/unsubscribes',
                    JSON.stringify({ email: `person${i}@example.com` }),
                    'application/json'
                )
            );
        for (let i = 250; i < 300; i++)
            calls.push(() =>
                post(
                    '/mailchimp',
                    new URLSearchParams({
                        type: 'unsubscribe',
                        fired_at: '2024-05-01 10:00:00',
                        'data[action]': 'unsub',
                        'data[reason]': 'manual',
                        'data[email]': `PERSON${i}@example.com`,
                        'data[list_id]': LIST
                    }).toString(),
                    'application/x-www-form-urlencoded'
                )
            );
        const statuses: number[] = [];
        for (let i = 0; i < calls.length; i += 30)
            statuses.push(
                ...(await Promise.all(calls.slice(i, i + 30).map((c) => c())))
            );
        expect(statuses.every((s) => s === 200)).toBe(true);
        await webhook?.loop.idle();

        expect(await ledger.countUndelivered()).toBe(0);
        expect(runs.length).toBeGreaterThanOrEqual(1);
        expect(runs.length).toBeLessThanOrEqual(8);
        const delivered = runs.reduce(
            (n, r) => n + (r.result?.unsubscribesDelivered ?? 0),
            0
        );
        expect(delivered).toBe(300);
        const requests = runs.reduce(
            (n, r) => n + (r.result?.apiRequests ?? 0),
            0
        );
        // Counted at the HTTP layer: exactly what the org served, and few of them.
        expect(requests).toBe(t.admin.stats().totalRequests);
        expect(requests).toBeLessThanOrEqual(40);

        const values = await optedOut(contactIds);
        expect(contactIds.slice(0, 250).every((id) => values[id])).toBe(true);
        // Audience unsubscribes are not global ones (R5): no opt-out field written.
        expect(contactIds.slice(250).some((id) => values[id])).toBe(false);
        const members = await t.conn.query<{ Status__c: string }>(
            `SELECT Status__c FROM Audience_Membership__c WHERE Audience_Id__c = '${LIST}'`
        );
        expect(members.totalSize).toBe(50);
        expect(
            members.records.every((m) => m.Status__c === 'Unsubscribed')
        ).toBe(true);
    });

    it('resumes its own undelivered unsubscribes at start, leaving others to the scheduler', async () => {
        await webhook?.close();
        const own = (
            await ledger.recordUnsubscribe({
                email: 'person310@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        const imported = (
            await ledger.recordUnsubscribe({
                email: 'person311@example.com',
                scope: 'all',
                source: 'import'
            })
        ).unsubscribe.id;
        webhook = await startWebhook({
            ledger,
            org,
            secret: SECRET,
            port: 0,
            push: { maxDelayMs: 10 }
        });
        await webhook.loop.idle();
        expect((await ledger.getUnsubscribe(own))?.deliveredAt).not.toBeNull();
        expect((await ledger.getUnsubscribe(imported))?.deliveredAt).toBeNull();
    });

    it('pushes what is still queued when it stops (graceful shutdown)', async () => {
        for (let i = 300; i < 305; i++)
            expect(
                await post(
                    '/unsubscribes',
                    JSON.stringify({ email: `person${i}@example.com` }),
                    'application/json'
                )
            ).toBe(200);
        expect(await ledger.countUndelivered()).toBe(5);
        await webhook?.close();
        expect(await ledger.countUndelivered()).toBe(0);
        const values = await optedOut(contactIds.slice(300, 305));
        expect(Object.values(values)).toEqual([true, true, true, true, true]);
        // Closed: no new requests are accepted.
        await expect(
            fetch(`${webhook?.url}/healthz`).then((r) => r.status)
        ).rejects.toThrow();
    });
});
