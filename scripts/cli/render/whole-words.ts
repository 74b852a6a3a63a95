/**
 * Tables of the ledger commands that never cut an id, a code or a time in two: the
 * free-text columns (names, reasons, descriptions) wrap at spaces first, and a table
 * that cannot fit with every word whole becomes one "Heading: value" block per row.
 * (cli/table.ts narrows the widest column, whatever it holds.)
 */
import { renderTable, wrapText } from '../table';

/** Widest line of a cell. */
const cellWidth = (s: string): number =>
    Math.max(0, ...s.split('\n').map((l) => [...l].length));

/** Narrowest a free-text column is wrapped to (below it the table gives way to blocks). */
const MIN_PROSE_WIDTH = 12;

/**
 * Wraps the free-text columns (`prose`: names, reasons, descriptions) at spaces so that
 * the table fits `columns` with the other columns (ids, codes, times) whole: the table
 * would otherwise narrow its widest column, cutting an id or a time in two. Narrowest
 * prose first gets its natural width or an equal share of the room left.
 */
export function wrapProse(
    head: readonly string[],
    rows: readonly string[][],
    prose: readonly number[],
    columns: number
): string[][] {
    const natural = head.map((h, i) =>
        Math.max(cellWidth(h), ...rows.map((r) => cellWidth(r[i])))
    );
    const fixed = natural.reduce(
        (sum, w, i) => (prose.includes(i) ? sum : sum + w),
        0
    );
    let room = columns - (head.length * 3 + 1) - fixed;
    const widths = new Map<number, number>();
    const byWidth = [...prose].sort((a, b) => natural[a] - natural[b]);
    byWidth.forEach((i, k) => {
        const share = Math.floor(room / (byWidth.length - k));
        widths.set(i, Math.max(MIN_PROSE_WIDTH, Math.min(natural[i], share)));
        room -= widths.get(i) ?? 0;
    });
    return rows.map((r) =>
        r.map((c, i) => {
            const w = widths.get(i);
            return w !== undefined && cellWidth(c) > w
                ? wrapText(c, Math.max(w, cellWidth(head[i]))).join('\n')
                : c;
        })
    );
}

/** Longest word of a cell: narrower than that, a column cuts it in two. */
const longestWord = (s: string): number =>
    Math.max(0, ...s.split(/\s+/).map((w) => [...w].length));

/** Whether the table fits `columns` with every word (id, code, time) whole. */
function fitsWhole(
    head: readonly string[],
    rows: readonly string[][],
    prose: readonly number[],
    columns: number
): boolean {
    const widths = head.map((h, i) =>
        prose.includes(i)
            ? Math.max(longestWord(h), ...rows.map((r) => longestWord(r[i])))
            : Math.max(cellWidth(h), ...rows.map((r) => cellWidth(r[i])))
    );
    return widths.reduce((sum, w) => sum + w + 3, 1) <= columns;
}

/** One block of "Heading: value" lines per row, wrapped within `columns`. */
export function keyValueBlocks(
    head: readonly string[],
    rows: readonly string[][],
    columns: number
): string {
    const label = Math.max(...head.map((h) => h.length)) + 2;
    const room = Math.max(MIN_PROSE_WIDTH, columns - label);
    return rows
        .map((row) =>
            head
                .flatMap((h, i) =>
                    wrapText(row[i], room).map((l, k) =>
                        `${k === 0 ? `${h}:`.padEnd(label) : ' '.repeat(label)}${l}`.trimEnd()
                    )
                )
                .join('\n')
        )
        .join('\n\n');
}

/**
 * A table whose free-text columns wrap first (see wrapProse); when even that would cut
 * an id, a code or a time, one "Heading: value" block per row instead.
 */
export function proseTable(
    head: string[],
    rows: string[][],
    prose: readonly number[],
    columns: number
): string {
    if (!fitsWhole(head, rows, prose, columns))
        return keyValueBlocks(head, rows, columns);
    return renderTable(head, wrapProse(head, rows, prose, columns), columns);
}
