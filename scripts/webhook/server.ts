/**
 * The HTTP endpoint of `optout serve` (Node `http`, no framework):
 *
 *   GET  /healthz          no secret; `{ ok, pending }` and nothing else
 *   GET  /mailchimp        Mailchimp's URL validation: 200 (with the secret)
 *   POST /mailchimp        Mailchimp events, application/x-www-form-urlencoded
 *   POST /unsubscribes     JSON `{ email, audienceId?, audienceName?, reason?, salesforceId? }`
 *                          or an array of them (other platforms; no audience = global, R2)
 *   GET  /suppressions     the suppression feed (R15): `?since=<cursor>&limit=<n>` →
 *                          `{ items, next }`, oldest first (see ../ledger/feed.ts)
 *
 * Order of checks: rate limit (429) → route (404/405) → secret (401) → content type
 * (415) → body size (413) → parse and validate (400/422) → one ledger transaction →
 * queue the new unsubscribes for the push loop. A refused request stores nothing. Logs
 * carry the method, the path without its query, the status and the time — never the
 * secret, headers or the body.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ledger } from '../ledger/ledger';
import { LedgerBusy, LedgerUnavailable } from '../ledger/errors';
import type { LogFn } from '../model/log';
import { OptoutError, errorMessage } from '../model/errors';
import { feedItem, type SuppressionItem } from '../ledger/feed';
import { presentedSecret, secretChecker } from './auth';
import { WebhookError } from './errors';
import {
    applyMailchimpAction,
    asWebhookError,
    parseUnsubscribeItems,
    recordUnsubscribeItems,
    type IntakeOutcome
} from './intake';
import { RateLimiter, type Rate } from './limits';
import { mailchimpAction, parseMailchimpForm } from './mailchimp';

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_MAX_BODY = 64 * 1024;
/** Per client address; mainly a brake on abuse (the secret is the protection). */
export const DEFAULT_RATE: Rate = {
    limit: 6000,
    windowMs: 60_000,
    text: '6000/min'
};
export const DEFAULT_MAX_ITEMS = 500;

export interface WebhookServerOptions {
    ledger: Ledger;
    secret: string;
    host?: string;
    /** 0 picks a free port. */
    port?: number;
    maxBodyBytes?: number;
    rate?: Rate;
    /** Largest JSON array of POST /unsubscribes. */
    maxItems?: number;
    /** Receives the ids of unsubscribes to push (the push loop). */
    onUnsubscribes?: (ids: number[]) => void | Promise<void>;
    log?: LogFn;
    now?: () => Date;
    /** Clock of the rate limiter (ms). */
    clock?: () => number;
}

export interface WebhookServer {
    url: string;
    host: string;
    port: number;
    server: http.Server;
    counters: Record<string, number>;
    /** Stops accepting, lets requests in progress finish, closes idle connections. */
    close(): Promise<void>;
}

function send(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {}
): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers
    });
    res.end(text);
}

/** Reads the body up to `max` bytes; a larger one is a 413 (nothing more is read). */
function readBody(req: http.IncomingMessage, max: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > max) {
            reject(tooLarge(max));
            return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let done = false;
        req.on('data', (chunk: Buffer) => {
            if (done) return;
            size += chunk.length;
            if (size > max) {
                done = true;
                chunks.length = 0;
                reject(tooLarge(max));
                return;
            }
            chunks.push(chunk);
        });
        req.on('end', () => {
            if (done) return;
            done = true;
            resolve(Buffer.concat(chunks).toString('utf8'));
        });
        req.on('error', (err) => {
            if (done) return;
            done = true;
            reject(err);
        });
    });
}

/** Drops the rest of a refused request's body; a sender that keeps going is cut off. */
function discard(req: http.IncomingMessage, max: number): void {
    let size = 0;
    req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) req.destroy();
    });
    req.resume();
}

function tooLarge(max: number): WebhookError {
    return new WebhookError(
        413,
        'BODY_TOO_LARGE',
        `The body is larger than ${max} bytes.`
    );
}

function mediaType(req: http.IncomingMessage): string {
    return (req.headers['content-type'] ?? '')
        .split(';')[0]
        .trim()
        .toLowerCase();
}

function requireType(req: http.IncomingMessage, wanted: string): void {
    const got = mediaType(req);
    if (got !== wanted)
        throw new WebhookError(
            415,
            'UNSUPPORTED_MEDIA_TYPE',
            `Send Content-Type: ${wanted}${got ? `, not ${got.slice(0, 60)}` : ''}.`
        );
}

const ROUTES: Record<string, string[]> = {
    '/healthz': ['GET', 'HEAD'],
    '/mailchimp': ['GET', 'HEAD', 'POST'],
    '/unsubscribes': ['POST'],
    '/suppressions': ['GET', 'HEAD']
};

/**
 * GET /suppressions: one page of the feed. A bad cursor or limit is a 400 that says
 * which; the items are the feed items without their event ids (the cursor is the
 * position), exactly as `optout export suppressions` writes them.
 */
async function suppressionsPage(
    ledger: Ledger,
    url: URL
): Promise<{ items: SuppressionItem[]; next: string }> {
    try {
        const page = await ledger.suppressionPage(
            url.searchParams.get('since'),
            url.searchParams.get('limit') ?? undefined
        );
        return { items: page.items.map(feedItem), next: page.next };
    } catch (err) {
        if (
            err instanceof OptoutError &&
            (err.code === 'BAD_CURSOR' || err.code === 'BAD_LIMIT')
        )
            throw new WebhookError(400, err.code, err.message);
        throw err;
    }
}

export async function startWebhookServer(
    options: WebhookServerOptions
): Promise<WebhookServer> {
    const { ledger } = options;
    const host = options.host ?? DEFAULT_HOST;
    const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const maxItems = options.maxItems ?? DEFAULT_MAX_ITEMS;
    const limiter = new RateLimiter(
        options.rate ?? DEFAULT_RATE,
        options.clock ?? Date.now
    );
    const checkSecret = secretChecker(options.secret);
    const now = options.now ?? ((): Date => new Date());
    const log = options.log ?? ((): void => undefined);
    const counters: Record<string, number> = {
        requests: 0,
        accepted: 0,
        refused: 0,
        unsubscribesRecorded: 0
    };
    const count = (key: string, n = 1): void => {
        counters[key] = (counters[key] ?? 0) + n;
    };

    const queue = async (outcomes: IntakeOutcome[]): Promise<void> => {
        const ids = outcomes
            .filter((o) => o.unsubscribeId !== undefined && !o.delivered)
            .map((o) => o.unsubscribeId as number);
        count(
            'unsubscribesRecorded',
            outcomes.filter((o) => o.outcome === 'recorded').length
        );
        if (ids.length) await options.onUnsubscribes?.(ids);
    };

    async function handle(
        req: http.IncomingMessage,
        res: http.ServerResponse,
        url: URL
    ): Promise<number> {
        const path = url.pathname.replace(/\/+$/, '') || '/';
        const method = req.method ?? 'GET';
        const wait = limiter.take(req.socket.remoteAddress ?? 'unknown');
        if (wait > 0)
            throw new WebhookError(
                429,
                'RATE_LIMITED',
                `Too many requests; try again in ${Math.ceil(wait / 1000)} s.`,
                [],
                { 'Retry-After': String(Math.ceil(wait / 1000)) }
            );
        const allowed = ROUTES[path];
        if (!allowed)
            throw new WebhookError(404, 'NOT_FOUND', `No route ${path}.`);
        if (!allowed.includes(method))
            throw new WebhookError(
                405,
                'METHOD_NOT_ALLOWED',
                `${method} is not allowed on ${path}; use ${allowed.join(' or ')}.`,
                [],
                { Allow: allowed.join(', ') }
            );
        if (path === '/healthz') {
            send(res, 200, {
                ok: true,
                pending: await ledger.countUndelivered()
            });
            return 200;
        }
        const given = presentedSecret(url, req.headers);
        if (given === undefined || !checkSecret(given))
            throw new WebhookError(
                401,
                'UNAUTHORIZED',
                given === undefined
                    ? 'The secret is missing: add ?secret=… to the URL, or send Authorization: Bearer … or X-Optout-Secret.'
                    : 'The secret is wrong.',
                [],
                { 'WWW-Authenticate': 'Bearer realm="optout"' }
            );
        if (path === '/suppressions') {
            send(res, 200, await suppressionsPage(ledger, url));
            return 200;
        }
        if (path === '/mailchimp' && (method === 'GET' || method === 'HEAD')) {
            // Mailchimp's validation request when the webhook is created.
            send(res, 200, {
                ok: true,
                message: 'optout webhook ready for Mailchimp events'
            });
            return 200;
        }
        if (path === '/mailchimp') {
            requireType(req, 'application/x-www-form-urlencoded');
            const body = await readBody(req, maxBody);
            const event = parseMailchimpForm(body);
            const action = mailchimpAction(event);
            const outcome = await applyMailchimpAction(ledger, action, now());
            await queue([outcome]);
            send(res, 200, { status: 'ok', type: event.type, ...outcome });
            return 200;
        }
        // POST /unsubscribes
        requireType(req, 'application/json');
        const body = await readBody(req, maxBody);
        let parsed: unknown;
        try {
            parsed = JSON.parse(body);
        } catch (err) {
            throw new WebhookError(
                400,
                'BAD_JSON',
                `The body is not valid JSON: ${errorMessage(err).slice(0, 120)}`
            );
        }
        const items = parseUnsubscribeItems(parsed, maxItems);
        const outcomes = await recordUnsubscribeItems(ledger, items);
        await queue(outcomes);
        const recorded = outcomes.filter(
            (o) => o.outcome === 'recorded'
        ).length;
        send(res, 200, {
            status: 'ok',
            recorded,
            already: outcomes.length - recorded,
            results: outcomes.map((o, index) => ({ index, ...o }))
        });
        return 200;
    }

    const server = http.createServer((req, res) => {
        const started = Date.now();
        count('requests');
        let url: URL;
        try {
            url = new URL(req.url ?? '/', 'http://localhost');
        } catch {
            url = new URL('http://localhost/');
        }
        const finish = (status: number): void => {
            count(status < 400 ? 'accepted' : 'refused');
            log(
                status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info',
                `${req.method} ${url.pathname} ${status} ${Date.now() - started} ms`
            );
        };
        handle(req, res, url).then(finish, (err: unknown) => {
            const known = asWebhookError(err);
            let status: number;
            if (known) {
                status = known.status;
                if (status === 413 || status === 401 || status === 429) {
                    // Do not read a body we refuse; close the connection after replying.
                    res.setHeader('Connection', 'close');
                    discard(req, maxBody);
                }
                send(res, status, known.toJSON(), known.headers);
            } else if (err instanceof LedgerBusy) {
                status = 503;
                send(
                    res,
                    503,
                    {
                        status: 'error',
                        code: 'LEDGER_BUSY',
                        message:
                            'The ledger is busy; nothing was stored. Try again.'
                    },
                    { 'Retry-After': '2' }
                );
            } else if (err instanceof LedgerUnavailable) {
                // PostgreSQL restarting or out of reach: the transaction was rolled
                // back; the sender retries (Mailchimp and most senders do on 5xx).
                status = 503;
                log('warn', `webhook: ${errorMessage(err)}`);
                send(
                    res,
                    503,
                    {
                        status: 'error',
                        code: 'LEDGER_UNAVAILABLE',
                        message:
                            'The ledger cannot be reached; nothing was stored. Try again.'
                    },
                    { 'Retry-After': '5' }
                );
            } else {
                status = 500;
                log('error', `webhook: ${errorMessage(err)}`);
                if (!res.headersSent)
                    send(res, 500, {
                        status: 'error',
                        code: 'INTERNAL',
                        message: 'Internal error; nothing was stored.'
                    });
            }
            finish(status);
        });
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 15_000;
    server.keepAliveTimeout = 5_000;

    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? DEFAULT_PORT, host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const address = server.address() as AddressInfo;
    const shownHost =
        address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return {
        url: `http://${shownHost}:${address.port}`,
        host: address.address,
        port: address.port,
        server,
        counters,
        close: () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeIdleConnections();
            })
    };
}
