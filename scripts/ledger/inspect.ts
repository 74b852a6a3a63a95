/**
 * Read-only questions about the ledger's tables that only the development tools ask:
 * the reliability checks' oracles (what the audit trail and the tables say, compared
 * with the jobs' results), the demo's story, the naive baseline of the benchmark. They
 * read the tables directly on purpose — an oracle must not go through the API it
 * checks — and live here so that every query on the ledger's tables is in ledger/.
 */
import Database from 'better-sqlite3';
import { connectionOf, type Ledger } from './ledger';

/** Raw rows (arrays) that two runs of one trial must agree on: no ids, no run times. */
export function stateRows(ledger: Ledger): {
    persons: unknown[];
    memberships: unknown[];
    unsubscribes: unknown[];
} {
    const db = connectionOf(ledger);
    return {
        persons: db
            .prepare(
                'SELECT email_norm, salesforce_id FROM persons ORDER BY email_norm'
            )
            .raw()
            .all(),
        memberships: db
            .prepare(
                `SELECT p.email_norm, m.audience_id, m.status, m.source, m.reason, m.changed_at
                 FROM memberships m JOIN persons p ON p.id = m.person_id
                 ORDER BY p.email_norm, m.audience_id`
            )
            .raw()
            .all(),
        unsubscribes: db
            .prepare(
                `SELECT p.email_norm, u.scope, u.audience_id, u.source, u.reason,
                        u.delivered_at IS NOT NULL AS delivered, u.removed_at IS NOT NULL AS removed
                 FROM unsubscribes u JOIN persons p ON p.id = u.person_id
                 ORDER BY p.email_norm, u.scope, u.audience_id, u.id`
            )
            .raw()
            .all()
    };
}

/** An active unsubscribe with its person (any scope). */
export interface ActiveUnsubscribeRow {
    id: number;
    scope: 'all' | 'audience';
    audienceId: string | null;
    emailNorm: string;
    salesforceId: string | null;
    /** 1 when delivered. */
    delivered: number;
}

/** Every active unsubscribe, oldest first. */
export function activeUnsubscribeRows(ledger: Ledger): ActiveUnsubscribeRow[] {
    return connectionOf(ledger)
        .prepare(
            `SELECT u.id, u.scope, u.audience_id AS audienceId, p.email_norm AS emailNorm,
                    p.salesforce_id AS salesforceId, u.delivered_at IS NOT NULL AS delivered
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             WHERE u.removed_at IS NULL ORDER BY u.id`
        )
        .all() as ActiveUnsubscribeRow[];
}

/** How many audit entries have this action. */
export function countAuditAction(ledger: Ledger, action: string): number {
    return (
        connectionOf(ledger)
            .prepare('SELECT COUNT(*) AS n FROM audit WHERE action = ?')
            .get(action) as { n: number }
    ).n;
}

/** Fields of records audited as written more than once. */
export function fieldsWrittenTwice(
    ledger: Ledger
): { id: string; field: string; n: number }[] {
    return connectionOf(ledger)
        .prepare(
            `SELECT record_id AS id, field, COUNT(*) AS n FROM audit WHERE action = 'field_write'
             GROUP BY record_id, field HAVING n > 1`
        )
        .all() as { id: string; field: string; n: number }[];
}

/** Unsubscribes marked delivered more often than they were requeued plus one. */
export function unsubscribesDeliveredTwice(
    ledger: Ledger
): { id: number; n: number }[] {
    return connectionOf(ledger)
        .prepare(
            `SELECT json_extract(detail, '$.unsubscribeId') AS id, COUNT(*) AS n FROM audit
             WHERE action = 'unsubscribe_delivered' GROUP BY id HAVING n > 1 + (
                 SELECT COUNT(*) FROM audit r WHERE r.action = 'unsubscribe_requeued'
                   AND json_extract(r.detail, '$.unsubscribeId') = id)`
        )
        .all() as { id: number; n: number }[];
}

/** Unsubscribes delivered without an unsubscribe_delivered audit entry. */
export function countDeliveredWithoutAudit(ledger: Ledger): number {
    return (
        connectionOf(ledger)
            .prepare(
                `SELECT COUNT(*) AS n FROM unsubscribes u WHERE u.delivered_at IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM audit a WHERE a.action = 'unsubscribe_delivered'
                       AND json_extract(a.detail, '$.unsubscribeId') = u.id)`
            )
            .get() as { n: number }
    ).n;
}

/** Every (record, field) the audit trail says was written. */
export function auditedFieldWrites(
    ledger: Ledger
): { id: string; field: string }[] {
    return connectionOf(ledger)
        .prepare(
            `SELECT DISTINCT record_id AS id, field FROM audit WHERE action = 'field_write'`
        )
        .all() as { id: string; field: string }[];
}

/** R4: ids of unsubscribes removed by anything but `resubscribe`. */
export function removedWithoutResubscribe(ledger: Ledger): number[] {
    return (
        connectionOf(ledger)
            .prepare(
                `SELECT u.id FROM unsubscribes u WHERE u.removed_at IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM audit a WHERE a.action = 'resubscribe'
                       AND json_extract(a.detail, '$.unsubscribeId') = u.id)`
            )
            .all() as { id: number }[]
    ).map((r) => r.id);
}

/** Mailchimp deliveries of an email's unsubscribes (the demo's story). */
export function mailchimpDeliveriesFor(
    ledger: Ledger,
    email: string
): { listId: string; outcome: string }[] {
    return connectionOf(ledger)
        .prepare(
            `SELECT d.list_id AS listId, d.outcome FROM mailchimp_deliveries d
             JOIN unsubscribes u ON u.id = d.unsubscribe_id JOIN persons p ON p.id = u.person_id
             WHERE p.email_norm = ? ORDER BY d.unsubscribe_id, d.list_id`
        )
        .all(email.toLowerCase()) as { listId: string; outcome: string }[];
}

/** An audit entry of a write with the job of its run. */
export interface AuditWriteRow {
    recordId: string | null;
    object: string | null;
    field: string | null;
    job: string | null;
}

/** An email's audit entries of one action with the job of their run, oldest first. */
export function auditWithJob(
    ledger: Ledger,
    action: string,
    email: string
): (AuditWriteRow & { detail: string | null })[] {
    return connectionOf(ledger)
        .prepare(
            `SELECT a.record_id AS recordId, a.object, a.field, a.detail, r.job
             FROM audit a LEFT JOIN runs r ON r.id = a.run_id
             WHERE a.action = ? AND a.email_norm = ? ORDER BY a.id`
        )
        .all(action, email.toLowerCase()) as (AuditWriteRow & {
        detail: string | null;
    })[];
}

/** Field writes of these runs, by object and field. */
export function fieldWritesByRuns(
    ledger: Ledger,
    runIds: readonly string[]
): { object: string; field: string; n: number }[] {
    if (runIds.length === 0) return [];
    return connectionOf(ledger)
        .prepare(
            `SELECT object, field, COUNT(*) AS n FROM audit WHERE action = 'field_write'
             AND run_id IN (${runIds.map(() => '?').join(',')})
             GROUP BY object, field ORDER BY object, field`
        )
        .all(...runIds) as { object: string; field: string; n: number }[];
}

/** Delivery latencies (ms) audited by these runs. */
export function deliveryLatencies(
    ledger: Ledger,
    runIds: readonly string[]
): number[] {
    if (runIds.length === 0) return [];
    return (
        connectionOf(ledger)
            .prepare(
                `SELECT latency_ms AS ms FROM audit WHERE action = 'unsubscribe_delivered'
                 AND latency_ms IS NOT NULL AND run_id IN (${runIds.map(() => '?').join(',')})`
            )
            .all(...runIds) as { ms: number }[]
    ).map((r) => r.ms);
}

/** Whether every membership of the person is Archived or Unsubscribed (R5b, naive form). */
export function outOfAllAudiences(ledger: Ledger, personId: number): boolean {
    const row = connectionOf(ledger)
        .prepare(
            `SELECT NOT EXISTS (SELECT 1 FROM memberships WHERE person_id = ?
                                AND status NOT IN ('Archived', 'Unsubscribed')) AS out`
        )
        .get(personId) as { out: number };
    return row.out === 1;
}

/**
 * `PRAGMA integrity_check` and `foreign_key_check` of a ledger file, opened read-only
 * on a connection of its own (the crash trials check the file another process left).
 */
export function integrityProblems(path: string): string[] {
    if (path === ':memory:') return [];
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
        const rows = db.pragma('integrity_check') as {
            integrity_check: string;
        }[];
        const fk = db.pragma('foreign_key_check') as unknown[];
        const out = rows
            .map((r) => r.integrity_check)
            .filter((r) => r !== 'ok');
        if (fk.length) out.push(`${fk.length} foreign key violation(s)`);
        return out;
    } finally {
        db.close();
    }
}
