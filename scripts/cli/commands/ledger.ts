/**
 * `optout ledger copy --from LEDGER --to LEDGER` — moving house: copies a ledger (a
 * SQLite file or a PostgreSQL URL) into an empty one, every row with its ids, in one
 * transaction on the target, and checks the counts; the sync carries on where it was
 * once its processes point at the new location (see ledger/copy.ts for what is kept).
 *
 * Nothing is written to the target when the copy is refused or fails: a non-empty
 * target, the same ledger twice, an unreachable server, a row the target refuses. A
 * SQLite target file this command created is removed again when the copy fails.
 */
import { existsSync, realpathSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import { copyLedger, type CopyReport } from '../../ledger/copy';
import { Ledger } from '../../ledger/ledger';
import {
    describeLedgerLocation,
    parseLedgerLocation,
    type LedgerLocation
} from '../../ledger/location';
import { OptoutError } from '../../model/errors';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import { progressBars } from '../progress';
import { LEDGER_ENV, positiveInt } from '../options';
import { renderLedgerCopy } from '../render/ledger';

export interface LedgerCopyOptions {
    from: string;
    to: string;
    pageRows?: string;
}

/** The copy's report, with both locations as they may be shown (no password). */
export type LedgerCopyResult = CopyReport & { status: 'copied' };

/** Where a location is, for comparing two: a file's real path, a URL normalised. */
function identity(location: LedgerLocation): string {
    if (location.kind === 'postgres') {
        try {
            return `postgres:${new URL(location.url).toString()}`;
        } catch {
            return `postgres:${location.url}`;
        }
    }
    return `sqlite:${existsSync(location.path) ? realpathSync(location.path) : location.path}`;
}

/** The two locations, parsed and checked before anything is opened. */
export function copyLocations(opts: LedgerCopyOptions): {
    from: LedgerLocation;
    to: LedgerLocation;
} {
    const from = parseLedgerLocation(opts.from, { origin: '--from' });
    const to = parseLedgerLocation(opts.to, { origin: '--to' });
    if (identity(from) === identity(to))
        throw new OptoutError(
            'LEDGER_COPY_SAME',
            `--from and --to are the same ledger (${describeLedgerLocation(from)}). Nothing was written.`,
            {
                actions: [
                    'Give --to a new SQLite path or an empty PostgreSQL database'
                ],
                exitCode: 2
            }
        );
    if (from.kind === 'sqlite' && !existsSync(from.path))
        throw new OptoutError(
            'LEDGER_NOT_FOUND',
            `There is no ledger at ${from.path} to copy. Nothing was written.`,
            {
                actions: [
                    `Give --from the ledger file your commands use (${LEDGER_ENV} or --ledger)`
                ]
            }
        );
    return { from, to };
}

function openable(location: LedgerLocation): string {
    return location.kind === 'sqlite' ? location.path : location.url;
}

/** Removes a SQLite file (and its WAL) this command created for a copy that failed. */
function removeCreated(path: string): void {
    for (const suffix of ['', '-wal', '-shm'])
        rmSync(`${path}${suffix}`, { force: true });
}

export async function runLedgerCopy(
    opts: LedgerCopyOptions,
    out: Output
): Promise<LedgerCopyResult> {
    const { from, to } = copyLocations(opts);
    const pageRows = positiveInt('--page-rows', opts.pageRows, 1);
    const created = to.kind === 'sqlite' && !existsSync(to.path);
    const source = await Ledger.open(openable(from));
    let target: Ledger | undefined;
    const bars = progressBars(out);
    try {
        target = await Ledger.open(openable(to));
        const report = await copyLedger(source, target, {
            pageRows,
            onProgress: (p) => {
                bars?.({
                    phase: `Copying ${p.table}`,
                    done: p.copied,
                    total: p.total
                });
                if (p.copied >= p.total)
                    out.log('info', `${p.table}: ${p.copied} rows copied`);
            }
        });
        return {
            status: 'copied',
            ...report,
            from: describeLedgerLocation(from),
            to: describeLedgerLocation(to)
        };
    } catch (err) {
        await target?.close();
        target = undefined;
        if (created && to.kind === 'sqlite') removeCreated(to.path);
        throw err;
    } finally {
        bars?.stop();
        await target?.close();
        await source.close();
    }
}

export const register: CommandModule = (program: Command) => {
    const cmd = program.command('ledger').description(summaryOf('ledger'));
    cmd.command('copy')
        .description(
            'Copy a ledger into an empty one (SQLite file ↔ PostgreSQL), ids and cursors kept, in one transaction; the counts are checked. Stop serve and schedule first.'
        )
        .requiredOption(
            '--from <ledger>',
            'the ledger to copy: a SQLite file path or a postgres:// URL'
        )
        .requiredOption(
            '--to <ledger>',
            'the empty ledger to fill: a new SQLite file path or a postgres:// URL of an empty database or schema'
        )
        .option(
            '--page-rows <n>',
            'rows per INSERT (default 2000; fewer for wide tables)'
        )
        .action(async (opts: LedgerCopyOptions, sub: Command) =>
            execute(sub, {
                run: (out) => runLedgerCopy(opts, out),
                render: renderLedgerCopy
            })
        );
};
