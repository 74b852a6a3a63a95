/**
 * Versioned ledger schema. Each migration runs once, in order, inside a transaction,
 * and is recorded in `schema_migrations`. Table and column names are the contract of
 * SYNC-DESIGN.md.
 *
 * Every migration is literal SQL, never built from the constants in model/statuses.ts:
 * a ledger created by an earlier release keeps the CHECK constraints its migrations
 * wrote, so a migration whose text followed a constant would give new files one schema
 * and old files another (and old files would refuse the new value at run time). A
 * vocabulary change is a new migration that rebuilds the table. Never edit a released
 * migration: `__tests__/migrations.test.ts` pins each one by hash, and checks that the
 * constants still equal what the latest schema allows.
 */
import type Database from 'better-sqlite3';
import { OptoutError } from '../model/errors';

/**
 * Outcomes of a delivery attempt that mean "no Salesforce record to write yet": the
 * unsubscribe or membership waits and is retried with back-off (migration 2).
 */
export const WAITING_OUTCOMES = [
    'no_matching_record',
    'converted_lead_without_contact'
] as const;
export type WaitingOutcome = (typeof WAITING_OUTCOMES)[number];

export interface Migration {
    version: number;
    name: string;
    sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
    {
        version: 1,
        name: 'ledger tables',
        sql: `
CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_norm TEXT NOT NULL UNIQUE,
    salesforce_id TEXT NULL CHECK (salesforce_id IS NULL OR length(salesforce_id) = 18),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX persons_salesforce_id ON persons(salesforce_id);

CREATE TABLE audiences (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE memberships (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    audience_id TEXT NOT NULL REFERENCES audiences(id),
    status TEXT NOT NULL CHECK (status IN ('Subscribed', 'Unsubscribed', 'Cleaned', 'Pending', 'Transactional', 'Archived')),
    changed_at TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('platform', 'webhook', 'salesforce', 'flow', 'import')),
    reason TEXT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (person_id, audience_id)
);
CREATE UNIQUE INDEX memberships_seq ON memberships(seq);
CREATE INDEX memberships_audience ON memberships(audience_id);

CREATE TABLE unsubscribes (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    scope TEXT NOT NULL CHECK (scope IN ('all', 'audience')),
    audience_id TEXT NULL REFERENCES audiences(id),
    source TEXT NOT NULL CHECK (source IN ('platform', 'webhook', 'salesforce', 'flow', 'import')),
    reason TEXT NULL,
    collected_at TEXT NOT NULL,
    delivered_at TEXT NULL,
    delivered_run_id TEXT NULL,
    removed_at TEXT NULL,
    removed_reason TEXT NULL,
    CHECK ((scope = 'all') = (audience_id IS NULL)),
    CHECK ((removed_at IS NULL) = (removed_reason IS NULL))
);
CREATE UNIQUE INDEX unsubscribes_active_all
    ON unsubscribes(person_id) WHERE scope = 'all' AND removed_at IS NULL;
CREATE UNIQUE INDEX unsubscribes_active_audience
    ON unsubscribes(person_id, audience_id) WHERE scope = 'audience' AND removed_at IS NULL;
CREATE INDEX unsubscribes_undelivered
    ON unsubscribes(id) WHERE delivered_at IS NULL AND removed_at IS NULL;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    run_id TEXT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    email_norm TEXT NULL,
    person_id INTEGER NULL,
    record_id TEXT NULL,
    object TEXT NULL,
    field TEXT NULL,
    before TEXT NULL,
    after TEXT NULL,
    source TEXT NULL,
    collected_at TEXT NULL,
    written_at TEXT NULL,
    latency_ms INTEGER NULL,
    detail TEXT NULL
);
CREATE INDEX audit_email_norm ON audit(email_norm, at);
CREATE INDEX audit_run_id ON audit(run_id);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'deferred', 'skipped')),
    dry_run INTEGER NOT NULL DEFAULT 0,
    pid INTEGER NULL,
    result_json TEXT NULL
);
CREATE INDEX runs_job_started ON runs(job, started_at);

CREATE TABLE cursors (
    job TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (job, name)
);

CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    acquired_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
`
    },
    {
        version: 2,
        name: 'delivery attempts (waiting for a matching Salesforce record)',
        // An unsubscribe or membership whose person matches no Salesforce record is not
        // delivered (R11): it waits, with its attempts, and is retried with back-off.
        sql: `
ALTER TABLE unsubscribes ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unsubscribes ADD COLUMN last_attempt_at TEXT NULL;
ALTER TABLE unsubscribes ADD COLUMN last_outcome TEXT NULL;
ALTER TABLE unsubscribes ADD COLUMN next_attempt_at TEXT NULL;
CREATE INDEX unsubscribes_waiting ON unsubscribes(next_attempt_at)
    WHERE delivered_at IS NULL AND removed_at IS NULL
      AND last_outcome IN ('no_matching_record', 'converted_lead_without_contact');

ALTER TABLE memberships ADD COLUMN sync_outcome TEXT NULL;
ALTER TABLE memberships ADD COLUMN sync_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN last_attempt_at TEXT NULL;
ALTER TABLE memberships ADD COLUMN next_attempt_at TEXT NULL;
CREATE INDEX memberships_retry ON memberships(next_attempt_at)
    WHERE sync_outcome IS NOT NULL;
`
    },
    {
        version: 3,
        name: 'stuck records and dead letters (R14)',
        // A write Salesforce refuses for one record keeps its status code, message and
        // record id; permanent refusals in a row are counted (failures) and, after
        // DEAD_LETTER_AFTER, the row is a dead letter (dead_at; outcome dead_letter)
        // that only `optout retry` puts back. Outcomes: rejected | dead_letter.
        // Literal SQL (not built from STUCK_OUTCOMES): a released migration never
        // changes; the test beside it checks the constant still matches.
        sql: `
ALTER TABLE unsubscribes ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE unsubscribes ADD COLUMN error_code TEXT NULL;
ALTER TABLE unsubscribes ADD COLUMN error_message TEXT NULL;
ALTER TABLE unsubscribes ADD COLUMN error_record_id TEXT NULL;
ALTER TABLE unsubscribes ADD COLUMN dead_at TEXT NULL;
CREATE INDEX unsubscribes_stuck ON unsubscribes(error_code)
    WHERE delivered_at IS NULL AND removed_at IS NULL
      AND last_outcome IN ('rejected', 'dead_letter');

ALTER TABLE memberships ADD COLUMN sync_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN sync_error_code TEXT NULL;
ALTER TABLE memberships ADD COLUMN sync_error_message TEXT NULL;
ALTER TABLE memberships ADD COLUMN sync_error_record_id TEXT NULL;
ALTER TABLE memberships ADD COLUMN sync_dead_at TEXT NULL;
CREATE INDEX memberships_stuck ON memberships(sync_error_code)
    WHERE sync_outcome IN ('rejected', 'dead_letter');
`
    },
    {
        version: 4,
        name: 'suppression events (R15 feed)',
        // An append-only log of unsubscribes added and removed: the suppression feed and
        // the outbound notifications read it by id. AUTOINCREMENT never reuses an id (not
        // even after the last row is deleted) and SQLite has one writer at a time, so ids
        // are committed in increasing order: a cursor "after id N" never skips or repeats
        // an event. A PostgreSQL engine (issue 12) must keep that property — a sequence
        // alone does not (a transaction may commit after a later id): it needs e.g. a
        // per-transaction ordering (an advisory lock around the insert, or reading only up
        // to the oldest in-flight transaction's first id).
        // Backfill: every existing unsubscribe as "added" in id order, then every removed
        // one as "removed" in removed_at order.
        sql: `
CREATE TABLE suppression_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unsubscribe_id INTEGER NOT NULL REFERENCES unsubscribes(id),
    kind TEXT NOT NULL CHECK (kind IN ('added', 'removed')),
    at TEXT NOT NULL
);
CREATE INDEX suppression_events_unsubscribe ON suppression_events(unsubscribe_id);
INSERT INTO suppression_events (unsubscribe_id, kind, at)
    SELECT id, 'added', collected_at FROM unsubscribes ORDER BY id;
INSERT INTO suppression_events (unsubscribe_id, kind, at)
    SELECT id, 'removed', removed_at FROM unsubscribes
    WHERE removed_at IS NOT NULL ORDER BY removed_at, id;
`
    },
    {
        version: 5,
        name: 'Mailchimp deliveries (R15)',
        // One row per (unsubscribe, Mailchimp audience) once that audience has it:
        // delivered (Mailchimp answered the PATCH), skipped (Mailchimp refused it for
        // good, e.g. 404 not a member; its title and detail kept) or in_mailchimp (a
        // pull saw the member unsubscribed there: it came from Mailchimp or already
        // reached it). Rows are only added, so a re-run never sends one twice.
        sql: `
CREATE TABLE mailchimp_deliveries (
    unsubscribe_id INTEGER NOT NULL REFERENCES unsubscribes(id),
    list_id TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'skipped', 'in_mailchimp')),
    detail TEXT NULL,
    run_id TEXT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (unsubscribe_id, list_id)
);
CREATE INDEX mailchimp_deliveries_list ON mailchimp_deliveries(list_id);
`
    },
    {
        version: 6,
        name: 'Salesforce mirror (issue 14)',
        // What the sync last read from Salesforce (sync/mirror.ts refreshes it by
        // SystemModstamp): Contacts and Leads (sf_record) and Audience_Membership__c
        // rows (sf_membership), and per mirrored object the watermark (the highest
        // SystemModstamp read, Salesforce's clock), when the last full read ended and
        // the opt-out fields the rows hold. Times are ISO strings (…Z), flags 0/1;
        // marketo_sales_opt_out is NULL when the field is not installed. full_seen is
        // the token of the full read that last saw the row: a full read deletes the
        // rows it did not see only at its end.
        sql: `
CREATE TABLE sf_record (
    id TEXT PRIMARY KEY CHECK (length(id) = 18),
    object TEXT NOT NULL CHECK (object IN ('Contact', 'Lead')),
    email TEXT NULL,
    email_norm TEXT NULL,
    is_converted INTEGER NOT NULL DEFAULT 0,
    converted_contact_id TEXT NULL,
    has_opted_out_of_email INTEGER NOT NULL DEFAULT 0,
    marketo_sales_opt_out INTEGER NULL,
    system_modstamp TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    full_seen TEXT NULL
);
CREATE INDEX sf_record_email_norm ON sf_record(email_norm);
CREATE INDEX sf_record_object_seen ON sf_record(object, full_seen);

CREATE TABLE sf_membership (
    membership_key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    contact_id TEXT NULL,
    lead_id TEXT NULL,
    audience_id TEXT NULL,
    audience_name TEXT NULL,
    email TEXT NULL,
    status TEXT NULL,
    status_changed_at TEXT NULL,
    source TEXT NULL,
    reason TEXT NULL,
    pending_push INTEGER NOT NULL DEFAULT 0,
    system_modstamp TEXT NOT NULL,
    refreshed_at TEXT NOT NULL,
    full_seen TEXT NULL
);
CREATE UNIQUE INDEX sf_membership_id ON sf_membership(id);
CREATE INDEX sf_membership_contact ON sf_membership(contact_id, audience_id);
CREATE INDEX sf_membership_lead ON sf_membership(lead_id, audience_id);
CREATE INDEX sf_membership_seen ON sf_membership(full_seen);

CREATE TABLE sf_mirror_state (
    object TEXT PRIMARY KEY,
    watermark TEXT NULL,
    full_at TEXT NULL,
    fields TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
`
    }
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** The highest migration recorded in the file (0 for a new file). */
export function schemaVersion(db: Database.Database): number {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )`);
    const row = db
        .prepare('SELECT MAX(version) AS v FROM schema_migrations')
        .get() as { v: number | null };
    return row.v ?? 0;
}

/**
 * Brings the file up to the last migration. A file written by a newer version of this
 * tool is refused rather than guessed at. Returns the versions applied.
 */
export function migrate(
    db: Database.Database,
    path: string,
    migrations: readonly Migration[] = MIGRATIONS
): number[] {
    // BEGIN IMMEDIATE: two processes opening a new file must not both migrate it.
    return db
        .transaction(() => {
            const current = schemaVersion(db);
            const latest = migrations[migrations.length - 1]?.version ?? 0;
            if (current > latest) {
                throw new OptoutError(
                    'LEDGER_TOO_NEW',
                    `The ledger ${path} has schema version ${current}, newer than this version of optout understands (${latest}).`,
                    {
                        actions: [
                            'Upgrade optout to the version that wrote this ledger',
                            'Or point --ledger (or OPTOUT_LEDGER) at another file'
                        ]
                    }
                );
            }
            const applied: number[] = [];
            const record = db.prepare(
                'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)'
            );
            for (const m of migrations) {
                if (m.version <= current) continue;
                db.exec(m.sql);
                record.run(m.version, m.name, new Date().toISOString());
                applied.push(m.version);
            }
            return applied;
        })
        .immediate();
}
