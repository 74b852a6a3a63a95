/**
 * `optout import FILE.csv` — memberships and unsubscribes into the ledger, from
 * optout's CSV format or a Mailchimp audience export. Nothing is imported when a row
 * is invalid, unless --skip-invalid (then exit 1 with the result: nothing imported).
 * Text in render/import.ts.
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
import { execute, type CommandModule, type CommandWork } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    parseSourceOption,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions,
    parseImportFormat
} from '../options';
import { renderImport, renderImportDiagnostics } from '../render/import';

export interface ImportOptions extends LedgerOptions {
    skipInvalid?: boolean;
    source?: string;
    format: string;
    audienceId?: string;
    audienceName?: string;
}

/** The report, with why nothing was imported when the file was rejected. */
export type ImportResult = ImportReport & {
    ledger: string;
    durationMs: number;
    code?: 'INVALID_ROWS';
    message?: string;
    actions?: string[];
};

/** Files smaller than this import too fast for a progress bar to help. */
const PROGRESS_MIN_BYTES = 1_000_000;

/** A progress bar on stderr for the two phases; undefined when not at a terminal. */
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

/** Why a rejected file imported nothing, and what to do (undefined when imported). */
export function rejection(
    report: ImportReport
): Pick<ImportResult, 'code' | 'message' | 'actions'> {
    if (report.status !== 'rejected') return {};
    const syntax = report.invalid.some((r) =>
        r.problems.some((p) => p.startsWith('CSV syntax'))
    );
    return syntax
        ? {
              code: 'INVALID_ROWS',
              message:
                  'Nothing imported: the CSV quoting is broken, so the rows after it cannot be read reliably.',
              actions: [
                  'Fix the quotes on the reported line(s) and import again'
              ]
          }
        : {
              code: 'INVALID_ROWS',
              message: `Nothing imported: ${report.invalidCount} invalid row(s).`,
              actions: [
                  'Fix the reported rows and import again',
                  'Or import the valid rows only: add --skip-invalid'
              ]
          };
}

/** Imports `file` into the ledger of `opts`. */
export async function runImport(
    file: string,
    opts: ImportOptions,
    out: Output
): Promise<ImportResult> {
    const format = parseImportFormat(opts.format);
    const source = parseSourceOption(opts.source, 'import');
    const started = Date.now();
    const report = await withLedger(opts, async (ledger) =>
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
    return {
        ...report,
        ledger: shownLedger(resolveLedger(opts.ledger)),
        durationMs: Date.now() - started,
        ...rejection(report)
    };
}

/** Exit 1 when the file was rejected: nothing was imported. */
export function importExitCode(result: ImportResult): number {
    return result.status === 'rejected' ? 1 : 0;
}

/**
 * The command's work: the import, its invalid lines and notes on stderr for a person
 * (--json carries them in the result), the counts as text, exit 1 when rejected.
 */
export function importWork(
    file: string,
    opts: ImportOptions
): CommandWork<ImportResult> {
    return {
        run: async (out) => {
            const result = await runImport(file, opts, out);
            if (!out.json)
                process.stderr.write(renderImportDiagnostics(result));
            return result;
        },
        render: renderImport,
        exitCode: importExitCode
    };
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
        execute(cmd, importWork(file, opts))
    );
};
