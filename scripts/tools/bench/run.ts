/**
 * `npm run bench [-- --size 10000,100000,1000000] [--latency 0,50] [--jobs …]
 * [--variants …] [--naive-sample N] [--out DIR] [--smoke]`; `--report` only regenerates
 * the Markdown page from the results folder (sizes measured by separate commands).
 *
 * For each size: a fresh file-backed local org (in a process of its own) and a fresh
 * ledger get the data set of layout.ts; both files are kept as a snapshot. Then for
 * each latency and each way (the sync, Collections only, one request per record) the
 * snapshot is copied and the jobs run in order, each in a new worker process against
 * an org process restarted on the copied database with the latency set — so that each
 * peak memory figure is one job's. Every measurement goes to a JSON file in the results
 * folder (rewritten after each job: a long run keeps what it measured) and the Markdown
 * page (README.md beside the results folder) is regenerated from every JSON file there.
 *
 * `--smoke` (CI): 10,000 persons, 0 ms, a small baseline sample, results in a temporary
 * folder, and checks that follow from the design — the expected writes, requests the
 * org confirms, a second nightly that writes nothing, request counts within bounds.
 */
import {
    copyFileSync,
    existsSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    rmSync,
    statSync,
    writeFileSync
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { OptoutError, errorMessage } from '../../model/errors';
import { PROJECT_ROOT, projectPath } from '../../model/project';
import { parseArgs, type BenchOptions } from './args';
import { Child, compiledPath } from './child';
import { admin, buildDataset, dateRecordsBack } from './dataset';
import {
    HOURLY_ROUNDS,
    NEWS,
    OFFERS,
    BENCH_MIRROR_LOOKBACK_MS,
    expected as expectedFor,
    hourlyChanges,
    person,
    type HourlyRound,
    pushBurstPersons,
    sizes as sizesOf,
    type Expected
} from './layout';
import { OrgHandle } from './org-handle';
import {
    checkOutcome,
    fmtInt,
    fmtSize,
    renderMarkdown,
    type Machine,
    type Measurement,
    type RunFile
} from './report';
import {
    createDatabase,
    databaseBytes,
    databaseName,
    dropDatabase,
    serverInfo,
    shownCommand
} from './pg-admin';
import {
    BENCH_JOBS,
    type BenchJob,
    type LedgerEngine,
    type Variant,
    type WorkerResult,
    type WorkerTask
} from './types';
import type { IntakeRunFile } from './intake-report';
import type { LocalOrgStats } from '../local-org/admin';

function log(line: string): void {
    process.stderr.write(`${line}\n`);
}

export function describeMachine(): Machine {
    const cpus = os.cpus();
    return {
        cpuModel: cpus[0]?.model.trim() ?? 'unknown',
        cores: cpus.length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.type()} ${os.release()} ${os.arch()}`,
        date: new Date().toISOString(),
        loadAverage: { start: os.loadavg()[0] }
    };
}

/** Copies a SQLite database (and its WAL/SHM files when present). */
function copyDb(from: string, to: string): void {
    for (const suffix of ['', '-wal', '-shm']) {
        rmSync(to + suffix, { force: true });
        if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
    }
}

/**
 * An hourly's changes in the ledger: round 0 is the 1 % of the data set (half
 * unsubscribe from news, their only audience, half join offers); later rounds are other
 * persons changing the same way (layout.ts hourlyChanges), `count` of them if given.
 */
export async function applyHourlyChanges(
    ledgerPath: string,
    n: number,
    round: HourlyRound = HOURLY_ROUNDS.first
): Promise<number> {
    const s = sizesOf(n);
    const changes = hourlyChanges(s, round);
    const ledger = await Ledger.open(ledgerPath);
    let changed = 0;
    try {
        await ledger.upsertAudience({ id: OFFERS.id, name: OFFERS.name });
        await ledger.transaction(async () => {
            for (const c of changes) {
                const p = person(c.i, s);
                const found = await ledger.findPerson(p.email);
                if (!found) throw new Error(`no ledger person ${p.email}`);
                await ledger.setMembershipStatus({
                    personId: found.id,
                    audienceId:
                        c.change === 'unsubscribe' ? NEWS.id : OFFERS.id,
                    status:
                        c.change === 'unsubscribe'
                            ? 'Unsubscribed'
                            : 'Subscribed',
                    source: 'platform',
                    ...(c.change === 'unsubscribe'
                        ? { reason: 'benchmark: left the newsletter' }
                        : {})
                });
                changed++;
            }
        });
    } finally {
        await ledger.close();
    }
    return changed;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Each job's place in the schedule the sequence stands for, as an offset of its clock
 * (runJob's `now`) from real time: the nightlies a day apart, then the hourlies an hour
 * apart. The jobs run minutes apart; without it, a nightly's 10-minute look-back would
 * reach back over the nightly before it. The push burst keeps real time (its
 * collected → delivered seconds are real).
 */
export const CLOCK_OFFSET_MS: Record<BenchJob, number> = {
    'nightly-cold': 0,
    'nightly-next': DAY,
    'nightly-again': 2 * DAY,
    'nightly-full': 3 * DAY,
    'hourly-first': 3 * DAY + HOUR,
    hourly: 3 * DAY + 2 * HOUR,
    'hourly-100': 3 * DAY + 3 * HOUR,
    'push-burst': 0
};

/** The hourly changes applied before each hourly job. */
export const HOURLY_ROUND_OF: Partial<Record<BenchJob, HourlyRound>> = {
    'hourly-first': HOURLY_ROUNDS.first,
    hourly: HOURLY_ROUNDS.warm,
    'hourly-100': HOURLY_ROUNDS.hundred
};

/**
 * What a job needs run before it (the state it is measured on): the night after the
 * cold run needs the cold run; the quiet night a nightly that changed nothing (the
 * night after); the full one with nothing new a reconciled org; a warm hourly an hourly
 * before it (which read the org into the mirror).
 */
export const NEEDS: Partial<Record<BenchJob, BenchJob>> = {
    'nightly-next': 'nightly-cold',
    'nightly-again': 'nightly-next',
    'nightly-full': 'nightly-cold',
    hourly: 'hourly-first',
    'hourly-100': 'hourly-first'
};

export interface SequenceStep {
    job: BenchJob;
    /** False: run to set the state up (what a job not asked for would leave), not measured. */
    measured: boolean;
    /**
     * An hourly with 100 other changes half an hour before the measured hourly-100: the
     * hour before it changed about as much, so that its mirror re-reads what a steady
     * 100 changes an hour write (not the 1 % hourly's rows).
     */
    settle?: true;
}

/** How long before hourly-100 its settling hourly runs (in the schedule). */
const SETTLE_BEFORE_MS = 30 * 60_000;

/**
 * The steps of a sequence: the jobs asked for, in the canonical order, each preceded by
 * the jobs it needs (unmeasured) when they are not asked for.
 */
export function sequencePlan(jobs: readonly BenchJob[]): SequenceStep[] {
    const wanted = BENCH_JOBS.filter((j) => jobs.includes(j));
    const steps: SequenceStep[] = [];
    const ran = new Set<BenchJob>();
    const add = (job: BenchJob, measured: boolean): void => {
        const need = NEEDS[job];
        if (need && !ran.has(need)) add(need, false);
        if (job === 'hourly-100')
            steps.push({ job, measured: false, settle: true });
        steps.push({ job, measured });
        ran.add(job);
    };
    for (const job of wanted) add(job, true);
    return steps;
}

const sleepMs = (ms: number): Promise<void> =>
    ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();

/** Work items of a job, the denominator of records per second. */
function workItems(job: BenchJob, e: Expected): number {
    if (job === 'hourly-first') return e.hourlyChanges;
    if (job === 'hourly') return e.hourlyWarm?.changes ?? 0;
    if (job === 'hourly-100') return e.hourly100?.changes ?? 0;
    if (job === 'push-burst') return e.pushUnsubscribes;
    return e.salesforceRecords;
}

async function runWorker(
    task: WorkerTask,
    heapMb: number
): Promise<WorkerResult> {
    const child = new Child<WorkerResult | { type: 'error'; message: string }>(
        'worker.ts',
        'BENCH_TASK',
        task,
        heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [],
        // The sync as shipped: compiled, run by Node alone (buildDist, before the run).
        { compiled: true }
    );
    try {
        const result = await child.next<WorkerResult>('result');
        // It exits once its handles close; do not wait for ever on a stray socket.
        await Promise.race([
            child.exited(),
            new Promise((r) => setTimeout(r, 10_000).unref())
        ]);
        return result;
    } finally {
        child.kill();
    }
}

/**
 * Builds dist/ as `npm run build` does (emptied first, then tsc on tsconfig.build.json)
 * so that the measured jobs run the compiled code of this checkout, as bin/optout does,
 * never a stale build (an old file of a module since moved would be resolved first); a
 * build that fails stops the run.
 */
export function buildDist(): void {
    const t0 = Date.now();
    try {
        rmSync(projectPath('dist'), { recursive: true, force: true });
        execFileSync(
            process.execPath,
            [
                require.resolve('typescript/bin/tsc'),
                '-p',
                projectPath('tsconfig.build.json')
            ],
            { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit'] }
        );
    } catch (err) {
        throw new OptoutError(
            'BUILD_FAILED',
            `The benchmark runs the compiled sync, and building it failed: ${errorMessage(err)}`,
            { actions: ['Fix what `npm run build` reports, then run again.'] }
        );
    }
    if (!existsSync(compiledPath('worker.ts')))
        throw new OptoutError(
            'BUILD_FAILED',
            `The build wrote no ${compiledPath('worker.ts')}.`,
            {
                actions: [
                    'Check tsconfig.build.json: it must include scripts/tools/bench.'
                ]
            }
        );
    log(`dist/ built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Where a size's ledgers live: the SQLite snapshot file, the PostgreSQL snapshot database. */
interface LedgerPlace {
    /** The folder of the size's files. */
    dir: string;
    /** The server of the PostgreSQL databases, when postgres is measured. */
    pgUrl?: string;
    /** Prefix of this run's database names (unique per run and size). */
    dbPrefix: string;
}

interface SizeState extends LedgerPlace {
    orgSnapshot: string;
    /** The data set's ledger on each engine measured (a file path, a database name). */
    ledgerSnapshots: Partial<Record<LedgerEngine, string>>;
    expected: Expected;
    burst: number[];
}

/** The engines a run measures (the default: the SQLite file of every run before). */
export function enginesOf(
    opts: Pick<BenchOptions, 'ledgerEngines'>
): LedgerEngine[] {
    return opts.ledgerEngines ?? ['sqlite'];
}

function serverOf(place: LedgerPlace): string {
    if (!place.pgUrl)
        throw new Error('no PostgreSQL server (--pg-url, $OPTOUT_TEST_PG_URL)');
    return place.pgUrl;
}

/**
 * A new ledger of `engine` for the data set, as Ledger.open takes it, and its name in
 * the size's place: a SQLite file, or an empty PostgreSQL database.
 */
async function newLedger(
    place: LedgerPlace,
    engine: LedgerEngine,
    name: string
): Promise<{ location: string; snapshot: string }> {
    if (engine === 'sqlite') {
        const path = join(place.dir, `${name}.db`);
        return { location: path, snapshot: path };
    }
    const database = databaseName(place.dbPrefix, name);
    return {
        location: await createDatabase(serverOf(place), database),
        snapshot: database
    };
}

/** A copy of a size's snapshot for one sequence of jobs, and how to remove it. */
async function copyLedger(
    place: LedgerPlace,
    engine: LedgerEngine,
    snapshot: string,
    name: string
): Promise<{ location: string; remove: () => Promise<void> }> {
    if (engine === 'sqlite') {
        const path = join(place.dir, `${name}.db`);
        copyDb(snapshot, path);
        return {
            location: path,
            remove: () => {
                for (const suffix of ['', '-wal', '-shm'])
                    rmSync(path + suffix, { force: true });
                return Promise.resolve();
            }
        };
    }
    const server = serverOf(place);
    const database = databaseName(place.dbPrefix, name);
    return {
        location: await createDatabase(server, database, snapshot),
        remove: () => dropDatabase(server, database)
    };
}

async function prepareSize(
    n: number,
    opts: BenchOptions,
    run: RunFile,
    save: () => void
): Promise<SizeState> {
    const dir = mkdtempSync(join(os.tmpdir(), `optout-bench-${fmtSize(n)}-`));
    const place: LedgerPlace = {
        dir,
        ...(opts.pgUrl ? { pgUrl: opts.pgUrl } : {}),
        dbPrefix: databaseName(
            'optout_bench',
            run.startedAt.slice(0, 19).replace(/\D/g, ''),
            fmtSize(n)
        )
    };
    const orgSnapshot = join(dir, 'snapshot-org.db');
    log(`${fmtSize(n)}: building the data set in ${dir}`);
    const t0 = Date.now();
    const ledgerSnapshots: SizeState['ledgerSnapshots'] = {};
    const state: SizeState = {
        ...place,
        orgSnapshot,
        ledgerSnapshots,
        expected: expectedFor(n),
        burst: pushBurstPersons(sizesOf(n))
    };
    try {
        const targets = [];
        for (const which of enginesOf(opts)) {
            const l = await newLedger(place, which, 'snapshot-ledger');
            ledgerSnapshots[which] = l.snapshot;
            // Phases named by engine only in an engine comparison (older runs' names).
            targets.push({
                location: l.location,
                ...(opts.ledgerEngines ? { label: which } : {})
            });
        }
        const org = await OrgHandle.start({ dbPath: orgSnapshot });
        let build;
        try {
            build = await buildDataset(org, targets, n, log);
        } finally {
            await org.stop();
        }
        const t1 = Date.now();
        for (const [object, rows] of Object.entries(
            dateRecordsBack(orgSnapshot)
        ))
            build.counts[`${object} rows dated back`] = rows;
        build.seconds['date the records back'] = (Date.now() - t1) / 1000;
        run.datasets[String(n)] = {
            expected: state.expected,
            build,
            orgDbBytes: statSync(orgSnapshot).size,
            ...(ledgerSnapshots.sqlite
                ? { ledgerDbBytes: statSync(ledgerSnapshots.sqlite).size }
                : {}),
            ...(ledgerSnapshots.postgres
                ? {
                      postgresLedgerBytes: await databaseBytes(
                          serverOf(place),
                          ledgerSnapshots.postgres
                      )
                  }
                : {})
        };
    } catch (err) {
        await disposeSize(state);
        throw err;
    }
    save();
    log(
        `${fmtSize(n)}: data set ready in ${((Date.now() - t0) / 1000).toFixed(0)} s — ${fmtInt(state.expected.salesforceRecords)} records, ${fmtInt(state.expected.ledgerUnsubscribes)} ledger unsubscribes`
    );
    return state;
}

/** The size's ledger on that engine (a file path, a database name). */
function snapshotOf(state: SizeState, kind: LedgerEngine): string {
    const snapshot = state.ledgerSnapshots[kind];
    if (!snapshot) throw new Error(`no ${kind} ledger for this size`);
    return snapshot;
}

/** Removes a size's files and its PostgreSQL snapshot database. */
async function disposeSize(state: SizeState): Promise<void> {
    rmSync(state.dir, { recursive: true, force: true });
    if (state.ledgerSnapshots.postgres)
        await dropDatabase(serverOf(state), state.ledgerSnapshots.postgres);
}

async function measureSequence(
    opts: BenchOptions,
    state: SizeState,
    n: number,
    latencyMs: number,
    variant: Variant,
    engine: LedgerEngine,
    onMeasurement: (m: Measurement) => void
): Promise<void> {
    // The SQLite names of every run before; the engine in them only in a comparison.
    const name = `${latencyMs}-${variant}${opts.ledgerEngines ? `-${engine}` : ''}`;
    const orgDb = join(state.dir, `org-${name}.db`);
    copyDb(state.orgSnapshot, orgDb);
    const snapshot = snapshotOf(state, engine);
    const ledger = await copyLedger(state, engine, snapshot, `ledger-${name}`);
    const ledgerDb = ledger.location;
    let sampledBefore = false;
    /** The jobs run before, not measured (the state they leave is the one measured). */
    const setUp: BenchJob[] = [];
    /** When the last hourly ended (real time), for the look-back's gap. */
    let lastHourlyEnd = 0;
    try {
        for (const { job, measured, settle } of sequencePlan(opts.jobs)) {
            const round = settle
                ? HOURLY_ROUNDS.hundredSettle
                : HOURLY_ROUND_OF[job];
            if (round) await applyHourlyChanges(ledgerDb, n, round);
            if (job.startsWith('hourly'))
                await sleepMs(
                    lastHourlyEnd + BENCH_MIRROR_LOOKBACK_MS + 1000 - Date.now()
                );
            const org = await OrgHandle.start({ dbPath: orgDb, latencyMs });
            let result: WorkerResult;
            let stats: LocalOrgStats;
            let orgMemory;
            try {
                result = await runWorker(
                    {
                        org: {
                            instanceUrl: org.instanceUrl,
                            accessToken: org.accessToken
                        },
                        ledgerPath: ledgerDb,
                        job,
                        variant,
                        n,
                        naiveSample: opts.naiveSample,
                        burstPersons: job === 'push-burst' ? state.burst : [],
                        clockOffsetMs:
                            CLOCK_OFFSET_MS[job] -
                            (settle ? SETTLE_BEFORE_MS : 0),
                        ...(measured ? {} : { unmeasured: true }),
                        ...(opts.bulkJobSize ||
                        opts.bulkThreshold ||
                        opts.restPageSize
                            ? {
                                  clientOptions: {
                                      ...(opts.bulkJobSize
                                          ? { bulkJobSize: opts.bulkJobSize }
                                          : {}),
                                      ...(opts.bulkThreshold
                                          ? {
                                                bulkThreshold:
                                                    opts.bulkThreshold
                                            }
                                          : {}),
                                      ...(opts.restPageSize
                                          ? {
                                                restPageSize: opts.restPageSize
                                            }
                                          : {})
                                  }
                              }
                            : {})
                    },
                    opts.heapMb
                );
                stats = await admin<LocalOrgStats>(org, 'stats');
                orgMemory = await org.memory();
            } finally {
                await org.stop();
            }
            if (job.startsWith('hourly')) lastHourlyEnd = Date.now();
            if (!measured) {
                log(
                    `${fmtSize(n)} ${latencyMs} ms ${variant} ${job}: run first, not measured (${result.status}, ${fmtInt(result.apiRequests)} requests, ${(result.wallMs / 1000).toFixed(2)} s)`
                );
                if (result.naive?.extrapolated) sampledBefore = true;
                setUp.push(job);
                continue;
            }
            // A nightly's work: the records it read (incremental: what changed), when the
            // sync says; else (a baseline) every record.
            const records =
                result.reconciliation?.recordsRead ??
                workItems(job, state.expected);
            const m: Measurement = {
                size: n,
                latencyMs,
                variant,
                job,
                ...(opts.ledgerEngines ? { ledgerEngine: engine } : {}),
                wallMs: result.wallMs,
                apiRequests: result.apiRequests,
                orgRequests: stats.totalRequests,
                orgRequestsByKind: stats.byKind,
                records,
                recordsPerSecond:
                    result.wallMs > 0 ? (records * 1000) / result.wallMs : 0,
                recordsWritten: result.recordsWritten,
                membershipsUpserted: result.membershipsUpserted,
                ledgerUnsubscribesAdded: result.ledgerUnsubscribesAdded,
                unsubscribesDelivered: result.unsubscribesDelivered,
                status: result.status,
                failed: result.failed,
                retried: result.retried,
                skipped: result.skipped,
                modes: result.modes,
                ...(result.pushes !== undefined
                    ? { pushes: result.pushes }
                    : {}),
                ...(result.deliverySeconds
                    ? { deliverySeconds: result.deliverySeconds }
                    : {}),
                ...(result.naive ? { naive: result.naive } : {}),
                ...(result.reconciliation
                    ? { reconciliation: result.reconciliation }
                    : {}),
                ...(setUp.length ? { setUp: [...setUp] } : {}),
                ...(result.phases ? { phases: result.phases } : {}),
                ...(result.timeline ? { timeline: result.timeline } : {}),
                syncMemory: result.memory,
                orgMemory,
                check: checkOutcome(
                    job,
                    variant,
                    result,
                    state.expected,
                    result.naive?.extrapolated,
                    sampledBefore
                )
            };
            if (result.naive?.extrapolated) sampledBefore = true;
            log(
                `${fmtSize(n)} ${latencyMs} ms ${opts.ledgerEngines ? `${engine.padEnd(8)} ` : ''}${variant.padEnd(11)} ${job.padEnd(13)} ${fmtInt(m.apiRequests).padStart(8)} requests (org ${fmtInt(m.orgRequests)}), ${(m.wallMs / 1000).toFixed(2)} s, sync ${Math.round(m.syncMemory.maxRssBytes / 2 ** 20)} MiB, org ${Math.round(orgMemory.maxRssBytes / 2 ** 20)} MiB — ${m.check}`
            );
            onMeasurement(m);
        }
    } finally {
        for (const suffix of ['', '-wal', '-shm'])
            rmSync(orgDb + suffix, { force: true });
        await ledger.remove();
    }
}

/** Bounds the smoke run checks: they follow from the design, not from timings. */
export function smokeProblems(ms: readonly Measurement[]): string[] {
    const problems: string[] = [];
    const get = (job: BenchJob, variant: Variant): Measurement[] =>
        ms.filter((m) => m.job === job && m.variant === variant);
    for (const m of ms) {
        if (m.check !== 'ok')
            problems.push(`${m.variant} ${m.job}: ${m.check}`);
        if (m.variant !== 'naive' && m.apiRequests !== m.orgRequests)
            problems.push(
                `${m.variant} ${m.job}: the sync counted ${m.apiRequests} requests, the org served ${m.orgRequests}`
            );
        if (m.status !== 'succeeded')
            problems.push(`${m.variant} ${m.job}: status ${m.status}`);
    }
    for (const m of get('nightly-cold', 'sync')) {
        // Reads: ~1 request per 2,000 records (REST) or a few per 50,000 (Bulk); writes:
        // ~1 per 200 (Collections) or ~8 per Bulk job; plus settings and describes.
        const bound =
            8 +
            2 * Math.ceil(m.records / 2000) +
            Math.ceil(m.recordsWritten / 200);
        if (m.apiRequests > bound)
            problems.push(
                `nightly of ${m.size}: ${m.apiRequests} requests, more than ${bound}`
            );
    }
    for (const job of [
        'nightly-next',
        'nightly-again',
        'nightly-full'
    ] as const)
        for (const m of get(job, 'sync'))
            if (m.recordsWritten !== 0 || m.ledgerUnsubscribesAdded !== 0)
                problems.push(
                    `${job} (after the cold nightly) wrote ${m.recordsWritten} records`
                );
    for (const m of get('nightly-again', 'sync'))
        // A quiet night reads what changed since the night before: nothing, but the
        // settings, describes and a query per object (R16).
        if (m.reconciliation && m.reconciliation.mode !== 'incremental')
            problems.push(
                `nightly-again ran ${m.reconciliation.mode}: ${m.reconciliation.reason}`
            );
    for (const m of get('nightly-full', 'sync'))
        if (m.reconciliation && m.reconciliation.mode !== 'full')
            problems.push(`nightly-full ran ${m.reconciliation.mode}`);
    for (const m of get('push-burst', 'sync')) {
        // R2: each push reads settings, the records (a query or two per object) and
        // writes ≤ 200 records a request; a burst of 1,000 is about five pushes.
        const bound = 10 * Math.max(1, m.pushes ?? 1);
        if (m.apiRequests > bound || (m.pushes ?? 0) > 12)
            problems.push(
                `push burst: ${m.apiRequests} requests in ${m.pushes} pushes`
            );
    }
    for (const job of ['hourly-first', 'hourly', 'hourly-100'] as const)
        for (const m of get(job, 'sync')) {
            // Settings, describes, the check for records created since the last run
            // (a query per object), the persons' records and memberships (or, the
            // first time, the org read into the mirror: Contacts, Leads and
            // memberships, ≤ 3 × persons rows in REST pages of 2,000 at worst), then
            // the writes.
            const bound =
                14 +
                (job === 'hourly-first' ? Math.ceil((3 * m.size) / 2000) : 0) +
                Math.ceil((m.membershipsUpserted + m.recordsWritten) / 200);
            if (m.apiRequests > bound)
                problems.push(
                    `${job}: ${m.apiRequests} requests, more than ${bound}`
                );
        }
    return problems;
}

/** The runs of one kind in the results folder (file name order: oldest first). */
function readRunsOf<T extends { kind: string }>(
    dir: string,
    kind: T['kind']
): { runs: T[]; files: string[] } {
    if (!existsSync(dir)) return { runs: [], files: [] };
    const files = readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort();
    const runs: T[] = [];
    const names: string[] = [];
    for (const f of files) {
        try {
            const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as T;
            if (r.kind === kind) {
                runs.push(r);
                names.push(f);
            }
        } catch {
            log(`skipping ${f}: not a benchmark result`);
        }
    }
    return { runs, files: names };
}

function readRuns(dir: string): { runs: RunFile[]; files: string[] } {
    return readRunsOf<RunFile>(dir, 'optout-bench');
}

/** Writes a file as the repository's prettier settings format it (npm test checks them). */
export async function writeFormatted(
    file: string,
    text: string
): Promise<void> {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    writeFileSync(
        file,
        await prettier.format(text, { ...options, filepath: file })
    );
}

/**
 * Regenerates README.md (beside the results folder) from every run in it: the sync's
 * runs of `npm run bench` and, in a section of its own, those of `npm run bench:intake`.
 */
export async function writeReadme(outDir: string): Promise<string> {
    const { runs, files } = readRuns(outDir);
    const intake = readRunsOf<IntakeRunFile>(outDir, 'optout-bench-intake');
    const readme = join(dirname(outDir), 'README.md');
    await writeFormatted(readme, renderMarkdown(runs, files, intake));
    log(
        `table: ${readme} (from ${files.length + intake.files.length} run(s) in ${basename(outDir)}/)`
    );
    return readme;
}

/**
 * Runs the benchmark as `opts` say and returns the run (also written to its JSON
 * file; the folder is temporary, and removed, when `opts.out` is empty).
 */
export async function runBench(
    opts: BenchOptions,
    command = 'npm run bench'
): Promise<RunFile> {
    const outDir =
        opts.out || mkdtempSync(join(os.tmpdir(), 'optout-bench-results-'));
    mkdirSync(outDir, { recursive: true });
    const startedAt = new Date().toISOString();
    const run: RunFile = {
        kind: 'optout-bench',
        version: 1,
        startedAt,
        command,
        machine: describeMachine(),
        sizes: opts.sizes,
        latencies: opts.latencies,
        naiveSample: opts.naiveSample,
        heapMb: opts.heapMb,
        syncProcess: 'dist',
        ...(opts.bulkJobSize ? { bulkJobSize: opts.bulkJobSize } : {}),
        ...(opts.bulkThreshold ? { bulkThreshold: opts.bulkThreshold } : {}),
        ...(opts.restPageSize ? { restPageSize: opts.restPageSize } : {}),
        ...(opts.ledgerEngines ? { ledgerEngines: opts.ledgerEngines } : {}),
        datasets: {},
        measurements: []
    };
    const file = join(
        outDir,
        `${startedAt.slice(0, 19).replace(/:/g, '-')}Z-${[...opts.sizes.map(fmtSize), ...(opts.ledgerEngines ?? [])].join('-')}.json`
    );
    const save = (): void => {
        run.machine.loadAverage.end = os.loadavg()[0];
        writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    };
    if (opts.ledgerEngines?.includes('postgres') && opts.pgUrl)
        run.postgres = await serverInfo(opts.pgUrl);
    log(
        `${run.machine.cpuModel}, ${run.machine.cores} cores, ${run.machine.memoryGiB} GiB, Node ${run.machine.node}; load ${run.machine.loadAverage.start.toFixed(1)}`
    );
    buildDist();
    try {
        for (const n of opts.sizes) {
            const state = await prepareSize(n, opts, run, save);
            try {
                // Engines innermost: both measured on the same data set, back to back.
                for (const latencyMs of opts.latencies)
                    for (const variant of opts.variants)
                        for (const engine of enginesOf(opts))
                            await measureSequence(
                                opts,
                                state,
                                n,
                                latencyMs,
                                variant,
                                engine,
                                (m) => {
                                    run.measurements.push(m);
                                    save();
                                }
                            );
            } finally {
                await disposeSize(state);
            }
        }
        run.finishedAt = new Date().toISOString();
        save();
        if (opts.out) await writeFormatted(file, readFileSync(file, 'utf8'));
        log(`results: ${file}`);
        if (opts.readme) await writeReadme(outDir);
    } finally {
        if (!opts.out) rmSync(outDir, { recursive: true, force: true });
    }
    return run;
}

export async function main(argv: readonly string[]): Promise<number> {
    const opts = parseArgs(argv);
    if (opts.reportOnly) {
        if (!existsSync(opts.out))
            throw new OptoutError(
                'NOT_FOUND',
                `No results folder ${opts.out}.`,
                { actions: ['Run `npm run bench` first.'] }
            );
        for (const f of [
            ...readRuns(opts.out).files,
            ...readRunsOf<IntakeRunFile>(opts.out, 'optout-bench-intake').files
        ]) {
            const path = join(opts.out, f);
            await writeFormatted(path, readFileSync(path, 'utf8'));
        }
        await writeReadme(opts.out);
        return 0;
    }
    const run = await runBench(
        opts,
        `npm run bench -- ${shownCommand(argv)}`.trim()
    );
    if (!opts.smoke) return 0;
    const problems = smokeProblems(run.measurements);
    for (const p of problems) log(`smoke: ${p}`);
    if (!problems.length)
        log(`smoke: ${run.measurements.length} measurements within bounds`);
    return problems.length ? 1 : 0;
}

// Run as a script (bin/run-ts sets argv[1] to this file), not when imported by a test.
if (process.argv[1] === __filename) {
    main(process.argv.slice(2))
        .then((code) => {
            process.exitCode = code;
        })
        .catch((err: unknown) => {
            if (err instanceof OptoutError) {
                process.stderr.write(
                    `${err.message}\n${err.actions.map((a) => `  ${a}\n`).join('')}`
                );
                process.exitCode = err.exitCode;
                return;
            }
            process.stderr.write(
                `${err instanceof Error ? (err.stack ?? errorMessage(err)) : String(err)}\n`
            );
            process.exitCode = 1;
        });
}
