/**
 * The push loop's coalescing, single flight, retries with back-off and shutdown, with a
 * fake push (no org) and real timers on short delays.
 */
import { PushService, type PushServiceOptions } from '../push-service';
import type { JobResult } from '../result';

function result(delivered: number, status = 'succeeded'): JobResult {
    return {
        job: 'push',
        runId: 'r',
        dryRun: false,
        targetOrg: 'local',
        startedAt: new Date().toISOString(),
        durationMs: 1,
        apiRequests: 2,
        apiUsage: null,
        recordsWritten: delivered,
        ledgerUnsubscribesAdded: 0,
        membershipsUpserted: 0,
        unsubscribesDelivered: delivered,
        skipped: {},
        failed: [],
        retried: { requests: 0, records: 0 },
        deferred: null,
        status: status as JobResult['status']
    };
}

const sleep = (ms: number): Promise<void> =>
    new Promise((r) => setTimeout(r, ms));

/** A fake org: delivers what it is given unless told to fail; counts concurrency. */
function fakePush(options: { failTimes?: number; holdMs?: number } = {}): {
    pending: Set<number>;
    calls: number[][];
    maxConcurrent: () => number;
    opts: Pick<PushServiceOptions, 'push' | 'isPending' | 'countPending'>;
} {
    const pending = new Set<number>();
    const calls: number[][] = [];
    let running = 0;
    let max = 0;
    let fails = options.failTimes ?? 0;
    return {
        pending,
        calls,
        maxConcurrent: () => max,
        opts: {
            isPending: (id) => Promise.resolve(pending.has(id)),
            countPending: () => Promise.resolve(pending.size),
            // A sweep (no ids) pushes every pending one.
            push: async (asked) => {
                const ids = asked ?? [...pending];
                calls.push([...ids]);
                running += 1;
                max = Math.max(max, running);
                try {
                    await sleep(options.holdMs ?? 5);
                    if (fails > 0) {
                        fails -= 1;
                        throw new Error('503 Service Unavailable');
                    }
                    for (const id of ids) pending.delete(id);
                    return result(ids.length);
                } finally {
                    running -= 1;
                }
            }
        }
    };
}

function add(p: Set<number>, from: number, n: number): number[] {
    const ids = Array.from({ length: n }, (_, i) => from + i);
    for (const id of ids) p.add(id);
    return ids;
}

describe('PushService', () => {
    it('coalesces arrivals within the delay into one push', async () => {
        const f = fakePush();
        const loop = new PushService({ ...f.opts, maxDelayMs: 500 });
        for (let i = 0; i < 10; i++) {
            await loop.enqueue(add(f.pending, i * 3, 3));
            await sleep(2);
        }
        await loop.idle();
        expect(f.calls).toHaveLength(1);
        expect(f.calls[0]).toHaveLength(30);
        expect(f.pending.size).toBe(0);
        expect(loop.stats).toMatchObject({ runs: 1, delivered: 30, queued: 0 });
        await loop.close();
    });

    it('starts at once when maxBatch wait, and never runs two pushes at once', async () => {
        const f = fakePush({ holdMs: 30 });
        const loop = new PushService({
            ...f.opts,
            // Were it waiting for the delay, the test would time out.
            maxDelayMs: 3_600_000,
            maxBatch: 50
        });
        await loop.enqueue(add(f.pending, 0, 50));
        // While the first push runs, more arrive: they wait for the next one.
        await sleep(5);
        await loop.enqueue(add(f.pending, 50, 60));
        await loop.idle();
        expect(f.calls.map((c) => c.length)).toEqual([50, 60]);
        expect(f.maxConcurrent()).toBe(1);
        await loop.close();
    });

    it('retries a failed push with back-off, then delivers', async () => {
        const f = fakePush({ failTimes: 2 });
        const warnings: string[] = [];
        const loop = new PushService({
            ...f.opts,
            maxDelayMs: 1,
            backoff: { initialMs: 20, maxMs: 40 },
            log: (_l, m) => warnings.push(m)
        });
        await loop.enqueue(add(f.pending, 0, 5));
        await loop.idle();
        expect(f.calls).toHaveLength(3);
        expect(f.pending.size).toBe(0);
        expect(loop.stats).toMatchObject({ runs: 3, failedRuns: 2 });
        expect(warnings[0]).toMatch(
            /5 of 5 unsubscribe\(s\) still pending \(503 Service Unavailable\); retrying in/
        );
        await loop.close();
    });

    it('leaves an unsubscribe to the scheduler after maxAttempts', async () => {
        const f = fakePush({ failTimes: 100 });
        const warnings: string[] = [];
        const loop = new PushService({
            ...f.opts,
            maxDelayMs: 1,
            maxAttempts: 3,
            backoff: { initialMs: 1, maxMs: 2 },
            log: (_l, m) => warnings.push(m)
        });
        await loop.enqueue(add(f.pending, 0, 2));
        await loop.idle();
        expect(f.calls).toHaveLength(3);
        expect(loop.stats.givenUp).toBe(2);
        expect(f.pending.size).toBe(2); // still pending in the ledger: nothing lost
        expect(warnings.at(-1)).toMatch(/left to the scheduler/);
        await loop.close();
    });

    it('on close, finishes the push in flight and pushes what is queued once', async () => {
        const f = fakePush({ holdMs: 30 });
        const loop = new PushService({
            ...f.opts,
            maxDelayMs: 1,
            maxBatch: 10
        });
        await loop.enqueue(add(f.pending, 0, 10));
        await sleep(5); // the first push is in flight
        await loop.enqueue(add(f.pending, 10, 3)); // queued behind it
        await loop.close({ flush: true });
        expect(f.calls.map((c) => c.length)).toEqual([10, 3]);
        expect(f.pending.size).toBe(0);
        await loop.enqueue(add(f.pending, 20, 1)); // closed: ignored
        await sleep(10);
        expect(f.calls).toHaveLength(2);
    });

    it('one path for the three callers: a sweep waits for the arrivals in flight and takes what is left, the arrivals it delivered are not pushed again', async () => {
        const f = fakePush({ holdMs: 30 });
        const runs: string[] = [];
        const service = new PushService({
            ...f.opts,
            maxDelayMs: 1,
            maxBatch: 5,
            sweepIntervalMs: 1000,
            onRun: (r) => runs.push(`${r.kind}:${r.ids}:${r.stillPending}`)
        });
        await service.enqueue(add(f.pending, 0, 5)); // pushed at once (maxBatch)
        await sleep(5);
        // A record the webhook did not see (another replica, the CLI without org).
        add(f.pending, 100, 2);
        const sweeping = service.sweep();
        await service.enqueue(add(f.pending, 5, 1)); // queued behind both
        expect(await sweeping).toBe(1000);
        await service.idle();
        expect(f.maxConcurrent()).toBe(1);
        // The sweep took the queued arrival with the other two: nothing left for a
        // third push, which would have cost requests for nothing.
        expect(f.calls.map((c) => c.length)).toEqual([5, 3]);
        expect(runs).toEqual(['arrivals:5:0', 'sweep:3:0']);
        expect(f.pending.size).toBe(0);
        await service.close();
    });

    it('a sweep with nothing pending makes no run; while nothing gets delivered its wait doubles up to the cap', async () => {
        const f = fakePush({ failTimes: 100 });
        const service = new PushService({
            ...f.opts,
            sweepIntervalMs: 100,
            sweepMaxBackoffMs: 400,
            log: () => undefined
        });
        expect(await service.sweep()).toBe(100);
        expect(f.calls).toHaveLength(0);
        add(f.pending, 0, 2);
        expect(await service.sweep()).toBe(100); // new arrivals: the interval
        expect(await service.sweep()).toBe(200);
        expect(await service.sweep()).toBe(400);
        expect(await service.sweep()).toBe(400); // capped
        expect(service.stats).toMatchObject({ runs: 4, failedRuns: 4 });
        await service.close();
    });

    it('pushNow pushes what it is given at once (even one the ledger says waits) and returns the result, or throws what the push threw', async () => {
        const f = fakePush();
        const service = new PushService({ ...f.opts, maxDelayMs: 3_600_000 });
        // Not pending in the ledger's eyes (waiting for a record): asked for, so pushed.
        const r = await service.pushNow([42]);
        expect(f.calls).toEqual([[42]]);
        expect(r.unsubscribesDelivered).toBe(1);
        const failing = fakePush({ failTimes: 1 });
        const s2 = new PushService({ ...failing.opts });
        add(failing.pending, 0, 1);
        await expect(s2.pushNow([0])).rejects.toThrow(/503/);
        // Not queued again: what the CLI leaves undelivered is the sweep's.
        expect(s2.stats).toMatchObject({ queued: 0, runs: 1, failedRuns: 1 });
        await service.close();
        await s2.close();
        await expect(s2.pushNow([0])).rejects.toThrow(/stopped/);
    });
});
