/**
 * Stuck records (R14): what the sync does when Salesforce refuses one record.
 *
 * Salesforce answers a refused record in a Collections or Bulk write with a status code
 * per record (the API's StatusCode enum:
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm#statuscode).
 * A few codes mean "try again" (a row lock held by another transaction:
 * https://resources.docs.salesforce.com/194/latest/en-us/sfdc/pdf/record_locking_cheatsheet.pdf);
 * every other code is the org refusing that record — a validation rule, a trigger or
 * Flow, a duplicate rule, sharing — and sending it again changes nothing until an
 * admin fixes the cause. Such a record is retried with back-off, then set aside as a
 * dead letter that only `optout retry` puts back. Pure functions and data only: the
 * ledger, the sync and the CLI share them.
 */

export type RecordErrorKind = 'transient' | 'permanent';

/**
 * Per-record codes worth sending again as they are: locks, records Bulk did not
 * process (unprocessed rows, and every row of a job that failed as a whole, which
 * Salesforce never looked at), server-side hiccups reported per record, and our own
 * "no error reported".
 */
export const TRANSIENT_RECORD_ERRORS: readonly string[] = [
    'UNABLE_TO_LOCK_ROW',
    'UNPROCESSED',
    'BULK_JOB_FAILED',
    'REQUEST_LIMIT_EXCEEDED',
    'SERVER_UNAVAILABLE',
    'UNKNOWN_EXCEPTION',
    'UNKNOWN'
];

/** Whether sending a record again as it is may succeed (transient) or not (permanent). */
export function classifyRecordError(code: string): RecordErrorKind {
    return TRANSIENT_RECORD_ERRORS.includes(code.trim().toUpperCase())
        ? 'transient'
        : 'permanent';
}

/**
 * Back-off after the n-th consecutive permanent failure (n ≥ 1): 5 min, 30 min, 2 h,
 * 12 h. The DEAD_LETTER_AFTER-th failure sets the record aside instead. An admin who
 * fixes a rule within minutes sees the record go through at the next run or two; one
 * nobody fixes costs five attempts in about 15 hours, not one per run forever.
 */
export const STUCK_RETRY_DELAYS_MS: readonly number[] = [
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    12 * 3_600_000
];

/** Consecutive permanent failures after which a record is a dead letter. */
export const DEAD_LETTER_AFTER = 5;

/** True when `failures` consecutive permanent failures make a dead letter. */
export function isDeadLetter(failures: number): boolean {
    return failures >= DEAD_LETTER_AFTER;
}

/** The delay before the next try after `failures` consecutive permanent failures. */
export function stuckRetryDelay(failures: number): number {
    const i = Math.min(
        STUCK_RETRY_DELAYS_MS.length - 1,
        Math.max(0, failures - 1)
    );
    return STUCK_RETRY_DELAYS_MS[i];
}

/**
 * When a record that failed permanently `failures` times in a row (the last one at
 * `at`) is due again; null once it is a dead letter (not retried automatically).
 */
export function nextAttemptAt(failures: number, at: string): string | null {
    if (isDeadLetter(failures)) return null;
    return new Date(Date.parse(at) + stuckRetryDelay(failures)).toISOString();
}

/** Ledger outcomes of an attempt Salesforce refused for good (see migration 3). */
export const STUCK_OUTCOMES = ['rejected', 'dead_letter'] as const;
export type StuckOutcome = (typeof STUCK_OUTCOMES)[number];

/**
 * Whether an undelivered unsubscribe is held back now: a dead letter, or refused and
 * not due yet. Waiting for a record is decided elsewhere (WAITING_OUTCOMES).
 */
export function retryDeferred(
    u: { lastOutcome: string | null; nextAttemptAt: string | null },
    nowIso: string
): boolean {
    if (u.lastOutcome === 'dead_letter') return true;
    return (
        u.lastOutcome === 'rejected' &&
        u.nextAttemptAt !== null &&
        u.nextAttemptAt > nowIso
    );
}

// ------------------------------------------------------------ reason catalogue

export const STUCK_REASONS = [
    'validation_rule',
    'trigger_or_flow',
    'duplicate_rule',
    'no_access',
    'duplicate_external_id',
    'invalid_email',
    'other'
] as const;
export type StuckReason = (typeof STUCK_REASONS)[number];

export interface StuckReasonInfo {
    reason: StuckReason;
    title: string;
    /** The status codes that mean this reason. */
    codes: readonly string[];
    /** One line: what the admin does about it. */
    whatToDo: string;
}

/** The permission set that gives the integration user edit access to every Contact and Lead. */
export const MODIFY_ALL_PERMISSION_SET = 'Opt_Out_Sync_Integration_Modify_All';

export const STUCK_REASON_CATALOGUE: Record<StuckReason, StuckReasonInfo> = {
    validation_rule: {
        reason: 'validation_rule',
        title: 'A validation rule refuses the write',
        codes: ['FIELD_CUSTOM_VALIDATION_EXCEPTION'],
        whatToDo:
            'Change the validation rule named in the message so it lets the sync set the opt-out (add NOT($Permission.Opt_Out_Sync_Integration_User) to its condition), or fix the record; then optout retry --reason FIELD_CUSTOM_VALIDATION_EXCEPTION'
    },
    trigger_or_flow: {
        reason: 'trigger_or_flow',
        title: 'An Apex trigger, Flow or process refuses the write',
        codes: ['CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY'],
        whatToDo:
            "Fix the trigger or Flow named in the message, or have it skip the sync (FeatureManagement.checkPermission('Opt_Out_Sync_Integration_User') in Apex, $Permission.Opt_Out_Sync_Integration_User in a Flow); then optout retry --reason CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    },
    duplicate_rule: {
        reason: 'duplicate_rule',
        title: 'A duplicate rule blocks the write',
        codes: ['DUPLICATES_DETECTED'],
        whatToDo:
            'Set the matching duplicate rule to Allow on edit (the sync sends allowSave=true, so a Block rule must allow it) or merge the duplicates, then optout retry --reason DUPLICATES_DETECTED'
    },
    no_access: {
        reason: 'no_access',
        title: 'The integration user may not edit the record',
        codes: [
            'INSUFFICIENT_ACCESS_OR_READONLY',
            'INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY',
            'INSUFFICIENT_ACCESS'
        ],
        whatToDo: `Assign the ${MODIFY_ALL_PERMISSION_SET} permission set to the integration user (edit access to private Contacts and Leads), or make it the record's owner; then optout retry --reason INSUFFICIENT_ACCESS_OR_READONLY`
    },
    duplicate_external_id: {
        reason: 'duplicate_external_id',
        title: 'Two rows claim the same Membership_Key__c',
        codes: ['DUPLICATE_VALUE', 'DUPLICATE_EXTERNAL_ID'],
        whatToDo:
            'Delete or merge the Audience_Membership__c rows that share the key (or the two records behind it), then optout retry --reason DUPLICATE_VALUE'
    },
    invalid_email: {
        reason: 'invalid_email',
        title: 'Salesforce refuses the email address',
        codes: ['INVALID_EMAIL_ADDRESS'],
        whatToDo:
            'Correct the email on the Contact or Lead (or in the marketing platform), then optout retry --email ADDRESS'
    },
    other: {
        reason: 'other',
        title: 'Salesforce refuses the record for another reason',
        codes: [],
        whatToDo:
            'Read the message (optout history --email ADDRESS), fix the record or the org, then optout retry --reason CODE'
    }
};

/** The catalogue reason of a status code (`other` for codes it does not know). */
export function stuckReasonOf(code: string): StuckReason {
    const c = code.trim().toUpperCase();
    for (const reason of STUCK_REASONS)
        if (STUCK_REASON_CATALOGUE[reason].codes.includes(c)) return reason;
    return 'other';
}

/** One stuck record as `optout status` groups them. */
export interface StuckCount {
    errorCode: string;
    state: 'retrying' | 'dead_letter';
    count: number;
}

export interface StuckGroup {
    reason: StuckReason;
    title: string;
    whatToDo: string;
    /** Records stuck for this reason, by state. */
    retrying: number;
    deadLetters: number;
    /** Count by status code. */
    codes: Record<string, number>;
}

/** Groups counts by status code and state into catalogue reasons, most records first. */
export function groupStuck(counts: readonly StuckCount[]): StuckGroup[] {
    const groups = new Map<StuckReason, StuckGroup>();
    for (const c of counts) {
        const reason = stuckReasonOf(c.errorCode);
        const info = STUCK_REASON_CATALOGUE[reason];
        const g = groups.get(reason) ?? {
            reason,
            title: info.title,
            whatToDo: info.whatToDo,
            retrying: 0,
            deadLetters: 0,
            codes: {}
        };
        if (c.state === 'dead_letter') g.deadLetters += c.count;
        else g.retrying += c.count;
        g.codes[c.errorCode] = (g.codes[c.errorCode] ?? 0) + c.count;
        groups.set(reason, g);
    }
    return [...groups.values()].sort(
        (a, b) =>
            b.retrying + b.deadLetters - (a.retrying + a.deadLetters) ||
            STUCK_REASONS.indexOf(a.reason) - STUCK_REASONS.indexOf(b.reason)
    );
}

/**
 * What `optout retry --reason X` accepts: a catalogue reason (`validation_rule`) or a
 * status code (`FIELD_CUSTOM_VALIDATION_EXCEPTION`). Returns the codes to match, or
 * null for the `other` reason (every code outside the catalogue), or an error text.
 */
export function parseRetryReason(
    input: string
): { ok: true; codes: string[] | null } | { ok: false; reason: string } {
    const text = input.trim();
    if ((STUCK_REASONS as readonly string[]).includes(text.toLowerCase())) {
        const reason = text.toLowerCase() as StuckReason;
        return {
            ok: true,
            codes:
                reason === 'other'
                    ? null
                    : [...STUCK_REASON_CATALOGUE[reason].codes]
        };
    }
    if (/^[A-Z][A-Z0-9_]*$/.test(text)) return { ok: true, codes: [text] };
    return {
        ok: false,
        reason: `--reason must be a Salesforce status code (e.g. FIELD_CUSTOM_VALIDATION_EXCEPTION) or one of ${STUCK_REASONS.join(', ')}; got '${input}'`
    };
}
