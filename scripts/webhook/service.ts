/**
 * The webhook as a running service: the HTTP server plus the push loop that delivers
 * what it accepts through the sync's push job (`runJob('push', { unsubscribeIds })`,
 * which takes the cross-process `job:push` lock and records each run in the ledger).
 */
import type { Ledger } from '../ledger/ledger';
import { WAITING_OUTCOMES } from '../ledger/migrations';
import { retryDeferred } from '../model/stuck';
import type { LogLevel } from '../model/log';
import type { OrgClient } from '../salesforce/client';
import { runJob } from '../sync/run';
import { MEMBERSHIP_WRITE_FIELDS } from '../sync/push';
import { requireWritableFields } from '../salesforce/describe';
import {
    effectiveOptOutField,
    readSettings,
    type SyncSettings
} from '../salesforce/settings';
import { SOBJECT } from '../model/schema';
import { PushLoop, type PushLoopOptions, type PushRun } from './push-loop';
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
        PushLoopOptions,
        'maxDelayMs' | 'maxBatch' | 'backoff' | 'maxAttempts'
    >;
    onPush?: (run: PushRun) => void;
    /**
     * Queue the webhook's own unsubscribes still undelivered from an earlier run (a
     * crash, an org that was down) at start, up to 10,000; others are left to the
     * scheduler's push. Default true.
     */
    resume?: boolean;
}

export interface Webhook {
    url: string;
    server: WebhookServer;
    loop: PushLoop;
    /**
     * Graceful stop: no new requests, requests in progress finish, the push in flight
     * finishes and what is queued is pushed once (within `timeoutMs`; the rest stays
     * pending in the ledger for the next push).
     */
    close(options?: { timeoutMs?: number }): Promise<void>;
}

export async function startWebhook(options: WebhookOptions): Promise<Webhook> {
    const { ledger, org } = options;
    const log =
        options.log ??
        ((_level: LogLevel, _message: string): void => undefined);
    const loop = new PushLoop({
        ...(options.push ?? {}),
        log,
        onRun: options.onPush,
        push: (ids, signal) =>
            runJob('push', {
                ledger,
                org,
                unsubscribeIds: ids,
                signal,
                log
            }),
        isPending: async (id) => isPending(ledger, id)
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
    let closing: Promise<void> | undefined;
    return {
        url: server.url,
        server,
        loop,
        close(closeOptions = {}) {
            closing ??= (async () => {
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
 * Active, not yet confirmed by Salesforce, and something a push can deliver: one
 * waiting for a matching Salesforce record is left to the hourly retry (retrying it
 * here would spend a lookup a second for nothing), one Salesforce refused to its
 * back-off or, as a dead letter, to `optout retry` (R14).
 */
export async function isPending(ledger: Ledger, id: number): Promise<boolean> {
    const u = await ledger.getUnsubscribe(id);
    return Boolean(
        u &&
        u.deliveredAt === null &&
        u.removedAt === null &&
        !(
            u.nextAttemptAt !== null &&
            (WAITING_OUTCOMES as readonly string[]).includes(
                u.lastOutcome ?? ''
            )
        ) &&
        // Refused by Salesforce (R14): its back-off, not the loop's, decides.
        !retryDeferred(u, new Date().toISOString())
    );
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

/** Undelivered unsubscribes that came in through the webhook, oldest first. */
export async function pendingWebhookIds(
    ledger: Ledger,
    limit: number
): Promise<number[]> {
    const ids: number[] = [];
    for await (const batch of ledger.undeliveredUnsubscribeBatches({
        batchSize: 1000
    })) {
        for (const u of batch)
            if (
                u.source === 'webhook' &&
                ids.length < limit &&
                !retryDeferred(u, new Date().toISOString())
            )
                ids.push(u.id);
        if (ids.length >= limit) break;
    }
    return ids;
}
