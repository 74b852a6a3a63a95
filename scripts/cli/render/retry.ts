/**
 * Text of `optout retry`: how many stuck records were put back and when they go out
 * again, and a table of them (key/value blocks when narrow).
 */
import type { RetriedRecord, RetryResult } from '../commands/retry';
import { renderTable, wrapText } from '../table';

function describe(r: RetriedRecord): string {
    return r.kind === 'unsubscribe'
        ? `unsubscribe #${r.unsubscribeId ?? ''}${r.audienceId ? ` from ${r.audienceId}` : ' from all'}`
        : `membership in ${r.audienceId ?? ''}`;
}

export function renderRetry(r: RetryResult, columns: number): string {
    if (r.records.length === 0)
        return wrapText(
            'Nothing to retry: no stuck record matches (optout status lists them).',
            columns
        ).join('\n');
    return [
        ...wrapText(
            `Put back ${r.putBack} record(s) (${r.deadLetters} dead letter(s), ${r.retrying} retrying): ` +
                'the next push sends the unsubscribes, the next hourly run the memberships.',
            columns
        ),
        renderTable(
            ['Email', 'What', 'Record', 'Code', 'Was'],
            r.records.map((x) => [
                x.email,
                describe(x),
                x.recordId ?? '',
                x.errorCode,
                x.state === 'dead_letter' ? 'dead letter' : 'retrying'
            ]),
            columns,
            { wrap: [1] }
        )
    ].join('\n');
}
