/**
 * `optout ledger copy --from FILE --to URL` on the tests' PostgreSQL server: the
 * envelope with the per-table counts, the text at 80 columns, and the refusals (same
 * ledger, no source, non-empty target, unreachable server, a row the target refuses)
 * that write nothing. ledger/__tests__/copy.test.ts compares the copies row by row.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { Ledger } from '../../ledger/ledger';
import {
    postgresTestSetting,
    postgresUrl
} from '../../ledger/__tests__/postgres-env';
import { cli } from './run-cli';

const pg = postgresTestSetting();
if (pg.kind === 'skip') console.warn(`optout ledger copy: ${pg.reason}`);
const describePg = pg.kind === 'skip' ? describe.skip : describe;

const cwd = process.cwd();
const savedColumns = process.env.COLUMNS;
const schemas: string[] = [];
let dir: string;
let source: string;

/** A new, empty schema on the tests' server; its URL (with the password). */
async function freshSchema(): Promise<string> {
    const base = postgresUrl(pg);
    const schema = `clicopy_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const client = new Client({ connectionString: base });
    await client.connect();
    try {
        await client.query(`CREATE SCHEMA ${schema}`);
    } finally {
        await client.end();
    }
    schemas.push(schema);
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
}

async function counts(location: string): Promise<Record<string, number>> {
    const ledger = await Ledger.open(location);
    try {
        return await ledger.rowCounts();
    } finally {
        await ledger.close();
    }
}

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-copy-'));
    source = join(dir, 'ledger.db');
    const ledger = await Ledger.open(source);
    await ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
    for (const email of ['ana@example.com', 'bo@example.com'])
        await ledger.recordUnsubscribe({
            email,
            scope: 'all',
            source: 'webhook'
        });
    await ledger.recordUnsubscribe({
        email: 'cy@example.com',
        scope: 'audience',
        audienceId: 'news',
        source: 'platform'
    });
    await ledger.setCursor('push', 'since', '42');
    await ledger.acquireLock('nightly', { holder: 'old-host:77', pid: 77 });
    await ledger.close();
    process.chdir(dir);
});

afterAll(async () => {
    process.chdir(cwd);
    if (savedColumns === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = savedColumns;
    if (pg.kind === 'run' && schemas.length) {
        const client = new Client({ connectionString: pg.url });
        await client.connect();
        for (const s of schemas)
            await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
        await client.end();
    }
    rmSync(dir, { recursive: true, force: true });
});

describePg('optout ledger copy', () => {
    it('copies a SQLite file to PostgreSQL: the envelope, password masked', async () => {
        const url = await freshSchema();
        const r = await cli(
            'ledger',
            'copy',
            '--from',
            'ledger.db',
            '--to',
            url,
            '--json'
        );
        expect(r.code).toBe(0);
        expect(r.envelope).toMatchObject({ status: 0, warnings: [] });
        const password = new URL(url).password;
        expect(r.stdout).not.toContain(password);
        expect(r.json).toMatchObject({
            status: 'copied',
            from: source,
            to: expect.stringContaining(':***@'),
            fromEngine: 'sqlite',
            toEngine: 'postgres',
            schemaVersion: Ledger.LATEST_SCHEMA_VERSION,
            sourceLocks: [{ name: 'nightly', holder: 'old-host:77', pid: 77 }]
        });
        expect(r.json.tables).toEqual(
            expect.arrayContaining([
                { table: 'persons', source: 3, target: 3 },
                { table: 'unsubscribes', source: 3, target: 3 },
                { table: 'cursors', source: 1, target: 1 },
                {
                    table: 'locks',
                    source: 1,
                    target: 0,
                    skipped: expect.any(String)
                }
            ])
        );
        const copied = await counts(url);
        expect({ ...copied, locks: 1 }).toEqual(await counts(source));
        expect(r.json.rows).toBe(
            Object.values(copied).reduce((a, b) => a + b, 0)
        );
        expect(copied.persons).toBe(3);
    }, 60_000);

    it('prints the counts per table within 80 columns, and the lock it left', async () => {
        process.env.COLUMNS = '80';
        const r = await cli(
            'ledger',
            'copy',
            '--from',
            source,
            '--to',
            join(dir, 'copy.db')
        );
        expect(r.code).toBe(0);
        const lines = r.stdout.trimEnd().split('\n');
        for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
        expect(r.stdout).toMatch(
            /^Copied \d+ rows in [\d.]+s \(schema version \d+\)/
        );
        expect(r.stdout).toMatch(/│ unsubscribes\s+│ 3\s+│ 3\s+│ ok/);
        expect(r.stdout).toMatch(/│ locks\s+│ 1\s+│ -\s+│ not copied/);
        expect(r.stdout).toContain("the source had the lock 'nightly'");
        expect(r.stdout).toMatch(/Next: point serve, schedule/);
    }, 60_000);

    it('refuses the same ledger twice, whatever its spelling (exit 2)', async () => {
        const r = await cli(
            'ledger',
            'copy',
            '--from',
            'ledger.db',
            '--to',
            join(dir, '.', 'ledger.db'),
            '--json'
        );
        expect(r.code).toBe(2);
        expect(r.json).toMatchObject({ name: 'LEDGER_COPY_SAME', exitCode: 2 });
    });

    it('refuses a source that does not exist, creating nothing', async () => {
        const r = await cli(
            'ledger',
            'copy',
            '--from',
            'nothing-here.db',
            '--to',
            'new.db',
            '--json'
        );
        expect(r.json).toMatchObject({ name: 'LEDGER_NOT_FOUND' });
        expect(existsSync(join(dir, 'nothing-here.db'))).toBe(false);
        expect(existsSync(join(dir, 'new.db'))).toBe(false);
    });

    it('refuses a target that is not empty, and says how to start from an empty one', async () => {
        const url = await freshSchema();
        const target = await Ledger.open(url);
        await target.upsertPerson({ email: 'someone@example.com' });
        await target.close();
        const before = await counts(url);
        const r = await cli('ledger', 'copy', '--from', source, '--to', url);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
            /Error \(LEDGER_COPY_TARGET_NOT_EMPTY\): The target ledger postgres:\/\/.*:\*\*\*@.* is not empty \(persons: 1\)/
        );
        expect(r.stderr).toMatch(
            /Try this: .*empty PostgreSQL database or schema/
        );
        expect(await counts(url)).toEqual(before);
    }, 60_000);

    it('stops at an unreachable server (LEDGER_UNAVAILABLE), the source as it was', async () => {
        const before = await counts(source);
        const files = readdirSync(dir).sort();
        const r = await cli(
            'ledger',
            'copy',
            '--from',
            source,
            '--to',
            'postgres://optout:s3cret-pw@127.0.0.1:1/optout',
            '--json'
        );
        expect(r.code).toBe(1);
        expect(r.json).toMatchObject({ name: 'LEDGER_UNAVAILABLE' });
        expect(r.stdout).not.toContain('s3cret-pw');
        expect(await counts(source)).toEqual(before);
        expect(readdirSync(dir).sort()).toEqual(files);
    });

    it('removes the SQLite file it created when the copy fails', async () => {
        // A source row the target's CHECK refuses (written with the checks off).
        const odd = join(dir, 'odd.db');
        const l = await Ledger.open(odd);
        await l.recordUnsubscribe({
            email: 'dee@example.com',
            scope: 'all',
            source: 'webhook'
        });
        await l.close();
        const db = new Database(odd);
        db.pragma('ignore_check_constraints = ON');
        db.prepare("UPDATE persons SET salesforce_id = 'short'").run();
        db.close();
        const r = await cli(
            'ledger',
            'copy',
            '--from',
            odd,
            '--to',
            'odd-copy.db',
            '--json'
        );
        expect(r.code).toBe(1);
        expect(String(r.json.message)).toMatch(/CHECK/i);
        expect(
            readdirSync(dir).filter((f) => f.startsWith('odd-copy'))
        ).toEqual([]);
    });
});
