/**
 * The audit trail (R10): one entry per change the ledger or the sync makes, appended in
 * the transaction of that change, and read by email, object or run.
 */
import { normalizeEmail } from '../model/statuses';
import type { LedgerContext } from './context';
import { AUDIT_COLS } from './sql-columns';
import type { AuditInput, AuditRecord } from './types';

export async function appendAudit(
    ctx: LedgerContext,
    entry: AuditInput
): Promise<number> {
    return ctx.transaction(async () => appendAuditIn(ctx, entry));
}

export async function appendAudits(
    ctx: LedgerContext,
    entries: readonly AuditInput[]
): Promise<void> {
    await ctx.transaction(async () => {
        for (const e of entries) await appendAuditIn(ctx, e);
    });
}

export async function appendAuditIn(
    ctx: LedgerContext,
    e: AuditInput
): Promise<number> {
    let latency = e.latencyMs ?? null;
    if (latency === null && e.collectedAt && e.writtenAt) {
        const ms = Date.parse(e.writtenAt) - Date.parse(e.collectedAt);
        if (!Number.isNaN(ms)) latency = ms;
    }
    const detail =
        e.detail == null
            ? null
            : typeof e.detail === 'string'
              ? e.detail
              : JSON.stringify(e.detail);
    const info = (await ctx
        .stmt(
            `INSERT INTO audit (run_id, at, action, email_norm, person_id, record_id, object, field,
                 before, after, source, collected_at, written_at, latency_ms, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
        )
        .get(
            e.runId ?? null,
            e.at ?? ctx.nowIso(),
            e.action,
            e.emailNorm ?? null,
            e.personId ?? null,
            e.recordId ?? null,
            e.object ?? null,
            e.field ?? null,
            e.before ?? null,
            e.after ?? null,
            e.source ?? null,
            e.collectedAt ?? null,
            e.writtenAt ?? null,
            latency,
            detail
        )) as { id: number };
    return info.id;
}

export async function auditForEmail(
    ctx: LedgerContext,
    email: string
): Promise<AuditRecord[]> {
    return (await ctx
        .stmt(
            `SELECT ${AUDIT_COLS} FROM audit WHERE email_norm = ? ORDER BY at, id`
        )
        .all(normalizeEmail(email))) as AuditRecord[];
}

export async function auditForObject(
    ctx: LedgerContext,
    object: string
): Promise<AuditRecord[]> {
    return (await ctx
        .stmt(`SELECT ${AUDIT_COLS} FROM audit WHERE object = ? ORDER BY id`)
        .all(object)) as AuditRecord[];
}

export async function auditForRun(
    ctx: LedgerContext,
    runId: string
): Promise<AuditRecord[]> {
    return (await ctx
        .stmt(`SELECT ${AUDIT_COLS} FROM audit WHERE run_id = ? ORDER BY id`)
        .all(runId)) as AuditRecord[];
}
