/**
 * The vocabulary the ledger, the CSV import, the webhook and the sync share: membership
 * statuses (the `Status__c` picklist), where an unsubscribe came from (the ledger's
 * `source`, mapped to the `Source__c` picklist), and the parsers that turn user input
 * (CSV cells, command options, webhook fields) into these values or a reason why not.
 */
import { KEY_PREFIX, normalizeId } from './ids';

/** `Audience_Membership__c.Status__c` values; API names equal these words. */
export const MEMBERSHIP_STATUSES = [
    'Subscribed',
    'Unsubscribed',
    'Cleaned',
    'Pending',
    'Transactional',
    'Archived'
] as const;
export type MembershipStatus = (typeof MEMBERSHIP_STATUSES)[number];

/** Where a ledger change came from (lower case in the ledger). */
export const LEDGER_SOURCES = [
    'platform',
    'webhook',
    'salesforce',
    'flow',
    'import'
] as const;
export type LedgerSource = (typeof LEDGER_SOURCES)[number];

/** `Audience_Membership__c.Source__c` API names, one per ledger source. */
export const SOURCE_PICKLIST: Record<LedgerSource, string> = {
    platform: 'Platform',
    webhook: 'Webhook',
    salesforce: 'Salesforce',
    flow: 'Flow',
    import: 'Import'
};

/** An unsubscribe applies to one audience or to all email (global, R2). */
export const UNSUBSCRIBE_SCOPES = ['all', 'audience'] as const;
export type UnsubscribeScope = (typeof UNSUBSCRIBE_SCOPES)[number];

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

function pickCaseInsensitive<T extends string>(
    allowed: readonly T[],
    raw: string
): T | undefined {
    const wanted = raw.trim().toLowerCase();
    return allowed.find((v) => v.toLowerCase() === wanted);
}

/** A status in any case ("unsubscribed", " CLEANED ") → its picklist value. */
export function parseStatus(raw: string): Parsed<MembershipStatus> {
    const value = pickCaseInsensitive(MEMBERSHIP_STATUSES, raw);
    if (value) return { ok: true, value };
    return {
        ok: false,
        reason: `status '${raw}' is not one of ${MEMBERSHIP_STATUSES.join(', ')}`
    };
}

/** A ledger source in any case, or the ledger form of a `Source__c` picklist value. */
export function parseSource(raw: string): Parsed<LedgerSource> {
    const value = pickCaseInsensitive(LEDGER_SOURCES, raw);
    if (value) return { ok: true, value };
    return {
        ok: false,
        reason: `source '${raw}' is not one of ${LEDGER_SOURCES.join(', ')}`
    };
}

/** The ledger source for a `Source__c` picklist value (R5c: Flow → flow, else salesforce). */
export function sourceFromPicklist(
    picklist: string | null | undefined
): LedgerSource {
    const parsed = parseSource(picklist ?? '');
    return parsed.ok && parsed.value === 'flow' ? 'flow' : 'salesforce';
}

/** How the ledger compares emails: trimmed, lower case (SYNC-DESIGN: `email_norm`). */
export function normalizeEmail(raw: string): string {
    return raw.trim().toLowerCase();
}

// Practical address syntax (the WHATWG form-validation rule plus a dotted domain):
// what Salesforce's Email fields and the marketing platforms accept. Quoted local
// parts and IP-literal domains are deliberately not supported.
const EMAIL_LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export interface CheckedEmail {
    /** As given, trimmed (kept for display). */
    email: string;
    /** The comparison key (lower case). */
    norm: string;
}

/** Validates an email address; the reason names the first thing wrong with it. */
export function checkEmail(raw: string): Parsed<CheckedEmail> {
    const email = raw.trim();
    if (email === '') return { ok: false, reason: 'email is empty' };
    const fail = (why: string): Parsed<CheckedEmail> => ({
        ok: false,
        reason: `email '${raw}' ${why}`
    });
    if (email.length > 254) return fail('is longer than 254 characters');
    if (/\s/.test(email)) return fail('contains a space');
    const at = email.lastIndexOf('@');
    if (at < 0) return fail("has no '@'");
    const local = email.slice(0, at);
    const domain = email.slice(at + 1);
    if (local === '') return fail("has nothing before '@'");
    if (local.length > 64) return fail('has more than 64 characters before @');
    if (!EMAIL_LOCAL.test(local))
        return fail("has characters not allowed before '@'");
    if (local.startsWith('.') || local.endsWith('.') || local.includes('..'))
        return fail("has a misplaced '.' before '@'");
    if (domain === '') return fail("has nothing after '@'");
    const labels = domain.split('.');
    if (labels.length < 2) return fail(`has no '.' in the domain '${domain}'`);
    if (!labels.every((l) => DOMAIN_LABEL.test(l)))
        return fail(`has an invalid domain '${domain}'`);
    if (/^[0-9]+$/.test(labels[labels.length - 1]))
        return fail(`has an invalid domain '${domain}'`);
    return { ok: true, value: { email, norm: email.toLowerCase() } };
}

const ISO_TIME =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function badTime(raw: string, why: string): Parsed<string> {
    return { ok: false, reason: `time '${raw}' ${why}` };
}

/**
 * Parses an ISO-8601 date or date-time into the ledger's form, UTC with milliseconds
 * (`2024-05-20T20:49:32.000Z`). Accepted: `2024-05-20`, `2024-05-20T20:49`,
 * `2024-05-20T20:49:32.123+02:00`, `…Z`, `…+0000` (Salesforce's form) and a space
 * instead of `T` (Mailchimp exports). A time without an offset is read as UTC; a
 * date alone is midnight UTC. Impossible dates (`2024-02-30`) are rejected.
 */
export function parseIsoTime(raw: string): Parsed<string> {
    const m = ISO_TIME.exec(raw.trim());
    if (!m)
        return badTime(
            raw,
            'is not an ISO-8601 date or time (e.g. 2024-05-20 or 2024-05-20T20:49:32Z)'
        );
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    const hour = Number(m[4] ?? 0);
    const minute = Number(m[5] ?? 0);
    const second = Number(m[6] ?? 0);
    const zone = m[8] ?? 'Z';
    if (year < 1900) return badTime(raw, 'is out of range');
    if (month < 1 || month > 12) return badTime(raw, `has no month ${m[2]}`);
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    const days = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
    if (day < 1 || day > days)
        return badTime(raw, `has no day ${m[3]} in ${m[1]}-${m[2]}`);
    if (hour > 23 || minute > 59 || second > 59)
        return badTime(raw, 'has an impossible time of day');
    let offsetMinutes = 0;
    if (zone !== 'Z' && zone !== 'z') {
        const digits = zone.slice(1).replace(':', '');
        const oh = Number(digits.slice(0, 2));
        const om = Number(digits.slice(2) || '0');
        if (oh > 14 || om > 59)
            return badTime(raw, `has an impossible offset ${zone}`);
        offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
    }
    const ms = m[7] ? Number((m[7] + '00').slice(0, 3)) : 0;
    const utc =
        Date.UTC(year, month - 1, day, hour, minute, second, ms) -
        offsetMinutes * 60_000;
    return { ok: true, value: new Date(utc).toISOString() };
}

/** The Salesforce objects a ledger person can point at (R6). */
export type PersonObject = 'Contact' | 'Lead';

export interface PersonId {
    /** The 18-character id. */
    id: string;
    object: PersonObject;
}

/**
 * Validates the Salesforce id of a person (R6): 15 or 18 characters, letters and
 * digits, a correct checksum, and the prefix of a Contact (003) or a Lead (00Q).
 */
export function checkPersonId(raw: string): Parsed<PersonId> {
    const check = normalizeId(raw);
    if (!check.ok) return { ok: false, reason: check.reason };
    if (check.prefix === KEY_PREFIX.Contact)
        return { ok: true, value: { id: check.id, object: 'Contact' } };
    if (check.prefix === KEY_PREFIX.Lead)
        return { ok: true, value: { id: check.id, object: 'Lead' } };
    return {
        ok: false,
        reason: `Salesforce id '${raw.trim()}' starts with ${check.prefix}, which is neither a Contact (003) nor a Lead (00Q)`
    };
}

/** `Audience_Id__c` is Text(64); `Membership_Key__c` is `<audience id>:<record id>`. */
export function checkAudienceId(raw: string): Parsed<string> {
    const id = raw.trim();
    if (id === '') return { ok: false, reason: 'audience id is empty' };
    if (id.length > 64)
        return {
            ok: false,
            reason: `audience id '${id}' is longer than 64 characters`
        };
    if (!/^[\x21-\x7e]+$/.test(id))
        return {
            ok: false,
            reason: `audience id '${id}' must be printable ASCII without spaces`
        };
    return { ok: true, value: id };
}

/** `Audience_Name__c` is Text(255). */
export function checkAudienceName(raw: string): Parsed<string> {
    const name = raw.trim();
    if (name === '') return { ok: false, reason: 'audience name is empty' };
    if (name.length > 255)
        return {
            ok: false,
            reason: `audience name '${name.slice(0, 40)}…' is longer than 255 characters`
        };
    return { ok: true, value: name };
}

/** `Unsubscribe_Reason__c` is Text(255): longer reasons are cut, not refused. */
export function cleanReason(raw: string | null | undefined): string | null {
    const text = (raw ?? '').trim();
    if (text === '') return null;
    return text.length > 255 ? text.slice(0, 255) : text;
}
