/**
 * The one push path (R2, R11): the webhook's real-time push (`optout serve`), the
 * scheduler's interval push (`optout schedule`) and `optout unsubscribe --target-org`
 * all deliver through a `PushService`, so that they share one definition of what is
 * pending, one run at a time per process, the same attempts and back-off, and the same
 * report of each run.
 *
 * Two ways in:
 * - `enqueue(ids)`: arrivals (webhook, CLI) are coalesced — a push starts `maxDelayMs`
 *   after the first waiting one, or at once when `maxBatch` wait. A push that fails, or
 *   leaves some undelivered, is retried with capped exponential back-off; after
 *   `maxAttempts` an unsubscribe is left to the sweep (it stays pending in the ledger,
 *   R11: nothing is lost). `pushNow(ids)` is the same for one caller that waits for
 *   its result (the CLI).
 * - `sweep()`: one push of everything pending (the scheduler's interval). It runs only
 *   when something is pending (an idle service makes no request) and returns the wait
 *   before the next sweep: the interval while pushes deliver or new unsubscribes
 *   arrive, doubling up to `sweepMaxBackoffMs` while nothing gets delivered.
 *
 * Runs never overlap in one process; across processes the push job's ledger lock
 * (`job:push`) does that, and a run that did not get it counts as not delivered.
 */
import type { Ledger } from '../ledger/ledger';
import { WAITING_OUTCOMES } from '../ledger/migrations';
import { retryDeferred } from '../model/stuck';
import type { OrgClient } from '../salesforce/client';
import type { JobResult } from './result';
import { runJob as syncRunJob, type RunJobOptions } from './run';
import { OptoutError, errorMessage } from '../model/errors';
import type { LogFn, LogLevel } from '../model/log';

/** One push run: these unsubscribes, or (undefined) every pending one. */
export type PushRunner = (
    ids: number[] | undefined,
    signal: AbortSignal
) => Promise<JobResult>;

export interface PushServiceOptions {
    push: PushRunner;
    /** Whether an unsubscribe still waits for a push (see `isPending`). */
    isPending: (id: number) => Promise<boolean>;
    /** How many wait for a push (the sweep's "anything to do?"). */
    countPending?: () => Promise<number>;
    /** Longest wait after the first arrival (default 1000 ms). */
    maxDelayMs?: number;
    /**
     * Push at once when this many wait (default 1,000: their records go in sObject
     * Collections chunks of 200, five to a Composite request, R2).
     */
    maxBatch?: number;
    /** Back-off after a failed push of arrivals: initial and cap (default 1 s → 60 s). */
    backoff?: { initialMs?: number; maxMs?: number };
    /** Attempts per arrival before leaving it to the sweep (default 8). */
    maxAttempts?: number;
    /** The sweep's interval (default 30 s) and its longest back-off (default 30 min). */
    sweepIntervalMs?: number;
    sweepMaxBackoffMs?: number;
    log?: LogFn;
    /** Each finished push (for logs, events and tests). */
    onRun?: (run: PushRun) => void;
    now?: () => number;
}

export interface PushRun {
    /** How it started: arrivals (`enqueue`, `pushNow`) or the sweep of all pending. */
    kind: 'arrivals' | 'sweep';
    /** Unsubscribes asked for (a sweep: those pending when it started). */
    ids: number;
    result?: JobResult;
    error?: string;
    /** The error itself (its code and actions, when it is an OptoutError). */
    cause?: unknown;
    /** Of those asked for, still undelivered afterwards. */
    stillPending: number;
}

export interface PushServiceStats {
    /** Waiting for the next push (retries included). */
    queued: number;
    running: boolean;
    runs: number;
    failedRuns: number;
    delivered: number;
    apiRequests: number;
    /** Left to the sweep after maxAttempts. */
    givenUp: number;
    lastRun: { at: string; status: string; ids: number } | null;
}

export class PushService {
    private readonly queue = new Map<number, number>(); // id → attempts so far
    /** The ids of the push in flight (a sweep of the webhook must not queue them again). */
    private inFlight = new Set<number>();
    private firstQueuedAt: number | null = null;
    private timer: NodeJS.Timeout | null = null;
    /** The run in flight, arrivals or sweep: never two at once. */
    private running: Promise<void> | null = null;
    private consecutiveFailures = 0;
    private notBefore = 0;
    private sweepDelayMs: number;
    private lastSweepPending = 0;
    private closed = false;
    private readonly abort = new AbortController();
    private readonly opts: {
        maxDelayMs: number;
        maxBatch: number;
        maxAttempts: number;
        sweepIntervalMs: number;
        sweepMaxBackoffMs: number;
        now: () => number;
        backoff: { initialMs: number; maxMs: number };
    };
    readonly stats: PushServiceStats = {
        queued: 0,
        running: false,
        runs: 0,
        failedRuns: 0,
        delivered: 0,
        apiRequests: 0,
        givenUp: 0,
        lastRun: null
    };

    constructor(private readonly options: PushServiceOptions) {
        this.opts = {
            maxDelayMs: options.maxDelayMs ?? 1000,
            maxBatch: options.maxBatch ?? 1000,
            maxAttempts: options.maxAttempts ?? 8,
            sweepIntervalMs: options.sweepIntervalMs ?? 30_000,
            sweepMaxBackoffMs: options.sweepMaxBackoffMs ?? 30 * 60_000,
            now: options.now ?? Date.now,
            backoff: {
                initialMs: options.backoff?.initialMs ?? 1000,
                maxMs: options.backoff?.maxMs ?? 60_000
            }
        };
        this.sweepDelayMs = this.opts.sweepIntervalMs;
    }

    private log(level: LogLevel, message: string): void {
        this.options.log?.(level, message);
    }

    /**
     * Queues unsubscribes for the next push — those still pending: one delivered
     * meanwhile, or waiting for a Salesforce record (a retried webhook of someone
     * Salesforce does not know), would cost requests for nothing.
     */
    async enqueue(ids: readonly number[]): Promise<void> {
        if (this.closed) return;
        for (const id of ids)
            if (
                !this.queue.has(id) &&
                !this.inFlight.has(id) &&
                (await this.safePending(id))
            )
                this.queue.set(id, 0);
        this.stats.queued = this.queue.size;
        if (this.queue.size && this.firstQueuedAt === null)
            this.firstQueuedAt = this.opts.now();
        this.schedule();
    }

    /**
     * Pushes these unsubscribes now (after the run in flight, if any) and returns that
     * push's result; for one caller that waits (`optout unsubscribe --target-org`). What
     * it leaves undelivered stays pending in the ledger for the sweep (R11).
     */
    async pushNow(ids: readonly number[]): Promise<JobResult> {
        if (this.closed)
            throw new OptoutError(
                'PUSH_STOPPED',
                'The push service is stopped; the unsubscribes stay pending in the ledger.'
            );
        while (this.running) await this.running;
        let outcome: { result?: JobResult; cause?: unknown } = {};
        this.running = this.exclusive(async () => {
            const batch = new Map(ids.map((id) => [id, 0] as const));
            // Asked for explicitly: pushed even if the ledger says it waits for a record.
            outcome = await this.runArrivals(batch, {
                requeue: false,
                onlyPending: false
            });
        });
        await this.running;
        if (outcome.cause !== undefined) throw outcome.cause;
        if (!outcome.result)
            throw new OptoutError('PUSH_FAILED', 'The push returned nothing.');
        return outcome.result;
    }

    /**
     * One sweep: pushes every pending unsubscribe when there is any, and returns the wait
     * before the next sweep (see the file comment).
     */
    async sweep(): Promise<number> {
        const interval = this.opts.sweepIntervalMs;
        if (this.closed) return interval;
        let pending: number;
        for (;;) {
            while (this.running) await this.running;
            pending = await this.countPending();
            // Arrivals may have started while the ledger was read: wait for them too.
            if (!this.running) break;
        }
        if (pending === 0 || this.closed) {
            this.sweepDelayMs = interval;
            this.lastSweepPending = pending;
            return this.sweepDelayMs;
        }
        this.running = this.exclusive(() => this.runSweep(pending));
        await this.running;
        const after = await this.countPending();
        const progressed = after < pending || pending > this.lastSweepPending;
        this.sweepDelayMs = progressed
            ? interval
            : Math.min(this.opts.sweepMaxBackoffMs, this.sweepDelayMs * 2);
        if (after > 0 && this.sweepDelayMs > interval)
            this.log(
                'warn',
                `push: ${after} unsubscribe(s) still pending after the last push; next try in ${Math.round(this.sweepDelayMs / 100) / 10} s`
            );
        this.lastSweepPending = after;
        return this.sweepDelayMs;
    }

    /** The wait before the next sweep, as the last sweep decided it. */
    get sweepDelay(): number {
        return this.sweepDelayMs;
    }

    /** Marks a run in flight until `work` ends; then what queued meanwhile gets its turn. */
    private exclusive(work: () => Promise<void>): Promise<void> {
        this.stats.running = true;
        return work().finally(() => {
            this.running = null;
            this.inFlight = new Set();
            this.stats.running = false;
            this.stats.queued = this.queue.size;
            this.schedule();
        });
    }

    private async countPending(): Promise<number> {
        if (!this.options.countPending)
            throw new Error('PushService.sweep needs countPending');
        try {
            return await this.options.countPending();
        } catch (err) {
            this.log(
                'error',
                `push: cannot read the ledger: ${errorMessage(err)}`
            );
            return 0;
        }
    }

    /** When the next push of arrivals may start, from now (ms). */
    private delay(): number {
        const now = this.opts.now();
        const backoff = Math.max(0, this.notBefore - now);
        if (this.queue.size >= this.opts.maxBatch) return backoff;
        const waited = now - (this.firstQueuedAt ?? now);
        return Math.max(backoff, this.opts.maxDelayMs - waited);
    }

    private schedule(): void {
        if (this.running || this.queue.size === 0 || this.closed) return;
        const ms = this.delay();
        if (this.timer) {
            // A full batch may start earlier than the timer set for the first arrival.
            if (ms > 0) return;
            clearTimeout(this.timer);
            this.timer = null;
        }
        this.timer = setTimeout(() => {
            this.timer = null;
            this.start();
        }, ms);
    }

    private start(): void {
        if (this.running || this.queue.size === 0) return;
        const batch = new Map(this.queue);
        this.inFlight = new Set(batch.keys());
        this.queue.clear();
        this.firstQueuedAt = null;
        this.stats.queued = 0;
        this.running = this.exclusive(async () => {
            await this.runArrivals(batch, { requeue: true, onlyPending: true });
        });
    }

    /** Runs the push and counts it; errors are returned, not thrown. */
    private async runOnce(
        ids: number[] | undefined
    ): Promise<{ result?: JobResult; error?: string; cause?: unknown }> {
        let result: JobResult | undefined;
        let error: string | undefined;
        let cause: unknown;
        try {
            result = await this.options.push(ids, this.abort.signal);
        } catch (err) {
            error = errorMessage(err);
            cause = err;
            const r = (err as { result?: JobResult }).result;
            if (r && typeof r === 'object') result = r;
        }
        this.stats.runs += 1;
        if (result) {
            this.stats.apiRequests += result.apiRequests;
            this.stats.delivered += result.unsubscribesDelivered;
        }
        const failed =
            error !== undefined ||
            (result !== undefined && result.status === 'failed');
        if (failed) this.stats.failedRuns += 1;
        this.stats.lastRun = {
            at: new Date(this.opts.now()).toISOString(),
            status: error ? 'failed' : (result?.status ?? 'unknown'),
            ids: ids?.length ?? 0
        };
        return { result, error, cause };
    }

    private async runSweep(pending: number): Promise<void> {
        const { result, error, cause } = await this.runOnce(undefined);
        this.options.onRun?.({
            kind: 'sweep',
            ids: pending,
            result,
            error,
            cause,
            stillPending: await this.countPending()
        });
    }

    /**
     * Pushes a batch of arrivals, still pending ones only (a sweep may have delivered
     * some meanwhile; `onlyPending`). With `requeue`, those left undelivered go back in the queue with
     * back-off until `maxAttempts`.
     */
    private async runArrivals(
        batch: Map<number, number>,
        options: { requeue: boolean; onlyPending: boolean }
    ): Promise<{ result?: JobResult; cause?: unknown }> {
        const ids: number[] = [];
        for (const id of batch.keys())
            if (!options.onlyPending || (await this.safePending(id)))
                ids.push(id);
        if (ids.length === 0) return { result: undefined };
        const { result, error, cause } = await this.runOnce(ids);
        const left: number[] = [];
        for (const id of ids) if (await this.safePending(id)) left.push(id);
        this.options.onRun?.({
            kind: 'arrivals',
            ids: ids.length,
            result,
            error,
            cause,
            stillPending: left.length
        });
        if (left.length === 0) {
            this.consecutiveFailures = 0;
            this.notBefore = 0;
        } else if (options.requeue)
            this.backOff(batch, ids, left, result, error);
        return { result, cause };
    }

    private backOff(
        batch: Map<number, number>,
        ids: number[],
        left: number[],
        result: JobResult | undefined,
        error: string | undefined
    ): void {
        this.consecutiveFailures += 1;
        const wait = Math.min(
            this.opts.backoff.maxMs,
            this.opts.backoff.initialMs *
                2 ** Math.min(20, this.consecutiveFailures - 1)
        );
        this.notBefore = this.opts.now() + wait;
        const why =
            error ??
            (result?.status === 'skipped'
                ? (result.message ?? 'another push holds the lock')
                : `${left.length} not confirmed by Salesforce`);
        let requeued = 0;
        for (const id of left) {
            const attempts = (batch.get(id) ?? 0) + 1;
            if (attempts >= this.opts.maxAttempts) {
                this.stats.givenUp += 1;
                continue;
            }
            if (!this.queue.has(id)) this.queue.set(id, attempts);
            requeued += 1;
        }
        if (requeued && this.firstQueuedAt === null)
            this.firstQueuedAt = this.opts.now();
        this.log(
            'warn',
            `push: ${left.length} of ${ids.length} unsubscribe(s) still pending (${why}); ` +
                (requeued
                    ? `retrying in ${Math.round(wait / 100) / 10} s`
                    : 'left to the scheduler’s push (optout schedule or optout sync push)')
        );
    }

    private async safePending(id: number): Promise<boolean> {
        try {
            return await this.options.isPending(id);
        } catch {
            return true;
        }
    }

    /** Starts a push now for what is queued (ignores the coalescing delay, not back-off). */
    async flush(): Promise<void> {
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = null;
        }
        while (this.running) await this.running;
        if (this.queue.size && !this.closed) {
            this.notBefore = 0;
            this.start();
            if (this.running) await this.running;
        }
    }

    /** Resolves when nothing is queued or running (tests, shutdown). */
    async idle(): Promise<void> {
        while (this.running || (this.queue.size && !this.closed)) {
            if (this.running) await this.running;
            else await new Promise((r) => setTimeout(r, 10));
        }
    }

    /**
     * Stops the service: finishes the push in flight, then (with `flush`) pushes what is
     * still queued once, within `timeoutMs` — after that the push is asked to stop and
     * its remaining work stays pending in the ledger for the next push.
     */
    async close(
        options: { flush?: boolean; timeoutMs?: number } = {}
    ): Promise<void> {
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = null;
        }
        const stopper = setTimeout(
            () => this.abort.abort(),
            options.timeoutMs ?? 30_000
        );
        try {
            while (this.running) await this.running;
            if (options.flush !== false && this.queue.size) {
                this.notBefore = 0;
                this.start();
                if (this.running) await this.running;
            }
        } finally {
            clearTimeout(stopper);
            this.closed = true;
            if (this.timer) {
                clearTimeout(this.timer);
                this.timer = null;
            }
        }
    }

    /** Stops at once: the push in flight ends deferred at its next request. */
    abortNow(): void {
        this.abort.abort();
    }
}

/**
 * Active, not yet confirmed by Salesforce, and something a push can deliver: one
 * waiting for a matching Salesforce record is left to the hourly retry (retrying it
 * here would spend a lookup a second for nothing), one Salesforce refused to its
 * back-off or, as a dead letter, to `optout retry` (R14).
 */
export async function isPending(ledger: Ledger, id: number): Promise<boolean> {
    const u = await ledger.getUnsubscribe(id);
    return Boolean(
        u &&
        u.deliveredAt === null &&
        u.removedAt === null &&
        !(
            u.nextAttemptAt !== null &&
            (WAITING_OUTCOMES as readonly string[]).includes(
                u.lastOutcome ?? ''
            )
        ) &&
        // Refused by Salesforce (R14): its back-off, not the service's, decides.
        !retryDeferred(u, new Date().toISOString())
    );
}

export interface LedgerPushServiceOptions extends Omit<
    PushServiceOptions,
    'push' | 'isPending' | 'countPending'
> {
    ledger: Ledger;
    org: OrgClient;
    /** The sync's runJob (injected in tests). */
    runJob?: (job: 'push', options: RunJobOptions) => Promise<JobResult>;
}

/**
 * The push service of a ledger and an org: runs are the sync's push job
 * (`runJob('push', { unsubscribeIds })`, which takes the cross-process `job:push` lock
 * and records each run in the ledger); pending is `isPending` and the ledger's count of
 * pushable unsubscribes.
 */
export function ledgerPushService(
    options: LedgerPushServiceOptions
): PushService {
    const { ledger, org, runJob, ...rest } = options;
    const run = runJob ?? syncRunJob;
    return new PushService({
        ...rest,
        push: (ids, signal) =>
            run('push', {
                ledger,
                org,
                signal,
                log: rest.log,
                ...(ids ? { unsubscribeIds: ids } : {})
            }),
        isPending: (id) => isPending(ledger, id),
        // Those waiting for a matching record are the hourly job's (back-off).
        countPending: () => ledger.countPushable()
    });
}
