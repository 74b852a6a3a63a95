/**
 * Job runs (start, finish, the latest of each job with its summary for `optout status`)
 * and the jobs' cursors (where each job carries on from).
 */
import { randomUUID } from 'node:crypto';
import { invalid, type LedgerContext } from './context';
import { RUN_COLS } from './sql-columns';
import type { RunRecord, RunStatus, RunSummary } from './types';

type RunRow = Omit<RunRecord, 'dryRun' | 'result'> & {
    dryRun: number;
    resultJson: string | null;
};

export async function startRun(
    ctx: LedgerContext,
    input: {
        job: string;
        dryRun?: boolean;
        id?: string;
        startedAt?: string;
    }
): Promise<RunRecord> {
    const run: RunRecord = {
        id: input.id ?? randomUUID(),
        job: input.job,
        startedAt: input.startedAt ?? ctx.nowIso(),
        finishedAt: null,
        status: 'running',
        dryRun: Boolean(input.dryRun),
        pid: process.pid,
        result: null
    };
    await ctx.transaction(async () =>
        ctx
            .stmt(
                `INSERT INTO runs (id, job, started_at, status, dry_run, pid) VALUES (?, ?, ?, 'running', ?, ?)`
            )
            .run(run.id, run.job, run.startedAt, run.dryRun ? 1 : 0, run.pid)
    );
    return run;
}

export async function finishRun(
    ctx: LedgerContext,
    id: string,
    input: {
        status: Exclude<RunStatus, 'running'>;
        result?: unknown;
        finishedAt?: string;
    }
): Promise<RunRecord> {
    const finishedAt = input.finishedAt ?? ctx.nowIso();
    const { changes } = await ctx
        .stmt(
            `UPDATE runs SET finished_at = ?, status = ?, result_json = ? WHERE id = ?`
        )
        .run(
            finishedAt,
            input.status,
            input.result === undefined ? null : JSON.stringify(input.result),
            id
        );
    if (changes === 0) throw invalid('UNKNOWN_RUN', `no run with id ${id}`);
    return (await getRun(ctx, id)) as RunRecord;
}

export async function getRun(
    ctx: LedgerContext,
    id: string
): Promise<RunRecord | undefined> {
    const row = (await ctx
        .stmt(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`)
        .get(id)) as RunRow | undefined;
    return row && toRun(row);
}

export async function listRuns(
    ctx: LedgerContext,
    options: { job?: string; limit?: number } = {}
): Promise<RunRecord[]> {
    const rows = (await ctx
        .stmt(
            `SELECT ${RUN_COLS} FROM runs WHERE (CAST(? AS TEXT) IS NULL OR job = ?) ORDER BY started_at DESC, rowid DESC LIMIT ?`
        )
        .all(
            options.job ?? null,
            options.job ?? null,
            options.limit ?? 20
        )) as RunRow[];
    return rows.map(toRun);
}

export async function lastRuns(ctx: LedgerContext): Promise<RunSummary[]> {
    const rows = (await ctx
        .stmt(
            `SELECT ${RUN_COLS} FROM runs r WHERE rowid = (
                 SELECT rowid FROM runs WHERE job = r.job ORDER BY started_at DESC, rowid DESC LIMIT 1)
             ORDER BY job`
        )
        .all()) as RunRow[];
    return rows.map((row) => summarizeRun(toRun(row)));
}

export async function getCursor(
    ctx: LedgerContext,
    job: string,
    name: string
): Promise<string | undefined> {
    const row = (await ctx
        .stmt('SELECT value FROM cursors WHERE job = ? AND name = ?')
        .get(job, name)) as { value: string } | undefined;
    return row?.value;
}

export async function listCursors(
    ctx: LedgerContext,
    job: string
): Promise<{ name: string; value: string }[]> {
    return (await ctx
        .stmt('SELECT name, value FROM cursors WHERE job = ? ORDER BY name')
        .all(job)) as { name: string; value: string }[];
}

export async function setCursor(
    ctx: LedgerContext,
    job: string,
    name: string,
    value: string | number
): Promise<void> {
    await ctx.transaction(async () =>
        ctx
            .stmt(
                `INSERT INTO cursors (job, name, value, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (job, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`
            )
            .run(job, name, String(value), ctx.nowIso())
    );
}

function toRun(row: RunRow): RunRecord {
    let result: unknown = null;
    if (row.resultJson) {
        try {
            result = JSON.parse(row.resultJson);
        } catch {
            result = row.resultJson;
        }
    }
    return {
        id: row.id,
        job: row.job,
        startedAt: row.startedAt,
        finishedAt: row.finishedAt,
        status: row.status,
        dryRun: row.dryRun === 1,
        pid: row.pid,
        result
    };
}

const SUMMARY_KEYS = [
    'recordsWritten',
    'ledgerUnsubscribesAdded',
    'membershipsUpserted',
    'unsubscribesDelivered'
];

/**
 * The counters of a run's JobResult that `optout status` shows. It reads the sync's
 * result by key names rather than its type: its one user is `lastRuns` above, and
 * ledger/ may not import sync/ (eslint.config.js, PRODUCT_LAYERS).
 */
export function summarizeRun(run: RunRecord): RunSummary {
    const result = (
        run.result && typeof run.result === 'object' ? run.result : {}
    ) as Record<string, unknown>;
    const summary: Record<string, number | string | null> = {};
    for (const key of SUMMARY_KEYS)
        if (typeof result[key] === 'number') summary[key] = result[key];
    if (Array.isArray(result.failed)) summary.failed = result.failed.length;
    const deferred = result.deferred as
        { count?: unknown; reason?: unknown } | null | undefined;
    if (deferred && typeof deferred.count === 'number') {
        summary.deferred = deferred.count;
        if (typeof deferred.reason === 'string')
            summary.deferredReason = deferred.reason;
    }
    // The nightly's full or incremental reconciliation and why (R16).
    const rec = result.reconciliation as
        { mode?: unknown; reason?: unknown } | null | undefined;
    if (rec && typeof rec.mode === 'string') {
        summary.reconciliation = rec.mode;
        if (typeof rec.reason === 'string')
            summary.reconciliationReason = rec.reason;
    }
    const usage = result.apiUsage as
        { used?: unknown; max?: unknown } | undefined;
    const durationMs =
        typeof result.durationMs === 'number'
            ? result.durationMs
            : run.finishedAt
              ? Date.parse(run.finishedAt) - Date.parse(run.startedAt)
              : null;
    return {
        job: run.job,
        runId: run.id,
        status: run.status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        durationMs,
        dryRun: run.dryRun,
        apiRequests:
            typeof result.apiRequests === 'number' ? result.apiRequests : null,
        apiUsage:
            usage &&
            typeof usage.used === 'number' &&
            typeof usage.max === 'number'
                ? { used: usage.used, max: usage.max }
                : null,
        summary
    };
}
