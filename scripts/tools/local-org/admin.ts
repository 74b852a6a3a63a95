/**
 * The local org's admin surface (test setup and measurement), outside /services/ so
 * that no Salesforce client ever calls it by accident: `/local/…` over HTTP with the
 * org's bearer token, and the same operations in-process through `LocalOrg.admin`.
 * Faults and latency never apply here, and nothing here counts against the API limit.
 */
import { type OrgContext, type OrgOptions, parseOrgOptions } from './context';
import { ApiError } from './errors';
import {
    type FaultSpec,
    FaultSpecError,
    formatFaultSpec,
    parseFaultSpec,
    parseLatency
} from './faults';
import { type Reply, type RequestContext, jsonReply, readJson } from './http';
import { type MergeResult, RecordFailure, type UndeleteResult } from './store';
import {
    type CreatedUser,
    type NewUser,
    createUser,
    setUserActive
} from './users';

export interface LocalOrgStats {
    /** Requests counted against the daily allowance (Sforce-Limit-Info). */
    apiUsage: number;
    apiLimit: number;
    /** Every /services/ request, counted or not, faulted or not. */
    totalRequests: number;
    byKind: Record<string, number>;
    /**
     * Sums over families of kinds: collections, bulkIngest, bulkQuery, sobjectRow, query,
     * describe, deploy, composite (one per Composite request, whatever it carried).
     */
    groups: Record<string, number>;
    /** Subrequests run inside Composite requests, per kind (not requests of their own). */
    compositeSubrequests: Record<string, number>;
    rejected: { unauthorized: number; limitExceeded: number; notFound: number };
    faultsInjected: Record<string, number>;
    records: { inserted: number; updated: number; deleted: number };
    bulk: { batches: number; queryJobs: number; recordsProcessed: number };
    deploys: number;
    openQueryCursors: number;
}

export interface AdminHandle {
    stats(): LocalOrgStats;
    resetStats(): void;
    /** Replaces the fault rules (SPEC text or parsed); latency in the spec replaces the latency. */
    setFaults(spec: string | FaultSpec): void;
    getFaults(): { spec: string; faults: FaultSpec };
    clearFaults(): void;
    /** Fixed (number) or random ({min,max}) latency per request; null for none. */
    setLatency(latency: number | { min: number; max: number } | null): void;
    convertLead(
        leadId: string,
        options?: { contactId?: string; accountId?: string }
    ): { leadId: string; contactId: string; accountId: string };
    /**
     * Merges 1 or 2 Contacts (or Leads) into a master, as Salesforce's merge: lookups
     * to the losers are re-parented to the master, the losers are deleted.
     */
    merge(masterId: string, duplicateIds: string[]): MergeResult;
    /** Restores records from the Recycle Bin, as Salesforce's undelete(). */
    undelete(ids: string[]): UndeleteResult[];
    resetUsage(): void;
    setUsage(used: number): void;
    setApiLimit(limit: number): void;
    reseed(seed: number): void;
    /** The org's configuration (duplicate rules, Translation Workbench, sharing). */
    getOptions(): OrgOptions;
    /** Changes some options (validated; unknown keys refused) and stores them. */
    setOptions(options: Partial<OrgOptions>): OrgOptions;
    /**
     * Creates an active user (profile 'Standard User' unless given) with its own
     * session: requests with its accessToken run as that user (sharing applies).
     */
    createUser(input: NewUser): CreatedUser;
    /** Deactivates (or reactivates) a user: its token stops working, it cannot own records. */
    setUserActive(userId: string, active: boolean): void;
    /** Every user: id, username, profile id, active. */
    listUsers(): Array<{
        id: string;
        username: string;
        profileId: string | null;
        isActive: boolean;
    }>;
}

const GROUPS: Record<string, string[]> = {
    collections: ['collections'],
    bulkIngest: ['bulkIngest'],
    bulkQuery: ['bulkQuery'],
    sobjectRow: [
        'sobjectCreate',
        'sobjectRead',
        'sobjectUpdate',
        'sobjectDelete',
        'sobjectUpsert'
    ],
    query: ['query', 'queryAll', 'queryMore'],
    describe: ['describe', 'describeGlobal', 'sobjectBasic'],
    deploy: ['deploy'],
    composite: ['composite']
};

export function createAdmin(
    org: OrgContext,
    queries: { openCursors: number }
): AdminHandle {
    const admin: AdminHandle = {
        stats() {
            const groups: Record<string, number> = {};
            for (const [group, prefixes] of Object.entries(GROUPS)) {
                groups[group] = Object.entries(org.stats.byKind)
                    .filter(([k]) => prefixes.some((p) => k.startsWith(p)))
                    .reduce((sum, [, n]) => sum + n, 0);
            }
            return {
                apiUsage: org.usage.used,
                apiLimit: org.usage.limit,
                totalRequests: org.stats.totalRequests,
                byKind: { ...org.stats.byKind },
                groups,
                compositeSubrequests: { ...org.stats.subrequests },
                rejected: { ...org.stats.rejected },
                faultsInjected: { ...org.faults.injected },
                records: { ...org.store.counters },
                bulk: {
                    batches: org.stats.bulkBatches,
                    queryJobs: org.stats.bulkQueryJobs,
                    recordsProcessed: org.stats.bulkRecordsProcessed
                },
                deploys: org.stats.deploys,
                openQueryCursors: queries.openCursors
            };
        },
        resetStats() {
            org.stats.reset();
            for (const k of Object.keys(org.faults.injected))
                delete org.faults.injected[k];
            org.store.counters.inserted = 0;
            org.store.counters.updated = 0;
            org.store.counters.deleted = 0;
        },
        setFaults(spec) {
            const parsed =
                typeof spec === 'string' ? parseFaultSpec(spec) : spec;
            org.faults.set(parsed);
        },
        getFaults() {
            const faults = org.faults.get();
            return { spec: formatFaultSpec(faults), faults };
        },
        clearFaults() {
            org.faults.set({ rules: [] });
        },
        setLatency(latency) {
            if (latency === null) org.faults.setLatency(undefined);
            else if (typeof latency === 'number')
                org.faults.setLatency({ min: latency, max: latency });
            else org.faults.setLatency(latency);
        },
        convertLead(leadId, options) {
            return org.store.convertLead(leadId, options);
        },
        merge(masterId, duplicateIds) {
            return org.store.merge(masterId, duplicateIds);
        },
        undelete(ids) {
            return org.store.undelete(ids);
        },
        resetUsage() {
            org.usage.set(0);
        },
        setUsage(used) {
            org.usage.set(used);
        },
        setApiLimit(limit) {
            org.usage.limit = limit;
            org.settings.apiLimit = limit;
        },
        reseed(seed) {
            org.faults.reseed(seed);
        },
        getOptions() {
            return { ...org.settings.options };
        },
        setOptions(options) {
            Object.assign(org.settings.options, parseOrgOptions(options));
            org.store.setMeta(
                'orgOptions',
                JSON.stringify(org.settings.options)
            );
            return { ...org.settings.options };
        },
        createUser(input) {
            return createUser(org.store, input);
        },
        setUserActive(userId, active) {
            setUserActive(org.store, userId, active);
        },
        listUsers() {
            const rows = org.store
                .prepare(
                    'SELECT "Id" AS id, "Username" AS username, "ProfileId" AS profileId, "IsActive" AS a FROM "o_User" ORDER BY _rid'
                )
                .all() as Array<{
                id: string;
                username: string;
                profileId: string | null;
                a: number;
            }>;
            return rows.map((r) => ({
                id: r.id,
                username: r.username,
                profileId: r.profileId,
                isActive: r.a === 1
            }));
        }
    };
    return admin;
}

function badRequest(message: string): ApiError {
    return new ApiError(400, 'BAD_REQUEST', message);
}

async function body(ctx: RequestContext): Promise<Record<string, unknown>> {
    const b = await readJson(ctx.req);
    if (b === undefined) return {};
    if (!b || typeof b !== 'object' || Array.isArray(b))
        throw badRequest('The body must be a JSON object');
    return b as Record<string, unknown>;
}

/** HTTP admin routes under /local/. */
export async function adminRoute(
    org: OrgContext,
    admin: AdminHandle,
    ctx: RequestContext
): Promise<Reply> {
    const path = ctx.segments.join('/');
    const m = ctx.method;
    try {
        if (path === 'health' && m === 'GET') {
            return jsonReply(200, {
                status: 'ok',
                orgId: org.store.orgId,
                userId: org.store.userId,
                instanceUrl: org.instanceUrl(),
                dbPath: org.store.dbPath
            });
        }
        if (path === 'stats' && m === 'GET')
            return jsonReply(200, admin.stats());
        if (path === 'stats/reset' && m === 'POST') {
            admin.resetStats();
            return jsonReply(200, admin.stats());
        }
        if (path === 'faults') {
            if (m === 'GET')
                return jsonReply(200, {
                    ...admin.getFaults(),
                    injected: { ...org.faults.injected }
                });
            if (m === 'PUT' || m === 'POST') {
                const b = await body(ctx);
                if (typeof b.spec === 'string') admin.setFaults(b.spec);
                else if (Array.isArray(b.rules))
                    admin.setFaults(b as unknown as FaultSpec);
                else
                    throw badRequest(
                        'Send {"spec":"503:0.1,lock:0.05"} or {"rules":[…],"latency":{…}}'
                    );
                if (typeof b.seed === 'number') admin.reseed(b.seed);
                return jsonReply(200, admin.getFaults());
            }
            if (m === 'DELETE') {
                admin.clearFaults();
                return jsonReply(200, admin.getFaults());
            }
        }
        if (path === 'latency') {
            if (m === 'GET')
                return jsonReply(200, {
                    latency: org.faults.get().latency ?? null
                });
            if (m === 'PUT' || m === 'POST') {
                const b = await body(ctx);
                if (b.ms === null || b.latency === null) admin.setLatency(null);
                else if (typeof b.ms === 'number') admin.setLatency(b.ms);
                else if (typeof b.ms === 'string')
                    admin.setLatency(parseLatency(b.ms));
                else if (typeof b.min === 'number' && typeof b.max === 'number')
                    admin.setLatency({ min: b.min, max: b.max });
                else
                    throw badRequest(
                        'Send {"ms":50}, {"ms":"20-80"}, {"min":20,"max":80} or {"ms":null}'
                    );
                return jsonReply(200, {
                    latency: org.faults.get().latency ?? null
                });
            }
            if (m === 'DELETE') {
                admin.setLatency(null);
                return jsonReply(200, { latency: null });
            }
        }
        if (path === 'convert-lead' && m === 'POST') {
            const b = await body(ctx);
            if (typeof b.leadId !== 'string')
                throw badRequest('leadId is required');
            return jsonReply(
                200,
                admin.convertLead(b.leadId, {
                    contactId:
                        typeof b.contactId === 'string'
                            ? b.contactId
                            : undefined,
                    accountId:
                        typeof b.accountId === 'string'
                            ? b.accountId
                            : undefined
                })
            );
        }
        if (path === 'merge' && m === 'POST') {
            const b = await body(ctx);
            const ids = b.duplicateIds;
            if (
                typeof b.masterId !== 'string' ||
                !Array.isArray(ids) ||
                !ids.every((x): x is string => typeof x === 'string')
            )
                throw badRequest(
                    'Send {"masterId":"003…","duplicateIds":["003…"]} (1 or 2 ids)'
                );
            return jsonReply(200, admin.merge(b.masterId, ids));
        }
        if (path === 'undelete' && m === 'POST') {
            const ids = (await body(ctx)).ids;
            if (
                !Array.isArray(ids) ||
                !ids.every((x): x is string => typeof x === 'string')
            )
                throw badRequest('Send {"ids":["003…"]}');
            return jsonReply(200, admin.undelete(ids));
        }
        if (path === 'usage') {
            if (m === 'GET')
                return jsonReply(200, {
                    used: org.usage.used,
                    limit: org.usage.limit
                });
            if (m === 'PUT' || m === 'POST') {
                const b = await body(ctx);
                if (b.used !== undefined) {
                    if (typeof b.used !== 'number' || b.used < 0)
                        throw badRequest('used must be a number ≥ 0');
                    admin.setUsage(b.used);
                }
                if (b.limit !== undefined) {
                    if (typeof b.limit !== 'number' || b.limit < 1)
                        throw badRequest('limit must be a number ≥ 1');
                    admin.setApiLimit(b.limit);
                }
                return jsonReply(200, {
                    used: org.usage.used,
                    limit: org.usage.limit
                });
            }
        }
        if (path === 'options') {
            if (m === 'GET') return jsonReply(200, admin.getOptions());
            if (m === 'PUT' || m === 'POST' || m === 'PATCH') {
                const b = await body(ctx);
                try {
                    return jsonReply(200, admin.setOptions(b));
                } catch (e) {
                    throw badRequest(
                        e instanceof Error ? e.message : String(e)
                    );
                }
            }
        }
        if (path === 'users') {
            if (m === 'GET') return jsonReply(200, admin.listUsers());
            if (m === 'POST') {
                const b = await body(ctx);
                if (typeof b.username !== 'string')
                    throw badRequest(
                        'Send {"username":"…","profile":"Standard User"|"System Administrator"|"00e…","email"?,"firstName"?,"lastName"?}'
                    );
                const str = (v: unknown): string | undefined =>
                    typeof v === 'string' ? v : undefined;
                return jsonReply(
                    201,
                    admin.createUser({
                        username: b.username,
                        email: str(b.email),
                        firstName: str(b.firstName),
                        lastName: str(b.lastName),
                        profile: str(b.profile)
                    })
                );
            }
        }
        if (
            ctx.segments.length === 2 &&
            ctx.segments[0] === 'users' &&
            (m === 'PATCH' || m === 'PUT')
        ) {
            const b = await body(ctx);
            if (typeof b.isActive !== 'boolean')
                throw badRequest('Send {"isActive":true|false}');
            admin.setUserActive(ctx.segments[1], b.isActive);
            return jsonReply(200, {
                id: ctx.segments[1],
                isActive: b.isActive
            });
        }
        if (path === 'usage/reset' && m === 'POST') {
            admin.resetUsage();
            return jsonReply(200, {
                used: org.usage.used,
                limit: org.usage.limit
            });
        }
    } catch (err) {
        if (err instanceof FaultSpecError) throw badRequest(err.message);
        if (err instanceof RecordFailure) {
            throw new ApiError(
                400,
                err.error.statusCode,
                err.error.message,
                err.error.fields
            );
        }
        throw err;
    }
    throw new ApiError(404, 'NOT_FOUND', `No admin route ${m} /local/${path}`);
}
