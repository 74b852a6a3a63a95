/**
 * `optout export suppressions [--since CURSOR] [--format csv|jsonl] [--out FILE]` — the
 * suppression feed (R15) as a file for a sending platform that imports lists: every
 * unsubscribe added or removed after the cursor (none: everything), oldest first, and
 * the cursor to pass next time. The items are the ones `GET /suppressions` returns.
 *
 * A file is written beside its target and renamed when complete, so a failed export
 * never leaves half a file; a bad cursor is refused before anything is written.
 */
import { renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import type { Ledger } from '../../ledger/ledger';
import {
    FEED_MAX_LIMIT,
    decodeCursor,
    encodeCursor,
    feedItem,
    type SuppressionItem
} from '../../ledger/feed';
import { OptoutError } from '../../model/errors';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import { renderExport } from '../render/export';
import {
    addLedgerOption,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions,
    parseExportFormat,
    type ExportFormat
} from '../options';

/** CSV columns: the feed item's fields, in its order. */
export const SUPPRESSION_COLUMNS: readonly (keyof SuppressionItem)[] = [
    'email',
    'scope',
    'audienceId',
    'source',
    'reason',
    'collectedAt',
    'removedAt'
];

export interface ExportOptions extends LedgerOptions {
    since?: string;
    format?: string;
    out?: string;
    json?: boolean;
}

export interface ExportResult {
    status: 'ok';
    format: ExportFormat;
    /** Null: written to stdout. */
    out: string | null;
    items: number;
    since: string | null;
    /** Pass it as --since next time. */
    next: string;
    ledger: string;
}

/** One chunk of output: the CSV header only with the first chunk. */
export function renderItems(
    items: readonly SuppressionItem[],
    format: ExportFormat,
    first: boolean
): string {
    if (format === 'jsonl')
        return items.map((i) => `${JSON.stringify(i)}\n`).join('');
    return stringify(
        items.map((i) => SUPPRESSION_COLUMNS.map((c) => i[c] ?? '')),
        {
            header: first,
            columns: SUPPRESSION_COLUMNS.map((c) => ({ key: c, header: c })),
            cast: { string: (s) => s }
        }
    );
}

/**
 * Writes every feed item after `since` through `write`, a page at a time (bounded
 * memory); returns the count and the next cursor. The cursor is checked first.
 */
export async function exportSuppressions(
    ledger: Ledger,
    options: { since?: string | null; format: ExportFormat },
    write: (chunk: string) => void
): Promise<{ items: number; next: string }> {
    let after = decodeCursor(
        options.since,
        await ledger.lastSuppressionEventId()
    );
    let items = 0;
    let first = true;
    for (;;) {
        const page = await ledger.suppressionEvents(after, FEED_MAX_LIMIT);
        if (page.length === 0 && !first) break;
        const chunk = renderItems(page.map(feedItem), options.format, first);
        if (chunk) write(chunk);
        first = false;
        if (page.length === 0) break;
        items += page.length;
        after = page[page.length - 1].eventId;
    }
    return { items, next: encodeCursor(after) };
}

/** Writes to `path` through a temporary file renamed at the end (no partial file). */
async function toFile<T>(
    path: string,
    fill: (write: (chunk: string) => void) => Promise<T>
): Promise<T> {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    try {
        writeFileSync(tmp, '');
        const value = await fill((chunk) => appendFileSync(tmp, chunk));
        renameSync(tmp, path);
        return value;
    } catch (err) {
        rmSync(tmp, { force: true });
        if (err instanceof OptoutError) throw err;
        throw new OptoutError(
            'EXPORT_WRITE_FAILED',
            `Cannot write ${path}: ${(err as Error).message}`,
            {
                actions: ['Check that the folder exists and is writable'],
                cause: err
            }
        );
    }
}

/**
 * Writes the suppression feed after `opts.since` to `--out` (through a temporary file),
 * or to stdout, where the data is the output and the next cursor goes to stderr.
 */
export async function runExport(
    opts: ExportOptions,
    out: Output
): Promise<ExportResult> {
    const format = parseExportFormat(opts.format);
    if (out.json && !opts.out)
        throw new OptoutError(
            'OUT_REQUIRED',
            'With --json the result goes to stdout, so the export needs --out FILE.',
            { actions: ['Add --out suppressions.csv'], exitCode: 2 }
        );
    const since = opts.since ?? null;
    const file = opts.out ? resolve(opts.out) : null;
    return withLedger(
        opts,
        async (ledger) => {
            const fill = async (write: (chunk: string) => void) =>
                exportSuppressions(ledger, { since, format }, write);
            const { items, next } = file
                ? await toFile(file, fill)
                : await fill((chunk) => process.stdout.write(chunk));
            if (!file) process.stderr.write(`Next cursor: ${next}\n`);
            return {
                status: 'ok',
                format,
                out: file,
                items,
                since,
                next,
                ledger: shownLedger(resolveLedger(opts.ledger))
            };
        },
        { mustExist: true }
    );
}

export const register: CommandModule = (program: Command) => {
    const exportCmd = program
        .command('export')
        .description(summaryOf('export'));
    addLedgerOption(
        exportCmd
            .command('suppressions')
            .description(
                'Write the suppression feed (unsubscribes added and removed) after a cursor, and print the next cursor (R15)'
            )
            .option(
                '--since <cursor>',
                'the cursor a previous export or GET /suppressions returned (default: from the beginning)'
            )
            .option('--format <format>', 'csv or jsonl', 'csv')
            .option('--out <file>', 'write to this file (default: stdout)')
    ).action(async (opts: ExportOptions, cmd: Command) =>
        // Not `execute`: without --out the items were the output, so no text follows them.
        runCommand(cmd, async (out) => {
            const result = await runExport(opts, out);
            out.result(
                result,
                result.out ? () => renderExport(result, out.columns) : undefined
            );
        })
    );
};
