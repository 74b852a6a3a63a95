/**
 * Text of `optout mailchimp pull | push | local start | webhook`, fitted to the
 * terminal's width.
 */
import type {
    LocalMailchimpRunning,
    MailchimpPullResult,
    MailchimpPushResult,
    MailchimpWebhookResult
} from '../commands/mailchimp';
import { renderTable, wrapHanging } from '../table';

/** Per audience: members read and changed, unsubscribes, skipped, and the cursor. */
export function renderPull(r: MailchimpPullResult, columns: number): string {
    const rows = r.audiences.map((a) => [
        a.listId,
        a.name,
        String(a.read),
        String(a.changed),
        String(a.unsubscribes),
        String(a.skipped.length),
        a.cursorAfter ?? ''
    ]);
    const skipped = r.audiences.flatMap((a) =>
        a.skipped.map((s) =>
            wrapHanging(
                `  ${a.listId} ${s.email}: ${s.reason}`,
                columns,
                '    '
            ).join('\n')
        )
    );
    return [
        wrapHanging(
            `Pulled ${r.audiences.length} audience(s) from Mailchimp (${r.requests} request(s)).`,
            columns
        ).join('\n'),
        renderTable(
            [
                'Audience',
                'Name',
                'Read',
                'Changed',
                'Unsubscribes',
                'Skipped',
                'Cursor'
            ],
            rows,
            columns
        ),
        ...(skipped.length ? ['Members not taken:', ...skipped] : [])
    ].join('\n');
}

/** What was sent, skipped and left for the next run. */
export function renderPush(r: MailchimpPushResult, columns: number): string {
    if (r.pending === 0)
        return wrapHanging(
            'Nothing to push: Mailchimp has every unsubscribe of the ledger.',
            columns
        ).join('\n');
    return [
        wrapHanging(
            `Sent ${r.pending} unsubscribe(s) to Mailchimp${r.mode === 'batch' ? ` in ${r.batches.length} batch operation(s)` : ''}: ` +
                `${r.delivered} delivered, ${r.skipped.length} skipped, ${r.failed.length} left for the next run (${r.requests} request(s)).`,
            columns
        ).join('\n'),
        ...r.skipped.map((s) =>
            wrapHanging(
                `  skipped ${s.email} in ${s.listId}: ${s.reason}`,
                columns,
                '    '
            ).join('\n')
        ),
        ...r.failed.map((s) =>
            wrapHanging(
                `  not sent ${s.email} to ${s.listId}: ${s.reason}`,
                columns,
                '    '
            ).join('\n')
        )
    ].join('\n');
}

/** Each audience's webhook, registered now or already. */
export function renderWebhooks(
    r: MailchimpWebhookResult,
    columns: number
): string {
    if (r.audiences.length === 0)
        return 'This Mailchimp account has no audience.';
    return renderTable(
        ['Audience', 'Name', 'Webhook', 'Outcome'],
        r.audiences.map((a) => [
            a.listId,
            a.name,
            a.webhookId,
            a.outcome === 'already' ? 'already registered' : 'registered'
        ]),
        columns
    );
}

/**
 * Where the local Mailchimp runs and the two variables to export. The `export` lines
 * stay whole (they are copied into a shell).
 */
export function renderLocalMailchimpRunning(
    e: LocalMailchimpRunning,
    baseUrl: string,
    columns = 80
): string {
    return [
        wrapHanging(
            `Local Mailchimp running at ${baseUrl} (data: ${e.dbPath}); stop with Ctrl-C`,
            columns,
            '  '
        ).join('\n'),
        ...e.audiences.map((a) => `  audience ${a.name}: ${a.id}`),
        `export MAILCHIMP_API_URL=${e.apiUrl}`,
        `export MAILCHIMP_API_KEY=${e.apiKey}`
    ].join('\n');
}

export function renderLocalMailchimpStopped(): string {
    return 'Local Mailchimp stopped.';
}
