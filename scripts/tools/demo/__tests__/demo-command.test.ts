/**
 * The CLI contract of `optout demo` (npm start): arguments, and the real entry point in
 * a fresh folder — the embedded local org on .optout/local-org.db, the JSON summary, a
 * clear refusal when the data was made with another size, and `--reset`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, spawnCli } from '../../../webhook/__tests__/cli';

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'optout-demo-cli-'));
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

describe('optout demo: arguments', () => {
    it.each([
        [
            ['demo', '--size', 'huge'],
            /--size must be full or small, not 'huge'/
        ],
        [['demo', '--seed', '-1'], /--seed must be a whole number/],
        [['demo', '--seed', 'abc'], /--seed must be a whole number/]
    ])('%p exits 2: %p', async (args, message) => {
        const r = await cli(...args, '--ledger', join(dir, 'ledger.db'));
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(existsSync(join(dir, 'ledger.db'))).toBe(false);
    });
});

describe('optout demo: the real entry point', () => {
    it('runs in a fresh folder on the embedded org, refuses other-size data clearly, and starts over with --reset', async () => {
        const first = spawnCli(dir, ['--json', 'demo', '--size', 'small']);
        expect(await first.exited).toBe(0);
        const envelope = JSON.parse(first.stdout()) as Record<string, unknown>;
        expect(envelope).toMatchObject({ status: 0, warnings: [] });
        expect(envelope.result).toMatchObject({
            status: 'ok',
            seeded: true,
            size: 'small',
            ledger: join(dir, '.optout', 'ledger.db'),
            org: { dbPath: join(dir, '.optout', 'local-org.db') }
        });
        expect(first.stderr()).toBe(''); // quiet when piped
        expect(existsSync(join(dir, '.optout', 'local-org.db'))).toBe(true);

        const other = spawnCli(dir, ['--json', 'demo', '--size', 'full']);
        expect(await other.exited).toBe(1);
        expect(JSON.parse(other.stdout())).toMatchObject({
            status: 1,
            name: 'DEMO_DATA_CHANGED',
            actions: [
                expect.stringMatching(/--reset/),
                expect.stringMatching(/--size small --seed 42/)
            ]
        });

        const again = spawnCli(dir, [
            '--json',
            'demo',
            '--size',
            'small',
            '--seed',
            '7',
            '--reset'
        ]);
        expect(await again.exited).toBe(0);
        expect(JSON.parse(again.stdout()).result).toMatchObject({
            status: 'ok',
            seeded: true,
            seed: 7
        });
    }, 180_000);
});
