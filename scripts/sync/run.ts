/**
 * `runJob(job, options)` — the one entry point of the sync for the CLI, the scheduler,
 * the webhook and the demo. It takes the job's cross-process lock, records the run in
 * the ledger (startRun/finishRun with the JobResult), runs the job and turns the API
 * budget running out (R12) or a stop request into a deferred run rather than a failure.
 * A job that could not run at all (R7, settings, connection) is recorded as failed and
 * its error rethrown as `JobFailed` (carrying the result).
 */
import type { Ledger } from '../ledger/ledger';
import type { LogFn } from '../model/log';
import { OptoutError, errorMessage } from '../model/errors';
import type { OrgClient } from '../salesforce/client';
import { BudgetExhausted, RunAborted } from '../salesforce/errors';
import { runHourly, HOURLY_CURSOR } from './hourly';
import { runNightly } from './nightly';
import type { NightlyOptions } from './nightly-mode';
import { runPush } from './push';
import type { JobContext } from './context';
import type { Progress } from './records';
import { Workspace } from './workspace';
import { jobWriter } from './writer';
import {
    JOBS,
    ResultBuilder,
    finalStatus,
    type JobName,
    type JobResult
} from './result';

export interface RunJobOptions {
    ledger: Ledger;
    org: OrgClient;
    /** Report what would be written; write nothing (Salesforce or ledger). */
    dryRun?: boolean;
    runId?: string;
    onProgress?: Progress;
    log?: LogFn;
    /** Stops the run between requests; the run ends deferred. */
    signal?: AbortSignal;
    /** Take the job's lock (default true); pass false when the caller holds it. */
    lock?: boolean;
    /** push only: just these unsubscribes. */
    unsubscribeIds?: readonly number[];
    /** nightly only: full or incremental (R16), look-back, full interval. */
    nightly?: NightlyOptions;
    now?: () => Date;
}

/** The run could not happen (R7, bad settings, connection…); the run is recorded. */
export class JobFailed extends OptoutError {
    readonly result: JobResult;

    constructor(cause: unknown, result: JobResult) {
        const e = cause instanceof OptoutError ? cause : undefined;
        super(e?.code ?? 'JOB_FAILED', e?.message ?? errorMessage(cause), {
            actions: e?.actions,
            exitCode: e?.exitCode ?? 1,
            cause
        });
        this.name = 'JobFailed';
        this.result = result;
    }
}

/** The ledger lock a job holds while it runs (shared with the scheduler). */
export function jobLockName(job: JobName): string {
    return `job:${job}`;
}

export function isJobName(value: string): value is JobName {
    return (JOBS as readonly string[]).includes(value);
}

const HEARTBEAT_MS = 15_000;

/** Work left after a deferred run, by job. */
async function pendingWork(ledger: Ledger, job: JobName): Promise<number> {
    if (job === 'hourly') {
        const cursor = Number(
            (await ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)) ??
                '0'
        );
        return ledger.countMembershipChangesAfter(cursor);
    }
    return job === 'push'
        ? ledger.countUndelivered()
        : ledger.countUndelivered('all');
}

/** Stuck records in the ledger (R14), for the run's result. */
async function stuckTotals(ledger: Ledger): Promise<{
    retrying: number;
    deadLetters: number;
}> {
    const totals = { retrying: 0, deadLetters: 0 };
    for (const c of await ledger.stuckCounts())
        if (c.state === 'dead_letter') totals.deadLetters += c.count;
        else totals.retrying += c.count;
    return totals;
}

/** How long a run waits for another job's lock before it defers its work. */
const EXCLUSIVE_WAIT_MS = 120_000;
const EXCLUSIVE_POLL_MS = 250;

/** Runs `fn` holding `name` as well, waiting while another run holds it. */
async function holdingAlso<T>(
    ledger: Ledger,
    name: string,
    holder: string,
    held: Set<string>,
    ctx: JobContext,
    fn: () => Promise<T>
): Promise<T> {
    const deadline = Date.now() + EXCLUSIVE_WAIT_MS;
    for (;;) {
        const lock = await ledger.acquireLock(name, { holder });
        if (lock.acquired) break;
        if (Date.now() > deadline)
            throw new RunAborted(
                `Another run has held ${name} for more than ${EXCLUSIVE_WAIT_MS / 1000} s (pid ${lock.heldBy.pid}); this part waits for the next run.`
            );
        ctx.heartbeat();
        await new Promise((ok) => setTimeout(ok, EXCLUSIVE_POLL_MS));
    }
    held.add(name);
    try {
        return await fn();
    } finally {
        held.delete(name);
        await ledger.releaseLock(name, holder);
    }
}

export async function runJob(
    job: JobName,
    options: RunJobOptions
): Promise<JobResult> {
    if (!isJobName(job))
        throw new OptoutError(
            'BAD_ARGUMENT',
            `Unknown job '${String(job)}': use ${JOBS.join(', ')}.`,
            { exitCode: 2 }
        );
    const { ledger, org } = options;
    const now = options.now ?? ((): Date => new Date());
    const log = options.log ?? org.log;
    const startedAt = now();
    const dryRun = options.dryRun === true;

    let holder: string | undefined;
    const lockName = jobLockName(job);
    if (options.lock !== false) {
        const lock = await ledger.acquireLock(lockName);
        if (!lock.acquired) {
            const run = await ledger.startRun({
                job,
                dryRun,
                id: options.runId
            });
            const builder = new ResultBuilder({
                job,
                runId: run.id,
                dryRun,
                targetOrg: org.targetOrg,
                startedAt: run.startedAt
            });
            builder.result.status = 'skipped';
            builder.result.message = `Another ${job} run holds the lock (pid ${lock.heldBy.pid}, since ${lock.heldBy.acquiredAt}); this one did nothing.`;
            await ledger.finishRun(run.id, {
                status: 'skipped',
                result: builder.result
            });
            return builder.result;
        }
        holder = lock.lock.holder;
    }

    const run = await ledger.startRun({
        job,
        dryRun,
        id: options.runId,
        startedAt: startedAt.toISOString()
    });
    const builder = new ResultBuilder({
        job,
        runId: run.id,
        dryRun,
        targetOrg: org.targetOrg,
        startedAt: run.startedAt
    });
    const baseRequests = org.apiRequests;
    const baseRetried = { ...org.retried };
    const previousSignal = org.signal;
    const previousLog = org.log;
    org.signal = options.signal ?? previousSignal;
    org.log = log;
    let lastBeat = Date.now();
    /** Locks this run holds: its own, and another job's while `exclusive` runs. */
    const held = new Set<string>(holder ? [lockName] : []);
    // The run's scratch store, closed (and so deleted) when the run ends.
    const workspace = Workspace.open();
    const ctx: JobContext = {
        job,
        runId: run.id,
        ledger,
        workspace,
        client: org,
        dryRun,
        builder,
        log,
        progress: (e) => {
            ctx.heartbeat();
            options.onProgress?.(e);
        },
        now,
        heartbeat: () => {
            if (!holder || Date.now() - lastBeat < HEARTBEAT_MS) return;
            lastBeat = Date.now();
            // In the background: a beat that fails (ledger busy or unreachable) is
            // tried again at the next one; the lock is stale only after 120 s of none.
            for (const name of held)
                ledger
                    .heartbeatLock(name, holder)
                    .catch((err: unknown) =>
                        log(
                            'warn',
                            `${job}: lock heartbeat failed: ${errorMessage(err)}`
                        )
                    );
        },
        exclusive: holder
            ? (other, fn) =>
                  holdingAlso(ledger, jobLockName(other), holder, held, ctx, fn)
            : undefined
    };
    // What the run writes with — Salesforce and the ledger, or a dry run's plan: chosen once.
    jobWriter(ctx);
    const result = builder.result;
    let failure: unknown;
    // Also beat on a timer: a Bulk job can keep a run waiting for minutes between phases.
    const beat = holder
        ? setInterval(() => ctx.heartbeat(), HEARTBEAT_MS)
        : undefined;
    beat?.unref();
    try {
        if (job === 'push')
            await runPush(ctx, { unsubscribeIds: options.unsubscribeIds });
        else if (job === 'hourly') await runHourly(ctx);
        else await runNightly(ctx, options.nightly);
        if (result.status !== 'skipped') result.status = finalStatus(result);
    } catch (err) {
        if (err instanceof BudgetExhausted || err instanceof RunAborted) {
            result.deferred = {
                count: await pendingWork(ledger, job),
                reason: err.message
            };
            result.status = 'deferred';
            log(
                'warn',
                `${job}: ${err.message} The rest is deferred to the next run.`
            );
        } else {
            failure = err;
            result.status = 'failed';
            const e = err instanceof OptoutError ? err : undefined;
            result.error = {
                code: e?.code ?? 'UNEXPECTED',
                message: errorMessage(err),
                actions: e?.actions ?? []
            };
        }
    } finally {
        if (beat) clearInterval(beat);
        workspace.close();
        result.durationMs = Math.max(0, now().getTime() - startedAt.getTime());
        result.apiRequests = org.apiRequests - baseRequests;
        result.apiUsage = org.apiUsage;
        result.retried = {
            requests: org.retried.requests - baseRetried.requests,
            records: org.retried.records - baseRetried.records
        };
        org.signal = previousSignal;
        org.log = previousLog;
        try {
            if (!dryRun) result.stuck = await stuckTotals(ledger);
            await ledger.finishRun(run.id, { status: result.status, result });
        } finally {
            if (holder) await ledger.releaseLock(lockName, holder);
        }
    }
    if (failure !== undefined) throw new JobFailed(failure, result);
    return result;
}
