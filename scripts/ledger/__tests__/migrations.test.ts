/**
 * Released ledger migrations are frozen: a ledger file keeps the schema its migrations
 * wrote, so changing a released migration's text would give new files one schema and
 * old files another. These tests pin each migration by hash and check that the
 * vocabularies in the code are exactly what the latest schema allows.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import {
    LEDGER_SOURCES,
    MEMBERSHIP_STATUSES,
    UNSUBSCRIBE_SCOPES
} from '../../model/statuses';
import { STUCK_OUTCOMES } from '../../model/stuck';
import { DELIVERY_OUTCOMES } from '../mailchimp-deliveries';
import { SUPPRESSION_EVENT_KINDS } from '../feed';
import { MIGRATIONS, WAITING_OUTCOMES, migrate } from '../migrations';
import { MIRRORED_PERSON_OBJECTS } from '../mirror';
import { RUN_STATUSES } from '../types';
import { POSTGRES_MIGRATIONS } from '../migrations-postgres';

/**
 * sha256 of each released migration's `sql`, as released. Migrations 1 and 2 were built
 * from constants until issue 11; their literal text hashes the same as every rendering
 * since they shipped (b507e1f, 41ea8ca): no vocabulary changed after release.
 */
const RELEASED: Record<number, string> = {
    1: '92a1a6d9dab2f900529976f5d00ee204c6b3c43f8d34a7b0b7b0a513bcf46237',
    2: '23e3a9a7bdef4eab59e66e90ac5c77540d23d2c553a5b5bc4d2955c56151a99e',
    3: 'b6a8c79a8d5f131a4a730de7e9a389064efb3ef9ebd9d719002db7a6354ea752',
    4: 'cdbf79bfc72990615924aeb3b82e375cf66950cedda3e8f3010867332ca794f1',
    5: '7ba38b226f4be174717b46533333919ba9e71b9b3c262a912a0a372538ca7160',
    6: '7a155d9cd61f3a4dc643e79e6cbf17894fc0f0f3ab9ba2bf48cd93e45850cf07'
};

const FROZEN = 'released migrations are frozen: add a new migration instead';

const sha256 = (text: string): string =>
    createHash('sha256').update(text).digest('hex');

describe('released migrations', () => {
    it('are unchanged, byte for byte', () => {
        const changed = Object.entries(RELEASED)
            .map(([version, hash]) => ({
                version: Number(version),
                hash,
                migration: MIGRATIONS.find((m) => m.version === Number(version))
            }))
            .filter(
                ({ migration, hash }) =>
                    !migration || sha256(migration.sql) !== hash
            )
            .map(({ version, migration }) =>
                migration
                    ? `migration ${version} (${migration.name}) changed: ${FROZEN}`
                    : `migration ${version} is gone: ${FROZEN}`
            );
        expect(changed).toEqual([]);
    });

    it('are all pinned here, numbered 1, 2, 3… without gaps', () => {
        // Pinning a new migration's hash is the act of releasing it.
        const unpinned = MIGRATIONS.filter((m) => !(m.version in RELEASED)).map(
            (m) =>
                `migration ${m.version} (${m.name}) has no pinned hash: add sha256 ${sha256(m.sql)} to RELEASED when it is released`
        );
        expect(unpinned).toEqual([]);
        expect(MIGRATIONS.map((m) => m.version)).toEqual(
            MIGRATIONS.map((_, i) => i + 1)
        );
    });
});

/** Every `column IN ('a', 'b')` list of the schema, keyed `table-or-index.column`. */
function inLists(db: Database.Database): Map<string, string[]> {
    const objects = db
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        )
        .all() as { name: string; sql: string }[];
    const lists = new Map<string, string[]>();
    for (const { name, sql } of objects) {
        for (const m of sql.matchAll(/(\w+)\s+IN\s*\(([^()]*)\)/gi)) {
            const values = [...m[2].matchAll(/'([^']*)'/g)].map((v) => v[1]);
            lists.set(`${name}.${m[1]}`, values);
        }
    }
    return lists;
}

describe('the latest schema and the vocabularies in the code', () => {
    // A value added to one of these constants needs a migration that rebuilds the
    // table (SQLite cannot alter a CHECK); a new CHECK list needs a line here.
    const VOCABULARIES: Record<string, readonly string[]> = {
        'memberships.status': MEMBERSHIP_STATUSES,
        'memberships.source': LEDGER_SOURCES,
        'unsubscribes.scope': UNSUBSCRIBE_SCOPES,
        'unsubscribes.source': LEDGER_SOURCES,
        'runs.status': RUN_STATUSES,
        'suppression_events.kind': SUPPRESSION_EVENT_KINDS,
        'mailchimp_deliveries.outcome': DELIVERY_OUTCOMES,
        'sf_record.object': MIRRORED_PERSON_OBJECTS,
        // Partial indexes: the ledger's queries name these lists, so an index built
        // on another list would not be used (or would miss rows).
        'unsubscribes_waiting.last_outcome': WAITING_OUTCOMES,
        'unsubscribes_stuck.last_outcome': STUCK_OUTCOMES,
        'memberships_stuck.sync_outcome': STUCK_OUTCOMES
    };

    let db: Database.Database;
    beforeAll(() => {
        db = new Database(':memory:');
        migrate(db, ':memory:');
    });
    afterAll(() => db.close());

    it('allows exactly the values of each constant, in every list', () => {
        const schema = inLists(db);
        const expected = new Map(
            Object.entries(VOCABULARIES).map(([key, values]) => [
                key,
                [...values]
            ])
        );
        expect(Object.fromEntries(schema)).toEqual(
            Object.fromEntries(expected)
        );
    });

    it('is enforced by SQLite as read: a ledger source outside LEDGER_SOURCES is refused', () => {
        // Guards the parser above: the list it reads is the one SQLite checks.
        db.exec(
            "INSERT INTO persons (id, email, email_norm, created_at, updated_at) VALUES (1, 'a@x.io', 'a@x.io', 't', 't')"
        );
        const insert = db.prepare(
            "INSERT INTO unsubscribes (person_id, scope, source, collected_at) VALUES (1, 'all', ?, 't')"
        );
        expect(() => insert.run('not-a-source')).toThrow(
            /CHECK constraint failed/
        );
        for (const source of LEDGER_SOURCES) {
            expect(insert.run(source).changes).toBe(1);
            db.exec('DELETE FROM unsubscribes');
        }
    });
});

/** sha256 of each released PostgreSQL migration (migrations-postgres.ts). */
const RELEASED_POSTGRES: Record<number, string> = {
    5: '124fd4c38a87a88bb4f6572c11ef285ad65c54fb903877eedb44c1c070ce3754',
    6: 'f03ea20b7f0afc8419c307fbea578f4e83202e33bf586bbf4f6648e0b16ed17e'
};

/** Every `IN ('a', 'b')` value list of some SQL, normalised and sorted. */
function valueLists(sql: string): string[] {
    return [...sql.matchAll(/\bIN \(('[^)]*')\)/g)]
        .map((m) => m[1].replace(/\s+/g, ' '))
        .sort();
}

describe('the PostgreSQL migrations', () => {
    it('are unchanged, byte for byte, and all pinned', () => {
        expect(
            POSTGRES_MIGRATIONS.map((m) => [m.version, sha256(m.sql)])
        ).toEqual(
            Object.entries(RELEASED_POSTGRES).map(([v, h]) => [Number(v), h])
        );
    });

    it('reach the same version as SQLite’s, with the same vocabularies', () => {
        const last = <T>(list: readonly T[]): T => list[list.length - 1];
        expect(last(POSTGRES_MIGRATIONS).version).toBe(
            last(MIGRATIONS).version
        );
        const db = new Database(':memory:');
        migrate(db, ':memory:');
        const sqlite = (
            db
                .prepare(
                    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                )
                .all() as { sql: string }[]
        )
            .map((r) => r.sql)
            .join('\n');
        db.close();
        const lists = valueLists(sqlite);
        expect(lists.length).toBeGreaterThanOrEqual(8); // the CHECKs and indexes
        expect(
            valueLists(POSTGRES_MIGRATIONS.map((m) => m.sql).join('\n'))
        ).toEqual(lists);
    });
});
