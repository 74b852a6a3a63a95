/**
 * Moving house (copy.ts): a SQLite ledger with every kind of row, copied to a fresh
 * PostgreSQL schema on the tests' server and back to a new SQLite file, compared table
 * by table, row by row; then the copy carries on where the source was (new ids do not
 * clash, cursors taken before the copy still read on). Refusals write nothing.
 *
 * The suite names both engines itself, so it runs in the `scripts` project only: in
 * the `postgres` project every file path would be redirected to PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { to18 } from '../../model/ids';
import { copyLedger, insertSql, pageSize } from '../copy';
import {
    LEDGER_TABLES,
    Ledger,
    connectionOf,
    engineOf,
    type LedgerTable
} from '../ledger';
import { recordOutcomes } from '../mailchimp-deliveries';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../migrations';
import type { AttemptError } from '../types';
import {
    TEST_ENGINE_ENV,
    postgresTestSetting,
    postgresUrl
} from './postgres-env';

const pg = postgresTestSetting();
const redirected = process.env[TEST_ENGINE_ENV] === 'postgres';
if (pg.kind === 'skip') console.warn(`ledger copy: ${pg.reason}`);
const describePg = pg.kind === 'skip' || redirected ? describe.skip : describe;

const RULE: AttemptError = {
    code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
    message: 'Blocked by a validation rule',
    recordId: to18('003000000000009'),
    object: 'Contact'
};

/** The ORDER BY of each table: its primary key (runs: insertion order). */
const ORDER: Record<LedgerTable, string> = {
    persons: 'id',
    audiences: 'id',
    memberships: 'person_id, audience_id',
    unsubscribes: 'id',
    audit: 'id',
    runs: 'rowid',
    cursors: 'job, name',
    locks: 'name',
    mailchimp_deliveries: 'unsubscribe_id, list_id',
    suppression_events: 'id',
    sf_record: 'id',
    sf_membership: 'membership_key',
    sf_mirror_state: 'object'
};

/** Every row of a table, in key order; runs with their rowid on both engines. */
async function dump(
    ledger: Ledger,
    table: LedgerTable
): Promise<Record<string, unknown>[]> {
    const engine = engineOf(ledger);
    const cols =
        table === 'runs' && engine.kind === 'sqlite' ? 'rowid, *' : '*';
    return engine.all(`SELECT ${cols} FROM ${table} ORDER BY ${ORDER[table]}`);
}

let dir: string;
const schemas: string[] = [];
const open: Ledger[] = [];

async function track(ledger: Promise<Ledger>): Promise<Ledger> {
    const l = await ledger;
    open.push(l);
    return l;
}

/** A new, empty schema on the tests' server; its URL. */
async function freshPostgres(): Promise<string> {
    const base = postgresUrl(pg);
    const schema = `copy_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const client = new Client({ connectionString: base });
    await client.connect();
    try {
        await client.query(`CREATE SCHEMA ${schema}`);
    } finally {
        await client.end();
    }
    schemas.push(schema);
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
}

function sqlitePath(name: string): string {
    return join(dir, `${name}-${randomUUID().slice(0, 8)}.db`);
}

/** A clock the ledger reads, one second further at each call. */
function clock(): () => Date {
    let t = Date.parse('2026-11-20T10:00:00.000Z');
    return () => new Date((t += 1000));
}

interface Filled {
    /** A suppression feed cursor taken half-way (before the copy). */
    midCursor: string;
}

/**
 * Every kind of row: persons with and without Salesforce ids, audiences,
 * memberships, unsubscribes (global and audience; pending, delivered, removed,
 * refused, dead), audit, runs (finished and running), cursors, a lock, suppression
 * events, Mailchimp deliveries; 30 more persons and memberships so that a small page
 * size gives several pages.
 */
async function fill(ledger: Ledger): Promise<Filled> {
    const ana = (
        await ledger.upsertPerson({
            email: 'ana@example.com',
            salesforceId: to18('003000000000001')
        })
    ).person;
    const bo = (await ledger.upsertPerson({ email: 'Bo@Example.com' })).person;
    await ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
    await ledger.upsertAudience({ id: 'promo', name: 'Promotions' });
    for (let i = 0; i < 30; i++) {
        const p = (
            await ledger.upsertPerson({
                email: `p${i}@example.com`,
                salesforceId:
                    i % 3 === 0 ? to18(`00Q0000000000${10 + i}`) : undefined
            })
        ).person;
        await ledger.setMembershipStatus({
            personId: p.id,
            audienceId: i % 2 ? 'news' : 'promo',
            status: i % 5 === 0 ? 'Cleaned' : 'Subscribed',
            source: 'import'
        });
    }
    await ledger.setMembershipStatus({
        personId: ana.id,
        audienceId: 'news',
        status: 'Subscribed',
        source: 'platform'
    });
    const run = await ledger.startRun({ job: 'push' });
    const global = await ledger.recordUnsubscribe({
        email: 'cy@example.com',
        scope: 'all',
        source: 'webhook',
        reason: 'clicked unsubscribe'
    });
    const audience = await ledger.recordUnsubscribe({
        personId: ana.id,
        scope: 'audience',
        audienceId: 'news',
        source: 'platform'
    });
    await ledger.markDelivered([global.unsubscribe.id], { runId: run.id });
    await ledger.finishRun(run.id, {
        status: 'succeeded',
        result: { pushed: 1 }
    });
    const midCursor = (await ledger.suppressionPage(null, 1)).next;
    await ledger.recordUnsubscribe({
        personId: bo.id,
        scope: 'all',
        source: 'flow'
    });
    await ledger.resubscribe({
        email: 'Bo@Example.com',
        reason: 'asked to hear from us again'
    });
    const refused = await ledger.recordUnsubscribe({
        email: 'dee@example.com',
        salesforceId: to18('003000000000009'),
        scope: 'all',
        source: 'salesforce'
    });
    for (let i = 0; i < 5; i++)
        await ledger.recordUnsubscribeAttempts(
            [{ id: refused.unsubscribe.id, outcome: 'failed', error: RULE }],
            { at: new Date().toISOString(), delay: () => 1, runId: run.id }
        );
    await recordOutcomes(
        ledger,
        [
            {
                target: {
                    unsubscribeId: global.unsubscribe.id,
                    listId: 'news',
                    personId: global.person.id,
                    email: 'cy@example.com',
                    emailNorm: 'cy@example.com',
                    scope: 'all',
                    source: 'webhook',
                    collectedAt: global.unsubscribe.collectedAt
                },
                outcome: 'delivered',
                detail: null
            },
            {
                target: {
                    unsubscribeId: audience.unsubscribe.id,
                    listId: 'news',
                    personId: ana.id,
                    email: 'ana@example.com',
                    emailNorm: 'ana@example.com',
                    scope: 'audience',
                    source: 'platform',
                    collectedAt: audience.unsubscribe.collectedAt
                },
                outcome: 'skipped',
                detail: 'not a member'
            }
        ],
        run.id
    );
    await ledger.appendAudit({
        action: 'field_write',
        at: '2026-11-20T11:00:00.000Z',
        runId: run.id,
        emailNorm: 'ana@example.com',
        personId: ana.id,
        recordId: to18('003000000000001'),
        object: 'Contact',
        field: 'HasOptedOutOfEmail',
        before: 'false',
        after: 'true',
        source: 'webhook',
        collectedAt: '2026-11-20T10:59:59.000Z',
        writtenAt: '2026-11-20T11:00:00.000Z',
        latencyMs: 1000,
        detail: { note: 'quoted "text", commas, and ünïcode' }
    });
    // The Salesforce mirror (migration 6): a Contact, a converted Lead, a membership.
    await ledger.mirrorApplyPage('Contact', {
        records: [
            {
                id: to18('003000000000001'),
                object: 'Contact',
                email: 'Ana@Example.com',
                emailNorm: 'ana@example.com',
                isConverted: false,
                convertedContactId: null,
                hasOptedOutOfEmail: true,
                marketoSalesOptOut: null,
                systemModstamp: '2026-11-20T11:00:00.000Z'
            }
        ],
        state: {
            watermark: '2026-11-20T11:00:00.000Z',
            fullAt: '2026-11-20T11:00:05.000Z',
            fields: []
        }
    });
    await ledger.mirrorApplyPage('Lead', {
        records: [
            {
                id: to18('00Q000000000040'),
                object: 'Lead',
                email: null,
                emailNorm: null,
                isConverted: true,
                convertedContactId: to18('003000000000001'),
                hasOptedOutOfEmail: false,
                marketoSalesOptOut: false,
                systemModstamp: '2026-11-20T10:00:00.000Z'
            }
        ]
    });
    await ledger.mirrorApplyPage('Audience_Membership__c', {
        memberships: [
            {
                id: 'a00000000000001AAA',
                key: `news:${to18('003000000000001')}`,
                contactId: to18('003000000000001'),
                leadId: null,
                audienceId: 'news',
                audienceName: 'Newsletter',
                email: 'ana@example.com',
                status: 'Unsubscribed',
                changedAt: '2026-11-20T10:59:59.000Z',
                source: 'Platform',
                reason: null,
                pending: false,
                systemModstamp: '2026-11-20T11:00:00.000Z'
            }
        ],
        fullSeen: 'full-1'
    });
    await ledger.startRun({ job: 'nightly', dryRun: true });
    await ledger.setCursor('hourly', 'seq', await ledger.maxSeq());
    await ledger.setCursor('push', 'webhook:news', 'c2luY2U=');
    await ledger.acquireLock('nightly', { holder: 'host-a:123' });
    return { midCursor };
}

beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'optout-copy-'));
});

afterAll(async () => {
    for (const l of open) await l.close();
    if (pg.kind === 'run' && schemas.length) {
        const client = new Client({ connectionString: pg.url });
        await client.connect();
        for (const s of schemas)
            await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
        await client.end();
    }
    rmSync(dir, { recursive: true, force: true });
});

describe('page and statement shapes', () => {
    it('keeps a page under the bound-parameter limit of both engines', () => {
        expect(pageSize(20, 2000)).toBe(1500);
        expect(pageSize(4, 2000)).toBe(2000);
        expect(pageSize(4, 3)).toBe(3);
        expect(20 * pageSize(20, 100_000)).toBeLessThanOrEqual(32_766);
    });

    it('inserts several rows per statement, overriding identities on PostgreSQL', () => {
        expect(
            insertSql({ kind: 'sqlite' }, 'cursors', ['job', 'name'], 2)
        ).toBe('INSERT INTO cursors ("job", "name") VALUES (?, ?), (?, ?)');
        expect(insertSql({ kind: 'postgres' }, 'runs', ['id'], 1)).toBe(
            'INSERT INTO runs ("id") OVERRIDING SYSTEM VALUE VALUES (?)'
        );
    });
});

describePg('copyLedger between SQLite and PostgreSQL', () => {
    let source: Ledger;
    let filled: Filled;
    let postgres: Ledger;

    beforeAll(async () => {
        source = await track(
            Ledger.open(sqlitePath('source'), { now: clock() })
        );
        filled = await fill(source);
        postgres = await track(Ledger.open(await freshPostgres()));
    }, 60_000);

    it('copies every table to PostgreSQL, row by row, in pages, and verifies the counts', async () => {
        const progress: string[] = [];
        const report = await copyLedger(source, postgres, {
            pageRows: 7,
            onProgress: (p) =>
                progress.push(`${p.table}:${p.copied}/${p.total}`)
        });
        const counts = await source.rowCounts();
        for (const table of LEDGER_TABLES) {
            if (table === 'locks') continue;
            expect(counts[table]).toBeGreaterThan(0);
            expect(await dump(postgres, table)).toEqual(
                await dump(source, table)
            );
        }
        // Several pages of persons: 7, 14, … up to the total.
        expect(progress).toEqual(
            expect.arrayContaining([
                'persons:7/34',
                'persons:14/34',
                'persons:34/34'
            ])
        );
        expect(report).toMatchObject({
            fromEngine: 'sqlite',
            toEngine: 'postgres',
            schemaVersion: await source.schemaVersion(),
            sourceLocks: [{ name: 'nightly', holder: 'host-a:123' }]
        });
        expect(report.tables.find((t) => t.table === 'persons')).toEqual({
            table: 'persons',
            source: 34,
            target: 34
        });
        // The lock belongs to a process of the source: reported, not copied.
        expect(report.tables.find((t) => t.table === 'locks')).toMatchObject({
            source: 1,
            target: 0,
            skipped: expect.any(String)
        });
        expect(await postgres.getLock('nightly')).toBeUndefined();
        expect(report.rows).toBe(
            LEDGER_TABLES.filter((t) => t !== 'locks').reduce(
                (n, t) => n + counts[t],
                0
            )
        );
    }, 60_000);

    it('carries on where the source was: cursors, seqs and new ids', async () => {
        // The same answers to the same questions.
        for (const cursor of [null, filled.midCursor])
            expect(await postgres.suppressionPage(cursor, 100)).toEqual(
                await source.suppressionPage(cursor, 100)
            );
        expect(await postgres.getCursor('hourly', 'seq')).toBe(
            await source.getCursor('hourly', 'seq')
        );
        expect(await postgres.listCursors('push')).toEqual(
            await source.listCursors('push')
        );
        expect(await postgres.lastRuns()).toEqual(await source.lastRuns());
        expect(await postgres.stuckCounts()).toEqual(
            await source.stuckCounts()
        );
        expect(await postgres.history('ana@example.com')).toEqual(
            await source.history('ana@example.com')
        );

        // New rows get new ids on both, the same ones.
        const seq = await source.maxSeq();
        const next = async (table: LedgerTable): Promise<number> =>
            Math.max(...(await dump(source, table)).map((r) => Number(r.id))) +
            1;
        const [nextUnsubscribe, nextPerson] = [
            await next('unsubscribes'),
            await next('persons')
        ];
        for (const ledger of [source, postgres]) {
            const u = await ledger.recordUnsubscribe({
                email: 'new@example.com',
                scope: 'all',
                source: 'webhook'
            });
            const audit = await ledger.appendAudit({
                action: 'retry_requested',
                at: '2026-11-21T00:00:00.000Z'
            });
            const zoe = (
                await ledger.upsertPerson({ email: 'zoe@example.com' })
            ).person;
            await ledger.setMembershipStatus({
                personId: zoe.id,
                audienceId: 'news',
                status: 'Subscribed',
                source: 'platform'
            });
            await ledger.startRun({
                job: 'hourly',
                id: `after-${ledger.engineKind}`
            });
            expect({ u: u.unsubscribe.id, audit, zoe: zoe.id }).toEqual({
                u: nextUnsubscribe,
                audit: expect.any(Number),
                zoe: nextPerson + 1
            });
            const changes = await ledger.membershipChanges({ afterSeq: seq });
            expect(changes.map((c) => [c.seq, c.emailNorm])).toEqual([
                [seq + 1, 'zoe@example.com']
            ]);
            const page = await ledger.suppressionPage(filled.midCursor, 100);
            expect(page.items[page.items.length - 1]).toMatchObject({
                email: 'new@example.com'
            });
            const runs = await dump(ledger, 'runs');
            expect(runs[runs.length - 1]).toMatchObject({
                id: `after-${ledger.engineKind}`,
                rowid: runs.length
            });
        }
        // The two audits got the same id: the sequence went past the copied ones.
        const audits = [
            await dump(source, 'audit'),
            await dump(postgres, 'audit')
        ];
        expect(audits[1].map((a) => a.id)).toEqual(audits[0].map((a) => a.id));
        const events = [
            await dump(source, 'suppression_events'),
            await dump(postgres, 'suppression_events')
        ];
        expect(events[1].map((e) => e.id)).toEqual(events[0].map((e) => e.id));
    }, 60_000);

    it('copies PostgreSQL back to a new SQLite file, equal to the source', async () => {
        const back = await track(Ledger.open(sqlitePath('back')));
        const report = await copyLedger(postgres, back);
        expect(report).toMatchObject({
            fromEngine: 'postgres',
            toEngine: 'sqlite'
        });
        for (const table of LEDGER_TABLES) {
            if (table === 'locks') continue;
            expect(await dump(back, table)).toEqual(
                await dump(postgres, table)
            );
        }
        // SQLite's own counters follow the copied ids (AUTOINCREMENT included).
        const u = await back.recordUnsubscribe({
            email: 'later@example.com',
            scope: 'all',
            source: 'webhook'
        });
        const events = await dump(postgres, 'suppression_events');
        const copied = await dump(postgres, 'unsubscribes');
        expect(u.unsubscribe.id).toBe(Number(copied[copied.length - 1].id) + 1);
        const page = await back.suppressionPage(null, 1000);
        expect(page.items[page.items.length - 1].eventId).toBe(
            Number(events[events.length - 1].id) + 1
        );
    }, 60_000);

    it('copies SQLite to SQLite', async () => {
        const other = await track(Ledger.open(sqlitePath('other')));
        await copyLedger(source, other, { pageRows: 5 });
        for (const table of LEDGER_TABLES.filter((t) => t !== 'locks'))
            expect(await dump(other, table)).toEqual(await dump(source, table));
    }, 60_000);

    it('copies full pages: as many values per INSERT as both engines take', async () => {
        const big = await track(Ledger.open(sqlitePath('big')));
        const db = connectionOf(big);
        const n = 4000;
        db.transaction(() => {
            db.prepare(
                "INSERT INTO audiences (id, name, created_at, updated_at) VALUES ('news', 'News', 't', 't')"
            ).run();
            const person = db.prepare(
                'INSERT INTO persons (id, email, email_norm, created_at, updated_at) VALUES (?, ?, ?, ?, ?)'
            );
            const member = db.prepare(
                "INSERT INTO memberships (person_id, audience_id, status, changed_at, source, seq) VALUES (?, 'news', 'Subscribed', 't', 'import', ?)"
            );
            const unsubscribe = db.prepare(
                "INSERT INTO unsubscribes (id, person_id, scope, source, collected_at) VALUES (?, ?, 'all', 'webhook', ?)"
            );
            for (let i = 1; i <= n; i++) {
                // Ids with gaps: the copy keeps them, it does not renumber.
                const id = i * 3;
                person.run(
                    id,
                    `p${i}@example.com`,
                    `p${i}@example.com`,
                    't',
                    't'
                );
                member.run(id, i);
                unsubscribe.run(
                    i * 2,
                    id,
                    `2026-11-${String((i % 28) + 1).padStart(2, '0')}`
                );
            }
        })();
        const target = await track(Ledger.open(await freshPostgres()));
        const report = await copyLedger(big, target);
        expect(
            report.tables.filter((t) => t.source === n).map((t) => t.table)
        ).toEqual(['persons', 'memberships', 'unsubscribes']);
        for (const table of ['persons', 'memberships', 'unsubscribes'] as const)
            expect(await dump(target, table)).toEqual(await dump(big, table));
        const back = await track(Ledger.open(sqlitePath('big-back')));
        await copyLedger(target, back);
        expect(await dump(back, 'unsubscribes')).toEqual(
            await dump(big, 'unsubscribes')
        );
        const next = await target.upsertPerson({ email: 'next@example.com' });
        expect(next.person.id).toBe(n * 3 + 1);
    }, 120_000);

    it('copies one state of the source: a write that comes during the copy waits for its end', async () => {
        const busy = await track(Ledger.open(sqlitePath('busy')));
        await fill(busy);
        const writer = await track(Ledger.open(busy.path));
        const target = await track(Ledger.open(await freshPostgres()));
        let write: Promise<unknown> | undefined;
        let copying = true;
        let doneDuringCopy = false;
        const report = await copyLedger(busy, target, {
            pageRows: 5,
            onProgress: () => {
                write ??= writer
                    .recordUnsubscribe({
                        email: 'during@example.com',
                        scope: 'all',
                        source: 'webhook'
                    })
                    .then(() => {
                        doneDuringCopy = copying;
                    });
            }
        });
        copying = false;
        await write;
        expect(doneDuringCopy).toBe(false);
        expect(await target.findPerson('during@example.com')).toBeUndefined();
        expect(await busy.findPerson('during@example.com')).toBeDefined();
        expect(report.tables.find((t) => t.table === 'persons')?.target).toBe(
            (await busy.rowCounts()).persons - 1
        );
    }, 60_000);

    it('refuses a target that is not empty, writing nothing', async () => {
        const target = await track(Ledger.open(await freshPostgres()));
        await target.setCursor('push', 'x', '1');
        const before = await target.rowCounts();
        await expect(copyLedger(source, target)).rejects.toMatchObject({
            code: 'LEDGER_COPY_TARGET_NOT_EMPTY',
            actions: expect.arrayContaining([
                expect.stringMatching(/empty PostgreSQL database or schema/)
            ])
        });
        expect(await target.rowCounts()).toEqual(before);
        // A lock alone (a process uses it) is enough to refuse.
        const locked = await track(Ledger.open(sqlitePath('locked')));
        await locked.acquireLock('push', { holder: 'h:1' });
        await expect(copyLedger(source, locked)).rejects.toMatchObject({
            code: 'LEDGER_COPY_TARGET_NOT_EMPTY',
            message: expect.stringMatching(/locks: 1/)
        });
    });

    it('refuses ledgers at different schema versions, writing nothing', async () => {
        const old = await track(
            Ledger.open(sqlitePath('old'), {
                migrations: MIGRATIONS.slice(0, -1)
            })
        );
        await expect(copyLedger(source, old)).rejects.toMatchObject({
            code: 'LEDGER_COPY_SCHEMA',
            message: expect.stringMatching(
                new RegExp(
                    `from: ${LATEST_SCHEMA_VERSION}, to: ${LATEST_SCHEMA_VERSION - 1}`
                )
            )
        });
        expect(await old.countPersons()).toBe(0);
    });

    it('refuses to copy a ledger onto itself', async () => {
        await expect(copyLedger(source, source)).rejects.toMatchObject({
            code: 'LEDGER_COPY_SAME'
        });
        const again = await track(Ledger.open(source.path));
        await expect(copyLedger(source, again)).rejects.toMatchObject({
            code: 'LEDGER_COPY_SAME'
        });
        // One schema through two spellings of its URL: the server says it is one.
        const url = new URL(await freshPostgres());
        const first = await track(Ledger.open(url.toString()));
        await first.setCursor('push', 'x', '1');
        url.searchParams.set('application_name', 'another-spelling');
        const second = await track(Ledger.open(url.toString()));
        await expect(copyLedger(first, second)).rejects.toMatchObject({
            code: 'LEDGER_COPY_SAME'
        });
    });

    it('rolls the whole copy back when a row fails half-way: the target stays empty', async () => {
        const odd = await track(Ledger.open(sqlitePath('odd')));
        await fill(odd);
        // SQLite stores what it is given; PostgreSQL's BIGINT refuses it. The audit
        // comes after persons, memberships and unsubscribes were inserted.
        connectionOf(odd)
            .prepare("UPDATE audit SET latency_ms = 'soon' WHERE id = 3")
            .run();
        const target = await track(Ledger.open(await freshPostgres()));
        await expect(copyLedger(odd, target, { pageRows: 4 })).rejects.toThrow(
            /bigint/i
        );
        const counts = await target.rowCounts();
        expect(Object.values(counts).every((n) => n === 0)).toBe(true);
        // Nothing moved the sequences either: a retry into it starts from scratch.
        const fresh = await target.upsertPerson({ email: 'x@example.com' });
        expect(fresh.person.id).toBe(1);
    }, 60_000);
});
