/**
 * `optout sync push|hourly|nightly --target-org X` — runs one sync job (scripts/sync)
 * against an org and prints its JobResult (`--json`) or a summary. Exit status: 0 when
 * the run succeeded, was skipped or deferred (API budget, R12); 1 when a record failed
 * for good or the job could not run; 2 for bad arguments.
 *
 * Also wires `optout unsubscribe --target-org X` to push that unsubscribe at once.
 */
import { Argument, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { OptoutError } from '../../model/errors';
import type { Ledger } from '../../ledger/ledger';
import { openOrg, resolveBudgetShare } from '../../salesforce/open';
import { JobFailed, runJob } from '../../sync/run';
import {
    JOBS,
    exitCodeFor,
    type JobName,
    type JobResult
} from '../../sync/result';
import type { Progress } from '../../sync/records';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    requireText,
    withLedger,
    type LedgerOptions,
    parseBulkThreshold
} from '../options';
import { renderPairs, renderTable } from '../table';
import { unsubscribeHooks, type PushAfterUnsubscribe } from './unsubscribe';

interface SyncOptions extends LedgerOptions {
    targetOrg: string;
    dryRun?: boolean;
    apiBudgetShare?: string;
    bulkThreshold?: string;
}

export function targetOrgOption(raw: string | undefined): string {
    return requireText(
        raw,
        '--target-org',
        'Give an org alias, a username known to the sf CLI, or "local"'
    );
}

/** Progress bars on stderr, one per phase; undefined when not at a terminal. */
export function progressBars(
    out: Output
): (Progress & { stop(): void }) | undefined {
    if (!out.showProgress) return undefined;
    let bar: SingleBar | undefined;
    let phase = '';
    const report = ((e) => {
        if (e.phase !== phase || !bar) {
            bar?.stop();
            phase = e.phase;
            bar = new SingleBar({
                format:
                    e.total !== undefined
                        ? `${phase.padEnd(28)} [{bar}] {value}/{total}`
                        : `${phase.padEnd(28)} {value} records`,
                hideCursor: true,
                clearOnComplete: false,
                stream: process.stderr
            });
            bar.start(e.total ?? 0, e.done);
            return;
        }
        if (e.total !== undefined) bar.setTotal(e.total);
        bar.update(e.done);
    }) as Progress & { stop(): void };
    report.stop = () => {
        bar?.stop();
        bar = undefined;
    };
    return report;
}

function count(n: number): string {
    return n.toLocaleString('en-US');
}

/** The human summary of a run. */
export function renderJobResult(r: JobResult): string {
    const title = `${r.job} → ${r.targetOrg}: ${r.status}${r.dryRun ? ' (dry run: nothing was written)' : ''} in ${(r.durationMs / 1000).toFixed(1)} s`;
    const skipped = Object.entries(r.skipped)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k.replace(/_/g, ' ')} ${count(n)}`)
        .join(', ');
    const pairs: [string, string | number][] = [
        ['Run', r.runId],
        ['Records written', count(r.recordsWritten)],
        ['Memberships upserted', count(r.membershipsUpserted)],
        ['Ledger unsubscribes added', count(r.ledgerUnsubscribesAdded)],
        ['Unsubscribes delivered', count(r.unsubscribesDelivered)],
        ['Skipped', skipped || 'none'],
        ['Failed records', count(r.failed.length)],
        ...(r.stuck && r.stuck.retrying + r.stuck.deadLetters > 0
            ? ([
                  [
                      'Stuck in the ledger',
                      `${count(r.stuck.retrying)} retrying, ${count(r.stuck.deadLetters)} dead letter(s) — optout status says why and what to do`
                  ]
              ] as [string, string][])
            : []),
        [
            'Retried',
            `${count(r.retried.requests)} request(s), ${count(r.retried.records)} record(s)`
        ],
        [
            'API requests',
            `${count(r.apiRequests)}${r.apiUsage ? ` (org usage ${count(r.apiUsage.used)} of ${count(r.apiUsage.max)} today)` : ''}`
        ]
    ];
    if (r.settings)
        pairs.push([
            'Settings',
            `${r.settings.source === 'defaults' ? 'defaults (no org record)' : 'org default'}; writes ${r.settings.fieldWritten}; nightly ${r.settings.nightlySyncEnabled ? 'on' : 'off'}; same email ${r.settings.applyToSameEmail ? 'on' : 'off'}; all-audiences rule ${r.settings.allAudiencesRule ? 'on' : 'off'}`
        ]);
    if (r.modes)
        pairs.push([
            'Modes',
            Object.entries(r.modes)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', ')
        ]);
    const parts = [title, renderPairs(pairs)];
    if (r.message) parts.push(r.message);
    if (r.deferred)
        parts.push(
            `Deferred: ${count(r.deferred.count)} item(s) left for the next run. ${r.deferred.reason}`
        );
    if (r.plan) {
        parts.push(
            renderPairs([
                ['Would write opt-out fields', count(r.plan.fieldWrites)],
                ['Would upsert memberships', count(r.plan.membershipUpserts)],
                [
                    'Would add ledger unsubscribes',
                    count(r.plan.ledgerUnsubscribes)
                ],
                ['Would clear pending flags', count(r.plan.pendingCleared)],
                ['Would mark delivered', count(r.plan.deliveries)]
            ])
        );
        if (r.plan.sample.length)
            parts.push(
                `Sample:\n${r.plan.sample
                    .slice(0, 10)
                    .map((s) => `  ${JSON.stringify(s)}`)
                    .join('\n')}`
            );
    }
    if (r.failed.length) {
        const shown = r.failed.slice(0, 20);
        parts.push(
            renderTable(
                ['Record', 'Object', 'Field', 'Error', 'Message', 'Email'],
                shown.map((f) => [
                    f.recordId,
                    f.object,
                    f.field,
                    f.errorCode,
                    f.message.slice(0, 80),
                    f.email
                ])
            )
        );
        if (r.failed.length > shown.length)
            parts.push(
                `… and ${count(r.failed.length - shown.length)} more (see --json).`
            );
    }
    return parts.join('\n');
}

/** Opens the org and the ledger, runs the job, closes both. */
async function runSync(
    job: JobName,
    opts: SyncOptions,
    out: Output
): Promise<number> {
    const targetOrg = targetOrgOption(opts.targetOrg);
    const apiBudgetShare = resolveBudgetShare(opts.apiBudgetShare);
    const bulkThreshold = parseBulkThreshold(opts.bulkThreshold);
    const org = await openOrg(targetOrg, {
        ...(apiBudgetShare !== undefined ? { apiBudgetShare } : {}),
        ...(bulkThreshold !== undefined ? { bulkThreshold } : {}),
        log: (level, message) => out.log(level, message)
    });
    const progress = progressBars(out);
    try {
        return await withLedger(opts, async (ledger) => {
            let result: JobResult;
            try {
                result = await runJob(job, {
                    ledger,
                    org,
                    dryRun: opts.dryRun === true,
                    onProgress: progress
                });
            } catch (err) {
                progress?.stop();
                // With --json the run's result (status failed, error) is the output.
                if (err instanceof JobFailed && out.json) {
                    out.result(err.result);
                    return err.exitCode;
                }
                throw err;
            }
            progress?.stop();
            out.result(result, () => renderJobResult(result));
            return exitCodeFor(result);
        });
    } finally {
        await org.close();
    }
}

/** The unsubscribe command's hook: push that one unsubscribe now. */
export const pushAfterUnsubscribe: PushAfterUnsubscribe = async ({
    ledger,
    targetOrg,
    unsubscribeId,
    out
}) => {
    const org = await openOrg(targetOrg, {
        log: (level, message) => out.log(level, message)
    });
    try {
        const result = await pushOne(ledger, org, unsubscribeId);
        return result;
    } finally {
        await org.close();
    }
};

async function pushOne(
    ledger: Ledger,
    org: Awaited<ReturnType<typeof openOrg>>,
    unsubscribeId: number
): Promise<JobResult> {
    const result = await runJob('push', {
        ledger,
        org,
        unsubscribeIds: [unsubscribeId]
    });
    if (result.failed.length)
        throw new OptoutError(
            'PUSH_FAILED',
            `Salesforce refused ${result.failed.length} record(s): ${result.failed
                .slice(0, 3)
                .map(
                    (f) =>
                        `${f.object} ${f.recordId ?? ''} ${f.errorCode}: ${f.message}`
                )
                .join('; ')}`
        );
    return result;
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
                'write through Bulk API 2.0 above this many records (default 2000)'
            )
    ).action(async (job: JobName, opts: SyncOptions, cmd: Command) =>
        runCommand(cmd, (out) => runSync(job, opts, out))
    );
    // `optout unsubscribe --target-org X` pushes at once (unless a test set its own hook).
    unsubscribeHooks.pushAfterUnsubscribe ??= pushAfterUnsubscribe;
};
