/**
 * The scheduler of `optout schedule`: croner fires the hourly and nightly jobs in the
 * configured time zone, and its push service (sync/push-service.ts, the push path the
 * webhook and the CLI share) sweeps pending unsubscribes every interval.
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
 *
 * Several schedulers on one ledger: given a `Leadership` (leader.ts), only the one that
 * leads fires jobs; the others poll for the lead every `leaderPollMs` and take it over
 * within one poll once the leader is gone. The job lock above still guards each run
 * (two schedulers with skewed clocks would otherwise run one hourly twice in a row).
 */
import { Cron } from 'croner';
import type { Ledger } from '../ledger/ledger';
import type { LogFn, LogLevel } from '../model/log';
import { OptoutError, errorMessage } from '../model/errors';
import { OrgClient } from '../salesforce/client';
import { runJob as realRunJob, type RunJobOptions } from '../sync/run';
import type { JobName, JobResult } from '../sync/result';
import {
    ledgerPushService,
    type PushRun,
    type PushService
} from '../sync/push-service';
import { formatDuration, type ScheduleConfig } from './plan';
import { DEFAULT_LEADER_POLL_MS, type Leadership } from './leader';

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

/** This scheduler took or lost the lead among the schedulers of one ledger. */
export interface LeadershipEvent {
    event: 'leader_gained' | 'leader_lost';
    at: string;
    /** What holds the lead (Leadership.description). */
    leadership: string;
    /** Why it was lost. */
    reason?: string;
}

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
    /**
     * Who leads among the schedulers of one ledger; only the leader fires jobs. Without
     * it this scheduler always leads (one scheduler). Released by `stop()`.
     */
    leadership?: Leadership;
    /** How often a scheduler that does not lead tries to take the lead (default 15 s). */
    leaderPollMs?: number;
    /** The lead taken or lost (also logged). */
    onLeadership?: (event: LeadershipEvent) => void;
}

/** A client for one job on the connection of `base` (separate request counts). */
export function forkClient(base: OrgClient): OrgClient {
    return new OrgClient(base.conn, {
        targetOrg: base.targetOrg,
        local: base.local,
        apiBudgetShare: base.share,
        bulkThreshold: base.bulkThreshold,
        settingsTtlMs: base.settingsTtlMs,
        log: base.log
    });
}

export class Scheduler {
    private readonly crons = new Map<JobName, Cron>();
    private readonly clients = new Map<JobName, OrgClient>();
    private readonly running = new Map<JobName, Promise<void>>();
    private pushTimer: NodeJS.Timeout | null = null;
    private pushDelayMs: number;
    /** The sweep of pending unsubscribes (the one push path, sync/push-service.ts). */
    private readonly push: PushService;
    /** When the sweep in flight started, and what triggered it (for its event). */
    private pushStarted: { at: string; trigger: Trigger } | null = null;
    private stopped = false;
    private readonly abort = new AbortController();
    private readonly runJob: NonNullable<SchedulerOptions['runJob']>;
    private readonly now: () => Date;
    private leaderTimer: NodeJS.Timeout | null = null;
    private stopWatchingLead: (() => void) | null = null;
    /** Said once that another scheduler leads, until the lead changes. */
    private standingBy = false;
    /** The last error of a lead attempt, so that a server that is down is logged once. */
    private lastLeaderError: string | null = null;

    constructor(private readonly options: SchedulerOptions) {
        this.runJob = options.runJob ?? realRunJob;
        this.now = options.now ?? ((): Date => new Date());
        this.pushDelayMs = options.config.pushIntervalMs;
        this.push = ledgerPushService({
            ledger: options.ledger,
            org: options.org,
            // Its own client (request counts), and the scheduler's stop signal.
            runJob: (job, o) =>
                this.runJob(job, {
                    ...o,
                    org: this.client(job),
                    signal: this.abort.signal
                }),
            sweepIntervalMs: options.config.pushIntervalMs,
            sweepMaxBackoffMs: options.maxPushBackoffMs,
            log: (level, message) => this.log(level, message),
            onRun: (run) => this.pushReported(run)
        });
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
                () => this.fire(job)
            );
            this.crons.set(job, cron);
        }
        this.schedulePush(0);
        const leadership = this.options.leadership;
        if (leadership) {
            this.stopWatchingLead = leadership.onLost((reason) =>
                this.leadLost(reason)
            );
            void this.pollLeadership();
        }
    }

    /** Whether this scheduler fires jobs (always, without a Leadership). */
    get leader(): boolean {
        return this.options.leadership?.isLeader() ?? true;
    }

    /** A cron time: the job runs here only when this scheduler leads. */
    private fire(job: JobName): Promise<void> {
        if (!this.leader) {
            this.log(
                'debug',
                `${job}: another scheduler leads; it runs this one`
            );
            return Promise.resolve();
        }
        return this.trigger(job, 'cron');
    }

    /** One attempt at the lead (when not leading), then the next in leaderPollMs. */
    private async pollLeadership(): Promise<void> {
        this.leaderTimer = null;
        const leadership = this.options.leadership;
        if (!leadership || this.stopped) return;
        const pollMs = this.options.leaderPollMs ?? DEFAULT_LEADER_POLL_MS;
        if (!leadership.isLeader()) {
            try {
                const leads = await leadership.acquire();
                this.lastLeaderError = null;
                if (leads && !this.stopped) this.leadGained(leadership);
                else if (!leads && !this.standingBy) {
                    this.standingBy = true;
                    this.log(
                        'info',
                        `leader: another scheduler leads (${leadership.description}); this one stands by and tries again every ${formatDuration(pollMs)}.`
                    );
                }
            } catch (err) {
                const message = errorMessage(err);
                if (message !== this.lastLeaderError)
                    this.log(
                        'warn',
                        `leader: ${message} (tries again every ${formatDuration(pollMs)}; no job runs here meanwhile)`
                    );
                this.lastLeaderError = message;
            }
        }
        if (this.stopped) return;
        this.leaderTimer = setTimeout(() => void this.pollLeadership(), pollMs);
        this.leaderTimer.unref();
    }

    private leadGained(leadership: Leadership): void {
        this.standingBy = false;
        // What is pending waited for a leader: push it now, not an interval later.
        if (this.pushTimer) {
            clearTimeout(this.pushTimer);
            this.schedulePush(0);
        }
        this.log(
            'info',
            `leader: this scheduler leads (${leadership.description}); it runs the hourly, nightly and push jobs.`
        );
        this.options.onLeadership?.({
            event: 'leader_gained',
            at: this.now().toISOString(),
            leadership: leadership.description
        });
    }

    /**
     * The lead is gone (connection dropped, heartbeat failed): no new job fires here.
     * A run in progress finishes under its own job lock.
     */
    private leadLost(reason: string): void {
        const leadership = this.options.leadership;
        if (!leadership) return;
        this.standingBy = true;
        this.log(
            'warn',
            `leader: lost the lead (${reason}); no job fires here until this scheduler leads again.`
        );
        this.options.onLeadership?.({
            event: 'leader_lost',
            at: this.now().toISOString(),
            leadership: leadership.description,
            reason
        });
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
     * over (errors are reported as events, never thrown). Leadership is not asked here:
     * the cron times and the push loop ask it before they call this.
     */
    trigger(job: JobName, trigger: Trigger): Promise<void> {
        // Pushes go through the push service (one run at a time, its back-off).
        if (job === 'push') return this.pushOnce().then(() => undefined);
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
            const fullEveryMs = this.options.config.nightlyFullEveryMs;
            const result = await this.runJob(job, {
                ledger: this.options.ledger,
                org: this.client(job),
                signal: this.abort.signal,
                log: (level, message) => this.log(level, message),
                // The weekly full reconciliation is the nightly's own rule (R16).
                ...(job === 'nightly' && fullEveryMs !== undefined
                    ? { nightly: { fullEveryMs } }
                    : {})
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
     * One push step; returns the wait until the next one: the push service's sweep
     * (pushes only when something waits; while pushes deliver nothing the wait doubles up
     * to maxPushBackoffMs, and is back to the interval as soon as a push delivers or new
     * unsubscribes arrive). A follower does not even read the ledger.
     */
    async pushOnce(): Promise<number> {
        const interval = this.options.config.pushIntervalMs;
        if (!this.leader || this.stopped) {
            this.pushDelayMs = interval;
            return interval;
        }
        const at = this.now().toISOString();
        this.pushStarted = { at, trigger: 'interval' };
        const run = this.push.sweep();
        this.running.set(
            'push',
            run.then(() => undefined)
        );
        try {
            this.pushDelayMs = await run;
        } finally {
            this.running.delete('push');
            this.pushStarted = null;
        }
        return this.pushDelayMs;
    }

    /** A push run of the service, reported as the scheduler's other runs are. */
    private pushReported(run: PushRun): void {
        const started = this.pushStarted ?? {
            at: this.now().toISOString(),
            trigger: 'interval' as const
        };
        // The next time is decided once the sweep is over: say the interval for now.
        const next = this.stopped
            ? null
            : new Date(
                  this.now().getTime() + this.options.config.pushIntervalMs
              ).toISOString();
        const base = { job: 'push' as const, ...started, next };
        if (run.error === undefined && run.result)
            this.options.onEvent?.({
                event: 'run',
                ...base,
                result: run.result
            });
        else {
            const e = run.cause instanceof OptoutError ? run.cause : undefined;
            this.options.onEvent?.({
                event: 'failed',
                ...base,
                error: {
                    code: e?.code ?? 'UNEXPECTED',
                    message: run.error ?? 'the push returned nothing',
                    actions: e?.actions ?? []
                },
                result: run.result ?? null
            });
        }
    }

    /** The wait before the next push, as the loop last decided it. */
    get pushDelay(): number {
        return this.pushDelayMs;
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
        if (this.leaderTimer) clearTimeout(this.leaderTimer);
        this.leaderTimer = null;
        const stopper = setTimeout(
            () => this.abortNow(),
            options.timeoutMs ?? 60_000
        );
        try {
            await Promise.all([...this.running.values()]);
            await this.push.close({ flush: false });
        } finally {
            clearTimeout(stopper);
            await this.releaseLead();
        }
    }

    /** Once the runs are over: hands the lead to another scheduler at once. */
    private async releaseLead(): Promise<void> {
        const leadership = this.options.leadership;
        if (!leadership) return;
        this.stopWatchingLead?.();
        this.stopWatchingLead = null;
        const leading = leadership.isLeader();
        try {
            await leadership.release();
            if (leading)
                this.log(
                    'info',
                    'leader: released the lead; another scheduler may take it.'
                );
        } catch (err) {
            this.log(
                'warn',
                `leader: could not release the lead: ${errorMessage(err)}`
            );
        }
    }

    /** Asks runs in progress to stop at their next request (they end deferred). */
    abortNow(): void {
        this.abort.abort();
        this.push.abortNow();
    }

    get busy(): JobName[] {
        return [...this.running.keys()];
    }
}
