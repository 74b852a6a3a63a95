/**
 * Where a ledger lives: a path is a SQLite file, a postgres:// URL a PostgreSQL server
 * (not available in this version), any other URL a usage error — and never a file
 * named after the URL.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptoutError } from '../../model/errors';
import { Ledger } from '../ledger';
import {
    describeLedgerLocation,
    parseLedgerLocation,
    redactPassword
} from '../location';
import { itSqlite } from './sqlite-only';

/** The OptoutError `fn` throws (fails the test when it throws nothing else). */
function thrown(fn: () => unknown): OptoutError {
    try {
        fn();
    } catch (err) {
        if (err instanceof OptoutError) return err;
        throw err;
    }
    throw new Error('expected an OptoutError, nothing was thrown');
}

describe('parseLedgerLocation', () => {
    it('takes a path as a SQLite file, made absolute from cwd', () => {
        expect(
            parseLedgerLocation('.optout/ledger.db', { cwd: '/srv/app' })
        ).toEqual({ kind: 'sqlite', path: '/srv/app/.optout/ledger.db' });
        expect(parseLedgerLocation('  /data/l.db ')).toEqual({
            kind: 'sqlite',
            path: '/data/l.db'
        });
        // A colon inside a file name is not a scheme.
        expect(parseLedgerLocation('backup:2025.db', { cwd: '/x' })).toEqual({
            kind: 'sqlite',
            path: '/x/backup:2025.db'
        });
    });

    it.each([
        'postgres://optout:secret@db.example.com:5432/optout',
        'postgresql://localhost/optout',
        'POSTGRES://u@127.0.0.1/db?sslmode=require',
        'postgresql:///optout?host=/var/run/postgresql'
    ])('takes %s as a PostgreSQL URL, kept as given', (url) => {
        expect(parseLedgerLocation(` ${url} `)).toEqual({
            kind: 'postgres',
            url
        });
    });

    it.each([
        ['mysql://root@localhost/optout', 'mysql'],
        ['http://example.com/ledger.db', 'http'],
        ['sqlite://ledger.db', 'sqlite'],
        ['file:///tmp/ledger.db', 'file']
    ])('refuses %s (exit 2, with actions)', (raw, scheme) => {
        const err = thrown(() =>
            parseLedgerLocation(raw, { origin: 'OPTOUT_LEDGER' })
        );
        expect(err.code).toBe('LEDGER_URL_UNSUPPORTED');
        expect(err.exitCode).toBe(2);
        expect(err.message).toContain(`OPTOUT_LEDGER '${raw}'`);
        expect(err.message).toContain(`${scheme}://`);
        expect(err.message).toMatch(/Nothing was read or written/);
        expect(err.actions.join('\n')).toMatch(
            /SQLite file.*\n.*postgres:\/\//
        );
    });

    it.each(['postgres:/db', 'postgresql:optout', 'postgres://[::1/optout'])(
        'refuses the malformed PostgreSQL URL %s (exit 2)',
        (raw) => {
            const err = thrown(() => parseLedgerLocation(raw));
            expect(err.code).toBe('BAD_LEDGER_URL');
            expect(err.exitCode).toBe(2);
            expect(err.actions[0]).toMatch(/postgres:\/\/USER:PASSWORD@HOST/);
        }
    );

    it('never prints a password it refuses', () => {
        const err = thrown(() =>
            parseLedgerLocation('mysql://root:hunter2@db/optout')
        );
        expect(err.message).not.toContain('hunter2');
        expect(err.message).toContain('mysql://root:***@db/optout');
    });

    it('refuses an empty value', () => {
        expect(thrown(() => parseLedgerLocation('  ')).exitCode).toBe(2);
    });
});

describe('redactPassword and describeLedgerLocation', () => {
    it('masks the password of a URL and leaves the rest', () => {
        expect(redactPassword('postgres://u:p%40ss@h:5432/d')).toBe(
            'postgres://u:***@h:5432/d'
        );
        expect(redactPassword('postgres://u@h/d')).toBe('postgres://u@h/d');
        expect(redactPassword('postgres://u:secret@[bad/d')).toBe(
            'postgres://u:***@[bad/d'
        );
        expect(
            describeLedgerLocation({
                kind: 'postgres',
                url: 'postgresql://a:b@h/d'
            })
        ).toBe('postgresql://a:***@h/d');
        expect(describeLedgerLocation({ kind: 'sqlite', path: '/l.db' })).toBe(
            '/l.db'
        );
    });
});

describe('Ledger.open', () => {
    let dir: string;
    const cwd = process.cwd();
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'ledger-location-'));
        process.chdir(dir);
    });
    afterEach(() => {
        process.chdir(cwd);
        rmSync(dir, { recursive: true, force: true });
    });

    it('never takes a URL for a file name: nothing is created', async () => {
        // Port 1: nothing listens there, so the PostgreSQL engine cannot connect.
        const unreachable = await Ledger.open(
            'postgres://u:secret@127.0.0.1:1/optout'
        ).catch((e: unknown) => e as OptoutError);
        expect(unreachable).toBeInstanceOf(OptoutError);
        expect((unreachable as OptoutError).code).toBe('LEDGER_UNAVAILABLE');
        expect((unreachable as OptoutError).message).toContain(
            'postgres://u:***@127.0.0.1:1/optout'
        );
        expect((unreachable as OptoutError).message).not.toContain('secret');
        await expect(Ledger.open('mysql://u@h/optout')).rejects.toMatchObject({
            code: 'LEDGER_URL_UNSUPPORTED'
        });
        expect(readdirSync(dir)).toEqual([]);
    });

    itSqlite('still opens a relative path and memory', async () => {
        await (await Ledger.open('sub/ledger.db')).close();
        expect(existsSync(join(dir, 'sub', 'ledger.db'))).toBe(true);
        await (await Ledger.open(':memory:')).close();
    });
});
