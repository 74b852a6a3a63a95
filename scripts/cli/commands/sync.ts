/**
 * `optout sync push|hourly|nightly --target-org X` — runs one sync job (scripts/sync)
 * against an org and prints its JobResult (`--json`) or a summary. The nightly reads
 * what changed since its last successful run (R16) unless `--full` (or a full one is
 * due: see sync/nightly-mode.ts); `--full-every` and `--look-back` tune that. Exit status: 0 when
 * the run succeeded, was skipped or deferred (API budget, R12); 1 when a record failed
 * for good or the job could not run; 2 for bad arguments.
 *
 * Also wires `optout unsubscribe --target-org X` to push that unsubscribe at once.
 */
import { Argument, type Command } from 'commander';
import { openOrg, resolveBudgetShare } from '../../salesforce/open';
import { JobFailed, runJob } from '../../sync/run';
import {
    JOBS,
    exitCodeFor,
    type JobName,
    type JobResult
} from '../../sync/result';
import { summaryOf } from './index';
import { execute, type CommandModule, type CommandWork } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    parseTargetOrg,
    resolveLedger,
    withLedger,
    type LedgerOptions,
    parseBulkThreshold
} from '../options';
import { progressBars } from '../progress';
import { OptoutError } from '../../model/errors';
import {
    parseNightlyDuration,
    type NightlyOptions
} from '../../sync/nightly-mode';
import { renderJobResult } from '../render/sync';

/** The `--json` result of `optout sync`: the run's JobResult as the jobs return it. */
export type SyncResult = JobResult;

export interface SyncOptions extends LedgerOptions {
    targetOrg: string;
    dryRun?: boolean;
    apiBudgetShare?: string;
    bulkThreshold?: string;
    /** nightly: every Contact and Lead, not only what changed (R16). */
    full?: boolean;
    /** nightly: a full run when the last full one is older than this. */
    fullEvery?: string;
    /** nightly: how far before the last success changed records are read. */
    lookBack?: string;
}

/** The nightly's options from the command's; a usage error for another job. */
export function nightlyOptionsOf(
    job: JobName,
    opts: Pick<SyncOptions, 'full' | 'fullEvery' | 'lookBack'>
): NightlyOptions | undefined {
    const given = (
        [
            ['--full', opts.full === true],
            ['--full-every', opts.fullEvery !== undefined],
            ['--look-back', opts.lookBack !== undefined]
        ] as const
    ).filter(([, on]) => on);
    if (job !== 'nightly') {
        if (given.length)
            throw new OptoutError(
                'BAD_ARGUMENT',
                `${given.map(([name]) => name).join(', ')} applies to the nightly job only, not ${job}.`,
                { exitCode: 2 }
            );
        return undefined;
    }
    return {
        ...(opts.full ? { full: true } : {}),
        ...(opts.fullEvery !== undefined
            ? {
                  fullEveryMs: parseNightlyDuration(
                      opts.fullEvery,
                      '--full-every',
                      'interval'
                  )
              }
            : {}),
        ...(opts.lookBack !== undefined
            ? {
                  lookbackMs: parseNightlyDuration(
                      opts.lookBack,
                      '--look-back',
                      'lookback'
                  )
              }
            : {})
    };
}

/** Opens the org and the ledger, runs the job, closes both. */
export async function runSync(
    job: JobName,
    opts: SyncOptions,
    out: Output
): Promise<SyncResult> {
    const targetOrg = parseTargetOrg(opts.targetOrg);
    const apiBudgetShare = resolveBudgetShare(opts.apiBudgetShare);
    const bulkThreshold = parseBulkThreshold(opts.bulkThreshold);
    const nightly = nightlyOptionsOf(job, opts);
    // The ledger opens first: a bad location or an unreachable server stops the
    // command before the org is opened (a local org is a folder it would create).
    return withLedger(
        { ledger: resolveLedger(opts.ledger) },
        async (opened) => {
            const org = await openOrg(targetOrg, {
                ...(apiBudgetShare !== undefined ? { apiBudgetShare } : {}),
                ...(bulkThreshold !== undefined ? { bulkThreshold } : {}),
                log: (level, message) => out.log(level, message)
            });
            const progress = progressBars(out);
            try {
                return await runJob(job, {
                    ledger: opened,
                    org,
                    dryRun: opts.dryRun === true,
                    onProgress: progress,
                    ...(nightly ? { nightly } : {})
                });
            } finally {
                progress?.stop();
                await org.close();
            }
        }
    );
}

/**
 * The command's work. A job that failed after it started has a result too (status
 * failed, the error): with --json that result is the output, with the error's exit
 * code; as text the error is reported as any other.
 */
export function syncWork(
    job: JobName,
    opts: SyncOptions
): CommandWork<SyncResult> {
    let failedExitCode: number | undefined;
    return {
        run: async (out) => {
            try {
                return await runSync(job, opts, out);
            } catch (err) {
                if (!(err instanceof JobFailed && out.json)) throw err;
                failedExitCode = err.exitCode;
                return err.result;
            }
        },
        render: renderJobResult,
        exitCode: (r) => failedExitCode ?? exitCodeFor(r)
    };
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('sync')
            .description(summaryOf('sync'))
            .addArgument(
                new Argument('<job>', 'push, hourly or nightly').choices(JOBS)
            )
            .requiredOption(
                '--target-org <org>',
                'org alias or username known to the sf CLI, or "local"'
            )
            .option('--dry-run', 'report what would be written; write nothing')
            .option(
                '--api-budget-share <share>',
                'stop before this share of the org’s daily API requests is used (default 0.8, or $OPTOUT_API_BUDGET_SHARE)'
            )
            .option(
                '--bulk-threshold <records>',
                'write through Bulk API 2.0 above this many records (default 5000)'
            )
            .option(
                '--full',
                'nightly: reconcile every Contact and Lead, not only what changed since the last successful run'
            )
            .option(
                '--full-every <duration>',
                'nightly: run a full reconciliation when the last one is older than this, e.g. 7d or 36h, or off (default 7d, or $OPTOUT_NIGHTLY_FULL_EVERY)'
            )
            .option(
                '--look-back <duration>',
                'nightly: read records changed this long before the last successful run too, e.g. 10m (default 10m, or $OPTOUT_NIGHTLY_LOOKBACK)'
            )
    ).action(async (job: JobName, opts: SyncOptions, cmd: Command) =>
        execute(cmd, syncWork(job, opts))
    );
};
