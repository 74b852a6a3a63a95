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
import { openOrg } from '../../salesforce/open';
import { readSettings } from '../../salesforce/settings';
import type { OrgClient } from '../../salesforce/client';
import {
    DEFAULT_HOURLY,
    DEFAULT_NIGHTLY,
    DEFAULT_TIMEZONE,
    Scheduler,
    checkConfig,
    describeRun,
    formatDuration,
    localTime,
    schedulePlan,
    summarizeResult,
    type SchedulePlan,
    type SchedulerEvent
} from '../../scheduler';
import { waitForStopSignal } from '../../scheduler/signals';
import { mailchimpConfig, mailchimpConfigured } from '../../mailchimp/config';
import { MailchimpSchedule, type ConnectorEvent } from '../../mailchimp/job';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import {
    addLedgerOption,
    requireText,
    resolveLedgerPath,
    parseDuration,
    type LedgerOptions
} from '../options';
import { renderTable } from '../table';

interface ScheduleOptions extends LedgerOptions {
    targetOrg: string;
    hourly: string;
    nightly: string;
    timezone: string;
    pushInterval: string;
    dryRun?: boolean;
}

function renderPlan(plan: SchedulePlan): string {
    return renderTable(
        ['Job', 'Schedule', 'Next runs'],
        [
            ...plan.jobs.map((j) => [
                j.job,
                `${j.cron} (${j.timezone})`,
                j.nextLocal.join('\n')
            ]),
            [
                'push',
                `every ${plan.push.every} while unsubscribes are pending`,
                ''
            ]
        ]
    );
}

/** One line per hourly Mailchimp pull and push. */
export function mailchimpLine(e: ConnectorEvent): string {
    if (e.event === 'mailchimp_failed')
        return `${e.at} Mailchimp failed: ${e.error.message}`;
    const changed = e.pull.audiences.reduce((n, a) => n + a.changed, 0);
    return `${e.at} Mailchimp: pulled ${changed} change(s) from ${e.pull.audiences.length} audience(s); pushed ${e.push.delivered} unsubscribe(s), ${e.push.skipped.length} skipped, ${e.push.failed.length} left for the next run.`;
}

/** One line per scheduler event. */
export function eventLine(
    e: SchedulerEvent,
    timezone: string
): {
    json: Record<string, unknown>;
    text: string;
} {
    const next = e.next ? ` — next ${localTime(e.next, timezone)}` : '';
    if (e.event === 'run')
        return {
            json: {
                event: 'run',
                trigger: e.trigger,
                at: e.at,
                next: e.next,
                ...summarizeResult(e.result)
            },
            text: `${e.at} ${describeRun(e.result)}${e.job === 'push' ? '' : next}`
        };
    if (e.event === 'failed')
        return {
            json: {
                event: 'failed',
                job: e.job,
                trigger: e.trigger,
                at: e.at,
                next: e.next,
                error: e.error,
                ...(e.result ? { runId: e.result.runId } : {})
            },
            text: `${e.at} ${e.job} failed: ${e.error.message}${e.error.actions.length ? ` (try: ${e.error.actions[0]})` : ''}${next}`
        };
    return {
        json: { ...e },
        text: `${e.at} ${e.job} busy: ${e.message}${next}`
    };
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
        runCommand(cmd, async (out) => {
            const targetOrg = requireText(
                opts.targetOrg,
                '--target-org',
                'Give an org alias, a username or "local"'
            );
            const config = checkConfig({
                hourly: opts.hourly,
                nightly: opts.nightly,
                timezone: opts.timezone,
                pushIntervalMs: parseDuration(
                    opts.pushInterval,
                    '--push-interval',
                    { minMs: 1000, maxMs: 3_600_000 }
                )
            });
            // With MAILCHIMP_API_KEY set, the hourly cron also pulls from and pushes
            // to Mailchimp; a bad key is a usage error before anything starts.
            const mailchimp = mailchimpConfigured() ? mailchimpConfig() : null;
            const ledgerPath = resolveLedgerPath(opts.ledger);
            const plan = schedulePlan(config);
            if (opts.dryRun) {
                out.result(
                    { status: 'plan', targetOrg, ledger: ledgerPath, ...plan },
                    () =>
                        `Schedule for ${targetOrg} (ledger ${ledgerPath}); nothing runs with --dry-run.\n${renderPlan(plan)}`
                );
                return 0;
            }

            const ledger = Ledger.open(ledgerPath);
            let org: OrgClient | undefined;
            try {
                org = await openOrg(targetOrg, {
                    log: (level, message) => out.log(level, message)
                });
                let nightlyNote = '';
                try {
                    const { settings } = await readSettings(org);
                    if (!settings.nightlySyncEnabled)
                        nightlyNote = `Nightly sync is off in ${targetOrg}: nightly runs are skipped until it is on (optout settings set --target-org ${targetOrg} --nightly-sync on).`;
                } catch (err) {
                    // The jobs report it with its fix on every run; say it once here.
                    out.log(
                        'warn',
                        `Cannot read the sync settings: ${errorMessage(err)}`
                    );
                }
                const scheduler = new Scheduler({
                    ledger,
                    org,
                    config,
                    log: (level, message) => out.log(level, message),
                    onEvent: (e) => {
                        const line = eventLine(e, config.timezone);
                        out.event(line.json, line.text);
                    }
                });
                out.event(
                    {
                        event: 'started',
                        targetOrg,
                        ledger: ledgerPath,
                        pid: process.pid,
                        ...plan,
                        ...(nightlyNote ? { note: nightlyNote } : {})
                    },
                    [
                        `Scheduling ${targetOrg} (ledger ${ledgerPath}, pid ${process.pid}); pending unsubscribes pushed every ${formatDuration(config.pushIntervalMs)}.`,
                        renderPlan(plan),
                        ...(nightlyNote ? [nightlyNote] : []),
                        'Press Ctrl-C to stop.'
                    ].join('\n')
                );
                scheduler.start();
                const mailchimpJobs =
                    mailchimp &&
                    new MailchimpSchedule({
                        ledger,
                        config: mailchimp,
                        cron: config.hourly,
                        timezone: config.timezone,
                        onEvent: (e) => out.event(e, mailchimpLine(e))
                    });
                if (mailchimpJobs) {
                    mailchimpJobs.start();
                    out.log(
                        'info',
                        `Mailchimp (${mailchimp.apiUrl}): pull and push on the hourly schedule.`
                    );
                }
                const stop = waitForStopSignal(() => {
                    out.log(
                        'warn',
                        'Stopping now: runs in progress end deferred; their work is left for the next run.'
                    );
                    scheduler.abortNow();
                });
                const signal = await stop.stopped;
                const busy = scheduler.busy;
                out.log(
                    'info',
                    `${signal}: no new runs${busy.length ? `; waiting for ${busy.join(', ')} to finish (Ctrl-C again to stop at once)` : ''}.`
                );
                await scheduler.stop({ timeoutMs: 60_000 });
                await mailchimpJobs?.stop();
                stop.dispose();
                out.result(
                    { stopped: true, signal, at: new Date().toISOString() },
                    () => 'Stopped.'
                );
                return 0;
            } catch (err) {
                throw err instanceof OptoutError
                    ? err
                    : new OptoutError('SCHEDULE_FAILED', errorMessage(err), {
                          cause: err
                      });
            } finally {
                await org?.close().catch(() => undefined);
                ledger.close();
            }
        })
    );
};
