/**
 * Text of `optout sync push|hourly|nightly`: the run's counts, what a dry run would
 * write, and the records Salesforce refused, fitted to the terminal's width.
 */
import type { JobResult } from '../../sync/result';
import { renderPairs, renderTable, wrapHanging } from '../table';

type Pair = [string, string | number];

function count(n: number): string {
    return n.toLocaleString('en-US');
}

/** `push → prod: succeeded in 1.2 s`. */
export function jobTitle(r: JobResult): string {
    return `${r.job} → ${r.targetOrg}: ${r.status}${r.dryRun ? ' (dry run: nothing was written)' : ''} in ${(r.durationMs / 1000).toFixed(1)} s`;
}

/** The run's counts, one label and value per line. */
export function jobPairs(r: JobResult): Pair[] {
    const skipped = Object.entries(r.skipped)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k.replace(/_/g, ' ')} ${count(n)}`)
        .join(', ');
    const pairs: Pair[] = [
        ['Run', r.runId],
        ['Records written', count(r.recordsWritten)],
        ['Memberships upserted', count(r.membershipsUpserted)],
        ['Ledger unsubscribes added', count(r.ledgerUnsubscribesAdded)],
        ['Unsubscribes delivered', count(r.unsubscribesDelivered)],
        ['Skipped', skipped || 'none'],
        ['Failed records', count(r.failed.length)]
    ];
    if (r.stuck && r.stuck.retrying + r.stuck.deadLetters > 0)
        pairs.push([
            'Stuck in the ledger',
            `${count(r.stuck.retrying)} retrying, ${count(r.stuck.deadLetters)} dead letter(s) — optout status says why and what to do`
        ]);
    pairs.push(
        [
            'Retried',
            `${count(r.retried.requests)} request(s), ${count(r.retried.records)} record(s)`
        ],
        [
            'API requests',
            `${count(r.apiRequests)}${r.apiUsage ? ` (org usage ${count(r.apiUsage.used)} of ${count(r.apiUsage.max)} today)` : ''}`
        ]
    );
    if (r.settings)
        pairs.push([
            'Settings',
            `${r.settings.source === 'defaults' ? 'defaults (no org record)' : 'org default'}; writes ${r.settings.fieldWritten}; nightly ${r.settings.nightlySyncEnabled ? 'on' : 'off'}; same email ${r.settings.applyToSameEmail ? 'on' : 'off'}; all-audiences rule ${r.settings.allAudiencesRule ? 'on' : 'off'}`
        ]);
    if (r.reconciliation)
        pairs.push([
            'Reconciliation',
            `${r.reconciliation.mode} (${r.reconciliation.reason}); ${count(r.reconciliation.recordsRead)} records read`
        ]);
    if (r.modes)
        pairs.push([
            'Modes',
            Object.entries(r.modes)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', ')
        ]);
    return pairs;
}

/** What a dry run would have written, and a sample of it. */
export function renderPlan(
    plan: NonNullable<JobResult['plan']>,
    columns: number
): string {
    const parts = [
        renderPairs(
            [
                ['Would write opt-out fields', count(plan.fieldWrites)],
                ['Would upsert memberships', count(plan.membershipUpserts)],
                [
                    'Would add ledger unsubscribes',
                    count(plan.ledgerUnsubscribes)
                ],
                ['Would clear pending flags', count(plan.pendingCleared)],
                ['Would mark delivered', count(plan.deliveries)]
            ],
            columns
        )
    ];
    if (plan.sample.length)
        parts.push(
            `Sample:\n${plan.sample
                .slice(0, 10)
                .map(
                    (s) =>
                        `  ${wrapHanging(JSON.stringify(s), columns - 2, '    ').join('\n')}`
                )
                .join('\n')}`
        );
    return parts.join('\n');
}

/**
 * The first 20 records Salesforce refused, and how many more there are: a table when it
 * fits without wrapping, else one block per record (ids and error codes stay whole).
 */
export function renderFailed(
    failed: JobResult['failed'],
    columns: number
): string {
    const shown = failed.slice(0, 20);
    const head = ['Record', 'Object', 'Field', 'Error', 'Message', 'Email'];
    const rows = shown.map((f) => [
        f.recordId ?? '',
        f.object,
        f.field ?? '',
        f.errorCode,
        f.message.slice(0, 80),
        f.email ?? ''
    ]);
    const natural = head.map((h, i) =>
        Math.max(h.length, ...rows.map((r) => r[i].length))
    );
    const fits = natural.reduce((a, w) => a + w + 3, 1) <= columns;
    const parts = [
        fits
            ? renderTable(head, rows, columns)
            : shown.map((f) => failureBlock(f, columns)).join('\n')
    ];
    if (failed.length > shown.length)
        parts.push(
            `… and ${count(failed.length - shown.length)} more (see --json).`
        );
    return parts.join('\n');
}

/** `RECORD Object.Field email`, then `  ERROR_CODE: message` wrapped under it. */
function failureBlock(f: JobResult['failed'][number], columns: number): string {
    const what = [
        f.recordId ?? '(no record)',
        `${f.object}${f.field ? `.${f.field}` : ''}`,
        f.email ?? ''
    ]
        .filter(Boolean)
        .join(' ');
    return [
        wrapHanging(what, columns, '  ').join('\n'),
        `  ${wrapHanging(`${f.errorCode}: ${f.message}`, columns - 2, '    ').join('\n')}`
    ].join('\n');
}

/** The human summary of a run. */
export function renderJobResult(r: JobResult, columns = 80): string {
    const parts = [
        wrapHanging(jobTitle(r), columns).join('\n'),
        renderPairs(jobPairs(r), columns)
    ];
    if (r.message) parts.push(wrapHanging(r.message, columns).join('\n'));
    if (r.deferred)
        parts.push(
            wrapHanging(
                `Deferred: ${count(r.deferred.count)} item(s) left for the next run. ${r.deferred.reason}`,
                columns
            ).join('\n')
        );
    if (r.plan) parts.push(renderPlan(r.plan, columns));
    if (r.failed.length) parts.push(renderFailed(r.failed, columns));
    return parts.join('\n');
}
