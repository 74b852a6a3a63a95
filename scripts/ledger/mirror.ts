/**
 * The Salesforce mirror (migration 6): what the sync last read from Salesforce —
 * Contacts and Leads (`sf_record`), Audience_Membership__c rows (`sf_membership`) — and,
 * per mirrored object, its watermark (`sf_mirror_state`). sync/mirror.ts refreshes it
 * by SystemModstamp; the jobs look persons' records and memberships up here instead of
 * querying Salesforce per person (issue 14).
 *
 * - Writes come a page at a time: multi-row statements, at most MAX_PARAMS values each
 *   (under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters).
 * - `applyMirrorPage` writes a page's rows, its deletions and the object's state in ONE
 *   transaction, so a watermark never covers rows that were not stored.
 * - A full read marks the rows it writes with its token (`full_seen`); `sweepMirror`
 *   then deletes the object's rows the read did not see, with the new state, in one
 *   transaction. A full read that fails midway has deleted nothing.
 * - Lookups take a batch of persons or keys per statement, never one per person.
 */
import type { PersonObject } from '../model/statuses';
import type { LedgerContext } from './context';
import { chunks, inLists, padded } from './sql-columns';
import { marks } from './sql/dialect';

/** `sf_record.object` (the CHECK of migration 6). */
export const MIRRORED_PERSON_OBJECTS = ['Contact', 'Lead'] as const;

/** The objects the mirror holds, each with its own watermark. */
export const MIRRORED_OBJECTS = [
    'Contact',
    'Lead',
    'Audience_Membership__c'
] as const;
export type MirroredObject = (typeof MIRRORED_OBJECTS)[number];

/** A Contact or Lead as last read. */
export interface MirrorRecord {
    /** 18-character id. */
    id: string;
    object: PersonObject;
    email: string | null;
    /** Trimmed, lower-cased email (R8), null when none. */
    emailNorm: string | null;
    isConverted: boolean;
    convertedContactId: string | null;
    hasOptedOutOfEmail: boolean;
    /** null: the field is not installed (or was not read). */
    marketoSalesOptOut: boolean | null;
    /** ISO time (…Z), Salesforce's clock. */
    systemModstamp: string;
}

/**
 * An Audience_Membership__c row as last read, with its SystemModstamp (sync/decisions.ts's
 * ExistingMembership is this row without the stamp).
 */
export interface MirrorMembership {
    id: string;
    key: string;
    contactId: string | null;
    leadId: string | null;
    audienceId: string | null;
    audienceName: string | null;
    email: string | null;
    status: string | null;
    changedAt: string | null;
    source: string | null;
    reason: string | null;
    pending: boolean;
    systemModstamp: string;
}

/** Where the mirror of one object stands. */
export interface MirrorState {
    object: string;
    /** The highest SystemModstamp read (null: no read finished yet). */
    watermark: string | null;
    /** When the last full read ended (the ledger's clock), null: never. */
    fullAt: string | null;
    /** The optional fields the rows hold (e.g. Marketo_Sales_Opt_Out__c). */
    fields: string[];
    updatedAt: string;
}

/** A person to find records for (R6 by id, R8 by email). */
export interface MirrorPersonRef {
    salesforceId: string | null;
    emailNorm: string | null;
}

/** Values per statement (see the header). */
const MAX_PARAMS = 30_000;
/** Persons, keys or ids per lookup statement. */
export const LOOKUP_BATCH = 500;

const RECORD_COLUMNS = [
    'id',
    'object',
    'email',
    'email_norm',
    'is_converted',
    'converted_contact_id',
    'has_opted_out_of_email',
    'marketo_sales_opt_out',
    'system_modstamp',
    'refreshed_at',
    'full_seen'
] as const;

const MEMBERSHIP_COLUMNS = [
    'membership_key',
    'id',
    'contact_id',
    'lead_id',
    'audience_id',
    'audience_name',
    'email',
    'status',
    'status_changed_at',
    'source',
    'reason',
    'pending_push',
    'system_modstamp',
    'refreshed_at',
    'full_seen'
] as const;

const RECORD_SELECT = `id, object, email, email_norm AS emailNorm, is_converted AS isConverted,
    converted_contact_id AS convertedContactId, has_opted_out_of_email AS hasOptedOutOfEmail,
    marketo_sales_opt_out AS marketoSalesOptOut, system_modstamp AS systemModstamp`;

const MEMBERSHIP_SELECT = `id, membership_key AS "key", contact_id AS contactId, lead_id AS leadId,
    audience_id AS audienceId, audience_name AS audienceName, email, status,
    status_changed_at AS changedAt, source, reason, pending_push AS pending,
    system_modstamp AS systemModstamp`;

interface RecordRow {
    id: string;
    object: PersonObject;
    email: string | null;
    emailNorm: string | null;
    isConverted: number;
    convertedContactId: string | null;
    hasOptedOutOfEmail: number;
    marketoSalesOptOut: number | null;
    systemModstamp: string;
}

interface MembershipRow extends Omit<MirrorMembership, 'pending'> {
    pending: number;
}

function toRecord(r: RecordRow): MirrorRecord {
    return {
        id: r.id,
        object: r.object,
        email: r.email,
        emailNorm: r.emailNorm,
        isConverted: Number(r.isConverted) === 1,
        convertedContactId: r.convertedContactId,
        hasOptedOutOfEmail: Number(r.hasOptedOutOfEmail) === 1,
        marketoSalesOptOut:
            r.marketoSalesOptOut === null
                ? null
                : Number(r.marketoSalesOptOut) === 1,
        systemModstamp: r.systemModstamp
    };
}

function toMembership(r: MembershipRow): MirrorMembership {
    return { ...r, pending: Number(r.pending) === 1 };
}

const flag = (b: boolean): number => (b ? 1 : 0);

/** The last row per key (a page may carry a row twice; one statement must not). */
function lastPerKey<T>(rows: readonly T[], key: (r: T) => string): T[] {
    const byKey = new Map<string, T>();
    for (const r of rows) {
        const k = key(r);
        byKey.delete(k);
        byKey.set(k, r);
    }
    return [...byKey.values()];
}

/**
 * Rows cut for multi-row statements of a few lengths only: `max` as long as that many
 * are left, then powers of two. Each statement text is prepared and kept once per
 * connection, and a 2,000-row upsert takes about 2 MiB compiled: a length per page's
 * remainder kept dozens of them alive through a million-row read.
 */
export function statementChunks<T>(rows: readonly T[], max: number): T[][] {
    const out: T[][] = [];
    let i = 0;
    while (rows.length - i >= max) {
        out.push(rows.slice(i, i + max));
        i += max;
    }
    for (let p = 2 ** Math.floor(Math.log2(Math.max(1, max))); p >= 1; p /= 2)
        if (rows.length - i >= p) {
            out.push(rows.slice(i, i + p));
            i += p;
        }
    return out;
}

function upsertSql(
    table: string,
    columns: readonly string[],
    key: string,
    rows: number
): string {
    const tuple = `(${marks(columns.length)})`;
    const sets = columns
        .filter((c) => c !== key)
        .map((c) =>
            c === 'full_seen'
                ? `full_seen = COALESCE(excluded.full_seen, ${table}.full_seen)`
                : `${c} = excluded.${c}`
        )
        .join(', ');
    return `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from(
        { length: rows },
        () => tuple
    ).join(', ')} ON CONFLICT (${key}) DO UPDATE SET ${sets}`;
}

/**
 * Stores Contacts and Leads as read (insert or replace by id). `fullSeen`: the token
 * of the full read that read them (kept when null). Returns how many rows.
 */
export async function upsertMirrorRecords(
    ctx: LedgerContext,
    records: readonly MirrorRecord[],
    options: { fullSeen?: string | null } = {}
): Promise<number> {
    const rows = lastPerKey(records, (r) => r.id);
    if (rows.length === 0) return 0;
    const at = ctx.nowIso();
    const size = Math.floor(MAX_PARAMS / RECORD_COLUMNS.length);
    await ctx.transaction(async () => {
        for (const chunk of statementChunks(rows, size)) {
            const values: unknown[] = [];
            for (const r of chunk)
                values.push(
                    r.id,
                    r.object,
                    r.email,
                    r.emailNorm,
                    flag(r.isConverted),
                    r.convertedContactId,
                    flag(r.hasOptedOutOfEmail),
                    r.marketoSalesOptOut === null
                        ? null
                        : flag(r.marketoSalesOptOut),
                    r.systemModstamp,
                    at,
                    options.fullSeen ?? null
                );
            await ctx
                .stmt(
                    upsertSql('sf_record', RECORD_COLUMNS, 'id', chunk.length)
                )
                .run(...values);
        }
    });
    return rows.length;
}

/**
 * Stores Audience_Membership__c rows as read, by Membership_Key__c. A row that had
 * another key before (same Id) loses its old key first. Returns how many rows.
 */
export async function upsertMirrorMemberships(
    ctx: LedgerContext,
    memberships: readonly MirrorMembership[],
    options: { fullSeen?: string | null } = {}
): Promise<number> {
    const rows = lastPerKey(
        lastPerKey(memberships, (m) => m.id),
        (m) => m.key
    );
    if (rows.length === 0) return 0;
    const at = ctx.nowIso();
    const size = Math.floor(MAX_PARAMS / MEMBERSHIP_COLUMNS.length);
    await ctx.transaction(async () => {
        for (const chunk of statementChunks(rows, size)) {
            // The same Id under another key (Membership_Key__c edited): replaced.
            for (const ids of inLists(
                chunk.map((m) => m.id),
                LOOKUP_BATCH
            ))
                await ctx
                    .stmt(
                        `DELETE FROM sf_membership WHERE id IN (${marks(ids.length)})`
                    )
                    .run(...ids);
            const values: unknown[] = [];
            for (const m of chunk)
                values.push(
                    m.key,
                    m.id,
                    m.contactId,
                    m.leadId,
                    m.audienceId,
                    m.audienceName,
                    m.email,
                    m.status,
                    m.changedAt,
                    m.source,
                    m.reason,
                    flag(m.pending),
                    m.systemModstamp,
                    at,
                    options.fullSeen ?? null
                );
            await ctx
                .stmt(
                    upsertSql(
                        'sf_membership',
                        MEMBERSHIP_COLUMNS,
                        'membership_key',
                        chunk.length
                    )
                )
                .run(...values);
        }
    });
    return rows.length;
}

async function deleteByIds(
    ctx: LedgerContext,
    table: 'sf_record' | 'sf_membership',
    ids: readonly string[]
): Promise<number> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return 0;
    let changes = 0;
    await ctx.transaction(async () => {
        for (const chunk of inLists(unique, LOOKUP_BATCH)) {
            changes += (
                await ctx
                    .stmt(
                        `DELETE FROM ${table} WHERE id IN (${marks(chunk.length)})`
                    )
                    .run(...chunk)
            ).changes;
        }
    });
    return changes;
}

/** Forgets Contacts/Leads (deleted or merged away in Salesforce). Returns how many. */
export async function deleteMirrorRecords(
    ctx: LedgerContext,
    ids: readonly string[]
): Promise<number> {
    return deleteByIds(ctx, 'sf_record', ids);
}

/** Forgets Audience_Membership__c rows by their Id. Returns how many. */
export async function deleteMirrorMemberships(
    ctx: LedgerContext,
    ids: readonly string[]
): Promise<number> {
    return deleteByIds(ctx, 'sf_membership', ids);
}

// ------------------------------------------------------------------ state

interface StateRow {
    object: string;
    watermark: string | null;
    fullAt: string | null;
    fields: string;
    updatedAt: string;
}

function toState(r: StateRow): MirrorState {
    return {
        object: r.object,
        watermark: r.watermark,
        fullAt: r.fullAt,
        fields: r.fields ? r.fields.split(',') : [],
        updatedAt: r.updatedAt
    };
}

const STATE_SELECT =
    'SELECT object, watermark, full_at AS fullAt, fields, updated_at AS updatedAt FROM sf_mirror_state';

export async function getMirrorState(
    ctx: LedgerContext,
    object: string
): Promise<MirrorState | undefined> {
    const row = (await ctx
        .stmt(`${STATE_SELECT} WHERE object = ?`)
        .get(object)) as StateRow | undefined;
    return row && toState(row);
}

export async function listMirrorStates(
    ctx: LedgerContext
): Promise<MirrorState[]> {
    return (
        (await ctx.stmt(`${STATE_SELECT} ORDER BY object`).all()) as StateRow[]
    ).map(toState);
}

export interface MirrorStateInput {
    watermark: string | null;
    /** Set when a full read ended; kept as it was when omitted. */
    fullAt?: string | null;
    fields: readonly string[];
}

export async function setMirrorState(
    ctx: LedgerContext,
    object: string,
    input: MirrorStateInput
): Promise<void> {
    const fields = [...new Set(input.fields)].sort().join(',');
    await ctx
        .stmt(
            `INSERT INTO sf_mirror_state (object, watermark, full_at, fields, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (object) DO UPDATE SET watermark = excluded.watermark,
                 full_at = ${input.fullAt === undefined ? 'sf_mirror_state.full_at' : 'excluded.full_at'},
                 fields = excluded.fields, updated_at = excluded.updated_at`
        )
        .run(
            object,
            input.watermark,
            input.fullAt ?? null,
            fields,
            ctx.nowIso()
        );
}

/** Forgets an object's state (or every object's): the next refresh reads it in full. */
export async function resetMirrorState(
    ctx: LedgerContext,
    object?: string
): Promise<void> {
    if (object === undefined)
        await ctx.stmt('DELETE FROM sf_mirror_state').run();
    else
        await ctx
            .stmt('DELETE FROM sf_mirror_state WHERE object = ?')
            .run(object);
}

// ------------------------------------------------------------ refresh steps

/** A row Salesforce reports deleted (queryAll), with the stamp of its deletion. */
export interface MirrorDeletion {
    id: string;
    systemModstamp: string;
}

/** One page of a refresh, for `applyMirrorPage`. */
export interface MirrorPage {
    records?: readonly MirrorRecord[];
    memberships?: readonly MirrorMembership[];
    /** Rows deleted in Salesforce (records or memberships, by the object). */
    deleted?: readonly MirrorDeletion[];
    /** The token of the full read this page belongs to (none: incremental). */
    fullSeen?: string | null;
    /** The object's state after this page (none: left as it is). */
    state?: MirrorStateInput;
}

type MirrorTable = 'sf_record' | 'sf_membership';

/** The stored SystemModstamp of these ids. */
async function storedStamps(
    ctx: LedgerContext,
    table: MirrorTable,
    ids: readonly string[]
): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const chunk of inLists([...new Set(ids)], LOOKUP_BATCH)) {
        for (const r of (await ctx
            .stmt(
                `SELECT id, system_modstamp AS systemModstamp FROM ${table} WHERE id IN (${marks(chunk.length)})`
            )
            .all(...chunk)) as { id: string; systemModstamp: string }[])
            out.set(r.id, r.systemModstamp);
    }
    return out;
}

/**
 * Writes one page of `object` — its rows, its deletions and (when given) the object's
 * new state — in one transaction: the watermark moves only with the rows it covers.
 * A row or deletion older (SystemModstamp) than the stored row is not applied: two
 * refreshes at once (processes sharing a PostgreSQL ledger) never put an older
 * version back. A full read still marks such a row seen. Returns what was applied.
 */
export async function applyMirrorPage(
    ctx: LedgerContext,
    object: MirroredObject,
    page: MirrorPage
): Promise<{ upserted: number; deleted: number; stale: number }> {
    return ctx.transaction(async () => {
        const membership = object === 'Audience_Membership__c';
        const table: MirrorTable = membership ? 'sf_membership' : 'sf_record';
        const rows: readonly { id: string; systemModstamp: string }[] =
            (membership ? page.memberships : page.records) ?? [];
        const deletions = page.deleted ?? [];
        const stored = await storedStamps(ctx, table, [
            ...rows.map((r) => r.id),
            ...deletions.map((d) => d.id)
        ]);
        const current = (r: { id: string; systemModstamp: string }): boolean =>
            !stored.has(r.id) ||
            (stored.get(r.id) as string) <= r.systemModstamp;
        const toDelete = deletions.filter(
            (d) => stored.has(d.id) && current(d)
        );
        const stale = rows.filter((r) => !current(r)).map((r) => r.id);
        const deleted = membership
            ? await deleteMirrorMemberships(
                  ctx,
                  toDelete.map((d) => d.id)
              )
            : await deleteMirrorRecords(
                  ctx,
                  toDelete.map((d) => d.id)
              );
        const upserted = membership
            ? await upsertMirrorMemberships(
                  ctx,
                  (page.memberships ?? []).filter(current),
                  { fullSeen: page.fullSeen }
              )
            : await upsertMirrorRecords(
                  ctx,
                  (page.records ?? []).filter(current),
                  { fullSeen: page.fullSeen }
              );
        if (page.fullSeen && stale.length)
            for (const chunk of inLists(stale, LOOKUP_BATCH)) {
                await ctx
                    .stmt(
                        `UPDATE ${table} SET full_seen = ? WHERE id IN (${marks(chunk.length)})`
                    )
                    .run(page.fullSeen, ...chunk);
            }
        if (page.state) await setMirrorState(ctx, object, page.state);
        return { upserted, deleted, stale: stale.length };
    });
}

/**
 * The last step of a full read of `object`: deletes its rows that the read with this
 * token did not see (gone from Salesforce), and sets the object's state, in one
 * transaction. `keepAfter`: the highest SystemModstamp the read saw — a row stamped
 * later was stored by another refresh after the read's snapshot and is kept (null:
 * the read saw no row, every unseen row goes). Returns how many rows were deleted.
 */
export async function sweepMirror(
    ctx: LedgerContext,
    object: MirroredObject,
    token: string,
    state: MirrorStateInput,
    keepAfter: string | null = null
): Promise<number> {
    return ctx.transaction(async () => {
        const unseen = '(full_seen IS NULL OR full_seen <> ?)';
        const guard = keepAfter === null ? '' : ' AND system_modstamp <= ?';
        const tail = keepAfter === null ? [] : [keepAfter];
        const { changes } =
            object === 'Audience_Membership__c'
                ? await ctx
                      .stmt(`DELETE FROM sf_membership WHERE ${unseen}${guard}`)
                      .run(token, ...tail)
                : await ctx
                      .stmt(
                          `DELETE FROM sf_record WHERE object = ? AND ${unseen}${guard}`
                      )
                      .run(object, token, ...tail);
        await setMirrorState(ctx, object, state);
        return changes;
    });
}

// ----------------------------------------------------------------- lookups

/**
 * The records of these persons (R6): the record of each one's Salesforce id and, with
 * `applyToSameEmail` (R8), every Contact and Lead with its email; with
 * `convertedContacts` (default on, R9) also the Contacts that matched converted Leads
 * point at. One statement per LOOKUP_BATCH persons; each record once, by id.
 */
export async function mirrorRecordsFor(
    ctx: LedgerContext,
    persons: readonly MirrorPersonRef[],
    options: { applyToSameEmail: boolean; convertedContacts?: boolean }
): Promise<MirrorRecord[]> {
    const out = new Map<string, MirrorRecord>();
    const converted = options.convertedContacts ?? true;
    for (const batch of chunks(persons, LOOKUP_BATCH)) {
        const ids = padded([
            ...new Set(
                batch
                    .map((p) => p.salesforceId)
                    .filter((id): id is string => !!id)
            )
        ]);
        const emails = options.applyToSameEmail
            ? padded([
                  ...new Set(
                      batch
                          .map((p) => p.emailNorm)
                          .filter((e): e is string => !!e)
                  )
              ])
            : [];
        if (ids.length === 0 && emails.length === 0) continue;
        const where = [
            ...(ids.length ? [`id IN (${marks(ids.length)})`] : []),
            ...(emails.length
                ? [`email_norm IN (${marks(emails.length)})`]
                : [])
        ].join(' OR ');
        const sql = converted
            ? `WITH hit AS (SELECT * FROM sf_record WHERE ${where})
               SELECT ${RECORD_SELECT} FROM hit
               UNION
               SELECT ${RECORD_SELECT} FROM sf_record
               WHERE id IN (SELECT converted_contact_id FROM hit WHERE converted_contact_id IS NOT NULL)`
            : `SELECT ${RECORD_SELECT} FROM sf_record WHERE ${where}`;
        const rows = (await ctx
            .stmt(sql)
            .all(...ids, ...emails)) as RecordRow[];
        for (const r of rows) out.set(r.id, toRecord(r));
    }
    return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Records by id (18 characters), each once. */
export async function mirrorRecordsById(
    ctx: LedgerContext,
    ids: readonly string[]
): Promise<MirrorRecord[]> {
    const out: MirrorRecord[] = [];
    for (const chunk of inLists([...new Set(ids)], LOOKUP_BATCH)) {
        for (const r of (await ctx
            .stmt(
                `SELECT ${RECORD_SELECT} FROM sf_record WHERE id IN (${marks(chunk.length)}) ORDER BY id`
            )
            .all(...chunk)) as RecordRow[])
            out.push(toRecord(r));
    }
    return out;
}

/** Audience_Membership__c rows by Membership_Key__c (compared exactly). */
export async function mirrorMembershipsByKeys(
    ctx: LedgerContext,
    keys: readonly string[]
): Promise<MirrorMembership[]> {
    const out: MirrorMembership[] = [];
    for (const chunk of inLists([...new Set(keys)], LOOKUP_BATCH)) {
        for (const r of (await ctx
            .stmt(
                `SELECT ${MEMBERSHIP_SELECT} FROM sf_membership WHERE membership_key IN (${marks(chunk.length)}) ORDER BY membership_key`
            )
            .all(...chunk)) as MembershipRow[])
            out.push(toMembership(r));
    }
    return out;
}

/**
 * Audience_Membership__c rows on these Contacts or Leads, whatever their key (a merge
 * re-parents rows and keeps their key, see sync/records.ts MembershipIndex.find).
 */
export async function mirrorMembershipsForRecords(
    ctx: LedgerContext,
    recordIds: readonly string[]
): Promise<MirrorMembership[]> {
    const out: MirrorMembership[] = [];
    for (const chunk of inLists([...new Set(recordIds)], LOOKUP_BATCH / 2)) {
        for (const r of (await ctx
            .stmt(
                `SELECT ${MEMBERSHIP_SELECT} FROM sf_membership
                 WHERE contact_id IN (${marks(chunk.length)}) OR lead_id IN (${marks(chunk.length)})
                 ORDER BY membership_key`
            )
            .all(...chunk, ...chunk)) as MembershipRow[])
            out.push(toMembership(r));
    }
    return out;
}

/** How many rows the mirror holds, per table. */
export async function mirrorCounts(
    ctx: LedgerContext
): Promise<{ contacts: number; leads: number; memberships: number }> {
    const n = async (sql: string): Promise<number> =>
        Number(((await ctx.stmt(sql).get()) as { n: number }).n);
    return {
        contacts: await n(
            "SELECT COUNT(*) AS n FROM sf_record WHERE object = 'Contact'"
        ),
        leads: await n(
            "SELECT COUNT(*) AS n FROM sf_record WHERE object = 'Lead'"
        ),
        memberships: await n('SELECT COUNT(*) AS n FROM sf_membership')
    };
}
