/**
 * A fleet on one PostgreSQL ledger (a PostgreSQL row of the long matrix): two `optout
 * serve` replicas and two `optout schedule` processes — the real CLI in child
 * processes, each in an empty working folder of its own behind a recording proxy to
 * the org — on a fresh schema, with the trial data set. The schedulers run the nightly
 * every 15 s (one leads), push every 2 s; a burst of webhook unsubscribes is spread
 * over both replicas until a nightly run has finished under it. Then every process is
 * stopped (SIGTERM), one round of push, hourly and nightly runs in-process, and:
 *
 * - every unsubscribe that got a 200 is stored once and, when its person has a record,
 *   delivered and in the org; nothing removed;
 * - nothing delivered twice, no record's opt-out field received twice by the org or set
 *   to false; the audit trail agrees with the org;
 * - only one scheduler ran nightly runs at a time (leadership), the nightly runs
 *   finished, every process stopped with exit 0, and no file appeared in any folder;
 * - a further round of every job writes nothing (it converged).
 */
import { rmSync } from 'node:fs';
import type { JobResult } from '../../sync/result';
import {
    auditProblems,
    deliveryCheck,
    idleRound,
    removedWithoutResubscribe
} from './checks';
import { seedDataset } from './dataset';
import { API_LIMIT, JOB_ORDER, runUntilClean } from './matrix';
import {
    CliProcess,
    OrgProxy,
    fieldWritesOf,
    filesUnder,
    freshSchema,
    orgFolder
} from './processes';
import { writeProblems } from './replicas';
import { auditWithJob, fieldsWrittenTwice } from '../../ledger/inspect';
import { World } from './world';

const SECRET = 'fleet-trial-secret-0123456789';

export interface FleetTrialOptions {
    pgUrl: string;
    seed: number;
    contacts: number;
    /** Longest burst (ms) while waiting for a nightly run to finish under it. */
    maxBurstMs?: number;
}

export interface FleetReport {
    scenario: string;
    dataset: string;
    seed: number;
    accepted: number;
    nightlyRuns: number;
    /** Push runs of the schedulers and replicas. */
    pushRuns: number;
    /** In-process runs needed to converge after the fleet stopped. */
    reruns: number;
    lost: number;
    problems: string[];
    durationMs: number;
}

const sleep = (ms: number): Promise<void> =>
    new Promise((r) => setTimeout(r, ms));

export async function runFleetTrial(
    options: FleetTrialOptions
): Promise<FleetReport> {
    const started = Date.now();
    const schema = await freshSchema(options.pgUrl, 'fleet');
    const world = await World.create({
        ledger: schema.url,
        apiLimit: API_LIMIT,
        seed: options.seed
    });
    const problems: string[] = [];
    const procs: CliProcess[] = [];
    const proxies: OrgProxy[] = [];
    const dirs: string[] = [];
    try {
        await seedDataset(world, { contacts: options.contacts });
        const folder = async (): Promise<string> => {
            const proxy = await OrgProxy.start(world.t.instanceUrl);
            proxies.push(proxy);
            const dir = orgFolder(world, proxy.url);
            dirs.push(dir);
            return dir;
        };
        const ledger = ['--ledger', schema.url, '--target-org', 'local'];
        const replicas = [0, 1].map(async (i) =>
            CliProcess.start(
                `replica ${i + 1}`,
                await folder(),
                [
                    '--json',
                    'serve',
                    ...ledger,
                    '--port',
                    '0',
                    '--rate',
                    '1000000/min',
                    '--push-delay',
                    '50ms'
                ],
                { OPTOUT_WEBHOOK_SECRET: SECRET, OPTOUT_WEBHOOK_SWEEP: '2s' }
            )
        );
        const schedulers = [0, 1].map(async (i) =>
            CliProcess.start(`scheduler ${i + 1}`, await folder(), [
                '--json',
                'schedule',
                ...ledger,
                '--timezone',
                'UTC',
                '--nightly',
                '*/15 * * * * *',
                '--hourly',
                '0 0 1 1 *',
                '--push-interval',
                '2s'
            ])
        );
        const serve = await Promise.all(replicas);
        const sched = await Promise.all(schedulers);
        procs.push(...serve, ...sched);
        const before = dirs.map((d) => filesUnder(d));
        const urls = (
            await Promise.all(
                serve.map((r) =>
                    r.waitFor((e) => e.event === 'listening', 90_000)
                )
            )
        ).map((e) => String(e.url));
        await Promise.all(
            sched.map((s) => s.waitFor((e) => e.event === 'started', 90_000))
        );
        world.admin.setLatency({ min: 2, max: 8 });

        // The burst: persons not unsubscribed yet, then new ones (no record: they
        // wait), until a nightly run has finished under it.
        const nightlyDone = (): boolean =>
            sched.some((s) =>
                s.events.some((e) => e.event === 'run' && e.job === 'nightly')
            );
        const fresh = Array.from(
            { length: options.contacts },
            (_, i) => i
        ).filter((i) => i % 5 !== 0);
        const emails: string[] = [];
        const accepted = new Set<string>();
        const burstEnd = Date.now() + (options.maxBurstMs ?? 45_000);
        let sawNightlyAt = 0;
        const burstStarted = new Date().toISOString();
        while (
            Date.now() < burstEnd &&
            (!sawNightlyAt || Date.now() < sawNightlyAt + 1000)
        ) {
            const round = Array.from({ length: 6 }, (_, j) => {
                const n = emails.length;
                const email =
                    n < fresh.length
                        ? `person${fresh[n]}@example.com`
                        : `burst${n}@example.net`;
                emails.push(email);
                return { email, url: urls[j % 2] };
            });
            await Promise.all(
                round.map(async ({ email, url }) => {
                    const res = await fetch(`${url}/unsubscribes`, {
                        method: 'POST',
                        headers: {
                            'content-type': 'application/json',
                            authorization: `Bearer ${SECRET}`
                        },
                        body: JSON.stringify({ email })
                    });
                    await res.text();
                    if (res.status === 200) accepted.add(email);
                    else problems.push(`${email}: ${res.status}`);
                })
            );
            if (!sawNightlyAt && nightlyDone()) sawNightlyAt = Date.now();
            await sleep(30 + Math.floor(world.random() * 40));
        }
        const burstEnded = new Date().toISOString();
        if (!sawNightlyAt)
            problems.push('no nightly run finished during the burst');

        // Stop everything: replicas first (they push what they hold), then schedulers.
        for (const p of serve) {
            const code = await p.stop();
            if (code !== 0)
                problems.push(
                    `${p.name} exited ${code}: ${p.stderr.slice(-300)}`
                );
        }
        await sleep(2500); // a scheduler push tick
        for (const p of sched) {
            const code = await p.stop();
            if (code !== 0)
                problems.push(
                    `${p.name} exited ${code}: ${p.stderr.slice(-300)}`
                );
        }
        world.admin.setLatency(null);

        const runEvents = sched.flatMap((s) =>
            s.events
                .filter((e) => e.event === 'run' || e.event === 'failed')
                .map((e): Record<string, unknown> => ({ ...e, by: s.name }))
        );
        const nightly = runEvents.filter((e) => e.job === 'nightly');
        for (const e of nightly)
            if (e.event === 'failed' || e.status === 'failed')
                problems.push(
                    `${e.by}: a nightly run failed: ${JSON.stringify(e).slice(0, 300)}`
                );
        const nightlyRuns = await world.ledger.listRuns({
            job: 'nightly',
            limit: 10_000
        });
        const ran = nightlyRuns.filter((r) => r.status !== 'skipped');
        ran.sort((x, y) => x.startedAt.localeCompare(y.startedAt));
        if (
            !ran.some(
                (r) =>
                    r.startedAt < burstEnded &&
                    (r.finishedAt ?? '') > burstStarted
            )
        )
            problems.push('no nightly run overlapped the burst');
        for (let i = 1; i < ran.length; i++)
            if ((ran[i - 1].finishedAt ?? '9') > ran[i].startedAt)
                problems.push(
                    `nightly runs ${ran[i - 1].id} and ${ran[i].id} overlapped`
                );

        // Converge: one round of every job in-process, then an idle round.
        const results: JobResult[] = [];
        let runs = 0;
        for (const job of JOB_ORDER)
            runs += await runUntilClean(world, job, { maxRuns: 3, results });
        const statsBefore = world.admin.stats();
        const idle: JobResult[] = [];
        for (const job of JOB_ORDER)
            await runUntilClean(world, job, { maxRuns: 1, results: idle });
        const { changes, writeRequests } = idleRound(
            statsBefore,
            world.admin.stats(),
            idle
        );
        if (changes > 0 || writeRequests > 0)
            problems.push(
                `did not converge: a further round wrote ${changes} change(s), ${writeRequests} request(s)`
            );

        for (const email of accepted) {
            const h = await world.ledger.history(email);
            const active = h.unsubscribes.filter(
                (u) => u.scope === 'all' && !u.removedAt
            );
            if (active.length !== 1)
                problems.push(`${email}: ${active.length} active unsubscribes`);
        }
        const delivery = await deliveryCheck(world, {
            field: 'HasOptedOutOfEmail',
            applyToSameEmail: true
        });
        problems.push(...delivery.unconfirmed, ...delivery.undelivered);
        problems.push(...(await removedWithoutResubscribe(world)));
        problems.push(
            ...(await auditProblems(world, { field: 'HasOptedOutOfEmail' }))
        );
        const { twice, falses } = writeProblems([
            ...proxies.flatMap((p) => p.writes),
            ...world.sent.flatMap((r) =>
                r.body === undefined
                    ? []
                    : fieldWritesOf(r.method, r.url, r.body)
            )
        ]);
        problems.push(...twice, ...falses);
        problems.push(...(await writersOfTwice(world)));
        dirs.forEach((d, i) => {
            const now = filesUnder(d);
            if (JSON.stringify(now) !== JSON.stringify(before[i]))
                problems.push(`files appeared in ${d}: ${now.join(', ')}`);
        });
        const pushRuns = (
            await world.ledger.listRuns({ job: 'push', limit: 10_000 })
        ).filter((r) => r.status !== 'skipped').length;
        return {
            scenario: '2 replicas + 2 schedulers, burst during a nightly',
            dataset: `${options.contacts} contacts`,
            seed: options.seed,
            accepted: accepted.size,
            nightlyRuns: ran.length,
            pushRuns,
            reruns: runs - JOB_ORDER.length,
            lost: delivery.undelivered.length + delivery.unconfirmed.length,
            problems,
            durationMs: Date.now() - started
        };
    } finally {
        for (const p of procs) p.kill('SIGKILL');
        await Promise.all(procs.map((p) => p.exited));
        for (const p of proxies) await p.close();
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
        await world.close();
        await schema.drop();
    }
}

/** For each record audited as written twice: which jobs wrote it (to tell the race). */
async function writersOfTwice(world: World): Promise<string[]> {
    const out: string[] = [];
    for (const t of await fieldsWrittenTwice(world.ledger)) {
        const [rec] = await world.query(
            `SELECT Email FROM Contact WHERE Id = '${t.id}'`
        );
        const email = String(rec?.Email ?? '');
        const writes = await auditWithJob(world.ledger, 'field_write', email);
        out.push(
            `${t.id} (${email}) written by: ${writes
                .filter((w) => w.recordId === t.id)
                .map((w) => w.job ?? '?')
                .join(', ')}`
        );
    }
    return out;
}
