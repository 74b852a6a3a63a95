/**
 * Text of `optout unsubscribe`: what was recorded, its details, and where it stands
 * with Salesforce (delivered, pending, or what the push `--target-org` did), fitted to
 * the terminal's width.
 */
import type { JobResult } from '../../sync/result';
import type { UnsubscribeResult } from '../commands/unsubscribe';
import { renderPairs, wrapText } from '../table';

function plural(n: number, one: string, many: string): string {
    return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Why a push left the unsubscribe undelivered, from its result. */
function pendingReason(r: JobResult): string {
    if (r.deferred) return `deferred: ${r.deferred.reason}`;
    if (r.status === 'skipped') return r.message ?? 'the push run was skipped';
    const skipped = Object.entries(r.skipped)
        .filter(([, n]) => n > 0)
        .map(([reason]) => reason.replace(/_/g, ' '));
    return skipped.length
        ? skipped.join(', ')
        : 'Salesforce did not confirm the write';
}

/**
 * One line on the push `--target-org` made for this unsubscribe: delivered or still
 * pending (and why), what it wrote, and the API requests it used.
 */
export function renderPushSummary(r: JobResult): string {
    const counts = [
        plural(r.recordsWritten, 'record written', 'records written'),
        ...(r.membershipsUpserted > 0
            ? [
                  plural(
                      r.membershipsUpserted,
                      'membership upserted',
                      'memberships upserted'
                  )
              ]
            : []),
        plural(r.apiRequests, 'API request', 'API requests')
    ].join(', ');
    return r.unsubscribesDelivered > 0
        ? `Push to ${r.targetOrg}: delivered (${counts}).`
        : `Push to ${r.targetOrg}: still pending (${pendingReason(r)}); it stays in the ledger for a later push (${counts}).`;
}

/** Where the unsubscribe stands with Salesforce. */
function delivery(o: UnsubscribeResult): string {
    if (o.push) return renderPushSummary(o.push);
    return o.deliveredAt
        ? `Delivered to Salesforce on ${o.deliveredAt}.`
        : 'Pending: the next push (optout sync push --target-org ORG) writes it to Salesforce.';
}

export function renderUnsubscribe(
    o: UnsubscribeResult,
    columns: number
): string {
    const what =
        o.scope === 'all'
            ? 'from all email (global)'
            : `from audience ${o.audienceId}`;
    const head =
        o.status === 'recorded'
            ? `Recorded: ${o.email} unsubscribed ${what}.`
            : `Already recorded: ${o.email} was unsubscribed ${what} on ${o.collectedAt}; nothing changed.`;
    return [
        ...wrapText(head, columns),
        renderPairs(
            [
                ['Unsubscribe id', o.unsubscribeId],
                ['Source', o.source],
                ['Reason', o.reason],
                ['Collected at', o.collectedAt],
                ['Ledger', o.ledger]
            ],
            columns
        ),
        ...wrapText(delivery(o), columns)
    ].join('\n');
}
