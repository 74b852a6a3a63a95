/**
 * Pure decisions of the adapter: which failures are worth another attempt, how long to
 * wait (capped exponential back-off with jitter), whether the API budget allows one more
 * request (R12), and whether to read or write in bulk. No I/O here, so all of it is unit
 * tested with injected randomness.
 */
import type { ApiUsage } from './meter';

export interface RetryOptions {
    /** Attempts per request, the first included (default 6: five retries). */
    maxAttempts: number;
    /** First back-off (default 500 ms), doubled per attempt… */
    baseDelayMs: number;
    /** …up to this cap (default 30 s). */
    maxDelayMs: number;
    /** Extra attempts for records that failed with UNABLE_TO_LOCK_ROW (default 3). */
    lockRetries: number;
}

export const DEFAULT_RETRY: RetryOptions = {
    maxAttempts: 6,
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    lockRetries: 3
};

/** HTTP statuses worth retrying: throttling and transient server or gateway errors. */
export const RETRY_STATUSES = [420, 429, 500, 502, 503, 504];

/** Network failures worth retrying (the request may or may not have been processed). */
export const RETRY_NETWORK_CODES = [
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ETIMEDOUT',
    'ENETUNREACH',
    'EHOSTUNREACH',
    'EAI_AGAIN',
    'UND_ERR_SOCKET'
];

export interface FailureFacts {
    /** HTTP status, when a response arrived. */
    status?: number;
    /** Salesforce errorCode or the network error's code. */
    code?: string;
    message?: string;
}

export type FailureClass =
    | 'retry'
    /** The org's daily allowance is used up (403 REQUEST_LIMIT_EXCEEDED): defer. */
    | 'limit'
    | 'fatal';

/**
 * REQUEST_LIMIT_EXCEEDED names two limits. "TotalRequests Limit exceeded" is the 24-hour
 * allowance: nothing helps before it frees up, so the run is deferred. The concurrent
 * limits — long-running requests ("ConcurrentPerOrgLongTxn Limit exceeded": at most 25
 * requests running 20 s or more in production) and "ConcurrentRequests … Limit exceeded"
 * — clear as soon as other requests finish, so they are retried with back-off
 * ("ConcurrentPerOrgLongTxn Limit exceeded, REQUEST_LIMIT_EXCEEDED with error code 403":
 * https://docs.cloud-elements.com/home/9838da8; "'ConcurrentRequests (Concurrent API
 * Requests) Limit exceeded' … typically set to 25 long running API calls over 20
 * seconds": https://help.salesforce.com/s/articleView?id=000389067&type=1).
 */
export function concurrentLimit(message: string | undefined): boolean {
    return /concurrent/i.test(message ?? '');
}

/**
 * Classifies a failed request. Every method is retried here (jsforce's own retries are
 * switched off so that each attempt is budget-checked and the back-off is ours):
 * updates and upserts by id or external id are idempotent, so repeating one whose
 * answer was lost is safe.
 */
export function classifyFailure(f: FailureFacts): FailureClass {
    if (f.status === 403 && f.code === 'REQUEST_LIMIT_EXCEEDED')
        return concurrentLimit(f.message) ? 'retry' : 'limit';
    if (f.status !== undefined && RETRY_STATUSES.includes(f.status))
        return 'retry';
    if (f.status === undefined) {
        if (f.code && RETRY_NETWORK_CODES.includes(f.code)) return 'retry';
        if (f.message && /socket hang up|ECONNRESET|network/i.test(f.message))
            return 'retry';
    }
    return 'fatal';
}

/**
 * Back-off before attempt `attempt + 1` (attempt counts from 0): exponential from
 * `baseDelayMs`, capped at `maxDelayMs`, with "equal jitter" (half fixed, half random)
 * so that clients retrying together spread out. A Retry-After from the server is
 * honoured up to the cap.
 */
export function backoffDelay(
    attempt: number,
    options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>,
    random: () => number,
    retryAfterMs?: number
): number {
    const exp = Math.min(
        options.maxDelayMs,
        options.baseDelayMs * 2 ** Math.max(0, attempt)
    );
    const jittered = exp / 2 + (random() * exp) / 2;
    const wanted =
        retryAfterMs !== undefined && retryAfterMs > jittered
            ? retryAfterMs
            : jittered;
    return Math.round(Math.min(options.maxDelayMs, wanted));
}

/** `Retry-After` in seconds (or an HTTP date) → milliseconds. */
export function parseRetryAfter(
    value: string | string[] | undefined,
    now = Date.now()
): number | undefined {
    const text = Array.isArray(value) ? value[0] : value;
    if (!text) return undefined;
    if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
    const at = Date.parse(text);
    return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Default share of the org's daily API requests a run may use: 0.8. The sync is rarely
 * the only client of an org — people, other integrations and Salesforce's own tools draw
 * on the same 24-hour allowance — so a run stops with a fifth of it left rather than
 * starving them; the deferred work resumes on the next run.
 */
export const DEFAULT_BUDGET_SHARE = 0.8;
export const BUDGET_SHARE_ENV = 'OPTOUT_API_BUDGET_SHARE';

/**
 * Whether `need` more requests keep the org's usage within `share` of its daily
 * allowance. Unknown usage (no response seen yet) allows: the first answer tells.
 */
export function budgetAllows(
    usage: ApiUsage | undefined,
    share: number,
    need = 1
): boolean {
    if (!usage || usage.max <= 0) return true;
    return usage.used + need <= Math.floor(share * usage.max);
}

/** Parses a budget share (0 < share ≤ 1); undefined when the text is not one. */
export function parseBudgetShare(text: string | undefined): number | undefined {
    if (text === undefined || text.trim() === '') return undefined;
    const n = Number(text.trim().replace(/%$/, ''));
    const share = text.trim().endsWith('%') ? n / 100 : n;
    return Number.isFinite(share) && share > 0 && share <= 1
        ? share
        : undefined;
}

/**
 * Writes go through Bulk API 2.0 above this many records. A Bulk job costs five or six
 * requests whatever its size — create, upload, close, a poll or two, and a results file
 * only where its counts call for one (an upsert's Ids, failures: bulk.ts) — and records
 * a duplicate rule refused go again through Collections (a Bulk job cannot carry the
 * duplicate rule header); sObject Collections cost one request per 1,000 records (five
 * chunks of 200 in one Composite request: client.ts, collectionsWrite). So Bulk saves
 * requests only above about 5,000 records. (It was 2,000 while a Collections request
 * carried one chunk and a Bulk job read all three result files.)
 */
export const DEFAULT_BULK_THRESHOLD = 5000;

/** 'collections' or 'bulk' for a write of `count` records. */
export function chooseWriteMode(
    count: number,
    threshold: number
): 'collections' | 'bulk' {
    return count > threshold ? 'bulk' : 'collections';
}

/**
 * A REST query returns 2,000 rows a page; a Bulk query costs about five requests plus
 * one per `bulkPageSize` rows. Reads switch to Bulk when the REST pages left would
 * cost more than that.
 */
export function chooseReadMode(
    totalSize: number,
    options: { restPageSize?: number; bulkPageSize?: number } = {}
): 'rest' | 'bulk' {
    const rest = Math.ceil(totalSize / (options.restPageSize ?? 2000));
    const bulk = 5 + Math.ceil(totalSize / (options.bulkPageSize ?? 50_000));
    return rest > bulk ? 'bulk' : 'rest';
}
