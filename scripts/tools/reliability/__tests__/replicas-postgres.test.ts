/**
 * Two `optout serve` replicas on one PostgreSQL ledger, one SIGKILLed in the middle of a
 * burst while a push of its own is in flight (see replicas.ts): every unsubscribe that
 * got a 200 reaches Salesforce exactly once — those the killed replica accepted and
 * never pushed included, taken by the survivor without a restart — and no file is
 * written in the replicas' working folders. Needs the tests' PostgreSQL server: in CI
 * (OPTOUT_REQUIRE_PG=1) the suite fails without it, elsewhere it is skipped.
 * `npm run reliability -- --only postgres` runs more trials.
 */
import {
    postgresTestSetting,
    postgresUrl
} from '../../../ledger/__tests__/postgres-env';
import { runReplicaTrial } from '../replicas';

const pg = postgresTestSetting();
if (pg.kind === 'skip') console.warn(`replica trials: ${pg.reason}`);

(pg.kind === 'skip' ? describe.skip : describe)(
    'two serve replicas on one PostgreSQL ledger, one killed mid-push',
    () => {
        it('nothing lost, nothing written twice, no file written', async () => {
            const r = await runReplicaTrial({
                pgUrl: postgresUrl(pg),
                seed: 2,
                burst: 60
            });
            expect(r.problems).toEqual([]);
            expect(r.lost).toBe(0);
            expect(r.writtenTwice).toBe(0);
            expect(r.accepted).toBe(60);
            // A had accepted some it never pushed: B took them over, running.
            expect(r.takenOverFromA).toBeGreaterThan(0);
        }, 180_000);
    }
);
