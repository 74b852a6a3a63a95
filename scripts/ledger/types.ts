/**
 * Record types of the ledger API. Column names are snake_case in SQLite and camelCase
 * here; times are ISO-8601 UTC strings with milliseconds.
 */
import type {
    LedgerSource,
    MembershipStatus,
    UnsubscribeScope
} from '../model/statuses';

export interface PersonRecord {
    id: number;
    /** As first seen, trimmed. */
    email: string;
    /** Lower case: how emails are compared. */
    emailNorm: string;
    /** 18-character Contact (003) or Lead (00Q) id, or null. */
    salesforceId: string | null;
    createdAt: string;
    updatedAt: string;
}

export interface AudienceRecord {
    /** The platform's audience (list) id. */
    id: string;
    name: string;
    createdAt: string;
    updatedAt: string;
}

export interface MembershipRecord {
    personId: number;
    audienceId: string;
    status: MembershipStatus;
    changedAt: string;
    source: LedgerSource;
    reason: string | null;
    /** Global change counter: the hourly job upserts memberships with seq > cursor. */
    seq: number;
}

/** A membership change joined with its person and audience, as the hourly job needs it. */
export interface MembershipChange extends MembershipRecord {
    email: string;
    emailNorm: string;
    salesforceId: string | null;
    audienceName: string;
}

export interface UnsubscribeRecord {
    id: number;
    personId: number;
    scope: UnsubscribeScope;
    /** Null for a global (all audiences) unsubscribe. */
    audienceId: string | null;
    source: LedgerSource;
    reason: string | null;
    collectedAt: string;
    /** Set only after Salesforce confirmed the write (R11). */
    deliveredAt: string | null;
    deliveredRunId: string | null;
    /** Set only by a deliberate resubscribe (R4). */
    removedAt: string | null;
    removedReason: string | null;
    /** Delivery attempts so far (pushes, retries, deliveries). */
    attempts: number;
    lastAttemptAt: string | null;
    /**
     * What the last attempt found: `delivered`, `no_matching_record` or
     * `converted_lead_without_contact` (waiting for a record), `failed` (a transient
     * refusal), `rejected` / `dead_letter` (a permanent one, R14),
     * `pending_in_salesforce`, `record_linked` (re-opened: the person was linked to
     * another record); null before the first attempt.
     */
    lastOutcome: string | null;
    /** When a waiting unsubscribe is due for its next retry (null: at once). */
    nextAttemptAt: string | null;
    /** Permanent refusals in a row (R14); reset by a delivery, another outcome or a retry. */
    failures: number;
    /** Salesforce's status code, message and record of the last refused write (R14). */
    errorCode: string | null;
    errorMessage: string | null;
    errorRecordId: string | null;
    /** Set aside as a dead letter at (not retried until `optout retry`). */
    deadAt: string | null;
}

/** A membership's sync state (migration 2 and 3), as `optout history` shows it. */
export interface MembershipSyncState {
    /** Null when written (or never tried); else the last attempt's outcome. */
    syncOutcome: string | null;
    syncAttempts: number;
    lastAttemptAt: string | null;
    nextAttemptAt: string | null;
    syncFailures: number;
    syncErrorCode: string | null;
    syncErrorMessage: string | null;
    syncErrorRecordId: string | null;
    syncDeadAt: string | null;
}

/** What a refused write left on an unsubscribe or membership (R14). */
export interface AttemptError {
    /** Salesforce's status code (e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION). */
    code: string;
    message: string;
    /** The Contact, Lead or Audience_Membership__c (or its key) refused. */
    recordId: string | null;
    object?: string | null;
}

/** A record stuck after refused writes, for `optout status` and `optout retry`. */
export interface StuckRecord {
    kind: 'unsubscribe' | 'membership';
    /** The unsubscribe's id (null for a membership). */
    unsubscribeId: number | null;
    personId: number;
    email: string;
    /** The audience (null: a global unsubscribe). */
    audienceId: string | null;
    state: 'retrying' | 'dead_letter';
    errorCode: string;
    errorMessage: string | null;
    recordId: string | null;
    failures: number;
    attempts: number;
    lastAttemptAt: string | null;
    nextAttemptAt: string | null;
    deadAt: string | null;
}

/** An active, undelivered unsubscribe with what the push job needs to find the records. */
export interface PendingUnsubscribe extends UnsubscribeRecord {
    email: string;
    emailNorm: string;
    salesforceId: string | null;
    audienceName: string | null;
}

/**
 * Audit actions. The first eight are the sync's (SYNC-DESIGN); `membership_changed`
 * is a ledger-side membership status change that did not come from an import;
 * `unsubscribe_requeued` re-opens a delivered global unsubscribe for delivery when its
 * person is linked to another Salesforce record; `delivery_failed` is a write
 * Salesforce refused for an unsubscribe or membership, with its status code and
 * message (R10, R14); `retry_requested` is `optout retry` putting one back.
 */
export type AuditAction =
    | 'field_write'
    | 'unsubscribe_recorded'
    | 'unsubscribe_delivered'
    | 'resubscribe'
    | 'membership_written'
    | 'membership_from_salesforce'
    | 'pending_cleared'
    | 'import'
    | 'membership_changed'
    | 'unsubscribe_requeued'
    | 'delivery_failed'
    | 'retry_requested'
    | 'mailchimp_delivered'
    | 'mailchimp_skipped'
    /** An outbound notification (R15) a URL confirmed with a 2xx, or did not. */
    | 'notify_delivered'
    | 'notify_failed';

export interface AuditInput {
    action: AuditAction;
    /** Defaults to now. */
    at?: string;
    runId?: string | null;
    emailNorm?: string | null;
    personId?: number | null;
    /** A Salesforce record id, or the audience id for ledger-side entries. */
    recordId?: string | null;
    /** Salesforce object (Contact, Lead, Audience_Membership__c) or 'ledger'. */
    object?: string | null;
    field?: string | null;
    before?: string | null;
    after?: string | null;
    source?: LedgerSource | null;
    collectedAt?: string | null;
    writtenAt?: string | null;
    /** Push latency: written − collected (R10). Computed when both times are given. */
    latencyMs?: number | null;
    /** Free text or an object (stored as JSON). */
    detail?: string | Record<string, unknown> | null;
}

export interface AuditRecord {
    id: number;
    runId: string | null;
    at: string;
    action: AuditAction;
    emailNorm: string | null;
    personId: number | null;
    recordId: string | null;
    object: string | null;
    field: string | null;
    before: string | null;
    after: string | null;
    source: LedgerSource | null;
    collectedAt: string | null;
    writtenAt: string | null;
    latencyMs: number | null;
    detail: string | null;
}

export const RUN_STATUSES = [
    'running',
    'succeeded',
    'partial',
    'failed',
    'deferred',
    'skipped'
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunRecord {
    id: string;
    job: string;
    startedAt: string;
    finishedAt: string | null;
    status: RunStatus;
    dryRun: boolean;
    pid: number | null;
    /** The job's result object (JobResult), parsed from result_json. */
    result: unknown;
}

/** The last run of a job as `optout status` shows it. */
export interface RunSummary {
    job: string;
    runId: string;
    status: RunStatus;
    startedAt: string;
    finishedAt: string | null;
    durationMs: number | null;
    dryRun: boolean;
    /** From the result: API requests the run made and the org's usage after it (R12). */
    apiRequests: number | null;
    apiUsage: { used: number; max: number } | null;
    /** The result's counters (recordsWritten, failed, deferred, …). */
    summary: Record<string, number | string | null>;
}

export interface LockInfo {
    name: string;
    holder: string;
    pid: number;
    acquiredAt: string;
    heartbeatAt: string;
}

export type LockResult =
    | {
          acquired: true;
          lock: LockInfo;
          /** The previous holder when it was dead or stale. */
          takenOver?: { from: LockInfo; why: 'dead' | 'stale' };
      }
    | { acquired: false; heldBy: LockInfo };

/** A person and its active global unsubscribe, if any (the new-records check). */
export interface PersonGlobalUnsubscribe {
    personId: number;
    emailNorm: string;
    salesforceId: string | null;
    unsubscribeId: number | null;
    /** 1 when that unsubscribe was delivered, else 0 (and 0 without one). */
    delivered: number;
    source: LedgerSource | null;
    collectedAt: string | null;
}

/** An active global unsubscribe with what the nightly matches and writes it by. */
export interface ActiveGlobalUnsubscribe {
    id: number;
    personId: number;
    salesforceId: string | null;
    emailNorm: string;
    source: LedgerSource;
    collectedAt: string | null;
    lastOutcome: string | null;
    nextAttemptAt: string | null;
    deliveredAt: string | null;
}

/** A person to write to: its id, email and Salesforce link. */
export interface PersonTarget {
    personId: number;
    emailNorm: string;
    salesforceId: string | null;
}
