/**
 * The hourly audience sync (R5), in this order:
 *
 * (c) audience changes made inside Salesforce (the component or the Flow action check
 *     Pending_Push__c) are applied to the ledger — an Unsubscribed row becomes the
 *     audience unsubscribe (source flow or salesforce) — and only after the ledger
 *     committed is the pending flag cleared in Salesforce;
 * (a) membership changes since the cursor (the ledger's `seq`) are upserted to
 *     Audience_Membership__c by Membership_Key__c on each of the person's records (R6,
 *     R8, R9); rows already equal are not written (R11), rows with a Salesforce change
 *     still pending are left for (c) of the next run;
 * (b) with All_Audiences_Rule__c on: a person in at least one audience (Archived aside)
 *     and Unsubscribed from all of them gets HasOptedOutOfEmail = true.
 *
 * Taking (c) first means a Salesforce unsubscribe is never overwritten by an older
 * ledger status in (a). Cursors move only after the work they cover is confirmed. A
 * change whose person matches no record yet, or whose write Salesforce refuses (R14),
 * does not hold the cursor back: it waits in the ledger (sync_outcome, with the
 * refusal's code and message) and (a) retries it with back-off, as it retries the global
 * unsubscribes that wait for a record (with the nightly sync off; on, nightly covers them).
 */
import type { AttemptError, MembershipChange } from '../ledger/types';
import {
    AUDIENCE_MEMBERSHIP as AM,
    CONTACT,
    SOBJECT,
    type OptOutField
} from '../model/schema';
import { SOURCE_PICKLIST } from '../model/statuses';
import { classifyRecordError } from '../model/stuck';
import { SalesforceError } from '../salesforce/errors';
import { requireWritableFields } from '../salesforce/describe';
import type { SyncSettings } from '../salesforce/settings';
import {
    desiredMembership,
    membershipClaim,
    membershipWrite,
    nextCursor,
    oneRowPerKey,
    optOutDecision,
    pendingChange,
    resolveTargets,
    toSecond,
    waitingRetryDelay,
    type ExistingMembership,
    type PersonRef,
    type Target
} from './decisions';
import {
    jobSettings,
    recordFailure,
    upsertMemberships,
    writeOptOut,
    type JobContext,
    type MembershipWrite,
    type WriteMeta
} from './context';
import { MEMBERSHIP_WRITE_FIELDS, firstError, runPush } from './push';
import { takeNewRecords } from './new-records';
import {
    AUDIENCE_MEMBERSHIP_SELECT,
    MembershipIndex,
    RecordIndex,
    toExistingMembership
} from './records';

export const HOURLY_CURSOR = { job: 'hourly', name: 'membership_seq' } as const;
export const ALL_AUDIENCES_CURSOR = {
    job: 'hourly',
    name: 'all_audiences_seq'
} as const;

/** Above this many changes, read every record and membership once instead of looking up. */
export const HOURLY_LOOKUP_LIMIT = 5000;

export async function runHourly(ctx: JobContext): Promise<void> {
    const { settings } = await jobSettings(ctx);
    await takePending(ctx);
    // Records created since the last run get what the person's other records have.
    await takeNewRecords(ctx);
    await upsertChanges(ctx, settings);
    // Global unsubscribes whose person matched no record yet (R6, R11): retried here
    // with back-off; with the nightly sync on, its reconciliation covers them.
    if (!settings.nightlySyncEnabled) await runPush(ctx, { waiting: true });
    if (settings.allAudiencesRule) await allAudiencesRule(ctx, settings);
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

// ------------------------------------------------------------------ (c)

async function takePending(ctx: JobContext): Promise<void> {
    const rows = await readPendingRows(ctx);
    if (rows.length === 0) return;
    // Rows without Email__c: the email of their Contact or Lead.
    const index = new RecordIndex(ctx.workspace, []);
    try {
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
        const taken: {
            row: ExistingMembership;
            unsubscribeId: number | null;
            /** The ledger's status to put back (an active unsubscribe wins, R4). */
            restore?: Record<string, unknown>;
        }[] = [];
        const apply = async (): Promise<void> => {
            for (const row of rows) {
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
                    continue;
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
                    taken.push({ row, unsubscribeId: null });
                    continue;
                }
                let unsubscribeId: number | null = null;
                let restore: Record<string, unknown> | undefined;
                if (change.status === 'Unsubscribed') {
                    const r = await ctx.ledger.recordUnsubscribe({
                        email: change.email,
                        salesforceId: link,
                        scope: 'audience',
                        audienceId: change.audienceId,
                        audienceName: change.audienceName,
                        source: change.source,
                        reason: change.reason,
                        ...(change.changedAt
                            ? { collectedAt: change.changedAt }
                            : {}),
                        runId: ctx.runId
                    });
                    if (r.outcome === 'recorded')
                        ctx.builder.result.ledgerUnsubscribesAdded += 1;
                    else ctx.builder.skip('already_in_ledger');
                    if (!r.unsubscribe.deliveredAt)
                        unsubscribeId = r.unsubscribe.id;
                } else {
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
                        ...(change.changedAt
                            ? { changedAt: change.changedAt }
                            : {}),
                        source: change.source,
                        reason: change.reason,
                        runId: ctx.runId,
                        auditAction: 'membership_from_salesforce'
                    });
                    if (r.outcome !== 'created' && r.outcome !== 'changed')
                        ctx.builder.skip(`ledger_${r.outcome}`);
                    // blocked: an active audience unsubscribe wins (R4); the row gets
                    // the ledger's status back instead of keeping a re-subscription.
                    if (r.outcome === 'blocked' && r.membership)
                        restore = {
                            [AM.Status__c]: r.membership.status,
                            [AM.Status_Changed_At__c]: toSecond(
                                r.membership.changedAt
                            ),
                            [AM.Source__c]:
                                SOURCE_PICKLIST[r.membership.source],
                            [AM.Unsubscribe_Reason__c]: r.membership.reason
                        };
                }
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
                taken.push({ row, unsubscribeId, restore });
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

// ------------------------------------------------------------------ (a)

interface Planned {
    change: MembershipChange;
    writes: MembershipWrite[];
    /** Keys settled without a write (unchanged). */
    settled: number;
    /** Keys left alone because Salesforce has a pending change. */
    pending: number;
}

async function undeliveredAudienceUnsubscribe(
    ctx: JobContext,
    personId: number,
    audienceId: string
): Promise<number | null> {
    return ctx.ledger.undeliveredAudienceUnsubscribeId(personId, audienceId);
}

async function upsertChanges(
    ctx: JobContext,
    settings: SyncSettings
): Promise<void> {
    const cursor = Number(
        (await ctx.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)) ??
            '0'
    );
    const dueBy = ctx.now().toISOString();
    const fresh = await ctx.ledger.countMembershipChangesAfter(cursor);
    // Changes taken before whose person matched no record (or whose write failed),
    // due for another try: a record may exist now (R6, R11).
    const retries = await ctx.ledger.countMembershipRetries({
        dueBy,
        maxSeq: cursor
    });
    const total = fresh + retries;
    if (total === 0) return;
    await requireWritableFields(ctx.client, MEMBERSHIP_WRITE_FIELDS);
    const large = total > HOURLY_LOOKUP_LIMIT;
    const index = new RecordIndex(ctx.workspace, []);
    const memberships = new MembershipIndex(ctx.workspace);
    let handledMax = cursor;
    /**
     * Changes with a write Salesforce refused, by person\taudience: they stay behind
     * in the ledger's retry state (R14), never in the cursor.
     */
    const refused = new Map<
        string,
        { personId: number; audienceId: string; error: AttemptError | null }
    >();
    const flushAt = Math.max(
        ctx.client.bulkThreshold,
        Math.min(ctx.client.bulkJobSize, 50_000)
    );
    let buffer: {
        seq: number;
        write: MembershipWrite;
        unsubscribeId: number | null;
        /** The change this write belongs to (person\taudience). */
        track: string;
        personId: number;
        audienceId: string;
        /** A retry (seq ≤ cursor) rather than a change taken through the cursor. */
        retry: boolean;
    }[] = [];
    const waiting = new Map<
        number,
        { keys: number; ok: number; seq: number }
    >();
    /** Retried memberships: keys to confirm, and how many were confirmed. */
    const retried = new Map<
        string,
        { personId: number; audienceId: string; keys: number; ok: number }
    >();
    const attempts: {
        personId: number;
        audienceId: string;
        outcome: string | null;
        error?: AttemptError | null;
    }[] = [];
    const deliver: number[] = [];
    let done = 0;
    // R4 on a shared record: another person linked to the same record (by id, or by
    // email under R8) with an active unsubscribe from this audience holds its row.
    const heldByAnother = async (
        personId: number,
        audienceId: string,
        target: Target
    ): Promise<boolean> =>
        ctx.ledger.audienceHeldByAnother({
            audienceId,
            personId,
            salesforceId: target.id,
            emailNorm: settings.applyToSameEmail
                ? (index.get(target.id)?.emailNorm ?? null)
                : null
        });

    const flush = async (): Promise<void> => {
        if (buffer.length === 0) return;
        const batch = buffer;
        buffer = [];
        if (ctx.dryRun) {
            const rows = [
                ...oneRowPerKey(
                    batch.map((b) => b.write),
                    (w) => w.fields[AM.Membership_Key__c],
                    (w) => membershipClaim(w.fields, w.meta.personId)
                ).values()
            ];
            ctx.builder.plan(
                'membershipUpserts',
                rows.length,
                rows.map((w) => ({ ...w.fields }))
            );
            return;
        }
        const errors = new Map<string, AttemptError>();
        const outcomes = await upsertMemberships(
            ctx,
            batch.map((b) => b.write),
            errors
        );
        for (const b of batch) {
            const key = b.write.fields[AM.Membership_Key__c];
            const ok = outcomes.get(key);
            if (!ok) {
                const seen = refused.get(b.track);
                refused.set(b.track, {
                    personId: b.personId,
                    audienceId: b.audienceId,
                    error:
                        firstError([
                            seen?.error ?? undefined,
                            errors.get(key)
                        ]) ?? null
                });
            }
            if (ok && b.retry) {
                const r = retried.get(b.track);
                if (r) r.ok += 1;
            }
            if (b.unsubscribeId !== null) {
                const w = waiting.get(b.unsubscribeId);
                if (w && ok) {
                    w.ok += 1;
                    if (w.ok === w.keys) deliver.push(b.unsubscribeId);
                }
            }
        }
    };

    const handle = async (
        changes: MembershipChange[],
        retry: boolean
    ): Promise<void> => {
        ctx.heartbeat();
        if (!large) {
            const persons = new Map<number, PersonRef>();
            for (const c of changes)
                persons.set(c.personId, {
                    emailNorm: c.emailNorm,
                    salesforceId: c.salesforceId
                });
            await index.loadFor(ctx.client, [...persons.values()], {
                applyToSameEmail: settings.applyToSameEmail
            });
        }
        const planned: Planned[] = [];
        const keys: string[] = [];
        const noRecord: typeof attempts = [];
        for (const c of changes) {
            if (!retry) handledMax = Math.max(handledMax, c.seq);
            const r = resolveTargets(
                c,
                index.candidates(c, settings.applyToSameEmail),
                {
                    applyToSameEmail: settings.applyToSameEmail,
                    lookup: (id) => index.get(id)
                }
            );
            if (r.skip) {
                ctx.builder.skip(r.skip);
                // No record yet: the change waits and is retried (not lost with the cursor).
                noRecord.push({
                    personId: c.personId,
                    audienceId: c.audienceId,
                    outcome: r.skip
                });
                continue;
            }
            const meta: WriteMeta = {
                emailNorm: c.emailNorm,
                personId: c.personId,
                source: c.source,
                collectedAt: c.changedAt,
                detail: retry ? { seq: c.seq, retry: true } : { seq: c.seq }
            };
            const targets: Target[] = [];
            for (const t of r.targets) {
                if (
                    c.status !== 'Unsubscribed' &&
                    (await heldByAnother(c.personId, c.audienceId, t))
                ) {
                    ctx.builder.skip('held_by_audience_unsubscribe');
                    continue;
                }
                targets.push(t);
            }
            const writes = targets.map((t: Target) => ({
                fields: desiredMembership(
                    {
                        audienceId: c.audienceId,
                        audienceName: c.audienceName,
                        email: c.email,
                        status: c.status,
                        changedAt: c.changedAt,
                        source: c.source,
                        reason: c.reason
                    },
                    t
                ),
                before: null,
                meta
            }));
            keys.push(...writes.map((w) => w.fields[AM.Membership_Key__c]));
            planned.push({ change: c, writes, settled: 0, pending: 0 });
        }
        if (!large && keys.length) {
            ctx.builder.mode(
                'read memberships',
                await memberships.loadFor(
                    ctx.client,
                    planned.flatMap((p) => p.writes.map((w) => w.fields))
                )
            );
        }
        const winnerOf = memberships.claim(planned.flatMap((p) => p.writes));
        for (const p of planned) {
            const toWrite: MembershipWrite[] = [];
            for (const w of p.writes) {
                const key = w.fields[AM.Membership_Key__c];
                const existing = memberships.get(key);
                // R13: the row says what the winning claim says; a losing claim is
                // settled with it (and sent along: upsertMemberships sends one row).
                const what = membershipWrite(
                    (winnerOf.get(key) ?? w).fields,
                    existing
                );
                if (what === 'unchanged') {
                    ctx.builder.skip('membership_unchanged');
                    p.settled += 1;
                } else if (what === 'pending_in_salesforce') {
                    ctx.builder.skip('pending_in_salesforce');
                    p.pending += 1;
                } else
                    toWrite.push({
                        ...w,
                        before: existing?.status ?? null
                    });
            }
            const track = `${p.change.personId}\t${p.change.audienceId}`;
            if (retry)
                retried.set(track, {
                    personId: p.change.personId,
                    audienceId: p.change.audienceId,
                    keys: toWrite.length,
                    ok: 0
                });
            const unsub =
                p.change.status === 'Unsubscribed'
                    ? await undeliveredAudienceUnsubscribe(
                          ctx,
                          p.change.personId,
                          p.change.audienceId
                      )
                    : null;
            if (unsub !== null && p.pending === 0) {
                if (toWrite.length === 0) deliver.push(unsub);
                else
                    waiting.set(unsub, {
                        keys: toWrite.length,
                        ok: 0,
                        seq: p.change.seq
                    });
            }
            for (const w of toWrite)
                buffer.push({
                    seq: p.change.seq,
                    write: w,
                    unsubscribeId:
                        unsub !== null && p.pending === 0 ? unsub : null,
                    track,
                    personId: p.change.personId,
                    audienceId: p.change.audienceId,
                    retry
                });
        }
        if (!ctx.dryRun)
            await ctx.ledger.recordMembershipAttempts(noRecord, {
                at: dueBy,
                delay: waitingRetryDelay
            });
        done += changes.length;
        ctx.progress({ phase: 'audience memberships', done, total });
        if (buffer.length >= flushAt) await flush();
    };

    try {
        if (large) {
            await index.loadAll(ctx.client, ctx.progress);
            await loadAllMemberships(ctx, memberships);
        }
        ctx.builder.mode('read records', large ? 'scan' : 'lookup');
        for await (const changes of ctx.ledger.membershipChangeBatches({
            afterSeq: cursor,
            batchSize: large ? 5000 : HOURLY_LOOKUP_LIMIT
        }))
            await handle(changes, false);
        if (retries > 0)
            for await (const changes of ctx.ledger.membershipRetryBatches({
                dueBy,
                maxSeq: cursor,
                batchSize: large ? 5000 : HOURLY_LOOKUP_LIMIT
            }))
                await handle(changes, true);
        await flush();
        if (ctx.dryRun) {
            ctx.builder.plan('deliveries', deliver.length + waiting.size);
            return;
        }
        for (const [track, r] of retried)
            if (!refused.has(track))
                attempts.push({
                    personId: r.personId,
                    audienceId: r.audienceId,
                    outcome: r.ok === r.keys ? null : 'failed'
                });
        // R14: a refused write is kept with Salesforce's error and retried with
        // back-off (then a dead letter); the cursor moves on past it.
        for (const f of refused.values())
            attempts.push({
                personId: f.personId,
                audienceId: f.audienceId,
                outcome: 'failed',
                error: f.error
            });
        await ctx.ledger.recordMembershipAttempts(attempts, {
            at: dueBy,
            delay: waitingRetryDelay,
            runId: ctx.runId
        });
        if (refused.size)
            ctx.log(
                'warn',
                `${refused.size} membership change(s) refused by Salesforce: retried with back-off, then set aside (optout status shows why and what to do)`
            );
        if (deliver.length)
            ctx.builder.result.unsubscribesDelivered +=
                await ctx.ledger.markDelivered(deliver, {
                    runId: ctx.runId,
                    detail: { job: 'hourly' }
                });
        // Nothing refused pins the cursor (R14): those changes live on in the
        // ledger's retry state (membershipRetryBatches), not behind the cursor.
        await ctx.ledger.setCursor(
            HOURLY_CURSOR.job,
            HOURLY_CURSOR.name,
            nextCursor(cursor, handledMax, [])
        );
    } finally {
        index.drop();
        memberships.drop();
    }
}

async function loadAllMemberships(
    ctx: JobContext,
    memberships: MembershipIndex
): Promise<void> {
    let done = 0;
    for await (const rows of ctx.client.scan(AUDIENCE_MEMBERSHIP_SELECT, {
        booleanFields: [AM.Pending_Push__c]
    })) {
        memberships.insertRows(rows);
        done += rows.length;
        ctx.progress({ phase: 'read audience memberships', done });
    }
    memberships.mode = 'scan';
}

// ------------------------------------------------------------------ (b)

async function allAudiencesRule(
    ctx: JobContext,
    settings: SyncSettings
): Promise<void> {
    const cursor = Number(
        (await ctx.ledger.getCursor(
            ALL_AUDIENCES_CURSOR.job,
            ALL_AUDIENCES_CURSOR.name
        )) ?? '0'
    );
    const upTo = await ctx.ledger.maxSeq();
    if (upTo <= cursor) return;
    // Persons whose memberships changed since the cursor and for whom R5b holds now
    // (the SQL form of allAudiencesUnsubscribed()).
    const persons: (PersonRef & { personId: number })[] =
        await ctx.ledger.personsUnsubscribedFromAllAudiences(cursor, upTo);
    const field: OptOutField = CONTACT.HasOptedOutOfEmail;
    let failed = false;
    if (persons.length) {
        await requireWritableFields(ctx.client, [
            { object: SOBJECT.CONTACT, field },
            { object: SOBJECT.LEAD, field }
        ]);
        const index = new RecordIndex(ctx.workspace, [field]);
        try {
            await index.loadFor(ctx.client, persons, {
                applyToSameEmail: settings.applyToSameEmail,
                onProgress: ctx.progress
            });
            const toWrite = new Map<string, Target>();
            const metas = new Map<string, WriteMeta>();
            for (const p of persons) {
                const r = resolveTargets(
                    p,
                    index.candidates(p, settings.applyToSameEmail),
                    {
                        applyToSameEmail: settings.applyToSameEmail,
                        lookup: (id) => index.get(id)
                    }
                );
                if (r.skip) {
                    ctx.builder.skip(r.skip);
                    continue;
                }
                const d = optOutDecision(r.targets, field);
                ctx.builder.skip('already_opted_out', d.alreadySet.length);
                for (const t of d.write)
                    if (!toWrite.has(t.id)) {
                        toWrite.set(t.id, t);
                        metas.set(t.id, {
                            emailNorm: p.emailNorm,
                            personId: p.personId,
                            source: 'platform',
                            collectedAt: null,
                            detail: {
                                rule: 'R5b unsubscribed from all audiences'
                            }
                        });
                    }
            }
            if (ctx.dryRun) {
                ctx.builder.plan(
                    'fieldWrites',
                    toWrite.size,
                    [...toWrite.values()].map((t) => ({
                        object: t.object,
                        id: t.id,
                        field,
                        value: true,
                        rule: 'all audiences'
                    }))
                );
            } else if (toWrite.size) {
                const outcomes = await writeOptOut(
                    ctx,
                    field,
                    [...toWrite.values()],
                    (id) => metas.get(id) as WriteMeta
                );
                // Only a transient refusal holds this cursor (the next run sends it
                // again); a permanent one is in the result and the audit trail, and
                // must not hold back every later person (R14).
                failed = [...outcomes.values()].some(
                    (o) =>
                        !o.ok &&
                        !o.deleted &&
                        (!o.error ||
                            classifyRecordError(o.error.code) === 'transient')
                );
                const refusals = [...outcomes].flatMap(([id, o]) =>
                    !o.ok && o.error ? [{ id, error: o.error }] : []
                );
                if (refusals.length)
                    await ctx.ledger.appendAudits(
                        refusals.map(({ id, error }) => ({
                            action: 'delivery_failed' as const,
                            runId: ctx.runId,
                            emailNorm: metas.get(id)?.emailNorm ?? null,
                            personId: metas.get(id)?.personId ?? null,
                            recordId: id,
                            object: error.object ?? null,
                            field,
                            before: 'false',
                            after: 'refused',
                            detail: {
                                rule: 'R5b unsubscribed from all audiences',
                                code: error.code,
                                message: error.message,
                                kind: classifyRecordError(error.code)
                            }
                        }))
                    );
            }
        } finally {
            index.drop();
        }
    }
    if (!ctx.dryRun && !failed)
        await ctx.ledger.setCursor(
            ALL_AUDIENCES_CURSOR.job,
            ALL_AUDIENCES_CURSOR.name,
            upTo
        );
}
