/**
 * What the webhook stores: Mailchimp events (see mailchimp.ts for the mapping) and the
 * JSON unsubscribes of `POST /unsubscribes`. Everything is validated before anything is
 * written, and each request is written in one ledger transaction, so a refused request
 * stores nothing. Every unsubscribe comes in with source `webhook`.
 */
import type { Ledger } from '../ledger/ledger';
import { OptoutError } from '../model/errors';
import {
    checkAudienceId,
    checkAudienceName,
    checkEmail,
    checkPersonId,
    cleanReason
} from '../model/statuses';
import { WebhookError, type ItemProblem } from './errors';
import type { MailchimpAction } from './mailchimp';

/** One unsubscribe of `POST /unsubscribes`, validated. */
export interface UnsubscribeItem {
    email: string;
    /** Null: from all email (global, R2). */
    audienceId: string | null;
    /** Creates the audience when the ledger does not know it. */
    audienceName: string | null;
    reason: string | null;
    salesforceId: string | null;
}

export interface IntakeOutcome {
    /** recorded/already: unsubscribes; applied/unchanged/stale/blocked: memberships; ignored. */
    outcome:
        | 'recorded'
        | 'already'
        | 'applied'
        | 'unchanged'
        | 'stale'
        | 'blocked'
        | 'ignored';
    email?: string;
    scope?: 'all' | 'audience';
    audienceId?: string | null;
    status?: string;
    unsubscribeId?: number;
    /** Salesforce confirmed it already (an earlier identical request). */
    delivered?: boolean;
    /** Why nothing changed, in words. */
    message?: string;
}

const ITEM_KEYS = [
    'email',
    'audienceId',
    'audienceName',
    'reason',
    'salesforceId'
] as const;

function optionalText(
    item: Record<string, unknown>,
    key: string,
    index: number,
    problems: ItemProblem[]
): string | null {
    const v = item[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') {
        problems.push({
            index,
            field: key,
            message: `${key} must be a string`
        });
        return null;
    }
    return v.trim() === '' ? null : v.trim();
}

/**
 * The body of `POST /unsubscribes`: one object or an array of 1..maxItems objects
 * `{ email, audienceId?, audienceName?, reason?, salesforceId? }`. Every problem of
 * every item is reported at once (400), with its index and field.
 */
export function parseUnsubscribeItems(
    body: unknown,
    maxItems: number
): UnsubscribeItem[] {
    const list = Array.isArray(body) ? body : [body];
    if (Array.isArray(body) && body.length === 0)
        throw new WebhookError(400, 'EMPTY_BATCH', 'The array is empty.');
    if (list.length > maxItems)
        throw new WebhookError(
            413,
            'BATCH_TOO_LARGE',
            `At most ${maxItems} unsubscribes per request; this one has ${list.length}. Split it.`
        );
    const problems: ItemProblem[] = [];
    const items: UnsubscribeItem[] = [];
    list.forEach((raw, index) => {
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
            problems.push({
                index,
                field: '',
                message:
                    'each unsubscribe must be an object like {"email":"ana@example.com"}'
            });
            return;
        }
        const item = raw as Record<string, unknown>;
        for (const key of Object.keys(item))
            if (!(ITEM_KEYS as readonly string[]).includes(key))
                problems.push({
                    index,
                    field: key,
                    message: `unknown field '${key.slice(0, 40)}' (allowed: ${ITEM_KEYS.join(', ')})`
                });
        const before = problems.length;
        let email = '';
        if (typeof item.email !== 'string' || item.email.trim() === '') {
            problems.push({
                index,
                field: 'email',
                message: 'email is required'
            });
        } else {
            const checked = checkEmail(item.email);
            if (checked.ok) email = checked.value.email;
            else
                problems.push({
                    index,
                    field: 'email',
                    message: checked.reason
                });
        }
        let audienceId = optionalText(item, 'audienceId', index, problems);
        if (audienceId !== null) {
            const checked = checkAudienceId(audienceId);
            if (checked.ok) audienceId = checked.value;
            else
                problems.push({
                    index,
                    field: 'audienceId',
                    message: checked.reason
                });
        }
        let audienceName = optionalText(item, 'audienceName', index, problems);
        if (audienceName !== null) {
            const checked = checkAudienceName(audienceName);
            if (!checked.ok)
                problems.push({
                    index,
                    field: 'audienceName',
                    message: checked.reason
                });
            else audienceName = checked.value;
            if (audienceId === null)
                problems.push({
                    index,
                    field: 'audienceName',
                    message: 'audienceName needs audienceId'
                });
        }
        const reason = optionalText(item, 'reason', index, problems);
        let salesforceId = optionalText(item, 'salesforceId', index, problems);
        if (salesforceId !== null) {
            const checked = checkPersonId(salesforceId);
            if (checked.ok) salesforceId = checked.value.id;
            else
                problems.push({
                    index,
                    field: 'salesforceId',
                    message: checked.reason
                });
        }
        if (problems.length === before)
            items.push({
                email,
                audienceId,
                audienceName,
                reason: cleanReason(reason),
                salesforceId
            });
    });
    if (problems.length)
        throw new WebhookError(
            400,
            'INVALID_UNSUBSCRIBE',
            problems.length === 1
                ? `Invalid unsubscribe: ${problems[0].field ? `${problems[0].field}: ` : ''}${problems[0].message}. Nothing was stored.`
                : `${problems.length} problems in the request; nothing was stored.`,
            problems.slice(0, 100)
        );
    return items;
}

async function unknownAudience(
    ledger: Ledger,
    ids: string[]
): Promise<WebhookError> {
    const known = (await ledger.listAudiences())
        .slice(0, 20)
        .map((a) => `${a.id} (${a.name})`);
    return new WebhookError(
        422,
        'UNKNOWN_AUDIENCE',
        `Audience${ids.length > 1 ? 's' : ''} ${ids.map((i) => `'${i}'`).join(', ')} ${ids.length > 1 ? 'are' : 'is'} not in the ledger; nothing was stored. ` +
            (known.length
                ? `Known audiences: ${known.join(', ')}. `
                : 'The ledger has no audiences yet. ') +
            'Name it when starting the server (optout serve --audience ID="Audience name"), import its members (optout import), or send audienceName with the unsubscribe.'
    );
}

/** Records the unsubscribes of one JSON request in one transaction. */
export async function recordUnsubscribeItems(
    ledger: Ledger,
    items: readonly UnsubscribeItem[]
): Promise<IntakeOutcome[]> {
    const missing = new Set<string>();
    for (const i of items)
        if (
            i.audienceId !== null &&
            i.audienceName === null &&
            !missing.has(i.audienceId) &&
            !(await ledger.getAudience(i.audienceId))
        )
            missing.add(i.audienceId);
    if (missing.size) throw await unknownAudience(ledger, [...missing]);
    const results = await ledger.recordUnsubscribes(
        items.map((i) => ({
            email: i.email,
            salesforceId: i.salesforceId,
            scope:
                i.audienceId === null
                    ? ('all' as const)
                    : ('audience' as const),
            audienceId: i.audienceId,
            audienceName: i.audienceName,
            source: 'webhook' as const,
            reason: i.reason
        }))
    );
    return results.map((r) => ({
        outcome: r.outcome,
        email: r.person.email,
        scope: r.unsubscribe.scope,
        audienceId: r.unsubscribe.audienceId,
        unsubscribeId: r.unsubscribe.id,
        delivered: r.unsubscribe.deliveredAt !== null,
        ...(r.outcome === 'already'
            ? {
                  message: `Already unsubscribed on ${r.unsubscribe.collectedAt}; nothing changed.`
              }
            : {})
    }));
}

/** A membership change may not be dated after now (a skewed clock would block later ones). */
function changeTime(firedAt: string | null, now: Date): string {
    const at = now.toISOString();
    return firedAt && firedAt < at ? firedAt : at;
}

/** Applies one Mailchimp event's action to the ledger (one transaction). */
export async function applyMailchimpAction(
    ledger: Ledger,
    action: MailchimpAction,
    now: Date = new Date()
): Promise<IntakeOutcome> {
    if (action.kind === 'ignore')
        return { outcome: 'ignored', message: action.reason };
    if (!(await ledger.getAudience(action.audienceId)))
        throw await unknownAudience(ledger, [action.audienceId]);
    if (action.kind === 'unsubscribe') {
        const [r] = await recordUnsubscribeItems(ledger, [
            {
                email: action.email,
                audienceId: action.audienceId,
                audienceName: null,
                reason: action.reason,
                salesforceId: null
            }
        ]);
        return r;
    }
    return ledger.transaction(async (): Promise<IntakeOutcome> => {
        const base = {
            email: action.email,
            audienceId: action.audienceId,
            status: action.status
        };
        const existing = await ledger.findPerson(action.email);
        const current =
            existing &&
            (await ledger.getMembership(existing.id, action.audienceId));
        if (action.onlyIfNew && current)
            return {
                ...base,
                status: current.status,
                outcome: 'unchanged',
                message: `A profile update carries no status; the membership stays ${current.status}.`
            };
        const person =
            existing ??
            (await ledger.upsertPerson({ email: action.email })).person;
        const r = await ledger.setMembershipStatus({
            personId: person.id,
            audienceId: action.audienceId,
            status: action.status,
            changedAt: changeTime(action.firedAt, now),
            source: 'webhook',
            reason: action.reason
        });
        switch (r.outcome) {
            case 'created':
            case 'changed':
                return { ...base, outcome: 'applied' };
            case 'unchanged':
                return {
                    ...base,
                    outcome: 'unchanged',
                    message: `The membership is already ${action.status}.`
                };
            case 'stale':
                return {
                    ...base,
                    status: r.membership?.status,
                    outcome: 'stale',
                    message: `The ledger has a later change (${r.membership?.changedAt}); this older event changes nothing.`
                };
            case 'blocked':
                return {
                    ...base,
                    status: 'Unsubscribed',
                    outcome: 'blocked',
                    message:
                        'The person is unsubscribed from this audience; only a deliberate `optout resubscribe` lifts that (R4). Nothing was changed.'
                };
        }
    });
}

/** Ledger input errors (bad email, id…) as the 400 the sender should get. */
export function asWebhookError(err: unknown): WebhookError | undefined {
    if (err instanceof WebhookError) return err;
    if (
        err instanceof OptoutError &&
        /^(BAD_|UNKNOWN_AUDIENCE|REASON)/.test(err.code)
    )
        return new WebhookError(
            err.code === 'UNKNOWN_AUDIENCE' ? 422 : 400,
            err.code,
            `${err.message} Nothing was stored.`
        );
    return undefined;
}
