/**
 * Delivery to Salesforce, as the ledger sees it: which unsubscribes the push takes
 * (pushable, waiting for a record, due), which memberships the hourly job retries, what
 * each attempt found (R11, R14: waiting, transient, refused, dead letter; audited) and
 * the deliveries Salesforce confirmed.
 */
import type {
    LedgerSource,
    MembershipStatus,
    UnsubscribeScope
} from '../model/statuses';
import {
    classifyRecordError,
    isDeadLetter,
    nextAttemptAt,
    type RecordErrorKind
} from '../model/stuck';
import { appendAuditIn } from './audit';
import type { LedgerContext } from './context';
import { WAITING_OUTCOMES } from './migrations';
import {
    MEMBERSHIP_COLS,
    PUSHABLE_SQL,
    UNSUB_COLS,
    WAITING_SQL
} from './sql-columns';
import { getPerson, getUnsubscribe } from './store';
import type {
    AttemptError,
    AuditInput,
    MembershipChange,
    PendingUnsubscribe,
    PersonRecord,
    UnsubscribeRecord
} from './types';

/** Which undelivered unsubscribes to read (see `undeliveredUnsubscribes`). */
export type UnsubscribeSelection = 'all' | 'pushable' | 'waiting';

/** A row's delivery state after one attempt (see `attemptState`). */
interface AttemptState {
    outcome: string;
    nextAttemptAt: string | null;
    failures: number;
    error: AttemptError | null;
    deadAt: string | null;
    /** The error's kind, when there is one. */
    kind: RecordErrorKind | null;
}

/**
 * What one attempt leaves on an unsubscribe or membership (R11, R14): waiting for a
 * record → retried after `waitingDelayMs`; a refused write → by its status code, a
 * transient one due at `transientNext`, a permanent one counted and backed off (a dead
 * letter after DEAD_LETTER_AFTER in a row); anything else due at `transientNext`.
 */
function attemptState(
    outcome: string,
    error: AttemptError | null,
    failures: number,
    at: string,
    waitingDelayMs: number,
    transientNext: string | null
): AttemptState {
    if ((WAITING_OUTCOMES as readonly string[]).includes(outcome))
        return {
            outcome,
            nextAttemptAt: new Date(
                Date.parse(at) + waitingDelayMs
            ).toISOString(),
            failures: 0,
            error: null,
            deadAt: null,
            kind: null
        };
    if (outcome === 'failed' && error) {
        const kind = classifyRecordError(error.code);
        if (kind === 'transient')
            return {
                outcome,
                nextAttemptAt: transientNext,
                failures,
                error,
                deadAt: null,
                kind
            };
        const n = failures + 1;
        const dead = isDeadLetter(n);
        return {
            outcome: dead ? 'dead_letter' : 'rejected',
            nextAttemptAt: nextAttemptAt(n, at),
            failures: n,
            error,
            deadAt: dead ? at : null,
            kind
        };
    }
    return {
        outcome,
        nextAttemptAt: transientNext,
        failures: outcome === 'failed' ? failures : 0,
        error: null,
        deadAt: null,
        kind: null
    };
}

/** The audit entry of a refused write (R10, R14). */
function failureAudit(
    state: AttemptState,
    e: {
        runId: string | null;
        at: string;
        emailNorm: string;
        personId: number;
        before: string;
        source: LedgerSource;
        collectedAt: string | null;
        detail: Record<string, unknown>;
    }
): AuditInput {
    const error = state.error as AttemptError;
    return {
        action: 'delivery_failed',
        runId: e.runId,
        at: e.at,
        emailNorm: e.emailNorm,
        personId: e.personId,
        recordId: error.recordId,
        object: error.object ?? null,
        before: e.before,
        after: state.outcome,
        source: e.source,
        collectedAt: e.collectedAt,
        detail: {
            ...e.detail,
            code: error.code,
            message: error.message,
            kind: state.kind,
            failures: state.failures,
            nextAttemptAt: state.nextAttemptAt,
            ...(state.deadAt ? { deadLetter: true } : {})
        }
    };
}

export async function undeliveredUnsubscribes(
    ctx: LedgerContext,
    options: {
        scope?: UnsubscribeScope;
        afterId?: number;
        limit?: number;
        select?: UnsubscribeSelection;
        /** For `waiting`: due at or before this time (default now). */
        dueBy?: string;
    } = {}
): Promise<PendingUnsubscribe[]> {
    const scope = options.scope ?? null;
    const select = options.select ?? 'all';
    const filter =
        select === 'pushable'
            ? `AND ${PUSHABLE_SQL}`
            : select === 'waiting'
              ? `AND u.last_outcome IN ${WAITING_SQL} AND (u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)`
              : '';
    const args: unknown[] = [options.afterId ?? 0, scope, scope];
    if (select !== 'all') args.push(options.dueBy ?? ctx.nowIso());
    args.push(options.limit ?? 200);
    return (await ctx
        .stmt(
            `SELECT ${UNSUB_COLS}, p.email, p.email_norm AS emailNorm,
                    p.salesforce_id AS salesforceId, a.name AS audienceName
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             LEFT JOIN audiences a ON a.id = u.audience_id
             WHERE u.delivered_at IS NULL AND u.removed_at IS NULL AND u.id > ?
               AND (CAST(? AS TEXT) IS NULL OR u.scope = ?) ${filter}
             ORDER BY u.id LIMIT ?`
        )
        .all(...args)) as PendingUnsubscribe[];
}

export async function* undeliveredUnsubscribeBatches(
    ctx: LedgerContext,
    options: {
        scope?: UnsubscribeScope;
        batchSize?: number;
        select?: UnsubscribeSelection;
        dueBy?: string;
    } = {}
): AsyncGenerator<PendingUnsubscribe[]> {
    let afterId = 0;
    const limit = options.batchSize ?? 200;
    for (;;) {
        const batch = await undeliveredUnsubscribes(ctx, {
            scope: options.scope,
            select: options.select,
            dueBy: options.dueBy,
            afterId,
            limit
        });
        if (batch.length === 0) return;
        yield batch;
        afterId = batch[batch.length - 1].id;
        if (batch.length < limit) return;
    }
}

export async function countPushable(
    ctx: LedgerContext,
    dueBy?: string
): Promise<number> {
    const row = (await ctx
        .stmt(
            `SELECT COUNT(*) AS n FROM unsubscribes u
             WHERE u.delivered_at IS NULL AND u.removed_at IS NULL AND ${PUSHABLE_SQL}`
        )
        .get(dueBy ?? ctx.nowIso())) as { n: number };
    return row.n;
}

export async function countWaiting(
    ctx: LedgerContext,
    options: { scope?: UnsubscribeScope; dueBy?: string } = {}
): Promise<number> {
    const row = (await ctx
        .stmt(
            `SELECT COUNT(*) AS n FROM unsubscribes u
             WHERE u.delivered_at IS NULL AND u.removed_at IS NULL
               AND u.last_outcome IN ${WAITING_SQL}
               AND (CAST(? AS TEXT) IS NULL OR u.scope = ?)
               AND (CAST(? AS TEXT) IS NULL OR u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)`
        )
        .get(
            options.scope ?? null,
            options.scope ?? null,
            options.dueBy ?? null,
            options.dueBy ?? null
        )) as { n: number };
    return row.n;
}

export async function recordUnsubscribeAttempts(
    ctx: LedgerContext,
    attempts: readonly {
        id: number;
        outcome: string;
        error?: AttemptError | null;
    }[],
    options: {
        at: string;
        delay: (attempts: number) => number;
        runId?: string | null;
    }
): Promise<void> {
    if (attempts.length === 0) return;
    await ctx.transaction(async () => {
        const get = ctx.stmt(
            `SELECT ${UNSUB_COLS}, p.email_norm AS emailNorm FROM unsubscribes u
                 JOIN persons p ON p.id = u.person_id
                 WHERE u.id = ? AND u.delivered_at IS NULL AND u.removed_at IS NULL`
        );
        const update = ctx.stmt(
            `UPDATE unsubscribes SET attempts = ?, last_attempt_at = ?, last_outcome = ?,
                     next_attempt_at = ?, failures = ?, error_code = ?, error_message = ?,
                     error_record_id = ?, dead_at = ? WHERE id = ?`
        );
        for (const a of attempts) {
            const row = (await get.get(a.id)) as
                (UnsubscribeRecord & { emailNorm: string }) | undefined;
            if (!row) continue;
            const n = row.attempts + 1;
            const next = attemptState(
                a.outcome,
                a.error ?? null,
                row.failures,
                options.at,
                options.delay(n),
                null
            );
            await update.run(
                n,
                options.at,
                next.outcome,
                next.nextAttemptAt,
                next.failures,
                next.error?.code ?? null,
                next.error?.message ?? null,
                next.error?.recordId ?? null,
                next.deadAt,
                a.id
            );
            if (next.error)
                await appendAuditIn(
                    ctx,
                    failureAudit(next, {
                        runId: options.runId ?? null,
                        at: options.at,
                        emailNorm: row.emailNorm,
                        personId: row.personId,
                        before: row.lastOutcome ?? 'pending',
                        source: row.source,
                        collectedAt: row.collectedAt,
                        detail: {
                            unsubscribeId: row.id,
                            scope: row.scope,
                            ...(row.audienceId
                                ? { audienceId: row.audienceId }
                                : {}),
                            attempts: n
                        }
                    })
                );
        }
    });
}

export async function* membershipRetryBatches(
    ctx: LedgerContext,
    options: {
        dueBy: string;
        maxSeq: number;
        batchSize?: number;
    }
): AsyncGenerator<MembershipChange[]> {
    let after = 0;
    const limit = options.batchSize ?? 1000;
    for (;;) {
        const batch = (await ctx
            .stmt(
                `SELECT ${MEMBERSHIP_COLS}, p.email, p.email_norm AS emailNorm,
                        p.salesforce_id AS salesforceId, a.name AS audienceName
                 FROM memberships m JOIN persons p ON p.id = m.person_id
                 JOIN audiences a ON a.id = m.audience_id
                 WHERE m.sync_outcome IS NOT NULL AND m.next_attempt_at <= ?
                   AND m.seq > ? AND m.seq <= ? ORDER BY m.seq LIMIT ?`
            )
            .all(
                options.dueBy,
                after,
                options.maxSeq,
                limit
            )) as MembershipChange[];
        if (batch.length === 0) return;
        yield batch;
        after = batch[batch.length - 1].seq;
        if (batch.length < limit) return;
    }
}

export async function countMembershipRetries(
    ctx: LedgerContext,
    options: {
        dueBy: string;
        maxSeq: number;
    }
): Promise<number> {
    return (
        (await ctx
            .stmt(
                `SELECT COUNT(*) AS n FROM memberships m WHERE m.sync_outcome IS NOT NULL
                 AND m.next_attempt_at <= ? AND m.seq <= ?`
            )
            .get(options.dueBy, options.maxSeq)) as { n: number }
    ).n;
}

export async function recordMembershipAttempts(
    ctx: LedgerContext,
    attempts: readonly {
        personId: number;
        audienceId: string;
        outcome: string | null;
        error?: AttemptError | null;
    }[],
    options: {
        at: string;
        delay: (attempts: number) => number;
        runId?: string | null;
    }
): Promise<void> {
    if (attempts.length === 0) return;
    await ctx.transaction(async () => {
        const get = ctx.stmt(
            `SELECT m.sync_attempts AS n, m.sync_outcome AS outcome,
                        m.sync_failures AS failures, m.status, m.source, m.changed_at AS changedAt,
                        p.email_norm AS emailNorm
                 FROM memberships m JOIN persons p ON p.id = m.person_id
                 WHERE m.person_id = ? AND m.audience_id = ?`
        );
        const clear = ctx.stmt(
            `UPDATE memberships SET sync_outcome = NULL, sync_attempts = 0,
                     last_attempt_at = ?, next_attempt_at = NULL, sync_failures = 0,
                     sync_error_code = NULL, sync_error_message = NULL,
                     sync_error_record_id = NULL, sync_dead_at = NULL
                 WHERE person_id = ? AND audience_id = ?`
        );
        const update = ctx.stmt(
            `UPDATE memberships SET sync_outcome = ?, sync_attempts = ?, last_attempt_at = ?,
                     next_attempt_at = ?, sync_failures = ?, sync_error_code = ?,
                     sync_error_message = ?, sync_error_record_id = ?, sync_dead_at = ?
                 WHERE person_id = ? AND audience_id = ?`
        );
        for (const a of attempts) {
            const row = (await get.get(a.personId, a.audienceId)) as
                | {
                      n: number;
                      outcome: string | null;
                      failures: number;
                      status: MembershipStatus;
                      source: LedgerSource;
                      changedAt: string;
                      emailNorm: string;
                  }
                | undefined;
            if (!row) continue;
            if (a.outcome === null) {
                if (row.outcome !== null)
                    await clear.run(options.at, a.personId, a.audienceId);
                continue;
            }
            const n = row.n + 1;
            const next = attemptState(
                a.outcome,
                a.error ?? null,
                row.failures,
                options.at,
                options.delay(n),
                options.at
            );
            await update.run(
                next.outcome,
                n,
                options.at,
                next.nextAttemptAt,
                next.failures,
                next.error?.code ?? null,
                next.error?.message ?? null,
                next.error?.recordId ?? null,
                next.deadAt,
                a.personId,
                a.audienceId
            );
            if (next.error)
                await appendAuditIn(
                    ctx,
                    failureAudit(next, {
                        runId: options.runId ?? null,
                        at: options.at,
                        emailNorm: row.emailNorm,
                        personId: a.personId,
                        before: row.outcome ?? 'pending',
                        source: row.source,
                        collectedAt: row.changedAt,
                        detail: {
                            audienceId: a.audienceId,
                            status: row.status,
                            attempts: n
                        }
                    })
                );
        }
    });
}

export async function countUndelivered(
    ctx: LedgerContext,
    scope?: UnsubscribeScope
): Promise<number> {
    const row = (await ctx
        .stmt(
            `SELECT COUNT(*) AS n FROM unsubscribes
             WHERE delivered_at IS NULL AND removed_at IS NULL AND (CAST(? AS TEXT) IS NULL OR scope = ?)`
        )
        .get(scope ?? null, scope ?? null)) as { n: number };
    return row.n;
}

export async function markDelivered(
    ctx: LedgerContext,
    ids: readonly number[],
    options: {
        runId: string;
        deliveredAt?: string;
        detail?: Record<string, unknown>;
    }
): Promise<number> {
    const at = options.deliveredAt ?? ctx.nowIso();
    return ctx.transaction(async () => {
        let marked = 0;
        const update = ctx.stmt(
            `UPDATE unsubscribes SET delivered_at = ?, delivered_run_id = ?,
                     attempts = attempts + 1, last_attempt_at = ?,
                     last_outcome = 'delivered', next_attempt_at = NULL,
                     failures = 0, dead_at = NULL
                 WHERE id = ? AND delivered_at IS NULL AND removed_at IS NULL`
        );
        for (const id of ids) {
            if ((await update.run(at, options.runId, at, id)).changes === 0)
                continue;
            marked += 1;
            const u = (await getUnsubscribe(ctx, id)) as UnsubscribeRecord;
            const person = (await getPerson(ctx, u.personId)) as PersonRecord;
            await appendAuditIn(ctx, {
                action: 'unsubscribe_delivered',
                runId: options.runId,
                emailNorm: person.emailNorm,
                personId: person.id,
                recordId: u.audienceId,
                object: 'ledger',
                field: 'unsubscribe',
                before: 'pending',
                after: 'delivered',
                source: u.source,
                collectedAt: u.collectedAt,
                writtenAt: at,
                detail: {
                    unsubscribeId: id,
                    scope: u.scope,
                    ...options.detail
                }
            });
        }
        return marked;
    });
}
