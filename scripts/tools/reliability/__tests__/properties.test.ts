/**
 * Random histories (fast-check): see properties.ts for the invariants. A few cases here
 * (a fixed seed, so a failure reproduces); `npm run reliability` runs many more.
 */
import fc from 'fast-check';
import { caseArb, runCase } from '../properties';

const RUNS = Number(process.env.OPTOUT_PROPERTY_RUNS ?? 6);
const SEED = Number(process.env.OPTOUT_PROPERTY_SEED ?? 20260105);

describe('random histories of unsubscribes, user edits and faulty runs', () => {
    it('never re-subscribe, never lose an unsubscribe, converge to an idle state', async () => {
        await fc.assert(
            fc.asyncProperty(
                caseArb(14),
                fc.integer({ min: 1, max: 1e6 }),
                async (kase, seed) => {
                    const problems = await runCase(kase, seed);
                    expect(problems).toEqual([]);
                }
            ),
            { numRuns: RUNS, seed: SEED, endOnFailure: true }
        );
    }, 240_000);
});
