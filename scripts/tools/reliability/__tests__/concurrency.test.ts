/**
 * Concurrency: two runs of the same job at once (one runs, the other refuses — the ledger
 * lock `job:<name>` — and nothing is corrupted), two schedulers on one ledger, two CLI
 * processes, and a burst of webhook unsubscribes while a nightly run (another process)
 * writes the same ledger file: every accepted unsubscribe is stored and delivered.
 */
import { spawn } from 'node:child_process';
import { Ledger } from '../../../ledger/ledger';
import { checkConfig } from '../../../scheduler/plan';
import { Scheduler, type SchedulerEvent } from '../../../scheduler/scheduler';
import { runJob } from '../../../sync/run';
import type { JobResult } from '../../../sync/result';
import { startWebhook } from '../../../webhook/service';
import {
    auditProblems,
    deliveryCheck,
    falseWrites,
    integrity,
    removedWithoutResubscribe
} from '../checks';
import { seedDataset } from '../dataset';
import { JOB_ORDER, runUntilClean } from '../matrix';
import { World } from '../world';
import { projectPath } from '../../../model/project';

const CLI = projectPath('bin', 'optout');

let world: World;
const extra: Ledger[] = [];
afterEach(async () => {
    for (const l of extra.splice(0)) await l.close();
    await world?.close();
});

function childEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete env[k];
    return env;
}

function cli(
    args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((res) => {
        const child = spawn(process.execPath, [CLI, ...args], {
            cwd: world.dir,
            env: childEnv()
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => res({ code, stdout, stderr }));
    });
}

async function healthy(w: World): Promise<void> {
    const field = 'HasOptedOutOfEmail';
    const delivery = await deliveryCheck(w, { field, applyToSameEmail: true });
    expect(delivery.unconfirmed).toEqual([]);
    expect(delivery.undelivered).toEqual([]);
    expect(falseWrites(w.sent)).toEqual([]);
    expect(await removedWithoutResubscribe(w)).toEqual([]);
    expect(await auditProblems(w, { field })).toEqual([]);
    await w.ledger.close();
    expect(integrity(w.ledgerPath)).toEqual([]);
    await w.reopenLedger();
}

describe('two runs of the same job at once', () => {
    it('in two connections to one ledger: one runs, the other is skipped naming the holder; the state is sound', async () => {
        world = await World.create();
        await seedDataset(world, { contacts: 80 });
        world.admin.setLatency({ min: 2, max: 6 });
        const other = await Ledger.open(world.ledgerPath);
        extra.push(other);
        for (const job of JOB_ORDER) {
            const [a, b] = await Promise.all([
                runJob(job, { ledger: world.ledger, org: world.client() }),
                runJob(job, { ledger: other, org: world.client() })
            ]);
            const statuses = [a.status, b.status].sort();
            expect(statuses).toEqual(['skipped', 'succeeded']);
            const skipped = a.status === 'skipped' ? a : b;
            expect(skipped.message).toMatch(/holds the lock \(pid \d+/);
            expect(skipped.apiRequests).toBe(0);
            expect(await world.ledger.getLock(`job:${job}`)).toBeUndefined();
        }
        world.admin.setLatency(null);
        await healthy(world);
    });

    it('two schedulers on one ledger firing the same job: one run, one skipped', async () => {
        world = await World.create();
        await seedDataset(world, { contacts: 40 });
        world.admin.setLatency({ min: 2, max: 6 });
        const other = await Ledger.open(world.ledgerPath);
        extra.push(other);
        const events: SchedulerEvent[] = [];
        const config = checkConfig({ timezone: 'UTC' });
        const schedulers = [world.ledger, other].map(
            (ledger) =>
                new Scheduler({
                    ledger,
                    org: world.client(),
                    config,
                    onEvent: (e) => events.push(e)
                })
        );
        await Promise.all(schedulers.map((s) => s.trigger('hourly', 'cron')));
        const results = events
            .filter(
                (e): e is Extract<SchedulerEvent, { event: 'run' }> =>
                    e.event === 'run'
            )
            .map((e) => e.result.status)
            .sort();
        expect(results).toEqual(['skipped', 'succeeded']);
        await Promise.all(schedulers.map((s) => s.stop()));
        const runs = await world.ledger.listRuns({ job: 'hourly' });
        expect(runs.map((r) => r.status).sort()).toEqual([
            'skipped',
            'succeeded'
        ]);
    });

    it('two CLI processes at once (optout sync hourly): one runs, the other skips with exit 0; the ledger file is sound', async () => {
        world = await World.create();
        await seedDataset(world, { contacts: 60 });
        world.writeLocalOrgState();
        // Long enough that the two overlap whatever their start-up times.
        world.admin.setLatency({ min: 40, max: 60 });
        const args = [
            '--json',
            'sync',
            'hourly',
            '--target-org',
            'local',
            '--ledger',
            world.ledgerPath
        ];
        const [a, b] = await Promise.all([cli(args), cli(args)]);
        world.admin.setLatency(null);
        expect([a.code, b.code]).toEqual([0, 0]);
        const statuses = [a, b]
            .map(
                (r) =>
                    (JSON.parse(r.stdout) as { result: JobResult }).result
                        .status
            )
            .sort();
        expect(statuses).toEqual(['skipped', 'succeeded']);
        await world.reopenLedger();
        const results: JobResult[] = [];
        for (const job of JOB_ORDER)
            await runUntilClean(world, job, { maxRuns: 3, results });
        await healthy(world);
    });
});

describe('webhook bursts during a nightly run in another process', () => {
    it('stores every accepted unsubscribe, delivers them all, and the nightly run finishes clean', async () => {
        world = await World.create();
        await seedDataset(world, { contacts: 150 });
        world.writeLocalOrgState();
        world.admin.setLatency({ min: 3, max: 10 });
        const webhookLedger = await Ledger.open(world.ledgerPath);
        extra.push(webhookLedger);
        const secret = 'a-webhook-secret-of-some-length';
        const webhook = await startWebhook({
            ledger: webhookLedger,
            org: world.client(),
            secret,
            port: 0,
            rate: { limit: 100_000, windowMs: 60_000, text: 'many' },
            push: { maxDelayMs: 20, backoff: { initialMs: 20, maxMs: 200 } }
        });
        const nightly = cli([
            '--json',
            'sync',
            'nightly',
            '--target-org',
            'local',
            '--ledger',
            world.ledgerPath
        ]);
        let exited = false;
        void nightly.then(() => (exited = true));
        const send = async (
            items: { email: string }[]
        ): Promise<{ status: number; at: number }> => {
            for (let attempt = 0; attempt < 20; attempt++) {
                let res: Response;
                try {
                    res = await fetch(`${webhook.url}/unsubscribes`, {
                        method: 'POST',
                        headers: {
                            'Content-Type': 'application/json',
                            Authorization: `Bearer ${secret}`
                        },
                        body: JSON.stringify(items)
                    });
                } catch {
                    // A reset keep-alive connection (a loaded machine): no answer, so a
                    // sender sends it again, as Mailchimp does; an unsubscribe stored
                    // twice is one in the ledger (checked below).
                    await new Promise((r) => setTimeout(r, 50));
                    continue;
                }
                await res.text();
                // A sender retries what was not stored (the webhook says so).
                if (res.status !== 503)
                    return { status: res.status, at: Date.now() };
                await new Promise((r) => setTimeout(r, 50));
            }
            return { status: 503, at: Date.now() };
        };
        // Bursts of 10 concurrent requests of 4 unsubscribes, from before the nightly
        // run starts until its process ends: persons not unsubscribed yet (i % 5 !== 0)
        // and new ones.
        const fresh = Array.from({ length: 150 }, (_, i) => i).filter(
            (i) => i % 5 !== 0
        );
        const emails: string[] = [];
        const replies: { status: number; at: number }[] = [];
        for (let round = 0; !exited && round < 300; round++) {
            const chunks = Array.from({ length: 10 }, () =>
                Array.from({ length: 4 }, () => {
                    const n = emails.length;
                    const email =
                        n < fresh.length
                            ? `person${fresh[n]}@example.com`
                            : `burst${n}@example.net`;
                    emails.push(email);
                    return { email };
                })
            );
            replies.push(...(await Promise.all(chunks.map(send))));
        }
        expect(replies.every((r) => r.status === 200)).toBe(true);
        const done = await nightly;
        expect(done.code).toBe(0);
        const nightlyResult = (JSON.parse(done.stdout) as { result: JobResult })
            .result;
        expect(nightlyResult.status).toBe('succeeded');
        // The bursts really overlapped the run.
        const run = await webhookLedger.getRun(nightlyResult.runId);
        const during = replies.filter(
            (r) =>
                r.at >= Date.parse(run?.startedAt ?? '') &&
                r.at <= Date.parse(run?.finishedAt ?? '')
        );
        expect(during.length).toBeGreaterThan(0);
        await webhook.loop.idle();
        await webhook.close();
        world.admin.setLatency(null);
        await world.reopenLedger();
        for (const email of emails) {
            const h = await world.ledger.history(email);
            expect(
                h.unsubscribes.filter((u) => u.scope === 'all' && !u.removedAt)
            ).toHaveLength(1);
        }
        const results: JobResult[] = [];
        for (const job of JOB_ORDER)
            await runUntilClean(world, job, { maxRuns: 3, results });
        await healthy(world);
        const delivery = await deliveryCheck(world, {
            field: 'HasOptedOutOfEmail',
            applyToSameEmail: true
        });
        // The new persons have no record: they wait; everyone else is delivered.
        expect(delivery.waiting).toBeGreaterThanOrEqual(
            emails.filter((e) => e.startsWith('burst')).length
        );
    });
});
