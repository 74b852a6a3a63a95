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
