/**
 * The webhook as a running service: the HTTP server plus the push service
 * (sync/push-service.ts, the one push path shared with the scheduler and the CLI) that
 * delivers what it accepts through the sync's push job.
 */
import type { Ledger } from '../ledger/ledger';
import { retryDeferred } from '../model/stuck';
import type { LogLevel } from '../model/log';
import type { OrgClient } from '../salesforce/client';
import { MEMBERSHIP_WRITE_FIELDS } from '../sync/push';
import { requireWritableFields } from '../salesforce/describe';
import {
    effectiveOptOutField,
    readSettings,
    type SyncSettings
} from '../salesforce/settings';
import { SOBJECT } from '../model/schema';
import { OptoutError, errorMessage } from '../model/errors';
import {
    ledgerPushService,
    type PushService,
    type PushServiceOptions,
    type PushRun
} from '../sync/push-service';
import {
    startWebhookServer,
    type WebhookServer,
    type WebhookServerOptions
} from './server';

export interface WebhookOptions extends Omit<
    WebhookServerOptions,
    'onUnsubscribes'
> {
    org: OrgClient;
    push?: Pick<
        PushServiceOptions,
        'maxDelayMs' | 'maxBatch' | 'backoff' | 'maxAttempts'
    >;
    onPush?: (run: PushRun) => void;
    /**
     * Queue the webhook's own unsubscribes still undelivered from an earlier run (a
     * crash, an org that was down) at start, up to 10,000; others are left to the
     * scheduler's push. Default true.
     */
    resume?: boolean;
    /**
     * Every `sweepMs`, queue the webhook unsubscribes pending in the ledger for longer
     * than that: those another replica accepted and did not push (it was killed, or
     * gave up on them), which would otherwise wait for a restart or the scheduler.
     * Default: OPTOUT_WEBHOOK_SWEEP (a duration), else 60 s; 0 turns it off.
     */
    sweepMs?: number;
}

/** The environment variable of the default sweep interval (`sweepMs`). */
export const SWEEP_ENV = 'OPTOUT_WEBHOOK_SWEEP';
export const DEFAULT_SWEEP_MS = 60_000;

/** The sweep interval: the option, else the environment's, else the default (usage error if bad). */
export function sweepInterval(
    option: number | undefined,
    env: NodeJS.ProcessEnv = process.env
): number {
    if (option !== undefined) return option;
    const raw = (env[SWEEP_ENV] ?? '').trim();
    if (raw === '') return DEFAULT_SWEEP_MS;
    // "500ms", "5s", "2m" or a bare number of seconds, at most an hour.
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
    const unit = { ms: 1, s: 1000, m: 60_000 }[m?.[2] ?? 's'] ?? NaN;
    const ms = m ? Math.round(Number(m[1]) * unit) : NaN;
    if (!(ms >= 0 && ms <= 3_600_000))
        throw new OptoutError(
            'BAD_ARGUMENT',
            `${SWEEP_ENV} must be a duration such as 500ms, 30s or 5m (at most 1 hour; 0 turns the sweep off), not '${raw}'.`,
            { exitCode: 2 }
        );
    return ms;
}

export interface Webhook {
    url: string;
    server: WebhookServer;
    /** The push service (sync/push-service.ts) of what the server accepts. */
    loop: PushService;
    /**
     * Graceful stop: no new requests, requests in progress finish, the push in flight
     * finishes and what is queued is pushed once (within `timeoutMs`; the rest stays
     * pending in the ledger for the next push).
     */
    close(options?: { timeoutMs?: number }): Promise<void>;
}

export async function startWebhook(options: WebhookOptions): Promise<Webhook> {
    const { ledger, org } = options;
    const sweepMs = sweepInterval(options.sweepMs);
    const log =
        options.log ??
        ((_level: LogLevel, _message: string): void => undefined);
    const loop = ledgerPushService({
        ...(options.push ?? {}),
        ledger,
        org,
        log,
        onRun: options.onPush
    });
    const server = await startWebhookServer({
        ...options,
        onUnsubscribes: (ids) => loop.enqueue(ids)
    });
    if (options.resume !== false) {
        const ids = await pendingWebhookIds(ledger, 10_000);
        if (ids.length) {
            log(
                'info',
                `Resuming ${ids.length} webhook unsubscribe(s) not yet delivered`
            );
            await loop.enqueue(ids);
        }
    }
    const sweeper =
        sweepMs > 0 ? startSweep(ledger, loop, sweepMs, log) : undefined;
    let closing: Promise<void> | undefined;
    return {
        url: server.url,
        server,
        loop,
        close(closeOptions = {}) {
            closing ??= (async () => {
                await sweeper?.stop();
                await server.close();
                await loop.close({
                    flush: true,
                    timeoutMs: closeOptions.timeoutMs
                });
            })();
            return closing;
        }
    };
}

/**
 * The sweep (see `sweepMs`): one look at a time, never overlapping; a look that fails
 * (ledger unreachable) is logged and tried again at the next tick.
 */
function startSweep(
    ledger: Ledger,
    loop: PushService,
    sweepMs: number,
    log: (level: LogLevel, message: string) => void
): { stop(): Promise<void> } {
    let looking: Promise<void> | undefined;
    const look = async (): Promise<void> => {
        const before = new Date(Date.now() - sweepMs).toISOString();
        const ids = await pendingWebhookIds(ledger, 10_000, {
            collectedBefore: before
        });
        if (ids.length === 0) return;
        const queued = loop.stats.queued;
        await loop.enqueue(ids);
        const taken = loop.stats.queued - queued;
        if (taken > 0)
            log(
                'info',
                `Taking ${taken} webhook unsubscribe(s) pending for over ${Math.round(sweepMs / 1000)} s (accepted by a replica that did not push them)`
            );
    };
    const timer = setInterval(() => {
        if (looking) return;
        looking = look()
            .catch((err: unknown) =>
                log(
                    'warn',
                    `sweep of pending unsubscribes: ${errorMessage(err)}`
                )
            )
            .finally(() => {
                looking = undefined;
            });
    }, sweepMs);
    timer.unref();
    return {
        async stop() {
            clearInterval(timer);
            await looking;
        }
    };
}

/**
 * Checks at start that the org can take what the webhook will push (R7): the settings,
 * the opt-out field on Contact and Lead, the membership fields. Fails before the server
 * listens, naming the deploy command, rather than accepting unsubscribes it cannot push.
 */
export async function preflight(
    org: OrgClient
): Promise<{ settings: SyncSettings; field: string }> {
    const { settings } = await readSettings(org);
    const field = effectiveOptOutField(settings);
    await requireWritableFields(org, [
        { object: SOBJECT.CONTACT, field },
        { object: SOBJECT.LEAD, field },
        ...MEMBERSHIP_WRITE_FIELDS
    ]);
    return { settings, field };
}

/**
 * Undelivered unsubscribes that came in through the webhook and a push would take now
 * (not those waiting for a record: the hourly retry's), oldest first; with
 * `collectedBefore`, only those collected before that time.
 */
export async function pendingWebhookIds(
    ledger: Ledger,
    limit: number,
    options: { collectedBefore?: string } = {}
): Promise<number[]> {
    const ids: number[] = [];
    const now = new Date().toISOString();
    for await (const batch of ledger.undeliveredUnsubscribeBatches({
        batchSize: 1000,
        select: 'pushable',
        dueBy: now
    })) {
        for (const u of batch)
            if (
                u.source === 'webhook' &&
                ids.length < limit &&
                !retryDeferred(u, now) &&
                (options.collectedBefore === undefined ||
                    u.collectedAt < options.collectedBefore)
            )
                ids.push(u.id);
        if (ids.length >= limit) break;
    }
    return ids;
}
