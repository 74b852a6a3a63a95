/**
 * The benchmark's results: the JSON shape of a run, the growth fit (slope of
 * log(cost) against log(size)), the ratios against the baselines, and the Markdown
 * page regenerated from every run in the results folder. Pure functions only.
 */
import type { Expected } from './layout';
import type { BenchJob, Variant, WorkerResult } from './types';

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
    datasets: Record<
        string,
        {
            expected: Expected;
            build: {
                seconds: Record<string, number>;
                counts: Record<string, number>;
            };
            orgDbBytes: number;
            ledgerDbBytes: number;
        }
    >;
    measurements: Measurement[];
}

/** What a job's "records" are, for records per second. */
export const RECORDS_OF: Record<BenchJob, string> = {
    'nightly-cold': 'Contacts and Leads reconciled',
    'nightly-again': 'Contacts and Leads reconciled',
    hourly: 'membership changes',
    'push-burst': 'unsubscribes delivered'
};

export const JOB_TITLE: Record<BenchJob, string> = {
    'nightly-cold': 'nightly, cold',
    'nightly-again': 'nightly, nothing new',
    hourly: 'hourly, 1 % changes',
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
    if (job === 'nightly-cold') {
        wants.push(['records written', got.recordsWritten, e.nightlyWrites]);
        wants.push([
            'ledger unsubscribes added',
            got.ledgerUnsubscribesAdded,
            e.nightlyLedgerAdds
        ]);
    } else if (job === 'nightly-again') {
        wants.push(['records written', got.recordsWritten, 0]);
        if (variant !== 'naive')
            wants.push([
                'ledger unsubscribes added',
                got.ledgerUnsubscribesAdded,
                0
            ]);
    } else if (job === 'hourly') {
        wants.push([
            'memberships upserted',
            got.membershipsUpserted,
            e.hourlyUpserts
        ]);
        // After a sampled nightly, some unsubscribed persons' records are still false
        // and R5b writes them too: only the upserts compare.
        if (!afterSample)
            wants.push([
                'records written (R5b)',
                got.recordsWritten,
                e.hourlyRuleWrites
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

/** The latest measurement for each (size, latency, variant, job) across runs. */
export function latest(runs: readonly RunFile[]): Measurement[] {
    const byKey = new Map<string, { at: string; m: Measurement }>();
    for (const run of runs)
        for (const m of run.measurements) {
            const key = `${m.size}|${m.latencyMs}|${m.variant}|${m.job}`;
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
            )
        });
    }
    return out.sort(
        (a, b) =>
            order(a.job, b.job) ||
            a.latencyMs - b.latencyMs ||
            VARIANT_ORDER.indexOf(a.variant) - VARIANT_ORDER.indexOf(b.variant)
    );
}

const JOB_ORDER: BenchJob[] = [
    'nightly-cold',
    'nightly-again',
    'hourly',
    'push-burst'
];
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
    return `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC — sizes ${run.sizes.map(fmtSize).join(', ')}, latency ${run.latencies.join(' and ')} ms${heap}: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average ${load}`;
}

/** The Markdown page: tables of the latest measurements, growth and ratios. */
export function renderMarkdown(
    runs: readonly RunFile[],
    files: readonly string[]
): string {
    const ms = sortMeasurements(latest(runs));
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
        "Slope of log(cost) against log(persons), least squares over the sizes measured: 1 is linear, 0 flat. Memory is the sync process's peak resident set."
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
                'sync memory'
            ],
            g.map((x) => [
                JOB_TITLE[x.job],
                VARIANT_TITLE[x.variant],
                `${x.latencyMs} ms`,
                x.sizes.map(fmtSize).join(', '),
                fmtSlope(x.requestsSlope),
                fmtSlope(x.timeSlope),
                fmtSlope(x.memorySlope)
            ]),
            [4, 5, 6]
        )
    );
    lines.push('');
    lines.push('## Method');
    lines.push('');
    lines.push(METHOD);
    return `${lines.join('\n')}\n`;
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

export const METHOD = `- **Data set** (scripts/bench/layout.ts): persons = size; Salesforce records ≈ size — 80 % of persons have a Contact, 18 % a Lead, 2 % nothing; 2.5 % of Contacts share their email with a Lead (in capitals) and 10 % carry it in mixed case; 20 % of those duplicate Leads are converted into their Contact and 1 % of the other Leads into a new Contact. In the ledger: every person Subscribed to one audience (and the matching Audience_Membership__c rows in the org), half linked to their record's id; 10 % globally unsubscribed, not yet delivered; 1 % of the rest opted out only in Salesforce. Settings: nightly sync on, all-audiences rule on.
- **Jobs**, in order, each on the state the previous one left: the nightly from cold (writes the 10 % and brings the Salesforce-only opt-outs to the ledger), the nightly again (nothing new: writes nothing), the hourly after 1 % of persons changed a membership (half unsubscribe from their only audience — so the all-audiences rule writes their records — half join a second one), and a push burst: 1,000 global unsubscribes recorded in the ledger over about 3 s (30 arrivals 100 ms apart) while the webhook's push loop (scripts/webhook/push-loop.ts: coalesce up to 1 s or 200, one push at a time) delivers them.
- **Latency**: the local org's simulated network latency per request (0 ms, 50 ms).
- **Requests**: the sync's own count, cross-checked against the requests the org served. **Wall**: the job's run, in its process. **Records/s**: the job's work items (${Object.entries(
    RECORDS_OF
)
    .map(([job, what]) => `${JOB_TITLE[job as BenchJob]}: ${what}`)
    .join(
        '; '
    )}) per second — the burst's includes the 3 s over which the unsubscribes arrive.
- **Memory**: each job runs in a new process (the sync's) with V8's heap limited (\`--heap-mb\`, 256 MiB by default), against a local org in another process, restarted per job on the same database file; both report their kernel peak resident set. Without a limit V8 grows its heap lazily with what a run allocates rather than with what it keeps, so a longer run shows more memory whatever its working set; with one, a job whose working set grew with the org would fail, so a finished run at 1M is the proof that its memory is bounded. What grows between sizes is bounded by constants that 1M reaches: Bulk query pages of 50,000 rows and Bulk write jobs of 100,000 records.
- **Baselines**, from the same starting state: *Collections only* is the same sync with the Bulk API switched off (bulk threshold above any size, REST query pages only); *per record* is scripts/bench/naive.ts — one query per object per person, one PATCH per record, one upsert per membership row. When it would run too long, an evenly spaced sample of persons (or changes) runs for real and its requests and time are multiplied out; the parts done once run in full.
- The machine is shared: other work ran at the same time (load average above), so times are indicative; request counts are exact.`;
