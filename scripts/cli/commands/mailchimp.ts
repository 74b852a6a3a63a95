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
import {
    checkWebhookUrl,
    registerWebhooks,
    type WebhookRegistration
} from '../../mailchimp/webhooks';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    parseAudienceOption,
    parseBatchThreshold,
    parseHost,
    parsePort,
    resolveLedger,
    shownLedger,
    withLedger,
    type LedgerOptions
} from '../options';
import {
    renderLocalMailchimpRunning,
    renderLocalMailchimpStopped,
    renderPull,
    renderPush,
    renderWebhooks
} from '../render/mailchimp';
import { localMailchimpServer } from '../tools';
import { waitForStopSignal } from '../../scheduler/signals';

export interface ConnectorOptions extends LedgerOptions {
    audience?: string[];
}

export interface PushOptions extends ConnectorOptions {
    batchThreshold: string;
}

export interface LocalStartOptions {
    port: string;
    host: string;
    db: string;
    list?: string[];
    faults?: string;
}

export interface WebhookOptions {
    url: string;
    audience?: string[];
}

/** `--json` result of `optout mailchimp pull`. */
export type MailchimpPullResult = PullResult & { ledger: string };
/** `--json` result of `optout mailchimp push` (exit 3 when some were left for the next run). */
export type MailchimpPushResult = PushResult & { ledger: string };
/** `--json` result of `optout mailchimp webhook`. */
export interface MailchimpWebhookResult {
    url: string;
    audiences: WebhookRegistration[];
}
/** The event line of `optout mailchimp local start`. */
export interface LocalMailchimpRunning {
    event: 'running';
    apiUrl: string;
    apiKey: string;
    dbPath: string;
    audiences: { name: string; id: string }[];
}
/** `--json` result of `optout mailchimp local start`, once stopped. */
export interface LocalMailchimpStopped {
    status: 'stopped';
    apiUrl: string;
}

function collect(value: string, previous: string[] = []): string[] {
    return [...previous, value];
}

/** The client (MAILCHIMP_API_KEY checked) and the audiences asked for. */
function prepare(opts: { audience?: string[] }): {
    client: MailchimpClient;
    wanted: string[];
} {
    const config = mailchimpConfig();
    const wanted = (opts.audience ?? []).map(parseAudienceOption);
    return { client: new MailchimpClient(config), wanted };
}

/** Audiences and the members changed since the last pull, into the ledger. */
export async function mailchimpPull(
    opts: ConnectorOptions
): Promise<MailchimpPullResult> {
    const { client, wanted } = prepare(opts);
    const ledger = resolveLedger(opts.ledger);
    const lists = await listsFor(client, wanted);
    const result = await withLedger(opts, (l) => runPull(l, client, lists));
    return { ...result, ledger: shownLedger(ledger) };
}

/** Every ledger unsubscribe Mailchimp has not got, sent as "unsubscribed". */
export async function mailchimpPush(
    opts: PushOptions
): Promise<MailchimpPushResult> {
    const threshold = parseBatchThreshold(opts.batchThreshold);
    const { client, wanted } = prepare(opts);
    const ledger = resolveLedger(opts.ledger);
    const lists = await listsFor(client, wanted);
    const result = await withLedger(opts, (l) =>
        runPush(l, client, lists, threshold)
    );
    return { ...result, ledger: shownLedger(ledger) };
}

/** Registers the audience webhook that sends changes to `optout serve`. */
export async function mailchimpWebhook(
    opts: WebhookOptions
): Promise<MailchimpWebhookResult> {
    const url = checkWebhookUrl(opts.url);
    const { client, wanted } = prepare(opts);
    const lists = await listsFor(client, wanted);
    const audiences = await registerWebhooks(client, lists, url).catch(
        (e: unknown) => {
            throw connectorError(e);
        }
    );
    return { url, audiences };
}

/** Runs the local Mailchimp until SIGINT/SIGTERM (its address an event line). */
export async function localMailchimp(
    opts: LocalStartOptions,
    out: Output
): Promise<LocalMailchimpStopped> {
    const port = parsePort(opts.port);
    const host = parseHost(opts.host);
    // A development tool: loaded only when this command runs, never at the product's start.
    const mc = await localMailchimpServer().startLocalMailchimp({
        port,
        host,
        dbPath: opts.db,
        faults: opts.faults
    });
    const audiences = (opts.list ?? []).map((name) => ({
        name,
        id: mc.admin.listsByName(name) ?? mc.admin.createList(name).id
    }));
    const running: LocalMailchimpRunning = {
        event: 'running',
        apiUrl: mc.apiUrl,
        apiKey: mc.apiKey,
        dbPath: mc.dbPath,
        audiences
    };
    // The stop handler first: a signal sent as soon as the line is read must find it.
    const signal = waitForStopSignal(() => undefined);
    out.event(
        { ...running },
        renderLocalMailchimpRunning(running, mc.baseUrl, out.columns)
    );
    await signal.stopped;
    signal.dispose();
    await mc.close();
    return { status: 'stopped', apiUrl: mc.apiUrl };
}

const AUDIENCE_HELP = 'only this audience (Mailchimp list id); repeatable';

function registerPull(cmd: Command): void {
    addLedgerOption(
        cmd
            .command('pull')
            .description(
                'Audiences and the members changed since the last pull into the ledger (first run: everything)'
            )
            .option('--audience <id>', AUDIENCE_HELP, collect)
    ).action(async (opts: ConnectorOptions, sub: Command) =>
        execute(sub, { run: () => mailchimpPull(opts), render: renderPull })
    );
}

function registerPush(cmd: Command): void {
    addLedgerOption(
        cmd
            .command('push')
            .description(
                'Every ledger unsubscribe Mailchimp has not got, as "unsubscribed" (never subscribes anyone)'
            )
            .option('--audience <id>', AUDIENCE_HELP, collect)
            .option(
                '--batch-threshold <n>',
                'use a batch operation above this many unsubscribes',
                '100'
            )
    ).action(async (opts: PushOptions, sub: Command) =>
        execute(sub, {
            run: () => mailchimpPush(opts),
            render: renderPush,
            exitCode: (r) => (r.failed.length > 0 ? 3 : 0)
        })
    );
}

function registerLocal(cmd: Command): void {
    cmd.command('local')
        .description(
            'The local Mailchimp (development and tests): the Marketing API 3.0 resources the connector uses, on SQLite'
        )
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
        .action(async (opts: LocalStartOptions, sub: Command) =>
            execute(sub, {
                run: (out) => localMailchimp(opts, out),
                render: renderLocalMailchimpStopped
            })
        );
}

function registerWebhook(cmd: Command): void {
    cmd.command('webhook')
        .description(
            'Register the audience webhook that sends Mailchimp changes to optout serve'
        )
        .requiredOption(
            '--url <url>',
            'the public URL of optout serve: https://HOST/mailchimp?secret=SECRET'
        )
        .option('--audience <id>', AUDIENCE_HELP, collect)
        .action(async (opts: WebhookOptions, sub: Command) =>
            execute(sub, {
                run: () => mailchimpWebhook(opts),
                render: renderWebhooks
            })
        );
}

export const register: CommandModule = (program: Command) => {
    const cmd = program
        .command('mailchimp')
        .description(summaryOf('mailchimp'));
    registerPull(cmd);
    registerPush(cmd);
    registerLocal(cmd);
    registerWebhook(cmd);
};
