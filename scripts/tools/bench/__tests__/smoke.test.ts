/**
 * The benchmark's CI smoke run (what `npm run bench:smoke` does, without the
 * Collections-only baseline, which at 10,000 persons takes the same path as the sync):
 * 10,000 persons, no latency, the per-record baseline on a sample. It checks the counts
 * the design implies — never a wall time.
 */
import { parseArgs } from '../args';
import { runBench, smokeProblems } from '../run';
import type { RunFile } from '../report';

jest.setTimeout(10 * 60_000);

describe('benchmark smoke run (10,000 persons)', () => {
    let run: RunFile;

    beforeAll(async () => {
        run = await runBench(
            parseArgs([
                '--smoke',
                '--variants',
                'sync,naive',
                '--naive-sample',
                '100'
            ]),
            'jest smoke'
        );
    });

    const get = (job: string, variant: string) => {
        const m = run.measurements.find(
            (x) => x.job === job && x.variant === variant
        );
        if (!m) throw new Error(`no ${variant} ${job} measurement`);
        return m;
    };

    it('measures every job both ways, within the design bounds', () => {
        expect(run.measurements).toHaveLength(8);
        expect(smokeProblems(run.measurements)).toEqual([]);
    });

    it('does the work the data set calls for and nothing twice (R3, R11)', () => {
        const e = run.datasets['10000'].expected;
        const cold = get('nightly-cold', 'sync');
        expect(cold.recordsWritten).toBe(e.nightlyWrites);
        expect(cold.ledgerUnsubscribesAdded).toBe(e.nightlyLedgerAdds);
        expect(get('nightly-again', 'sync').recordsWritten).toBe(0);
        expect(get('hourly', 'sync').membershipsUpserted).toBe(e.hourlyUpserts);
        const burst = get('push-burst', 'sync');
        expect(burst.unsubscribesDelivered).toBe(1000);
        expect(burst.recordsWritten).toBe(e.pushWrites);
    });

    it('costs many times fewer requests than one request per record', () => {
        for (const job of ['nightly-cold', 'hourly', 'push-burst']) {
            const sync = get(job, 'sync');
            const naive = get(job, 'naive');
            expect(naive.apiRequests / sync.apiRequests).toBeGreaterThan(10);
        }
        // 1,000 unsubscribes in a burst: a handful of requests per push (R2).
        const burst = get('push-burst', 'sync');
        expect(burst.apiRequests).toBeLessThanOrEqual(8 * (burst.pushes ?? 0));
    });
});
