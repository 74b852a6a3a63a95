/**
 * `optout history --email E` — what the ledger knows about one email and its audit
 * trail by time (R10): unsubscribes and their delivery, membership changes, field
 * writes with push latency, resubscribes, and writes Salesforce refused with the
 * attempts, the reason and what to do (R14).
 */
import type { Command } from 'commander';
import { OptoutError } from '../../model/errors';
import { normalizeEmail } from '../../model/statuses';
import type { HistoryReport } from '../../ledger/ledger';
import type { AuditRecord } from '../../ledger/types';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import {
    addLedgerOption,
    resolveLedgerPath,
    withLedger,
    type LedgerOptions
} from '../options';
import { formatAge, renderTable } from '../table';

interface HistoryOptions extends LedgerOptions {
    email: string;
}

function parseDetail(detail: string | null): Record<string, unknown> {
    if (!detail) return {};
    try {
        const value: unknown = JSON.parse(detail);
        return value && typeof value === 'object'
            ? (value as Record<string, unknown>)
            : { text: detail };
    } catch {
        return { text: detail };
    }
}

/** One line saying what an audit entry did. */
export function describeAudit(a: AuditRecord): string {
    const d = parseDetail(a.detail);
    const reason = typeof d.reason === 'string' ? ` (reason: ${d.reason})` : '';
    const change =
        a.before !== null || a.after !== null
            ? `${a.before ?? '—'} → ${a.after ?? '—'}`
            : '';
    switch (a.action) {
        case 'unsubscribe_recorded':
            return `unsubscribed from ${a.after ?? 'all audiences'}${reason}`;
        case 'unsubscribe_delivered':
            return (
                `unsubscribe #${String(d.unsubscribeId ?? '')} confirmed by Salesforce` +
                (a.latencyMs !== null ? ` after ${formatAge(a.latencyMs)}` : '')
            );
        case 'resubscribe':
            return `unsubscribe from ${a.before ?? ''} removed${reason}`;
        case 'delivery_failed': {
            const what =
                typeof d.unsubscribeId === 'number'
                    ? `unsubscribe #${d.unsubscribeId}`
                    : typeof d.audienceId === 'string'
                      ? `membership in ${d.audienceId}`
                      : 'opt-out';
            const record = [a.object, a.recordId].filter(Boolean).join(' ');
            const next =
                a.after === 'dead_letter'
                    ? ' — set aside as a dead letter (optout retry puts it back)'
                    : typeof d.nextAttemptAt === 'string'
                      ? ` — next try ${d.nextAttemptAt}`
                      : '';
            return `${what}: Salesforce refused ${record}: ${String(d.code ?? '')} ${String(d.message ?? '')}${next}`.trim();
        }
        case 'retry_requested':
            return `${a.field ?? 'record'} put back for another try (was ${a.before ?? ''}, ${String(d.code ?? '')})`;
        case 'import':
        case 'membership_changed':
        case 'membership_from_salesforce':
            return `audience ${a.recordId ?? ''}: ${change}${reason}`;
        default: {
            const target = [a.object, a.recordId, a.field]
                .filter(Boolean)
                .join(' ');
            const latency =
                a.latencyMs !== null
                    ? ` (latency ${formatAge(a.latencyMs)})`
                    : '';
            const text = typeof d.text === 'string' ? ` ${d.text}` : '';
            return `${target}${change ? `: ${change}` : ''}${latency}${text}`.trim();
        }
    }
}

/** "3 attempts, rejected FIELD_CUSTOM_VALIDATION_EXCEPTION, next …" (R14), or ''. */
function syncState(
    outcome: string | null,
    attempts: number,
    code: string | null,
    next: string | null
): string {
    if (outcome === null) return attempts ? String(attempts) : '';
    const error =
        code && ['failed', 'rejected', 'dead_letter'].includes(outcome)
            ? ` ${code}`
            : '';
    const when = next && outcome !== 'dead_letter' ? `, next ${next}` : '';
    return `${attempts}: ${outcome}${error}${when}`;
}

function human(h: HistoryReport): string {
    if (!h.person && h.audit.length === 0)
        return `The ledger has no record of ${h.email}.`;
    const parts: string[] = [];
    if (h.person) {
        parts.push(
            `${h.person.email} — ledger person ${h.person.id}, Salesforce id ${h.person.salesforceId ?? 'unknown'}, first seen ${h.person.createdAt}`
        );
    }
    if (h.memberships.length) {
        parts.push(
            renderTable(
                [
                    'Audience',
                    'Name',
                    'Status',
                    'Changed at',
                    'Source',
                    'Reason',
                    'Sync'
                ],
                h.memberships.map((m) => [
                    m.audienceId,
                    m.audienceName,
                    m.status,
                    m.changedAt,
                    m.source,
                    m.reason,
                    syncState(
                        m.syncOutcome,
                        m.syncAttempts,
                        m.syncErrorCode,
                        m.nextAttemptAt
                    )
                ])
            )
        );
    }
    if (h.unsubscribes.length) {
        parts.push(
            renderTable(
                [
                    'Unsubscribe',
                    'Scope',
                    'Source',
                    'Collected',
                    'Delivered',
                    'Removed',
                    'Attempts'
                ],
                h.unsubscribes.map((u) => [
                    u.id,
                    u.scope === 'all'
                        ? 'all audiences'
                        : `audience ${u.audienceId}`,
                    u.source,
                    u.collectedAt,
                    u.deliveredAt ?? (u.removedAt ? '' : 'pending'),
                    u.removedAt ? `${u.removedAt} (${u.removedReason})` : '',
                    u.deliveredAt || u.removedAt
                        ? u.attempts
                        : syncState(
                              u.lastOutcome,
                              u.attempts,
                              u.errorCode,
                              u.nextAttemptAt
                          )
                ])
            )
        );
    }
    for (const x of h.stuck)
        parts.push(
            `Refused by Salesforce (${x.kind === 'unsubscribe' ? `unsubscribe #${x.unsubscribeId ?? ''}` : `membership in ${x.audienceId ?? ''}`}): ` +
                `${x.errorCode} on ${x.recordId ?? 'a record'}: ${x.errorMessage ?? ''} — ` +
                `${x.state === 'dead_letter' ? `dead letter since ${x.deadAt ?? ''}` : `retrying, next try ${x.nextAttemptAt ?? 'at the next run'}`}, ` +
                `${x.failures} refusal(s) in a row, ${x.attempts} attempt(s).\n  What to do: ${x.whatToDo}`
        );
    parts.push(
        h.audit.length
            ? renderTable(
                  ['At', 'Action', 'Source', 'What', 'Run'],
                  h.audit.map((a) => [
                      a.at,
                      a.action,
                      a.source,
                      describeAudit(a),
                      a.runId
                  ])
              )
            : 'No audit entries.'
    );
    return parts.join('\n');
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('history')
            .description(summaryOf('history'))
            .requiredOption('--email <email>', 'the email address (any case)')
    ).action(async (opts: HistoryOptions, cmd: Command) =>
        runCommand(cmd, async (out) => {
            if (normalizeEmail(opts.email) === '') {
                throw new OptoutError(
                    'BAD_ARGUMENT',
                    '--email must not be empty.',
                    { exitCode: 2 }
                );
            }
            const ledgerPath = resolveLedgerPath(opts.ledger);
            return withLedger(
                opts,
                (ledger) => {
                    const h = ledger.history(opts.email);
                    out.result({ ...h, ledger: ledgerPath }, () => human(h));
                },
                { mustExist: true }
            );
        })
    );
};
