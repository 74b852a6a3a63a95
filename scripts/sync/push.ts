/**
 * The real-time push (R2): unsubscribes in the ledger not yet delivered go to Salesforce
 * at once, micro-batched.
 *
 * - Global (all audiences): the person's records (R6 id, R8 same email, R9 converted
 *   lead → Contact) get the chosen field (R1; HasOptedOutOfEmail when nightly sync is
 *   off) set true where it is false — records already true are confirmed without a
 *   write (R11). sObject Collections, ≤ 200 records a request; Bulk above the threshold.
 * - Audience: the membership row on each of the person's records is upserted with status
 *   Unsubscribed (R5: an audience unsubscribe is not a global one).
 *
 * An unsubscribe is marked delivered only when Salesforce confirmed every record of the
 * person (R11); anything that failed stays pending for the next push. A person matched
 * to no record is counted as skipped and marked delivered (there is nothing to write;
 * the nightly reconciliation covers records created later).
 */
import type { PendingUnsubscribe } from '../ledger/types';
import { AUDIENCE_MEMBERSHIP as AM, SOBJECT } from '../model/schema';
import { requireWritableFields, type FieldNeed } from '../salesforce/describe';
import { effectiveOptOutField } from '../salesforce/settings';
import {
    desiredMembership,
    membershipWrite,
    optOutDecision,
    resolveTargets,
    type Target
} from './decisions';
import {
    jobSettings,
    upsertMemberships,
    writeOptOut,
    type JobContext,
    type MembershipWrite,
    type WriteMeta
} from './context';
import { MembershipIndex, RecordIndex } from './records';

export interface PushOptions {
    /** Only these unsubscribes (the `optout unsubscribe --target-org` hook). */
    unsubscribeIds?: readonly number[];
}

/** The Audience_Membership__c fields the sync upserts (R7). */
export const MEMBERSHIP_WRITE_FIELDS: FieldNeed[] = [
    AM.Membership_Key__c,
    AM.Contact__c,
    AM.Lead__c,
    AM.Audience_Id__c,
    AM.Audience_Name__c,
    AM.Email__c,
    AM.Status__c,
    AM.Status_Changed_At__c,
    AM.Source__c,
    AM.Unsubscribe_Reason__c
].map((field) => ({
    object: SOBJECT.AUDIENCE_MEMBERSHIP,
    field,
    access: 'upsert' as const
}));

function metaOf(u: PendingUnsubscribe): WriteMeta {
    return {
        emailNorm: u.emailNorm,
        personId: u.personId,
        source: u.source,
        collectedAt: u.collectedAt,
        detail: { unsubscribeId: u.id }
    };
}

export async function runPush(
    ctx: JobContext,
    options: PushOptions = {}
): Promise<void> {
    const wanted = options.unsubscribeIds
        ? new Set(options.unsubscribeIds)
        : undefined;
    const pending: PendingUnsubscribe[] = [];
    for (const batch of ctx.ledger.undeliveredUnsubscribeBatches({
        batchSize: 1000
    }))
        for (const u of batch) if (!wanted || wanted.has(u.id)) pending.push(u);
    // Nothing pending: no request at all (R11, and the webhook calls this often).
    if (pending.length === 0) return;
    const global = pending.filter((u) => u.scope === 'all');
    const audience = pending.filter((u) => u.scope === 'audience');
    const { settings } = await jobSettings(ctx);
    const field = effectiveOptOutField(settings);
    await requireWritableFields(ctx.client, [
        ...(global.length
            ? [
                  { object: SOBJECT.CONTACT, field },
                  { object: SOBJECT.LEAD, field }
              ]
            : []),
        ...(audience.length ? MEMBERSHIP_WRITE_FIELDS : [])
    ]);
    const index = new RecordIndex(ctx.ledger, global.length ? [field] : []);
    const memberships = new MembershipIndex(ctx.ledger);
    try {
        const persons = new Map(
            pending.map((u) => [
                u.personId,
                { emailNorm: u.emailNorm, salesforceId: u.salesforceId }
            ])
        );
        ctx.builder.mode(
            'read records',
            await index.loadFor(ctx.client, [...persons.values()], {
                applyToSameEmail: settings.applyToSameEmail,
                onProgress: ctx.progress
            })
        );
        const deliver: number[] = [];
        const targetsOf = (u: PendingUnsubscribe): Target[] | undefined => {
            const r = resolveTargets(
                { emailNorm: u.emailNorm, salesforceId: u.salesforceId },
                index.candidates(u, settings.applyToSameEmail),
                {
                    applyToSameEmail: settings.applyToSameEmail,
                    lookup: (id) => index.get(id)
                }
            );
            if (r.skip) {
                ctx.builder.skip(r.skip);
                return undefined;
            }
            return r.targets;
        };

        // ---- global unsubscribes → the opt-out field (R1, R2)
        const plans: { u: PendingUnsubscribe; targets: Target[] }[] = [];
        const toWrite = new Map<string, Target>();
        const metas = new Map<string, WriteMeta>();
        for (const u of global) {
            const targets = targetsOf(u);
            if (!targets) {
                deliver.push(u.id);
                continue;
            }
            const d = optOutDecision(targets, field);
            ctx.builder.skip('already_opted_out', d.alreadySet.length);
            for (const t of d.write) {
                if (!toWrite.has(t.id)) {
                    toWrite.set(t.id, t);
                    metas.set(t.id, metaOf(u));
                }
            }
            plans.push({ u, targets });
        }
        let confirmed = (id: string): boolean =>
            index.get(id)?.optOut[field] === true;
        if (ctx.dryRun) {
            // Planning: count every would-be write as confirmed.
            confirmed = () => true;
            ctx.builder.plan(
                'fieldWrites',
                toWrite.size,
                [...toWrite.values()].map((t) => ({
                    object: t.object,
                    id: t.id,
                    field,
                    value: true,
                    email: metas.get(t.id)?.emailNorm
                }))
            );
        } else if (toWrite.size) {
            const outcomes = await writeOptOut(
                ctx,
                field,
                [...toWrite.values()],
                (id) => metas.get(id) as WriteMeta
            );
            const before = confirmed;
            confirmed = (id) => {
                const o = outcomes.get(id);
                return o ? o.ok || o.deleted : before(id);
            };
        }
        for (const { u, targets } of plans)
            if (targets.every((t) => confirmed(t.id))) deliver.push(u.id);

        // ---- audience unsubscribes → the membership status (R5)
        const rows: { u: PendingUnsubscribe; writes: MembershipWrite[] }[] = [];
        const keys: string[] = [];
        for (const u of audience) {
            const targets = targetsOf(u);
            if (!targets) {
                deliver.push(u.id);
                continue;
            }
            const m = ctx.ledger.getMembership(
                u.personId,
                u.audienceId as string
            );
            const fields = targets.map((t) =>
                desiredMembership(
                    {
                        audienceId: u.audienceId as string,
                        audienceName:
                            u.audienceName ?? (u.audienceId as string),
                        email: u.email,
                        status: m?.status ?? 'Unsubscribed',
                        changedAt: m?.changedAt ?? u.collectedAt,
                        source: m?.source ?? u.source,
                        reason: m?.reason ?? u.reason
                    },
                    t
                )
            );
            keys.push(...fields.map((f) => f[AM.Membership_Key__c]));
            rows.push({
                u,
                writes: fields.map((f) => ({
                    fields: f,
                    before: null,
                    meta: metaOf(u)
                }))
            });
        }
        if (keys.length) {
            ctx.builder.mode(
                'read memberships',
                await memberships.loadFor(ctx.client, keys, ctx.progress)
            );
        }
        const upserts: MembershipWrite[] = [];
        const settled = new Map<string, boolean>();
        for (const { writes } of rows) {
            for (const w of writes) {
                const key = w.fields[AM.Membership_Key__c];
                const existing = memberships.get(key);
                const what = membershipWrite(w.fields, existing);
                if (what === 'unchanged') {
                    ctx.builder.skip('membership_unchanged');
                    settled.set(key.toLowerCase(), true);
                } else if (what === 'pending_in_salesforce') {
                    ctx.builder.skip('pending_in_salesforce');
                    settled.set(key.toLowerCase(), false);
                } else {
                    upserts.push({ ...w, before: existing?.status ?? null });
                }
            }
        }
        if (ctx.dryRun) {
            ctx.builder.plan(
                'membershipUpserts',
                upserts.length,
                upserts.map((w) => ({ ...w.fields }))
            );
            for (const w of upserts)
                settled.set(w.fields[AM.Membership_Key__c].toLowerCase(), true);
        } else {
            for (const [k, ok] of await upsertMemberships(ctx, upserts))
                settled.set(k, ok);
        }
        for (const { u, writes } of rows)
            if (
                writes.every(
                    (w) =>
                        settled.get(
                            w.fields[AM.Membership_Key__c].toLowerCase()
                        ) === true
                )
            )
                deliver.push(u.id);

        // ---- R11: delivered only after Salesforce confirmed
        if (ctx.dryRun) ctx.builder.plan('deliveries', deliver.length);
        else if (deliver.length)
            ctx.builder.result.unsubscribesDelivered +=
                ctx.ledger.markDelivered(deliver, {
                    runId: ctx.runId,
                    detail: { job: 'push' }
                });
        const left = pending.length - deliver.length;
        if (left > 0)
            ctx.log(
                'warn',
                `${left} unsubscribe(s) stay pending for the next push`
            );
    } finally {
        index.drop();
        memberships.drop();
    }
}
