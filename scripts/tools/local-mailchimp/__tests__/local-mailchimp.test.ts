/**
 * The local Mailchimp, driven by the official client (@mailchimp/mailchimp_marketing) to
 * show it speaks Mailchimp's wire format, and by fetch where the client hides the wire.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import mailchimp, {
    type MailchimpHttpError
} from '@mailchimp/mailchimp_marketing';
import {
    mailchimpAction,
    parseMailchimpForm
} from '../../../webhook/mailchimp';
import { type LocalMailchimp, startLocalMailchimp } from '../server';
import { subscriberHash } from '../store';

let mc: LocalMailchimp;
let now: number;

function useClient(target: LocalMailchimp, apiKey = target.apiKey): void {
    mailchimp.setConfig({ apiKey, server: target.dc });
    // The client builds https://server.api.mailchimp.com/3.0 (ApiClient.js); point it here.
    mailchimp.basePath = target.apiUrl;
}

async function rejection(p: Promise<unknown>): Promise<MailchimpHttpError> {
    try {
        await p;
    } catch (err) {
        return err as MailchimpHttpError;
    }
    throw new Error('expected the call to fail');
}

beforeEach(async () => {
    now = Date.UTC(2026, 0, 1, 12, 0, 0);
    mc = await startLocalMailchimp({ clock: () => now, batchStepMs: 5 });
    useClient(mc);
});

afterEach(async () => {
    await mc.close();
});

describe('local Mailchimp with the official client', () => {
    it('answers ping and root, and derives the data centre from the key', async () => {
        expect(mc.dc).toBe('us1');
        expect(await mailchimp.ping.get()).toEqual({
            health_status: "Everything's Chimpy!"
        });
        const root = await mailchimp.root.getRoot();
        expect(root.account_name).toBe('Local Mailchimp');
    });

    it('lists audiences and members with count/offset paging and fields', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.createList('Events');
        for (let i = 0; i < 25; i++)
            mc.admin.addMember(a.id, `p${i}@example.com`);
        const lists = await mailchimp.lists.getAllLists({ count: 1 });
        expect(lists.total_items).toBe(2);
        expect((lists.lists as { name: string }[]).map((l) => l.name)).toEqual([
            'Newsletter'
        ]);
        const seen: string[] = [];
        for (let offset = 0; ; offset += 10) {
            const page = await mailchimp.lists.getListMembersInfo(a.id, {
                count: 10,
                offset,
                fields: [
                    'members.email_address',
                    'members.status',
                    'total_items'
                ]
            });
            expect(page.total_items).toBe(25);
            const members = page.members as Record<string, unknown>[];
            if (members.length === 0) break;
            for (const m of members) {
                expect(Object.keys(m).sort()).toEqual([
                    'email_address',
                    'status'
                ]);
                seen.push(m.email_address as string);
            }
        }
        expect(seen).toHaveLength(25);
        expect(new Set(seen).size).toBe(25);
        // count above the documented maximum (1000) is refused, not silently capped
        const err = await rejection(
            mailchimp.lists.getListMembersInfo(a.id, { count: 1001 })
        );
        expect(err.status).toBe(400);
    });

    it('filters members by since_last_changed (strictly after, one-second resolution)', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 'old@example.com');
        const first = await mailchimp.lists.getListMembersInfo(a.id);
        const old = (first.members as { last_changed: string }[])[0];
        expect(old.last_changed).toBe('2026-01-01T12:00:00+00:00');
        now += 60_000;
        mc.admin.addMember(a.id, 'new@example.com');
        now += 60_000;
        await mailchimp.lists.updateListMember(
            a.id,
            subscriberHash('old@example.com'),
            { status: 'unsubscribed' }
        );
        const changed = await mailchimp.lists.getListMembersInfo(a.id, {
            since_last_changed: old.last_changed
        });
        expect(
            (
                changed.members as { email_address: string; status: string }[]
            ).map((m) => [m.email_address, m.status])
        ).toEqual([
            ['old@example.com', 'unsubscribed'],
            ['new@example.com', 'subscribed']
        ]);
        const none = await mailchimp.lists.getListMembersInfo(a.id, {
            since_last_changed: '2026-01-01T12:02:00+00:00'
        });
        expect(none.total_items).toBe(0);
    });

    it('PATCHes a member to unsubscribed, and answers 404 problem for an unknown member', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 'Ann@Example.com');
        const hash = subscriberHash('ann@example.com');
        const updated = await mailchimp.lists.updateListMember(a.id, hash, {
            status: 'unsubscribed'
        });
        expect(updated).toMatchObject({
            id: hash,
            email_address: 'Ann@Example.com',
            status: 'unsubscribed'
        });
        expect(mc.admin.member(a.id, 'ann@example.com')?.status).toBe(
            'unsubscribed'
        );
        const err = await rejection(
            mailchimp.lists.updateListMember(
                a.id,
                subscriberHash('nobody@example.com'),
                { status: 'unsubscribed' }
            )
        );
        expect(err.status).toBe(404);
        expect(err.response.headers['content-type']).toBe(
            'application/problem+json; charset=utf-8'
        );
        expect(err.response.body).toMatchObject({
            type: 'https://mailchimp.com/developer/marketing/docs/errors/',
            title: 'Resource Not Found',
            status: 404,
            detail: 'The requested resource could not be found.'
        });
        expect(err.response.body.instance).toEqual(expect.any(String));
    });

    it('refuses a PUT whose email does not match the hash, and never resubscribes an unsubscribed member', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 'bob@example.com', 'unsubscribed');
        const mismatch = await rejection(
            mailchimp.lists.setListMember(
                a.id,
                subscriberHash('other@example.com'),
                {
                    email_address: 'bob@example.com',
                    status_if_new: 'subscribed'
                }
            )
        );
        expect(mismatch.status).toBe(400);
        expect(mismatch.response.body.title).toBe('Invalid Resource');
        const compliance = await rejection(
            mailchimp.lists.updateListMember(
                a.id,
                subscriberHash('bob@example.com'),
                {
                    status: 'subscribed'
                }
            )
        );
        expect(compliance.status).toBe(400);
        expect(compliance.response.body.title).toBe(
            'Member In Compliance State'
        );
        expect(mc.admin.member(a.id, 'bob@example.com')?.status).toBe(
            'unsubscribed'
        );
        const created = await mailchimp.lists.setListMember(
            a.id,
            subscriberHash('new@example.com'),
            { email_address: 'new@example.com', status_if_new: 'unsubscribed' }
        );
        expect(created.status).toBe('unsubscribed');
    });

    it('answers 401 problem to a wrong or missing key', async () => {
        useClient(mc, 'ffffffffffffffffffffffffffffffff-us1');
        const err = await rejection(mailchimp.ping.get());
        expect(err.status).toBe(401);
        expect(err.response.body).toMatchObject({
            title: 'API Key Invalid',
            status: 401
        });
        const res = await fetch(`${mc.apiUrl}/ping`);
        expect(res.status).toBe(401);
        expect(((await res.json()) as { title: string }).title).toBe(
            'API Key Missing'
        );
        // Authorization: apikey KEY is accepted as well as Basic
        const ok = await fetch(`${mc.apiUrl}/ping`, {
            headers: { authorization: `apikey ${mc.apiKey}` }
        });
        expect(ok.status).toBe(200);
    });

    it('answers 429 to the 11th simultaneous connection', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.setLatency(300);
        const results = await Promise.allSettled(
            Array.from({ length: 12 }, () =>
                mailchimp.lists.getListMembersInfo(a.id)
            )
        );
        const rejected = results.filter(
            (r): r is PromiseRejectedResult => r.status === 'rejected'
        );
        expect(results.length - rejected.length).toBe(10);
        expect(rejected).toHaveLength(2);
        for (const r of rejected) {
            const e = r.reason as MailchimpHttpError;
            expect(e.status).toBe(429);
            expect(e.response.body.title).toBe('Too Many Requests');
            // as Mailchimp: no Retry-After on the concurrency limit; clients back off themselves
            expect(e.response.headers['retry-after']).toBeUndefined();
        }
        expect(mc.admin.stats().maxInFlight).toBe(10);
    });

    it('injects 429 (with Retry-After) and 503 faults on the next requests', async () => {
        mc.admin.setFaults('429:next=1@PATCH,503:next=1');
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 'c@example.com');
        const e503 = await rejection(mailchimp.ping.get());
        expect(e503.status).toBe(503);
        const e429 = await rejection(
            mailchimp.lists.updateListMember(
                a.id,
                subscriberHash('c@example.com'),
                {
                    status: 'unsubscribed'
                }
            )
        );
        expect(e429.status).toBe(429);
        expect(e429.response.headers['retry-after']).toBe('1');
        expect(mc.admin.member(a.id, 'c@example.com')?.status).toBe(
            'subscribed'
        );
        await mailchimp.lists.updateListMember(
            a.id,
            subscriberHash('c@example.com'),
            {
                status: 'unsubscribed'
            }
        );
        expect(mc.admin.member(a.id, 'c@example.com')?.status).toBe(
            'unsubscribed'
        );
    });

    it('runs a batch to finished and serves its results as a tar.gz', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 'x@example.com');
        mc.admin.addMember(a.id, 'y@example.com');
        const op = (email: string): Record<string, unknown> => ({
            method: 'PATCH',
            path: `/lists/${a.id}/members/${subscriberHash(email)}`,
            body: JSON.stringify({ status: 'unsubscribed' }),
            operation_id: email
        });
        const started = await mailchimp.batches.start({
            operations: [
                op('x@example.com'),
                op('y@example.com'),
                op('z@example.com')
            ]
        });
        expect(started).toMatchObject({
            status: 'pending',
            total_operations: 3,
            finished_operations: 0,
            response_body_url: ''
        });
        let status = started;
        for (let i = 0; i < 200 && status.status !== 'finished'; i++) {
            await new Promise((r) => setTimeout(r, 10));
            status = await mailchimp.batches.status(started.id as string);
        }
        expect(status).toMatchObject({
            status: 'finished',
            total_operations: 3,
            finished_operations: 3,
            errored_operations: 1
        });
        expect(mc.admin.member(a.id, 'x@example.com')?.status).toBe(
            'unsubscribed'
        );
        expect(mc.admin.member(a.id, 'y@example.com')?.status).toBe(
            'unsubscribed'
        );
        const res = await fetch(status.response_body_url as string);
        const tar = gunzipSync(Buffer.from(await res.arrayBuffer()));
        const size = parseInt(tar.subarray(124, 135).toString('ascii'), 8);
        const results = JSON.parse(
            tar.subarray(512, 512 + size).toString('utf8')
        ) as { status_code: number; operation_id: string; response: string }[];
        expect(results.map((r) => [r.operation_id, r.status_code])).toEqual([
            ['x@example.com', 200],
            ['y@example.com', 200],
            ['z@example.com', 404]
        ]);
        expect(JSON.parse(results[2].response)).toMatchObject({
            title: 'Resource Not Found'
        });
    });

    it('drop-after applies the change but the client hears nothing (a crash mid-push)', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 'd@example.com');
        mc.admin.setFaults('drop-after:next=1@updateMember');
        const err = await rejection(
            mailchimp.lists.updateListMember(
                a.id,
                subscriberHash('d@example.com'),
                {
                    status: 'unsubscribed'
                }
            )
        );
        expect(err.status).toBeUndefined();
        expect(mc.admin.member(a.id, 'd@example.com')?.status).toBe(
            'unsubscribed'
        );
        // the retry is harmless: same status, no second change recorded
        await mailchimp.lists.updateListMember(
            a.id,
            subscriberHash('d@example.com'),
            {
                status: 'unsubscribed'
            }
        );
        expect(
            mc.admin.statusChanges().filter((c) => c.email === 'd@example.com')
        ).toHaveLength(1);
    });

    it('filters by status, hides archived members by default, and honours exclude_fields', async () => {
        const a = mc.admin.createList('Newsletter');
        mc.admin.addMember(a.id, 's@example.com');
        mc.admin.addMember(a.id, 'u@example.com', 'unsubscribed');
        mc.admin.addMember(a.id, 'gone@example.com');
        await mailchimp.lists.deleteListMember(
            a.id,
            subscriberHash('gone@example.com')
        );
        const all = await mailchimp.lists.getListMembersInfo(a.id, {
            exclude_fields: ['members._links', '_links']
        });
        expect(all.total_items).toBe(2);
        expect(all).not.toHaveProperty('_links');
        for (const m of all.members as Record<string, unknown>[]) {
            expect(m).not.toHaveProperty('_links');
            expect(m).toHaveProperty('email_address');
        }
        const unsub = await mailchimp.lists.getListMembersInfo(a.id, {
            status: 'unsubscribed'
        });
        expect(
            (unsub.members as { email_address: string }[]).map(
                (m) => m.email_address
            )
        ).toEqual(['u@example.com']);
        const archived = await mailchimp.lists.getListMembersInfo(a.id, {
            status: 'archived'
        });
        expect(archived.total_items).toBe(1);
    });

    it('serves the admin routes over HTTP', async () => {
        const post = async (
            path: string,
            body: unknown
        ): Promise<Record<string, unknown>> => {
            const res = await fetch(`${mc.baseUrl}${path}`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(body)
            });
            expect(res.status).toBe(200);
            return (await res.json()) as Record<string, unknown>;
        };
        const list = await post('/local/lists', { name: 'Newsletter' });
        await post(`/local/lists/${String(list.id)}/members`, {
            email: 'h@example.com'
        });
        const m = await post(
            `/local/lists/${String(list.id)}/members/${encodeURIComponent('h@example.com')}/status`,
            { status: 'unsubscribed', reason: 'normal', source: 'admin' }
        );
        expect(m).toMatchObject({
            status: 'unsubscribed',
            unsubscribe_reason: 'normal'
        });
        const changes = (await (
            await fetch(`${mc.baseUrl}/local/status-changes`)
        ).json()) as {
            changes: { source: string; to: string }[];
        };
        expect(changes.changes).toEqual([
            expect.objectContaining({ source: 'admin', to: 'unsubscribed' })
        ]);
    });

    describe('webhooks', () => {
        let receiver: Server;
        let url: string;
        let bodies: string[];

        beforeEach(async () => {
            bodies = [];
            receiver = createServer((req, res) => {
                const chunks: Buffer[] = [];
                req.on('data', (c: Buffer) => chunks.push(c));
                req.on('end', () => {
                    if (req.method === 'POST')
                        bodies.push(Buffer.concat(chunks).toString('utf8'));
                    res.writeHead(200).end();
                });
            });
            await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
            url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
        });

        afterEach(async () => {
            receiver.closeAllConnections();
            await new Promise<void>((r) => receiver.close(() => r()));
        });

        it('fires on an unsubscribe made in Mailchimp, not on one made through the API when sources.api is false', async () => {
            const a = mc.admin.createList('Newsletter');
            mc.admin.addMember(a.id, 'user@example.com');
            mc.admin.addMember(a.id, 'api@example.com');
            const hook = await mailchimp.lists.createListWebhook(a.id, {
                url,
                events: { unsubscribe: true, cleaned: true },
                sources: { user: true, admin: true, api: false }
            });
            expect(hook).toMatchObject({
                url,
                events: { unsubscribe: true, subscribe: false, cleaned: true },
                sources: { user: true, admin: true, api: false }
            });
            const listed = await mailchimp.lists.getListWebhooks(a.id);
            expect(listed.total_items).toBe(1);

            mc.admin.setStatus(a.id, 'user@example.com', 'unsubscribed', {
                reason: 'normal'
            });
            await mailchimp.lists.updateListMember(
                a.id,
                subscriberHash('api@example.com'),
                { status: 'unsubscribed' }
            );
            await mc.admin.settle();
            expect(bodies).toHaveLength(1);
            // The project's own webhook parser reads it as an audience unsubscribe.
            const event = parseMailchimpForm(bodies[0]);
            expect(event.firedAt).toBe('2026-01-01T12:00:00.000Z');
            expect(mailchimpAction(event)).toMatchObject({
                kind: 'unsubscribe',
                email: 'user@example.com',
                audienceId: a.id
            });
            expect(mc.admin.webhookDeliveries()).toEqual([
                expect.objectContaining({ type: 'unsubscribe', status: 200 })
            ]);
            await mailchimp.lists.deleteListWebhook(a.id, hook.id as string);
            expect(
                (await mailchimp.lists.getListWebhooks(a.id)).total_items
            ).toBe(0);
        });

        it('refuses a webhook URL that does not answer the validation GET with 200', async () => {
            const a = mc.admin.createList('Newsletter');
            const err = await rejection(
                mailchimp.lists.createListWebhook(a.id, {
                    url: 'http://127.0.0.1:1/nothing-listens',
                    events: { unsubscribe: true },
                    sources: { user: true }
                })
            );
            expect(err.status).toBe(400);
            expect(err.response.body.title).toBe('Invalid Resource');
        });
    });
});

describe('local Mailchimp on a file', () => {
    it('keeps audiences and members across a restart', async () => {
        await mc.close();
        const dir = mkdtempSync(join(tmpdir(), 'local-mc-'));
        try {
            const dbPath = join(dir, 'mc.sqlite');
            let first = await startLocalMailchimp({ dbPath });
            const a = first.admin.createList('Newsletter');
            first.admin.addMember(a.id, 'keep@example.com', 'unsubscribed');
            await first.close();
            first = await startLocalMailchimp({ dbPath });
            useClient(first);
            const got = await mailchimp.lists.getListMember(
                a.id,
                subscriberHash('keep@example.com')
            );
            expect(got.status).toBe('unsubscribed');
            mc = first; // closed by afterEach
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe('a batch interrupted by a restart', () => {
    it('runs to finished after the restart', async () => {
        await mc.close();
        const dir = mkdtempSync(join(tmpdir(), 'local-mc-'));
        try {
            const dbPath = join(dir, 'mc.sqlite');
            const first = await startLocalMailchimp({
                dbPath,
                batchStepMs: 200
            });
            const a = first.admin.createList('Newsletter');
            first.admin.addMember(a.id, 'r@example.com');
            useClient(first);
            const started = await mailchimp.batches.start({
                operations: [
                    {
                        method: 'PATCH',
                        path: `/lists/${a.id}/members/${subscriberHash('r@example.com')}`,
                        body: JSON.stringify({ status: 'unsubscribed' })
                    }
                ]
            });
            await first.close(); // before the batch started
            mc = await startLocalMailchimp({ dbPath, batchStepMs: 5 });
            useClient(mc);
            await mc.admin.settle();
            const status = await mailchimp.batches.status(started.id as string);
            expect(status).toMatchObject({
                status: 'finished',
                finished_operations: 1
            });
            expect(mc.admin.member(a.id, 'r@example.com')?.status).toBe(
                'unsubscribed'
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
