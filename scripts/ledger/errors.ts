/**
 * The ledger's errors, typed so that callers test a class, never an engine's message:
 * SQLite's SQLITE_BUSY is mapped here, inside the ledger, to `LedgerBusy`; a PostgreSQL
 * engine would map its own lock timeouts to the same class.
 */
import { OptoutError, errorMessage } from '../model/errors';

/** Another process held the ledger's write lock for longer than the ledger waits. */
export class LedgerBusy extends OptoutError {
    constructor(cause: unknown) {
        super(
            'LEDGER_BUSY',
            `The ledger is busy (another process is writing to it): ${errorMessage(cause)}`,
            {
                actions: [
                    'Try again in a moment; nothing was stored by this call'
                ],
                cause
            }
        );
        this.name = 'LedgerBusy';
    }
}

/**
 * Whether a better-sqlite3 error is SQLite's "busy" (SQLITE_BUSY and its extended
 * codes, whose message is "database is locked"): the write lock was not obtained
 * within `busy_timeout`.
 */
export function isSqliteBusy(err: unknown): boolean {
    // Duck-typed, not `instanceof Error`: better-sqlite3's native addon keeps the
    // SqliteError class of the first realm that loaded it (a Jest worker runs several).
    if (typeof err !== 'object' || err === null) return false;
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code.startsWith('SQLITE_BUSY');
    return typeof message === 'string' && /database is locked/i.test(message);
}

/** The error a ledger call throws for `err`: a LedgerBusy for SQLite's busy, else `err`. */
export function ledgerError(err: unknown): unknown {
    return !(err instanceof LedgerBusy) && isSqliteBusy(err)
        ? new LedgerBusy(err)
        : err;
}

/**
 * The ledger's server cannot be reached, or the connection dropped (PostgreSQL
 * restarted, network gone): what the call was doing was rolled back by the server, so
 * nothing of it is stored and it may be tried again.
 */
export class LedgerUnavailable extends OptoutError {
    constructor(location: string, cause: unknown) {
        super(
            'LEDGER_UNAVAILABLE',
            `The ledger ${location} cannot be reached: ${errorMessage(cause)}`,
            {
                actions: [
                    'Check that the PostgreSQL server is running and reachable from this machine (host, port, firewall)',
                    'Check the user name, password and database name in the URL',
                    'Try again: nothing was stored by this call'
                ],
                cause
            }
        );
        this.name = 'LedgerUnavailable';
    }
}

/** PostgreSQL SQLSTATEs of a lock or serialization wait that may simply be tried again. */
const PG_BUSY = new Set(['55P03', '40001', '40P01']);
/** Node socket errors of a connection that could not be made or was lost. */
const SOCKET_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'EPIPE'
]);

/** Whether a `pg` error means "no usable connection" (see LedgerUnavailable). */
export function isConnectionError(err: unknown): boolean {
    if (typeof err !== 'object' || err === null) return false;
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
        if (SOCKET_CODES.has(code)) return true;
        // 08: connection exception; 57P01-57P03: admin shutdown, crash, cannot connect now;
        // 28: invalid authorization; 3D000: no such database; 53300: too many connections.
        if (/^(08|57P0[123]|28|3D000|53300)/.test(code)) return true;
    }
    return (
        typeof message === 'string' &&
        /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
            message
        )
    );
}

/** The error a PostgreSQL ledger call throws for a `pg` error. */
export function postgresLedgerError(err: unknown, location: string): unknown {
    if (err instanceof OptoutError) return err;
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && PG_BUSY.has(code))
        return new LedgerBusy(err);
    if (isConnectionError(err)) return new LedgerUnavailable(location, err);
    return err;
}
