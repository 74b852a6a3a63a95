/**
 * Several schedulers on one ledger: only the leader fires the hourly, nightly and push
 * jobs; a follower polls for the lead and takes it within one poll once the leader is
 * gone (dead, or stopped and released); a leader that loses its lead stops firing at
 * once. Fake timers drive croner, the polls and the heartbeats; the jobs are fakes.
 * Last, two schedulers on the real PostgreSQL server with real (short) timers.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import {
    postgresTestSetting,
    postgresUrl
} from '../../ledger/__tests__/postgres-env';
import type { LogLevel } from '../../model/log';
import type { OrgClient } from '../../salesforce/client';
import type { JobName, JobResult } from '../../sync/result';
import { LockLeadership, PostgresLeadership, type Leadership } from '../leader';
import { checkConfig } from '../plan';
import {
    Scheduler,
    type LeadershipEvent,
    type SchedulerOptions
} from '../scheduler';
import { FakeLocks } from './fake-locks';

const POLL_MS = 15_000;
const HEARTBEAT_MS = 5_000;
const STALE_MS = 60_000;

function fakeResult(job: JobName): JobResult {
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
        status: 'succeeded'
    };
}

interface Instance {
    name: string;
    scheduler: Scheduler;
    /** "hourly", "nightly", "push" in the order this scheduler ran them. */
    runs: JobName[];
    events: LeadershipEvent[];
    logs: string[];
    /** Ledger reads of the push loop. */
    pendingReads: number;
}

/** A scheduler with fake jobs, one pending unsubscribe (so the leader pushes), UTC. */
function instance(
    name: string,
    leadership: Leadership | undefined,
    extra: Partial<SchedulerOptions> = {}
): Instance {
    const self: Instance = {
        name,
        runs: [],
        events: [],
        logs: [],
        pendingReads: 0,
        scheduler: undefined as unknown as Scheduler
    };
    const ledger = {
        countPushable: () => {
            self.pendingReads += 1;
            return 1;
        }
    } as unknown as SchedulerOptions['ledger'];
    self.scheduler = new Scheduler({
        ledger,
        org: { conn: {} } as unknown as OrgClient,
        config: checkConfig({ timezone: 'UTC', pushIntervalMs: 60_000 }),
        leadership,
        leaderPollMs: POLL_MS,
        runJob: async (job) => {
            self.runs.push(job);
            return fakeResult(job);
        },
        log: (level: LogLevel, message: string) =>
            self.logs.push(`${level} ${message}`),
        onLeadership: (e) => self.events.push(e),
        ...extra
    });
    return self;
}

const hourlyAndNightly = (runs: JobName[]): JobName[] =>
    runs.filter((j) => j !== 'push');

describe('Schedulers sharing one lock: only the leader fires', () => {
    let locks: FakeLocks;
    const started: Instance[] = [];

    beforeEach(() => {
        // 09:59 UTC: the hourly fires at 10:00, the nightly at 20:00.
        jest.useFakeTimers({ now: new Date('2026-01-01T09:59:00Z') });
        locks = new FakeLocks(() => Date.now(), STALE_MS);
    });
    afterEach(async () => {
        await Promise.all(started.splice(0).map((i) => i.scheduler.stop()));
        jest.useRealTimers();
    });

    function start(name: string): Instance {
        const i = instance(
            name,
            new LockLeadership(locks.functionsFor(name), {
                heartbeatMs: HEARTBEAT_MS
            })
        );
        i.scheduler.start();
        started.push(i);
        return i;
    }

    it('two schedulers: the first leads and runs every job; the other runs none and says why once', async () => {
        const a = start('A');
        await jest.advanceTimersByTimeAsync(0);
        const b = start('B');
        await jest.advanceTimersByTimeAsync(0);
        expect([a.scheduler.leader, b.scheduler.leader]).toEqual([true, false]);
        // Through the nightly at 20:00 and the next day's 10:00.
        await jest.advanceTimersByTimeAsync(25 * 3_600_000);
        expect(hourlyAndNightly(a.runs)).toEqual([
            ...Array<JobName>(11).fill('hourly'), // 10:00 … 20:00
            'nightly', // 20:00
            ...Array<JobName>(14).fill('hourly') // 21:00 … 10:00
        ]);
        expect(a.runs).toContain('push');
        expect(b.runs).toEqual([]);
        // The follower does not even read the ledger for its push loop.
        expect(b.pendingReads).toBe(0);
        expect(a.events.map((e) => e.event)).toEqual(['leader_gained']);
        expect(b.events).toEqual([]);
        expect(
            b.logs.filter((l) => l.includes('another scheduler leads ('))
        ).toEqual([
            `info leader: another scheduler leads (ledger lock optout:scheduler); this one stands by and tries again every 15s.`
        ]);
        // It kept trying all along: ~one attempt per poll.
        const attempts = locks.calls.filter((c) => c === 'acquire B').length;
        expect(attempts).toBeGreaterThanOrEqual((25 * 3600) / 15 - 1);
    });

    it('the leader dies: the other takes over within one poll and runs the next hourly', async () => {
        const a = start('A');
        await jest.advanceTimersByTimeAsync(0);
        const b = start('B');
        await jest.advanceTimersByTimeAsync(60_000); // 10:00: A runs the hourly
        expect(hourlyAndNightly(a.runs)).toEqual(['hourly']);

        // A's process is gone: its timers stop with it, its lock row stays.
        locks.kill('A');
        await a.scheduler.stop();
        started.splice(started.indexOf(a), 1);
        expect(locks.holderOf('optout:scheduler')).toBe('A');

        await jest.advanceTimersByTimeAsync(POLL_MS);
        expect(b.scheduler.leader).toBe(true);
        // The new leader pushes what is pending at once, not an interval later.
        await jest.advanceTimersByTimeAsync(1);
        expect(b.runs).toEqual(['push']);
        expect(b.events).toMatchObject([
            {
                event: 'leader_gained',
                leadership: 'ledger lock optout:scheduler'
            }
        ]);
        await jest.advanceTimersByTimeAsync(3_600_000); // 11:00
        expect(hourlyAndNightly(b.runs)).toEqual(['hourly']);
        expect(hourlyAndNightly(a.runs)).toEqual(['hourly']);
    });

    it('a leader that stops hands over on release: the other leads within one poll', async () => {
        const a = start('A');
        await jest.advanceTimersByTimeAsync(0);
        const b = start('B');
        await jest.advanceTimersByTimeAsync(0);
        await a.scheduler.stop();
        started.splice(started.indexOf(a), 1);
        expect(a.logs).toContain(
            'info leader: released the lead; another scheduler may take it.'
        );
        expect(locks.holderOf('optout:scheduler')).toBeUndefined();
        await jest.advanceTimersByTimeAsync(POLL_MS);
        expect(b.scheduler.leader).toBe(true);
        await jest.advanceTimersByTimeAsync(3_600_000);
        expect(hourlyAndNightly(b.runs)).toEqual(['hourly']);
        expect(hourlyAndNightly(a.runs)).toEqual([]);
    });

    it('a leader silent past the stale limit is taken over; once it wakes it learns it lost and fires nothing', async () => {
        const a = start('A');
        await jest.advanceTimersByTimeAsync(0);
        const b = start('B');
        await jest.advanceTimersByTimeAsync(2 * 60_000); // 10:01, A ran the hourly
        expect(hourlyAndNightly(a.runs)).toEqual(['hourly']);
        locks.freeze('A'); // its heartbeats hang
        await jest.advanceTimersByTimeAsync(STALE_MS);
        expect(b.scheduler.leader).toBe(false); // not stale yet
        await jest.advanceTimersByTimeAsync(HEARTBEAT_MS + POLL_MS);
        expect(b.scheduler.leader).toBe(true);
        expect(a.scheduler.leader).toBe(true); // it does not know yet
        locks.unfreeze('A');
        await jest.advanceTimersByTimeAsync(0);
        expect(a.scheduler.leader).toBe(false);
        expect(a.events.map((e) => [e.event, e.reason])).toEqual([
            ['leader_gained', undefined],
            ['leader_lost', 'another scheduler took the lock over']
        ]);
        expect(a.logs).toContain(
            'warn leader: lost the lead (another scheduler took the lock over); no job fires here until this scheduler leads again.'
        );
        // 11:00: B runs it, A nothing more.
        await jest.advanceTimersByTimeAsync(3_600_000);
        expect(hourlyAndNightly(a.runs)).toEqual(['hourly']);
        expect(hourlyAndNightly(b.runs)).toEqual(['hourly']);
    });

    it('a lock that cannot be reached: warned once, no job meanwhile, leads once it answers', async () => {
        let down = true;
        const real = locks.functionsFor('A');
        const a = instance(
            'A',
            new LockLeadership(
                {
                    ...real,
                    acquire: async (name) => {
                        if (down) throw new Error('connection refused');
                        return real.acquire(name);
                    }
                },
                { heartbeatMs: HEARTBEAT_MS }
            )
        );
        a.scheduler.start();
        started.push(a);
        await jest.advanceTimersByTimeAsync(2 * 3_600_000);
        expect(a.runs).toEqual([]);
        expect(a.logs.filter((l) => l.startsWith('warn leader:'))).toEqual([
            "warn leader: Cannot take the scheduler's lead (ledger lock optout:scheduler): connection refused (tries again every 15s; no job runs here meanwhile)"
        ]);
        down = false;
        await jest.advanceTimersByTimeAsync(POLL_MS);
        expect(a.scheduler.leader).toBe(true);
        await jest.advanceTimersByTimeAsync(3_600_000);
        expect(hourlyAndNightly(a.runs)).toEqual(['hourly']);
    });

    it('without a Leadership a scheduler always leads (one scheduler, as before)', async () => {
        const solo = instance('solo', undefined);
        solo.scheduler.start();
        started.push(solo);
        expect(solo.scheduler.leader).toBe(true);
        await jest.advanceTimersByTimeAsync(60_000);
        expect(hourlyAndNightly(solo.runs)).toEqual(['hourly']);
        expect(solo.logs.filter((l) => l.includes('leader'))).toEqual([]);
    });
});

const pg = postgresTestSetting();
const NAME = 'Schedulers on the tests’ PostgreSQL server';
if (pg.kind === 'skip') console.warn(`${NAME}: ${pg.reason}`);

(pg.kind === 'skip' ? describe.skip : describe)(NAME, () => {
    /** Resolves with the first scheduler whose event matches, or fails after a generous wait. */
    function waitFor(
        instances: Instance[],
        event: LeadershipEvent['event'],
        waitMs = 20_000
    ): Promise<Instance> {
        return new Promise((resolve, reject) => {
            const deadline = Date.now() + waitMs;
            const seen = instances.map((i) => i.events.length);
            const check = (): void => {
                const hit = instances.find((i, n) =>
                    i.events.slice(seen[n]).some((e) => e.event === event)
                );
                if (hit) resolve(hit);
                else if (Date.now() > deadline)
                    reject(new Error(`no ${event} within ${waitMs} ms`));
                else setTimeout(check, 20);
            };
            check();
        });
    }

    it('two schedulers: one leads; its session killed, the other leads and the first stands by', async () => {
        const url = postgresUrl(pg);
        const name = `optout:test:${randomUUID()}`;
        const leaderships = [0, 1].map(
            () => new PostgresLeadership(url, { name, checkIntervalMs: 60_000 })
        );
        const [a, b] = leaderships.map((l, n) =>
            instance(n === 0 ? 'A' : 'B', l, { leaderPollMs: 100 })
        );
        const admin = new Client({ connectionString: url });
        await admin.connect();
        try {
            a.scheduler.start();
            b.scheduler.start();
            const first = await waitFor([a, b], 'leader_gained');
            const other = first === a ? b : a;
            const [lFirst] = first === a ? leaderships : [leaderships[1]];
            // Several polls later, still one leader.
            await new Promise((r) => setTimeout(r, 500));
            expect([a, b].filter((i) => i.scheduler.leader)).toEqual([first]);
            expect(other.events).toEqual([]);

            const pid = await lFirst.backendPid();
            const lost = waitFor([first], 'leader_lost');
            const gained = waitFor([other], 'leader_gained');
            await admin.query('SELECT pg_terminate_backend($1)', [pid]);
            await lost;
            await gained;
            expect(first.scheduler.leader).toBe(false);
            expect(other.scheduler.leader).toBe(true);
            await new Promise((r) => setTimeout(r, 500));
            expect(first.scheduler.leader).toBe(false);
        } finally {
            await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
            await admin.end();
        }
    });
});
