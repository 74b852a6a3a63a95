/**
 * Plain tables for human output (cli-table3 without colours, so that piped output
 * has no escape codes), and small formatters shared by the ledger commands.
 */
import Table from 'cli-table3';

export function renderTable(
    head: string[],
    rows: (string | number | null | undefined)[][]
): string {
    const table = new Table({ head, style: { head: [], border: [] } });
    for (const row of rows)
        table.push(
            row.map((c) => (c === null || c === undefined ? '' : String(c)))
        );
    return table.toString();
}

/** Two columns, label and value. */
export function renderPairs(
    pairs: [string, string | number | null | undefined][]
): string {
    const table = new Table({ style: { head: [], border: [] } });
    for (const [k, v] of pairs)
        table.push({ [k]: v === null || v === undefined ? '' : String(v) });
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
