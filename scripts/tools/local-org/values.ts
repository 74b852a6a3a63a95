/**
 * Field values between the wire (JSON from REST, text from Bulk CSV) and SQLite columns,
 * with the per-type checks and error messages Salesforce gives on write.
 */
import type { FieldDef } from './schema';
import { normalizeId } from '../../model/ids';

/** One per-record error, as sObject Collections and Bulk results report it. */
export interface RecordError {
    statusCode: string;
    message: string;
    fields: string[];
}

export class RecordFailure extends Error {
    constructor(readonly error: RecordError) {
        super(error.message);
    }
}

export function recordError(
    statusCode: string,
    message: string,
    fields: string[] = []
): RecordFailure {
    return new RecordFailure({ statusCode, message, fields });
}

const DATETIME_RE =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A date-time as Salesforce keeps it: whole seconds, the milliseconds dropped (not
 * rounded). "Regular dateTime fields are full timestamps with a precision of one second"
 * (SOAP API Developer Guide, Primitive Data Types,
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/primitive_data_types.htm);
 * "the millisecond value is simply zeroed out without any rounding"
 * (http://frombelvideres4thfloor.blogspot.com/2011/12/last-modified-date-rounding-to-whole.html).
 * SOQL comparisons ignore a literal's milliseconds the same way
 * (https://salesforce.stackexchange.com/questions/234824).
 */
export function toWholeSecond(ms: number): number {
    return Math.floor(ms / 1000) * 1000;
}

/** Epoch milliseconds of an ISO-8601 date-time (UTC when no offset), truncated to the second; null if invalid. */
export function parseDateTime(text: string): number | null {
    const m = DATETIME_RE.exec(text.trim());
    if (!m) return null;
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = m;
    const ms = Number(frac.padEnd(3, '0').slice(0, 3));
    let t = Date.UTC(
        Number(y),
        Number(mo) - 1,
        Number(d),
        Number(h),
        Number(mi),
        Number(s),
        ms
    );
    const check = new Date(t);
    if (
        check.getUTCFullYear() !== Number(y) ||
        check.getUTCMonth() !== Number(mo) - 1 ||
        check.getUTCDate() !== Number(d) ||
        Number(h) > 23 ||
        Number(mi) > 59 ||
        Number(s) > 59
    )
        return null;
    if (zone && zone !== 'Z') {
        const sign = zone[0] === '-' ? -1 : 1;
        const digits = zone.slice(1).replace(':', '');
        const offset =
            Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
        t -= sign * offset * 60_000;
    }
    return toWholeSecond(t);
}

/** A date (YYYY-MM-DD) from a date or date-time text; null if invalid. */
export function parseDate(text: string): string | null {
    const t = text.trim();
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
    if (m) {
        const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
        const d = new Date(ms);
        if (d.getUTCDate() !== Number(m[3])) return null;
        return t;
    }
    const dt = parseDateTime(t);
    return dt === null ? null : new Date(dt).toISOString().slice(0, 10);
}

/** Salesforce's REST date-time format: 2024-05-20T20:49:32.000+0000 (always .000). */
export function formatDateTimeJson(ms: number): string {
    return new Date(toWholeSecond(ms)).toISOString().replace('Z', '+0000');
}

/** Bulk API CSV date-time format: 2024-05-20T20:49:32.000Z (always .000). */
export function formatDateTimeCsv(ms: number): string {
    return new Date(toWholeSecond(ms)).toISOString();
}

// Practical address check (local@domain.tld); Salesforce's own is close to this.
const EMAIL_RE =
    /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

export function isValidEmail(value: string): boolean {
    return value.length <= 80 && EMAIL_RE.test(value) && !value.includes('..');
}

/** Where a value came from: JSON keeps types; CSV carries everything as text. */
export type ValueSource = 'json' | 'csv';

export type ColumnValue = string | number | null;

function typeError(
    field: FieldDef,
    raw: unknown,
    source: ValueSource,
    expected: string
): RecordFailure {
    if (source === 'json') {
        const kind =
            typeof raw === 'string'
                ? 'VALUE_STRING'
                : typeof raw === 'number'
                  ? 'VALUE_NUMBER_INT'
                  : typeof raw === 'boolean'
                    ? `VALUE_${String(raw).toUpperCase()}`
                    : 'START_OBJECT';
        return recordError(
            'JSON_PARSER_ERROR',
            `Cannot deserialize instance of ${expected} from ${kind} value ${String(
                typeof raw === 'object' ? JSON.stringify(raw) : raw
            )} or request may be missing a required field`,
            [field.name]
        );
    }
    return recordError(
        'INVALID_TYPE_ON_FIELD_IN_RECORD',
        `${field.label}: value not of required type: ${String(raw)}`,
        [field.name]
    );
}

/**
 * Converts one incoming value to its column value, checking type, length, email
 * format and restricted picklists. Reference existence is checked by the store.
 * Throws RecordFailure with Salesforce's status code and message.
 */
export function toColumn(
    field: FieldDef,
    raw: unknown,
    source: ValueSource
): ColumnValue {
    if (raw === null || raw === undefined) {
        return field.type === 'boolean' ? 0 : null;
    }
    switch (field.type) {
        case 'boolean': {
            if (typeof raw === 'boolean') return raw ? 1 : 0;
            if (typeof raw === 'string') {
                const t = raw.trim().toLowerCase();
                if (t === 'true' || (source === 'csv' && t === '1')) return 1;
                if (t === 'false' || (source === 'csv' && t === '0')) return 0;
            }
            throw typeError(field, raw, source, 'boolean');
        }
        case 'datetime': {
            if (typeof raw !== 'string')
                throw typeError(field, raw, source, 'datetime');
            if (raw.trim() === '') return null;
            const t = parseDateTime(raw);
            if (t === null) throw typeError(field, raw, source, 'datetime');
            return t;
        }
        case 'date': {
            if (typeof raw !== 'string')
                throw typeError(field, raw, source, 'date');
            if (raw.trim() === '') return null;
            const d = parseDate(raw);
            if (d === null) throw typeError(field, raw, source, 'date');
            return d;
        }
        case 'double':
        case 'currency':
        case 'percent':
        case 'int': {
            let n: number;
            if (typeof raw === 'number') n = raw;
            else if (typeof raw === 'string' && raw.trim() !== '')
                n = Number(raw.trim());
            else if (typeof raw === 'string') return null;
            else throw typeError(field, raw, source, 'double');
            if (!Number.isFinite(n))
                throw typeError(
                    field,
                    raw,
                    source,
                    field.type === 'int' ? 'int' : 'double'
                );
            if (field.type === 'int' && !Number.isInteger(n))
                throw typeError(field, raw, source, 'int');
            if (field.precision !== undefined && field.scale !== undefined) {
                const intDigits = Math.trunc(Math.abs(n)).toString().length;
                if (
                    Math.trunc(Math.abs(n)) !== 0 &&
                    intDigits > field.precision - field.scale
                ) {
                    throw recordError(
                        'NUMBER_OUTSIDE_VALID_RANGE',
                        `${field.label}: value outside of valid range on numeric field: ${n}`,
                        [field.name]
                    );
                }
                const factor = 10 ** field.scale;
                n = Math.round(n * factor) / factor;
            }
            return n;
        }
        default:
            break;
    }
    // Text-like types.
    let text: string;
    if (typeof raw === 'string') text = raw;
    else if (typeof raw === 'number' || typeof raw === 'boolean')
        text = String(raw);
    else throw typeError(field, raw, source, 'String');
    if (text === '') return null;
    if (field.type === 'id' || field.type === 'reference') {
        const check = normalizeId(text);
        if (!check.ok) {
            throw recordError(
                'MALFORMED_ID',
                `${field.label}: id value of incorrect type: ${text}`,
                [field.name]
            );
        }
        return check.id;
    }
    if (field.length !== undefined && text.length > field.length) {
        throw recordError(
            'STRING_TOO_LONG',
            `${field.label}: data value too large: ${text} (max length=${field.length})`,
            [field.name]
        );
    }
    if (field.type === 'email' && !isValidEmail(text)) {
        throw recordError(
            'INVALID_EMAIL_ADDRESS',
            `${field.label}: invalid email address: ${text}`,
            [field.name]
        );
    }
    if (
        (field.type === 'picklist' || field.type === 'multipicklist') &&
        field.restrictedPicklist
    ) {
        const allowed = new Set(
            (field.picklistValues ?? [])
                .filter((v) => v.active)
                .map((v) => v.value)
        );
        const parts = field.type === 'multipicklist' ? text.split(';') : [text];
        for (const part of parts) {
            if (!allowed.has(part)) {
                throw recordError(
                    'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
                    `${field.label}: bad value for restricted picklist field: ${part}`,
                    [field.name]
                );
            }
        }
    }
    return text;
}

/** A column value as the REST API returns it in JSON. */
export function toJson(field: FieldDef, value: unknown): unknown {
    if (value === null || value === undefined) {
        return field.type === 'boolean' ? false : null;
    }
    switch (field.type) {
        case 'boolean':
            return value === 1 || value === true;
        case 'datetime':
            return formatDateTimeJson(Number(value));
        case 'int':
            return Number(value);
        case 'double':
        case 'currency':
        case 'percent':
            return Number(value);
        default:
            return value;
    }
}

/** A column value as Bulk API CSV text (null → empty). */
export function toCsvText(field: FieldDef, value: unknown): string {
    if (value === null || value === undefined) {
        return field.type === 'boolean' ? 'false' : '';
    }
    switch (field.type) {
        case 'boolean':
            return value === 1 || value === true ? 'true' : 'false';
        case 'datetime':
            return formatDateTimeCsv(Number(value));
        default:
            return String(value);
    }
}

/** Quotes one CSV value (Bulk API 2.0 quotes every value). */
export function csvQuote(text: string): string {
    return `"${text.replace(/"/g, '""')}"`;
}

/**
 * What an upsert matches a row's external id on, as the field compares text: exactly
 * for a case-sensitive field, case-folded otherwise (a unique field without
 * `caseSensitive` is "Unique, case-insensitive"). Null when the row has no usable value:
 * that row then fails on its own (MISSING_ARGUMENT, bad type…).
 */
export function externalIdKey(
    field: FieldDef,
    raw: unknown,
    source: ValueSource
): string | null {
    if (raw === undefined || raw === null || raw === '') return null;
    let value: ColumnValue;
    try {
        value = toColumn(field, raw, source);
    } catch (err) {
        if (err instanceof RecordFailure) return null;
        throw err;
    }
    if (value === null) return null;
    const text = String(value);
    return field.caseSensitive ? text : text.toLowerCase();
}

/** The keys that occur more than once in one request or job. */
export function repeatedKeys(keys: Iterable<string | null>): Set<string> {
    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const k of keys) {
        if (k === null) continue;
        if (seen.has(k)) repeated.add(k);
        else seen.add(k);
    }
    return repeated;
}

/**
 * The error of every row whose external id value occurs more than once in one upsert:
 * Salesforce neither inserts nor updates any of them ("If the key is matched multiple
 * times, then an error is generated and the object record is neither inserted or
 * updated"; text as in https://salesforce.stackexchange.com/questions/104048:
 * "DUPLICATE_VALUE, Duplicate external id specified: ABC123: [Name]").
 */
export function duplicateExternalIdError(
    field: FieldDef,
    raw: unknown
): RecordFailure {
    return recordError(
        'DUPLICATE_VALUE',
        `Duplicate external id specified: ${String(raw)}`,
        [field.name]
    );
}
