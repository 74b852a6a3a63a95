/**
 * `optout unsubscribe --email E [--audience ID]` — records an unsubscribe in the
 * ledger: from every audience (global, R2) without --audience, else from that one (R5).
 * With --target-org it is pushed to Salesforce at once (`pushToOrg`: the push service's
 * `pushNow` for that one unsubscribe); the record is committed first, so a failed push leaves it
 * pending for the next `optout sync push` (R11). Text in render/unsubscribe.ts.
 */
import type { Command } from 'commander';
import { OptoutError, errorMessage } from '../../model/errors';
import type { Ledger, RecordUnsubscribeResult } from '../../ledger/ledger';
import type { LedgerSource } from '../../model/statuses';
import type { JobResult } from '../../sync/result';
import type { LogLevel } from '../../model/log';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    parseAudienceOption,
    parseEmailOption,
    parseSourceOption,
    requireText,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderUnsubscribe } from '../render/unsubscribe';

export interface PushAfterUnsubscribeContext {
    ledger: Ledger;
    ledgerPath: string;
    targetOrg: string;
    /** The unsubscribe just recorded (or already active and still undelivered). */
    unsubscribeId: number;
    out: Output;
}

/** Pushes the unsubscribe to the org and returns the push run's result. */
export type PushAfterUnsubscribe = (
    context: PushAfterUnsubscribeContext
) => Promise<JobResult>;

/** A replacement for `pushToOrg`, for tests that stand in for an org; unset, `pushToOrg` pushes. */
export const unsubscribeHooks: { pushAfterUnsubscribe?: PushAfterUnsubscribe } =
    {};

/**
 * This one unsubscribe through the push service (sync/push-service.ts, the push path the
 * webhook and the scheduler share). The org and the sync are loaded only here, so an
 * unsubscribe without --target-org does not pay for them. Records Salesforce refused
 * make it fail: the unsubscribe stays pending.
 */
export const pushToOrg: PushAfterUnsubscribe = async ({
    ledger,
    targetOrg,
    unsubscribeId,
    out
}) => {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded only for a push */
    const { openOrg } =
        require('../../salesforce/open') as typeof import('../../salesforce/open');
    const { ledgerPushService } =
        require('../../sync/push-service') as typeof import('../../sync/push-service');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const log = (level: LogLevel, message: string): void =>
        out.log(level, message);
    const org = await openOrg(targetOrg, { log });
    try {
        const service = ledgerPushService({ ledger, org, log });
        const result = await service.pushNow([unsubscribeId]);
        await service.close({ flush: false });
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
    } finally {
        await org.close();
    }
};

export interface UnsubscribeOptions extends LedgerOptions {
    email: string;
    audience?: string;
    audienceName?: string;
    reason?: string;
    source?: string;
    salesforceId?: string;
    targetOrg?: string;
}

export interface UnsubscribeResult {
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
): UnsubscribeResult {
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
        ledger: shownLedger(ledgerPath)
    };
}

/** What to record, from the options; throws on bad input before anything is stored. */
export interface UnsubscribeRequest {
    email: string;
    audienceId: string | null;
    source: LedgerSource;
    targetOrg?: string;
}

export function unsubscribeRequest(
    opts: UnsubscribeOptions
): UnsubscribeRequest {
    const email = parseEmailOption(opts.email);
    const audienceId =
        opts.audience === undefined ? null : parseAudienceOption(opts.audience);
    const source = parseSourceOption(opts.source, 'platform');
    if (opts.audienceName !== undefined && audienceId === null)
        throw new OptoutError(
            'BAD_ARGUMENT',
            '--audience-name needs --audience.',
            {
                exitCode: 2
            }
        );
    const targetOrg =
        opts.targetOrg === undefined
            ? undefined
            : requireText(
                  opts.targetOrg,
                  '--target-org',
                  'Give an org alias, a username or "local"'
              );
    return { email, audienceId, source, targetOrg };
}

/**
 * Pushes the recorded unsubscribe to `targetOrg` and returns the result with the
 * ledger's delivery state after the push (R11). A failed push is an error that says
 * the unsubscribe is kept and how to deliver it.
 */
async function pushNow(
    ledger: Ledger,
    result: UnsubscribeResult,
    targetOrg: string,
    out: Output
): Promise<UnsubscribeResult> {
    const push = unsubscribeHooks.pushAfterUnsubscribe ?? pushToOrg;
    try {
        const pushed = await push({
            ledger,
            ledgerPath: result.ledger,
            targetOrg,
            unsubscribeId: result.unsubscribeId,
            out
        });
        return {
            ...result,
            deliveredAt:
                (await ledger.getUnsubscribe(result.unsubscribeId))
                    ?.deliveredAt ?? null,
            push: pushed
        };
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

/** Records the unsubscribe of `opts`, then pushes it with --target-org when still undelivered. */
export async function runUnsubscribe(
    opts: UnsubscribeOptions,
    out: Output
): Promise<UnsubscribeResult> {
    const req = unsubscribeRequest(opts);
    const ledgerPath = resolveLedger(opts.ledger);
    return withLedger(opts, async (ledger) => {
        const recorded = await ledger.recordUnsubscribe({
            email: req.email,
            salesforceId: opts.salesforceId,
            scope: req.audienceId === null ? 'all' : 'audience',
            audienceId: req.audienceId,
            audienceName: opts.audienceName,
            source: req.source,
            reason: opts.reason
        });
        const result = outcome(recorded, ledgerPath);
        return req.targetOrg !== undefined && result.deliveredAt === null
            ? pushNow(ledger, result, req.targetOrg, out)
            : result;
    });
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
        execute(cmd, {
            run: (out) => runUnsubscribe(opts, out),
            render: renderUnsubscribe
        })
    );
};
