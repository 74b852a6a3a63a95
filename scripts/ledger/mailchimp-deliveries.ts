/**
 * The connector's ledger state (migration 5, `mailchimp_deliveries`): which unsubscribes
 * each Mailchimp audience still needs, and recording what it got. Rows are only added
 * (ON CONFLICT DO NOTHING), each with its audit entry in the same transaction, so recording
 * twice is harmless and a re-run never sends one again.
 */
import { engineOf, type Ledger } from './ledger';
import type { LedgerSource, UnsubscribeScope } from '../model/statuses';

/** One unsubscribe one Mailchimp audience has not got yet. */
export interface PushTarget {
    unsubscribeId: number;
    listId: string;
    personId: number;
    email: string;
    emailNorm: string;
    scope: UnsubscribeScope;
    source: LedgerSource;
    collectedAt: string;
}

/** `mailchimp_deliveries.outcome` (ledger migration 5's CHECK). */
export const DELIVERY_OUTCOMES = [
    'delivered',
    'skipped',
    'in_mailchimp'
] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

export interface RecordedOutcome {
    target: PushTarget;
    outcome: 'delivered' | 'skipped';
    /** Why skipped (Mailchimp's title and detail). */
    detail: string | null;
}

const TARGET_COLS = `u.person_id AS personId, p.email AS email, p.email_norm AS emailNorm,
    u.scope AS scope, u.source AS source, u.collected_at AS collectedAt`;

/**
 * Active unsubscribes each of `listIds` has not got: an audience unsubscribe for its own
 * audience; an unsubscribe from everything for every audience the person is a member
 * of in the ledger. Oldest first.
 */
export async function pendingTargets(
    ledger: Ledger,
    listIds: readonly string[]
): Promise<PushTarget[]> {
    if (listIds.length === 0) return [];
    const lists = [...new Set(listIds)];
    return engineOf(ledger).all<PushTarget>(
        `WITH lists(id) AS (VALUES ${lists.map(() => '(?)').join(', ')})
             SELECT u.id AS unsubscribeId, u.audience_id AS listId, ${TARGET_COLS}
               FROM unsubscribes u JOIN persons p ON p.id = u.person_id
               JOIN lists l ON l.id = u.audience_id
              WHERE u.scope = 'audience' AND u.removed_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM mailchimp_deliveries d
                                 WHERE d.unsubscribe_id = u.id AND d.list_id = u.audience_id)
             UNION ALL
             SELECT u.id AS unsubscribeId, m.audience_id AS listId, ${TARGET_COLS}
               FROM unsubscribes u JOIN persons p ON p.id = u.person_id
               JOIN memberships m ON m.person_id = u.person_id
               JOIN lists l ON l.id = m.audience_id
              WHERE u.scope = 'all' AND u.removed_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM mailchimp_deliveries d
                                 WHERE d.unsubscribe_id = u.id AND d.list_id = m.audience_id)
             ORDER BY unsubscribeId, listId`,
        lists
    );
}

/** Records what Mailchimp did with each target, audited; returns how many were new. */
export async function recordOutcomes(
    ledger: Ledger,
    outcomes: readonly RecordedOutcome[],
    runId: string | null,
    at: string = new Date().toISOString()
): Promise<number> {
    if (outcomes.length === 0) return 0;
    const engine = engineOf(ledger);
    return ledger.transaction(async () => {
        let added = 0;
        for (const { target: t, outcome, detail } of outcomes) {
            const { changes } = await engine.run(
                `INSERT INTO mailchimp_deliveries (unsubscribe_id, list_id, outcome, detail, run_id, at)
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
                [t.unsubscribeId, t.listId, outcome, detail, runId, at]
            );
            if (changes === 0) continue;
            added += 1;
            await ledger.appendAudit({
                action:
                    outcome === 'delivered'
                        ? 'mailchimp_delivered'
                        : 'mailchimp_skipped',
                at,
                runId,
                emailNorm: t.emailNorm,
                personId: t.personId,
                recordId: t.listId,
                object: 'mailchimp',
                field: 'member.status',
                after: outcome === 'delivered' ? 'unsubscribed' : null,
                source: t.source,
                collectedAt: t.collectedAt,
                writtenAt: outcome === 'delivered' ? at : null,
                detail: {
                    unsubscribeId: t.unsubscribeId,
                    scope: t.scope,
                    ...(detail ? { reason: detail } : {})
                }
            });
        }
        return added;
    });
}

/**
 * A pull saw the person unsubscribed in `listId`: every active unsubscribe that applies
 * there (that audience's, or from everything) needs no PATCH. Call inside the page's
 * transaction. Returns how many rows were added.
 */
export async function markInMailchimp(
    ledger: Ledger,
    personId: number,
    listId: string,
    runId: string | null,
    at: string
): Promise<number> {
    const { changes } = await engineOf(ledger).run(
        `INSERT INTO mailchimp_deliveries (unsubscribe_id, list_id, outcome, detail, run_id, at)
         SELECT id, ?, 'in_mailchimp', 'unsubscribed in Mailchimp when pulled', ?, ?
           FROM unsubscribes
          WHERE person_id = ? AND removed_at IS NULL
            AND (scope = 'all' OR audience_id = ?)
         ON CONFLICT DO NOTHING`,
        [listId, runId, at, personId, listId]
    );
    return changes;
}

/** Deliveries per outcome (for tests and `--json`). */
export async function deliveryCounts(
    ledger: Ledger
): Promise<Record<DeliveryOutcome, number>> {
    const rows = await engineOf(ledger).all<{
        outcome: DeliveryOutcome;
        n: number;
    }>(
        'SELECT outcome, COUNT(*) AS n FROM mailchimp_deliveries GROUP BY outcome'
    );
    const counts: Record<DeliveryOutcome, number> = {
        delivered: 0,
        skipped: 0,
        in_mailchimp: 0
    };
    for (const r of rows) counts[r.outcome] = r.n;
    return counts;
}
