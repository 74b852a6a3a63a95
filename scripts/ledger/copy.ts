/**
 * Moving house: copies one open ledger into another, empty one — SQLite to PostgreSQL,
 * PostgreSQL to SQLite, or file to file — so that the sync carries on where it was.
 *
 * - Every row keeps its keys: person, unsubscribe, audit and suppression event ids,
 *   membership seqs, the runs' insertion order (`rowid`). Cursors taken on the source
 *   (the suppression feed's event id, the hourly's seq, the jobs' cursors) mean the
 *   same on the target.
 * - Tables are copied in foreign-key order (LEDGER_TABLES' order), a page at a time
 *   (keyset on the primary key, bounded memory), each page one multi-row INSERT.
 * - All of it is ONE transaction on the target: a failure, or counts that do not
 *   match at the end, roll it back and leave the target as it was. The source is read
 *   inside one write transaction of its own (nothing is written to it), so that its
 *   writers wait until the copy ends: on SQLite nothing else can write meanwhile; on
 *   PostgreSQL every write transaction waits, though a single statement run outside
 *   one (a run's finish, a lock's heartbeat) still could — those come from running
 *   jobs, which should be stopped first (the report lists the source's locks).
 * - The target must be empty (no row in any table): the copy never merges.
 * - `locks` rows are not copied: each names a process running against the SOURCE
 *   (holder, pid, heartbeat), which does not run against the target; a copied lock
 *   would make the target's first job wait for a stale holder or take it over. The
 *   report lists them, since a live one means a process still writes to the source.
 * - On PostgreSQL the identity sequences are set past the copied maxima, so that new
 *   rows get new ids (SQLite's INTEGER PRIMARY KEY and AUTOINCREMENT follow the
 *   inserted ids by themselves).
 */
import { OptoutError } from '../model/errors';
import {
    LEDGER_TABLES,
    engineOf,
    type Ledger,
    type LedgerRowCounts,
    type LedgerTable
} from './ledger';
import type { SqlEngine } from './sql/engine';

/** The primary key of each table, for keyset paging; `runs` pages by its rowid. */
const KEYS: Record<LedgerTable, readonly string[]> = {
    persons: ['id'],
    audiences: ['id'],
    memberships: ['person_id', 'audience_id'],
    unsubscribes: ['id'],
    audit: ['id'],
    runs: ['rowid'],
    cursors: ['job', 'name'],
    locks: ['name'],
    mailchimp_deliveries: ['unsubscribe_id', 'list_id'],
    suppression_events: ['id'],
    sf_record: ['id'],
    sf_membership: ['membership_key'],
    sf_mirror_state: ['object']
};

/** Tables not copied, and why (see the header). */
export const NOT_COPIED: Partial<Record<LedgerTable, string>> = {
    locks: 'held by processes running against the source'
};

/**
 * Values per INSERT: under SQLite's default limit of 32,766 bound parameters (and
 * PostgreSQL's 65,535), so a page of the widest table (unsubscribes, 20 columns)
 * still holds 1,500 rows.
 */
const MAX_PARAMS = 30_000;
export const DEFAULT_PAGE_ROWS = 2_000;

export interface CopyProgress {
    table: LedgerTable;
    /** Rows of this table copied so far. */
    copied: number;
    /** Rows of this table in the source. */
    total: number;
}

export interface CopyOptions {
    /** Rows per page (default 2,000; fewer for wide tables, see MAX_PARAMS). */
    pageRows?: number;
    /** Called after each page and once per table when it is done. */
    onProgress?: (p: CopyProgress) => void;
}

export interface TableCopy {
    table: LedgerTable;
    /** Rows in the source. */
    source: number;
    /** Rows in the target after the copy (equal to `source` when copied). */
    target: number;
    /** Why the table was not copied, when it was not. */
    skipped?: string;
}

/** A lock held on the source, not copied. */
export interface SourceLock {
    name: string;
    holder: string;
    pid: number;
    heartbeatAt: string;
}

export interface CopyReport {
    from: string;
    to: string;
    fromEngine: 'sqlite' | 'postgres';
    toEngine: 'sqlite' | 'postgres';
    schemaVersion: number;
    tables: TableCopy[];
    /** Rows copied, all tables. */
    rows: number;
    /** Locks held on the source when it was copied (not copied). */
    sourceLocks: SourceLock[];
    durationMs: number;
}

const MOVE_ACTIONS = [
    'Copy into a new SQLite file (a path that does not exist yet)',
    'Or into an empty PostgreSQL database or schema, e.g. CREATE SCHEMA optout; then add ?options=-c%20search_path%3Doptout to the URL'
];

/** Copies `from` into the empty ledger `to` (see the header); the counts, checked. */
export async function copyLedger(
    from: Ledger,
    to: Ledger,
    options: CopyOptions = {}
): Promise<CopyReport> {
    const started = Date.now();
    const source = engineOf(from);
    const target = engineOf(to);
    if (
        source === target ||
        sameLocation(source, target) ||
        (await samePostgres(source, target))
    )
        throw sameLedger(source.location);
    const schemaVersion = await checkSchemas(from, to);
    const columns = await tableColumns(source, target);
    // The source's write transaction outside, the target's inside: the target commits
    // only a complete, verified copy, taken while the source's writers wait.
    return source.transaction(async () =>
        target.transaction(async () => {
            await refuseNonEmpty(to);
            const counts = await from.rowCounts();
            const sourceLocks = await locksOf(source);
            const tables: TableCopy[] = [];
            for (const table of LEDGER_TABLES) {
                const skipped = NOT_COPIED[table];
                if (skipped) {
                    tables.push({
                        table,
                        source: counts[table],
                        target: 0,
                        skipped
                    });
                    continue;
                }
                await copyTable(source, target, table, columns[table], {
                    total: counts[table],
                    pageRows: options.pageRows ?? DEFAULT_PAGE_ROWS,
                    onProgress: options.onProgress
                });
                tables.push({ table, source: counts[table], target: 0 });
            }
            await verify(to, tables);
            if (target.kind === 'postgres') await resetSequences(target);
            return {
                from: source.location,
                to: target.location,
                fromEngine: source.kind,
                toEngine: target.kind,
                schemaVersion,
                tables,
                rows: tables.reduce(
                    (n, t) => n + (t.skipped ? 0 : t.target),
                    0
                ),
                sourceLocks,
                durationMs: Date.now() - started
            };
        })
    );
}

function sameLocation(a: SqlEngine, b: SqlEngine): boolean {
    return (
        a.kind === b.kind &&
        a.location === b.location &&
        a.location !== ':memory:'
    );
}

/**
 * Two URLs spelled differently (another host name, extra parameters) may name one
 * database and schema: the server tells. Copying onto itself would otherwise wait for
 * its own write lock.
 */
async function samePostgres(a: SqlEngine, b: SqlEngine): Promise<boolean> {
    if (a.kind !== 'postgres' || b.kind !== 'postgres') return false;
    const sql = `SELECT current_database() AS db, current_schema() AS schema,
        COALESCE(host(inet_server_addr()), '') AS host, COALESCE(inet_server_port(), 0) AS port,
        pg_postmaster_start_time()::text AS started`;
    const [x, y] = [await a.get(sql), await b.get(sql)];
    return JSON.stringify(x) === JSON.stringify(y);
}

function sameLedger(location: string): OptoutError {
    return new OptoutError(
        'LEDGER_COPY_SAME',
        `--from and --to are the same ledger (${location}). Nothing was written.`,
        {
            actions: [
                'Give --to a new SQLite path or an empty PostgreSQL database'
            ],
            exitCode: 2
        }
    );
}

/** Both ledgers are at one schema version (both migrate to the latest when opened). */
async function checkSchemas(from: Ledger, to: Ledger): Promise<number> {
    const [a, b] = [await from.schemaVersion(), await to.schemaVersion()];
    if (a === b) return a;
    throw new OptoutError(
        'LEDGER_COPY_SCHEMA',
        `The ledgers have different schema versions (from: ${a}, to: ${b}). Nothing was written.`,
        {
            actions: [
                'Run the copy with the optout version that wrote the newer ledger'
            ]
        }
    );
}

/**
 * The columns copied per table, read from the source's schema (so that a column a
 * later migration adds is copied without a change here) and checked against the
 * target's. `runs.rowid` is SQLite's hidden rowid and a column on PostgreSQL.
 */
async function tableColumns(
    source: SqlEngine,
    target: SqlEngine
): Promise<Record<LedgerTable, string[]>> {
    const out = {} as Record<LedgerTable, string[]>;
    for (const table of LEDGER_TABLES) {
        const a = await columnsOf(source, table);
        const b = await columnsOf(target, table);
        if ([...a].sort().join() !== [...b].sort().join())
            throw new OptoutError(
                'LEDGER_COPY_SCHEMA',
                `The table ${table} has different columns in the two ledgers (from: ${a.join(', ')}; to: ${b.join(', ')}). Nothing was written.`,
                {
                    actions: [
                        'Check that both ledgers were written by this version of optout'
                    ]
                }
            );
        out[table] = a;
    }
    return out;
}

async function columnsOf(
    engine: SqlEngine,
    table: LedgerTable
): Promise<string[]> {
    const rows =
        engine.kind === 'sqlite'
            ? await engine.all<{ name: string }>(
                  'SELECT name FROM pragma_table_info(?) ORDER BY cid',
                  [table]
              )
            : await engine.all<{ name: string }>(
                  `SELECT column_name AS name FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = ?
                   ORDER BY ordinal_position`,
                  [table]
              );
    const names = rows.map((r) => r.name);
    for (const key of KEYS[table]) if (!names.includes(key)) names.push(key);
    return names;
}

async function refuseNonEmpty(to: Ledger): Promise<void> {
    const counts = await to.rowCounts();
    const filled = LEDGER_TABLES.filter((t) => counts[t] > 0);
    if (filled.length === 0) return;
    throw new OptoutError(
        'LEDGER_COPY_TARGET_NOT_EMPTY',
        `The target ledger ${engineOf(to).location} is not empty (${filled
            .map((t) => `${t}: ${counts[t]}`)
            .join(
                ', '
            )}); a copy never merges into an existing ledger. Nothing was written.`,
        { actions: MOVE_ACTIONS }
    );
}

async function locksOf(engine: SqlEngine): Promise<SourceLock[]> {
    return engine.all<SourceLock>(
        'SELECT name, holder, pid, heartbeat_at AS "heartbeatAt" FROM locks ORDER BY name'
    );
}

interface PageSettings {
    total: number;
    pageRows: number;
    onProgress?: (p: CopyProgress) => void;
}

/** Copies one table, a keyset page at a time. */
async function copyTable(
    source: SqlEngine,
    target: SqlEngine,
    table: LedgerTable,
    columns: readonly string[],
    settings: PageSettings
): Promise<void> {
    const key = KEYS[table];
    const size = pageSize(columns.length, settings.pageRows);
    const list = columns.map(quote).join(', ');
    const order = key.map(quote).join(', ');
    const first = `SELECT ${list} FROM ${table} ORDER BY ${order} LIMIT ${size}`;
    const next = `SELECT ${list} FROM ${table} WHERE (${order}) > (${key
        .map(() => '?')
        .join(', ')}) ORDER BY ${order} LIMIT ${size}`;
    let last: unknown[] | undefined;
    let copied = 0;
    for (;;) {
        const rows = await source.all(last ? next : first, last ?? []);
        if (rows.length === 0) break;
        await target.run(
            insertSql(target, table, columns, rows.length),
            rowValues(rows, columns)
        );
        copied += rows.length;
        settings.onProgress?.({ table, copied, total: settings.total });
        if (rows.length < size) break;
        const end = rows[rows.length - 1];
        last = key.map((k) => end[k]);
    }
    if (copied === 0)
        settings.onProgress?.({ table, copied, total: settings.total });
}

/** Rows per INSERT: `pageRows`, fewer when the table is wide (MAX_PARAMS). */
export function pageSize(columns: number, pageRows: number): number {
    return Math.max(1, Math.min(pageRows, Math.floor(MAX_PARAMS / columns)));
}

/**
 * `INSERT INTO t (…) VALUES (…), (…)`. PostgreSQL's `runs.rowid` is GENERATED ALWAYS:
 * OVERRIDING SYSTEM VALUE keeps the source's values (and is harmless elsewhere).
 */
export function insertSql(
    target: Pick<SqlEngine, 'kind'>,
    table: string,
    columns: readonly string[],
    rows: number
): string {
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    const overriding =
        target.kind === 'postgres' ? ' OVERRIDING SYSTEM VALUE' : '';
    return `INSERT INTO ${table} (${columns.map(quote).join(', ')})${overriding} VALUES ${Array.from(
        { length: rows },
        () => tuple
    ).join(', ')}`;
}

function rowValues(
    rows: readonly Record<string, unknown>[],
    columns: readonly string[]
): unknown[] {
    const values: unknown[] = [];
    for (const row of rows)
        for (const c of columns) values.push(row[c] ?? null);
    return values;
}

/** Identifiers quoted: `before`, `after` and `at` are keywords somewhere. */
function quote(name: string): string {
    if (!/^[a-z_][a-z0-9_]*$/.test(name))
        throw new Error(`not a column: ${name}`);
    return `"${name}"`;
}

/** The target holds what the source held, table by table; otherwise roll back. */
async function verify(to: Ledger, tables: TableCopy[]): Promise<void> {
    const counts: LedgerRowCounts = await to.rowCounts();
    for (const t of tables) t.target = counts[t.table];
    const wrong = tables.filter((t) => !t.skipped && t.target !== t.source);
    if (wrong.length === 0) return;
    throw new OptoutError(
        'LEDGER_COPY_MISMATCH',
        `The copy does not hold what the source holds (${wrong
            .map(
                (t) =>
                    `${t.table}: ${t.source} in the source, ${t.target} copied`
            )
            .join('; ')}); it was rolled back and nothing was written.`,
        {
            actions: [
                'Stop the processes that use the source ledger (serve, schedule) and copy again'
            ]
        }
    );
}

/**
 * Every identity column's sequence past the column's maximum, so that the next
 * person, unsubscribe, audit row, suppression event or run gets a new number. Run
 * last: setval is not undone by a rollback (a failed copy would only leave a gap).
 */
async function resetSequences(target: SqlEngine): Promise<void> {
    const identities = await target.all<{ table: string; column: string }>(
        `SELECT table_name AS "table", column_name AS "column"
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'
         ORDER BY table_name, column_name`
    );
    for (const { table, column } of identities) {
        if (!(LEDGER_TABLES as readonly string[]).includes(table)) continue;
        await target.get(
            `SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(${quote(column)}) FROM ${table}), 0) + 1, false)`,
            [table, column]
        );
    }
}
