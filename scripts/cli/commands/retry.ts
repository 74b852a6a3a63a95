/**
 * `optout retry (--all | --email E | --reason CODE)` — after an admin fixed why
 * Salesforce refused some records (a validation rule, a trigger, sharing…), puts the
 * stuck unsubscribes and memberships back (R14): dead letters and refused records
 * still waiting for their back-off alike get their failure count reset and are due
 * now, so the next push (unsubscribes) or hourly run (memberships) sends them again.
 * Audited (`retry_requested`). Never touches Salesforce itself; bad input changes
 * nothing. Text in render/retry.ts.
 */
import type { Command } from 'commander';
import type { StuckFilter } from '../../ledger/ledger';
import type { StuckRecord } from '../../ledger/types';
import { OptoutError } from '../../model/errors';
import {
    STUCK_REASONS,
    STUCK_REASON_CATALOGUE,
    parseRetryReason,
    stuckReasonOf,
    type StuckReason
} from '../../model/stuck';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import {
    addLedgerOption,
    parseEmailOption,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderRetry } from '../render/retry';

export interface RetryOptions extends LedgerOptions {
    all?: boolean;
    email?: string;
    reason?: string;
}

/** Every status code the catalogue names (the `other` reason is everything else). */
const CATALOGUE_CODES = STUCK_REASONS.flatMap((r) => [
    ...STUCK_REASON_CATALOGUE[r].codes
]);

/** The options as a ledger filter; throws (and nothing changes) on bad input. */
export function retryFilter(opts: RetryOptions): StuckFilter {
    const filtered = opts.email !== undefined || opts.reason !== undefined;
    if (opts.all && filtered)
        throw new OptoutError(
            'BAD_ARGUMENT',
            '--all puts back every stuck record: leave out --email and --reason, or leave out --all.',
            { exitCode: 2 }
        );
    if (!opts.all && !filtered)
        throw new OptoutError(
            'BAD_ARGUMENT',
            'Say which stuck records to put back: --all, --email EMAIL or --reason CODE (nothing was changed).',
            {
                actions: [
                    'See the stuck records and their reasons: optout status'
                ],
                exitCode: 2
            }
        );
    const filter: StuckFilter = {};
    if (opts.email !== undefined) filter.email = parseEmailOption(opts.email);
    if (opts.reason !== undefined) {
        const parsed = parseRetryReason(opts.reason);
        if (!parsed.ok)
            throw new OptoutError('BAD_ARGUMENT', `${parsed.reason}.`, {
                exitCode: 2
            });
        if (parsed.codes) filter.codes = parsed.codes;
        else filter.excludeCodes = CATALOGUE_CODES;
    }
    return filter;
}

/** A stuck record put back, with its catalogue reason. */
export type RetriedRecord = StuckRecord & { reason: StuckReason };

export interface RetryResult {
    /** retried: records were put back; nothing_to_retry: none matched. */
    status: 'retried' | 'nothing_to_retry';
    putBack: number;
    deadLetters: number;
    retrying: number;
    unsubscribes: number;
    memberships: number;
    filter: { all: boolean; email: string | null; reason: string | null };
    records: RetriedRecord[];
    ledger: string;
}

/** The counts of the records put back, by state and by kind. */
export function retryCounts(
    records: readonly StuckRecord[]
): Pick<
    RetryResult,
    'putBack' | 'deadLetters' | 'retrying' | 'unsubscribes' | 'memberships'
> {
    const count = (pred: (r: StuckRecord) => boolean): number =>
        records.filter(pred).length;
    return {
        putBack: records.length,
        deadLetters: count((r) => r.state === 'dead_letter'),
        retrying: count((r) => r.state === 'retrying'),
        unsubscribes: count((r) => r.kind === 'unsubscribe'),
        memberships: count((r) => r.kind === 'membership')
    };
}

/** Puts back the stuck records `opts` selects; an unknown email changes nothing. */
export async function runRetry(opts: RetryOptions): Promise<RetryResult> {
    const filter = retryFilter(opts);
    return withLedger(
        opts,
        async (ledger) => {
            if (
                filter.email !== undefined &&
                !(await ledger.findPerson(filter.email))
            )
                throw new OptoutError(
                    'UNKNOWN_EMAIL',
                    `No person with email '${filter.email}' in the ledger; nothing was changed.`,
                    {
                        actions: [
                            'Check the spelling',
                            'See the stuck records: optout status'
                        ]
                    }
                );
            const records = await ledger.retryStuck(filter);
            return {
                status: records.length ? 'retried' : 'nothing_to_retry',
                ...retryCounts(records),
                filter: {
                    all: opts.all === true,
                    email: filter.email ?? null,
                    reason: opts.reason ?? null
                },
                records: records.map((r) => ({
                    ...r,
                    reason: stuckReasonOf(r.errorCode)
                })),
                ledger: shownLedger(resolveLedger(opts.ledger))
            };
        },
        { mustExist: true }
    );
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('retry')
            .description(summaryOf('retry'))
            .option('--all', 'every stuck record')
            .option('--email <email>', 'the stuck records of this person')
            .option(
                '--reason <code>',
                `a Salesforce status code (e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION) or a reason: ${STUCK_REASONS.join(', ')}`
            )
    ).action(async (opts: RetryOptions, cmd: Command) =>
        execute(cmd, { run: () => runRetry(opts), render: renderRetry })
    );
};
