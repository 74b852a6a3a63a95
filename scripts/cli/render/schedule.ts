/**
 * Text of `optout schedule`: the plan (`--dry-run`, and at start), one line per run,
 * per Mailchimp pull and push, and the last line when it stopped; tables fitted to the
 * terminal's width.
 */
import type { ConnectorEvent } from '../../mailchimp/job';
import {
    describeRun,
    localTime,
    type SchedulePlan,
    type SchedulerEvent
} from '../../scheduler';
import type { ScheduleResult, StartedEvent } from '../commands/schedule';
import { renderTable, wrapText } from '../table';

/** Each job's schedule and next run times, and the push interval. */
export function renderPlan(plan: SchedulePlan, columns = 80): string {
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
        ],
        columns
    );
}

/** The lines printed when the scheduler starts. */
export function renderStarted(e: StartedEvent, columns: number): string {
    return [
        ...wrapText(
            `Scheduling ${e.targetOrg} (ledger ${e.ledger}, pid ${e.pid}); pending unsubscribes pushed every ${e.push.every}.`,
            columns
        ),
        renderPlan(e, columns),
        ...(e.note ? wrapText(e.note, columns) : []),
        'Press Ctrl-C to stop.'
    ].join('\n');
}

/** One line per hourly Mailchimp pull and push. */
export function mailchimpLine(e: ConnectorEvent): string {
    if (e.event === 'mailchimp_failed')
        return `${e.at} Mailchimp failed: ${e.error.message}`;
    const changed = e.pull.audiences.reduce((n, a) => n + a.changed, 0);
    return `${e.at} Mailchimp: pulled ${changed} change(s) from ${e.pull.audiences.length} audience(s); pushed ${e.push.delivered} unsubscribe(s), ${e.push.skipped.length} skipped, ${e.push.failed.length} left for the next run.`;
}

/** One line per scheduler event (a run, a failure, a job still busy). */
export function eventText(e: SchedulerEvent, timezone: string): string {
    const next = e.next ? ` — next ${localTime(e.next, timezone)}` : '';
    if (e.event === 'run')
        return `${e.at} ${describeRun(e.result)}${e.job === 'push' ? '' : next}`;
    if (e.event === 'failed')
        return `${e.at} ${e.job} failed: ${e.error.message}${e.error.actions.length ? ` (try: ${e.error.actions[0]})` : ''}${next}`;
    return `${e.at} ${e.job} busy: ${e.message}${next}`;
}

/** The plan of `--dry-run`, or the last line once the scheduler stopped. */
export function renderSchedule(r: ScheduleResult, columns: number): string {
    if ('stopped' in r) return 'Stopped.';
    return [
        ...wrapText(
            `Schedule for ${r.targetOrg} (ledger ${r.ledger}); nothing runs with --dry-run.`,
            columns
        ),
        renderPlan(r, columns)
    ].join('\n');
}
