/**
 * The local Mailchimp's store, on SQLite (a file, or ':memory:'): audiences (lists),
 * members, webhooks, batch operations and the deliveries of webhook calls.
 *
 * Times are kept as whole seconds, because Mailchimp's `last_changed` and friends have
 * one-second resolution ("2019-08-24T14:15:22+00:00"): several changes share a second,
 * and a consumer of `since_last_changed` must cope with ties.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Member statuses Mailchimp documents (List Members: `status`). */
export const MEMBER_STATUSES = [
    'subscribed',
    'unsubscribed',
    'cleaned',
    'pending',
    'transactional',
    'archived'
] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

export interface ListRow {
    id: string;
    web_id: number;
    name: string;
    date_created: number;
}

export interface MemberRow {
    list_id: string;
    /** MD5 of the lower-cased email: Mailchimp's `id` and `subscriber_hash`. */
    id: string;
    email_address: string;
    unique_email_id: string;
    contact_id: string;
    web_id: number;
    status: MemberStatus;
    unsubscribe_reason: string | null;
    merge_fields: string;
    timestamp_signup: number;
    timestamp_opt: number;
    last_changed: number;
    source: string;
}

export interface WebhookRow {
    list_id: string;
    id: string;
    url: string;
    events: string;
    sources: string;
}

export interface BatchRow {
    id: string;
    status: 'pending' | 'started' | 'finished';
    operations: string;
    total_operations: number;
    finished_operations: number;
    errored_operations: number;
    submitted_at: number;
    completed_at: number | null;
    results: Buffer | null;
}

export interface DeliveryRow {
    seq: number;
    webhook_id: string;
    list_id: string;
    url: string;
    type: string;
    body: string;
    status: number | null;
    error: string | null;
    at: number;
}

/** Mailchimp's subscriber hash: MD5 of the lower-cased email address. */
export function subscriberHash(email: string): string {
    return createHash('md5').update(email.toLowerCase()).digest('hex');
}

export function randomHex(chars: number): string {
    return randomBytes(Math.ceil(chars / 2))
        .toString('hex')
        .slice(0, chars);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS lists (
    id TEXT PRIMARY KEY, web_id INTEGER NOT NULL, name TEXT NOT NULL,
    date_created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    list_id TEXT NOT NULL, id TEXT NOT NULL, email_address TEXT NOT NULL,
    unique_email_id TEXT NOT NULL, contact_id TEXT NOT NULL, web_id INTEGER NOT NULL,
    status TEXT NOT NULL, unsubscribe_reason TEXT, merge_fields TEXT NOT NULL,
    timestamp_signup INTEGER NOT NULL, timestamp_opt INTEGER NOT NULL,
    last_changed INTEGER NOT NULL, source TEXT NOT NULL,
    UNIQUE (list_id, id));
CREATE TABLE IF NOT EXISTS webhooks (
    list_id TEXT NOT NULL, id TEXT PRIMARY KEY, url TEXT NOT NULL,
    events TEXT NOT NULL, sources TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, status TEXT NOT NULL,
    operations TEXT NOT NULL, total_operations INTEGER NOT NULL,
    finished_operations INTEGER NOT NULL, errored_operations INTEGER NOT NULL,
    submitted_at INTEGER NOT NULL, completed_at INTEGER, results BLOB);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL, list_id TEXT NOT NULL,
    url TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, status INTEGER,
    error TEXT, at INTEGER NOT NULL);
`;

export class MailchimpStore {
    readonly db: Database.Database;

    constructor(dbPath: string) {
        if (dbPath !== ':memory:')
            mkdirSync(dirname(dbPath), { recursive: true });
        this.db = new Database(dbPath);
        this.db.pragma('journal_mode = WAL');
        this.db.exec(SCHEMA);
    }

    close(): void {
        this.db.close();
    }

    // ---- lists
    createList(name: string, now: number, id?: string): ListRow {
        const row: ListRow = {
            id: id ?? randomHex(10),
            web_id: this.nextWebId('lists'),
            name,
            date_created: now
        };
        this.db
            .prepare(
                'INSERT INTO lists (id, web_id, name, date_created) VALUES (@id, @web_id, @name, @date_created)'
            )
            .run(row);
        return row;
    }

    getList(id: string): ListRow | undefined {
        return this.db.prepare('SELECT * FROM lists WHERE id = ?').get(id) as
            ListRow | undefined;
    }

    listIdByName(name: string): string | undefined {
        const r = this.db
            .prepare(
                'SELECT id FROM lists WHERE name = ? ORDER BY rowid LIMIT 1'
            )
            .get(name) as { id: string } | undefined;
        return r?.id;
    }

    lists(offset: number, count: number): { rows: ListRow[]; total: number } {
        const rows = this.db
            .prepare('SELECT * FROM lists ORDER BY rowid LIMIT ? OFFSET ?')
            .all(count, offset) as ListRow[];
        const total = (
            this.db.prepare('SELECT COUNT(*) AS n FROM lists').get() as {
                n: number;
            }
        ).n;
        return { rows, total };
    }

    statusCounts(listId: string): Record<string, number> {
        const rows = this.db
            .prepare(
                'SELECT status, COUNT(*) AS n FROM members WHERE list_id = ? GROUP BY status'
            )
            .all(listId) as { status: string; n: number }[];
        return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    }

    // ---- members
    getMember(listId: string, hash: string): MemberRow | undefined {
        return this.db
            .prepare(
                'SELECT list_id, id, email_address, unique_email_id, contact_id, web_id, status, unsubscribe_reason, merge_fields, timestamp_signup, timestamp_opt, last_changed, source FROM members WHERE list_id = ? AND id = ?'
            )
            .get(listId, hash) as MemberRow | undefined;
    }

    insertMember(
        listId: string,
        email: string,
        status: MemberStatus,
        mergeFields: Record<string, unknown>,
        now: number,
        source: string
    ): MemberRow {
        const row: MemberRow = {
            list_id: listId,
            id: subscriberHash(email),
            email_address: email,
            unique_email_id: randomHex(10),
            contact_id: randomHex(32),
            web_id: this.nextWebId('members'),
            status,
            unsubscribe_reason: null,
            merge_fields: JSON.stringify(mergeFields),
            timestamp_signup: now,
            timestamp_opt: now,
            last_changed: now,
            source
        };
        this.db
            .prepare(
                `INSERT INTO members (list_id, id, email_address, unique_email_id, contact_id, web_id,
                 status, unsubscribe_reason, merge_fields, timestamp_signup, timestamp_opt, last_changed, source)
                 VALUES (@list_id, @id, @email_address, @unique_email_id, @contact_id, @web_id, @status,
                 @unsubscribe_reason, @merge_fields, @timestamp_signup, @timestamp_opt, @last_changed, @source)`
            )
            .run(row);
        return row;
    }

    updateMember(
        listId: string,
        hash: string,
        patch: Partial<
            Pick<
                MemberRow,
                | 'status'
                | 'unsubscribe_reason'
                | 'merge_fields'
                | 'email_address'
                | 'last_changed'
            >
        >
    ): void {
        const keys = Object.keys(patch);
        if (keys.length === 0) return;
        const set = keys.map((k) => `${k} = @${k}`).join(', ');
        this.db
            .prepare(
                `UPDATE members SET ${set} WHERE list_id = @list_id AND id = @hash`
            )
            .run({ ...patch, list_id: listId, hash });
    }

    /**
     * Members of a list, filtered as GET /lists/{id}/members does. Archived members are
     * left out unless asked for by status (Mailchimp's default view).
     */
    members(
        listId: string,
        filter: {
            status?: MemberStatus;
            sinceLastChanged?: number;
            beforeLastChanged?: number;
            sortField?: 'last_changed' | 'timestamp_opt' | 'timestamp_signup';
            sortDir?: 'ASC' | 'DESC';
        },
        offset: number,
        count: number
    ): { rows: MemberRow[]; total: number } {
        const where = ['list_id = @listId'];
        if (filter.status) where.push('status = @status');
        else where.push("status <> 'archived'");
        if (filter.sinceLastChanged !== undefined)
            where.push('last_changed > @since');
        if (filter.beforeLastChanged !== undefined)
            where.push('last_changed < @before');
        const params = {
            listId,
            status: filter.status,
            since: filter.sinceLastChanged,
            before: filter.beforeLastChanged
        };
        const order = filter.sortField
            ? `${filter.sortField} ${filter.sortDir ?? 'ASC'}, seq`
            : 'seq';
        const clause = where.join(' AND ');
        const rows = this.db
            .prepare(
                `SELECT * FROM members WHERE ${clause} ORDER BY ${order} LIMIT @count OFFSET @offset`
            )
            .all({ ...params, count, offset }) as MemberRow[];
        const total = (
            this.db
                .prepare(`SELECT COUNT(*) AS n FROM members WHERE ${clause}`)
                .get(params) as { n: number }
        ).n;
        return { rows, total };
    }

    // ---- webhooks
    insertWebhook(row: WebhookRow): void {
        this.db
            .prepare(
                'INSERT INTO webhooks (list_id, id, url, events, sources) VALUES (@list_id, @id, @url, @events, @sources)'
            )
            .run(row);
    }

    webhooks(listId: string): WebhookRow[] {
        return this.db
            .prepare('SELECT * FROM webhooks WHERE list_id = ? ORDER BY rowid')
            .all(listId) as WebhookRow[];
    }

    deleteWebhook(listId: string, id: string): boolean {
        return (
            this.db
                .prepare('DELETE FROM webhooks WHERE list_id = ? AND id = ?')
                .run(listId, id).changes > 0
        );
    }

    recordDelivery(row: Omit<DeliveryRow, 'seq'>): void {
        this.db
            .prepare(
                `INSERT INTO deliveries (webhook_id, list_id, url, type, body, status, error, at)
                 VALUES (@webhook_id, @list_id, @url, @type, @body, @status, @error, @at)`
            )
            .run(row);
    }

    deliveries(): DeliveryRow[] {
        return this.db
            .prepare('SELECT * FROM deliveries ORDER BY seq')
            .all() as DeliveryRow[];
    }

    // ---- batches
    insertBatch(row: BatchRow): void {
        this.db
            .prepare(
                `INSERT INTO batches (id, status, operations, total_operations, finished_operations,
                 errored_operations, submitted_at, completed_at, results)
                 VALUES (@id, @status, @operations, @total_operations, @finished_operations,
                 @errored_operations, @submitted_at, @completed_at, @results)`
            )
            .run(row);
    }

    updateBatch(
        id: string,
        patch: Partial<Omit<BatchRow, 'id' | 'operations'>>
    ): void {
        const keys = Object.keys(patch);
        if (keys.length === 0) return;
        const set = keys.map((k) => `${k} = @${k}`).join(', ');
        this.db
            .prepare(`UPDATE batches SET ${set} WHERE id = @id`)
            .run({ ...patch, id });
    }

    getBatch(id: string): BatchRow | undefined {
        return this.db.prepare('SELECT * FROM batches WHERE id = ?').get(id) as
            BatchRow | undefined;
    }

    batches(
        offset: number,
        count: number
    ): { rows: BatchRow[]; total: number } {
        const rows = this.db
            .prepare('SELECT * FROM batches ORDER BY seq LIMIT ? OFFSET ?')
            .all(count, offset) as BatchRow[];
        const total = (
            this.db.prepare('SELECT COUNT(*) AS n FROM batches').get() as {
                n: number;
            }
        ).n;
        return { rows, total };
    }

    /** Batches a crash left unfinished (resumed at start). */
    unfinishedBatches(): string[] {
        return (
            this.db
                .prepare(
                    "SELECT id FROM batches WHERE status <> 'finished' ORDER BY seq"
                )
                .all() as { id: string }[]
        ).map((r) => r.id);
    }

    private nextWebId(table: 'lists' | 'members'): number {
        const r = this.db
            .prepare(
                `SELECT COALESCE(MAX(web_id), 100000) + 1 AS n FROM ${table}`
            )
            .get() as { n: number };
        return r.n;
    }
}
