/**
 * `optout mailchimp pull | push | webhook` — the Mailchimp connector (R15).
 * pull: audiences and members changed since the last pull into the ledger; push: every
 * ledger unsubscribe a Mailchimp audience has not got, as "unsubscribed" (never
 * subscribes anyone). Configured by MAILCHIMP_API_KEY (and MAILCHIMP_API_URL); a
 * missing key, a bad key or an unknown --audience is a usage error (exit 2) before
 * anything is sent or written. A push that left some unsubscribes for the next run
 * (Mailchimp kept failing) exits 3, like a partial sync.
 */
import type { Command } from 'commander';
import { OptoutError } from '../../model/errors';
import { MailchimpClient } from '../../mailchimp/client';
import { mailchimpConfig } from '../../mailchimp/config';
import {
    connectorError,
    listsFor,
    runPull,
    runPush
} from '../../mailchimp/job';
import type { PullResult } from '../../mailchimp/pull';
import type { PushResult } from '../../mailchimp/push';
import { checkWebhookUrl, registerWebhooks } from '../../mailchimp/webhooks';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import {
    addLedgerOption,
    parseAudienceOption,
    resolveLedgerPath,
    withLedger,
    type LedgerOptions
} from '../options';
import { renderTable } from '../table';
import { localMailchimpServer } from '../tools';
import { waitForStopSignal } from '../../scheduler/signals';

interface ConnectorOptions extends LedgerOptions {
    audience?: string[];
}

function collect(value: string, previous: string[] = []): string[] {
    return [...previous, value];
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
        .description(summaryOf('mailchimp'));

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
            const lists = await listsFor(client, wanted);
            return withLedger(opts, async (ledger) => {
                const result = await runPull(ledger, client, lists);
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
                const lists = await listsFor(client, wanted);
                return withLedger(opts, async (ledger) => {
                    const result = await runPush(
                        ledger,
                        client,
                        lists,
                        threshold
                    );
                    out.result({ ...result, ledger: ledgerPath }, () =>
                        renderPush(result)
                    );
                    return result.failed.length > 0 ? 3 : 0;
                });
            })
    );

    const local = cmd
        .command('local')
        .description(
            'The local Mailchimp (development and tests): the Marketing API 3.0 resources the connector uses, on SQLite'
        );
    local
        .command('start')
        .description(
            'Start the local Mailchimp in the foreground (stop with Ctrl-C); prints MAILCHIMP_API_URL and MAILCHIMP_API_KEY'
        )
        .option('--port <port>', 'TCP port (0 picks a free one)', '8643')
        .option('--host <host>', 'interface to listen on', '127.0.0.1')
        .option(
            '--db <file>',
            "SQLite database file (':memory:' for a throw-away one)",
            '.optout/local-mailchimp.db'
        )
        .option(
            '--list <name>',
            'create this audience when none has that name; repeatable',
            collect
        )
        .option(
            '--faults <spec>',
            'fault injection, e.g. 429:0.1,503:next=2 (see scripts/tools/local-mailchimp/README.md)'
        )
        .action(
            async (
                opts: {
                    port: string;
                    host: string;
                    db: string;
                    list?: string[];
                    faults?: string;
                },
                sub: Command
            ) =>
                runCommand(sub, async (out) => {
                    const port = Number(opts.port);
                    if (!Number.isInteger(port) || port < 0 || port > 65535)
                        throw new OptoutError(
                            'BAD_ARGUMENT',
                            `--port must be an integer from 0 to 65535, got '${opts.port}'`,
                            { exitCode: 2 }
                        );
                    // A development tool: loaded only when this command runs, never at
                    // the product's start.
                    const mc = await localMailchimpServer().startLocalMailchimp(
                        {
                            port,
                            host: opts.host,
                            dbPath: opts.db,
                            faults: opts.faults
                        }
                    );
                    const audiences = (opts.list ?? []).map((name) => ({
                        name,
                        id:
                            mc.admin.listsByName(name) ??
                            mc.admin.createList(name).id
                    }));
                    out.event(
                        {
                            event: 'running',
                            apiUrl: mc.apiUrl,
                            apiKey: mc.apiKey,
                            dbPath: mc.dbPath,
                            audiences
                        },
                        [
                            `Local Mailchimp running at ${mc.baseUrl} (data: ${mc.dbPath}); stop with Ctrl-C`,
                            ...audiences.map(
                                (a) => `  audience ${a.name}: ${a.id}`
                            ),
                            `export MAILCHIMP_API_URL=${mc.apiUrl}`,
                            `export MAILCHIMP_API_KEY=${mc.apiKey}`
                        ].join('\n')
                    );
                    const signal = waitForStopSignal(() => undefined);
                    await signal.stopped;
                    signal.dispose();
                    await mc.close();
                    out.result(
                        { status: 'stopped', apiUrl: mc.apiUrl },
                        () => 'Local Mailchimp stopped.'
                    );
                    return 0;
                })
        );

    cmd.command('webhook')
        .description(
            'Register the audience webhook that sends Mailchimp changes to optout serve'
        )
        .requiredOption(
            '--url <url>',
            'the public URL of optout serve: https://HOST/mailchimp?secret=SECRET'
        )
        .option(
            '--audience <id>',
            'only this audience (Mailchimp list id); repeatable',
            collect
        )
        .action(
            async (opts: { url: string; audience?: string[] }, sub: Command) =>
                runCommand(sub, async (out) => {
                    const url = checkWebhookUrl(opts.url);
                    const { client, wanted } = prepare(opts);
                    const lists = await listsFor(client, wanted);
                    const registered = await registerWebhooks(
                        client,
                        lists,
                        url
                    ).catch((e: unknown) => {
                        throw connectorError(e);
                    });
                    out.result({ url, audiences: registered }, () =>
                        registered.length === 0
                            ? 'This Mailchimp account has no audience.'
                            : renderTable(
                                  ['Audience', 'Name', 'Webhook', 'Outcome'],
                                  registered.map((r) => [
                                      r.listId,
                                      r.name,
                                      r.webhookId,
                                      r.outcome === 'already'
                                          ? 'already registered'
                                          : 'registered'
                                  ])
                              )
                    );
                    return 0;
                })
        );
};
