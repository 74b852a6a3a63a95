/**
 * Text of `optout resubscribe`: what was lifted (a table of the unsubscribes removed)
 * and what happens next, fitted to the terminal's width.
 */
import type { ResubscribeResult } from '../commands/resubscribe';
import { renderTable, wrapText } from '../table';

export function renderResubscribe(
    r: ResubscribeResult,
    columns: number
): string {
    const what =
        r.audienceId === null
            ? 'global unsubscribe'
            : `unsubscribe from audience ${r.audienceId}`;
    if (r.removed.length === 0)
        return wrapText(
            `Nothing to remove: ${r.email} has no active ${what}.`,
            columns
        ).join('\n');
    return [
        ...wrapText(
            `Removed the ${what} of ${r.email} (reason recorded: ${r.reason}).`,
            columns
        ),
        renderTable(
            ['Id', 'Scope', 'Audience', 'Source', 'Collected', 'Delivered'],
            r.removed.map((u) => [
                String(u.id),
                u.scope,
                u.audienceId ?? '',
                u.source,
                u.collectedAt,
                u.deliveredAt ?? 'not yet'
            ]),
            columns,
            { wrap: [] }
        ),
        ...r.notes.flatMap((n) => wrapText(n, columns))
    ].join('\n');
}
