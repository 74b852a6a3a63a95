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
import { recordFailure, type JobContext } from '../context';
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
    const index = new RecordIndex(ctx.workspace, []);
    try {
        await loadRecordEmails(ctx, index, rows);
        const taken: Taken[] = [];
        const apply = async (): Promise<void> => {
            for (const row of rows) {
                const t = await takeRow(ctx, index, row);
                if (t) taken.push(t);
            }
        };
        if (ctx.dryRun) await apply();
        else await ctx.ledger.transaction(apply);
        if (ctx.dryRun) {
            ctx.builder.plan(
                'pendingCleared',
                taken.length,
                taken.map((t) => ({
                    object: SOBJECT.AUDIENCE_MEMBERSHIP,
                    id: t.row.id,
                    [AM.Pending_Push__c]: false
                }))
            );
            return;
        }
        if (taken.length === 0) return;
        // Only now, with the ledger committed, clear the flags (R11: nothing lost).
        await clearPendingFlags(ctx, taken);
        // The status is in Salesforce already: these unsubscribes are delivered.
        const ids = taken
            .map((t) => t.unsubscribeId)
            .filter((id): id is number => id !== null);
        if (ids.length)
            ctx.builder.result.unsubscribesDelivered +=
                await ctx.ledger.markDelivered(ids, {
                    runId: ctx.runId,
                    detail: { job: 'hourly', from: 'salesforce' }
                });
    } finally {
        index.drop();
    }
}

/** Reads the pending rows; a missing object becomes R7's error. */
async function readPendingRows(ctx: JobContext): Promise<ExistingMembership[]> {
    const rows: ExistingMembership[] = [];
    try {
        for await (const page of ctx.client.queryPages(
            `${AUDIENCE_MEMBERSHIP_SELECT} WHERE ${AM.Pending_Push__c} = true`
        ))
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
    if (ctx.dryRun) {
        const active =
            known &&
            change.status === 'Unsubscribed' &&
            (await ctx.ledger.listUnsubscribes(known.id)).some(
                (u) =>
                    u.scope === 'audience' &&
                    u.audienceId === change.audienceId &&
                    !u.removedAt
            );
        if (change.status === 'Unsubscribed' && !active)
            ctx.builder.plan('ledgerUnsubscribes', 1, [
                {
                    ledger: 'unsubscribe',
                    email: change.email,
                    audienceId: change.audienceId,
                    source: change.source
                }
            ]);
        return { row, unsubscribeId: null };
    }
    let unsubscribeId: number | null = null;
    let restore: Record<string, unknown> | undefined;
    if (change.status === 'Unsubscribed')
        unsubscribeId = await recordAudienceUnsubscribe(ctx, change, link);
    else restore = await setStatusFromSalesforce(ctx, change, link);
    await ctx.ledger.appendAudit({
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
    });
    return { row, unsubscribeId, restore };
}

/** An Unsubscribed row: the audience unsubscribe; its id while it is undelivered. */
async function recordAudienceUnsubscribe(
    ctx: JobContext,
    change: Change,
    link: string | null
): Promise<number | null> {
    const r = await ctx.ledger.recordUnsubscribe({
        email: change.email,
        salesforceId: link,
        scope: 'audience',
        audienceId: change.audienceId,
        audienceName: change.audienceName,
        source: change.source,
        reason: change.reason,
        ...(change.changedAt ? { collectedAt: change.changedAt } : {}),
        runId: ctx.runId
    });
    if (r.outcome === 'recorded')
        ctx.builder.result.ledgerUnsubscribesAdded += 1;
    else ctx.builder.skip('already_in_ledger');
    return r.unsubscribe.deliveredAt ? null : r.unsubscribe.id;
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

/** Clears Pending_Push__c (and puts back a blocked status), audited (R10). */
async function clearPendingFlags(
    ctx: JobContext,
    taken: readonly Taken[]
): Promise<void> {
    ctx.heartbeat();
    const results = await ctx.client.updateRecords(
        SOBJECT.AUDIENCE_MEMBERSHIP,
        taken.map((t) => ({
            Id: t.row.id,
            [AM.Pending_Push__c]: false,
            ...(t.restore ?? {})
        }))
    );
    const writtenAt = ctx.now().toISOString();
    const restored = new Map(
        taken
            .filter((t) => t.restore)
            .map((t) => [t.row.id, t.restore?.[AM.Status__c]])
    );
    await ctx.ledger.appendAudits(
        results
            .filter((r) => r.success)
            .map((r) => ({
                action: 'pending_cleared' as const,
                runId: ctx.runId,
                recordId: r.id,
                object: SOBJECT.AUDIENCE_MEMBERSHIP,
                field: AM.Pending_Push__c,
                before: 'true',
                after: 'false',
                source: 'salesforce' as const,
                writtenAt,
                detail: restored.has(r.key)
                    ? { restoredStatus: restored.get(r.key) }
                    : null
            }))
    );
    for (const r of results)
        if (!r.success)
            recordFailure(
                ctx,
                r,
                SOBJECT.AUDIENCE_MEMBERSHIP,
                AM.Pending_Push__c
            );
}
