/**
 * The connector's decisions, as pure functions: status mapping, the pull cursor, which
 * audiences a run covers, what a Mailchimp answer means for one unsubscribe, and when
 * to use a batch. The jobs (pull.ts, push.ts) apply them.
 */
import type { MembershipStatus } from '../model/statuses';

/**
 * Mailchimp member statuses → ledger statuses (the `Status__c` picklist).
 * https://mailchimp.com/developer/marketing/api/list-members/ (status enum).
 */
const STATUS_MAP: Record<string, MembershipStatus> = {
    subscribed: 'Subscribed',
    unsubscribed: 'Unsubscribed',
    cleaned: 'Cleaned',
    pending: 'Pending',
    transactional: 'Transactional',
    archived: 'Archived'
};

export function ledgerStatus(mailchimp: string): MembershipStatus | null {
    return STATUS_MAP[mailchimp.toLowerCase()] ?? null;
}

/**
 * `last_changed` has one-second resolution and `since_last_changed` is strictly after,
 * so a member changed in the same second as the newest one seen (or written while we
 * paged) would be missed by a cursor at the newest time: the cursor stays this far
 * behind. Re-reading a few members is harmless: the pull is idempotent.
 */
export const CURSOR_LOOKBACK_MS = 60_000;

/**
 * The cursor after a stored page: the newest `last_changed` seen minus the look-back,
 * never moving backwards. Times are ISO strings (UTC).
 */
export function nextCursor(
    previous: string | undefined,
    newestSeen: string | null,
    lookbackMs: number = CURSOR_LOOKBACK_MS
): string | undefined {
    if (newestSeen === null) return previous;
    const candidate = new Date(
        Date.parse(newestSeen) - lookbackMs
    ).toISOString();
    if (previous !== undefined && previous >= candidate) return previous;
    return candidate;
}

/** The cursor as `since_last_changed` wants it (ISO 8601, seconds, offset). */
export function sinceParam(cursor: string): string {
    return cursor.replace(/\.\d{3}Z$/, '+00:00').replace(/Z$/, '+00:00');
}

export interface ListInfo {
    id: string;
    name: string;
}

/**
 * The audiences a run covers: those the user named (each must exist in Mailchimp), or
 * every list when none was named.
 */
export function selectLists(
    lists: readonly ListInfo[],
    wanted: readonly string[]
): { ok: true; lists: ListInfo[] } | { ok: false; unknown: string[] } {
    if (wanted.length === 0) return { ok: true, lists: [...lists] };
    const byId = new Map(lists.map((l) => [l.id, l]));
    const unknown = wanted.filter((id) => !byId.has(id));
    if (unknown.length) return { ok: false, unknown };
    return {
        ok: true,
        lists: [...new Set(wanted)].map((id) => byId.get(id) as ListInfo)
    };
}

export type SendOutcome =
    | { kind: 'delivered' }
    /** Mailchimp's final refusal for this member: recorded, never re-sent. */
    | { kind: 'skipped'; reason: string }
    /** Transient (429, 5xx, no answer) after the retries: left for the next run. */
    | { kind: 'failed'; reason: string }
    /** The whole run cannot go on (bad key, no permission). */
    | { kind: 'fatal'; reason: string };

/** What a Mailchimp answer to `PATCH …/members/{hash}` means for the unsubscribe. */
export function sendOutcome(
    status: number,
    title: string,
    detail: string
): SendOutcome {
    const text = `${status} ${title}${detail ? `: ${detail}` : ''}`;
    if (status >= 200 && status < 300) return { kind: 'delivered' };
    if (status === 404)
        return {
            kind: 'skipped',
            reason: `not a member of this audience in Mailchimp (${text})`
        };
    if (status === 401 || status === 403)
        return { kind: 'fatal', reason: text };
    if (status === 0 || status === 429 || status >= 500)
        return { kind: 'failed', reason: text };
    return { kind: 'skipped', reason: `refused by Mailchimp (${text})` };
}

/** Above this many PATCHes a run sends one batch operation instead. */
export const BATCH_THRESHOLD = 100;

/** Operations per batch (Mailchimp takes large batches; smaller ones finish sooner). */
export const BATCH_SIZE = 1000;

export function useBatch(
    operations: number,
    threshold: number = BATCH_THRESHOLD
): boolean {
    return operations > threshold;
}

/** A batch operation's id names its unsubscribe and audience: `<unsubscribe id>:<list id>`. */
export function operationId(unsubscribeId: number, listId: string): string {
    return `${unsubscribeId}:${listId}`;
}

export function parseOperationId(
    raw: string | null | undefined
): { unsubscribeId: number; listId: string } | null {
    const m = /^(\d+):(.+)$/.exec(raw ?? '');
    return m ? { unsubscribeId: Number(m[1]), listId: m[2] } : null;
}
