/**
 * PostgreSQL restarted mid-run (a PostgreSQL row of the matrix). The server is a
 * throwaway cluster of the trial's own (`.ci/postgres.sh start`): restarting the tests'
 * shared server would break other suites running on it. Each trial, on a fresh schema:
 * the data set is seeded, then for each job chosen to be hit the real CLI (`optout sync
 * JOB --ledger postgres://…`, a child process) runs and the server is restarted
 * (`pg_ctl restart -m fast`: every connection dropped) once the org has served a
 * seeded number of the run's requests; the job is then run again until it finishes
 * clean, as the scheduler's next tick would. Invariants:
 *
 * - a run that hit the drop ends with LEDGER_UNAVAILABLE (a failed or deferred
 *   JobResult, or the error envelope) — never another error, never a hang;
 * - nothing half-written: the end state equals a fault-free run's on the same data
 *   set, the audit trail agrees with the org (nothing counted twice, every audited
 *   write in the org, every delivered unsubscribe audited), no unsubscribe removed;
 * - each opt-out field was received by the org at most once per record (a recording
 *   proxy between the CLI and the org), never set to false.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../model/project';
import type { JobName, JobResult } from '../../sync/result';
import {
    auditProblems,
    convergedProblems,
    removedWithoutResubscribe,
    type Snapshot
} from './checks';
import { TRIAL_SETTINGS, seedDataset, type DatasetSize } from './dataset';
import { API_LIMIT, JOB_ORDER, runUntilClean } from './matrix';
import {
    CliProcess,
    OrgProxy,
    fieldWritesOf,
    freshSchema,
    orgFolder
} from './processes';
import { writeProblems } from './replicas';
import { World } from './world';
import { baselineIn } from './crash';

const run = promisify(execFile);
const POSTGRES_SH = join(PROJECT_ROOT, '.ci', 'postgres.sh');

/** A throwaway PostgreSQL cluster of this process's own. */
export interface OwnCluster {
    url: string;
    dir: string;
    /** Drops every connection and starts again (`pg_ctl restart -m fast`). */
    restart(): Promise<void>;
    stop(): Promise<void>;
}

/**
 * Starts one with `.ci/postgres.sh start`, its folder (and the script's "last cluster"
 * note) under a temporary folder of ours, so that a developer's `npm run pg:stop`
 * never stops it and ours never stops theirs.
 */
export async function startOwnCluster(): Promise<OwnCluster> {
    const parent = mkdtempSync(join(tmpdir(), 'optout-pg-restart-'));
    // The cluster's owner (postgres, when we are root) must reach its folder.
    chmodSync(parent, 0o755);
    const env = { ...process.env, TMPDIR: parent };
    const { stdout } = await run('bash', [POSTGRES_SH, 'start'], { env });
    const vars = new Map<string, string>();
    for (const line of stdout.split('\n')) {
        const m = /^export (\w+)=(.*)$/.exec(line.trim());
        // printf %q quotes only what needs it; these values (URL, folder) need none.
        if (m) vars.set(m[1], m[2].replace(/^'(.*)'$/, '$1'));
    }
    const url = vars.get('OPTOUT_TEST_PG_URL');
    const dir = vars.get('OPTOUT_TEST_PG_DIR');
    if (!url || !dir)
        throw new Error(`postgres.sh start printed no URL: ${stdout}`);
    const bindir = readFileSync(join(dir, 'bindir'), 'utf8').trim();
    const asOwner = (args: string[]): [string, string[]] =>
        process.getuid?.() === 0
            ? ['runuser', ['-u', 'postgres', '--', ...args]]
            : [args[0], args.slice(1)];
    return {
        url,
        dir,
        async restart() {
            const [cmd, args] = asOwner([
                join(bindir, 'pg_ctl'),
                '-D',
                join(dir, 'data'),
                '-l',
                join(dir, 'server.log'),
                '-m',
                'fast',
                '-w',
                '-t',
                '60',
                'restart'
            ]);
            await run(cmd, args, { env });
        },
        async stop() {
            await run('bash', [POSTGRES_SH, 'stop', dir], { env });
            rmSync(parent, { recursive: true, force: true });
        }
    };
}

export interface RestartTrialOptions {
    cluster: OwnCluster;
    size: DatasetSize;
    seed: number;
    /** The jobs run as a child process with a restart in their first run. */
    hit: readonly JobName[];
    /** The fault-free end state (from `restartBaseline`). */
    baseline: Snapshot;
    requestsPerJob: Record<JobName, number>;
}

export interface RestartReport {
    scenario: string;
    dataset: string;
    seed: number;
    restarts: number;
    /** Runs that hit the drop (ended LEDGER_UNAVAILABLE). */
    hitRuns: number;
    /** Runs during which the server restarted yet finished clean (no query met the gap). */
    unharmedRuns: number;
    runs: number;
    reruns: number;
    lost: number;
    problems: string[];
    durationMs: number;
}

/** The fault-free end state and requests per job of a data set, on the cluster. */
export async function restartBaseline(
    cluster: OwnCluster,
    size: DatasetSize
): Promise<{ snapshot: Snapshot; requestsPerJob: Record<JobName, number> }> {
    const schema = await freshSchema(cluster.url, 'baseline');
    const world = await World.create({
        ledger: schema.url,
        apiLimit: API_LIMIT
    });
    try {
        return await baselineIn(world, size);
    } finally {
        await world.close();
        await schema.drop();
    }
}

function firstLines(text: string, n: number): string {
    return text.trim().split('\n').slice(0, n).join(' | ');
}

/** How a child run ended: clean, LEDGER_UNAVAILABLE, or something else (a problem). */
export function runOutcome(
    code: number | null,
    stdout: string
): { kind: 'clean' | 'unavailable' | 'other'; detail: string } {
    let envelope: {
        status?: number;
        name?: string;
        code?: string;
        result?: JobResult;
    };
    try {
        envelope = JSON.parse(stdout.slice(stdout.indexOf('{'))) as never;
    } catch {
        return {
            kind: 'other',
            detail: `exit ${code}, no JSON: ${stdout.slice(0, 300)}`
        };
    }
    const r = envelope.result;
    if (
        r &&
        (r.status === 'succeeded' || r.status === 'skipped') &&
        r.failed.length === 0 &&
        r.deferred === null
    )
        return { kind: 'clean', detail: r.status };
    const errorCode = r?.error?.code ?? envelope.name ?? envelope.code;
    if (
        errorCode === 'LEDGER_UNAVAILABLE' ||
        (r?.status === 'deferred' &&
            /cannot be reached/.test(r.deferred?.reason ?? ''))
    )
        return {
            kind: 'unavailable',
            detail: `${r?.status ?? 'error'} LEDGER_UNAVAILABLE`
        };
    return {
        kind: 'other',
        detail: `exit ${code}: ${r ? `${r.status} ${JSON.stringify(r.error ?? r.failed[0] ?? r.deferred)}` : JSON.stringify(envelope).slice(0, 400)}`
    };
}

export async function runRestartTrial(
    options: RestartTrialOptions
): Promise<RestartReport> {
    const started = Date.now();
    const schema = await freshSchema(options.cluster.url, 'restart');
    const world = await World.create({
        ledger: schema.url,
        apiLimit: API_LIMIT,
        seed: options.seed
    });
    const proxy = await OrgProxy.start(world.t.instanceUrl);
    const dir = orgFolder(world, proxy.url);
    const problems: string[] = [];
    let runs = 0;
    let restarts = 0;
    let hitRuns = 0;
    let unharmedRuns = 0;
    try {
        const seeded = await seedDataset(world, options.size);
        world.admin.setLatency({ min: 2, max: 8 });
        for (const job of JOB_ORDER) {
            if (!options.hit.includes(job)) {
                // Not hit: in-process, as a fault-free run.
                runs += await runUntilClean(world, job, {
                    maxRuns: 1,
                    results: []
                });
                continue;
            }
            for (let attempt = 0; ; attempt++) {
                if (attempt > 5) {
                    problems.push(`${job} never finished clean`);
                    break;
                }
                const child = CliProcess.start(job, dir, [
                    '--json',
                    'sync',
                    job,
                    '--target-org',
                    'local',
                    '--ledger',
                    schema.url
                ]);
                runs += 1;
                let restarted = false;
                if (attempt === 0) {
                    // Restart once the org has served a seeded share of the run's requests.
                    const expected = Math.max(1, options.requestsPerJob[job]);
                    const at = 1 + Math.floor(world.random() * expected);
                    const base = proxy.requests;
                    while (child.alive && proxy.requests - base < at)
                        await new Promise((r) => setTimeout(r, 2));
                    if (child.alive) {
                        await options.cluster.restart();
                        restarts += 1;
                        restarted = true;
                    }
                }
                const { code } = await child.exited;
                const outcome = runOutcome(code, child.stdout);
                if (outcome.kind === 'other')
                    problems.push(
                        `${job} run ${attempt + 1}: ${outcome.detail} — stderr: ${firstLines(child.stderr, 12)}`
                    );
                if (outcome.kind === 'unavailable') {
                    if (!restarted)
                        problems.push(
                            `${job} run ${attempt + 1}: LEDGER_UNAVAILABLE without a restart`
                        );
                    hitRuns += 1;
                    continue;
                }
                if (restarted && outcome.kind === 'clean') unharmedRuns += 1;
                if (outcome.kind === 'clean') break;
            }
        }
        world.admin.setLatency(null);

        const converged = await convergedProblems(
            world,
            options.baseline,
            seeded.unmatched
        );
        problems.push(...converged.problems);
        const field = TRIAL_SETTINGS.optOutField ?? 'HasOptedOutOfEmail';
        problems.push(...(await removedWithoutResubscribe(world)));
        problems.push(...(await auditProblems(world, { field })));
        const { twice, falses } = writeProblems([
            ...proxy.writes,
            ...world.sent.flatMap((r) =>
                r.body === undefined
                    ? []
                    : fieldWritesOf(r.method, r.url, r.body)
            )
        ]);
        problems.push(...twice, ...falses);
        return {
            scenario: `PostgreSQL restarted mid-${options.hit.join('/')}`,
            dataset: `${options.size.contacts} contacts`,
            seed: options.seed,
            restarts,
            hitRuns,
            unharmedRuns,
            runs,
            reruns: runs - JOB_ORDER.length,
            lost: converged.lost,
            problems,
            durationMs: Date.now() - started
        };
    } finally {
        world.admin.setLatency(null);
        await proxy.close();
        rmSync(dir, { recursive: true, force: true });
        await world.close();
        await schema.drop().catch(() => undefined);
    }
}
