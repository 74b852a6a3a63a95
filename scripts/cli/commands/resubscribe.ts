/**
 * `optout resubscribe --email E --reason TEXT [--audience ID]` — the deliberate,
 * audited removal of an unsubscribe on the ledger side (R4). It never touches
 * Salesforce: an opt-out field checked there stays checked until an admin unchecks it.
 */
import type { Command } from 'commander';
import type { UnsubscribeRecord } from '../../ledger/types';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import {
    addLedgerOption,
    parseAudienceOption,
    parseEmailOption,
    requireText,
    resolveLedgerPath,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderTable } from '../table';

interface ResubscribeOptions extends LedgerOptions {
    email: string;
    reason: string;
    audience?: string;
}

function notes(
    scope: 'all' | 'audience',
    removed: UnsubscribeRecord[]
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
        runCommand(cmd, async (out) => {
            const email = parseEmailOption(opts.email);
            const reason = requireText(
                opts.reason,
                '--reason',
                'Say why, e.g. --reason "unsubscribed by mistake, confirmed by phone"'
            );
            const audienceId =
                opts.audience === undefined
                    ? null
                    : parseAudienceOption(opts.audience);
            const ledgerPath = resolveLedgerPath(opts.ledger);
            return withLedger(
                opts,
                (ledger) => {
                    const r = ledger.resubscribe({ email, audienceId, reason });
                    const scope = audienceId === null ? 'all' : 'audience';
                    const result = {
                        status: r.removed.length ? 'removed' : 'nothing_active',
                        email: r.person.email,
                        scope,
                        audienceId,
                        reason,
                        removed: r.removed,
                        membership: r.membership,
                        notes: notes(scope, r.removed),
                        ledger: ledgerPath
                    };
                    out.result(result, () => {
                        const what =
                            audienceId === null
                                ? 'global unsubscribe'
                                : `unsubscribe from audience ${audienceId}`;
                        if (r.removed.length === 0)
                            return `Nothing to remove: ${r.person.email} has no active ${what}.`;
                        return [
                            `Removed the ${what} of ${r.person.email} (reason recorded: ${reason}).`,
                            renderTable(
                                [
                                    'Id',
                                    'Scope',
                                    'Audience',
                                    'Source',
                                    'Collected',
                                    'Delivered'
                                ],
                                r.removed.map((u) => [
                                    u.id,
                                    u.scope,
                                    u.audienceId,
                                    u.source,
                                    u.collectedAt,
                                    u.deliveredAt ?? 'not yet'
                                ])
                            ),
                            ...result.notes
                        ].join('\n');
                    });
                },
                { mustExist: true }
            );
        })
    );
};
