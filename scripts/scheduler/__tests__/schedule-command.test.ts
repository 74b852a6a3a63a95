/**
 * The CLI contract of `optout schedule`: usage errors (exit 2), `--dry-run` (the plan,
 * nothing opened), and the real entry point against a local org — next runs printed,
 * a pending unsubscribe pushed on the interval, JSON lines, SIGINT → exit 0.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { cli, localOrgFolder, spawnCli } from '../../webhook/__tests__/cli';
import { itSqlite } from '../../ledger/__tests__/sqlite-only';

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'optout-schedule-'));
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

describe('optout schedule: arguments', () => {
    it.each([
        [['schedule'], /required option '--target-org <org>'/],
        [
            ['schedule', '--target-org', 'local', '--hourly', '61 * * * *'],
            /--hourly '61 \* \* \* \*' is not a valid cron expression: Invalid value for minute/
        ],
        [
            ['schedule', '--target-org', 'local', '--nightly', 'at eight'],
            /--nightly 'at eight' is not a valid cron expression/
        ],
        [
            [
                'schedule',
                '--target-org',
                'local',
                '--timezone',
                'Pacific/Atlantis'
            ],
            /--timezone 'Pacific\/Atlantis' is not a time zone/
        ],
        [
            ['schedule', '--target-org', 'local', '--push-interval', '100ms'],
            /--push-interval must be a duration .* between 1s and 1h/
        ]
    ])('%p exits 2: %p', async (args, message) => {
        const ledger = join(dir, 'ledger.db');
        const r = await cli(...args, '--ledger', ledger);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(existsSync(ledger)).toBe(false);
    });

    it('--dry-run prints the plan with the next run times and opens nothing', async () => {
        const ledger = join(dir, 'ledger.db');
        const r = await cli(
            '--json',
            'schedule',
            '--target-org',
            'prod',
            '--timezone',
            'Europe/Paris',
            '--nightly',
            '30 2 * * *',
            '--dry-run',
            '--ledger',
            ledger
        );
        expect(r.code).toBe(0);
        const plan = r.json as unknown as {
            status: string;
            timezone: string;
            jobs: {
                job: string;
                cron: string;
                next: string[];
                nextLocal: string[];
            }[];
            push: { every: string };
        };
        expect(plan).toMatchObject({
            status: 'plan',
            timezone: 'Europe/Paris',
            push: { every: '30s' }
        });
        expect(plan.jobs.map((j) => [j.job, j.cron])).toEqual([
            ['hourly', '0 * * * *'],
            ['nightly', '30 2 * * *']
        ]);
        expect(plan.jobs[1].next).toHaveLength(3);
        expect(plan.jobs[1].nextLocal[0]).toMatch(/ 02:30 GMT\+[12]$/);
        expect(existsSync(ledger)).toBe(false);
        const human = await cli(
            'schedule',
            '--target-org',
            'prod',
            '--dry-run'
        );
        expect(human.stdout).toMatch(
            /nightly .*0 20 \* \* \* \(America\/Los_Angeles\)/
        );
        expect(human.stdout).toMatch(/20:00 P[SD]T/);
    });
});

describe('optout schedule: the real entry point', () => {
    let t: TestOrg;
    beforeAll(async () => {
        for (const k of [
            'http_proxy',
            'https_proxy',
            'HTTP_PROXY',
            'HTTPS_PROXY'
        ])
            delete process.env[k];
        t = await startTestOrg({ deploy: true });
        await seedRecords(t, 'Contact', fakePeople(3));
    });
    afterAll(async () => {
        await t?.close();
    });

    // SQLite only: optout schedule runs as a child process on the ledger file, which this process fills.
    itSqlite(
        'prints the next runs, pushes pending unsubscribes on the interval, stops on SIGINT',
        async () => {
            localOrgFolder(dir, t);
            const ledgerPath = join(dir, 'ledger.db');
            const ledger = await Ledger.open(ledgerPath);
            await ledger.recordUnsubscribe({
                email: 'person0@example.com',
                scope: 'all',
                source: 'platform'
            });
            await ledger.close();
            const child = spawnCli(dir, [
                '--json',
                'schedule',
                '--target-org',
                'local',
                '--push-interval',
                '1s',
                '--timezone',
                'UTC',
                '--ledger',
                ledgerPath
            ]);
            const started = JSON.parse(
                await child.line((l) => l.includes('"started"'))
            ) as {
                jobs: { job: string; next: string[] }[];
                note?: string;
            };
            expect(started.jobs.map((j) => j.job)).toEqual([
                'hourly',
                'nightly'
            ]);
            expect(started.jobs[0].next[0]).toMatch(/T\d\d:00:00\.000Z$/);
            expect(started.note).toMatch(/Nightly sync is off/);
            const run = JSON.parse(
                await child.line((l) => l.includes('"run"'))
            ) as Record<string, unknown>;
            expect(run).toMatchObject({
                event: 'run',
                trigger: 'interval',
                job: 'push',
                status: 'succeeded',
                recordsWritten: 1,
                unsubscribesDelivered: 1
            });
            child.proc.kill('SIGINT');
            expect(await child.exited).toBe(0);
            // One line per event, each a JSON object; the last is the envelope.
            const lines = child.stdout().split('\n').filter(Boolean);
            for (const line of lines)
                expect(() => JSON.parse(line)).not.toThrow();
            expect(JSON.parse(lines[lines.length - 1])).toMatchObject({
                status: 0,
                result: { stopped: true, signal: 'SIGINT' },
                warnings: []
            });
            const after = await Ledger.open(ledgerPath);
            expect(await after.countUndelivered()).toBe(0);
            expect(await after.getLock('job:push')).toBeUndefined();
            await after.close();
        },
        120_000
    );
});
