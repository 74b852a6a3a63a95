/**
 * The SQLite engine: one better-sqlite3 connection (synchronous underneath). WAL so
 * that readers never wait for the writer, `busy_timeout` so that processes sharing the
 * file (scheduler, webhook, CLI) queue instead of failing. Transactions are BEGIN
 * IMMEDIATE: a deferred transaction that reads and then writes would fail at once with
 * SQLITE_BUSY when another process wrote in between, whereas an immediate one waits up
 * to `busy_timeout` for the write lock.
 *
 * One connection holds one transaction at a time, and a transaction now spans awaits:
 * a mutex (one per file, shared by this process's connections to it) makes concurrent
 * work in this process wait for the open transaction to end instead of slipping its
 * statements into it or blocking on SQLite's lock.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import Database from 'better-sqlite3';
import { ledgerError } from '../errors';
import {
    Mutex,
    type RunInfo,
    type SqlEngine,
    type TransactionState
} from './engine';

interface Context {
    state: TransactionState;
    savepoints: number;
}

export class SqliteEngine implements SqlEngine {
    readonly kind = 'sqlite' as const;
    private readonly statements = new Map<string, Database.Statement>();
    private readonly context = new AsyncLocalStorage<Context>();
    private readonly mutex: Mutex;

    constructor(
        /** The connection: its pragmas set and its schema migrated by the caller. */
        readonly db: Database.Database,
        readonly location: string
    ) {
        this.mutex = mutexFor(location);
    }

    get<T>(
        sql: string,
        params: readonly unknown[] = []
    ): Promise<T | undefined> {
        return this.exec(
            () => this.prepare(sql).get(...params) as T | undefined
        );
    }

    all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
        return this.exec(() => this.prepare(sql).all(...params) as T[]);
    }

    run(sql: string, params: readonly unknown[] = []): Promise<RunInfo> {
        return this.exec(() => ({
            changes: this.prepare(sql).run(...params).changes
        }));
    }

    transactionState(): TransactionState | undefined {
        return this.context.getStore()?.state;
    }

    async transaction<T>(fn: () => Promise<T>): Promise<T> {
        const current = this.context.getStore();
        if (current) return this.savepoint(current, fn);
        const release = await this.mutex.acquire();
        try {
            this.statement('BEGIN IMMEDIATE');
            const ctx: Context = { state: new Map(), savepoints: 0 };
            let result: T;
            try {
                result = await this.context.run(ctx, fn);
            } catch (err) {
                if (this.db.inTransaction) this.db.exec('ROLLBACK');
                throw err;
            }
            this.statement('COMMIT');
            return result;
        } finally {
            release();
        }
    }

    close(): Promise<void> {
        if (this.db.open) this.db.close();
        return Promise.resolve();
    }

    private async savepoint<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
        ctx.savepoints += 1;
        const name = `sp${ctx.savepoints}`;
        this.db.exec(`SAVEPOINT ${name}`);
        try {
            const result = await fn();
            this.db.exec(`RELEASE ${name}`);
            return result;
        } catch (err) {
            this.db.exec(`ROLLBACK TO ${name}`);
            this.db.exec(`RELEASE ${name}`);
            throw err;
        }
    }

    /** BEGIN/COMMIT, with SQLite's busy mapped to LedgerBusy. */
    private statement(sql: string): void {
        try {
            this.db.exec(sql);
        } catch (err) {
            throw ledgerError(err);
        }
    }

    /**
     * Runs a statement now when no transaction is open or the caller is inside the
     * open one; otherwise after that transaction ends.
     */
    private exec<T>(op: () => T): Promise<T> {
        if (!this.mutex.locked || this.context.getStore()) return settle(op);
        return this.mutex.acquire().then((release) => {
            try {
                return settle(op);
            } finally {
                release();
            }
        });
    }

    private prepare(sql: string): Database.Statement {
        let s = this.statements.get(sql);
        if (!s) {
            s = this.db.prepare(sql);
            this.statements.set(sql, s);
        }
        return s;
    }
}

/**
 * One mutex per file in this process: two connections to one file (two Ledger objects,
 * e.g. a scheduler and a command in one process) must not wait for each other inside
 * SQLite, which blocks the thread both run on until busy_timeout gives up. They wait
 * here instead; other processes still wait in SQLite (busy_timeout).
 */
const MUTEXES = new Map<string, Mutex>();
function mutexFor(location: string): Mutex {
    if (location === ':memory:' || location === '') return new Mutex();
    let mutex = MUTEXES.get(location);
    if (!mutex) {
        mutex = new Mutex();
        MUTEXES.set(location, mutex);
    }
    return mutex;
}

function settle<T>(op: () => T): Promise<T> {
    try {
        return Promise.resolve(op());
    } catch (err) {
        return Promise.reject(ledgerError(err));
    }
}
