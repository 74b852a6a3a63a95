/**
 * Mailchimp audience webhooks: parsing and the decision of what each event means for the
 * ledger. Pure functions; intake.ts applies the decision.
 *
 * Mailchimp POSTs `application/x-www-form-urlencoded` bodies with `type`, `fired_at`
 * ("YYYY-MM-DD HH:MM:SS", UTC) and `data[…]` fields; it validates a webhook URL with a
 * GET (no parameters besides the URL's own) that must answer 200. Event types:
 *
 * | type          | data                                                   | ledger                                   |
 * |---------------|--------------------------------------------------------|------------------------------------------|
 * | `unsubscribe` | email, list_id, action=unsub, reason, campaign_id      | audience unsubscribe (R5), not global     |
 * | `unsubscribe` | action=delete or archive (the marketer removed them)   | membership Archived (not an opt-out)      |
 * | `cleaned`     | email, list_id, reason=hard or abuse, campaign_id      | membership Cleaned                        |
 * | `subscribe`   | email, list_id, id, merges…                            | membership Subscribed (never lifts R4)    |
 * | `profile`     | email, list_id, merges…                                | Subscribed when the membership is new; no |
 * |               |                                                        | status change otherwise (carries none)    |
 * | `upemail`     | old_email, new_email, new_id, list_id                  | nothing (answered 200, reason given)      |
 * | `campaign`    | id, subject, status, reason, list_id                   | nothing (answered 200, reason given)      |
 */
import {
    checkAudienceId,
    checkEmail,
    cleanReason,
    type MembershipStatus
} from '../model/statuses';
import { WebhookError } from './errors';

export const MAILCHIMP_TYPES = [
    'subscribe',
    'unsubscribe',
    'profile',
    'cleaned',
    'upemail',
    'campaign'
] as const;
export type MailchimpType = (typeof MAILCHIMP_TYPES)[number];

export interface MailchimpEvent {
    type: MailchimpType;
    /** ISO-8601 UTC, from fired_at (null when Mailchimp sent none). */
    firedAt: string | null;
    /** `data[x]` → `x` (nested keys keep their brackets: `merges][FNAME`). */
    data: Record<string, string>;
}

/** What one event does to the ledger. */
export type MailchimpAction =
    | {
          kind: 'unsubscribe';
          email: string;
          audienceId: string;
          reason: string | null;
          /** When Mailchimp fired it (ISO), or null. */
          firedAt: string | null;
      }
    | {
          kind: 'membership';
          email: string;
          audienceId: string;
          status: MembershipStatus;
          reason: string | null;
          /** Only when the person has no membership in the audience yet (profile). */
          onlyIfNew: boolean;
          firedAt: string | null;
      }
    | { kind: 'ignore'; type: MailchimpType; reason: string };

const FIRED_AT = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;

/** Mailchimp's "2024-05-01 13:45:00" (UTC) or an ISO-8601 time → ISO UTC; undefined if invalid. */
export function parseFiredAt(raw: string): string | undefined {
    const text = raw.trim();
    const m = FIRED_AT.exec(text);
    let ms: number;
    if (m) {
        const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
        ms = Date.UTC(y, mo - 1, d, h, mi, s);
        const back = new Date(ms);
        // Reject impossible dates (2024-02-31) that Date.UTC would roll over.
        if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1)
            return undefined;
    } else if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(text)) {
        ms = Date.parse(text);
    } else {
        return undefined;
    }
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Parses a form-encoded Mailchimp body; throws WebhookError(400) when it is not one. */
export function parseMailchimpForm(body: string): MailchimpEvent {
    let params: URLSearchParams;
    try {
        params = new URLSearchParams(body);
    } catch {
        throw new WebhookError(
            400,
            'BAD_FORM',
            'The body is not form-encoded.'
        );
    }
    const type = (params.get('type') ?? '').trim();
    if (type === '')
        throw new WebhookError(
            400,
            'MISSING_FIELD',
            "The form has no 'type' field (Mailchimp sends type=subscribe|unsubscribe|profile|cleaned|upemail|campaign)."
        );
    if (!(MAILCHIMP_TYPES as readonly string[]).includes(type))
        throw new WebhookError(
            400,
            'UNKNOWN_EVENT',
            `Unknown Mailchimp event type '${type.slice(0, 40)}': expected one of ${MAILCHIMP_TYPES.join(', ')}.`
        );
    let firedAt: string | null = null;
    const rawFired = params.get('fired_at');
    if (rawFired !== null && rawFired.trim() !== '') {
        const parsed = parseFiredAt(rawFired);
        if (!parsed)
            throw new WebhookError(
                400,
                'BAD_FIELD',
                `fired_at '${rawFired.slice(0, 40)}' is not a time like 2024-05-01 13:45:00.`
            );
        firedAt = parsed;
    }
    const data: Record<string, string> = {};
    for (const [key, value] of params) {
        const m = /^data\[(.+)\]$/.exec(key);
        if (m) data[m[1]] = value;
    }
    return { type: type as MailchimpType, firedAt, data };
}

function required(event: MailchimpEvent, field: string, what: string): string {
    const v = (event.data[field] ?? '').trim();
    if (v === '')
        throw new WebhookError(
            400,
            'MISSING_FIELD',
            `A Mailchimp '${event.type}' event needs data[${field}] (${what}).`
        );
    return v;
}

function personAndAudience(event: MailchimpEvent): {
    email: string;
    audienceId: string;
} {
    const rawEmail = required(event, 'email', 'the member’s email');
    const email = checkEmail(rawEmail);
    if (!email.ok)
        throw new WebhookError(
            400,
            'BAD_EMAIL',
            `data[email]: ${email.reason}.`
        );
    const rawList = required(event, 'list_id', 'the audience id');
    const list = checkAudienceId(rawList);
    if (!list.ok)
        throw new WebhookError(
            400,
            'BAD_AUDIENCE',
            `data[list_id]: ${list.reason}.`
        );
    return { email: email.value.email, audienceId: list.value };
}

function withCampaign(text: string, event: MailchimpEvent): string | null {
    const campaign = (event.data.campaign_id ?? '').trim();
    return cleanReason(campaign ? `${text} (campaign ${campaign})` : text);
}

const UNSUB_REASONS: Record<string, string> = {
    manual: 'Unsubscribed in Mailchimp',
    abuse: 'Abuse report in Mailchimp'
};

const CLEANED_REASONS: Record<string, string> = {
    hard: 'Cleaned in Mailchimp: hard bounce',
    abuse: 'Cleaned in Mailchimp: abuse report'
};

/** The ledger action for an event (see the table at the top). Throws WebhookError(400). */
export function mailchimpAction(event: MailchimpEvent): MailchimpAction {
    switch (event.type) {
        case 'unsubscribe': {
            const target = personAndAudience(event);
            const action = (event.data.action ?? 'unsub').trim().toLowerCase();
            const why = (event.data.reason ?? '').trim();
            if (action === 'unsub' || action === '') {
                return {
                    kind: 'unsubscribe',
                    ...target,
                    reason: withCampaign(
                        UNSUB_REASONS[why.toLowerCase()] ??
                            (why
                                ? `Unsubscribed in Mailchimp: ${why}`
                                : 'Unsubscribed in Mailchimp'),
                        event
                    ),
                    firedAt: event.firedAt
                };
            }
            if (action === 'delete' || action === 'archive') {
                return {
                    kind: 'membership',
                    ...target,
                    status: 'Archived',
                    reason: cleanReason(
                        `${action === 'delete' ? 'Deleted' : 'Archived'} in Mailchimp`
                    ),
                    onlyIfNew: false,
                    firedAt: event.firedAt
                };
            }
            throw new WebhookError(
                400,
                'BAD_FIELD',
                `data[action] '${action.slice(0, 20)}' of an unsubscribe event is not unsub, delete or archive.`
            );
        }
        case 'cleaned': {
            const target = personAndAudience(event);
            const why = (event.data.reason ?? '').trim().toLowerCase();
            return {
                kind: 'membership',
                ...target,
                status: 'Cleaned',
                reason: withCampaign(
                    CLEANED_REASONS[why] ??
                        (why
                            ? `Cleaned in Mailchimp: ${why}`
                            : 'Cleaned in Mailchimp'),
                    event
                ),
                onlyIfNew: false,
                firedAt: event.firedAt
            };
        }
        case 'subscribe':
        case 'profile': {
            const target = personAndAudience(event);
            return {
                kind: 'membership',
                ...target,
                status: 'Subscribed',
                reason: null,
                onlyIfNew: event.type === 'profile',
                firedAt: event.firedAt
            };
        }
        case 'upemail':
            return {
                kind: 'ignore',
                type: event.type,
                reason: 'Email address changes are not applied: the ledger identifies a person by email, and unsubscribes recorded for the old address stay.'
            };
        case 'campaign':
            return {
                kind: 'ignore',
                type: event.type,
                reason: 'Campaign events carry no subscription change.'
            };
    }
}
