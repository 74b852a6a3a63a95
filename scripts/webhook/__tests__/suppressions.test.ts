/**
 * GET /suppressions (R15) against an in-memory ledger: the secret, paging with the
 * cursor, a resubscribe as a second item with removedAt, and 400s for bad input.
 */
import { Ledger } from '../../ledger/ledger';
import { encodeCursor } from '../../ledger/feed';
import { startWebhookServer, type WebhookServer } from '../server';

const SECRET = 'test-secret-0123456789abcdef';
const LIST = 'a6b5da1054';

let ledger: Ledger;
let server: WebhookServer;

beforeEach(async () => {
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    ledger = await Ledger.open(':memory:');
    await ledger.upsertAudience({ id: LIST, name: 'Monthly newsletter' });
    server = await startWebhookServer({ ledger, secret: SECRET, port: 0 });
});

afterEach(async () => {
    await server.close();
    await ledger.close();
});

interface Page {
    items: Record<string, unknown>[];
    next: string;
}

async function get(
    query: string,
    headers: Record<string, string> = { authorization: `Bearer ${SECRET}` }
): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.url}/suppressions${query}`, { headers });
    return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown>
    };
}

async function unsubscribe(email: string, audienceId?: string): Promise<void> {
    await ledger.recordUnsubscribe({
        email,
        scope: audienceId ? 'audience' : 'all',
        audienceId: audienceId ?? null,
        source: 'webhook',
        reason: 'spam',
        collectedAt: '2025-03-01T12:00:00.000Z'
    });
}

describe('GET /suppressions', () => {
    it('needs the secret of /unsubscribes', async () => {
        await unsubscribe('a@x.org');
        expect((await get('', {})).status).toBe(401);
        expect(
            (await get('', { authorization: 'Bearer wrong-secret-0123456789' }))
                .status
        ).toBe(401);
        const ok = await get(`?secret=${SECRET}`, {});
        expect(ok.status).toBe(200);
        expect((ok.body as unknown as Page).items).toHaveLength(1);
    });

    it('returns the items oldest first with the envelope, and a resubscribe as a second item', async () => {
        await unsubscribe('A@x.org');
        await unsubscribe('b@x.org', LIST);
        await ledger.resubscribe({
            email: 'a@x.org',
            reason: 'by mistake',
            at: '2025-03-02T08:00:00.000Z'
        });
        const { status, body } = await get('');
        expect(status).toBe(200);
        expect(body).toEqual({
            items: [
                {
                    email: 'A@x.org',
                    scope: 'all',
                    audienceId: null,
                    source: 'webhook',
                    reason: 'spam',
                    collectedAt: '2025-03-01T12:00:00.000Z',
                    removedAt: null
                },
                {
                    email: 'b@x.org',
                    scope: 'audience',
                    audienceId: LIST,
                    source: 'webhook',
                    reason: 'spam',
                    collectedAt: '2025-03-01T12:00:00.000Z',
                    removedAt: null
                },
                {
                    email: 'A@x.org',
                    scope: 'all',
                    audienceId: null,
                    source: 'webhook',
                    reason: 'spam',
                    collectedAt: '2025-03-01T12:00:00.000Z',
                    removedAt: '2025-03-02T08:00:00.000Z'
                }
            ],
            next: encodeCursor(3)
        });
    });

    it('pages with since and limit without skipping or repeating', async () => {
        for (let i = 0; i < 12; i++) await unsubscribe(`p${i}@x.org`);
        const seen: unknown[] = [];
        let since = '';
        let emptyNext: string | undefined;
        for (let n = 0; n < 10; n++) {
            const { status, body } = await get(
                `?limit=5${since ? `&since=${encodeURIComponent(since)}` : ''}`
            );
            expect(status).toBe(200);
            const page = body as unknown as Page;
            if (page.items.length === 0) {
                emptyNext = page.next;
                break;
            }
            expect(page.items.length).toBeLessThanOrEqual(5);
            seen.push(...page.items.map((i) => i.email));
            since = page.next;
        }
        // An empty page keeps the cursor where it was.
        expect(emptyNext).toBe(since);
        expect(seen).toEqual(
            Array.from({ length: 12 }, (_, i) => `p${i}@x.org`)
        );
    });

    it('answers 400 with a clear message for a bad cursor or limit', async () => {
        await unsubscribe('a@x.org');
        const cases: [string, string, RegExp][] = [
            ['?since=garbage', 'BAD_CURSOR', /not a feed cursor/],
            [`?since=${encodeCursor(99)}`, 'BAD_CURSOR', /another ledger/],
            ['?limit=0', 'BAD_LIMIT', /1 to 5000/],
            ['?limit=5001', 'BAD_LIMIT', /1 to 5000/],
            ['?limit=abc', 'BAD_LIMIT', /1 to 5000/]
        ];
        for (const [query, code, message] of cases) {
            const { status, body } = await get(query);
            expect([query, status, body.code]).toEqual([query, 400, code]);
            expect(body.message).toMatch(message);
        }
    });

    it('refuses other methods', async () => {
        const res = await fetch(`${server.url}/suppressions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${SECRET}` }
        });
        expect(res.status).toBe(405);
    });
});
