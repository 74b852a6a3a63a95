/**
 * `optout history --email E` — what the ledger knows about one email and its audit
 * trail by time (R10): unsubscribes and their delivery, membership changes, field
 * writes with push latency, resubscribes, and writes Salesforce refused with the
 * attempts, the reason and what to do (R14). Text in render/history.ts.
 */
import type { Command } from 'commander';
import { OptoutError } from '../../model/errors';
import { normalizeEmail } from '../../model/statuses';
import type { HistoryReport } from '../../ledger/ledger';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import {
    addLedgerOption,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderHistory } from '../render/history';

export interface HistoryOptions extends LedgerOptions {
    email: string;
}

export type HistoryResult = HistoryReport & { ledger: string };

/** The trail of `opts.email` in the ledger of `opts` (which must exist). */
export async function runHistory(opts: HistoryOptions): Promise<HistoryResult> {
    if (normalizeEmail(opts.email) === '')
        throw new OptoutError('BAD_ARGUMENT', '--email must not be empty.', {
            exitCode: 2
        });
    return withLedger(
        opts,
        async (ledger) => ({
            ...(await ledger.history(opts.email)),
            ledger: shownLedger(resolveLedger(opts.ledger))
        }),
        { mustExist: true }
    );
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('history')
            .description(summaryOf('history'))
            .requiredOption('--email <email>', 'the email address (any case)')
    ).action(async (opts: HistoryOptions, cmd: Command) =>
        execute(cmd, { run: () => runHistory(opts), render: renderHistory })
    );
};
