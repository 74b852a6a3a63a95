/**
 * The sync's scratch store: the Salesforce rows a job reads (RecordIndex,
 * MembershipIndex) and the tables it decides with (the nightly's matches), kept in a
 * SQLite database of its own — never on the ledger's connection — so that the ledger
 * can live anywhere (another process, another machine) while a million-record scan
 * costs no round trip per record. What a job needs from the ledger it reads through
 * `Ledger` methods, in batches, and copies here when it must be joined.
 *
 * One workspace per job run, closed (and so deleted) when the run ends. By default an
 * anonymous on-disk database (better-sqlite3's empty path): SQLite keeps it in its page
 * cache and spills to a temporary file that is removed on close — as the temp tables
 * on the ledger's connection did before, so memory stays flat at a million records.
 * `:memory:` keeps it all in memory (tests, small jobs).
 */
import Database from 'better-sqlite3';

let tableCounter = 0;

/**
 * The workspace's page cache, KiB (SQLite's `cache_size` in its negative form): SQLite's
 * own default of 2 MiB, not the 16 MiB better-sqlite3 builds it with. The tables are
 * read and written in order, in batches; pages beyond the cache go to the temporary
 * file, which the operating system's file cache keeps (outside the process), so a
 * larger cache buys little and adds up to 14 MiB to the job's resident memory.
 */
export const WORKSPACE_CACHE_KIB = 2000;

/** A unique table name in this process (several indexes may share a workspace). */
export function tempName(prefix: string): string {
    tableCounter += 1;
    return `${prefix}_${process.pid}_${tableCounter}`;
}

export class Workspace {
    private readonly conn: Database.Database;
    /**
     * Prepared statements by text. An index's lookups (one per change or record) run
     * the same few texts thousands of times: prepared anew each time, every one stayed
     * compiled until the garbage collector finalised it — 3,540 of them, 38 MiB of
     * SQLite's memory, at the peak of a first hourly at a million persons. Kept here
     * until the workspace closes or a table they read is dropped.
     */
    private readonly statements = new Map<string, Database.Statement>();

    private constructor(conn: Database.Database) {
        this.conn = conn;
    }

    /**
     * Opens a fresh workspace: `''` (default) an anonymous temporary database that
     * spills to disk, `':memory:'` one held in memory.
     */
    static open(path: '' | ':memory:' = ''): Workspace {
        const conn = new Database(path);
        // Scratch data: nothing to recover after a crash, so no journal and no fsync.
        conn.pragma('journal_mode = OFF');
        conn.pragma('synchronous = OFF');
        conn.pragma(`cache_size = -${WORKSPACE_CACHE_KIB}`);
        return new Workspace(conn);
    }

    get open(): boolean {
        return this.conn.open;
    }

    close(): void {
        this.statements.clear();
        if (this.conn.open) this.conn.close();
    }

    /** Runs DDL (CREATE/DROP of the job's tables). */
    exec(sql: string): void {
        this.conn.exec(sql);
    }

    /** The statement for `sql`, prepared once per workspace (see `statements`). */
    prepare(sql: string): Database.Statement {
        let stmt = this.statements.get(sql);
        if (!stmt) {
            stmt = this.conn.prepare(sql);
            this.statements.set(sql, stmt);
        }
        return stmt;
    }

    /** Runs `fn` in one transaction (batched inserts). */
    transaction<T>(fn: () => T): T {
        return this.conn.transaction(fn)();
    }

    /** Drops a table if the workspace is still open (cleanup in `finally`). */
    drop(table: string): void {
        // Its statements go with it (a name is never reused: see tempName).
        const named = new RegExp(`\\b${table}\\b`);
        for (const sql of [...this.statements.keys()])
            if (named.test(sql)) this.statements.delete(sql);
        if (this.conn.open) this.conn.exec(`DROP TABLE IF EXISTS ${table}`);
    }

    /** The first column of a one-row query, as a number (COUNT queries). */
    count(sql: string, ...params: unknown[]): number {
        return (this.prepare(sql).get(...params) as { n: number }).n;
    }
}
