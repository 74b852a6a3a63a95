/**
 * `OPTOUT_LEDGER=postgres://…` through the commands a user runs on a shared ledger,
 * on the tests' PostgreSQL server (a schema of its own): import, status, unsubscribe
 * (and its push to a local org), history, resubscribe, export, retry, sync. The ledger
 * lives in PostgreSQL: nothing is written in the working folder but the local org's
 * state file, and the password never shows.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeState, DEFAULT_STATE_FILE } from '../../tools/local-org/connect';
import {
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import {
    freshSchemaUrl,
    postgresTestSetting,
    postgresUrl
} from '../../ledger/__tests__/postgres-env';
import { cli } from './run-cli';

const pg = postgresTestSetting();
const NAME = 'optout on a PostgreSQL ledger';
if (pg.kind === 'skip') console.warn(`${NAME}: ${pg.reason}`);

const cwd = process.cwd();
const home = process.env.HOME;
const saved = process.env.OPTOUT_LEDGER;
let dir: string;
let t: TestOrg | undefined;

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-pg-'));
    process.chdir(dir);
    process.env.HOME = dir;
});
afterEach(async () => {
    process.chdir(cwd);
    process.env.HOME = home;
    if (saved === undefined) delete process.env.OPTOUT_LEDGER;
    else process.env.OPTOUT_LEDGER = saved;
    await t?.close();
    t = undefined;
    rmSync(dir, { recursive: true, force: true });
});

/** Files in the working folder other than the local org's state (`.optout/…`). */
function writtenHere(): string[] {
    return readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f !== '.optout' && !f.startsWith('.optout/local-org'));
}

(pg.kind === 'skip' ? describe.skip : describe)(NAME, () => {
    it('runs every ledger command with OPTOUT_LEDGER set to the URL', async () => {
        const url = await freshSchemaUrl(postgresUrl(pg));
        process.env.OPTOUT_LEDGER = url;
        const password = new URL(url).password;
        t = await startTestOrg({ deploy: true });
        writeState(join(dir, DEFAULT_STATE_FILE), {
            instanceUrl: t.instanceUrl,
            accessToken: t.accessToken,
            pid: process.pid,
            port: t.org.port,
            dbPath: t.org.dbPath,
            orgId: t.org.orgId,
            username: t.org.username,
            startedAt: new Date().toISOString()
        });
        const [ana] = await seedRecords(t, 'Contact', [
            { LastName: 'Ana', Email: 'ana@example.com' },
            { LastName: 'Bo', Email: 'bo@example.com' }
        ]);

        const inputs = mkdtempSync(join(tmpdir(), 'cli-pg-in-'));
        const csv = join(inputs, 'people.csv');
        writeFileSync(
            csv,
            'email,salesforce_id,audience_id,audience_name,status,changed_at\n' +
                `ana@example.com,${ana},news,Newsletter,Subscribed,2025-01-05T10:00:00Z\n` +
                'bo@example.com,,news,Newsletter,Unsubscribed,2025-02-01T00:00:00Z\n'
        );
        const imported = await cli('import', csv, '--json');
        expect(imported.code).toBe(0);
        expect(imported.json).toMatchObject({ status: 'imported' });

        const status = await cli('status', '--json');
        expect(status.code).toBe(0);
        expect(status.json).toMatchObject({
            persons: 2,
            schemaVersion: 6
        });
        expect(String(status.json.path)).toMatch(/^postgres:\/\/[^:]+:\*\*\*@/);

        const unsub = await cli(
            'unsubscribe',
            '--email',
            'ana@example.com',
            '--target-org',
            'local',
            '--json'
        );
        expect(unsub.code).toBe(0);
        expect(unsub.json).toMatchObject({ email: 'ana@example.com' });
        expect(unsub.json.deliveredAt).not.toBeNull();

        const history = await cli(
            'history',
            '--email',
            'ana@example.com',
            '--json'
        );
        expect(history.code).toBe(0);
        expect(
            (history.json.unsubscribes as { deliveredAt: string | null }[])[0]
                .deliveredAt
        ).not.toBeNull();

        const sync = await cli(
            'sync',
            'nightly',
            '--target-org',
            'local',
            '--json'
        );
        expect([0, 3]).toContain(sync.code);
        expect(sync.json).toMatchObject({ job: 'nightly' });

        const out = join(inputs, 'suppressions.csv');
        const exported = await cli(
            'export',
            'suppressions',
            '--out',
            out,
            '--json'
        );
        expect(exported.code).toBe(0);
        expect(exported.json.items).toBeGreaterThanOrEqual(2);

        const resub = await cli(
            'resubscribe',
            '--email',
            'bo@example.com',
            '--audience',
            'news',
            '--reason',
            'asked again',
            '--json'
        );
        expect(resub.code).toBe(0);

        const retry = await cli('retry', '--all', '--json');
        expect(retry.code).toBe(0);

        for (const r of [
            imported,
            status,
            unsub,
            history,
            sync,
            exported,
            resub
        ])
            expect(r.stdout + r.stderr).not.toContain(password);
        expect(writtenHere()).toEqual([]);
        rmSync(inputs, { recursive: true, force: true });
    });
});
