/**
 * (a) of the hourly sync: membership changes since the cursor (the ledger's `seq`) are
 * upserted to Audience_Membership__c by Membership_Key__c on each of the person's
 * records (R6, R8, R9); rows already equal are not written (R11), rows with a Salesforce
 * change still pending are left for (c) of the next run.
 *
 * A change whose person matches no record yet, or whose write Salesforce refuses (R14),
 * does not hold the cursor back: it waits in the ledger (sync_outcome, with the
 * refusal's code and message) and is retried here with back-off.
 */
import type { AttemptError, MembershipChange } from '../../ledger/types';
import { AUDIENCE_MEMBERSHIP as AM } from '../../model/schema';
import { requireWritableFields } from '../../salesforce/describe';
import type { SyncSettings } from '../../salesforce/settings';
import {
    desiredMembership,
    membershipWrite,
    nextCursor,
    resolveTargets,
    waitingRetryDelay,
    type PersonRef,
    type Target
} from '../decisions';
import type { JobContext, MembershipWrite, WriteMeta } from '../context';
import { jobWriter } from '../writer';
import { MEMBERSHIP_WRITE_FIELDS, firstError } from '../push';
import {
    AUDIENCE_MEMBERSHIP_SELECT,
    MembershipIndex,
    RecordIndex
} from '../records';
import type { MirrorMembership } from '../../ledger/mirror';
import { freshMirror, loadMirroredRecords } from './mirror-read';
import { HOURLY_CURSOR, HOURLY_LOOKUP_LIMIT } from './cursors';

/**
 * Where (a) finds each change's records and existing rows:
 * - `mirror`: the ledger's mirror of the org (ledger/mirror.ts), refreshed first with
 *   what changed in Salesforce since the last refresh (sync/mirror.ts: a query per
 *   object when little changed) — the cost follows what changed, not the org (R16);
 * - `lookup` / `scan`: targeted queries, or every record once above
 *   HOURLY_LOOKUP_LIMIT changes — a dry run, which writes nothing, not even the mirror.
 */
type Source = 'mirror' | 'lookup' | 'scan';

interface Planned {
    change: MembershipChange;
    writes: MembershipWrite[];
    /** Keys settled without a write (unchanged). */
    settled: number;
    /** Keys left alone because Salesforce has a pending change. */
    pending: number;
}

/** A membership write waiting in the buffer for the next flush. */
interface Buffered {
    seq: number;
    write: MembershipWrite;
    unsubscribeId: number | null;
    /** The change this write belongs to (person\taudience). */
    track: string;
    personId: number;
    audienceId: string;
    /** A retry (seq ≤ cursor) rather than a change taken through the cursor. */
    retry: boolean;
}

interface Attempt {
    personId: number;
    audienceId: string;
    outcome: string | null;
    error?: AttemptError | null;
}

/** What (a) keeps across its batches and flushes. */
interface Upsert {
    settings: SyncSettings;
    cursor: number;
    dueBy: string;
    total: number;
    source: Source;
    index: RecordIndex;
    memberships: MembershipIndex;
    /** The highest seq taken through the cursor. */
    handledMax: number;
    /**
     * Changes with a write Salesforce refused, by person\taudience: they stay behind
     * in the ledger's retry state (R14), never in the cursor.
     */
    refused: Map<
        string,
        { personId: number; audienceId: string; error: AttemptError | null }
    >;
    flushAt: number;
    buffer: Buffered[];
    /** Audience unsubscribes delivered once all their keys are confirmed. */
    waiting: Map<number, { keys: number; ok: number; seq: number }>;
    /** Retried memberships: keys to confirm, and how many were confirmed. */
    retried: Map<
        string,
        { personId: number; audienceId: string; keys: number; ok: number }
    >;
    /** Unsubscribes to mark delivered. */
    deliver: number[];
    done: number;
}

export async function upsertChanges(
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
    const source: Source = !ctx.dryRun
        ? 'mirror'
        : total > HOURLY_LOOKUP_LIMIT
          ? 'scan'
          : 'lookup';
    const s: Upsert = {
        settings,
        cursor,
        dueBy,
        total,
        source,
        index: new RecordIndex(ctx.workspace, []),
        memberships: new MembershipIndex(ctx.workspace),
        handledMax: cursor,
        refused: new Map(),
        flushAt: Math.max(
            ctx.client.bulkThreshold,
            Math.min(ctx.client.bulkJobSize, 50_000)
        ),
        buffer: [],
        waiting: new Map(),
        retried: new Map(),
        deliver: [],
        done: 0
    };
    try {
        if (source === 'mirror') {
            await freshMirror(ctx);
        } else if (source === 'scan') {
            await s.index.loadAll(ctx.client, ctx.progress);
            await loadAllMemberships(ctx, s.memberships);
        }
        ctx.builder.mode('read records', source);
        const batchSize = source === 'lookup' ? HOURLY_LOOKUP_LIMIT : 5000;
        for await (const changes of ctx.ledger.membershipChangeBatches({
            afterSeq: cursor,
            batchSize
        }))
            await handle(ctx, s, changes, false);
        if (retries > 0)
            for await (const changes of ctx.ledger.membershipRetryBatches({
                dueBy,
                maxSeq: cursor,
                batchSize
            }))
                await handle(ctx, s, changes, true);
        await flush(ctx, s);
        await finish(ctx, s);
    } finally {
        s.index.drop();
        s.memberships.drop();
    }
}

/** One batch of changes: resolved to their rows, and the rows to write buffered. */
async function handle(
    ctx: JobContext,
    s: Upsert,
    changes: MembershipChange[],
    retry: boolean
): Promise<void> {
    ctx.heartbeat();
    if (s.source === 'lookup') await loadRecordsOf(ctx, s, changes);
    if (s.source === 'mirror')
        await loadMirroredRecords(
            ctx,
            s.index,
            personsOf(changes),
            s.settings.applyToSameEmail
        );
    const { planned, noRecord } = await planChanges(ctx, s, changes, retry);
    const wanted = planned.flatMap((p) => p.writes.map((w) => w.fields));
    if (s.source === 'lookup' && wanted.length)
        ctx.builder.mode(
            'read memberships',
            await s.memberships.loadFor(ctx.client, wanted)
        );
    if (s.source === 'mirror' && wanted.length) {
        const rows = new Map<string, MirrorMembership>();
        for (const m of [
            ...(await ctx.ledger.mirrorMembershipsByKeys(
                wanted.map((f) => f[AM.Membership_Key__c])
            )),
            ...(await ctx.ledger.mirrorMembershipsForRecords(
                wanted
                    .flatMap((f) => [f[AM.Contact__c] ?? f[AM.Lead__c]])
                    .filter((id): id is string => !!id)
            ))
        ])
            rows.set(m.key, m);
        s.memberships.insertExisting(
            [...rows.values()].map(({ systemModstamp: _stamp, ...m }) => m)
        );
    }
    await bufferWrites(ctx, s, planned, retry);
    await jobWriter(ctx).ledger(() =>
        ctx.ledger.recordMembershipAttempts(noRecord, {
            at: s.dueBy,
            delay: waitingRetryDelay
        })
    );
    s.done += changes.length;
    ctx.progress({
        phase: 'audience memberships',
        done: s.done,
        total: s.total
    });
    if (s.buffer.length >= s.flushAt) await flush(ctx, s);
}

/** The batch's persons, once each. */
function personsOf(changes: readonly MembershipChange[]): PersonRef[] {
    const persons = new Map<number, PersonRef>();
    for (const c of changes)
        persons.set(c.personId, {
            emailNorm: c.emailNorm,
            salesforceId: c.salesforceId
        });
    return [...persons.values()];
}

/** Looks up the records of the batch's persons (R6 by id, R8 by email). */
async function loadRecordsOf(
    ctx: JobContext,
    s: Upsert,
    changes: readonly MembershipChange[]
): Promise<void> {
    await s.index.loadFor(ctx.client, personsOf(changes), {
        applyToSameEmail: s.settings.applyToSameEmail
    });
}

/**
 * Each change's rows: one per record of its person (R6, R8, R9), but those another
 * person's audience unsubscribe holds (R4). A change with no record waits (noRecord).
 */
async function planChanges(
    ctx: JobContext,
    s: Upsert,
    changes: readonly MembershipChange[],
    retry: boolean
): Promise<{ planned: Planned[]; noRecord: Attempt[] }> {
    const { settings, index } = s;
    const planned: Planned[] = [];
    const noRecord: Attempt[] = [];
    for (const c of changes) {
        if (!retry) s.handledMax = Math.max(s.handledMax, c.seq);
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
                (await heldByAnother(ctx, s, c.personId, c.audienceId, t))
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
        planned.push({ change: c, writes, settled: 0, pending: 0 });
    }
    return { planned, noRecord };
}

/**
 * R4 on a shared record: another person linked to the same record (by id, or by email
 * under R8) with an active unsubscribe from this audience holds its row.
 */
async function heldByAnother(
    ctx: JobContext,
    s: Upsert,
    personId: number,
    audienceId: string,
    target: Target
): Promise<boolean> {
    return ctx.ledger.audienceHeldByAnother({
        audienceId,
        personId,
        salesforceId: target.id,
        emailNorm: s.settings.applyToSameEmail
            ? (s.index.get(target.id)?.emailNorm ?? null)
            : null
    });
}

/**
 * The rows that differ from Salesforce's go to the buffer (R11), with the audience
 * unsubscribe they deliver; an unsubscribe with nothing to write is delivered as is.
 */
async function bufferWrites(
    ctx: JobContext,
    s: Upsert,
    planned: readonly Planned[],
    retry: boolean
): Promise<void> {
    const winnerOf = s.memberships.claim(planned.flatMap((p) => p.writes));
    for (const p of planned) {
        const toWrite: MembershipWrite[] = [];
        for (const w of p.writes) {
            const key = w.fields[AM.Membership_Key__c];
            const existing = s.memberships.get(key);
            // R13: the row says what the winning claim says; a losing claim is
            // settled with it (and sent along: the writer sends one row).
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
            s.retried.set(track, {
                personId: p.change.personId,
                audienceId: p.change.audienceId,
                keys: toWrite.length,
                ok: 0
            });
        const unsub =
            p.change.status === 'Unsubscribed'
                ? await ctx.ledger.undeliveredAudienceUnsubscribeId(
                      p.change.personId,
                      p.change.audienceId
                  )
                : null;
        const delivers = unsub !== null && p.pending === 0 ? unsub : null;
        if (delivers !== null) {
            if (toWrite.length === 0) s.deliver.push(delivers);
            else
                s.waiting.set(delivers, {
                    keys: toWrite.length,
                    ok: 0,
                    seq: p.change.seq
                });
        }
        for (const w of toWrite)
            s.buffer.push({
                seq: p.change.seq,
                write: w,
                unsubscribeId: delivers,
                track,
                personId: p.change.personId,
                audienceId: p.change.audienceId,
                retry
            });
    }
}

/** Writes the buffer, and tallies what Salesforce confirmed or refused. */
async function flush(ctx: JobContext, s: Upsert): Promise<void> {
    if (s.buffer.length === 0) return;
    const batch = s.buffer;
    s.buffer = [];
    const errors = new Map<string, AttemptError>();
    const outcomes = await jobWriter(ctx).memberships(
        batch.map((b) => b.write),
        { errors }
    );
    for (const b of batch) {
        const key = b.write.fields[AM.Membership_Key__c];
        const ok = outcomes.get(key);
        if (!ok) {
            const seen = s.refused.get(b.track);
            s.refused.set(b.track, {
                personId: b.personId,
                audienceId: b.audienceId,
                error:
                    firstError([seen?.error ?? undefined, errors.get(key)]) ??
                    null
            });
        }
        if (ok && b.retry) {
            const r = s.retried.get(b.track);
            if (r) r.ok += 1;
        }
        if (b.unsubscribeId !== null) {
            const w = s.waiting.get(b.unsubscribeId);
            if (w && ok) {
                w.ok += 1;
                if (w.ok === w.keys) s.deliver.push(b.unsubscribeId);
            }
        }
    }
}

/** The run's attempts into the ledger, the confirmed unsubscribes delivered, the cursor moved. */
async function finish(ctx: JobContext, s: Upsert): Promise<void> {
    const attempts: Attempt[] = [];
    for (const [track, r] of s.retried)
        if (!s.refused.has(track))
            attempts.push({
                personId: r.personId,
                audienceId: r.audienceId,
                outcome: r.ok === r.keys ? null : 'failed'
            });
    // R14: a refused write is kept with Salesforce's error and retried with
    // back-off (then a dead letter); the cursor moves on past it.
    for (const f of s.refused.values())
        attempts.push({
            personId: f.personId,
            audienceId: f.audienceId,
            outcome: 'failed',
            error: f.error
        });
    const writer = jobWriter(ctx);
    await writer.ledger(() =>
        ctx.ledger.recordMembershipAttempts(attempts, {
            at: s.dueBy,
            delay: waitingRetryDelay,
            runId: ctx.runId
        })
    );
    if (s.refused.size)
        ctx.log(
            'warn',
            `${s.refused.size} membership change(s) refused by Salesforce: retried with back-off, then set aside (optout status shows why and what to do)`
        );
    // A plan confirms every write: what waited for its keys is delivered too.
    await writer.markDelivered(s.deliver, { job: 'hourly' });
    // Nothing refused pins the cursor (R14): those changes live on in the
    // ledger's retry state (membershipRetryBatches), not behind the cursor.
    await writer.setCursor(
        HOURLY_CURSOR,
        nextCursor(s.cursor, s.handledMax, [])
    );
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
