/**
 * The ledger: the marketing side's store (SYNC-DESIGN "Ledger"), on SQLite (a file, the
 * embedded default) or PostgreSQL (a `postgres://` URL), behind one asynchronous API.
 * Every write runs in a transaction (sql/engine.ts: write transactions run one at a
 * time; nested ones are savepoints).
 *
 * Invariants kept here so that no caller can break them:
 * - an email is one person (compared lower case, `email_norm`);
 * - at most one active global unsubscribe per person and one per (person, audience);
 *   recording one that is already active writes nothing and answers "already";
 * - an audience unsubscribe sets the membership to Unsubscribed, and a membership set
 *   to Unsubscribed records the audience unsubscribe; while that unsubscribe is active
 *   the membership cannot move to another status (R4) — only `resubscribe` lifts it;
 * - unsubscribes are never deleted: `resubscribe` marks them removed, audited (R4);
 * - every membership change takes the next value of one global counter (`seq`), so the
 *   hourly job can take "changes since the cursor" (R5a).
 *
 * Reading many rows: the `*Batches`/`iterate*` helpers page with keyset queries and
 * return plain arrays, so callers may write to the ledger between batches.
 *
 * This file holds the `Ledger` class — opening, closing, transactions — and delegates
 * each method to the module of its section, which holds the SQL:
 * - store.ts: persons, audiences, memberships, unsubscribes, resubscribe (the invariants
 *   above; inputs and results in store-types.ts); import-batch.ts: an import's rows;
 * - delivery.ts: what the push and the hourly job take, their attempts, deliveries;
 * - stuck.ts: refused records (R14); audit.ts: the audit trail (R10);
 * - runs.ts: runs and cursors; lock-store.ts: cross-process locks;
 * - job-reads.ts: batched reads for the sync; reports.ts: history, status, row counts,
 *   the suppression feed.
 * They share context.ts (engine, clock, transaction state) and sql-columns.ts. The
 * methods' contracts are documented here; the modules document their internals.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OptoutError, errorMessage } from '../model/errors';
import type { LedgerSource, UnsubscribeScope } from '../model/statuses';
import type { StuckCount } from '../model/stuck';
import * as audit from './audit';
import { LedgerContext } from './context';
import * as delivery from './delivery';
import type { UnsubscribeSelection } from './delivery';
import type { SuppressionEvent, SuppressionPage } from './feed';
import * as batch from './import-batch';
import type { ImportBatchResult, ImportRecord } from './import-batch';
import * as jobReads from './job-reads';
import * as locks from './lock-store';
import type { AcquireLockOptions } from './lock-store';
import { parseLedgerLocation } from './location';
import * as mirror from './mirror';
import type {
    MirrorMembership,
    MirrorPage,
    MirrorPersonRef,
    MirrorRecord,
    MirrorState,
    MirrorStateInput,
    MirroredObject
} from './mirror';
import {
    LATEST_SCHEMA_VERSION,
    MIGRATIONS,
    migrate,
    type Migration
} from './migrations';
import { POSTGRES_MIGRATIONS } from './migrations-postgres';
import * as reports from './reports';
import type { HistoryReport, LedgerRowCounts, LedgerStatus } from './reports';
import * as runs from './runs';
import type { EngineKind, SqlEngine } from './sql/engine';
import { PostgresEngine } from './sql/postgres';
import { SqliteEngine } from './sql/sqlite';
import * as store from './store';
import type {
    RecordUnsubscribeInput,
    RecordUnsubscribeResult,
    ResubscribeInput,
    ResubscribeResult,
    SetMembershipInput,
    SetMembershipResult,
    UpsertAudienceResult,
    UpsertPersonInput,
    UpsertPersonResult
} from './store-types';
import * as stuck from './stuck';
import type { StuckFilter, StuckSummary } from './stuck';
import type {
    ActiveGlobalUnsubscribe,
    AttemptError,
    AudienceRecord,
    AuditInput,
    AuditRecord,
    LockInfo,
    LockResult,
    MembershipChange,
    MembershipRecord,
    MembershipSyncState,
    PendingUnsubscribe,
    PersonGlobalUnsubscribe,
    PersonRecord,
    PersonTarget,
    RunRecord,
    RunStatus,
    RunSummary,
    StuckRecord,
    UnsubscribeRecord
} from './types';

// What callers import from here that now lives in a section's module.
export type {
    MembershipOutcome,
    RecordUnsubscribeInput,
    RecordUnsubscribeResult,
    ResubscribeInput,
    ResubscribeResult,
    SetMembershipInput,
    SetMembershipResult,
    UpsertAudienceResult,
    UpsertPersonInput,
    UpsertPersonResult
} from './store-types';
export type { ImportBatchResult, ImportRecord } from './import-batch';
export type { UnsubscribeSelection } from './delivery';
export type { StuckDetail, StuckFilter, StuckSummary } from './stuck';
export type { AcquireLockOptions } from './lock-store';
export type {
    MirrorDeletion,
    MirrorMembership,
    MirrorPage,
    MirrorPersonRef,
    MirrorRecord,
    MirrorState,
    MirrorStateInput,
    MirroredObject
} from './mirror';
export { LEDGER_TABLES } from './reports';
export type {
    HistoryReport,
    LedgerRowCounts,
    LedgerStatus,
    LedgerTable
} from './reports';
export { summarizeRun } from './runs';

export interface LedgerOptions {
    /** Clock for default times (tests). */
    now?: () => Date;
    /** How long to wait for another process's write lock; default 5000 ms. */
    busyTimeoutMs?: number;
    /** Migrations to apply (tests of the migration runner only). */
    migrations?: readonly Migration[];
}

/**
 * The SQLite ledger's page cache, KiB (`cache_size` in its negative form): SQLite's own
 * default of 2 MiB rather than the 16 MiB better-sqlite3 builds it with. The file's pages
 * stay in the operating system's file cache (outside the process) either way; a larger
 * cache only added up to 14 MiB to the resident memory of every job (issue 14: a sync
 * job's peak resident set ≤ 200 MiB).
 */
export const SQLITE_LEDGER_CACHE_KIB = 2000;

/** Opens (creating when needed) a SQLite ledger file, or `:memory:`, and migrates it. */
function openSqlite(
    full: string,
    memory: boolean,
    options: LedgerOptions
): SqliteEngine {
    if (!memory) mkdirSync(dirname(full), { recursive: true });
    let db: Database.Database;
    try {
        db = new Database(full);
    } catch (err) {
        throw new OptoutError(
            'LEDGER_OPEN_FAILED',
            `Cannot open the ledger ${full}: ${errorMessage(err)}`,
            {
                actions: [
                    'Check the path and its permissions (--ledger or OPTOUT_LEDGER)'
                ],
                cause: err
            }
        );
    }
    try {
        db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
        db.pragma(`cache_size = -${SQLITE_LEDGER_CACHE_KIB}`);
        if (!memory) {
            db.pragma('journal_mode = WAL');
            db.pragma('synchronous = NORMAL');
        }
        db.pragma('foreign_keys = ON');
        migrate(db, full, options.migrations ?? MIGRATIONS);
    } catch (err) {
        db.close();
        if (err instanceof OptoutError) throw err;
        throw new OptoutError(
            'LEDGER_OPEN_FAILED',
            `Cannot use ${full} as a ledger: ${errorMessage(err)}`,
            {
                actions: [
                    'Point --ledger (or OPTOUT_LEDGER) at an optout ledger file or a new path'
                ],
                cause: err
            }
        );
    }
    return new SqliteEngine(db, full);
}

/**
 * The engine of a ledger, for the modules of ledger/ and their tests only (not
 * exported from ledger/index.ts; eslint.config.js forbids it elsewhere).
 */
export function engineOf(ledger: Ledger): SqlEngine {
    // Bracket access reaches a private member by design (TypeScript's escape hatch).
    return ledger['engine'];
}

/**
 * The SQLite connection of a SQLite ledger, for the ledger's own tests (pragmas, a
 * table written by an old release). Not exported from ledger/index.ts.
 */
export function connectionOf(ledger: Ledger): Database.Database {
    const engine = engineOf(ledger);
    if (!(engine instanceof SqliteEngine))
        throw new Error(`not a SQLite ledger: ${engine.location}`);
    return engine.db;
}

export class Ledger {
    /**
     * The engine (SQLite or PostgreSQL). Private: all SQL on the ledger's tables lives
     * in ledger/ (modules there reach it through `engineOf`); the sync's scratch tables
     * live in its own workspace (sync/workspace.ts).
     */
    private readonly engine: SqlEngine;
    /** The engine and the clock, as the section modules take them. */
    private readonly ctx: LedgerContext;
    /** Where the ledger is: a file path, or a PostgreSQL URL with its password masked. */
    readonly path: string;
    readonly engineKind: EngineKind;

    private constructor(engine: SqlEngine, options: LedgerOptions) {
        this.engine = engine;
        this.ctx = new LedgerContext(engine, options.now ?? (() => new Date()));
        this.path = engine.location;
        this.engineKind = engine.kind;
    }

    /**
     * Opens the ledger at `location` — a file path, `:memory:`, or a `postgres://` /
     * `postgresql://` URL — creating and migrating it to the current schema. Refuses
     * a ledger written by a newer optout, and any other URL scheme.
     */
    static async open(
        location: string,
        options: LedgerOptions = {}
    ): Promise<Ledger> {
        const memory = location === ':memory:' || location === '';
        const parsed = memory
            ? ({ kind: 'sqlite', path: location } as const)
            : parseLedgerLocation(location);
        if (parsed.kind === 'postgres') {
            const { engine } = await PostgresEngine.open(
                parsed.url,
                options.migrations ?? POSTGRES_MIGRATIONS,
                { busyTimeoutMs: options.busyTimeoutMs }
            );
            return new Ledger(engine, options);
        }
        return new Ledger(openSqlite(parsed.path, memory, options), options);
    }

    async close(): Promise<void> {
        await this.engine.close();
    }

    /** The schema version of the open ledger. */
    async schemaVersion(): Promise<number> {
        return reports.schemaVersion(this.ctx);
    }

    static readonly LATEST_SCHEMA_VERSION = LATEST_SCHEMA_VERSION;

    /**
     * Runs `fn` in one write transaction: every ledger call `fn` awaits is part of it
     * (nested calls become savepoints). Use it to make several API calls atomic, e.g.
     * apply Salesforce changes and set a cursor. Write transactions run one at a time
     * (see sql/engine.ts); a writer that waits longer than `busyTimeoutMs` gets
     * LedgerBusy.
     */
    async transaction<T>(fn: () => Promise<T>): Promise<T> {
        return this.engine.transaction(fn);
    }

    // -------------------- persons, audiences, memberships, unsubscribes (store.ts)

    /** Creates the person for this email or updates its Salesforce id. */
    async upsertPerson(input: UpsertPersonInput): Promise<UpsertPersonResult> {
        return store.upsertPerson(this.ctx, input);
    }

    /**
     * Persons with a new Salesforce record (created, converted, linked): their
     * memberships take new seqs (the hourly job writes them to every record, R5a) and
     * their undelivered unsubscribes are due at once. Returns how many persons.
     */
    async requeuePersons(personIds: readonly number[]): Promise<number> {
        return store.requeuePersons(this.ctx, personIds);
    }

    /** The person with this email, compared case-insensitively. */
    async findPerson(email: string): Promise<PersonRecord | undefined> {
        return store.findPerson(this.ctx, email);
    }

    async getPerson(id: number): Promise<PersonRecord | undefined> {
        return store.getPerson(this.ctx, id);
    }

    /** Persons linked to this Contact/Lead id (15 or 18 characters). */
    async findPersonsBySalesforceId(id: string): Promise<PersonRecord[]> {
        return store.findPersonsBySalesforceId(this.ctx, id);
    }

    /** Creates the audience or renames it. */
    async upsertAudience(input: {
        id: string;
        name: string;
    }): Promise<UpsertAudienceResult> {
        return store.upsertAudience(this.ctx, input);
    }

    async getAudience(id: string): Promise<AudienceRecord | undefined> {
        return store.getAudience(this.ctx, id);
    }

    async listAudiences(): Promise<AudienceRecord[]> {
        return store.listAudiences(this.ctx);
    }

    /** The audience, or an UNKNOWN_AUDIENCE error that lists the known ones. */
    async requireAudience(id: string): Promise<AudienceRecord> {
        return store.requireAudience(this.ctx, id);
    }

    async getMembership(
        personId: number,
        audienceId: string
    ): Promise<MembershipRecord | undefined> {
        return store.getMembership(this.ctx, personId, audienceId);
    }

    async listMemberships(
        personId: number
    ): Promise<
        (MembershipRecord & MembershipSyncState & { audienceName: string })[]
    > {
        return store.listMemberships(this.ctx, personId);
    }

    /**
     * Sets a membership's status. Unchanged → nothing written; older than the stored
     * change → `stale`; away from Unsubscribed while the audience unsubscribe is
     * active → `blocked` (R4). Becoming Unsubscribed records the audience unsubscribe.
     */
    async setMembershipStatus(
        input: SetMembershipInput
    ): Promise<SetMembershipResult> {
        return store.setMembershipStatus(this.ctx, input);
    }

    async getUnsubscribe(id: number): Promise<UnsubscribeRecord | undefined> {
        return store.getUnsubscribe(this.ctx, id);
    }

    /** Every unsubscribe of a person, removed ones included, oldest first. */
    async listUnsubscribes(personId: number): Promise<UnsubscribeRecord[]> {
        return store.listUnsubscribes(this.ctx, personId);
    }

    /**
     * Records an unsubscribe (global, or one audience). Already active → `already` and
     * the unsubscribe is left as it is (a Salesforce id given links the person, R6). An
     * audience unsubscribe also sets the membership Unsubscribed.
     */
    async recordUnsubscribe(
        input: RecordUnsubscribeInput
    ): Promise<RecordUnsubscribeResult> {
        return store.recordUnsubscribe(this.ctx, input);
    }

    /** Several unsubscribes in one transaction (a webhook micro-batch, a nightly page). */
    async recordUnsubscribes(
        inputs: RecordUnsubscribeInput[]
    ): Promise<RecordUnsubscribeResult[]> {
        return store.recordUnsubscribes(this.ctx, inputs);
    }

    /**
     * The deliberate, audited removal of an unsubscribe (R4): marks the active global
     * (or audience) unsubscribe removed — never a DELETE — and, for an audience, moves
     * the membership back to Subscribed. Never touches Salesforce. An empty `removed`
     * means nothing was active. Throws UNKNOWN_EMAIL for an email the ledger lacks.
     */
    async resubscribe(input: ResubscribeInput): Promise<ResubscribeResult> {
        return store.resubscribe(this.ctx, input);
    }

    // ---------------------------------------------------- import (import-batch.ts)

    /**
     * Applies validated import rows in one transaction: persons, audiences, membership
     * statuses (Unsubscribed rows record the audience unsubscribe). Call it with
     * batches of a few thousand rows; see import.ts for validation.
     */
    async importBatch(
        rows: readonly ImportRecord[],
        options: { source: LedgerSource; runId?: string | null }
    ): Promise<ImportBatchResult> {
        return batch.importBatch(this.ctx, rows, options);
    }

    // --------------------------------------------- delivery attempts (delivery.ts)

    /**
     * Active unsubscribes not yet delivered, oldest id first, with person data.
     * `select`: `all` (default); `pushable` — what the push takes: everything except
     * those waiting for a matching Salesforce record (unless re-opened, next attempt
     * null), dead letters and refused ones not due by `dueBy` (R14); `waiting` — those
     * waiting whose next attempt is due by `dueBy`.
     */
    async undeliveredUnsubscribes(
        options: {
            scope?: UnsubscribeScope;
            afterId?: number;
            limit?: number;
            select?: UnsubscribeSelection;
            /** For `waiting`: due at or before this time (default now). */
            dueBy?: string;
        } = {}
    ): Promise<PendingUnsubscribe[]> {
        return delivery.undeliveredUnsubscribes(this.ctx, options);
    }

    /** Batches of undelivered unsubscribes; writing (markDelivered) between batches is allowed. */
    undeliveredUnsubscribeBatches(
        options: {
            scope?: UnsubscribeScope;
            batchSize?: number;
            select?: UnsubscribeSelection;
            dueBy?: string;
        } = {}
    ): AsyncGenerator<PendingUnsubscribe[]> {
        return delivery.undeliveredUnsubscribeBatches(this.ctx, options);
    }

    /** How many the push would take now (see `undeliveredUnsubscribes`, `pushable`). */
    async countPushable(dueBy?: string): Promise<number> {
        return delivery.countPushable(this.ctx, dueBy);
    }

    /** How many undelivered unsubscribes wait for a matching Salesforce record (due by `dueBy`, if given). */
    async countWaiting(
        options: { scope?: UnsubscribeScope; dueBy?: string } = {}
    ): Promise<number> {
        return delivery.countWaiting(this.ctx, options);
    }

    /**
     * Records what delivery attempts found (not deliveries: `markDelivered` does those).
     * A waiting outcome (no matching record yet) is retried after `delay(attempts)` ms.
     * `failed` with an error is classified (R14): a transient one is due again at once;
     * a permanent one is `rejected`, counted, retried with back-off (nextAttemptAt) and
     * after DEAD_LETTER_AFTER in a row a `dead_letter`; each is audited with Salesforce's
     * code and message (`delivery_failed`, R10). Any other outcome is due at once.
     */
    async recordUnsubscribeAttempts(
        attempts: readonly {
            id: number;
            outcome: string;
            error?: AttemptError | null;
        }[],
        options: {
            at: string;
            delay: (attempts: number) => number;
            runId?: string | null;
        }
    ): Promise<void> {
        return delivery.recordUnsubscribeAttempts(this.ctx, attempts, options);
    }

    /**
     * Memberships whose last sync attempt left them to retry (no matching record yet, or
     * a failed write) and that are due by `dueBy`, with seq ≤ `maxSeq` (later changes
     * are taken through the cursor), oldest seq first.
     */
    membershipRetryBatches(options: {
        dueBy: string;
        maxSeq: number;
        batchSize?: number;
    }): AsyncGenerator<MembershipChange[]> {
        return delivery.membershipRetryBatches(this.ctx, options);
    }

    /** How many memberships are due for a retry (see `membershipRetryBatches`). */
    async countMembershipRetries(options: {
        dueBy: string;
        maxSeq: number;
    }): Promise<number> {
        return delivery.countMembershipRetries(this.ctx, options);
    }

    /**
     * Records the hourly job's attempts on memberships: a waiting outcome (no record)
     * is retried after `delay(attempts)`; `failed` with an error is classified as for
     * unsubscribes (R14: transient → the next run, permanent → back-off, then a dead
     * letter; audited); `failed` without one → the next run; null clears the state
     * (written or already equal). The seq is not touched.
     */
    async recordMembershipAttempts(
        attempts: readonly {
            personId: number;
            audienceId: string;
            outcome: string | null;
            error?: AttemptError | null;
        }[],
        options: {
            at: string;
            delay: (attempts: number) => number;
            runId?: string | null;
        }
    ): Promise<void> {
        return delivery.recordMembershipAttempts(this.ctx, attempts, options);
    }

    /** How many active unsubscribes wait for delivery. */
    async countUndelivered(scope?: UnsubscribeScope): Promise<number> {
        return delivery.countUndelivered(this.ctx, scope);
    }

    /**
     * Marks unsubscribes delivered after Salesforce confirmed the write (R11), with an
     * `unsubscribe_delivered` audit entry and its latency (R10). Already delivered or
     * removed ones are left alone. Returns how many were marked.
     */
    async markDelivered(
        ids: readonly number[],
        options: {
            runId: string;
            deliveredAt?: string;
            detail?: Record<string, unknown>;
        }
    ): Promise<number> {
        return delivery.markDelivered(this.ctx, ids, options);
    }

    // ----------------------------------------------- stuck records, R14 (stuck.ts)

    /** Stuck unsubscribes and memberships matching a filter, oldest attempt first. */
    async stuckRecords(filter: StuckFilter = {}): Promise<StuckRecord[]> {
        return stuck.stuckRecords(this.ctx, filter);
    }

    /** Stuck records by status code and state (R14), for `optout status`. */
    async stuckCounts(): Promise<StuckCount[]> {
        return stuck.stuckCounts(this.ctx);
    }

    /**
     * `optout retry`: puts the stuck records matching the filter back — dead letters
     * and refused ones waiting for their back-off alike: their failure count is reset
     * and they are due now, so the next push (unsubscribes) or hourly run (memberships)
     * sends them again. Audited (`retry_requested`). Returns what was put back.
     */
    async retryStuck(
        filter: StuckFilter,
        options: { at?: string; runId?: string | null } = {}
    ): Promise<StuckRecord[]> {
        return stuck.retryStuck(this.ctx, filter, options);
    }

    /** Stuck records grouped by reason, with examples (see StuckSummary). */
    async stuckSummary(): Promise<StuckSummary> {
        return stuck.stuckSummary(this.ctx);
    }

    // ------------------------------------------------------------ audit (audit.ts)

    /** Appends one audit entry (R10). */
    async appendAudit(entry: AuditInput): Promise<number> {
        return audit.appendAudit(this.ctx, entry);
    }

    /** Appends many audit entries in one transaction. */
    async appendAudits(entries: readonly AuditInput[]): Promise<void> {
        return audit.appendAudits(this.ctx, entries);
    }

    /** The audit trail of an email (case-insensitive), oldest first. */
    async auditForEmail(email: string): Promise<AuditRecord[]> {
        return audit.auditForEmail(this.ctx, email);
    }

    /** The audit entries about one kind of object (e.g. 'notify'), in order. */
    async auditForObject(object: string): Promise<AuditRecord[]> {
        return audit.auditForObject(this.ctx, object);
    }

    /** The audit entries of one run, in order. */
    async auditForRun(runId: string): Promise<AuditRecord[]> {
        return audit.auditForRun(this.ctx, runId);
    }

    // -------------------------------------------------- runs and cursors (runs.ts)

    /** Records the start of a job run; returns it with a new uuid unless `id` is given. */
    async startRun(input: {
        job: string;
        dryRun?: boolean;
        id?: string;
        startedAt?: string;
    }): Promise<RunRecord> {
        return runs.startRun(this.ctx, input);
    }

    /** Records the end of a run with its status and result object (stored as JSON). */
    async finishRun(
        id: string,
        input: {
            status: Exclude<RunStatus, 'running'>;
            result?: unknown;
            finishedAt?: string;
        }
    ): Promise<RunRecord> {
        return runs.finishRun(this.ctx, id, input);
    }

    async getRun(id: string): Promise<RunRecord | undefined> {
        return runs.getRun(this.ctx, id);
    }

    /** Runs, newest first. */
    async listRuns(
        options: { job?: string; limit?: number } = {}
    ): Promise<RunRecord[]> {
        return runs.listRuns(this.ctx, options);
    }

    /** The latest run of each job, with its summary (for `optout status`). */
    async lastRuns(): Promise<RunSummary[]> {
        return runs.lastRuns(this.ctx);
    }

    async getCursor(job: string, name: string): Promise<string | undefined> {
        return runs.getCursor(this.ctx, job, name);
    }

    /** Every cursor of a job (e.g. the notify URLs' delivery cursors), by name. */
    async listCursors(job: string): Promise<{ name: string; value: string }[]> {
        return runs.listCursors(this.ctx, job);
    }

    async setCursor(
        job: string,
        name: string,
        value: string | number
    ): Promise<void> {
        return runs.setCursor(this.ctx, job, name, value);
    }

    // ------------------------------------------------------- locks (lock-store.ts)

    async getLock(name: string): Promise<LockInfo | undefined> {
        return locks.getLock(this.ctx, name);
    }

    /**
     * Takes the named cross-process lock (BEGIN IMMEDIATE, so two processes cannot both
     * win). Re-acquiring with the same holder refreshes it. A lock whose holder process
     * is dead (same host) or whose heartbeat is older than `staleAfterMs` is taken over.
     */
    async acquireLock(
        name: string,
        options: AcquireLockOptions = {}
    ): Promise<LockResult> {
        return locks.acquireLock(this.ctx, name, options);
    }

    /** Refreshes the heartbeat; false when this holder no longer has the lock. */
    async heartbeatLock(name: string, holder: string): Promise<boolean> {
        return locks.heartbeatLock(this.ctx, name, holder);
    }

    /** Releases the lock if this holder has it; false otherwise. */
    async releaseLock(name: string, holder: string): Promise<boolean> {
        return locks.releaseLock(this.ctx, name, holder);
    }

    // ------------------------------------------- reads for the jobs (job-reads.ts)

    /** The highest membership seq (0 when none): a cursor value for "everything so far". */
    async maxSeq(): Promise<number> {
        return jobReads.maxSeq(this.ctx);
    }

    /** Membership changes with seq > afterSeq, oldest first (R5a). */
    async membershipChanges(options: {
        afterSeq: number;
        limit?: number;
    }): Promise<MembershipChange[]> {
        return jobReads.membershipChanges(this.ctx, options);
    }

    /** Batches of membership changes after a seq; writing between batches is allowed. */
    membershipChangeBatches(options: {
        afterSeq: number;
        batchSize?: number;
    }): AsyncGenerator<MembershipChange[]> {
        return jobReads.membershipChangeBatches(this.ctx, options);
    }

    /** Membership changes after a seq, one at a time, fetched in batches. */
    iterateMembershipChanges(
        afterSeq: number,
        batchSize = 1000
    ): AsyncGenerator<MembershipChange> {
        return jobReads.iterateMembershipChanges(this.ctx, afterSeq, batchSize);
    }

    /** How many persons the ledger holds. */
    async countPersons(): Promise<number> {
        return jobReads.countPersons(this.ctx);
    }

    /** How many membership changes have a seq above `seq` (the hourly's fresh work). */
    async countMembershipChangesAfter(seq: number): Promise<number> {
        return jobReads.countMembershipChangesAfter(this.ctx, seq);
    }

    /** When the sync first wrote to Salesforce (null: never). */
    async firstSalesforceWriteAt(): Promise<string | null> {
        return jobReads.firstSalesforceWriteAt(this.ctx);
    }

    /** The person's active, undelivered unsubscribe from this audience, if any. */
    async undeliveredAudienceUnsubscribeId(
        personId: number,
        audienceId: string
    ): Promise<number | null> {
        return jobReads.undeliveredAudienceUnsubscribeId(
            this.ctx,
            personId,
            audienceId
        );
    }

    /**
     * R4 on a shared record: whether a person other than `personId`, linked to the
     * same record (by Salesforce id, or by email when `emailNorm` is given, R8), has
     * an active unsubscribe from this audience.
     */
    async audienceHeldByAnother(input: {
        audienceId: string;
        personId: number;
        salesforceId: string;
        emailNorm: string | null;
    }): Promise<boolean> {
        return jobReads.audienceHeldByAnother(this.ctx, input);
    }

    /**
     * Persons whose memberships changed in (afterSeq, upToSeq] and for whom R5b holds
     * now: at least one membership that is not Archived, and all of those Unsubscribed.
     */
    async personsUnsubscribedFromAllAudiences(
        afterSeq: number,
        upToSeq: number
    ): Promise<PersonTarget[]> {
        return jobReads.personsUnsubscribedFromAllAudiences(
            this.ctx,
            afterSeq,
            upToSeq
        );
    }

    /**
     * The persons linked to these Salesforce ids (the lowest person id per record) and
     * to these emails (compared as stored: pass `email_norm` values).
     */
    async personIdsByRecord(
        salesforceIds: readonly string[],
        emailNorms: readonly string[]
    ): Promise<{
        bySalesforceId: Map<string, number>;
        byEmail: Map<string, number>;
    }> {
        return jobReads.personIdsByRecord(this.ctx, salesforceIds, emailNorms);
    }

    /**
     * Every person linked to one of these Salesforce ids or (pass `email_norm`
     * values) these emails, lowest id first.
     */
    async personIdsLinkedTo(
        salesforceIds: readonly string[],
        emailNorms: readonly string[]
    ): Promise<number[]> {
        return jobReads.personIdsLinkedTo(this.ctx, salesforceIds, emailNorms);
    }

    /** Which of these persons have an active global unsubscribe. */
    async personsWithActiveGlobalUnsubscribe(
        personIds: readonly number[]
    ): Promise<Set<number>> {
        return jobReads.personsWithActiveGlobalUnsubscribe(this.ctx, personIds);
    }

    /**
     * Unsubscribes delivered or removed at or after `since`: the nightly asks, under the
     * push's lock, what pushes settled while it read the org.
     */
    async unsubscribesSettledSince(
        since: string
    ): Promise<{ delivered: number[]; removed: number[] }> {
        return jobReads.unsubscribesSettledSince(this.ctx, since);
    }

    /**
     * These persons with their active global unsubscribe (one row per unsubscribe, one
     * row with nulls for a person without one), by person id.
     */
    async personsWithGlobalUnsubscribe(
        personIds: readonly number[]
    ): Promise<PersonGlobalUnsubscribe[]> {
        return jobReads.personsWithGlobalUnsubscribe(this.ctx, personIds);
    }

    /**
     * Active global unsubscribes with an id above `afterId`, oldest first, with their
     * person's Salesforce id and email: the nightly copies them into its workspace
     * page by page (writing between pages is allowed).
     */
    async activeGlobalUnsubscribes(
        afterId: number,
        limit: number
    ): Promise<ActiveGlobalUnsubscribe[]> {
        return jobReads.activeGlobalUnsubscribes(this.ctx, afterId, limit);
    }

    /**
     * The incremental nightly's ledger side (R16): active global unsubscribes above
     * `afterId` recorded after the feed event `afterEventId`, or undelivered and due
     * (pushable, or waiting for a record with the next attempt due by `dueBy`).
     */
    async globalUnsubscribesToReconcile(options: {
        afterEventId: number;
        afterId: number;
        limit: number;
        dueBy?: string;
    }): Promise<ActiveGlobalUnsubscribe[]> {
        return jobReads.globalUnsubscribesToReconcile(this.ctx, {
            ...options,
            dueBy: options.dueBy ?? this.ctx.nowIso()
        });
    }

    /** The active global unsubscribes of these persons, oldest first. */
    async activeGlobalUnsubscribesOf(
        personIds: readonly number[]
    ): Promise<ActiveGlobalUnsubscribe[]> {
        return jobReads.activeGlobalUnsubscribesOf(this.ctx, personIds);
    }

    // ------------------------------------------ the Salesforce mirror (mirror.ts)

    /** Stores Contacts/Leads as read from Salesforce (by id). Returns how many. */
    async mirrorUpsertRecords(
        records: readonly MirrorRecord[],
        options: { fullSeen?: string | null } = {}
    ): Promise<number> {
        return mirror.upsertMirrorRecords(this.ctx, records, options);
    }

    /** Stores Audience_Membership__c rows as read (by key). Returns how many. */
    async mirrorUpsertMemberships(
        memberships: readonly MirrorMembership[],
        options: { fullSeen?: string | null } = {}
    ): Promise<number> {
        return mirror.upsertMirrorMemberships(this.ctx, memberships, options);
    }

    /** Forgets Contacts/Leads by id. Returns how many were mirrored. */
    async mirrorDeleteRecords(ids: readonly string[]): Promise<number> {
        return mirror.deleteMirrorRecords(this.ctx, ids);
    }

    /** Forgets Audience_Membership__c rows by Id. Returns how many were mirrored. */
    async mirrorDeleteMemberships(ids: readonly string[]): Promise<number> {
        return mirror.deleteMirrorMemberships(this.ctx, ids);
    }

    /**
     * One page of a refresh in one transaction: rows, deletions and (when given) the
     * object's new watermark — which never covers rows that were not stored. Rows and
     * deletions older than the stored row are not applied (`stale`).
     */
    async mirrorApplyPage(
        object: MirroredObject,
        page: MirrorPage
    ): Promise<{ upserted: number; deleted: number; stale: number }> {
        return mirror.applyMirrorPage(this.ctx, object, page);
    }

    /**
     * Ends a full read: deletes the object's rows the read (token) did not see — but
     * not those stamped after `keepAfter`, the read's highest SystemModstamp (stored
     * by another refresh meanwhile) — and sets its state, in one transaction.
     * Returns how many rows were deleted.
     */
    async mirrorSweep(
        object: MirroredObject,
        token: string,
        state: MirrorStateInput,
        keepAfter: string | null = null
    ): Promise<number> {
        return mirror.sweepMirror(this.ctx, object, token, state, keepAfter);
    }

    /** Where the mirror of an object stands (none: never read). */
    async mirrorState(object: string): Promise<MirrorState | undefined> {
        return mirror.getMirrorState(this.ctx, object);
    }

    async mirrorStates(): Promise<MirrorState[]> {
        return mirror.listMirrorStates(this.ctx);
    }

    async setMirrorState(
        object: string,
        input: MirrorStateInput
    ): Promise<void> {
        return mirror.setMirrorState(this.ctx, object, input);
    }

    /** Forgets the state of an object (all when none): its next refresh is full. */
    async resetMirrorState(object?: string): Promise<void> {
        return mirror.resetMirrorState(this.ctx, object);
    }

    /**
     * The mirrored records of these persons: by Salesforce id (R6), by email when
     * `applyToSameEmail` (R8), plus the Contacts of matched converted Leads (R9,
     * unless `convertedContacts: false`). One query per batch of persons.
     */
    async mirrorRecordsFor(
        persons: readonly MirrorPersonRef[],
        options: { applyToSameEmail: boolean; convertedContacts?: boolean }
    ): Promise<MirrorRecord[]> {
        return mirror.mirrorRecordsFor(this.ctx, persons, options);
    }

    async mirrorRecordsById(ids: readonly string[]): Promise<MirrorRecord[]> {
        return mirror.mirrorRecordsById(this.ctx, ids);
    }

    /** Mirrored Audience_Membership__c rows by Membership_Key__c (exact). */
    async mirrorMembershipsByKeys(
        keys: readonly string[]
    ): Promise<MirrorMembership[]> {
        return mirror.mirrorMembershipsByKeys(this.ctx, keys);
    }

    /** Mirrored Audience_Membership__c rows on these Contacts/Leads. */
    async mirrorMembershipsForRecords(
        recordIds: readonly string[]
    ): Promise<MirrorMembership[]> {
        return mirror.mirrorMembershipsForRecords(this.ctx, recordIds);
    }

    async mirrorCounts(): Promise<{
        contacts: number;
        leads: number;
        memberships: number;
    }> {
        return mirror.mirrorCounts(this.ctx);
    }

    // ------------------------------- reports and the suppression feed (reports.ts)

    /** Everything the ledger knows about an email, with its audit trail by time. */
    async history(email: string): Promise<HistoryReport> {
        return reports.history(this.ctx, email);
    }

    /** Counts for `optout status`. */
    async status(): Promise<LedgerStatus> {
        return reports.status(this.ctx);
    }

    /** How many rows each of the ledger's tables holds (checks, copies, tests). */
    async rowCounts(): Promise<LedgerRowCounts> {
        return reports.rowCounts(this.ctx);
    }

    /** The id of the newest feed event (0: none yet). */
    async lastSuppressionEventId(): Promise<number> {
        return reports.lastSuppressionEventId(this.ctx);
    }

    /** Feed events with an id above `afterId`, oldest first (see feed.ts). */
    async suppressionEvents(
        afterId: number,
        limit: number
    ): Promise<SuppressionEvent[]> {
        return reports.suppressionEvents(this.ctx, afterId, limit);
    }

    /** How many feed events have an id above `afterId`. */
    async countSuppressionEventsAfter(afterId: number): Promise<number> {
        return reports.countSuppressionEventsAfter(this.ctx, afterId);
    }

    /**
     * One page of the feed after `cursor` (none: from the beginning), and the cursor
     * to continue from. A bad cursor or limit throws BAD_CURSOR / BAD_LIMIT.
     */
    async suppressionPage(
        cursor: string | null | undefined,
        limit: string | number | undefined = undefined
    ): Promise<SuppressionPage> {
        return reports.suppressionPage(this.ctx, cursor, limit);
    }
}
