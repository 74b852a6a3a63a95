/**
 * `optout mailchimp pull | push` — the Mailchimp connector (R15).
 * pull: audiences and members changed since the last pull into the ledger; push: every
 * ledger unsubscribe a Mailchimp audience has not got, as "unsubscribed" (never
 * subscribes anyone). Configured by MAILCHIMP_API_KEY (and MAILCHIMP_API_URL); a
 * missing key, a bad key or an unknown --audience is a usage error (exit 2) before
 * anything is sent or written. A push that left some unsubscribes for the next run
 * (Mailchimp kept failing) exits 3, like a partial sync.
 */
import type { Command } from 'commander';
import type { Ledger } from '../../ledger/ledger';
import { OptoutError } from '../../model/errors';
import { MailchimpApiError, MailchimpClient } from '../../mailchimp/client';
import { mailchimpConfig } from '../../mailchimp/config';
import { chosenLists } from '../../mailchimp/lists';
import { PULL_JOB, pullMailchimp, type PullResult } from '../../mailchimp/pull';
import { PUSH_JOB, pushMailchimp, type PushResult } from '../../mailchimp/push';
import { runCommand, type CommandModule } from '../command';
import {
    addLedgerOption,
    parseAudienceOption,
    resolveLedgerPath,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderTable } from '../table';

interface ConnectorOptions extends LedgerOptions {
    audience?: string[];
}

function collect(value: string, previous: string[] = []): string[] {
    return [...previous, value];
}

/** Mailchimp's own title and detail, with what to do. */
function apiError(err: unknown): unknown {
    if (!(err instanceof MailchimpApiError)) return err;
    const auth = err.status === 401 || err.status === 403;
    return new OptoutError(
        auth ? 'MAILCHIMP_REFUSED' : 'MAILCHIMP_ERROR',
        `Mailchimp: ${err.message}`,
        {
            actions: auth
                ? [
                      'Check MAILCHIMP_API_KEY (Mailchimp: Profile → Extras → API keys) and its data centre suffix'
                  ]
                : [
                      'Run the command again: what was done is recorded and is not repeated'
                  ],
            cause: err
        }
    );
}

/** Runs one connector job as a ledger run (shown by `optout status`). */
async function asRun<T extends { requests: number }>(
    ledger: Ledger,
    job: string,
    work: (runId: string) => Promise<T>,
    partial: (r: T) => boolean
): Promise<T> {
    const run = ledger.startRun({ job });
    try {
        const result = await work(run.id);
        ledger.finishRun(run.id, {
            status: partial(result) ? 'partial' : 'succeeded',
            result
        });
        return result;
    } catch (err) {
        ledger.finishRun(run.id, {
            status: 'failed',
            result: { error: String(err) }
        });
        throw apiError(err);
    }
}

function prepare(opts: ConnectorOptions): {
    client: MailchimpClient;
    wanted: string[];
} {
    const config = mailchimpConfig();
    const wanted = (opts.audience ?? []).map(parseAudienceOption);
    return { client: new MailchimpClient(config), wanted };
}

function renderPull(r: PullResult): string {
    const rows = r.audiences.map((a) => [
        a.listId,
        a.name,
        String(a.read),
        String(a.changed),
        String(a.unsubscribes),
        String(a.skipped.length),
        a.cursorAfter ?? ''
    ]);
    const skipped = r.audiences.flatMap((a) =>
        a.skipped.map((s) => `  ${a.listId} ${s.email}: ${s.reason}`)
    );
    return [
        `Pulled ${r.audiences.length} audience(s) from Mailchimp (${r.requests} request(s)).`,
        renderTable(
            [
                'Audience',
                'Name',
                'Read',
                'Changed',
                'Unsubscribes',
                'Skipped',
                'Cursor'
            ],
            rows
        ),
        ...(skipped.length ? ['Members not taken:', ...skipped] : [])
    ].join('\n');
}

function renderPush(r: PushResult): string {
    if (r.pending === 0)
        return 'Nothing to push: Mailchimp has every unsubscribe of the ledger.';
    return [
        `Sent ${r.pending} unsubscribe(s) to Mailchimp${r.mode === 'batch' ? ` in ${r.batches.length} batch operation(s)` : ''}: ` +
            `${r.delivered} delivered, ${r.skipped.length} skipped, ${r.failed.length} left for the next run (${r.requests} request(s)).`,
        ...r.skipped.map(
            (s) => `  skipped ${s.email} in ${s.listId}: ${s.reason}`
        ),
        ...r.failed.map(
            (s) => `  not sent ${s.email} to ${s.listId}: ${s.reason}`
        )
    ].join('\n');
}

export const register: CommandModule = (program: Command) => {
    const cmd = program
        .command('mailchimp')
        .description(
            'The Mailchimp connector: pull audiences and members, push unsubscribes (MAILCHIMP_API_KEY)'
        );

    addLedgerOption(
        cmd
            .command('pull')
            .description(
                'Audiences and the members changed since the last pull into the ledger (first run: everything)'
            )
            .option(
                '--audience <id>',
                'only this audience (Mailchimp list id); repeatable',
                collect
            )
    ).action(async (opts: ConnectorOptions, sub: Command) =>
        runCommand(sub, async (out) => {
            const { client, wanted } = prepare(opts);
            const ledgerPath = resolveLedgerPath(opts.ledger);
            const lists = await chosenLists(client, wanted).catch(
                (e: unknown) => {
                    throw apiError(e);
                }
            );
            return withLedger(opts, async (ledger) => {
                const result = await asRun(
                    ledger,
                    PULL_JOB,
                    (runId) => pullMailchimp(ledger, client, lists, runId),
                    () => false
                );
                out.result({ ...result, ledger: ledgerPath }, () =>
                    renderPull(result)
                );
                return 0;
            });
        })
    );

    addLedgerOption(
        cmd
            .command('push')
            .description(
                'Every ledger unsubscribe Mailchimp has not got, as "unsubscribed" (never subscribes anyone)'
            )
            .option(
                '--audience <id>',
                'only this audience (Mailchimp list id); repeatable',
                collect
            )
            .option(
                '--batch-threshold <n>',
                'use a batch operation above this many unsubscribes',
                '100'
            )
    ).action(
        async (
            opts: ConnectorOptions & { batchThreshold: string },
            sub: Command
        ) =>
            runCommand(sub, async (out) => {
                const threshold = Number(opts.batchThreshold);
                if (!Number.isInteger(threshold) || threshold < 0)
                    throw new OptoutError(
                        'BAD_ARGUMENT',
                        `--batch-threshold '${opts.batchThreshold}' is not a whole number; nothing was done.`,
                        {
                            exitCode: 2
                        }
                    );
                const { client, wanted } = prepare(opts);
                const ledgerPath = resolveLedgerPath(opts.ledger);
                const lists = await chosenLists(client, wanted).catch(
                    (e: unknown) => {
                        throw apiError(e);
                    }
                );
                return withLedger(opts, async (ledger) => {
                    const result = await asRun(
                        ledger,
                        PUSH_JOB,
                        (runId) =>
                            pushMailchimp(ledger, client, lists, {
                                runId,
                                batchThreshold: threshold
                            }),
                        (r) => r.failed.length > 0
                    );
                    out.result({ ...result, ledger: ledgerPath }, () =>
                        renderPush(result)
                    );
                    return result.failed.length > 0 ? 3 : 0;
                });
            })
    );
};
