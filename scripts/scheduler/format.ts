/**
 * One line per job run, for the long-running commands (`optout schedule`, `optout
 * serve`): a compact object for JSON lines and the same facts in words.
 */
import type { JobResult } from '../sync/result';

export interface RunSummaryLine {
    job: string;
    runId: string;
    status: string;
    dryRun: boolean;
    recordsWritten: number;
    ledgerUnsubscribesAdded: number;
    membershipsUpserted: number;
    unsubscribesDelivered: number;
    failed: number;
    skipped: Record<string, number>;
    deferred: { count: number; reason: string } | null;
    apiRequests: number;
    apiUsage: { used: number; max: number } | null;
    durationMs: number;
    /** nightly: full or incremental (R16). */
    reconciliation?: string;
    message?: string;
    error?: { code: string; message: string };
}

export function summarizeResult(r: JobResult): RunSummaryLine {
    return {
        job: r.job,
        runId: r.runId,
        status: r.status,
        dryRun: r.dryRun,
        recordsWritten: r.recordsWritten,
        ledgerUnsubscribesAdded: r.ledgerUnsubscribesAdded,
        membershipsUpserted: r.membershipsUpserted,
        unsubscribesDelivered: r.unsubscribesDelivered,
        failed: r.failed.length,
        skipped: r.skipped,
        deferred: r.deferred,
        apiRequests: r.apiRequests,
        apiUsage: r.apiUsage,
        durationMs: r.durationMs,
        ...(r.reconciliation ? { reconciliation: r.reconciliation.mode } : {}),
        ...(r.message ? { message: r.message } : {}),
        ...(r.error
            ? { error: { code: r.error.code, message: r.error.message } }
            : {})
    };
}

function seconds(ms: number): string {
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "hourly succeeded: 3 memberships upserted, 2 API requests, 0.4 s" */
export function describeRun(r: JobResult): string {
    const head = `${r.job}${r.reconciliation ? ` (${r.reconciliation.mode})` : ''}${r.dryRun ? ' (dry run)' : ''} ${r.status}`;
    if (r.status === 'skipped' && r.message) return `${head}: ${r.message}`;
    if (r.status === 'failed')
        return `${head}: ${r.error?.message ?? 'the job could not run'}`;
    const parts: string[] = [];
    if (r.recordsWritten) parts.push(`${r.recordsWritten} records written`);
    if (r.unsubscribesDelivered)
        parts.push(`${r.unsubscribesDelivered} unsubscribes delivered`);
    if (r.ledgerUnsubscribesAdded)
        parts.push(
            `${r.ledgerUnsubscribesAdded} ledger unsubscribes added from Salesforce`
        );
    if (r.membershipsUpserted)
        parts.push(`${r.membershipsUpserted} memberships upserted`);
    if (r.failed.length) parts.push(`${r.failed.length} failed`);
    const skipped = Object.entries(r.skipped)
        .filter(([, n]) => n > 0)
        .map(([reason, n]) => `${n} ${reason.replace(/_/g, ' ')}`);
    if (skipped.length) parts.push(`skipped: ${skipped.join(', ')}`);
    if (r.deferred)
        parts.push(`${r.deferred.count} deferred (${r.deferred.reason})`);
    if (parts.length === 0) parts.push('nothing to write');
    parts.push(`${r.apiRequests} API request${r.apiRequests === 1 ? '' : 's'}`);
    parts.push(seconds(r.durationMs));
    return `${head}: ${parts.join(', ')}`;
}
