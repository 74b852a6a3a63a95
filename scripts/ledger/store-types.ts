/**
 * The inputs and results of the ledger's domain store (store.ts): persons, audiences,
 * memberships, unsubscribes. Re-exported by ledger.ts, where callers import them.
 */
import type {
    LedgerSource,
    MembershipStatus,
    UnsubscribeScope
} from '../model/statuses';
import type {
    AudienceRecord,
    AuditAction,
    MembershipRecord,
    PersonRecord,
    UnsubscribeRecord
} from './types';

export interface UpsertPersonInput {
    email: string;
    /** 15 or 18 characters, Contact or Lead (R6). Omitted or null keeps the stored id. */
    salesforceId?: string | null;
}

export interface UpsertPersonResult {
    person: PersonRecord;
    created: boolean;
    /** True when an existing person's Salesforce id changed. */
    changed: boolean;
}

export interface UpsertAudienceResult {
    audience: AudienceRecord;
    created: boolean;
    /** True when an existing audience was renamed. */
    changed: boolean;
}

export interface SetMembershipInput {
    personId: number;
    audienceId: string;
    status: MembershipStatus;
    /** When the platform changed it; defaults to now. */
    changedAt?: string;
    source: LedgerSource;
    reason?: string | null;
    runId?: string | null;
    /** Audit action; default `import` for source import, else `membership_changed`. */
    auditAction?: AuditAction;
}

export type MembershipOutcome =
    /** New membership. */
    | 'created'
    /** Status changed (seq bumped). */
    | 'changed'
    /** Same status: nothing written. */
    | 'unchanged'
    /** Older than the stored change: nothing written. */
    | 'stale'
    /** Active audience unsubscribe; only `resubscribe` may lift it (R4): nothing written. */
    | 'blocked';

export interface SetMembershipResult {
    outcome: MembershipOutcome;
    membership: MembershipRecord | null;
    previous: MembershipStatus | null;
    /** The audience unsubscribe recorded because the status became Unsubscribed. */
    unsubscribeId: number | null;
}

export interface RecordUnsubscribeInput {
    /** The person, by email (created when unknown)… */
    email?: string;
    /** …or by ledger id. */
    personId?: number;
    /** Links the person to this Contact/Lead when given (R6). */
    salesforceId?: string | null;
    scope: UnsubscribeScope;
    /** Required for scope `audience`; must be known unless `audienceName` is given. */
    audienceId?: string | null;
    /** Creates the audience when unknown. */
    audienceName?: string | null;
    source: LedgerSource;
    reason?: string | null;
    /** When the ledger collected it; defaults to now. */
    collectedAt?: string;
    runId?: string | null;
}

export interface RecordUnsubscribeResult {
    outcome: 'recorded' | 'already';
    unsubscribe: UnsubscribeRecord;
    person: PersonRecord;
    personCreated: boolean;
    audienceCreated: boolean;
    /** An audience unsubscribe moved the membership to Unsubscribed. */
    membershipChanged: boolean;
}

export interface ResubscribeInput {
    email: string;
    /** Without an audience: the global unsubscribe. */
    audienceId?: string | null;
    reason: string;
    at?: string;
    runId?: string | null;
}

export interface ResubscribeResult {
    person: PersonRecord;
    /** The unsubscribes now marked removed (empty: nothing was active). */
    removed: UnsubscribeRecord[];
    /** For an audience: the membership moved from Unsubscribed to Subscribed. */
    membership: {
        audienceId: string;
        before: MembershipStatus;
        after: MembershipStatus;
    } | null;
}
