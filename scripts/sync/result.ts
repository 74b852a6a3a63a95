/**
 * JobResult — what every job returns, prints with --json and stores in the ledger's
 * `runs.result_json` (SYNC-DESIGN "JobResult").
 */
import type { ApiUsage } from '../salesforce/meter';

export const JOBS = ['push', 'hourly', 'nightly'] as const;
export type JobName = (typeof JOBS)[number];

export type JobStatus =
    'succeeded' | 'partial' | 'failed' | 'deferred' | 'skipped';

/** A record that failed for good (after retries), with Salesforce's own error. */
export interface JobFailure {
    recordId: string | null;
    object: string;
    field?: string;
    errorCode: string;
    message: string;
    /** The person (email) the write was for, when known. */
    email?: string;
}

/** What a dry run would have done. */
export interface DryRunPlan {
    fieldWrites: number;
    membershipUpserts: number;
    ledgerUnsubscribes: number;
    pendingCleared: number;
    deliveries: number;
    /** Up to 20 of the writes, for a look. */
    sample: Record<string, unknown>[];
}

export interface JobResult {
    job: JobName;
    runId: string;
    dryRun: boolean;
    targetOrg: string;
    startedAt: string;
    durationMs: number;
    /** HTTP requests this run made (every attempt, page and poll). */
    apiRequests: number;
    /** The org's daily API usage after the run (Sforce-Limit-Info). */
    apiUsage: ApiUsage | null;
    /** Contact/Lead opt-out field writes confirmed by Salesforce. */
    recordsWritten: number;
    /** Unsubscribes added to the ledger (from Salesforce). */
    ledgerUnsubscribesAdded: number;
    /** Audience_Membership__c rows created or updated. */
    membershipsUpserted: number;
    /** Ledger unsubscribes marked delivered (Salesforce confirmed). */
    unsubscribesDelivered: number;
    /** Counts by reason of what was not written and why (nothing to change, no record, …). */
    skipped: Record<string, number>;
    failed: JobFailure[];
    retried: { requests: number; records: number };
    /** Work left for the next run because the API budget ran out (R12); null otherwise. */
    deferred: { count: number; reason: string } | null;
    status: JobStatus;
    /** The settings the run used (R1). */
    settings?: {
        source: 'org-default' | 'defaults';
        nightlySyncEnabled: boolean;
        optOutField: string;
        fieldWritten: string;
        allAudiencesRule: boolean;
        applyToSameEmail: boolean;
    };
    /** How records were read and written: 'lookup' | 'scan' and 'collections' | 'bulk'. */
    modes?: Record<string, string>;
    /**
     * Nightly only (R16): which reconciliation ran and why — full (every Contact and
     * Lead) or incremental (records changed since `since`, and the records of the
     * `ledgerPersons` persons changed in the ledger) — and how many records it read.
     */
    reconciliation?: {
        mode: 'full' | 'incremental';
        reason: string;
        since?: string;
        recordsRead: number;
        ledgerPersons: number | null;
    };
    /** Dry run only: what would have been written. */
    plan?: DryRunPlan;
    /** Records Salesforce refused, in the ledger after the run (R14; optout status). */
    stuck?: { retrying: number; deadLetters: number };
    /** Why the run was skipped or could not run. */
    message?: string;
    error?: { code: string; message: string; actions: string[] };
}

/** Mutable result under construction. */
export class ResultBuilder {
    readonly result: JobResult;
    private readonly sampleLimit = 20;

    constructor(init: {
        job: JobName;
        runId: string;
        dryRun: boolean;
        targetOrg: string;
        startedAt: string;
    }) {
        this.result = {
            ...init,
            durationMs: 0,
            apiRequests: 0,
            apiUsage: null,
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0,
            membershipsUpserted: 0,
            unsubscribesDelivered: 0,
            skipped: {},
            failed: [],
            retried: { requests: 0, records: 0 },
            deferred: null,
            status: 'succeeded',
            ...(init.dryRun
                ? {
                      plan: {
                          fieldWrites: 0,
                          membershipUpserts: 0,
                          ledgerUnsubscribes: 0,
                          pendingCleared: 0,
                          deliveries: 0,
                          sample: []
                      }
                  }
                : {})
        };
    }

    skip(reason: string, n = 1): void {
        if (n <= 0) return;
        this.result.skipped[reason] = (this.result.skipped[reason] ?? 0) + n;
    }

    fail(f: JobFailure): void {
        this.result.failed.push(f);
    }

    mode(what: string, how: string): void {
        this.result.modes ??= {};
        this.result.modes[what] = how;
    }

    /** Dry run: count a would-be write and keep a few as a sample. */
    plan(
        kind: keyof Omit<DryRunPlan, 'sample'>,
        n: number,
        sample?: Record<string, unknown>[]
    ): void {
        const p = this.result.plan;
        if (!p) return;
        p[kind] += n;
        for (const s of sample ?? []) {
            if (p.sample.length >= this.sampleLimit) break;
            p.sample.push(s);
        }
    }
}

/** The final status from what happened. */
export function finalStatus(
    r: Pick<JobResult, 'failed' | 'deferred'>
): JobStatus {
    if (r.deferred) return 'deferred';
    if (r.failed.length > 0) return 'partial';
    return 'succeeded';
}

/**
 * Exit statuses of `optout sync`. 0 and 2 as every command (success, usage error); 1:
 * the job could not run; 3: the run was partial — Salesforce refused some records
 * (listed under `failed`, kept in the ledger to retry or as dead letters, R14) and
 * everything else was delivered. A distinct code lets a scheduler tell "the sync is
 * broken" (1) from "some records need an admin" (3).
 */
export const EXIT_FAILED = 1;
export const EXIT_PARTIAL = 3;

export function exitCodeFor(r: Pick<JobResult, 'status' | 'failed'>): number {
    if (r.status === 'failed') return EXIT_FAILED;
    if (r.status === 'partial' || r.failed.length > 0) return EXIT_PARTIAL;
    return 0;
}
