/**
 * Which `optout schedule` leads: any number may run on one ledger, and only the leader
 * fires the hourly, nightly and push jobs. The others stand by and try to take the lead
 * every poll interval, so that a leader that dies is replaced within one interval.
 *
 * Two ways to hold the lead, one interface:
 * - `PostgresLeadership`: a session-level advisory lock on a connection of its own. The
 *   server releases it the moment that session ends (the process died, the connection
 *   dropped), so the lock can never outlive its holder. The holder learns it lost it
 *   from the client's 'error'/'end' events or a periodic `SELECT 1`, and stops firing.
 * - `LockLeadership`: the ledger's named lock (SQLite), with its heartbeat and takeover
 *   rules (a holder whose process is dead on this host, or whose heartbeat is stale, is
 *   taken over). Built from three functions so that it does not depend on the Ledger.
 *
 * Leadership only decides who fires jobs; it does not make a run exclusive. Each run
 * still takes the ledger lock `job:<name>` (scripts/sync/run.ts), which covers the short
 * window where a leader that lost its connection has not noticed yet while another has
 * already taken the lead.
 */
import { createHash } from 'node:crypto';
import { Client, type ClientConfig } from 'pg';
import { OptoutError, errorMessage } from '../model/errors';
import type { LogFn } from '../model/log';
import { lockHolderId } from '../ledger/locks';
import { redactPassword, type LedgerLocation } from '../ledger/location';

/** The name every scheduler of one ledger competes for. */
export const LEADER_LOCK_NAME = 'optout:scheduler';
export const DEFAULT_LEADER_POLL_MS = 15_000;

export interface Leadership {
    /** What holds the lead, for logs: "PostgreSQL advisory lock optout:scheduler". */
    readonly description: string;
    /**
     * Tries once to become the leader, without waiting for a holder to let go. True
     * when this instance leads (already or now). Throws an OptoutError when the lock
     * cannot be reached at all (a bad URL, a server that does not answer).
     */
    acquire(): Promise<boolean>;
    isLeader(): boolean;
    /** Lets go of the lead (and of any connection); a follower may then take it. */
    release(): Promise<void>;
    /**
     * Called once each time the lead is lost without `release()` (the connection
     * dropped, a heartbeat failed). Returns a function that unsubscribes.
     */
    onLost(listener: (reason: string) => void): () => void;
}

/** The listeners of `onLost`, called once per loss. */
class LostListeners {
    private readonly listeners = new Set<(reason: string) => void>();

    add(listener: (reason: string) => void): () => void {
        this.listeners.add(listener);
        return () => {
            this.listeners.delete(listener);
        };
    }

    emit(reason: string): void {
        for (const l of [...this.listeners]) l(reason);
    }
}

/** Runs one call at a time: a poll and a stop must not race on one connection. */
class Serial {
    private tail: Promise<unknown> = Promise.resolve();

    run<T>(fn: () => Promise<T>): Promise<T> {
        const next = this.tail.then(fn, fn);
        this.tail = next.catch(() => undefined);
        return next;
    }
}

// ----------------------------------------------------------------- PostgreSQL

/**
 * The bigint key of `pg_try_advisory_lock` for a name: the first 8 bytes of its SHA-256
 * as a signed 64-bit integer (a string, as the driver passes bigints). Stable across
 * processes and versions, and unlikely to meet another application's key.
 */
export function advisoryLockKey(name: string): string {
    return createHash('sha256')
        .update(name, 'utf8')
        .digest()
        .readBigInt64BE(0)
        .toString();
}

export interface PostgresLeadershipOptions {
    /** What the schedulers compete for (default optout:scheduler). */
    name?: string;
    /** How often a leader checks its connection with SELECT 1 (default 10 s). */
    checkIntervalMs?: number;
    /** How long to wait for the server to accept a connection (default 10 s). */
    connectTimeoutMs?: number;
    log?: LogFn;
    /** Injected in tests. */
    createClient?: (config: ClientConfig) => Client;
}

/** Network failures: the server is not there (as opposed to one that says no). */
const UNREACHABLE_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ETIMEDOUT'
]);

/** A URL the driver can be given: postgres:// or postgresql://, parsed by WHATWG. */
export function checkLeaderUrl(url: string): string {
    let ok = false;
    try {
        ok = /^postgres(ql)?:$/i.test(new URL(url).protocol);
    } catch {
        ok = false;
    }
    if (ok) return url;
    throw new OptoutError(
        'BAD_LEDGER_URL',
        `'${redactPassword(url)}' is not a valid PostgreSQL URL for the scheduler's lead.`,
        {
            actions: [
                'Write it as postgres://USER:PASSWORD@HOST:5432/DATABASE (percent-encode special characters in the password)'
            ],
            exitCode: 2
        }
    );
}

/** The OptoutError for a failed connection or lock query, with what to do. */
export function leaderConnectError(url: string, err: unknown): OptoutError {
    if (err instanceof OptoutError) return err;
    const where = redactPassword(url);
    const code = (err as { code?: unknown }).code;
    const message = errorMessage(err) || String(code ?? 'no answer');
    if (
        (typeof code === 'string' && UNREACHABLE_CODES.has(code)) ||
        /timeout|timed out|terminated unexpectedly/i.test(message)
    )
        return new OptoutError(
            'LEDGER_UNREACHABLE',
            `Cannot reach the PostgreSQL server of ${where} to take the scheduler's lead: ${message}.`,
            {
                actions: [
                    "Check that the server is running and that the URL's host and port are right",
                    'This scheduler keeps trying; it runs no job until it leads'
                ],
                cause: err
            }
        );
    return new OptoutError(
        'LEDGER_CONNECT_FAILED',
        `The PostgreSQL server of ${where} refused the scheduler's connection: ${message}.`,
        {
            actions: [
                'Check the user, password and database in the URL, and that this user may connect'
            ],
            cause: err
        }
    );
}

/**
 * The lead as a PostgreSQL session-level advisory lock, on a connection of its own
 * (never a pooled one: the lock belongs to the session). A follower keeps its
 * connection between attempts; a connection that failed is dropped and the next
 * attempt opens a new one.
 */
export class PostgresLeadership implements Leadership {
    readonly description: string;
    private readonly key: string;
    private readonly url: string;
    private client: Client | null = null;
    private leading = false;
    private checkTimer: NodeJS.Timeout | null = null;
    private checking = false;
    private readonly lost = new LostListeners();
    private readonly serial = new Serial();
    private readonly checkIntervalMs: number;
    private readonly connectTimeoutMs: number;

    constructor(
        url: string,
        private readonly options: PostgresLeadershipOptions = {}
    ) {
        this.url = checkLeaderUrl(url);
        const name = options.name ?? LEADER_LOCK_NAME;
        this.key = advisoryLockKey(name);
        this.description = `PostgreSQL advisory lock ${name} on ${redactPassword(url)}`;
        this.checkIntervalMs = options.checkIntervalMs ?? 10_000;
        this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    }

    isLeader(): boolean {
        return this.leading;
    }

    /** The backend pid of this instance's connection (tests terminate it). */
    async backendPid(): Promise<number | null> {
        if (!this.client) return null;
        const { rows } = await this.client.query<{ pid: number }>(
            'SELECT pg_backend_pid() AS pid'
        );
        return rows[0]?.pid ?? null;
    }

    onLost(listener: (reason: string) => void): () => void {
        return this.lost.add(listener);
    }

    acquire(): Promise<boolean> {
        return this.serial.run(async () => {
            if (this.leading) return true;
            // A kept connection may have died quietly: one more try on a new one.
            const kept = this.client !== null;
            try {
                return await this.tryLock();
            } catch (err) {
                this.drop();
                if (!kept) throw leaderConnectError(this.url, err);
            }
            try {
                return await this.tryLock();
            } catch (err) {
                this.drop();
                throw leaderConnectError(this.url, err);
            }
        });
    }

    release(): Promise<void> {
        return this.serial.run(async () => {
            const client = this.client;
            const wasLeading = this.leading;
            this.stopChecking();
            this.leading = false;
            this.client = null;
            if (!client) return;
            try {
                // Ending the session releases the lock too; unlocking first hands it
                // over before the server has noticed the connection close.
                if (wasLeading)
                    await client.query(
                        'SELECT pg_advisory_unlock($1::bigint)',
                        [this.key]
                    );
            } catch (err) {
                this.options.log?.(
                    'debug',
                    `leader: unlock failed (${errorMessage(err)}); closing the connection releases it`
                );
            } finally {
                await client.end().catch(() => undefined);
            }
        });
    }

    private async tryLock(): Promise<boolean> {
        const client = this.client ?? (await this.connect());
        const { rows } = await client.query<{ locked: boolean }>(
            'SELECT pg_try_advisory_lock($1::bigint) AS locked',
            [this.key]
        );
        // The connection may have dropped while the answer came back.
        if (rows[0]?.locked !== true || this.client !== client) return false;
        this.leading = true;
        this.startChecking(client);
        return true;
    }

    private async connect(): Promise<Client> {
        const config: ClientConfig = {
            connectionString: this.url,
            connectionTimeoutMillis: this.connectTimeoutMs,
            // A SELECT 1 that does not come back in time counts as a lost connection.
            query_timeout: Math.max(1000, this.checkIntervalMs),
            keepAlive: true,
            // The OS default (hours) would leave a half-open connection unnoticed.
            keepAliveInitialDelayMillis: this.checkIntervalMs,
            application_name: 'optout schedule (leader lock)'
        };
        const client =
            this.options.createClient?.(config) ?? new Client(config);
        // Without an 'error' listener a dropped connection would crash the process.
        client.on('error', (err) =>
            this.onConnectionGone(
                client,
                `connection error: ${errorMessage(err)}`
            )
        );
        client.on('end', () =>
            this.onConnectionGone(client, 'the connection closed')
        );
        this.client = client;
        try {
            await client.connect();
        } catch (err) {
            if (this.client === client) this.client = null;
            await client.end().catch(() => undefined);
            throw err;
        }
        return client;
    }

    private startChecking(client: Client): void {
        this.stopChecking();
        this.checkTimer = setInterval(() => {
            if (this.checking) return;
            this.checking = true;
            client
                .query('SELECT 1')
                .catch((err: unknown) =>
                    this.onConnectionGone(
                        client,
                        `the connection check failed: ${errorMessage(err)}`
                    )
                )
                .finally(() => {
                    this.checking = false;
                });
        }, this.checkIntervalMs);
        this.checkTimer.unref();
    }

    private stopChecking(): void {
        if (this.checkTimer) clearInterval(this.checkTimer);
        this.checkTimer = null;
    }

    /** Forgets the current connection (and closes it, so the lock surely goes with it). */
    private drop(): void {
        const client = this.client;
        this.client = null;
        this.stopChecking();
        this.leading = false;
        void client?.end().catch(() => undefined);
    }

    /**
     * The session is gone or unusable: the server has released (or will release, once
     * it notices) the lock, so this instance stops leading at once.
     */
    private onConnectionGone(client: Client, reason: string): void {
        if (client !== this.client) return;
        const wasLeading = this.leading;
        this.drop();
        if (wasLeading) this.lost.emit(reason);
    }
}

// ----------------------------------------------------------------- ledger lock

/** The outcome of one attempt at a named lock. */
export type LockAttempt =
    | { acquired: true; holder: string; takenOverFrom?: string }
    | { acquired: false; holder: string };

/**
 * The ledger's named lock, as three functions (the Ledger's acquireLock, heartbeatLock
 * and releaseLock, sync or async): `acquire` takes or refreshes the lock for this
 * process's holder id, taking over a dead or stale holder; `heartbeat` is false once
 * the holder no longer has it.
 */
export interface LockFunctions {
    acquire(name: string): Promise<LockAttempt>;
    heartbeat(name: string, holder: string): Promise<boolean>;
    release(name: string, holder: string): Promise<unknown>;
}

/** What the ledger's acquireLock answers, as far as leadership reads it. */
export type LedgerLockResult =
    | {
          acquired: true;
          lock: { holder: string };
          takenOver?: { from: { holder: string } };
      }
    | { acquired: false; heldBy: { holder: string } };

/**
 * The lock methods of a ledger, sync today or async tomorrow (structural, so that this
 * file does not depend on the Ledger class).
 */
export interface LedgerLockMethods {
    acquireLock(
        name: string,
        options?: { holder?: string; staleAfterMs?: number }
    ): LedgerLockResult | Promise<LedgerLockResult>;
    heartbeatLock(name: string, holder: string): boolean | Promise<boolean>;
    releaseLock(name: string, holder: string): boolean | Promise<boolean>;
}

/**
 * LockFunctions on a ledger. One holder id for the whole life of the functions: a
 * leader that lost its lead on a failed heartbeat while its row stayed (a busy ledger)
 * gets it back by refreshing, rather than waiting for its own row to go stale.
 */
export function ledgerLockFunctions(
    ledger: LedgerLockMethods,
    options: { staleAfterMs?: number; holder?: string } = {}
): LockFunctions {
    const holder = options.holder ?? lockHolderId();
    return {
        acquire: async (name) => {
            const r = await ledger.acquireLock(name, {
                holder,
                staleAfterMs: options.staleAfterMs
            });
            if (!r.acquired)
                return { acquired: false, holder: r.heldBy.holder };
            return r.takenOver
                ? {
                      acquired: true,
                      holder: r.lock.holder,
                      takenOverFrom: r.takenOver.from.holder
                  }
                : { acquired: true, holder: r.lock.holder };
        },
        heartbeat: async (name, h) => ledger.heartbeatLock(name, h),
        release: async (name, h) => ledger.releaseLock(name, h)
    };
}

export interface LockLeadershipOptions {
    name?: string;
    /** How often the leader refreshes its lock (default 15 s). */
    heartbeatMs?: number;
    log?: LogFn;
}

/**
 * The lead as the ledger's named lock: the leader refreshes it on a timer; a heartbeat
 * that fails (false: another scheduler took it over as stale; or an error) ends the
 * lead at once.
 */
export class LockLeadership implements Leadership {
    readonly description: string;
    private readonly name: string;
    private holder: string | null = null;
    private beatTimer: NodeJS.Timeout | null = null;
    private beating = false;
    private readonly lost = new LostListeners();
    private readonly serial = new Serial();
    private readonly heartbeatMs: number;

    constructor(
        private readonly locks: LockFunctions,
        private readonly options: LockLeadershipOptions = {}
    ) {
        this.name = options.name ?? LEADER_LOCK_NAME;
        this.description = `ledger lock ${this.name}`;
        this.heartbeatMs = options.heartbeatMs ?? 15_000;
    }

    isLeader(): boolean {
        return this.holder !== null;
    }

    onLost(listener: (reason: string) => void): () => void {
        return this.lost.add(listener);
    }

    acquire(): Promise<boolean> {
        return this.serial.run(async () => {
            if (this.holder !== null) return true;
            let attempt: LockAttempt;
            try {
                attempt = await this.locks.acquire(this.name);
            } catch (err) {
                throw err instanceof OptoutError
                    ? err
                    : new OptoutError(
                          'LEADER_LOCK_FAILED',
                          `Cannot take the scheduler's lead (${this.description}): ${errorMessage(err)}`,
                          {
                              actions: [
                                  'This scheduler keeps trying; it runs no job until it leads'
                              ],
                              cause: err
                          }
                      );
            }
            if (!attempt.acquired) return false;
            if (attempt.takenOverFrom)
                this.options.log?.(
                    'info',
                    `leader: took over the lead from ${attempt.takenOverFrom} (dead or silent)`
                );
            this.holder = attempt.holder;
            this.startBeating(attempt.holder);
            return true;
        });
    }

    release(): Promise<void> {
        return this.serial.run(async () => {
            const holder = this.holder;
            this.stopBeating();
            this.holder = null;
            if (holder === null) return;
            try {
                await this.locks.release(this.name, holder);
            } catch (err) {
                // Left behind, the row goes stale and is taken over.
                this.options.log?.(
                    'warn',
                    `leader: could not release ${this.description}: ${errorMessage(err)}`
                );
            }
        });
    }

    private startBeating(holder: string): void {
        this.stopBeating();
        this.beatTimer = setInterval(
            () => void this.beat(holder),
            this.heartbeatMs
        );
        this.beatTimer.unref();
    }

    private stopBeating(): void {
        if (this.beatTimer) clearInterval(this.beatTimer);
        this.beatTimer = null;
    }

    /** One heartbeat; the lead ends when it fails. */
    private async beat(holder: string): Promise<void> {
        if (this.beating) return;
        this.beating = true;
        let reason: string | null = null;
        try {
            if (!(await this.locks.heartbeat(this.name, holder)))
                reason = 'another scheduler took the lock over';
        } catch (err) {
            reason = `the heartbeat failed: ${errorMessage(err)}`;
        } finally {
            this.beating = false;
        }
        // Released (or lost and taken again) while the heartbeat was out: not ours.
        if (reason === null || this.holder !== holder) return;
        this.stopBeating();
        this.holder = null;
        this.lost.emit(reason);
    }
}

// ----------------------------------------------------------------- choice

export interface LeadershipForOptions {
    /**
     * For a SQLite ledger: the ledger itself (its acquireLock, heartbeatLock and
     * releaseLock) or lock functions made from it.
     */
    locks: LedgerLockMethods | LockFunctions;
    /** A silent leader's lock is taken over after this long (ledger's default: 120 s). */
    staleAfterMs?: number;
    /** The leader's heartbeat (lock) or connection check (PostgreSQL) interval. */
    checkIntervalMs?: number;
    log?: LogFn;
}

/**
 * The leadership for a ledger: a PostgreSQL advisory lock when the ledger is on
 * PostgreSQL, else the ledger's own named lock. Opens nothing: the first `acquire`
 * does.
 */
export function leadershipFor(
    location: LedgerLocation,
    options: LeadershipForOptions
): Leadership {
    if (location.kind === 'postgres')
        return new PostgresLeadership(location.url, {
            checkIntervalMs: options.checkIntervalMs,
            log: options.log
        });
    const { locks } = options;
    const functions =
        'acquireLock' in locks
            ? ledgerLockFunctions(locks, { staleAfterMs: options.staleAfterMs })
            : locks;
    return new LockLeadership(functions, {
        heartbeatMs: options.checkIntervalMs,
        log: options.log
    });
}
