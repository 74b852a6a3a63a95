/**
 * Text of `optout status`: the ledger at a glance, records Salesforce refused by reason
 * (R14), the last run of each job and the outbound notifications (R15), fitted to the
 * terminal's width.
 */
import type { LedgerStatus, StuckSummary } from '../../ledger/ledger';
import type { NotifyUrlStatus } from '../../webhook/notify';
import type { StatusResult } from '../commands/status';
import { formatAge, renderPairs, renderTable, wrapHanging } from '../table';

/** The whole `optout status` text. */
export function renderStatus(r: StatusResult, columns: number): string {
    return [
        renderLedgerStatus(r, columns),
        ...(r.notifications.length
            ? [renderNotifications(r.notifications, columns)]
            : [])
    ].join('\n');
}

/**
 * Stuck records by reason (R14): one block per reason with its counts, status codes,
 * a few examples (email, record, audience) and the one thing to do about it.
 */
export function renderStuck(stuck: StuckSummary, columns = Infinity): string {
    return stuck.byReason
        .map((g) => {
            const codes = Object.entries(g.codes)
                .map(([code, n]) => `${code} ${n}`)
                .join(', ');
            const examples = g.examples.map(
                (e) =>
                    `    ${e.email}${e.recordId ? ` — ${e.recordId}` : ''}` +
                    (e.kind === 'membership'
                        ? ` (audience ${e.audienceId ?? ''})`
                        : e.audienceId
                          ? ` (unsubscribe from ${e.audienceId})`
                          : ' (unsubscribe from all)') +
                    `: ${e.errorMessage ?? e.errorCode}`
            );
            return [
                ...wrapHanging(
                    `${g.title}: ${g.retrying} retrying, ${g.deadLetters} dead letter(s) [${codes}]`,
                    columns,
                    ''
                ),
                ...examples.flatMap((e) => wrapHanging(e, columns, '      ')),
                ...wrapHanging(`  What to do: ${g.whatToDo}`, columns, '    ')
            ].join('\n');
        })
        .join('\n');
}

/** Human rendering of the ledger part of `optout status` (reusable by the sync part). */
export function renderLedgerStatus(
    s: LedgerStatus,
    columns = Infinity
): string {
    const statuses = Object.entries(s.memberships.byStatus)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
    const sources = Object.entries(s.unsubscribes.bySource)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
    const parts = [
        renderPairs(
            [
                ['Ledger', `${s.path} (schema ${s.schemaVersion})`],
                [
                    'Persons',
                    `${s.persons} (${s.personsWithSalesforceId} with a Salesforce id)`
                ],
                ['Audiences', s.audiences],
                [
                    'Memberships',
                    `${s.memberships.total}${statuses ? ` — ${statuses}` : ''}`
                ],
                [
                    'Active unsubscribes',
                    `${s.unsubscribes.active} — ${s.unsubscribes.byScope.all} global, ${s.unsubscribes.byScope.audience} audience${sources ? `; ${sources}` : ''}`
                ],
                ['Delivered to Salesforce', s.unsubscribes.delivered],
                ['Removed by resubscribe', s.unsubscribes.removed],
                [
                    'Pending pushes',
                    s.pending.count === 0
                        ? 'none'
                        : `${s.pending.count} (${s.pending.global} global, ${s.pending.audience} audience), oldest ${formatAge(s.pending.oldestAgeMs)} ago`
                ],
                [
                    'Waiting for a matching Salesforce record',
                    s.pending.waitingForRecord === 0 &&
                    s.memberships.waitingForRecord === 0
                        ? 'none'
                        : `${s.pending.waitingForRecord} unsubscribe(s), ${s.memberships.waitingForRecord} membership(s)${s.pending.nextRetryAt ? `; next retry ${s.pending.nextRetryAt}` : ''} (the hourly job retries them; create or link the record: optout history --email EMAIL)`
                ],
                [
                    'Refused by Salesforce',
                    s.stuck.retrying + s.stuck.deadLetters === 0
                        ? 'none'
                        : `${s.stuck.retrying} retrying with back-off, ${s.stuck.deadLetters} dead letter(s) (not retried until optout retry)`
                ]
            ],
            columns
        )
    ];
    if (s.stuck.byReason.length) parts.push(renderStuck(s.stuck, columns));
    if (s.lastRuns.length) {
        parts.push(
            renderTable(
                [
                    'Job',
                    'Last run',
                    'Status',
                    'Duration',
                    'API requests',
                    'Org API usage',
                    'Summary'
                ],
                s.lastRuns.map((r) => [
                    r.job + (r.dryRun ? ' (dry run)' : ''),
                    r.startedAt,
                    r.status,
                    formatAge(r.durationMs),
                    r.apiRequests,
                    r.apiUsage ? `${r.apiUsage.used}/${r.apiUsage.max}` : '',
                    Object.entries(r.summary)
                        .map(([k, v]) => `${k} ${v}`)
                        .join(', ')
                ]),
                columns
            )
        );
    } else {
        parts.push('No job has run yet.');
    }
    return parts.join('\n');
}

/** Outbound notifications (R15): per URL, how far it confirmed and its last error. */
export function renderNotifications(
    rows: readonly NotifyUrlStatus[],
    columns = Infinity
): string {
    return renderTable(
        ['Notify URL', 'Delivered up to event', 'Pending', 'Last error'],
        rows.map((r) => [
            r.url,
            r.deliveredUpTo,
            r.pending,
            r.lastError
                ? `${r.lastError.at} event ${r.lastError.eventId}: ${r.lastError.error}`
                : 'none'
        ]),
        columns
    );
}
