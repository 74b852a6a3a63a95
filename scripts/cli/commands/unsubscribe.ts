/**
 * `optout unsubscribe --email E [--audience ID]` — records an unsubscribe in the
 * ledger: from every audience (global, R2) without --audience, else from that one (R5).
 * With --target-org it is pushed to Salesforce at once through the hook the sync
 * registers (`unsubscribeHooks.pushAfterUnsubscribe`); the record is committed first,
 * so a failed push leaves it pending for the next `optout sync push` (R11).
 */
import type { Command } from 'commander';
import { OptoutError, errorMessage } from '../../model/errors';
import type { Ledger, RecordUnsubscribeResult } from '../../ledger/ledger';
import type { JobResult } from '../../sync/result';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    parseAudienceOption,
    parseEmailOption,
    parseSourceOption,
    requireText,
    resolveLedgerPath,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderPairs } from '../table';

export interface PushAfterUnsubscribeContext {
    ledger: Ledger;
    ledgerPath: string;
    targetOrg: string;
    /** The unsubscribe just recorded (or already active and still undelivered). */
    unsubscribeId: number;
    out: Output;
}

/**
 * Pushes the unsubscribe to the org and returns the push run's result: under `push`
 * with --json, as a one-line summary otherwise.
 */
export type PushAfterUnsubscribe = (
    context: PushAfterUnsubscribeContext
) => Promise<JobResult>;

/** Filled by the sync part (scripts/sync) when it registers its commands. */
export const unsubscribeHooks: { pushAfterUnsubscribe?: PushAfterUnsubscribe } =
    {};

interface UnsubscribeOptions extends LedgerOptions {
    email: string;
    audience?: string;
    audienceName?: string;
    reason?: string;
    source?: string;
    salesforceId?: string;
    targetOrg?: string;
}

export interface UnsubscribeOutcome {
    status: 'recorded' | 'already';
    email: string;
    scope: 'all' | 'audience';
    audienceId: string | null;
    source: string;
    reason: string | null;
    unsubscribeId: number;
    collectedAt: string;
    deliveredAt: string | null;
    personCreated: boolean;
    audienceCreated: boolean;
    membershipChanged: boolean;
    ledger: string;
    push?: JobResult;
}

function outcome(
    r: RecordUnsubscribeResult,
    ledgerPath: string
): UnsubscribeOutcome {
    return {
        status: r.outcome,
        email: r.person.email,
        scope: r.unsubscribe.scope,
        audienceId: r.unsubscribe.audienceId,
        source: r.unsubscribe.source,
        reason: r.unsubscribe.reason,
        unsubscribeId: r.unsubscribe.id,
        collectedAt: r.unsubscribe.collectedAt,
        deliveredAt: r.unsubscribe.deliveredAt,
        personCreated: r.personCreated,
        audienceCreated: r.audienceCreated,
        membershipChanged: r.membershipChanged,
        ledger: ledgerPath
    };
}

function plural(n: number, one: string, many: string): string {
    return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Why a push left the unsubscribe undelivered, from its result. */
function pendingReason(r: JobResult): string {
    if (r.deferred) return `deferred: ${r.deferred.reason}`;
    if (r.status === 'skipped') return r.message ?? 'the push run was skipped';
    const skipped = Object.entries(r.skipped)
        .filter(([, n]) => n > 0)
        .map(([reason]) => reason.replace(/_/g, ' '));
    return skipped.length
        ? skipped.join(', ')
        : 'Salesforce did not confirm the write';
}

/**
 * One line on the push `--target-org` made for this unsubscribe: delivered or still
 * pending (and why), what it wrote, and the API requests it used.
 */
export function renderPushSummary(r: JobResult): string {
    const counts = [
        plural(r.recordsWritten, 'record written', 'records written'),
        ...(r.membershipsUpserted > 0
            ? [
                  plural(
                      r.membershipsUpserted,
                      'membership upserted',
                      'memberships upserted'
                  )
              ]
            : []),
        plural(r.apiRequests, 'API request', 'API requests')
    ].join(', ');
    return r.unsubscribesDelivered > 0
        ? `Push to ${r.targetOrg}: delivered (${counts}).`
        : `Push to ${r.targetOrg}: still pending (${pendingReason(r)}); it stays in the ledger for a later push (${counts}).`;
}

function human(o: UnsubscribeOutcome): string {
    const what =
        o.scope === 'all'
            ? 'from all email (global)'
            : `from audience ${o.audienceId}`;
    const head =
        o.status === 'recorded'
            ? `Recorded: ${o.email} unsubscribed ${what}.`
            : `Already recorded: ${o.email} was unsubscribed ${what} on ${o.collectedAt}; nothing changed.`;
    const delivery = o.push
        ? renderPushSummary(o.push)
        : o.deliveredAt
          ? `Delivered to Salesforce on ${o.deliveredAt}.`
          : 'Pending: the next push (optout sync push --target-org ORG) writes it to Salesforce.';
    return [
        head,
        renderPairs([
            ['Unsubscribe id', o.unsubscribeId],
            ['Source', o.source],
            ['Reason', o.reason],
            ['Collected at', o.collectedAt],
            ['Ledger', o.ledger]
        ]),
        delivery
    ]
        .filter(Boolean)
        .join('\n');
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('unsubscribe')
            .description(summaryOf('unsubscribe'))
            .requiredOption('--email <email>', 'the person’s email address')
            .option(
                '--audience <id>',
                'unsubscribe from this audience only (default: from all email)'
            )
            .option(
                '--audience-name <name>',
                'create the audience with this name if the ledger does not know it'
            )
            .option(
                '--reason <text>',
                'why (kept in the ledger and in Salesforce)'
            )
            .option(
                '--source <source>',
                'where it came from: platform, webhook, salesforce, flow, import',
                'platform'
            )
            .option(
                '--salesforce-id <id>',
                'the person’s Contact or Lead id (15 or 18 characters)'
            )
            .option(
                '--target-org <org>',
                'push it to this org at once (alias, username or "local")'
            )
    ).action(async (opts: UnsubscribeOptions, cmd: Command) =>
        runCommand(cmd, async (out) => {
            const email = parseEmailOption(opts.email);
            const audienceId =
                opts.audience === undefined
                    ? null
                    : parseAudienceOption(opts.audience);
            const source = parseSourceOption(opts.source, 'platform');
            if (opts.audienceName !== undefined && audienceId === null) {
                throw new OptoutError(
                    'BAD_ARGUMENT',
                    '--audience-name needs --audience.',
                    { exitCode: 2 }
                );
            }
            let targetOrg: string | undefined;
            if (opts.targetOrg !== undefined) {
                targetOrg = requireText(
                    opts.targetOrg,
                    '--target-org',
                    'Give an org alias, a username or "local"'
                );
                if (!unsubscribeHooks.pushAfterUnsubscribe) {
                    // Checked before anything is stored.
                    throw new OptoutError(
                        'PUSH_NOT_AVAILABLE',
                        'This build of optout cannot push to an org from the unsubscribe command.',
                        {
                            actions: [
                                'Run it without --target-org: the unsubscribe is kept and pending',
                                'Then deliver pending unsubscribes with the push job'
                            ]
                        }
                    );
                }
            }
            const ledgerPath = resolveLedgerPath(opts.ledger);
            return withLedger(opts, async (ledger) => {
                const recorded = ledger.recordUnsubscribe({
                    email,
                    salesforceId: opts.salesforceId,
                    scope: audienceId === null ? 'all' : 'audience',
                    audienceId,
                    audienceName: opts.audienceName,
                    source,
                    reason: opts.reason
                });
                const result = outcome(recorded, ledgerPath);
                const push = unsubscribeHooks.pushAfterUnsubscribe;
                if (
                    targetOrg !== undefined &&
                    push &&
                    result.deliveredAt === null
                ) {
                    try {
                        result.push = await push({
                            ledger,
                            ledgerPath,
                            targetOrg,
                            unsubscribeId: result.unsubscribeId,
                            out
                        });
                        // The push may have delivered it (R11): show the ledger's state now.
                        result.deliveredAt =
                            ledger.getUnsubscribe(result.unsubscribeId)
                                ?.deliveredAt ?? null;
                    } catch (err) {
                        const e = err instanceof OptoutError ? err : undefined;
                        throw new OptoutError(
                            e?.code ?? 'PUSH_FAILED',
                            `The unsubscribe is recorded in the ledger (id ${result.unsubscribeId}) but pushing it to ${targetOrg} failed: ${errorMessage(err)}`,
                            {
                                actions: [
                                    ...(e?.actions ?? []),
                                    `It stays pending; optout sync push --target-org ${targetOrg} delivers it`
                                ],
                                cause: err
                            }
                        );
                    }
                }
                out.result(result, () => human(result));
            });
        })
    );
};
