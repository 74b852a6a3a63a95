/**
 * Replica trials (PostgreSQL rows of the matrix): two `optout serve` replicas — the real
 * CLI in child processes, run from source, each in an empty working folder of its own
 * with only the local-org state file — on one PostgreSQL ledger (a fresh schema). A
 * burst of webhook unsubscribes (unique emails, each a Contact) is spread over both, as
 * a load balancer would; replica A is SIGKILLed while a push of its own is in flight —
 * at its k-th write request (seeded), either before the write leaves (the org never
 * gets it) or after the org got it (A never hears the answer); the rest of the burst
 * goes to the survivor B, and what A refused by dying is sent again to B. Then:
 *
 * - every unsubscribe that got a 200 is delivered in the ledger, once, and its Contact
 *   opted out in the org — those A accepted but never pushed included, taken by B's
 *   sweep without a restart (OPTOUT_WEBHOOK_SWEEP, short here);
 * - each Contact's opt-out field was written exactly once, counted as the org received
 *   the writes (the recording proxies in front of it), never to false; the org's own
 *   count of record updates agrees; the ledger's audit trail shows nothing twice;
 * - B stops gracefully (exit 0) with nothing pending;
 * - nothing was written in the working folders: the ledger lives in PostgreSQL.
 */
import { rmSync } from 'node:fs';
import { fakePeople } from '../local-org/testing';
import { id18 } from '../../sync/decisions';
import {
    auditProblems,
    removedWithoutResubscribe,
    type DeliveryCheck
} from './checks';
import {
    CliProcess,
    OrgProxy,
    filesUnder,
    freshSchema,
    orgFolder,
    type FieldWrite
} from './processes';
import { World } from './world';

const SECRET = 'replica-trial-secret-0123456789';
const DOMAIN = 'replicas.example';

export interface ReplicaTrialOptions {
    /** The PostgreSQL server (a fresh schema is made on it, dropped at the end). */
    pgUrl: string;
    seed: number;
    /** Unsubscribes in the burst (one Contact each). */
    burst: number;
    /** Concurrent requests of the sender. */
    concurrency?: number;
    /** Sweep interval of the replicas (ms). */
    sweepMs?: number;
    /** Longest wait for everything to be delivered after the burst (ms). */
    convergeMs?: number;
}

export interface ReplicaReport {
    scenario: string;
    dataset: string;
    seed: number;
    /** Where A was killed: "write n, before/after forwarding". */
    killedAt: string;
    accepted: number;
    /** Of those, accepted by A (before it died). */
    acceptedByA: number;
    /** Delivered by B's sweep or queue although A accepted them. */
    takenOverFromA: number;
    /** Requests A refused by dying, sent again to B. */
    resent: number;
    lost: number;
    /** Records whose opt-out field the org received more than once. */
    writtenTwice: number;
    problems: string[];
    durationMs: number;
    /** Seconds until both replicas listened. */
    startupS: number;
    /** Seconds of the burst (the wait for the kill included). */
    burstS: number;
    /** Seconds from the kill until everything was delivered. */
    convergedAfterS: number;
}

interface Sent {
    email: string;
    /** The replica that answered 200. */
    by: 'A' | 'B';
}

async function post(url: string, email: string): Promise<number> {
    const res = await fetch(`${url}/unsubscribes`, {
        method: 'POST',
        headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${SECRET}`
        },
        body: JSON.stringify({ email })
    });
    await res.text();
    return res.status;
}

function startReplica(
    name: string,
    cwd: string,
    ledger: string,
    sweepMs: number
): CliProcess {
    return CliProcess.start(
        name,
        cwd,
        [
            '--json',
            'serve',
            '--target-org',
            'local',
            '--ledger',
            ledger,
            '--port',
            '0',
            '--rate',
            '1000000/min',
            '--push-delay',
            '50ms'
        ],
        {
            OPTOUT_WEBHOOK_SECRET: SECRET,
            OPTOUT_WEBHOOK_SWEEP: `${sweepMs}ms`
        }
    );
}

const sleep = (ms: number): Promise<void> =>
    new Promise((r) => setTimeout(r, ms));

/** Field writes per record: those written more than once, and any set to false. */
export function writeProblems(writes: readonly FieldWrite[]): {
    twice: string[];
    falses: string[];
    perRecord: Map<string, number>;
} {
    const perRecord = new Map<string, number>();
    const falses: string[] = [];
    for (const w of writes) {
        if (w.value !== 'true')
            falses.push(`${w.field} = ${w.value} on ${w.id}`);
        const key = `${id18(w.id) ?? w.id}.${w.field}`;
        perRecord.set(key, (perRecord.get(key) ?? 0) + 1);
    }
    const twice = [...perRecord]
        .filter(([, n]) => n > 1)
        .map(([k, n]) => `${k} written ${n} times`);
    return { twice, falses, perRecord };
}

export async function runReplicaTrial(
    options: ReplicaTrialOptions
): Promise<ReplicaReport> {
    const started = Date.now();
    const sweepMs = options.sweepMs ?? 1000;
    const schema = await freshSchema(options.pgUrl, 'replicas');
    const world = await World.create({
        ledger: schema.url,
        seed: options.seed
    });
    const problems: string[] = [];
    const procs: CliProcess[] = [];
    const proxies: OrgProxy[] = [];
    const dirs: string[] = [];
    try {
        const emails = fakePeople(options.burst, { domain: DOMAIN }).map((p) =>
            String(p.Email)
        );
        const ids = await world.seed(
            'Contact',
            fakePeople(options.burst, { domain: DOMAIN })
        );
        const idOf = new Map(emails.map((e, i) => [e, ids[i]]));
        const [pa, pb] = [
            await OrgProxy.start(world.t.instanceUrl),
            await OrgProxy.start(world.t.instanceUrl)
        ];
        proxies.push(pa, pb);
        const [da, db] = [orgFolder(world, pa.url), orgFolder(world, pb.url)];
        dirs.push(da, db);
        const before = [filesUnder(da), filesUnder(db)];
        const a = startReplica('replica A', da, schema.url, sweepMs);
        const b = startReplica('replica B', db, schema.url, sweepMs);
        procs.push(a, b);
        const listening = (e: Record<string, unknown>): boolean =>
            e.event === 'listening';
        const [la, lb] = await Promise.all([
            a.waitFor(listening, 90_000),
            b.waitFor(listening, 90_000)
        ]);
        const startupS = (Date.now() - started) / 1000;
        const urlA = String(la.url);
        const urlB = String(lb.url);
        // Pushes take a while: the kill lands inside one.
        world.admin.setLatency({ min: 3, max: 12 });
        world.admin.resetStats();

        // The kill: at A's k-th write request, before or after it reaches the org.
        const k = 1 + Math.floor(world.random() * 2);
        // Both phases in turn (odd seeds: the write never leaves; even: its answer is lost).
        const phase = options.seed % 2 === 1 ? 'before' : 'after';
        let killedAtMs = 0;
        const killA = (): void => {
            if (killedAtMs) return;
            killedAtMs = Date.now();
            a.kill('SIGKILL');
        };
        pa.onWrite = (n) => {
            if (n !== k || phase !== 'before') return 'forward';
            killA();
            return 'drop';
        };
        pa.afterForward = (n) => {
            if (n === k && phase === 'after') killA();
        };

        // The burst: spread over both (a balancer's round robin) while A lives; what A
        // cannot answer goes to B, as a balancer retries another backend. Two thirds
        // go out before the kill; if A has not reached its k-th write by then (B held
        // the push lock throughout), the rest waits until it does; then the rest goes
        // to the survivor.
        const accepted: Sent[] = [];
        let resent = 0;
        let next = 0;
        const firstPart = Math.ceil((emails.length * 2) / 3);
        const burstStarted = Date.now();
        const killed = new Promise<void>((r) => {
            const check = setInterval(() => {
                if (killedAtMs) {
                    clearInterval(check);
                    r();
                }
            }, 5);
        });
        const sender = async (): Promise<void> => {
            for (;;) {
                const i = next++;
                if (i >= emails.length) return;
                if (i >= firstPart && !killedAtMs)
                    await Promise.race([killed, sleep(30_000)]);
                const email = emails[i];
                // Spaced out a little, so the burst lasts over several pushes.
                await sleep(Math.floor(world.random() * 15));
                if (!killedAtMs && i % 2 === 0) {
                    try {
                        const status = await post(urlA, email);
                        if (status === 200) {
                            accepted.push({ email, by: 'A' });
                            continue;
                        }
                    } catch {
                        // A died with this request: send it to B.
                    }
                    resent += 1;
                }
                const status = await post(urlB, email);
                if (status === 200) accepted.push({ email, by: 'B' });
                else problems.push(`B answered ${status} for ${email}`);
            }
        };
        await Promise.all(
            Array.from({ length: options.concurrency ?? 6 }, sender)
        );
        const burstS = (Date.now() - burstStarted) / 1000;
        if (!killedAtMs) {
            problems.push(
                `A made fewer than ${k} write requests within 30 s of the burst`
            );
            killA();
        }
        await a.exited;

        // Everything accepted is delivered, without restarting anything.
        const acceptedEmails = new Set(accepted.map((s) => s.email));
        const deadline = Date.now() + (options.convergeMs ?? 60_000);
        let undelivered = [...acceptedEmails];
        while (undelivered.length && Date.now() < deadline) {
            await sleep(200);
            const still: string[] = [];
            for (const email of undelivered) {
                const h = await world.ledger.history(email);
                if (!h.unsubscribes.some((u) => u.deliveredAt !== null))
                    still.push(email);
            }
            undelivered = still;
        }
        const convergedAfterS = (Date.now() - killedAtMs) / 1000;
        for (const email of undelivered)
            problems.push(`${email} got a 200 but was never delivered`);
        const exitB = await b.stop();
        if (exitB !== 0)
            problems.push(
                `B exited ${exitB} on SIGTERM: ${b.stderr.slice(-500)}`
            );
        const envelope = b.events.find(
            (e) => 'status' in e && 'result' in e
        ) as { result?: { pending?: number } } | undefined;
        if (envelope?.result?.pending !== 0)
            problems.push(
                `B stopped with ${envelope?.result?.pending ?? '?'} pending`
            );
        world.admin.setLatency(null);

        // The ledger: one active unsubscribe per email, delivered once.
        for (const email of acceptedEmails) {
            const h = await world.ledger.history(email);
            const active = h.unsubscribes.filter(
                (u) => u.scope === 'all' && !u.removedAt
            );
            if (active.length !== 1)
                problems.push(`${email}: ${active.length} active unsubscribes`);
        }
        problems.push(...(await removedWithoutResubscribe(world)));
        problems.push(
            ...(await auditProblems(world, { field: 'HasOptedOutOfEmail' }))
        );

        // The org: each accepted Contact opted out, its field received exactly once.
        const writes = [...pa.writes, ...pb.writes];
        const { twice, falses, perRecord } = writeProblems(writes);
        problems.push(...twice, ...falses);
        const optedOut = new Map(
            (
                await world.query(
                    `SELECT Id, Email, HasOptedOutOfEmail FROM Contact WHERE Email LIKE '%@${DOMAIN}'`
                )
            ).map((r) => [String(r.Email), r.HasOptedOutOfEmail === true])
        );
        const delivery: DeliveryCheck = {
            unconfirmed: [],
            undelivered: [],
            waiting: 0,
            delivered: 0
        };
        for (const email of emails) {
            const id = idOf.get(email) ?? '';
            const on = optedOut.get(email) === true;
            const n =
                perRecord.get(`${id18(id) ?? id}.HasOptedOutOfEmail`) ?? 0;
            if (acceptedEmails.has(email)) {
                if (!on) delivery.undelivered.push(email);
                else delivery.delivered += 1;
                if (n !== 1)
                    problems.push(
                        `${email}: the org received ${n} writes of its opt-out field`
                    );
            } else if (on || n > 0)
                problems.push(`${email} was never accepted but is opted out`);
        }
        for (const email of delivery.undelivered)
            problems.push(`${email} accepted but not opted out in the org`);
        const updated = world.admin.stats().records.updated;
        if (updated !== acceptedEmails.size)
            problems.push(
                `the org updated ${updated} records for ${acceptedEmails.size} accepted unsubscribes`
            );

        // No file in the working folders but the org's state file.
        for (const [i, dir] of [da, db].entries()) {
            const now = filesUnder(dir);
            if (JSON.stringify(now) !== JSON.stringify(before[i]))
                problems.push(
                    `files appeared in replica ${i ? 'B' : 'A'}'s working folder: ${now
                        .filter((f) => !before[i].includes(f))
                        .join(', ')}`
                );
        }

        const byA = accepted.filter((s) => s.by === 'A').map((s) => s.email);
        const auditedByB = await deliveredInRunsOf(world, b, byA);
        return {
            scenario: 'SIGKILL of a replica mid-push',
            dataset: `${options.burst} webhook unsubscribes, 2 replicas`,
            seed: options.seed,
            killedAt: `write ${k}, ${phase} it reached the org`,
            accepted: acceptedEmails.size,
            acceptedByA: byA.length,
            takenOverFromA: auditedByB,
            resent,
            lost: undelivered.length + delivery.undelivered.length,
            writtenTwice: twice.length,
            problems,
            durationMs: Date.now() - started,
            startupS,
            burstS,
            convergedAfterS
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

/** How many of these emails were delivered by runs of replica B (its push events' run ids). */
async function deliveredInRunsOf(
    world: World,
    b: CliProcess,
    emails: readonly string[]
): Promise<number> {
    const runs = new Set(
        b.events
            .filter((e) => e.event === 'push' && typeof e.runId === 'string')
            .map((e) => String(e.runId))
    );
    let n = 0;
    for (const email of emails) {
        const h = await world.ledger.history(email);
        if (
            h.audit.some(
                (x) =>
                    x.action === 'unsubscribe_delivered' &&
                    x.runId !== null &&
                    runs.has(x.runId)
            )
        )
            n += 1;
    }
    return n;
}
