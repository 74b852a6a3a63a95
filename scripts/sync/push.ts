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
 * person (R11); anything that failed stays pending for the next push. A record
 * Salesforce refuses for good (a validation rule, trigger, duplicate rule, no access…)
 * leaves its code and message on the unsubscribe, which is retried with back-off and
 * then set aside as a dead letter (R14); it never holds back the rest of the batch. A person matched
 * to no record is counted as skipped and NOT delivered: it waits for a record (the
 * ledger keeps its attempts and outcome, `optout status` shows it) and the hourly job
 * retries it with back-off (`waiting`), so a record created later gets the opt-out even
 * with the nightly sync off. The push itself does not ask again on every run.
 */
import { WAITING_OUTCOMES } from '../ledger/migrations';
import type { AttemptError, PendingUnsubscribe } from '../ledger/types';
import { classifyRecordError, retryDeferred } from '../model/stuck';
import {
    AUDIENCE_MEMBERSHIP as AM,
    SOBJECT,
    type OptOutField
} from '../model/schema';
import { requireWritableFields, type FieldNeed } from '../salesforce/describe';
import {
    effectiveOptOutField,
    type SyncSettings
} from '../salesforce/settings';
import {
    desiredMembership,
    membershipWrite,
    optOutDecision,
    resolveTargets,
    waitingRetryDelay,
    type Target
} from './decisions';
import {
    jobSettings,
    type JobContext,
    type MembershipWrite,
    type WriteMeta,
    type WriteOutcome
} from './context';
import { MembershipIndex, RecordIndex } from './records';
import { jobWriter, type Writer } from './writer';

export interface PushOptions {
    /** Only these unsubscribes (the `optout unsubscribe --target-org` hook). */
    unsubscribeIds?: readonly number[];
    /**
     * The hourly retry: only global unsubscribes waiting for a matching record whose
     * next attempt is due (read in batches; one scan of the org when many are due).
     */
    waiting?: boolean;
}

/** Waiting unsubscribes per batch of the hourly retry. */
const WAITING_BATCH = 5000;

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

/** The error to keep for an unsubscribe: a permanent one first (R14), else the first. */
export function firstError(
    errors: readonly (AttemptError | undefined)[]
): AttemptError | undefined {
    const known = errors.filter((e): e is AttemptError => e !== undefined);
    return (
        known.find((e) => classifyRecordError(e.code) === 'permanent') ??
        known[0]
    );
}

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
    if (options.waiting) {
        await retryWaiting(ctx);
        return;
    }
    const wanted = options.unsubscribeIds
        ? new Set(options.unsubscribeIds)
        : undefined;
    const pending: PendingUnsubscribe[] = [];
    const now = ctx.now().toISOString();
    for await (const batch of ctx.ledger.undeliveredUnsubscribeBatches({
        batchSize: 1000,
        // An explicit list is pushed whatever its state (except refused ones not due:
        // R14); otherwise those waiting for a record are left to the hourly retry.
        select: wanted ? 'all' : 'pushable',
        dueBy: now
    }))
        for (const u of batch)
            if (!wanted || (wanted.has(u.id) && !retryDeferred(u, now)))
                pending.push(u);
    // Nothing pending: no request at all (R11, and the webhook calls this often).
    if (pending.length === 0) return;
    await pushBatch(ctx, pending);
}

/** The hourly retry of global unsubscribes waiting for a matching record. */
async function retryWaiting(ctx: JobContext): Promise<void> {
    const dueBy = ctx.now().toISOString();
    const total = await ctx.ledger.countWaiting({ scope: 'all', dueBy });
    if (total === 0) return;
    const { settings } = await jobSettings(ctx);
    const field = effectiveOptOutField(settings);
    let shared: RecordIndex | undefined;
    try {
        if (total > WAITING_BATCH) {
            // Many due: read every Contact and Lead once rather than per batch.
            await requireWritableFields(ctx.client, [
                { object: SOBJECT.CONTACT, field },
                { object: SOBJECT.LEAD, field }
            ]);
            shared = new RecordIndex(ctx.workspace, [field]);
            await shared.loadAll(ctx.client, ctx.progress);
        }
        for await (const batch of ctx.ledger.undeliveredUnsubscribeBatches({
            select: 'waiting',
            scope: 'all',
            dueBy,
            batchSize: WAITING_BATCH
        }))
            await pushBatch(ctx, batch, shared);
    } finally {
        shared?.drop();
    }
}

/** What one batch's attempt found, per unsubscribe (R11, R14). */
interface BatchOutcome {
    /** Confirmed by Salesforce: delivered. */
    deliver: number[];
    /** What the attempt found for those not delivered (they stay pending). */
    outcomeOf: Map<number, string>;
    /** Salesforce's error for those refused (kept, backed off, dead-lettered). */
    errorOf: Map<number, AttemptError>;
}

/** What the steps of one batch share: its settings, field and the records read. */
interface BatchScope {
    ctx: JobContext;
    settings: SyncSettings;
    field: OptOutField;
    index: RecordIndex;
    writer: Writer;
    outcome: BatchOutcome;
}

/** One micro-batch of unsubscribes → Salesforce (see the file comment). */
async function pushBatch(
    ctx: JobContext,
    pending: readonly PendingUnsubscribe[],
    shared?: RecordIndex
): Promise<void> {
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
    const index =
        shared ?? new RecordIndex(ctx.workspace, global.length ? [field] : []);
    try {
        const persons = new Map(
            pending.map((u) => [
                u.personId,
                { emailNorm: u.emailNorm, salesforceId: u.salesforceId }
            ])
        );
        ctx.builder.mode(
            'read records',
            shared
                ? 'scan'
                : await index.loadFor(ctx.client, [...persons.values()], {
                      applyToSameEmail: settings.applyToSameEmail,
                      onProgress: ctx.progress
                  })
        );
        const scope: BatchScope = {
            ctx,
            settings,
            field,
            index,
            writer: jobWriter(ctx),
            outcome: { deliver: [], outcomeOf: new Map(), errorOf: new Map() }
        };
        await pushGlobal(scope, global);
        await pushAudience(scope, audience);
        await recordAttempts(scope, pending.length);
    } finally {
        if (!shared) index.drop();
    }
}

/** The records an unsubscribe goes to, or none yet (it waits for a record, R11). */
function targetsOf(
    scope: BatchScope,
    u: PendingUnsubscribe
): Target[] | undefined {
    const { settings, index } = scope;
    const r = resolveTargets(
        { emailNorm: u.emailNorm, salesforceId: u.salesforceId },
        index.candidates(u, settings.applyToSameEmail),
        {
            applyToSameEmail: settings.applyToSameEmail,
            lookup: (id) => index.get(id)
        }
    );
    if (r.skip) {
        scope.ctx.builder.skip(r.skip);
        scope.outcome.outcomeOf.set(u.id, r.skip);
        return undefined;
    }
    return r.targets;
}

/** Global unsubscribes → the opt-out field (R1, R2); delivered once every record has it. */
async function pushGlobal(
    scope: BatchScope,
    global: readonly PendingUnsubscribe[]
): Promise<void> {
    const { ctx, field, index, writer, outcome } = scope;
    const plans: { u: PendingUnsubscribe; targets: Target[] }[] = [];
    const toWrite = new Map<string, Target>();
    const metas = new Map<string, WriteMeta>();
    for (const u of global) {
        const targets = targetsOf(scope, u);
        if (!targets) continue;
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
    let writeOutcomes = new Map<string, WriteOutcome>();
    if (toWrite.size) {
        const outcomes = await writer.optOut(
            field,
            [...toWrite.values()],
            (id) => metas.get(id) as WriteMeta,
            { sample: (t) => ({ email: metas.get(t.id)?.emailNorm }) }
        );
        writeOutcomes = outcomes;
        const before = confirmed;
        confirmed = (id) => {
            const o = outcomes.get(id);
            return o ? o.ok || o.deleted : before(id);
        };
        // A shared index serves later batches: it must know what is true now
        // (a planned write changed nothing).
        index.markOptedOut(
            [...outcomes]
                .filter(([, o]) => o.ok && !o.planned)
                .map(([id]) => id),
            field
        );
    }
    for (const { u, targets } of plans)
        if (targets.every((t) => confirmed(t.id))) outcome.deliver.push(u.id);
        else {
            outcome.outcomeOf.set(u.id, 'failed');
            const error = firstError(
                targets.map((t) => {
                    const o = writeOutcomes.get(t.id);
                    return o && !o.ok ? o.error : undefined;
                })
            );
            if (error) outcome.errorOf.set(u.id, error);
        }
}

/** Audience unsubscribes → the membership status (R5, R13); delivered once every row has it. */
async function pushAudience(
    scope: BatchScope,
    audience: readonly PendingUnsubscribe[]
): Promise<void> {
    const { ctx, writer, outcome } = scope;
    const rows: { u: PendingUnsubscribe; writes: MembershipWrite[] }[] = [];
    for (const u of audience) {
        const targets = targetsOf(scope, u);
        if (!targets) continue;
        rows.push({ u, writes: await membershipWrites(ctx, u, targets) });
    }
    if (rows.length === 0) return;
    const memberships = new MembershipIndex(ctx.workspace);
    try {
        const wanted = rows.flatMap((r) => r.writes.map((w) => w.fields));
        if (wanted.length)
            ctx.builder.mode(
                'read memberships',
                await memberships.loadFor(ctx.client, wanted, ctx.progress)
            );
        const upserts: MembershipWrite[] = [];
        const settled = new Map<string, boolean>();
        const keyErrors = new Map<string, AttemptError>();
        // R13 (two persons' unsubscribes on one record) and merged records' keys.
        const winnerOf = memberships.claim(rows.flatMap((r) => r.writes));
        for (const { writes } of rows) {
            for (const w of writes) {
                const key = w.fields[AM.Membership_Key__c];
                const existing = memberships.get(key);
                const what = membershipWrite(
                    (winnerOf.get(key) ?? w).fields,
                    existing
                );
                if (what === 'unchanged') {
                    ctx.builder.skip('membership_unchanged');
                    settled.set(key, true);
                } else if (what === 'pending_in_salesforce') {
                    ctx.builder.skip('pending_in_salesforce');
                    settled.set(key, false);
                } else {
                    upserts.push({ ...w, before: existing?.status ?? null });
                }
            }
        }
        for (const [k, ok] of await writer.memberships(upserts, {
            errors: keyErrors,
            planEachClaim: true
        }))
            settled.set(k, ok);
        for (const { u, writes } of rows) {
            const keys = writes.map((w) => w.fields[AM.Membership_Key__c]);
            if (keys.every((k) => settled.get(k) === true)) {
                outcome.deliver.push(u.id);
                continue;
            }
            const pendingHere = keys.some((k) => memberships.get(k)?.pending);
            outcome.outcomeOf.set(
                u.id,
                pendingHere ? 'pending_in_salesforce' : 'failed'
            );
            const error = pendingHere
                ? undefined
                : firstError(keys.map((k) => keyErrors.get(k)));
            if (error) outcome.errorOf.set(u.id, error);
        }
    } finally {
        memberships.drop();
    }
}

/** The membership rows an audience unsubscribe asks for, one per target record. */
async function membershipWrites(
    ctx: JobContext,
    u: PendingUnsubscribe,
    targets: readonly Target[]
): Promise<MembershipWrite[]> {
    const m = await ctx.ledger.getMembership(
        u.personId,
        u.audienceId as string
    );
    return targets.map((t) => ({
        fields: desiredMembership(
            {
                audienceId: u.audienceId as string,
                audienceName: u.audienceName ?? (u.audienceId as string),
                email: u.email,
                status: m?.status ?? 'Unsubscribed',
                changedAt: m?.changedAt ?? u.collectedAt,
                source: m?.source ?? u.source,
                reason: m?.reason ?? u.reason
            },
            t
        ),
        before: null,
        meta: metaOf(u)
    }));
}

/** R11: delivered only after Salesforce confirmed; the others' outcomes, and what to tell. */
async function recordAttempts(scope: BatchScope, asked: number): Promise<void> {
    const { ctx, writer } = scope;
    const { deliver, outcomeOf, errorOf } = scope.outcome;
    await writer.markDelivered(deliver, { job: ctx.job });
    await writer.ledger(() =>
        ctx.ledger.recordUnsubscribeAttempts(
            [...outcomeOf].map(([id, outcome]) => ({
                id,
                outcome,
                error: errorOf.get(id) ?? null
            })),
            {
                at: ctx.now().toISOString(),
                delay: waitingRetryDelay,
                runId: ctx.runId
            }
        )
    );
    const refused = [...errorOf.values()].filter(
        (e) => classifyRecordError(e.code) === 'permanent'
    ).length;
    if (refused > 0)
        ctx.log(
            'warn',
            `${refused} unsubscribe(s) refused by Salesforce: retried with back-off, then set aside (optout status shows why and what to do; optout retry puts them back)`
        );
    const waiting = [...outcomeOf.values()].filter((o) =>
        (WAITING_OUTCOMES as readonly string[]).includes(o)
    ).length;
    if (waiting > 0)
        ctx.log(
            'info',
            `${waiting} unsubscribe(s) match no Salesforce record yet: they wait (optout status) and the hourly job retries them`
        );
    const left = asked - deliver.length - waiting;
    if (left > 0)
        ctx.log(
            'warn',
            `${left} unsubscribe(s) stay pending for the next push`
        );
}
