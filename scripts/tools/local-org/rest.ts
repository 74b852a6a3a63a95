/**
 * REST API handlers: versions, resources, userinfo/identity, limits, describe, sObject
 * rows, query/queryAll with locators, and sObject Collections.
 */
import type { OrgContext } from './context';
import { describeObject, globalDescribe, objectSummary } from './describe';
import {
    DuplicateCheck,
    DuplicateFailure,
    duplicateErrorBody
} from './duplicates';
import { ApiError, notFound } from './errors';
import { type Reply, type RequestContext, jsonReply, readJson } from './http';
import { jsonValue } from './query';
import { type FieldDef, type ObjectDef, findField } from './schema';
import { canRead, currentActor } from './sharing';
import { type WriteResult, RecordFailure } from './store';
import {
    type RecordError,
    duplicateExternalIdError,
    externalIdKey,
    repeatedKeys
} from './values';
import { normalizeId } from '../../model/ids';

export const MIN_VERSION = 31;
export const MAX_VERSION = 66;

/** GET /services/data — every version this org speaks (no auth, not counted). */
export function versions(): Reply {
    const names: Record<number, string> = {
        66: "Spring '26",
        65: "Winter '26",
        64: "Summer '25",
        63: "Spring '25",
        62: "Winter '25",
        61: "Summer '24",
        60: "Spring '24"
    };
    const list = [];
    for (let v = MIN_VERSION; v <= MAX_VERSION; v++) {
        list.push({
            label: names[v] ?? `API ${v}.0`,
            url: `/services/data/v${v}.0`,
            version: `${v}.0`
        });
    }
    return jsonReply(200, list);
}

/** GET /services/data/vNN.N — the resources of a version. */
export function resources(v: string): Reply {
    const base = `/services/data/v${v}`;
    const names = [
        'tooling',
        'metadata',
        'eclair',
        'folders',
        'prechatForms',
        'contact-tracing',
        'jobs',
        'recent',
        'connect',
        'licensing',
        'limits',
        'process',
        'async-queries',
        'query',
        'quickActions',
        'analytics',
        'search',
        'identity',
        'composite',
        'parameterizedSearch',
        'theme',
        'nouns',
        'event',
        'serviceTemplates',
        'recentlyViewed',
        'domino',
        'actions',
        'tabs',
        'appMenu',
        'ui-api',
        'sobjects',
        'queryAll',
        'support',
        'consent',
        'scheduling',
        'knowledgeManagement',
        'wave',
        'iot',
        'dedupe',
        'commerce',
        'chatter'
    ];
    const out: Record<string, string> = {};
    for (const n of names) out[n] = `${base}/${n}`;
    return jsonReply(200, out);
}

export function userinfo(
    org: OrgContext,
    v = `${MAX_VERSION}.0`,
    userId = org.store.userId
): Reply {
    const { store } = org;
    const base = org.instanceUrl();
    const user =
        store.getRow(store.getObject('User') as ObjectDef, userId) ?? {};
    const id = `${base}/id/${store.orgId}/${userId}`;
    return jsonReply(200, {
        sub: id,
        user_id: userId,
        organization_id: store.orgId,
        preferred_username: user.Username,
        nickname: user.Alias,
        name: user.Name,
        email: user.Email,
        email_verified: true,
        given_name: user.FirstName,
        family_name: user.LastName,
        zoneinfo: user.TimeZoneSidKey,
        photos: {
            picture: `${base}/profilephoto/005/F`,
            thumbnail: `${base}/profilephoto/005/T`
        },
        profile: `${base}/${userId}`,
        picture: `${base}/profilephoto/005/F`,
        address: {},
        is_salesforce_integration_user: false,
        urls: {
            enterprise: `${base}/services/Soap/c/{version}/${store.orgId.slice(0, 15)}`,
            metadata: `${base}/services/Soap/m/{version}/${store.orgId.slice(0, 15)}`,
            partner: `${base}/services/Soap/u/{version}/${store.orgId.slice(0, 15)}`,
            rest: `${base}/services/data/v{version}/`,
            sobjects: `${base}/services/data/v{version}/sobjects/`,
            search: `${base}/services/data/v{version}/search/`,
            query: `${base}/services/data/v{version}/query/`,
            recent: `${base}/services/data/v{version}/recent/`,
            tooling_soap: `${base}/services/Soap/T/{version}/${store.orgId.slice(0, 15)}`,
            tooling_rest: `${base}/services/data/v{version}/tooling/`,
            profile: `${base}/${userId}`,
            feeds: `${base}/services/data/v{version}/chatter/feeds`,
            groups: `${base}/services/data/v{version}/chatter/groups`,
            users: `${base}/services/data/v{version}/chatter/users`,
            feed_items: `${base}/services/data/v{version}/chatter/feed-items`,
            feed_elements: `${base}/services/data/v{version}/chatter/feed-elements`,
            custom_domain: base
        },
        active: true,
        user_type: 'STANDARD',
        language: user.LanguageLocaleKey,
        locale: user.LocaleSidKey,
        utcOffset: -28800000,
        updated_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        is_app_installed: true,
        api_version: v
    });
}

/** GET /services/data/vNN.N/limits */
export function limits(org: OrgContext): Reply {
    const { usage, stats } = org;
    const m = (max: number, used = 0): { Max: number; Remaining: number } => ({
        Max: max,
        Remaining: Math.max(0, max - used)
    });
    return jsonReply(200, {
        ActiveScratchOrgs: m(3),
        AnalyticsExternalDataSizeMB: m(40960),
        ConcurrentAsyncGetReportInstances: m(200),
        ConcurrentSyncReportRuns: m(20),
        DailyAnalyticsDataflowJobExecutions: m(60),
        DailyApiRequests: m(usage.limit, usage.used),
        DailyAsyncApexExecutions: m(250000),
        DailyBulkApiBatches: m(15000, stats.bulkBatches),
        DailyBulkV2QueryFileStorageMB: m(976562),
        DailyBulkV2QueryJobs: m(10000, stats.bulkQueryJobs),
        DailyDeliveredPlatformEvents: m(10000),
        DailyDurableGenericStreamingApiEvents: m(10000),
        DailyDurableStreamingApiEvents: m(10000),
        DailyGenericStreamingApiEvents: m(10000),
        DailyStandardVolumePlatformEvents: m(10000),
        DailyStreamingApiEvents: m(10000),
        DailyWorkflowEmails: m(390),
        DataStorageMB: m(5),
        FileStorageMB: m(20),
        HourlyAsyncReportRuns: m(1200),
        HourlyDashboardRefreshes: m(200),
        HourlyDashboardResults: m(5000),
        HourlyDashboardStatuses: m(999999999),
        HourlyODataCallout: m(10000),
        HourlySyncReportRuns: m(500),
        HourlyTimeBasedWorkflow: m(50),
        MassEmail: m(10),
        MonthlyPlatformEventsUsageEntitlement: m(0),
        PermissionSets: m(1500),
        SingleEmail: m(15),
        StreamingApiConcurrentClients: m(20)
    });
}

export function describeGlobalReply(org: OrgContext, v: string): Reply {
    return jsonReply(200, globalDescribe(org.store, v));
}

function objectOr404(org: OrgContext, name: string): ObjectDef {
    const obj = org.store.getObject(name);
    if (!obj) {
        throw new ApiError(
            404,
            'NOT_FOUND',
            'The requested resource does not exist'
        );
    }
    return obj;
}

export function describeReply(org: OrgContext, type: string, v: string): Reply {
    const obj = objectOr404(org, type);
    return jsonReply(200, describeObject(org.store, obj, v));
}

export function sobjectBasic(org: OrgContext, type: string, v: string): Reply {
    const obj = objectOr404(org, type);
    return jsonReply(200, {
        objectDescribe: objectSummary(obj, v),
        recentItems: []
    });
}

// ---- single rows -------------------------------------------------------------

function recordJson(
    obj: ObjectDef,
    row: Record<string, unknown>,
    v: string,
    fields?: FieldDef[]
): Record<string, unknown> {
    const out: Record<string, unknown> = {
        attributes: {
            type: obj.name,
            url: `/services/data/v${v}/sobjects/${obj.name}/${String(row.Id)}`
        }
    };
    for (const fd of fields ?? obj.fields)
        out[fd.name] = jsonValue(fd, row[fd.name]);
    // A field-filtered retrieve still carries the Id.
    if (!('Id' in out)) out.Id = row.Id;
    return out;
}

function failureReply(e: RecordError): Reply {
    return jsonReply(400, [
        { message: e.message, errorCode: e.statusCode, fields: e.fields }
    ]);
}

/** A single-record write's failure answer (a duplicate carries the rule's findings). */
function recordFailureReply(err: RecordFailure): Reply {
    if (err instanceof DuplicateFailure)
        return jsonReply(400, duplicateErrorBody(err));
    return failureReply(err.error);
}

/** 404 answers for a row that is missing or deleted (single-row routes). */
function liveRow(
    org: OrgContext,
    obj: ObjectDef,
    rawId: string
): Record<string, unknown> {
    const check = normalizeId(rawId);
    if (!check.ok || check.prefix !== obj.keyPrefix) {
        throw new ApiError(
            404,
            'NOT_FOUND',
            `Provided external ID field does not exist or is not accessible: ${rawId}`
        );
    }
    const row = org.store.getRow(obj, check.id);
    if (!row) throw notFound();
    if (row.IsDeleted)
        throw new ApiError(404, 'ENTITY_IS_DELETED', 'entity is deleted', []);
    return row;
}

/** Whether the request's user sees the row (sharing.ts); the org itself sees all. */
function visible(
    org: OrgContext,
    obj: ObjectDef,
    row: Record<string, unknown>
): boolean {
    const actor = currentActor();
    return !actor || canRead(actor, obj.name, row, org.settings.options);
}

function parseFieldsParam(
    obj: ObjectDef,
    param: string | null
): FieldDef[] | undefined {
    if (!param) return undefined;
    return param.split(',').map((name) => {
        const fd = findField(obj, name.trim());
        if (!fd) {
            throw new ApiError(
                400,
                'INVALID_FIELD',
                `No such column '${name.trim()}' on sobject of type ${obj.name}`
            );
        }
        return fd;
    });
}

function checkRecordBody(body: unknown): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
        throw new ApiError(
            400,
            'JSON_PARSER_ERROR',
            'Cannot deserialize instance of SObject from a non-object value'
        );
    }
    return body as Record<string, unknown>;
}

function lockError(id: string): RecordError {
    return {
        statusCode: 'UNABLE_TO_LOCK_ROW',
        message: `unable to obtain exclusive access to this record or 1 records: ${id}`,
        fields: []
    };
}

/** The transaction wrapper that turns a whole-request error (bad JSON type) into a 400. */
function rethrowRequestLevel(err: unknown): void {
    if (
        err instanceof RecordFailure &&
        err.error.statusCode === 'JSON_PARSER_ERROR'
    ) {
        throw new ApiError(
            400,
            'JSON_PARSER_ERROR',
            err.error.message,
            err.error.fields
        );
    }
}

export async function sobjectCreate(
    org: OrgContext,
    ctx: RequestContext,
    type: string
): Promise<Reply> {
    const obj = objectOr404(org, type);
    const body = checkRecordBody(await readJson(ctx.req));
    const unknown = org.store.unknownField(obj, Object.keys(body));
    if (unknown) {
        throw new ApiError(
            400,
            'INVALID_FIELD',
            `No such column '${unknown}' on sobject of type ${obj.name}`
        );
    }
    if (org.faults.lockRecord('sobjectCreate'))
        return failureReply(lockError(obj.keyPrefix));
    try {
        const dup = DuplicateCheck.forRequest(org, ctx.req, ctx.apiVersion);
        const res = org.store.db.transaction(() =>
            dup.run(obj, undefined, () =>
                org.store.insert(obj, body, 'json', org.store.stamp())
            )
        )();
        return jsonReply(201, { id: res.id, success: true, errors: [] });
    } catch (err) {
        rethrowRequestLevel(err);
        if (err instanceof RecordFailure) return recordFailureReply(err);
        throw err;
    }
}

export function sobjectRead(
    org: OrgContext,
    ctx: RequestContext,
    type: string,
    id: string
): Reply {
    const obj = objectOr404(org, type);
    const row = liveRow(org, obj, id);
    // A record the user may not see does not exist for them, as in Salesforce.
    if (!visible(org, obj, row)) throw notFound();
    return jsonReply(
        200,
        recordJson(
            obj,
            row,
            ctx.apiVersion,
            parseFieldsParam(obj, ctx.url.searchParams.get('fields'))
        )
    );
}

export async function sobjectUpdate(
    org: OrgContext,
    ctx: RequestContext,
    type: string,
    id: string
): Promise<Reply> {
    const obj = objectOr404(org, type);
    const row = liveRow(org, obj, id);
    const body = checkRecordBody(await readJson(ctx.req));
    const unknown = org.store.unknownField(obj, Object.keys(body));
    if (unknown) {
        throw new ApiError(
            400,
            'INVALID_FIELD',
            `No such column '${unknown}' on sobject of type ${obj.name}`
        );
    }
    if (org.faults.lockRecord('sobjectUpdate'))
        return failureReply(lockError(String(row.Id)));
    try {
        const dup = DuplicateCheck.forRequest(org, ctx.req, ctx.apiVersion);
        org.store.db.transaction(() =>
            dup.run(obj, String(row.Id), () =>
                org.store.update(obj, row.Id, body, 'json', org.store.stamp())
            )
        )();
        return { status: 204 };
    } catch (err) {
        rethrowRequestLevel(err);
        if (err instanceof RecordFailure) return recordFailureReply(err);
        throw err;
    }
}

export function sobjectDelete(
    org: OrgContext,
    type: string,
    id: string
): Reply {
    const obj = objectOr404(org, type);
    const row = liveRow(org, obj, id);
    if (org.faults.lockRecord('sobjectDelete'))
        return failureReply(lockError(String(row.Id)));
    try {
        org.store.db.transaction(() =>
            org.store.delete(obj, row.Id, org.store.stamp())
        )();
        return { status: 204 };
    } catch (err) {
        if (err instanceof RecordFailure) return failureReply(err.error);
        throw err;
    }
}

function externalIdField(obj: ObjectDef, name: string): FieldDef {
    const fd = findField(obj, name);
    if (
        !fd ||
        !(
            fd.name === 'Id' ||
            fd.externalId ||
            (fd.unique && fd.type !== 'reference')
        )
    ) {
        throw new ApiError(
            404,
            'NOT_FOUND',
            `Provided external ID field does not exist or is not accessible: ${name}`
        );
    }
    return fd;
}

export async function sobjectByExternalId(
    org: OrgContext,
    ctx: RequestContext,
    type: string,
    fieldName: string,
    value: string
): Promise<Reply> {
    const obj = objectOr404(org, type);
    const field = externalIdField(obj, fieldName);
    if (ctx.method === 'PATCH' || ctx.method === 'POST') {
        const body = checkRecordBody(await readJson(ctx.req));
        const unknown = org.store.unknownField(obj, Object.keys(body));
        if (unknown) {
            throw new ApiError(
                400,
                'INVALID_FIELD',
                `No such column '${unknown}' on sobject of type ${obj.name}`
            );
        }
        if (org.faults.lockRecord('sobjectUpsert'))
            return failureReply(lockError(value));
        try {
            const dup = DuplicateCheck.forRequest(org, ctx.req, ctx.apiVersion);
            const res: WriteResult = org.store.db.transaction(() =>
                dup.run(obj, dup.upsertTarget(obj, field.name, value), () =>
                    org.store.upsert(
                        obj,
                        field,
                        { ...body, [field.name]: value },
                        'json',
                        org.store.stamp()
                    )
                )
            )();
            return jsonReply(res.created ? 201 : 200, {
                id: res.id,
                success: true,
                errors: [],
                created: res.created === true
            });
        } catch (err) {
            rethrowRequestLevel(err);
            if (err instanceof RecordFailure) {
                if (err.error.statusCode === 'DUPLICATE_EXTERNAL_ID') {
                    return jsonReply(300, err.error.message);
                }
                return recordFailureReply(err);
            }
            throw err;
        }
    }
    // GET / DELETE by external id
    const hasDeleted = findField(obj, 'IsDeleted') !== undefined;
    const rows = org.store
        .prepare(
            `SELECT * FROM "o_${obj.name}" WHERE "${field.name}" = ?${hasDeleted ? ' AND "IsDeleted" = 0' : ''} LIMIT 2`
        )
        .all(
            field.name === 'Id'
                ? normalizeId(value).ok
                    ? (normalizeId(value) as { id: string }).id
                    : value
                : value
        ) as Array<Record<string, unknown>>;
    if (ctx.method === 'GET' && !rows.every((r) => visible(org, obj, r)))
        throw notFound();
    if (rows.length === 0) throw notFound();
    if (rows.length > 1) {
        return jsonReply(
            300,
            rows.map(
                (r) =>
                    `/services/data/v${ctx.apiVersion}/sobjects/${obj.name}/${String(r.Id)}`
            )
        );
    }
    if (ctx.method === 'DELETE')
        return sobjectDelete(org, type, String(rows[0].Id));
    return jsonReply(
        200,
        recordJson(
            obj,
            rows[0],
            ctx.apiVersion,
            parseFieldsParam(obj, ctx.url.searchParams.get('fields'))
        )
    );
}

// ---- query ---------------------------------------------------------------------

function batchSizeOf(ctx: RequestContext): number {
    const header = ctx.req.headers['sforce-query-options'];
    const text = Array.isArray(header) ? header.join(',') : (header ?? '');
    const m = /batchSize\s*=\s*(\d+)/i.exec(text);
    if (!m) return 2000;
    return Math.min(2000, Math.max(200, Number(m[1])));
}

export function queryReply(
    org: OrgContext,
    ctx: RequestContext,
    queryAll: boolean
): Reply {
    const locator = ctx.segments[1];
    if (locator) {
        return jsonReply(
            200,
            org.queries.queryMore(locator, ctx.apiVersion, batchSizeOf(ctx))
        );
    }
    if (ctx.url.searchParams.has('explain')) {
        throw new ApiError(
            400,
            'MALFORMED_QUERY',
            'The local org does not support query plans (explain)'
        );
    }
    const q = ctx.url.searchParams.get('q');
    if (!q || q.trim() === '') {
        throw new ApiError(
            400,
            'MALFORMED_QUERY',
            'A query string has to be specified'
        );
    }
    if (ctx.url.searchParams.get('columns') === 'true') {
        return jsonReply(200, org.queries.columns(q));
    }
    return jsonReply(
        200,
        org.queries.query(q, {
            queryAll,
            batchSize: batchSizeOf(ctx),
            apiVersion: ctx.apiVersion
        })
    );
}

// ---- sObject Collections ----------------------------------------------------------

const MAX_COLLECTION = 200;

function tooMany(): ApiError {
    return new ApiError(
        400,
        'EXCEEDED_ID_LIMIT',
        'record limit reached. cannot submit more than 200 records into this call'
    );
}

interface CollectionBody {
    allOrNone: boolean;
    records: Array<Record<string, unknown>>;
}

function parseCollectionBody(body: unknown): CollectionBody {
    if (
        !body ||
        typeof body !== 'object' ||
        !Array.isArray((body as { records?: unknown }).records)
    ) {
        throw new ApiError(
            400,
            'JSON_PARSER_ERROR',
            'The request body must be {"allOrNone":…,"records":[…]}'
        );
    }
    const b = body as { allOrNone?: unknown; records: unknown[] };
    for (const r of b.records) {
        if (!r || typeof r !== 'object' || Array.isArray(r)) {
            throw new ApiError(
                400,
                'JSON_PARSER_ERROR',
                'Each record must be a JSON object'
            );
        }
    }
    return {
        allOrNone: b.allOrNone === true || b.allOrNone === 'true',
        records: b.records as Array<Record<string, unknown>>
    };
}

function typeOf(
    org: OrgContext,
    rec: Record<string, unknown>,
    fallback?: string
): ObjectDef {
    const attrs = rec.attributes as { type?: unknown } | undefined;
    const name = typeof attrs?.type === 'string' ? attrs.type : fallback;
    if (!name) {
        throw new ApiError(
            400,
            'INVALID_TYPE',
            'Must send a concrete entity type.'
        );
    }
    const obj = org.store.getObject(name);
    if (!obj) {
        throw new ApiError(
            400,
            'INVALID_TYPE',
            `sObject type '${name}' is not supported.`
        );
    }
    return obj;
}

class Rollback extends Error {}

type Outcome =
    | { ok: true; res: WriteResult }
    | { ok: false; error: RecordError; id?: string };

/**
 * Runs per-record writes in one transaction. With allOrNone a single failure rolls
 * everything back and the other records report ALL_OR_NONE_OPERATION_ROLLED_BACK.
 */
function runCollection(
    org: OrgContext,
    n: number,
    allOrNone: boolean,
    kind: string,
    lockIdOf: (i: number) => string,
    op: (i: number, now: number) => WriteResult,
    idOf: (i: number) => string | undefined
): Outcome[] {
    const outcomes: Outcome[] = [];
    const run = org.store.db.transaction(() => {
        const now = org.store.stamp();
        for (let i = 0; i < n; i++) {
            if (org.faults.lockRecord(kind)) {
                outcomes.push({
                    ok: false,
                    error: lockError(lockIdOf(i)),
                    id: idOf(i)
                });
                continue;
            }
            try {
                outcomes.push({ ok: true, res: op(i, now) });
            } catch (err) {
                rethrowRequestLevel(err);
                if (err instanceof RecordFailure) {
                    outcomes.push({ ok: false, error: err.error, id: idOf(i) });
                } else {
                    throw err;
                }
            }
        }
        if (allOrNone && outcomes.some((o) => !o.ok)) throw new Rollback();
    });
    try {
        run();
    } catch (err) {
        if (!(err instanceof Rollback)) throw err;
        return outcomes.map((o) =>
            o.ok
                ? {
                      ok: false,
                      id: undefined,
                      error: {
                          statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                          message:
                              'Record rolled back because not all records were valid and the request was using AllOrNone header',
                          fields: []
                      }
                  }
                : o
        );
    }
    return outcomes;
}

function resultJson(
    o: Outcome,
    withCreated: boolean,
    idOnFailure: boolean
): Record<string, unknown> {
    if (o.ok) {
        return {
            id: o.res.id,
            success: true,
            errors: [],
            ...(withCreated ? { created: o.res.created === true } : {})
        };
    }
    return {
        ...(idOnFailure && o.id ? { id: o.id } : {}),
        success: false,
        errors: [o.error]
    };
}

function rejectUnknownFields(
    org: OrgContext,
    obj: ObjectDef,
    rec: Record<string, unknown>,
    skip: string[]
): void {
    const keys = Object.keys(rec).filter((k) => !skip.includes(k));
    const unknown = org.store.unknownField(obj, keys);
    if (unknown) {
        throw new ApiError(
            400,
            'INVALID_FIELD',
            `No such column '${unknown}' on sobject of type ${obj.name}`
        );
    }
}

export async function collectionsCreate(
    org: OrgContext,
    ctx: RequestContext
): Promise<Reply> {
    const body = parseCollectionBody(await readJson(ctx.req));
    if (body.records.length > MAX_COLLECTION) throw tooMany();
    const objs = body.records.map((r) => typeOf(org, r));
    body.records.forEach((r, i) =>
        rejectUnknownFields(org, objs[i], r, ['attributes'])
    );
    const dup = DuplicateCheck.forRequest(org, ctx.req, ctx.apiVersion);
    const outcomes = runCollection(
        org,
        body.records.length,
        body.allOrNone,
        'collectionsCreate',
        (i) => objs[i].keyPrefix,
        (i, now) => {
            const { attributes: _a, ...fields } = body.records[i];
            return dup.run(objs[i], undefined, () =>
                org.store.insert(objs[i], fields, 'json', now)
            );
        },
        () => undefined
    );
    return jsonReply(
        200,
        outcomes.map((o) => resultJson(o, false, false))
    );
}

function recordId(rec: Record<string, unknown>): unknown {
    return rec.id ?? rec.Id;
}

export async function collectionsUpdate(
    org: OrgContext,
    ctx: RequestContext
): Promise<Reply> {
    const body = parseCollectionBody(await readJson(ctx.req));
    if (body.records.length > MAX_COLLECTION) throw tooMany();
    const objs = body.records.map((r) => typeOf(org, r));
    body.records.forEach((r, i) =>
        rejectUnknownFields(org, objs[i], r, ['attributes', 'id', 'Id'])
    );
    const dup = DuplicateCheck.forRequest(org, ctx.req, ctx.apiVersion);
    const outcomes = runCollection(
        org,
        body.records.length,
        body.allOrNone,
        'collectionsUpdate',
        (i) => String(recordId(body.records[i]) ?? ''),
        (i, now) => {
            const {
                attributes: _a,
                id: _id,
                Id: _Id,
                ...fields
            } = body.records[i];
            const id = recordId(body.records[i]);
            if (id === undefined || id === null || id === '') {
                throw new RecordFailure({
                    statusCode: 'MISSING_ARGUMENT',
                    message: 'Id not specified in an update call',
                    fields: []
                });
            }
            return dup.run(
                objs[i],
                typeof id === 'string' ? id : undefined,
                () => org.store.update(objs[i], id, fields, 'json', now)
            );
        },
        (i) => {
            const id = recordId(body.records[i]);
            return typeof id === 'string' ? id : undefined;
        }
    );
    return jsonReply(
        200,
        outcomes.map((o) => resultJson(o, false, true))
    );
}

/** A record's external id value (its key matched case-insensitively, as store.upsert does). */
function externalIdValue(
    rec: Record<string, unknown>,
    field: FieldDef
): unknown {
    const key = Object.keys(rec).find(
        (k) => k.toLowerCase() === field.name.toLowerCase()
    );
    return key === undefined ? undefined : rec[key];
}

export async function collectionsUpsert(
    org: OrgContext,
    ctx: RequestContext,
    type: string,
    fieldName: string
): Promise<Reply> {
    const obj = org.store.getObject(type);
    if (!obj)
        throw new ApiError(
            400,
            'INVALID_TYPE',
            `sObject type '${type}' is not supported.`
        );
    const field = externalIdField(obj, fieldName);
    const body = parseCollectionBody(await readJson(ctx.req));
    if (body.records.length > MAX_COLLECTION) throw tooMany();
    body.records.forEach((r) => {
        const t = typeOf(org, r, obj.name);
        if (t.name !== obj.name) {
            throw new ApiError(
                400,
                'INVALID_TYPE',
                `Record type ${t.name} does not match ${obj.name}`
            );
        }
        rejectUnknownFields(org, obj, r, ['attributes', 'id']);
    });
    // Every record whose key occurs twice in the request fails; the others are saved.
    const rawKeys = body.records.map((r) => externalIdValue(r, field));
    const dup = DuplicateCheck.forRequest(org, ctx.req, ctx.apiVersion);
    const repeated =
        field.name === 'Id'
            ? new Set<string>()
            : repeatedKeys(rawKeys.map((v) => externalIdKey(field, v, 'json')));
    const outcomes = runCollection(
        org,
        body.records.length,
        body.allOrNone,
        'collectionsUpsert',
        (i) => String(body.records[i][field.name] ?? ''),
        (i, now) => {
            const key = externalIdKey(field, rawKeys[i], 'json');
            if (key !== null && repeated.has(key))
                throw duplicateExternalIdError(field, rawKeys[i]);
            const { attributes: _a, id: _id, ...fields } = body.records[i];
            return dup.run(
                obj,
                dup.upsertTarget(obj, field.name, rawKeys[i]),
                () => org.store.upsert(obj, field, fields, 'json', now)
            );
        },
        () => undefined
    );
    return jsonReply(
        200,
        outcomes.map((o) => resultJson(o, true, false))
    );
}

export function collectionsDelete(org: OrgContext, ctx: RequestContext): Reply {
    const idsParam = ctx.url.searchParams.get('ids') ?? '';
    const ids = idsParam
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    if (ids.length === 0) {
        throw new ApiError(
            400,
            'MISSING_ARGUMENT',
            'ids parameter is required'
        );
    }
    if (ids.length > MAX_COLLECTION) throw tooMany();
    const allOrNone = ctx.url.searchParams.get('allOrNone') === 'true';
    const outcomes = runCollection(
        org,
        ids.length,
        allOrNone,
        'collectionsDelete',
        (i) => ids[i],
        (i, now) => {
            const obj = org.store.objectForId(ids[i]);
            if (!obj) {
                throw new RecordFailure({
                    statusCode: 'MALFORMED_ID',
                    message: `malformed id ${ids[i]}`,
                    fields: []
                });
            }
            return org.store.delete(obj, ids[i], now);
        },
        (i) => ids[i]
    );
    return jsonReply(
        200,
        outcomes.map((o) => resultJson(o, false, true))
    );
}

/** POST /composite/sobjects/{Type} {ids, fields} or GET ?ids=&fields= : records or null. */
export async function collectionsRetrieve(
    org: OrgContext,
    ctx: RequestContext,
    type: string
): Promise<Reply> {
    const obj = org.store.getObject(type);
    if (!obj)
        throw new ApiError(
            400,
            'INVALID_TYPE',
            `sObject type '${type}' is not supported.`
        );
    let ids: string[];
    let fieldNames: string[];
    if (ctx.method === 'POST') {
        const body = (await readJson(ctx.req)) as
            { ids?: unknown; fields?: unknown } | undefined;
        ids = Array.isArray(body?.ids)
            ? (body.ids as unknown[]).map(String)
            : [];
        fieldNames = Array.isArray(body?.fields)
            ? (body.fields as unknown[]).map(String)
            : [];
    } else {
        ids = (ctx.url.searchParams.get('ids') ?? '')
            .split(',')
            .filter(Boolean);
        fieldNames = (ctx.url.searchParams.get('fields') ?? '')
            .split(',')
            .filter(Boolean);
    }
    if (ids.length > 2000) throw tooMany();
    if (fieldNames.length === 0)
        throw new ApiError(400, 'MISSING_ARGUMENT', 'fields are required');
    const fields = parseFieldsParam(obj, fieldNames.join(',')) as FieldDef[];
    const out = ids.map((raw) => {
        const check = normalizeId(raw);
        if (!check.ok) return null;
        const row = org.store.getRow(obj, check.id);
        if (!row || row.IsDeleted || !visible(org, obj, row)) return null;
        return recordJson(obj, row, ctx.apiVersion, fields);
    });
    return jsonReply(200, out);
}

/**
 * GET /sobjects/{Type}/updated|deleted?start=…&end=… : ids changed (SystemModstamp) or
 * deleted in a window of at most 30 days, as getUpdated/getDeleted answer.
 */
export function changedRecords(
    org: OrgContext,
    ctx: RequestContext,
    type: string,
    which: 'updated' | 'deleted'
): Reply {
    const obj = objectOr404(org, type);
    const parse = (name: string): number => {
        const raw = ctx.url.searchParams.get(name);
        const t = raw ? Date.parse(raw.replace(/\+0000$/, 'Z')) : NaN;
        if (!Number.isFinite(t)) {
            throw new ApiError(
                400,
                'MALFORMED_QUERY',
                `${name}: must be a valid date-time (e.g. 2024-05-20T00:00:00+00:00)`
            );
        }
        return t;
    };
    const start = parse('start');
    const end = Math.min(parse('end'), Date.now());
    if (end < start)
        throw new ApiError(
            400,
            'INVALID_REPLICATION_DATE',
            'end date must be after start date'
        );
    if (end - start > 30 * 86_400_000) {
        throw new ApiError(
            400,
            'EXCEEDED_ID_LIMIT',
            'The date range is limited to 30 days'
        );
    }
    const table = `"o_${obj.name}"`;
    const hasDeleted = findField(obj, 'IsDeleted') !== undefined;
    if (which === 'updated') {
        const rows = org.store
            .prepare(
                `SELECT "Id" AS id FROM ${table} WHERE "SystemModstamp" >= ? AND "SystemModstamp" < ?${hasDeleted ? ' AND "IsDeleted" = 0' : ''} ORDER BY "SystemModstamp"`
            )
            .all(start, end) as Array<{ id: string }>;
        return jsonReply(200, {
            ids: rows.map((r) => r.id),
            latestDateCovered: new Date(end).toISOString().replace('Z', '+0000')
        });
    }
    const rows = hasDeleted
        ? (org.store
              .prepare(
                  `SELECT "Id" AS id, "SystemModstamp" AS t FROM ${table} WHERE "IsDeleted" = 1 AND "SystemModstamp" >= ? AND "SystemModstamp" < ? ORDER BY "SystemModstamp"`
              )
              .all(start, end) as Array<{ id: string; t: number }>)
        : [];
    return jsonReply(200, {
        deletedRecords: rows.map((r) => ({
            id: r.id,
            deletedDate: new Date(r.t).toISOString().replace('Z', '+0000')
        })),
        earliestDateAvailable: new Date(Date.now() - 15 * 86_400_000)
            .toISOString()
            .replace('Z', '+0000'),
        latestDateCovered: new Date(end).toISOString().replace('Z', '+0000')
    });
}
