/**
 * The scheduler of `optout schedule`: croner fires the hourly and nightly jobs in the
 * configured time zone, and a push loop delivers pending unsubscribes every interval.
 *
 * Never two runs of the same job at once:
 * - in this process, a job still running when its next time comes is not started again
 *   (reported as `busy`);
 * - across processes (a second scheduler on the same ledger, a manual `optout sync`,
 *   the webhook's push), `runJob` takes the ledger lock `job:<name>`; whoever does not
 *   get it records a `skipped` run that names the holder, and the next time comes round
 *   as usual (waiting would run the job twice).
 *
 * Each job gets its own OrgClient on the one connection, so that jobs running side by
 * side (a push during a long nightly) count their API requests separately.
 */
import { Cron } from 'croner';
import type { Ledger } from '../ledger/ledger';
import type { LogFn, LogLevel } from '../model/log';
import { OptoutError, errorMessage } from '../model/errors';
import { OrgClient } from '../salesforce/client';
import { runJob as realRunJob, type RunJobOptions } from '../sync/run';
import type { JobName, JobResult } from '../sync/result';
import { formatDuration, type ScheduleConfig } from './plan';

export type Trigger = 'cron' | 'interval' | 'start';

export type SchedulerEvent =
    | {
          event: 'run';
          job: JobName;
          trigger: Trigger;
          at: string;
          result: JobResult;
          /** The job's next scheduled time (ISO), when it has one. */
          next: string | null;
      }
    | {
          event: 'failed';
          job: JobName;
          trigger: Trigger;
          at: string;
          error: { code: string; message: string; actions: string[] };
          result: JobResult | null;
          next: string | null;
      }
    | {
          event: 'busy';
          job: JobName;
          trigger: Trigger;
          at: string;
          message: string;
          next: string | null;
      };

export interface SchedulerOptions {
    ledger: Ledger;
    org: OrgClient;
    config: ScheduleConfig;
    log?: LogFn;
    onEvent?: (event: SchedulerEvent) => void;
    /** Injected in tests. */
    runJob?: (job: JobName, options: RunJobOptions) => Promise<JobResult>;
    /** Longest wait between pushes while nothing gets delivered (default 30 min). */
    maxPushBackoffMs?: number;
    now?: () => Date;
}

/** A client for one job on the connection of `base` (separate request counts). */
export function forkClient(base: OrgClient): OrgClient {
    return new OrgClient(base.conn, {
        targetOrg: base.targetOrg,
        local: base.local,
        apiBudgetShare: base.share,
        bulkThreshold: base.bulkThreshold,
        log: base.log
    });
}

export class Scheduler {
    private readonly crons = new Map<JobName, Cron>();
    private readonly clients = new Map<JobName, OrgClient>();
    private readonly running = new Map<JobName, Promise<void>>();
    private pushTimer: NodeJS.Timeout | null = null;
    private pushDelayMs: number;
    private lastPending = 0;
    private stopped = false;
    private readonly abort = new AbortController();
    private readonly runJob: NonNullable<SchedulerOptions['runJob']>;
    private readonly now: () => Date;

    constructor(private readonly options: SchedulerOptions) {
        this.runJob = options.runJob ?? realRunJob;
        this.now = options.now ?? ((): Date => new Date());
        this.pushDelayMs = options.config.pushIntervalMs;
    }

    private log(level: LogLevel, message: string): void {
        this.options.log?.(level, message);
    }

    private client(job: JobName): OrgClient {
        let c = this.clients.get(job);
        if (!c) {
            c = forkClient(this.options.org);
            this.clients.set(job, c);
        }
        return c;
    }

    /** Starts the cron jobs and the push loop (the first push comes at once). */
    start(): void {
        const { config } = this.options;
        for (const job of ['hourly', 'nightly'] as const) {
            const cron = new Cron(
                job === 'hourly' ? config.hourly : config.nightly,
                {
                    timezone: config.timezone,
                    mode: '5-or-6-parts',
                    catch: (err) =>
                        this.log(
                            'error',
                            `${job}: ${errorMessage(err)} (the schedule goes on)`
                        )
                },
                () => this.trigger(job, 'cron')
            );
            this.crons.set(job, cron);
        }
        this.schedulePush(0);
    }

    /** The next scheduled time of a job (ISO), or null. */
    nextRun(job: JobName): string | null {
        if (job === 'push') {
            return this.stopped
                ? null
                : new Date(
                      this.now().getTime() + this.pushDelayMs
                  ).toISOString();
        }
        return this.crons.get(job)?.nextRun()?.toISOString() ?? null;
    }

    /**
     * Runs a job now unless this process already runs it. Resolves when the run is
     * over (errors are reported as events, never thrown).
     */
    trigger(job: JobName, trigger: Trigger): Promise<void> {
        const at = this.now().toISOString();
        const inFlight = this.running.get(job);
        if (inFlight) {
            this.options.onEvent?.({
                event: 'busy',
                job,
                trigger,
                at,
                message: `The previous ${job} run is still going; this time is skipped.`,
                next: this.nextRun(job)
            });
            return inFlight;
        }
        if (this.stopped) return Promise.resolve();
        const run = this.runOnce(job, trigger, at).finally(() => {
            this.running.delete(job);
        });
        this.running.set(job, run);
        return run;
    }

    private async runOnce(
        job: JobName,
        trigger: Trigger,
        at: string
    ): Promise<void> {
        try {
            const result = await this.runJob(job, {
                ledger: this.options.ledger,
                org: this.client(job),
                signal: this.abort.signal,
                log: (level, message) => this.log(level, message)
            });
            this.options.onEvent?.({
                event: 'run',
                job,
                trigger,
                at,
                result,
                next: this.nextRun(job)
            });
        } catch (err) {
            const e = err instanceof OptoutError ? err : undefined;
            const result = (err as { result?: JobResult }).result ?? null;
            this.options.onEvent?.({
                event: 'failed',
                job,
                trigger,
                at,
                error: {
                    code: e?.code ?? 'UNEXPECTED',
                    message: errorMessage(err),
                    actions: e?.actions ?? []
                },
                result,
                next: this.nextRun(job)
            });
        }
    }

    private schedulePush(delayMs: number): void {
        if (this.stopped) return;
        this.pushTimer = setTimeout(() => {
            this.pushTimer = null;
            void this.pushOnce().then((next) => this.schedulePush(next));
        }, delayMs);
    }

    /**
     * One push-loop step; returns the wait until the next one. Pushes only when something
     * waits (an idle loop makes no run and no request). While pushes deliver nothing (a
     * record that keeps failing, an org that does not answer) the wait doubles up to
     * maxPushBackoffMs; it is back to the interval as soon as a push delivers or new
     * unsubscribes arrive.
     */
    async pushOnce(): Promise<number> {
        const interval = this.options.config.pushIntervalMs;
        const pending = await this.countPending();
        if (pending === 0 || this.stopped) {
            this.pushDelayMs = interval;
            this.lastPending = pending;
            return this.pushDelayMs;
        }
        await this.trigger('push', 'interval');
        const after = await this.countPending();
        const progressed = after < pending || pending > this.lastPending;
        this.pushDelayMs = progressed
            ? interval
            : Math.min(
                  this.options.maxPushBackoffMs ?? 30 * 60_000,
                  this.pushDelayMs * 2
              );
        if (after > 0 && this.pushDelayMs > interval)
            this.log(
                'warn',
                `push: ${after} unsubscribe(s) still pending after the last push; next try in ${formatDuration(this.pushDelayMs)}`
            );
        this.lastPending = after;
        return this.pushDelayMs;
    }

    /** The wait before the next push, as the loop last decided it. */
    get pushDelay(): number {
        return this.pushDelayMs;
    }

    private async countPending(): Promise<number> {
        try {
            // Those waiting for a matching record are the hourly job's (back-off).
            return await this.options.ledger.countPushable();
        } catch (err) {
            this.log(
                'error',
                `push: cannot read the ledger: ${errorMessage(err)}`
            );
            return 0;
        }
    }

    /**
     * Graceful stop: no new runs; runs in progress finish (after `timeoutMs` they are
     * asked to stop and end deferred, their work left for the next run).
     */
    async stop(options: { timeoutMs?: number } = {}): Promise<void> {
        this.stopped = true;
        for (const cron of this.crons.values()) cron.stop();
        if (this.pushTimer) clearTimeout(this.pushTimer);
        this.pushTimer = null;
        const stopper = setTimeout(
            () => this.abort.abort(),
            options.timeoutMs ?? 60_000
        );
        try {
            await Promise.all([...this.running.values()]);
        } finally {
            clearTimeout(stopper);
        }
    }

    /** Asks runs in progress to stop at their next request (they end deferred). */
    abortNow(): void {
        this.abort.abort();
    }

    get busy(): JobName[] {
        return [...this.running.keys()];
    }
}
