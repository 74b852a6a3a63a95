/**
 * Crash trials, short form: the real CLI in a child process, SIGKILLed at random points
 * (seeded) during push, hourly and nightly, restarted until each finishes; see crash.ts
 * for the checks. `npm run reliability` runs many more trials.
 */
import { runCrashTrial } from '../crash';

describe('SIGKILL at random points: restart converges, nothing lost, the ledger is sound', () => {
    it('a trial with a kill in every job', async () => {
        const r = await runCrashTrial({
            size: { contacts: 60 },
            seed: 3,
            killsPerJob: 1
        });
        expect(r.problems).toEqual([]);
        expect(r.lost).toBe(0);
        expect(r.kills).toBeGreaterThanOrEqual(1);
    }, 180_000);
});
