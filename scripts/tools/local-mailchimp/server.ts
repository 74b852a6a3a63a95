/**
 * The local Mailchimp: an HTTP server that speaks the Mailchimp Marketing API 3.0 wire
 * format for the resources the connector uses (lists, members, webhooks, batches, ping),
 * on SQLite, so the official client (@mailchimp/mailchimp_marketing) and plain fetch run
 * against it unchanged. A development and test tool, like scripts/tools/local-org/.
 *
 *   const mc = await startLocalMailchimp({ port: 0, dbPath: ':memory:' });
 *   // mc.apiUrl = http://127.0.0.1:PORT/3.0, mc.apiKey = '…-us1'
 *
 * Routes: /3.0/… (the API: auth, 10-connection limit, faults, latency), the batch
 * results under /batch-results/, and the admin routes under /local/ (no auth).
 */
import {
    createServer,
    type IncomingMessage,
    type Server,
    type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
    type ApiContext,
    applyStatus,
    dispatch,
    shape,
    type StatusChange
} from './api';
import {
    type FaultSpec,
    FaultInjector,
    FaultSpecError,
    parseFaultSpec
} from './faults';
import {
    type DeliveryRow,
    MailchimpStore,
    type MemberStatus,
    MEMBER_STATUSES,
    subscriberHash
} from './store';
import {
    firedAt,
    JSON_TYPE,
    listJson,
    memberJson,
    newInstance,
    Problem,
    PROBLEM_TYPE,
    tarGz
} from './wire';

export const DEFAULT_API_KEY = '0123456789abcdef0123456789abcdef-us1';
/**
 * Up to 10 simultaneous connections per user; more get 429 (Mailchimp limits by
 * concurrency, not by a request quota): https://mailchimp.com/developer/marketing/docs/fundamentals/
 * as summarised in https://raw.githubusercontent.com/api-evangelist/mailchimp/refs/heads/main/rate-limits/mailchimp-rate-limits.yml
 */
export const MAX_CONNECTIONS = 10;

export interface LocalMailchimpOptions {
    /** TCP port; 0 (default) picks a free one. */
    port?: number;
    host?: string;
    /** SQLite file, or ':memory:' (default). */
    dbPath?: string;
    /** The one valid API key; its `-usN` suffix names the data centre. */
    apiKey?: string;
    /** Fault SPEC (faults.ts) or a parsed spec. */
    faults?: string | FaultSpec;
    /** Fixed latency in ms per /3.0 request. */
    latencyMs?: number;
    seed?: number;
    /** Delay before a batch starts, and between its operations (ms; default 20). */
    batchStepMs?: number;
    /** The clock, in ms (default Date.now); tests move it to control last_changed. */
    clock?: () => number;
    log?: (line: string) => void;
}

export interface LocalMailchimpStats {
    /** Requests per kind (`listMembers`, `updateMember`, …; `unauthorized`, `tooMany`, `fault`). */
    requests: Record<string, number>;
    /** Most /3.0 requests in flight at once, for the key. */
    maxInFlight: number;
}

export interface AdminHandle {
    createList(name: string, id?: string): { id: string; name: string };
    /** The id of the first audience with this name, if any. */
    listsByName(name: string): string | undefined;
    /** Seeds a member (no webhook fires): Mailchimp's own import. */
    addMember(
        listId: string,
        email: string,
        status?: MemberStatus,
        mergeFields?: Record<string, unknown>
    ): Record<string, unknown>;
    /**
     * A change made in Mailchimp itself: the contact (`user`, e.g. the unsubscribe link)
     * or an admin in the web app (`admin`). Fires the list's webhooks that listen to it.
     */
    setStatus(
        listId: string,
        email: string,
        status: MemberStatus,
        opts?: { reason?: string; source?: 'user' | 'admin' }
    ): Record<string, unknown>;
    member(listId: string, email: string): Record<string, unknown> | undefined;
    /** Every member status change, in order, with who made it. */
    statusChanges(): StatusChange[];
    webhookDeliveries(): DeliveryRow[];
    setFaults(spec: string | FaultSpec): void;
    setLatency(ms: number | { min: number; max: number } | null): void;
    stats(): LocalMailchimpStats;
    /** Waits until queued webhook calls and running batches are done. */
    settle(): Promise<void>;
}

export interface LocalMailchimp {
    /** http://host:port/3.0 (MAILCHIMP_API_URL). */
    apiUrl: string;
    baseUrl: string;
    apiKey: string;
    /** The data centre, from the key's suffix (`us1`). */
    dc: string;
    port: number;
    dbPath: string;
    admin: AdminHandle;
    close(): Promise<void>;
}

/** `…-us6` → `us6`; a key without the suffix is refused (Mailchimp cannot route it). */
export function dataCenterOf(apiKey: string): string {
    const m = /-([a-z]+\d+)$/.exec(apiKey);
    if (!m)
        throw new Error(`API key '${apiKey}' has no -usN data-centre suffix`);
    return m[1];
}

/** The key from `Authorization: Basic base64(any:KEY)` or `Authorization: apikey KEY`. */
export function keyFromAuthorization(
    header: string | undefined
): string | null {
    if (!header) return null;
    const [scheme, ...rest] = header.trim().split(/\s+/);
    const value = rest.join(' ');
    if (/^basic$/i.test(scheme)) {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        return i < 0 ? null : decoded.slice(i + 1);
    }
    if (/^apikey$/i.test(scheme)) return value;
    return null;
}

async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
}

function parseJsonBody(text: string): unknown {
    if (text.trim() === '') return undefined;
    try {
        return JSON.parse(text) as unknown;
    } catch {
        throw new Problem(
            400,
            'JSON Parse Error',
            'We encountered an unspecified JSON parsing error.'
        );
    }
}

const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => setTimeout(resolve, ms));

export async function startLocalMailchimp(
    options: LocalMailchimpOptions = {}
): Promise<LocalMailchimp> {
    const apiKey = options.apiKey ?? DEFAULT_API_KEY;
    const dc = dataCenterOf(apiKey);
    const dbPath = options.dbPath ?? ':memory:';
    const store = new MailchimpStore(dbPath);
    const clock = options.clock ?? Date.now;
    const nowSec = (): number => Math.floor(clock() / 1000);
    const log = options.log ?? ((): void => undefined);
    const batchStepMs = options.batchStepMs ?? 20;
    const faults = new FaultInjector(options.seed ?? 1);
    if (options.faults) {
        faults.set(
            typeof options.faults === 'string'
                ? parseFaultSpec(options.faults)
                : options.faults
        );
    }
    let fixedLatency = options.latencyMs ?? 0;
    const requests: Record<string, number> = {};
    const count = (kind: string): void => {
        requests[kind] = (requests[kind] ?? 0) + 1;
    };
    let inFlight = 0;
    let maxInFlight = 0;
    const changes: StatusChange[] = [];
    const pending = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>): void => {
        pending.add(p);
        void p.finally(() => pending.delete(p));
    };
    let closed = false;

    // ---- webhooks: Mailchimp POSTs form-urlencoded `type`, `fired_at`, `data[…]`
    // (https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/),
    // to each list webhook whose `events` has the type and whose `sources` has the source.
    function eventFor(
        change: StatusChange
    ): { type: string; data: Record<string, string> } | null {
        const base = { email: change.email, list_id: change.listId };
        switch (change.to) {
            case 'unsubscribed':
                return {
                    type: 'unsubscribe',
                    data: {
                        action: 'unsub',
                        reason: change.reason ?? 'manual',
                        id: change.hash,
                        email_type: 'html',
                        ...base,
                        'merges][EMAIL': change.email
                    }
                };
            case 'archived':
                return {
                    type: 'unsubscribe',
                    data: {
                        action: 'archive',
                        reason: 'manual',
                        id: change.hash,
                        ...base
                    }
                };
            case 'cleaned':
                return {
                    type: 'cleaned',
                    data: { reason: change.reason ?? 'hard', ...base }
                };
            case 'subscribed':
                return {
                    type: 'subscribe',
                    data: {
                        id: change.hash,
                        email_type: 'html',
                        ...base,
                        'merges][EMAIL': change.email
                    }
                };
            default:
                return null;
        }
    }

    function fireWebhooks(change: StatusChange): void {
        const ev = eventFor(change);
        if (!ev) return;
        for (const w of store.webhooks(change.listId)) {
            const events = JSON.parse(w.events) as Record<string, boolean>;
            const sources = JSON.parse(w.sources) as Record<string, boolean>;
            if (!events[ev.type] || !sources[change.source]) continue;
            const form = new URLSearchParams();
            form.set('type', ev.type);
            form.set('fired_at', firedAt(change.at));
            for (const [k, v] of Object.entries(ev.data))
                form.set(`data[${k}]`, v);
            const body = form.toString();
            track(
                (async (): Promise<void> => {
                    let status: number | null = null;
                    let error: string | null = null;
                    try {
                        const res = await fetch(w.url, {
                            method: 'POST',
                            headers: {
                                'content-type':
                                    'application/x-www-form-urlencoded',
                                'user-agent': 'MailChimp'
                            },
                            body,
                            signal: AbortSignal.timeout(10_000)
                        });
                        status = res.status;
                        await res.arrayBuffer();
                    } catch (err) {
                        error =
                            err instanceof Error ? err.message : String(err);
                    }
                    if (closed) return;
                    store.recordDelivery({
                        webhook_id: w.id,
                        list_id: w.list_id,
                        url: w.url,
                        type: ev.type,
                        body,
                        status,
                        error,
                        at: nowSec()
                    });
                })()
            );
        }
    }

    async function validateWebhookUrl(url: string): Promise<string | null> {
        try {
            const res = await fetch(url, {
                method: 'GET',
                headers: { 'user-agent': 'MailChimp.com WebHook Validator' },
                signal: AbortSignal.timeout(10_000)
            });
            await res.arrayBuffer();
            return res.status === 200
                ? null
                : `The URL answered the validation GET with ${res.status}, not 200.`;
        } catch (err) {
            return `The URL could not be reached: ${err instanceof Error ? err.message : String(err)}`;
        }
    }

    let baseUrl = '';
    const ctx: ApiContext = {
        store,
        now: nowSec,
        get base() {
            return `${baseUrl}/3.0`;
        },
        get resultsBase() {
            return `${baseUrl}/batch-results`;
        },
        dc,
        onStatusChange(change) {
            changes.push(change);
            fireWebhooks(change);
        },
        validateWebhookUrl,
        startBatch(id) {
            track(runBatch(id));
        }
    };

    // ---- batches run in the background, one operation at a time, like Mailchimp's queue.
    async function runBatch(id: string): Promise<void> {
        await sleep(batchStepMs);
        const row = store.getBatch(id);
        if (!row || closed) return;
        store.updateBatch(id, { status: 'started' });
        const ops = JSON.parse(row.operations) as {
            method: string;
            path: string;
            params?: Record<string, string>;
            body?: string;
            operation_id?: string;
        }[];
        const results: {
            status_code: number;
            operation_id: string | null;
            response: string;
        }[] = [];
        let errored = 0;
        for (const op of ops) {
            if (closed) return;
            const url = new URL(`http://local/${op.path.replace(/^\/+/, '')}`);
            for (const [k, v] of Object.entries(op.params ?? {}))
                url.searchParams.set(k, String(v));
            const req = {
                method: op.method.toUpperCase(),
                segments: url.pathname
                    .split('/')
                    .filter(Boolean)
                    .map(decodeURIComponent),
                query: url.searchParams,
                body: undefined as unknown
            };
            let status: number;
            let response: unknown;
            try {
                req.body =
                    op.body === undefined ? undefined : parseJsonBody(op.body);
                const reply = await dispatch(ctx, req);
                status = reply.status;
                response = shape(req, reply) ?? {};
            } catch (err) {
                const p =
                    err instanceof Problem
                        ? err
                        : new Problem(
                              500,
                              'Internal Server Error',
                              String(err)
                          );
                status = p.status;
                response = p.body(newInstance());
            }
            if (status >= 400) errored += 1;
            results.push({
                status_code: status,
                operation_id: op.operation_id ?? null,
                response: JSON.stringify(response)
            });
            store.updateBatch(id, {
                finished_operations: results.length,
                errored_operations: errored
            });
            await sleep(batchStepMs);
        }
        if (closed) return;
        store.updateBatch(id, {
            status: 'finished',
            completed_at: nowSec(),
            results: tarGz([
                {
                    name: `${id}/${id}.json`,
                    content: Buffer.from(JSON.stringify(results))
                }
            ])
        });
    }

    // ---- HTTP
    function send(
        res: ServerResponse,
        status: number,
        body: unknown,
        headers: Record<string, string> = {}
    ): void {
        if (res.headersSent || res.destroyed) return;
        if (body === undefined || status === 204) {
            res.writeHead(status, headers);
            res.end();
            return;
        }
        const text = JSON.stringify(body);
        res.writeHead(status, {
            'content-type': JSON_TYPE,
            'content-length': String(Buffer.byteLength(text)),
            ...headers
        });
        res.end(text);
    }

    function sendProblem(res: ServerResponse, p: Problem): void {
        const instance = newInstance();
        const text = JSON.stringify(p.body(instance));
        if (res.headersSent || res.destroyed) return;
        res.writeHead(p.status, {
            'content-type': PROBLEM_TYPE,
            'content-length': String(Buffer.byteLength(text)),
            'x-request-id': instance,
            link: `<https://${dc}.api.mailchimp.com/schema/3.0/Definitions/ProblemDetailDocument.json>; rel="describedBy"`,
            ...(p.headers ?? {})
        });
        res.end(text);
    }

    function faultProblem(status: number): Problem {
        switch (status) {
            case 429:
                return new Problem(
                    429,
                    'Too Many Requests',
                    `You have exceeded the limit of ${MAX_CONNECTIONS} simultaneous connections.`,
                    undefined,
                    { 'retry-after': '1' }
                );
            case 500:
                return new Problem(
                    500,
                    'Internal Server Error',
                    'An unexpected internal error has occurred. Please contact Support for more information.'
                );
            default:
                return new Problem(
                    status,
                    'Service Unavailable',
                    'The service is temporarily unavailable. Please try again later.'
                );
        }
    }

    /** The kind of a request before it runs, for fault scopes. */
    function kindOf(method: string, s: string[]): string {
        if (s[0] === 'lists' && s[2] === 'members')
            return s.length === 3
                ? method === 'GET'
                    ? 'listMembers'
                    : 'addMember'
                : ((
                      {
                          GET: 'getMember',
                          PATCH: 'updateMember',
                          PUT: 'setMember',
                          DELETE: 'archiveMember'
                      } as Record<string, string>
                  )[method] ?? 'member');
        if (s[0] === 'lists' && s[2] === 'webhooks') return 'webhooks';
        if (s[0] === 'lists') return s.length === 1 ? 'lists' : 'getList';
        if (s[0] === 'batches')
            return method === 'POST' ? 'startBatch' : 'getBatch';
        return s[0] ?? 'root';
    }

    async function api(
        req: IncomingMessage,
        res: ServerResponse,
        url: URL
    ): Promise<void> {
        const method = req.method ?? 'GET';
        const key = keyFromAuthorization(req.headers.authorization);
        if (key === null) {
            count('unauthorized');
            throw new Problem(
                401,
                'API Key Missing',
                'Your request did not include an API key.'
            );
        }
        if (key !== apiKey) {
            count('unauthorized');
            throw new Problem(
                401,
                'API Key Invalid',
                "Your API key may be invalid, or you've attempted to access the wrong datacenter."
            );
        }
        if (inFlight >= MAX_CONNECTIONS) {
            count('tooMany');
            // Mailchimp's own 429 carries no Retry-After (nor any rate-limit header):
            // https://raw.githubusercontent.com/api-evangelist/mailchimp/refs/heads/main/rate-limits/mailchimp-rate-limits.yml
            throw new Problem(
                429,
                'Too Many Requests',
                `You have exceeded the limit of ${MAX_CONNECTIONS} simultaneous connections.`
            );
        }
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
            const segments = url.pathname
                .split('/')
                .filter(Boolean)
                .slice(1)
                .map(decodeURIComponent);
            const kind = kindOf(method, segments);
            const wait = fixedLatency + faults.latencyMs();
            if (wait > 0) await sleep(wait);
            const f = faults.forRequest(kind, method);
            if (f.drop) {
                count('fault');
                res.destroy();
                return;
            }
            if (f.status === 502 || f.status === 504) {
                // Gateway errors come from the edge, as HTML, not as problem documents.
                count('fault');
                const html = `<html><body><h1>${f.status} ${f.status === 502 ? 'Bad Gateway' : 'Gateway Time-out'}</h1></body></html>`;
                res.writeHead(f.status, { 'content-type': 'text/html' });
                res.end(html);
                return;
            }
            if (f.status) {
                count('fault');
                throw faultProblem(f.status);
            }
            const body = parseJsonBody(await readBody(req));
            const apiReq = { method, segments, query: url.searchParams, body };
            const reply = await dispatch(ctx, apiReq);
            count(reply.kind);
            if (f.dropAfter) {
                res.destroy();
                return;
            }
            send(res, reply.status, shape(apiReq, reply));
        } finally {
            inFlight -= 1;
        }
    }

    function memberByEmail(
        listId: string,
        email: string
    ): Record<string, unknown> | undefined {
        const m = store.getMember(listId, subscriberHash(email));
        return m ? memberJson(m, { base: ctx.base }) : undefined;
    }

    const admin: AdminHandle = {
        createList(name, id) {
            const l = store.createList(name, nowSec(), id);
            return { id: l.id, name: l.name };
        },
        listsByName(name) {
            return store.listIdByName(name);
        },
        addMember(listId, email, status = 'subscribed', mergeFields = {}) {
            if (!store.getList(listId)) throw new Error(`no list ${listId}`);
            const m = store.insertMember(
                listId,
                email,
                status,
                mergeFields,
                nowSec(),
                'Import'
            );
            return memberJson(m, { base: ctx.base });
        },
        setStatus(listId, email, status, opts = {}) {
            const m = store.getMember(listId, subscriberHash(email));
            if (!m) throw new Error(`no member ${email} in list ${listId}`);
            const row = applyStatus(
                ctx,
                m,
                status,
                opts.reason ?? null,
                opts.source ?? 'user'
            );
            return memberJson(row, { base: ctx.base });
        },
        member: memberByEmail,
        statusChanges: () => changes.slice(),
        webhookDeliveries: () => store.deliveries(),
        setFaults(spec) {
            faults.set(typeof spec === 'string' ? parseFaultSpec(spec) : spec);
        },
        setLatency(ms) {
            if (ms === null) {
                fixedLatency = 0;
                faults.set({ ...faults.get(), latency: undefined });
            } else if (typeof ms === 'number') fixedLatency = ms;
            else faults.set({ ...faults.get(), latency: ms });
        },
        stats: () => ({ requests: { ...requests }, maxInFlight }),
        async settle() {
            while (pending.size > 0) await Promise.allSettled([...pending]);
        }
    };

    /** Admin routes under /local/ (JSON in and out; no auth: a localhost dev tool). */
    async function adminRoute(
        req: IncomingMessage,
        res: ServerResponse,
        url: URL
    ): Promise<void> {
        const s = url.pathname.split('/').filter(Boolean).slice(1);
        const m = req.method ?? 'GET';
        const body = (parseJsonBody(await readBody(req)) ?? {}) as Record<
            string,
            unknown
        >;
        const str = (v: unknown, name: string): string => {
            if (typeof v !== 'string' || v === '')
                throw new Problem(
                    400,
                    'Invalid Resource',
                    `${name} is required`
                );
            return v;
        };
        try {
            if (m === 'GET' && s[0] === 'stats')
                return send(res, 200, admin.stats());
            if (m === 'GET' && s[0] === 'webhook-deliveries')
                return send(res, 200, {
                    deliveries: admin.webhookDeliveries()
                });
            if (m === 'GET' && s[0] === 'status-changes')
                return send(res, 200, { changes: admin.statusChanges() });
            if (m === 'PUT' && s[0] === 'faults') {
                admin.setFaults(typeof body.spec === 'string' ? body.spec : '');
                return send(res, 200, { ok: true });
            }
            if (m === 'PUT' && s[0] === 'latency') {
                admin.setLatency(typeof body.ms === 'number' ? body.ms : null);
                return send(res, 200, { ok: true });
            }
            if (s[0] === 'lists' && s.length === 1 && m === 'POST') {
                const l = admin.createList(
                    str(body.name, 'name'),
                    typeof body.id === 'string' ? body.id : undefined
                );
                const row = store.getList(l.id);
                return send(
                    res,
                    200,
                    row ? listJson(row, {}, { base: ctx.base }) : l
                );
            }
            if (
                s[0] === 'lists' &&
                s[2] === 'members' &&
                s.length === 3 &&
                m === 'POST'
            ) {
                const status = (body.status ?? 'subscribed') as MemberStatus;
                if (!MEMBER_STATUSES.includes(status))
                    throw new Problem(
                        400,
                        'Invalid Resource',
                        `bad status ${status}`
                    );
                return send(
                    res,
                    200,
                    admin.addMember(
                        s[1],
                        str(body.email, 'email'),
                        status,
                        (body.merge_fields ?? {}) as Record<string, unknown>
                    )
                );
            }
            if (
                s[0] === 'lists' &&
                s[2] === 'members' &&
                s[4] === 'status' &&
                m === 'POST'
            ) {
                const status = str(body.status, 'status') as MemberStatus;
                if (!MEMBER_STATUSES.includes(status))
                    throw new Problem(
                        400,
                        'Invalid Resource',
                        `bad status ${status}`
                    );
                const source = body.source === 'admin' ? 'admin' : 'user';
                return send(
                    res,
                    200,
                    admin.setStatus(s[1], decodeURIComponent(s[3]), status, {
                        reason:
                            typeof body.reason === 'string'
                                ? body.reason
                                : undefined,
                        source
                    })
                );
            }
        } catch (err) {
            if (err instanceof Problem || err instanceof FaultSpecError)
                throw err;
            throw new Problem(
                400,
                'Bad Request',
                err instanceof Error ? err.message : String(err)
            );
        }
        throw new Problem(
            404,
            'Resource Not Found',
            'The requested resource could not be found.'
        );
    }

    async function handle(
        req: IncomingMessage,
        res: ServerResponse
    ): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://local');
        log(`${req.method} ${url.pathname}${url.search}`);
        try {
            if (url.pathname === '/3.0' || url.pathname.startsWith('/3.0/')) {
                await api(req, res, url);
                return;
            }
            const results = /^\/batch-results\/([0-9a-f]+)\.tar\.gz$/.exec(
                url.pathname
            );
            if (results) {
                const b = store.getBatch(results[1]);
                if (!b?.results)
                    throw new Problem(
                        404,
                        'Resource Not Found',
                        'The requested resource could not be found.'
                    );
                res.writeHead(200, {
                    'content-type': 'application/x-gzip',
                    'content-length': String(b.results.length)
                });
                res.end(b.results);
                return;
            }
            if (url.pathname.startsWith('/local/')) {
                await adminRoute(req, res, url);
                return;
            }
            throw new Problem(
                404,
                'Resource Not Found',
                'The requested resource could not be found.'
            );
        } catch (err) {
            if (err instanceof Problem) sendProblem(res, err);
            else if (err instanceof FaultSpecError)
                sendProblem(
                    res,
                    new Problem(400, 'Invalid Resource', err.message)
                );
            else {
                log(
                    `internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
                );
                sendProblem(res, faultProblem(500));
            }
        }
    }

    const server: Server = createServer((req, res) => {
        void handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () =>
            resolve()
        );
    });
    const port = (server.address() as AddressInfo).port;
    baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;
    // Batches a previous run left unfinished carry on (Mailchimp's queue survives restarts).
    for (const id of store.unfinishedBatches()) track(runBatch(id));

    return {
        apiUrl: `${baseUrl}/3.0`,
        baseUrl,
        apiKey,
        dc,
        port,
        dbPath,
        admin,
        async close() {
            closed = true;
            server.closeAllConnections();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            await Promise.allSettled([...pending]);
            store.close();
        }
    };
}
