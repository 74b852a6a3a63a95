/**
 * `optout serve --target-org X` — the webhook endpoint (scripts/webhook): Mailchimp
 * events on /mailchimp?secret=…, JSON unsubscribes on /unsubscribes, /healthz; every
 * accepted unsubscribe pushed to the org within seconds. Runs until SIGINT/SIGTERM, then
 * stops accepting, finishes the push in flight and exits. With --json, one JSON object
 * per line (listening, push), then the envelope with the totals when stopped. The secret is never printed or logged.
 */
import type { Command } from 'commander';
import { OptoutError, errorMessage } from '../../model/errors';
import { Ledger } from '../../ledger/ledger';
import { openOrg } from '../../salesforce/open';
import { LONG_RUNNING_SETTINGS_TTL_MS } from '../../salesforce/settings';
import type { OrgClient } from '../../salesforce/client';
import {
    DEFAULT_HOST,
    DEFAULT_MAX_ITEMS,
    DEFAULT_PORT,
    DEFAULT_RATE,
    SECRET_ENV,
    parseRate,
    parseSize,
    resolveSecret,
    startWebhook,
    type Rate,
    type Webhook
} from '../../webhook';
import { preflight } from '../../webhook/service';
import {
    NOTIFY_SECRET_ENV,
    NotifyLoop,
    parseNotifyUrls,
    resolveNotifySecret
} from '../../webhook/notify';
import { summarizeResult } from '../../scheduler/format';
import { waitForStopSignal } from '../../scheduler/signals';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    requireText,
    resolveLedger,
    shownLedger,
    type LedgerOptions,
    parseAudienceSpecs,
    parsePort,
    parseHost,
    parseMaxItems,
    parseDuration
} from '../options';
import {
    renderListening,
    renderNotify,
    renderPush,
    renderServe
} from '../render/serve';

export interface ServeOptions extends LedgerOptions {
    targetOrg: string;
    host: string;
    port: string;
    secret?: string;
    maxBody: string;
    rate: string;
    maxItems: string;
    pushDelay: string;
    audience: string[];
    notify: string[];
}

/** The options of `optout serve`, checked. */
export interface ServeSettings {
    targetOrg: string;
    secret: string;
    host: string;
    port: number;
    maxBodyBytes: number;
    rate: Rate;
    maxItems: number;
    maxDelayMs: number;
    audiences: [string, string][];
    notifyUrls: string[];
    notifySecret?: string;
    ledgerPath: string;
}

/** The first event line: where the webhook listens and for whom. */
export interface ListeningEvent {
    event: 'listening';
    url: string;
    targetOrg: string;
    ledger: string;
    optOutField: string;
    nightlySyncEnabled: boolean;
    endpoints: Record<
        'mailchimp' | 'unsubscribes' | 'health' | 'suppressions',
        string
    >;
    notify: string[];
    pending: number;
}

/** The `--json` result of `optout serve`, once stopped: its totals. */
export interface ServeResult {
    stopped: true;
    requests: number;
    accepted: number;
    refused: number;
    unsubscribesRecorded: number;
    pushes: number;
    delivered: number;
    apiRequests: number;
    pending: number;
}

/** What runs while the command serves. */
interface Serving {
    webhook: Webhook;
    notify?: NotifyLoop;
}

function collect(value: string, previous: string[]): string[] {
    return [...previous, value];
}

function isLoopback(host: string): boolean {
    return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Every option checked, before anything opens. */
export function checkServeOptions(opts: ServeOptions): ServeSettings {
    const targetOrg = requireText(
        opts.targetOrg,
        '--target-org',
        'Give an org alias, a username or "local"'
    );
    const secret = resolveSecret(opts.secret);
    const host = parseHost(opts.host);
    const port = parsePort(opts.port);
    const maxBodyBytes = parseSize(opts.maxBody);
    const rate = parseRate(opts.rate);
    const maxItems = parseMaxItems(opts.maxItems);
    const maxDelayMs = parseDuration(opts.pushDelay, '--push-delay', {
        minMs: 0,
        maxMs: 60_000
    });
    const audiences = parseAudienceSpecs(opts.audience);
    const notifyUrls = parseNotifyUrls(opts.notify);
    const notifySecret = notifyUrls.length ? resolveNotifySecret() : undefined;
    return {
        targetOrg,
        secret,
        host,
        port,
        maxBodyBytes,
        rate,
        maxItems,
        maxDelayMs,
        audiences,
        notifyUrls,
        ...(notifySecret ? { notifySecret } : {}),
        ledgerPath: resolveLedger(opts.ledger)
    };
}

/** A listen error as the person can act on it. */
function listenError(err: unknown, s: ServeSettings): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
        return new OptoutError(
            'PORT_IN_USE',
            `Port ${s.port} on ${s.host} is already in use.`,
            {
                actions: [
                    'Pick another with --port, or --port 0 for any free port'
                ]
            }
        );
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
        return new OptoutError(
            'BAD_HOST',
            `Cannot listen on ${s.host}: no such interface here.`,
            {
                actions: [
                    'Use 127.0.0.1 (default), 0.0.0.0 (all interfaces) or an address of this machine'
                ]
            }
        );
    return err;
}

/** Starts the webhook (each push an event line) and, with --notify, the notifications. */
async function startServing(
    s: ServeSettings,
    ledger: Ledger,
    org: OrgClient,
    out: Output
): Promise<Serving> {
    let webhook: Webhook;
    try {
        webhook = await startWebhook({
            ledger,
            org,
            secret: s.secret,
            host: s.host,
            port: s.port,
            maxBodyBytes: s.maxBodyBytes,
            rate: s.rate,
            maxItems: s.maxItems,
            push: { maxDelayMs: s.maxDelayMs },
            log: (level, message) => out.log(level, message),
            onPush: (run) => {
                const at = new Date().toISOString();
                out.event(
                    run.result
                        ? {
                              event: 'push',
                              at,
                              stillPending: run.stillPending,
                              ...summarizeResult(run.result)
                          }
                        : {
                              event: 'push',
                              at,
                              status: 'failed',
                              error: run.error,
                              stillPending: run.stillPending
                          },
                    renderPush(run, at)
                );
            }
        });
    } catch (err) {
        throw listenError(err, s);
    }
    const notify = s.notifySecret
        ? await NotifyLoop.start({
              ledger,
              urls: s.notifyUrls,
              secret: s.notifySecret,
              log: (level, message) => out.log(level, message),
              onAttempt: (a) => {
                  const at = new Date().toISOString();
                  out.event(
                      {
                          event: a.delivered
                              ? 'notify_delivered'
                              : 'notify_failed',
                          at,
                          ...a
                      },
                      renderNotify(a, at)
                  );
              }
          })
        : undefined;
    return { webhook, ...(notify ? { notify } : {}) };
}

/** The `listening` event: the URLs to give Mailchimp and the other callers. */
function listening(
    s: ServeSettings,
    url: string,
    checked: Awaited<ReturnType<typeof preflight>>,
    pending: number
): ListeningEvent {
    return {
        event: 'listening',
        url,
        targetOrg: s.targetOrg,
        ledger: shownLedger(s.ledgerPath),
        optOutField: checked.field,
        nightlySyncEnabled: checked.settings.nightlySyncEnabled,
        endpoints: {
            mailchimp: `${url}/mailchimp?secret=…`,
            unsubscribes: `${url}/unsubscribes`,
            health: `${url}/healthz`,
            suppressions: `${url}/suppressions`
        },
        notify: s.notifyUrls,
        pending
    };
}

/**
 * Waits for SIGINT/SIGTERM, then stops accepting, finishes the push in flight (a second
 * signal aborts it) and stops notifying.
 */
async function waitForStop(
    serving: Serving,
    out: Output,
    announce: () => void
): Promise<void> {
    const { webhook, notify } = serving;
    const stop = waitForStopSignal(() => {
        out.log(
            'warn',
            'Stopping now: the push in flight ends deferred; pending unsubscribes stay in the ledger.'
        );
        webhook.loop.abortNow();
    });
    // Announced once the handler is in place: a signal sent as soon as the line is read
    // must find it.
    announce();
    const signal = await stop.stopped;
    out.log(
        'info',
        `${signal}: no new requests; finishing the push in flight… (press Ctrl-C again to stop at once)`
    );
    await webhook.close({ timeoutMs: 30_000 });
    // An event not yet confirmed stays after the URL's cursor: sent on restart.
    await notify?.close();
    stop.dispose();
}

/** What the webhook did while it ran, and what is left in the ledger. */
async function totals(webhook: Webhook, ledger: Ledger): Promise<ServeResult> {
    const stats = webhook.loop.stats;
    const counters = webhook.server.counters;
    return {
        stopped: true,
        requests: counters.requests,
        accepted: counters.accepted,
        refused: counters.refused,
        unsubscribesRecorded: counters.unsubscribesRecorded,
        pushes: stats.runs,
        delivered: stats.delivered,
        apiRequests: stats.apiRequests,
        pending: await ledger.countUndelivered()
    };
}

/**
 * Serves until SIGINT/SIGTERM: options checked, the ledger and the org opened and
 * checked, the webhook started, then its totals once it stopped.
 */
export async function serve(
    opts: ServeOptions,
    out: Output
): Promise<ServeResult> {
    const s = checkServeOptions(opts);
    const ledger = await Ledger.open(s.ledgerPath);
    let org: OrgClient | undefined;
    let serving: Serving | undefined;
    try {
        for (const [id, name] of s.audiences)
            await ledger.upsertAudience({ id, name });
        org = await openOrg(s.targetOrg, {
            log: (level, message) => out.log(level, message),
            settingsTtlMs: LONG_RUNNING_SETTINGS_TTL_MS
        });
        const checked = await preflight(org);
        serving = await startServing(s, ledger, org, out);
        if (!isLoopback(serving.webhook.server.host))
            out.log(
                'warn',
                `Listening on ${serving.webhook.server.host}, reachable from other machines: put it behind HTTPS (a reverse proxy), since the Mailchimp secret travels in the URL.`
            );
        const event = listening(
            s,
            serving.webhook.url,
            checked,
            await ledger.countUndelivered()
        );
        await waitForStop(serving, out, () =>
            out.event({ ...event }, renderListening(event))
        );
        return await totals(serving.webhook, ledger);
    } catch (err) {
        await serving?.notify?.close().catch(() => undefined);
        await serving?.webhook
            .close({ timeoutMs: 5_000 })
            .catch(() => undefined);
        throw err instanceof OptoutError
            ? err
            : new OptoutError('SERVE_FAILED', errorMessage(err), {
                  cause: err
              });
    } finally {
        await org?.close().catch(() => undefined);
        await ledger.close();
    }
}

export const register: CommandModule = (program: Command) => {
    addLedgerOption(
        program
            .command('serve')
            .description(summaryOf('serve'))
            .requiredOption(
                '--target-org <org>',
                'org to push to: an alias or username known to sf, or "local"'
            )
            .option('--host <address>', 'interface to listen on', DEFAULT_HOST)
            .option(
                '--port <port>',
                'TCP port (0 picks a free one)',
                String(DEFAULT_PORT)
            )
            .option(
                '--secret <secret>',
                `shared secret (prefer the environment variable ${SECRET_ENV}: options show in ps)`
            )
            .option('--max-body <size>', 'largest request body', '64kb')
            .option(
                '--rate <n/min>',
                'requests allowed per client address',
                DEFAULT_RATE.text
            )
            .option(
                '--max-items <n>',
                'largest JSON array on /unsubscribes',
                String(DEFAULT_MAX_ITEMS)
            )
            .option(
                '--push-delay <duration>',
                'how long arrivals are gathered into one push (it starts at once when 1,000 wait)',
                '1s'
            )
            .option(
                '--audience <id=name>',
                'name an audience (Mailchimp list id) the ledger does not know yet; repeatable',
                collect,
                []
            )
            .option(
                '--notify <url>',
                `POST each unsubscribe and resubscribe, signed, to this http(s) URL (needs ${NOTIFY_SECRET_ENV}); repeatable`,
                collect,
                []
            )
    ).action(async (opts: ServeOptions, cmd: Command) =>
        execute(cmd, { run: (out) => serve(opts, out), render: renderServe })
    );
};
