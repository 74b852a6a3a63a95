/**
 * The scheduler: never two runs of a job at once — in this process (busy), across
 * Ledger connections on one file (a second scheduler, a manual run) and across processes
 * (a spawned holder of the lock, then killed) — and the push loop (runs only when
 * something is pending, backs off while nothing gets delivered).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Ledger } from '../../ledger/ledger';
import { OptoutError } from '../../model/errors';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient } from '../../salesforce/client';
import { writeSettings } from '../../salesforce/settings';
import { runJob } from '../../sync/run';
import type { JobName, JobResult } from '../../sync/result';
import { checkConfig } from '../plan';
import { Scheduler, type SchedulerEvent } from '../scheduler';
import { PROJECT_ROOT } from '../../model/project';
import { itSqlite } from '../../ledger/__tests__/sqlite-only';

const ROOT = PROJECT_ROOT;

function fakeResult(job: JobName, extra: Partial<JobResult> = {}): JobResult {
    return {
        job,
        runId: `run-${job}`,
        dryRun: false,
        targetOrg: 'local',
        startedAt: new Date().toISOString(),
        durationMs: 1,
        apiRequests: 0,
        apiUsage: null,
        recordsWritten: 0,
        ledgerUnsubscribesAdded: 0,
        membershipsUpserted: 0,
        unsubscribesDelivered: 0,
        skipped: {},
        failed: [],
        retried: { requests: 0, records: 0 },
        deferred: null,
        status: 'succeeded',
        ...extra
    };
}

describe('Scheduler in one process (fake jobs)', () => {
    let ledger: Ledger;
    const org = {} as OrgClient;
    beforeEach(async () => {
        ledger = await Ledger.open(':memory:');
    });
    afterEach(async () => ledger.close());

    it('does not start a job that is still running: the second time is reported busy', async () => {
        let release: () => void = () => undefined;
        const calls: JobName[] = [];
        const events: SchedulerEvent[] = [];
        const s = new Scheduler({
            ledger,
            org: { conn: {} } as unknown as OrgClient,
            config: checkConfig({ timezone: 'UTC' }),
            onEvent: (e) => events.push(e),
            runJob: (job) => {
                calls.push(job);
                return new Promise((r) => {
                    release = () => r(fakeResult(job));
                });
            }
        });
        const first = s.trigger('hourly', 'cron');
        const second = s.trigger('hourly', 'cron');
        expect(s.busy).toEqual(['hourly']);
        release();
        await Promise.all([first, second]);
        expect(calls).toEqual(['hourly']);
        expect(events.map((e) => e.event)).toEqual(['busy', 'run']);
        expect(events[0]).toMatchObject({
            job: 'hourly',
            message: expect.stringMatching(/still going/)
        });
        await s.stop();
    });

    it('gives the nightly its full-reconciliation interval (R16), and no other job', async () => {
        const seen: [JobName, unknown][] = [];
        const s = new Scheduler({
            ledger,
            org: { conn: {} } as unknown as OrgClient,
            config: checkConfig({
                timezone: 'UTC',
                nightlyFullEveryMs: 3 * 24 * 3_600_000
            }),
            runJob: async (job, options) => {
                seen.push([job, options.nightly]);
                return fakeResult(job);
            }
        });
        await s.trigger('nightly', 'cron');
        await s.trigger('hourly', 'cron');
        expect(seen).toEqual([
            ['nightly', { fullEveryMs: 3 * 24 * 3_600_000 }],
            ['hourly', undefined]
        ]);
        await s.stop();
    });

    it('reports a job that could not run as failed, with its actions, and goes on', async () => {
        const events: SchedulerEvent[] = [];
        const s = new Scheduler({
            ledger,
            org: { conn: {} } as unknown as OrgClient,
            config: checkConfig({}),
            onEvent: (e) => events.push(e),
            runJob: async () => {
                throw new OptoutError('FIELD_NOT_WRITABLE', 'R7 says no', {
                    actions: ['optout deploy --target-org local']
                });
            }
        });
        await s.trigger('nightly', 'cron');
        expect(events[0]).toMatchObject({
            event: 'failed',
            job: 'nightly',
            error: {
                code: 'FIELD_NOT_WRITABLE',
                actions: ['optout deploy --target-org local']
            }
        });
        await s.stop();
    });

    it('pushes only when something is pending, and backs off while nothing gets delivered', async () => {
        let deliver = false;
        const pushes: number[] = [];
        const events: SchedulerEvent[] = [];
        const s = new Scheduler({
            ledger,
            org,
            config: checkConfig({ pushIntervalMs: 1000 }),
            onEvent: (e) => events.push(e),
            maxPushBackoffMs: 8000,
            runJob: async (job) => {
                pushes.push(await ledger.countUndelivered());
                if (deliver) {
                    const ids = (
                        await ledger.undeliveredUnsubscribes({ limit: 1000 })
                    ).map((u) => u.id);
                    await ledger.markDelivered(ids, { runId: 'r' });
                }
                return fakeResult(job);
            }
        });
        // Nothing pending: no run at all.
        expect(await s.pushOnce()).toBe(1000);
        expect(pushes).toEqual([]);

        await ledger.recordUnsubscribe({
            email: 'a@example.com',
            scope: 'all',
            source: 'webhook'
        });
        // New arrival: pushed at the interval; nothing delivered → the wait doubles.
        expect(await s.pushOnce()).toBe(1000);
        expect(await s.pushOnce()).toBe(2000);
        expect(await s.pushOnce()).toBe(4000);
        expect(await s.pushOnce()).toBe(8000);
        expect(await s.pushOnce()).toBe(8000); // capped
        // A new unsubscribe arrives: back to the interval.
        await ledger.recordUnsubscribe({
            email: 'b@example.com',
            scope: 'all',
            source: 'webhook'
        });
        expect(await s.pushOnce()).toBe(1000);
        // Delivered: back to idle.
        deliver = true;
        expect(await s.pushOnce()).toBe(1000);
        expect(await ledger.countUndelivered()).toBe(0);
        expect(await s.pushOnce()).toBe(1000);
        expect(pushes).toEqual([1, 1, 1, 1, 1, 2, 2]);
        // Each push of the service is one of the scheduler's runs, reported as such.
        expect(events).toHaveLength(7);
        expect(events[0]).toMatchObject({
            event: 'run',
            job: 'push',
            trigger: 'interval',
            result: { job: 'push' }
        });
        await s.stop();
    });
});

describe('Scheduler and the cross-process lock (local org)', () => {
    let t: TestOrg;
    let dir: string;
    let path: string;
    let a: Ledger;
    let b: Ledger;
    let child: ChildProcess | undefined;

    const client = (): OrgClient =>
        new OrgClient(t.conn as never, { targetOrg: 'local', local: true });

    beforeAll(async () => {
        for (const k of [
            'http_proxy',
            'https_proxy',
            'HTTP_PROXY',
            'HTTPS_PROXY'
        ])
            delete process.env[k];
        t = await startTestOrg({ deploy: true });
        const people = fakePeople(400);
        // Some opt-outs made in Salesforce: the nightly brings them into the ledger.
        for (let i = 0; i < people.length; i += 10)
            people[i].HasOptedOutOfEmail = true;
        await seedRecords(t, 'Contact', people);
        await writeSettings(client(), { nightlySyncEnabled: true });
    });

    afterAll(async () => {
        await t?.close();
    });

    beforeEach(async () => {
        dir = mkdtempSync(join(tmpdir(), 'optout-scheduler-'));
        path = join(dir, 'ledger.db');
        a = await Ledger.open(path);
        b = await Ledger.open(path);
    });

    afterEach(async () => {
        child?.kill('SIGKILL');
        child = undefined;
        await a.close();
        await b.close();
        rmSync(dir, { recursive: true, force: true });
    });

    function scheduler(ledger: Ledger, events: SchedulerEvent[]): Scheduler {
        return new Scheduler({
            ledger,
            org: client(),
            config: checkConfig({ timezone: 'UTC' }),
            onEvent: (e) => events.push(e)
        });
    }

    it('two schedulers on one ledger file: one runs the nightly, the other skips and says who holds it', async () => {
        const ea: SchedulerEvent[] = [];
        const eb: SchedulerEvent[] = [];
        const sa = scheduler(a, ea);
        const sb = scheduler(b, eb);
        await Promise.all([
            sa.trigger('nightly', 'cron'),
            sb.trigger('nightly', 'cron')
        ]);
        const results = [...ea, ...eb].map((e) =>
            e.event === 'run' ? e.result : undefined
        );
        const statuses = results.map((r) => r?.status).sort();
        expect(statuses).toEqual(['skipped', 'succeeded']);
        const ran = results.find((r) => r?.status === 'succeeded');
        const skipped = results.find((r) => r?.status === 'skipped');
        expect(ran?.ledgerUnsubscribesAdded).toBe(40);
        expect(skipped?.message).toMatch(
            new RegExp(
                `Another nightly run holds the lock \\(pid ${process.pid}`
            )
        );
        expect(skipped?.apiRequests).toBe(0);
        // No corruption: both runs recorded, the ledger consistent, the lock free.
        expect(
            (await a.listRuns({ job: 'nightly' })).map((r) => r.status).sort()
        ).toEqual(['skipped', 'succeeded']);
        expect((await b.status()).unsubscribes.bySource.salesforce).toBe(40);
        expect(await a.getLock('job:nightly')).toBeUndefined();
        // The next time round the other one runs, and writes nothing (R11).
        await sb.trigger('nightly', 'cron');
        const again = eb.at(-1);
        expect(again?.event === 'run' && again.result).toMatchObject({
            status: 'succeeded',
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0
        });
        await Promise.all([sa.stop(), sb.stop()]);
    });

    it('a manual run while the scheduler runs the job: the later one is skipped', async () => {
        const events: SchedulerEvent[] = [];
        const s = scheduler(a, events);
        const [, manual] = await Promise.all([
            s.trigger('hourly', 'cron'),
            runJob('hourly', { ledger: b, org: client() })
        ]);
        // Both start at once: whichever takes the lock first runs, the other is
        // skipped (which one depends on how fast the ledger answers).
        const scheduled = events[0];
        expect(
            [
                scheduled.event === 'run' ? scheduled.result.status : 'none',
                manual.status
            ].sort()
        ).toEqual(['skipped', 'succeeded']);
        const skipped =
            manual.status === 'skipped'
                ? manual
                : scheduled.event === 'run'
                  ? scheduled.result
                  : undefined;
        expect(skipped?.message).toMatch(/holds the lock/);
        await s.stop();
    });

    // SQLite only: the lock holder is a child process on the ledger file.
    itSqlite(
        'another process holding the lock: skipped while it lives, taken over once it dies',
        async () => {
            const script = [
                "require('tsx/cjs');",
                `const { Ledger } = require(${JSON.stringify(join(ROOT, 'scripts/ledger/ledger.ts'))});`,
                'void (async () => {',
                '    const l = await Ledger.open(process.argv[1]);',
                "    const r = await l.acquireLock('job:hourly');",
                "    process.stdout.write(JSON.stringify({ acquired: r.acquired }) + '\\n');",
                '})();',
                'setInterval(() => undefined, 1000);'
            ].join('\n');
            const env = { ...process.env };
            delete env.NODE_OPTIONS;
            child = spawn(process.execPath, ['-e', script, path], {
                cwd: ROOT,
                env,
                stdio: ['ignore', 'pipe', 'inherit']
            });
            const line = await new Promise<string>((ok, fail) => {
                const rl = createInterface({ input: child?.stdout as never });
                rl.once('line', ok);
                child?.once('exit', (code) => fail(new Error(`exit ${code}`)));
            });
            expect(JSON.parse(line)).toEqual({ acquired: true });

            const events: SchedulerEvent[] = [];
            const s = scheduler(a, events);
            await s.trigger('hourly', 'cron');
            const skipped = events[0];
            expect(skipped.event === 'run' && skipped.result).toMatchObject({
                status: 'skipped',
                message: expect.stringContaining(`pid ${child.pid}`)
            });

            // The holder dies without releasing (a crash): its lock is taken over.
            const exited = new Promise((r) => child?.once('exit', r));
            child.kill('SIGKILL');
            await exited;
            await s.trigger('hourly', 'cron');
            const ran = events[1];
            expect(ran.event === 'run' && ran.result.status).toBe('succeeded');
            await s.stop();
        }
    );
});
