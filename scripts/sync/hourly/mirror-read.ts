/**
 * The hourly's reads of the org through the ledger's mirror (ledger/mirror.ts): one
 * refresh a run with what changed in Salesforce since the last one (sync/mirror.ts),
 * then the persons' records taken from the mirror instead of looked up (R16).
 */
import type { MirrorRecord } from '../../ledger/mirror';
import type { JobContext } from '../context';
import type { PersonRef } from '../decisions';
import { mirrorLookback, refreshMirror } from '../mirror';
import type { RecordIndex } from '../records';

/** The runs whose mirror was refreshed (both steps of a run read it). */
const refreshed = new WeakSet<JobContext>();

/** Refreshes the mirror once in this run; see the file comment. */
export async function freshMirror(ctx: JobContext): Promise<void> {
    if (refreshed.has(ctx)) return;
    const r = await refreshMirror(ctx.client, ctx.ledger, {
        objects: ['Contact', 'Lead', 'Audience_Membership__c'],
        // The nightly's full reconciliation is the periodic full read; an hourly
        // reads the whole org only when the mirror is new.
        fullAfterMs: Infinity,
        lookbackMs: mirrorLookback(),
        onProgress: ctx.progress
    });
    refreshed.add(ctx);
    const full = r.objects.filter((o) => o.mode === 'full');
    ctx.builder.mode(
        'mirror',
        full.length
            ? `full read (${full.map((o) => `${o.object}: ${o.reason ?? 'first'}`).join(', ')})`
            : `incremental (${r.read} changed rows read)`
    );
    ctx.heartbeat();
}

/** The persons' records from the mirror (R6 by id, R8 by email, R9) into `index`. */
export async function loadMirroredRecords(
    ctx: JobContext,
    index: RecordIndex,
    persons: readonly PersonRef[],
    applyToSameEmail: boolean
): Promise<void> {
    const records = await ctx.ledger.mirrorRecordsFor(persons, {
        applyToSameEmail
    });
    for (const object of ['Contact', 'Lead'] as const)
        index.insertRows(
            object,
            records.filter((r) => r.object === object).map(asRow)
        );
}

/** A mirrored record in the shape the record index reads. */
function asRow(r: MirrorRecord): Record<string, unknown> {
    return {
        Id: r.id,
        Email: r.email,
        IsConverted: r.isConverted,
        ConvertedContactId: r.convertedContactId,
        HasOptedOutOfEmail: r.hasOptedOutOfEmail,
        Marketo_Sales_Opt_Out__c: r.marketoSalesOptOut
    };
}
