/**
 * Read-only questions about the ledger's tables that only the development tools ask:
 * the reliability checks' oracles (what the audit trail and the tables say, compared
 * with the jobs' results), the demo's story, the naive baseline of the benchmark. They
 * read the tables directly on purpose — an oracle must not go through the API it
 * checks — and live here so that every query on the ledger's tables is in ledger/.
 * Written once for both engines (see sql/dialect.ts for the one JSON difference).
 */
import Database from 'better-sqlite3';
import { engineOf, type Ledger } from './ledger';
import { jsonInteger, marks } from './sql/dialect';

/** A statement on the ledger's engine (see Ledger's own `stmt`). */
function q(
    ledger: Ledger,
    sql: string
): {
    get(...params: unknown[]): Promise<unknown>;
    all(...params: unknown[]): Promise<unknown[]>;
} {
    const engine = engineOf(ledger);
    return {
        get: async (...params) => engine.get(sql, params),
        all: async (...params) => engine.all(sql, params)
    };
}

/** SQL: the `unsubscribeId` of an audit entry's JSON detail (`column`). */
function unsubscribeIdOf(ledger: Ledger, column: string): string {
    return jsonInteger(engineOf(ledger).kind, column, 'unsubscribeId');
}

/** Raw rows (arrays) that two runs of one trial must agree on: no ids, no run times. */
export async function stateRows(ledger: Ledger): Promise<{
    persons: unknown[];
    memberships: unknown[];
    unsubscribes: unknown[];
}> {
    const engine = engineOf(ledger);
    const values = (rows: Record<string, unknown>[]): unknown[][] =>
        rows.map((r) => Object.values(r));
    return {
        persons: values(
            await engine.all(
                'SELECT email_norm, salesforce_id FROM persons ORDER BY email_norm'
            )
        ),
        memberships: values(
            await engine.all(
                `SELECT p.email_norm, m.audience_id, m.status, m.source, m.reason, m.changed_at
                 FROM memberships m JOIN persons p ON p.id = m.person_id
                 ORDER BY p.email_norm, m.audience_id`
            )
        ),
        unsubscribes: values(
            await engine.all(
                `SELECT p.email_norm, u.scope, u.audience_id, u.source, u.reason,
                        CASE WHEN u.delivered_at IS NOT NULL THEN 1 ELSE 0 END AS delivered,
                        CASE WHEN u.removed_at IS NOT NULL THEN 1 ELSE 0 END AS removed
                 FROM unsubscribes u JOIN persons p ON p.id = u.person_id
                 ORDER BY p.email_norm, u.scope, u.audience_id, u.id`
            )
        )
    };
}

/**
 * Every row of every ledger table but `except`'s, by table (rows in the engine's
 * order): that a run changed nothing else (a dry run records only its run).
 */
export async function tableRows(
    ledger: Ledger,
    except: readonly string[]
): Promise<Record<string, unknown[]>> {
    const engine = engineOf(ledger);
    const tables = (await engine.all(
        engine.kind === 'sqlite'
            ? `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
            : `SELECT table_name AS name FROM information_schema.tables
               WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
        []
    )) as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables)
        if (!except.includes(name))
            out[name] = await engine.all(`SELECT * FROM ${name}`, []);
    return out;
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
export async function activeUnsubscribeRows(
    ledger: Ledger
): Promise<ActiveUnsubscribeRow[]> {
    return (await q(
        ledger,
        `SELECT u.id, u.scope, u.audience_id AS audienceId, p.email_norm AS emailNorm,
                    p.salesforce_id AS salesforceId, CASE WHEN u.delivered_at IS NOT NULL THEN 1 ELSE 0 END AS delivered
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             WHERE u.removed_at IS NULL ORDER BY u.id`
    ).all()) as ActiveUnsubscribeRow[];
}

/** How many audit entries have this action. */
export async function countAuditAction(
    ledger: Ledger,
    action: string
): Promise<number> {
    return (
        (await q(
            ledger,
            'SELECT COUNT(*) AS n FROM audit WHERE action = ?'
        ).get(action)) as { n: number }
    ).n;
}

/** Fields of records audited as written more than once. */
export async function fieldsWrittenTwice(
    ledger: Ledger
): Promise<{ id: string; field: string; n: number }[]> {
    return (await q(
        ledger,
        `SELECT record_id AS id, field, COUNT(*) AS n FROM audit WHERE action = 'field_write'
             GROUP BY record_id, field HAVING COUNT(*) > 1`
    ).all()) as { id: string; field: string; n: number }[];
}

/** Unsubscribes marked delivered more often than they were requeued plus one. */
export async function unsubscribesDeliveredTwice(
    ledger: Ledger
): Promise<{ id: number; n: number }[]> {
    return (await q(
        ledger,
        `SELECT d.id, d.n FROM (
                 SELECT ${unsubscribeIdOf(ledger, 'detail')} AS id, COUNT(*) AS n FROM audit
                 WHERE action = 'unsubscribe_delivered' GROUP BY ${unsubscribeIdOf(ledger, 'detail')}) d
             WHERE d.n > 1 + (
                 SELECT COUNT(*) FROM audit r WHERE r.action = 'unsubscribe_requeued'
                   AND ${unsubscribeIdOf(ledger, 'r.detail')} = d.id)`
    ).all()) as { id: number; n: number }[];
}

/** Unsubscribes delivered without an unsubscribe_delivered audit entry. */
export async function countDeliveredWithoutAudit(
    ledger: Ledger
): Promise<number> {
    return (
        (await q(
            ledger,
            `SELECT COUNT(*) AS n FROM unsubscribes u WHERE u.delivered_at IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM audit a WHERE a.action = 'unsubscribe_delivered'
                       AND ${unsubscribeIdOf(ledger, 'a.detail')} = u.id)`
        ).get()) as { n: number }
    ).n;
}

/** Every (record, field) the audit trail says was written. */
export async function auditedFieldWrites(
    ledger: Ledger
): Promise<{ id: string; field: string }[]> {
    return (await q(
        ledger,
        `SELECT DISTINCT record_id AS id, field FROM audit WHERE action = 'field_write'`
    ).all()) as { id: string; field: string }[];
}

/** R4: ids of unsubscribes removed by anything but `resubscribe`. */
export async function removedWithoutResubscribe(
    ledger: Ledger
): Promise<number[]> {
    return (
        (await q(
            ledger,
            `SELECT u.id FROM unsubscribes u WHERE u.removed_at IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM audit a WHERE a.action = 'resubscribe'
                       AND ${unsubscribeIdOf(ledger, 'a.detail')} = u.id)`
        ).all()) as { id: number }[]
    ).map((r) => r.id);
}

/** Mailchimp deliveries of an email's unsubscribes (the demo's story). */
export async function mailchimpDeliveriesFor(
    ledger: Ledger,
    email: string
): Promise<{ listId: string; outcome: string }[]> {
    return (await q(
        ledger,
        `SELECT d.list_id AS listId, d.outcome FROM mailchimp_deliveries d
             JOIN unsubscribes u ON u.id = d.unsubscribe_id JOIN persons p ON p.id = u.person_id
             WHERE p.email_norm = ? ORDER BY d.unsubscribe_id, d.list_id`
    ).all(email.toLowerCase())) as { listId: string; outcome: string }[];
}

/** An audit entry of a write with the job of its run. */
export interface AuditWriteRow {
    recordId: string | null;
    object: string | null;
    field: string | null;
    job: string | null;
}

/** An email's audit entries of one action with the job of their run, oldest first. */
export async function auditWithJob(
    ledger: Ledger,
    action: string,
    email: string
): Promise<(AuditWriteRow & { detail: string | null })[]> {
    return (await q(
        ledger,
        `SELECT a.record_id AS recordId, a.object, a.field, a.detail, r.job
             FROM audit a LEFT JOIN runs r ON r.id = a.run_id
             WHERE a.action = ? AND a.email_norm = ? ORDER BY a.id`
    ).all(action, email.toLowerCase())) as (AuditWriteRow & {
        detail: string | null;
    })[];
}

/** Field writes of these runs, by object and field. */
export async function fieldWritesByRuns(
    ledger: Ledger,
    runIds: readonly string[]
): Promise<{ object: string; field: string; n: number }[]> {
    if (runIds.length === 0) return [];
    return (await q(
        ledger,
        `SELECT object, field, COUNT(*) AS n FROM audit WHERE action = 'field_write'
             AND run_id IN (${marks(runIds.length)})
             GROUP BY object, field ORDER BY object, field`
    ).all(...runIds)) as { object: string; field: string; n: number }[];
}

/** Delivery latencies (ms) audited by these runs. */
export async function deliveryLatencies(
    ledger: Ledger,
    runIds: readonly string[]
): Promise<number[]> {
    if (runIds.length === 0) return [];
    return (
        (await q(
            ledger,
            `SELECT latency_ms AS ms FROM audit WHERE action = 'unsubscribe_delivered'
                 AND latency_ms IS NOT NULL AND run_id IN (${marks(runIds.length)})`
        ).all(...runIds)) as { ms: number }[]
    ).map((r) => r.ms);
}

/** Whether every membership of the person is Archived or Unsubscribed (R5b, naive form). */
export async function outOfAllAudiences(
    ledger: Ledger,
    personId: number
): Promise<boolean> {
    const row = (await q(
        ledger,
        `SELECT CASE WHEN EXISTS (SELECT 1 FROM memberships WHERE person_id = ?
                                AND status NOT IN ('Archived', 'Unsubscribed')) THEN 0 ELSE 1 END AS out`
    ).get(personId)) as { out: number };
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
