/**
 * Refreshes the ledger's Salesforce mirror (ledger/mirror.ts): Contacts, Leads and
 * Audience_Membership__c rows as Salesforce has them, so that the jobs look persons'
 * records up in the ledger instead of querying Salesforce per person (issue 14, R16).
 *
 * Per object:
 * - **full** read — when the object has no watermark yet, when asked (`full`), when the
 *   opt-out fields read changed (a field installed since), or when the last full read
 *   is older than `fullAfterMs`: every live row through `client.scan` (REST pages for
 *   a small object, Bulk API 2.0 for a large one), each page stored with the read's
 *   token; at the end, one transaction deletes the rows the read did not see and sets
 *   the watermark. A read that fails midway deletes nothing and leaves the watermark.
 * - **incremental** read — the rows with `SystemModstamp >= watermark − lookBack`,
 *   deleted ones included (queryAll: REST `/queryAll`, Bulk `queryAll`), so that
 *   records deleted or merged away leave the mirror and undeleted ones come back
 *   (an undelete, like every save, sets a new SystemModstamp). Pages are stored as
 *   they come; the last page and the new watermark are one transaction, so a fault
 *   midway leaves the watermark where it was and the next refresh reads those rows
 *   again (upserts and deletes by id are idempotent).
 *
 * The watermark is Salesforce's clock, never this machine's: the later of the highest
 * SystemModstamp read and the org's time when the read's first answer came (its
 * `Date` header) — so that an object whose newest rows are old is not read again from
 * its newest row on at every refresh, only from the last read on. The look-back (default 5 minutes) covers what a cursor on SystemModstamp
 * misses otherwise: a row's stamp is taken when its save starts, but it becomes
 * visible when its transaction commits, so a long transaction (a Bulk batch, a
 * trigger-heavy save, a merge) can commit rows stamped BEFORE a watermark another read
 * already took; and stamps have a precision of one second, so rows saved in the
 * watermark's second may commit after the read (hence `>=`, not `>`). Salesforce's own
 * replication call says the same: getUpdated()'s latestDateCovered is to be the next
 * startDate "to capture the changes that started after this date but did not complete
 * before the endDate", and while "a long-running transaction" runs it is "the start
 * time of that long-running transaction"
 * (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated_getupdatedresult.htm).
 * SOQL gives no latestDateCovered, so a fixed window stands in for it: five minutes is
 * far longer than a save or a Bulk batch chunk holds rows uncommitted, and costs little
 * (rows changed in the last five minutes before the watermark are read again, in the
 * same one request when few). A longer one can be passed for orgs with long batch
 * Apex.
 *
 * Deleted records stay in the Recycle Bin for 15 days
 * (https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/langCon_apex_dml_examples_undelete.htm);
 * after that, or after a hard delete, queryAll no longer returns them ("After these
 * records are permanently removed from the recycle bin, you can no longer query
 * them", REST QueryAll,
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm).
 * So a full read runs at least every `fullAfterMs` (default 7 days, under 15) and
 * removes what an incremental read can no longer see.
 *
 * Two refreshes of one ledger at once (processes sharing a PostgreSQL ledger) are
 * safe: a row or deletion older than the stored row is not applied, a full read's
 * sweep keeps rows stamped after its snapshot, and a watermark one of them sets lower
 * than the other's only makes the next read start earlier.
 */
import { randomUUID } from 'node:crypto';
import { parseNightlyDuration } from './nightly-mode';
import type { Ledger } from '../ledger/ledger';
import type {
    MirrorDeletion,
    MirrorMembership,
    MirrorRecord,
    MirrorState,
    MirroredObject
} from '../ledger/mirror';
import {
    AUDIENCE_MEMBERSHIP as AM,
    CONTACT,
    LEAD,
    OPT_OUT_FIELDS,
    SOBJECT,
    type OptOutField
} from '../model/schema';
import type { PersonObject } from '../model/statuses';
import type { OrgClient, SObjectRow } from '../salesforce/client';
import { emailKey, id18 } from './decisions';
import { AM_FIELDS, toExistingMembership, type Progress } from './records';

export const DEFAULT_LOOKBACK_MS = 5 * 60_000;

/** The look-back of the jobs' mirror reads (a duration: 5m, 0.5m; default 5 minutes). */
export const MIRROR_LOOKBACK_ENV = 'OPTOUT_MIRROR_LOOKBACK';

/** The look-back set by OPTOUT_MIRROR_LOOKBACK, else the default (usage error if bad). */
export function mirrorLookback(env: NodeJS.ProcessEnv = process.env): number {
    const raw = (env[MIRROR_LOOKBACK_ENV] ?? '').trim();
    return raw === ''
        ? DEFAULT_LOOKBACK_MS
        : parseNightlyDuration(raw, MIRROR_LOOKBACK_ENV, 'lookback');
}
/** A full read at least this often (Recycle Bin purges, hard deletes). */
export const DEFAULT_FULL_AFTER_MS = 7 * 24 * 60 * 60_000;
/** The watermark of a full read that found no row: every later row is newer. */
export const EMPTY_WATERMARK = '1970-01-01T00:00:00.000Z';

export const MIRROR_OBJECTS: readonly MirroredObject[] = [
    SOBJECT.CONTACT,
    SOBJECT.LEAD,
    SOBJECT.AUDIENCE_MEMBERSHIP
];

export interface RefreshMirrorOptions {
    /** The objects to refresh (default: Contact, Lead, Audience_Membership__c). */
    objects?: readonly MirroredObject[];
    /** How far before the watermark an incremental read starts (ms; default 5 min). */
    lookbackMs?: number;
    /**
     * The opt-out fields to read on Contact and Lead. Default: those the org has
     * (describe, cached by the client): HasOptedOutOfEmail, and
     * Marketo_Sales_Opt_Out__c when the package installed it.
     */
    fields?: readonly OptOutField[];
    /** A full read of every object (true) or of these objects. */
    full?: boolean | readonly MirroredObject[];
    /** A full read when the last one is older than this (ms; default 7 days). */
    fullAfterMs?: number;
    /** The ledger's clock for `fullAfterMs` (tests). */
    now?: () => Date;
    onProgress?: Progress;
}

export interface ObjectRefresh {
    object: MirroredObject;
    mode: 'full' | 'incremental';
    /** Why a full read (none for an incremental one). */
    reason?: 'first' | 'asked' | 'fields changed' | 'periodic';
    /** Rows read from Salesforce (deleted ones included). */
    read: number;
    upserted: number;
    deleted: number;
    /**
     * API requests this object's read took (the first object's include the describes
     * and the Composite request that brought every object's first page; a request
     * that brought another object's next page with this one's counts here).
     */
    requests: number;
    /** REST or Bulk API 2.0 (as client.scan chose). */
    api: 'rest' | 'bulk' | 'none';
    watermarkBefore: string | null;
    watermark: string | null;
    /** The SOQL condition of an incremental read. */
    since?: string;
}

export interface MirrorRefreshResult {
    objects: ObjectRefresh[];
    read: number;
    upserted: number;
    deleted: number;
    requests: number;
}

/**
 * A Salesforce datetime (REST `2024-05-20T20:49:32.000+0000`, Bulk `…Z`) in the
 * ledger's form `2024-05-20T20:49:32.000Z`; null when it is not one.
 */
export function sfTime(raw: unknown): string | null {
    if (typeof raw !== 'string' || raw === '') return null;
    const iso = raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    const ms = Date.parse(iso);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** A SOQL datetime literal for `watermark − lookBack`, cut to the second. */
export function sinceLiteral(watermark: string, lookbackMs: number): string {
    const ms = Date.parse(watermark) - lookbackMs;
    const t = Math.max(0, Math.floor(ms / 1000) * 1000);
    return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const isTrue = (v: unknown): boolean => v === true || v === 'true';

/** The SOQL field list of an object for the mirror. */
export function mirrorFieldList(
    object: MirroredObject,
    fields: readonly OptOutField[],
    withDeleted: boolean
): string[] {
    const optOut = OPT_OUT_FIELDS.filter((f) => fields.includes(f));
    const tail = ['SystemModstamp', ...(withDeleted ? ['IsDeleted'] : [])];
    if (object === SOBJECT.AUDIENCE_MEMBERSHIP) return [...AM_FIELDS, ...tail];
    const base =
        object === SOBJECT.CONTACT
            ? [CONTACT.Id, CONTACT.Email]
            : [LEAD.Id, LEAD.Email, LEAD.IsConverted, LEAD.ConvertedContactId];
    // HasOptedOutOfEmail is standard: always read, so the mirror always has it.
    const standard: OptOutField = 'HasOptedOutOfEmail';
    return [
        ...base,
        standard,
        ...optOut.filter((f) => f !== standard),
        ...tail
    ];
}

/** The query of a full read: every live row. */
function fullSoql(
    object: MirroredObject,
    fields: readonly OptOutField[]
): string {
    return `SELECT ${mirrorFieldList(object, fields, false).join(', ')} FROM ${object}`;
}

/** The query (queryAll) of an incremental read from `watermark − lookbackMs`. */
function incrementalSoql(
    object: MirroredObject,
    fields: readonly OptOutField[],
    watermark: string,
    lookbackMs: number
): string {
    return `SELECT ${mirrorFieldList(object, fields, true).join(', ')} FROM ${object} WHERE SystemModstamp >= ${sinceLiteral(watermark, lookbackMs)}`;
}

/** A Contact or Lead row as read → the mirror's record (null: no usable id/stamp). */
export function toMirrorRecord(
    object: PersonObject,
    r: SObjectRow,
    fields: readonly OptOutField[]
): MirrorRecord | null {
    const id = id18(typeof r.Id === 'string' ? r.Id : null);
    const stamp = sfTime(r.SystemModstamp);
    if (!id || !stamp) return null;
    const email =
        typeof r.Email === 'string' && r.Email.trim() ? r.Email.trim() : null;
    return {
        id,
        object,
        email,
        emailNorm: emailKey(email),
        isConverted: isTrue(r.IsConverted),
        convertedContactId: id18(
            typeof r.ConvertedContactId === 'string'
                ? r.ConvertedContactId
                : null
        ),
        hasOptedOutOfEmail: isTrue(r.HasOptedOutOfEmail),
        marketoSalesOptOut: fields.includes('Marketo_Sales_Opt_Out__c')
            ? isTrue(r.Marketo_Sales_Opt_Out__c)
            : null,
        systemModstamp: stamp
    };
}

/** An Audience_Membership__c row as read → the mirror's row (null: no key/stamp). */
export function toMirrorMembership(r: SObjectRow): MirrorMembership | null {
    const m = toExistingMembership(r);
    const stamp = sfTime(r.SystemModstamp);
    if (!m.key || !stamp || !m.id) return null;
    return {
        ...m,
        id: id18(m.id) ?? m.id,
        contactId: id18(m.contactId),
        leadId: id18(m.leadId),
        systemModstamp: stamp
    };
}

/** The opt-out fields each person object has (describe, cached by the client). */
async function installedFields(
    client: OrgClient,
    object: PersonObject
): Promise<OptOutField[]> {
    const d = await client.describe(object);
    const names = new Set((d?.fields ?? []).map((f) => f.name.toLowerCase()));
    return OPT_OUT_FIELDS.filter((f) => names.has(f.toLowerCase()));
}

function fullReason(
    object: MirroredObject,
    state: MirrorState | undefined,
    fields: readonly string[],
    options: RefreshMirrorOptions,
    now: Date
): ObjectRefresh['reason'] | undefined {
    const full = options.full;
    if (full === true || (Array.isArray(full) && full.includes(object)))
        return 'asked';
    if (!state || state.watermark === null || state.fullAt === null)
        return 'first';
    if ([...fields].sort().join(',') !== [...state.fields].sort().join(','))
        return 'fields changed';
    const age = now.getTime() - Date.parse(state.fullAt);
    if (age > (options.fullAfterMs ?? DEFAULT_FULL_AFTER_MS)) return 'periodic';
    return undefined;
}

/** Refreshes the mirror of each object in turn; see the file comment. */
export async function refreshMirror(
    client: OrgClient,
    ledger: Ledger,
    options: RefreshMirrorOptions = {}
): Promise<MirrorRefreshResult> {
    const objects = options.objects ?? MIRROR_OBJECTS;
    const now = options.now ?? (() => new Date());
    const lookbackMs = options.lookbackMs ?? DEFAULT_LOOKBACK_MS;
    if (!(lookbackMs >= 0))
        throw new Error(`lookbackMs must be 0 or more, not ${lookbackMs}`);
    // Each object's read planned first (its fields, state, full or incremental), so
    // that the first pages of all of them come in one Composite request
    // (OrgClient.readAhead); each read then takes its own and continues, the next
    // pages of the others coming with its own while they have more.
    const startAll = client.apiRequests;
    const plans: {
        object: MirroredObject;
        fields: OptOutField[];
        stateFields: string[];
        state: MirrorState | undefined;
        reason: ObjectRefresh['reason'] | undefined;
    }[] = [];
    for (const object of objects) {
        const fields: OptOutField[] =
            object === SOBJECT.AUDIENCE_MEMBERSHIP
                ? []
                : options.fields
                  ? [...new Set(options.fields)]
                  : await installedFields(client, object);
        const stateFields: string[] =
            object === SOBJECT.AUDIENCE_MEMBERSHIP
                ? []
                : [...new Set(['HasOptedOutOfEmail', ...fields])];
        const state = await ledger.mirrorState(object);
        const reason = fullReason(object, state, stateFields, options, now());
        plans.push({ object, fields, stateFields, state, reason });
    }
    await client.readAhead({
        queries: plans.map((p) =>
            p.reason
                ? { soql: fullSoql(p.object, p.fields) }
                : {
                      soql: incrementalSoql(
                          p.object,
                          p.fields,
                          (p.state as MirrorState).watermark as string,
                          lookbackMs
                      ),
                      all: true
                  }
        )
    });
    const out: ObjectRefresh[] = [];
    for (const [i, p] of plans.entries()) {
        // The describes and the shared Composite request count with the first object.
        const startRequests = i === 0 ? startAll : client.apiRequests;
        const result = p.reason
            ? await fullRead(client, ledger, p.object, {
                  fields: p.fields,
                  stateFields: p.stateFields,
                  reason: p.reason,
                  state: p.state,
                  now,
                  onProgress: options.onProgress
              })
            : await incrementalRead(client, ledger, p.object, {
                  fields: p.fields,
                  stateFields: p.stateFields,
                  state: p.state as MirrorState,
                  lookbackMs,
                  onProgress: options.onProgress
              });
        result.requests = client.apiRequests - startRequests;
        out.push(result);
    }
    return {
        objects: out,
        read: out.reduce((n, o) => n + o.read, 0),
        upserted: out.reduce((n, o) => n + o.upserted, 0),
        deleted: out.reduce((n, o) => n + o.deleted, 0),
        requests: out.reduce((n, o) => n + o.requests, 0)
    };
}

interface ReadSettings {
    fields: OptOutField[];
    stateFields: string[];
    onProgress?: Progress;
}

/** A page as read → rows to store and ids to forget; and its highest stamp. */
function splitPage(
    object: MirroredObject,
    rows: readonly SObjectRow[],
    fields: readonly OptOutField[]
): {
    records: MirrorRecord[];
    memberships: MirrorMembership[];
    deleted: MirrorDeletion[];
    maxStamp: string | null;
} {
    const records: MirrorRecord[] = [];
    const memberships: MirrorMembership[] = [];
    const deleted: MirrorDeletion[] = [];
    let maxStamp: string | null = null;
    for (const r of rows) {
        const stamp = sfTime(r.SystemModstamp);
        if (stamp && (maxStamp === null || stamp > maxStamp)) maxStamp = stamp;
        const id = id18(typeof r.Id === 'string' ? r.Id : null);
        if (!id || !stamp) continue;
        if (isTrue(r.IsDeleted)) {
            deleted.push({ id, systemModstamp: stamp });
            continue;
        }
        if (object === SOBJECT.AUDIENCE_MEMBERSHIP) {
            const m = toMirrorMembership(r);
            // A row without a key cannot be found by key: forget any old copy.
            if (m) memberships.push(m);
            else deleted.push({ id, systemModstamp: stamp });
        } else {
            const rec = toMirrorRecord(object, r, fields);
            if (rec) records.push(rec);
        }
    }
    return { records, memberships, deleted, maxStamp };
}

const later = (a: string | null, b: string | null): string | null =>
    a === null ? b : b === null ? a : a > b ? a : b;

async function fullRead(
    client: OrgClient,
    ledger: Ledger,
    object: MirroredObject,
    s: ReadSettings & {
        reason: NonNullable<ObjectRefresh['reason']>;
        state: MirrorState | undefined;
        now: () => Date;
    }
): Promise<ObjectRefresh> {
    const token = randomUUID();
    const soql = fullSoql(object, s.fields);
    let api: ObjectRefresh['api'] = 'none';
    let read = 0;
    let upserted = 0;
    let maxStamp: string | null = null;
    let servedAt: string | null = null;
    for await (const rows of client.scan(soql, {
        booleanFields: booleanFields(object),
        onMode: (mode) => {
            api = mode;
        }
    })) {
        servedAt ??= client.lastServerTime;
        const page = splitPage(object, rows, s.fields);
        maxStamp = later(maxStamp, page.maxStamp);
        // A full read (query, not queryAll) has no deleted rows; a keyless
        // membership's old copy, if any, goes with the sweep.
        const done = await ledger.mirrorApplyPage(object, {
            records: page.records,
            memberships: page.memberships,
            fullSeen: token
        });
        read += rows.length;
        upserted += done.upserted;
        s.onProgress?.({ phase: `mirror ${object} (full)`, done: read });
    }
    const watermark = later(maxStamp, servedAt) ?? EMPTY_WATERMARK;
    // Rows stamped after the read's highest stamp were stored by another refresh
    // meanwhile (its snapshot is later): kept.
    const deleted = await ledger.mirrorSweep(
        object,
        token,
        {
            watermark,
            fullAt: s.now().toISOString(),
            fields: s.stateFields
        },
        maxStamp
    );
    return {
        object,
        mode: 'full',
        reason: s.reason,
        read,
        upserted,
        deleted,
        requests: 0,
        api,
        watermarkBefore: s.state?.watermark ?? null,
        watermark
    };
}

async function incrementalRead(
    client: OrgClient,
    ledger: Ledger,
    object: MirroredObject,
    s: ReadSettings & { state: MirrorState; lookbackMs: number }
): Promise<ObjectRefresh> {
    const before = s.state.watermark as string;
    const since = sinceLiteral(before, s.lookbackMs);
    const soql = incrementalSoql(object, s.fields, before, s.lookbackMs);
    let api: ObjectRefresh['api'] = 'none';
    let read = 0;
    let upserted = 0;
    let deleted = 0;
    let watermark: string | null = before;
    let servedAt: string | null = null;
    // Pages are stored as they come; the last one is held back to be stored with the
    // new watermark, in one transaction.
    let held: ReturnType<typeof splitPage> | undefined;
    const store = async (
        page: ReturnType<typeof splitPage>,
        withState: boolean
    ): Promise<void> => {
        const done = await ledger.mirrorApplyPage(object, {
            records: page.records,
            memberships: page.memberships,
            deleted: page.deleted,
            ...(withState
                ? { state: { watermark, fields: s.stateFields } }
                : {})
        });
        upserted += done.upserted;
        deleted += done.deleted;
    };
    for await (const rows of client.scan(soql, {
        all: true,
        booleanFields: booleanFields(object),
        onMode: (mode) => {
            api = mode;
        }
    })) {
        if (held) await store(held, false);
        if (servedAt === null) {
            servedAt = client.lastServerTime;
            watermark = later(watermark, servedAt);
        }
        held = splitPage(object, rows, s.fields);
        watermark = later(watermark, held.maxStamp);
        read += rows.length;
        s.onProgress?.({ phase: `mirror ${object}`, done: read });
    }
    await store(
        held ?? {
            records: [],
            memberships: [],
            deleted: [],
            maxStamp: null
        },
        true
    );
    return {
        object,
        mode: 'incremental',
        read,
        upserted,
        deleted,
        requests: 0,
        api,
        watermarkBefore: before,
        watermark,
        since
    };
}

function booleanFields(object: MirroredObject): string[] {
    return object === SOBJECT.AUDIENCE_MEMBERSHIP
        ? [AM.Pending_Push__c, 'IsDeleted']
        : [...OPT_OUT_FIELDS, LEAD.IsConverted, 'IsDeleted'];
}
