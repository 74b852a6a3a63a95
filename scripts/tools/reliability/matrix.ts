/**
 * The fault matrix: one trial per fault kind (and mixed), each on a fresh world with
 * the trial data set, run as production runs it — push, then hourly, then nightly, each
 * run again until it finishes clean (as the scheduler would on its next tick) — then
 * compared with the same data set run without faults:
 *
 * - the final Salesforce and ledger state equals the fault-free run's;
 * - nothing was counted twice (JobResults = audit trail; one audited write per record,
 *   one delivery per unsubscribe);
 * - the JobResults report the retries and deferrals the faults caused;
 * - the sync never sent an opt-out field set to false, never removed an unsubscribe;
 * - every delivered unsubscribe is in the org, every one with a record is delivered;
 * - a last round of all three jobs writes nothing (R11), and the ledger file is sound.
 */
import type { OrgClientOptions } from '../../salesforce/client';
import type { JobName, JobResult } from '../../sync/result';
import {
    auditProblems,
    convergedProblems,
    idleRound,
    falseWrites,
    integrity,
    removedWithoutResubscribe,
    snapshot,
    type Snapshot
} from './checks';
import { TRIAL_SETTINGS, seedDataset, type DatasetSize } from './dataset';
import { World, type SentRequest } from './world';

export interface FaultScenario {
    name: string;
    /** Fault SPEC of the local org (faults.ts); empty for none. */
    spec: string;
    /** Before each run (attempt 0 = first run of a job): e.g. API usage near the limit. */
    beforeRun?: (world: World, job: JobName, attempt: number) => void;
    /** Client options for this scenario (e.g. the budget share). */
    client?: Partial<OrgClientOptions>;
    /** What the JobResults must show (retried, deferred). */
    expect?: 'retried' | 'deferred' | 'failed-records' | 'none';
}

export const API_LIMIT = 1_000_000;

/** Usage near the daily limit at the start of a job's first run; a new day after. */
function nearLimit(share: number) {
    return (world: World, _job: JobName, attempt: number): void => {
        if (attempt === 0) {
            // A few requests left before the limit (or the budget share) is reached.
            const left = 6 + Math.floor(world.random() * 10);
            world.admin.setUsage(Math.floor(API_LIMIT * share) - left);
        } else world.admin.resetUsage();
    };
}

export const SCENARIOS: FaultScenario[] = [
    { name: 'none', spec: '', expect: 'none' },
    { name: '503 burst', spec: '503:next=4', expect: 'retried' },
    { name: '503 15%', spec: '503:0.15', expect: 'retried' },
    { name: '500 burst', spec: '500:next=3', expect: 'retried' },
    { name: '502/504 gateway', spec: '502:0.08,504:0.08', expect: 'retried' },
    { name: '429 10%', spec: '429:0.1', expect: 'retried' },
    // 403 REQUEST_LIMIT_EXCEEDED for too many concurrent long-running requests:
    // transient, retried with back-off (only the daily allowance defers a run).
    {
        name: 'concurrent-request limit burst',
        spec: 'concurrent:next=3',
        expect: 'retried'
    },
    {
        name: 'concurrent-request limit 10%',
        spec: 'concurrent:0.1',
        expect: 'retried'
    },
    {
        name: 'REQUEST_LIMIT_EXCEEDED mid-run',
        spec: '',
        // The org refuses (403) before our own budget stops us: share 1.
        client: { apiBudgetShare: 1 },
        beforeRun: nearLimit(1),
        expect: 'deferred'
    },
    {
        name: 'API budget share reached mid-run',
        spec: '',
        beforeRun: nearLimit(0.8),
        expect: 'deferred'
    },
    { name: 'UNABLE_TO_LOCK_ROW 20%', spec: 'lock:0.2', expect: 'retried' },
    {
        name: 'UNABLE_TO_LOCK_ROW 60%',
        spec: 'lock:0.6',
        expect: 'failed-records'
    },
    { name: 'drop before 8%', spec: 'drop:0.08', expect: 'retried' },
    {
        name: 'drop after processing 8%',
        spec: 'drop-after:0.08',
        expect: 'retried'
    },
    {
        name: 'drop after collections writes',
        spec: 'drop-after:next=3@collections',
        expect: 'retried'
    },
    {
        name: 'drop after bulk upload',
        spec: 'drop-after:next=2@bulkIngestUpload',
        expect: 'retried'
    },
    {
        name: 'drop after bulk close',
        spec: 'drop-after:next=2@bulkIngestClose',
        expect: 'retried'
    },
    { name: 'latency spikes', spec: 'latency:0-25', expect: 'none' },
    { name: 'bulk job fails', spec: 'bulkfail:next=2', expect: 'retried' },
    { name: 'bulk jobs fail 50%', spec: 'bulkfail:0.5', expect: 'retried' },
    {
        name: 'mixed',
        spec: '503:0.05,500:0.02,429:0.05,concurrent:0.03,lock:0.1,drop:0.03,drop-after:0.03,bulkfail:0.2,latency:0-5',
        expect: 'retried'
    }
];

export interface TrialOptions {
    size: DatasetSize;
    /** Client options of every run (e.g. a low bulk threshold for the Bulk paths). */
    client?: Partial<OrgClientOptions>;
    seed: number;
    /** Give up after this many runs of one job. */
    maxRuns?: number;
    /** The fault-free final state to compare with (computed when absent). */
    baseline?: Snapshot;
}

export interface TrialReport {
    scenario: string;
    dataset: string;
    seed: number;
    runs: number;
    /** Runs beyond one per job. */
    reruns: number;
    faultsInjected: number;
    faults: Record<string, number>;
    retried: { requests: number; records: number };
    deferredRuns: number;
    failedRuns: number;
    /** Unsubscribes with a record not delivered at the end, or delivered without it. */
    lost: number;
    problems: string[];
    modes: string[];
    durationMs: number;
}

export const JOB_ORDER: JobName[] = ['push', 'hourly', 'nightly'];

function clean(r: JobResult): boolean {
    return (
        (r.status === 'succeeded' || r.status === 'skipped') &&
        r.failed.length === 0 &&
        r.deferred === null
    );
}

/** Runs a job until it finishes clean; returns the runs it took. */
export async function runUntilClean(
    world: World,
    job: JobName,
    options: {
        maxRuns: number;
        client?: Partial<OrgClientOptions>;
        beforeRun?: FaultScenario['beforeRun'];
        results: JobResult[];
    }
): Promise<number> {
    for (let attempt = 0; attempt < options.maxRuns; attempt++) {
        options.beforeRun?.(world, job, attempt);
        const { result } = await world.run(job, { client: options.client });
        options.results.push(result);
        if (clean(result)) return attempt + 1;
    }
    throw new Error(
        `${job} did not finish clean after ${options.maxRuns} runs: ${JSON.stringify(
            options.results.at(-1)?.error ?? options.results.at(-1)?.failed[0]
        )}`
    );
}

/** A best-effort request the sync does not retry (bulk.ts: tidying up jobs). */
export function isTidying(r: SentRequest): boolean {
    return (
        (r.method === 'DELETE' && /\/jobs\/query\/[^/?]+$/.test(r.url)) ||
        (r.method === 'PATCH' &&
            /\/jobs\/ingest\/[^/?]+$/.test(r.url) &&
            /"Aborted"/.test(r.body ?? ''))
    );
}

/** The fault-free final state of a data set. */
export async function baselineSnapshot(
    options: Pick<TrialOptions, 'size' | 'client'>
): Promise<Snapshot> {
    const world = await World.create({
        client: options.client,
        apiLimit: API_LIMIT
    });
    try {
        await seedDataset(world, options.size);
        const results: JobResult[] = [];
        for (const job of JOB_ORDER)
            await runUntilClean(world, job, { maxRuns: 1, results });
        return await snapshot(world);
    } finally {
        await world.close();
    }
}

function datasetName(o: Pick<TrialOptions, 'size' | 'client'>): string {
    return `${o.size.contacts} contacts${o.client?.bulkThreshold !== undefined ? `, bulk above ${o.client.bulkThreshold}` : ''}`;
}

/** One trial of one scenario (see the file comment). */
export async function runTrial(
    scenario: FaultScenario,
    options: TrialOptions
): Promise<TrialReport> {
    const started = Date.now();
    const baseline = options.baseline ?? (await baselineSnapshot(options));
    const client = { ...(options.client ?? {}), ...(scenario.client ?? {}) };
    const world = await World.create({
        client,
        apiLimit: API_LIMIT,
        seed: options.seed
    });
    const problems: string[] = [];
    const results: JobResult[] = [];
    let runs = 0;
    try {
        const seeded = await seedDataset(world, options.size);
        world.admin.resetStats();
        world.admin.reseed(options.seed);
        if (scenario.spec) world.admin.setFaults(scenario.spec);
        for (const job of JOB_ORDER)
            runs += await runUntilClean(world, job, {
                maxRuns: options.maxRuns ?? 25,
                beforeRun: scenario.beforeRun,
                results
            });
        const faults = world.admin.stats().faultsInjected;
        world.admin.clearFaults();
        world.admin.resetUsage();

        // The state equals the fault-free run's; R11 both ways; R4; R10.
        const converged = await convergedProblems(
            world,
            baseline,
            seeded.unmatched
        );
        problems.push(...converged.problems);
        const field = TRIAL_SETTINGS.optOutField ?? 'HasOptedOutOfEmail';
        problems.push(...falseWrites(world.sent));
        problems.push(...(await removedWithoutResubscribe(world)));
        problems.push(...(await auditProblems(world, { results, field })));

        // The JobResults tell what the faults did.
        const injected = Object.values(faults).reduce((a, b) => a + b, 0);
        const retried = results.reduce(
            (a, r) => ({
                requests: a.requests + r.retried.requests,
                records: a.records + r.retried.records
            }),
            { requests: 0, records: 0 }
        );
        const deferredRuns = results.filter((r) => r.status === 'deferred');
        for (const r of deferredRuns)
            if (!r.deferred || !r.deferred.reason)
                problems.push(`run ${r.runId} deferred without a reason`);
        const requestFaults =
            (faults['503'] ?? 0) +
            (faults['500'] ?? 0) +
            (faults['502'] ?? 0) +
            (faults['504'] ?? 0) +
            (faults['429'] ?? 0) +
            (faults.concurrent ?? 0) +
            (faults['drop-before'] ?? 0) +
            (faults['drop-after'] ?? 0);
        const failedRuns = results.filter((r) => r.status === 'failed');
        // Every faulted request was retried, except the last attempt of a request
        // that gave up (which fails its run) and the best-effort tidying requests
        // (deleting a finished Bulk query job, aborting an ingest job whose upload got
        // no answer), which are not retried by design.
        // (A Bulk query job that failed is started again: a retried request too.)
        const tidyingFailed = world.sent.filter(
            (r) => r.failed && isTidying(r)
        ).length;
        const unretried = requestFaults - retried.requests;
        if (
            unretried < -(faults.bulkfail ?? 0) ||
            unretried > failedRuns.length + tidyingFailed
        )
            problems.push(
                `${requestFaults} request fault(s) injected, ${retried.requests} retried, ${failedRuns.length} failed run(s), ${tidyingFailed} failed tidying request(s)`
            );
        if ((faults.lock ?? 0) > 0 && retried.records === 0)
            problems.push(`${faults.lock} lock error(s) but no record retried`);
        if (scenario.expect === 'deferred' && deferredRuns.length === 0)
            problems.push('no run was deferred');
        if (
            scenario.expect === 'retried' &&
            injected > 0 &&
            retried.requests + retried.records === 0
        )
            problems.push('faults were injected but nothing was retried');
        if (
            scenario.expect === 'failed-records' &&
            !results.some((r) => r.failed.length > 0)
        )
            problems.push('no run reported a failed record');

        // Idempotence: one more round of every job writes nothing (R11).
        const before = world.admin.stats();
        const idle: JobResult[] = [];
        for (const job of JOB_ORDER)
            await runUntilClean(world, job, { maxRuns: 1, results: idle });
        const { changes: written, writeRequests } = idleRound(
            before,
            world.admin.stats(),
            idle
        );
        if (written > 0 || writeRequests > 0)
            problems.push(
                `a second round was not idle: ${written} change(s), ${writeRequests} write request(s)`
            );
        await world.ledger.close();
        problems.push(
            ...integrity(world.ledgerPath).map((p) => `integrity: ${p}`)
        );
        await world.reopenLedger();

        return {
            scenario: scenario.name,
            dataset: datasetName(options),
            seed: options.seed,
            runs,
            reruns: runs - JOB_ORDER.length,
            faultsInjected: injected,
            faults,
            retried,
            deferredRuns: deferredRuns.length,
            failedRuns: failedRuns.length,
            lost: converged.lost,
            problems,
            modes: [
                ...new Set(
                    results.flatMap((r) =>
                        Object.entries(r.modes ?? {}).map(
                            ([k, v]) => `${k}: ${v}`
                        )
                    )
                )
            ].sort(),
            durationMs: Date.now() - started
        };
    } finally {
        await world.close();
    }
}
