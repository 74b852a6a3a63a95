/**
 * The ledger's engines behind one small asynchronous interface: SQLite (the embedded
 * default, better-sqlite3) and PostgreSQL (the `pg` driver and a pool). The ledger's
 * modules write their SQL once, with `?` placeholders and camelCase column aliases;
 * each engine runs it in its own way (see sqlite.ts, postgres.ts).
 *
 * Transactions follow the caller's async context (AsyncLocalStorage): inside
 * `transaction(fn)`, every statement that `fn` runs — directly or through any ledger
 * method it awaits — runs in that transaction, on its connection; statements from
 * other, concurrent work in the same process do not. Nested calls are savepoints.
 * Write transactions are serialized per ledger (SQLite's one writer; on PostgreSQL a
 * transaction-level advisory lock), which keeps the ledger's ordered counters
 * (membership `seq`, suppression event ids) committed in the order they were taken.
 */

/** What a write statement reports. */
export interface RunInfo {
    /** Rows inserted, updated or deleted. */
    changes: number;
}

/** Runs SQL (`?` placeholders, values in order). */
export interface SqlSession {
    get<T = Record<string, unknown>>(
        sql: string,
        params?: readonly unknown[]
    ): Promise<T | undefined>;
    all<T = Record<string, unknown>>(
        sql: string,
        params?: readonly unknown[]
    ): Promise<T[]>;
    run(sql: string, params?: readonly unknown[]): Promise<RunInfo>;
}

export type EngineKind = 'sqlite' | 'postgres';

/** State that lives as long as one outer transaction (e.g. a counter's next value). */
export type TransactionState = Map<string, unknown>;

export interface SqlEngine extends SqlSession {
    readonly kind: EngineKind;
    /** Where the ledger is, printable: a file path, or a URL with its password masked. */
    readonly location: string;
    /**
     * Runs `fn` in one write transaction: committed when it resolves, rolled back when
     * it rejects. Nested calls (from inside `fn`) become savepoints.
     */
    transaction<T>(fn: () => Promise<T>): Promise<T>;
    /** The current outer transaction's state, when the caller runs inside one. */
    transactionState(): TransactionState | undefined;
    close(): Promise<void>;
}

/**
 * A promise-chained mutex: `acquire()` resolves, in call order, to a release function.
 * Used by the SQLite engine, whose one connection holds at most one transaction.
 */
export class Mutex {
    private tail: Promise<void> = Promise.resolve();
    private held = 0;

    get locked(): boolean {
        return this.held > 0;
    }

    acquire(): Promise<() => void> {
        this.held += 1;
        let release!: () => void;
        const next = new Promise<void>((resolve) => {
            release = resolve;
        });
        const previous = this.tail;
        this.tail = previous.then(() => next);
        let released = false;
        return previous.then(() => () => {
            if (released) return;
            released = true;
            this.held -= 1;
            release();
        });
    }
}
