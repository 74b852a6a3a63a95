/**
 * The ledger's reports: everything about one email (`optout history`), the counts of
 * `optout status`, the row count of every table (checks, copies), and the reads of the
 * suppression feed (its events are written with the unsubscribes, in store.ts).
 */
import {
    LEDGER_SOURCES,
    MEMBERSHIP_STATUSES,
    normalizeEmail,
    type LedgerSource,
    type MembershipStatus,
    type UnsubscribeScope
} from '../model/statuses';
import { auditForEmail } from './audit';
import type { LedgerContext } from './context';
import { countWaiting } from './delivery';
import {
    decodeCursor,
    encodeCursor,
    parseFeedLimit,
    type SuppressionEvent,
    type SuppressionPage
} from './feed';
import { lastRuns } from './runs';
import { WAITING_SQL } from './sql-columns';
import { findPerson, listMemberships, listUnsubscribes } from './store';
import {
    stuckDetail,
    stuckRecords,
    stuckSummary,
    type StuckDetail,
    type StuckSummary
} from './stuck';
import type {
    AuditRecord,
    MembershipRecord,
    MembershipSyncState,
    PersonRecord,
    RunSummary,
    UnsubscribeRecord
} from './types';

export interface HistoryReport {
    email: string;
    person: PersonRecord | null;
    memberships: (MembershipRecord &
        MembershipSyncState & { audienceName: string })[];
    unsubscribes: UnsubscribeRecord[];
    /** Of these, the ones Salesforce refused (R14), with why and what to do. */
    stuck: StuckDetail[];
    /** Ordered by time, oldest first. */
    audit: AuditRecord[];
}

export interface LedgerStatus {
    path: string;
    schemaVersion: number;
    persons: number;
    personsWithSalesforceId: number;
    audiences: number;
    memberships: {
        total: number;
        byStatus: Record<MembershipStatus, number>;
        /** Not in Salesforce yet: their person matches no record (retried hourly). */
        waitingForRecord: number;
    };
    unsubscribes: {
        active: number;
        byScope: Record<UnsubscribeScope, number>;
        bySource: Record<LedgerSource, number>;
        removed: number;
        delivered: number;
    };
    /** Active unsubscribes not yet confirmed by Salesforce. */
    pending: {
        count: number;
        global: number;
        audience: number;
        oldestCollectedAt: string | null;
        oldestAgeMs: number | null;
        /** Of these, waiting for a matching Salesforce record (retried with back-off). */
        waitingForRecord: number;
        /** The next retry of a waiting one, if any. */
        nextRetryAt: string | null;
    };
    /** Records Salesforce refused (R14): retrying with back-off, or dead letters. */
    stuck: StuckSummary;
    lastRuns: RunSummary[];
}

/** The ledger's tables that hold data (not its schema bookkeeping). */
export const LEDGER_TABLES = [
    'persons',
    'audiences',
    'memberships',
    'unsubscribes',
    'audit',
    'runs',
    'cursors',
    'locks',
    'mailchimp_deliveries',
    'suppression_events',
    'sf_record',
    'sf_membership',
    'sf_mirror_state'
] as const;
export type LedgerTable = (typeof LEDGER_TABLES)[number];
export type LedgerRowCounts = Record<LedgerTable, number>;

export async function schemaVersion(ctx: LedgerContext): Promise<number> {
    // Read-only: the table exists once the ledger is open (migrate created it).
    const row = (await ctx
        .stmt('SELECT MAX(version) AS v FROM schema_migrations')
        .get()) as { v: number | null };
    return row.v ?? 0;
}

export async function history(
    ctx: LedgerContext,
    email: string
): Promise<HistoryReport> {
    const person = (await findPerson(ctx, email)) ?? null;
    return {
        email: normalizeEmail(email),
        person,
        memberships: person ? await listMemberships(ctx, person.id) : [],
        unsubscribes: person ? await listUnsubscribes(ctx, person.id) : [],
        stuck: person
            ? (await stuckRecords(ctx, { email: person.emailNorm })).map(
                  stuckDetail
              )
            : [],
        audit: await auditForEmail(ctx, email)
    };
}

export async function status(ctx: LedgerContext): Promise<LedgerStatus> {
    const count = async (sql: string): Promise<number> =>
        ((await ctx.stmt(sql).get()) as { n: number }).n;
    const byStatus = Object.fromEntries(
        MEMBERSHIP_STATUSES.map((s) => [s, 0])
    ) as Record<MembershipStatus, number>;
    for (const row of (await ctx
        .stmt('SELECT status, COUNT(*) AS n FROM memberships GROUP BY status')
        .all()) as {
        status: MembershipStatus;
        n: number;
    }[])
        byStatus[row.status] = row.n;
    const byScope: Record<UnsubscribeScope, number> = {
        all: 0,
        audience: 0
    };
    const bySource = Object.fromEntries(
        LEDGER_SOURCES.map((s) => [s, 0])
    ) as Record<LedgerSource, number>;
    let active = 0;
    for (const row of (await ctx
        .stmt(
            `SELECT scope, source, COUNT(*) AS n FROM unsubscribes WHERE removed_at IS NULL GROUP BY scope, source`
        )
        .all()) as {
        scope: UnsubscribeScope;
        source: LedgerSource;
        n: number;
    }[]) {
        byScope[row.scope] += row.n;
        bySource[row.source] += row.n;
        active += row.n;
    }
    const pending = (await ctx
        .stmt(
            `SELECT COUNT(*) AS n, SUM(CASE WHEN scope = 'all' THEN 1 ELSE 0 END) AS g,
                    SUM(CASE WHEN scope = 'audience' THEN 1 ELSE 0 END) AS a,
                    MIN(collected_at) AS oldest
             FROM unsubscribes WHERE delivered_at IS NULL AND removed_at IS NULL`
        )
        .get()) as {
        n: number;
        g: number | null;
        a: number | null;
        oldest: string | null;
    };
    return {
        path: ctx.engine.location,
        schemaVersion: await schemaVersion(ctx),
        persons: await count('SELECT COUNT(*) AS n FROM persons'),
        personsWithSalesforceId: await count(
            'SELECT COUNT(*) AS n FROM persons WHERE salesforce_id IS NOT NULL'
        ),
        audiences: await count('SELECT COUNT(*) AS n FROM audiences'),
        memberships: {
            total: Object.values(byStatus).reduce((a, b) => a + b, 0),
            byStatus,
            waitingForRecord: await count(
                `SELECT COUNT(*) AS n FROM memberships WHERE sync_outcome IN ${WAITING_SQL}`
            )
        },
        unsubscribes: {
            active,
            byScope,
            bySource,
            removed: await count(
                'SELECT COUNT(*) AS n FROM unsubscribes WHERE removed_at IS NOT NULL'
            ),
            delivered: await count(
                'SELECT COUNT(*) AS n FROM unsubscribes WHERE delivered_at IS NOT NULL AND removed_at IS NULL'
            )
        },
        pending: {
            count: pending.n,
            global: pending.g ?? 0,
            audience: pending.a ?? 0,
            oldestCollectedAt: pending.oldest,
            oldestAgeMs: pending.oldest
                ? Math.max(0, ctx.now().getTime() - Date.parse(pending.oldest))
                : null,
            waitingForRecord: await countWaiting(ctx),
            nextRetryAt:
                (
                    (await ctx
                        .stmt(
                            `SELECT MIN(next_attempt_at) AS t FROM unsubscribes
                             WHERE delivered_at IS NULL AND removed_at IS NULL
                               AND last_outcome IN ${WAITING_SQL}`
                        )
                        .get()) as { t: string | null }
                ).t ?? null
        },
        stuck: await stuckSummary(ctx),
        lastRuns: await lastRuns(ctx)
    };
}

export async function rowCounts(ctx: LedgerContext): Promise<LedgerRowCounts> {
    const counts = {} as LedgerRowCounts;
    for (const table of LEDGER_TABLES)
        counts[table] = (
            (await ctx.stmt(`SELECT COUNT(*) AS n FROM ${table}`).get()) as {
                n: number;
            }
        ).n;
    return counts;
}

export async function lastSuppressionEventId(
    ctx: LedgerContext
): Promise<number> {
    const row = (await ctx
        .stmt('SELECT MAX(id) AS id FROM suppression_events')
        .get()) as { id: number | null };
    return row.id ?? 0;
}

export async function suppressionEvents(
    ctx: LedgerContext,
    afterId: number,
    limit: number
): Promise<SuppressionEvent[]> {
    return (await ctx
        .stmt(
            `SELECT e.id AS eventId, p.email AS email, u.scope AS scope,
                    u.audience_id AS audienceId, u.source AS source, u.reason AS reason,
                    u.collected_at AS collectedAt,
                    CASE WHEN e.kind = 'removed' THEN u.removed_at END AS removedAt
             FROM suppression_events e
             JOIN unsubscribes u ON u.id = e.unsubscribe_id
             JOIN persons p ON p.id = u.person_id
             WHERE e.id > ? ORDER BY e.id LIMIT ?`
        )
        .all(afterId, limit)) as SuppressionEvent[];
}

export async function countSuppressionEventsAfter(
    ctx: LedgerContext,
    afterId: number
): Promise<number> {
    return (
        (await ctx
            .stmt('SELECT COUNT(*) AS n FROM suppression_events WHERE id > ?')
            .get(afterId)) as { n: number }
    ).n;
}

export async function suppressionPage(
    ctx: LedgerContext,
    cursor: string | null | undefined,
    limit: string | number | undefined = undefined
): Promise<SuppressionPage> {
    const size = parseFeedLimit(limit);
    const after = decodeCursor(cursor, await lastSuppressionEventId(ctx));
    const items = await suppressionEvents(ctx, after, size);
    const last = items.length ? items[items.length - 1].eventId : after;
    return { items, next: encodeCursor(last) };
}
