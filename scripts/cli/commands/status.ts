/**
 * `optout status` — the ledger at a glance: counts, unsubscribes waiting to reach
 * Salesforce and the age of the oldest, records Salesforce refused grouped by reason
 * with what to do (R14), the last run of each job with its API usage, and the outbound
 * notifications (R15). Text in render/status.ts.
 */
import type { Command } from 'commander';
import type { LedgerStatus } from '../../ledger/ledger';
import { notifyStatus, type NotifyUrlStatus } from '../../webhook/notify';
import { execute, type CommandModule } from '../command';
import { addLedgerOption, withLedger, type LedgerOptions } from '../options';
import { renderStatus } from '../render/status';
import { summaryOf } from './index';

export type StatusResult = LedgerStatus & {
    notifications: NotifyUrlStatus[];
};

/** Reads the status of the ledger of `opts` (which must exist). */
export async function status(opts: LedgerOptions): Promise<StatusResult> {
    return withLedger(
        opts,
        async (ledger) => ({
            ...(await ledger.status()),
            notifications: await notifyStatus(ledger)
        }),
        { mustExist: true }
    );
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program.command('status').description(summaryOf('status'))
    ).action(async (opts: LedgerOptions, cmd: Command) =>
        execute(cmd, { run: () => status(opts), render: renderStatus })
    );
};
