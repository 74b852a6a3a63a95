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
        expect(run.measurements).toHaveLength(16);
        expect(smokeProblems(run.measurements)).toEqual([]);
    });

    it('does the work the data set calls for and nothing twice (R3, R11)', () => {
        const e = run.datasets['10000'].expected;
        const cold = get('nightly-cold', 'sync');
        expect(cold.recordsWritten).toBe(e.nightlyWrites);
        expect(cold.ledgerUnsubscribesAdded).toBe(e.nightlyLedgerAdds);
        for (const job of ['nightly-next', 'nightly-again', 'nightly-full'])
            expect(get(job, 'sync').recordsWritten).toBe(0);
        // R16: the night after re-reads what the cold run wrote; the quiet night reads
        // what changed since (nothing); --full reads every record.
        expect(get('nightly-next', 'sync').reconciliation?.mode).toBe(
            'incremental'
        );
        expect(
            get('nightly-next', 'sync').reconciliation?.recordsRead
        ).toBeGreaterThanOrEqual(e.nightlyWrites);
        expect(get('nightly-again', 'sync').reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 0
        });
        expect(get('nightly-full', 'sync').reconciliation).toMatchObject({
            mode: 'full',
            recordsRead: e.salesforceRecords
        });
        expect(get('hourly-first', 'sync').membershipsUpserted).toBe(
            e.hourlyUpserts
        );
        expect(get('hourly', 'sync').membershipsUpserted).toBe(
            e.hourlyWarm?.upserts
        );
        expect(get('hourly-100', 'sync').membershipsUpserted).toBe(
            e.hourly100?.upserts
        );
        const burst = get('push-burst', 'sync');
        expect(burst.unsubscribesDelivered).toBe(1000);
        expect(burst.recordsWritten).toBe(e.pushWrites);
    });

    it('costs many times fewer requests than one request per record', () => {
        for (const job of [
            'nightly-cold',
            'hourly-first',
            'hourly',
            'hourly-100',
            'push-burst'
        ]) {
            const sync = get(job, 'sync');
            const naive = get(job, 'naive');
            expect(naive.apiRequests / sync.apiRequests).toBeGreaterThan(10);
        }
        // 1,000 unsubscribes in a burst: a handful of requests per push (R2).
        const burst = get('push-burst', 'sync');
        expect(burst.apiRequests).toBeLessThanOrEqual(8 * (burst.pushes ?? 0));
    });
});
