/**
 * PostgreSQL restarted in the middle of push, hourly and nightly runs of the real CLI
 * (see pg-restart.ts), on a throwaway cluster of the test's own — never the shared test
 * server, whose other suites a restart would break: the runs that hit the drop end with
 * LEDGER_UNAVAILABLE, nothing is half-written, the next runs converge to the fault-free
 * state. Needs the tests' PostgreSQL (its server programs start the cluster): in CI
 * (OPTOUT_REQUIRE_PG=1) the suite fails without it, elsewhere it is skipped.
 * `npm run reliability -- --only postgres` runs more trials.
 */
import { postgresTestSetting } from '../../../ledger/__tests__/postgres-env';
import {
    restartBaseline,
    runOutcome,
    runRestartTrial,
    startOwnCluster
} from '../pg-restart';

const pg = postgresTestSetting();
if (pg.kind === 'skip') console.warn(`restart trials: ${pg.reason}`);

describe('how a run ended', () => {
    const result = (extra: Record<string, unknown>): string =>
        JSON.stringify({
            status: 0,
            result: {
                status: 'succeeded',
                failed: [],
                deferred: null,
                ...extra
            }
        });
    it.each([
        [0, result({}), 'clean'],
        [
            1,
            result({
                status: 'failed',
                error: { code: 'LEDGER_UNAVAILABLE', message: 'x' }
            }),
            'unavailable'
        ],
        [
            1,
            JSON.stringify({ status: 1, name: 'LEDGER_UNAVAILABLE' }),
            'unavailable'
        ],
        [
            1,
            result({ status: 'failed', error: { code: 'UNEXPECTED' } }),
            'other'
        ],
        [1, 'node:events:502 throw er; // Unhandled error event', 'other']
    ])('exit %i, %s: %s', (code, stdout, kind) => {
        expect(runOutcome(code, stdout).kind).toBe(kind);
    });
});

(pg.kind === 'skip' ? describe.skip : describe)(
    'PostgreSQL restarted mid-run (a cluster of the test own)',
    () => {
        it('every job hit once: LEDGER_UNAVAILABLE, then convergence; nothing lost or half-written', async () => {
            if (pg.kind === 'fail') throw new Error(pg.reason);
            const cluster = await startOwnCluster();
            try {
                const size = { contacts: 60 };
                const base = await restartBaseline(cluster, size);
                const r = await runRestartTrial({
                    cluster,
                    size,
                    seed: 2,
                    hit: ['push', 'hourly', 'nightly'],
                    baseline: base.snapshot,
                    requestsPerJob: base.requestsPerJob
                });
                expect(r.problems).toEqual([]);
                expect(r.lost).toBe(0);
                expect(r.restarts).toBe(3);
                // The drops did land inside runs.
                expect(r.hitRuns).toBeGreaterThan(0);
            } finally {
                await cluster.stop();
            }
        }, 240_000);
    }
);
