/**
 * OrgClient: one org, through a jsforce connection, with every HTTP request counted
 * (meter.ts), each attempt checked against the API budget (R12), and our own retries
 * with capped exponential back-off — for every method, since jsforce never retries POST
 * or PATCH and its GET retries sleep for real (0.5 → 8 s) where tests need control.
 *
 * Reads: REST query pages (async iterator; we page with nextRecordsUrl ourselves, so
 * jsforce's `maxFetch` 10,000 cut-off cannot truncate a scan) or Bulk API 2.0 query
 * (bulk.ts). Writes: sObject Collections (≤ 200 records a request) or Bulk API 2.0
 * ingest above the bulk threshold, with per-record UNABLE_TO_LOCK_ROW retries.
 */
import { OptoutError, errorMessage } from '../model/errors';
import type { LogFn } from '../model/log';
import { BudgetExhausted, RunAborted, SalesforceError } from './errors';
import { type ApiUsage, type CallCapture, RequestMeter } from './meter';
import {
    DEFAULT_BUDGET_SHARE,
    DEFAULT_BULK_THRESHOLD,
    DEFAULT_RETRY,
    type FailureFacts,
    type RetryOptions,
    backoffDelay,
    budgetAllows,
    chooseReadMode,
    chooseWriteMode,
    classifyFailure,
    parseRetryAfter
} from './policy';
import { bulkQuery, bulkWrite } from './bulk';
import {
    COMPOSITE_MAX_COLLECTION_OR_QUERY,
    composite,
    type CompositeResult,
    type CompositeSubrequest,
    type CompositeSubresult
} from './composite';

/** What the adapter needs of a jsforce (or @salesforce/core) connection. */
export interface RequestingConnection {
    instanceUrl: string;
    version: string;
    accessToken?: string | null;
    request(
        request: {
            method: string;
            url: string;
            body?: string;
            headers?: Record<string, string>;
        },
        options?: Record<string, unknown>
    ): Promise<unknown>;
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface ApiRequest {
    method: HttpMethod;
    /** A path below the versioned root (`/query?q=…`) or from the host (`/services/…`). */
    path: string;
    /** JSON (objects are serialised) or text. */
    body?: unknown;
    contentType?: string;
    headers?: Record<string, string>;
    /** Return the body as text (CSV results) instead of parsed JSON. */
    raw?: boolean;
    /**
     * Retry on transient failures (default true), or only on the transient failures a
     * predicate accepts (a composite with writes retries only refusals that prove the
     * request did not run: composite.ts).
     */
    retry?: boolean | ((failure: FailureFacts) => boolean);
}

export interface ApiResponse<T> {
    body: T;
    status: number | undefined;
    headers: Record<string, string | string[] | undefined>;
}

export interface RecordError {
    statusCode: string;
    message: string;
    fields: string[];
}

/** The outcome of writing one record. */
export interface WriteResult {
    /** The record's key: its Id (update) or external id value (upsert). */
    key: string;
    /** The record id Salesforce reports (null when it failed before one existed). */
    id: string | null;
    success: boolean;
    created?: boolean;
    errors: RecordError[];
    /** How many times the record was sent. */
    attempts: number;
}

export type SObjectRow = Record<string, unknown>;

export interface OrgClientOptions {
    targetOrg: string;
    /** Share of the org's daily API requests a run may use (default 0.8). */
    apiBudgetShare?: number;
    /** Writes above this many records go through Bulk API 2.0 (default 2,000). */
    bulkThreshold?: number;
    retry?: Partial<RetryOptions>;
    /** Injected in tests: back-off and polling without real waiting. */
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
    /** Bulk job polling: first interval, cap, give-up time. */
    poll?: { minMs?: number; maxMs?: number; timeoutMs?: number };
    /** Rows per REST query page asked for (Sforce-Query-Options batchSize, 200–2,000). */
    restPageSize?: number;
    /**
     * Rows per Bulk query results page asked for (maxRecords; default 500,000): pages are
     * streamed, never held whole, so they are sized to keep requests few (bulk.ts).
     */
    bulkQueryPageSize?: number;
    /**
     * Most rows in one array a Bulk scan yields (default 5,000): what memory holds of a
     * read while the caller stores it (a workspace table, the ledger's mirror). Arrays
     * are cut from the streamed page on this side: their size costs no request.
     */
    bulkQueryChunkRows?: number;
    /** Rows per Bulk ingest job (default 100,000). */
    bulkJobSize?: number;
    /** How long a Sforce-Limit-Info reading is trusted for the budget (default 5 minutes). */
    usageTtlMs?: number;
    /** How long describe results are reused (default 5 minutes). */
    describeTtlMs?: number;
    /**
     * How long the sync settings read from the org are reused (default 0: read for
     * every job). Long-running processes (serve, schedule) set a short time, so a
     * burst of pushes does not read them again for each micro-batch.
     */
    settingsTtlMs?: number;
    signal?: AbortSignal;
    log?: LogFn;
    /** Called when the client closes (stops an in-process local org). */
    onClose?: () => Promise<void>;
    /** Whether the org is the embedded local org. */
    local?: boolean;
}

export interface DescribeField {
    name: string;
    type: string;
    updateable: boolean;
    createable: boolean;
    externalId?: boolean;
    picklistValues?: { value: string; active: boolean }[];
}

export interface DescribeResult {
    name: string;
    updateable: boolean;
    createable: boolean;
    queryable: boolean;
    fields: DescribeField[];
}

/**
 * Sent with every sObject write. The sync only sets a checkbox or writes its own rows:
 * it never creates a duplicate, so a Contact or Lead that a duplicate rule with an
 * Alert action flags (the standard rules match Contacts and Leads by email, which R8
 * duplicates share) is saved anyway instead of failing with DUPLICATES_DETECTED
 * (REST API 52.0+, "allowSave … true—allow the user to acknowledge the alert and save
 * the duplicate record":
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm).
 * A Block rule still refuses; that is a per-record failure.
 */
export const DUPLICATE_RULE_HEADER = {
    'Sforce-Duplicate-Rule-Header': 'allowSave=true'
} as const;

/**
 * Bulk API 2.0 has no duplicate rule header (its job requests document none, and
 * https://github.com/simple-salesforce/simple-salesforce/issues/628 reports Bulk saves
 * refused by Alert rules): records a Bulk job lost to a duplicate rule are sent again
 * through sObject Collections, which carries the header.
 */
function refusedAsDuplicate(r: WriteResult): boolean {
    return (
        !r.success &&
        r.errors.some((e) => e.statusCode === 'DUPLICATES_DETECTED')
    );
}

const realSleep = (ms: number): Promise<void> =>
    new Promise((resolve) => setTimeout(resolve, ms));

/** After this long without a response, let the event loop poll the sockets first. */
const IDLE_SOCKET_CHECK_MS = 1000;

/**
 * A keep-alive socket the server closed while this process was busy (the jobs' set-based
 * SQL over a million rows blocks the event loop for seconds, longer than a server's idle
 * timeout) stays in the HTTP agent's pool until the loop has polled it, and the next
 * request goes out on it and fails (ECONNRESET: a retry with back-off). Two turns of the
 * loop reach its poll phase, where the agent learns that the socket is gone.
 */
async function pollSockets(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
}

function asRecord(v: unknown): Record<string, unknown> {
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

/** Salesforce's error code and message out of whatever jsforce threw. */
export function errorFacts(err: unknown): {
    code: string;
    message: string;
    networkCode?: string;
} {
    const e = asRecord(err);
    const data = asRecord(e.data);
    let code =
        typeof e.errorCode === 'string'
            ? e.errorCode
            : typeof data.errorCode === 'string'
              ? data.errorCode
              : '';
    let message = errorMessage(err);
    // An error body jsforce left unparsed (raw requests): [{"errorCode":…}]
    const parsed = /^\s*\[\s*\{/.test(message) ? tryJson(message) : undefined;
    if (Array.isArray(parsed) && parsed.length > 0) {
        const first = asRecord(parsed[0]);
        if (typeof first.errorCode === 'string') code = first.errorCode;
        if (typeof first.message === 'string') message = first.message;
    }
    const networkCode =
        typeof e.code === 'string'
            ? e.code
            : typeof asRecord(e.cause).code === 'string'
              ? (asRecord(e.cause).code as string)
              : undefined;
    if (code.startsWith('ERROR_HTTP_') && /html/i.test(message))
        message = `HTTP ${code.slice(11)} (an HTML error page: a proxy or load balancer answered)`;
    return { code: code || networkCode || 'UNKNOWN', message, networkCode };
}

function tryJson(text: string): unknown {
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return undefined;
    }
}

function header(
    headers: Record<string, string | string[] | undefined>,
    name: string
): string | undefined {
    const v = headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
}

export class OrgClient {
    readonly targetOrg: string;
    readonly conn: RequestingConnection;
    readonly meter: RequestMeter;
    readonly share: number;
    readonly bulkThreshold: number;
    readonly retryOptions: RetryOptions;
    readonly sleep: (ms: number) => Promise<void>;
    readonly random: () => number;
    readonly poll: { minMs: number; maxMs: number; timeoutMs: number };
    readonly bulkQueryPageSize: number;
    readonly bulkQueryChunkRows: number;
    readonly restPageSize: number;
    readonly bulkJobSize: number;
    readonly local: boolean;
    /** Retries made: requests re-sent, records re-sent (lock errors). */
    readonly retried = { requests: 0, records: 0 };
    signal: AbortSignal | undefined;
    log: LogFn;
    private readonly describeTtlMs: number;
    private readonly describeCache = new Map<
        string,
        { at: number; result: DescribeResult | null }
    >();
    readonly settingsTtlMs: number;
    private readonly memo = new Map<
        string,
        { at: number; value: Promise<unknown> }
    >();
    /** Query pages read ahead (readAhead), by query URL. */
    private readonly ahead = new Map<
        string,
        { at: number; servedAt: string | null; page: QueryPage }
    >();
    private readonly onClose?: () => Promise<void>;
    private closed = false;
    private lastResponseAt = 0;

    constructor(conn: RequestingConnection, options: OrgClientOptions) {
        this.conn = conn;
        this.meter = new RequestMeter(options.usageTtlMs);
        this.targetOrg = options.targetOrg;
        this.share = options.apiBudgetShare ?? DEFAULT_BUDGET_SHARE;
        if (!(this.share > 0 && this.share <= 1))
            throw new OptoutError(
                'BAD_ARGUMENT',
                `The API budget share must be above 0 and at most 1, not ${this.share}.`,
                { exitCode: 2 }
            );
        this.bulkThreshold = options.bulkThreshold ?? DEFAULT_BULK_THRESHOLD;
        this.retryOptions = { ...DEFAULT_RETRY, ...(options.retry ?? {}) };
        this.sleep = options.sleep ?? realSleep;
        this.random = options.random ?? Math.random;
        this.poll = {
            minMs: options.poll?.minMs ?? (options.local ? 20 : 1000),
            maxMs: options.poll?.maxMs ?? (options.local ? 2000 : 10_000),
            timeoutMs: options.poll?.timeoutMs ?? 30 * 60_000
        };
        this.bulkQueryPageSize = options.bulkQueryPageSize ?? 500_000;
        this.bulkQueryChunkRows = Math.max(
            1,
            options.bulkQueryChunkRows ?? 5_000
        );
        this.restPageSize = Math.min(
            2000,
            Math.max(200, options.restPageSize ?? 2000)
        );
        this.bulkJobSize = options.bulkJobSize ?? 100_000;
        this.describeTtlMs = options.describeTtlMs ?? 5 * 60_000;
        this.settingsTtlMs = options.settingsTtlMs ?? 0;
        this.signal = options.signal;
        this.log = options.log ?? ((): void => undefined);
        this.onClose = options.onClose;
        this.local = options.local ?? false;
    }

    /** HTTP requests this client made (every attempt, page and poll). */
    get apiRequests(): number {
        return this.meter.requests;
    }

    /** The org's daily API usage from the last Sforce-Limit-Info header, if any. */
    get apiUsage(): ApiUsage | null {
        const u = this.meter.estimatedUsage();
        return u ? { ...u } : null;
    }

    /** `/services/data/vNN.N` */
    get basePath(): string {
        return `/services/data/v${this.conn.version}`;
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await this.onClose?.();
    }

    /** Stops before a request that would cross the budget; stops when aborted. */
    checkBeforeRequest(need = 1): void {
        if (this.signal?.aborted) throw new RunAborted();
        const usage = this.meter.freshUsage();
        if (!budgetAllows(usage, this.share, need)) {
            const u = usage as ApiUsage;
            throw new BudgetExhausted(
                `Stopped before crossing ${Math.round(this.share * 100)}% of ${this.targetOrg}'s daily API requests (${u.used} of ${u.max} used).`,
                { used: u.used, max: u.max, share: this.share }
            );
        }
    }

    private url(path: string): string {
        return path.startsWith('/services/') ? path : `${this.basePath}${path}`;
    }

    /** One API call with budget checks and retries; see the file comment. */
    async request<T = unknown>(req: ApiRequest): Promise<ApiResponse<T>> {
        const what = `${req.method} ${req.path.split('?')[0]}`;
        const headers: Record<string, string> = { ...(req.headers ?? {}) };
        let body: string | undefined;
        if (req.body !== undefined) {
            body =
                typeof req.body === 'string'
                    ? req.body
                    : JSON.stringify(req.body);
            headers['Content-Type'] ??= req.contentType ?? 'application/json';
        }
        const retry = req.retry ?? true;
        for (let attempt = 0; ; attempt++) {
            this.checkBeforeRequest();
            if (Date.now() - this.lastResponseAt > IDLE_SOCKET_CHECK_MS)
                await pollSockets();
            const capture: CallCapture = { requests: 0 };
            try {
                const result = await this.meter.run(
                    () =>
                        this.conn.request(
                            {
                                method: req.method,
                                url: this.url(req.path),
                                ...(body !== undefined ? { body } : {}),
                                headers: { ...headers }
                            },
                            {
                                retry: { maxRetries: 0 },
                                ...(req.raw
                                    ? { responseType: 'text/plain' }
                                    : {})
                            }
                        ),
                    capture
                );
                this.lastResponseAt = Date.now();
                this.noteServerTime(capture.headers?.date);
                return {
                    body: result as T,
                    status: capture.status,
                    headers: capture.headers ?? {}
                };
            } catch (err) {
                this.lastResponseAt = Date.now();
                if (err instanceof OptoutError) throw err;
                const facts = errorFacts(err);
                const status =
                    capture.requests > 0 ? capture.status : undefined;
                const failure: FailureFacts = {
                    status,
                    code: facts.networkCode ?? facts.code,
                    message: facts.message
                };
                const kind = classifyFailure(failure);
                if (kind === 'limit') {
                    const usage = this.meter.estimatedUsage();
                    throw new BudgetExhausted(
                        `${this.targetOrg} refused the request: its daily API request limit is used up (${facts.message}).`,
                        {
                            used: usage?.used ?? 0,
                            max: usage?.max ?? 0,
                            share: this.share
                        }
                    );
                }
                if (
                    kind === 'retry' &&
                    (typeof retry === 'function' ? retry(failure) : retry) &&
                    attempt + 1 < this.retryOptions.maxAttempts
                ) {
                    const delay = backoffDelay(
                        attempt,
                        this.retryOptions,
                        this.random,
                        parseRetryAfter(capture.headers?.['retry-after'])
                    );
                    this.retried.requests += 1;
                    this.log(
                        'info',
                        `${what}: ${status ?? facts.code} ${facts.message.slice(0, 120)}; retry ${attempt + 1} in ${delay} ms`
                    );
                    await this.sleep(delay);
                    continue;
                }
                throw new SalesforceError(
                    facts.code,
                    `${what} failed${status ? ` (HTTP ${status})` : ''}: ${facts.message}`,
                    { status, request: what, cause: err }
                );
            }
        }
    }

    // ----------------------------------------------------------------- reads

    /**
     * REST query, page by page (≤ 2,000 rows each), records without `attributes`.
     * The first page's `totalSize` tells the caller how large the result is.
     */
    async *queryPages<T extends SObjectRow = SObjectRow>(
        soql: string,
        options: { all?: boolean } = {}
    ): AsyncGenerator<{ records: T[]; totalSize: number; done: boolean }> {
        yield* this.pagesFrom<T>(queryUrl(soql, options.all));
    }

    /**
     * Several SOQL queries, each read to its end: up to five at a time in one Composite
     * request (one API request instead of five; composite.ts), a result with more pages
     * continued with queryMore. Yields each query's pages with its index.
     */
    async *queryEach<T extends SObjectRow = SObjectRow>(
        soqls: readonly string[]
    ): AsyncGenerator<{ index: number; records: T[] }> {
        if (soqls.length === 1) {
            for await (const page of this.queryPages<T>(soqls[0]))
                yield { index: 0, records: page.records };
            return;
        }
        for (
            let i = 0;
            i < soqls.length;
            i += COMPOSITE_MAX_COLLECTION_OR_QUERY
        ) {
            const group = soqls.slice(i, i + COMPOSITE_MAX_COLLECTION_OR_QUERY);
            const res = await composite(
                this,
                group.map((soql, j) =>
                    this.querySubrequest(queryUrl(soql), `q${j}`)
                )
            );
            for (const [j, r] of res.results.entries()) {
                const page = r.body as QueryPage | null;
                if (!r.ok || !page) throw subrequestError(r, 'GET /query');
                yield {
                    index: i + j,
                    records: page.records.map(
                        (rec) => stripAttributes(rec) as T
                    )
                };
                if (!page.done && page.nextRecordsUrl)
                    for await (const more of this.pagesFrom<T>(
                        page.nextRecordsUrl
                    ))
                        yield { index: i + j, records: more.records };
            }
        }
    }

    /** The pages of a query from `path` (a query URL or a nextRecordsUrl) on. */
    private async *pagesFrom<T extends SObjectRow>(
        start: string
    ): AsyncGenerator<{ records: T[]; totalSize: number; done: boolean }> {
        let path: string | undefined = start;
        while (path) {
            const ahead = this.takeAhead(path);
            let page: QueryPage;
            if (ahead) {
                page = ahead.page;
                // The org's time when this page was read, for cursors (mirror.ts).
                if (ahead.servedAt) this.lastServerTime = ahead.servedAt;
            } else page = await this.pageAt(path);
            yield {
                records: page.records.map((r) => stripAttributes(r) as T),
                totalSize: page.totalSize,
                done: page.done
            };
            path = page.done ? undefined : page.nextRecordsUrl;
        }
    }

    /**
     * Reads ahead, in one Composite request, what a job is about to read one request at
     * a time: describes (into the describe cache, as describe() keeps them) and the
     * first page of each query, kept for the read of the same SOQL (queryPages, scan,
     * queryAll) to take instead of requesting it — once, and only within
     * READ_AHEAD_TTL_MS. Composite runs sObject resources (describe among them), Query
     * and QueryAll as subrequests, "up to 25 subrequests in a single call. Up to 5 of
     * these subrequests can be sObject Collections or query operations", and "The
     * entire series of requests counts as a single call toward your API limits" (REST
     * API Developer Guide, Send Multiple Requests Using Composite,
     * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite_post.htm):
     * so queries go five to a request, the describes with the first five, and a group
     * that would carry a single subrequest is left to be read as it comes (nothing to
     * save). A subrequest Salesforce refuses keeps nothing — its read then happens as
     * before and meets the refusal itself — and so does a Composite request that fails
     * (logged; the budget and an abort still stop the run). A page read ahead is as
     * old as the Composite answer: its reader gets that answer's time as
     * lastServerTime, never a later one.
     */
    async readAhead(reads: {
        describes?: readonly string[];
        queries?: readonly { soql: string; all?: boolean }[];
    }): Promise<void> {
        const describes = [...new Set(reads.describes ?? [])].filter((o) => {
            const cached = this.describeCache.get(o);
            return !(cached && Date.now() - cached.at < this.describeTtlMs);
        });
        const urls = [
            ...new Set(
                (reads.queries ?? []).map((q) => queryUrl(q.soql, q.all))
            )
        ];
        const groups: string[][] = [];
        for (let i = 0; i < urls.length; i += COMPOSITE_MAX_COLLECTION_OR_QUERY)
            groups.push(urls.slice(i, i + COMPOSITE_MAX_COLLECTION_OR_QUERY));
        if (groups.length === 0) groups.push([]);
        for (const [g, group] of groups.entries()) {
            const objects = g === 0 ? describes : [];
            if (objects.length + group.length < 2) continue;
            const subrequests: CompositeSubrequest[] = [
                ...objects.map((o, i) => ({
                    method: 'GET' as const,
                    url: `/sobjects/${o}/describe`,
                    referenceId: `d${i}`
                })),
                ...group.map((url, i) => this.querySubrequest(url, `q${i}`))
            ];
            let res: CompositeResult;
            try {
                res = await composite(this, subrequests);
            } catch (err) {
                if (!(err instanceof SalesforceError)) throw err;
                this.log(
                    'info',
                    `reading ahead in one Composite request failed (${err.message.slice(0, 120)}): each read is made on its own`
                );
                return;
            }
            const at = Date.now();
            const servedAt = this.lastServerTime;
            objects.forEach((o, i) => {
                const r = res.get<DescribeResult>(`d${i}`);
                if (r.ok && r.body)
                    this.describeCache.set(o, { at, result: r.body });
                else if (
                    r.status === 404 ||
                    r.errors.some(
                        (e) =>
                            e.errorCode === 'NOT_FOUND' ||
                            e.errorCode === 'INVALID_TYPE'
                    )
                )
                    this.describeCache.set(o, { at, result: null });
            });
            group.forEach((url, i) => {
                const r = res.get<QueryPage>(`q${i}`);
                if (r.ok && r.body && Array.isArray(r.body.records))
                    this.ahead.set(url, { at, servedAt, page: r.body });
            });
        }
    }

    /**
     * The page at `path` (a query URL or a nextRecordsUrl). When pages read ahead for
     * other queries are waiting with more to come, their next pages come in the same
     * Composite request (up to five query operations, Query More among them: see
     * readAhead), kept for their readers as readAhead keeps first pages — so that the
     * queries read ahead together also continue together. Otherwise one GET.
     */
    private async pageAt(path: string): Promise<QueryPage> {
        const now = Date.now();
        const others = [
            ...new Set(
                [...this.ahead.values()]
                    .filter((a) => now - a.at <= READ_AHEAD_TTL_MS)
                    .map((a) =>
                        a.page.done ? '' : (a.page.nextRecordsUrl ?? '')
                    )
                    .filter((u) => u !== '' && u !== path && !this.ahead.has(u))
            )
        ].slice(0, COMPOSITE_MAX_COLLECTION_OR_QUERY - 1);
        if (others.length > 0) {
            let res: CompositeResult | undefined;
            try {
                res = await composite(
                    this,
                    [path, ...others].map((url, i) =>
                        this.querySubrequest(url, `q${i}`)
                    )
                );
            } catch (err) {
                if (!(err instanceof SalesforceError)) throw err;
                this.log(
                    'info',
                    `reading ahead in one Composite request failed (${err.message.slice(0, 120)}): the page is read on its own`
                );
            }
            if (res) {
                const at = Date.now();
                const servedAt = this.lastServerTime;
                others.forEach((url, i) => {
                    const r = res.get<QueryPage>(`q${i + 1}`);
                    if (r.ok && r.body && Array.isArray(r.body.records))
                        this.ahead.set(url, { at, servedAt, page: r.body });
                });
                const mine = res.get<QueryPage>('q0');
                if (mine.ok && mine.body) return mine.body;
                throw subrequestError(mine, `GET ${path.split('?')[0]}`);
            }
        }
        const res: ApiResponse<QueryPage> = await this.request({
            method: 'GET',
            path,
            headers: this.queryOptions()
        });
        return res.body;
    }

    /** The header that asks for pages of `restPageSize` rows. */
    private queryOptions(): Record<string, string> {
        return { 'Sforce-Query-Options': `batchSize=${this.restPageSize}` };
    }

    /** A query page (a query URL or a nextRecordsUrl) as a Composite subrequest. */
    private querySubrequest(
        url: string,
        referenceId: string
    ): CompositeSubrequest {
        return {
            method: 'GET',
            url,
            referenceId,
            httpHeaders: this.queryOptions()
        };
    }

    /** A page read ahead for `path`, taken (once) while fresh. */
    private takeAhead(
        path: string
    ): { servedAt: string | null; page: QueryPage } | undefined {
        const kept = this.ahead.get(path);
        if (!kept) return undefined;
        this.ahead.delete(path);
        return Date.now() - kept.at <= READ_AHEAD_TTL_MS ? kept : undefined;
    }

    /** All rows of a (small) REST query. */
    async queryAll<T extends SObjectRow = SObjectRow>(
        soql: string
    ): Promise<T[]> {
        const out: T[] = [];
        for await (const page of this.queryPages<T>(soql))
            out.push(...page.records);
        return out;
    }

    /** `SELECT COUNT() FROM …` → the count. */
    async count(soql: string): Promise<number> {
        const res = await this.request<{ totalSize: number }>({
            method: 'GET',
            path: `/query?q=${encodeURIComponent(soql)}`
        });
        return res.body.totalSize;
    }

    /**
     * Every row of a query, in pages, with flat memory: REST when the result is small,
     * Bulk API 2.0 otherwise (decided on the first REST page's totalSize, so a small
     * scan costs no extra COUNT request). Values are normalised: booleans as booleans
     * (listed in `booleanFields`), empty as null, everything else as strings.
     */
    async *scan(
        soql: string,
        options: {
            booleanFields?: readonly string[];
            forceBulk?: boolean;
            /** queryAll (REST `/queryAll`, Bulk `queryAll`): deleted rows too. */
            all?: boolean;
            /** Told which API the scan uses. */
            onMode?: (mode: 'rest' | 'bulk') => void;
        } = {}
    ): AsyncGenerator<SObjectRow[]> {
        const booleans = new Set(options.booleanFields ?? []);
        if (!options.forceBulk) {
            const pages = this.queryPages(soql, { all: options.all });
            const first = await pages.next();
            if (first.done) return;
            const page = first.value;
            const remaining = page.totalSize - page.records.length;
            if (
                page.done ||
                chooseReadMode(remaining, {
                    restPageSize: this.restPageSize,
                    bulkPageSize: this.bulkQueryPageSize
                }) === 'rest'
            ) {
                options.onMode?.('rest');
                yield page.records;
                for await (const next of pages) yield next.records;
                return;
            }
            await pages.return(undefined);
            this.log(
                'info',
                `${page.totalSize} rows: reading through Bulk API 2.0`
            );
        }
        options.onMode?.('bulk');
        for await (const rows of bulkQuery(
            this,
            soql,
            options.all ? 'queryAll' : 'query'
        )) {
            yield rows.map((r) => {
                const out: SObjectRow = {};
                for (const [k, v] of Object.entries(r))
                    out[k] = booleans.has(k)
                        ? v === 'true'
                        : v === ''
                          ? null
                          : v;
                return out;
            });
        }
    }

    /**
     * The org's clock at its latest answer (its `Date` header, to the second), null
     * before any; when a page read ahead is handed out (readAhead), the time of the
     * answer that brought it. Salesforce's time rather than this machine's, for cursors compared
     * with SystemModstamp.
     */
    lastServerTime: string | null = null;

    private noteServerTime(header: string | string[] | undefined): void {
        const t = Date.parse(
            Array.isArray(header) ? header[0] : (header ?? '')
        );
        if (!Number.isNaN(t)) this.lastServerTime = new Date(t).toISOString();
    }

    /**
     * `read()` once per `ttlMs` under `key` (a failed read is not kept). With ttlMs 0,
     * every call reads.
     */
    remember<T>(
        key: string,
        ttlMs: number,
        read: () => Promise<T>
    ): Promise<T> {
        const kept = this.memo.get(key);
        if (ttlMs > 0 && kept && Date.now() - kept.at < ttlMs)
            return kept.value as Promise<T>;
        const value = read();
        if (ttlMs > 0) {
            this.memo.set(key, { at: Date.now(), value });
            value.catch(() => {
                if (this.memo.get(key)?.value === value) this.memo.delete(key);
            });
        }
        return value;
    }

    /** Drops what `remember` keeps under `key` (after a write). */
    forget(key: string): void {
        this.memo.delete(key);
    }

    /** Describe of an object, or null when the org has no such object (cached). */
    async describe(object: string): Promise<DescribeResult | null> {
        const cached = this.describeCache.get(object);
        if (cached && Date.now() - cached.at < this.describeTtlMs)
            return cached.result;
        let result: DescribeResult | null;
        try {
            const res = await this.request<DescribeResult>({
                method: 'GET',
                path: `/sobjects/${object}/describe`
            });
            result = res.body;
        } catch (err) {
            if (
                err instanceof SalesforceError &&
                (err.status === 404 ||
                    err.errorCode === 'NOT_FOUND' ||
                    err.errorCode === 'INVALID_TYPE')
            )
                result = null;
            else throw err;
        }
        this.describeCache.set(object, { at: Date.now(), result });
        return result;
    }

    // ---------------------------------------------------------------- writes

    /**
     * Updates records by Id (each `{Id, field: value…}`): sObject Collections up to the
     * bulk threshold, Bulk API 2.0 above. One result per record, keyed by Id.
     */
    async updateRecords(
        object: string,
        records: readonly SObjectRow[],
        options: { mode?: 'collections' | 'bulk' } = {}
    ): Promise<WriteResult[]> {
        const mode =
            options.mode ?? chooseWriteMode(records.length, this.bulkThreshold);
        if (mode === 'bulk')
            return this.againWithHeader(
                object,
                'Id',
                records,
                await bulkWrite(this, object, 'update', 'Id', records)
            );
        return this.collectionsWrite(object, 'Id', records);
    }

    /**
     * Updates records of several objects by Id in the same sObject Collections
     * requests ("The list can contain objects of different types", processed in one
     * chunk per run of a type, at most 10 chunks a request: REST API, Update Records
     * Using sObject Collections): sorted by object, a request of 200 has at most two
     * (Contact, Lead). Above the bulk threshold, one Bulk job per object instead. One
     * result per record, in the order given.
     */
    async updateMixed(
        items: readonly { object: string; record: SObjectRow }[]
    ): Promise<WriteResult[]> {
        const objects = [...new Set(items.map((i) => i.object))].sort();
        if (
            objects.length === 1 ||
            chooseWriteMode(items.length, this.bulkThreshold) === 'bulk'
        ) {
            const byId = new Map<string, WriteResult>();
            for (const object of objects)
                for (const r of await this.updateRecords(
                    object,
                    items
                        .filter((i) => i.object === object)
                        .map((i) => i.record)
                ))
                    byId.set(r.key, r);
            return items.map(
                (i) => byId.get(String(i.record.Id)) as WriteResult
            );
        }
        const sorted = [...items].sort((a, b) =>
            a.object < b.object ? -1 : a.object > b.object ? 1 : 0
        );
        const results = await this.collectionsWrite(
            objects[0],
            'Id',
            sorted.map((i) => i.record),
            sorted.map((i) => i.object)
        );
        const byId = new Map(results.map((r) => [r.key, r]));
        return items.map((i) => byId.get(String(i.record.Id)) as WriteResult);
    }

    /** Upserts records on an external id field; as updateRecords. */
    async upsertRecords(
        object: string,
        externalIdField: string,
        records: readonly SObjectRow[],
        options: { mode?: 'collections' | 'bulk' } = {}
    ): Promise<WriteResult[]> {
        const mode =
            options.mode ?? chooseWriteMode(records.length, this.bulkThreshold);
        if (mode === 'bulk')
            return this.againWithHeader(
                object,
                externalIdField,
                records,
                await bulkWrite(
                    this,
                    object,
                    'upsert',
                    externalIdField,
                    records
                )
            );
        return this.collectionsWrite(object, externalIdField, records);
    }

    /** Bulk results with the duplicate-rule refusals sent again through Collections. */
    private async againWithHeader(
        object: string,
        key: string,
        records: readonly SObjectRow[],
        results: WriteResult[]
    ): Promise<WriteResult[]> {
        const refused = new Set(
            results.filter(refusedAsDuplicate).map((r) => r.key)
        );
        if (refused.size === 0) return results;
        this.log(
            'info',
            `${refused.size} ${object} record(s) refused by a duplicate rule in a Bulk job (which cannot carry the duplicate rule header): sending them again through sObject Collections`
        );
        const again = new Map(
            (
                await this.collectionsWrite(
                    object,
                    key,
                    records.filter((r) => refused.has(String(r[key])))
                )
            ).map((r) => [r.key, r])
        );
        return results.map((r) => {
            const next = again.get(r.key);
            return next ? { ...next, attempts: next.attempts + r.attempts } : r;
        });
    }

    /** Creates one record (settings); returns its id. */
    async createRecord(object: string, fields: SObjectRow): Promise<string> {
        const res = await this.request<{ id: string }>({
            method: 'POST',
            path: `/sobjects/${object}`,
            body: fields,
            headers: { ...DUPLICATE_RULE_HEADER }
        });
        return res.body.id;
    }

    /** Updates one record by id (settings). */
    async updateRecord(
        object: string,
        id: string,
        fields: SObjectRow
    ): Promise<void> {
        await this.request({
            method: 'PATCH',
            path: `/sobjects/${object}/${id}`,
            body: fields,
            headers: { ...DUPLICATE_RULE_HEADER }
        });
    }

    /**
     * sObject Collections update (key `Id`) or upsert (key = external id field), 200
     * records a request, allOrNone false. Records failing with UNABLE_TO_LOCK_ROW are
     * sent again (after a back-off) up to `lockRetries` times; other per-record errors
     * are final.
     */
    async collectionsWrite(
        object: string,
        key: string,
        records: readonly SObjectRow[],
        /** Each record's type when they are not all `object` (updates by Id only). */
        types?: readonly string[]
    ): Promise<WriteResult[]> {
        const results = new Map<string, WriteResult>();
        let pending = records.map((r, i) => ({
            record: r,
            key: String(r[key]),
            type: types?.[i] ?? object
        }));
        for (let round = 0; pending.length > 0; round++) {
            if (round > 0) {
                await this.sleep(
                    backoffDelay(round - 1, this.retryOptions, this.random)
                );
                this.retried.records += pending.length;
            }
            const locked: typeof pending = [];
            const chunks: (typeof pending)[] = [];
            for (let i = 0; i < pending.length; i += 200)
                chunks.push(pending.slice(i, i + 200));
            // More than one chunk: up to five go in one Composite request (one API
            // request; composite.ts), else each is a request of its own.
            for (
                let i = 0;
                i < chunks.length;
                i += COMPOSITE_MAX_COLLECTION_OR_QUERY
            ) {
                const group = chunks.slice(
                    i,
                    i + COMPOSITE_MAX_COLLECTION_OR_QUERY
                );
                const answers = await this.collectionsRequests(
                    object,
                    key,
                    group
                );
                group.forEach((chunk, c) =>
                    answers[c].forEach((r, j) => {
                        const item = chunk[j];
                        const prev = results.get(item.key);
                        const result: WriteResult = {
                            key: item.key,
                            id: r.id ?? (key === 'Id' ? item.key : null),
                            success: r.success,
                            ...(r.created !== undefined
                                ? { created: r.created }
                                : {}),
                            errors: (r.errors ?? []).map((e) => ({
                                statusCode: e.statusCode,
                                message: e.message,
                                fields: e.fields ?? []
                            })),
                            attempts: (prev?.attempts ?? 0) + 1
                        };
                        results.set(item.key, result);
                        if (
                            !r.success &&
                            result.errors.some(
                                (e) => e.statusCode === 'UNABLE_TO_LOCK_ROW'
                            ) &&
                            round < this.retryOptions.lockRetries
                        )
                            locked.push(item);
                    })
                );
            }
            pending = locked;
        }
        return records.map((r) => results.get(String(r[key])) as WriteResult);
    }

    /**
     * One sObject Collections write per chunk (≤ 200 records each, allOrNone false):
     * a single chunk as its own request, several (≤ 5) as the subrequests of one
     * Composite request. Sending one again is harmless (absolute values by Id or
     * external id), so the composite is retried like a read. A chunk refused as a
     * whole fails the write as a refused Collections request does.
     */
    private async collectionsRequests(
        object: string,
        key: string,
        chunks: readonly (readonly { record: SObjectRow; type: string }[])[]
    ): Promise<CollectionAnswer[][]> {
        const path =
            key === 'Id'
                ? '/composite/sobjects'
                : `/composite/sobjects/${object}/${key}`;
        const bodies = chunks.map((chunk) => ({
            allOrNone: false,
            records: chunk.map(({ record, type }) => {
                const out: SObjectRow = { attributes: { type } };
                for (const [k, v] of Object.entries(record))
                    out[k === 'Id' ? 'id' : k] = v;
                return out;
            })
        }));
        if (bodies.length === 1) {
            const res = await this.request<CollectionAnswer[]>({
                method: 'PATCH',
                path,
                body: bodies[0],
                headers: { ...DUPLICATE_RULE_HEADER }
            });
            return [res.body];
        }
        const res = await composite(
            this,
            bodies.map((body, i) => ({
                method: 'PATCH' as const,
                url: path,
                referenceId: `chunk${i}`,
                body,
                httpHeaders: { ...DUPLICATE_RULE_HEADER }
            })),
            { retryWrites: true }
        );
        return res.results.map((r) => {
            if (r.ok && Array.isArray(r.body))
                return r.body as CollectionAnswer[];
            throw subrequestError(r, `PATCH ${path}`);
        });
    }
}

/** A failed subrequest of a Composite request, as the error the request alone would throw. */
function subrequestError(
    r: CompositeSubresult,
    request: string
): SalesforceError {
    const [first] = r.errors;
    return new SalesforceError(
        first?.errorCode ?? 'UNKNOWN',
        `${request} (in a composite request) failed (HTTP ${r.status}): ${first?.message ?? 'refused'}`,
        { status: r.status, request }
    );
}

/** The REST query (or queryAll) URL of a SOQL query, below the versioned root. */
function queryUrl(soql: string, all?: boolean): string {
    return `/${all ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`;
}

/**
 * How long a page read ahead waits for its reader: the reads it is made for follow at
 * once; an older one is read again rather than handed out.
 */
export const READ_AHEAD_TTL_MS = 60_000;

/** One page of a REST query. */
interface QueryPage {
    totalSize: number;
    done: boolean;
    nextRecordsUrl?: string;
    records: Record<string, unknown>[];
}

/** One record's answer in an sObject Collections write. */
interface CollectionAnswer {
    id?: string | null;
    success: boolean;
    created?: boolean;
    errors?: RecordError[];
}

export function stripAttributes(record: Record<string, unknown>): SObjectRow {
    const out: SObjectRow = {};
    for (const [k, v] of Object.entries(record)) {
        if (k === 'attributes') continue;
        out[k] =
            v && typeof v === 'object' && !Array.isArray(v)
                ? stripAttributes(v as Record<string, unknown>)
                : v;
    }
    return out;
}

export { header as responseHeader };
