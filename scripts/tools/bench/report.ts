/**
 * The benchmark's results: the JSON shape of a run, the growth fit (slope of
 * log(cost) against log(size)), the ratios against the baselines, and the Markdown
 * page regenerated from every run in the results folder. Pure functions only.
 */
import type { Expected } from './layout';
import {
    BENCH_JOBS,
    type BenchJob,
    type LedgerEngine,
    type Variant,
    type WorkerResult
} from './types';
import { renderIntakeSection, type IntakeRunFile } from './intake-report';

export interface Machine {
    cpuModel: string;
    cores: number;
    memoryGiB: number;
    node: string;
    platform: string;
    date: string;
    /** 1-minute load average when the run started and ended (other work on the machine). */
    loadAverage: { start: number; end?: number };
}

export interface Measurement {
    size: number;
    latencyMs: number;
    variant: Variant;
    job: BenchJob;
    /** The ledger's engine, in an engine comparison (absent: the default SQLite file). */
    ledgerEngine?: LedgerEngine;
    wallMs: number;
    /** Requests the sync (or the baseline) counted. */
    apiRequests: number;
    /** Requests the org served during the job (its /local/stats), sampled part only for an extrapolated baseline. */
    orgRequests: number;
    orgRequestsByKind: Record<string, number>;
    /** Work items the job handled (records reconciled, changes, unsubscribes). */
    records: number;
    recordsPerSecond: number;
    recordsWritten: number;
    membershipsUpserted: number;
    ledgerUnsubscribesAdded: number;
    unsubscribesDelivered: number;
    status: string;
    failed: number;
    retried?: { requests: number; records: number };
    skipped: Record<string, number>;
    modes: Record<string, string>;
    pushes?: number;
    deliverySeconds?: { median: number; max: number };
    naive?: WorkerResult['naive'];
    /** Nightly (R16): full or incremental, why, and the records it read. */
    reconciliation?: WorkerResult['reconciliation'];
    /** Jobs run before this one in its sequence and not measured (not asked for). */
    setUp?: BenchJob[];
    phases?: WorkerResult['phases'];
    timeline?: string[];
    syncMemory: WorkerResult['memory'];
    orgMemory: { maxRssBytes: number; sampledPeakBytes: number };
    /** Against the data set's expected outcome: 'ok' or what differs. */
    check: string;
}

export interface RunFile {
    kind: 'optout-bench';
    version: 1;
    startedAt: string;
    finishedAt?: string;
    command: string;
    machine: Machine;
    sizes: number[];
    latencies: number[];
    naiveSample: number;
    /** V8 old-space limit of the job processes, MiB (0: Node's default). */
    heapMb?: number;
    /**
     * How the measured jobs ran: `dist` — compiled (dist/, as bin/optout runs), with a
     * jsforce connection alone and @salesforce/core loaded, as against a real org.
     * Absent (the runs before): through tsx, with the local org's simulator loaded.
     */
    syncProcess?: 'dist';
    /** Records per Bulk ingest job, when a run set it (default 100,000). */
    bulkJobSize?: number;
    /** The client's bulk threshold and REST page size, when a run set them. */
    bulkThreshold?: number;
    restPageSize?: number;
    /**
     * An engine comparison (--ledger-engine): the engines its ledger was on, each with
     * the same org data set. Absent: the default SQLite ledger (the main tables' runs).
     */
    ledgerEngines?: LedgerEngine[];
    /** The PostgreSQL server of a comparison's postgres ledgers (its figures depend on them). */
    postgres?: { version: string; fsync: string; synchronousCommit: string };
    datasets: Record<
        string,
        {
            expected: Expected;
            build: {
                seconds: Record<string, number>;
                counts: Record<string, number>;
            };
            orgDbBytes: number;
            /** The SQLite ledger file (absent when only PostgreSQL was measured). */
            ledgerDbBytes?: number;
            /** The PostgreSQL ledger database (pg_database_size), when measured. */
            postgresLedgerBytes?: number;
        }
    >;
    measurements: Measurement[];
}

/** What a job's "records" are, for records per second. */
export const RECORDS_OF: Record<BenchJob, string> = {
    'nightly-cold': 'Contacts and Leads read',
    'nightly-next': 'Contacts and Leads read (what changed)',
    'nightly-again': 'Contacts and Leads read (what changed)',
    'nightly-full': 'Contacts and Leads read',
    'hourly-first': 'membership changes',
    hourly: 'membership changes',
    'hourly-100': 'membership changes',
    'push-burst': 'unsubscribes delivered'
};

export const ENGINE_TITLE: Record<LedgerEngine, string> = {
    sqlite: 'SQLite',
    postgres: 'PostgreSQL'
};

export const JOB_TITLE: Record<BenchJob, string> = {
    'nightly-cold': 'nightly, cold',
    'nightly-next': 'nightly, the night after',
    'nightly-again': 'nightly, nothing new',
    'nightly-full': 'nightly, full, nothing new',
    'hourly-first': 'hourly, first, 1 % changes',
    hourly: 'hourly, 1 % changes',
    'hourly-100': 'hourly, 100 changes',
    'push-burst': 'push, burst of 1,000'
};

export const VARIANT_TITLE: Record<Variant, string> = {
    sync: 'sync',
    collections: 'Collections only',
    naive: 'one request per record'
};

/**
 * Least-squares slope of log(y) against log(x): cost ∝ size^slope. Null with fewer
 * than two distinct sizes or a non-positive value (a log of 0 says nothing).
 */
export function logLogSlope(
    points: readonly { x: number; y: number }[]
): number | null {
    const pts = points.filter((p) => p.x > 0 && p.y > 0);
    if (new Set(pts.map((p) => p.x)).size < 2) return null;
    const xs = pts.map((p) => Math.log(p.x));
    const ys = pts.map((p) => Math.log(p.y));
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    let num = 0;
    let den = 0;
    for (let i = 0; i < xs.length; i++) {
        num += (xs[i] - mx) * (ys[i] - my);
        den += (xs[i] - mx) ** 2;
    }
    return den === 0 ? null : num / den;
}

/** Compares a measurement with the data set's expected outcome. */
export function checkOutcome(
    job: BenchJob,
    variant: Variant,
    got: Pick<
        Measurement,
        | 'recordsWritten'
        | 'membershipsUpserted'
        | 'ledgerUnsubscribesAdded'
        | 'unsubscribesDelivered'
        | 'failed'
    >,
    e: Expected,
    extrapolated = false,
    /** An earlier job of the sequence was sampled: the state differs from the full run's. */
    afterSample = false
): string {
    const wants: [string, number, number][] = [];
    const hourly: Partial<Record<BenchJob, Expected['hourlyWarm']>> = {
        'hourly-first': {
            changes: e.hourlyChanges,
            upserts: e.hourlyUpserts,
            ruleWrites: e.hourlyRuleWrites
        },
        hourly: e.hourlyWarm,
        'hourly-100': e.hourly100
    };
    if (job === 'nightly-cold') {
        wants.push(['records written', got.recordsWritten, e.nightlyWrites]);
        wants.push([
            'ledger unsubscribes added',
            got.ledgerUnsubscribesAdded,
            e.nightlyLedgerAdds
        ]);
    } else if (job.startsWith('nightly')) {
        // Every nightly after the cold one: the org and the ledger agree already.
        wants.push(['records written', got.recordsWritten, 0]);
        if (variant !== 'naive')
            wants.push([
                'ledger unsubscribes added',
                got.ledgerUnsubscribesAdded,
                0
            ]);
    } else if (job.startsWith('hourly')) {
        const want = hourly[job];
        if (!want) return 'no expected outcome in the data set';
        wants.push([
            'memberships upserted',
            got.membershipsUpserted,
            want.upserts
        ]);
        // After a sampled nightly, some unsubscribed persons' records are still false
        // and R5b writes them too: only the upserts compare.
        if (!afterSample)
            wants.push([
                'records written (R5b)',
                got.recordsWritten,
                want.ruleWrites
            ]);
    } else {
        wants.push([
            'unsubscribes delivered',
            got.unsubscribesDelivered,
            e.pushUnsubscribes
        ]);
        wants.push(['records written', got.recordsWritten, e.pushWrites]);
    }
    const off: string[] = [];
    if (got.failed > 0) off.push(`${got.failed} failed`);
    for (const [what, g, w] of wants) {
        // An extrapolated baseline scales a sample of persons whose record counts
        // vary (0, 1 or 2): allow the sampling error (a few % at 100 persons).
        const tolerance = extrapolated ? Math.max(2, Math.ceil(w * 0.1)) : 0;
        if (Math.abs(g - w) > tolerance)
            off.push(`${what} ${g}, expected ${w}`);
    }
    return off.length ? off.join('; ') : 'ok';
}

/** The latest measurement for each (size, latency, variant, job, ledger engine) across runs. */
export function latest(runs: readonly RunFile[]): Measurement[] {
    const byKey = new Map<string, { at: string; m: Measurement }>();
    for (const run of runs)
        for (const m of run.measurements) {
            const key = `${m.size}|${m.latencyMs}|${m.variant}|${m.job}|${m.ledgerEngine ?? ''}`;
            const prev = byKey.get(key);
            if (!prev || prev.at <= run.startedAt)
                byKey.set(key, { at: run.startedAt, m });
        }
    return [...byKey.values()].map((v) => v.m);
}

export interface Growth {
    job: BenchJob;
    variant: Variant;
    latencyMs: number;
    sizes: number[];
    requestsSlope: number | null;
    timeSlope: number | null;
    memorySlope: number | null;
    /** Of the heap kept after full GCs (measurements that have it). */
    heapSlope: number | null;
}

/** Slopes per (job, variant, latency) over the sizes measured. */
export function growth(ms: readonly Measurement[]): Growth[] {
    const groups = new Map<string, Measurement[]>();
    for (const m of ms) {
        const key = `${m.job}|${m.variant}|${m.latencyMs}`;
        groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    const out: Growth[] = [];
    for (const list of groups.values()) {
        const { job, variant, latencyMs } = list[0];
        out.push({
            job,
            variant,
            latencyMs,
            sizes: list.map((m) => m.size).sort((a, b) => a - b),
            requestsSlope: logLogSlope(
                list.map((m) => ({ x: m.size, y: m.apiRequests }))
            ),
            timeSlope: logLogSlope(
                list.map((m) => ({ x: m.size, y: m.wallMs }))
            ),
            memorySlope: logLogSlope(
                list.map((m) => ({ x: m.size, y: m.syncMemory.maxRssBytes }))
            ),
            // Only over the same sizes as the others (older runs lack the figure).
            heapSlope: list.every(
                (m) => m.syncMemory.heapAfterGcBytes !== undefined
            )
                ? logLogSlope(
                      list.map((m) => ({
                          x: m.size,
                          y: m.syncMemory.heapAfterGcBytes ?? 0
                      }))
                  )
                : null
        });
    }
    return out.sort(
        (a, b) =>
            order(a.job, b.job) ||
            a.latencyMs - b.latencyMs ||
            VARIANT_ORDER.indexOf(a.variant) - VARIANT_ORDER.indexOf(b.variant)
    );
}

const JOB_ORDER: readonly BenchJob[] = BENCH_JOBS;
const VARIANT_ORDER: Variant[] = ['sync', 'collections', 'naive'];

function order(a: BenchJob, b: BenchJob): number {
    return JOB_ORDER.indexOf(a) - JOB_ORDER.indexOf(b);
}

function sortMeasurements(ms: readonly Measurement[]): Measurement[] {
    return [...ms].sort(
        (a, b) =>
            a.size - b.size ||
            order(a.job, b.job) ||
            a.latencyMs - b.latencyMs ||
            VARIANT_ORDER.indexOf(a.variant) - VARIANT_ORDER.indexOf(b.variant)
    );
}

// ----------------------------------------------------------------- Markdown

export function fmtInt(n: number): string {
    return Math.round(n).toLocaleString('en-US');
}

export function fmtSize(n: number): string {
    if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
    if (n >= 1000 && n % 1000 === 0) return `${n / 1000}k`;
    return fmtInt(n);
}

function fmtSeconds(ms: number): string {
    const s = ms / 1000;
    if (s >= 3600) return `${(s / 3600).toFixed(1)} h`;
    if (s >= 100) return `${Math.round(s)} s`;
    if (s >= 10) return `${s.toFixed(1)} s`;
    return `${s.toFixed(2)} s`;
}

function fmtMiB(bytes: number): string {
    return `${Math.round(bytes / 2 ** 20)}`;
}

function fmtRatio(x: number): string {
    if (!Number.isFinite(x)) return '–';
    if (x >= 100) return `${fmtInt(x)}×`;
    if (x >= 10) return `${x.toFixed(0)}×`;
    return `${x.toFixed(1)}×`;
}

function fmtSlope(s: number | null): string {
    return s === null ? '–' : s.toFixed(2);
}

function row(cells: readonly string[]): string {
    return `| ${cells.join(' | ')} |`;
}

function table(
    head: readonly string[],
    rows: readonly string[][],
    right: number[] = []
): string {
    const align = head.map((_, i) => (right.includes(i) ? '---:' : '---'));
    return [row(head), row(align), ...rows.map(row)].join('\n');
}

function machineLine(run: RunFile): string {
    const m = run.machine;
    const load =
        m.loadAverage.end !== undefined
            ? `${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)}`
            : m.loadAverage.start.toFixed(1);
    const heap = run.heapMb ? `, jobs' heap limit ${run.heapMb} MiB` : '';
    const jobs =
        run.syncProcess === 'dist'
            ? ', jobs run compiled (dist/)'
            : ', jobs run through tsx with the simulator loaded';
    const engines = run.ledgerEngines
        ? `, ledger on ${run.ledgerEngines.map((e) => ENGINE_TITLE[e]).join(' and ')}`
        : '';
    return `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC — sizes ${run.sizes.map(fmtSize).join(', ')}, latency ${run.latencies.join(' and ')} ms${engines}${heap}${jobs}: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average ${load}`;
}

/** The Markdown page: tables of the latest measurements, growth and ratios. */
export function renderMarkdown(
    runs: readonly RunFile[],
    files: readonly string[],
    intake: { runs: readonly IntakeRunFile[]; files: readonly string[] } = {
        runs: [],
        files: []
    }
): string {
    // The main tables: the runs on the default SQLite ledger. An engine comparison
    // (--ledger-engine) has a section of its own, its engines measured side by side.
    const { previous, current } = splitRuns(runs);
    // The tables: the runs of the sync as it is now (R16 and after) when there are any —
    // a job of the same name measured before stood for other work — else every run.
    const ms = sortMeasurements(
        latest(current.length ? current : runs.filter((r) => !r.ledgerEngines))
    );
    const find = (m: Measurement, variant: Variant): Measurement | undefined =>
        ms.find(
            (x) =>
                x.size === m.size &&
                x.job === m.job &&
                x.latencyMs === m.latencyMs &&
                x.variant === variant
        );
    const lines: string[] = [];
    lines.push('# Benchmarks');
    lines.push('');
    lines.push(
        'Generated by `npm run bench` from the JSON files in [results/](results/) — do not edit by hand. ' +
            'Each size gets a fresh local org (file-backed, in its own process, restarted for every job so that its peak memory is per job) ' +
            'and a fresh ledger; each job runs in a process of its own. See [the method](#method) below.'
    );
    lines.push('');
    lines.push('## Runs');
    lines.push('');
    runs.forEach((run, i) =>
        lines.push(
            `- [${files[i] ?? run.startedAt}](results/${files[i] ?? ''}): ${machineLine(run)}`
        )
    );
    lines.push('');
    if (current.length && previous.length)
        lines.push(
            `The tables below are the runs from ${ISSUE14_SINCE.slice(0, 10)} on (the incremental nightly, 500,000-row pages, Composite lookups); the runs before feed the _previous_ column of the targets.`,
            ''
        );
    lines.push(...targetsSection(previous, current));
    lines.push(...headline(ms));
    lines.push('## The sync');
    lines.push('');
    lines.push(
        'Requests: counted by the sync (JobResult.apiRequests) / served by the org (its `/local/stats`). ' +
            'Memory: peak resident set (kernel maxRSS) of the sync process and of the org process, MiB. ' +
            'Check: what was written against what the data set calls for.'
    );
    lines.push('');
    const main = ms.filter((m) => m.variant === 'sync');
    lines.push(
        table(
            [
                'persons',
                'job',
                'latency',
                'requests (sync / org)',
                'wall',
                'records/s',
                'written',
                'sync MiB',
                'org MiB',
                'check'
            ],
            main.map((m) => [
                fmtInt(m.size),
                JOB_TITLE[m.job],
                `${m.latencyMs} ms`,
                `${fmtInt(m.apiRequests)} / ${fmtInt(m.orgRequests)}`,
                fmtSeconds(m.wallMs),
                fmtInt(m.recordsPerSecond),
                writtenText(m),
                fmtMiB(m.syncMemory.maxRssBytes),
                fmtMiB(m.orgMemory.maxRssBytes),
                m.check
            ]),
            [0, 3, 4, 5, 7, 8]
        )
    );
    lines.push('');
    const bursts = main.filter((m) => m.deliverySeconds);
    if (bursts.length) {
        lines.push(
            'Push burst: ' +
                bursts
                    .map(
                        (m) =>
                            `${fmtSize(m.size)} at ${m.latencyMs} ms — ${m.pushes} pushes, collected → delivered median ${m.deliverySeconds?.median.toFixed(1)} s, max ${m.deliverySeconds?.max.toFixed(1)} s`
                    )
                    .join('; ') +
                '.'
        );
        lines.push('');
    }
    const setUp = main.filter((m) => m.setUp?.length);
    if (setUp.length) {
        lines.push(
            'Run first, not measured (the jobs asked for did not include what they need before them): ' +
                setUp
                    .map(
                        (m) =>
                            `${fmtSize(m.size)} ${JOB_TITLE[m.job]} at ${m.latencyMs} ms after ${(m.setUp ?? []).map((j) => JOB_TITLE[j]).join(', then ')}`
                    )
                    .join('; ') +
                '.'
        );
        lines.push('');
    }
    const reconciled = main.filter((m) => m.reconciliation);
    if (reconciled.length) {
        lines.push(
            'Nightly reconciliation (R16), records read: ' +
                reconciled
                    .map(
                        (m) =>
                            `${fmtSize(m.size)} ${JOB_TITLE[m.job]} at ${m.latencyMs} ms — ${m.reconciliation?.mode}, ${fmtInt(m.reconciliation?.recordsRead ?? 0)} records${typeof m.reconciliation?.ledgerPersons === 'number' ? `, ${fmtInt(m.reconciliation.ledgerPersons)} persons changed in the ledger` : ''}`
                    )
                    .join('; ') +
                '.'
        );
        lines.push('');
    }
    lines.push(...requestsSection(main));
    lines.push(...memorySection(main));
    lines.push('## Against the naive ways');
    lines.push('');
    lines.push(
        "The same work done (1) one REST request per record, with jsforce — query the person's Contacts and Leads by email, PATCH each record (a sample, marked *, is run for real and multiplied out when the whole would take too long) — and " +
            '(2) by the same sync with Bulk API 2.0 switched off (sObject Collections writes, REST query pages). Ratios are baseline ÷ sync.'
    );
    lines.push('');
    const cmp = main
        .map((m) => ({ m, c: find(m, 'collections'), n: find(m, 'naive') }))
        .filter((x) => x.c || x.n);
    lines.push(
        table(
            [
                'persons',
                'job',
                'latency',
                'requests: sync',
                'Collections only',
                'per record',
                'time: sync',
                'Collections only',
                'per record'
            ],
            cmp.map(({ m, c, n }) => {
                const star = n?.naive?.extrapolated ? '*' : '';
                return [
                    fmtInt(m.size),
                    JOB_TITLE[m.job],
                    `${m.latencyMs} ms`,
                    fmtInt(m.apiRequests),
                    c
                        ? `${fmtInt(c.apiRequests)} (${fmtRatio(c.apiRequests / m.apiRequests)})`
                        : '–',
                    n
                        ? `${fmtInt(n.apiRequests)}${star} (${fmtRatio(n.apiRequests / m.apiRequests)})`
                        : '–',
                    fmtSeconds(m.wallMs),
                    c
                        ? `${fmtSeconds(c.wallMs)} (${fmtRatio(c.wallMs / m.wallMs)})`
                        : '–',
                    n
                        ? `${fmtSeconds(n.wallMs)}${star} (${fmtRatio(n.wallMs / m.wallMs)})`
                        : '–'
                ];
            }),
            [0, 3, 4, 5, 6, 7, 8]
        )
    );
    lines.push('');
    const sampled = ms.filter((m) => m.naive?.extrapolated);
    if (sampled.length) {
        lines.push(
            '\\* Extrapolated: ' +
                sampled
                    .map(
                        (m) =>
                            `${fmtSize(m.size)} ${JOB_TITLE[m.job]} ${m.latencyMs} ms — ${fmtInt(m.naive?.sampledItems ?? 0)} of ${fmtInt(m.naive?.totalItems ?? 0)} run (${fmtInt(m.naive?.measuredRequests ?? 0)} requests, ${fmtSeconds(m.naive?.measuredMs ?? 0)})`
                    )
                    .join('; ') +
                '.'
        );
        lines.push('');
    }
    lines.push('## How cost grows');
    lines.push('');
    lines.push(
        "Slope of log(cost) against log(persons), least squares over the sizes measured: 1 is linear, 0 flat. Sync memory: the sync process's peak resident set; heap kept: its heap just after full garbage collections (both rise while the client's write-job buffer fills: see [Reading the figures](#reading-the-figures)); an incremental job's requests should be flat."
    );
    lines.push('');
    const g = growth(ms).filter((x) => x.sizes.length > 1);
    lines.push(
        table(
            [
                'job',
                'way',
                'latency',
                'sizes',
                'requests',
                'time',
                'sync memory',
                'sync heap kept'
            ],
            g.map((x) => [
                JOB_TITLE[x.job],
                VARIANT_TITLE[x.variant],
                `${x.latencyMs} ms`,
                x.sizes.map(fmtSize).join(', '),
                fmtSlope(x.requestsSlope),
                fmtSlope(x.timeSlope),
                fmtSlope(x.memorySlope),
                fmtSlope(x.heapSlope)
            ]),
            [4, 5, 6, 7]
        )
    );
    lines.push('');
    lines.push(...engineSection(runs.filter((r) => r.ledgerEngines)));
    lines.push('## Reading the figures');
    lines.push('');
    lines.push(NOTES);
    lines.push('');
    lines.push('## Method');
    lines.push('');
    lines.push(METHOD);
    const intakeLines = renderIntakeSection(intake.runs, intake.files);
    if (intakeLines.length) lines.push('', ...intakeLines);
    return `${lines.join('\n')}\n`;
}

/** Bulk job status polls among the requests the org served. */
export function statusPolls(m: Pick<Measurement, 'orgRequestsByKind'>): number {
    return Object.entries(m.orgRequestsByKind)
        .filter(([kind]) => kind.endsWith('Status'))
        .reduce((a, [, n]) => a + n, 0);
}

/** "20 bulkQueryResults, 6 bulkIngestStatus, …": the org's count by kind, largest first. */
export function kindsText(byKind: Record<string, number>): string {
    return Object.entries(byKind)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([kind, n]) => `${fmtInt(n)} ${kind}`)
        .join(', ');
}

/** The jobs of the headline, after the size, with their column titles. */
const HEADLINE_JOBS: readonly BenchJob[] = BENCH_JOBS;

/** The figures the design's bars are about, per size: every job's requests, memory, ratios. */
function headline(ms: readonly Measurement[]): string[] {
    const main = ms.filter((m) => m.variant === 'sync');
    const sizes = [...new Set(main.map((m) => m.size))].sort((a, b) => a - b);
    if (!sizes.length) return [];
    const one = (
        size: number,
        job: BenchJob,
        variant: Variant = 'sync',
        latencyMs?: number
    ): Measurement | undefined =>
        ms
            .filter(
                (m) =>
                    m.size === size &&
                    m.job === job &&
                    m.variant === variant &&
                    (latencyMs === undefined || m.latencyMs === latencyMs)
            )
            .sort((a, b) => b.latencyMs - a.latencyMs)[0];
    const jobs = HEADLINE_JOBS.filter((j) => main.some((m) => m.job === j));
    const rows = sizes.map((n) => {
        const cold = one(n, 'nightly-cold');
        const naive = cold && one(n, 'nightly-cold', 'naive', cold.latencyMs);
        const atSize = main.filter((m) => m.size === n);
        const syncPeak = Math.max(
            ...atSize.map((m) => m.syncMemory.maxRssBytes)
        );
        const kept = atSize
            .map((m) => m.syncMemory.heapAfterGcBytes)
            .filter((b): b is number => b !== undefined);
        return [
            fmtInt(n),
            ...jobs.map((job) => {
                const m = one(n, job);
                return m
                    ? `${fmtInt(m.apiRequests)} (${fmtInt(statusPolls(m))} polls), ${fmtSeconds(m.wallMs)}`
                    : '–';
            }),
            cold && naive
                ? `${fmtInt(naive.apiRequests)}${naive.naive?.extrapolated ? '*' : ''} (${fmtRatio(naive.apiRequests / cold.apiRequests)})`
                : '–',
            fmtMiB(syncPeak),
            kept.length ? fmtMiB(Math.max(...kept)) : '–'
        ];
    });
    return [
        '## Headline',
        '',
        'At the highest latency measured. Requests of each job (of which Bulk job status polls), its wall time; what one request per record costs for the cold nightly (× the sync); the highest peak resident memory of the sync process over every job at that size, and the most heap it still used just after a full garbage collection (what it keeps).',
        '',
        table(
            [
                'persons',
                ...jobs.map((j) => JOB_TITLE[j]),
                'per record (cold)',
                'sync MiB',
                'sync heap kept, MiB'
            ],
            rows,
            rows[0].map((_, i) => i)
        ),
        ''
    ];
}

// ----------------------------------------------------------- issue 14 targets

/**
 * Runs started from here on measure the sync with incremental nightlies (R16), Bulk
 * results pages of 500,000 rows and Composite lookups (the merge that brought them);
 * the runs before are the figures the targets of issue 14 were set against.
 */
export const ISSUE14_SINCE = '2026-12-05T11:12:26.000Z';

/** The size and latency the targets are stated at. */
export const TARGET_SIZE = 1_000_000;
export const TARGET_LATENCY_MS = 50;
/** The sizes the 100-change hourly's slope is fitted over. */
export const SLOPE_SIZES = [10_000, 100_000, 1_000_000] as const;

/** The default-ledger runs before ISSUE14_SINCE and from then on. */
export function splitRuns(runs: readonly RunFile[]): {
    previous: RunFile[];
    current: RunFile[];
} {
    const main = runs.filter((r) => !r.ledgerEngines);
    return {
        previous: main.filter((r) => r.startedAt < ISSUE14_SINCE),
        current: main.filter((r) => r.startedAt >= ISSUE14_SINCE)
    };
}

export type Verdict = 'met' | 'missed' | 'not measured';

export interface TargetRow {
    what: string;
    target: string;
    previous: string;
    now: string;
    verdict: Verdict;
}

interface TargetFigure {
    text: string;
    /** Null: not measured. */
    met: boolean | null;
}

const NOT_MEASURED: TargetFigure = { text: 'not measured', met: null };

/** The issue's targets, each as a figure of a set of measurements. */
const TARGETS: {
    what: string;
    target: string;
    figure: (ms: readonly Measurement[]) => TargetFigure;
}[] = [
    {
        what: 'hourly, 1 % changes (mirror warm)',
        target: '≤ 20 requests, ≤ 15 s',
        figure: (ms) => {
            const m = at(ms, 'hourly');
            return m
                ? {
                      text: `${fmtInt(m.apiRequests)} requests, ${fmtSeconds(m.wallMs)}`,
                      met: m.apiRequests <= 20 && m.wallMs <= 15_000
                  }
                : NOT_MEASURED;
        }
    },
    {
        what: 'hourly, 100 changes',
        target: `requests flat from ${fmtInt(SLOPE_SIZES[0])} to ${fmtInt(SLOPE_SIZES[SLOPE_SIZES.length - 1])} persons: log-log slope ≤ 0.1`,
        figure: (ms) => {
            const points = SLOPE_SIZES.map((size) => ({
                size,
                m: at(ms, 'hourly-100', size)
            }));
            const missing = points.filter((p) => !p.m).map((p) => p.size);
            if (missing.length)
                return {
                    text: `not measured (no ${missing.map(fmtSize).join(', ')})`,
                    met: null
                };
            const slope = logLogSlope(
                points.map((p) => ({ x: p.size, y: p.m?.apiRequests ?? 0 }))
            );
            if (slope === null) return NOT_MEASURED;
            return {
                text: `slope ${slope.toFixed(2)} (${points.map((p) => fmtInt(p.m?.apiRequests ?? 0)).join(', ')} requests)`,
                met: slope <= 0.1
            };
        }
    },
    {
        what: 'nightly, nothing new',
        target: '≤ 8 requests',
        figure: requestsAtMost('nightly-again', 8)
    },
    {
        what: 'nightly, cold (first run)',
        target: '≤ 40 requests',
        figure: requestsAtMost('nightly-cold', 40)
    },
    {
        what: 'push, burst of 1,000',
        target: '≤ 12 requests, each unsubscribe confirmed within 2 s',
        figure: (ms) => {
            const m = at(ms, 'push-burst');
            if (!m) return NOT_MEASURED;
            const max = m.deliverySeconds?.max;
            return {
                text: `${fmtInt(m.apiRequests)} requests, collected → delivered at most ${max === undefined ? '–' : `${max.toFixed(1)} s`}`,
                met: max !== undefined && m.apiRequests <= 12 && max <= 2
            };
        }
    },
    {
        what: 'sync peak memory, any job',
        target: '≤ 200 MiB',
        figure: (ms) => {
            const list = ms.filter(
                (m) => m.variant === 'sync' && m.size === TARGET_SIZE
            );
            if (!list.length) return NOT_MEASURED;
            const top = list.reduce((a, b) =>
                b.syncMemory.maxRssBytes > a.syncMemory.maxRssBytes ? b : a
            );
            return {
                text: `${fmtMiB(top.syncMemory.maxRssBytes)} MiB (${JOB_TITLE[top.job]}, ${top.latencyMs} ms)`,
                met: top.syncMemory.maxRssBytes <= 200 * 2 ** 20
            };
        }
    }
];

/** The sync's measurement of a job at the target latency and a size (default 1M). */
function at(
    ms: readonly Measurement[],
    job: BenchJob,
    size: number = TARGET_SIZE
): Measurement | undefined {
    return ms.find(
        (m) =>
            m.variant === 'sync' &&
            m.job === job &&
            m.size === size &&
            m.latencyMs === TARGET_LATENCY_MS
    );
}

function requestsAtMost(
    job: BenchJob,
    most: number
): (ms: readonly Measurement[]) => TargetFigure {
    return (ms) => {
        const m = at(ms, job);
        return m
            ? {
                  text: `${fmtInt(m.apiRequests)} requests`,
                  met: m.apiRequests <= most
              }
            : NOT_MEASURED;
    };
}

/**
 * The targets of issue 14 against the figures before (`previous`, the runs the targets
 * were set against) and now (`current`): met or missed from the numbers, "not measured"
 * when the size (or the job) is not in the results.
 */
export function targetRows(
    previous: readonly RunFile[],
    current: readonly RunFile[]
): TargetRow[] {
    const before = latest(previous);
    const now = latest(current);
    return TARGETS.map((t) => {
        const b = t.figure(before);
        const n = t.figure(now);
        return {
            what: t.what,
            target: t.target,
            previous: b.text,
            now: n.text,
            verdict: n.met === null ? 'not measured' : n.met ? 'met' : 'missed'
        };
    });
}

function targetsSection(
    previous: readonly RunFile[],
    current: readonly RunFile[]
): string[] {
    if (!previous.length && !current.length) return [];
    const rows = targetRows(previous, current);
    return [
        '## Targets (issue 14)',
        '',
        `At ${fmtInt(TARGET_SIZE)} persons and ${TARGET_LATENCY_MS} ms, the sync's own request count; the slope over ${SLOPE_SIZES.map(fmtSize).join(', ')} at ${TARGET_LATENCY_MS} ms; memory: the highest peak resident set of the sync process over every job and latency at ${fmtInt(TARGET_SIZE)}. _Previous_: the runs before ${ISSUE14_SINCE.slice(0, 16).replace('T', ' ')} UTC (the nightly re-read every record; the hourly had no mirror); _now_: the runs from then on. Met or missed is computed from the figures; a size not in the results is _not measured_.`,
        '',
        table(
            ['target', 'wanted', 'previous', 'now', 'verdict'],
            rows.map((r) => [r.what, r.target, r.previous, r.now, r.verdict])
        ),
        '',
        ...untargeted(latest(current))
    ];
}

/** The jobs without a target of their own, at the targets' size and latency. */
function untargeted(ms: readonly Measurement[]): string[] {
    const parts = (
        ['nightly-next', 'nightly-full', 'hourly-first'] as const
    ).flatMap((job) => {
        const m = at(ms, job);
        return m
            ? [
                  `${JOB_TITLE[job]} ${fmtInt(m.apiRequests)} requests, ${fmtSeconds(m.wallMs)}`
              ]
            : [];
    });
    return parts.length
        ? [
              `Without a target of their own, at the same size and latency: ${parts.join('; ')}.`,
              ''
          ]
        : [];
}

/** Where the sync's requests went at the largest size, by the org's count. */
function requestsSection(main: readonly Measurement[]): string[] {
    const largest = Math.max(0, ...main.map((m) => m.size));
    const ms = main.filter((m) => m.size === largest);
    if (!ms.length) return [];
    const out = [
        `### Where the requests go at ${fmtInt(largest)} persons`,
        '',
        'By kind, as the org served them (its `/local/stats`). Bulk API 2.0 jobs are polled on the schedule the client uses against a real org — right after the job is created or closed, then after 1 s, 1.5 s, 2.25 s … up to 10 s between polls — and the *Status* requests are those polls: they read a few hundred bytes and grow with how long the org takes to run the job, not with the number of records.',
        ''
    ];
    for (const m of ms)
        out.push(
            `- ${JOB_TITLE[m.job]}, ${m.latencyMs} ms: ${fmtInt(m.orgRequests)} requests (${fmtInt(statusPolls(m))} status polls) — ${kindsText(m.orgRequestsByKind)}.`
        );
    out.push('');
    return out;
}

/** Peak resident memory per job and size: the sync's process and the org's, apart. */
function memorySection(main: readonly Measurement[]): string[] {
    const sizes = [...new Set(main.map((m) => m.size))].sort((a, b) => a - b);
    if (sizes.length < 2) return [];
    const jobs = JOB_ORDER.filter((j) => main.some((m) => m.job === j));
    const peak = (
        job: BenchJob,
        size: number,
        of: (m: Measurement) => number | undefined
    ): string => {
        const list = main.filter((m) => m.job === job && m.size === size);
        const known = list.map(of).filter((b): b is number => b !== undefined);
        return known.length ? fmtMiB(Math.max(...known)) : '–';
    };
    return [
        '### Memory as the org grows',
        '',
        'MiB, the highest over the latencies: peak resident set of the sync process (in brackets: the most heap it still used just after a full garbage collection — what it keeps, as opposed to what it allocated and V8 had not yet collected) / peak resident set of the local org process (which holds the SQLite database and serves every request, so it grows with the data; a real org does this work).',
        '',
        table(
            ['job', ...sizes.map((n) => `${fmtInt(n)} persons`)],
            jobs.map((job) => [
                JOB_TITLE[job],
                ...sizes.map(
                    (n) =>
                        `${peak(job, n, (m) => m.syncMemory.maxRssBytes)} (${peak(job, n, (m) => m.syncMemory.heapAfterGcBytes)}) / ${peak(job, n, (m) => m.orgMemory.maxRssBytes)}`
                )
            ]),
            sizes.map((_, i) => i + 1)
        ),
        ''
    ];
}

/** A run's start as a table label: "2026-12-05 07:56". */
function runLabel(run: RunFile): string {
    return run.startedAt.slice(0, 16).replace('T', ' ');
}

/**
 * What one engine comparison measured, as table rows: each job on each engine side by
 * side, and its wall time over the same run's SQLite one (the engines compare within a
 * run only: the machine's load differs between runs).
 */
export function engineRows(run: RunFile): string[][] {
    const engines: LedgerEngine[] = ['sqlite', 'postgres'];
    const ms = run.measurements;
    const rows = [...ms].sort(
        (a, b) =>
            a.size - b.size ||
            order(a.job, b.job) ||
            a.latencyMs - b.latencyMs ||
            VARIANT_ORDER.indexOf(a.variant) -
                VARIANT_ORDER.indexOf(b.variant) ||
            engines.indexOf(a.ledgerEngine ?? 'sqlite') -
                engines.indexOf(b.ledgerEngine ?? 'sqlite')
    );
    return rows.map((m) => {
        const sqlite = ms.find(
            (x) =>
                x.size === m.size &&
                x.job === m.job &&
                x.latencyMs === m.latencyMs &&
                x.variant === m.variant &&
                (x.ledgerEngine ?? 'sqlite') === 'sqlite'
        );
        const kept = m.syncMemory.heapAfterGcBytes;
        return [
            runLabel(run),
            fmtInt(m.size),
            m.variant === 'sync'
                ? JOB_TITLE[m.job]
                : `${JOB_TITLE[m.job]} (${VARIANT_TITLE[m.variant]})`,
            `${m.latencyMs} ms`,
            ENGINE_TITLE[m.ledgerEngine ?? 'sqlite'],
            `${fmtInt(m.apiRequests)} / ${fmtInt(m.orgRequests)}`,
            fmtSeconds(m.wallMs),
            sqlite && sqlite !== m ? fmtRatio(m.wallMs / sqlite.wallMs) : '–',
            fmtInt(m.recordsPerSecond),
            writtenText(m),
            fmtMiB(m.syncMemory.maxRssBytes),
            kept === undefined ? '–' : fmtMiB(kept),
            m.check
        ];
    });
}

/** The engine comparisons: the same jobs with the ledger on SQLite and on PostgreSQL. */
function engineSection(runs: readonly RunFile[]): string[] {
    const ms = runs.flatMap((r) => r.measurements);
    if (!ms.length) return [];
    const sizes = [...new Set(ms.map((m) => m.size))].sort((a, b) => a - b);
    const jobs = JOB_ORDER.filter((j) => ms.some((m) => m.job === j));
    const nightlyOnly = jobs.every((j) => j.startsWith('nightly'));
    const engines = (['sqlite', 'postgres'] as const).filter((e) =>
        ms.some((m) => (m.ledgerEngine ?? 'sqlite') === e)
    );
    const title = `${nightlyOnly ? 'Nightly' : 'The jobs'} at ${sizes.map(fmtInt).join(', ')} persons, ${engines.map((e) => ENGINE_TITLE[e]).join(' vs ')}`;
    const servers = [
        ...new Set(
            runs
                .map((r) => r.postgres)
                .filter((p) => p !== undefined)
                .map(
                    (p) =>
                        `PostgreSQL ${p.version.split(' ')[0]} (fsync ${p.fsync}, synchronous_commit ${p.synchronousCommit})`
                )
        )
    ];
    return [
        `## ${title}`,
        '',
        `From \`npm run bench -- --ledger-engine sqlite,postgres …\`, every such run (see [Runs](#runs) for its command and the machine's load): the same jobs on the same data set — one org, its ledger loaded into a SQLite file and into a new PostgreSQL database — the engines measured one after the other, in the order given, each sequence of jobs on a fresh copy of the size's ledger (a copy of the file; \`CREATE DATABASE … TEMPLATE\` of the database). PostgreSQL is a server on the same machine, reached on loopback${servers.length ? `: ${servers.join('; ')}` : ''}; each statement is a round trip to another process on the same two cores, but not over a network. Requests: counted by the sync / served by the org (the engine changes none). Wall ÷ SQLite: the job's wall time over the same job's on SQLite in the same run (runs differ in the machine's load, so compare within a run). Memory: peak resident set of the sync process, and the most heap it still used just after a full garbage collection, MiB (the PostgreSQL server's processes are not counted).`,
        '',
        table(
            [
                'run (UTC)',
                'persons',
                'job',
                'latency',
                'ledger',
                'requests (sync / org)',
                'wall',
                'wall ÷ SQLite',
                'records/s',
                'written',
                'sync MiB',
                'heap kept, MiB',
                'check'
            ],
            runs.flatMap(engineRows),
            [1, 5, 6, 7, 8, 10, 11]
        ),
        '',
        ...loadLines(runs)
    ];
}

/** How long loading the data set's ledger took on each engine (the build's ledger phases). */
export function loadLines(runs: readonly RunFile[]): string[] {
    const parts: string[] = [];
    for (const run of runs)
        for (const [size, d] of Object.entries(run.datasets)) {
            const times = (['sqlite', 'postgres'] as const).flatMap((e) => {
                const phases = Object.entries(d.build.seconds).filter(([k]) =>
                    k.startsWith(`ledger (${e}):`)
                );
                return phases.length
                    ? [
                          `${ENGINE_TITLE[e]} ${fmtSeconds(1000 * phases.reduce((a, [, v]) => a + v, 0))}`
                      ]
                    : [];
            });
            if (times.length)
                parts.push(
                    `${fmtInt(Number(size))} persons, run of ${runLabel(run)}: ${times.join(', ')}`
                );
        }
    return parts.length
        ? [
              `Loading the data set into the ledger (persons and memberships with \`importBatch\` in batches of 5,000, then the 10 % unsubscribes with \`recordUnsubscribes\`): ${parts.join('; ')}.`,
              ''
          ]
        : [];
}

function writtenText(m: Measurement): string {
    const parts: string[] = [];
    if (m.recordsWritten) parts.push(`${fmtInt(m.recordsWritten)} records`);
    if (m.membershipsUpserted)
        parts.push(`${fmtInt(m.membershipsUpserted)} memberships`);
    if (m.ledgerUnsubscribesAdded)
        parts.push(`${fmtInt(m.ledgerUnsubscribesAdded)} to the ledger`);
    return parts.length ? parts.join(', ') : 'nothing';
}

/** What the figures come from: the request arithmetic, growth and memory. */
export const NOTES = `- **Nightly requests.** The settings query, two describes (R7), then the reads. A full reconciliation — the first run (_cold_), one asked for (\`--full\`: _full, nothing new_), one after 7 days without (\`OPTOUT_NIGHTLY_FULL_EVERY\`) — reads every Contact and Lead: per object a REST query whose first page (2,000 rows) tells the total, the rest in REST pages or, when that is fewer requests, one Bulk API 2.0 query job — create, a few status polls, ⌈rows ÷ 500,000⌉ results pages, delete. Every other night is incremental (R16): the Contacts and Leads whose SystemModstamp is after the last successful run's start less a 10-minute look-back, and the records of the persons whose unsubscribes changed in the ledger since that run — reads that grow with what changed, not with the org. The night after the cold run (_the night after_) re-reads what the cold run wrote, since it changed after that run's start, and the records of the persons it brought to the ledger; a quiet night (_nothing new_) finds nothing changed. Writes of more than 5,000 records per object go in Bulk ingest jobs of up to 100,000 records — create, upload, close, polls, and a results file only where the job's counts call for one (an upsert's Ids, failures) — and fewer through sObject Collections, 200 records a chunk, up to five chunks in one Composite request.
- **Status polls** grow with how long the org takes to run a job (logarithmically for short jobs, then one per 10 s), not with the records; they are GETs of a few hundred bytes, counted like any other request against the daily allowance.
- **Hourly.** It handles the membership changes recorded since its last run: the persons' records and membership rows, looked up by id and email (up to five queries in one Composite request) or, for many changes, scanned — or read from a mirror of Salesforce kept in the ledger where the sync keeps one (scripts/sync/hourly/), refreshed from what changed in the org since the hourly before; the first hourly after install reads the org (_hourly, first_). Reads that follow one another go together in Composite requests (OrgClient.readAhead): the settings, the pending rows and the describes in one, the Contacts and Leads created since in another, the mirror's first page of each object in a third, and the next pages of those read together while they last. The bench measures that sequence whatever the sync does: the first hourly with 1 % of persons changed, the next with another 1 % (_1 % changes_), then 100 changes (_100 changes_), whose requests should not grow with the org. The all-audiences rule (R5b) writes the opt-out field of the persons now unsubscribed from every audience.
- **Push burst.** The push service (as \`optout serve\` runs it) takes whatever has arrived (up to 1,000 or 1 s), so 1,000 unsubscribes arriving over 3 s go out in about five pushes, each reading the settings and its persons' records by email (up to five queries in one Composite request) and writing them (up to five Collections chunks of 200 in one Composite request) — the same at every size, since a push reads only its persons' records.
- **Against one request per record**, the gap grows with the org: the per-record way costs about three requests per unsubscribed person (query Contacts, query Leads, PATCH), the sync's full reconciliation one per 500,000 records read by a scan and a handful per 100,000 written, its incremental one only what changed. _Collections only_ reads 2,000 rows a request instead of up to 500,000 and writes 1,000 records a request (five chunks of 200) instead of up to 100,000: the same as the sync for a small org (which uses the same path below the thresholds), many times more requests at a million.
- **Memory.** The sync never holds a whole result set: Bulk results pages (up to 500,000 rows) are streamed — parsed and stored in arrays of at most 5,000 rows — into a table of the run's workspace (\`sync/workspace.ts\`: a SQLite scratch database of its own, on disk, separate from the ledger's) and it decides in SQL. What it keeps (heap after a full garbage collection; about 23 MiB is the loaded code) is bounded by the client's constants instead — the rows of one array being stored and, when writing, one Bulk ingest job's records of at most 100,000 and their results, one object's job at a time, their audit entries appended to the ledger 5,000 at a time (the cold nightly writes 903, 9,160 and 89,497 records at the three sizes: see the memory table). SQLite's page caches — the ledger file's and the workspace's — are 2 MiB each (SQLite's default, not the 16 MiB better-sqlite3 builds with): the pages beyond stay in the operating system's file cache, outside the process. \`npm run bench -- --size 1M --jobs nightly-cold --variants sync --bulk-job-size 20000 --out DIR\` shows the second bound moving with the job size, not the org's. A larger org adds more pages and more jobs, one after the other, not more memory. The resident set adds what V8 allocated and had not yet collected (it grows the heap before collecting, up to the 256 MiB limit) to the ~95 MiB Node and the modules take before the job starts; that every million-person job finishes under the heap limit is the bound. The local org's memory is the simulated Salesforce's, not the sync's.`;

export const METHOD = `- **Data set** (scripts/tools/bench/layout.ts): persons = size; Salesforce records ≈ size — 80 % of persons have a Contact, 18 % a Lead, 2 % nothing; 2.5 % of Contacts share their email with a Lead (in capitals) and 10 % carry it in mixed case; 20 % of those duplicate Leads are converted into their Contact and 1 % of the other Leads into a new Contact. In the ledger: every person Subscribed to one audience (and the matching Audience_Membership__c rows in the org), half linked to their record's id; 10 % globally unsubscribed, not yet delivered; 1 % of the rest opted out only in Salesforce. Settings: nightly sync on, all-audiences rule on. Once seeded, the org's Accounts, Contacts, Leads and Audience_Membership__c rows are dated back to 2025-01-01 (CreatedDate, LastModifiedDate, SystemModstamp; scripts/tools/bench/dataset.ts \`dateRecordsBack\`), as in an org that has been there a while: else a nightly reading what changed since the one before would find the whole data set changed, seeded minutes before.
- **Jobs**, in this order, each on the state the previous one left (a fresh copy of the size's org and ledger per latency and way): the nightly from cold, a full reconciliation (writes the 10 % and brings the Salesforce-only opt-outs to the ledger); the night after (incremental: re-reads what the cold run wrote); a quiet night, nothing new (incremental, after a nightly that changed nothing); a full nightly with nothing new (\`--full\`); the first hourly, after 1 % of persons changed a membership (half unsubscribe from their only audience — so the all-audiences rule writes their records — half join a second one); the next hourly after another 1 % (other persons, the same way); an hourly after 100 changes (100 more persons, evenly spread); and a push burst: 1,000 global unsubscribes recorded in the ledger over about 3 s (30 arrivals 100 ms apart) while the webhook's push service (scripts/sync/push-service.ts: coalesce up to 1 s or 1,000, one push at a time) delivers them. A job asked for without the one it follows (\`--jobs\`) gets that one run first, not measured — a settle nightly before the quiet night, a warm-up hourly (the first, with its changes) before the others — and the table says so. **Schedule**: the jobs run minutes apart, so each job's clock (runJob's \`now\`) is set ahead of real time to its place in a schedule — the nightlies a day apart, then the hourlies an hour apart — so that a look-back reaches what it would in production, not the run before last; the push burst runs on real time. The hourly's mirror reads by the org's clock, which cannot be set ahead: in the bench its look-back is 15 s (\`OPTOUT_MIRROR_LOOKBACK\`; 5 min in production) and an hourly starts at least 16 s after the hourly before it ended, so that, as an hour apart, each hourly re-reads the writes of the hourly before it and not those of the one before that; _hourly, 100 changes_ follows an unmeasured hourly of 100 other changes, the steady state of 100 changes an hour.
- **Latency**: the local org's simulated network latency per request (0 ms, 50 ms).
- **Requests**: the sync's own count, cross-checked against the requests the org served. Bulk API 2.0 jobs are polled on the client's schedule for a real org (1 s, then ×1.5 up to 10 s), so the status polls counted are those a real org would serve for jobs that take as long as the local org's. **Wall**: the job's run, in its process. **Records/s**: the job's work items (${Object.entries(
    RECORDS_OF
)
    .map(([job, what]) => `${JOB_TITLE[job as BenchJob]}: ${what}`)
    .join(
        '; '
    )}) per second — the burst's includes the 3 s over which the unsubscribes arrive.
- **Memory**: each job runs in a new process (the sync's) with V8's heap limited (\`--heap-mb\`, 256 MiB by default), against a local org in another process, restarted per job on the same database file; both report their kernel peak resident set. The sync's process also reports the most heap it still used just after a full (mark-compact) garbage collection — the memory the job keeps, which is what must not grow with the org. The sync's process loads what a user's process loads for a job against a real org: the compiled code under dist/, run by Node alone as bin/optout runs it (the run builds dist/ first, from empty as \`npm run build\` does, so it is never a stale build), not through the TypeScript loader; a jsforce connection to the local org (scripts/tools/local-org/connection.ts) without the simulator, which runs in the org's process; and @salesforce/core, which openOrg loads for any org but \`local\` (scripts/salesforce/open.ts), loaded and left unused. Some 95 MiB of its resident set is Node and these modules, present before the job starts. The runs before 2026-12-05 13:30 UTC (their Runs line says so) ran the jobs through tsx with the simulator loaded: some 145 MiB before the job, up to about 50 MiB more than the same job now. Without a limit V8 grows its heap lazily with what a run allocates rather than with what it keeps, so a longer run shows more memory whatever its working set; with one, a job whose working set grew with the org would fail, so a finished run at 1M is the proof that its memory is bounded. What grows between sizes is bounded by the client's constants: Bulk query rows stored in arrays of 5,000 and Bulk write jobs of 100,000 records.
- **Baselines**, from the same starting state: *Collections only* is the same sync with the Bulk API switched off (bulk threshold above any size, REST query pages only); *per record* is scripts/tools/bench/naive.ts — one query per object per person, one PATCH per record (with \`Sforce-Duplicate-Rule-Header: allowSave=true\`, which an org's duplicate rules require of any script, the sync included), one upsert per membership row. When it would run too long, an evenly spaced sample of persons (or changes) runs for real and its requests and time are multiplied out; the parts done once run in full.
- The machine is shared: other work ran at the same time (load average above), so times are indicative; request counts are exact.`;
