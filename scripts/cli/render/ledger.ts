/**
 * Text of `optout ledger copy`: where from and to, the rows per table (source and
 * copy, and why a table was not copied), the locks the source still had, and what to
 * do next — point the processes at the new ledger.
 */
import type { LedgerCopyResult } from '../commands/ledger';
import { renderTable, wrapHanging, wrapText } from '../table';

export function renderLedgerCopy(r: LedgerCopyResult, columns: number): string {
    const rows = r.tables.map((t) => [
        t.table,
        t.source,
        t.skipped ? '-' : t.target,
        t.skipped
            ? `not copied: ${t.skipped}`
            : t.source === t.target
              ? 'ok'
              : 'DIFFERENT'
    ]);
    const seconds = (r.durationMs / 1000).toFixed(1);
    return [
        ...wrapText(
            `Copied ${r.rows} row${r.rows === 1 ? '' : 's'} in ${seconds}s (schema version ${r.schemaVersion}), counts checked:`,
            columns
        ),
        ...wrapHanging(`  from (${r.fromEngine}): ${r.from}`, columns, '    '),
        ...wrapHanging(`  to   (${r.toEngine}): ${r.to}`, columns, '    '),
        renderTable(['Table', 'Source', 'Copy', ''], rows, columns, {
            wrap: [3]
        }),
        ...r.sourceLocks.flatMap((l) =>
            wrapHanging(
                `Warning: the source had the lock '${l.name}' (held by ${l.holder}, pid ${l.pid}, heartbeat ${l.heartbeatAt}): if that process still runs, what it writes now stays in the source.`,
                columns,
                '  '
            )
        ),
        ...wrapText(
            `Next: point serve, schedule and the other commands at the copy (--ledger, or OPTOUT_LEDGER set to the --to value); the sync carries on where it was.`,
            columns
        )
    ].join('\n');
}
