/**
 * `npm run reliability` options (the long matrix itself is not run here: see the fault,
 * crash and property tests for the short form of each part).
 */
import { UsageError, parseOptions } from '../run';

describe('npm run reliability options', () => {
    it('defaults to the long form: every part', () => {
        const o = parseOptions([]);
        expect([...o.only].sort()).toEqual([
            'crash',
            'faults',
            'postgres',
            'properties'
        ]);
        expect(o.pgTrials).toBeGreaterThan(1);
        expect(o.seeds).toBeGreaterThan(1);
        expect(o.crashTrials).toBeGreaterThan(1);
        expect(o.propertyRuns).toBeGreaterThan(10);
        expect(o.seed).toBe(0);
        expect(o.json).toBeUndefined();
    });

    it('reads counts, parts and the JSON file', () => {
        const o = parseOptions([
            '--seeds',
            '2',
            '--bulk-seeds',
            '0',
            '--crash-trials',
            '4',
            '--property-runs',
            '10',
            '--pg-trials',
            '3',
            '--seed',
            '1000',
            '--only',
            'crash, faults,postgres',
            '--json',
            'out.json'
        ]);
        expect(o).toMatchObject({
            seeds: 2,
            bulkSeeds: 0,
            crashTrials: 4,
            propertyRuns: 10,
            pgTrials: 3,
            seed: 1000,
            json: 'out.json'
        });
        expect([...o.only].sort()).toEqual(['crash', 'faults', 'postgres']);
    });

    it.each([
        [['--seeds=-1'], /--seeds must be a whole number, got '-1'/],
        [['--crash-trials', '2.5'], /--crash-trials must be a whole number/],
        [
            ['--only', 'faults,chaos'],
            /--only takes faults, crash, properties, postgres/
        ],
        [['--pg-trials', 'x'], /--pg-trials must be a whole number/],
        [['--fast'], /Unknown option '--fast'/],
        [['extra'], /positional/i]
    ])('refuses %j', (argv, message) => {
        expect(() => parseOptions(argv)).toThrow(UsageError);
        expect(() => parseOptions(argv)).toThrow(message);
    });
});
