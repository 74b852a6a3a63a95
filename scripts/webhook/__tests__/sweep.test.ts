/**
 * The sweep of a running webhook: webhook unsubscribes pending in the ledger that its
 * own loop never saw (another replica accepted them and was killed before pushing) are
 * taken and pushed within the sweep interval, without a restart; recent ones are left
 * to the replica that accepted them; the interval comes from the option, else from
 * OPTOUT_WEBHOOK_SWEEP, else 60 s.
 */
import { Ledger } from '../../ledger/ledger';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient } from '../../salesforce/client';
import {
    DEFAULT_SWEEP_MS,
    SWEEP_ENV,
    startWebhook,
    sweepInterval,
    type Webhook
} from '../service';

const SECRET = 'sweep-test-secret-0123456789';

let t: TestOrg;
let ledger: Ledger;
let webhook: Webhook | undefined;

beforeAll(async () => {
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    t = await startTestOrg({ deploy: true });
    await seedRecords(t, 'Contact', fakePeople(10));
});

afterAll(async () => {
    await t?.close();
});

beforeEach(async () => {
    ledger = await Ledger.open(':memory:');
});

afterEach(async () => {
    await webhook?.close();
    webhook = undefined;
    await ledger.close();
});

const sleep = (ms: number): Promise<void> =>
    new Promise((r) => setTimeout(r, ms));

/** An unsubscribe another replica accepted (a webhook one) `agoMs` ago and never pushed. */
async function leftByAnotherReplica(
    email: string,
    agoMs: number
): Promise<number> {
    const r = await ledger.recordUnsubscribe({
        email,
        scope: 'all',
        source: 'webhook',
        collectedAt: new Date(Date.now() - agoMs).toISOString()
    });
    return r.unsubscribe.id;
}

async function start(sweepMs: number): Promise<Webhook> {
    webhook = await startWebhook({
        ledger,
        org: new OrgClient(t.conn as never, {
            targetOrg: 'local',
            local: true
        }),
        secret: SECRET,
        port: 0,
        // Not at start: the leftovers come after this replica started.
        resume: false,
        sweepMs,
        push: { maxDelayMs: 10 }
    });
    return webhook;
}

async function delivered(id: number): Promise<boolean> {
    return (await ledger.getUnsubscribe(id))?.deliveredAt != null;
}

describe('the sweep of pending webhook unsubscribes', () => {
    it('pushes what another replica left, while running, within the interval', async () => {
        const w = await start(150);
        const left = await leftByAnotherReplica('person1@example.com', 5_000);
        // Delivered, and counted by the loop once its push run has returned.
        const deadline = Date.now() + 5_000;
        while (
            !((await delivered(left)) && w.loop.stats.delivered === 1) &&
            Date.now() < deadline
        )
            await sleep(25);
        expect(await delivered(left)).toBe(true);
        expect(w.loop.stats.delivered).toBe(1);
        const res = await t.conn.query<{ HasOptedOutOfEmail: boolean }>(
            "SELECT HasOptedOutOfEmail FROM Contact WHERE Email = 'person1@example.com'"
        );
        expect(res.records.map((r) => r.HasOptedOutOfEmail)).toEqual([true]);
    });

    it('off (0): the leftover waits for a restart or the scheduler, as before', async () => {
        const w = await start(0);
        const left = await leftByAnotherReplica('person2@example.com', 5_000);
        await sleep(600);
        expect(await delivered(left)).toBe(false);
        expect(w.loop.stats.runs).toBe(0);
    });

    it('leaves a recent one to the replica that accepted it', async () => {
        // Looks at 1 s, 2 s, 3 s…: one collected at 1.3 s is 0.7 s old at the look
        // of 2 s (left alone), 1.7 s old at the look of 3 s (taken).
        const startedAt = Date.now();
        const w = await start(1000);
        await sleep(1300 - (Date.now() - startedAt));
        const recent = await leftByAnotherReplica('person3@example.com', 0);
        await sleep(2500 - (Date.now() - startedAt));
        expect(w.loop.stats.runs).toBe(0);
        expect(await delivered(recent)).toBe(false);
        const deadline = Date.now() + 5_000;
        while (!(await delivered(recent)) && Date.now() < deadline)
            await sleep(25);
        expect(await delivered(recent)).toBe(true);
    });
});

describe('sweepInterval', () => {
    it('takes the option, else the environment, else the default', () => {
        expect(sweepInterval(250, { [SWEEP_ENV]: '5s' })).toBe(250);
        expect(sweepInterval(undefined, { [SWEEP_ENV]: '5s' })).toBe(5000);
        expect(sweepInterval(undefined, { [SWEEP_ENV]: '0' })).toBe(0);
        expect(sweepInterval(undefined, {})).toBe(DEFAULT_SWEEP_MS);
    });

    it('refuses a bad duration, naming the variable', () => {
        expect(() =>
            sweepInterval(undefined, { [SWEEP_ENV]: 'often' })
        ).toThrow(/OPTOUT_WEBHOOK_SWEEP must be a duration/);
    });
});
