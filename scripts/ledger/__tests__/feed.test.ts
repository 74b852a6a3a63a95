import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptoutError } from '../../model/errors';
import { Ledger, connectionOf } from '../ledger';
import { MIGRATIONS } from '../migrations';
import { decodeCursor, encodeCursor, parseFeedLimit } from '../feed';
import { projectPath } from '../../model/project';
import { itSqlite } from './sqlite-only';

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'feed-test-'));
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

async function code(fn: () => unknown): Promise<string | undefined> {
    try {
        await fn();
    } catch (err) {
        return err instanceof OptoutError ? err.code : 'not an OptoutError';
    }
    return undefined;
}

/** Every item of the feed, read `size` at a time, reopening the file between pages. */
async function readAllReopening(path: string, size: number): Promise<number[]> {
    const ids: number[] = [];
    let cursor: string | undefined;
    for (;;) {
        const ledger = await Ledger.open(path);
        const page = await ledger.suppressionPage(cursor, size);
        await ledger.close();
        ids.push(...page.items.map((i) => i.eventId));
        if (page.items.length === 0) return ids;
        cursor = page.next;
    }
}

describe('migration 4 on a version-3 file with data', () => {
    itSqlite(
        'backfills added events in id order, then removed ones in removed_at order',
        async () => {
            const path = join(dir, 'v3.db');
            const old = await Ledger.open(path, {
                migrations: MIGRATIONS.slice(0, 3)
            });
            expect(await old.schemaVersion()).toBe(3);
            // Written with SQL: a version-3 ledger has no feed table to write to.
            connectionOf(old).exec(`
INSERT INTO persons (id, email, email_norm, created_at, updated_at) VALUES
  (1, 'A@x.org', 'a@x.org', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
  (2, 'b@x.org', 'b@x.org', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
INSERT INTO audiences (id, name, created_at, updated_at) VALUES
  ('aud1', 'News', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
INSERT INTO unsubscribes (id, person_id, scope, audience_id, source, reason, collected_at, removed_at, removed_reason) VALUES
  (1, 1, 'all', NULL, 'webhook', 'r1', '2025-01-02T00:00:00.000Z', '2025-01-09T00:00:00.000Z', 'mistake'),
  (2, 2, 'audience', 'aud1', 'import', NULL, '2025-01-03T00:00:00.000Z', '2025-01-05T00:00:00.000Z', 'asked'),
  (3, 1, 'all', NULL, 'salesforce', NULL, '2025-01-10T00:00:00.000Z', NULL, NULL);`);
            await old.close();

            const ledger = await Ledger.open(path);
            expect(await ledger.schemaVersion()).toBe(
                Ledger.LATEST_SCHEMA_VERSION
            );
            const page = await ledger.suppressionPage(undefined);
            expect(
                page.items.map((i) => [i.eventId, i.email, i.removedAt])
            ).toEqual([
                [1, 'A@x.org', null],
                [2, 'b@x.org', null],
                [3, 'A@x.org', null],
                [4, 'b@x.org', '2025-01-05T00:00:00.000Z'],
                [5, 'A@x.org', '2025-01-09T00:00:00.000Z']
            ]);
            expect(page.items[1]).toMatchObject({
                scope: 'audience',
                audienceId: 'aud1',
                source: 'import',
                reason: null,
                collectedAt: '2025-01-03T00:00:00.000Z'
            });
            expect(decodeCursor(page.next)).toBe(5);
            await ledger.close();
        }
    );
});

describe('events on every path that adds or removes an unsubscribe', () => {
    it('records one event per unsubscribe recorded or removed, in the same transaction', async () => {
        const ledger = await Ledger.open(':memory:');
        await ledger.upsertAudience({ id: 'aud1', name: 'News' });
        // Webhook intake, CLI, nightly R3b: recordUnsubscribe(s).
        await ledger.recordUnsubscribe({
            email: 'a@x.org',
            scope: 'all',
            source: 'webhook'
        });
        await ledger.recordUnsubscribes([
            { email: 'b@x.org', scope: 'all', source: 'salesforce' },
            { email: 'a@x.org', scope: 'all', source: 'platform' } // already: no event
        ]);
        // Hourly R5c and the import: a membership set to Unsubscribed.
        const person = (await ledger.upsertPerson({ email: 'c@x.org' })).person;
        await ledger.setMembershipStatus({
            personId: person.id,
            audienceId: 'aud1',
            status: 'Unsubscribed',
            source: 'salesforce'
        });
        await ledger.importBatch(
            [
                {
                    email: 'd@x.org',
                    salesforceId: null,
                    audienceId: 'aud1',
                    audienceName: null,
                    status: 'Unsubscribed',
                    changedAt: '2025-03-01T00:00:00.000Z',
                    reason: null
                }
            ],
            { source: 'import' }
        );
        await ledger.resubscribe({
            email: 'b@x.org',
            reason: 'asked by phone'
        });
        await ledger.resubscribe({ email: 'b@x.org', reason: 'again' }); // nothing active

        const items = (await ledger.suppressionPage(undefined)).items;
        expect(
            items.map((i) => [i.email, i.scope, i.source, i.removedAt !== null])
        ).toEqual([
            ['a@x.org', 'all', 'webhook', false],
            ['b@x.org', 'all', 'salesforce', false],
            ['c@x.org', 'audience', 'salesforce', false],
            ['d@x.org', 'audience', 'import', false],
            ['b@x.org', 'all', 'salesforce', true]
        ]);
        await ledger.close();
    });

    it('writes no event when the write that would carry it fails', async () => {
        const ledger = await Ledger.open(':memory:');
        expect(
            await code(async () =>
                ledger.recordUnsubscribes([
                    { email: 'a@x.org', scope: 'all', source: 'platform' },
                    {
                        email: 'not an email',
                        scope: 'all',
                        source: 'platform'
                    }
                ])
            )
        ).toBeDefined();
        expect(await ledger.lastSuppressionEventId()).toBe(0);
        await ledger.close();
    });

    it('has no other place that inserts or removes unsubscribes than the two that append events', () => {
        // A guard: a new path that writes unsubscribes must append its event too.
        const root = projectPath('scripts');
        const offenders: string[] = [];
        const walk = (d: string): void => {
            for (const e of readdirSync(d, { withFileTypes: true })) {
                const p = join(d, e.name);
                if (e.isDirectory()) {
                    if (
                        !['__tests__', 'local-org', 'local-mailchimp'].includes(
                            e.name
                        )
                    )
                        walk(p);
                } else if (e.name.endsWith('.ts')) {
                    const text = readFileSync(p, 'utf8');
                    const n =
                        (text.match(/INSERT\s+INTO\s+unsubscribes\b/gi) ?? [])
                            .length +
                        (text.match(/SET\s+removed_at\s*=/gi) ?? []).length;
                    if (n) offenders.push(`${p.slice(root.length + 1)}:${n}`);
                }
            }
        };
        walk(root);
        expect(offenders).toEqual(['ledger/store.ts:2']);
    });
});

describe('the cursor', () => {
    it('pages never skip nor repeat an event, across reopens and writes between pages', async () => {
        const path = join(dir, 'l.db');
        const ledger = await Ledger.open(path);
        for (let i = 0; i < 23; i++)
            await ledger.recordUnsubscribe({
                email: `p${i}@x.org`,
                scope: 'all',
                source: 'platform'
            });
        const firstPage = await ledger.suppressionPage(undefined, 7);
        await ledger.close();
        // Writes after a page was read appear after it, never before.
        const again = await Ledger.open(path);
        await again.resubscribe({ email: 'p0@x.org', reason: 'r' });
        await again.recordUnsubscribe({
            email: 'late@x.org',
            scope: 'all',
            source: 'platform'
        });
        await again.close();
        const ids = await readAllReopening(path, 7);
        expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
        const rest = await Ledger.open(path);
        expect(
            (await rest.suppressionPage(firstPage.next, 5000)).items.map(
                (i) => i.eventId
            )
        ).toEqual(ids.slice(7));
        await rest.close();
    });

    it('returns the same cursor on an empty page, and refuses a foreign or malformed one', async () => {
        const ledger = await Ledger.open(':memory:');
        const empty = await ledger.suppressionPage(undefined);
        expect(empty.items).toEqual([]);
        expect(decodeCursor(empty.next)).toBe(0);
        await ledger.recordUnsubscribe({
            email: 'a@x.org',
            scope: 'all',
            source: 'platform'
        });
        expect(
            await code(async () => ledger.suppressionPage(encodeCursor(2)))
        ).toBe('BAD_CURSOR');
        for (const bad of [
            '12',
            'sup1.',
            'sup1.!!',
            'sup1.' + Buffer.from('-1').toString('base64url'),
            'sup1.' + Buffer.from('1.5').toString('base64url')
        ])
            expect([
                bad,
                await code(async () => ledger.suppressionPage(bad))
            ]).toEqual([bad, 'BAD_CURSOR']);
        expect((await ledger.suppressionPage(encodeCursor(1))).items).toEqual(
            []
        );
        await ledger.close();
    });

    it('takes limits from 1 to 5000 only', async () => {
        expect(parseFeedLimit(undefined)).toBe(500);
        expect(parseFeedLimit('5000')).toBe(5000);
        for (const bad of ['0', '5001', '-1', 'ten', '1.5', ' '])
            expect([bad, await code(() => parseFeedLimit(bad))]).toEqual([
                bad,
                'BAD_LIMIT'
            ]);
    });
});
