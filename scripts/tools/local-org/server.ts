/**
 * The local org: an HTTP server that speaks the Salesforce REST, Bulk API 2.0 and
 * Metadata REST deploy wire formats this project uses, on SQLite, so that jsforce,
 * @salesforce/core, source-deploy-retrieve and the sf CLI run against it unchanged.
 *
 *   const org = await startLocalOrg({ port: 0, dbPath: ':memory:' });
 *   const conn = new jsforce.Connection({ instanceUrl: org.instanceUrl, accessToken: org.accessToken });
 *
 * Routes: /services/data (versions), /services/data/vNN.N/… (REST, Composite, Bulk 2.0,
 * deploy),
 * /services/oauth2/userinfo, /id/{org}/{user}, and the admin routes under /local/
 * (admin.ts). Faults and latency (faults.ts) apply to /services/ routes only.
 */
import {
    createServer,
    type IncomingMessage,
    type Server,
    type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoute, createAdmin, type AdminHandle } from './admin';
import { BulkService } from './bulk';
import {
    ApiUsage,
    DEFAULT_ORG_OPTIONS,
    type OrgContext,
    type OrgOptions,
    type OrgSettings,
    parseOrgOptions,
    Stats
} from './context';
import { compositeReply, compositeResources } from './composite';
import { DeployService } from './deploy';
import { ApiError } from './errors';
import {
    type FaultSpec,
    FaultInjector,
    parseFaultSpec,
    parseLatency
} from './faults';
import { JSON_TYPE, type Reply, type RequestContext, errorReply } from './http';
import { QueryEngine } from './query';
import * as rest from './rest';
import { type Access, runAs } from './sharing';
import { OrgStore } from './store';
import { accessFor, userForToken } from './users';

export interface LocalOrgOptions {
    /** TCP port; 0 (default) picks a free one. */
    port?: number;
    /** Interface to listen on (default 127.0.0.1). */
    host?: string;
    /** SQLite file, or ':memory:' (default). */
    dbPath?: string;
    /** Daily API request allowance (default 15,000). */
    apiLimit?: number;
    /** Fixed latency in ms, or a {min,max} range, per /services/ request. */
    latencyMs?: number | { min: number; max: number };
    /** Fault SPEC (see faults.ts) or a parsed spec. */
    faults?: string | FaultSpec;
    /** Seed of the fault/latency random sequence (default 1). */
    seed?: number;
    /** Receives one line per request and internal errors. */
    log?: (line: string) => void;
    /** Rows per Bulk ingest transaction (default 10,000). */
    bulkChunkSize?: number;
    /** Rows per Bulk query result page when maxRecords is not given (default 50,000). */
    bulkQueryPageSize?: number;
    /**
     * Org configuration (see OrgOptions): given keys replace the ones stored in the
     * file, and are stored; the rest keep their stored (or default, strict) values.
     */
    orgOptions?: Partial<OrgOptions>;
}

export interface LocalOrg {
    instanceUrl: string;
    accessToken: string;
    port: number;
    dbPath: string;
    orgId: string;
    userId: string;
    username: string;
    admin: AdminHandle;
    close(): Promise<void>;
}

interface Route {
    kind: string;
    /** Counts against the daily API allowance (and carries Sforce-Limit-Info). */
    counted: boolean;
    auth: boolean;
    run: () => Promise<Reply> | Reply;
}

function methodNotAllowed(method: string, allowed: string[]): ApiError {
    return new ApiError(
        405,
        'METHOD_NOT_ALLOWED',
        `HTTP Method '${method}' not allowed. Allowed are ${allowed.join(',')}`
    );
}

function pick(method: string, table: Record<string, () => Route>): Route {
    const f = table[method];
    if (!f) throw methodNotAllowed(method, Object.keys(table));
    return f();
}

function dataRoute(
    org: OrgContext,
    bulk: BulkService,
    deploys: DeployService,
    ctx: RequestContext
): Route {
    const s = ctx.segments;
    const m = ctx.method;
    const r = (kind: string, run: () => Promise<Reply> | Reply): Route => ({
        kind,
        counted: true,
        auth: true,
        run
    });
    const v = ctx.apiVersion;
    if (s.length === 0)
        return pick(m, { GET: () => r('resources', () => rest.resources(v)) });
    switch (s[0]) {
        case 'limits':
            if (s.length === 1)
                return pick(m, {
                    GET: () => r('limits', () => rest.limits(org))
                });
            break;
        case 'sobjects': {
            if (s.length === 1)
                return pick(m, {
                    GET: () =>
                        r('describeGlobal', () =>
                            rest.describeGlobalReply(org, v)
                        )
                });
            const type = s[1];
            if (s.length === 2) {
                return pick(m, {
                    GET: () =>
                        r('sobjectBasic', () =>
                            rest.sobjectBasic(org, type, v)
                        ),
                    POST: () =>
                        r('sobjectCreate', () =>
                            rest.sobjectCreate(org, ctx, type)
                        )
                });
            }
            if (s.length === 3 && (s[2] === 'updated' || s[2] === 'deleted')) {
                const which = s[2];
                return pick(m, {
                    GET: () =>
                        r(
                            which === 'updated'
                                ? 'sobjectUpdated'
                                : 'sobjectDeleted',
                            () => rest.changedRecords(org, ctx, type, which)
                        )
                });
            }
            if (s.length === 3 && s[2] === 'describe') {
                return pick(m, {
                    GET: () =>
                        r('describe', () => rest.describeReply(org, type, v))
                });
            }
            if (s.length === 3) {
                const id = s[2];
                return pick(m, {
                    GET: () =>
                        r('sobjectRead', () =>
                            rest.sobjectRead(org, ctx, type, id)
                        ),
                    PATCH: () =>
                        r('sobjectUpdate', () =>
                            rest.sobjectUpdate(org, ctx, type, id)
                        ),
                    DELETE: () =>
                        r('sobjectDelete', () =>
                            rest.sobjectDelete(org, type, id)
                        )
                });
            }
            if (s.length === 4) {
                const run = (): Promise<Reply> =>
                    rest.sobjectByExternalId(org, ctx, type, s[2], s[3]);
                return pick(m, {
                    GET: () => r('sobjectRead', run),
                    PATCH: () => r('sobjectUpsert', run),
                    POST: () => r('sobjectUpsert', run),
                    DELETE: () => r('sobjectDelete', run)
                });
            }
            break;
        }
        case 'query':
        case 'queryAll':
            if (s.length <= 2) {
                const kind = s.length === 2 ? 'queryMore' : s[0];
                return pick(m, {
                    GET: () =>
                        r(kind, () =>
                            rest.queryReply(org, ctx, s[0] === 'queryAll')
                        )
                });
            }
            break;
        case 'composite':
            if (s.length === 1) {
                return pick(m, {
                    GET: () =>
                        r('compositeResources', () => compositeResources(v)),
                    POST: () =>
                        r('composite', () =>
                            compositeReply(org, ctx, (sub) =>
                                dataRoute(org, bulk, deploys, sub)
                            )
                        )
                });
            }
            if (s[1] === 'sobjects') {
                if (s.length === 2) {
                    return pick(m, {
                        POST: () =>
                            r('collectionsCreate', () =>
                                rest.collectionsCreate(org, ctx)
                            ),
                        PATCH: () =>
                            r('collectionsUpdate', () =>
                                rest.collectionsUpdate(org, ctx)
                            ),
                        DELETE: () =>
                            r('collectionsDelete', () =>
                                rest.collectionsDelete(org, ctx)
                            )
                    });
                }
                if (s.length === 3) {
                    return pick(m, {
                        POST: () =>
                            r('collectionsRetrieve', () =>
                                rest.collectionsRetrieve(org, ctx, s[2])
                            ),
                        GET: () =>
                            r('collectionsRetrieve', () =>
                                rest.collectionsRetrieve(org, ctx, s[2])
                            )
                    });
                }
                if (s.length === 4) {
                    return pick(m, {
                        PATCH: () =>
                            r('collectionsUpsert', () =>
                                rest.collectionsUpsert(org, ctx, s[2], s[3])
                            )
                    });
                }
            }
            break;
        case 'jobs':
            if (s[1] === 'ingest') {
                if (s.length === 2) {
                    return pick(m, {
                        POST: () =>
                            r('bulkIngestCreate', () => bulk.createIngest(ctx)),
                        GET: () => r('bulkIngestList', () => bulk.listIngest())
                    });
                }
                const id = s[2];
                if (s.length === 3) {
                    return pick(m, {
                        GET: () =>
                            r('bulkIngestStatus', () => bulk.getIngest(id)),
                        PATCH: () =>
                            r('bulkIngestClose', () =>
                                bulk.patchIngest(ctx, id)
                            ),
                        DELETE: () =>
                            r('bulkIngestDelete', () =>
                                bulk.deleteJob(id, 'ingest')
                            )
                    });
                }
                if (s.length === 4) {
                    if (s[3] === 'batches')
                        return pick(m, {
                            PUT: () =>
                                r('bulkIngestUpload', () =>
                                    bulk.upload(ctx, id)
                                )
                        });
                    const which =
                        s[3] === 'successfulResults'
                            ? 'success'
                            : s[3] === 'failedResults'
                              ? 'failed'
                              : s[3] === 'unprocessedrecords'
                                ? 'unprocessed'
                                : null;
                    if (which)
                        return pick(m, {
                            GET: () =>
                                r('bulkIngestResults', () =>
                                    bulk.results(id, which)
                                )
                        });
                }
            }
            if (s[1] === 'query') {
                if (s.length === 2) {
                    return pick(m, {
                        POST: () =>
                            r('bulkQueryCreate', () => bulk.createQuery(ctx)),
                        GET: () => r('bulkQueryList', () => bulk.listQuery())
                    });
                }
                const id = s[2];
                if (s.length === 3) {
                    return pick(m, {
                        GET: () =>
                            r('bulkQueryStatus', () => bulk.getQuery(id)),
                        PATCH: () =>
                            r('bulkQueryAbort', () => bulk.patchQuery(ctx, id)),
                        DELETE: () =>
                            r('bulkQueryDelete', () =>
                                bulk.deleteJob(id, 'query')
                            )
                    });
                }
                if (s.length === 4 && s[3] === 'results') {
                    return pick(m, {
                        GET: () =>
                            r('bulkQueryResults', () =>
                                bulk.queryResults(ctx, id)
                            )
                    });
                }
            }
            break;
        case 'metadata':
            if (s[1] === 'deployRequest') {
                if (s.length === 2)
                    return pick(m, {
                        POST: () => r('deploy', () => deploys.create(ctx))
                    });
                if (s.length === 3) {
                    return pick(m, {
                        GET: () =>
                            r('deployStatus', () => deploys.get(ctx, s[2])),
                        PATCH: () =>
                            r('deployCancel', () => deploys.cancel(ctx, s[2]))
                    });
                }
            }
            break;
        case 'tooling':
            // The local org has no Tooling API objects: queries answer as an org without them.
            if (s[1] === 'query' || s[1] === 'sobjects') {
                return pick(m, {
                    GET: () =>
                        r('tooling', () => {
                            const q = ctx.url.searchParams.get('q') ?? '';
                            const name =
                                /\bfrom\s+([A-Za-z0-9_]+)/i.exec(q)?.[1] ??
                                s[2] ??
                                '';
                            throw new ApiError(
                                400,
                                'INVALID_TYPE',
                                `sObject type '${name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`
                            );
                        })
                });
            }
            break;
        default:
            break;
    }
    throw new ApiError(
        404,
        'NOT_FOUND',
        'The requested resource does not exist'
    );
}

function sendReply(
    res: ServerResponse,
    reply: Reply,
    extraHeaders: Record<string, string>
): Promise<void> {
    const headers: Record<string, string> = {
        ...extraHeaders,
        ...(reply.headers ?? {})
    };
    if (reply.json !== undefined) {
        const body = JSON.stringify(reply.json);
        headers['Content-Type'] = JSON_TYPE;
        headers['Content-Length'] = String(Buffer.byteLength(body));
        res.writeHead(reply.status, headers);
        res.end(body);
        return Promise.resolve();
    }
    if (reply.text !== undefined) {
        headers['Content-Type'] =
            reply.contentType ?? 'text/plain;charset=UTF-8';
        headers['Content-Length'] = String(Buffer.byteLength(reply.text));
        res.writeHead(reply.status, headers);
        res.end(reply.text);
        return Promise.resolve();
    }
    if (reply.stream) {
        if (reply.contentType) headers['Content-Type'] = reply.contentType;
        res.writeHead(reply.status, headers);
        return reply.stream(res).then(
            () => {
                res.end();
            },
            (err: unknown) => {
                res.destroy(
                    err instanceof Error ? err : new Error(String(err))
                );
            }
        );
    }
    res.writeHead(reply.status, headers);
    res.end();
    return Promise.resolve();
}

function faultReply(status: number): Reply {
    switch (status) {
        case 403:
            // The concurrent long-running request limit: REST answers 403 with
            // REQUEST_LIMIT_EXCEEDED ("If the error code is REQUEST_LIMIT_EXCEEDED,
            // you've exceeded API request limits in your org",
            // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm)
            // and this message (listed as intermittent in Adobe Marketo's "Salesforce
            // Sync Errors" page, and what integrations retry on), no Retry-After. Same status and code as the daily allowance
            // (TotalRequests Limit exceeded.): only the message tells them apart.
            return {
                status,
                json: [
                    {
                        message: 'ConcurrentPerOrgLongTxn Limit exceeded.',
                        errorCode: 'REQUEST_LIMIT_EXCEEDED'
                    }
                ]
            };
        case 503:
            return {
                status,
                json: [
                    {
                        message:
                            'Server temporarily unavailable. Please try again later.',
                        errorCode: 'SERVER_UNAVAILABLE'
                    }
                ]
            };
        case 500:
            return {
                status,
                json: [
                    {
                        message: `An unexpected error occurred. Please include this ErrorId if you contact support: ${Math.floor(
                            Math.random() * 1e9
                        )}-${Math.floor(Math.random() * 1e5)} (-${Math.floor(Math.random() * 1e9)})`,
                        errorCode: 'UNKNOWN_EXCEPTION'
                    }
                ]
            };
        case 429:
            return {
                status,
                headers: { 'Retry-After': '1' },
                json: [
                    {
                        message: 'ConcurrentPerOrgLongTxn Limit exceeded.',
                        errorCode: 'REQUEST_LIMIT_EXCEEDED'
                    }
                ]
            };
        default:
            return {
                status,
                contentType: 'text/html',
                text: `<html><head><title>${status} ${status === 502 ? 'Bad Gateway' : 'Gateway Timeout'}</title></head><body><h1>${status === 502 ? 'Bad Gateway' : 'Gateway Timeout'}</h1></body></html>`
            };
    }
}

const VERSION_RE = /^v(\d+)\.(\d)$/;

/** Starts a local org and resolves once it listens. */
export async function startLocalOrg(
    options: LocalOrgOptions = {}
): Promise<LocalOrg> {
    const dbPath = options.dbPath ?? ':memory:';
    const store = new OrgStore(dbPath);
    const stored = store.getMeta('orgOptions');
    const orgOptions: OrgOptions = {
        ...DEFAULT_ORG_OPTIONS,
        ...(stored ? parseOrgOptions(JSON.parse(stored)) : {}),
        ...(options.orgOptions ? parseOrgOptions(options.orgOptions) : {})
    };
    if (options.orgOptions)
        store.setMeta('orgOptions', JSON.stringify(orgOptions));
    const settings: OrgSettings = {
        options: orgOptions,
        bulkChunkSize: options.bulkChunkSize ?? 10_000,
        bulkQueryPageSize: options.bulkQueryPageSize ?? 50_000,
        apiLimit: options.apiLimit ?? 15_000
    };
    const faults = new FaultInjector(options.seed ?? 1);
    if (options.faults)
        faults.set(
            typeof options.faults === 'string'
                ? parseFaultSpec(options.faults)
                : options.faults
        );
    if (options.latencyMs !== undefined) {
        faults.setLatency(
            typeof options.latencyMs === 'number'
                ? { min: options.latencyMs, max: options.latencyMs }
                : options.latencyMs
        );
    }
    let instanceUrl = '';
    const log = options.log ?? ((): void => undefined);
    const queries = new QueryEngine(store);
    const org: OrgContext = {
        store,
        queries,
        faults,
        stats: new Stats(),
        usage: new ApiUsage(store, settings.apiLimit),
        settings,
        instanceUrl: () => instanceUrl,
        log
    };
    const bulk = new BulkService(org);
    const deploys = new DeployService(org);
    const admin = createAdmin(org, queries);

    // Sharing reads the live options (PUT /local/options changes them in place).
    store.sharingOptions = settings.options;

    /** The user whose session the bearer token is, or undefined (401). */
    const authenticate = (req: IncomingMessage): string | undefined => {
        const h = req.headers.authorization ?? '';
        const m = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(h);
        return m ? userForToken(store, m[1].trim()) : undefined;
    };

    async function handle(
        req: IncomingMessage,
        res: ServerResponse
    ): Promise<void> {
        const started = Date.now();
        const method = (req.method ?? 'GET').toUpperCase();
        // Clients with a trailing slash on the instance URL send //services/…: collapse it.
        const url = new URL(
            `http://localhost${(req.url ?? '/').replace(/^\/+/, '/')}`
        );
        const path = url.pathname.replace(/\/+$/, '') || '/';
        const parts = path
            .split('/')
            .filter(Boolean)
            .map((p) => decodeURIComponent(p));
        const ctx: RequestContext = {
            req,
            method,
            url,
            segments: [],
            apiVersion: '66.0'
        };
        let status = 0;
        const finish = (
            reply: Reply,
            extra: Record<string, string> = {}
        ): Promise<void> => {
            status = reply.status;
            return sendReply(res, reply, extra);
        };
        try {
            // Admin routes: same token, no faults, not counted.
            if (parts[0] === 'local') {
                const adminUser = authenticate(req);
                if (!adminUser) {
                    req.resume();
                    await finish(
                        errorReply(
                            new ApiError(
                                401,
                                'INVALID_SESSION_ID',
                                'Session expired or invalid'
                            )
                        )
                    );
                    return;
                }
                // The admin surface is the org's setup: administrators only.
                if (!accessFor(store, adminUser).modifyAllData) {
                    req.resume();
                    await finish(
                        errorReply(
                            new ApiError(
                                403,
                                'INSUFFICIENT_ACCESS',
                                'The /local/ admin routes need a System Administrator session'
                            )
                        )
                    );
                    return;
                }
                ctx.segments = parts.slice(1);
                let reply: Reply;
                try {
                    reply = await adminRoute(org, admin, ctx);
                } catch (err) {
                    if (!(err instanceof ApiError)) throw err;
                    req.resume();
                    reply = errorReply(err);
                }
                await finish(reply);
                return;
            }
            let route: Route;
            let limitHeader = false;
            if (
                parts[0] === 'services' &&
                parts[1] === 'data' &&
                parts.length === 2
            ) {
                route = {
                    kind: 'versions',
                    counted: false,
                    auth: false,
                    run: () => rest.versions()
                };
            } else if (
                parts[0] === 'services' &&
                parts[1] === 'oauth2' &&
                parts[2] === 'userinfo' &&
                parts.length === 3
            ) {
                route = {
                    kind: 'userinfo',
                    counted: false,
                    auth: true,
                    run: () => rest.userinfo(org, undefined, ctx.userId)
                };
            } else if (parts[0] === 'services' && parts[1] === 'Soap') {
                // The SOAP APIs are not served: say so in a SOAP fault that sf and
                // jsforce show as the error message.
                req.resume();
                await finish({
                    status: 500,
                    contentType: 'text/xml;charset=UTF-8',
                    text: `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:UNSUPPORTED_API</faultcode><faultstring>UNSUPPORTED_API: The local org serves the REST APIs only (no SOAP). For sf project deploy start, set SF_ORG_METADATA_REST_DEPLOY=true.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`
                });
                return;
            } else if (parts[0] === 'id' && parts.length === 3) {
                route = {
                    kind: 'identity',
                    counted: false,
                    auth: true,
                    run: () => rest.userinfo(org, undefined, ctx.userId)
                };
            } else if (parts[0] === 'services' && parts[1] === 'data') {
                const vm = VERSION_RE.exec(parts[2]);
                const major = vm ? Number(vm[1]) : 0;
                if (
                    !vm ||
                    major < rest.MIN_VERSION ||
                    major > rest.MAX_VERSION
                ) {
                    req.resume();
                    org.stats.rejected.notFound++;
                    await finish(
                        errorReply(
                            new ApiError(
                                404,
                                'NOT_FOUND',
                                'The requested resource does not exist'
                            )
                        )
                    );
                    return;
                }
                ctx.apiVersion = `${vm[1]}.${vm[2]}`;
                ctx.segments = parts.slice(3);
                limitHeader = true;
                try {
                    route = dataRoute(org, bulk, deploys, ctx);
                } catch (err) {
                    if (!(err instanceof ApiError)) throw err;
                    const e = err;
                    route = {
                        kind: 'other',
                        counted: true,
                        auth: true,
                        run: () => {
                            throw e;
                        }
                    };
                }
            } else {
                req.resume();
                org.stats.rejected.notFound++;
                await finish(
                    errorReply(
                        new ApiError(
                            404,
                            'NOT_FOUND',
                            'The requested resource does not exist'
                        )
                    )
                );
                return;
            }

            // Faults and latency (every /services/ route, nothing else).
            const services = parts[0] === 'services';
            const delay = services ? faults.latencyMs() : 0;
            if (delay > 0)
                await new Promise((resolve) => setTimeout(resolve, delay));
            const fault = services ? faults.forRequest(route.kind, method) : {};
            org.stats.count(route.kind);
            if (fault.drop === 'before') {
                status = -1;
                req.socket.destroy();
                return;
            }
            if (fault.status) {
                req.resume();
                await finish(faultReply(fault.status), { Connection: 'close' });
                return;
            }
            const sessionUser = route.auth ? authenticate(req) : undefined;
            if (route.auth && !sessionUser) {
                req.resume();
                org.stats.rejected.unauthorized++;
                await finish(
                    errorReply(
                        new ApiError(
                            401,
                            'INVALID_SESSION_ID',
                            'Session expired or invalid'
                        )
                    )
                );
                return;
            }
            if (route.counted) {
                if (org.usage.exhausted()) {
                    req.resume();
                    org.stats.rejected.limitExceeded++;
                    await finish(
                        errorReply(
                            new ApiError(
                                403,
                                'REQUEST_LIMIT_EXCEEDED',
                                'TotalRequests Limit exceeded.'
                            )
                        ),
                        {
                            'Sforce-Limit-Info': org.usage.header()
                        }
                    );
                    return;
                }
                org.usage.increment();
            }
            let reply: Reply;
            try {
                if (sessionUser) {
                    ctx.userId = sessionUser;
                    ctx.access = accessFor(store, sessionUser);
                }
                if (sessionUser && sessionUser !== store.userId) {
                    // Every store write and query of this request (and the Bulk
                    // jobs it starts) runs as the session's user (sharing.ts). The
                    // org's own admin runs outside it, as the org itself (Modify All
                    // Data, the same ids): an active AsyncLocalStorage slows every
                    // promise in the process (Node 20 promise hooks, about 2x on a
                    // promise-bound loop), and the benchmarks run as the admin.
                    reply = await runAs(ctx.access as Access, () =>
                        route.run()
                    );
                } else reply = await route.run();
            } catch (err) {
                if (!(err instanceof ApiError)) throw err;
                req.resume();
                reply = errorReply(err);
            }
            if (fault.drop === 'after') {
                status = -2;
                req.socket.destroy();
                return;
            }
            await finish(
                reply,
                limitHeader && route.counted
                    ? { 'Sforce-Limit-Info': org.usage.header() }
                    : {}
            );
        } catch (err) {
            log(
                `internal error on ${method} ${url.pathname}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
            );
            if (!res.headersSent) {
                req.resume();
                await finish({
                    status: 500,
                    json: [
                        {
                            message: `An unexpected error occurred: ${err instanceof Error ? err.message : String(err)}`,
                            errorCode: 'UNKNOWN_EXCEPTION'
                        }
                    ]
                }).catch(() => undefined);
            } else {
                res.destroy();
            }
        } finally {
            if (options.log) {
                const shown =
                    status === -1
                        ? 'dropped before'
                        : status === -2
                          ? 'dropped after'
                          : String(status);
                log(
                    `${method} ${url.pathname}${url.search ? url.search.slice(0, 120) : ''} ${shown} ${Date.now() - started}ms`
                );
            }
        }
    }

    const server: Server = createServer((req, res) => {
        void handle(req, res);
    });
    // Salesforce resets a keep-alive connection left idle for about a minute ("if the
    // connection is idle for 1min … salesforce will reset the connection", Apache
    // Synapse's ConnectionTimeoutConfiguration, synapse-nhttp-transport 2.1.7 source):
    // 60 s here too. A shorter idle timeout than Salesforce's made clients meet resets
    // a real org would not give them; jsforce retries a streamed Bulk upload after a
    // reset with its body already read, so the job got an empty upload.
    server.keepAliveTimeout = 60_000;
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    const urlHost =
        host === '0.0.0.0' || host === '::'
            ? '127.0.0.1'
            : host.includes(':')
              ? `[${host}]`
              : host;
    instanceUrl = `http://${urlHost}:${port}`;
    const userRow =
        store.getRow(store.getObject('User') as never, store.userId) ?? {};

    let closed = false;
    return {
        instanceUrl,
        accessToken: store.accessToken,
        port,
        dbPath,
        orgId: store.orgId,
        userId: store.userId,
        username: String(userRow.Username ?? ''),
        admin,
        async close() {
            if (closed) return;
            closed = true;
            await new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            });
            await bulk.close();
            await deploys.close();
            org.usage.flush();
            store.close();
        }
    };
}

export { parseFaultSpec, parseLatency };
