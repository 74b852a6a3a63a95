/**
 * (c) of the hourly sync: audience changes made inside Salesforce (the component or
 * the Flow action check Pending_Push__c) are applied to the ledger — an Unsubscribed
 * row becomes the audience unsubscribe (source flow or salesforce) — and only after the
 * ledger committed is the pending flag cleared in Salesforce.
 */
import { AUDIENCE_MEMBERSHIP as AM, SOBJECT } from '../../model/schema';
import { SOURCE_PICKLIST } from '../../model/statuses';
import { SalesforceError } from '../../salesforce/errors';
import { requireWritableFields } from '../../salesforce/describe';
import {
    pendingChange,
    toSecond,
    type ExistingMembership,
    type PendingChange
} from '../decisions';
import type { JobContext } from '../context';
import { jobWriter } from '../writer';
import { MEMBERSHIP_WRITE_FIELDS } from '../push';
import {
    AUDIENCE_MEMBERSHIP_SELECT,
    RecordIndex,
    toExistingMembership
} from '../records';

type Change = Extract<PendingChange, { ok: true }>;

/** A pending row applied to the ledger. */
interface Taken {
    row: ExistingMembership;
    /** The audience unsubscribe it recorded, when not delivered yet. */
    unsubscribeId: number | null;
    /** The ledger's status to put back (an active unsubscribe wins, R4). */
    restore?: Record<string, unknown>;
}

export async function takePending(ctx: JobContext): Promise<void> {
    const rows = await readPendingRows(ctx);
    if (rows.length === 0) return;
    const writer = jobWriter(ctx);
    const index = new RecordIndex(ctx.workspace, []);
    try {
        await loadRecordEmails(ctx, index, rows);
        const taken = await writer.transaction(async () => {
            const out: Taken[] = [];
            for (const row of rows) {
                const t = await takeRow(ctx, index, row);
                if (t) out.push(t);
            }
            return out;
        });
        // Only now, with the ledger committed, clear the flags (R11: nothing lost).
        await writer.clearPending(
            taken.map((t) => ({ id: t.row.id, restore: t.restore }))
        );
        // The status is in Salesforce already: these unsubscribes are delivered.
        await writer.markDelivered(
            taken
                .map((t) => t.unsubscribeId)
                .filter((id): id is number => id !== null),
            { job: 'hourly', from: 'salesforce' }
        );
    } finally {
        index.drop();
    }
}

/** The query of the rows with a Salesforce change pending (read ahead by runHourly). */
export function pendingRowsSoql(): string {
    return `${AUDIENCE_MEMBERSHIP_SELECT} WHERE ${AM.Pending_Push__c} = true`;
}

/** Reads the pending rows; a missing object becomes R7's error. */
async function readPendingRows(ctx: JobContext): Promise<ExistingMembership[]> {
    const rows: ExistingMembership[] = [];
    try {
        for await (const page of ctx.client.queryPages(pendingRowsSoql()))
            rows.push(...page.records.map(toExistingMembership));
    } catch (err) {
        if (
            err instanceof SalesforceError &&
            (err.errorCode === 'INVALID_TYPE' ||
                err.errorCode === 'INVALID_FIELD')
        )
            await requireWritableFields(ctx.client, MEMBERSHIP_WRITE_FIELDS);
        throw err;
    }
    return rows;
}

/** Rows without Email__c: the email of their Contact or Lead. */
async function loadRecordEmails(
    ctx: JobContext,
    index: RecordIndex,
    rows: readonly ExistingMembership[]
): Promise<void> {
    const noEmail = rows
        .filter((r) => !r.email)
        .map((r) => ({
            emailNorm: '',
            salesforceId: r.contactId ?? r.leadId
        }));
    if (noEmail.length)
        await index.loadFor(ctx.client, noEmail, {
            applyToSameEmail: false
        });
}

/** One pending row into the ledger (null: an invalid row, left pending and failed). */
async function takeRow(
    ctx: JobContext,
    index: RecordIndex,
    row: ExistingMembership
): Promise<Taken | null> {
    const recId = row.contactId ?? row.leadId;
    const change = pendingChange(
        row,
        recId ? index.get(recId)?.emailNorm : null
    );
    if (!change.ok) {
        ctx.builder.fail({
            recordId: row.id,
            object: SOBJECT.AUDIENCE_MEMBERSHIP,
            errorCode: 'INVALID_PENDING_ROW',
            message: `Left pending: ${change.reason}`
        });
        return null;
    }
    const known = await ctx.ledger.findPerson(change.email);
    const link = !known?.salesforceId ? change.salesforceId : null;
    const writer = jobWriter(ctx);
    let unsubscribeId: number | null = null;
    let restore: Record<string, unknown> | undefined;
    if (change.status === 'Unsubscribed')
        unsubscribeId = await recordAudienceUnsubscribe(ctx, change, link);
    else
        restore = await writer.ledger(() =>
            setStatusFromSalesforce(ctx, change, link)
        );
    await writer.ledger(() =>
        ctx.ledger.appendAudit({
            action: 'membership_from_salesforce',
            runId: ctx.runId,
            emailNorm: change.email.toLowerCase(),
            recordId: row.id,
            object: SOBJECT.AUDIENCE_MEMBERSHIP,
            field: AM.Status__c,
            after: change.status,
            source: change.source,
            collectedAt: change.changedAt,
            detail: { key: row.key, audienceId: change.audienceId }
        })
    );
    return { row, unsubscribeId, restore };
}

/** An Unsubscribed row: the audience unsubscribe; its id while it is undelivered. */
async function recordAudienceUnsubscribe(
    ctx: JobContext,
    change: Change,
    link: string | null
): Promise<number | null> {
    const r = await jobWriter(ctx).recordUnsubscribe(
        {
            email: change.email,
            salesforceId: link,
            scope: 'audience',
            audienceId: change.audienceId,
            audienceName: change.audienceName,
            source: change.source,
            reason: change.reason,
            ...(change.changedAt ? { collectedAt: change.changedAt } : {}),
            runId: ctx.runId
        },
        {
            ledger: 'unsubscribe',
            email: change.email,
            audienceId: change.audienceId,
            source: change.source
        }
    );
    return r && !r.unsubscribe.deliveredAt ? r.unsubscribe.id : null;
}

/**
 * Any other status: the person's membership; the fields to put back on the row when
 * the ledger keeps its own status (undefined: the row stands).
 */
async function setStatusFromSalesforce(
    ctx: JobContext,
    change: Change,
    link: string | null
): Promise<Record<string, unknown> | undefined> {
    const person = (
        await ctx.ledger.upsertPerson({
            email: change.email,
            salesforceId: link
        })
    ).person;
    if (!(await ctx.ledger.getAudience(change.audienceId)))
        await ctx.ledger.upsertAudience({
            id: change.audienceId,
            name: change.audienceName
        });
    const r = await ctx.ledger.setMembershipStatus({
        personId: person.id,
        audienceId: change.audienceId,
        status: change.status,
        ...(change.changedAt ? { changedAt: change.changedAt } : {}),
        source: change.source,
        reason: change.reason,
        runId: ctx.runId,
        auditAction: 'membership_from_salesforce'
    });
    if (r.outcome !== 'created' && r.outcome !== 'changed')
        ctx.builder.skip(`ledger_${r.outcome}`);
    // blocked: an active audience unsubscribe wins (R4); the row gets the ledger's
    // status back instead of keeping a re-subscription.
    if (r.outcome === 'blocked' && r.membership)
        return {
            [AM.Status__c]: r.membership.status,
            [AM.Status_Changed_At__c]: toSecond(r.membership.changedAt),
            [AM.Source__c]: SOURCE_PICKLIST[r.membership.source],
            [AM.Unsubscribe_Reason__c]: r.membership.reason
        };
    return undefined;
}
