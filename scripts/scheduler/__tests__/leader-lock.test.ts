/**
 * LockLeadership (the ledger's named lock, for a SQLite ledger): one leader among
 * several, the lead handed over on release, taken over from a dead holder at once and
 * from a silent one once its heartbeat is stale (by an injected clock), and lost by a
 * leader whose heartbeat fails. Then the adapter on a real SQLite ledger file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { OptoutError } from '../../model/errors';
import {
    LEADER_LOCK_NAME,
    LockLeadership,
    PostgresLeadership,
    leadershipFor,
    ledgerLockFunctions
} from '../leader';
import { FakeLocks } from './fake-locks';

const HEARTBEAT_MS = 1000;
const STALE_MS = 5000;

describe('LockLeadership (in-memory locks, fake clock)', () => {
    let locks: FakeLocks;
    beforeEach(() => {
        jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
        locks = new FakeLocks(() => Date.now(), STALE_MS);
    });
    afterEach(() => {
        jest.useRealTimers();
    });

    const leadership = (holder: string): LockLeadership =>
        new LockLeadership(locks.functionsFor(holder), {
            heartbeatMs: HEARTBEAT_MS
        });

    it('exactly one of several leads; acquiring again while leading is a no-op', async () => {
        const [a, b, c] = ['A', 'B', 'C'].map(leadership);
        expect(await a.acquire()).toBe(true);
        expect(await b.acquire()).toBe(false);
        expect(await c.acquire()).toBe(false);
        expect([a, b, c].map((l) => l.isLeader())).toEqual([
            true,
            false,
            false
        ]);
        expect(await a.acquire()).toBe(true);
        expect(locks.holderOf(LEADER_LOCK_NAME)).toBe('A');
        await a.release();
        await b.release();
        await c.release();
    });

    it('release hands the lead over, and is not reported as a loss', async () => {
        const a = leadership('A');
        const b = leadership('B');
        const lost = jest.fn();
        a.onLost(lost);
        await a.acquire();
        expect(await b.acquire()).toBe(false);
        await a.release();
        expect(a.isLeader()).toBe(false);
        expect(locks.holderOf(LEADER_LOCK_NAME)).toBeUndefined();
        expect(await b.acquire()).toBe(true);
        // The released one no longer beats (its timer is gone).
        locks.calls.length = 0;
        await jest.advanceTimersByTimeAsync(HEARTBEAT_MS * 3);
        expect(locks.calls).toEqual([
            'heartbeat B',
            'heartbeat B',
            'heartbeat B'
        ]);
        expect(lost).not.toHaveBeenCalled();
        await b.release();
    });

    it('the leader keeps its lead by its heartbeat, however long it leads', async () => {
        const a = leadership('A');
        const b = leadership('B');
        await a.acquire();
        for (let i = 0; i < 5; i += 1) {
            await jest.advanceTimersByTimeAsync(STALE_MS);
            expect(await b.acquire()).toBe(false);
        }
        expect(a.isLeader()).toBe(true);
        await a.release();
    });

    it('a dead leader is taken over at once', async () => {
        const a = leadership('A');
        const b = leadership('B');
        await a.acquire();
        locks.kill('A');
        expect(await b.acquire()).toBe(true);
        expect(locks.holderOf(LEADER_LOCK_NAME)).toBe('B');
        await b.release();
    });

    it('a silent leader is taken over once stale, and learns at its next heartbeat that it lost the lead', async () => {
        const a = leadership('A');
        const b = leadership('B');
        const lost: string[] = [];
        a.onLost((reason) => lost.push(reason));
        await a.acquire();
        // A stops answering (stopped process, cut off): its heartbeat hangs.
        locks.freeze('A');
        await jest.advanceTimersByTimeAsync(STALE_MS - HEARTBEAT_MS);
        expect(await b.acquire()).toBe(false); // not stale yet
        await jest.advanceTimersByTimeAsync(HEARTBEAT_MS * 2);
        expect(await b.acquire()).toBe(true);
        expect(a.isLeader()).toBe(true); // it does not know yet
        locks.unfreeze('A');
        await jest.advanceTimersByTimeAsync(0);
        expect(a.isLeader()).toBe(false);
        expect(lost).toEqual(['another scheduler took the lock over']);
        // It comes back as a follower; the lock stays B's.
        expect(await a.acquire()).toBe(false);
        expect(locks.holderOf(LEADER_LOCK_NAME)).toBe('B');
        await b.release();
    });

    it('a heartbeat that fails ends the lead once; the lead can be taken again after', async () => {
        const failing = locks.functionsFor('A');
        let fail = false;
        const a = new LockLeadership(
            {
                ...failing,
                heartbeat: async (name, holder) => {
                    if (fail) throw new Error('database is locked');
                    return failing.heartbeat(name, holder);
                }
            },
            { heartbeatMs: HEARTBEAT_MS }
        );
        const lost = jest.fn();
        a.onLost(lost);
        await a.acquire();
        fail = true;
        await jest.advanceTimersByTimeAsync(HEARTBEAT_MS * 3);
        expect(lost).toHaveBeenCalledTimes(1);
        expect(lost).toHaveBeenCalledWith(
            'the heartbeat failed: database is locked'
        );
        expect(a.isLeader()).toBe(false);
        // Its row is still there under its own holder id: it refreshes it at once.
        fail = false;
        expect(await a.acquire()).toBe(true);
        await a.release();
    });

    it('onLost returns an unsubscribe', async () => {
        const a = leadership('A');
        const lost = jest.fn();
        const off = a.onLost(lost);
        off();
        await a.acquire();
        locks.kill('A');
        await jest.advanceTimersByTimeAsync(HEARTBEAT_MS);
        expect(a.isLeader()).toBe(false);
        expect(lost).not.toHaveBeenCalled();
    });

    it('a lock that cannot be read is a clear error, not a false "someone else leads"', async () => {
        const a = new LockLeadership({
            ...locks.functionsFor('A'),
            acquire: async () => {
                throw new Error('SQLITE_CANTOPEN');
            }
        });
        const err = await a.acquire().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OptoutError);
        expect(err).toMatchObject({
            code: 'LEADER_LOCK_FAILED',
            message: expect.stringContaining('SQLITE_CANTOPEN'),
            actions: [expect.stringMatching(/keeps trying/)]
        });
    });
});

describe('leadershipFor', () => {
    const locks = new FakeLocks(() => 0, STALE_MS).functionsFor('A');

    it('takes a PostgreSQL advisory lock for a PostgreSQL ledger (opening nothing yet)', () => {
        const l = leadershipFor(
            { kind: 'postgres', url: 'postgres://u:secret@db.example:5432/x' },
            { locks }
        );
        expect(l).toBeInstanceOf(PostgresLeadership);
        expect(l.description).toBe(
            'PostgreSQL advisory lock optout:scheduler on postgres://u:***@db.example:5432/x'
        );
        expect(l.isLeader()).toBe(false);
    });

    it("takes the ledger's own lock for a SQLite ledger", async () => {
        const l = leadershipFor(
            { kind: 'sqlite', path: '/tmp/ledger.db' },
            { locks }
        );
        expect(l).toBeInstanceOf(LockLeadership);
        expect(l.description).toBe('ledger lock optout:scheduler');
        expect(await l.acquire()).toBe(true);
        await l.release();
    });
});

describe('ledgerLockFunctions on a SQLite ledger file', () => {
    let dir: string;
    let a: Ledger;
    let b: Ledger;
    beforeEach(async () => {
        dir = mkdtempSync(join(tmpdir(), 'optout-leader-'));
        const path = join(dir, 'ledger.db');
        // Awaited: the same lines hold once the Ledger's API is async.
        a = await Ledger.open(path);
        b = await Ledger.open(path);
    });
    afterEach(async () => {
        await a.close();
        await b.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('two schedulers on one file: one leads; release hands over; the holder id is kept', async () => {
        const la = new LockLeadership(ledgerLockFunctions(a), {
            heartbeatMs: 60_000
        });
        const lb = new LockLeadership(
            ledgerLockFunctions(b, { staleAfterMs: 60_000 }),
            { heartbeatMs: 60_000 }
        );
        expect(await la.acquire()).toBe(true);
        expect(await lb.acquire()).toBe(false);
        const row = await b.getLock(LEADER_LOCK_NAME);
        expect(row?.pid).toBe(process.pid);
        await la.release();
        expect(await b.getLock(LEADER_LOCK_NAME)).toBeUndefined();
        expect(await lb.acquire()).toBe(true);
        // A holder id is kept for life: acquiring again refreshes, never stalls on itself.
        const holder = (await b.getLock(LEADER_LOCK_NAME))?.holder;
        const again = ledgerLockFunctions(b, { holder });
        expect(await again.acquire(LEADER_LOCK_NAME)).toMatchObject({
            acquired: true,
            holder
        });
        expect(await again.heartbeat(LEADER_LOCK_NAME, 'not-the-holder')).toBe(
            false
        );
        await lb.release();
    });

    it('leadershipFor takes the ledger itself for a SQLite ledger', async () => {
        const location = { kind: 'sqlite', path: 'ledger.db' } as const;
        const la = leadershipFor(location, { locks: a, staleAfterMs: 30_000 });
        const lb = leadershipFor(location, { locks: b });
        expect(await la.acquire()).toBe(true);
        expect(await lb.acquire()).toBe(false);
        expect((await b.getLock(LEADER_LOCK_NAME))?.holder).toMatch(
            new RegExp(`^${hostname()}:${process.pid}:`)
        );
        await la.release();
        expect(await lb.acquire()).toBe(true);
        await lb.release();
    });

    it('a leader whose process died on this host is taken over at once', async () => {
        // A lock row left by a process that is gone (no pid that high is alive).
        const deadPid = 4_000_000;
        const held = await a.acquireLock(LEADER_LOCK_NAME, {
            holder: `${hostname()}:${deadPid}:gone`,
            pid: deadPid
        });
        expect(held.acquired).toBe(true);
        const log = jest.fn();
        const lb = new LockLeadership(ledgerLockFunctions(b), {
            heartbeatMs: 60_000,
            log
        });
        expect(await lb.acquire()).toBe(true);
        expect(log).toHaveBeenCalledWith(
            'info',
            expect.stringContaining(
                `took over the lead from ${hostname()}:${deadPid}:gone`
            )
        );
        expect((await a.getLock(LEADER_LOCK_NAME))?.pid).toBe(process.pid);
        await lb.release();
    });
});
