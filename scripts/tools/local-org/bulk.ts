/**
 * Bulk API 2.0: ingest jobs (insert, update, upsert, delete) with streamed CSV uploads
 * processed asynchronously in chunks, and query jobs whose CSV results are paged with
 * Sforce-Locator. Uploads and result files live in a temporary folder, so memory stays
 * flat whatever the job size.
 */
import {
    createReadStream,
    createWriteStream,
    mkdtempSync,
    rmSync,
    closeSync,
    openSync,
    writeSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { parse } from 'csv-parse';
import { makeId } from '../../model/ids';
import type { OrgContext } from './context';
import { ApiError } from './errors';
import {
    type Reply,
    type RequestContext,
    jsonReply,
    readJson,
    writeChunk,
    yieldToLoop
} from './http';
import { DuplicateCheck } from './duplicates';
import { type CompiledQuery } from './soql';
import { type FieldDef, type ObjectDef, findField } from './schema';
import { type Access, currentActor, runAs } from './sharing';
import { RecordFailure, type WriteResult } from './store';
import {
    csvQuote,
    duplicateExternalIdError,
    externalIdKey,
    formatDateTimeJson,
    repeatedKeys,
    type RecordError
} from './values';

type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete' | 'hardDelete';
type JobState =
    | 'Open'
    | 'UploadComplete'
    | 'InProgress'
    | 'JobComplete'
    | 'Failed'
    | 'Aborted';

const DELIMITERS: Record<string, string> = {
    COMMA: ',',
    TAB: '\t',
    PIPE: '|',
    SEMICOLON: ';',
    CARET: '^',
    BACKQUOTE: '`'
};

/** Salesforce accepts up to 150 MB (base64) per upload; we take 150 MB of raw CSV. */
const MAX_UPLOAD_BYTES = 150 * 1024 * 1024;

interface IngestJob {
    kind: 'ingest';
    id: string;
    /** The user whose session created the job; it runs as that user (sharing.ts). */
    createdById: string;
    createdBy?: Access;
    object: ObjectDef;
    operation: IngestOperation;
    externalIdField?: FieldDef;
    state: JobState;
    apiVersion: string;
    lineEnding: 'LF' | 'CRLF';
    columnDelimiter: string;
    createdDate: number;
    systemModstamp: number;
    uploads: string[];
    uploadsInFlight: number;
    processed: number;
    failed: number;
    header: string[] | null;
    errorMessage?: string;
    totalProcessingTime: number;
    successFile: string;
    failedFile: string;
    unprocessedFile: string;
    aborted: boolean;
}

interface QueryJob {
    kind: 'query';
    id: string;
    /** The user whose session created the job; it runs as that user (sharing.ts). */
    createdById: string;
    createdBy?: Access;
    operation: 'query' | 'queryAll';
    soql: string;
    compiled: CompiledQuery;
    state: JobState;
    apiVersion: string;
    lineEnding: 'LF' | 'CRLF';
    columnDelimiter: string;
    createdDate: number;
    systemModstamp: number;
    processed: number;
    errorMessage?: string;
    totalProcessingTime: number;
    cursorId?: string;
    total: number;
}

export class BulkService {
    private readonly dir: string;
    private readonly jobs = new Map<string, IngestJob | QueryJob>();
    private counter = 1;
    private readonly running = new Set<Promise<void>>();
    private closed = false;

    constructor(private readonly org: OrgContext) {
        this.dir = mkdtempSync(join(tmpdir(), 'optout-local-org-bulk-'));
    }

    /** Waits for running jobs to stop (they stop at the next chunk) and removes files. */
    async close(): Promise<void> {
        this.closed = true;
        for (const job of this.jobs.values()) {
            if (job.kind === 'ingest') job.aborted = true;
        }
        await Promise.allSettled([...this.running]);
        rmSync(this.dir, { recursive: true, force: true });
    }

    private newId(): string {
        return makeId('750', this.counter++, '8d');
    }

    /**
     * Runs a job's processing as the user who created it, whoever closes it (the org's
     * own admin runs outside any user context, see server.ts).
     */
    private asCreator(
        job: { createdBy?: Access },
        run: () => Promise<void>
    ): Promise<void> {
        return job.createdBy ? runAs(job.createdBy, run) : run();
    }

    private track(p: Promise<void>): void {
        this.running.add(p);
        void p.finally(() => this.running.delete(p));
    }

    private ingestJob(id: string): IngestJob {
        const job = this.jobs.get(id);
        if (!job || job.kind !== 'ingest') {
            throw new ApiError(
                404,
                'NOT_FOUND',
                'The requested resource does not exist'
            );
        }
        return job;
    }

    private queryJob(id: string): QueryJob {
        const job = this.jobs.get(id);
        if (!job || job.kind !== 'query') {
            throw new ApiError(
                404,
                'NOT_FOUND',
                'The requested resource does not exist'
            );
        }
        return job;
    }

    // ---- ingest -------------------------------------------------------------------

    private ingestInfo(job: IngestJob, full: boolean): Record<string, unknown> {
        const base: Record<string, unknown> = {
            id: job.id,
            operation: job.operation,
            object: job.object.name,
            createdById: job.createdById,
            createdDate: formatDateTimeJson(job.createdDate),
            systemModstamp: formatDateTimeJson(job.systemModstamp),
            state: job.state,
            ...(job.externalIdField
                ? { externalIdFieldName: job.externalIdField.name }
                : {}),
            concurrencyMode: 'Parallel',
            contentType: 'CSV',
            apiVersion: Number(job.apiVersion),
            contentUrl: `services/data/v${job.apiVersion}/jobs/ingest/${job.id}/batches`,
            lineEnding: job.lineEnding,
            columnDelimiter:
                Object.keys(DELIMITERS).find(
                    (k) => DELIMITERS[k] === job.columnDelimiter
                ) ?? 'COMMA'
        };
        if (!full) return base;
        return {
            ...base,
            jobType: 'V2Ingest',
            numberRecordsProcessed: job.processed,
            numberRecordsFailed: job.failed,
            retries: 0,
            totalProcessingTime: job.totalProcessingTime,
            apiActiveProcessingTime: job.totalProcessingTime,
            apexProcessingTime: 0,
            ...(job.errorMessage ? { errorMessage: job.errorMessage } : {})
        };
    }

    async createIngest(ctx: RequestContext): Promise<Reply> {
        const body = (await readJson(ctx.req)) as
            Record<string, unknown> | undefined;
        if (!body || typeof body !== 'object') {
            throw new ApiError(
                400,
                'INVALIDJOB',
                'The job body must be a JSON object'
            );
        }
        const objectName = String(body.object ?? '');
        const object = this.org.store.getObject(objectName);
        if (!object) {
            throw new ApiError(
                400,
                'INVALIDENTITY',
                `sObject type '${objectName}' is not supported.`
            );
        }
        const operation = String(body.operation ?? '') as IngestOperation;
        if (
            !['insert', 'update', 'upsert', 'delete', 'hardDelete'].includes(
                operation
            )
        ) {
            throw new ApiError(
                400,
                'INVALIDJOB',
                `InvalidJob : Invalid operation: ${operation}`
            );
        }
        let externalIdField: FieldDef | undefined;
        if (operation === 'upsert') {
            const name = String(body.externalIdFieldName ?? '');
            const fd = findField(object, name);
            if (
                !fd ||
                !(
                    fd.name === 'Id' ||
                    fd.externalId ||
                    (fd.unique && fd.type !== 'reference')
                )
            ) {
                throw new ApiError(
                    400,
                    'INVALIDJOB',
                    `InvalidJob : Field name provided, ${name} is not an External ID or indexed field for ${object.name}`
                );
            }
            externalIdField = fd;
        }
        if (body.contentType !== undefined && body.contentType !== 'CSV') {
            throw new ApiError(
                400,
                'INVALIDJOB',
                'InvalidJob : contentType must be CSV'
            );
        }
        const delimiterName = String(body.columnDelimiter ?? 'COMMA');
        const delimiter = DELIMITERS[delimiterName];
        if (!delimiter)
            throw new ApiError(
                400,
                'INVALIDJOB',
                `InvalidJob : Invalid columnDelimiter ${delimiterName}`
            );
        const lineEnding = body.lineEnding === 'CRLF' ? 'CRLF' : 'LF';
        const id = this.newId();
        const now = Date.now();
        const job: IngestJob = {
            kind: 'ingest',
            id,
            createdById: ctx.userId ?? this.org.store.userId,
            createdBy: currentActor(),
            object,
            operation,
            externalIdField,
            state: 'Open',
            apiVersion: ctx.apiVersion,
            lineEnding,
            columnDelimiter: delimiter,
            createdDate: now,
            systemModstamp: now,
            uploads: [],
            uploadsInFlight: 0,
            processed: 0,
            failed: 0,
            header: null,
            totalProcessingTime: 0,
            successFile: join(this.dir, `${id}-success.csv`),
            failedFile: join(this.dir, `${id}-failed.csv`),
            unprocessedFile: join(this.dir, `${id}-unprocessed.csv`),
            aborted: false
        };
        this.jobs.set(id, job);
        return jsonReply(200, this.ingestInfo(job, false));
    }

    /** PUT …/batches: the CSV body is streamed to a file (never held in memory). */
    async upload(ctx: RequestContext, id: string): Promise<Reply> {
        const job = this.ingestJob(id);
        if (job.state !== 'Open') {
            ctx.req.resume();
            throw new ApiError(
                409,
                'INVALIDJOBSTATE',
                `Job ${id} is not in the Open state; data can only be uploaded to an open job`
            );
        }
        const file = join(
            this.dir,
            `${id}-upload-${job.uploads.length + job.uploadsInFlight}.csv`
        );
        job.uploadsInFlight++;
        let size = 0;
        const limiter = new Transform({
            transform(chunk: Buffer, _enc, cb) {
                size += chunk.length;
                if (size > MAX_UPLOAD_BYTES) {
                    cb(
                        new ApiError(
                            413,
                            'INVALIDBATCH',
                            'The upload exceeds the maximum of 150 MB; split the data into several jobs'
                        )
                    );
                    return;
                }
                cb(null, chunk);
            }
        });
        try {
            await pipeline(ctx.req, limiter, createWriteStream(file));
        } catch (err) {
            rmSync(file, { force: true });
            if (err instanceof ApiError) throw err;
            throw new ApiError(
                400,
                'INVALIDBATCH',
                `The upload failed: ${err instanceof Error ? err.message : String(err)}`
            );
        } finally {
            job.uploadsInFlight--;
        }
        job.uploads.push(file);
        job.systemModstamp = Date.now();
        return { status: 201 };
    }

    async patchIngest(ctx: RequestContext, id: string): Promise<Reply> {
        const job = this.ingestJob(id);
        const body = (await readJson(ctx.req)) as
            { state?: unknown } | undefined;
        const state = String(body?.state ?? '');
        if (state === 'UploadComplete') {
            if (job.state !== 'Open') {
                throw new ApiError(
                    409,
                    'INVALIDJOBSTATE',
                    `Job ${id} is not Open (state ${job.state})`
                );
            }
            job.state = 'UploadComplete';
            job.systemModstamp = Date.now();
            this.track(this.asCreator(job, () => this.processIngest(job)));
            return jsonReply(200, this.ingestInfo(job, false));
        }
        if (state === 'Aborted') {
            if (
                job.state === 'JobComplete' ||
                job.state === 'Failed' ||
                job.state === 'Aborted'
            ) {
                throw new ApiError(
                    409,
                    'INVALIDJOBSTATE',
                    `Job ${id} has already finished (state ${job.state})`
                );
            }
            job.aborted = true;
            job.state = 'Aborted';
            job.systemModstamp = Date.now();
            return jsonReply(200, this.ingestInfo(job, false));
        }
        throw new ApiError(
            400,
            'INVALIDJOB',
            `InvalidJob : Invalid state: ${state}`
        );
    }

    getIngest(id: string): Reply {
        return jsonReply(200, this.ingestInfo(this.ingestJob(id), true));
    }

    listIngest(): Reply {
        const records = [...this.jobs.values()]
            .filter((j): j is IngestJob => j.kind === 'ingest')
            .map((j) => ({
                ...this.ingestInfo(j, false),
                jobType: 'V2Ingest'
            }));
        return jsonReply(200, { done: true, records, nextRecordsUrl: null });
    }

    deleteJob(id: string, kind: 'ingest' | 'query'): Reply {
        const job = kind === 'ingest' ? this.ingestJob(id) : this.queryJob(id);
        if (job.state === 'InProgress' || job.state === 'UploadComplete') {
            throw new ApiError(
                409,
                'INVALIDJOBSTATE',
                `Job ${id} is still being processed; abort it first`
            );
        }
        this.jobs.delete(id);
        if (job.kind === 'ingest') {
            for (const f of [
                ...job.uploads,
                job.successFile,
                job.failedFile,
                job.unprocessedFile
            ]) {
                rmSync(f, { force: true });
            }
        } else if (job.cursorId) {
            this.org.queries.closeCursor(job.cursorId);
        }
        return { status: 204 };
    }

    /** successfulResults / failedResults / unprocessedrecords as CSV. */
    results(id: string, which: 'success' | 'failed' | 'unprocessed'): Reply {
        const job = this.ingestJob(id);
        if (
            job.state !== 'JobComplete' &&
            job.state !== 'Failed' &&
            job.state !== 'Aborted'
        ) {
            if (which !== 'unprocessed' || job.state === 'InProgress') {
                throw new ApiError(
                    409,
                    'INVALIDJOBSTATE',
                    `Job ${id} is not finished (state ${job.state})`
                );
            }
        }
        const file =
            which === 'success'
                ? job.successFile
                : which === 'failed'
                  ? job.failedFile
                  : job.unprocessedFile;
        const header = this.resultHeader(job, which);
        return {
            status: 200,
            contentType: 'text/csv',
            stream: async (res) => {
                await writeChunk(res, header);
                try {
                    for await (const chunk of createReadStream(file))
                        await writeChunk(res, chunk as Buffer);
                } catch (err) {
                    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
                        throw err;
                }
            }
        };
    }

    private resultHeader(
        job: IngestJob,
        which: 'success' | 'failed' | 'unprocessed'
    ): string {
        const cols = (job.header ?? []).map(csvQuote);
        const d = job.columnDelimiter;
        if (which === 'success')
            return `${['"sf__Id"', '"sf__Created"', ...cols].join(d)}\n`;
        if (which === 'failed')
            return `${['"sf__Id"', '"sf__Error"', ...cols].join(d)}\n`;
        return cols.length ? `${cols.join(d)}\n` : '';
    }

    private async processIngest(job: IngestJob): Promise<void> {
        await yieldToLoop();
        if (job.aborted || this.closed) return;
        const started = Date.now();
        job.state = 'InProgress';
        job.systemModstamp = Date.now();
        const { store, faults, stats, settings } = this.org;
        const fail = (message: string): void => {
            job.state = 'Failed';
            job.errorMessage = message;
            job.systemModstamp = Date.now();
        };
        // A failing job (fault) processes the first half of its rows, then fails.
        const failAfter = faults.bulkFails('bulkIngest')
            ? Math.floor(
                  (await countDataRows(job.uploads, job.columnDelimiter)) / 2
              )
            : Infinity;
        const repeated = await repeatedExternalIds(job);
        const success = openSync(job.successFile, 'w');
        const failed = openSync(job.failedFile, 'w');
        const unprocessed = openSync(job.unprocessedFile, 'w');
        const kind = `bulkIngest${job.operation}`;
        // Results use the job's column delimiter, as uploads do.
        const d = job.columnDelimiter;
        try {
            for (const file of job.uploads) {
                const parser = createReadStream(file).pipe(
                    parse({
                        delimiter: job.columnDelimiter,
                        bom: true,
                        relax_column_count: true,
                        skip_empty_lines: true
                    })
                );
                let header: string[] | null = null;
                let fields: Array<FieldDef | undefined> = [];
                let chunk: string[][] = [];
                const flush = async (): Promise<void> => {
                    if (chunk.length === 0) return;
                    const rows = chunk;
                    chunk = [];
                    if (job.aborted || this.closed) {
                        writeSync(
                            unprocessed,
                            rows
                                .map((r) => `${r.map(csvQuote).join(d)}\n`)
                                .join('')
                        );
                        return;
                    }
                    if (job.processed + rows.length > failAfter) {
                        const keep = Math.max(0, failAfter - job.processed);
                        writeSync(
                            unprocessed,
                            rows
                                .slice(keep)
                                .map((r) => `${r.map(csvQuote).join(d)}\n`)
                                .join('')
                        );
                        rows.splice(keep);
                        if (rows.length === 0) return;
                    }
                    // One transaction per slice of the chunk: a slice stops after ~50 ms so
                    // that other requests are served in between, whatever the machine load.
                    let next = 0;
                    while (next < rows.length) {
                        let ok = '';
                        let bad = '';
                        const sliceStart = next;
                        store.db.transaction(() => {
                            const now = store.stamp();
                            const started = Date.now();
                            for (; next < rows.length; next++) {
                                if (
                                    (next & 255) === 255 &&
                                    Date.now() - started > 50
                                )
                                    break;
                                const row = rows[next];
                                const line = row.map(csvQuote).join(d);
                                if (
                                    row.length !== (header as string[]).length
                                ) {
                                    bad += `""${d}${csvQuote(errorText({ statusCode: 'INVALID_FIELD', message: `Row has ${row.length} columns; the header has ${(header as string[]).length}`, fields: [] }))}${d}${line}\n`;
                                    job.failed++;
                                    continue;
                                }
                                const rec: Record<string, unknown> = {};
                                for (let i = 0; i < row.length; i++) {
                                    const fd = fields[i];
                                    if (fd) rec[fd.name] = row[i];
                                }
                                const idText = String(rec.Id ?? '');
                                if (faults.lockRecord(kind)) {
                                    bad += `${csvQuote(idText)}${d}${csvQuote(errorText({ statusCode: 'UNABLE_TO_LOCK_ROW', message: `unable to obtain exclusive access to this record or 1 records: ${idText || job.object.keyPrefix}`, fields: [] }))}${d}${line}\n`;
                                    job.failed++;
                                    continue;
                                }
                                try {
                                    const res = this.applyRow(
                                        job,
                                        rec,
                                        now,
                                        repeated
                                    );
                                    ok += `${csvQuote(res.id)}${d}${res.created ? '"true"' : '"false"'}${d}${line}\n`;
                                } catch (err) {
                                    if (!(err instanceof RecordFailure))
                                        throw err;
                                    bad += `${csvQuote(idText)}${d}${csvQuote(errorText(err.error))}${d}${line}\n`;
                                    job.failed++;
                                }
                            }
                        })();
                        job.processed += next - sliceStart;
                        stats.bulkRecordsProcessed += next - sliceStart;
                        if (ok) writeSync(success, ok);
                        if (bad) writeSync(failed, bad);
                        job.systemModstamp = Date.now();
                        await yieldToLoop();
                    }
                };
                for await (const record of parser as AsyncIterable<string[]>) {
                    if (!header) {
                        header = record.map((h) => h.trim());
                        if (!job.header) job.header = header;
                        fields = header.map((h) => findField(job.object, h));
                        const missing = header.find((_h, i) => !fields[i]);
                        if (missing !== undefined) {
                            fail(
                                `InvalidBatch : Field name not found : ${missing}`
                            );
                            return;
                        }
                        const dup = header.find(
                            (h, i) =>
                                header!.findIndex(
                                    (x) => x.toLowerCase() === h.toLowerCase()
                                ) !== i
                        );
                        if (dup) {
                            fail(`InvalidBatch : Duplicate field name: ${dup}`);
                            return;
                        }
                        if (
                            (job.operation === 'update' ||
                                job.operation === 'delete' ||
                                job.operation === 'hardDelete') &&
                            !fields.some((f) => f?.name === 'Id')
                        ) {
                            fail('InvalidBatch : Field name not found : Id');
                            return;
                        }
                        continue;
                    }
                    chunk.push(record);
                    if (chunk.length >= settings.bulkChunkSize) {
                        await flush();
                        if ((job.state as JobState) === 'Failed') return;
                    }
                }
                await flush();
            }
            stats.bulkBatches += Math.max(1, Math.ceil(job.processed / 10_000));
            if (job.aborted) return;
            if (failAfter !== Infinity) {
                fail(
                    'InternalServerError : The job failed while processing; unprocessed records can be retried in a new job'
                );
                return;
            }
            job.state = 'JobComplete';
            job.systemModstamp = Date.now();
        } catch (err) {
            fail(
                `InvalidBatch : ${err instanceof Error ? err.message : String(err)}`
            );
            this.org.log(
                `bulk job ${job.id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
            );
        } finally {
            closeSync(success);
            closeSync(failed);
            closeSync(unprocessed);
            job.totalProcessingTime = Date.now() - started;
        }
    }

    private readonly duplicateChecks = new WeakMap<
        IngestJob,
        { check: DuplicateCheck; rows: number }
    >();

    /**
     * The duplicate check of a job's current save: Salesforce processes a Bulk batch
     * in chunks of 200 records ("In API version 21.0 and later, the chunk size is 200
     * records", Bulk API limits, quoted at
     * https://trailhead.salesforce.com/trailblazer-community/feed/0D54V00007T4GXdSAN),
     * and records of one save are not compared with each other (duplicates.ts).
     */
    private duplicateCheck(job: IngestJob): DuplicateCheck {
        let current = this.duplicateChecks.get(job);
        if (!current || current.rows >= 200) {
            current = {
                check: DuplicateCheck.forBulk(this.org, job.apiVersion),
                rows: 0
            };
            this.duplicateChecks.set(job, current);
        }
        current.rows++;
        return current.check;
    }

    private applyRow(
        job: IngestJob,
        rec: Record<string, unknown>,
        now: number,
        repeated: Set<string>
    ): WriteResult {
        const { store } = this.org;
        const dup = this.duplicateCheck(job);
        switch (job.operation) {
            case 'insert':
                return dup.run(job.object, undefined, () =>
                    store.insert(job.object, rec, 'csv', now)
                );
            case 'update': {
                const { Id, ...rest } = rec;
                if (!Id) {
                    throw new RecordFailure({
                        statusCode: 'MISSING_ARGUMENT',
                        message: 'Id not specified in an update call',
                        fields: []
                    });
                }
                return dup.run(
                    job.object,
                    typeof Id === 'string' ? Id : undefined,
                    () => store.update(job.object, Id, rest, 'csv', now)
                );
            }
            case 'upsert': {
                const field = job.externalIdField as FieldDef;
                const key = externalIdKey(field, rec[field.name], 'csv');
                if (key !== null && repeated.has(key))
                    throw duplicateExternalIdError(field, rec[field.name]);
                return dup.run(
                    job.object,
                    dup.upsertTarget(job.object, field.name, rec[field.name]),
                    () => store.upsert(job.object, field, rec, 'csv', now)
                );
            }
            default: {
                if (!rec.Id) {
                    throw new RecordFailure({
                        statusCode: 'MISSING_ARGUMENT',
                        message: 'Id not specified in a delete call',
                        fields: []
                    });
                }
                const res = store.delete(job.object, rec.Id, now);
                return { id: res.id, created: false };
            }
        }
    }

    // ---- query ----------------------------------------------------------------------

    private queryInfo(job: QueryJob, full: boolean): Record<string, unknown> {
        const base: Record<string, unknown> = {
            id: job.id,
            operation: job.operation,
            object: job.compiled.obj.name,
            createdById: job.createdById,
            createdDate: formatDateTimeJson(job.createdDate),
            systemModstamp: formatDateTimeJson(job.systemModstamp),
            state: job.state,
            concurrencyMode: 'Parallel',
            contentType: 'CSV',
            apiVersion: Number(job.apiVersion),
            lineEnding: job.lineEnding,
            columnDelimiter:
                Object.keys(DELIMITERS).find(
                    (k) => DELIMITERS[k] === job.columnDelimiter
                ) ?? 'COMMA'
        };
        if (!full) return base;
        return {
            ...base,
            jobType: 'V2Query',
            numberRecordsProcessed: job.processed,
            retries: 0,
            totalProcessingTime: job.totalProcessingTime,
            isPkChunkingSupported: true,
            ...(job.errorMessage ? { errorMessage: job.errorMessage } : {})
        };
    }

    async createQuery(ctx: RequestContext): Promise<Reply> {
        const body = (await readJson(ctx.req)) as
            Record<string, unknown> | undefined;
        const operation = String(body?.operation ?? 'query');
        if (operation !== 'query' && operation !== 'queryAll') {
            throw new ApiError(
                400,
                'INVALIDJOB',
                `InvalidJob : Invalid operation: ${operation}`
            );
        }
        const soql = String(body?.query ?? '');
        if (!soql.trim())
            throw new ApiError(
                400,
                'INVALIDJOB',
                'InvalidJob : A query is required'
            );
        const compiled = this.org.queries.compile(soql);
        if (compiled.mode !== 'records') {
            throw new ApiError(
                400,
                'API_ERROR',
                'FeatureNotEnabled : Aggregate queries are not supported by Bulk API 2.0 query'
            );
        }
        if (compiled.children.length) {
            throw new ApiError(
                400,
                'API_ERROR',
                'FeatureNotEnabled : Nested queries (child relationships) are not supported by Bulk API 2.0 query'
            );
        }
        if (compiled.offset !== null) {
            throw new ApiError(
                400,
                'API_ERROR',
                'FeatureNotEnabled : OFFSET is not supported by Bulk API 2.0 query'
            );
        }
        const delimiterName = String(body?.columnDelimiter ?? 'COMMA');
        const delimiter = DELIMITERS[delimiterName];
        if (!delimiter)
            throw new ApiError(
                400,
                'INVALIDJOB',
                `InvalidJob : Invalid columnDelimiter ${delimiterName}`
            );
        const id = this.newId();
        const now = Date.now();
        const job: QueryJob = {
            kind: 'query',
            id,
            createdById: ctx.userId ?? this.org.store.userId,
            createdBy: currentActor(),
            operation,
            soql,
            compiled,
            state: 'UploadComplete',
            apiVersion: ctx.apiVersion,
            lineEnding: body?.lineEnding === 'CRLF' ? 'CRLF' : 'LF',
            columnDelimiter: delimiter,
            createdDate: now,
            systemModstamp: now,
            processed: 0,
            totalProcessingTime: 0,
            total: 0
        };
        this.jobs.set(id, job);
        this.org.stats.bulkQueryJobs++;
        this.track(this.asCreator(job, () => this.processQuery(job)));
        return jsonReply(200, this.queryInfo(job, false));
    }

    private async processQuery(job: QueryJob): Promise<void> {
        await yieldToLoop();
        if (job.state === 'Aborted' || this.closed) return;
        const started = Date.now();
        job.state = 'InProgress';
        if (this.org.faults.bulkFails('bulkQuery')) {
            await yieldToLoop();
            job.state = 'Failed';
            job.errorMessage =
                'InternalServerError : The query job failed; create a new job to retry';
            job.systemModstamp = Date.now();
            return;
        }
        try {
            const cursor = this.org.queries.openCursor(
                job.compiled,
                job.operation === 'queryAll',
                {
                    bulk: true,
                    batchSize: this.org.settings.bulkQueryPageSize,
                    resource: 'query'
                }
            );
            job.cursorId = cursor.id;
            job.total = cursor.total;
            job.processed = cursor.total;
            await yieldToLoop();
            if ((job.state as JobState) === 'Aborted') {
                this.org.queries.closeCursor(cursor.id);
                return;
            }
            job.state = 'JobComplete';
        } catch (err) {
            job.state = 'Failed';
            job.errorMessage = `InternalServerError : ${err instanceof Error ? err.message : String(err)}`;
        } finally {
            job.totalProcessingTime = Date.now() - started;
            job.systemModstamp = Date.now();
        }
    }

    getQuery(id: string): Reply {
        return jsonReply(200, this.queryInfo(this.queryJob(id), true));
    }

    listQuery(): Reply {
        const records = [...this.jobs.values()]
            .filter((j): j is QueryJob => j.kind === 'query')
            .map((j) => ({ ...this.queryInfo(j, false), jobType: 'V2Query' }));
        return jsonReply(200, { done: true, records, nextRecordsUrl: null });
    }

    async patchQuery(ctx: RequestContext, id: string): Promise<Reply> {
        const job = this.queryJob(id);
        const body = (await readJson(ctx.req)) as
            { state?: unknown } | undefined;
        if (body?.state !== 'Aborted') {
            throw new ApiError(
                400,
                'INVALIDJOB',
                'InvalidJob : only state Aborted can be set on a query job'
            );
        }
        if (
            job.state === 'JobComplete' ||
            job.state === 'Failed' ||
            job.state === 'Aborted'
        ) {
            throw new ApiError(
                409,
                'INVALIDJOBSTATE',
                `Job ${id} has already finished (state ${job.state})`
            );
        }
        job.state = 'Aborted';
        job.systemModstamp = Date.now();
        return jsonReply(200, this.queryInfo(job, false));
    }

    /**
     * GET …/results?locator=&maxRecords= : one CSV page with Sforce-Locator, streamed in
     * slices of 5,000 rows (with back-pressure) however large the page, so a page of a
     * million rows costs no more memory than one of a thousand.
     *
     * A page holds what maxRecords asks for (the org's bulkQueryPageSize when it is
     * absent). Salesforce documents maxRecords as "the maximum number of records to
     * retrieve per set of results for the query. The request is still subject to the
     * size limits", and a default "based on the service" when it is absent
     * (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm),
     * without a figure for those size limits: so a real page may hold fewer rows than
     * asked, and clients must follow Sforce-Locator rather than count on maxRecords.
     * The locator of a page never changes while the job exists and a page can be read
     * again ("You can use the locator to retrieve a set of results multiple times", ibid.).
     *
     * Fault `cut` (faults.ts): the answer stops partway through a row in the middle of
     * the page and the connection is destroyed, as when a download breaks.
     */
    queryResults(ctx: RequestContext, id: string): Reply {
        const job = this.queryJob(id);
        if (job.state !== 'JobComplete') {
            throw new ApiError(
                job.state === 'Failed' || job.state === 'Aborted' ? 400 : 412,
                job.state === 'Failed' || job.state === 'Aborted'
                    ? 'INVALIDJOBSTATE'
                    : 'JOB_NOT_COMPLETE',
                `Job ${id} is not complete (state ${job.state})`
            );
        }
        const locatorText = ctx.url.searchParams.get('locator');
        let delivered = 0;
        if (locatorText) {
            const decoded = Buffer.from(locatorText, 'base64url').toString(
                'utf8'
            );
            if (!/^\d+$/.test(decoded)) {
                throw new ApiError(
                    400,
                    'INVALIDLOCATOR',
                    `Invalid locator: ${locatorText}`
                );
            }
            delivered = Number(decoded);
        }
        const maxText = ctx.url.searchParams.get('maxRecords');
        const max =
            maxText === null
                ? this.org.settings.bulkQueryPageSize
                : Number(maxText);
        if (!Number.isInteger(max) || max <= 0) {
            throw new ApiError(
                400,
                'INVALIDPARAMETER',
                `maxRecords must be a positive integer: ${maxText}`
            );
        }
        const cursorId = job.cursorId as string;
        const pageRows = Math.max(0, Math.min(max, job.total - delivered));
        const nextDelivered = delivered + pageRows;
        const nextLocator =
            nextDelivered >= job.total
                ? 'null'
                : Buffer.from(String(nextDelivered)).toString('base64url');
        // Check the locator is one we handed out before answering.
        const queries = this.org.queries;
        const probe = queries.peekPosition(cursorId, delivered);
        if (!probe)
            throw new ApiError(
                400,
                'INVALIDLOCATOR',
                `Invalid locator: ${locatorText ?? ''}`
            );
        const compiled = job.compiled;
        const sep = job.columnDelimiter;
        const eol = job.lineEnding === 'CRLF' ? '\r\n' : '\n';
        const cutAt = this.org.faults.cutsBody('bulkQueryResults', 'GET')
            ? Math.floor(pageRows / 2)
            : -1;
        return {
            status: 200,
            contentType: 'text/csv',
            headers: {
                'Sforce-Locator': nextLocator,
                'Sforce-NumberOfRecords': String(pageRows)
            },
            stream: async (res) => {
                await writeChunk(res, queries.csvHeader(compiled, sep, eol));
                let done = 0;
                const sub = 5000;
                while (done < pageRows) {
                    const want = Math.min(
                        sub,
                        pageRows - done,
                        cutAt >= done ? cutAt - done + 1 : Infinity
                    );
                    const rows = queries.fetchByCursorId(
                        cursorId,
                        delivered + done,
                        want
                    );
                    if (rows.length === 0) break;
                    const text = queries.csvRows(compiled, rows, sep, eol);
                    if (cutAt >= done && cutAt < done + rows.length) {
                        // Every row before the cut, then half of the row at it.
                        const last = queries.csvRows(
                            compiled,
                            rows.slice(-1),
                            sep,
                            eol
                        );
                        const whole = text.slice(0, text.length - last.length);
                        // Written out before the connection goes (destroying it drops
                        // whatever is still buffered).
                        await new Promise<void>((resolve) =>
                            res.write(
                                whole +
                                    last.slice(0, Math.ceil(last.length / 2)),
                                () => resolve()
                            )
                        );
                        throw new Error('fault: answer cut off');
                    }
                    done += rows.length;
                    await writeChunk(res, text);
                    await yieldToLoop();
                }
            }
        };
    }
}

/** Data rows (after the header) of the uploaded CSV files. */
async function countDataRows(
    files: string[],
    delimiter: string
): Promise<number> {
    let n = 0;
    for (const file of files) {
        let header = true;
        const parser = createReadStream(file).pipe(
            parse({
                delimiter,
                bom: true,
                relax_column_count: true,
                skip_empty_lines: true
            })
        );
        for await (const _record of parser as AsyncIterable<string[]>) {
            if (header) header = false;
            else n++;
        }
    }
    return n;
}

/**
 * External id values that occur on more than one row of an upsert job: every such row
 * fails with DUPLICATE_VALUE. Scoped to the whole job, which is stricter than
 * Salesforce: it detects duplicates within one save chunk (200 records: Apex DML shows
 * it, https://salesforce.stackexchange.com/questions/296121), and Bulk API 2.0 splits a
 * job into internal batches of 10,000 records processed in parallel
 * (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_understanding_bulk2_ingest.htm),
 * so two rows with one key in different chunks race (lock errors, or the second of two
 * inserts failing). The chunking is not documented as an API contract; a job that
 * carries one key twice is wrong on any real org, so the local org refuses it whole.
 */
async function repeatedExternalIds(job: IngestJob): Promise<Set<string>> {
    const field = job.externalIdField;
    if (job.operation !== 'upsert' || !field || field.name === 'Id')
        return new Set();
    const keys: Array<string | null> = [];
    for (const file of job.uploads) {
        let column = -2;
        const parser = createReadStream(file).pipe(
            parse({
                delimiter: job.columnDelimiter,
                bom: true,
                relax_column_count: true,
                skip_empty_lines: true
            })
        );
        for await (const record of parser as AsyncIterable<string[]>) {
            if (column === -2) {
                column = record.findIndex(
                    (h) => h.trim().toLowerCase() === field.name.toLowerCase()
                );
                continue;
            }
            if (column >= 0)
                keys.push(externalIdKey(field, record[column], 'csv'));
        }
    }
    return repeatedKeys(keys);
}

/** Bulk result error text: CODE:message:fields -- */
export function errorText(e: RecordError): string {
    return `${e.statusCode}:${e.message}:${e.fields.length ? `${e.fields.join(',')} ` : ''}--`;
}
