import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeId } from '../../model/ids';
import { OptoutError } from '../../model/errors';
import { Ledger, connectionOf, engineOf } from '../ledger';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, migrate } from '../migrations';
import { PROJECT_ROOT } from '../../model/project';
import { itSqlite } from './sqlite-only';

const CONTACT = makeId('003', 1001);
const LEAD = makeId('00Q', 2002);

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

/** A ledger with a clock the test moves. */
async function clocked(path = ':memory:'): Promise<{
    ledger: Ledger;
    tick: (ms: number) => void;
}> {
    let t = Date.parse('2025-03-01T12:00:00.000Z');
    const ledger = await Ledger.open(path, { now: () => new Date(t) });
    return { ledger, tick: (ms) => (t += ms) };
}

async function count(ledger: Ledger, table: string): Promise<number> {
    const row = await engineOf(ledger).get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM ${table}`
    );
    return row?.n ?? 0;
}

async function expectOptoutError(
    fn: () => unknown,
    code: string,
    message?: RegExp
): Promise<OptoutError> {
    let caught: unknown;
    try {
        await fn();
    } catch (err) {
        caught = err;
    }
    expect(caught).toBeInstanceOf(OptoutError);
    const e = caught as OptoutError;
    expect(e.code).toBe(code);
    if (message) expect(e.message).toMatch(message);
    return e;
}

describe('opening and migrations', () => {
    itSqlite(
        'creates the file and its folder in WAL mode at the latest schema version',
        async () => {
            const path = join(dir, 'nested', 'ledger.db');
            const ledger = await Ledger.open(path);
            expect(await ledger.schemaVersion()).toBe(
                Ledger.LATEST_SCHEMA_VERSION
            );
            expect(
                connectionOf(ledger).pragma('journal_mode', { simple: true })
            ).toBe('wal');
            expect(
                connectionOf(ledger).pragma('foreign_keys', { simple: true })
            ).toBe(1);
            expect(
                connectionOf(ledger).pragma('busy_timeout', { simple: true })
            ).toBe(5000);
            await ledger.close();
            // Reopening applies nothing new.
            const again = await Ledger.open(path);
            const rows = connectionOf(again)
                .prepare('SELECT version FROM schema_migrations')
                .all();
            expect(rows).toEqual(
                MIGRATIONS.map((m) => ({ version: m.version }))
            );
            await again.close();
        }
    );

    itSqlite(
        'migrates an older file in order and refuses a newer one',
        async () => {
            const path = join(dir, 'old.db');
            const raw = new Database(path);
            migrate(raw, path, MIGRATIONS.slice(0, 1));
            raw.prepare(
                "INSERT INTO persons (email, email_norm, created_at, updated_at) VALUES ('a@x.io', 'a@x.io', 't', 't')"
            ).run();
            raw.close();
            const next = [
                ...MIGRATIONS,
                {
                    version: LATEST_SCHEMA_VERSION + 1,
                    name: 'test column',
                    sql: 'ALTER TABLE persons ADD COLUMN nickname TEXT'
                }
            ];
            const ledger = await Ledger.open(path, { migrations: next });
            expect(await ledger.schemaVersion()).toBe(
                LATEST_SCHEMA_VERSION + 1
            );
            expect((await ledger.findPerson('A@x.io'))?.email).toBe('a@x.io');
            await ledger.close();
            // This build only knows MIGRATIONS: the file is now too new for it.
            await expectOptoutError(
                async () => Ledger.open(path),
                'LEDGER_TOO_NEW',
                new RegExp(`schema version ${LATEST_SCHEMA_VERSION + 1}, newer`)
            );
        }
    );

    itSqlite('says clearly when the file is not a ledger', async () => {
        const path = join(dir, 'not-a-db.db');
        writeFileSync(
            path,
            'hello, this is text and not SQLite at all'.repeat(20)
        );
        await expectOptoutError(
            async () => Ledger.open(path),
            'LEDGER_OPEN_FAILED',
            /Cannot use .* as a ledger/
        );
    });
});

describe('persons and audiences', () => {
    it('keeps one person per email, compared case-insensitively', async () => {
        const { ledger } = await clocked();
        const a = await ledger.upsertPerson({ email: ' Ana@Example.com ' });
        expect(a.created).toBe(true);
        expect(a.person).toMatchObject({
            email: 'Ana@Example.com',
            emailNorm: 'ana@example.com',
            salesforceId: null
        });
        const b = await ledger.upsertPerson({
            email: 'ANA@EXAMPLE.COM',
            salesforceId: CONTACT.slice(0, 15)
        });
        expect(b).toMatchObject({ created: false, changed: true });
        expect(b.person.id).toBe(a.person.id);
        expect(b.person.salesforceId).toBe(CONTACT);
        // No id given keeps the stored one.
        expect(
            await ledger.upsertPerson({ email: 'ana@example.com' })
        ).toMatchObject({ changed: false });
        expect((await ledger.findPerson('ana@EXAMPLE.com'))?.salesforceId).toBe(
            CONTACT
        );
        expect(
            (await ledger.findPersonsBySalesforceId(CONTACT.slice(0, 15))).map(
                (p) => p.id
            )
        ).toEqual([a.person.id]);
        expect(await count(ledger, 'persons')).toBe(1);
    });

    it('rejects bad emails and ids that are not a Contact or Lead (R6), storing nothing', async () => {
        const { ledger } = await clocked();
        await expectOptoutError(
            async () => ledger.upsertPerson({ email: 'not-an-email' }),
            'BAD_EMAIL',
            /no '@'/
        );
        await expectOptoutError(
            async () =>
                ledger.upsertPerson({
                    email: 'a@x.io',
                    salesforceId: makeId('001', 5)
                }),
            'BAD_SALESFORCE_ID',
            /neither a Contact \(003\) nor a Lead \(00Q\)/
        );
        await expectOptoutError(
            async () =>
                ledger.upsertPerson({
                    email: 'a@x.io',
                    salesforceId: CONTACT.slice(0, 15) + 'ZZZ'
                }),
            'BAD_SALESFORCE_ID',
            /checksum/
        );
        expect(await count(ledger, 'persons')).toBe(0);
    });

    it('creates and renames audiences, and lists known ones for an unknown id', async () => {
        const { ledger } = await clocked();
        expect(
            (await ledger.upsertAudience({ id: 'news', name: 'Newsletter' }))
                .created
        ).toBe(true);
        expect(
            await ledger.upsertAudience({ id: 'news', name: 'Newsletter' })
        ).toMatchObject({ created: false, changed: false });
        expect(
            await ledger.upsertAudience({ id: 'news', name: 'Weekly news' })
        ).toMatchObject({ changed: true });
        await ledger.upsertAudience({ id: 'events', name: 'Events' });
        const e = await expectOptoutError(
            async () => ledger.requireAudience('promo'),
            'UNKNOWN_AUDIENCE',
            /'promo' is not in the ledger\. Known audiences: events \(Events\), news \(Weekly news\)/
        );
        expect(e.actions.join(' ')).toMatch(/--audience-name/);
    });
});

describe('memberships and the seq cursor (R5a)', () => {
    async function setup() {
        const c = await clocked();
        await c.ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
        await c.ledger.upsertAudience({ id: 'events', name: 'Events' });
        const ana = (
            await c.ledger.upsertPerson({
                email: 'ana@example.com',
                salesforceId: CONTACT
            })
        ).person;
        const bo = (
            await c.ledger.upsertPerson({
                email: 'bo@example.com',
                salesforceId: LEAD
            })
        ).person;
        return { ...c, ana, bo };
    }

    it('bumps one global seq on every change and writes nothing when unchanged', async () => {
        const { ledger, ana, bo, tick } = await setup();
        const first = await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'platform'
        });
        expect(first).toMatchObject({
            outcome: 'created',
            previous: null,
            membership: { seq: 1 }
        });
        tick(1000);
        expect(
            (
                await ledger.setMembershipStatus({
                    personId: bo.id,
                    audienceId: 'news',
                    status: 'Pending',
                    source: 'platform'
                })
            ).membership?.seq
        ).toBe(2);
        const auditBefore = await count(ledger, 'audit');
        const same = await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'webhook'
        });
        expect(same.outcome).toBe('unchanged');
        expect(await count(ledger, 'audit')).toBe(auditBefore);
        tick(1000);
        const changed = await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Cleaned',
            source: 'webhook'
        });
        expect(changed).toMatchObject({
            outcome: 'changed',
            previous: 'Subscribed',
            membership: { seq: 3 }
        });
        expect(await ledger.maxSeq()).toBe(3);
        // The hourly job's view: changes after a cursor, oldest first, with person data.
        expect(
            (await ledger.membershipChanges({ afterSeq: 1 })).map((m) => [
                m.seq,
                m.emailNorm,
                m.status,
                m.salesforceId
            ])
        ).toEqual([
            [2, 'bo@example.com', 'Pending', LEAD],
            [3, 'ana@example.com', 'Cleaned', CONTACT]
        ]);
    });

    it('ignores a change older than the stored one', async () => {
        const { ledger, ana } = await setup();
        await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'platform',
            changedAt: '2025-02-10T00:00:00Z'
        });
        const stale = await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Archived',
            source: 'import',
            changedAt: '2025-02-01'
        });
        expect(stale.outcome).toBe('stale');
        expect((await ledger.getMembership(ana.id, 'news'))?.status).toBe(
            'Subscribed'
        );
    });

    it('records the audience unsubscribe when a membership becomes Unsubscribed, and blocks leaving it (R4)', async () => {
        const { ledger, ana } = await setup();
        const r = await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Unsubscribed',
            source: 'webhook',
            reason: 'too many'
        });
        expect(r.unsubscribeId).not.toBeNull();
        expect(
            await ledger.getUnsubscribe(r.unsubscribeId as number)
        ).toMatchObject({
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook',
            reason: 'too many',
            deliveredAt: null
        });
        const blocked = await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'platform'
        });
        expect(blocked.outcome).toBe('blocked');
        expect((await ledger.getMembership(ana.id, 'news'))?.status).toBe(
            'Unsubscribed'
        );
    });

    it('pages changes so that the caller can write between batches', async () => {
        const { ledger, ana } = await setup();
        for (let i = 0; i < 25; i++) {
            const p = (
                await ledger.upsertPerson({
                    email: `p${i}@example.com`
                })
            ).person;
            await ledger.setMembershipStatus({
                personId: p.id,
                audienceId: 'events',
                status: 'Subscribed',
                source: 'import'
            });
        }
        const seen: number[] = [];
        let batches = 0;
        for await (const batch of ledger.membershipChangeBatches({
            afterSeq: 5,
            batchSize: 7
        })) {
            batches += 1;
            seen.push(...batch.map((m) => m.seq));
            // Writing while paging must work (an open iterator would refuse it).
            await ledger.setCursor(
                'hourly',
                'membershipSeq',
                batch[batch.length - 1].seq
            );
        }
        expect(batches).toBe(3);
        expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 6));
        expect(await ledger.getCursor('hourly', 'membershipSeq')).toBe('25');
        // A change made after the cursor shows up next time, and only it.
        await ledger.setMembershipStatus({
            personId: ana.id,
            audienceId: 'events',
            status: 'Subscribed',
            source: 'platform'
        });
        const changes: string[] = [];
        for await (const m of ledger.iterateMembershipChanges(25))
            changes.push(m.emailNorm);
        expect(changes).toEqual(['ana@example.com']);
    });
});

describe('unsubscribes', () => {
    it('records a global unsubscribe once; the second time answers "already" and writes nothing', async () => {
        const { ledger } = await clocked();
        const first = await ledger.recordUnsubscribe({
            email: 'Ana@Example.com',
            scope: 'all',
            source: 'platform',
            reason: 'asked by phone'
        });
        expect(first).toMatchObject({
            outcome: 'recorded',
            personCreated: true,
            unsubscribe: { scope: 'all', audienceId: null }
        });
        const auditBefore = await count(ledger, 'audit');
        const second = await ledger.recordUnsubscribe({
            email: 'ana@EXAMPLE.com',
            scope: 'all',
            source: 'webhook'
        });
        expect(second.outcome).toBe('already');
        expect(second.unsubscribe.id).toBe(first.unsubscribe.id);
        expect(await count(ledger, 'unsubscribes')).toBe(1);
        expect(await count(ledger, 'audit')).toBe(auditBefore);
        const audit = await ledger.auditForEmail('ANA@example.com');
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({
            action: 'unsubscribe_recorded',
            source: 'platform'
        });
    });

    it('enforces one active unsubscribe per scope in the schema itself', async () => {
        const { ledger } = await clocked();
        const r = await ledger.recordUnsubscribe({
            email: 'a@x.io',
            scope: 'all',
            source: 'platform'
        });
        await expect(
            engineOf(ledger).run(
                "INSERT INTO unsubscribes (person_id, scope, source, collected_at) VALUES (?, 'all', 'import', 't')",
                [r.person.id]
            )
            // Not toThrow: better-sqlite3's error may come from another test file's
            // realm in this Jest worker (its native part is loaded once per process),
            // and toThrow does not take it for an Error.
        ).rejects.toMatchObject({
            message: expect.stringMatching(/UNIQUE|unique/)
        });
    });

    it('an audience unsubscribe sets the membership Unsubscribed; unknown audiences need a name', async () => {
        const { ledger } = await clocked();
        await expectOptoutError(
            async () =>
                ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'audience',
                    audienceId: 'news',
                    source: 'platform'
                }),
            'UNKNOWN_AUDIENCE',
            /no audiences yet/
        );
        expect(await count(ledger, 'persons')).toBe(0);
        const r = await ledger.recordUnsubscribe({
            email: 'a@x.io',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'Newsletter',
            source: 'flow'
        });
        expect(r).toMatchObject({
            outcome: 'recorded',
            audienceCreated: true,
            membershipChanged: true
        });
        expect(await ledger.getMembership(r.person.id, 'news')).toMatchObject({
            status: 'Unsubscribed',
            source: 'flow'
        });
        // Global and audience unsubscribes are independent.
        expect(
            (
                await ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'all',
                    source: 'platform'
                })
            ).outcome
        ).toBe('recorded');
        expect(
            (
                await ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'audience',
                    audienceId: 'news',
                    source: 'platform'
                })
            ).outcome
        ).toBe('already');
    });

    it('refuses inconsistent input', async () => {
        const { ledger } = await clocked();
        await ledger.upsertAudience({ id: 'news', name: 'News' });
        await expectOptoutError(
            async () =>
                ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'all',
                    audienceId: 'news',
                    source: 'platform'
                }),
            'BAD_SCOPE'
        );
        await expectOptoutError(
            async () =>
                ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'all',
                    source: 'marketo' as never
                }),
            'BAD_SOURCE'
        );
        await expectOptoutError(
            async () =>
                ledger.recordUnsubscribe({
                    email: 'nope',
                    scope: 'all',
                    source: 'platform'
                }),
            'BAD_EMAIL'
        );
        await expectOptoutError(
            async () =>
                ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'all',
                    source: 'platform',
                    collectedAt: 'soon'
                }),
            'BAD_TIME'
        );
        expect(await count(ledger, 'persons')).toBe(0);
        expect(await count(ledger, 'unsubscribes')).toBe(0);
    });

    it('lists undelivered unsubscribes in batches and marks them delivered once, with latency', async () => {
        const { ledger, tick } = await clocked();
        await ledger.upsertAudience({ id: 'news', name: 'News' });
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) {
            ids.push(
                (
                    await ledger.recordUnsubscribe({
                        email: `u${i}@x.io`,
                        scope: 'all',
                        source: 'webhook'
                    })
                ).unsubscribe.id
            );
        }
        await ledger.recordUnsubscribe({
            email: 'u0@x.io',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook'
        });
        expect(await ledger.countUndelivered()).toBe(6);
        expect(await ledger.countUndelivered('all')).toBe(5);
        const global = [];
        for await (const batch of ledger.undeliveredUnsubscribeBatches({
            scope: 'all',
            batchSize: 2
        }))
            global.push(batch);
        expect(global.map((b) => b.length)).toEqual([2, 2, 1]);
        expect(global[0][0]).toMatchObject({
            emailNorm: 'u0@x.io',
            scope: 'all',
            salesforceId: null
        });
        const audience = await ledger.undeliveredUnsubscribes({
            scope: 'audience'
        });
        expect(audience).toHaveLength(1);
        expect(audience[0]).toMatchObject({
            audienceId: 'news',
            audienceName: 'News'
        });

        tick(1500);
        expect(
            await ledger.markDelivered(ids.slice(0, 3), { runId: 'run-1' })
        ).toBe(3);
        expect(
            await ledger.markDelivered(ids.slice(0, 3), { runId: 'run-2' })
        ).toBe(0);
        expect(await ledger.countUndelivered('all')).toBe(2);
        expect(await ledger.getUnsubscribe(ids[0])).toMatchObject({
            deliveredRunId: 'run-1'
        });
        const delivered = await ledger.auditForRun('run-1');
        expect(delivered).toHaveLength(3);
        expect(delivered[0]).toMatchObject({
            action: 'unsubscribe_delivered',
            latencyMs: 1500
        });
    });
});

describe('resubscribe (R4)', () => {
    it('needs a reason, marks the unsubscribe removed (never deleted) and audits it', async () => {
        const { ledger, tick } = await clocked();
        const u = (
            await ledger.recordUnsubscribe({
                email: 'a@x.io',
                scope: 'all',
                source: 'platform'
            })
        ).unsubscribe;
        await expectOptoutError(
            async () => ledger.resubscribe({ email: 'a@x.io', reason: '  ' }),
            'REASON_REQUIRED'
        );
        tick(60_000);
        const r = await ledger.resubscribe({
            email: 'A@X.io',
            reason: 'unsubscribed by mistake'
        });
        expect(r.removed).toHaveLength(1);
        expect(r.removed[0]).toMatchObject({
            id: u.id,
            removedReason: 'unsubscribed by mistake'
        });
        expect(await count(ledger, 'unsubscribes')).toBe(1);
        expect((await ledger.getUnsubscribe(u.id))?.removedAt).toBe(
            '2025-03-01T12:01:00.000Z'
        );
        expect(
            (await ledger.auditForEmail('a@x.io')).map((a) => a.action)
        ).toEqual(['unsubscribe_recorded', 'resubscribe']);
        // Nothing active any more; a later unsubscribe is a new, active one.
        expect(
            (await ledger.resubscribe({ email: 'a@x.io', reason: 'again' }))
                .removed
        ).toEqual([]);
        expect(await ledger.countUndelivered()).toBe(0);
        expect(
            (
                await ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'all',
                    source: 'webhook'
                })
            ).outcome
        ).toBe('recorded');
    });

    it('for an audience, lifts the block and moves the membership back to Subscribed', async () => {
        const { ledger } = await clocked();
        const r = await ledger.recordUnsubscribe({
            email: 'a@x.io',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'News',
            source: 'webhook'
        });
        const seq = await ledger.maxSeq();
        await expectOptoutError(
            async () =>
                ledger.resubscribe({
                    email: 'a@x.io',
                    audienceId: 'nope',
                    reason: 'x'
                }),
            'UNKNOWN_AUDIENCE'
        );
        const res = await ledger.resubscribe({
            email: 'a@x.io',
            audienceId: 'news',
            reason: 'opted in again at the event'
        });
        expect(res.membership).toEqual({
            audienceId: 'news',
            before: 'Unsubscribed',
            after: 'Subscribed'
        });
        expect(await ledger.getMembership(r.person.id, 'news')).toMatchObject({
            status: 'Subscribed',
            seq: seq + 1
        });
        expect(
            (
                await ledger.setMembershipStatus({
                    personId: r.person.id,
                    audienceId: 'news',
                    status: 'Archived',
                    source: 'platform'
                })
            ).outcome
        ).toBe('changed');
    });

    it('refuses an unknown email', async () => {
        const { ledger } = await clocked();
        await expectOptoutError(
            async () => ledger.resubscribe({ email: 'who@x.io', reason: 'x' }),
            'UNKNOWN_EMAIL',
            /who@x\.io/
        );
    });
});

describe('runs, cursors and status', () => {
    it('records runs and summarises the last run of each job for status', async () => {
        const { ledger, tick } = await clocked();
        const push1 = await ledger.startRun({ job: 'push' });
        tick(2000);
        await ledger.finishRun(push1.id, {
            status: 'succeeded',
            result: { recordsWritten: 3, apiRequests: 2 }
        });
        tick(1000);
        const push2 = await ledger.startRun({ job: 'push', dryRun: true });
        tick(500);
        await ledger.finishRun(push2.id, {
            status: 'partial',
            result: {
                recordsWritten: 5,
                apiRequests: 4,
                apiUsage: { used: 120, max: 15000 },
                failed: [{ recordId: CONTACT }],
                deferred: { count: 7, reason: 'API budget' },
                durationMs: 480
            }
        });
        const nightly = await ledger.startRun({ job: 'nightly' });
        expect(await ledger.getRun(nightly.id)).toMatchObject({
            status: 'running',
            pid: process.pid,
            result: null
        });
        const last = await ledger.lastRuns();
        expect(last.map((r) => [r.job, r.runId])).toEqual([
            ['nightly', nightly.id],
            ['push', push2.id]
        ]);
        expect(last[1]).toMatchObject({
            status: 'partial',
            dryRun: true,
            durationMs: 480,
            apiRequests: 4,
            apiUsage: { used: 120, max: 15000 },
            summary: {
                recordsWritten: 5,
                failed: 1,
                deferred: 7,
                deferredReason: 'API budget'
            }
        });
        expect(
            (await ledger.listRuns({ job: 'push' })).map((r) => r.id)
        ).toEqual([push2.id, push1.id]);
        await expectOptoutError(
            async () => ledger.finishRun('nope', { status: 'failed' }),
            'UNKNOWN_RUN'
        );
    });

    it('counts persons, memberships, unsubscribes and pending pushes with their age', async () => {
        const { ledger, tick } = await clocked();
        await ledger.upsertAudience({ id: 'news', name: 'News' });
        const a = await ledger.recordUnsubscribe({
            email: 'a@x.io',
            scope: 'all',
            source: 'platform'
        });
        tick(10_000);
        await ledger.recordUnsubscribe({
            email: 'b@x.io',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook'
        });
        await ledger.recordUnsubscribe({
            email: 'c@x.io',
            salesforceId: LEAD,
            scope: 'all',
            source: 'salesforce'
        });
        await ledger.setMembershipStatus({
            personId: a.person.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'import'
        });
        await ledger.markDelivered([a.unsubscribe.id], { runId: 'r' });
        await ledger.resubscribe({ email: 'c@x.io', reason: 'test' });
        tick(5_000);
        const s = await ledger.status();
        expect(s).toMatchObject({
            persons: 3,
            personsWithSalesforceId: 1,
            audiences: 1,
            memberships: {
                total: 2,
                byStatus: { Subscribed: 1, Unsubscribed: 1, Cleaned: 0 }
            },
            unsubscribes: {
                active: 2,
                byScope: { all: 1, audience: 1 },
                bySource: { platform: 1, webhook: 1, salesforce: 0 },
                removed: 1,
                delivered: 1
            },
            pending: {
                count: 1,
                global: 0,
                audience: 1,
                oldestCollectedAt: '2025-03-01T12:00:10.000Z',
                oldestAgeMs: 5000
            }
        });
    });

    it('shows the history of an email in time order', async () => {
        const { ledger, tick } = await clocked();
        await ledger.upsertAudience({ id: 'news', name: 'News' });
        const p = (await ledger.upsertPerson({ email: 'a@x.io' })).person;
        await ledger.setMembershipStatus({
            personId: p.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'import'
        });
        tick(1000);
        await ledger.recordUnsubscribe({
            email: 'a@x.io',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook'
        });
        tick(1000);
        await ledger.appendAudit({
            action: 'field_write',
            runId: 'run-9',
            emailNorm: 'a@x.io',
            recordId: CONTACT,
            object: 'Contact',
            field: 'HasOptedOutOfEmail',
            before: 'false',
            after: 'true',
            collectedAt: '2025-03-01T12:00:01.000Z',
            writtenAt: '2025-03-01T12:00:01.750Z'
        });
        const h = await ledger.history('A@X.IO');
        expect(h.person?.id).toBe(p.id);
        expect(h.memberships).toEqual([
            expect.objectContaining({
                audienceId: 'news',
                audienceName: 'News',
                status: 'Unsubscribed'
            })
        ]);
        expect(h.unsubscribes).toHaveLength(1);
        expect(h.audit.map((a) => a.action)).toEqual([
            'import',
            'unsubscribe_recorded',
            'membership_changed',
            'field_write'
        ]);
        expect(h.audit[3].latencyMs).toBe(750);
        expect(await ledger.history('nobody@x.io')).toMatchObject({
            person: null,
            audit: []
        });
    });
});

describe('several processes on one file', () => {
    itSqlite(
        'waits for another process holding the write lock instead of failing',
        async () => {
            const path = join(dir, 'shared.db');
            await (await Ledger.open(path)).close();
            // A second process takes the write lock, signals, holds it 400 ms, commits.
            const script = `
            const Database = require('better-sqlite3');
            const db = new Database(${JSON.stringify(path)});
            db.exec('BEGIN IMMEDIATE');
            db.prepare("INSERT INTO audiences (id, name, created_at, updated_at) VALUES ('other', 'Other', 't', 't')").run();
            process.stdout.write('locked\\n');
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
            db.exec('COMMIT');
            db.close();`;
            const child = spawn(process.execPath, ['-e', script], {
                cwd: PROJECT_ROOT,
                stdio: ['ignore', 'pipe', 'inherit']
            });
            const exited = new Promise((res) => child.once('exit', res));
            await new Promise<void>((res) =>
                child.stdout.once('data', () => res())
            );
            const ledger = await Ledger.open(path);
            try {
                const r = await ledger.recordUnsubscribe({
                    email: 'a@x.io',
                    scope: 'all',
                    source: 'webhook'
                });
                expect(r.outcome).toBe('recorded');
                expect((await ledger.getAudience('other'))?.name).toBe('Other');
            } finally {
                await ledger.close();
                await exited;
            }
        }
    );
});

describe('cross-process locks', () => {
    it('lets one holder in, refreshes and releases', async () => {
        const path = join(dir, 'lock.db');
        const one = await Ledger.open(path);
        const two = await Ledger.open(path);
        try {
            const a = await one.acquireLock('hourly', {
                holder: `${hostname()}:${process.pid}:a`
            });
            expect(a.acquired).toBe(true);
            const b = await two.acquireLock('hourly', {
                holder: `${hostname()}:${process.pid}:b`
            });
            expect(b).toMatchObject({
                acquired: false,
                heldBy: { holder: `${hostname()}:${process.pid}:a` }
            });
            // Re-entrant for the same holder; other lock names are independent.
            expect(
                (
                    await one.acquireLock('hourly', {
                        holder: `${hostname()}:${process.pid}:a`
                    })
                ).acquired
            ).toBe(true);
            expect(
                (
                    await two.acquireLock('nightly', {
                        holder: `${hostname()}:${process.pid}:b`
                    })
                ).acquired
            ).toBe(true);
            expect(
                await two.heartbeatLock(
                    'hourly',
                    `${hostname()}:${process.pid}:b`
                )
            ).toBe(false);
            expect(
                await one.heartbeatLock(
                    'hourly',
                    `${hostname()}:${process.pid}:a`
                )
            ).toBe(true);
            expect(
                await two.releaseLock(
                    'hourly',
                    `${hostname()}:${process.pid}:b`
                )
            ).toBe(false);
            expect(
                await one.releaseLock(
                    'hourly',
                    `${hostname()}:${process.pid}:a`
                )
            ).toBe(true);
            expect(
                (
                    await two.acquireLock('hourly', {
                        holder: `${hostname()}:${process.pid}:b`
                    })
                ).acquired
            ).toBe(true);
        } finally {
            await one.close();
            await two.close();
        }
    });

    it('takes over a lock whose process is dead', async () => {
        const { ledger } = await clocked();
        const child = spawnSync(process.execPath, [
            '-e',
            'process.stdout.write(String(process.pid))'
        ]);
        const deadPid = Number(child.stdout.toString());
        const held = await ledger.acquireLock('push', {
            holder: `${hostname()}:${deadPid}:x`,
            pid: deadPid
        });
        expect(held.acquired).toBe(true);
        const mine = await ledger.acquireLock('push', {
            holder: `${hostname()}:${process.pid}:y`
        });
        expect(mine).toMatchObject({
            acquired: true,
            takenOver: { why: 'dead', from: { pid: deadPid } }
        });
        expect((await ledger.getLock('push'))?.holder).toBe(
            `${hostname()}:${process.pid}:y`
        );
    });

    it('takes over a lock whose heartbeat is stale, but not a fresh one', async () => {
        const { ledger, tick } = await clocked();
        // A live process on another host: only its heartbeat tells.
        await ledger.acquireLock('nightly', {
            holder: 'other-host:1:z',
            pid: 1
        });
        tick(60_000);
        expect(
            (
                await ledger.acquireLock('nightly', {
                    holder: 'me:2:w',
                    staleAfterMs: 120_000
                })
            ).acquired
        ).toBe(false);
        tick(61_000);
        expect(
            await ledger.acquireLock('nightly', {
                holder: 'me:2:w',
                staleAfterMs: 120_000
            })
        ).toMatchObject({
            acquired: true,
            takenOver: { why: 'stale' }
        });
    });
});
