/**
 * Text of `optout history`: the person, their memberships and unsubscribes (tables that
 * become "Heading: value" blocks when narrow), the writes Salesforce refused with what
 * to do (R14), and the audit trail (R10): a table when the terminal is wide enough for
 * its descriptions, else one short block per entry.
 */
import type { HistoryReport, StuckDetail } from '../../ledger/ledger';
import type { AuditRecord } from '../../ledger/types';
import { formatAge, renderTable, wrapHanging, wrapText } from '../table';

/** Narrowest the audit table's "What" column may be before entries become blocks. */
const MIN_WHAT_WIDTH = 30;
/** Indent of a block's continuation lines. */
const INDENT = '    ';

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

/** What a refused write (`delivery_failed`) was about, and what happens next. */
function describeRefusal(a: AuditRecord, d: Record<string, unknown>): string {
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

/** A field write or any other entry: target, change, latency, free text. */
function describeWrite(
    a: AuditRecord,
    d: Record<string, unknown>,
    change: string
): string {
    const target = [a.object, a.recordId, a.field].filter(Boolean).join(' ');
    const latency =
        a.latencyMs !== null ? ` (latency ${formatAge(a.latencyMs)})` : '';
    const text = typeof d.text === 'string' ? ` ${d.text}` : '';
    return `${target}${change ? `: ${change}` : ''}${latency}${text}`.trim();
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
        case 'delivery_failed':
            return describeRefusal(a, d);
        case 'retry_requested':
            return `${a.field ?? 'record'} put back for another try (was ${a.before ?? ''}, ${String(d.code ?? '')})`;
        case 'import':
        case 'membership_changed':
        case 'membership_from_salesforce':
            return `audience ${a.recordId ?? ''}: ${change}${reason}`;
        default:
            return describeWrite(a, d, change);
    }
}

/**
 * "3: rejected" / "FIELD_CUSTOM_VALIDATION_EXCEPTION" / "next …" (R14), one part a line
 * so that a narrow column wraps between the parts rather than inside the code; '' when
 * never tried.
 */
export function syncState(
    outcome: string | null,
    attempts: number,
    code: string | null,
    next: string | null
): string {
    if (outcome === null) return attempts ? String(attempts) : '';
    const error =
        code && ['failed', 'rejected', 'dead_letter'].includes(outcome)
            ? [code]
            : [];
    const when = next && outcome !== 'dead_letter' ? [`next ${next}`] : [];
    return [`${attempts}: ${outcome}`, ...error, ...when].join('\n');
}

function renderMemberships(h: HistoryReport, columns: number): string {
    return renderTable(
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
            m.reason ?? '',
            syncState(
                m.syncOutcome,
                m.syncAttempts,
                m.syncErrorCode,
                m.nextAttemptAt
            )
        ]),
        columns,
        { wrap: [1, 5] }
    );
}

function renderUnsubscribes(h: HistoryReport, columns: number): string {
    return renderTable(
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
            String(u.id),
            u.scope === 'all' ? 'all audiences' : `audience ${u.audienceId}`,
            u.source,
            u.collectedAt,
            u.deliveredAt ?? (u.removedAt ? '' : 'pending'),
            u.removedAt ? `${u.removedAt}\n(${u.removedReason})` : '',
            u.deliveredAt || u.removedAt
                ? String(u.attempts)
                : syncState(
                      u.lastOutcome,
                      u.attempts,
                      u.errorCode,
                      u.nextAttemptAt
                  )
        ]),
        columns,
        { wrap: [5] }
    );
}

/** A write Salesforce refused: what, why, where it stands, and what to do (R14). */
export function renderRefusal(x: StuckDetail, columns: number): string {
    const what =
        x.kind === 'unsubscribe'
            ? `unsubscribe #${x.unsubscribeId ?? ''}`
            : `membership in ${x.audienceId ?? ''}`;
    const state =
        x.state === 'dead_letter'
            ? `dead letter since ${x.deadAt ?? ''}`
            : `retrying, next try ${x.nextAttemptAt ?? 'at the next run'}`;
    return [
        ...wrapHanging(
            `Refused by Salesforce (${what}): ${x.errorCode} on ${x.recordId ?? 'a record'}: ${x.errorMessage ?? ''} — ` +
                `${state}, ${x.failures} refusal(s) in a row, ${x.attempts} attempt(s).`,
            columns,
            INDENT
        ),
        ...wrapHanging(`  What to do: ${x.whatToDo}`, columns, INDENT)
    ].join('\n');
}

const AUDIT_HEAD = ['At', 'Action', 'Source', 'What', 'Run'];

function auditRows(audit: readonly AuditRecord[]): string[][] {
    return audit.map((a) => [
        a.at,
        a.action,
        a.source ?? '',
        describeAudit(a),
        a.runId ?? ''
    ]);
}

/** Whether the audit table leaves its "What" column MIN_WHAT_WIDTH or more. */
function auditTableFits(rows: readonly string[][], columns: number): boolean {
    const others = [0, 1, 2, 4].map((i) =>
        Math.max(AUDIT_HEAD[i].length, ...rows.map((r) => r[i].length))
    );
    const frame = AUDIT_HEAD.length * 3 + 1;
    return (
        others.reduce((a, w) => a + w, 0) + frame + MIN_WHAT_WIDTH <= columns
    );
}

/**
 * The audit trail: a table when wide enough, else per entry a line "at action (source)"
 * and the description and run indented below it.
 */
export function renderAudit(
    audit: readonly AuditRecord[],
    columns: number
): string {
    if (audit.length === 0) return 'No audit entries.';
    const rows = auditRows(audit);
    if (auditTableFits(rows, columns))
        return renderTable(AUDIT_HEAD, rows, columns, { wrap: [3] });
    return rows
        .map(([at, action, source, what, run]) =>
            [
                ...wrapHanging(
                    `${at} ${action}${source ? ` (${source})` : ''}`,
                    columns,
                    INDENT
                ),
                ...wrapText(what, columns - INDENT.length).map(
                    (l) => INDENT + l
                ),
                ...(run
                    ? wrapHanging(`${INDENT}run ${run}`, columns, INDENT)
                    : [])
            ].join('\n')
        )
        .join('\n');
}

/** A part of the text; `spaced` parts (key/value blocks) get a blank line around them. */
interface Part {
    text: string;
    spaced: boolean;
}

/** A table as rendered: bordered, or turned into key/value blocks (spaced). */
const tablePart = (text: string): Part => ({
    text,
    spaced: !text.startsWith('┌')
});

function joinParts(parts: readonly Part[]): string {
    return parts
        .map((p, i) =>
            i > 0 && (p.spaced || parts[i - 1].spaced) ? `\n${p.text}` : p.text
        )
        .join('\n');
}

/** The whole `optout history` text. */
export function renderHistory(h: HistoryReport, columns: number): string {
    if (!h.person && h.audit.length === 0)
        return wrapHanging(
            `The ledger has no record of ${h.email}.`,
            columns,
            INDENT
        ).join('\n');
    const parts: Part[] = [];
    if (h.person)
        parts.push({
            text: wrapHanging(
                `${h.person.email} — ledger person ${h.person.id}, Salesforce id ${h.person.salesforceId ?? 'unknown'}, first seen ${h.person.createdAt}`,
                columns,
                INDENT
            ).join('\n'),
            spaced: false
        });
    if (h.memberships.length)
        parts.push(tablePart(renderMemberships(h, columns)));
    if (h.unsubscribes.length)
        parts.push(tablePart(renderUnsubscribes(h, columns)));
    for (const x of h.stuck)
        parts.push({ text: renderRefusal(x, columns), spaced: false });
    const audit = renderAudit(h.audit, columns);
    parts.push({
        text: audit,
        spaced: h.audit.length > 0 && !audit.startsWith('┌')
    });
    return joinParts(parts);
}
