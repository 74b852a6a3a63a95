/**
 * `optout import FILE.csv` — memberships and unsubscribes into the ledger, from
 * optout's CSV format or a Mailchimp audience export. Nothing is imported when a row
 * is invalid, unless --skip-invalid.
 */
import { statSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import {
    importCsv,
    type ImportProgress,
    type ImportReport
} from '../../ledger/import';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    parseSourceOption,
    resolveLedgerPath,
    withLedger,
    type LedgerOptions,
    parseImportFormat
} from '../options';
import { renderPairs } from '../table';

interface ImportOptions extends LedgerOptions {
    skipInvalid?: boolean;
    source?: string;
    format: string;
    audienceId?: string;
    audienceName?: string;
}

/** Problems printed in human output; --json carries all of them. */
const SHOWN_PROBLEMS = 100;
/** Files smaller than this import too fast for a progress bar to help. */
const PROGRESS_MIN_BYTES = 1_000_000;

/** A progress bar on stderr for the two phases; null when not at a terminal. */
function progressBar(
    out: Output,
    file: string
): ((p: ImportProgress) => void) | undefined {
    if (!out.showProgress) return undefined;
    let size = 0;
    try {
        size = statSync(file).size;
    } catch {
        return undefined;
    }
    if (size < PROGRESS_MIN_BYTES) return undefined;
    let bar: SingleBar | undefined;
    let phase: ImportProgress['phase'] | undefined;
    return (p) => {
        if (p.phase !== phase) {
            bar?.stop();
            phase = p.phase;
            bar = new SingleBar({
                format:
                    p.phase === 'validate'
                        ? 'Checking  [{bar}] {percentage}% of the file'
                        : 'Importing [{bar}] {percentage}% | {value}/{total} rows',
                hideCursor: true,
                clearOnComplete: false
            });
            bar.start(p.total, 0);
        }
        bar?.update(p.done);
        if (p.done >= p.total) bar?.stop();
    };
}

function human(report: ImportReport, ledgerPath: string): string {
    if (report.status === 'rejected')
        return `Checked ${report.rowsRead} row(s) of ${report.file}: ${report.invalidCount} invalid, nothing imported into ${ledgerPath}.`;
    const pairs: [string, string | number][] = [
        ['File', report.file],
        [
            'Format',
            report.format === 'mailchimp'
                ? `Mailchimp export (${report.mailchimpKind})`
                : 'optout CSV'
        ],
        ['Ledger', ledgerPath],
        ['Rows read', report.rowsRead],
        ['Invalid rows', report.invalidCount],
        ['Persons created or updated', report.personsUpserted],
        ['Audiences created or renamed', report.audiencesUpserted],
        ['Memberships changed', report.membershipsChanged],
        ['Unsubscribes added', report.unsubscribesAdded],
        ['Unchanged rows', report.skipped.unchanged],
        ['Older than the ledger (ignored)', report.skipped.stale],
        ['Kept unsubscribed (R4)', report.skipped.blocked]
    ];
    return renderPairs(pairs);
}

function printProblems(report: ImportReport): void {
    for (const row of report.invalid.slice(0, SHOWN_PROBLEMS))
        process.stderr.write(`line ${row.line}: ${row.problems.join('; ')}\n`);
    if (report.invalidCount > SHOWN_PROBLEMS)
        process.stderr.write(
            `… and ${report.invalidCount - SHOWN_PROBLEMS} more invalid rows (--json lists up to 10,000)\n`
        );
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('import')
            .description(summaryOf('import'))
            .argument('<file>', 'the CSV file')
            .option(
                '--skip-invalid',
                'import the valid rows and report the invalid ones (default: import nothing)'
            )
            .option(
                '--source <source>',
                'source recorded for the changes: platform, webhook, salesforce, flow, import',
                'import'
            )
            .option('--format <format>', 'auto, csv or mailchimp', 'auto')
            .option(
                '--audience-id <id>',
                'Mailchimp export: the audience (list) id it was exported from'
            )
            .option(
                '--audience-name <name>',
                'Mailchimp export: the audience name (needed for a new audience)'
            )
    ).action(async (file: string, opts: ImportOptions, cmd: Command) =>
        runCommand(cmd, async (out) => {
            const format = parseImportFormat(opts.format);
            const source = parseSourceOption(opts.source, 'import');
            const ledgerPath = resolveLedgerPath(opts.ledger);
            const started = Date.now();
            const report = await withLedger(opts, (ledger) =>
                importCsv(ledger, {
                    file,
                    format,
                    source,
                    skipInvalid: Boolean(opts.skipInvalid),
                    audienceId: opts.audienceId,
                    audienceName: opts.audienceName,
                    onProgress: progressBar(out, file)
                })
            );
            const durationMs = Date.now() - started;
            const rejected = report.status === 'rejected';
            const syntax = report.invalid.some((r) =>
                r.problems.some((p) => p.startsWith('CSV syntax'))
            );
            const message = rejected
                ? syntax
                    ? 'Nothing imported: the CSV quoting is broken, so the rows after it cannot be read reliably.'
                    : `Nothing imported: ${report.invalidCount} invalid row(s).`
                : undefined;
            const actions = rejected
                ? syntax
                    ? [
                          'Fix the quotes on the reported line(s) and import again'
                      ]
                    : [
                          'Fix the reported rows and import again',
                          'Or import the valid rows only: add --skip-invalid'
                      ]
                : undefined;
            out.result(
                {
                    ...report,
                    ledger: ledgerPath,
                    durationMs,
                    ...(rejected
                        ? { code: 'INVALID_ROWS', message, actions }
                        : {})
                },
                () => human(report, ledgerPath)
            );
            if (!out.json) {
                printProblems(report);
                if (report.blockedLines.length)
                    process.stderr.write(
                        `note: ${report.blockedLines.length} row(s) asked to leave Unsubscribed while the audience unsubscribe is active (lines ${report.blockedLines.slice(0, 10).join(', ')}${report.blockedLines.length > 10 ? ', …' : ''}); use optout resubscribe to lift one deliberately.\n`
                    );
                if (rejected) {
                    process.stderr.write(`Error (INVALID_ROWS): ${message}\n`);
                    for (const a of actions ?? [])
                        process.stderr.write(`  Try this: ${a}\n`);
                } else if (report.status === 'partial') {
                    process.stderr.write(
                        `warning: ${report.invalidCount} invalid row(s) skipped.\n`
                    );
                }
            }
            return rejected ? 1 : 0;
        })
    );
};
