/**
 * Crash trials: the real CLI (`node bin/optout sync JOB --target-org local --ledger F
 * --json`) runs in a child process against a local org served by this process (through
 * a local-org state file in the child's working folder), and is killed with SIGKILL at
 * a random point — after a random number of the requests it makes (seeded), give or take
 * a few milliseconds, so kills land before, during and after Salesforce writes and ledger
 * commits. Then it is started again, as a scheduler would on its next tick, until the
 * job finishes clean; then the next job. At the end:
 *
 * - the state equals the fault-free run's (same data set, run in-process);
 * - the ledger file passes `PRAGMA integrity_check` (and foreign keys);
 * - no unsubscribe is lost or marked delivered without its write in the org, the audit
 *   trail has one delivery entry per delivered unsubscribe and no double write;
 * - no opt-out field that was true is false (nothing re-subscribed).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { JobName, JobResult } from '../../sync/result';
import {
    auditProblems,
    convergedProblems,
    integrity,
    readPeople,
    removedWithoutResubscribe,
    snapshot,
    type Snapshot
} from './checks';
import { TRIAL_SETTINGS, seedDataset, type DatasetSize } from './dataset';
import { API_LIMIT, JOB_ORDER, runUntilClean } from './matrix';
import { World } from './world';
import { PROJECT_ROOT } from '../../model/project';

const REPO = PROJECT_ROOT;
const CLI = join(REPO, 'bin', 'optout');

export interface CrashTrialOptions {
    size: DatasetSize;
    seed: number;
    /** Kills per job before it is let finish. */
    killsPerJob: number;
    /** `--bulk-threshold` of the CLI (Bulk paths on a small data set). */
    bulkThreshold?: number;
    baseline?: Snapshot;
    /** Requests each job makes on this data set (from the baseline), to aim the kills. */
    requestsPerJob?: Record<JobName, number>;
}

export interface CrashReport {
    scenario: string;
    dataset: string;
    seed: number;
    kills: number;
    /** Kill points, as "job@request". */
    killedAt: string[];
    runs: number;
    reruns: number;
    lost: number;
    problems: string[];
    durationMs: number;
}

interface ChildRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** Requests the org served while it ran. */
    requests: number;
}

function childEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete env[k];
    delete env.OPTOUT_LEDGER;
    delete env.OPTOUT_API_BUDGET_SHARE;
    env.NODE_OPTIONS = '';
    return env;
}

/** Runs the CLI once; kills it once the org has served `killAfter` of its requests. */
async function runChild(
    world: World,
    args: string[],
    killAfter: number | null,
    extraDelayMs: number
): Promise<ChildRun> {
    const base = world.admin.stats().totalRequests;
    const child = spawn(process.execPath, [CLI, ...args], {
        cwd: world.dir,
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{
        code: number | null;
        signal: NodeJS.Signals | null;
    }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    let done = false;
    void exited.then(() => (done = true));
    if (killAfter !== null) {
        // Watch the org serve the child's requests; kill at the chosen one.
        while (!done) {
            if (world.admin.stats().totalRequests - base >= killAfter) {
                if (extraDelayMs > 0)
                    await new Promise((r) => setTimeout(r, extraDelayMs));
                child.kill('SIGKILL');
                break;
            }
            await new Promise((r) => setTimeout(r, 1));
        }
    }
    const { code, signal } = await exited;
    return {
        code,
        signal,
        stdout,
        stderr,
        requests: world.admin.stats().totalRequests - base
    };
}

function parseResult(stdout: string): JobResult | undefined {
    try {
        // The sf-style envelope: {"status", "result": JobResult, "warnings"}.
        const r = (JSON.parse(stdout) as { result?: JobResult }).result;
        return typeof r === 'object' && r && 'job' in r ? r : undefined;
    } catch {
        return undefined;
    }
}

/** Requests per job of the fault-free run, and its final state. */
export async function crashBaseline(
    size: DatasetSize,
    bulkThreshold?: number
): Promise<{ snapshot: Snapshot; requestsPerJob: Record<JobName, number> }> {
    const world = await World.create({
        apiLimit: API_LIMIT,
        ...(bulkThreshold !== undefined ? { client: { bulkThreshold } } : {})
    });
    try {
        return await baselineIn(world, size);
    } finally {
        await world.close();
    }
}

/** Seeds `size` in a new world and runs each job once: its end state and requests per job. */
export async function baselineIn(
    world: World,
    size: DatasetSize
): Promise<{ snapshot: Snapshot; requestsPerJob: Record<JobName, number> }> {
    await seedDataset(world, size);
    const results: JobResult[] = [];
    const requestsPerJob = {} as Record<JobName, number>;
    for (const job of JOB_ORDER) {
        await runUntilClean(world, job, { maxRuns: 1, results });
        requestsPerJob[job] = results.at(-1)?.apiRequests ?? 1;
    }
    return { snapshot: await snapshot(world), requestsPerJob };
}

export async function runCrashTrial(
    options: CrashTrialOptions
): Promise<CrashReport> {
    const started = Date.now();
    const base =
        options.baseline && options.requestsPerJob
            ? {
                  snapshot: options.baseline,
                  requestsPerJob: options.requestsPerJob
              }
            : await crashBaseline(options.size, options.bulkThreshold);
    const world = await World.create({
        apiLimit: API_LIMIT,
        seed: options.seed
    });
    const problems: string[] = [];
    const killedAt: string[] = [];
    let runs = 0;
    try {
        const seeded = await seedDataset(world, options.size);
        world.writeLocalOrgState();
        // Slow requests down a little: kills land inside runs, not between them.
        world.admin.setLatency({ min: 2, max: 8 });
        const before = await readPeople(world);
        const trueBefore = new Set(
            [...before.contacts, ...before.leads]
                .filter((r) => r.HasOptedOutOfEmail)
                .map((r) => r.Id)
        );
        for (const job of JOB_ORDER) {
            let kills = 0;
            for (let attempt = 0; ; attempt++) {
                if (attempt > options.killsPerJob + 10)
                    throw new Error(`${job} never finished clean`);
                const kill = kills < options.killsPerJob;
                const expected = Math.max(1, base.requestsPerJob[job]);
                const killAfter = kill
                    ? 1 + Math.floor(world.random() * expected)
                    : null;
                const delay = Math.floor(world.random() * 12);
                const args = [
                    '--json',
                    'sync',
                    job,
                    '--target-org',
                    'local',
                    '--ledger',
                    world.ledgerPath,
                    ...(options.bulkThreshold !== undefined
                        ? ['--bulk-threshold', String(options.bulkThreshold)]
                        : [])
                ];
                const run = await runChild(world, args, killAfter, delay);
                runs += 1;
                if (run.signal === 'SIGKILL') {
                    kills += 1;
                    killedAt.push(`${job}@${run.requests}`);
                    continue;
                }
                const result = parseResult(run.stdout);
                if (!result) {
                    problems.push(
                        `${job}: exit ${run.code} without a JobResult: ${run.stderr.slice(0, 300)}`
                    );
                    break;
                }
                if (
                    (result.status === 'succeeded' ||
                        result.status === 'skipped') &&
                    result.failed.length === 0
                ) {
                    if (result.status === 'skipped' && job !== 'nightly')
                        problems.push(
                            `${job} skipped: ${result.message ?? ''}`
                        );
                    break;
                }
                // Killed in a kill window of its own? Run again (a new tick).
                kills = Math.max(kills, options.killsPerJob);
            }
        }
        world.admin.setLatency(null);
        // The ledger as another process sees it.
        await world.ledger.close();
        problems.push(
            ...integrity(world.ledgerPath).map((p) => `integrity: ${p}`)
        );
        await world.reopenLedger();
        const converged = await convergedProblems(
            world,
            base.snapshot,
            seeded.unmatched
        );
        problems.push(...converged.problems);
        const field = TRIAL_SETTINGS.optOutField ?? 'HasOptedOutOfEmail';
        problems.push(...(await removedWithoutResubscribe(world)));
        problems.push(...(await auditProblems(world, { field })));
        const after = await readPeople(world);
        for (const r of [...after.contacts, ...after.leads])
            if (trueBefore.has(r.Id) && !r.HasOptedOutOfEmail)
                problems.push(`${r.Id} was opted out and is not any more`);
        return {
            scenario: `SIGKILL ×${options.killsPerJob} per job`,
            dataset: `${options.size.contacts} contacts${options.bulkThreshold !== undefined ? `, bulk above ${options.bulkThreshold}` : ''}`,
            seed: options.seed,
            kills: killedAt.length,
            killedAt,
            runs,
            reruns: runs - JOB_ORDER.length,
            lost: converged.lost,
            problems,
            durationMs: Date.now() - started
        };
    } finally {
        await world.close();
    }
}
