/**
 * A busy ledger raises LedgerBusy (mapped from SQLite's SQLITE_BUSY inside the ledger),
 * from any method, and changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { OptoutError } from '../../model/errors';
import { LedgerBusy, isSqliteBusy, ledgerError } from '../errors';
import { Ledger } from '../ledger';
import { itSqlite } from './sqlite-only';

let dir: string;
let path: string;
let ledger: Ledger;
let other: Database.Database;

beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ledger-busy-'));
    path = join(dir, 'ledger.db');
    ledger = await Ledger.open(path, { busyTimeoutMs: 20 });
    other = new Database(path);
});
afterEach(async () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
});

/** Another process (here: connection) holds the write lock. */
function holdWriteLock(): void {
    other.exec('BEGIN IMMEDIATE');
}

describe('LedgerBusy', () => {
    itSqlite(
        'is what a write raises while another process holds the write lock',
        async () => {
            holdWriteLock();
            let caught: unknown;
            try {
                await ledger.recordUnsubscribe({
                    email: 'ana@example.com',
                    scope: 'all',
                    source: 'platform'
                });
            } catch (err) {
                caught = err;
            }
            expect(caught).toBeInstanceOf(LedgerBusy);
            expect(caught).toBeInstanceOf(OptoutError);
            expect((caught as LedgerBusy).code).toBe('LEDGER_BUSY');
            expect((caught as LedgerBusy).cause).toMatchObject({
                code: 'SQLITE_BUSY'
            });
            other.exec('ROLLBACK');
            expect(await ledger.findPerson('ana@example.com')).toBeUndefined();
        }
    );

    itSqlite(
        'comes from methods outside transaction() too (cursors, locks)',
        async () => {
            holdWriteLock();
            await expect(ledger.setCursor('hourly', 'seq', 1)).rejects.toThrow(
                LedgerBusy
            );
            await expect(ledger.acquireLock('job:push')).rejects.toThrow(
                LedgerBusy
            );
        }
    );

    itSqlite('leaves other errors as they are', async () => {
        await expect(
            ledger.recordUnsubscribe({
                email: 'not-an-email',
                scope: 'all',
                source: 'platform'
            })
        ).rejects.not.toThrow(LedgerBusy);
        const plain = new Error('boom');
        expect(ledgerError(plain)).toBe(plain);
        expect(
            isSqliteBusy(
                Object.assign(new Error('x'), { code: 'SQLITE_BUSY_SNAPSHOT' })
            )
        ).toBe(true);
        expect(
            isSqliteBusy(
                Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT' })
            )
        ).toBe(false);
    });
});
