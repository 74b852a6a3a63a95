/**
 * The webhook intake benchmark's results (see intake.ts): the JSON shape of a run,
 * latency percentiles over per-request samples (merged across replicas), the verdict
 * "confirmed exactly once", and the table printed at the end and the Markdown section
 * of README.md. Pure functions only.
 */
import type { Machine } from './report';

/** Per-request latencies in milliseconds, in no particular order. */
export type Samples = readonly number[];

export interface Percentiles {
    /** Samples the figures are computed from. */
    n: number;
    p50: number | null;
    p99: number | null;
    max: number | null;
}

/**
 * The p-th percentile by nearest rank (the smallest sample with at least p % of the
 * samples at or below it): always a value that was measured, never interpolated.
 */
export function percentile(samples: Samples, p: number): number | null {
    if (!(p > 0 && p <= 100))
        throw new RangeError(`percentile ${p} is not in (0, 100]`);
    if (samples.length === 0) return null;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

export function percentiles(samples: Samples): Percentiles {
    return {
        n: samples.length,
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
        max: samples.length ? Math.max(...samples) : null
    };
}

/**
 * Per-replica samples as one distribution: every request counts once, so a busy
 * replica weighs more than an idle one (percentiles of percentiles would not).
 */
export function mergeSamples(parts: readonly Samples[]): number[] {
    const out: number[] = [];
    for (const part of parts) for (const v of part) out.push(v);
    return out;
}

export type Engine = 'sqlite' | 'postgres';

/** One configuration to measure: an engine, a number of `optout serve` replicas. */
export interface IntakeConfig {
    /** As named on the command line and in the tables: `sqlite-1`, `postgres-3`. */
    name: string;
    engine: Engine;
    replicas: number;
    /**
     * A ledger given with --ledger, used as it is (the harness creates and removes
     * nothing); absent: a fresh one per configuration (a temporary SQLite file, or a
     * new database on the PostgreSQL server of --pg-url, dropped afterwards).
     */
    ledger?: string;
}

export interface ServeTotals {
    requests: number;
    accepted: number;
    refused: number;
    unsubscribesRecorded: number;
    pushes: number;
    delivered: number;
    apiRequests: number;
    pending: number;
}

export interface ExactlyOnce {
    /** Emails answered 200 whose record the harness saw written in the org. */
    confirmed: number;
    /** Emails answered 200 not seen written before the confirmation timeout. */
    unconfirmed: number;
    /** This run's records seen written, whatever the answer (a request cut at the end may have been taken). */
    seenWritten: number;
    /** Record updates the org counted during the run (its /local/stats). */
    recordWrites: number;
    /** This run's unsubscribes in the ledger's suppression feed (GET /suppressions). */
    ledgerUnsubscribes: number;
    /** Emails that appear more than once in the feed. */
    ledgerDuplicates: number;
    /** Unsubscribes the replicas' push loops delivered, summed over the replicas. */
    delivered: number;
    /** Undelivered unsubscribes in the ledger when the last replica stopped. */
    pending: number;
    problems: string[];
}

export interface ConfigResult {
    config: IntakeConfig;
    status: 'ok' | 'failed';
    /** Why it failed (serve refused the ledger, the org did not start…). */
    error?: string;
    /** Persons seeded in the org (emails available to unsubscribe). */
    persons?: number;
    /** Requests written to the sockets (each a unique email). */
    sent?: number;
    ok?: number;
    /** Answers other than 200, by status code. */
    non200?: Record<string, number>;
    /** Requests with no answer: connection errors, timeouts, cut at the end of the load. */
    noAnswer?: number;
    /** From the first request to the last answer, seconds. */
    loadSeconds?: number;
    acceptedPerSecond?: number;
    toOk?: Percentiles;
    /** Per replica, in the order started (merged above). */
    toOkByReplica?: Percentiles[];
    toConfirmed?: Percentiles;
    /** autocannon's own figures for 2xx answers (a cross-check of toOk). */
    autocannon?: { p50: number; p99: number; requests: number };
    /** The harness's event-loop delay during the load, ms: high means the load generator itself lagged. */
    harnessLoopDelay?: { p50: number; p99: number; max: number };
    /** Seconds spent waiting for the confirmations after the load ended. */
    confirmWaitSeconds?: number;
    check?: ExactlyOnce;
    serve?: ServeTotals[];
}

export interface IntakeSettings {
    durationSeconds: number;
    connections: number;
    /** Most unsubscribes sent (= persons seeded per configuration). */
    count: number;
    pollMs: number;
    confirmTimeoutSeconds: number;
    /** `optout serve` runs from the TypeScript sources (tsx) or from dist/. */
    cli: 'source' | 'dist';
}

export interface IntakeRunFile {
    kind: 'optout-bench-intake';
    version: 1;
    startedAt: string;
    finishedAt?: string;
    command: string;
    machine: Machine;
    settings: IntakeSettings;
    results: ConfigResult[];
}

/** The problems that break "each accepted unsubscribe confirmed exactly once". */
export function exactlyOnceProblems(
    c: Omit<ExactlyOnce, 'problems'> & {
        ok: number;
    }
): string[] {
    const problems: string[] = [];
    if (c.unconfirmed > 0)
        problems.push(`${c.unconfirmed} accepted but not seen in the org`);
    if (c.recordWrites !== c.seenWritten)
        problems.push(
            `${c.recordWrites} record writes for ${c.seenWritten} records seen written`
        );
    if (c.ledgerDuplicates > 0)
        problems.push(`${c.ledgerDuplicates} emails twice in the ledger`);
    // Every 200 is in the ledger; a request cut at the end may be there too.
    if (c.ledgerUnsubscribes < c.ok)
        problems.push(
            `${c.ledgerUnsubscribes} unsubscribes in the ledger for ${c.ok} answered 200`
        );
    if (c.delivered !== c.ledgerUnsubscribes)
        problems.push(
            `${c.delivered} delivered for ${c.ledgerUnsubscribes} in the ledger`
        );
    if (c.pending > 0) problems.push(`${c.pending} still pending`);
    return problems;
}

/** What the load generator kept per request (intake-load.ts fills it). */
export interface LoadRecord {
    /** Email → when its request was built and written (ms). */
    sentAt: Map<string, number>;
    /** Email → when its 200 arrived. */
    okAt: Map<string, number>;
    /** Email → replica index its connection went to. */
    replicaOf: Map<string, number>;
    /** Answers other than 200, by status. */
    non200: Record<string, number>;
    firstSentAt: number;
    lastAnswerAt: number;
    autocannon?: { p50: number; p99: number; requests: number };
    harnessLoopDelay?: { p50: number; p99: number; max: number };
}

/** The figures of one configuration from what the load, the watcher and the replicas saw. */
export function summarize(
    config: IntakeConfig,
    persons: number,
    load: LoadRecord,
    seen: ReadonlyMap<string, number>,
    ledger: ReadonlyMap<string, number>,
    serve: readonly ServeTotals[],
    recordWrites: number,
    confirmWaitSeconds: number
): ConfigResult {
    const byReplica: number[][] = Array.from(
        { length: config.replicas },
        () => []
    );
    const toConfirmed: number[] = [];
    let unconfirmed = 0;
    for (const [email, okAt] of load.okAt) {
        const sent = load.sentAt.get(email) as number;
        byReplica[load.replicaOf.get(email) ?? 0].push(okAt - sent);
        const seenAt = seen.get(email);
        if (seenAt === undefined) unconfirmed++;
        else toConfirmed.push(seenAt - sent);
    }
    const ok = load.okAt.size;
    const non200 = Object.values(load.non200).reduce((a, n) => a + n, 0);
    const sent = load.sentAt.size;
    const loadSeconds =
        sent > 0 ? Math.max(0, load.lastAnswerAt - load.firstSentAt) / 1000 : 0;
    const seenWritten = [...load.sentAt.keys()].filter((e) =>
        seen.has(e)
    ).length;
    const counts = {
        ok,
        confirmed: toConfirmed.length,
        unconfirmed,
        seenWritten,
        recordWrites,
        ledgerUnsubscribes: ledger.size,
        ledgerDuplicates: [...ledger.values()].filter((n) => n > 1).length,
        delivered: serve.reduce((a, s) => a + s.delivered, 0),
        // The shared ledger's count when the last replica stopped.
        pending: serve.length ? serve[serve.length - 1].pending : 0
    };
    const { ok: _ok, ...check } = counts;
    return {
        config,
        status: 'ok',
        persons,
        sent,
        ok,
        non200: load.non200,
        noAnswer: sent - ok - non200,
        loadSeconds,
        acceptedPerSecond: loadSeconds > 0 ? ok / loadSeconds : 0,
        toOk: percentiles(mergeSamples(byReplica)),
        toOkByReplica: byReplica.map(percentiles),
        toConfirmed: percentiles(toConfirmed),
        ...(load.autocannon ? { autocannon: load.autocannon } : {}),
        ...(load.harnessLoopDelay
            ? { harnessLoopDelay: load.harnessLoopDelay }
            : {}),
        confirmWaitSeconds,
        check: { ...check, problems: exactlyOnceProblems(counts) },
        serve: [...serve]
    };
}

function fmtInt(n: number): string {
    return Math.round(n).toLocaleString('en-US');
}

export function fmtMs(ms: number | null | undefined): string {
    if (ms === null || ms === undefined) return '–';
    if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
    if (ms >= 10) return `${ms.toFixed(0)} ms`;
    return `${ms.toFixed(1)} ms`;
}

function non200Text(non200: Record<string, number> | undefined): string {
    const entries = Object.entries(non200 ?? {}).filter(([, n]) => n > 0);
    const total = entries.reduce((a, [, n]) => a + n, 0);
    if (!total) return '0';
    return `${fmtInt(total)} (${entries.map(([s, n]) => `${fmtInt(n)}×${s}`).join(', ')})`;
}

export const TABLE_HEAD = [
    'config',
    'sent',
    '200s',
    'non-200s',
    'no answer',
    'accepted/s',
    'to 200 p50',
    'to 200 p99',
    'to confirmed p50',
    'to confirmed p99',
    'confirmed exactly once'
] as const;

/** Right-aligned columns of the table (numbers). */
export const NUMERIC_COLUMNS = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/** The first line of an error, URLs shortened to their scheme, at most 160 characters. */
export function failureCell(error: string): string {
    return error
        .split('\n')[0]
        .replace(/\b(postgres(?:ql)?):\/\/\S+?(?=[)\s]|$)/gi, '$1://…')
        .slice(0, 160);
}

/** One row of the table per configuration; a failed one says why. */
export function tableRows(results: readonly ConfigResult[]): string[][] {
    return results.map((r) => {
        if (r.status === 'failed')
            return [
                r.config.name,
                ...Array<string>(TABLE_HEAD.length - 2).fill('–'),
                `failed: ${failureCell(r.error ?? 'unknown error')}`
            ];
        const problems = r.check?.problems ?? ['not checked'];
        return [
            r.config.name,
            fmtInt(r.sent ?? 0),
            fmtInt(r.ok ?? 0),
            non200Text(r.non200),
            fmtInt(r.noAnswer ?? 0),
            fmtInt(r.acceptedPerSecond ?? 0),
            fmtMs(r.toOk?.p50),
            fmtMs(r.toOk?.p99),
            fmtMs(r.toConfirmed?.p50),
            fmtMs(r.toConfirmed?.p99),
            problems.length
                ? `no: ${problems.join('; ')}`
                : `yes (${fmtInt(r.check?.confirmed ?? 0)})`
        ];
    });
}

/** A Markdown table (prettier aligns it when the README is written). */
export function markdownTable(
    head: readonly string[],
    rows: readonly (readonly string[])[],
    numeric: readonly number[]
): string {
    const line = (cells: readonly string[]): string =>
        `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
    const align = head.map((_, i) => (numeric.includes(i) ? '--:' : '---'));
    return [line(head), line(align), ...rows.map(line)].join('\n');
}

/** The table for a terminal: columns padded to their widest cell. */
export function textTable(
    head: readonly string[],
    rows: readonly (readonly string[])[],
    numeric: readonly number[]
): string {
    const widths = head.map((h, i) =>
        Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))
    );
    const fmt = (cells: readonly string[]): string =>
        cells
            .map((c, i) =>
                numeric.includes(i)
                    ? c.padStart(widths[i])
                    : c.padEnd(widths[i])
            )
            .join('  ')
            .trimEnd();
    return [
        fmt(head),
        widths.map((w) => '-'.repeat(w)).join('  '),
        ...rows.map(fmt)
    ].join('\n');
}

export function renderText(run: IntakeRunFile): string {
    const s = run.settings;
    return `${textTable(TABLE_HEAD, tableRows(run.results), NUMERIC_COLUMNS)}\n(load: ${s.durationSeconds} s or ${fmtInt(s.count)} unsubscribes, ${s.connections} connections; confirmations polled every ${s.pollMs} ms)\n`;
}

export const INTAKE_METHOD = `- **Load**: autocannon (the npm package, a devDependency) on loopback, in the harness's process, \`POST /unsubscribes\` with \`Authorization: Bearer <secret>\` and one global unsubscribe \`{"email": …}\` per request, a different email each time (a person seeded in the org, 80 % as a Contact, 20 % as a Lead); keep-alive connections, one request in flight per connection — a closed loop, so accepted/s is what the replicas sustain at that concurrency, not an arrival rate imposed on them. It stops after the duration or once every seeded email was sent, whichever comes first. With several replicas, autocannon is given every replica's URL and deals its connections out round-robin (connection _i_ to replica _i_ mod _N_), as a layer-4 load balancer with keep-alive would; the per-request samples of all replicas make one distribution (merged, not averaged).
- **To 200**: from the moment the request was built and written to its socket (the first request of a connection: when the connection was opened) to its answer, per request, measured by the harness (autocannon's own percentiles of the same run are kept in the JSON as a cross-check, and so is the harness's own event-loop delay: the load generator shares a process with the watcher below, and a late loop would show here as server latency). **Accepted/s**: 200 answers ÷ the time from the first request to the last answer.
- **To confirmed**: from the same send time to the moment the harness saw the record's \`Marketo_Sales_Opt_Out__c\` true in the local org — it queries Contacts and Leads with the field set and \`SystemModstamp\` in the last few seconds every poll interval (the org keeps whole seconds, so its stamp cannot time a write to the millisecond). A figure is therefore an upper bound, late by at most one poll interval plus one query. The org's settings: nightly sync on, opt-out field \`Marketo_Sales_Opt_Out__c\`. \`optout serve\` runs with its defaults (a push gathers arrivals for up to 1 s or 200 unsubscribes, one push at a time per replica), \`--rate\` raised so that the per-address limit (6,000/min by default) does not refuse the load generator.
- **Confirmed exactly once**: every email answered 200 was seen written; the org counted as many record updates as records seen written (none written twice); the ledger's suppression feed (\`GET /suppressions\`) holds each email once; the replicas' push loops delivered as many as the ledger holds, and none is pending when the last replica stops (SIGTERM: it finishes the push in flight).
- **Setup per configuration**: a fresh local org in a process of its own (file-backed, package deployed, settings written), a fresh ledger (a temporary SQLite file, or a new PostgreSQL database created on the server of \`--pg-url\` and dropped afterwards), the replicas started one after another (each waits for the previous one's \`listening\` line), then the persons seeded through the org's Bulk API. A configuration that fails (a ledger serve refuses, no PostgreSQL server) is reported with its error and the next one runs.
- The machine is shared: the org, the replicas, PostgreSQL, the load generator and the watcher (two queries every poll interval, served by the same org) compete for its two cores, with other work (load average above), so the figures are indicative and comparable within a run.`;

/** The Markdown section of README.md for the intake runs (latest result of each configuration). */
export function renderIntakeSection(
    runs: readonly IntakeRunFile[],
    files: readonly string[]
): string[] {
    if (!runs.length) return [];
    const lines: string[] = [];
    lines.push('## Webhook intake');
    lines.push('');
    lines.push(
        'Generated by `npm run bench:intake` from the `*-intake.json` files in [results/](results/): how fast `optout serve` accepts unsubscribes and how soon they are written in Salesforce (the local org), with one process on a SQLite ledger and one or three replicas on one PostgreSQL ledger. The latest result of each configuration; see the method below the table.'
    );
    lines.push('');
    runs.forEach((run, i) => {
        const s = run.settings;
        const m = run.machine;
        lines.push(
            `- [${files[i] ?? run.startedAt}](results/${files[i] ?? ''}): ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC — ${run.results.map((r) => r.config.name).join(', ')}; ${s.durationSeconds} s or ${fmtInt(s.count)} unsubscribes, ${s.connections} connections, confirmations polled every ${s.pollMs} ms, serve from ${s.cli}: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; load average ${m.loadAverage.start.toFixed(1)}${m.loadAverage.end !== undefined ? ` → ${m.loadAverage.end.toFixed(1)}` : ''}`
        );
    });
    lines.push('');
    const latest = new Map<string, ConfigResult>();
    for (const run of runs)
        for (const r of run.results) latest.set(r.config.name, r);
    lines.push(
        markdownTable(
            TABLE_HEAD,
            tableRows([...latest.values()]),
            NUMERIC_COLUMNS
        )
    );
    lines.push('');
    lines.push(INTAKE_METHOD);
    lines.push('');
    return lines;
}
