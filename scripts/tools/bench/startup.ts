/**
 * `npm run bench:startup [-- --runs N]`: how fast the CLI starts, measured as a person
 * would feel it. In one run, alternating so that the machine's state affects all alike:
 * `node -e 0` (the floor), `optout --help`, and `optout status --json` on a small ledger
 * (a few persons, audiences and unsubscribes, made in a temporary folder). Prints the
 * median and the slowest of N runs (wall clock, process spawn included) and the peak
 * memory of each, then checks the targets of the issue "One product, cleanly cut":
 * `optout --help` within 4× `node -e 0`, `optout status --json` under 0.4 s. Exits 1
 * when a target is missed. Run `npm run build` first (npm ci and npm test do).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { projectPath } from '../../model/project';

export interface Timing {
    label: string;
    /** Wall-clock milliseconds of each run, in the order run. */
    ms: number[];
    /** Peak resident memory of each run, KiB (from the child's rusage). */
    maxRssKiB: number[];
}

export function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2
        ? sorted[mid]
        : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The targets, as verdicts on the medians. */
export function verdicts(
    floorMs: number,
    helpMs: number,
    statusMs: number
): { target: string; measured: string; met: boolean }[] {
    return [
        {
            target: 'optout --help within 4× node -e 0',
            measured: `${(helpMs / floorMs).toFixed(1)}× (${helpMs.toFixed(0)} ms vs ${floorMs.toFixed(0)} ms)`,
            met: helpMs <= 4 * floorMs
        },
        {
            target: 'optout status --json under 0.4 s',
            measured: `${statusMs.toFixed(0)} ms`,
            met: statusMs < 400
        }
    ];
}

/** Wall-clock milliseconds of one run (spawn included), the child unwrapped. */
function timeOnce(args: string[], env: NodeJS.ProcessEnv): number {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0)
        throw new Error(
            `${args.join(' ')} exited with ${r.status}: ${r.stderr || r.stdout}`
        );
    return ms;
}

/** A small ledger, as after a first import and a few unsubscribes. */
async function smallLedger(dir: string): Promise<string> {
    const path = join(dir, 'ledger.db');
    const ledger = await Ledger.open(path);
    try {
        await ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
        for (let i = 0; i < 20; i++)
            await ledger.recordUnsubscribe({
                email: `person${i}@example.com`,
                scope: i % 2 ? 'all' : 'audience',
                audienceId: i % 2 ? undefined : 'news',
                source: 'import'
            });
    } finally {
        await ledger.close();
    }
    return path;
}

export async function measureStartup(runs: number): Promise<Timing[]> {
    const cli = projectPath('bin', 'optout');
    if (!existsSync(projectPath('dist', 'scripts', 'cli', 'main.js')))
        throw new Error('No compiled CLI in dist/: run npm run build first');
    const dir = mkdtempSync(join(tmpdir(), 'optout-startup-'));
    try {
        const ledger = await smallLedger(dir);
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            OPTOUT_LEDGER: ledger
        };
        delete env.OPTOUT_FROM_SOURCE;
        const cases: [string, string[]][] = [
            ['node -e 0', ['-e', '0']],
            ['optout --help', [cli, '--help']],
            ['optout status --json', [cli, 'status', '--json']]
        ];
        const timings: Timing[] = cases.map(([label]) => ({
            label,
            ms: [],
            maxRssKiB: []
        }));
        // One warm-up of each (file cache), then alternate.
        for (const [, args] of cases) timeOnce(args, env);
        for (let i = 0; i < runs; i++)
            cases.forEach(([, args], k) => {
                timings[k].ms.push(timeOnce(args, env));
                timings[k].maxRssKiB.push(childPeakKiB(args, env));
            });
        return timings;
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * The child's own peak memory, from /usr/bin/time when present (0 otherwise): a run of
 * its own, so that the timed runs are not wrapped in another program.
 */
function childPeakKiB(args: string[], env: NodeJS.ProcessEnv): number {
    if (!existsSync('/usr/bin/time')) return 0;
    const r = spawnSync(
        '/usr/bin/time',
        ['-f', '%M', process.execPath, ...args],
        { env, encoding: 'utf8' }
    );
    const lines = r.stderr.trim().split('\n');
    return Number(lines[lines.length - 1]) || 0;
}

async function main(): Promise<void> {
    const i = process.argv.indexOf('--runs');
    const runs = i > 0 ? Number(process.argv[i + 1]) : 7;
    if (!Number.isInteger(runs) || runs < 1) {
        process.stderr.write('--runs must be a whole number of 1 or more\n');
        process.exitCode = 2;
        return;
    }
    const timings = await measureStartup(runs);
    process.stdout.write(
        `CLI start, ${runs} runs each (median, slowest; peak memory):\n`
    );
    for (const t of timings)
        process.stdout.write(
            `  ${t.label.padEnd(24)} ${median(t.ms).toFixed(0).padStart(5)} ms  ${Math.max(
                ...t.ms
            )
                .toFixed(0)
                .padStart(
                    5
                )} ms  ${Math.round(median(t.maxRssKiB) / 1024)} MiB\n`
        );
    const [floor, help, status] = timings.map((t) => median(t.ms));
    let missed = 0;
    for (const v of verdicts(floor, help, status)) {
        process.stdout.write(
            `${v.met ? 'met   ' : 'MISSED'} ${v.target}: ${v.measured}\n`
        );
        if (!v.met) missed++;
    }
    process.exitCode = missed ? 1 : 0;
}

if (process.argv[1] === __filename)
    main().catch((err: unknown) => {
        process.stderr.write(`${String(err)}\n`);
        process.exitCode = 1;
    });
