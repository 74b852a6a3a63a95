/**
 * `npm run reliability`: the long fault and crash matrix (the short one runs in
 * `npm test`, scripts/tools/reliability/__tests__). Every fault scenario on several seeds, on
 * a data set written through sObject Collections and on one that goes through Bulk API
 * 2.0; SIGKILL crash trials of the real CLI; random histories (fast-check); the
 * PostgreSQL rows (two `optout serve` replicas on one PostgreSQL ledger, one SIGKILLed
 * mid-push; PostgreSQL restarted mid-run, on a throwaway cluster of its own; two
 * replicas and two schedulers under a webhook burst during a nightly). Prints one
 * table — trials, faults injected, reruns needed, unsubscribes lost (must be 0) — and
 * every problem found; exit code 1 when there is one.
 *
 *   npm run reliability -- [--seeds N] [--bulk-seeds N] [--crash-trials N]
 *                          [--property-runs N] [--pg-trials N] [--seed N]
 *                          [--only faults,crash,properties,postgres] [--json FILE]
 *
 * The PostgreSQL rows need OPTOUT_TEST_PG_URL (the replica trials make a schema of their
 * own on that server) and PostgreSQL's server programs (the restart trials start their
 * own cluster with .ci/postgres.sh); without the URL they are skipped, with a note —
 * unless OPTOUT_REQUIRE_PG=1, then that is a problem.
 *
 * Trials are seeded (the same seed injects the same faults and kills); `--seed` moves
 * every part to other seeds, to explore beyond the default ones.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { renderTable } from '../../cli/table';
import { crashBaseline, runCrashTrial, type CrashReport } from './crash';
import {
    JOB_ORDER,
    SCENARIOS,
    baselineSnapshot,
    runTrial,
    type TrialOptions,
    type TrialReport
} from './matrix';
import { caseArb, runCase, type CaseStats } from './properties';
import { postgresTestSetting } from '../../ledger/__tests__/postgres-env';
import {
    restartBaseline,
    runRestartTrial,
    startOwnCluster,
    type RestartReport
} from './pg-restart';
import { runReplicaTrial, type ReplicaReport } from './replicas';
import { runFleetTrial, type FleetReport } from './fleet';

const USAGE = `usage: npm run reliability -- [--seeds N] [--bulk-seeds N] [--crash-trials N] [--property-runs N] [--pg-trials N] [--seed N] [--only faults,crash,properties,postgres] [--json FILE]`;

export interface ReliabilityOptions {
    /** Seeds per fault scenario on the Collections-sized data set. */
    seeds: number;
    /** Seeds per fault scenario on the Bulk-sized data set. */
    bulkSeeds: number;
    /** SIGKILL trials (half with the Bulk paths). */
    crashTrials: number;
    /** Random histories. */
    propertyRuns: number;
    /** Trials per PostgreSQL row. */
    pgTrials: number;
    /** Base seed of every part (0: the default seeds). */
    seed: number;
    only: Set<'faults' | 'crash' | 'properties' | 'postgres'>;
    json?: string;
}

export class UsageError extends Error {}

function count(value: string | undefined, name: string, def: number): number {
    if (value === undefined) return def;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
        throw new UsageError(
            `--${name} must be a whole number, got '${value}'`
        );
    return n;
}

export function parseOptions(argv: readonly string[]): ReliabilityOptions {
    let values;
    try {
        ({ values } = parseArgs({
            args: [...argv],
            options: {
                seeds: { type: 'string' },
                'bulk-seeds': { type: 'string' },
                'crash-trials': { type: 'string' },
                'property-runs': { type: 'string' },
                'pg-trials': { type: 'string' },
                seed: { type: 'string' },
                only: { type: 'string' },
                json: { type: 'string' }
            },
            strict: true,
            allowPositionals: false
        }));
    } catch (err) {
        throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const parts = ['faults', 'crash', 'properties', 'postgres'] as const;
    const only = new Set<(typeof parts)[number]>();
    for (const p of (values.only ?? parts.join(',')).split(',')) {
        const part = parts.find((x) => x === p.trim());
        if (!part)
            throw new UsageError(
                `--only takes ${parts.join(', ')} (comma-separated), got '${p}'`
            );
        only.add(part);
    }
    return {
        seeds: count(values.seeds, 'seeds', 8),
        bulkSeeds: count(values['bulk-seeds'], 'bulk-seeds', 2),
        crashTrials: count(values['crash-trials'], 'crash-trials', 16),
        propertyRuns: count(values['property-runs'], 'property-runs', 300),
        pgTrials: count(values['pg-trials'], 'pg-trials', 4),
        seed: count(values.seed, 'seed', 0),
        only,
        ...(values.json ? { json: values.json } : {})
    };
}

const SMALL: Pick<TrialOptions, 'size' | 'client'> = {
    size: { contacts: 300 }
};
const BULK: Pick<TrialOptions, 'size' | 'client'> = {
    size: { contacts: 1700 },
    client: { bulkThreshold: 40, restPageSize: 200, bulkQueryPageSize: 1000 }
};

interface Row {
    part: string;
    scenario: string;
    dataset: string;
    trials: number;
    faults: number;
    reruns: number;
    retried: string;
    deferred: number;
    lost: number;
    problems: string[];
    seconds: number;
}

function log(line: string): void {
    process.stderr.write(`${line}\n`);
}

function faultRow(reports: TrialReport[]): Row {
    const r0 = reports[0];
    return {
        part: 'faults',
        scenario: r0.scenario,
        dataset: r0.dataset,
        trials: reports.length,
        faults: reports.reduce((a, r) => a + r.faultsInjected, 0),
        reruns: reports.reduce((a, r) => a + r.reruns, 0),
        retried: `${reports.reduce((a, r) => a + r.retried.requests, 0)} req, ${reports.reduce((a, r) => a + r.retried.records, 0)} rec`,
        deferred: reports.reduce((a, r) => a + r.deferredRuns, 0),
        lost: reports.reduce((a, r) => a + r.lost, 0),
        problems: reports.flatMap((r) =>
            r.problems.map((p) => `seed ${r.seed}: ${p}`)
        ),
        seconds: reports.reduce((a, r) => a + r.durationMs, 0) / 1000
    };
}

async function faultRows(
    dataset: Pick<TrialOptions, 'size' | 'client'>,
    seeds: number,
    firstSeed: number
): Promise<Row[]> {
    if (seeds === 0) return [];
    const baseline = await baselineSnapshot(dataset);
    const rows: Row[] = [];
    // Bulk faults need the Bulk paths: only on the data set that takes them.
    const bulk = dataset.client?.bulkThreshold !== undefined;
    for (const scenario of SCENARIOS.filter(
        (s) => bulk || !/bulk/i.test(s.name)
    )) {
        const reports: TrialReport[] = [];
        for (let s = 0; s < seeds; s++) {
            const r = await runTrial(scenario, {
                ...dataset,
                seed: firstSeed + s,
                baseline
            });
            reports.push(r);
            log(
                `faults  ${r.dataset.padEnd(28)} ${scenario.name.padEnd(32)} seed ${r.seed}: ${r.faultsInjected} faults, ${r.reruns} reruns, ${(r.durationMs / 1000).toFixed(1)} s — ${r.problems.length ? `${r.problems.length} problem(s)` : 'ok'}`
            );
            for (const p of r.problems) log(`        ${p}`);
        }
        rows.push(faultRow(reports));
    }
    return rows;
}

async function crashRows(trials: number, firstSeed: number): Promise<Row[]> {
    const rows: Row[] = [];
    const variants = [
        { size: { contacts: 60 }, bulkThreshold: undefined, killsPerJob: 2 },
        { size: { contacts: 60 }, bulkThreshold: 10, killsPerJob: 2 }
    ];
    for (const [v, variant] of variants.entries()) {
        const n = Math.ceil(trials / variants.length) - (v ? trials % 2 : 0);
        if (n <= 0) continue;
        const base = await crashBaseline(variant.size, variant.bulkThreshold);
        const reports: CrashReport[] = [];
        for (let t = 0; t < n; t++) {
            const r = await runCrashTrial({
                size: variant.size,
                seed: firstSeed + 100 + v * 1000 + t,
                killsPerJob: variant.killsPerJob,
                ...(variant.bulkThreshold !== undefined
                    ? { bulkThreshold: variant.bulkThreshold }
                    : {}),
                baseline: base.snapshot,
                requestsPerJob: base.requestsPerJob
            });
            reports.push(r);
            log(
                `crash   ${r.dataset.padEnd(28)} seed ${r.seed}: killed at ${r.killedAt.join(' ')}; ${r.reruns} reruns, ${(r.durationMs / 1000).toFixed(1)} s — ${r.problems.length ? `${r.problems.length} problem(s)` : 'ok'}`
            );
            for (const p of r.problems) log(`        ${p}`);
        }
        rows.push({
            part: 'crash',
            scenario: reports[0].scenario,
            dataset: reports[0].dataset,
            trials: reports.length,
            faults: reports.reduce((a, r) => a + r.kills, 0),
            reruns: reports.reduce((a, r) => a + r.reruns, 0),
            retried: '',
            deferred: 0,
            lost: reports.reduce((a, r) => a + r.lost, 0),
            problems: reports.flatMap((r) =>
                r.problems.map((p) => `seed ${r.seed}: ${p}`)
            ),
            seconds: reports.reduce((a, r) => a + r.durationMs, 0) / 1000
        });
    }
    return rows;
}

async function propertyRows(runs: number, base: number): Promise<Row[]> {
    if (runs === 0) return [];
    const started = Date.now();
    const stats: CaseStats = { cases: 0, jobRuns: 0, faultyRuns: 0, lost: 0 };
    const details = await fc.check(
        fc.asyncProperty(
            caseArb(24),
            fc.integer({ min: 1, max: 1e6 }),
            async (kase, seed) => {
                const problems = await runCase(kase, seed, stats);
                if (problems.length) throw new Error(problems.join('\n'));
            }
        ),
        { numRuns: runs, seed: 20260105 + base, endOnFailure: true }
    );
    const problems: string[] = [];
    if (details.failed)
        problems.push(
            `counterexample (fast-check seed ${details.seed}, path ${details.counterexamplePath ?? ''}): ${JSON.stringify(details.counterexample)}: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`
        );
    log(
        `props   ${details.numRuns} histories, ${stats.jobRuns} job runs (${stats.faultyRuns} with faults) — ${problems.length ? 'FAILED' : 'ok'}`
    );
    for (const p of problems) log(`        ${p}`);
    return [
        {
            part: 'properties',
            scenario: 'random histories (fast-check)',
            dataset: '6 persons, 6 records',
            trials: details.numRuns,
            faults: stats.faultyRuns,
            reruns: 0,
            retried: '',
            deferred: 0,
            lost: stats.lost,
            problems,
            seconds: (Date.now() - started) / 1000
        }
    ];
}

/** The PostgreSQL rows (see the file comment). */
async function postgresRows(trials: number, firstSeed: number): Promise<Row[]> {
    if (trials === 0) return [];
    const pg = postgresTestSetting();
    if (pg.kind !== 'run') {
        log(`postgres ${pg.reason}`);
        return pg.kind === 'fail'
            ? [
                  {
                      ...emptyRow('postgres', 'PostgreSQL rows'),
                      problems: [pg.reason]
                  }
              ]
            : [];
    }
    const rows: Row[] = [];
    const replicas: ReplicaReport[] = [];
    for (let t = 0; t < trials; t++) {
        const r = await runReplicaTrial({
            pgUrl: pg.url,
            seed: firstSeed + 200 + t,
            burst: 60
        });
        replicas.push(r);
        log(
            `postgres ${r.dataset.padEnd(28)} seed ${r.seed}: killed at ${r.killedAt}; ${r.accepted} accepted (${r.acceptedByA} by A, ${r.takenOverFromA} taken over by B), converged ${r.convergedAfterS.toFixed(1)} s after the kill, ${(r.durationMs / 1000).toFixed(1)} s — ${r.problems.length ? `${r.problems.length} problem(s)` : 'ok'}`
        );
        for (const p of r.problems) log(`        ${p}`);
    }
    rows.push({
        ...emptyRow('postgres', replicas[0].scenario),
        dataset: replicas[0].dataset,
        trials: replicas.length,
        faults: replicas.length,
        lost: replicas.reduce((a, r) => a + r.lost, 0),
        retried: `${replicas.reduce((a, r) => a + r.takenOverFromA, 0)} taken over`,
        problems: replicas.flatMap((r) =>
            r.problems.map((p) => `seed ${r.seed}: ${p}`)
        ),
        seconds: replicas.reduce((a, r) => a + r.durationMs, 0) / 1000
    });

    const cluster = await startOwnCluster();
    try {
        const size = { contacts: 60 };
        const base = await restartBaseline(cluster, size);
        const restarts: RestartReport[] = [];
        for (let t = 0; t < trials; t++) {
            // Every job hit, or one of them in turn.
            const hit = t % 4 === 0 ? JOB_ORDER : [JOB_ORDER[(t - 1) % 3]];
            const r = await runRestartTrial({
                cluster,
                size,
                seed: firstSeed + 300 + t,
                hit,
                baseline: base.snapshot,
                requestsPerJob: base.requestsPerJob
            });
            restarts.push(r);
            log(
                `postgres ${r.scenario.padEnd(40)} seed ${r.seed}: ${r.restarts} restart(s), ${r.hitRuns} run(s) ended LEDGER_UNAVAILABLE, ${r.unharmedRuns} unharmed, ${r.reruns} reruns, ${(r.durationMs / 1000).toFixed(1)} s — ${r.problems.length ? `${r.problems.length} problem(s)` : 'ok'}`
            );
            for (const p of r.problems) log(`        ${p}`);
        }
        rows.push({
            ...emptyRow('postgres', 'PostgreSQL restarted mid-run'),
            dataset: `${size.contacts} contacts`,
            trials: restarts.length,
            faults: restarts.reduce((a, r) => a + r.restarts, 0),
            reruns: restarts.reduce((a, r) => a + r.reruns, 0),
            deferred: restarts.reduce((a, r) => a + r.hitRuns, 0),
            lost: restarts.reduce((a, r) => a + r.lost, 0),
            problems: restarts.flatMap((r) =>
                r.problems.map((p) => `seed ${r.seed}: ${p}`)
            ),
            seconds: restarts.reduce((a, r) => a + r.durationMs, 0) / 1000
        });
    } finally {
        await cluster.stop();
    }

    const fleet: FleetReport[] = [];
    for (let t = 0; t < trials; t++) {
        const r = await runFleetTrial({
            pgUrl: pg.url,
            seed: firstSeed + 400 + t,
            contacts: 100
        });
        fleet.push(r);
        log(
            `postgres ${r.scenario.padEnd(40)} seed ${r.seed}: ${r.accepted} accepted, ${r.nightlyRuns} nightly run(s), ${r.pushRuns} push runs, ${r.reruns} reruns, ${(r.durationMs / 1000).toFixed(1)} s — ${r.problems.length ? `${r.problems.length} problem(s)` : 'ok'}`
        );
        for (const p of r.problems) log(`        ${p}`);
    }
    rows.push({
        ...emptyRow('postgres', fleet[0].scenario),
        dataset: fleet[0].dataset,
        trials: fleet.length,
        reruns: fleet.reduce((a, r) => a + r.reruns, 0),
        retried: `${fleet.reduce((a, r) => a + r.accepted, 0)} accepted`,
        lost: fleet.reduce((a, r) => a + r.lost, 0),
        problems: fleet.flatMap((r) =>
            r.problems.map((p) => `seed ${r.seed}: ${p}`)
        ),
        seconds: fleet.reduce((a, r) => a + r.durationMs, 0) / 1000
    });
    return rows;
}

function emptyRow(part: string, scenario: string): Row {
    return {
        part,
        scenario,
        dataset: '',
        trials: 0,
        faults: 0,
        reruns: 0,
        retried: '',
        deferred: 0,
        lost: 0,
        problems: [],
        seconds: 0
    };
}

export async function main(argv: readonly string[]): Promise<number> {
    let options: ReliabilityOptions;
    try {
        options = parseOptions(argv);
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`${err.message}\n${USAGE}\n`);
        return 2;
    }
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    const started = Date.now();
    const rows: Row[] = [];
    if (options.only.has('faults')) {
        rows.push(...(await faultRows(SMALL, options.seeds, options.seed + 1)));
        rows.push(
            ...(await faultRows(BULK, options.bulkSeeds, options.seed + 51))
        );
    }
    if (options.only.has('crash'))
        rows.push(...(await crashRows(options.crashTrials, options.seed)));
    if (options.only.has('properties'))
        rows.push(...(await propertyRows(options.propertyRuns, options.seed)));
    if (options.only.has('postgres'))
        rows.push(...(await postgresRows(options.pgTrials, options.seed)));

    const total = (k: 'trials' | 'faults' | 'reruns' | 'lost'): number =>
        rows.reduce((a, r) => a + r[k], 0);
    const problems = rows.flatMap((r) =>
        r.problems.map((p) => `${r.part} / ${r.scenario} / ${r.dataset}: ${p}`)
    );
    const table = renderTable(
        [
            'part',
            'scenario',
            'data set',
            'trials',
            'faults injected',
            'reruns needed',
            'retried',
            'deferred runs',
            'unsubscribes lost',
            'problems',
            's'
        ],
        [
            ...rows.map((r) => [
                r.part,
                r.scenario,
                r.dataset,
                r.trials,
                r.faults,
                r.reruns,
                r.retried,
                r.deferred,
                r.lost,
                r.problems.length,
                r.seconds.toFixed(0)
            ]),
            [
                'total',
                '',
                '',
                total('trials'),
                total('faults'),
                total('reruns'),
                '',
                rows.reduce((a, r) => a + r.deferred, 0),
                total('lost'),
                problems.length,
                ((Date.now() - started) / 1000).toFixed(0)
            ]
        ]
    );
    process.stdout.write(
        `${table}\nFaults injected: requests and records the local org failed (crash rows: SIGKILLs; properties: job runs under faults; postgres: replicas SIGKILLed, PostgreSQL restarts — its deferred runs are those that ended LEDGER_UNAVAILABLE).\n`
    );
    for (const p of problems) process.stdout.write(`PROBLEM ${p}\n`);
    process.stdout.write(
        problems.length || total('lost')
            ? `${problems.length} problem(s), ${total('lost')} unsubscribe(s) lost\n`
            : `No problem: nothing lost, nothing counted twice, every trial converged.\n`
    );
    if (options.json)
        writeFileSync(
            options.json,
            `${JSON.stringify({ options: { ...options, only: [...options.only] }, rows }, null, 2)}\n`
        );
    return problems.length || total('lost') ? 1 : 0;
}

// Run as a script (bin/run-ts sets argv[1] to this file), not when imported by a test.
if (process.argv[1] === __filename) {
    main(process.argv.slice(2))
        .then((code) => {
            process.exitCode = code;
        })
        .catch((err: unknown) => {
            process.stderr.write(
                `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`
            );
            process.exitCode = 1;
        });
}
