/**
 * The webhook's real-time push (R2): unsubscribes accepted by the server are pushed to
 * Salesforce within seconds, micro-batched. Arrivals are coalesced — a push starts
 * `maxDelayMs` after the first waiting one, or at once when `maxBatch` are waiting — and
 * at most one push runs at a time; what arrives meanwhile waits for the next one. A push
 * that fails, or leaves some unsubscribes undelivered, is retried with capped
 * exponential back-off; after `maxAttempts` an unsubscribe is left to the scheduler's
 * push (it stays pending in the ledger, R11: nothing is lost).
 */
import type { JobResult } from '../sync/result';
import { errorMessage } from '../model/errors';
import type { LogFn, LogLevel } from '../model/log';

export interface PushLoopOptions {
    /** Runs one push of these unsubscribes (runJob('push', { unsubscribeIds })). */
    push: (ids: number[], signal: AbortSignal) => Promise<JobResult>;
    /** Whether an unsubscribe still waits for delivery (active and undelivered). */
    isPending: (id: number) => Promise<boolean>;
    /** Longest wait after the first arrival (default 1000 ms). */
    maxDelayMs?: number;
    /**
     * Push at once when this many wait (default 1,000: their records go in sObject
     * Collections chunks of 200, five to a Composite request, R2).
     */
    maxBatch?: number;
    /** Back-off after a failed push: initial and cap (default 1 s → 60 s). */
    backoff?: { initialMs?: number; maxMs?: number };
    /** Attempts per unsubscribe before leaving it to the scheduler (default 8). */
    maxAttempts?: number;
    log?: LogFn;
    /** Each finished push (for logs and tests). */
    onRun?: (run: PushRun) => void;
    now?: () => number;
}

export interface PushRun {
    ids: number;
    result?: JobResult;
    error?: string;
    /** Unsubscribes of this batch still undelivered afterwards. */
    stillPending: number;
}

export interface PushLoopStats {
    /** Waiting for the next push (retries included). */
    queued: number;
    running: boolean;
    runs: number;
    failedRuns: number;
    delivered: number;
    apiRequests: number;
    /** Left to the scheduler after maxAttempts. */
    givenUp: number;
    lastRun: { at: string; status: string; ids: number } | null;
}

export class PushLoop {
    private readonly queue = new Map<number, number>(); // id → attempts so far
    /** The ids of the push in flight (a sweep must not queue them again meanwhile). */
    private inFlight = new Set<number>();
    private firstQueuedAt: number | null = null;
    private timer: NodeJS.Timeout | null = null;
    private running: Promise<void> | null = null;
    private consecutiveFailures = 0;
    private notBefore = 0;
    private closed = false;
    private readonly abort = new AbortController();
    private readonly opts: Required<
        Omit<PushLoopOptions, 'log' | 'onRun' | 'backoff'>
    > & {
        backoff: { initialMs: number; maxMs: number };
    };
    readonly stats: PushLoopStats = {
        queued: 0,
        running: false,
        runs: 0,
        failedRuns: 0,
        delivered: 0,
        apiRequests: 0,
        givenUp: 0,
        lastRun: null
    };

    constructor(private readonly options: PushLoopOptions) {
        this.opts = {
            push: options.push,
            isPending: options.isPending,
            maxDelayMs: options.maxDelayMs ?? 1000,
            maxBatch: options.maxBatch ?? 1000,
            maxAttempts: options.maxAttempts ?? 8,
            now: options.now ?? Date.now,
            backoff: {
                initialMs: options.backoff?.initialMs ?? 1000,
                maxMs: options.backoff?.maxMs ?? 60_000
            }
        };
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

    /** When the next push may start, from now (ms). */
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
        this.stats.running = true;
        this.running = this.runBatch(batch).finally(() => {
            this.running = null;
            this.inFlight = new Set();
            this.stats.running = false;
            this.stats.queued = this.queue.size;
            this.schedule();
        });
    }

    private async runBatch(batch: Map<number, number>): Promise<void> {
        const ids = [...batch.keys()];
        let result: JobResult | undefined;
        let error: string | undefined;
        try {
            result = await this.opts.push(ids, this.abort.signal);
        } catch (err) {
            error = errorMessage(err);
            const r = (err as { result?: JobResult }).result;
            if (r && typeof r === 'object') result = r;
        }
        this.stats.runs += 1;
        if (result) {
            this.stats.apiRequests += result.apiRequests;
            this.stats.delivered += result.unsubscribesDelivered;
        }
        const left: number[] = [];
        for (const id of ids) if (await this.safePending(id)) left.push(id);
        const failed =
            error !== undefined ||
            (result !== undefined && result.status === 'failed');
        this.stats.lastRun = {
            at: new Date(this.opts.now()).toISOString(),
            status: error ? 'failed' : (result?.status ?? 'unknown'),
            ids: ids.length
        };
        this.options.onRun?.({
            ids: ids.length,
            result,
            error,
            stillPending: left.length
        });
        if (left.length === 0) {
            this.consecutiveFailures = 0;
            this.notBefore = 0;
            return;
        }
        if (failed || left.length) {
            this.stats.failedRuns += failed ? 1 : 0;
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
    }

    private async safePending(id: number): Promise<boolean> {
        try {
            return await this.opts.isPending(id);
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
        if (this.running) await this.running;
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
     * Stops the loop: finishes the push in flight, then (with `flush`) pushes what is
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
            if (this.running) await this.running;
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
