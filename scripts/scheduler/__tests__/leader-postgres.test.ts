/**
 * PostgresLeadership against the tests' PostgreSQL server: one leader among several
 * instances; a leader whose session is terminated by the server learns it at once and
 * another takes the lead; release hands it over; and clear errors for a bad URL, a
 * server that is not there and a refused login. Each test competes for a name of its
 * own, so that suites running side by side on one server do not meet.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Client } from 'pg';
import {
    postgresTestSetting,
    postgresUrl
} from '../../ledger/__tests__/postgres-env';
import { OptoutError } from '../../model/errors';
import {
    PostgresLeadership,
    advisoryLockKey,
    checkLeaderUrl,
    leaderConnectError
} from '../leader';

/** Resolves with the first loss reported, or fails after a generous wait. */
function nextLoss(l: PostgresLeadership, waitMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(
            () => reject(new Error(`no loss reported within ${waitMs} ms`)),
            waitMs
        );
        const off = l.onLost((reason) => {
            clearTimeout(timer);
            off();
            resolve(reason);
        });
    });
}

/** A loopback port nobody listens on (the kernel's pick, closed again). */
async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    await new Promise<void>((r) => server.close(() => r()));
    if (address === null || typeof address === 'string')
        throw new Error('no port');
    return address.port;
}

describe('advisory lock keys and errors (no server)', () => {
    it('derives one signed 64-bit key per name, the same in every process', () => {
        const key = advisoryLockKey('optout:scheduler');
        expect(key).toBe(advisoryLockKey('optout:scheduler'));
        expect(key).toMatch(/^-?\d+$/);
        const n = BigInt(key);
        expect(n >= -(2n ** 63n) && n < 2n ** 63n).toBe(true);
        expect(advisoryLockKey('optout:other')).not.toBe(key);
        // Pinned: a change would let an old and a new scheduler both lead.
        expect(key).toBe('-7333733434849023679');
    });

    it('refuses a URL that is not a PostgreSQL URL, masking its password', () => {
        for (const url of [
            'postgres://u:secret@[bad',
            'mysql://u:secret@host/db',
            'ledger.db'
        ]) {
            let err: unknown;
            try {
                checkLeaderUrl(url);
            } catch (e) {
                err = e;
            }
            expect(err).toBeInstanceOf(OptoutError);
            expect(err).toMatchObject({ code: 'BAD_LEDGER_URL', exitCode: 2 });
            expect((err as Error).message).not.toContain('secret');
        }
        expect(() => new PostgresLeadership('postgres://u:p@[bad')).toThrow(
            OptoutError
        );
    });

    it('tells a server that is not there from one that says no', () => {
        const url = 'postgres://u:secret@db.example:5432/x';
        const refused = Object.assign(new Error('connect ECONNREFUSED'), {
            code: 'ECONNREFUSED'
        });
        expect(leaderConnectError(url, refused)).toMatchObject({
            code: 'LEDGER_UNREACHABLE',
            message: expect.stringContaining(
                'postgres://u:***@db.example:5432/x'
            )
        });
        const auth = Object.assign(
            new Error('password authentication failed for user "u"'),
            { code: '28P01' }
        );
        const e = leaderConnectError(url, auth);
        expect(e).toMatchObject({
            code: 'LEDGER_CONNECT_FAILED',
            actions: [expect.stringMatching(/user, password and database/)]
        });
        expect(e.message).not.toContain('secret');
    });
});

const pg = postgresTestSetting();
const NAME = 'PostgresLeadership on the tests’ PostgreSQL server';
if (pg.kind === 'skip') console.warn(`${NAME}: ${pg.reason}`);

(pg.kind === 'skip' ? describe.skip : describe)(NAME, () => {
    let url: string;
    let admin: Client;
    const made: PostgresLeadership[] = [];

    beforeAll(async () => {
        url = postgresUrl(pg);
        admin = new Client({ connectionString: url });
        await admin.connect();
    });
    afterAll(async () => {
        await admin?.end();
    });
    afterEach(async () => {
        await Promise.all(made.splice(0).map((l) => l.release()));
    });

    /** Instances competing for one fresh name. */
    function contenders(count: number): PostgresLeadership[] {
        const name = `optout:test:${randomUUID()}`;
        const ls = Array.from(
            { length: count },
            // A connection check far away: a loss here is learnt from the client's events.
            () => new PostgresLeadership(url, { name, checkIntervalMs: 60_000 })
        );
        made.push(...ls);
        return ls;
    }

    /** Whether the server shows the advisory lock of `l` as held by `pid`. */
    async function serverHolder(name: string): Promise<number[]> {
        const key = BigInt(advisoryLockKey(name));
        // pg_locks splits a bigint key into classid (high 32 bits) and objid (low).
        const hi = Number(BigInt.asIntN(32, key >> 32n)) >>> 0;
        const lo = Number(BigInt.asUintN(32, key));
        const { rows } = await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND classid = $1 AND objid = $2 AND objsubid = 1 AND database = (
                 SELECT oid FROM pg_database WHERE datname = current_database())`,
            [hi, lo]
        );
        return rows.map((r) => r.pid);
    }

    it('exactly one of three leads, and the server agrees', async () => {
        const [a, b, c] = contenders(3);
        const results = await Promise.all([a, b, c].map((l) => l.acquire()));
        expect(results.filter(Boolean)).toHaveLength(1);
        const leader = [a, b, c][results.indexOf(true)];
        expect([a, b, c].filter((l) => l.isLeader())).toEqual([leader]);
        // Asking again changes nothing.
        expect(await Promise.all([a, b, c].map((l) => l.acquire()))).toEqual(
            results
        );
        const name = leader.description.split(' ')[3];
        expect(await serverHolder(name)).toEqual([await leader.backendPid()]);
    });

    it('a leader whose session the server ends learns it at once, and another takes the lead', async () => {
        const [a, b] = contenders(2);
        expect(await a.acquire()).toBe(true);
        expect(await b.acquire()).toBe(false);
        const pid = await a.backendPid();
        const lost = nextLoss(a);
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        expect(await lost).toMatch(/connection|closed/);
        expect(a.isLeader()).toBe(false);
        // The server tells the client first and releases the session's locks as the
        // backend exits, a moment later: a follower that asks in between is told no
        // and takes the lead on its next attempt (every 15 s in optout schedule).
        const name = a.description.split(' ')[3];
        for (let i = 0; i < 100 && (await serverHolder(name)).length; i++)
            await new Promise((r) => setTimeout(r, 20));
        expect(await serverHolder(name)).toEqual([]);
        expect(await b.acquire()).toBe(true);
        // The old leader comes back on a new connection, as a follower.
        expect(await a.acquire()).toBe(false);
        expect(await a.backendPid()).not.toBe(pid);
    });

    it('a follower whose session dies reconnects on its next attempt', async () => {
        const [a, b] = contenders(2);
        await a.acquire();
        expect(await b.acquire()).toBe(false);
        const pid = await b.backendPid();
        const lost = jest.fn();
        b.onLost(lost);
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await a.release();
        expect(await b.acquire()).toBe(true);
        expect(await b.backendPid()).not.toBe(pid);
        expect(lost).not.toHaveBeenCalled(); // it was not leading
    });

    it('release hands the lead over at once, and closes the connection', async () => {
        const [a, b] = contenders(2);
        await a.acquire();
        const pid = await a.backendPid();
        expect(await b.acquire()).toBe(false);
        await a.release();
        expect(a.isLeader()).toBe(false);
        expect(await b.acquire()).toBe(true);
        const { rows } = await admin.query(
            'SELECT 1 FROM pg_stat_activity WHERE pid = $1',
            [pid]
        );
        expect(rows).toHaveLength(0);
    });

    it('a connection check that fails ends the lead and the session, so that the lock goes with it', async () => {
        const name = `optout:test:${randomUUID()}`;
        const clients: Client[] = [];
        const a = new PostgresLeadership(url, {
            name,
            checkIntervalMs: 200,
            createClient: (config) => {
                const c = new Client(config);
                clients.push(c);
                return c;
            }
        });
        const b = new PostgresLeadership(url, { name });
        made.push(a, b);
        expect(await a.acquire()).toBe(true);
        const pid = await a.backendPid();
        // The session stays open but stops answering (a half-open connection, a
        // server that hangs): the check's SELECT 1 fails.
        const client = clients[0];
        const query = client.query.bind(client) as (
            text: string
        ) => Promise<unknown>;
        (client as unknown as { query: typeof query }).query = (text) =>
            text === 'SELECT 1'
                ? Promise.reject(new Error('Query read timeout'))
                : query(text);
        expect(await nextLoss(a)).toMatch(
            /connection check failed: Query read timeout/
        );
        expect(a.isLeader()).toBe(false);
        // Closed by the loser itself: the server released the lock, another leads.
        expect(await b.acquire()).toBe(true);
        const { rows } = await admin.query(
            'SELECT 1 FROM pg_stat_activity WHERE pid = $1',
            [pid]
        );
        expect(rows).toHaveLength(0);
    });

    it('a server that is not there: a clear error, and no lead', async () => {
        const port = await closedPort();
        const u = new URL(url);
        u.port = String(port);
        u.password = 'sekrit-xyz';
        const l = new PostgresLeadership(u.toString(), {
            connectTimeoutMs: 5000
        });
        made.push(l);
        const err = await l.acquire().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OptoutError);
        expect(err).toMatchObject({
            code: 'LEDGER_UNREACHABLE',
            actions: expect.arrayContaining([
                expect.stringMatching(/host and port/)
            ])
        });
        expect((err as Error).message).toContain(`127.0.0.1:${port}`);
        expect((err as Error).message).not.toContain('sekrit-xyz');
        expect(l.isLeader()).toBe(false);
    });

    it('a refused login: a clear error that names no password', async () => {
        const u = new URL(url);
        u.password = 'not-the-password';
        const l = new PostgresLeadership(u.toString());
        made.push(l);
        const err = await l.acquire().catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'LEDGER_CONNECT_FAILED' });
        expect((err as Error).message).not.toContain('not-the-password');
    });
});
