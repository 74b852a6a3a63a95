/**
 * A thin adapter over the Mailchimp Marketing API 3.0 with plain fetch: auth, JSON,
 * problem documents, at most `maxConnections` requests in flight (Mailchimp allows 10
 * simultaneous connections per user and answers 429 beyond; the 429 carries no
 * Retry-After — https://mailchimp.com/developer/marketing/docs/fundamentals/), and
 * retries of 429, 5xx and dropped connections with capped exponential back-off.
 * Errors carry Mailchimp's `title` and `detail`
 * (https://mailchimp.com/developer/marketing/docs/errors/).
 */
import type { MailchimpConfig } from './config';

export interface ClientOptions {
    /** Requests in flight at most (Mailchimp: 10). Default 5. */
    maxConnections?: number;
    /** Attempts per request, the first included. Default 6. */
    maxAttempts?: number;
    /** First back-off (ms), doubled per attempt. Default 500. */
    backoffMs?: number;
    /** Longest back-off (ms). Default 10000. */
    maxBackoffMs?: number;
    /** Per-request timeout (ms). Default 60000. */
    timeoutMs?: number;
    sleep?: (ms: number) => Promise<void>;
}

/** A refusal from Mailchimp (or no answer at all: status 0). */
export class MailchimpApiError extends Error {
    constructor(
        readonly status: number,
        readonly title: string,
        readonly detail: string,
        readonly method: string,
        readonly path: string
    ) {
        super(
            status === 0
                ? `${method} ${path}: no answer from Mailchimp (${detail})`
                : `${method} ${path}: ${status} ${title}${detail ? `: ${detail}` : ''}`
        );
        this.name = 'MailchimpApiError';
    }
}

/** 429, 5xx and no answer are worth another try; other 4xx are Mailchimp's final word. */
export function isTransient(status: number): boolean {
    return status === 0 || status === 429 || status >= 500;
}

/** The wait before attempt `attempt + 1` (attempt counts from 1), capped, with jitter. */
export function backoffDelay(
    attempt: number,
    baseMs: number,
    maxMs: number,
    retryAfterSec: number | null,
    random: () => number = Math.random
): number {
    if (retryAfterSec !== null && retryAfterSec >= 0)
        return Math.min(maxMs, retryAfterSec * 1000);
    const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
    // Half fixed, half random: clients retrying together spread out.
    return Math.round(exp / 2 + (exp / 2) * random());
}

/** Title and detail of a problem document, or of whatever else came back (a gateway's HTML). */
export function problemOf(
    status: number,
    text: string
): { title: string; detail: string } {
    try {
        const body = JSON.parse(text) as { title?: unknown; detail?: unknown };
        if (typeof body.title === 'string')
            return {
                title: body.title,
                detail: typeof body.detail === 'string' ? body.detail : ''
            };
    } catch {
        // not JSON: fall through
    }
    return {
        title: `HTTP ${status}`,
        detail: text
            .replace(/<[^>]*>/g, ' ')
            .replace(/\s+/g, ' ')
            .trim()
            .slice(0, 200)
    };
}

type Query = Record<string, string | number | undefined>;

export class MailchimpClient {
    private inFlight = 0;
    private readonly waiting: (() => void)[] = [];
    private readonly opts: Required<ClientOptions>;
    /** Requests sent (attempts included), for the run's result. */
    requests = 0;

    constructor(
        readonly config: MailchimpConfig,
        options: ClientOptions = {}
    ) {
        this.opts = {
            maxConnections: Math.min(10, options.maxConnections ?? 5),
            maxAttempts: options.maxAttempts ?? 6,
            backoffMs: options.backoffMs ?? 500,
            maxBackoffMs: options.maxBackoffMs ?? 10_000,
            timeoutMs: options.timeoutMs ?? 60_000,
            sleep:
                options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
        };
    }

    get<T>(path: string, query: Query = {}): Promise<T> {
        return this.request<T>('GET', path, query);
    }

    patch<T>(path: string, body: unknown): Promise<T> {
        return this.request<T>('PATCH', path, {}, body);
    }

    post<T>(path: string, body: unknown): Promise<T> {
        return this.request<T>('POST', path, {}, body);
    }

    /** A file outside the API (a batch's result archive: a pre-signed URL, no auth). */
    async download(url: string): Promise<Buffer> {
        return this.withRetries('GET', url, async () => {
            const res = await this.fetchOnce(url, { method: 'GET' });
            if (res.status !== 200) {
                const p = problemOf(res.status, await res.text());
                throw new MailchimpApiError(
                    res.status,
                    p.title,
                    p.detail,
                    'GET',
                    url
                );
            }
            return Buffer.from(await res.arrayBuffer());
        });
    }

    async request<T>(
        method: string,
        path: string,
        query: Query = {},
        body?: unknown
    ): Promise<T> {
        const url = new URL(this.config.apiUrl + path);
        for (const [k, v] of Object.entries(query))
            if (v !== undefined) url.searchParams.set(k, String(v));
        const init: RequestInit = {
            method,
            headers: {
                authorization: `Basic ${Buffer.from(`optout:${this.config.apiKey}`).toString('base64')}`,
                accept: 'application/json',
                ...(body === undefined
                    ? {}
                    : { 'content-type': 'application/json' })
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
        };
        return this.withRetries(method, path, async () => {
            const res = await this.fetchOnce(url.toString(), init);
            const text = await res.text();
            if (res.status >= 200 && res.status < 300)
                return (text ? JSON.parse(text) : {}) as T;
            const p = problemOf(res.status, text);
            const err = new MailchimpApiError(
                res.status,
                p.title,
                p.detail,
                method,
                path
            );
            const ra = res.headers.get('retry-after');
            (err as MailchimpApiError & { retryAfter?: number }).retryAfter =
                ra !== null && /^\d+$/.test(ra) ? Number(ra) : undefined;
            throw err;
        });
    }

    private async withRetries<T>(
        method: string,
        path: string,
        once: () => Promise<T>
    ): Promise<T> {
        for (let attempt = 1; ; attempt++) {
            let err: MailchimpApiError;
            await this.acquire();
            try {
                this.requests += 1;
                return await once();
            } catch (e) {
                err =
                    e instanceof MailchimpApiError
                        ? e
                        : new MailchimpApiError(
                              0,
                              'No answer',
                              e instanceof Error
                                  ? e.cause instanceof Error
                                      ? e.cause.message
                                      : e.message
                                  : String(e),
                              method,
                              path
                          );
            } finally {
                this.release();
            }
            if (!isTransient(err.status) || attempt >= this.opts.maxAttempts)
                throw err;
            const ra = (err as MailchimpApiError & { retryAfter?: number })
                .retryAfter;
            await this.opts.sleep(
                backoffDelay(
                    attempt,
                    this.opts.backoffMs,
                    this.opts.maxBackoffMs,
                    ra ?? null
                )
            );
        }
    }

    private async fetchOnce(url: string, init: RequestInit): Promise<Response> {
        return fetch(url, {
            ...init,
            signal: AbortSignal.timeout(this.opts.timeoutMs)
        });
    }

    private acquire(): Promise<void> {
        if (this.inFlight < this.opts.maxConnections) {
            this.inFlight += 1;
            return Promise.resolve();
        }
        return new Promise((resolve) =>
            this.waiting.push(() => {
                this.inFlight += 1;
                resolve();
            })
        );
    }

    private release(): void {
        this.inFlight -= 1;
        const next = this.waiting.shift();
        if (next) next();
    }
}
