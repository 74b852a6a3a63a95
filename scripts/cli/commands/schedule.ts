/**
 * `optout schedule --target-org X` — runs the hourly and nightly jobs on their cron
 * schedules (default hourly at minute 0 and nightly at 20:00 America/Los_Angeles) and
 * pushes pending unsubscribes every --push-interval, until SIGINT/SIGTERM. Never two runs
 * of a job at once, also across processes (the ledger lock; see scripts/scheduler).
 * Prints the next run times at start and one line per run (JSON lines with --json);
 * `--dry-run` prints the plan and exits without connecting to anything.
 */
import type { Command } from 'commander';
import { OptoutError, errorMessage } from '../../model/errors';
import { Ledger } from '../../ledger/ledger';
import { parseLedgerLocation } from '../../ledger/location';
import type { LogLevel } from '../../model/log';
import { openOrg } from '../../salesforce/open';
import {
    LONG_RUNNING_SETTINGS_TTL_MS,
    readSettings
} from '../../salesforce/settings';
import type { OrgClient } from '../../salesforce/client';
import {
    DEFAULT_HOURLY,
    DEFAULT_NIGHTLY,
    DEFAULT_TIMEZONE,
    Scheduler,
    checkConfig,
    leadershipFor,
    schedulePlan,
    summarizeResult,
    type ScheduleConfig,
    type SchedulePlan,
    type SchedulerEvent
} from '../../scheduler';
import { waitForStopSignal } from '../../scheduler/signals';
import { mailchimpConfig, mailchimpConfigured } from '../../mailchimp/config';
import type { MailchimpConfig } from '../../mailchimp/config';
import { MailchimpSchedule } from '../../mailchimp/job';
import { summaryOf } from './index';
import { parseNightlyDuration } from '../../sync/nightly-mode';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    requireText,
    resolveLedger,
    shownLedger,
    parseDuration,
    type LedgerOptions
} from '../options';
import {
    eventText,
    mailchimpLine,
    renderSchedule,
    renderStarted
} from '../render/schedule';

export interface ScheduleOptions extends LedgerOptions {
    targetOrg: string;
    hourly: string;
    nightly: string;
    timezone: string;
    pushInterval: string;
    /** The nightly's full reconciliation interval (R16), e.g. 7d or off. */
    nightlyFullEvery?: string;
    dryRun?: boolean;
}

/** The options of `optout schedule`, checked. */
export interface ScheduleSettings {
    targetOrg: string;
    config: ScheduleConfig;
    /** Set when MAILCHIMP_API_KEY is: the hourly cron also pulls and pushes. */
    mailchimp: MailchimpConfig | null;
    ledgerPath: string;
    plan: SchedulePlan;
}

/** `--dry-run`: the plan, nothing run. */
export type SchedulePlanResult = {
    status: 'plan';
    targetOrg: string;
    ledger: string;
} & SchedulePlan;

/** Once stopped by a signal. */
export interface ScheduleStopped {
    stopped: true;
    signal: NodeJS.Signals;
    at: string;
}

/** The `--json` result of `optout schedule`. */
export type ScheduleResult = SchedulePlanResult | ScheduleStopped;

/** The first event line: what is scheduled, and a note when nightly is off. */
export type StartedEvent = {
    event: 'started';
    targetOrg: string;
    ledger: string;
    pid: number;
    note?: string;
} & SchedulePlan;

/** A scheduler event as its JSON line. */
export function eventJson(e: SchedulerEvent): Record<string, unknown> {
    if (e.event === 'run')
        return {
            event: 'run',
            trigger: e.trigger,
            at: e.at,
            next: e.next,
            ...summarizeResult(e.result)
        };
    if (e.event === 'failed')
        return {
            event: 'failed',
            job: e.job,
            trigger: e.trigger,
            at: e.at,
            next: e.next,
            error: e.error,
            ...(e.result ? { runId: e.result.runId } : {})
        };
    return { ...e };
}

/** Every option checked (a bad cron, zone, interval or Mailchimp key is a usage error). */
export function checkScheduleOptions(opts: ScheduleOptions): ScheduleSettings {
    const targetOrg = requireText(
        opts.targetOrg,
        '--target-org',
        'Give an org alias, a username or "local"'
    );
    const config = checkConfig({
        hourly: opts.hourly,
        nightly: opts.nightly,
        timezone: opts.timezone,
        pushIntervalMs: parseDuration(opts.pushInterval, '--push-interval', {
            minMs: 1000,
            maxMs: 3_600_000
        }),
        ...(opts.nightlyFullEvery !== undefined
            ? {
                  nightlyFullEveryMs: parseNightlyDuration(
                      opts.nightlyFullEvery,
                      '--nightly-full-every',
                      'interval'
                  )
              }
            : {})
    });
    return {
        targetOrg,
        config,
        mailchimp: mailchimpConfigured() ? mailchimpConfig() : null,
        ledgerPath: resolveLedger(opts.ledger),
        plan: schedulePlan(config)
    };
}

/** A note when the org has nightly sync off (said once here; each run says it too). */
async function nightlyNote(
    org: OrgClient,
    targetOrg: string,
    out: Output
): Promise<string | undefined> {
    try {
        const { settings } = await readSettings(org);
        if (!settings.nightlySyncEnabled)
            return `Nightly sync is off in ${targetOrg}: nightly runs are skipped until it is on (optout settings set --target-org ${targetOrg} --nightly-sync on).`;
    } catch (err) {
        // The jobs report it with its fix on every run; say it once here.
        out.log('warn', `Cannot read the sync settings: ${errorMessage(err)}`);
    }
    return undefined;
}

/** The scheduler, and with MAILCHIMP_API_KEY the Mailchimp jobs, started; events streamed. */
function startJobs(
    s: ScheduleSettings,
    ledger: Ledger,
    org: OrgClient,
    out: Output
): { scheduler: Scheduler; mailchimpJobs: MailchimpSchedule | null } {
    const log = (level: LogLevel, message: string): void =>
        out.log(level, message);
    const scheduler = new Scheduler({
        ledger,
        org,
        config: s.config,
        log,
        onEvent: (e) =>
            out.event(eventJson(e), eventText(e, s.config.timezone)),
        // Several schedulers on one ledger: the one that leads runs the jobs.
        leadership: leadershipFor(parseLedgerLocation(s.ledgerPath), {
            locks: ledger,
            staleAfterMs: 60_000,
            log
        }),
        onLeadership: (e) =>
            out.event(
                { ...e },
                e.event === 'leader_gained'
                    ? `This scheduler leads (${e.leadership}): it runs the jobs.`
                    : `This scheduler no longer leads${e.reason ? ` (${e.reason})` : ''}: another one runs the jobs.`
            )
    });
    scheduler.start();
    const mailchimpJobs =
        s.mailchimp &&
        new MailchimpSchedule({
            ledger,
            config: s.mailchimp,
            cron: s.config.hourly,
            timezone: s.config.timezone,
            onEvent: (e) => out.event(e, mailchimpLine(e)),
            leads: () => scheduler.leader
        });
    if (mailchimpJobs) {
        mailchimpJobs.start();
        out.log(
            'info',
            `Mailchimp (${s.mailchimp?.apiUrl}): pull and push on the hourly schedule.`
        );
    }
    return { scheduler, mailchimpJobs };
}

/**
 * Waits for SIGINT/SIGTERM, then lets the runs in progress finish (a second signal
 * aborts them); returns the signal.
 */
async function waitForStop(
    start: () => ReturnType<typeof startJobs>,
    out: Output,
    announce: () => void
): Promise<NodeJS.Signals> {
    const running: { jobs?: ReturnType<typeof startJobs> } = {};
    const stop = waitForStopSignal(() => {
        out.log(
            'warn',
            'Stopping now: runs in progress end deferred; their work is left for the next run.'
        );
        running.jobs?.scheduler.abortNow();
    });
    // Announced once the handler is in place: a signal sent as soon as the line is read
    // must find it.
    announce();
    running.jobs = start();
    const { scheduler, mailchimpJobs } = running.jobs;
    const signal = await stop.stopped;
    const busy = scheduler.busy;
    out.log(
        'info',
        `${signal}: no new runs${busy.length ? `; waiting for ${busy.join(', ')} to finish (Ctrl-C again to stop at once)` : ''}.`
    );
    await scheduler.stop({ timeoutMs: 60_000 });
    await mailchimpJobs?.stop();
    stop.dispose();
    return signal;
}

/** Opens the ledger and the org, runs the schedule until a signal, closes both. */
async function runSchedule(
    s: ScheduleSettings,
    out: Output
): Promise<ScheduleStopped> {
    const ledger = await Ledger.open(s.ledgerPath);
    let org: OrgClient | undefined;
    try {
        org = await openOrg(s.targetOrg, {
            log: (level, message) => out.log(level, message),
            settingsTtlMs: LONG_RUNNING_SETTINGS_TTL_MS
        });
        const note = await nightlyNote(org, s.targetOrg, out);
        const started: StartedEvent = {
            event: 'started',
            targetOrg: s.targetOrg,
            ledger: shownLedger(s.ledgerPath),
            pid: process.pid,
            ...s.plan,
            ...(note ? { note } : {})
        };
        const client = org;
        const signal = await waitForStop(
            () => startJobs(s, ledger, client, out),
            out,
            () => out.event({ ...started }, renderStarted(started, out.columns))
        );
        return { stopped: true, signal, at: new Date().toISOString() };
    } catch (err) {
        throw err instanceof OptoutError
            ? err
            : new OptoutError('SCHEDULE_FAILED', errorMessage(err), {
                  cause: err
              });
    } finally {
        await org?.close().catch(() => undefined);
        await ledger.close();
    }
}

/** The plan with `--dry-run` (nothing opened); else the schedule until stopped. */
export async function schedule(
    opts: ScheduleOptions,
    out: Output
): Promise<ScheduleResult> {
    const s = checkScheduleOptions(opts);
    if (opts.dryRun)
        return {
            status: 'plan',
            targetOrg: s.targetOrg,
            ledger: shownLedger(s.ledgerPath),
            ...s.plan
        };
    return runSchedule(s, out);
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('schedule')
            .description(summaryOf('schedule'))
            .requiredOption(
                '--target-org <org>',
                'org to sync: an alias or username known to sf, or "local"'
            )
            .option(
                '--hourly <cron>',
                'when the hourly audience sync runs (cron: minute hour day month weekday)',
                DEFAULT_HOURLY
            )
            .option(
                '--nightly <cron>',
                'when the nightly reconciliation runs',
                DEFAULT_NIGHTLY
            )
            .option(
                '--nightly-full-every <duration>',
                'a nightly reads every Contact and Lead when the last full one is older than this, e.g. 7d, or off (default 7d, or $OPTOUT_NIGHTLY_FULL_EVERY); the others read what changed'
            )
            .option(
                '--timezone <tz>',
                'IANA time zone the cron expressions are read in',
                DEFAULT_TIMEZONE
            )
            .option(
                '--push-interval <duration>',
                'how often pending unsubscribes are pushed (e.g. 30s, 5m)',
                '30s'
            )
            .option(
                '--dry-run',
                'print the schedule with its next run times and exit (runs nothing, connects to nothing)'
            )
    ).action(async (opts: ScheduleOptions, cmd: Command) =>
        execute(cmd, {
            run: (out) => schedule(opts, out),
            render: renderSchedule
        })
    );
};
