/**
 * Text of `optout import`: the counts on stdout, fitted to the terminal; the invalid
 * lines, the rows kept unsubscribed and the verdict on stderr (diagnostics, as before).
 */
import type { ImportResult } from '../commands/import';
import { renderPairs, wrapText } from '../table';

/** Problems printed in human output; --json carries all of them. */
export const SHOWN_PROBLEMS = 100;

/** The counts of an import, or one line when the file was rejected. */
export function renderImport(r: ImportResult, columns: number): string {
    if (r.status === 'rejected')
        return wrapText(
            `Checked ${r.rowsRead} row(s) of ${r.file}: ${r.invalidCount} invalid, nothing imported into ${r.ledger}.`,
            columns
        ).join('\n');
    return renderPairs(
        [
            ['File', r.file],
            [
                'Format',
                r.format === 'mailchimp'
                    ? `Mailchimp export (${r.mailchimpKind})`
                    : 'optout CSV'
            ],
            ['Ledger', r.ledger],
            ['Rows read', r.rowsRead],
            ['Invalid rows', r.invalidCount],
            ['Persons created or updated', r.personsUpserted],
            ['Audiences created or renamed', r.audiencesUpserted],
            ['Memberships changed', r.membershipsChanged],
            ['Unsubscribes added', r.unsubscribesAdded],
            ['Unchanged rows', r.skipped.unchanged],
            ['Older than the ledger (ignored)', r.skipped.stale],
            ['Kept unsubscribed (R4)', r.skipped.blocked]
        ],
        columns
    );
}

/**
 * Lines for stderr: each invalid line with its problems (the first SHOWN_PROBLEMS), the
 * rows an active unsubscribe kept unsubscribed, and the error or warning; '' when none.
 */
export function renderImportDiagnostics(r: ImportResult): string {
    const lines = r.invalid
        .slice(0, SHOWN_PROBLEMS)
        .map((row) => `line ${row.line}: ${row.problems.join('; ')}`);
    if (r.invalidCount > SHOWN_PROBLEMS)
        lines.push(
            `… and ${r.invalidCount - SHOWN_PROBLEMS} more invalid rows (--json lists up to 10,000)`
        );
    if (r.blockedLines.length)
        lines.push(
            `note: ${r.blockedLines.length} row(s) asked to leave Unsubscribed while the audience unsubscribe is active (lines ${r.blockedLines.slice(0, 10).join(', ')}${r.blockedLines.length > 10 ? ', …' : ''}); use optout resubscribe to lift one deliberately.`
        );
    if (r.status === 'rejected') {
        lines.push(`Error (${r.code ?? 'INVALID_ROWS'}): ${r.message ?? ''}`);
        for (const a of r.actions ?? []) lines.push(`  Try this: ${a}`);
    } else if (r.status === 'partial') {
        lines.push(`warning: ${r.invalidCount} invalid row(s) skipped.`);
    }
    return lines.map((l) => `${l}\n`).join('');
}
