/**
 * The ledger's side of an import: applies validated rows (import.ts reads and checks
 * the CSV) in one transaction, through the store's own steps so that every invariant
 * of store.ts holds for imported rows too.
 */
import type { LedgerSource, MembershipStatus } from '../model/statuses';
import type { LedgerContext } from './context';
import {
    requireAudience,
    setMembershipIn,
    upsertAudienceIn,
    upsertPersonIn
} from './store';

/** One validated row of an import (see import.ts). */
export interface ImportRecord {
    line?: number;
    email: string;
    salesforceId: string | null;
    audienceId: string;
    audienceName: string | null;
    status: MembershipStatus;
    changedAt: string;
    reason: string | null;
}

export interface ImportBatchResult {
    personsCreated: number;
    personsUpdated: number;
    audiencesCreated: number;
    audiencesUpdated: number;
    membershipsChanged: number;
    unsubscribesAdded: number;
    skipped: { unchanged: number; stale: number; blocked: number };
    /** Lines whose status change was refused because of an active unsubscribe (R4). */
    blockedLines: number[];
}

export async function importBatch(
    ctx: LedgerContext,
    rows: readonly ImportRecord[],
    options: { source: LedgerSource; runId?: string | null }
): Promise<ImportBatchResult> {
    const result: ImportBatchResult = {
        personsCreated: 0,
        personsUpdated: 0,
        audiencesCreated: 0,
        audiencesUpdated: 0,
        membershipsChanged: 0,
        unsubscribesAdded: 0,
        skipped: { unchanged: 0, stale: 0, blocked: 0 },
        blockedLines: []
    };
    const ready = new Set<string>();
    await ctx.transaction(async () => {
        // One "now" for every row of the batch.
        ctx.freezeNow();
        {
            for (const row of rows) {
                const p = await upsertPersonIn(ctx, {
                    email: row.email,
                    salesforceId: row.salesforceId
                });
                if (p.created) result.personsCreated += 1;
                else if (p.changed) result.personsUpdated += 1;
                if (!ready.has(row.audienceId)) {
                    if (row.audienceName) {
                        const a = await upsertAudienceIn(
                            ctx,
                            row.audienceId,
                            row.audienceName
                        );
                        if (a.created) result.audiencesCreated += 1;
                        else if (a.changed) result.audiencesUpdated += 1;
                    } else {
                        await requireAudience(ctx, row.audienceId);
                    }
                    ready.add(row.audienceId);
                }
                const m = await setMembershipIn(
                    ctx,
                    {
                        personId: p.person.id,
                        audienceId: row.audienceId,
                        status: row.status,
                        changedAt: row.changedAt,
                        source: options.source,
                        reason: row.reason,
                        runId: options.runId,
                        auditAction: 'import'
                    },
                    false,
                    p.person
                );
                if (m.outcome === 'created' || m.outcome === 'changed')
                    result.membershipsChanged += 1;
                else result.skipped[m.outcome] += 1;
                if (m.outcome === 'blocked' && row.line !== undefined)
                    result.blockedLines.push(row.line);
                if (m.unsubscribeId !== null) result.unsubscribesAdded += 1;
            }
        }
    });
    return result;
}
