/**
 * The Marketing API 3.0 resources the connector uses, as pure request → reply handlers
 * over the store. The server (server.ts) adds auth, limits and faults; batches run the
 * same handlers for each operation.
 *
 * References (Mailchimp Marketing API 3.0):
 * - Lists:        https://mailchimp.com/developer/marketing/api/lists/
 * - List members: https://mailchimp.com/developer/marketing/api/list-members/
 * - Webhooks:     https://mailchimp.com/developer/marketing/api/list-webhooks/
 * - Batches:      https://mailchimp.com/developer/marketing/api/batch-operations/
 * - Ping / root:  https://mailchimp.com/developer/marketing/api/ping/ , …/api/root/
 */
import {
    MEMBER_STATUSES,
    type MailchimpStore,
    type MemberRow,
    type MemberStatus,
    randomHex,
    subscriberHash
} from './store';
import {
    batchJson,
    invalidResource,
    isoTime,
    listJson,
    memberJson,
    notFound,
    parseTimeParam,
    Problem,
    project,
    webhookJson
} from './wire';

/** Who made a change, as webhook `sources` name them. */
export type ChangeSource = 'user' | 'admin' | 'api';

export interface StatusChange {
    listId: string;
    email: string;
    hash: string;
    from: MemberStatus | null;
    to: MemberStatus;
    reason: string | null;
    source: ChangeSource;
    at: number;
}

export interface ApiContext {
    store: MailchimpStore;
    /** Current time in whole seconds. */
    now(): number;
    base: string;
    resultsBase: string;
    dc: string;
    onStatusChange(change: StatusChange): void;
    /** Webhook URL check at creation (Mailchimp GETs the URL; it must answer 200). */
    validateWebhookUrl(url: string): Promise<string | null>;
    startBatch(id: string): void;
}

export interface ApiRequest {
    method: string;
    /** Path segments after /3.0. */
    segments: string[];
    query: URLSearchParams;
    body: unknown;
}

export interface ApiReply {
    status: number;
    json?: unknown;
    /** Request kind, for stats and fault scopes. */
    kind: string;
}

/** Statuses a client may write (archived only comes from DELETE). */
const WRITABLE: MemberStatus[] = [
    'subscribed',
    'unsubscribed',
    'cleaned',
    'pending',
    'transactional'
];

const MAX_COUNT = 1000;

function methodNotAllowed(): Problem {
    return new Problem(
        405,
        'Method Not Allowed',
        "The requested method and resource are not compatible. See the Allow header for this resource's available methods."
    );
}

function paging(q: URLSearchParams): { count: number; offset: number } {
    const num = (name: string, dflt: number): number => {
        const raw = q.get(name);
        if (raw === null || raw === '') return dflt;
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 0) {
            throw invalidResource([
                { field: name, message: 'Must be a non-negative integer' }
            ]);
        }
        return n;
    };
    const count = num('count', 10);
    // Documented: "Default value is 10. Maximum value is 1000." Refused above it rather
    // than silently capped, so a client never believes it read a full page it did not.
    if (count > MAX_COUNT) {
        throw invalidResource([
            { field: 'count', message: `Maximum value is ${MAX_COUNT}` }
        ]);
    }
    return { count, offset: num('offset', 0) };
}

function record(body: unknown): Record<string, unknown> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw invalidResource([
            {
                field: '',
                message: 'Schema describes object, NULL found instead'
            }
        ]);
    }
    return body as Record<string, unknown>;
}

function parseStatus(field: string, v: unknown): MemberStatus {
    if (typeof v !== 'string' || !WRITABLE.includes(v as MemberStatus)) {
        throw invalidResource([
            {
                field,
                message: `Data presented is not one of the accepted values: ${WRITABLE.join(', ')}.`
            }
        ]);
    }
    return v as MemberStatus;
}

function parseEmail(v: unknown): string {
    if (typeof v !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) {
        throw invalidResource([
            {
                field: 'email_address',
                message: 'This value should be a valid email address.'
            }
        ]);
    }
    return v;
}

function requireList(ctx: ApiContext, id: string): void {
    if (!ctx.store.getList(id)) throw notFound();
}

function requireMember(
    ctx: ApiContext,
    listId: string,
    hash: string
): MemberRow {
    requireList(ctx, listId);
    const m = ctx.store.getMember(listId, hash.toLowerCase());
    if (!m) throw notFound();
    return m;
}

/**
 * A status change as Mailchimp allows it. A contact who unsubscribed or was cleaned
 * cannot be put back to `subscribed` through the API ("Member In Compliance State");
 * `pending` (a new opt-in email) is the documented way back.
 */
export function applyStatus(
    ctx: ApiContext,
    m: MemberRow,
    to: MemberStatus,
    reason: string | null,
    source: ChangeSource
): MemberRow {
    if (
        source === 'api' &&
        to === 'subscribed' &&
        (m.status === 'unsubscribed' || m.status === 'cleaned')
    ) {
        throw new Problem(
            400,
            'Member In Compliance State',
            `${m.email_address} is already a list member in compliance state due to unsubscribe, bounce, or compliance review.`
        );
    }
    if (m.status === to) return m;
    const now = ctx.now();
    const patch = {
        status: to,
        unsubscribe_reason: to === 'unsubscribed' ? reason : null,
        last_changed: now
    };
    ctx.store.updateMember(m.list_id, m.id, patch);
    ctx.onStatusChange({
        listId: m.list_id,
        email: m.email_address,
        hash: m.id,
        from: m.status,
        to,
        reason,
        source,
        at: now
    });
    return { ...m, ...patch };
}

function mergeFieldsOf(
    b: Record<string, unknown>
): Record<string, unknown> | undefined {
    const mf = b.merge_fields;
    if (mf === undefined) return undefined;
    if (typeof mf !== 'object' || mf === null || Array.isArray(mf)) {
        throw invalidResource([
            { field: 'merge_fields', message: 'Schema describes object' }
        ]);
    }
    return mf as Record<string, unknown>;
}

function updateMember(
    ctx: ApiContext,
    m: MemberRow,
    b: Record<string, unknown>,
    source: ChangeSource
): MemberRow {
    const mf = mergeFieldsOf(b);
    let row = m;
    if (mf) {
        const merged = JSON.stringify({
            ...(JSON.parse(m.merge_fields) as Record<string, unknown>),
            ...mf
        });
        ctx.store.updateMember(m.list_id, m.id, {
            merge_fields: merged,
            last_changed: ctx.now()
        });
        row = { ...row, merge_fields: merged, last_changed: ctx.now() };
    }
    if (b.status !== undefined) {
        row = applyStatus(
            ctx,
            row,
            parseStatus('status', b.status),
            null,
            source
        );
    }
    return row;
}

function addMember(
    ctx: ApiContext,
    listId: string,
    email: string,
    status: MemberStatus,
    mf: Record<string, unknown>,
    source: ChangeSource
): MemberRow {
    const row = ctx.store.insertMember(
        listId,
        email,
        status,
        mf,
        ctx.now(),
        source === 'api' ? 'API - Generic' : 'Admin Add'
    );
    ctx.onStatusChange({
        listId,
        email,
        hash: row.id,
        from: null,
        to: status,
        reason: null,
        source,
        at: row.last_changed
    });
    return row;
}

function membersRoute(
    ctx: ApiContext,
    req: ApiRequest,
    listId: string
): ApiReply {
    const q = req.query;
    const links = { base: ctx.base };
    if (req.method === 'GET') {
        requireList(ctx, listId);
        const { count, offset } = paging(q);
        const rawStatus = q.get('status');
        if (
            rawStatus !== null &&
            !MEMBER_STATUSES.includes(rawStatus as MemberStatus)
        ) {
            throw invalidResource([
                {
                    field: 'status',
                    message: `Data presented is not one of the accepted values: ${MEMBER_STATUSES.join(', ')}.`
                }
            ]);
        }
        const sortField = q.get('sort_field');
        if (
            sortField !== null &&
            !['timestamp_opt', 'timestamp_signup', 'last_changed'].includes(
                sortField
            )
        ) {
            throw invalidResource([
                { field: 'sort_field', message: 'Invalid sort field' }
            ]);
        }
        const { rows, total } = ctx.store.members(
            listId,
            {
                status: (rawStatus ?? undefined) as MemberStatus | undefined,
                sinceLastChanged: parseTimeParam(
                    'since_last_changed',
                    q.get('since_last_changed')
                ),
                beforeLastChanged: parseTimeParam(
                    'before_last_changed',
                    q.get('before_last_changed')
                ),
                sortField: (sortField ?? undefined) as
                    | 'last_changed'
                    | 'timestamp_opt'
                    | 'timestamp_signup'
                    | undefined,
                sortDir: q.get('sort_dir') === 'DESC' ? 'DESC' : 'ASC'
            },
            offset,
            count
        );
        return {
            kind: 'listMembers',
            status: 200,
            json: {
                members: rows.map((r) => memberJson(r, links)),
                list_id: listId,
                total_items: total,
                _links: []
            }
        };
    }
    if (req.method === 'POST') {
        requireList(ctx, listId);
        const b = record(req.body);
        const email = parseEmail(b.email_address);
        const status = parseStatus('status', b.status);
        if (ctx.store.getMember(listId, subscriberHash(email))) {
            // https://github.com/VingtCinq/python-mailchimp/issues/222 (recorded answer)
            throw new Problem(
                400,
                'Member Exists',
                `${email} is already a list member. Use PUT to insert or update list members.`
            );
        }
        const row = addMember(
            ctx,
            listId,
            email,
            status,
            mergeFieldsOf(b) ?? {},
            'api'
        );
        return { kind: 'addMember', status: 200, json: memberJson(row, links) };
    }
    throw methodNotAllowed();
}

function memberRoute(
    ctx: ApiContext,
    req: ApiRequest,
    listId: string,
    hash: string
): ApiReply {
    const links = { base: ctx.base };
    switch (req.method) {
        case 'GET':
            return {
                kind: 'getMember',
                status: 200,
                json: memberJson(requireMember(ctx, listId, hash), links)
            };
        case 'PATCH': {
            const m = requireMember(ctx, listId, hash);
            const b = record(req.body);
            if (
                b.email_address !== undefined &&
                subscriberHash(parseEmail(b.email_address)) !== m.id
            ) {
                // Changing the address is not modelled (KNOWN-DIFFERENCES.md): refused.
                throw invalidResource([
                    {
                        field: 'email_address',
                        message:
                            'Changing a member’s email address is not supported by the local Mailchimp.'
                    }
                ]);
            }
            const row = updateMember(ctx, m, b, 'api');
            return {
                kind: 'updateMember',
                status: 200,
                json: memberJson(row, links)
            };
        }
        case 'PUT': {
            requireList(ctx, listId);
            const b = record(req.body);
            const email = parseEmail(b.email_address);
            if (subscriberHash(email) !== hash.toLowerCase()) {
                throw invalidResource([
                    {
                        field: 'email_address',
                        message:
                            'The email address does not match the subscriber hash in the URL (MD5 of the lower-cased address).'
                    }
                ]);
            }
            const existing = ctx.store.getMember(listId, hash.toLowerCase());
            if (existing) {
                const row = updateMember(ctx, existing, b, 'api');
                return {
                    kind: 'setMember',
                    status: 200,
                    json: memberJson(row, links)
                };
            }
            const raw = b.status_if_new ?? b.status;
            if (raw === undefined) {
                throw invalidResource([
                    {
                        field: 'status_if_new',
                        message: 'This value should not be blank.'
                    }
                ]);
            }
            const status = parseStatus('status_if_new', raw);
            const row = addMember(
                ctx,
                listId,
                email,
                status,
                mergeFieldsOf(b) ?? {},
                'api'
            );
            return {
                kind: 'setMember',
                status: 200,
                json: memberJson(row, links)
            };
        }
        case 'DELETE': {
            // Archives the contact (204, no body); the permanent delete is another action.
            const m = requireMember(ctx, listId, hash);
            if (m.status === 'archived') throw notFound();
            applyStatus(ctx, m, 'archived', null, 'api');
            return { kind: 'archiveMember', status: 204 };
        }
        default:
            throw methodNotAllowed();
    }
}

const WEBHOOK_EVENTS = [
    'subscribe',
    'unsubscribe',
    'profile',
    'cleaned',
    'upemail',
    'campaign'
] as const;
const WEBHOOK_SOURCES = ['user', 'admin', 'api'] as const;

function flags(
    field: string,
    v: unknown,
    names: readonly string[]
): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    if (v !== undefined && (typeof v !== 'object' || v === null)) {
        throw invalidResource([{ field, message: 'Schema describes object' }]);
    }
    const given = (v ?? {}) as Record<string, unknown>;
    for (const n of names) out[n] = given[n] === true;
    return out;
}

async function webhooksRoute(
    ctx: ApiContext,
    req: ApiRequest,
    listId: string,
    id: string | undefined
): Promise<ApiReply> {
    requireList(ctx, listId);
    const links = { base: ctx.base };
    if (id === undefined) {
        if (req.method === 'GET') {
            const rows = ctx.store.webhooks(listId);
            return {
                kind: 'listWebhooks',
                status: 200,
                json: {
                    webhooks: rows.map((w) => webhookJson(w, links)),
                    list_id: listId,
                    total_items: rows.length,
                    _links: []
                }
            };
        }
        if (req.method === 'POST') {
            const b = record(req.body);
            const url = b.url;
            if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
                throw invalidResource([
                    {
                        field: 'url',
                        message: 'This value should be a valid URL.'
                    }
                ]);
            }
            const events = flags('events', b.events, WEBHOOK_EVENTS);
            const sources = flags('sources', b.sources, WEBHOOK_SOURCES);
            const bad = await ctx.validateWebhookUrl(url);
            if (bad) throw invalidResource([{ field: 'url', message: bad }]);
            const row = {
                list_id: listId,
                id: randomHex(10),
                url,
                events: JSON.stringify(events),
                sources: JSON.stringify(sources)
            };
            ctx.store.insertWebhook(row);
            return {
                kind: 'createWebhook',
                status: 200,
                json: webhookJson(row, links)
            };
        }
        throw methodNotAllowed();
    }
    const row = ctx.store.webhooks(listId).find((w) => w.id === id);
    if (!row) throw notFound();
    if (req.method === 'GET')
        return {
            kind: 'getWebhook',
            status: 200,
            json: webhookJson(row, links)
        };
    if (req.method === 'DELETE') {
        ctx.store.deleteWebhook(listId, id);
        return { kind: 'deleteWebhook', status: 204 };
    }
    throw methodNotAllowed();
}

function batchesRoute(
    ctx: ApiContext,
    req: ApiRequest,
    id: string | undefined
): ApiReply {
    const links = { base: ctx.base, resultsBase: ctx.resultsBase };
    if (id === undefined && req.method === 'POST') {
        const b = record(req.body);
        const ops = b.operations;
        if (!Array.isArray(ops) || ops.length === 0) {
            throw invalidResource([
                {
                    field: 'operations',
                    message: 'This value should not be blank.'
                }
            ]);
        }
        ops.forEach((op: unknown, i) => {
            const o = op as Record<string, unknown> | null;
            if (
                typeof o !== 'object' ||
                o === null ||
                typeof o.method !== 'string' ||
                typeof o.path !== 'string' ||
                (o.body !== undefined && typeof o.body !== 'string')
            ) {
                throw invalidResource([
                    {
                        field: `operations.item:${i}`,
                        message:
                            'Each operation needs method and path strings; body, when given, is a JSON string.'
                    }
                ]);
            }
        });
        const row = {
            id: randomHex(10),
            status: 'pending' as const,
            operations: JSON.stringify(ops),
            total_operations: ops.length,
            finished_operations: 0,
            errored_operations: 0,
            submitted_at: ctx.now(),
            completed_at: null,
            results: null
        };
        ctx.store.insertBatch(row);
        ctx.startBatch(row.id);
        return { kind: 'startBatch', status: 200, json: batchJson(row, links) };
    }
    if (id === undefined && req.method === 'GET') {
        const { count, offset } = paging(req.query);
        const { rows, total } = ctx.store.batches(offset, count);
        return {
            kind: 'listBatches',
            status: 200,
            json: {
                batches: rows.map((r) => batchJson(r, links)),
                total_items: total,
                _links: []
            }
        };
    }
    if (id !== undefined && req.method === 'GET') {
        const row = ctx.store.getBatch(id);
        if (!row) throw notFound();
        return { kind: 'getBatch', status: 200, json: batchJson(row, links) };
    }
    throw methodNotAllowed();
}

function root(ctx: ApiContext): Record<string, unknown> {
    return {
        account_id: 'local0000000000000000000',
        login_id: 'local',
        account_name: 'Local Mailchimp',
        email: 'local@example.com',
        first_name: 'Local',
        last_name: 'Mailchimp',
        username: 'local',
        avatar_url: '',
        role: 'owner',
        member_since: isoTime(0),
        pricing_plan_type: 'monthly',
        first_payment: '',
        account_timezone: 'UTC',
        account_industry: '',
        contact: { company: 'Local Mailchimp', country: 'US' },
        pro_enabled: false,
        last_login: isoTime(ctx.now()),
        total_subscribers: 0,
        industry_stats: { open_rate: 0, bounce_rate: 0, click_rate: 0 },
        _links: [{ rel: 'self', href: `${ctx.base}/`, method: 'GET' }]
    };
}

/** Runs one API request; throws Problem for API errors. */
export async function dispatch(
    ctx: ApiContext,
    req: ApiRequest
): Promise<ApiReply> {
    const s = req.segments;
    const get = (kind: string, json: () => unknown): ApiReply => {
        if (req.method !== 'GET') throw methodNotAllowed();
        return { kind, status: 200, json: json() };
    };
    if (s.length === 0) return get('root', () => root(ctx));
    if (s[0] === 'ping' && s.length === 1)
        return get('ping', () => ({ health_status: "Everything's Chimpy!" }));
    if (s[0] === 'lists') {
        if (s.length === 1) {
            return get('lists', () => {
                const { count, offset } = paging(req.query);
                const { rows, total } = ctx.store.lists(offset, count);
                return {
                    lists: rows.map((l) =>
                        listJson(l, ctx.store.statusCounts(l.id), {
                            base: ctx.base
                        })
                    ),
                    total_items: total,
                    constraints: {
                        may_create: true,
                        max_instances: 100,
                        current_total_instances: total
                    },
                    _links: []
                };
            });
        }
        const listId = s[1];
        if (s.length === 2) {
            return get('getList', () => {
                const l = ctx.store.getList(listId);
                if (!l) throw notFound();
                return listJson(l, ctx.store.statusCounts(l.id), {
                    base: ctx.base
                });
            });
        }
        if (s[2] === 'members' && s.length === 3)
            return membersRoute(ctx, req, listId);
        if (s[2] === 'members' && s.length === 4)
            return memberRoute(ctx, req, listId, s[3]);
        if (s[2] === 'webhooks' && s.length <= 4)
            return webhooksRoute(ctx, req, listId, s[3]);
    }
    if (s[0] === 'batches' && s.length <= 2)
        return batchesRoute(ctx, req, s[1]);
    throw notFound();
}

/** Applies the `fields` / `exclude_fields` query to a GET reply. */
export function shape(req: ApiRequest, reply: ApiReply): unknown {
    if (req.method !== 'GET' || reply.json === undefined) return reply.json;
    return project(
        reply.json,
        req.query.get('fields'),
        req.query.get('exclude_fields')
    );
}
