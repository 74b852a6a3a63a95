/**
 * Text of `optout export suppressions --out FILE`: how many items went where, and the
 * cursor for next time (whole on its own line, so it can be copied). Without --out the
 * items themselves are the output and nothing is rendered.
 */
import type { ExportResult } from '../commands/export';
import { wrapText } from '../table';

export function renderExport(r: ExportResult, columns: number): string {
    const n = r.items;
    return [
        ...wrapText(
            `Wrote ${n} suppression item${n === 1 ? '' : 's'} to ${r.out ?? 'stdout'} (${r.format}).`,
            columns
        ),
        // The cursor is never cut: a cut cursor pasted back would be refused.
        `Next cursor: ${r.next}`
    ].join('\n');
}
