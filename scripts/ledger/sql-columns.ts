/**
 * SQL shared by the ledger's sections: column lists with camelCase aliases (so rows come
 * out as the record types of types.ts), the fragments that say which unsubscribes and
 * memberships wait or are stuck, and the helpers that cut long `IN (…)` lists.
 */
import { STUCK_OUTCOMES } from '../model/stuck';
import { WAITING_OUTCOMES } from './migrations';

export const PERSON_COLS = `id, email, email_norm AS emailNorm, salesforce_id AS salesforceId,
    created_at AS createdAt, updated_at AS updatedAt`;
export const AUDIENCE_COLS = `id, name, created_at AS createdAt, updated_at AS updatedAt`;
export const MEMBERSHIP_COLS = `m.person_id AS personId, m.audience_id AS audienceId, m.status,
    m.changed_at AS changedAt, m.source, m.reason, m.seq`;
export const UNSUB_COLS = `u.id, u.person_id AS personId, u.scope, u.audience_id AS audienceId,
    u.source, u.reason, u.collected_at AS collectedAt, u.delivered_at AS deliveredAt,
    u.delivered_run_id AS deliveredRunId, u.removed_at AS removedAt,
    u.removed_reason AS removedReason, u.attempts, u.last_attempt_at AS lastAttemptAt,
    u.last_outcome AS lastOutcome, u.next_attempt_at AS nextAttemptAt,
    u.failures, u.error_code AS errorCode, u.error_message AS errorMessage,
    u.error_record_id AS errorRecordId, u.dead_at AS deadAt`;
/** A membership's sync state (alias m), see MembershipSyncState. */
export const MEMBERSHIP_SYNC_COLS = `m.sync_outcome AS syncOutcome, m.sync_attempts AS syncAttempts,
    m.last_attempt_at AS lastAttemptAt, m.next_attempt_at AS nextAttemptAt,
    m.sync_failures AS syncFailures, m.sync_error_code AS syncErrorCode,
    m.sync_error_message AS syncErrorMessage, m.sync_error_record_id AS syncErrorRecordId,
    m.sync_dead_at AS syncDeadAt`;
/** SQL: an unsubscribe (alias u) or membership waiting for a Salesforce record. */
export const WAITING_SQL = `(${WAITING_OUTCOMES.map((o) => `'${o}'`).join(', ')})`;
/** SQL: outcomes of a permanent refusal (R14). */
export const STUCK_SQL = `(${STUCK_OUTCOMES.map((o) => `'${o}'`).join(', ')})`;
/**
 * SQL (alias u, one parameter: now): what the push takes — everything undelivered
 * except those waiting for a matching record (unless re-opened: next attempt null),
 * dead letters, and refused ones not due yet (R14).
 */
export const PUSHABLE_SQL = `(u.last_outcome IS NULL
    OR (u.last_outcome NOT IN ${WAITING_SQL} AND u.last_outcome NOT IN ${STUCK_SQL})
    OR (u.last_outcome IN ${WAITING_SQL} AND u.next_attempt_at IS NULL)
    OR (u.last_outcome = 'rejected' AND (u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)))`;
/** Resets a membership's sync state (a new change or a requeue starts afresh). */
export const MEMBERSHIP_SYNC_RESET = `sync_outcome = NULL, sync_attempts = 0, last_attempt_at = NULL,
    next_attempt_at = NULL, sync_failures = 0, sync_error_code = NULL,
    sync_error_message = NULL, sync_error_record_id = NULL, sync_dead_at = NULL`;
export const AUDIT_COLS = `id, run_id AS runId, at, action, email_norm AS emailNorm,
    person_id AS personId, record_id AS recordId, object, field, before, after, source,
    collected_at AS collectedAt, written_at AS writtenAt, latency_ms AS latencyMs, detail`;
export const RUN_COLS = `id, job, started_at AS startedAt, finished_at AS finishedAt, status,
    dry_run AS dryRun, pid, result_json AS resultJson`;
export const LOCK_COLS = `name, holder, pid, acquired_at AS acquiredAt, heartbeat_at AS heartbeatAt`;

/** Values per `IN (…)` list: well under SQLite's bound-parameter limit. */
const IN_CHUNK = 500;

export function unique<T>(values: readonly T[]): T[] {
    return [...new Set(values)];
}

/** `values` in lists of at most `size` (IN_CHUNK), one `IN (…)` query each. */
export function chunks<T>(values: readonly T[], size = IN_CHUNK): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < values.length; i += size)
        out.push(values.slice(i, i + size));
    return out;
}

/**
 * The values of an IN list padded (with its last value) to a power of two, so that a
 * lookup has a few statement texts, not one per list length (each is prepared once
 * per PostgreSQL connection).
 */
export function padded<T>(values: readonly T[]): T[] {
    if (values.length === 0) return [];
    let n = 1;
    while (n < values.length) n *= 2;
    const out = [...values];
    while (out.length < n) out.push(values[values.length - 1]);
    return out;
}

/** `values` as padded `IN (…)` lists of at most `size`: chunks, each `padded`. */
export function inLists<T>(values: readonly T[], size = IN_CHUNK): T[][] {
    return chunks(values, size).map(padded);
}

/** `n` placeholders for an `IN (…)` list. */
export { marks } from './sql/dialect';
