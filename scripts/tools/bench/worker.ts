/**
 * One measured job in a process of its own (started by run.ts with the task in
 * `BENCH_TASK`), so that its peak resident memory is the job's and nothing else's:
 * it opens the ledger file and a client of the org, runs the job the chosen way, and
 * sends `{ type: 'result', … }` with the counts, the wall time and its memory.
 *
 * Ways (variants):
 * - `sync`: the sync engine as shipped (runJob; Bulk API 2.0 above the thresholds);
 * - `collections`: the same engine with Bulk switched off — writes through sObject
 *   Collections only (bulk threshold above any size) and reads through REST query
 *   pages only (a Bulk query "page" of one row never looks cheaper to chooseReadMode);
 * - `naive`: one REST request per record (naive.ts).
 *
 * The push burst: 1,000 unsubscribes are recorded in the ledger over about three
 * seconds (30 arrivals, 100 ms apart) while the webhook's push service runs — coalescing
 * arrivals for up to a second or 1,000 unsubscribes, one push at a time, as
 * `optout serve` does; the naive way writes each one as it arrives.
 *
 * What the process loads is what the shipped CLI's process loads for a job against a
 * real org, so that its memory is that process's: it runs compiled, from dist/ (run.ts
 * builds it first and starts dist/scripts/tools/bench/worker.js), as bin/optout does;
 * it reaches the local org through a jsforce connection alone (../local-org/connection,
 * not the simulator); and the sync's ways load @salesforce/core, which openOrg loads
 * for any org but `local` (salesforce/open.ts) — loaded here and left unused, since
 * the local org's connection needs no CLI authentication.
 */
import { PerformanceObserver, constants as perf } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Ledger } from '../../ledger/ledger';
// The connection alone (jsforce), not ../local-org/connect, which loads the simulator:
// this process must load what a sync against a real org loads, no more.
import { connectionFor } from '../local-org/connection';
import { OrgClient } from '../../salesforce/client';
import { MIRROR_LOOKBACK_ENV } from '../../sync/mirror';
import {
    LONG_RUNNING_SETTINGS_TTL_MS,
    effectiveOptOutField,
    readSettings
} from '../../salesforce/settings';
import { runJob } from '../../sync/run';
import type { JobName, JobResult } from '../../sync/result';
import { ledgerPushService } from '../../sync/push-service';
import { BENCH_MIRROR_LOOKBACK, emailOf } from './layout';
import {
    extrapolate,
    naiveHourly,
    naiveNightly,
    naivePushOne,
    type NaiveContext
} from './naive';
import { HOURLY_CURSOR } from '../../sync/hourly';
import type { WorkerResult, WorkerTask } from './types';

function summary(
    r: JobResult
): Omit<WorkerResult, 'type' | 'job' | 'variant' | 'wallMs' | 'memory'> {
    return {
        apiRequests: r.apiRequests,
        recordsWritten: r.recordsWritten,
        membershipsUpserted: r.membershipsUpserted,
        ledgerUnsubscribesAdded: r.ledgerUnsubscribesAdded,
        unsubscribesDelivered: r.unsubscribesDelivered,
        status: r.status,
        failed: r.failed.length,
        retried: { ...r.retried },
        skipped: { ...r.skipped },
        modes: { ...(r.modes ?? {}) }
    };
}

const sleep = (ms: number): Promise<void> =>
    new Promise((r) => setTimeout(r, ms));

function median(values: number[]): number {
    if (!values.length) return 0;
    const s = [...values].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}

/** The burst's arrivals: recorded in the ledger, each handed to `onArrival`. */
async function arrivals(
    ledger: Ledger,
    task: WorkerTask,
    onArrival: (ids: { id: number; email: string }[]) => void | Promise<void>
): Promise<number[]> {
    const persons = task.burstPersons;
    const { arrivals: count, gapMs } = task.burst ?? {
        arrivals: 30,
        gapMs: 100
    };
    const per = Math.ceil(persons.length / count);
    const ids: number[] = [];
    for (let a = 0; a * per < persons.length; a++) {
        if (a > 0) await sleep(gapMs);
        const batch = persons.slice(a * per, (a + 1) * per);
        const recorded = await ledger.recordUnsubscribes(
            batch.map((i) => ({
                email: emailOf(i),
                scope: 'all' as const,
                source: 'webhook' as const,
                reason: 'benchmark burst'
            }))
        );
        const got = recorded.map((r, k) => ({
            id: r.unsubscribe.id,
            email: emailOf(batch[k])
        }));
        ids.push(...got.map((g) => g.id));
        await onArrival(got);
    }
    return ids;
}

async function deliverySeconds(
    ledger: Ledger,
    ids: number[]
): Promise<{ median: number; max: number }> {
    const lat: number[] = [];
    for (const id of ids) {
        const u = await ledger.getUnsubscribe(id);
        if (u?.deliveredAt)
            lat.push(
                (Date.parse(u.deliveredAt) - Date.parse(u.collectedAt)) / 1000
            );
    }
    return {
        median: median(lat),
        max: lat.length ? Math.max(...lat) : 0
    };
}

async function runSync(
    task: WorkerTask,
    ledger: Ledger,
    client: OrgClient
): Promise<Omit<WorkerResult, 'type' | 'job' | 'variant' | 'memory'>> {
    const t0 = Date.now();
    if (task.job !== 'push-burst') {
        const job: JobName = task.job.startsWith('hourly')
            ? 'hourly'
            : 'nightly';
        const offset = task.clockOffsetMs ?? 0;
        // The schedule compressed (layout.ts, BENCH_MIRROR_LOOKBACK).
        process.env[MIRROR_LOOKBACK_ENV] ??= BENCH_MIRROR_LOOKBACK;
        // Where the time goes: the phases the job reports and its log lines.
        const phases: NonNullable<WorkerResult['phases']> = {};
        const timeline: string[] = [];
        const r = await runJob(job, {
            ledger,
            org: client,
            // The schedule the sequence stands for (run.ts CLOCK_OFFSET_MS).
            ...(offset ? { now: () => new Date(Date.now() + offset) } : {}),
            ...(task.job === 'nightly-full' ? { nightly: { full: true } } : {}),
            onProgress: (e) => {
                const at = Date.now() - t0;
                const p = (phases[e.phase] ??= {
                    fromMs: at,
                    toMs: at,
                    done: 0
                });
                p.toMs = at;
                p.done = e.done;
                p.rssMiB = Math.max(
                    p.rssMiB ?? 0,
                    Math.round(process.memoryUsage().rss / 2 ** 20)
                );
            },
            log: (level, message) => {
                if (timeline.length < 40)
                    timeline.push(
                        `${Date.now() - t0} ms ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB ${level}: ${message.slice(0, 200)}`
                    );
            }
        });
        return {
            ...summary(r),
            ...(r.reconciliation
                ? { reconciliation: { ...r.reconciliation } }
                : {}),
            wallMs: Date.now() - t0,
            phases,
            timeline
        };
    }
    const results: JobResult[] = [];
    // The push service with its defaults (coalescing, batch size), as serve runs it,
    // on a client that reuses the settings as serve's does.
    const loop = ledgerPushService({
        ledger,
        org: client,
        onRun: (run) => {
            if (run.result) results.push(run.result);
        }
    });
    const ids = await arrivals(ledger, task, (got) =>
        loop.enqueue(got.map((g) => g.id))
    );
    await loop.idle();
    await loop.close();
    const wallMs = Date.now() - t0;
    const total = results.reduce(
        (acc, r) => {
            const s = summary(r);
            acc.apiRequests += s.apiRequests;
            acc.recordsWritten += s.recordsWritten;
            acc.membershipsUpserted += s.membershipsUpserted;
            acc.ledgerUnsubscribesAdded += s.ledgerUnsubscribesAdded;
            acc.unsubscribesDelivered += s.unsubscribesDelivered;
            acc.failed += s.failed;
            acc.retried.requests += s.retried.requests;
            acc.retried.records += s.retried.records;
            for (const [k, v] of Object.entries(s.skipped))
                acc.skipped[k] = (acc.skipped[k] ?? 0) + v;
            Object.assign(acc.modes, s.modes);
            if (s.status !== 'succeeded') acc.status = s.status;
            return acc;
        },
        {
            apiRequests: 0,
            recordsWritten: 0,
            membershipsUpserted: 0,
            ledgerUnsubscribesAdded: 0,
            unsubscribesDelivered: 0,
            status: 'succeeded',
            failed: 0,
            retried: { requests: 0, records: 0 },
            skipped: {} as Record<string, number>,
            modes: {} as Record<string, string>
        }
    );
    return {
        ...total,
        wallMs,
        pushes: results.length,
        deliverySeconds: await deliverySeconds(ledger, ids)
    };
}

async function runNaive(
    task: WorkerTask,
    ledger: Ledger,
    client: OrgClient
): Promise<Omit<WorkerResult, 'type' | 'job' | 'variant' | 'memory'>> {
    const t0 = Date.now();
    const { settings } = await readSettings(client);
    const run = await ledger.startRun({ job: `naive-${task.job}` });
    const ctx: NaiveContext = {
        conn: connectionFor(task.org),
        ledger,
        field: effectiveOptOutField(settings),
        runId: run.id
    };
    const base = {
        membershipsUpserted: 0,
        ledgerUnsubscribesAdded: 0,
        unsubscribesDelivered: 0,
        status: 'succeeded',
        failed: 0,
        retried: { requests: 0, records: 0 },
        skipped: {},
        modes: { all: 'one request per record' }
    };
    // The settings read above: one request the naive script needs too.
    const settingsRequests = client.apiRequests;
    if (task.job === 'push-burst') {
        const counter = { requests: settingsRequests };
        let writes = 0;
        const queue: { id: number; email: string }[] = [];
        let arrived = false;
        const worker = (async () => {
            for (;;) {
                const u = queue.shift();
                if (u) writes += await naivePushOne(ctx, counter, u);
                else if (arrived) return;
                else await sleep(5);
            }
        })();
        const ids = await arrivals(ledger, task, (got) => {
            queue.push(...got);
        });
        arrived = true;
        await worker;
        return {
            ...base,
            apiRequests: counter.requests,
            recordsWritten: writes,
            unsubscribesDelivered: ids.length,
            wallMs: Date.now() - t0,
            deliverySeconds: await deliverySeconds(ledger, ids)
        };
    }
    // The ledger's last change before this run: a script that runs every hour keeps its
    // place too (the sync's hourly cursor), so that the next hourly sees only its own.
    const upToSeq = await ledger.maxSeq();
    const outcome = task.job.startsWith('hourly')
        ? await naiveHourly(ctx, {
              sample: task.naiveSample,
              afterSeq: Number(
                  (await ledger.getCursor(
                      HOURLY_CURSOR.job,
                      HOURLY_CURSOR.name
                  )) ?? '0'
              )
          })
        : await naiveNightly(ctx, {
              sample: task.naiveSample,
              // Every nightly after the cold one: the same per-record reads, nothing to write.
              again: task.job !== 'nightly-cold'
          });
    if (task.job.startsWith('hourly'))
        await ledger.setCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name, upToSeq);
    const full = extrapolate(outcome);
    const setupMs = Date.now() - t0 - outcome.fixed.ms - outcome.sampled.ms;
    return {
        ...base,
        apiRequests: full.requests + settingsRequests,
        recordsWritten: full.writes,
        membershipsUpserted: full.upserts,
        ledgerUnsubscribesAdded: outcome.ledgerAdds,
        wallMs: full.ms + setupMs,
        naive: {
            extrapolated: full.extrapolated,
            sampledItems: outcome.sampled.items,
            totalItems: outcome.totalItems,
            measuredRequests:
                outcome.fixed.requests +
                outcome.sampled.requests +
                settingsRequests,
            measuredMs: Date.now() - t0
        }
    };
}

async function main(): Promise<void> {
    const task = JSON.parse(process.env.BENCH_TASK ?? '{}') as WorkerTask;
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    // The heap in use just after each full (mark-compact) GC: what the job keeps, which
    // resident memory hides (V8 grows the heap with what a job allocates, up to its limit).
    let heapAfterGc = 0;
    let fullGcs = 0;
    const gcs = new PerformanceObserver((list) => {
        for (const e of list.getEntries())
            if (
                (e as { detail?: { kind?: number } | null }).detail?.kind ===
                perf.NODE_PERFORMANCE_GC_MAJOR
            ) {
                fullGcs++;
                heapAfterGc = Math.max(
                    heapAfterGc,
                    getHeapStatistics().used_heap_size
                );
            }
    });
    gcs.observe({ entryTypes: ['gc'] });
    if (task.variant !== 'naive') {
        // What openOrg loads for a real org (salesforce/open.ts), before it connects.
        process.env.SF_DISABLE_TELEMETRY ??= 'true';
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('@salesforce/core');
    }
    const ledger = await Ledger.open(task.ledgerPath);
    const client = new OrgClient(connectionFor(task.org) as never, {
        targetOrg: 'local',
        local: true,
        // Bulk jobs are polled on the schedule the client uses against a real org
        // (1 s, then ×1.5 up to 10 s), not the local org's test schedule (20 ms up to
        // 2 s): the status polls counted are the ones an org would serve.
        poll: { minMs: 1000, maxMs: 10_000 },
        // The push burst is what serve runs: its client keeps the settings 30 s.
        ...(task.job === 'push-burst'
            ? { settingsTtlMs: LONG_RUNNING_SETTINGS_TTL_MS }
            : {}),
        ...(task.variant === 'collections'
            ? { bulkThreshold: Number.MAX_SAFE_INTEGER, bulkQueryPageSize: 1 }
            : {}),
        ...(task.clientOptions ?? {})
    });
    global.gc?.();
    const rssBeforeJobBytes = process.memoryUsage().rss;
    peak = rssBeforeJobBytes;
    let result: WorkerResult;
    try {
        const out =
            task.variant === 'naive'
                ? await runNaive(task, ledger, client)
                : await runSync(task, ledger, client);
        clearInterval(sampler);
        result = {
            type: 'result',
            job: task.job,
            variant: task.variant,
            ...out,
            memory: {
                rssBeforeJobBytes,
                peakBytes: Math.max(peak, process.memoryUsage().rss),
                maxRssBytes: process.resourceUsage().maxRSS * 1024,
                // No full GC: the heap never came near its limit; what it holds at the
                // end bounds what the job kept.
                heapAfterGcBytes:
                    fullGcs > 0
                        ? heapAfterGc
                        : getHeapStatistics().used_heap_size,
                fullGcs
            }
        };
    } finally {
        clearInterval(sampler);
        gcs.disconnect();
        await ledger.close();
    }
    // Idle keep-alive sockets would keep the process up: leave once the parent has it.
    process.send?.(result, () => process.exit(0));
}

main().catch((err: unknown) => {
    process.send?.(
        {
            type: 'error',
            message:
                err instanceof Error ? (err.stack ?? err.message) : String(err)
        },
        () => process.exit(1)
    );
});
