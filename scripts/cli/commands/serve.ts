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
    type Webhook
} from '../../webhook';
import { preflight } from '../../webhook/service';
import {
    NOTIFY_SECRET_ENV,
    NotifyLoop,
    parseNotifyUrls,
    resolveNotifySecret
} from '../../webhook/notify';
import { describeRun, summarizeResult } from '../../scheduler/format';
import { waitForStopSignal } from '../../scheduler/signals';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import {
    addLedgerOption,
    requireText,
    resolveLedgerPath,
    type LedgerOptions,
    parseAudienceSpecs,
    parsePort,
    parseHost,
    parseMaxItems,
    parseDuration
} from '../options';

interface ServeOptions extends LedgerOptions {
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

function collect(value: string, previous: string[]): string[] {
    return [...previous, value];
}

function isLoopback(host: string): boolean {
    return host === 'localhost' || host === '::1' || host.startsWith('127.');
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
                'how long arrivals are gathered into one push (it starts at once when 200 wait)',
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
        runCommand(cmd, async (out) => {
            // Every option is checked before anything opens.
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
            const notifySecret = notifyUrls.length
                ? resolveNotifySecret()
                : undefined;
            const ledgerPath = resolveLedgerPath(opts.ledger);

            const ledger = Ledger.open(ledgerPath);
            let org: OrgClient | undefined;
            let webhook: Webhook | undefined;
            let notify: NotifyLoop | undefined;
            try {
                for (const [id, name] of audiences)
                    ledger.upsertAudience({ id, name });
                org = await openOrg(targetOrg, {
                    log: (level, message) => out.log(level, message)
                });
                const checked = await preflight(org);
                try {
                    webhook = await startWebhook({
                        ledger,
                        org,
                        secret,
                        host,
                        port,
                        maxBodyBytes,
                        rate,
                        maxItems,
                        push: { maxDelayMs },
                        log: (level, message) => out.log(level, message),
                        onPush: (run) => {
                            if (run.result)
                                out.event(
                                    {
                                        event: 'push',
                                        at: new Date().toISOString(),
                                        stillPending: run.stillPending,
                                        ...summarizeResult(run.result)
                                    },
                                    `${new Date().toISOString()} ${describeRun(run.result)}${run.stillPending ? ` (${run.stillPending} still pending, retried)` : ''}`
                                );
                            else
                                out.event(
                                    {
                                        event: 'push',
                                        at: new Date().toISOString(),
                                        status: 'failed',
                                        error: run.error,
                                        stillPending: run.stillPending
                                    },
                                    `${new Date().toISOString()} push failed: ${run.error} (${run.stillPending} pending, retried)`
                                );
                        }
                    });
                } catch (err) {
                    const code = (err as NodeJS.ErrnoException).code;
                    if (code === 'EADDRINUSE')
                        throw new OptoutError(
                            'PORT_IN_USE',
                            `Port ${port} on ${host} is already in use.`,
                            {
                                actions: [
                                    'Pick another with --port, or --port 0 for any free port'
                                ]
                            }
                        );
                    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
                        throw new OptoutError(
                            'BAD_HOST',
                            `Cannot listen on ${host}: no such interface here.`,
                            {
                                actions: [
                                    'Use 127.0.0.1 (default), 0.0.0.0 (all interfaces) or an address of this machine'
                                ]
                            }
                        );
                    throw err;
                }
                if (notifySecret)
                    notify = new NotifyLoop({
                        ledger,
                        urls: notifyUrls,
                        secret: notifySecret,
                        log: (level, message) => out.log(level, message),
                        onAttempt: (a) =>
                            out.event(
                                {
                                    event: a.delivered
                                        ? 'notify_delivered'
                                        : 'notify_failed',
                                    at: new Date().toISOString(),
                                    ...a
                                },
                                `${new Date().toISOString()} notify ${a.url}: event ${a.eventId} ${a.delivered ? `delivered (${a.status})` : `not delivered (${a.error}); retry in ${a.retryInMs} ms`}`
                            )
                    });
                if (!isLoopback(webhook.server.host))
                    out.log(
                        'warn',
                        `Listening on ${webhook.server.host}, reachable from other machines: put it behind HTTPS (a reverse proxy), since the Mailchimp secret travels in the URL.`
                    );
                const url = webhook.url;
                out.event(
                    {
                        event: 'listening',
                        url,
                        targetOrg,
                        ledger: ledgerPath,
                        optOutField: checked.field,
                        nightlySyncEnabled: checked.settings.nightlySyncEnabled,
                        endpoints: {
                            mailchimp: `${url}/mailchimp?secret=…`,
                            unsubscribes: `${url}/unsubscribes`,
                            health: `${url}/healthz`,
                            suppressions: `${url}/suppressions`
                        },
                        notify: notifyUrls,
                        pending: ledger.countUndelivered()
                    },
                    [
                        `Webhook listening on ${url} — pushing to ${targetOrg} (field ${checked.field}), ledger ${ledgerPath}`,
                        `  Mailchimp webhook URL:  ${url}/mailchimp?secret=<the secret>   (or your public HTTPS address)`,
                        `  JSON unsubscribes:      POST ${url}/unsubscribes   with Authorization: Bearer <the secret>`,
                        `  Health check:           GET ${url}/healthz`,
                        `  Suppression feed:       GET ${url}/suppressions?since=<cursor>   with Authorization: Bearer <the secret>`,
                        ...notifyUrls.map(
                            (u) =>
                                `  Notifying:              POST ${u}   (signed with ${NOTIFY_SECRET_ENV})`
                        ),
                        'Press Ctrl-C to stop.'
                    ].join('\n')
                );
                const active = webhook;
                const stop = waitForStopSignal(() => {
                    out.log(
                        'warn',
                        'Stopping now: the push in flight ends deferred; pending unsubscribes stay in the ledger.'
                    );
                    active.loop.abortNow();
                });
                const signal = await stop.stopped;
                out.log(
                    'info',
                    `${signal}: no new requests; finishing the push in flight… (press Ctrl-C again to stop at once)`
                );
                await active.close({ timeoutMs: 30_000 });
                // An event not yet confirmed stays after the URL's cursor: sent on restart.
                await notify?.close();
                stop.dispose();
                const stats = active.loop.stats;
                const counters = active.server.counters;
                const pending = ledger.countUndelivered();
                out.result(
                    {
                        stopped: true,
                        requests: counters.requests,
                        accepted: counters.accepted,
                        refused: counters.refused,
                        unsubscribesRecorded: counters.unsubscribesRecorded,
                        pushes: stats.runs,
                        delivered: stats.delivered,
                        apiRequests: stats.apiRequests,
                        pending
                    },
                    () =>
                        `Stopped. ${counters.requests} requests (${counters.refused} refused), ${counters.unsubscribesRecorded} unsubscribes recorded, ${stats.runs} pushes delivered ${stats.delivered} with ${stats.apiRequests} API requests; ${pending} pending in the ledger${pending ? ' (the next push delivers them: optout sync push or optout schedule)' : ''}.`
                );
                return 0;
            } catch (err) {
                await notify?.close().catch(() => undefined);
                if (webhook)
                    await webhook
                        .close({ timeoutMs: 5_000 })
                        .catch(() => undefined);
                throw err instanceof OptoutError
                    ? err
                    : new OptoutError('SERVE_FAILED', errorMessage(err), {
                          cause: err
                      });
            } finally {
                await org?.close().catch(() => undefined);
                ledger.close();
            }
        })
    );
};
