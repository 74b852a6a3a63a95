/**
 * Reads for the jobs: the membership changes after a seq (the hourly job's cursor, R5a)
 * and the batched reads of the sync. The sync keeps the Salesforce rows it reads in a workspace of its
 * own (sync/workspace.ts) and asks the ledger what it needs in batches — a list of ids
 * or emails per call, never one call per record — so that a ledger on another machine
 * costs a round trip per batch.
 */
import type { LedgerContext } from './context';
import {
    MEMBERSHIP_COLS,
    PUSHABLE_SQL,
    WAITING_SQL,
    chunks,
    marks,
    unique
} from './sql-columns';
import type {
    ActiveGlobalUnsubscribe,
    MembershipChange,
    PersonGlobalUnsubscribe,
    PersonTarget
} from './types';

export async function maxSeq(ctx: LedgerContext): Promise<number> {
    const row = (await ctx
        .stmt('SELECT MAX(seq) AS s FROM memberships')
        .get()) as { s: number | null };
    return row.s ?? 0;
}

export async function membershipChanges(
    ctx: LedgerContext,
    options: {
        afterSeq: number;
        limit?: number;
    }
): Promise<MembershipChange[]> {
    return (await ctx
        .stmt(
            `SELECT ${MEMBERSHIP_COLS}, p.email, p.email_norm AS emailNorm,
                    p.salesforce_id AS salesforceId, a.name AS audienceName
             FROM memberships m JOIN persons p ON p.id = m.person_id
             JOIN audiences a ON a.id = m.audience_id
             WHERE m.seq > ? ORDER BY m.seq LIMIT ?`
        )
        .all(options.afterSeq, options.limit ?? 1000)) as MembershipChange[];
}

export async function* membershipChangeBatches(
    ctx: LedgerContext,
    options: {
        afterSeq: number;
        batchSize?: number;
    }
): AsyncGenerator<MembershipChange[]> {
    let after = options.afterSeq;
    const limit = options.batchSize ?? 1000;
    for (;;) {
        const batch = await membershipChanges(ctx, {
            afterSeq: after,
            limit
        });
        if (batch.length === 0) return;
        yield batch;
        after = batch[batch.length - 1].seq;
        if (batch.length < limit) return;
    }
}

export async function* iterateMembershipChanges(
    ctx: LedgerContext,
    afterSeq: number,
    batchSize = 1000
): AsyncGenerator<MembershipChange> {
    for await (const batch of membershipChangeBatches(ctx, {
        afterSeq,
        batchSize
    }))
        yield* batch;
}

export async function countPersons(ctx: LedgerContext): Promise<number> {
    return (
        (await ctx.stmt('SELECT COUNT(*) AS n FROM persons').get()) as {
            n: number;
        }
    ).n;
}

export async function countMembershipChangesAfter(
    ctx: LedgerContext,
    seq: number
): Promise<number> {
    return (
        (await ctx
            .stmt('SELECT COUNT(*) AS n FROM memberships WHERE seq > ?')
            .get(seq)) as { n: number }
    ).n;
}

export async function firstSalesforceWriteAt(
    ctx: LedgerContext
): Promise<string | null> {
    return (
        (await ctx
            .stmt(
                `SELECT MIN(at) AS at FROM audit WHERE action IN
                 ('field_write', 'membership_written', 'unsubscribe_delivered')`
            )
            .get()) as { at: string | null }
    ).at;
}

export async function undeliveredAudienceUnsubscribeId(
    ctx: LedgerContext,
    personId: number,
    audienceId: string
): Promise<number | null> {
    const row = (await ctx
        .stmt(
            `SELECT id FROM unsubscribes WHERE person_id = ? AND audience_id = ? AND scope = 'audience'
             AND removed_at IS NULL AND delivered_at IS NULL`
        )
        .get(personId, audienceId)) as { id: number } | undefined;
    return row?.id ?? null;
}

export async function audienceHeldByAnother(
    ctx: LedgerContext,
    input: {
        audienceId: string;
        personId: number;
        salesforceId: string;
        emailNorm: string | null;
    }
): Promise<boolean> {
    return (
        (await ctx
            .stmt(
                `SELECT 1 FROM persons p JOIN unsubscribes u ON u.person_id = p.id
                 WHERE u.scope = 'audience' AND u.audience_id = ? AND u.removed_at IS NULL
                   AND p.id <> ? AND (p.salesforce_id = ? OR (CAST(? AS TEXT) IS NOT NULL AND p.email_norm = ?))
                 LIMIT 1`
            )
            .get(
                input.audienceId,
                input.personId,
                input.salesforceId,
                input.emailNorm,
                input.emailNorm
            )) !== undefined
    );
}

export async function personsUnsubscribedFromAllAudiences(
    ctx: LedgerContext,
    afterSeq: number,
    upToSeq: number
): Promise<PersonTarget[]> {
    return (await ctx
        .stmt(
            `SELECT p.id AS personId, p.email_norm AS emailNorm, p.salesforce_id AS salesforceId
             FROM persons p
             WHERE p.id IN (SELECT person_id FROM memberships WHERE seq > ? AND seq <= ?)
               AND EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.status <> 'Archived')
               AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id
                               AND m.status NOT IN ('Archived', 'Unsubscribed'))`
        )
        .all(afterSeq, upToSeq)) as PersonTarget[];
}

export async function personIdsByRecord(
    ctx: LedgerContext,
    salesforceIds: readonly string[],
    emailNorms: readonly string[]
): Promise<{
    bySalesforceId: Map<string, number>;
    byEmail: Map<string, number>;
}> {
    const bySalesforceId = new Map<string, number>();
    for (const part of chunks(unique(salesforceIds)))
        for (const r of (await ctx
            .stmt(
                `SELECT salesforce_id AS k, MIN(id) AS id FROM persons
                 WHERE salesforce_id IN (${marks(part.length)}) GROUP BY salesforce_id`
            )
            .all(...part)) as { k: string; id: number }[])
            bySalesforceId.set(r.k, r.id);
    const byEmail = new Map<string, number>();
    for (const part of chunks(unique(emailNorms)))
        for (const r of (await ctx
            .stmt(
                `SELECT email_norm AS k, id FROM persons WHERE email_norm IN (${marks(part.length)})`
            )
            .all(...part)) as { k: string; id: number }[])
            byEmail.set(r.k, r.id);
    return { bySalesforceId, byEmail };
}

export async function personIdsLinkedTo(
    ctx: LedgerContext,
    salesforceIds: readonly string[],
    emailNorms: readonly string[]
): Promise<number[]> {
    const ids = new Set<number>();
    for (const part of chunks(unique(salesforceIds)))
        for (const r of (await ctx
            .stmt(
                `SELECT id FROM persons WHERE salesforce_id IN (${marks(part.length)})`
            )
            .all(...part)) as { id: number }[])
            ids.add(r.id);
    for (const id of (
        await personIdsByRecord(ctx, [], emailNorms)
    ).byEmail.values())
        ids.add(id);
    return [...ids].sort((a, b) => a - b);
}

export async function personsWithActiveGlobalUnsubscribe(
    ctx: LedgerContext,
    personIds: readonly number[]
): Promise<Set<number>> {
    const out = new Set<number>();
    for (const part of chunks(unique(personIds)))
        for (const r of (await ctx
            .stmt(
                `SELECT DISTINCT person_id AS id FROM unsubscribes
                 WHERE person_id IN (${marks(part.length)}) AND scope = 'all' AND removed_at IS NULL`
            )
            .all(...part)) as { id: number }[])
            out.add(r.id);
    return out;
}

/** Unsubscribes delivered or removed at or after `since` (ISO time), by kind. */
export async function unsubscribesSettledSince(
    ctx: LedgerContext,
    since: string
): Promise<{ delivered: number[]; removed: number[] }> {
    const rows = (await ctx
        .stmt(
            `SELECT id, CASE WHEN removed_at IS NOT NULL THEN 1 ELSE 0 END AS removed
             FROM unsubscribes WHERE delivered_at >= ? OR removed_at >= ? ORDER BY id`
        )
        .all(since, since)) as { id: number; removed: number }[];
    return {
        delivered: rows.filter((r) => !r.removed).map((r) => r.id),
        removed: rows.filter((r) => r.removed).map((r) => r.id)
    };
}

export async function personsWithGlobalUnsubscribe(
    ctx: LedgerContext,
    personIds: readonly number[]
): Promise<PersonGlobalUnsubscribe[]> {
    const rows: PersonGlobalUnsubscribe[] = [];
    for (const part of chunks(unique(personIds)))
        rows.push(
            ...((await ctx
                .stmt(
                    `SELECT p.id AS personId, p.email_norm AS emailNorm, p.salesforce_id AS salesforceId,
                            u.id AS unsubscribeId, CASE WHEN u.delivered_at IS NOT NULL THEN 1 ELSE 0 END AS delivered,
                            u.source AS source, u.collected_at AS collectedAt
                     FROM persons p
                     LEFT JOIN unsubscribes u ON u.person_id = p.id AND u.scope = 'all' AND u.removed_at IS NULL
                     WHERE p.id IN (${marks(part.length)})`
                )
                .all(...part)) as PersonGlobalUnsubscribe[])
        );
    return rows.sort((a, b) => a.personId - b.personId);
}

export async function activeGlobalUnsubscribes(
    ctx: LedgerContext,
    afterId: number,
    limit: number
): Promise<ActiveGlobalUnsubscribe[]> {
    return (await ctx
        .stmt(
            `SELECT u.id AS id, p.id AS personId, p.salesforce_id AS salesforceId,
                    p.email_norm AS emailNorm, u.source AS source, u.collected_at AS collectedAt,
                    u.last_outcome AS lastOutcome, u.next_attempt_at AS nextAttemptAt,
                    u.delivered_at AS deliveredAt
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             WHERE u.scope = 'all' AND u.removed_at IS NULL AND u.id > ?
             ORDER BY u.id LIMIT ?`
        )
        .all(afterId, limit)) as ActiveGlobalUnsubscribe[];
}

const ACTIVE_GLOBAL_COLS = `u.id AS id, p.id AS personId, p.salesforce_id AS salesforceId,
    p.email_norm AS emailNorm, u.source AS source, u.collected_at AS collectedAt,
    u.last_outcome AS lastOutcome, u.next_attempt_at AS nextAttemptAt,
    u.delivered_at AS deliveredAt`;

/**
 * The incremental nightly's ledger side (R16): active global unsubscribes with an id
 * above `afterId`, oldest first, that were recorded after the suppression event
 * `afterEventId` (the ledger's sequence: write transactions are serialised in both
 * engines, so event ids commit in order and "after N" skips none) or are still
 * undelivered and due — what the push would take, and those waiting for a matching
 * record whose next attempt is due by `dueBy`. Dead letters and refusals backing off
 * wait for their time (R14). A sequence, not `collected_at`: that time comes from the
 * source and may lie in the past (an import).
 */
export async function globalUnsubscribesToReconcile(
    ctx: LedgerContext,
    options: {
        afterEventId: number;
        afterId: number;
        limit: number;
        dueBy: string;
    }
): Promise<ActiveGlobalUnsubscribe[]> {
    return (await ctx
        .stmt(
            `SELECT ${ACTIVE_GLOBAL_COLS}
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             WHERE u.scope = 'all' AND u.removed_at IS NULL AND u.id > ?
               AND (u.id IN (SELECT e.unsubscribe_id FROM suppression_events e WHERE e.id > ?)
                    OR (u.delivered_at IS NULL AND (${PUSHABLE_SQL}
                        OR (u.last_outcome IN ${WAITING_SQL} AND u.next_attempt_at <= ?))))
             ORDER BY u.id LIMIT ?`
        )
        .all(
            options.afterId,
            options.afterEventId,
            options.dueBy,
            options.dueBy,
            options.limit
        )) as ActiveGlobalUnsubscribe[];
}

/** The active global unsubscribes of these persons (as `activeGlobalUnsubscribes`), by id. */
export async function activeGlobalUnsubscribesOf(
    ctx: LedgerContext,
    personIds: readonly number[]
): Promise<ActiveGlobalUnsubscribe[]> {
    const rows: ActiveGlobalUnsubscribe[] = [];
    for (const part of chunks(unique(personIds)))
        rows.push(
            ...((await ctx
                .stmt(
                    `SELECT ${ACTIVE_GLOBAL_COLS}
                     FROM unsubscribes u JOIN persons p ON p.id = u.person_id
                     WHERE u.scope = 'all' AND u.removed_at IS NULL
                       AND u.person_id IN (${marks(part.length)})`
                )
                .all(...part)) as ActiveGlobalUnsubscribe[])
        );
    return rows.sort((a, b) => a.id - b.id);
}
