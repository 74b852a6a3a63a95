/**
 * Bulk API 2.0 through an OrgClient (so every request is counted, budget-checked and
 * retried like any other).
 *
 * Query: create the job, poll with back-off, then read the CSV results page by page
 * (`maxRecords` = bulkQueryPageSize, `Sforce-Locator`). A page is large (500,000 rows by
 * default: a million records take a handful of requests) because it is never held
 * whole: its body is parsed as it arrives and its rows are yielded in arrays of at most
 * bulkQueryChunkRows, so memory stays flat whatever the page size. A page whose download
 * breaks is read again by its locator, skipping the rows already yielded. The job is
 * deleted at the end.
 *
 * Ingest (update / upsert): one job per `bulkJobSize` records: create, upload the CSV,
 * close, poll (the first poll one interval after the close), then read the results the
 * job's counts call for — failed ones when some failed, unprocessed ones when some were
 * not processed, successful ones when the caller needs them (an upsert's Ids) or the
 * counts leave a record unaccounted for (ingestResults) — and map them back to the
 * records by their key (Id or the external id). An upload that got no answer is
 * never sent to the same job again (the job is aborted and a new one started), and a
 * close whose answer was lost is confirmed by reading the job's state. Records failing with
 * UNABLE_TO_LOCK_ROW and records of a job that failed as a whole are sent again a few
 * times; other per-record errors are final.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, pipeline as pipelineStreams } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createInflate } from 'node:zlib';
import { parse as parseStream } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { RunAborted, SalesforceError } from './errors';
import {
    type OrgClient,
    type RecordError,
    type SObjectRow,
    type WriteResult,
    errorFacts
} from './client';
import { backoffDelay, classifyFailure, parseRetryAfter } from './policy';

export interface JobInfo {
    id: string;
    state: string;
    errorMessage?: string;
    numberRecordsProcessed?: number;
    numberRecordsFailed?: number;
}

const TERMINAL = new Set(['JobComplete', 'Failed', 'Aborted']);

/**
 * Polls a job until it is done, waiting longer between polls as it runs. `waitFirst`:
 * the first poll only after the first interval, not at once — for a job whose last
 * answer (the close of an ingest job) said it had only just been queued.
 */
async function waitForJob(
    client: OrgClient,
    kind: 'ingest' | 'query',
    id: string,
    options: { waitFirst?: boolean } = {}
): Promise<JobInfo> {
    const started = Date.now();
    let interval = client.poll.minMs;
    if (options.waitFirst) {
        await client.sleep(interval);
        interval = Math.min(client.poll.maxMs, Math.ceil(interval * 1.5));
    }
    for (;;) {
        const info = (
            await client.request<JobInfo>({
                method: 'GET',
                path: `/jobs/${kind}/${id}`
            })
        ).body;
        if (TERMINAL.has(info.state)) return info;
        if (Date.now() - started > client.poll.timeoutMs)
            throw new SalesforceError(
                'BULK_JOB_TIMEOUT',
                `Bulk ${kind} job ${id} was still ${info.state} after ${Math.round(client.poll.timeoutMs / 1000)} s`,
                { request: `GET /jobs/${kind}/${id}` }
            );
        await client.sleep(interval);
        interval = Math.min(client.poll.maxMs, Math.ceil(interval * 1.5));
    }
}

/** CSV text → rows keyed by header (all values strings; empty = null in Salesforce). */
export function parseCsv(text: string): Record<string, string>[] {
    if (!text || !text.trim()) return [];
    return parse(text, {
        columns: true,
        skip_empty_lines: true,
        relax_column_count: true
    }) as Record<string, string>[];
}

/**
 * Rows of one CSV body (header first) as it arrives, in arrays of at most `chunkRows`,
 * the first `skip` rows left out. An array is yielded only once it is full or the body
 * has ended cleanly: a body that breaks throws before its unfinished array (or a
 * half-received row) is yielded, so a reader that counts what it was given can read the
 * body again and skip exactly that many rows. The last row is held back until the body
 * has ended with a line break (Salesforce ends every row with one), so a body cut off
 * between two fields of its last row, yet ended as if whole, is not taken for complete.
 */
export async function* csvRowChunks(
    body: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
    options: { chunkRows: number; skip?: number }
): AsyncGenerator<Record<string, string>[]> {
    const parser = parseStream({
        columns: true,
        bom: true,
        skip_empty_lines: true,
        relax_column_count: true
    });
    let lastChar = '';
    async function* tap(): AsyncGenerator<Buffer | string> {
        for await (const piece of body) {
            if (piece.length)
                lastChar =
                    typeof piece === 'string'
                        ? piece[piece.length - 1]
                        : String.fromCharCode(piece[piece.length - 1]);
            yield piece;
        }
    }
    const source = Readable.from(tap(), { objectMode: false });
    // A failing source destroys the parser with its error, which the loop below throws.
    const piped = pipeline(source, parser);
    piped.catch(() => undefined);
    let skip = options.skip ?? 0;
    let rows: Record<string, string>[] = [];
    let held: Record<string, string> | undefined;
    try {
        for await (const row of parser as AsyncIterable<
            Record<string, string>
        >) {
            if (skip > 0) {
                skip--;
                continue;
            }
            if (held) rows.push(held);
            held = row;
            if (rows.length >= options.chunkRows) {
                const full = rows;
                rows = [];
                yield full;
            }
        }
        await piped;
    } finally {
        if (!source.destroyed) source.destroy();
        if (!parser.destroyed) parser.destroy();
        if (body instanceof Readable && !body.destroyed) body.destroy();
    }
    if (lastChar !== '' && lastChar !== '\n')
        throw new BrokenPage('results body ended inside a row');
    if (held) rows.push(held);
    while (rows.length > options.chunkRows)
        yield rows.splice(0, options.chunkRows);
    if (rows.length) yield rows;
}

/** A results page being received: its headers and its body as it arrives. */
interface ResultsPage {
    headers: Record<string, string | string[] | undefined>;
    body: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
    /** Stops the download (the consumer left early). */
    close(): void;
}

/** A failure while a page's body was arriving (the answer had begun: status 200). */
class BrokenPage extends Error {
    readonly code: string;
    constructor(message: string, code = 'ECONNRESET') {
        super(message);
        this.code = code;
    }
}

/** A refused results request (non-2xx), with the Retry-After it came with. */
class PageRefused extends SalesforceError {
    readonly retryAfter: number | undefined;
    constructor(
        code: string,
        message: string,
        options: { status: number; request: string; retryAfter?: number }
    ) {
        super(code, message, options);
        this.retryAfter = options.retryAfter;
    }
}

/** Any proxy variable jsforce would honour: then its transport is used, not ours. */
function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
    return ['https_proxy', 'http_proxy', 'HTTPS_PROXY', 'HTTP_PROXY'].some(
        (k) => !!env[k]
    );
}

/**
 * Whether results can be streamed straight from the org (see openResultsPage): not
 * through a proxy (jsforce's transport knows how to use one) nor without a session.
 */
function canStream(client: OrgClient): boolean {
    return (
        !!client.conn.accessToken &&
        /^https?:\/\//.test(client.conn.instanceUrl) &&
        !proxyConfigured()
    );
}

/** Pages read whole (not streamed) are kept to the size they had before streaming. */
const BUFFERED_PAGE_ROWS = 50_000;

/** No bytes for this long (either way) ends a results download as a failure. */
const RESULTS_IDLE_TIMEOUT_MS = 10 * 60_000;

/**
 * One GET of a results page, streamed: straight through node:http(s) with the
 * connection's instance URL and session, because jsforce's Connection.request reads
 * every body whole into memory before answering. Counted by the client's meter (it
 * listens at Node's http layer), budget-checked first. Where that cannot be done — a
 * proxy (jsforce's transport knows how to use it), or a connection without an access
 * token — the page is read whole through client.request and parsed the same way.
 */
async function openResultsPage(
    client: OrgClient,
    path: string
): Promise<ResultsPage> {
    const conn = client.conn;
    if (!canStream(client)) {
        const res = await client.request<string>({
            method: 'GET',
            path,
            headers: { Accept: 'text/csv' },
            raw: true,
            retry: false
        });
        return {
            headers: res.headers,
            body: [typeof res.body === 'string' ? res.body : ''],
            close: () => undefined
        };
    }
    client.checkBeforeRequest();
    // A keep-alive socket the server closed while this process was busy is dropped from
    // the pool only once the loop has polled it (client.ts, pollSockets).
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const url = new URL(`${client.basePath}${path}`, conn.instanceUrl);
    const res = await client.meter
        .run(
            () =>
                new Promise<IncomingMessage>((resolve, reject) => {
                    const send =
                        url.protocol === 'https:' ? httpsRequest : httpRequest;
                    const req = send(url, {
                        method: 'GET',
                        headers: {
                            Authorization: `Bearer ${conn.accessToken as string}`,
                            Accept: 'text/csv',
                            'Accept-Encoding': 'gzip, deflate'
                        },
                        ...(client.signal ? { signal: client.signal } : {})
                    });
                    req.setTimeout(RESULTS_IDLE_TIMEOUT_MS, () =>
                        req.destroy(
                            Object.assign(new Error('no data for 10 minutes'), {
                                code: 'ETIMEDOUT'
                            })
                        )
                    );
                    req.on('response', resolve);
                    req.on('error', reject);
                    req.end();
                })
        )
        .catch((err: unknown) => {
            if (client.signal?.aborted) throw new RunAborted();
            const facts = errorFacts(err);
            throw new SalesforceError(
                facts.code,
                `GET ${path.split('?')[0]} failed: ${facts.message}`,
                { request: `GET ${path.split('?')[0]}`, cause: err }
            );
        });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
        let text = '';
        for await (const chunk of res) text += String(chunk);
        // As jsforce reports it: Salesforce's [{errorCode, message}], else the status.
        const facts = errorFacts(
            Object.assign(new Error(text || `HTTP ${status}`), {
                errorCode: `ERROR_HTTP_${status}`
            })
        );
        throw new PageRefused(
            facts.code,
            `GET ${path.split('?')[0]} failed (HTTP ${status}): ${facts.message}`,
            {
                status,
                request: `GET ${path.split('?')[0]}`,
                retryAfter: parseRetryAfter(res.headers['retry-after'])
            }
        );
    }
    const encoding = String(
        res.headers['content-encoding'] ?? ''
    ).toLowerCase();
    // Compressed when the org compresses (Salesforce does for Accept-Encoding: gzip).
    // pipeline() passes a broken download on to the decompressor as an error.
    const decoded =
        encoding === 'gzip' || encoding === 'deflate'
            ? pipelineStreams(
                  res,
                  encoding === 'gzip' ? createGunzip() : createInflate(),
                  () => undefined
              )
            : res;
    return {
        headers: res.headers,
        body: decoded,
        close: () => {
            // Only an unfinished download gives up its connection.
            if (!res.complete) res.destroy();
            if (decoded !== res && !decoded.destroyed) decoded.destroy();
        }
    };
}

/** Whether a failed page read is worth another attempt. */
function pageFailure(err: unknown): 'retry' | 'session' | 'fatal' {
    if (err instanceof BrokenPage) return 'retry';
    if (!(err instanceof SalesforceError)) {
        // Errors of the body stream (reset, premature close, bad gzip) after a 200.
        const code = (err as { code?: unknown })?.code;
        return typeof code === 'string' || err instanceof Error
            ? 'retry'
            : 'fatal';
    }
    if (err.status === 401) return 'session';
    return classifyFailure({
        status: err.status,
        code: err.errorCode,
        message: err.message
    }) === 'retry'
        ? 'retry'
        : 'fatal';
}

/**
 * Every row of a finished query job, page by page, in arrays of at most
 * bulkQueryChunkRows (never spanning two pages). A read that fails — before the answer
 * or partway through its body — is retried with back-off by the same locator (a page's
 * locator and content do not change while the job exists), skipping the rows of that
 * page already yielded, so no row is lost or yielded twice. A page whose row count falls
 * short of its Sforce-NumberOfRecords is treated as broken too.
 */
async function* readResults(
    client: OrgClient,
    id: string
): AsyncGenerator<Record<string, string>[]> {
    let locator: string | undefined;
    const maxRecords = canStream(client)
        ? client.bulkQueryPageSize
        : Math.min(client.bulkQueryPageSize, BUFFERED_PAGE_ROWS);
    for (;;) {
        const params = new URLSearchParams({
            maxRecords: String(maxRecords)
        });
        if (locator) params.set('locator', locator);
        const path = `/jobs/query/${id}/results?${params.toString()}`;
        let given = 0;
        let next: string | undefined;
        let sessionRenewed = false;
        for (let attempt = 0; ; attempt++) {
            let page: ResultsPage | undefined;
            try {
                page = await openResultsPage(client, path);
                for await (const rows of csvRowChunks(page.body, {
                    chunkRows: client.bulkQueryChunkRows,
                    skip: given
                })) {
                    given += rows.length;
                    yield rows;
                }
                const announced = Number(
                    headerValue(page.headers, 'sforce-numberofrecords')
                );
                if (
                    headerValue(page.headers, 'sforce-numberofrecords') !==
                        undefined &&
                    given !== announced
                )
                    throw new BrokenPage(
                        `results page ended after ${given} of its ${announced} rows`
                    );
                next = headerValue(page.headers, 'sforce-locator');
                break;
            } catch (err) {
                if (err instanceof RunAborted || client.signal?.aborted)
                    throw err instanceof RunAborted ? err : new RunAborted();
                const kind = pageFailure(err);
                const last = attempt + 1 >= client.retryOptions.maxAttempts;
                if (kind === 'session' && !sessionRenewed && !last) {
                    // A session that expired: any request through the connection lets
                    // it renew the session (when it can), then the read is made again.
                    sessionRenewed = true;
                    client.retried.requests += 1;
                    await client.request({
                        method: 'GET',
                        path: `/jobs/query/${id}`
                    });
                    continue;
                }
                if (kind !== 'retry' || last) {
                    if (err instanceof SalesforceError) throw err;
                    throw new SalesforceError(
                        'BULK_RESULTS_BROKEN',
                        `GET /jobs/query/${id}/results failed: ${err instanceof Error ? err.message : String(err)}`,
                        { request: `GET /jobs/query/${id}/results`, cause: err }
                    );
                }
                const delay = backoffDelay(
                    attempt,
                    client.retryOptions,
                    client.random,
                    err instanceof PageRefused ? err.retryAfter : undefined
                );
                client.retried.requests += 1;
                client.log(
                    'info',
                    `GET /jobs/query/${id}/results: ${err instanceof Error ? err.message.slice(0, 120) : String(err)}; reading the page again (${given} of its rows already read) in ${delay} ms`
                );
                await client.sleep(delay);
            } finally {
                page?.close();
            }
        }
        locator = next;
        if (!locator || locator === 'null') return;
    }
}

function headerValue(
    headers: Record<string, string | string[] | undefined>,
    name: string
): string | undefined {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
}

/**
 * Streams a Bulk API 2.0 query: yields its rows as objects of strings, in arrays of at
 * most bulkQueryChunkRows. A job that fails as a whole is started again (twice at most).
 */
export async function* bulkQuery(
    client: OrgClient,
    soql: string,
    /** queryAll: deleted and archived rows too (IsDeleted, the Recycle Bin). */
    operation: 'query' | 'queryAll' = 'query'
): AsyncGenerator<Record<string, string>[]> {
    let info: JobInfo | undefined;
    for (let attempt = 0; ; attempt++) {
        const created = await client.request<JobInfo>({
            method: 'POST',
            path: '/jobs/query',
            body: {
                operation,
                query: soql,
                contentType: 'CSV',
                columnDelimiter: 'COMMA',
                lineEnding: 'LF'
            }
        });
        info = await waitForJob(client, 'query', created.body.id);
        if (info.state === 'JobComplete') break;
        if (attempt >= 2)
            throw new SalesforceError(
                'BULK_JOB_FAILED',
                `Bulk query job ${info.id} ended ${info.state}: ${info.errorMessage ?? 'no reason given'}`,
                { request: 'POST /jobs/query' }
            );
        client.retried.requests += 1;
        client.log(
            'warn',
            `Bulk query job ${info.id} ended ${info.state} (${info.errorMessage ?? ''}); starting it again`
        );
        await client.sleep(
            backoffDelay(attempt, client.retryOptions, client.random)
        );
    }
    const id = info.id;
    try {
        yield* readResults(client, id);
    } finally {
        // Tidy up (Salesforce would delete it after 7 days anyway): best effort.
        await client
            .request({
                method: 'DELETE',
                path: `/jobs/query/${id}`,
                retry: false
            })
            .catch(() => undefined);
    }
}

function csvCell(v: unknown): string {
    if (v === undefined) return '';
    // Bulk API 2.0: "#N/A" sets a field to null; an empty cell leaves it unchanged.
    if (v === null) return '#N/A';
    const s = typeof v === 'boolean' ? String(v) : String(v);
    return /[",\n\r]/.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Rows → CSV (LF line endings) with the given column order, appended to one string
 * line by line: no array of lines (nor of cells) for a job of 100,000 records.
 */
export function toCsv(
    columns: readonly string[],
    rows: readonly SObjectRow[]
): string {
    let csv = `${columns.join(',')}\n`;
    for (const r of rows) {
        let line = '';
        for (let i = 0; i < columns.length; i++)
            line += (i ? ',' : '') + csvCell(r[columns[i]]);
        csv += `${line}\n`;
    }
    return csv;
}

/** The key first, then every other field any row has, in first-seen order. */
function csvColumns(key: string, rows: readonly SObjectRow[]): string[] {
    const columns = new Set<string>([key]);
    for (const r of rows) for (const c of Object.keys(r)) columns.add(c);
    return [...columns];
}

/** `CODE:message:fields` (Bulk failed results) → RecordError. */
export function parseBulkError(text: string): RecordError {
    const m = /^([A-Z_]+):(.*?)(?::([^:]*))?$/s.exec(text.trim());
    if (!m) return { statusCode: 'UNKNOWN', message: text, fields: [] };
    const fields =
        m[3] && m[3] !== '--'
            ? m[3]
                  .split(',')
                  .map((f) => f.trim())
                  .filter(Boolean)
            : [];
    return { statusCode: m[1], message: m[2] || text, fields };
}

/** One ingest job over `rows`; results keyed by `key`. */
async function ingestJob(
    client: OrgClient,
    object: string,
    operation: 'update' | 'upsert',
    key: string,
    rows: readonly SObjectRow[]
): Promise<{ results: Map<string, WriteResult>; jobFailed?: string }> {
    const csv = toCsv(csvColumns(key, rows), rows);
    let id: string;
    for (let attempt = 0; ; attempt++) {
        const created = await client.request<JobInfo>({
            method: 'POST',
            path: '/jobs/ingest',
            body: {
                object,
                operation,
                ...(operation === 'upsert' ? { externalIdFieldName: key } : {}),
                contentType: 'CSV',
                columnDelimiter: 'COMMA',
                lineEnding: 'LF'
            }
        });
        id = created.body.id;
        try {
            // Never re-sent to the same job: an upload whose answer was lost may have
            // arrived, and a second one would add every row again.
            await client.request({
                method: 'PUT',
                path: `/jobs/ingest/${id}/batches`,
                body: csv,
                contentType: 'text/csv',
                retry: false
            });
            break;
        } catch (err) {
            if (
                !transient(err) ||
                attempt + 1 >= client.retryOptions.maxAttempts
            )
                throw err;
            client.retried.requests += 1;
            client.log(
                'info',
                `Bulk upload to job ${id} got no answer (${err instanceof Error ? err.message.slice(0, 100) : ''}); aborting it and starting a new job`
            );
            await abortJob(client, id);
            await client.sleep(
                backoffDelay(attempt, client.retryOptions, client.random)
            );
        }
    }
    try {
        await client.request({
            method: 'PATCH',
            path: `/jobs/ingest/${id}`,
            body: { state: 'UploadComplete' }
        });
    } catch (err) {
        // A retried close whose first answer was lost finds the job closed already.
        if (
            !(err instanceof SalesforceError) ||
            err.errorCode !== 'INVALIDJOBSTATE'
        )
            throw err;
        const state = (
            await client.request<JobInfo>({
                method: 'GET',
                path: `/jobs/ingest/${id}`
            })
        ).body.state;
        if (state === 'Open') throw err;
    }
    // The close answered with the job UploadComplete: "All job data has been uploaded
    // and the job is ready to be processed" (Bulk API 2.0 Developer Guide, Job States,
    // https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_bulk_v2/bulk_api_2_job_states.htm).
    // A poll at once would read that again: the first one waits the first interval.
    const info = await waitForJob(client, 'ingest', id, { waitFirst: true });
    if (info.state !== 'JobComplete')
        return {
            results: new Map(),
            jobFailed: `Bulk job ${id} ended ${info.state}: ${info.errorMessage ?? 'no reason given'}`
        };
    return {
        results: await ingestResults(client, id, operation, key, rows, info)
    };
}

/**
 * The outcome of each record of a finished ingest job, with as few results requests as
 * its counts allow. A finished job's info (Get Information About an Ingest Job,
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_info.htm)
 * carries numberRecordsProcessed and numberRecordsFailed; a failed record is a
 * processed one — "Unprocessed rows are not the same as failed rows. Failed rows are
 * processed but encounter an error during processing" (Get Job Unprocessed Record
 * Results,
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_unprocessed_results.htm).
 * So:
 * - failedResults only when numberRecordsFailed is not 0 (their errors: R14);
 * - unprocessedrecords only when fewer records were processed than uploaded;
 * - successfulResults only when the caller needs what only it has — an upsert's
 *   record Ids and created flags (the audit's record id, R10) — or when the counts and
 *   the files read do not account for every record uploaded ("Results are not
 *   recorded for batches that exceed the daily batch allocation", Get Job Failed
 *   Record Results,
 *   https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/get_job_failed_results.htm):
 *   then a success is read, never assumed. An update by Id whose counts add up has
 *   nothing in that file the request did not have: each record neither failed nor
 *   unprocessed succeeded, with its own Id.
 */
export async function ingestResults(
    client: OrgClient,
    id: string,
    operation: 'update' | 'upsert',
    key: string,
    rows: readonly SObjectRow[],
    info: JobInfo
): Promise<Map<string, WriteResult>> {
    const get = async (which: string): Promise<Record<string, string>[]> =>
        parseCsv(
            (
                await client.request<string>({
                    method: 'GET',
                    path: `/jobs/ingest/${id}/${which}`,
                    headers: { Accept: 'text/csv' },
                    raw: true
                })
            ).body
        );
    const processed = count(info.numberRecordsProcessed);
    const failedCount = count(info.numberRecordsFailed);
    const keys = new Set(rows.map((r) => String(r[key])));
    const results = new Map<string, WriteResult>();
    const addSuccesses = (list: Record<string, string>[]): void => {
        for (const r of list) {
            const k = r[key] || r.sf__Id;
            results.set(k, {
                key: k,
                id: r.sf__Id || null,
                success: true,
                ...(operation === 'upsert'
                    ? { created: r.sf__Created === 'true' }
                    : {}),
                errors: [],
                attempts: 1
            });
        }
    };
    // Successes inferred from the counts: only for an update by Id (the Id is all a
    // success would tell) whose counts are there and whose keys are distinct.
    const infer =
        operation === 'update' &&
        key === 'Id' &&
        processed !== undefined &&
        failedCount !== undefined &&
        processed <= rows.length &&
        keys.size === rows.length;
    if (!infer) addSuccesses(await get('successfulResults'));
    const failed = failedCount === 0 ? [] : await get('failedResults');
    for (const r of failed) {
        const k = r[key] || r.sf__Id;
        results.set(k, {
            key: k,
            id: r.sf__Id || null,
            success: false,
            errors: [parseBulkError(r.sf__Error ?? '')],
            attempts: 1
        });
    }
    // Records Salesforce did not reach (job aborted midway): retried like lock errors.
    const unprocessed: string[] = [];
    if (
        processed !== undefined
            ? processed < rows.length
            : results.size < rows.length
    ) {
        for (const r of await get('unprocessedrecords')) {
            const k = r[key];
            unprocessed.push(k);
            if (!results.has(k))
                results.set(k, {
                    key: k,
                    id: null,
                    success: false,
                    errors: [
                        {
                            statusCode: 'UNPROCESSED',
                            message: 'not processed by the Bulk job',
                            fields: []
                        }
                    ],
                    attempts: 1
                });
        }
    }
    if (!infer) return results;
    // Every failure listed, every record not processed listed, and the two make up
    // the rest of the upload: the others succeeded. Anything that does not add up is
    // read from successfulResults instead of assumed (a record in neither file is then
    // reported unprocessed by bulkWrite and sent again).
    const listed = new Set([
        ...failed.map((r) => r[key] || r.sf__Id),
        ...unprocessed
    ]);
    const addsUp =
        failed.length === failedCount &&
        processed + unprocessed.length === rows.length &&
        listed.size === failed.length + unprocessed.length &&
        [...listed].every((k) => keys.has(k));
    if (!addsUp) {
        const before = new Map(results);
        addSuccesses(await get('successfulResults'));
        // A failure or an unprocessed row listed stands (a success is not taken twice).
        for (const [k, r] of before) results.set(k, r);
        return results;
    }
    for (const k of keys)
        if (!results.has(k))
            results.set(k, {
                key: k,
                id: k,
                success: true,
                errors: [],
                attempts: 1
            });
    return results;
}

/** A job count as reported (a number of 0 or more), else undefined. */
function count(v: unknown): number | undefined {
    return typeof v === 'number' && Number.isInteger(v) && v >= 0
        ? v
        : undefined;
}

/** A failed request worth another attempt (5xx, 429, a dropped connection). */
function transient(err: unknown): boolean {
    return (
        err instanceof SalesforceError &&
        classifyFailure({
            status: err.status,
            code: err.errorCode,
            message: err.message
        }) === 'retry'
    );
}

/** Aborts an ingest job nobody will close (best effort: it expires anyway). */
async function abortJob(client: OrgClient, id: string): Promise<void> {
    await client
        .request({
            method: 'PATCH',
            path: `/jobs/ingest/${id}`,
            body: { state: 'Aborted' },
            retry: false
        })
        .catch(() => undefined);
}

const RETRYABLE_RECORD_ERRORS = new Set(['UNABLE_TO_LOCK_ROW', 'UNPROCESSED']);

/**
 * Writes through Bulk API 2.0, `bulkJobSize` records per job. Lock errors and
 * unprocessed records are retried (through sObject Collections when few are left, else
 * another job); a job that fails as a whole is retried twice, then its records are
 * reported failed with the job's error.
 */
export async function bulkWrite(
    client: OrgClient,
    object: string,
    operation: 'update' | 'upsert',
    key: string,
    records: readonly SObjectRow[]
): Promise<WriteResult[]> {
    const final = new Map<string, WriteResult>();
    for (let start = 0; start < records.length; start += client.bulkJobSize) {
        let pending = records.slice(start, start + client.bulkJobSize);
        let jobFailures = 0;
        for (let round = 0; pending.length > 0; round++) {
            if (round > 0) {
                client.retried.records += pending.length;
                await client.sleep(
                    backoffDelay(round - 1, client.retryOptions, client.random)
                );
            }
            let results: Map<string, WriteResult>;
            if (round > 0 && pending.length <= client.bulkThreshold) {
                const list = await client.collectionsWrite(
                    object,
                    key,
                    pending
                );
                results = new Map(list.map((r) => [r.key, r]));
            } else {
                const job = await ingestJob(
                    client,
                    object,
                    operation,
                    key,
                    pending
                );
                if (job.jobFailed) {
                    jobFailures += 1;
                    client.log('warn', job.jobFailed);
                    if (jobFailures > 2) {
                        for (const r of pending) {
                            const k = String(r[key]);
                            final.set(k, {
                                key: k,
                                id: null,
                                success: false,
                                errors: [
                                    {
                                        statusCode: 'BULK_JOB_FAILED',
                                        message: job.jobFailed,
                                        fields: []
                                    }
                                ],
                                attempts: round + 1
                            });
                        }
                        break;
                    }
                    continue;
                }
                results = job.results;
            }
            const again: SObjectRow[] = [];
            for (const r of pending) {
                const k = String(r[key]);
                const res = results.get(k) ?? {
                    key: k,
                    id: null,
                    success: false,
                    errors: [
                        {
                            statusCode: 'UNPROCESSED',
                            message: 'no result reported for this record',
                            fields: []
                        }
                    ],
                    attempts: 1
                };
                const attempts = (final.get(k)?.attempts ?? 0) + res.attempts;
                // The job's own result object when this is the record's first round:
                // a copy of each of a job's 100,000 results would double them in memory.
                final.set(
                    k,
                    attempts === res.attempts ? res : { ...res, attempts }
                );
                if (
                    !res.success &&
                    res.errors.some((e) =>
                        RETRYABLE_RECORD_ERRORS.has(e.statusCode)
                    ) &&
                    round < client.retryOptions.lockRetries
                )
                    again.push(r);
            }
            pending = again;
        }
    }
    return records.map((r) => final.get(String(r[key])) as WriteResult);
}
