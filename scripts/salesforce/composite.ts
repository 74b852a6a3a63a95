/**
 * The Composite resource (POST /services/data/vNN.N/composite): up to 25 subrequests
 * in one API request, later ones referring to earlier answers with `@{ref.field}` /
 * `@{ref.records[0].Id}`, optionally all-or-none. One adapter function over
 * OrgClient.request (budget check, meter, retries), as bulk.ts is for Bulk API 2.0.
 *
 *   const res = await composite(client, [
 *       { method: 'GET', url: `/query?q=${encodeURIComponent(soql)}`, referenceId: 'found' },
 *       { method: 'PATCH', url: '/sobjects/Contact/@{found.records[0].Id}',
 *         referenceId: 'optOut', body: { HasOptedOutOfEmail: true } }
 *   ], { allOrNone: true });
 *   res.get('optOut').ok
 *
 * Limits, checked here before a request is spent (the org refuses the same with 400):
 * at most 25 subrequests, at most 5 of them sObject Collections or Query/QueryAll
 * ("You can have up to 25 subrequests in a single call. Up to 5 of these subrequests
 * can be sObject Collections or query operations, including Query and QueryAll
 * requests", REST API Developer Guide, Send Multiple Requests Using Composite), and
 * referenceIds of letters, digits and underscores, starting with a letter or a digit,
 * unique in the request (Composite Request Body).
 *
 * Order: subrequests are sent with collateSubrequests=false unless asked, so they run
 * in the order given (from API 49.0 Salesforce collates by default, and "the order of
 * execution is not guaranteed" for subrequests without an explicit reference).
 *
 * Retries. jsforce never retries here (the client passes `retry: { maxRetries: 0 }`);
 * the client's own retry loop re-sends a request after a 5xx, 429 or a dropped
 * connection. That is safe for reads and for the sObject Collections updates and
 * upserts the client sends (idempotent), but not for a composite with writes: a
 * composite whose answer was lost (500, 502, 504, a connection dropped after sending)
 * may have run, wholly or — without allOrNone — in part, and its creates would run
 * twice, its queries-then-updates would act on a changed org. So:
 * - only GET subrequests: retried like any read;
 * - any write: retried only on answers that prove nothing ran — 429 and 403
 *   REQUEST_LIMIT_EXCEEDED for the concurrent-request limit (refusals before the
 *   request is processed); any other failure is raised as a SalesforceError, for the
 *   caller to read the org again and decide;
 * - `retryWrites: true`: the caller vouches that running it twice is harmless (for
 *   example updates setting absolute values by Id), and it is retried like a read.
 */
import { OptoutError } from '../model/errors';
import type { HttpMethod, OrgClient } from './client';
import { SalesforceError } from './errors';
import type { FailureFacts } from './policy';

export const COMPOSITE_MAX_SUBREQUESTS = 25;
export const COMPOSITE_MAX_COLLECTION_OR_QUERY = 5;

const REFERENCE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_]*$/;

export interface CompositeSubrequest {
    method: HttpMethod;
    /**
     * Below the versioned root (`/sobjects/Contact/003…`, `/query?q=…`,
     * `/composite/sobjects`) or from the host (`/services/data/vNN.N/…`). May contain
     * `@{ref…}` references to earlier subrequests.
     */
    url: string;
    referenceId: string;
    /** JSON body (POST, PATCH, PUT); may contain `@{ref…}` references. */
    body?: unknown;
    /** Extra headers (not Accept, Authorization or Content-Type). */
    httpHeaders?: Record<string, string>;
}

export interface CompositeError {
    errorCode: string;
    message: string;
    fields?: string[];
}

export interface CompositeSubresult<T = unknown> {
    referenceId: string;
    /** The subrequest's HTTP status (201, 204, 400, 404, …). */
    status: number;
    /** 2xx. (A Collections answer is 200 even when some of its records failed.) */
    ok: boolean;
    /** The answer's body when ok (null for 204). */
    body: T | null;
    /** The errors when not ok. */
    errors: CompositeError[];
    /**
     * Not run or undone because of another subrequest: rolled back under allOrNone
     * (PROCESSING_HALTED "The transaction was rolled back…"), or a reference to a
     * failed subrequest (PROCESSING_HALTED "Invalid reference specified…").
     */
    halted: boolean;
    headers: Record<string, string>;
}

export interface CompositeResult {
    /** One result per subrequest, in request order. */
    results: CompositeSubresult[];
    /** Every subrequest succeeded. */
    ok: boolean;
    /** The result of one subrequest (throws for an unknown referenceId). */
    get<T = unknown>(referenceId: string): CompositeSubresult<T>;
}

export interface CompositeOptions {
    /** Roll everything back on the first failure (default false). */
    allOrNone?: boolean;
    /** Let Salesforce collate unrelated subrequests (default false: in order). */
    collateSubrequests?: boolean;
    /** Retry a composite with writes like a read (see the file comment). */
    retryWrites?: boolean;
}

interface RawSubresult {
    body: unknown;
    httpHeaders?: Record<string, string>;
    httpStatusCode: number;
    referenceId: string | null;
}

function badArgument(message: string): OptoutError {
    return new OptoutError('BAD_ARGUMENT', message, { exitCode: 2 });
}

function pathOf(url: string): string {
    return url.replace(/^\/services\/data\/v\d+\.\d/, '').split('?')[0];
}

/** Whether a subrequest counts toward the five sObject Collections or query operations. */
export function isCollectionOrQuery(url: string): boolean {
    return /^\/(query|queryAll|composite\/sobjects)(\/|$)/.test(pathOf(url));
}

/** Refuses what the org would refuse as a whole (before spending a request on it). */
export function checkSubrequests(
    subrequests: readonly CompositeSubrequest[]
): void {
    if (subrequests.length === 0)
        throw badArgument('A composite request needs at least one subrequest.');
    if (subrequests.length > COMPOSITE_MAX_SUBREQUESTS)
        throw badArgument(
            `A composite request can carry at most ${COMPOSITE_MAX_SUBREQUESTS} subrequests, not ${subrequests.length}.`
        );
    const heavy = subrequests.filter((s) => isCollectionOrQuery(s.url)).length;
    if (heavy > COMPOSITE_MAX_COLLECTION_OR_QUERY)
        throw badArgument(
            `A composite request can carry at most ${COMPOSITE_MAX_COLLECTION_OR_QUERY} sObject Collections or query subrequests, not ${heavy}.`
        );
    const seen = new Set<string>();
    for (const s of subrequests) {
        if (!REFERENCE_ID_RE.test(s.referenceId))
            throw badArgument(
                `Composite referenceId '${s.referenceId}': use letters, digits and underscores, starting with a letter or a digit.`
            );
        if (seen.has(s.referenceId))
            throw badArgument(
                `Composite referenceId '${s.referenceId}' is used twice.`
            );
        seen.add(s.referenceId);
    }
}

/**
 * A composite with writes is retried only on refusals that prove it did not run: 429
 * and the concurrent-request limit (403 REQUEST_LIMIT_EXCEEDED "Concurrent…").
 */
export function refusedBeforeRunning(f: FailureFacts): boolean {
    if (f.status === 429) return true;
    return (
        f.status === 403 &&
        f.code === 'REQUEST_LIMIT_EXCEEDED' &&
        /concurrent/i.test(f.message ?? '')
    );
}

function errorsOf(body: unknown): CompositeError[] {
    const list = Array.isArray(body) ? body : [body];
    return list
        .filter(
            (e): e is Record<string, unknown> => !!e && typeof e === 'object'
        )
        .map((e) => ({
            errorCode: String(e.errorCode ?? e.statusCode ?? 'UNKNOWN'),
            message: String(e.message ?? ''),
            ...(Array.isArray(e.fields)
                ? { fields: (e.fields as unknown[]).map(String) }
                : {})
        }));
}

function toSubresult(raw: RawSubresult): CompositeSubresult {
    const ok = raw.httpStatusCode >= 200 && raw.httpStatusCode < 300;
    const errors = ok ? [] : errorsOf(raw.body);
    return {
        referenceId: raw.referenceId ?? '',
        status: raw.httpStatusCode,
        ok,
        body: ok ? (raw.body ?? null) : null,
        errors,
        halted: errors.some((e) => e.errorCode === 'PROCESSING_HALTED'),
        headers: raw.httpHeaders ?? {}
    };
}

/**
 * A request-level refusal in the composite answer shape (more than 25 subrequests:
 * `{"compositeResponse":[{… "referenceId":null}]}`, seen with HTTP 400).
 */
function requestLevelRefusal(
    answer: unknown,
    status: number | undefined,
    cause?: unknown
): SalesforceError | undefined {
    const list = (answer as { compositeResponse?: unknown } | undefined)
        ?.compositeResponse;
    if (!Array.isArray(list)) return undefined;
    const refusal = (list as RawSubresult[]).find(
        (r) => r && r.referenceId === null
    );
    if (!refusal) return undefined;
    const [first] = errorsOf(refusal.body);
    return new SalesforceError(
        first?.errorCode ?? 'UNKNOWN',
        `POST /composite failed${status ? ` (HTTP ${status})` : ''}: ${first?.message ?? 'refused'}`,
        { status, request: 'POST /composite', cause }
    );
}

function jsonIn(text: string): unknown {
    const start = text.indexOf('{');
    if (start < 0) return undefined;
    try {
        return JSON.parse(text.slice(start)) as unknown;
    } catch {
        return undefined;
    }
}

/** Runs subrequests in one Composite request (one API request); see the file comment. */
export async function composite(
    client: OrgClient,
    subrequests: readonly CompositeSubrequest[],
    options: CompositeOptions = {}
): Promise<CompositeResult> {
    checkSubrequests(subrequests);
    const readsOnly = subrequests.every((s) => s.method === 'GET');
    const body = {
        allOrNone: options.allOrNone ?? false,
        collateSubrequests: options.collateSubrequests ?? false,
        compositeRequest: subrequests.map((s) => ({
            method: s.method,
            url: s.url.startsWith('/services/')
                ? s.url
                : `${client.basePath}${s.url}`,
            referenceId: s.referenceId,
            ...(s.body !== undefined ? { body: s.body } : {}),
            ...(s.httpHeaders ? { httpHeaders: s.httpHeaders } : {})
        }))
    };
    let answer: { compositeResponse?: RawSubresult[] };
    try {
        const res = await client.request<{
            compositeResponse?: RawSubresult[];
        }>({
            method: 'POST',
            path: '/composite',
            body,
            retry:
                readsOnly || options.retryWrites ? true : refusedBeforeRunning
        });
        answer = res.body;
    } catch (err) {
        // jsforce leaves a 400 whose body is not an error list unparsed: read it here.
        if (err instanceof SalesforceError && err.status === 400) {
            const cause = err.cause as { message?: unknown } | undefined;
            const text =
                typeof cause?.message === 'string'
                    ? cause.message
                    : err.message;
            const refusal = requestLevelRefusal(jsonIn(text), 400, err);
            if (refusal) throw refusal;
        }
        throw err;
    }
    const refusal = requestLevelRefusal(answer, 200);
    if (refusal) throw refusal;
    const raw = answer.compositeResponse;
    if (!Array.isArray(raw) || raw.length !== subrequests.length)
        throw new SalesforceError(
            'UNEXPECTED_RESPONSE',
            `POST /composite answered ${Array.isArray(raw) ? raw.length : 'no'} results for ${subrequests.length} subrequests.`,
            { request: 'POST /composite' }
        );
    const results = raw.map(toSubresult);
    const byRef = new Map(results.map((r) => [r.referenceId, r]));
    return {
        results,
        ok: results.every((r) => r.ok),
        get<T = unknown>(referenceId: string): CompositeSubresult<T> {
            const r = byRef.get(referenceId);
            if (!r)
                throw badArgument(
                    `No composite subrequest has referenceId '${referenceId}'.`
                );
            return r as CompositeSubresult<T>;
        }
    };
}
