/**
 * Outbound notifications (R15, `optout serve --notify URL`): every suppression feed
 * event (an unsubscribe added or removed, see ../ledger/feed.ts) is POSTed as JSON to
 * each URL, signed with HMAC-SHA256 over the raw body:
 *
 *   POST <url>
 *   Content-Type: application/json
 *   X-Optout-Event-Id: 42
 *   X-Optout-Signature: sha256=<hex of HMAC-SHA256(OPTOUT_NOTIFY_SECRET, raw body)>
 *   { "eventId": 42, "email", "scope", "audienceId", "source", "reason",
 *     "collectedAt", "removedAt" }
 *
 * A URL starts with the events written after it was first configured (startCursors).
 * At least once and in order, per URL: each URL has its own cursor in the ledger's
 * `cursors` table (job `notify`, name = the URL) that moves past an event only after
 * the URL answered 2xx; until then the same event is retried with capped exponential
 * back-off and nothing after it is sent. A restart resumes from the cursor, so an event
 * whose 2xx was lost is sent again (receivers de-duplicate by X-Optout-Event-Id). Each
 * URL has its own worker, so a slow or failing URL never holds up another. Deliveries
 * and failures are audited (`notify_delivered`, `notify_failed`).
 *
 * Pure decisions (validation, signature, back-off, status) are functions; the loop is
 * the thin I/O around them (ledger reads and writes, fetch, timers).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Ledger } from '../ledger/ledger';
import type { SuppressionEvent } from '../ledger/feed';
import type { LogFn } from '../model/log';
import { OptoutError, errorMessage } from '../model/errors';
import { normalizeEmail } from '../model/statuses';
import { MIN_SECRET_LENGTH } from './auth';

export const NOTIFY_SECRET_ENV = 'OPTOUT_NOTIFY_SECRET';
export const SIGNATURE_HEADER = 'X-Optout-Signature';
export const EVENT_ID_HEADER = 'X-Optout-Event-Id';
/** The `cursors` job of the per-URL delivery cursors (name: the URL). */
export const NOTIFY_CURSOR_JOB = 'notify';
/** The `cursors` job of the per-URL last error (JSON; empty once delivered again). */
export const NOTIFY_ERROR_JOB = 'notify:error';

export interface Backoff {
    baseMs: number;
    maxMs: number;
}
export const DEFAULT_NOTIFY_BACKOFF: Backoff = { baseMs: 1000, maxMs: 300_000 };

// ------------------------------------------------------------ pure decisions

/** `--notify` values: absolute http(s) URLs without credentials, each once. */
export function parseNotifyUrls(raw: readonly string[]): string[] {
    const urls: string[] = [];
    for (const value of raw) {
        let url: URL;
        try {
            url = new URL(value.trim());
        } catch {
            throw badUrl(value, 'it is not an absolute URL');
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
            throw badUrl(value, `${url.protocol} is not http: or https:`);
        if (url.username || url.password)
            throw badUrl(
                value,
                'it carries a user name or password (the signature authenticates the notification)'
            );
        if (!urls.includes(url.href)) urls.push(url.href);
    }
    return urls;
}

function badUrl(value: string, why: string): OptoutError {
    return new OptoutError(
        'BAD_NOTIFY_URL',
        `--notify must be an http or https URL: '${value.slice(0, 80)}' — ${why}.`,
        {
            actions: [
                'Example: --notify https://esp.example.com/optout-events'
            ],
            exitCode: 2
        }
    );
}

/** The signing secret: required with --notify, same rules as OPTOUT_WEBHOOK_SECRET. */
export function resolveNotifySecret(
    env: NodeJS.ProcessEnv = process.env
): string {
    const secret = (env[NOTIFY_SECRET_ENV] ?? '').trim();
    const generate = `Generate one: export ${NOTIFY_SECRET_ENV}=$(openssl rand -hex 24), and give it to the receiver`;
    if (secret === '')
        throw new OptoutError(
            'NOTIFY_SECRET_REQUIRED',
            `--notify needs a signing secret: set ${NOTIFY_SECRET_ENV}.`,
            { actions: [generate], exitCode: 2 }
        );
    if (secret.length < MIN_SECRET_LENGTH)
        throw new OptoutError(
            'NOTIFY_SECRET_TOO_SHORT',
            `${NOTIFY_SECRET_ENV} must be at least ${MIN_SECRET_LENGTH} characters.`,
            { actions: [generate], exitCode: 2 }
        );
    if (!/^[\x21-\x7e]+$/.test(secret))
        throw new OptoutError(
            'BAD_NOTIFY_SECRET',
            `${NOTIFY_SECRET_ENV} must be printable ASCII without spaces.`,
            { actions: [generate], exitCode: 2 }
        );
    return secret;
}

/** The JSON body of one notification: the feed item plus its event id. */
export function notificationBody(event: SuppressionEvent): string {
    return JSON.stringify({
        eventId: event.eventId,
        email: event.email,
        scope: event.scope,
        audienceId: event.audienceId,
        source: event.source,
        reason: event.reason,
        collectedAt: event.collectedAt,
        removedAt: event.removedAt
    });
}

/** The signature header's value for a raw body. */
export function signBody(secret: string, body: string): string {
    return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** What a receiver does: recompute over the raw body and compare in constant time. */
export function verifySignature(
    secret: string,
    body: string,
    header: string | null | undefined
): boolean {
    if (!header) return false;
    const expected = Buffer.from(signBody(secret, body), 'utf8');
    const given = Buffer.from(header.trim(), 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Wait before attempt `failures + 1`: base · 2^(failures − 1), at most maxMs. */
export function backoffDelay(failures: number, backoff: Backoff): number {
    if (failures <= 0) return 0;
    return Math.min(
        backoff.maxMs,
        backoff.baseMs * 2 ** Math.min(failures - 1, 30)
    );
}

/** A 2xx is the only answer that moves the cursor. */
export function delivered(status: number): boolean {
    return status >= 200 && status < 300;
}

export interface NotifyError {
    at: string;
    eventId: number;
    /** HTTP status, or null when no answer came (network error, timeout). */
    status: number | null;
    error: string;
}

/** Per URL, for `optout status`. */
export interface NotifyUrlStatus {
    url: string;
    /** The last event id the URL confirmed (0: none yet). */
    deliveredUpTo: number;
    /** Feed events after it, still to send. */
    pending: number;
    /** The last failed attempt, or null when the last attempt was delivered. */
    lastError: NotifyError | null;
}

function parseError(raw: string | undefined): NotifyError | null {
    if (!raw) return null;
    try {
        return JSON.parse(raw) as NotifyError;
    } catch {
        return null;
    }
}

/** Every URL that has a delivery cursor in this ledger, with what is left to send. */
export async function notifyStatus(ledger: Ledger): Promise<NotifyUrlStatus[]> {
    const out: NotifyUrlStatus[] = [];
    for (const { name, value } of await ledger.listCursors(NOTIFY_CURSOR_JOB)) {
        const upTo = Number(value) || 0;
        out.push({
            url: name,
            deliveredUpTo: upTo,
            pending: await ledger.countSuppressionEventsAfter(upTo),
            lastError: parseError(
                await ledger.getCursor(NOTIFY_ERROR_JOB, name)
            )
        });
    }
    return out;
}

// ------------------------------------------------------------------- the loop

/**
 * A URL seen for the first time starts at the end of the feed: it gets the events
 * from now on (its history is in GET /suppressions or `optout export suppressions`).
 * The cursor is stored at once, so an event written before the first delivery is not
 * skipped after a restart, and the URL shows in `optout status` from the start.
 */
export async function startCursors(
    ledger: Ledger,
    urls: readonly string[]
): Promise<void> {
    await ledger.transaction(async () => {
        const end = await ledger.lastSuppressionEventId();
        for (const url of urls)
            if ((await ledger.getCursor(NOTIFY_CURSOR_JOB, url)) === undefined)
                await ledger.setCursor(NOTIFY_CURSOR_JOB, url, end);
    });
}

export interface NotifyAttempt {
    url: string;
    eventId: number;
    status: number | null;
    delivered: boolean;
    error?: string;
    /** Wait before the next attempt (failures only). */
    retryInMs?: number;
}

export interface NotifyLoopOptions {
    ledger: Ledger;
    urls: readonly string[];
    secret: string;
    backoff?: Backoff;
    /** How often an idle worker looks for new events (other processes write too). */
    pollMs?: number;
    /** Per request. */
    timeoutMs?: number;
    /** Events read per ledger query. */
    batch?: number;
    fetch?: typeof fetch;
    now?: () => Date;
    log?: LogFn;
    onAttempt?: (attempt: NotifyAttempt) => void;
}

/** Starts one worker per URL; `close()` stops them (an unconfirmed event stays due). */
export class NotifyLoop {
    private readonly stop = new AbortController();
    private readonly workers: Promise<void>[];
    private readonly wakers = new Set<() => void>();

    private constructor(private readonly options: NotifyLoopOptions) {
        this.workers = options.urls.map((url) => this.run(url));
    }

    /** Sets each new URL's cursor (so it starts from now), then starts the workers. */
    static async start(options: NotifyLoopOptions): Promise<NotifyLoop> {
        await startCursors(options.ledger, options.urls);
        return new NotifyLoop(options);
    }

    /** New events were written: idle workers look now instead of at the next poll. */
    wake(): void {
        for (const w of [...this.wakers]) w();
    }

    async close(): Promise<void> {
        this.stop.abort();
        this.wake();
        await Promise.all(this.workers);
    }

    private get stopped(): boolean {
        return this.stop.signal.aborted;
    }

    /** Waits `ms`, or less when woken (if `wakeable`) or stopped. */
    private sleep(ms: number, wakeable: boolean): Promise<void> {
        if (this.stopped) return Promise.resolve();
        return new Promise((resolve) => {
            const done = (): void => {
                clearTimeout(timer);
                this.wakers.delete(done);
                this.stop.signal.removeEventListener('abort', done);
                resolve();
            };
            const timer = setTimeout(done, ms);
            if (wakeable) this.wakers.add(done);
            this.stop.signal.addEventListener('abort', done);
        });
    }

    private async run(url: string): Promise<void> {
        const { ledger } = this.options;
        const log = this.options.log ?? ((): void => undefined);
        const batch = this.options.batch ?? 100;
        let failures = 0;
        while (!this.stopped) {
            let events: SuppressionEvent[];
            try {
                const after = Number(
                    (await ledger.getCursor(NOTIFY_CURSOR_JOB, url)) ?? 0
                );
                events = await ledger.suppressionEvents(after, batch);
            } catch (err) {
                // A busy or closed ledger: try again later, never lose the cursor.
                log('warn', `notify ${url}: ${errorMessage(err)}`);
                await this.sleep(this.options.pollMs ?? 1000, true);
                continue;
            }
            if (events.length === 0) {
                await this.sleep(this.options.pollMs ?? 1000, true);
                continue;
            }
            for (const event of events) {
                // In order: the next event waits until this one got its 2xx.
                for (;;) {
                    if (this.stopped) return;
                    const attempt = await this.attempt(url, event);
                    if (this.stopped && !attempt.delivered) return;
                    if (attempt.delivered) {
                        failures = 0;
                        await this.record(url, event, attempt);
                        this.options.onAttempt?.(attempt);
                        break;
                    }
                    failures += 1;
                    attempt.retryInMs = backoffDelay(
                        failures,
                        this.options.backoff ?? DEFAULT_NOTIFY_BACKOFF
                    );
                    await this.record(url, event, attempt);
                    this.options.onAttempt?.(attempt);
                    log(
                        'warn',
                        `notify ${url}: event ${event.eventId} not delivered (${attempt.error}); retry in ${attempt.retryInMs} ms`
                    );
                    await this.sleep(attempt.retryInMs, false);
                }
            }
        }
    }

    /** One POST; never throws. */
    private async attempt(
        url: string,
        event: SuppressionEvent
    ): Promise<NotifyAttempt> {
        const body = notificationBody(event);
        const doFetch = this.options.fetch ?? fetch;
        try {
            const res = await doFetch(url, {
                method: 'POST',
                headers: {
                    'Content-Type': 'application/json',
                    'User-Agent': 'optout-notify',
                    [EVENT_ID_HEADER]: String(event.eventId),
                    [SIGNATURE_HEADER]: signBody(this.options.secret, body)
                },
                body,
                redirect: 'manual',
                signal: AbortSignal.any([
                    this.stop.signal,
                    AbortSignal.timeout(this.options.timeoutMs ?? 10_000)
                ])
            });
            // The answer's body is not used; read it so the connection is freed.
            await res.arrayBuffer().catch(() => undefined);
            return {
                url,
                eventId: event.eventId,
                status: res.status,
                delivered: delivered(res.status),
                ...(delivered(res.status)
                    ? {}
                    : { error: `HTTP ${res.status} ${res.statusText}`.trim() })
            };
        } catch (err) {
            return {
                url,
                eventId: event.eventId,
                status: null,
                delivered: false,
                error: errorMessage(err)
            };
        }
    }

    /** Cursor, last error and audit of one attempt, in one ledger transaction. */
    private async record(
        url: string,
        event: SuppressionEvent,
        attempt: NotifyAttempt
    ): Promise<void> {
        const { ledger } = this.options;
        const at = (this.options.now?.() ?? new Date()).toISOString();
        try {
            await ledger.transaction(async () => {
                if (attempt.delivered) {
                    await ledger.setCursor(
                        NOTIFY_CURSOR_JOB,
                        url,
                        event.eventId
                    );
                    await ledger.setCursor(NOTIFY_ERROR_JOB, url, '');
                } else {
                    const error: NotifyError = {
                        at,
                        eventId: event.eventId,
                        status: attempt.status,
                        error: attempt.error ?? 'not delivered'
                    };
                    await ledger.setCursor(
                        NOTIFY_ERROR_JOB,
                        url,
                        JSON.stringify(error)
                    );
                }
                await ledger.appendAudit({
                    action: attempt.delivered
                        ? 'notify_delivered'
                        : 'notify_failed',
                    at,
                    emailNorm: normalizeEmail(event.email),
                    recordId: url,
                    object: 'notify',
                    after:
                        attempt.status === null ? null : String(attempt.status),
                    writtenAt: attempt.delivered ? at : null,
                    detail: {
                        url,
                        eventId: event.eventId,
                        status: attempt.status,
                        ...(attempt.error ? { error: attempt.error } : {}),
                        ...(attempt.retryInMs !== undefined
                            ? { retryInMs: attempt.retryInMs }
                            : {})
                    }
                });
            });
        } catch (err) {
            // Not recorded (ledger busy): a delivered event is simply sent again.
            this.options.log?.(
                'warn',
                `notify ${url}: could not record event ${event.eventId}: ${errorMessage(err)}`
            );
        }
    }
}
