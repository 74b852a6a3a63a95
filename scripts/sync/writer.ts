/**
 * What a job changes — Salesforce records and the ledger — behind one interface, chosen
 * once per run from `dryRun` (see `jobWriter`):
 *
 * - `SalesforceWriter` writes: `writeOptOut` and `upsertMemberships` (context.ts), the
 *   pending flags, the ledger's deliveries, unsubscribes, attempts and cursors, holding
 *   another job's lock where two jobs could write the same records (`exclusive`);
 * - `PlanWriter` writes nothing (Salesforce or ledger) and so takes no other job's lock:
 *   each would-be write is counted in the result's `plan`, with a sample, and reported
 *   as confirmed (`planned`), so the job's own bookkeeping (what is delivered, what
 *   waits) runs as for a real run.
 *
 * The jobs call the writer where they used to branch on `ctx.dryRun`; what they read
 * is the same in both modes.
 */
import type {
    RecordUnsubscribeInput,
    RecordUnsubscribeResult
} from '../ledger/ledger';
import type { AttemptError } from '../ledger/types';
import {
    AUDIENCE_MEMBERSHIP as AM,
    SOBJECT,
    type OptOutField
} from '../model/schema';
import type { PersonObject } from '../model/statuses';
import { requireWritableFields, type FieldNeed } from '../salesforce/describe';
import {
    recordFailure,
    upsertMemberships,
    writeOptOut,
    type JobContext,
    type MembershipWrite,
    type WriteMeta,
    type WriteOutcome
} from './context';
import { membershipClaim, oneRowPerKey } from './decisions';
import type { JobName } from './result';

type Sample = Record<string, unknown>;

/** A record whose opt-out field is to be set true. */
export interface OptOutTarget {
    id: string;
    object: PersonObject;
}

/** An Audience_Membership__c row whose Pending_Push__c is to be cleared. */
export interface PendingClear {
    id: string;
    /** Fields to put back with it (the ledger's status, R4). */
    restore?: Record<string, unknown>;
}

export interface Writer {
    /**
     * Sets `field` = true on the targets (R4: never false); the outcome per target.
     * `sample`: what a plan shows of a target besides object, id, field and value.
     */
    optOut(
        field: OptOutField,
        targets: readonly OptOutTarget[],
        meta: (recordId: string) => WriteMeta,
        options?: { sample?: (target: OptOutTarget) => Sample }
    ): Promise<Map<string, WriteOutcome>>;

    /**
     * Upserts membership rows (R13: one row per key); confirmed or not, per key.
     * `errors` gets Salesforce's error of each refused key (R14). A plan counts one row
     * per key, or every claim with `planEachClaim` (the push's plan, as it always was).
     */
    memberships(
        writes: readonly MembershipWrite[],
        options?: {
            errors?: Map<string, AttemptError>;
            planEachClaim?: boolean;
        }
    ): Promise<Map<string, boolean>>;

    /** Clears Pending_Push__c on the rows taken into the ledger (hourly (c)), audited. */
    clearPending(rows: readonly PendingClear[]): Promise<void>;

    /** Marks unsubscribes delivered (R11) and counts them in the result. */
    markDelivered(
        ids: readonly number[],
        detail: Record<string, unknown>
    ): Promise<void>;

    /**
     * Records an unsubscribe from Salesforce in the ledger, counted in the result (null
     * in a plan, which counts it unless the person has it active already).
     */
    recordUnsubscribe(
        input: RecordUnsubscribeInput,
        sample: Sample
    ): Promise<RecordUnsubscribeResult | null>;

    /**
     * Records unsubscribes from Salesforce in the ledger in one batch (each audited,
     * R10), counting those recorded in the result; the caller has left out the persons
     * unsubscribed already. A plan counts every input, with `sample` of each, and
     * records none (an empty answer).
     */
    recordUnsubscribes(
        inputs: readonly RecordUnsubscribeInput[],
        sample: (input: RecordUnsubscribeInput) => Sample
    ): Promise<RecordUnsubscribeResult[]>;

    /**
     * Runs `fn` holding `job`'s lock too (`JobContext.exclusive`, when the run takes
     * locks), so that the two jobs never write the same records at once; a plan writes
     * nothing and takes no other lock.
     */
    exclusive<T>(job: JobName, fn: () => Promise<T>): Promise<T>;

    /** Moves a cursor (a plan moves none). */
    setCursor(
        cursor: { job: string; name: string },
        value: string | number
    ): Promise<void>;

    /** Runs `fn` in one ledger transaction (a plan writes nothing to roll back). */
    transaction<T>(fn: () => Promise<T>): Promise<T>;

    /**
     * The ledger's bookkeeping of a write: attempts, audits, re-queues, a membership
     * taken from Salesforce. A plan leaves the ledger as it is: `fn` does not run and
     * the answer is undefined.
     */
    ledger<T>(fn: () => Promise<T>): Promise<T | undefined>;

    /**
     * Checks write access where only the write path checks it (new records' opt-outs);
     * a plan does not ask.
     */
    requireWritable(needs: readonly FieldNeed[]): Promise<void>;
}

/** The run's writer: chosen once from `ctx.dryRun` (kept on the context). */
export function jobWriter(ctx: JobContext): Writer {
    ctx.writer ??= ctx.dryRun ? new PlanWriter(ctx) : new SalesforceWriter(ctx);
    return ctx.writer;
}

/** Writes to Salesforce and the ledger. */
export class SalesforceWriter implements Writer {
    constructor(private readonly ctx: JobContext) {}

    async optOut(
        field: OptOutField,
        targets: readonly OptOutTarget[],
        meta: (recordId: string) => WriteMeta
    ): Promise<Map<string, WriteOutcome>> {
        return writeOptOut(this.ctx, field, targets, meta);
    }

    async memberships(
        writes: readonly MembershipWrite[],
        options: { errors?: Map<string, AttemptError> } = {}
    ): Promise<Map<string, boolean>> {
        return upsertMemberships(this.ctx, writes, options.errors);
    }

    async clearPending(rows: readonly PendingClear[]): Promise<void> {
        const ctx = this.ctx;
        if (rows.length === 0) return;
        ctx.heartbeat();
        const results = await ctx.client.updateRecords(
            SOBJECT.AUDIENCE_MEMBERSHIP,
            rows.map((t) => ({
                Id: t.id,
                [AM.Pending_Push__c]: false,
                ...(t.restore ?? {})
            }))
        );
        const writtenAt = ctx.now().toISOString();
        const restored = new Map(
            rows
                .filter((t) => t.restore)
                .map((t) => [t.id, t.restore?.[AM.Status__c]])
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

    async markDelivered(
        ids: readonly number[],
        detail: Record<string, unknown>
    ): Promise<void> {
        if (ids.length === 0) return;
        this.ctx.builder.result.unsubscribesDelivered +=
            await this.ctx.ledger.markDelivered(ids, {
                runId: this.ctx.runId,
                detail
            });
    }

    async recordUnsubscribe(
        input: RecordUnsubscribeInput
    ): Promise<RecordUnsubscribeResult> {
        const r = await this.ctx.ledger.recordUnsubscribe(input);
        if (r.outcome === 'recorded')
            this.ctx.builder.result.ledgerUnsubscribesAdded += 1;
        else this.ctx.builder.skip('already_in_ledger');
        return r;
    }

    async recordUnsubscribes(
        inputs: readonly RecordUnsubscribeInput[]
    ): Promise<RecordUnsubscribeResult[]> {
        if (inputs.length === 0) return [];
        const results = await this.ctx.ledger.recordUnsubscribes([...inputs]);
        this.ctx.builder.result.ledgerUnsubscribesAdded += results.filter(
            (r) => r.outcome === 'recorded'
        ).length;
        return results;
    }

    async exclusive<T>(job: JobName, fn: () => Promise<T>): Promise<T> {
        return this.ctx.exclusive ? this.ctx.exclusive(job, fn) : fn();
    }

    async setCursor(
        cursor: { job: string; name: string },
        value: string | number
    ): Promise<void> {
        await this.ctx.ledger.setCursor(cursor.job, cursor.name, value);
    }

    async transaction<T>(fn: () => Promise<T>): Promise<T> {
        return this.ctx.ledger.transaction(fn);
    }

    async ledger<T>(fn: () => Promise<T>): Promise<T> {
        return fn();
    }

    async requireWritable(needs: readonly FieldNeed[]): Promise<void> {
        await requireWritableFields(this.ctx.client, [...needs]);
    }
}

/** Writes nothing: counts each would-be write in the result's plan (dry run). */
export class PlanWriter implements Writer {
    constructor(private readonly ctx: JobContext) {}

    async optOut(
        field: OptOutField,
        targets: readonly OptOutTarget[],
        _meta: (recordId: string) => WriteMeta,
        options: { sample?: (target: OptOutTarget) => Sample } = {}
    ): Promise<Map<string, WriteOutcome>> {
        this.ctx.builder.plan(
            'fieldWrites',
            targets.length,
            targets.map((t) => ({
                object: t.object,
                id: t.id,
                field,
                value: true,
                ...(options.sample?.(t) ?? {})
            }))
        );
        return new Map(
            targets.map((t) => [
                t.id,
                { ok: true, writtenId: t.id, object: t.object, planned: true }
            ])
        );
    }

    async memberships(
        writes: readonly MembershipWrite[],
        options: { planEachClaim?: boolean } = {}
    ): Promise<Map<string, boolean>> {
        const rows = options.planEachClaim
            ? writes
            : [
                  ...oneRowPerKey(
                      writes,
                      (w) => w.fields[AM.Membership_Key__c],
                      (w) => membershipClaim(w.fields, w.meta.personId)
                  ).values()
              ];
        this.ctx.builder.plan(
            'membershipUpserts',
            rows.length,
            rows.map((w) => ({ ...w.fields }))
        );
        return new Map(
            writes.map((w) => [w.fields[AM.Membership_Key__c], true])
        );
    }

    async clearPending(rows: readonly PendingClear[]): Promise<void> {
        this.ctx.builder.plan(
            'pendingCleared',
            rows.length,
            rows.map((t) => ({
                object: SOBJECT.AUDIENCE_MEMBERSHIP,
                id: t.id,
                [AM.Pending_Push__c]: false
            }))
        );
    }

    async markDelivered(ids: readonly number[]): Promise<void> {
        this.ctx.builder.plan('deliveries', ids.length);
    }

    async recordUnsubscribe(
        input: RecordUnsubscribeInput,
        sample: Sample
    ): Promise<null> {
        const ledger = this.ctx.ledger;
        const known =
            input.email !== undefined
                ? await ledger.findPerson(input.email)
                : undefined;
        const personId = known?.id ?? input.personId;
        const active =
            personId !== undefined &&
            (await ledger.listUnsubscribes(personId)).some(
                (u) =>
                    u.scope === input.scope &&
                    (input.scope !== 'audience' ||
                        u.audienceId === input.audienceId) &&
                    !u.removedAt
            );
        if (!active) this.ctx.builder.plan('ledgerUnsubscribes', 1, [sample]);
        return null;
    }

    async recordUnsubscribes(
        inputs: readonly RecordUnsubscribeInput[],
        sample: (input: RecordUnsubscribeInput) => Sample
    ): Promise<RecordUnsubscribeResult[]> {
        this.ctx.builder.plan(
            'ledgerUnsubscribes',
            inputs.length,
            inputs.map(sample)
        );
        return [];
    }

    async exclusive<T>(_job: JobName, fn: () => Promise<T>): Promise<T> {
        return fn();
    }

    async setCursor(): Promise<void> {}

    async transaction<T>(fn: () => Promise<T>): Promise<T> {
        return fn();
    }

    async ledger(): Promise<undefined> {
        return undefined;
    }

    async requireWritable(): Promise<void> {}
}
