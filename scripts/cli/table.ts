/**
 * Plain tables for human output (cli-table3 without colours, so that piped output has no
 * escape codes), fitted to the terminal: a table wider than `columns` wraps its widest
 * cells, and when even that leaves too little room per column it becomes one block of
 * "Heading: value" lines per row. Also small formatters shared by the ledger commands.
 */
import Table from 'cli-table3';

type Cell = string | number | null | undefined;

/** Narrowest a wrapped column may become before the table turns into key/value blocks. */
const MIN_COLUMN = 10;

const text = (c: Cell): string =>
    c === null || c === undefined ? '' : String(c);

/** Widest line of a cell's text. */
const cellWidth = (s: string): number =>
    Math.max(0, ...s.split('\n').map((l) => [...l].length));

/**
 * Content widths (padding excluded) that make a table fit in `columns`, or undefined
 * when it cannot: each column keeps at least its longest word (up to 24 characters, so
 * that dates and ids are not cut) or its whole text when shorter than MIN_COLUMN; the
 * room left is shared fairly among the columns that want more (the narrowest are served
 * first). A table's width is the sum of content widths + 3 per column + 1.
 */
export function fitWidths(
    natural: readonly number[],
    columns: number,
    longestWord: readonly number[] = natural
): number[] | undefined {
    const overhead = 3 * natural.length + 1;
    if (natural.reduce((a, w) => a + w, overhead) <= columns)
        return [...natural];
    const widths = natural.map((w, i) =>
        Math.min(w, Math.max(MIN_COLUMN, Math.min(longestWord[i], 24)))
    );
    let room = columns - overhead - widths.reduce((a, w) => a + w, 0);
    if (room < 0) return undefined;
    const wanting = natural
        .map((_, i) => i)
        .filter((i) => natural[i] > widths[i])
        .sort((a, b) => natural[a] - natural[b]);
    wanting.forEach((i, k) => {
        const share = Math.floor(room / (wanting.length - k));
        const add = Math.min(share, natural[i] - widths[i]);
        widths[i] += add;
        room -= add;
    });
    return widths;
}

/** Longest run of non-space characters in a cell's text. */
const longestWordOf = (s: string): number =>
    Math.max(0, ...s.split(/\s+/).map((w) => [...w].length));

/** Cuts text into lines of at most `width` characters, at spaces where it can. */
export function wrapText(s: string, width: number): string[] {
    const out: string[] = [];
    for (const line of s.split('\n')) {
        let rest = line;
        while ([...rest].length > width) {
            const cut = rest.lastIndexOf(' ', width);
            const at = cut > width / 3 ? cut : width;
            out.push(rest.slice(0, at).trimEnd());
            rest = rest.slice(at).trimStart();
        }
        out.push(rest);
    }
    return out;
}

/** A cell's text wrapped to `width` (long words cut, never truncated). */
const fit = (s: string, width: number): string => wrapText(s, width).join('\n');

/** One block per row, "Heading: value", each line within `columns`. */
function keyValueBlocks(
    head: readonly string[],
    rows: readonly string[][],
    columns: number
): string {
    const label = Math.max(...head.map((h) => h.length)) + 2;
    const room = Math.max(MIN_COLUMN, columns - label);
    return rows
        .map((row) =>
            head
                .map((h, i) =>
                    wrapText(row[i] ?? '', room)
                        .map(
                            (l, k) =>
                                `${k === 0 ? `${h}:`.padEnd(label) : ' '.repeat(label)}${l}`
                        )
                        .join('\n')
                )
                .join('\n')
        )
        .join('\n\n');
}

export function renderTable(
    head: string[],
    rows: Cell[][],
    columns = Infinity
): string {
    const cells = rows.map((r) => r.map(text));
    const natural = head.map((h, i) =>
        Math.max(cellWidth(h), ...cells.map((r) => cellWidth(r[i] ?? '')))
    );
    const words = head.map((h, i) =>
        Math.max(
            longestWordOf(h),
            ...cells.map((r) => longestWordOf(r[i] ?? ''))
        )
    );
    const widths = fitWidths(natural, columns, words);
    if (!widths) return keyValueBlocks(head, cells, columns);
    const table = new Table({ head, style: { head: [], border: [] } });
    for (const row of cells) table.push(row.map((c, i) => fit(c, widths[i])));
    return table.toString();
}

/** Two columns, label and value; long values wrap within `columns`. */
export function renderPairs(pairs: [string, Cell][], columns = 80): string {
    const values = pairs.map(([, v]) => text(v));
    const natural = [
        Math.max(...pairs.map(([k]) => cellWidth(k))),
        Math.max(0, ...values.map(cellWidth))
    ];
    const words = [
        Math.max(...pairs.map(([k]) => longestWordOf(k))),
        Math.max(0, ...values.map(longestWordOf))
    ];
    const widths = fitWidths(natural, columns, words);
    if (!widths)
        return keyValueBlocks(
            pairs.map(([k]) => k),
            [values],
            columns
        );
    const table = new Table({ style: { head: [], border: [] } });
    pairs.forEach(([k], i) =>
        table.push({ [fit(k, widths[0])]: fit(values[i], widths[1]) })
    );
    return table.toString();
}

/** 90061000 → "1d 1h", 125000 → "2m 5s", 800 → "0.8s". */
export function formatAge(ms: number | null | undefined): string {
    if (ms === null || ms === undefined) return '';
    if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
    const s = Math.floor(ms / 1000);
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    return `${m}m ${s % 60}s`;
}
