/**
 * The PostgreSQL engine on a real server: what differs from SQLite underneath and must
 * not show above — the SQL written once for both (placeholders, camelCase columns),
 * one writer at a time across processes (seq and suppression events in commit order),
 * a busy ledger, a dropped connection, and migrations run once by racing processes.
 */
import { Client } from 'pg';
import { LedgerBusy, LedgerUnavailable } from '../errors';
import { Ledger } from '../ledger';
import {
    camelNames,
    jsonInteger,
    numberPlaceholders,
    renameColumns
} from '../sql/dialect';
import {
    freshSchemaUrl,
    postgresTestSetting,
    postgresUrl
} from './postgres-env';

describe('the SQL both engines read', () => {
    it('numbers ? outside literals, quoted names and comments', () => {
        expect(
            numberPlaceholders(
                `SELECT '?', "a?b", x FROM t -- why?\nWHERE a = ? AND b IN (?, ?) AND c = 'it''s ?'`
            )
        ).toBe(
            `SELECT '?', "a?b", x FROM t -- why?\nWHERE a = $1 AND b IN ($2, $3) AND c = 'it''s ?'`
        );
    });

    it('gives result columns back their camelCase aliases', () => {
        const names = camelNames(
            'SELECT email_norm AS emailNorm, p.salesforce_id AS salesforceId, id FROM p'
        );
        expect(
            renameColumns(
                { emailnorm: 'a@x.io', salesforceid: null, id: 1 },
                names
            )
        ).toEqual({ emailNorm: 'a@x.io', salesforceId: null, id: 1 });
    });

    it('builds the JSON read from names only', () => {
        expect(jsonInteger('postgres', 'a.detail', 'unsubscribeId')).toBe(
            "CAST((a.detail::jsonb ->> 'unsubscribeId') AS BIGINT)"
        );
        expect(() =>
            jsonInteger('sqlite', 'detail); DROP TABLE x; --', 'id')
        ).toThrow(/not a column/);
    });
});

const pg = postgresTestSetting();
const NAME = 'the PostgreSQL engine';
if (pg.kind === 'skip') console.warn(`${NAME}: ${pg.reason}`);

(pg.kind === 'skip' ? describe.skip : describe)(NAME, () => {
    const opened: Ledger[] = [];
    const clients: Client[] = [];
    afterEach(async () => {
        for (const l of opened.splice(0)) await l.close();
        for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    });

    async function open(url: string, busyTimeoutMs?: number): Promise<Ledger> {
        const ledger = await Ledger.open(url, { busyTimeoutMs });
        opened.push(ledger);
        return ledger;
    }

    async function client(url: string): Promise<Client> {
        const c = new Client({ connectionString: url });
        await c.connect();
        clients.push(c);
        return c;
    }

    it('migrates once when several processes open a new ledger together', async () => {
        const url = await freshSchemaUrl(postgresUrl(pg));
        const ledgers = await Promise.all([open(url), open(url), open(url)]);
        for (const l of ledgers) expect(await l.schemaVersion()).toBe(6);
        const c = await client(url);
        const rows = await c.query(
            'SELECT version FROM schema_migrations ORDER BY version'
        );
        // PostgreSQL starts at 5 (SQLite's 1-5 in one step), then 6.
        expect(rows.rows).toEqual([{ version: 5 }, { version: 6 }]);
    });

    it('keeps one writer at a time: seqs and feed events come in commit order from two processes', async () => {
        const url = await freshSchemaUrl(postgresUrl(pg));
        const a = await open(url);
        const b = await open(url);
        await a.upsertAudience({ id: 'news', name: 'News' });
        const writes = Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? a : b).recordUnsubscribe({
                email: `p${i}@x.io`,
                scope: 'audience',
                audienceId: 'news',
                source: 'webhook'
            })
        );
        await Promise.all(writes);
        const changes = await a.membershipChanges({ afterSeq: 0, limit: 100 });
        expect(changes.map((c) => c.seq)).toEqual(
            Array.from({ length: 40 }, (_, i) => i + 1)
        );
        const page = await b.suppressionPage(null, 100);
        expect(page.items).toHaveLength(40);
        const ids = page.items.map((i) => i.eventId);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
    });

    it('answers LedgerBusy when another process holds the write lock longer than it waits, storing nothing', async () => {
        const url = await freshSchemaUrl(postgresUrl(pg));
        const ledger = await open(url, 150);
        const other = await client(url);
        await other.query(
            'BEGIN; SELECT pg_advisory_xact_lock(72812, hashtext(current_schema()))'
        );
        await expect(
            ledger.recordUnsubscribe({
                email: 'ana@x.io',
                scope: 'all',
                source: 'webhook'
            })
        ).rejects.toBeInstanceOf(LedgerBusy);
        await other.query('ROLLBACK');
        expect(await ledger.findPerson('ana@x.io')).toBeUndefined();
        // Free again: the same call goes through.
        await ledger.recordUnsubscribe({
            email: 'ana@x.io',
            scope: 'all',
            source: 'webhook'
        });
        expect(await ledger.findPerson('ana@x.io')).toBeDefined();
    });

    it('a connection dropped in a transaction: LedgerUnavailable, nothing half-written, the next call works', async () => {
        const base = await freshSchemaUrl(postgresUrl(pg));
        // Its own application name: only this ledger's connections are cut.
        const app = `optout_drop_${Date.now()}`;
        const url = `${base}&application_name=${app}`;
        const ledger = await open(url);
        const admin = await client(base);
        let release!: () => void;
        const paused = new Promise<void>((r) => (release = r));
        const tx = ledger.transaction(async () => {
            await ledger.recordUnsubscribe({
                email: 'first@x.io',
                scope: 'all',
                source: 'webhook'
            });
            await paused;
            await ledger.recordUnsubscribe({
                email: 'second@x.io',
                scope: 'all',
                source: 'webhook'
            });
        });
        // Its outcome, taken at once (a rejection must never go unhandled meanwhile).
        const outcome = tx.then(
            () => null,
            (err: unknown) => err
        );
        // Wait until the transaction holds its connection, then cut every one of it.
        for (let i = 0; i < 100; i++) {
            const r = await admin.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'",
                [app]
            );
            if ((r.rows[0] as { n: number }).n > 0) break;
            await new Promise((ok) => setTimeout(ok, 20));
        }
        await admin.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
            [app]
        );
        release();
        expect(await outcome).toBeInstanceOf(LedgerUnavailable);
        expect(await ledger.findPerson('first@x.io')).toBeUndefined();
        expect((await ledger.status()).unsubscribes.active).toBe(0);
    });
});
