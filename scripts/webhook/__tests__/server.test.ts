/**
 * The webhook's HTTP contract against an in-memory ledger (no org): the secret, every
 * kind of malformed request (4xx, a clear message, nothing stored), Mailchimp's GET
 * validation and events, the JSON endpoint, limits, binding, logs and the health check.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Ledger } from '../../ledger/ledger';
import { startWebhookServer, type WebhookServer } from '../server';
import { parseRate } from '../limits';
import { itSqlite } from '../../ledger/__tests__/sqlite-only';

const SECRET = 'test-secret-0123456789abcdef';
const LIST = 'a6b5da1054';

let ledger: Ledger;
let server: WebhookServer;
let queued: number[];
let logs: string[];
let clock: number;

async function start(
    options: Partial<Parameters<typeof startWebhookServer>[0]> = {}
): Promise<void> {
    server = await startWebhookServer({
        ledger,
        secret: SECRET,
        port: 0,
        onUnsubscribes: (ids) => {
            queued.push(...ids);
        },
        log: (level, message) => logs.push(`${level} ${message}`),
        clock: () => clock,
        ...options
    });
}

beforeEach(async () => {
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    ledger = await Ledger.open(':memory:');
    await ledger.upsertAudience({ id: LIST, name: 'Monthly newsletter' });
    queued = [];
    logs = [];
    clock = 0;
    await start();
});

afterEach(async () => {
    await server.close();
    await ledger.close();
});

interface Reply {
    status: number;
    body: Record<string, unknown>;
    headers: Headers;
}

async function call(
    path: string,
    init: RequestInit & { form?: Record<string, string>; json?: unknown } = {}
): Promise<Reply> {
    const { form, json, ...rest } = init;
    const headers = new Headers(rest.headers);
    let body = rest.body;
    if (form) {
        headers.set('content-type', 'application/x-www-form-urlencoded');
        body = new URLSearchParams(form).toString();
    } else if (json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(json);
    }
    const res = await fetch(`${server.url}${path}`, {
        method: form || json !== undefined ? 'POST' : 'GET',
        ...rest,
        headers,
        body
    });
    const text = await res.text();
    return {
        status: res.status,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        headers: res.headers
    };
}

const withSecret = `/mailchimp?secret=${SECRET}`;
const bearer = { authorization: `Bearer ${SECRET}` };

function mailchimp(
    type: string,
    data: Record<string, string>,
    firedAt = '2024-05-01 13:45:07'
): Record<string, string> {
    const form: Record<string, string> = { type, fired_at: firedAt };
    for (const [k, v] of Object.entries(data)) form[`data[${k}]`] = v;
    return form;
}

/** What the ledger holds: nothing changes on a refused request. */
async function snapshot(): Promise<Record<string, number>> {
    const { persons, audiences, memberships, unsubscribes, audit } =
        await ledger.rowCounts();
    return { persons, audiences, memberships, unsubscribes, audit };
}

describe('the secret', () => {
    const unsub = mailchimp('unsubscribe', {
        email: 'ana@example.com',
        list_id: LIST
    });

    it('refuses a request without it (401) and stores nothing', async () => {
        const before = await snapshot();
        const r = await call('/mailchimp', { form: unsub });
        expect(r.status).toBe(401);
        expect(r.body).toMatchObject({ status: 'error', code: 'UNAUTHORIZED' });
        expect(String(r.body.message)).toMatch(/missing/);
        expect(r.headers.get('www-authenticate')).toMatch(/Bearer/);
        expect(await snapshot()).toEqual(before);
        expect(queued).toEqual([]);
    });

    it.each([
        ['query', '/mailchimp?secret=wrong-secret-0123456789', {}],
        ['bearer', '/mailchimp', { authorization: 'Bearer nope' }],
        ['header', '/mailchimp', { 'x-optout-secret': `${SECRET}x` }]
    ])(
        'refuses a wrong one in the %s (401) and stores nothing',
        async (_where, path, headers) => {
            const before = await snapshot();
            const r = await call(path, { form: unsub, headers });
            expect(r.status).toBe(401);
            expect(r.body.message).toBe('The secret is wrong.');
            expect(await snapshot()).toEqual(before);
        }
    );

    it.each([
        ['query', withSecret, {}],
        ['bearer', '/mailchimp', bearer],
        ['header', '/mailchimp', { 'x-optout-secret': SECRET }]
    ])('accepts the right one in the %s', async (_where, path, headers) => {
        const r = await call(path, { form: unsub, headers });
        expect(r.status).toBe(200);
        expect(r.body.outcome).toBe('recorded');
    });

    it('never appears in logs or answers', async () => {
        await call(withSecret, { form: unsub });
        await call(`/mailchimp?secret=${SECRET}`);
        await call('/unsubscribes', { json: { email: 'x' }, headers: bearer });
        await call('/mailchimp?secret=wrong-secret-0123456789');
        expect(logs.length).toBeGreaterThanOrEqual(4);
        expect(logs.join('\n')).not.toContain(SECRET);
        expect(logs.join('\n')).not.toContain('secret=');
        expect(logs[0]).toMatch(/^info POST \/mailchimp 200 \d+ ms$/);
    });
});

describe('Mailchimp', () => {
    it('answers its GET validation request with 200 (the URL carries the secret)', async () => {
        const r = await call(withSecret, {
            headers: { 'user-agent': 'MailChimp.com WebHook Validator' }
        });
        expect(r.status).toBe(200);
        expect(r.body.ok).toBe(true);
        expect((await call('/mailchimp')).status).toBe(401);
    });

    it('records an unsubscribe event as an audience unsubscribe (R5), not a global one', async () => {
        const r = await call(withSecret, {
            form: mailchimp('unsubscribe', {
                action: 'unsub',
                reason: 'manual',
                id: '8a25ff1d98',
                email: 'Ana.Lopez@Example.com',
                list_id: LIST,
                campaign_id: 'cb398d21d2'
            })
        });
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({
            status: 'ok',
            type: 'unsubscribe',
            outcome: 'recorded',
            scope: 'audience',
            audienceId: LIST
        });
        const person = await ledger.findPerson('ana.lopez@example.com');
        const unsubs = await ledger.listUnsubscribes(person?.id as number);
        expect(unsubs).toEqual([
            expect.objectContaining({
                scope: 'audience',
                audienceId: LIST,
                source: 'webhook',
                reason: 'Unsubscribed in Mailchimp (campaign cb398d21d2)',
                deliveredAt: null
            })
        ]);
        expect(
            (await ledger.getMembership(person?.id as number, LIST))?.status
        ).toBe('Unsubscribed');
        expect(queued).toEqual([unsubs[0].id]);
        // The same event again (Mailchimp retries): nothing new.
        const again = await call(withSecret, {
            form: mailchimp('unsubscribe', {
                email: 'ana.lopez@example.com',
                list_id: LIST
            })
        });
        expect(again.body.outcome).toBe('already');
        expect(
            await ledger.listUnsubscribes(person?.id as number)
        ).toHaveLength(1);
    });

    it('maps cleaned to Cleaned, subscribe to Subscribed, delete to Archived', async () => {
        const status = async (email: string): Promise<string | undefined> => {
            const p = await ledger.findPerson(email);
            return p && (await ledger.getMembership(p.id, LIST))?.status;
        };
        await call(withSecret, {
            form: mailchimp('cleaned', {
                email: 'bounce@example.com',
                list_id: LIST,
                reason: 'hard'
            })
        });
        await call(withSecret, {
            form: mailchimp('subscribe', {
                email: 'new@example.com',
                list_id: LIST
            })
        });
        await call(withSecret, {
            form: mailchimp('unsubscribe', {
                email: 'gone@example.com',
                list_id: LIST,
                action: 'delete'
            })
        });
        expect(await status('bounce@example.com')).toBe('Cleaned');
        expect(await status('new@example.com')).toBe('Subscribed');
        expect(await status('gone@example.com')).toBe('Archived');
        // None of them is an unsubscribe to push.
        expect(queued).toEqual([]);
        expect(await ledger.countUndelivered()).toBe(0);
    });

    it('never lifts an active unsubscribe (R4): subscribe answers 200, records nothing, says why', async () => {
        await call(withSecret, {
            form: mailchimp('unsubscribe', {
                email: 'ana@example.com',
                list_id: LIST
            })
        });
        const before = await snapshot();
        const r = await call(withSecret, {
            form: mailchimp(
                'subscribe',
                { email: 'ana@example.com', list_id: LIST },
                '2030-01-01 00:00:00'
            )
        });
        expect(r.status).toBe(200);
        expect(r.body.outcome).toBe('blocked');
        expect(String(r.body.message)).toMatch(/optout resubscribe/);
        expect(await snapshot()).toEqual(before);
    });

    it('keeps the status on a profile update of an existing membership', async () => {
        await call(withSecret, {
            form: mailchimp('cleaned', {
                email: 'p@example.com',
                list_id: LIST
            })
        });
        const before = await snapshot();
        const r = await call(withSecret, {
            form: mailchimp('profile', {
                email: 'p@example.com',
                list_id: LIST
            })
        });
        expect(r.body).toMatchObject({
            outcome: 'unchanged',
            status: 'Cleaned'
        });
        expect(await snapshot()).toEqual(before);
    });

    it('ignores an event older than the stored change (out-of-order retries)', async () => {
        await call(withSecret, {
            form: mailchimp(
                'cleaned',
                { email: 'o@example.com', list_id: LIST },
                '2024-05-02 00:00:00'
            )
        });
        const r = await call(withSecret, {
            form: mailchimp(
                'subscribe',
                { email: 'o@example.com', list_id: LIST },
                '2024-05-01 00:00:00'
            )
        });
        expect(r.body).toMatchObject({ outcome: 'stale', status: 'Cleaned' });
    });

    it.each(['upemail', 'campaign'])(
        'answers %s with 200 and stores nothing',
        async (type) => {
            const before = await snapshot();
            const r = await call(withSecret, {
                form: mailchimp(type, {
                    old_email: 'a@example.com',
                    new_email: 'b@example.com',
                    list_id: LIST
                })
            });
            expect(r.status).toBe(200);
            expect(r.body.outcome).toBe('ignored');
            expect(await snapshot()).toEqual(before);
        }
    );
});

describe('malformed requests: 4xx, a clear message, nothing stored', () => {
    const cases: [string, () => Promise<Reply>, number, string, RegExp][] = [
        [
            'wrong content type',
            () =>
                call(withSecret, {
                    method: 'POST',
                    body: '{"type":"unsubscribe"}',
                    headers: { 'content-type': 'application/json' }
                }),
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            /application\/x-www-form-urlencoded/
        ],
        [
            'form without a type',
            () => call(withSecret, { form: { 'data[email]': 'a@b.co' } }),
            400,
            'MISSING_FIELD',
            /type/
        ],
        [
            'unknown event type',
            () => call(withSecret, { form: { type: 'delete_everything' } }),
            400,
            'UNKNOWN_EVENT',
            /Unknown Mailchimp event type/
        ],
        [
            'invalid email',
            () =>
                call(withSecret, {
                    form: mailchimp('unsubscribe', {
                        email: 'ana@',
                        list_id: LIST
                    })
                }),
            400,
            'BAD_EMAIL',
            /data\[email\]/
        ],
        [
            'missing list id',
            () =>
                call(withSecret, {
                    form: mailchimp('unsubscribe', { email: 'a@example.com' })
                }),
            400,
            'MISSING_FIELD',
            /list_id/
        ],
        [
            'unknown audience',
            () =>
                call(withSecret, {
                    form: mailchimp('unsubscribe', {
                        email: 'a@example.com',
                        list_id: 'ffff000011'
                    })
                }),
            422,
            'UNKNOWN_AUDIENCE',
            /'ffff000011' is not in the ledger.*--audience/
        ],
        [
            'JSON endpoint, wrong content type',
            () =>
                call('/unsubscribes', {
                    method: 'POST',
                    body: 'email=a@example.com',
                    headers: {
                        ...bearer,
                        'content-type': 'application/x-www-form-urlencoded'
                    }
                }),
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            /application\/json/
        ],
        [
            'bad JSON',
            () =>
                call('/unsubscribes', {
                    method: 'POST',
                    body: '{"email": ',
                    headers: { ...bearer, 'content-type': 'application/json' }
                }),
            400,
            'BAD_JSON',
            /not valid JSON/
        ],
        [
            'missing email',
            () =>
                call('/unsubscribes', {
                    json: { reason: 'x' },
                    headers: bearer
                }),
            400,
            'INVALID_UNSUBSCRIBE',
            /email is required/
        ],
        [
            'one bad item in a batch',
            () =>
                call('/unsubscribes', {
                    json: [
                        { email: 'good@example.com' },
                        { email: 'bad@', salesforceId: '001000000000001' }
                    ],
                    headers: bearer
                }),
            400,
            'INVALID_UNSUBSCRIBE',
            /2 problems/
        ],
        [
            'unknown field',
            () =>
                call('/unsubscribes', {
                    json: { email: 'a@example.com', audience_id: LIST },
                    headers: bearer
                }),
            400,
            'INVALID_UNSUBSCRIBE',
            /unknown field 'audience_id'/
        ],
        [
            'unknown audience in JSON',
            () =>
                call('/unsubscribes', {
                    json: [
                        { email: 'a@example.com' },
                        { email: 'b@example.com', audienceId: 'nope123' }
                    ],
                    headers: bearer
                }),
            422,
            'UNKNOWN_AUDIENCE',
            /'nope123'/
        ],
        [
            'empty array',
            () => call('/unsubscribes', { json: [], headers: bearer }),
            400,
            'EMPTY_BATCH',
            /empty/
        ],
        [
            'unknown route',
            () => call('/admin', { headers: bearer }),
            404,
            'NOT_FOUND',
            /No route/
        ],
        [
            'wrong method',
            () => call('/unsubscribes', { headers: bearer }),
            405,
            'METHOD_NOT_ALLOWED',
            /use POST/
        ]
    ];

    it.each(cases)('%s', async (_name, send, status, code, message) => {
        const before = await snapshot();
        const r = await send();
        expect(r.status).toBe(status);
        expect(r.body).toMatchObject({ status: 'error', code });
        expect(String(r.body.message)).toMatch(message);
        expect(await snapshot()).toEqual(before);
        expect(queued).toEqual([]);
    });

    it('lists every problem of a batch with its index and field', async () => {
        const r = await call('/unsubscribes', {
            json: [
                { email: 'good@example.com' },
                { email: 'bad@', salesforceId: '001000000000001' }
            ],
            headers: bearer
        });
        expect(r.body.errors).toEqual([
            {
                index: 1,
                field: 'email',
                message: expect.stringMatching(/bad@/)
            },
            {
                index: 1,
                field: 'salesforceId',
                message: expect.stringMatching(/neither a Contact/)
            }
        ]);
    });
});

describe('POST /unsubscribes', () => {
    it('records a global unsubscribe (no audience, R2) and an audience one, with a 15-character id normalised', async () => {
        const r = await call('/unsubscribes', {
            json: [
                {
                    email: 'Kim@Example.com',
                    reason: 'Asked by phone',
                    salesforceId: '003000000000001'
                },
                { email: 'lee@example.com', audienceId: LIST },
                {
                    email: 'max@example.com',
                    audienceId: 'newlist01',
                    audienceName: 'Events'
                }
            ],
            headers: bearer
        });
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ status: 'ok', recorded: 3, already: 0 });
        const results = r.body.results as Record<string, unknown>[];
        expect(results.map((x) => [x.index, x.scope, x.audienceId])).toEqual([
            [0, 'all', null],
            [1, 'audience', LIST],
            [2, 'audience', 'newlist01']
        ]);
        const kim = await ledger.findPerson('kim@example.com');
        expect(kim?.salesforceId).toHaveLength(18);
        expect(
            (await ledger.listUnsubscribes(kim?.id as number))[0]
        ).toMatchObject({
            scope: 'all',
            source: 'webhook',
            reason: 'Asked by phone'
        });
        expect((await ledger.getAudience('newlist01'))?.name).toBe('Events');
        expect(queued).toHaveLength(3);
    });

    it('refuses more items than --max-items (413)', async () => {
        await server.close();
        await start({ maxItems: 2 });
        const r = await call('/unsubscribes', {
            json: [1, 2, 3].map((i) => ({ email: `p${i}@example.com` })),
            headers: bearer
        });
        expect(r.status).toBe(413);
        expect(r.body.code).toBe('BATCH_TOO_LARGE');
        expect((await snapshot()).unsubscribes).toBe(0);
    });
});

describe('limits and binding', () => {
    it('refuses a body over --max-body (413) and stores nothing', async () => {
        await server.close();
        await start({ maxBodyBytes: 1024 });
        const r = await call('/unsubscribes', {
            json: { email: 'a@example.com', reason: 'x'.repeat(2000) },
            headers: bearer
        });
        expect(r.status).toBe(413);
        expect(r.body.code).toBe('BODY_TOO_LARGE');
        expect((await snapshot()).unsubscribes).toBe(0);
    });

    it('rate-limits per client (429 with Retry-After), and recovers', async () => {
        await server.close();
        await start({ rate: parseRate('3/min') });
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++)
            statuses.push((await call('/healthz')).status);
        expect(statuses).toEqual([200, 200, 200, 429]);
        const r = await call('/healthz');
        expect(r.body.code).toBe('RATE_LIMITED');
        expect(Number(r.headers.get('retry-after'))).toBe(20);
        clock += 20_000;
        expect((await call('/healthz')).status).toBe(200);
    });

    it('binds to 127.0.0.1 unless told otherwise', () => {
        expect(server.host).toBe('127.0.0.1');
        expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    });
});

describe('GET /healthz', () => {
    it('needs no secret and says only ok and the pending count', async () => {
        await call('/unsubscribes', {
            json: [{ email: 'a@example.com' }, { email: 'b@example.com' }],
            headers: bearer
        });
        const r = await call('/healthz');
        expect(r.status).toBe(200);
        expect(r.body).toEqual({ ok: true, pending: 2 });
    });
});

describe('a busy ledger', () => {
    // SQLite only: another connection holds the file's write lock (the PostgreSQL busy case is LedgerBusy from lock_timeout, tested in ledger/).
    itSqlite(
        'answers 503 LEDGER_BUSY with Retry-After, and stores nothing',
        async () => {
            await server.close();
            await ledger.close();
            const dir = mkdtempSync(join(tmpdir(), 'webhook-busy-'));
            const path = join(dir, 'ledger.db');
            ledger = await Ledger.open(path, { busyTimeoutMs: 20 });
            await ledger.upsertAudience({
                id: LIST,
                name: 'Monthly newsletter'
            });
            await start();
            // Another process holds the write lock longer than the ledger waits.
            const other = new Database(path);
            other.exec('BEGIN IMMEDIATE');
            try {
                const r = await call(withSecret, {
                    form: mailchimp('unsubscribe', {
                        email: 'busy@example.com',
                        list_id: LIST,
                        reason: 'manual'
                    })
                });
                expect(r.status).toBe(503);
                expect(r.body.code).toBe('LEDGER_BUSY');
                expect(r.headers.get('retry-after')).toBe('2');
                other.exec('ROLLBACK');
                expect(
                    await ledger.findPerson('busy@example.com')
                ).toBeUndefined();
                expect(queued).toEqual([]);
            } finally {
                if (other.inTransaction) other.exec('ROLLBACK');
                other.close();
                rmSync(dir, { recursive: true, force: true });
            }
        }
    );
});
