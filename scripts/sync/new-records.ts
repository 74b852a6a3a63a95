/**
 * Records created in Salesforce since the last hourly run — a lead form, an import, a
 * lead converted into a new Contact (R9) — may belong to persons the sync already wrote
 * (R6 by id, R8 by email). Without this step they would get neither the opt-out (with
 * the nightly sync off, nothing else looks) nor the person's audience memberships
 * (nothing changes in the ledger to re-queue them). So the hourly job reads the Contacts
 * and Leads created since its cursor and, for the persons they match:
 *
 * - writes the opt-out field (true, never false) on those of them that lack it when the
 *   person's global unsubscribe is already delivered (an undelivered one is due at
 *   once for the push and the hourly retry);
 * - re-queues the person's memberships (new seqs), so that (a) writes them to the new
 *   records too — the rows already right are left alone (R11).
 *
 * The cursor is the time the previous check started, read back with a look-back so that
 * a record saved late in the same second is not missed (re-reading one costs nothing:
 * it already has what it needs). The first check starts from the sync's first write.
 */
import {
    effectiveOptOutField,
    type SyncSettings
} from '../salesforce/settings';
import { SOBJECT } from '../model/schema';
import { jobSettings, type JobContext, type WriteMeta } from './context';
import { optOutDecision, resolveTargets, type Target } from './decisions';
import { RecordIndex } from './records';
import { jobWriter } from './writer';
import type { PersonGlobalUnsubscribe } from '../ledger/types';

export const NEW_RECORDS_CURSOR = {
    job: 'hourly',
    name: 'records_created_since'
} as const;

/** How far back each check reads before the previous one started. */
export const NEW_RECORDS_LOOKBACK_MS = 10 * 60_000;

/** Ids the previous check read, remembered so the look-back does not take them twice. */
const MAX_SEEN = 20_000;

interface NewRecordsCursor {
    at: string;
    seen: string[];
}

/**
 * The SOQL condition for records created (or Leads converted) since `sinceMs`.
 * ConvertedDate is a Date, stamped in the converting user's time zone (a lead converted
 * at 17:30 in San Francisco carries the date before the UTC one), and a Date literal
 * has no zone: the check allows a day of overlap, from the UTC date of since − 1 day.
 * A Lead read again is harmless: the seen-set drops the previous check's records, and
 * what is already right is not written (R11).
 */
export function newRecordsWhere(
    object: 'Contact' | 'Lead',
    sinceMs: number
): string {
    const since = soqlDateTime(sinceMs);
    if (object === 'Contact') return `CreatedDate >= ${since}`;
    const convertedFrom = soqlDateTime(sinceMs - 24 * 3_600_000).slice(0, 10);
    return `(CreatedDate >= ${since} OR (IsConverted = true AND ConvertedDate >= ${convertedFrom}))`;
}

function readCursor(value: string | undefined): NewRecordsCursor | null {
    if (value === undefined) return null;
    try {
        const v = JSON.parse(value) as Partial<NewRecordsCursor>;
        if (typeof v.at === 'string')
            return { at: v.at, seen: Array.isArray(v.seen) ? v.seen : [] };
    } catch {
        // a plain time
    }
    return { at: value, seen: [] };
}

/** A SOQL dateTime literal (whole seconds, UTC). */
export function soqlDateTime(ms: number): string {
    return new Date(Math.floor(ms / 1000) * 1000)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z');
}

/** When the sync first wrote to Salesforce (nothing created before can have been missed). */
async function firstWrite(ctx: JobContext): Promise<string | null> {
    return ctx.ledger.firstSalesforceWriteAt();
}

type Matched = PersonGlobalUnsubscribe;

export async function takeNewRecords(ctx: JobContext): Promise<void> {
    const { settings } = await jobSettings(ctx);
    const startedAt = ctx.now().toISOString();
    const cursor = readCursor(
        await ctx.ledger.getCursor(
            NEW_RECORDS_CURSOR.job,
            NEW_RECORDS_CURSOR.name
        )
    );
    const from = cursor?.at ?? (await firstWrite(ctx));
    let read: string[] = [];
    const writer = jobWriter(ctx);
    const moveCursor = async (): Promise<void> =>
        writer.setCursor(
            NEW_RECORDS_CURSOR,
            JSON.stringify({
                at: startedAt,
                seen: read.length <= MAX_SEEN ? read : []
            })
        );
    const persons = await ctx.ledger.countPersons();
    if (persons === 0) {
        // Nobody a record could belong to: nothing to read.
        await moveCursor();
        return;
    }
    // The sync never wrote: this run's own lookups see every record there is; only
    // note the recent ones, so that the next check does not take them again.
    const first = from === null;
    const sinceMs = Date.parse(from ?? startedAt) - NEW_RECORDS_LOOKBACK_MS;
    const field = effectiveOptOutField(settings);
    const index = new RecordIndex(ctx.workspace, [field]);
    try {
        // Leads converted since then too: their person's records now include a Contact.
        await index.loadWhere(
            ctx.client,
            (object) => newRecordsWhere(object, sinceMs),
            ctx.progress
        );
        read = index.ids();
        // Taken by the previous check already (its look-back overlaps this one).
        index.remove(cursor?.seen ?? []);
        if (first || index.count() === 0) {
            await moveCursor();
            return;
        }
        const matched = await personsOf(ctx, index, settings);
        if (matched.length === 0) {
            await moveCursor();
            return;
        }
        // Global opt-outs already delivered to the person's other records.
        const toWrite = new Map<string, Target>();
        const metas = new Map<string, WriteMeta>();
        for (const m of matched) {
            if (m.unsubscribeId === null || !m.delivered) continue;
            const r = resolveTargets(
                { emailNorm: m.emailNorm, salesforceId: m.salesforceId },
                index.candidates(m, settings.applyToSameEmail),
                {
                    applyToSameEmail: settings.applyToSameEmail,
                    lookup: (id) => index.get(id)
                }
            );
            if (r.skip) continue;
            for (const t of optOutDecision(r.targets, field).write)
                if (!toWrite.has(t.id)) {
                    toWrite.set(t.id, t);
                    metas.set(t.id, {
                        emailNorm: m.emailNorm,
                        personId: m.personId,
                        source: m.source ?? 'platform',
                        collectedAt: m.collectedAt,
                        detail: {
                            unsubscribeId: m.unsubscribeId,
                            newRecord: true
                        }
                    });
                }
        }
        let failed = false;
        if (toWrite.size) {
            await writer.requireWritable([
                { object: SOBJECT.CONTACT, field },
                { object: SOBJECT.LEAD, field }
            ]);
            const outcomes = await writer.optOut(
                field,
                [...toWrite.values()],
                (id) => metas.get(id) as WriteMeta,
                { sample: () => ({ newRecord: true }) }
            );
            failed = [...outcomes.values()].some((o) => !o.ok && !o.deleted);
        }
        // Memberships to the new records (and undelivered unsubscribes due now).
        const requeued = await writer.ledger(() =>
            ctx.ledger.requeuePersons(matched.map((m) => m.personId))
        );
        // Not a skip: their memberships are written by this run's (a).
        if (requeued)
            ctx.log(
                'info',
                `${requeued} persons have Contacts or Leads created since the last check: their memberships are queued for them`
            );
        // A failed write is taken again from the same cursor next time.
        if (!failed) await moveCursor();
    } finally {
        index.drop();
    }
}

/** Persons the new records match (R6 by id, R8 by email), with their global unsubscribe. */
async function personsOf(
    ctx: JobContext,
    index: RecordIndex,
    settings: SyncSettings
): Promise<Matched[]> {
    // A converted Lead counts for its Contact's id too (R9).
    const keys = index.linkKeys();
    return ctx.ledger.personsWithGlobalUnsubscribe(
        await ctx.ledger.personIdsLinkedTo(
            keys.ids,
            settings.applyToSameEmail ? keys.emails : []
        )
    );
}
