/**
 * Mailchimp Marketing API 3.0 wire format: problem documents, resource shapes, the
 * `fields` / `exclude_fields` projection, times, and the tar.gz of batch results.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { BatchRow, ListRow, MemberRow, WebhookRow } from './store';

/** Success bodies; Mailchimp sends `application/json; charset=utf-8`. */
export const JSON_TYPE = 'application/json; charset=utf-8';
/**
 * Errors are RFC 7807 problem documents, `application/problem+json; charset=utf-8`, with a
 * `Link: <…/schema/3.0/Definitions/ProblemDetailDocument.json>; rel="describedBy"` header
 * and `X-Request-Id` equal to `instance`, as recorded from the real API in
 * https://github.com/grouparoo/grouparoo/blob/main/plugins/@grouparoo/mailchimp/__tests__/fixtures/export-profile.js
 * Fields: https://mailchimp.com/developer/marketing/docs/errors/
 */
export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
export const ERROR_DOC =
    'https://mailchimp.com/developer/marketing/docs/errors/';

export interface FieldError {
    field: string;
    message: string;
}

/** An API error, answered as a problem document. */
export class Problem extends Error {
    constructor(
        readonly status: number,
        readonly title: string,
        readonly detail: string,
        readonly errors?: FieldError[],
        readonly headers?: Record<string, string>
    ) {
        super(`${status} ${title}: ${detail}`);
    }

    body(instance: string): Record<string, unknown> {
        return {
            type: ERROR_DOC,
            title: this.title,
            status: this.status,
            detail: this.detail,
            instance,
            ...(this.errors ? { errors: this.errors } : {})
        };
    }
}

export const notFound = (): Problem =>
    new Problem(
        404,
        'Resource Not Found',
        'The requested resource could not be found.'
    );

export const invalidResource = (errors: FieldError[]): Problem =>
    new Problem(
        400,
        'Invalid Resource',
        "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
        errors
    );

export function newInstance(): string {
    return randomUUID();
}

/** Seconds → Mailchimp's ISO 8601 with an explicit offset: "2019-08-24T14:15:22+00:00". */
export function isoTime(seconds: number | null): string {
    if (seconds === null) return '';
    return new Date(seconds * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, '+00:00');
}

/** Mailchimp's webhook `fired_at`: "2009-03-26 21:35:57" (UTC). */
export function firedAt(seconds: number): string {
    return new Date(seconds * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, '');
}

/** An ISO 8601 query value → whole seconds; undefined when absent, Problem when invalid. */
export function parseTimeParam(
    name: string,
    raw: string | null
): number | undefined {
    if (raw === null || raw === '') return undefined;
    const ms = Date.parse(raw);
    if (!Number.isFinite(ms)) {
        throw invalidResource([
            {
                field: name,
                message: 'Data presented is not a valid ISO 8601 date'
            }
        ]);
    }
    return Math.floor(ms / 1000);
}

export interface Links {
    base: string;
}

function link(
    rel: string,
    href: string,
    method: string
): Record<string, string> {
    return { rel, href, method };
}

export function listJson(
    list: ListRow,
    counts: Record<string, number>,
    l: Links
): Record<string, unknown> {
    const href = `${l.base}/lists/${list.id}`;
    return {
        id: list.id,
        web_id: list.web_id,
        name: list.name,
        contact: {
            company: 'Local Mailchimp',
            address1: '',
            city: '',
            state: '',
            zip: '',
            country: 'US'
        },
        permission_reminder: 'You signed up on our website.',
        use_archive_bar: true,
        campaign_defaults: {
            from_name: 'Local Mailchimp',
            from_email: 'local@example.com',
            subject: '',
            language: 'en'
        },
        notify_on_subscribe: '',
        notify_on_unsubscribe: '',
        date_created: isoTime(list.date_created),
        list_rating: 0,
        email_type_option: false,
        double_optin: false,
        visibility: 'prv',
        stats: {
            member_count: counts.subscribed ?? 0,
            unsubscribe_count: counts.unsubscribed ?? 0,
            cleaned_count: counts.cleaned ?? 0,
            member_count_since_send: counts.subscribed ?? 0,
            unsubscribe_count_since_send: counts.unsubscribed ?? 0,
            cleaned_count_since_send: counts.cleaned ?? 0,
            total_contacts: Object.values(counts).reduce((a, b) => a + b, 0)
        },
        _links: [
            link('self', href, 'GET'),
            link('members', `${href}/members`, 'GET'),
            link('webhooks', `${href}/webhooks`, 'GET')
        ]
    };
}

export function memberJson(m: MemberRow, l: Links): Record<string, unknown> {
    const href = `${l.base}/lists/${m.list_id}/members/${m.id}`;
    return {
        id: m.id,
        email_address: m.email_address,
        unique_email_id: m.unique_email_id,
        contact_id: m.contact_id,
        full_name: '',
        web_id: m.web_id,
        email_type: 'html',
        status: m.status,
        ...(m.status === 'unsubscribed'
            ? {
                  unsubscribe_reason:
                      m.unsubscribe_reason ?? 'N/A (Unsubscribed via API)'
              }
            : {}),
        consents_to_one_to_one_messaging: true,
        merge_fields: JSON.parse(m.merge_fields) as Record<string, unknown>,
        stats: { avg_open_rate: 0, avg_click_rate: 0 },
        ip_signup: '',
        timestamp_signup: isoTime(m.timestamp_signup),
        ip_opt: '',
        timestamp_opt: isoTime(m.timestamp_opt),
        member_rating: 2,
        last_changed: isoTime(m.last_changed),
        language: '',
        vip: false,
        email_client: '',
        location: {
            latitude: 0,
            longitude: 0,
            gmtoff: 0,
            dstoff: 0,
            country_code: '',
            timezone: ''
        },
        source: m.source,
        tags_count: 0,
        tags: [],
        list_id: m.list_id,
        _links: [
            link('self', href, 'GET'),
            link('update', href, 'PATCH'),
            link('upsert', href, 'PUT'),
            link('delete', href, 'DELETE')
        ]
    };
}

export function webhookJson(w: WebhookRow, l: Links): Record<string, unknown> {
    return {
        id: w.id,
        url: w.url,
        events: JSON.parse(w.events) as Record<string, boolean>,
        sources: JSON.parse(w.sources) as Record<string, boolean>,
        list_id: w.list_id,
        _links: [
            link('self', `${l.base}/lists/${w.list_id}/webhooks/${w.id}`, 'GET')
        ]
    };
}

export function batchJson(
    b: BatchRow,
    l: Links & { resultsBase: string }
): Record<string, unknown> {
    return {
        id: b.id,
        status: b.status,
        total_operations: b.total_operations,
        finished_operations: b.finished_operations,
        errored_operations: b.errored_operations,
        submitted_at: isoTime(b.submitted_at),
        completed_at: isoTime(b.completed_at),
        response_body_url:
            b.status === 'finished' ? `${l.resultsBase}/${b.id}.tar.gz` : '',
        _links: [link('self', `${l.base}/batches/${b.id}`, 'GET')]
    };
}

/**
 * `fields` / `exclude_fields`: comma-separated paths, dot notation into sub-objects and
 * arrays of objects (`members.email_address`), as documented for every GET
 * (https://mailchimp.com/developer/marketing/docs/methods-parameters/#partial-responses).
 */
export function project(
    body: unknown,
    fields: string | null,
    exclude: string | null
): unknown {
    let out = body;
    if (fields) out = keep(out, splitPaths(fields));
    if (exclude) out = drop(out, splitPaths(exclude));
    return out;
}

function splitPaths(text: string): string[][] {
    return text
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p !== '')
        .map((p) => p.split('.'));
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keep(value: unknown, paths: string[][]): unknown {
    if (Array.isArray(value)) return value.map((v) => keep(v, paths));
    if (!isRecord(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [head, ...rest] of paths) {
        if (!(head in value)) continue;
        if (rest.length === 0) {
            out[head] = value[head];
            continue;
        }
        const sub = keep(value[head], [rest]);
        const prev = out[head];
        out[head] = mergeKept(prev, sub);
    }
    return out;
}

function mergeKept(prev: unknown, next: unknown): unknown {
    if (prev === undefined) return next;
    if (Array.isArray(prev) && Array.isArray(next))
        return prev.map((p, i) => mergeKept(p, next[i]));
    if (isRecord(prev) && isRecord(next)) {
        const out: Record<string, unknown> = { ...prev };
        for (const [k, v] of Object.entries(next))
            out[k] = mergeKept(out[k], v);
        return out;
    }
    return next;
}

function drop(value: unknown, paths: string[][]): unknown {
    if (Array.isArray(value)) return value.map((v) => drop(v, paths));
    if (!isRecord(value)) return value;
    const out: Record<string, unknown> = { ...value };
    for (const [head, ...rest] of paths) {
        if (!(head in out)) continue;
        if (rest.length === 0) delete out[head];
        else out[head] = drop(out[head], [rest]);
    }
    return out;
}

/**
 * A gzipped ustar archive of the given files. Mailchimp's `response_body_url` serves a
 * .tar.gz of JSON files, each an array of {status_code, operation_id, response}
 * (https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/).
 */
export function tarGz(files: { name: string; content: Buffer }[]): Buffer {
    const blocks: Buffer[] = [];
    for (const f of files) {
        const header = Buffer.alloc(512, 0);
        const put = (text: string, offset: number, length: number): void => {
            header.write(text.slice(0, length), offset, 'ascii');
        };
        const octal = (n: number, length: number): string =>
            n.toString(8).padStart(length - 1, '0') + '\0';
        put(f.name, 0, 100);
        put(octal(0o644, 8), 100, 8);
        put(octal(0, 8), 108, 8);
        put(octal(0, 8), 116, 8);
        put(octal(f.content.length, 12), 124, 12);
        put(octal(0, 12), 136, 12);
        put('        ', 148, 8);
        put('0', 156, 1);
        put('ustar\0', 257, 6);
        put('00', 263, 2);
        let sum = 0;
        for (const b of header) sum += b;
        put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
        blocks.push(header, f.content);
        const pad = (512 - (f.content.length % 512)) % 512;
        if (pad) blocks.push(Buffer.alloc(pad, 0));
    }
    blocks.push(Buffer.alloc(1024, 0));
    return gzipSync(Buffer.concat(blocks));
}
