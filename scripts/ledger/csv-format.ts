/**
 * The two import formats and how one CSV row becomes an ImportRecord (or the list of
 * what is wrong with it):
 *
 * - optout's own: `email,salesforce_id,audience_id,audience_name,status,changed_at`
 *   (+ optional `reason`); names case-insensitive, any order; salesforce_id,
 *   audience_name, changed_at and reason optional.
 * - Mailchimp's audience export (Audience → Export): one CSV per status —
 *   subscribed, unsubscribed (adds UNSUB_TIME, UNSUB_CAMPAIGN_TITLE, UNSUB_CAMPAIGN_ID,
 *   UNSUB_REASON, UNSUB_REASON_OTHER) and cleaned (adds CLEAN_TIME,
 *   CLEAN_CAMPAIGN_TITLE, CLEAN_CAMPAIGN_ID) — with "Email Address", the audience's
 *   merge fields, then MEMBER_RATING, OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP,
 *   LATITUDE, LONGITUDE, GMTOFF, DSTOFF, TIMEZONE, CC, REGION, LAST_CHANGED, LEID,
 *   EUID, NOTES, TAGS. The file does not name its audience (given on the command
 *   line); times are `YYYY-MM-DD HH:MM:SS` in UTC.
 */
import { OptoutError } from '../model/errors';
import {
    checkAudienceId,
    checkAudienceName,
    checkEmail,
    checkPersonId,
    cleanReason,
    parseIsoTime,
    parseStatus,
    type MembershipStatus
} from '../model/statuses';
import type { ImportRecord } from './ledger';

export type ImportFormat = 'csv' | 'mailchimp';
export type MailchimpKind = 'subscribed' | 'unsubscribed' | 'cleaned';

export const CSV_COLUMNS = [
    'email',
    'salesforce_id',
    'audience_id',
    'audience_name',
    'status',
    'changed_at',
    'reason'
] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];
const REQUIRED_COLUMNS: CsvColumn[] = ['email', 'audience_id', 'status'];

export const HEADER_HELP =
    'The header is email,salesforce_id,audience_id,audience_name,status,changed_at ' +
    '(any order and case; salesforce_id, audience_name, changed_at and an optional reason column may be left out)';

/** Header cell → comparable name: "Salesforce ID" → salesforce_id. */
export function headerKey(cell: string): string {
    return cell
        .trim()
        .toLowerCase()
        .replace(/[\s-]+/g, '_');
}

const MAILCHIMP_MARKERS = [
    'member_rating',
    'optin_time',
    'confirm_time',
    'last_changed',
    'leid',
    'euid'
];

/** Whether a header is a Mailchimp export, and of which status file. */
export function detectMailchimp(
    header: readonly string[]
): MailchimpKind | null {
    const keys = new Set(header.map(headerKey));
    if (!keys.has('email_address')) return null;
    if (!MAILCHIMP_MARKERS.some((m) => keys.has(m))) return null;
    if (keys.has('unsub_time')) return 'unsubscribed';
    if (keys.has('clean_time')) return 'cleaned';
    return 'subscribed';
}

export interface RowContext {
    /** The import's start: default changed_at, and the limit for future times. */
    now: Date;
}

/** Turns data rows of one header into records; built once per file. */
export interface RowMapper {
    format: ImportFormat;
    mailchimpKind: MailchimpKind | null;
    columns: number;
    map(
        cells: readonly string[],
        line: number
    ): { record: ImportRecord } | { problems: string[] };
}

/** Times up to this far ahead of the import's clock are accepted (clock skew). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

function checkTime(
    raw: string,
    ctx: RowContext,
    column: string,
    problems: string[]
): string {
    if (raw.trim() === '') return ctx.now.toISOString();
    const t = parseIsoTime(raw);
    if (!t.ok) {
        problems.push(`${column}: ${t.reason}`);
        return '';
    }
    if (Date.parse(t.value) > ctx.now.getTime() + FUTURE_TOLERANCE_MS) {
        problems.push(`${column}: time '${raw.trim()}' is in the future`);
    }
    return t.value;
}

function headerError(problems: string[], help: string): OptoutError {
    return new OptoutError(
        'BAD_HEADER',
        `The CSV header is not usable: ${problems.join('; ')}.`,
        {
            actions: [help]
        }
    );
}

/** Mapper for optout's own format; throws BAD_HEADER listing every header problem. */
export function csvMapper(
    header: readonly string[],
    ctx: RowContext
): RowMapper {
    const index = new Map<CsvColumn, number>();
    const problems: string[] = [];
    const unknown: string[] = [];
    header.forEach((cell, i) => {
        const key = headerKey(cell);
        if (key === '') {
            problems.push(`column ${i + 1} has no name`);
        } else if (!(CSV_COLUMNS as readonly string[]).includes(key)) {
            unknown.push(cell.trim());
        } else if (index.has(key as CsvColumn)) {
            problems.push(`column '${cell.trim()}' appears twice`);
        } else {
            index.set(key as CsvColumn, i);
        }
    });
    if (header.some((c) => c.includes('@')))
        problems.unshift('the first line looks like data, not a header');
    if (unknown.length)
        problems.push(
            `unknown column(s) ${unknown.map((u) => `'${u}'`).join(', ')}`
        );
    const missing = REQUIRED_COLUMNS.filter((c) => !index.has(c));
    if (missing.length)
        problems.push(`missing column(s) ${missing.join(', ')}`);
    if (problems.length) throw headerError(problems, HEADER_HELP);

    const cell = (cells: readonly string[], c: CsvColumn): string => {
        const i = index.get(c);
        return i === undefined ? '' : (cells[i] ?? '');
    };
    return {
        format: 'csv',
        mailchimpKind: null,
        columns: header.length,
        map(cells) {
            const rowProblems: string[] = [];
            if (cells.length !== header.length)
                rowProblems.push(
                    `has ${cells.length} fields; the header has ${header.length}`
                );
            const email = checkEmail(cell(cells, 'email'));
            if (!email.ok) rowProblems.push(email.reason);
            let salesforceId: string | null = null;
            const rawId = cell(cells, 'salesforce_id').trim();
            if (rawId !== '') {
                const id = checkPersonId(rawId);
                if (id.ok) salesforceId = id.value.id;
                else rowProblems.push(id.reason);
            }
            const audience = checkAudienceId(cell(cells, 'audience_id'));
            if (!audience.ok) rowProblems.push(audience.reason);
            let audienceName: string | null = null;
            if (cell(cells, 'audience_name').trim() !== '') {
                const name = checkAudienceName(cell(cells, 'audience_name'));
                if (name.ok) audienceName = name.value;
                else rowProblems.push(name.reason);
            }
            let status: MembershipStatus | null = null;
            const rawStatus = cell(cells, 'status');
            if (rawStatus.trim() === '') rowProblems.push('status is empty');
            else {
                const s = parseStatus(rawStatus);
                if (s.ok) status = s.value;
                else rowProblems.push(s.reason);
            }
            const changedAt = checkTime(
                cell(cells, 'changed_at'),
                ctx,
                'changed_at',
                rowProblems
            );
            if (rowProblems.length || !email.ok || !audience.ok || !status)
                return { problems: rowProblems };
            return {
                record: {
                    email: email.value.email,
                    salesforceId,
                    audienceId: audience.value,
                    audienceName,
                    status,
                    changedAt,
                    reason: cleanReason(cell(cells, 'reason'))
                }
            };
        }
    };
}

const MAILCHIMP_STATUS: Record<MailchimpKind, MembershipStatus> = {
    subscribed: 'Subscribed',
    unsubscribed: 'Unsubscribed',
    cleaned: 'Cleaned'
};

/** Mapper for a Mailchimp export of one audience. */
export function mailchimpMapper(
    header: readonly string[],
    kind: MailchimpKind,
    audience: { id: string; name: string | null },
    ctx: RowContext
): RowMapper {
    const index = new Map<string, number>();
    header.forEach((cell, i) => {
        const key = headerKey(cell);
        if (key !== '' && !index.has(key)) index.set(key, i);
    });
    const get = (cells: readonly string[], key: string): string => {
        const i = index.get(key);
        return i === undefined ? '' : (cells[i] ?? '').trim();
    };
    // The status's own time first; LAST_CHANGED etc. when it is empty.
    const timeColumns = [
        ...(kind === 'unsubscribed'
            ? ['unsub_time']
            : kind === 'cleaned'
              ? ['clean_time']
              : []),
        'last_changed',
        'confirm_time',
        'optin_time'
    ];
    return {
        format: 'mailchimp',
        mailchimpKind: kind,
        columns: header.length,
        map(cells) {
            const problems: string[] = [];
            if (cells.length !== header.length)
                problems.push(
                    `has ${cells.length} fields; the header has ${header.length}`
                );
            const email = checkEmail(get(cells, 'email_address'));
            if (!email.ok) problems.push(email.reason);
            const timeColumn = timeColumns.find((c) => get(cells, c) !== '');
            const changedAt = timeColumn
                ? checkTime(
                      get(cells, timeColumn),
                      ctx,
                      timeColumn.toUpperCase(),
                      problems
                  )
                : ctx.now.toISOString();
            let reason: string | null = null;
            if (kind === 'unsubscribed') {
                reason = cleanReason(
                    get(cells, 'unsub_reason_other') ||
                        get(cells, 'unsub_reason')
                );
                const campaign = get(cells, 'unsub_campaign_title');
                if (!reason && campaign)
                    reason = cleanReason(
                        `Unsubscribed from campaign: ${campaign}`
                    );
            } else if (kind === 'cleaned') {
                const campaign = get(cells, 'clean_campaign_title');
                reason = cleanReason(
                    campaign
                        ? `Cleaned after campaign: ${campaign}`
                        : 'Cleaned (bounced)'
                );
            }
            if (problems.length || !email.ok) return { problems };
            return {
                record: {
                    email: email.value.email,
                    salesforceId: null,
                    audienceId: audience.id,
                    audienceName: audience.name,
                    status: MAILCHIMP_STATUS[kind],
                    changedAt,
                    reason
                }
            };
        }
    };
}
