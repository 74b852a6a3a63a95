/**
 * What to write — small pure functions the jobs share, one per rule, unit tested on
 * their own. No I/O: the jobs feed them ledger rows and Salesforce records.
 */
import type { MirrorMembership } from '../ledger/mirror';
import { normalizeId } from '../model/ids';
import {
    AUDIENCE_MEMBERSHIP as AM,
    type AudienceMembershipStatus,
    type OptOutField
} from '../model/schema';
import {
    SOURCE_PICKLIST,
    checkAudienceId,
    checkEmail,
    cleanReason,
    parseIsoTime,
    parseStatus,
    sourceFromPicklist,
    type LedgerSource,
    type MembershipStatus,
    type PersonObject
} from '../model/statuses';

/** A Contact or Lead as the sync sees it. */
export interface SfRecord {
    /** 18 characters. */
    id: string;
    object: PersonObject;
    emailNorm: string | null;
    /** Values of the opt-out fields that were read (absent: not read). */
    optOut: Partial<Record<OptOutField, boolean>>;
    isConverted: boolean;
    convertedContactId: string | null;
}

/** A ledger person, as far as matching needs it. */
export interface PersonRef {
    emailNorm: string;
    salesforceId: string | null;
}

/** A record a person's change goes to, and how it was found. */
export interface Target {
    id: string;
    object: PersonObject;
    /** The record as read; null when only its id is known (a converted lead's Contact). */
    record: SfRecord | null;
    via: 'id' | 'email' | 'converted';
}

export type TargetResult =
    { targets: Target[]; skip?: undefined } | { targets: []; skip: SkipReason };

export type SkipReason =
    | 'no_matching_record'
    | 'converted_lead_without_contact'
    | 'no_email'
    | 'converted_lead'
    | 'pending_in_salesforce'
    | 'bad_row';

/** `lower(trim(email))`, or null for a blank one. */
export function emailKey(email: string | null | undefined): string | null {
    const e = (email ?? '').trim().toLowerCase();
    return e === '' ? null : e;
}

/** The 18-character form of a Salesforce id, or null when it is not one. */
export function id18(raw: string | null | undefined): string | null {
    if (!raw) return null;
    const check = normalizeId(raw);
    return check.ok ? check.id : null;
}

/**
 * R6/R8/R9: the records a person's unsubscribe or membership goes to — the record of
 * its Salesforce id plus, when Apply_To_Same_Email__c is on, every Contact and Lead with
 * the same email; a converted Lead is replaced by its converted Contact. A person matched
 * to nothing is skipped (and counted by the caller).
 */
export function resolveTargets(
    person: PersonRef,
    candidates: readonly SfRecord[],
    options: {
        applyToSameEmail: boolean;
        /** Finds a record by id (the converted Contact of a converted Lead). */
        lookup?: (id: string) => SfRecord | undefined;
    }
): TargetResult {
    const wantedId = id18(person.salesforceId);
    const out = new Map<string, Target>();
    let convertedWithoutContact = false;
    for (const rec of candidates) {
        const byId = wantedId !== null && rec.id === wantedId;
        const byEmail =
            options.applyToSameEmail &&
            rec.emailNorm !== null &&
            rec.emailNorm === person.emailNorm;
        if (!byId && !byEmail) continue;
        if (rec.object === 'Lead' && rec.isConverted) {
            // R9: a converted Lead cannot be updated; its Contact carries the state.
            const contactId = id18(rec.convertedContactId);
            if (!contactId) {
                convertedWithoutContact = true;
                continue;
            }
            if (!out.has(contactId)) {
                const contact = options.lookup?.(contactId) ?? null;
                out.set(contactId, {
                    id: contactId,
                    object: 'Contact',
                    record: contact,
                    via: 'converted'
                });
            }
            continue;
        }
        const existing = out.get(rec.id);
        if (!existing || existing.record === null)
            out.set(rec.id, {
                id: rec.id,
                object: rec.object,
                record: rec,
                via: byId ? 'id' : 'email'
            });
    }
    if (out.size === 0)
        return {
            targets: [],
            skip: convertedWithoutContact
                ? 'converted_lead_without_contact'
                : 'no_matching_record'
        };
    return { targets: [...out.values()] };
}

/**
 * R1/R4/R11 for one global unsubscribe: records whose field is not yet true are
 * written (true, never false); records already true count as confirmed and are not
 * written. A record whose value was not read (a converted Lead's Contact) is written.
 */
export function optOutDecision(
    targets: readonly Target[],
    field: OptOutField
): { write: Target[]; alreadySet: Target[] } {
    const write: Target[] = [];
    const alreadySet: Target[] = [];
    for (const t of targets) {
        if (t.record?.optOut[field] === true) alreadySet.push(t);
        else write.push(t);
    }
    return { write, alreadySet };
}

/**
 * R5b: a person who belongs to at least one audience (Archived memberships ignored)
 * and is Unsubscribed from every one of them.
 */
export function allAudiencesUnsubscribed(
    statuses: readonly MembershipStatus[]
): boolean {
    const live = statuses.filter((s) => s !== 'Archived');
    return live.length > 0 && live.every((s) => s === 'Unsubscribed');
}

/** `Membership_Key__c`: `<audience id>:<18-character Contact or Lead id>`. */
export function membershipKey(audienceId: string, recordId: string): string {
    return `${audienceId}:${recordId}`;
}

/** The Audience_Membership__c fields the sync writes. */
export interface MembershipFields {
    [AM.Membership_Key__c]: string;
    [AM.Contact__c]: string | null;
    [AM.Lead__c]: string | null;
    [AM.Audience_Id__c]: string;
    [AM.Audience_Name__c]: string;
    [AM.Email__c]: string;
    [AM.Status__c]: AudienceMembershipStatus;
    [AM.Status_Changed_At__c]: string;
    [AM.Source__c]: string;
    [AM.Unsubscribe_Reason__c]: string | null;
}

export interface LedgerMembership {
    audienceId: string;
    audienceName: string;
    email: string;
    status: MembershipStatus;
    changedAt: string;
    source: LedgerSource;
    reason: string | null;
}

/** R5a: the row one ledger membership becomes on one record. */
export function desiredMembership(
    m: LedgerMembership,
    target: Pick<Target, 'id' | 'object'>
): MembershipFields {
    return {
        [AM.Membership_Key__c]: membershipKey(m.audienceId, target.id),
        [AM.Contact__c]: target.object === 'Contact' ? target.id : null,
        [AM.Lead__c]: target.object === 'Lead' ? target.id : null,
        [AM.Audience_Id__c]: m.audienceId,
        [AM.Audience_Name__c]: m.audienceName.slice(0, 255),
        [AM.Email__c]: m.email,
        [AM.Status__c]: m.status,
        // Sent as Salesforce will store it (to the second), so that what is read back
        // equals what was written (R11).
        [AM.Status_Changed_At__c]: toSecond(m.changedAt),
        [AM.Source__c]: SOURCE_PICKLIST[m.source],
        [AM.Unsubscribe_Reason__c]:
            m.status === 'Unsubscribed' ? cleanReason(m.reason) : null
    };
}

/** An existing Audience_Membership__c row, as read. */
/** An Audience_Membership__c row as read: the ledger's mirror row without its stamp. */
export type ExistingMembership = Omit<MirrorMembership, 'systemModstamp'>;

/**
 * Milliseconds since the epoch, cut to the whole second, or null for a value that is
 * not a time. Salesforce stores DateTime fields to the second ("Regular dateTime fields
 * are full timestamps with a precision of one second", SOAP API primitive data types:
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/primitive_data_types.htm),
 * so a ledger time with milliseconds reads back without them.
 */
export function epochSecond(raw: string | null | undefined): number | null {
    if (!raw) return null;
    const t = parseIsoTime(raw);
    if (!t.ok) return null;
    const ms = Date.parse(t.value);
    return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** An ISO time as Salesforce keeps it: cut to the second (`…T10:00:00.000Z`). */
export function toSecond(raw: string): string {
    const s = epochSecond(raw);
    return s === null ? raw : new Date(s * 1000).toISOString();
}

/** Two times equal at the precision Salesforce stores (R11 on a real org). */
export function sameInstant(a: string | null, b: string | null): boolean {
    if (!a || !b) return !a && !b;
    const x = epochSecond(a);
    const y = epochSecond(b);
    return x !== null && y !== null ? x === y : a === b;
}

function sameText(
    a: string | null | undefined,
    b: string | null | undefined
): boolean {
    return (a ?? '') === (b ?? '');
}

/**
 * R11 for memberships: write only when the row is missing or differs. A row changed
 * inside Salesforce and not yet taken by the hourly sync (Pending_Push__c) is left alone:
 * the next run takes that change first (R5c), so it is never overwritten unseen.
 */
export function membershipWrite(
    desired: MembershipFields,
    existing: ExistingMembership | undefined
): 'create' | 'update' | 'unchanged' | 'pending_in_salesforce' {
    if (!existing) return 'create';
    if (existing.pending && existing.status !== desired[AM.Status__c])
        return 'pending_in_salesforce';
    const same =
        sameText(existing.status, desired[AM.Status__c]) &&
        sameText(existing.audienceId, desired[AM.Audience_Id__c]) &&
        sameText(existing.audienceName, desired[AM.Audience_Name__c]) &&
        sameText(
            existing.email?.toLowerCase(),
            desired[AM.Email__c].toLowerCase()
        ) &&
        sameText(id18(existing.contactId), desired[AM.Contact__c]) &&
        sameText(id18(existing.leadId), desired[AM.Lead__c]) &&
        sameText(existing.source, desired[AM.Source__c]) &&
        sameText(existing.reason, desired[AM.Unsubscribe_Reason__c]) &&
        sameInstant(existing.changedAt, desired[AM.Status_Changed_At__c]);
    return same ? 'unchanged' : 'update';
}

/** What decides between two persons' rows for one Membership_Key__c (R13). */
export interface RowClaim {
    status: string;
    changedAt: string | null;
    /** The ledger person (null: unknown, loses ties). */
    personId: number | null;
}

/**
 * How strongly a status holds a shared row (R13, R4): an unsubscribe is never given
 * up for anything else; Cleaned (the address bounced) beats every live status. With
 * Unsubscribed above Cleaned, a person's audience unsubscribe always ends in a row
 * that says Unsubscribed, so it can be marked delivered when that row is written.
 */
function statusWeight(status: string): number {
    if (status === 'Unsubscribed') return 2;
    if (status === 'Cleaned') return 1;
    return 0;
}

/**
 * R13: whether claim `a` wins the shared row over `b` — the stronger status
 * (Unsubscribed, then Cleaned, then anything else), then the later change (to the
 * second, as Salesforce keeps it; a missing time is oldest), then the lower ledger
 * person id. False for two equal claims (the first one seen keeps the row).
 */
export function claimWins(a: RowClaim, b: RowClaim): boolean {
    const w = statusWeight(a.status) - statusWeight(b.status);
    if (w !== 0) return w > 0;
    const ta = epochSecond(a.changedAt) ?? -Infinity;
    const tb = epochSecond(b.changedAt) ?? -Infinity;
    if (ta !== tb) return ta > tb;
    const pa = a.personId ?? Infinity;
    const pb = b.personId ?? Infinity;
    return pa < pb;
}

/**
 * R13: the one item per key that is written (Salesforce refuses every row of a request
 * that carries an external id twice, DUPLICATE_VALUE). Keys are compared exactly, as
 * the case-sensitive Membership_Key__c does. Returns the winner of each key.
 */
export function oneRowPerKey<T>(
    items: readonly T[],
    keyOf: (item: T) => string,
    claimOf: (item: T) => RowClaim
): Map<string, T> {
    const winners = new Map<string, T>();
    for (const item of items) {
        const key = keyOf(item);
        const held = winners.get(key);
        if (held === undefined || claimWins(claimOf(item), claimOf(held)))
            winners.set(key, item);
    }
    return winners;
}

/** The claim a membership row stands for (R13). */
export function membershipClaim(
    fields: MembershipFields,
    personId: number | null
): RowClaim {
    return {
        status: fields[AM.Status__c],
        changedAt: fields[AM.Status_Changed_At__c],
        personId
    };
}

/** A pending row from Salesforce, as the ledger change it stands for (R5c). */
export type PendingChange =
    | {
          ok: true;
          email: string;
          /** The row's Contact or Lead (18 characters), if any. */
          salesforceId: string | null;
          audienceId: string;
          audienceName: string;
          status: MembershipStatus;
          changedAt: string | null;
          source: LedgerSource;
          reason: string | null;
      }
    | { ok: false; reason: string };

/**
 * R5c: an Audience_Membership__c row with Pending_Push__c checked → the ledger change:
 * its status, audience and person (by Email__c, else the email of its record given by
 * the caller), source Flow → flow, anything else → salesforce.
 */
export function pendingChange(
    row: ExistingMembership,
    recordEmail?: string | null
): PendingChange {
    const audience = checkAudienceId(row.audienceId ?? '');
    if (!audience.ok) return { ok: false, reason: audience.reason };
    const status = parseStatus(row.status ?? '');
    if (!status.ok) return { ok: false, reason: status.reason };
    const rawEmail = row.email || recordEmail || '';
    const email = checkEmail(rawEmail);
    if (!email.ok) return { ok: false, reason: email.reason };
    let changedAt: string | null = null;
    if (row.changedAt) {
        const t = parseIsoTime(row.changedAt);
        if (t.ok) changedAt = t.value;
    }
    return {
        ok: true,
        email: email.value.email,
        salesforceId: id18(row.contactId) ?? id18(row.leadId),
        audienceId: audience.value,
        audienceName: (row.audienceName ?? '').trim() || audience.value,
        status: status.value,
        changedAt,
        source: sourceFromPicklist(row.source),
        reason: cleanReason(row.reason)
    };
}

/**
 * The hourly cursor after a run (R5a, R11): everything up to the highest seq handled,
 * but never past a change whose write failed, so that it is taken again next time.
 */
export function nextCursor(
    current: number,
    handledMax: number,
    failedSeqs: readonly number[]
): number {
    const firstFailed = failedSeqs.reduce((a, b) => Math.min(a, b), Infinity);
    const next = Math.min(handledMax, firstFailed - 1);
    return Math.max(current, next);
}

/**
 * Back-off of an unsubscribe or membership whose person matches no Salesforce record
 * yet (R6): first retry after 50 minutes (so the next hourly run takes it), doubled per
 * attempt, at most a day apart — a record created later gets the opt-out within a day,
 * and a person who never appears costs a lookup a day, not one per push.
 */
export const WAITING_RETRY = { firstMs: 50 * 60_000, maxMs: 24 * 3_600_000 };

export function waitingRetryDelay(attempts: number): number {
    return Math.min(
        WAITING_RETRY.maxMs,
        WAITING_RETRY.firstMs * 2 ** Math.min(20, Math.max(0, attempts - 1))
    );
}
