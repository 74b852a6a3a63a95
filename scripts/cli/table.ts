/**
 * Plain tables for human output (cli-table3 without colours, so that piped output has no
 * escape codes), fitted to the terminal: a table wider than `columns` wraps its cells at
 * spaces (never cutting a word: an id, a code, a time), and when even that cannot fit it
 * becomes one block of "Heading: value" lines per row. Also small formatters shared by the ledger commands.
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
 * when it cannot: column i keeps at least `minimum[i]`; the room left is shared fairly
 * among the columns that want more (the narrowest are served first). A table's width is
 * the sum of content widths + 3 per column + 1.
 */
export function fitWidths(
    natural: readonly number[],
    columns: number,
    minimum: readonly number[] = natural
): number[] | undefined {
    const overhead = 3 * natural.length + 1;
    if (natural.reduce((a, w) => a + w, overhead) <= columns)
        return [...natural];
    const widths = natural.map((w, i) => Math.min(w, minimum[i]));
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

/**
 * The narrowest each column may become: a column that may wrap keeps its longest word
 * whole (an id, an error code, a time is never cut in two) and at least MIN_COLUMN; a
 * column that may not wrap keeps its whole text.
 */
function minimumWidths(
    texts: readonly (readonly string[])[],
    mayWrap: (column: number) => boolean
): number[] {
    return texts.map((column, i) => {
        const natural = Math.max(0, ...column.map(cellWidth));
        if (!mayWrap(i)) return natural;
        const word = Math.max(0, ...column.map(longestWordOf));
        return Math.min(natural, Math.max(MIN_COLUMN, word));
    });
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

/**
 * Text wrapped to `columns` with a hanging indent: the lines after the first start with
 * `indent` (examples under a heading, "what to do" under a refusal).
 */
export function wrapHanging(
    text: string,
    columns: number,
    indent = ''
): string[] {
    const [first, ...rest] = wrapText(text, columns);
    const more = rest.join(' ').trim();
    if (!more) return [first];
    return [
        first,
        ...wrapText(more, Math.max(MIN_COLUMN, columns - indent.length)).map(
            (l) => indent + l
        )
    ];
}

/** A cell's text wrapped to `width` (long words cut, never truncated). */
const fit = (s: string, width: number): string => wrapText(s, width).join('\n');

/** One block per row, "Heading: value", each line within `columns`. */
export function keyValueBlocks(
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

export interface TableOptions {
    /**
     * The columns that may wrap (free text: names, reasons, summaries); the others keep
     * their whole text. Default: every column may wrap at its spaces.
     */
    wrap?: readonly number[];
}

export function renderTable(
    head: string[],
    rows: Cell[][],
    columns = Infinity,
    options: TableOptions = {}
): string {
    const cells = rows.map((r) => r.map(text));
    const byColumn = head.map((h, i) => [h, ...cells.map((r) => r[i] ?? '')]);
    const natural = byColumn.map((c) => Math.max(0, ...c.map(cellWidth)));
    const minimum = minimumWidths(
        byColumn,
        (i) => !options.wrap || options.wrap.includes(i)
    );
    const widths = fitWidths(natural, columns, minimum);
    if (!widths) return keyValueBlocks(head, cells, columns);
    const table = new Table({
        head: head.map((h, i) => fit(h, widths[i])),
        style: { head: [], border: [] }
    });
    for (const row of cells) table.push(row.map((c, i) => fit(c, widths[i])));
    return table.toString();
}

/** Two columns, label and value; long values wrap within `columns`. */
export function renderPairs(
    pairs: [string, Cell][],
    columns = Infinity
): string {
    const labels = pairs.map(([k]) => k);
    const values = pairs.map(([, v]) => text(v));
    const natural = [labels, values].map((c) =>
        Math.max(0, ...c.map(cellWidth))
    );
    const widths = fitWidths(
        natural,
        columns,
        minimumWidths([labels, values], () => true)
    );
    if (!widths) return keyValueBlocks(labels, [values], columns);
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
