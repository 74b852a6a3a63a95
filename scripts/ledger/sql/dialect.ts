/**
 * What the PostgreSQL engine does to the ledger's SQL, which is written once for both
 * engines: `?` placeholders become `$1…$n`, and result columns come back with the
 * camelCase names the SQL gave them (PostgreSQL folds unquoted aliases to lower case).
 * Pure and cached per statement text.
 */

/** `?` → `$n`, outside string literals, quoted identifiers and comments. */
export function numberPlaceholders(sql: string): string {
    let out = '';
    let n = 0;
    let i = 0;
    while (i < sql.length) {
        const c = sql[i];
        if (c === "'" || c === '"') {
            const end = closing(sql, i, c);
            out += sql.slice(i, end);
            i = end;
        } else if (c === '-' && sql[i + 1] === '-') {
            const end = sql.indexOf('\n', i);
            const stop = end === -1 ? sql.length : end;
            out += sql.slice(i, stop);
            i = stop;
        } else if (c === '?') {
            n += 1;
            out += `$${n}`;
            i += 1;
        } else {
            out += c;
            i += 1;
        }
    }
    return out;
}

/** The index just past the literal opened by `quote` at `start` ('' and "" escape). */
function closing(sql: string, start: number, quote: string): number {
    let i = start + 1;
    while (i < sql.length) {
        if (sql[i] === quote) {
            if (sql[i + 1] === quote) i += 2;
            else return i + 1;
        } else i += 1;
    }
    return sql.length;
}

const CAMEL = /\b[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*\b/g;

/** lower-case name → the camelCase word of the SQL it came from. */
export function camelNames(sql: string): Map<string, string> {
    const names = new Map<string, string>();
    for (const word of sql.match(CAMEL) ?? [])
        names.set(word.toLowerCase(), word);
    return names;
}

/** A row with its lower-cased keys renamed back to the SQL's camelCase aliases. */
export function renameColumns(
    row: Record<string, unknown>,
    names: Map<string, string>
): Record<string, unknown> {
    if (names.size === 0) return row;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(row))
        out[names.get(key) ?? key] = value;
    return out;
}

/**
 * SQL for an integer field of a JSON text column (`detail` of the audit): SQLite's
 * json_extract, PostgreSQL's jsonb operator. Both give an integer, or NULL.
 */
export function jsonInteger(
    kind: 'sqlite' | 'postgres',
    column: string,
    key: string
): string {
    if (!/^\w+(\.\w+)?$/.test(column) || !/^\w+$/.test(key))
        throw new Error(`not a column and key: ${column}, ${key}`);
    return kind === 'sqlite'
        ? `CAST(json_extract(${column}, '$.${key}') AS INTEGER)`
        : `CAST((${column}::jsonb ->> '${key}') AS BIGINT)`;
}

/** `?, ?, ?` for `n` values (n ≥ 1). */
export function marks(n: number): string {
    return Array.from({ length: n }, () => '?').join(', ');
}
