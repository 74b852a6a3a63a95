/**
 * The Composite resource: POST /services/data/vNN.N/composite runs up to 25
 * subrequests in order, each through the same route handlers as a top-level request,
 * as the caller (user, record access), with references from later subrequests into
 * earlier ones' bodies, and (allOrNone) in one transaction that really rolls back.
 * The whole call counts as one API request (server.ts counts and faults it once).
 *
 * Sources (Salesforce REST API Developer Guide, v66/v67):
 * - "Send Multiple Requests Using Composite" (resources_composite_composite_post.htm):
 *   supported resources (sObject resources, Query, QueryAll, sObject Collections from
 *   43.0), "You can have up to 25 subrequests in a single call. Up to 5 of these
 *   subrequests can be sObject Collections or query operations, including Query and
 *   QueryAll requests", "The entire series of requests counts as a single call toward
 *   your API limits."
 * - "Composite Request Body" (requests_composite.htm): method one of POST, PUT, PATCH,
 *   GET, DELETE (case-sensitive); "The URL must start with /services/data/vXX.X/";
 *   "The referenceId must start with a letter or a number … must not contain anything
 *   besides letters, numbers, or underscores"; httpHeaders may not set Accept,
 *   Authorization or Content-Type ("If you do, the top-level request fails and returns
 *   an HTTP 400 response"); @{ref.field} and @{ref.list[0].field} references; with
 *   allOrNone the whole request rolls back, without it "Dependent subrequests aren't
 *   executed"; referenceable types are scalars.
 * - "Composite Subrequest Result" (resources_composite_subrequest_result.htm): "If
 *   allOrNone is set to true … and a subrequest returns an error, all other subrequests
 *   return the 400 HTTP status code"; API 52.0+: an illegal referenceId fails the whole
 *   request, a reference to a null field resolves (51.0 and earlier: the dependent
 *   subrequest fails with PROCESSING_HALTED "Invalid reference specified. No value for
 *   refContact.FirstName found in refContact. Provided referenceId
 *   ('refContact.FirstName') must start with a letter or a number, and it can contain
 *   only letters, numbers and underscores ('_').").
 * - "allOrNone Parameters in Composite and Collections Requests"
 *   (resources_composite_allornone.htm): an outer allOrNone=true applies to every sObject
 *   Collections subrequest, overriding its own.
 * - Rolled-back subrequests answer 400 PROCESSING_HALTED "The transaction was rolled
 *   back since another operation in the same transaction failed." (responses captured
 *   from real orgs in SFDO-Tooling/CumulusCI's composite task tests and others).
 * - A missing subrequest field is a request-level 400 JSON_PARSER_ERROR "'referenceId'
 *   is a required field." (developer.salesforce.com/blogs/tech-pubs/2017/02/
 *   handle-errors-with-composite-resources.html).
 * - More than 25 subrequests: {"compositeResponse":[{"body":[{"errorCode":
 *   "LIMIT_EXCEEDED","message":"The request can’t contain more than 25 operations."}],
 *   "httpHeaders":{},"httpStatusCode":400,"referenceId":null}]} (a production log quoted
 *   in guardian/support-service-lambdas pull request 766).
 * Messages not found in any source are the local org's own; KNOWN-DIFFERENCES.md lists
 * them.
 */
import type { IncomingMessage } from 'node:http';
import type { OrgContext } from './context';
import { ApiError } from './errors';
import { type Reply, type RequestContext, readJson } from './http';
import { MAX_VERSION, MIN_VERSION } from './rest';

export const MAX_SUBREQUESTS = 25;
/** sObject Collections and query (Query, QueryAll) subrequests per composite request. */
export const MAX_COLLECTION_OR_QUERY_SUBREQUESTS = 5;

export const ROLLED_BACK_MESSAGE =
    'The transaction was rolled back since another operation in the same transaction failed.';

const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'];
const REFERENCE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_]*$/;
const URL_RE = /^\/services\/data\/v(\d+)\.(\d)\/(.*)$/;
const FORBIDDEN_HEADERS = ['accept', 'authorization', 'content-type'];

/** What a subrequest resolves to: the same route the server runs for a top-level request. */
export interface SubRoute {
    kind: string;
    run: () => Promise<Reply> | Reply;
}

export interface CompositeSubrequestResult {
    body: unknown;
    httpHeaders: Record<string, string>;
    httpStatusCode: number;
    referenceId: string | null;
}

interface Subrequest {
    method: string;
    url: string;
    referenceId: string;
    body?: unknown;
    httpHeaders: Record<string, string>;
    /** 'collections', 'query' or 'sobject' (from the URL, before references resolve). */
    family: 'collections' | 'query' | 'sobject';
}

function bodyError(message: string): ApiError {
    return new ApiError(400, 'JSON_PARSER_ERROR', message);
}

/** The request-level LIMIT_EXCEEDED answer (the shape a real org sends, see the file comment). */
function limitExceeded(message: string): Reply {
    return {
        status: 400,
        json: {
            compositeResponse: [
                {
                    body: [{ errorCode: 'LIMIT_EXCEEDED', message }],
                    httpHeaders: {},
                    httpStatusCode: 400,
                    referenceId: null
                }
            ]
        }
    };
}

/** Which family a subrequest URL belongs to, or undefined when Composite does not run it. */
function familyOf(
    rest: string,
    version: number
): Subrequest['family'] | undefined {
    const path = rest.split('?')[0].replace(/\/+$/, '');
    const first = path.split('/')[0];
    if (first === 'sobjects') return 'sobject';
    if (first === 'query' || first === 'queryAll') return 'query';
    if (
        version >= 43 &&
        (path === 'composite/sobjects' ||
            path.startsWith('composite/sobjects/'))
    )
        return 'collections';
    return undefined;
}

function parseSubrequests(body: unknown): {
    allOrNone: boolean;
    subrequests: Subrequest[];
} {
    if (!body || typeof body !== 'object' || Array.isArray(body))
        throw bodyError('The composite request body must be a JSON object');
    const b = body as Record<string, unknown>;
    for (const flag of ['allOrNone', 'collateSubrequests']) {
        if (b[flag] !== undefined && typeof b[flag] !== 'boolean')
            throw bodyError(`'${flag}' must be true or false`);
    }
    if (b.compositeRequest === undefined || b.compositeRequest === null)
        throw bodyError("'compositeRequest' is a required field.");
    if (!Array.isArray(b.compositeRequest))
        throw bodyError("'compositeRequest' must be an array of subrequests");
    const list = b.compositeRequest as unknown[];
    if (list.length === 0)
        throw bodyError(
            "'compositeRequest' must contain at least one subrequest"
        );
    const seen = new Set<string>();
    const subrequests = list.map((raw): Subrequest => {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw))
            throw bodyError('Each subrequest must be a JSON object');
        const s = raw as Record<string, unknown>;
        for (const field of ['method', 'url', 'referenceId']) {
            if (s[field] === undefined || s[field] === null)
                throw bodyError(`'${field}' is a required field.`);
            if (typeof s[field] !== 'string')
                throw bodyError(`'${field}' must be a string`);
        }
        const method = s.method as string;
        const url = s.url as string;
        const referenceId = s.referenceId as string;
        if (!METHODS.includes(method))
            throw bodyError(
                `'${method}' is not a valid value for 'method': use POST, PUT, PATCH, GET or DELETE (case-sensitive)`
            );
        if (!REFERENCE_ID_RE.test(referenceId))
            throw bodyError(
                `Provided referenceId ('${referenceId}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').`
            );
        if (seen.has(referenceId))
            throw bodyError(
                `Duplicate referenceId '${referenceId}': each subrequest needs its own`
            );
        seen.add(referenceId);
        const m = URL_RE.exec(url);
        if (!m)
            throw bodyError(
                `The subrequest URL must start with /services/data/vXX.X/: ${url}`
            );
        const family = familyOf(m[3], Number(m[1]));
        if (!family)
            throw bodyError(
                `The Composite resource does not run ${url.split('?')[0]}: only sObject resources, Query, QueryAll and sObject Collections (API 43.0 and later)`
            );
        const headers: Record<string, string> = {};
        if (s.httpHeaders !== undefined && s.httpHeaders !== null) {
            if (
                typeof s.httpHeaders !== 'object' ||
                Array.isArray(s.httpHeaders)
            )
                throw bodyError("'httpHeaders' must be an object of strings");
            for (const [k, v] of Object.entries(
                s.httpHeaders as Record<string, unknown>
            )) {
                if (FORBIDDEN_HEADERS.includes(k.toLowerCase()))
                    throw bodyError(
                        `Subrequests inherit the Accept, Authorization and Content-Type headers of the composite request: '${k}' can't be set in httpHeaders`
                    );
                if (typeof v !== 'string')
                    throw bodyError(`httpHeaders '${k}' must be a string`);
                headers[k.toLowerCase()] = v;
            }
        }
        return {
            method,
            url,
            referenceId,
            ...(s.body !== undefined ? { body: s.body } : {}),
            httpHeaders: headers,
            family
        };
    });
    return { allOrNone: b.allOrNone === true, subrequests };
}

// ---- references ------------------------------------------------------------------

class ReferenceFailure extends Error {}

const REFERENCE_RE = /@\{([^}]*)\}/g;
const EXPRESSION_RE = /^([A-Za-z0-9_]+)((?:\.[^.[\]]+|\[\d+\])*)$/;

interface Done {
    ok: boolean;
    body: unknown;
}

function invalidReference(expr: string): ReferenceFailure {
    const refId = /^[^.[]*/.exec(expr)?.[0] ?? expr;
    return new ReferenceFailure(
        `Invalid reference specified. No value for ${expr} found in ${refId}. Provided referenceId ('${expr}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_').`
    );
}

/** The value of `ref.a.b[0].c` in an earlier subrequest's body (scalars only). */
function lookup(
    expr: string,
    done: Map<string, Done>,
    nullResolves: boolean
): unknown {
    const m = EXPRESSION_RE.exec(expr.trim());
    if (!m) throw invalidReference(expr);
    const source = done.get(m[1]);
    if (!source || !source.ok) throw invalidReference(expr);
    let value: unknown = source.body;
    for (const step of m[2].match(/\.[^.[\]]+|\[\d+\]/g) ?? []) {
        if (value === null || typeof value !== 'object')
            throw invalidReference(expr);
        if (step.startsWith('[')) {
            if (!Array.isArray(value)) throw invalidReference(expr);
            value = value[Number(step.slice(1, -1))];
        } else {
            if (Array.isArray(value)) throw invalidReference(expr);
            const key = step.slice(1);
            if (!Object.prototype.hasOwnProperty.call(value, key))
                throw invalidReference(expr);
            value = (value as Record<string, unknown>)[key];
        }
    }
    if (value === undefined) throw invalidReference(expr);
    if (value === null) {
        if (!nullResolves) throw invalidReference(expr);
        return null;
    }
    // Referenceable types are scalars (DateTime, String, Boolean, numbers).
    if (typeof value === 'object') throw invalidReference(expr);
    return value;
}

function interpolate(
    text: string,
    done: Map<string, Done>,
    nullResolves: boolean
): string {
    return text.replace(REFERENCE_RE, (_, expr: string) => {
        const v = lookup(expr, done, nullResolves);
        return v === null ? 'null' : String(v);
    });
}

/** A body with its references replaced; a string that is one reference keeps the value's type. */
function resolveBody(
    value: unknown,
    done: Map<string, Done>,
    nullResolves: boolean
): unknown {
    if (typeof value === 'string') {
        const whole = /^@\{([^}]*)\}$/.exec(value);
        if (whole) return lookup(whole[1], done, nullResolves);
        return interpolate(value, done, nullResolves);
    }
    if (Array.isArray(value))
        return value.map((v) => resolveBody(v, done, nullResolves));
    if (value && typeof value === 'object') {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value))
            out[k] = resolveBody(v, done, nullResolves);
        return out;
    }
    return value;
}

// ---- dispatch --------------------------------------------------------------------

/**
 * A request object for a subrequest: its headers and its (JSON) body, read by the
 * handlers as they read a socket. Reading it resolves through promises only, so a
 * composite never lets another request run in the middle of its transaction.
 */
function subrequestMessage(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined
): IncomingMessage {
    const chunks = body === undefined ? [] : [Buffer.from(body, 'utf8')];
    return {
        method,
        url,
        headers: {
            ...headers,
            'content-type': 'application/json',
            ...(body !== undefined
                ? { 'content-length': String(Buffer.byteLength(body)) }
                : {})
        },
        resume() {
            return this;
        },
        async *[Symbol.asyncIterator]() {
            for (const c of chunks) yield c;
        }
    } as unknown as IncomingMessage;
}

function errorResult(
    referenceId: string,
    errorCode: string,
    message: string
): CompositeSubrequestResult {
    return {
        body: [{ errorCode, message }],
        httpHeaders: {},
        httpStatusCode: 400,
        referenceId
    };
}

/** Whether a subrequest failed (a Collections answer with a failed record counts under allOrNone). */
function failed(
    result: CompositeSubrequestResult,
    sub: Subrequest,
    allOrNone: boolean
): boolean {
    if (result.httpStatusCode >= 400) return true;
    return (
        allOrNone &&
        sub.family === 'collections' &&
        Array.isArray(result.body) &&
        result.body.some(
            (r) =>
                r !== null &&
                typeof r === 'object' &&
                (r as { success?: unknown }).success === false
        )
    );
}

/**
 * POST /composite. `route` resolves a subrequest exactly as the server resolves a
 * top-level request (it throws ApiError for unknown paths and methods).
 */
export async function compositeReply(
    org: OrgContext,
    ctx: RequestContext,
    route: (sub: RequestContext) => SubRoute
): Promise<Reply> {
    const parsed = parseSubrequestsOrLimit(await readJson(ctx.req));
    if ('reply' in parsed) return parsed.reply;
    const { allOrNone, subrequests } = parsed;
    // API 52.0 and later: a reference to a null field resolves (to null).
    const nullResolves = Number.parseFloat(ctx.apiVersion) >= 52;
    const { db } = org.store;
    const results: CompositeSubrequestResult[] = [];
    const done = new Map<string, Done>();
    let failedAt = -1;
    // With allOrNone every subrequest runs inside one savepoint: the handlers' own
    // transactions nest in it (better-sqlite3 uses savepoints inside a transaction),
    // and a failure rolls all of it back. Nothing in between may yield to the event
    // loop (another request's writes would join the transaction): the tripwire below
    // turns such a bug into a failed request instead of a silent mix.
    let yielded = false;
    const tripwire = allOrNone
        ? setImmediate(() => {
              yielded = true;
          })
        : undefined;
    if (allOrNone) db.exec('SAVEPOINT lo_composite');
    try {
        for (const sub of subrequests) {
            if (allOrNone && failedAt >= 0) {
                results.push(
                    errorResult(
                        sub.referenceId,
                        'PROCESSING_HALTED',
                        ROLLED_BACK_MESSAGE
                    )
                );
                continue;
            }
            const result = await runOne(
                org,
                ctx,
                route,
                sub,
                done,
                allOrNone,
                nullResolves
            );
            results.push(result);
            const ok = !failed(result, sub, allOrNone);
            done.set(sub.referenceId, { ok, body: result.body });
            if (!ok && failedAt < 0) failedAt = results.length - 1;
        }
        if (yielded)
            throw new Error(
                'composite: the event loop ran other work inside an allOrNone transaction'
            );
        if (allOrNone && failedAt >= 0) {
            db.exec('ROLLBACK TO lo_composite');
            results.forEach((r, i) => {
                if (i < failedAt)
                    results[i] = errorResult(
                        r.referenceId ?? '',
                        'PROCESSING_HALTED',
                        ROLLED_BACK_MESSAGE
                    );
            });
        }
        if (allOrNone) db.exec('RELEASE lo_composite');
    } catch (err) {
        if (allOrNone && db.inTransaction) {
            db.exec('ROLLBACK TO lo_composite');
            db.exec('RELEASE lo_composite');
        }
        throw err;
    } finally {
        if (tripwire) clearImmediate(tripwire);
    }
    return { status: 200, json: { compositeResponse: results } };
}

function parseSubrequestsOrLimit(
    body: unknown
): { reply: Reply } | ReturnType<typeof parseSubrequests> {
    const list =
        body && typeof body === 'object' && !Array.isArray(body)
            ? (body as { compositeRequest?: unknown }).compositeRequest
            : undefined;
    if (Array.isArray(list) && list.length > MAX_SUBREQUESTS)
        return {
            reply: limitExceeded(
                `The request can’t contain more than ${MAX_SUBREQUESTS} operations.`
            )
        };
    const parsed = parseSubrequests(body);
    const heavy = parsed.subrequests.filter(
        (s) => s.family === 'collections' || s.family === 'query'
    ).length;
    if (heavy > MAX_COLLECTION_OR_QUERY_SUBREQUESTS)
        return {
            reply: limitExceeded(
                `The request can’t contain more than ${MAX_COLLECTION_OR_QUERY_SUBREQUESTS} sObject Collections or query operations.`
            )
        };
    return parsed;
}

async function runOne(
    org: OrgContext,
    parent: RequestContext,
    route: (sub: RequestContext) => SubRoute,
    sub: Subrequest,
    done: Map<string, Done>,
    allOrNone: boolean,
    nullResolves: boolean
): Promise<CompositeSubrequestResult> {
    let urlText: string;
    let body: unknown;
    try {
        urlText = interpolate(sub.url, done, nullResolves);
        body =
            sub.body === undefined
                ? undefined
                : resolveBody(sub.body, done, nullResolves);
    } catch (err) {
        if (err instanceof ReferenceFailure)
            return errorResult(
                sub.referenceId,
                'PROCESSING_HALTED',
                err.message
            );
        throw err;
    }
    const url = new URL(`http://localhost${urlText}`);
    const parts = url.pathname
        .replace(/\/+$/, '')
        .split('/')
        .filter(Boolean)
        .map((p) => decodeURIComponent(p));
    const vm = /^v(\d+)\.(\d)$/.exec(parts[2] ?? '');
    const major = vm ? Number(vm[1]) : 0;
    // An outer allOrNone applies to every sObject Collections subrequest.
    if (allOrNone && sub.family === 'collections') {
        if (body && typeof body === 'object' && !Array.isArray(body))
            body = { ...(body as Record<string, unknown>), allOrNone: true };
        if (sub.method === 'DELETE') url.searchParams.set('allOrNone', 'true');
    }
    const text =
        body === undefined || sub.method === 'GET'
            ? undefined
            : JSON.stringify(body);
    const ctx: RequestContext = {
        req: subrequestMessage(
            sub.method,
            url.pathname + url.search,
            sub.httpHeaders,
            text
        ),
        method: sub.method,
        url,
        segments: parts.slice(3),
        apiVersion: vm ? `${vm[1]}.${vm[2]}` : parent.apiVersion,
        userId: parent.userId,
        access: parent.access
    };
    let reply: Reply;
    let kind = 'other';
    try {
        if (!vm || major < MIN_VERSION || major > MAX_VERSION)
            throw new ApiError(
                404,
                'NOT_FOUND',
                'The requested resource does not exist'
            );
        const r = route(ctx);
        kind = r.kind;
        reply = await r.run();
    } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        reply = { status: err.status, json: err.body() };
    }
    org.stats.countSubrequest(kind);
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    const json = reply.json as { id?: unknown } | undefined;
    if (
        reply.status === 201 &&
        json &&
        typeof json.id === 'string' &&
        parts[3] === 'sobjects' &&
        parts[4]
    )
        headers.Location = `/services/data/v${ctx.apiVersion}/sobjects/${parts[4]}/${json.id}`;
    return {
        body: reply.json !== undefined ? reply.json : (reply.text ?? null),
        httpHeaders: headers,
        httpStatusCode: reply.status,
        referenceId: sub.referenceId
    };
}

/** GET /composite: the composite resources of a version (as a real org lists them). */
export function compositeResources(v: string): Reply {
    const base = `/services/data/v${v}/composite`;
    return {
        status: 200,
        json: {
            tree: `${base}/tree`,
            batch: `${base}/batch`,
            sobjects: `${base}/sobjects`,
            graph: `${base}/graph`
        }
    };
}
