/**
 * The PostgreSQL engine: the `pg` driver and a pool, for a ledger shared by several
 * processes and machines. `pg` is loaded only when a PostgreSQL ledger is opened.
 *
 * - Every write transaction first takes one transaction-level advisory lock, so write
 *   transactions run one at a time as on SQLite: the membership `seq` and suppression
 *   event ids are then committed in the order they were taken, and a reader's cursor
 *   ("after N") never skips a row that commits late. Reads never wait for it.
 *   `lock_timeout` bounds the wait like SQLite's busy_timeout (→ LedgerBusy).
 * - int8 and numeric values come back as numbers (ids, counts and seqs stay far below
 *   2^53), so rows look the same as SQLite's.
 * - Migrations run at open under a session advisory lock: processes starting together
 *   migrate once.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import { OptoutError } from '../../model/errors';
import { isConnectionError, postgresLedgerError } from '../errors';
import { redactPassword } from '../location';
import type { Migration } from '../migrations';
import { camelNames, numberPlaceholders, renameColumns } from './dialect';
import type { RunInfo, SqlEngine, TransactionState } from './engine';

/**
 * Advisory lock keys: two int4, this product's class, then the ledger — its schema, so
 * that ledgers in several schemas of one database (e.g. the tests') do not wait for
 * each other. Migrations take the class next to it.
 */
const WRITE_LOCK = `72812, hashtext(current_schema())`;
const MIGRATE_LOCK = `72813, hashtext(current_schema())`;

export interface PostgresOptions {
    /** How long a write waits for another process's write transaction (ms). */
    busyTimeoutMs?: number;
    /** Connections in this process's pool (default 5, or OPTOUT_PG_POOL_MAX). */
    poolMax?: number;
    /** How long to wait for a connection to the server (ms, default 10 s). */
    connectTimeoutMs?: number;
}

interface Context {
    client: PoolClient;
    state: TransactionState;
    savepoints: number;
}

interface Prepared {
    text: string;
    name: string;
    columns: Map<string, string>;
}

type Queryable = Pick<Pool, 'query'>;

export class PostgresEngine implements SqlEngine {
    readonly kind = 'postgres' as const;
    private readonly context = new AsyncLocalStorage<Context>();
    private readonly prepared = new Map<string, Prepared>();
    private closed = false;

    private constructor(
        private readonly pool: Pool,
        readonly location: string,
        private readonly busyTimeoutMs: number
    ) {}

    /** Connects (checking the server answers) and migrates; see `openPostgres`. */
    static async open(
        url: string,
        migrations: readonly Migration[],
        options: PostgresOptions = {}
    ): Promise<{ engine: PostgresEngine; applied: number[] }> {
        const location = redactPassword(url);
        const pool = createPool(url, options);
        const engine = new PostgresEngine(
            pool,
            location,
            options.busyTimeoutMs ?? 5000
        );
        try {
            const applied = await engine.migrate(migrations);
            return { engine, applied };
        } catch (err) {
            await pool.end().catch(() => undefined);
            throw postgresLedgerError(err, location);
        }
    }

    async get<T>(
        sql: string,
        params: readonly unknown[] = []
    ): Promise<T | undefined> {
        return (await this.query<T>(sql, params)).rows[0];
    }

    async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
        return (await this.query<T>(sql, params)).rows;
    }

    async run(sql: string, params: readonly unknown[] = []): Promise<RunInfo> {
        return { changes: (await this.query(sql, params)).rowCount ?? 0 };
    }

    transactionState(): TransactionState | undefined {
        return this.context.getStore()?.state;
    }

    async transaction<T>(fn: () => Promise<T>): Promise<T> {
        const current = this.context.getStore();
        if (current) return this.savepoint(current, fn);
        let client: PoolClient;
        try {
            client = await this.pool.connect();
        } catch (err) {
            throw postgresLedgerError(err, this.location);
        }
        // A connection the server drops while this transaction holds it reports an
        // 'error' event (the pool listens only to idle ones): noted, and the connection
        // is then destroyed rather than returned to the pool.
        let broken: unknown;
        const onError = (err: unknown): void => {
            broken ??= err;
        };
        client.on('error', onError);
        try {
            await client.query(
                `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.busyTimeoutMs))}; SELECT pg_advisory_xact_lock(${WRITE_LOCK})`
            );
            const ctx: Context = { client, state: new Map(), savepoints: 0 };
            const result = await this.context.run(ctx, fn);
            await client.query('COMMIT');
            return result;
        } catch (err) {
            // Whatever failed after BEGIN (the lock wait, fn, COMMIT), the transaction
            // ends here: a connection is never returned to the pool inside one.
            if (!broken)
                await client.query('ROLLBACK').catch((e: unknown) => {
                    broken = e;
                });
            if (!broken && isConnectionError(err)) broken = err;
            throw postgresLedgerError(err, this.location);
        } finally {
            client.off('error', onError);
            client.release(
                broken === undefined
                    ? undefined
                    : broken instanceof Error
                      ? broken
                      : new Error(String(broken))
            );
        }
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        await this.pool.end();
    }

    private async savepoint<T>(ctx: Context, fn: () => Promise<T>): Promise<T> {
        ctx.savepoints += 1;
        const name = `sp${ctx.savepoints}`;
        await ctx.client.query(`SAVEPOINT ${name}`);
        try {
            const result = await fn();
            await ctx.client.query(`RELEASE SAVEPOINT ${name}`);
            return result;
        } catch (err) {
            // A connection that dropped cannot roll back: the original error says why.
            await ctx.client
                .query(
                    `ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`
                )
                .catch(() => undefined);
            throw err;
        }
    }

    private async query<T>(
        sql: string,
        params: readonly unknown[]
    ): Promise<QueryResult<T & Record<string, unknown>>> {
        const p = this.prepare(sql);
        const tx = this.context.getStore()?.client;
        const target: Queryable = tx ?? this.pool;
        const config = {
            text: p.text,
            name: p.name,
            values: params as unknown[]
        };
        let result: QueryResult<Record<string, unknown>>;
        try {
            result = await target.query(config);
        } catch (err) {
            // An idle pooled connection the server closed (a restart) may be handed
            // out before the pool has noticed: the statement was never sent, so once
            // more on a fresh connection is safe. Never inside a transaction.
            if (tx || !neverSent(err))
                throw postgresLedgerError(err, this.location);
            result = await this.retryNeverSent(config);
        }
        if (p.columns.size)
            result.rows = result.rows.map((r) => renameColumns(r, p.columns));
        return result as QueryResult<T & Record<string, unknown>>;
    }

    /** Tries a statement that was never sent again, past every dead idle connection. */
    private async retryNeverSent(
        config: QueryConfig
    ): Promise<QueryResult<Record<string, unknown>>> {
        for (let left = this.pool.options.max ?? 10; ; left--) {
            try {
                return await this.pool.query(config);
            } catch (err) {
                if (left <= 0 || !neverSent(err))
                    throw postgresLedgerError(err, this.location);
            }
        }
    }

    private prepare(sql: string): Prepared {
        let p = this.prepared.get(sql);
        if (!p) {
            p = {
                text: numberPlaceholders(sql),
                // A named statement is parsed once per connection, then reused.
                name: `optout_${this.prepared.size + 1}`,
                columns: camelNames(sql)
            };
            this.prepared.set(sql, p);
        }
        return p;
    }

    /** Brings the database to the last migration, once even when processes race. */
    private async migrate(migrations: readonly Migration[]): Promise<number[]> {
        const client = await this.pool.connect();
        try {
            await client.query(`SELECT pg_advisory_lock(${MIGRATE_LOCK})`);
            try {
                return await applyMigrations(client, this.location, migrations);
            } finally {
                await client.query(
                    `SELECT pg_advisory_unlock(${MIGRATE_LOCK})`
                );
            }
        } finally {
            client.release();
        }
    }
}

async function applyMigrations(
    client: PoolClient,
    location: string,
    migrations: readonly Migration[]
): Promise<number[]> {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )`);
    const row = (
        await client.query<{ v: number | null }>(
            'SELECT MAX(version) AS v FROM schema_migrations'
        )
    ).rows[0];
    const current = row?.v ?? 0;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest)
        throw new OptoutError(
            'LEDGER_TOO_NEW',
            `The ledger ${location} has schema version ${current}, newer than this version of optout understands (${latest}).`,
            {
                actions: [
                    'Upgrade optout to the version that wrote this ledger',
                    'Or point --ledger (or OPTOUT_LEDGER) at another database'
                ]
            }
        );
    const applied: number[] = [];
    for (const m of migrations) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
            await client.query(m.sql);
            await client.query(
                'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)',
                [m.version, m.name, new Date().toISOString()]
            );
            await client.query('COMMIT');
        } catch (err) {
            await client.query('ROLLBACK').catch(() => undefined);
            throw err;
        }
        applied.push(m.version);
    }
    return applied;
}

function createPool(url: string, options: PostgresOptions): Pool {
    // Loaded here, not at start: commands on a SQLite ledger never load the driver.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pg = require('pg') as typeof import('pg');
    const envMax = Number(process.env.OPTOUT_PG_POOL_MAX);
    const pool = new pg.Pool({
        connectionString: url,
        max:
            options.poolMax ??
            (Number.isInteger(envMax) && envMax > 0 ? envMax : 5),
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
        // 'optout' unless the URL names one (?application_name=…), e.g. per service.
        application_name:
            new URL(url).searchParams.get('application_name') ?? 'optout',
        // Idle connections close after a while and never keep the process alive: a
        // command ends when its work does.
        idleTimeoutMillis: 10_000,
        allowExitOnIdle: true,
        types: {
            getTypeParser: ((oid: number, format?: string) =>
                oid === pg.types.builtins.INT8 ||
                oid === pg.types.builtins.NUMERIC
                    ? (value: string): number => Number(value)
                    : pg.types.getTypeParser(
                          oid,
                          format as 'text'
                      )) as typeof pg.types.getTypeParser
        }
    });
    // An idle connection the server closed (a restart) is reported here; the pool has
    // already dropped it and the next query opens a new one. Without a listener, Node
    // would end the process on the 'error' event.
    pool.on('error', () => undefined);
    return pool;
}

/** pg's error for a query on a connection it already knows is broken: not sent. */
function neverSent(err: unknown): boolean {
    return (
        err instanceof Error &&
        /is not queryable/.test(err.message) &&
        !('code' in err && typeof err.code === 'string')
    );
}
