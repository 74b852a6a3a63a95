/**
 * The fault matrix, short form (`npm run reliability` runs the long one): every fault
 * kind on the Collections-sized data set, and the Bulk-specific ones on a data set that
 * goes through Bulk API 2.0 (reads and writes). See matrix.ts for what each trial checks.
 */
import type { Snapshot } from '../checks';
import {
    SCENARIOS,
    baselineSnapshot,
    runTrial,
    type TrialOptions
} from '../matrix';

const SMALL: Pick<TrialOptions, 'size' | 'client'> = {
    size: { contacts: 120 }
};
/**
 * Bulk writes above 40 records; with REST pages of 200, reading 1,700 Contacts is
 * cheaper through a Bulk query (two result pages of 1,000).
 */
const BULK: Pick<TrialOptions, 'size' | 'client'> = {
    size: { contacts: 1700 },
    client: { bulkThreshold: 40, restPageSize: 200, bulkQueryPageSize: 1000 }
};
const bulkOnly = (name: string): boolean => /bulk/i.test(name);
const BULK_SCENARIOS = ['bulk job fails', 'drop after bulk close', 'mixed'];

describe('fault matrix (short): the final state equals the fault-free run’s, nothing lost or counted twice', () => {
    describe('sObject Collections and REST reads', () => {
        let baseline: Snapshot;
        beforeAll(async () => {
            baseline = await baselineSnapshot(SMALL);
        });
        it.each(
            SCENARIOS.filter((s) => !bulkOnly(s.name)).map(
                (s) => [s.name, s] as const
            )
        )('%s', async (_name, scenario) => {
            const r = await runTrial(scenario, {
                ...SMALL,
                seed: 11,
                baseline
            });
            expect(r.problems).toEqual([]);
            expect(r.lost).toBe(0);
            // Faults given as "the next N requests" always fire.
            expect(r.faultsInjected > 0 || !/next=/.test(scenario.spec)).toBe(
                true
            );
        });
    });

    describe('Bulk API 2.0 reads and writes', () => {
        let baseline: Snapshot;
        beforeAll(async () => {
            baseline = await baselineSnapshot(BULK);
        }, 120_000);
        it.each(
            SCENARIOS.filter((s) => BULK_SCENARIOS.includes(s.name)).map(
                (s) => [s.name, s] as const
            )
        )(
            '%s',
            async (_name, scenario) => {
                const r = await runTrial(scenario, {
                    ...BULK,
                    seed: 12,
                    baseline
                });
                expect(r.problems).toEqual([]);
                expect(r.lost).toBe(0);
                expect(r.faultsInjected).toBeGreaterThan(0);
                // The Bulk paths really ran.
                expect(r.modes).toEqual(
                    expect.arrayContaining([
                        'read Contact: bulk',
                        'write Contact: bulk',
                        'write memberships: bulk'
                    ])
                );
            },
            120_000
        );
    });
});
