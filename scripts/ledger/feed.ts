/**
 * The suppression feed (R15): the ledger's unsubscribes added and removed, one item per
 * event of the append-only `suppression_events` table (migration 4), oldest first.
 *
 * The cursor is an opaque string that encodes the id of the last event a reader has
 * taken. Event ids come from AUTOINCREMENT (never reused) and SQLite commits one writer
 * at a time, so "events after id N" is stable across restarts and never skips or
 * repeats an event. Pure functions only: the ledger reads, this module decides.
 */
import { OptoutError } from '../model/errors';
import type { LedgerSource, UnsubscribeScope } from '../model/statuses';

/** `suppression_events.kind` (migration 4's CHECK). */
export const SUPPRESSION_EVENT_KINDS = ['added', 'removed'] as const;
export type SuppressionEventKind = (typeof SUPPRESSION_EVENT_KINDS)[number];

export const FEED_DEFAULT_LIMIT = 500;
export const FEED_MAX_LIMIT = 5000;

/** One feed item: an unsubscribe as it stood at the event. */
export interface SuppressionItem {
    email: string;
    scope: UnsubscribeScope;
    /** Null for a global (all audiences) unsubscribe. */
    audienceId: string | null;
    source: LedgerSource;
    reason: string | null;
    collectedAt: string;
    /** Set on the event that removed the unsubscribe (a resubscribe), else null. */
    removedAt: string | null;
}

/** A feed item with the id of its event (what the cursor and notifications use). */
export interface SuppressionEvent extends SuppressionItem {
    eventId: number;
}

export interface SuppressionPage {
    items: SuppressionEvent[];
    /** The cursor after the last item (the given one when the page is empty). */
    next: string;
}

const CURSOR_PREFIX = 'sup1.';

/** The opaque cursor after event `eventId` (0: before the first event). */
export function encodeCursor(eventId: number): string {
    return `${CURSOR_PREFIX}${Buffer.from(String(eventId), 'utf8').toString('base64url')}`;
}

function badCursor(detail: string): OptoutError {
    return new OptoutError(
        'BAD_CURSOR',
        `The cursor is not valid: ${detail}.`,
        {
            actions: [
                'Pass a cursor exactly as the feed returned it (its "next"), or none to start from the beginning'
            ],
            exitCode: 2
        }
    );
}

/**
 * The event id a cursor stands for. Empty or missing: 0 (from the beginning). A cursor
 * past `lastEventId` cannot come from this ledger (ids only grow), so it is refused
 * rather than silently waiting for events it would then skip.
 */
export function decodeCursor(
    cursor: string | null | undefined,
    lastEventId?: number
): number {
    if (cursor === undefined || cursor === null || cursor.trim() === '')
        return 0;
    const raw = cursor.trim();
    if (!raw.startsWith(CURSOR_PREFIX) || raw.length > 64)
        throw badCursor(`'${raw.slice(0, 40)}' is not a feed cursor`);
    const body = raw.slice(CURSOR_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(body))
        throw badCursor(`'${raw.slice(0, 40)}' is not a feed cursor`);
    const text = Buffer.from(body, 'base64url').toString('utf8');
    if (!/^(0|[1-9]\d{0,15})$/.test(text))
        throw badCursor(`'${raw.slice(0, 40)}' is not a feed cursor`);
    const id = Number(text);
    if (lastEventId !== undefined && id > lastEventId)
        throw badCursor(
            `it points past the last event of this ledger (${raw}); it comes from another ledger`
        );
    return id;
}

/** A page size from a query or option: default 500, 1…5000. */
export function parseFeedLimit(raw: string | number | undefined): number {
    if (raw === undefined || raw === '') return FEED_DEFAULT_LIMIT;
    const text = String(raw).trim();
    if (
        !/^\d{1,7}$/.test(text) ||
        Number(text) < 1 ||
        Number(text) > FEED_MAX_LIMIT
    )
        throw new OptoutError(
            'BAD_LIMIT',
            `The limit must be a whole number from 1 to ${FEED_MAX_LIMIT}, not '${text.slice(0, 20)}'.`,
            {
                actions: [
                    `Omit it for ${FEED_DEFAULT_LIMIT}, or pass e.g. limit=1000`
                ],
                exitCode: 2
            }
        );
    return Number(text);
}

/** The feed item without its event id (the HTTP feed and the export show this). */
export function feedItem(event: SuppressionEvent): SuppressionItem {
    return {
        email: event.email,
        scope: event.scope,
        audienceId: event.audienceId,
        source: event.source,
        reason: event.reason,
        collectedAt: event.collectedAt,
        removedAt: event.removedAt
    };
}
