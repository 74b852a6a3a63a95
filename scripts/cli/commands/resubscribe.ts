/**
 * `optout resubscribe --email E --reason TEXT [--audience ID]` — the deliberate,
 * audited removal of an unsubscribe on the ledger side (R4). It never touches
 * Salesforce: an opt-out field checked there stays checked until an admin unchecks it.
 * Text in render/resubscribe.ts.
 */
import type { Command } from 'commander';
import type { ResubscribeResult as LedgerResubscribe } from '../../ledger/ledger';
import type { UnsubscribeRecord } from '../../ledger/types';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import {
    addLedgerOption,
    parseAudienceOption,
    parseEmailOption,
    requireText,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderResubscribe } from '../render/resubscribe';

export interface ResubscribeOptions extends LedgerOptions {
    email: string;
    reason: string;
    audience?: string;
}

export interface ResubscribeResult {
    /** removed: an active unsubscribe was lifted; nothing_active: there was none. */
    status: 'removed' | 'nothing_active';
    email: string;
    scope: 'all' | 'audience';
    audienceId: string | null;
    reason: string;
    removed: UnsubscribeRecord[];
    membership: LedgerResubscribe['membership'];
    /** What happens next in Salesforce and in the syncs. */
    notes: string[];
    ledger: string;
}

/** What happens next, for the scope lifted (nothing when nothing was removed). */
export function resubscribeNotes(
    scope: 'all' | 'audience',
    removed: readonly UnsubscribeRecord[]
): string[] {
    if (removed.length === 0) return [];
    if (scope === 'all') {
        const delivered = removed.some((u) => u.deliveredAt !== null);
        return [
            delivered
                ? 'Salesforce still has the opt-out field checked: an admin must uncheck it there, otherwise the nightly sync (R3b) records the unsubscribe again.'
                : 'It had not reached Salesforce yet: nothing will be pushed now.'
        ];
    }
    return [
        'The membership is Subscribed again; the hourly sync updates Audience_Membership__c.'
    ];
}

/** Lifts the active unsubscribe of `opts` (global, or from one audience) with its reason. */
export async function runResubscribe(
    opts: ResubscribeOptions
): Promise<ResubscribeResult> {
    const email = parseEmailOption(opts.email);
    const reason = requireText(
        opts.reason,
        '--reason',
        'Say why, e.g. --reason "unsubscribed by mistake, confirmed by phone"'
    );
    const audienceId =
        opts.audience === undefined ? null : parseAudienceOption(opts.audience);
    const scope = audienceId === null ? 'all' : 'audience';
    return withLedger(
        opts,
        async (ledger) => {
            const r = await ledger.resubscribe({ email, audienceId, reason });
            return {
                status: r.removed.length ? 'removed' : 'nothing_active',
                email: r.person.email,
                scope,
                audienceId,
                reason,
                removed: r.removed,
                membership: r.membership,
                notes: resubscribeNotes(scope, r.removed),
                ledger: shownLedger(resolveLedger(opts.ledger))
            };
        },
        { mustExist: true }
    );
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('resubscribe')
            .description(summaryOf('resubscribe'))
            .requiredOption('--email <email>', 'the person’s email address')
            .requiredOption(
                '--reason <text>',
                'why this person may be emailed again (audited)'
            )
            .option(
                '--audience <id>',
                'lift the unsubscribe from this audience (default: the global one)'
            )
    ).action(async (opts: ResubscribeOptions, cmd: Command) =>
        execute(cmd, {
            run: () => runResubscribe(opts),
            render: renderResubscribe
        })
    );
};
