/**
 * `optout mailchimp webhook --url URL`: registers the audience webhook that sends
 * Mailchimp's changes to `optout serve` (POST /mailchimp?secret=…), with the events the
 * server handles (scripts/webhook/mailchimp.ts: subscribe, unsubscribe, profile, cleaned;
 * upemail and campaign carry nothing for the ledger). Changes the API made are left out
 * (`sources.api: false`): those are the connector's own pushes.
 * https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/
 */
import { OptoutError } from '../model/errors';
import type { MailchimpClient } from './client';
import type { ListInfo } from './decisions';

export const WEBHOOK_EVENTS = {
    subscribe: true,
    unsubscribe: true,
    profile: true,
    cleaned: true,
    upemail: false,
    campaign: false
} as const;

export const WEBHOOK_SOURCES = { user: true, admin: true, api: false } as const;

/** The URL must reach `optout serve`'s /mailchimp route with its secret (Mailchimp sends no headers). */
export function checkWebhookUrl(raw: string): string {
    let url: URL | null = null;
    try {
        url = new URL(raw.trim());
    } catch {
        url = null;
    }
    const fail = (why: string): never => {
        throw new OptoutError(
            'BAD_WEBHOOK_URL',
            `--url '${raw}' ${why}; nothing was registered.`,
            {
                actions: [
                    'Give the public URL of optout serve, e.g. https://sync.example.com/mailchimp?secret=YOUR-SECRET'
                ],
                exitCode: 2
            }
        );
    };
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
        return fail('is not an http(s) URL');
    if (!url.pathname.endsWith('/mailchimp'))
        return fail(
            "does not end in /mailchimp (optout serve's Mailchimp route)"
        );
    if (!url.searchParams.get('secret'))
        return fail(
            'has no ?secret= (Mailchimp cannot send the secret in a header)'
        );
    return url.toString();
}

export interface WebhookRegistration {
    listId: string;
    name: string;
    outcome: 'registered' | 'already';
    webhookId: string;
}

interface WireWebhook {
    id: string;
    url: string;
}

/** Registers the webhook on each list unless one with this URL is there already. */
export async function registerWebhooks(
    client: MailchimpClient,
    lists: readonly ListInfo[],
    url: string
): Promise<WebhookRegistration[]> {
    const out: WebhookRegistration[] = [];
    for (const list of lists) {
        const path = `/lists/${encodeURIComponent(list.id)}/webhooks`;
        const existing = await client.get<{ webhooks: WireWebhook[] }>(path);
        const same = existing.webhooks.find((w) => w.url === url);
        if (same) {
            out.push({
                listId: list.id,
                name: list.name,
                outcome: 'already',
                webhookId: same.id
            });
            continue;
        }
        const created = await client.post<WireWebhook>(path, {
            url,
            events: WEBHOOK_EVENTS,
            sources: WEBHOOK_SOURCES
        });
        out.push({
            listId: list.id,
            name: list.name,
            outcome: 'registered',
            webhookId: created.id
        });
    }
    return out;
}
