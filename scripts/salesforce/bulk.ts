/**
 * Bulk API 2.0 through an OrgClient (so every request is counted, budget-checked and
 * retried like any other).
 *
 * Query: create the job, poll with back-off, read the CSV results page by page
 * (`maxRecords`, `Sforce-Locator`), yielding each page as it arrives — never the whole
 * result set — then delete the job.
 *
 * Ingest (update / upsert): one job per `bulkJobSize` records: create, upload the CSV,
 * close, poll, then read successful, failed and unprocessed results and map them back to
 * the records by their key (Id or the external id). An upload that got no answer is
 * never sent to the same job again (the job is aborted and a new one started), and a
 * close whose answer was lost is confirmed by reading the job's state. Records failing with
 * UNABLE_TO_LOCK_ROW and records of a job that failed as a whole are sent again a few
 * times; other per-record errors are final.
 */
import { parse } from 'csv-parse/sync';
import { SalesforceError } from './errors';
import type { OrgClient, RecordError, SObjectRow, WriteResult } from './client';
import { backoffDelay, classifyFailure } from './policy';

interface JobInfo {
    id: string;
    state: string;
    errorMessage?: string;
    numberRecordsProcessed?: number;
    numberRecordsFailed?: number;
}

const TERMINAL = new Set(['JobComplete', 'Failed', 'Aborted']);

/** Polls a job until it is done, waiting longer between polls as it runs. */
async function waitForJob(
    client: OrgClient,
    kind: 'ingest' | 'query',
    id: string
): Promise<JobInfo> {
    const started = Date.now();
    let interval = client.poll.minMs;
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
 * Streams a Bulk API 2.0 query: yields each results page (≤ bulkQueryPageSize rows) as
 * objects of strings. A job that fails as a whole is started again (twice at most).
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
    let locator: string | undefined;
    try {
        for (;;) {
            const params = new URLSearchParams({
                maxRecords: String(client.bulkQueryPageSize)
            });
            if (locator) params.set('locator', locator);
            const res = await client.request<string>({
                method: 'GET',
                path: `/jobs/query/${id}/results?${params.toString()}`,
                headers: { Accept: 'text/csv' },
                raw: true
            });
            const rows = parseCsv(res.body);
            if (rows.length) yield rows;
            const next = res.headers['sforce-locator'];
            locator = Array.isArray(next) ? next[0] : next;
            if (!locator || locator === 'null') break;
        }
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

/** Rows → CSV (LF line endings) with the given column order. */
export function toCsv(
    columns: readonly string[],
    rows: readonly SObjectRow[]
): string {
    const lines = [columns.join(',')];
    for (const r of rows)
        lines.push(columns.map((c) => csvCell(r[c])).join(','));
    return `${lines.join('\n')}\n`;
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
    const columns = [
        key,
        ...new Set(rows.flatMap((r) => Object.keys(r)).filter((c) => c !== key))
    ];
    const csv = toCsv(columns, rows);
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
    const info = await waitForJob(client, 'ingest', id);
    const results = new Map<string, WriteResult>();
    if (info.state !== 'JobComplete')
        return {
            results,
            jobFailed: `Bulk job ${id} ended ${info.state}: ${info.errorMessage ?? 'no reason given'}`
        };
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
    for (const r of await get('successfulResults')) {
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
    if ((info.numberRecordsFailed ?? 1) > 0) {
        for (const r of await get('failedResults')) {
            const k = r[key] || r.sf__Id;
            results.set(k, {
                key: k,
                id: r.sf__Id || null,
                success: false,
                errors: [parseBulkError(r.sf__Error ?? '')],
                attempts: 1
            });
        }
    }
    // Records Salesforce did not reach (job aborted midway): retried like lock errors.
    if (results.size < rows.length) {
        for (const r of await get('unprocessedrecords')) {
            const k = r[key];
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
    return { results };
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
                final.set(k, { ...res, attempts });
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
