/**
 * Baseline 1: the same work done the way a hand-written script does it, with jsforce,
 * one REST request per record — for each unsubscribed person, query its Contacts and
 * Leads by email and PATCH each record whose opt-out field is false (a converted Lead's
 * Contact instead, R9); the hourly upserts each membership row by its external id.
 * It reads no more than it needs (no full scans) and skips records already opted out,
 * so it is the honest per-record way, not a straw man.
 *
 * Large runs are sampled: `sample` persons (or changes), evenly spaced over the work,
 * are processed for real and the per-person cost — requests and time — is multiplied
 * out to the whole; the parts done once (paged queries of the opted-out records, the
 * pending-row query) are measured in full. Results say when they were extrapolated.
 */
import { outOfAllAudiences } from '../../ledger/inspect';
import type { Connection } from 'jsforce';
import type { Ledger } from '../../ledger/ledger';
import type { MembershipChange } from '../../ledger/types';
import {
    AUDIENCE_MEMBERSHIP as AM,
    SOBJECT,
    type OptOutField
} from '../../model/schema';
import { DUPLICATE_RULE_HEADER } from '../../salesforce/client';
import { desiredMembership, id18 } from '../../sync/decisions';

export interface NaiveContext {
    conn: Connection;
    ledger: Ledger;
    field: OptOutField;
    runId: string;
}

export interface NaiveOutcome {
    /** Requests and time of the parts done once, in full. */
    fixed: { requests: number; ms: number };
    /** Requests and time of the sampled items; opt-out writes and membership upserts. */
    sampled: {
        requests: number;
        ms: number;
        writes: number;
        upserts: number;
        items: number;
    };
    /** Items the whole job has (persons, changes, unsubscribes). */
    totalItems: number;
    /** Writes of the parts done once (ledger unsubscribes from Salesforce). */
    ledgerAdds: number;
}

/** Whole-job figures: fixed part + sampled part scaled to every item. */
export function extrapolate(o: NaiveOutcome): {
    requests: number;
    ms: number;
    writes: number;
    upserts: number;
    extrapolated: boolean;
} {
    const scale = o.sampled.items > 0 ? o.totalItems / o.sampled.items : 0;
    return {
        requests: Math.round(o.fixed.requests + o.sampled.requests * scale),
        ms: Math.round(o.fixed.ms + o.sampled.ms * scale),
        writes: Math.round(o.sampled.writes * scale),
        upserts: Math.round(o.sampled.upserts * scale),
        extrapolated: o.sampled.items < o.totalItems
    };
}

/** `count` indexes evenly spread over [0, total). */
export function evenSample(total: number, count: number): number[] {
    if (count >= total) return Array.from({ length: total }, (_, i) => i);
    return Array.from({ length: count }, (_, k) =>
        Math.floor((k * total) / count)
    );
}

function soqlString(s: string): string {
    return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

class Counter {
    requests = 0;
}

type Row = Record<string, unknown> & { Id: string };

async function queryAll(
    ctx: NaiveContext,
    counter: Counter,
    soql: string
): Promise<Row[]> {
    counter.requests += 1;
    let page = await ctx.conn.query<Row>(soql, { autoFetch: false });
    const rows = [...page.records];
    while (!page.done && page.nextRecordsUrl) {
        counter.requests += 1;
        page = await ctx.conn.queryMore<Row>(page.nextRecordsUrl);
        rows.push(...page.records);
    }
    return rows;
}

interface Found {
    /** id → object, opt-out value (null: not read, a converted Lead's Contact). */
    records: Map<string, { object: 'Contact' | 'Lead'; value: boolean | null }>;
}

/** The person's records by email: two queries, converted Leads replaced by their Contact. */
async function findRecords(
    ctx: NaiveContext,
    counter: Counter,
    email: string
): Promise<Found> {
    const f = ctx.field;
    const contacts = await queryAll(
        ctx,
        counter,
        `SELECT Id, ${f} FROM Contact WHERE Email = ${soqlString(email)}`
    );
    const leads = await queryAll(
        ctx,
        counter,
        `SELECT Id, ${f}, IsConverted, ConvertedContactId FROM Lead WHERE Email = ${soqlString(email)}`
    );
    const records: Found['records'] = new Map();
    for (const c of contacts)
        records.set(id18(c.Id) as string, {
            object: 'Contact',
            value: c[f] === true
        });
    for (const l of leads) {
        if (l.IsConverted === true) {
            const contact = id18(l.ConvertedContactId as string | null);
            if (contact && !records.has(contact))
                records.set(contact, { object: 'Contact', value: null });
        } else
            records.set(id18(l.Id) as string, {
                object: 'Lead',
                value: l[f] === true
            });
    }
    return { records };
}

/** PATCHes the field true on each record not known to be true; returns the writes. */
async function writeEach(
    ctx: NaiveContext,
    counter: Counter,
    found: Found,
    field: OptOutField
): Promise<number> {
    let writes = 0;
    for (const [id, r] of found.records) {
        if (r.value === true) continue;
        counter.requests += 1;
        // The org's duplicate rules (on in most orgs, and by default in the local org)
        // refuse an update of a Contact or Lead whose email another record shares,
        // unless the request says allowSave=true; a hand-written script has to send it
        // too, as the sync does:
        // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm
        const res = await ctx.conn
            .sobject(r.object)
            .update(
                { Id: id, [field]: true },
                { headers: { ...DUPLICATE_RULE_HEADER } }
            );
        if (!res.success)
            throw new Error(`naive: ${r.object} ${id}: ${JSON.stringify(res)}`);
        writes += 1;
    }
    return writes;
}

/**
 * R3 the per-record way: (a) each person with an active global unsubscribe → its
 * records, one PATCH each; (b) the records opted out in Salesforce (paged queries) →
 * the ledger. `again`: the sample is taken among unsubscribes already delivered (a
 * re-check of work done, as a second nightly is).
 */
export async function naiveNightly(
    ctx: NaiveContext,
    options: { sample: number; again?: boolean }
): Promise<NaiveOutcome> {
    const counter = new Counter();
    const active: { id: number; email: string; deliveredAt: string | null }[] =
        [];
    for (let after = 0; ;) {
        const page = await ctx.ledger.activeGlobalUnsubscribes(after, 5000);
        if (page.length === 0) break;
        after = page[page.length - 1].id;
        for (const u of page)
            active.push({
                id: u.id,
                email: u.emailNorm,
                deliveredAt: u.deliveredAt
            });
    }
    const pool =
        options.again && options.sample < active.length
            ? active.filter((u) => u.deliveredAt !== null)
            : active;
    const picked = evenSample(pool.length, options.sample).map((k) => pool[k]);
    const t0 = Date.now();
    let writes = 0;
    for (const u of picked) {
        const found = await findRecords(ctx, counter, u.email);
        writes += await writeEach(ctx, counter, found, ctx.field);
        if (u.deliveredAt === null)
            await ctx.ledger.markDelivered([u.id], {
                runId: ctx.runId,
                detail: { job: 'naive-nightly' }
            });
    }
    const sampled = {
        requests: counter.requests,
        ms: Date.now() - t0,
        writes,
        upserts: 0,
        items: picked.length
    };
    // (b) once, in full: every record with the field true → the ledger.
    const t1 = Date.now();
    counter.requests = 0;
    let ledgerAdds = 0;
    for (const object of ['Contact', 'Lead'] as const) {
        const rows = await queryAll(
            ctx,
            counter,
            `SELECT Id, Email FROM ${object} WHERE ${ctx.field} = true${object === 'Lead' ? ' AND IsConverted = false' : ''}`
        );
        for (const r of rows) {
            const email = typeof r.Email === 'string' ? r.Email.trim() : '';
            if (!email) continue;
            const res = await ctx.ledger.recordUnsubscribe({
                email,
                scope: 'all',
                source: 'salesforce',
                reason: `${ctx.field} is checked on ${object} ${r.Id} in Salesforce`,
                runId: ctx.runId
            });
            if (res.outcome === 'recorded') ledgerAdds += 1;
        }
    }
    return {
        fixed: { requests: counter.requests, ms: Date.now() - t1 },
        sampled,
        totalItems: active.length,
        ledgerAdds
    };
}

/**
 * R5 the per-record way: each membership change → the person's records (two queries)
 * → one upsert by Membership_Key__c per record; a person now unsubscribed from every
 * audience gets HasOptedOutOfEmail on each record (R5b), one PATCH each. The pending
 * rows of R5c are asked for once.
 */
export async function naiveHourly(
    ctx: NaiveContext,
    options: { sample: number; afterSeq: number }
): Promise<NaiveOutcome> {
    const counter = new Counter();
    const t1 = Date.now();
    await queryAll(
        ctx,
        counter,
        `SELECT Id FROM ${SOBJECT.AUDIENCE_MEMBERSHIP} WHERE ${AM.Pending_Push__c} = true`
    );
    const fixed = { requests: counter.requests, ms: Date.now() - t1 };
    counter.requests = 0;
    const changes: MembershipChange[] = [];
    for await (const batch of ctx.ledger.membershipChangeBatches({
        afterSeq: options.afterSeq,
        batchSize: 5000
    }))
        changes.push(...batch);
    const picked = evenSample(changes.length, options.sample).map(
        (k) => changes[k]
    );
    const t0 = Date.now();
    let writes = 0;
    let upserts = 0;
    for (const c of picked) {
        const found = await findRecords(ctx, counter, c.emailNorm);
        for (const [id, r] of found.records) {
            counter.requests += 1;
            const fields = desiredMembership(
                {
                    audienceId: c.audienceId,
                    audienceName: c.audienceName,
                    email: c.email,
                    status: c.status,
                    changedAt: c.changedAt,
                    source: c.source,
                    reason: c.reason
                },
                { id, object: r.object }
            );
            const res = await ctx.conn
                .sobject(SOBJECT.AUDIENCE_MEMBERSHIP)
                .upsert(fields, AM.Membership_Key__c);
            if (!res.success)
                throw new Error(`naive: upsert ${id}: ${JSON.stringify(res)}`);
            upserts += 1;
        }
        if (
            c.status === 'Unsubscribed' &&
            (await outOfAllAudiences(ctx.ledger, c.personId))
        ) {
            // R5b writes HasOptedOutOfEmail whatever the settings' field is.
            const known = ctx.field === 'HasOptedOutOfEmail';
            if (!known) for (const r of found.records.values()) r.value = null;
            writes += await writeEach(
                ctx,
                counter,
                found,
                'HasOptedOutOfEmail'
            );
        }
    }
    return {
        fixed,
        sampled: {
            requests: counter.requests,
            ms: Date.now() - t0,
            writes,
            upserts,
            items: picked.length
        },
        totalItems: changes.length,
        ledgerAdds: 0
    };
}

/**
 * R2 the per-record way: each unsubscribe, as it arrives, is written at once — its
 * records queried by email, each PATCHed — and marked delivered.
 */
export async function naivePushOne(
    ctx: NaiveContext,
    counter: { requests: number },
    u: { id: number; email: string }
): Promise<number> {
    const c = new Counter();
    const found = await findRecords(ctx, c, u.email);
    const writes = await writeEach(ctx, c, found, ctx.field);
    await ctx.ledger.markDelivered([u.id], {
        runId: ctx.runId,
        detail: { job: 'naive-push' }
    });
    counter.requests += c.requests;
    return writes;
}
