/**
 * Outbound notifications (R15): a receiving test server checks each signature with
 * node:crypto; failures are retried until a 2xx, in order; a restart resumes from the
 * per-URL cursor without losing an event (at least once); a slow URL blocks no other.
 */
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { OptoutError } from '../../model/errors';
import {
    NotifyLoop,
    backoffDelay,
    notifyStatus,
    parseNotifyUrls,
    resolveNotifySecret,
    verifySignature
} from '../notify';

const SECRET = 'notify-secret-0123456789abcdef';
const FAST = { baseMs: 5, maxMs: 40 };

interface Received {
    eventId: number;
    email: string;
    removedAt: string | null;
    signatureOk: boolean;
    headerId: string;
}

interface Receiver {
    url: string;
    received: Received[];
    /** Status to answer for the nth request (1-based); default 200. */
    answer: (n: number, body: Received) => number;
    close(): Promise<void>;
}

async function receiver(
    answer: Receiver['answer'] = () => 200
): Promise<Receiver> {
    const received: Received[] = [];
    let n = 0;
    const r: Receiver = {
        url: '',
        received,
        answer,
        close: () =>
            new Promise((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            })
    };
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            // What a receiver does, independently of optout's code.
            const expected =
                'sha256=' +
                createHmac('sha256', SECRET).update(raw).digest('hex');
            const parsed = JSON.parse(raw) as Received;
            const item: Received = {
                eventId: parsed.eventId,
                email: parsed.email,
                removedAt: parsed.removedAt,
                signatureOk: req.headers['x-optout-signature'] === expected,
                headerId: String(req.headers['x-optout-event-id'])
            };
            received.push(item);
            n += 1;
            res.writeHead(r.answer(n, item)).end('{}');
        });
    });
    await new Promise<void>((resolve) =>
        server.listen(0, '127.0.0.1', resolve)
    );
    r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    return r;
}

async function until(
    check: () => boolean | Promise<boolean>,
    ms = 5000
): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 10));
    }
}

let dir: string;
let ledgerPath: string;
const loops: NotifyLoop[] = [];
const receivers: Receiver[] = [];

beforeEach(() => {
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    dir = mkdtempSync(join(tmpdir(), 'notify-'));
    ledgerPath = join(dir, 'ledger.db');
});
afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.close()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
});

async function unsubscribe(ledger: Ledger, email: string): Promise<void> {
    await ledger.recordUnsubscribe({ email, scope: 'all', source: 'webhook' });
}

async function start(ledger: Ledger, urls: string[]): Promise<NotifyLoop> {
    const loop = await NotifyLoop.start({
        ledger,
        urls,
        secret: SECRET,
        backoff: FAST,
        pollMs: 20
    });
    loops.push(loop);
    return loop;
}

describe('pure parts', () => {
    it('accepts http and https URLs only', () => {
        expect(
            parseNotifyUrls(['https://a.example/x', 'http://b.example:8080/'])
        ).toEqual(['https://a.example/x', 'http://b.example:8080/']);
        for (const bad of [
            'ftp://a.example/',
            'not a url',
            '/relative',
            'https://u:p@a.example/'
        ])
            expect(() => parseNotifyUrls([bad])).toThrow(OptoutError);
    });

    it('needs OPTOUT_NOTIFY_SECRET with the webhook secret rules', () => {
        expect(resolveNotifySecret({ OPTOUT_NOTIFY_SECRET: SECRET })).toBe(
            SECRET
        );
        for (const env of [
            {},
            { OPTOUT_NOTIFY_SECRET: 'short' },
            { OPTOUT_NOTIFY_SECRET: 'has a space in it!!' }
        ])
            expect(() => resolveNotifySecret(env)).toThrow(OptoutError);
    });

    it('caps the exponential back-off', () => {
        const b = { baseMs: 1000, maxMs: 8000 };
        expect([1, 2, 3, 4, 5, 50].map((f) => backoffDelay(f, b))).toEqual([
            1000, 2000, 4000, 8000, 8000, 8000
        ]);
    });

    it('verifies only the exact body with the right secret', () => {
        const body = '{"eventId":1}';
        const sig =
            'sha256=' + createHmac('sha256', SECRET).update(body).digest('hex');
        expect(verifySignature(SECRET, body, sig)).toBe(true);
        expect(verifySignature(SECRET, body + ' ', sig)).toBe(false);
        expect(verifySignature('another-secret-0123456789', body, sig)).toBe(
            false
        );
        expect(verifySignature(SECRET, body, undefined)).toBe(false);
    });
});

describe('the delivery loop', () => {
    it('starts a new URL at the end of the feed, and keeps its cursor on a restart', async () => {
        const ledger = await Ledger.open(ledgerPath);
        await unsubscribe(ledger, 'before@x.org');
        const r = await receiver();
        receivers.push(r);
        const loop = await start(ledger, [r.url]);
        expect(await notifyStatus(ledger)).toEqual([
            { url: r.url, deliveredUpTo: 1, pending: 0, lastError: null }
        ]);
        await loop.close();
        // Written while no server ran: sent after the restart, not skipped.
        await unsubscribe(ledger, 'between@x.org');
        await start(ledger, [r.url]);
        await until(() => r.received.length === 1);
        expect(r.received.map((x) => x.email)).toEqual(['between@x.org']);
        await ledger.close();
    });

    it('posts every event signed, retries 500s until a 2xx, in order, and audits', async () => {
        const ledger = await Ledger.open(ledgerPath);
        // The first two answers fail: event 1 is retried before event 2 is sent.
        const r = await receiver((n) => (n <= 2 ? 500 : 200));
        receivers.push(r);
        await start(ledger, [r.url]);
        await unsubscribe(ledger, 'a@x.org');
        await unsubscribe(ledger, 'b@x.org');
        await ledger.resubscribe({ email: 'a@x.org', reason: 'asked' });
        await until(() => r.received.length >= 5);
        expect(r.received.map((x) => x.eventId)).toEqual([1, 1, 1, 2, 3]);
        expect(r.received.every((x) => x.signatureOk)).toBe(true);
        expect(r.received.map((x) => x.headerId)).toEqual([
            '1',
            '1',
            '1',
            '2',
            '3'
        ]);
        expect(r.received[4]).toMatchObject({ email: 'a@x.org' });
        expect(r.received[4].removedAt).not.toBeNull();
        await until(
            async () => (await notifyStatus(ledger))[0]?.deliveredUpTo === 3
        );
        expect(await notifyStatus(ledger)).toEqual([
            { url: r.url, deliveredUpTo: 3, pending: 0, lastError: null }
        ]);
        const audit = (await ledger.auditForObject('notify')).map((a) => {
            const detail = JSON.parse(a.detail ?? '{}') as {
                eventId?: number;
                status?: number;
            };
            return {
                action: a.action,
                id: detail.eventId ?? null,
                status: detail.status ?? null
            };
        });
        expect(audit).toEqual([
            { action: 'notify_failed', id: 1, status: 500 },
            { action: 'notify_failed', id: 1, status: 500 },
            { action: 'notify_delivered', id: 1, status: 200 },
            { action: 'notify_delivered', id: 2, status: 200 },
            { action: 'notify_delivered', id: 3, status: 200 }
        ]);
        await ledger.close();
    });

    it('sends events written while it runs (other processes too)', async () => {
        const ledger = await Ledger.open(ledgerPath);
        const r = await receiver();
        receivers.push(r);
        await start(ledger, [r.url]);
        const other = await Ledger.open(ledgerPath);
        await unsubscribe(other, 'late@x.org');
        await other.close();
        await until(() => r.received.length === 1);
        expect(r.received[0]).toMatchObject({
            eventId: 1,
            email: 'late@x.org'
        });
        await ledger.close();
    });

    it('shows the last error and pending count while a URL fails, without blocking another URL', async () => {
        const ledger = await Ledger.open(ledgerPath);
        const down = await receiver(() => 503);
        const up = await receiver();
        receivers.push(down, up);
        await start(ledger, [down.url, up.url]);
        await unsubscribe(ledger, 'a@x.org');
        await unsubscribe(ledger, 'b@x.org');
        // Received is not yet confirmed: the cursor is written after the answer.
        await until(
            async () =>
                up.received.length === 2 &&
                down.received.length >= 3 &&
                (await notifyStatus(ledger)).some(
                    (s) => s.url === up.url && s.deliveredUpTo === 2
                )
        );
        const byUrl = Object.fromEntries(
            (await notifyStatus(ledger)).map((s) => [s.url, s])
        );
        expect(byUrl[up.url]).toMatchObject({
            deliveredUpTo: 2,
            pending: 0,
            lastError: null
        });
        // The failing URL: nothing confirmed, both events pending, its last error.
        expect(byUrl[down.url]).toMatchObject({ deliveredUpTo: 0, pending: 2 });
        expect(byUrl[down.url].lastError).toMatchObject({
            eventId: 1,
            status: 503
        });
        expect(down.received.every((x) => x.eventId === 1)).toBe(true);
        await ledger.close();
    });

    it('a restart resumes from the cursor: nothing lost, nothing confirmed sent twice', async () => {
        let ledger = await Ledger.open(ledgerPath);
        // Event 3's first answer is lost (500), then the process stops.
        const r = await receiver((_n, body) =>
            body.eventId === 3 ? 500 : 200
        );
        receivers.push(r);
        const loop = await start(ledger, [r.url]);
        for (let i = 0; i < 4; i++) await unsubscribe(ledger, `p${i}@x.org`);
        // Event 3 refused, and that recorded (the error is written after the answer).
        await until(
            async () =>
                r.received.some((x) => x.eventId === 3) &&
                (await notifyStatus(ledger))[0]?.lastError?.eventId === 3
        );
        await loop.close();
        await ledger.close();
        const status0 = await (async () => {
            const l = await Ledger.open(ledgerPath);
            const s = await notifyStatus(l);
            await l.close();
            return s;
        })();
        expect(status0[0]).toMatchObject({ deliveredUpTo: 2, pending: 2 });
        expect(status0[0].lastError).toMatchObject({ eventId: 3, status: 500 });

        r.answer = () => 200;
        ledger = await Ledger.open(ledgerPath);
        await unsubscribe(ledger, 'after@x.org');
        await start(ledger, [r.url]);
        await until(() => r.received.some((x) => x.eventId === 5));
        const delivered = r.received.map((x) => x.eventId);
        // 1 and 2 once; 3 again after the restart; then 4 and 5, in order.
        expect(delivered.filter((id) => id <= 2)).toEqual([1, 2]);
        expect(delivered.slice(delivered.lastIndexOf(3))).toEqual([3, 4, 5]);
        await until(
            async () => (await notifyStatus(ledger))[0]?.deliveredUpTo === 5
        );
        await ledger.close();
    });
});
