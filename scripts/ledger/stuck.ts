/**
 * Stuck records (R14): the unsubscribes and memberships Salesforce refused, read as one
 * relation (by filter, counted, grouped by catalogue reason for `optout status`) and
 * put back for another try (`optout retry`). The refusals themselves are recorded by
 * the delivery attempts (delivery.ts).
 */
import { normalizeEmail } from '../model/statuses';
import {
    STUCK_REASON_CATALOGUE,
    groupStuck,
    stuckReasonOf,
    type StuckCount,
    type StuckGroup,
    type StuckReason
} from '../model/stuck';
import { appendAuditIn } from './audit';
import type { LedgerContext } from './context';
import { STUCK_SQL } from './sql-columns';
import type { StuckRecord } from './types';

/** A stuck record with its catalogue reason. */
export interface StuckDetail extends StuckRecord {
    reason: StuckReason;
    whatToDo: string;
}

export interface StuckSummary {
    retrying: number;
    deadLetters: number;
    /** By catalogue reason, most records first, with a few examples each. */
    byReason: (StuckGroup & { examples: StuckDetail[] })[];
}

/** Examples per reason in `optout status`. */
const STUCK_EXAMPLES = 3;

export function stuckDetail(r: StuckRecord): StuckDetail {
    const reason = stuckReasonOf(r.errorCode);
    return {
        ...r,
        reason,
        whatToDo: STUCK_REASON_CATALOGUE[reason].whatToDo
    };
}

/** Which stuck records (R14): all when empty. */
export interface StuckFilter {
    email?: string;
    /** Only these status codes. */
    codes?: readonly string[];
    /** None of these status codes (the catalogue's `other`). */
    excludeCodes?: readonly string[];
    state?: 'retrying' | 'dead_letter';
    limit?: number;
}

/** Stuck unsubscribes and memberships as one relation (see StuckRecord). */
const STUCK_UNION = `
    SELECT 'unsubscribe' AS kind, u.id AS unsubscribeId, u.person_id AS personId,
           p.email AS email, p.email_norm AS emailNorm, u.audience_id AS audienceId,
           CASE WHEN u.last_outcome = 'dead_letter' THEN 'dead_letter' ELSE 'retrying' END AS state,
           u.error_code AS errorCode, u.error_message AS errorMessage,
           u.error_record_id AS recordId, u.failures AS failures, u.attempts AS attempts,
           u.last_attempt_at AS lastAttemptAt, u.next_attempt_at AS nextAttemptAt,
           u.dead_at AS deadAt
    FROM unsubscribes u JOIN persons p ON p.id = u.person_id
    WHERE u.delivered_at IS NULL AND u.removed_at IS NULL
      AND u.last_outcome IN ${STUCK_SQL}
    UNION ALL
    SELECT 'membership', NULL, m.person_id, p.email, p.email_norm, m.audience_id,
           CASE WHEN m.sync_outcome = 'dead_letter' THEN 'dead_letter' ELSE 'retrying' END,
           m.sync_error_code, m.sync_error_message, m.sync_error_record_id,
           m.sync_failures, m.sync_attempts, m.last_attempt_at, m.next_attempt_at,
           m.sync_dead_at
    FROM memberships m JOIN persons p ON p.id = m.person_id
    WHERE m.sync_outcome IN ${STUCK_SQL}`;

function stuckWhere(filter: StuckFilter): { where: string; args: unknown[] } {
    const parts: string[] = [];
    const args: unknown[] = [];
    if (filter.email !== undefined) {
        parts.push('s.emailNorm = ?');
        args.push(normalizeEmail(filter.email));
    }
    if (filter.codes) {
        parts.push(
            filter.codes.length
                ? `s.errorCode IN (${filter.codes.map(() => '?').join(', ')})`
                : '1 = 0'
        );
        args.push(...filter.codes);
    }
    if (filter.excludeCodes?.length) {
        parts.push(
            `s.errorCode NOT IN (${filter.excludeCodes.map(() => '?').join(', ')})`
        );
        args.push(...filter.excludeCodes);
    }
    if (filter.state) {
        parts.push('s.state = ?');
        args.push(filter.state);
    }
    return {
        where: parts.length ? `WHERE ${parts.join(' AND ')}` : '',
        args
    };
}

export async function stuckRecords(
    ctx: LedgerContext,
    filter: StuckFilter = {}
): Promise<StuckRecord[]> {
    const { where, args } = stuckWhere(filter);
    const limit = filter.limit === undefined ? '' : 'LIMIT ?';
    if (filter.limit !== undefined) args.push(filter.limit);
    return (await ctx
        .stmt(
            `SELECT kind, unsubscribeId, personId, email, audienceId, state, errorCode,
                    errorMessage, recordId, failures, attempts, lastAttemptAt,
                    nextAttemptAt, deadAt
             FROM (${STUCK_UNION}) s ${where}
             ORDER BY s.lastAttemptAt, s.kind, s.personId, s.audienceId ${limit}`
        )
        .all(...args)) as StuckRecord[];
}

export async function stuckCounts(ctx: LedgerContext): Promise<StuckCount[]> {
    return (await ctx
        .stmt(
            `SELECT errorCode, state, COUNT(*) AS count FROM (${STUCK_UNION}) s
             GROUP BY errorCode, state ORDER BY errorCode, state`
        )
        .all()) as StuckCount[];
}

export async function retryStuck(
    ctx: LedgerContext,
    filter: StuckFilter,
    options: { at?: string; runId?: string | null } = {}
): Promise<StuckRecord[]> {
    const at = options.at ?? ctx.nowIso();
    return ctx.transaction(async () => {
        const records = await stuckRecords(ctx, filter);
        const unsub = ctx.stmt(
            `UPDATE unsubscribes SET failures = 0, dead_at = NULL, last_outcome = 'rejected',
                     next_attempt_at = ? WHERE id = ?`
        );
        const membership = ctx.stmt(
            `UPDATE memberships SET sync_failures = 0, sync_dead_at = NULL,
                     sync_outcome = 'rejected', next_attempt_at = ?
                 WHERE person_id = ? AND audience_id = ?`
        );
        for (const r of records) {
            if (r.kind === 'unsubscribe') await unsub.run(at, r.unsubscribeId);
            else await membership.run(at, r.personId, r.audienceId);
            await appendAuditIn(ctx, {
                action: 'retry_requested',
                runId: options.runId ?? null,
                at,
                emailNorm: normalizeEmail(r.email),
                personId: r.personId,
                recordId: r.recordId,
                object: 'ledger',
                field: r.kind,
                before: r.state,
                after: 'due',
                detail: {
                    ...(r.unsubscribeId !== null
                        ? { unsubscribeId: r.unsubscribeId }
                        : {}),
                    ...(r.audienceId ? { audienceId: r.audienceId } : {}),
                    code: r.errorCode,
                    failures: r.failures
                }
            });
        }
        return records;
    });
}

export async function stuckSummary(ctx: LedgerContext): Promise<StuckSummary> {
    const counts = await stuckCounts(ctx);
    const groups = groupStuck(counts);
    const examples = new Map<string, StuckDetail[]>();
    for (const g of groups)
        examples.set(
            g.reason,
            (
                await stuckRecords(ctx, {
                    codes: Object.keys(g.codes),
                    limit: STUCK_EXAMPLES
                })
            ).map(stuckDetail)
        );
    return {
        retrying: counts
            .filter((c) => c.state === 'retrying')
            .reduce((a, c) => a + c.count, 0),
        deadLetters: counts
            .filter((c) => c.state === 'dead_letter')
            .reduce((a, c) => a + c.count, 0),
        byReason: groups.map((g) => ({
            ...g,
            examples: examples.get(g.reason) ?? []
        }))
    };
}
