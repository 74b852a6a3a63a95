/**
 * The ledger: the marketing side's store (SYNC-DESIGN "Ledger"). Pure data access on
 * SQLite through better-sqlite3 — synchronous, one connection per Ledger, WAL so that
 * readers never wait for the writer, `busy_timeout` so that processes sharing the file
 * (scheduler, webhook, CLI) queue instead of failing. Every write runs in a transaction.
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
 * return plain arrays, so callers may write to the ledger between batches (an open
 * better-sqlite3 iterator would block every other statement on the connection).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { OptoutError, errorMessage } from '../model/errors';
import {
    LEDGER_SOURCES,
    MEMBERSHIP_STATUSES,
    checkAudienceId,
    checkAudienceName,
    checkEmail,
    checkPersonId,
    cleanReason,
    normalizeEmail,
    parseIsoTime,
    type LedgerSource,
    type MembershipStatus,
    type UnsubscribeScope
} from '../model/statuses';
import {
    LATEST_SCHEMA_VERSION,
    MIGRATIONS,
    WAITING_OUTCOMES,
    migrate,
    type Migration
} from './migrations';
import { lockHolderId, lockTakeoverReason } from './locks';
import { parseLedgerLocation } from './location';
import { POSTGRES_MIGRATIONS } from './migrations-postgres';
import type { EngineKind, RunInfo, SqlEngine } from './sql/engine';
import { PostgresEngine } from './sql/postgres';
import { SqliteEngine } from './sql/sqlite';
import {
    decodeCursor,
    encodeCursor,
    parseFeedLimit,
    type SuppressionEvent,
    type SuppressionEventKind,
    type SuppressionPage
} from './feed';
import {
    STUCK_OUTCOMES,
    classifyRecordError,
    isDeadLetter,
    nextAttemptAt,
    STUCK_REASON_CATALOGUE,
    groupStuck,
    stuckReasonOf,
    type RecordErrorKind,
    type StuckCount,
    type StuckGroup,
    type StuckReason
} from '../model/stuck';
import type {
    ActiveGlobalUnsubscribe,
    AttemptError,
    AudienceRecord,
    AuditAction,
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

export interface LedgerOptions {
    /** Clock for default times (tests). */
    now?: () => Date;
    /** How long to wait for another process's write lock; default 5000 ms. */
    busyTimeoutMs?: number;
    /** Migrations to apply (tests of the migration runner only). */
    migrations?: readonly Migration[];
}

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

/** One validated row of an import (see import.ts). */
export interface ImportRecord {
    line?: number;
    email: string;
    salesforceId: string | null;
    audienceId: string;
    audienceName: string | null;
    status: MembershipStatus;
    changedAt: string;
    reason: string | null;
}

export interface ImportBatchResult {
    personsCreated: number;
    personsUpdated: number;
    audiencesCreated: number;
    audiencesUpdated: number;
    membershipsChanged: number;
    unsubscribesAdded: number;
    skipped: { unchanged: number; stale: number; blocked: number };
    /** Lines whose status change was refused because of an active unsubscribe (R4). */
    blockedLines: number[];
}

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

/** A stuck record with its catalogue reason. */
export interface StuckDetail extends StuckRecord {
    reason: StuckReason;
    whatToDo: string;
}

export interface StuckSummary {
    retrying: number;
    deadLetters: number;
    /** By catalogue reason, most records first, with a few examples each. */
    byReason: (StuckGroup & { examples: StuckDetail[] })[];
}

/** Examples per reason in `optout status`. */
const STUCK_EXAMPLES = 3;

function stuckDetail(r: StuckRecord): StuckDetail {
    const reason = stuckReasonOf(r.errorCode);
    return {
        ...r,
        reason,
        whatToDo: STUCK_REASON_CATALOGUE[reason].whatToDo
    };
}

/** Which undelivered unsubscribes to read (see `undeliveredUnsubscribes`). */
export type UnsubscribeSelection = 'all' | 'pushable' | 'waiting';

export interface AcquireLockOptions {
    /** Defaults to a fresh id for this process (see `lockHolderId`). */
    holder?: string;
    /** A holder whose heartbeat is older than this may be taken over; default 120 s. */
    staleAfterMs?: number;
    pid?: number;
}

// Column lists with camelCase aliases, so rows come out as the record types.
const PERSON_COLS = `id, email, email_norm AS emailNorm, salesforce_id AS salesforceId,
    created_at AS createdAt, updated_at AS updatedAt`;
const AUDIENCE_COLS = `id, name, created_at AS createdAt, updated_at AS updatedAt`;
const MEMBERSHIP_COLS = `m.person_id AS personId, m.audience_id AS audienceId, m.status,
    m.changed_at AS changedAt, m.source, m.reason, m.seq`;
const UNSUB_COLS = `u.id, u.person_id AS personId, u.scope, u.audience_id AS audienceId,
    u.source, u.reason, u.collected_at AS collectedAt, u.delivered_at AS deliveredAt,
    u.delivered_run_id AS deliveredRunId, u.removed_at AS removedAt,
    u.removed_reason AS removedReason, u.attempts, u.last_attempt_at AS lastAttemptAt,
    u.last_outcome AS lastOutcome, u.next_attempt_at AS nextAttemptAt,
    u.failures, u.error_code AS errorCode, u.error_message AS errorMessage,
    u.error_record_id AS errorRecordId, u.dead_at AS deadAt`;
/** A membership's sync state (alias m), see MembershipSyncState. */
const MEMBERSHIP_SYNC_COLS = `m.sync_outcome AS syncOutcome, m.sync_attempts AS syncAttempts,
    m.last_attempt_at AS lastAttemptAt, m.next_attempt_at AS nextAttemptAt,
    m.sync_failures AS syncFailures, m.sync_error_code AS syncErrorCode,
    m.sync_error_message AS syncErrorMessage, m.sync_error_record_id AS syncErrorRecordId,
    m.sync_dead_at AS syncDeadAt`;
/** SQL: an unsubscribe (alias u) or membership waiting for a Salesforce record. */
const WAITING_SQL = `(${WAITING_OUTCOMES.map((o) => `'${o}'`).join(', ')})`;
/** SQL: outcomes of a permanent refusal (R14). */
const STUCK_SQL = `(${STUCK_OUTCOMES.map((o) => `'${o}'`).join(', ')})`;
/**
 * SQL (alias u, one parameter: now): what the push takes — everything undelivered
 * except those waiting for a matching record (unless re-opened: next attempt null),
 * dead letters, and refused ones not due yet (R14).
 */
const PUSHABLE_SQL = `(u.last_outcome IS NULL
    OR (u.last_outcome NOT IN ${WAITING_SQL} AND u.last_outcome NOT IN ${STUCK_SQL})
    OR (u.last_outcome IN ${WAITING_SQL} AND u.next_attempt_at IS NULL)
    OR (u.last_outcome = 'rejected' AND (u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)))`;
/** Resets a membership's sync state (a new change or a requeue starts afresh). */
const MEMBERSHIP_SYNC_RESET = `sync_outcome = NULL, sync_attempts = 0, last_attempt_at = NULL,
    next_attempt_at = NULL, sync_failures = 0, sync_error_code = NULL,
    sync_error_message = NULL, sync_error_record_id = NULL, sync_dead_at = NULL`;
const AUDIT_COLS = `id, run_id AS runId, at, action, email_norm AS emailNorm,
    person_id AS personId, record_id AS recordId, object, field, before, after, source,
    collected_at AS collectedAt, written_at AS writtenAt, latency_ms AS latencyMs, detail`;
const RUN_COLS = `id, job, started_at AS startedAt, finished_at AS finishedAt, status,
    dry_run AS dryRun, pid, result_json AS resultJson`;
const LOCK_COLS = `name, holder, pid, acquired_at AS acquiredAt, heartbeat_at AS heartbeatAt`;

type RunRow = Omit<RunRecord, 'dryRun' | 'result'> & {
    dryRun: number;
    resultJson: string | null;
};

function invalid(code: string, reason: string): OptoutError {
    return new OptoutError(
        code,
        reason.charAt(0).toUpperCase() + reason.slice(1)
    );
}

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A caller-given time in the ledger's form (so stored times compare as strings). */
function isoTime(raw: string, what: string): string {
    if (CANONICAL_TIME.test(raw) && !Number.isNaN(Date.parse(raw))) return raw;
    const parsed = parseIsoTime(raw);
    if (!parsed.ok) throw invalid('BAD_TIME', `${what}: ${parsed.reason}`);
    return parsed.value;
}

/** Which stuck records (R14): all when empty. */
export interface StuckFilter {
    email?: string;
    /** Only these status codes. */
    codes?: readonly string[];
    /** None of these status codes (the catalogue's `other`). */
    excludeCodes?: readonly string[];
    state?: 'retrying' | 'dead_letter';
    limit?: number;
}

/** Stuck unsubscribes and memberships as one relation (see StuckRecord). */
const STUCK_UNION = `
    SELECT 'unsubscribe' AS kind, u.id AS unsubscribeId, u.person_id AS personId,
           p.email AS email, p.email_norm AS emailNorm, u.audience_id AS audienceId,
           CASE WHEN u.last_outcome = 'dead_letter' THEN 'dead_letter' ELSE 'retrying' END AS state,
           u.error_code AS errorCode, u.error_message AS errorMessage,
           u.error_record_id AS recordId, u.failures AS failures, u.attempts AS attempts,
           u.last_attempt_at AS lastAttemptAt, u.next_attempt_at AS nextAttemptAt,
           u.dead_at AS deadAt
    FROM unsubscribes u JOIN persons p ON p.id = u.person_id
    WHERE u.delivered_at IS NULL AND u.removed_at IS NULL
      AND u.last_outcome IN ${STUCK_SQL}
    UNION ALL
    SELECT 'membership', NULL, m.person_id, p.email, p.email_norm, m.audience_id,
           CASE WHEN m.sync_outcome = 'dead_letter' THEN 'dead_letter' ELSE 'retrying' END,
           m.sync_error_code, m.sync_error_message, m.sync_error_record_id,
           m.sync_failures, m.sync_attempts, m.last_attempt_at, m.next_attempt_at,
           m.sync_dead_at
    FROM memberships m JOIN persons p ON p.id = m.person_id
    WHERE m.sync_outcome IN ${STUCK_SQL}`;

function stuckWhere(filter: StuckFilter): { where: string; args: unknown[] } {
    const parts: string[] = [];
    const args: unknown[] = [];
    if (filter.email !== undefined) {
        parts.push('s.emailNorm = ?');
        args.push(normalizeEmail(filter.email));
    }
    if (filter.codes) {
        parts.push(
            filter.codes.length
                ? `s.errorCode IN (${filter.codes.map(() => '?').join(', ')})`
                : '1 = 0'
        );
        args.push(...filter.codes);
    }
    if (filter.excludeCodes?.length) {
        parts.push(
            `s.errorCode NOT IN (${filter.excludeCodes.map(() => '?').join(', ')})`
        );
        args.push(...filter.excludeCodes);
    }
    if (filter.state) {
        parts.push('s.state = ?');
        args.push(filter.state);
    }
    return {
        where: parts.length ? `WHERE ${parts.join(' AND ')}` : '',
        args
    };
}

/** A row's delivery state after one attempt (see `attemptState`). */
interface AttemptState {
    outcome: string;
    nextAttemptAt: string | null;
    failures: number;
    error: AttemptError | null;
    deadAt: string | null;
    /** The error's kind, when there is one. */
    kind: RecordErrorKind | null;
}

/**
 * What one attempt leaves on an unsubscribe or membership (R11, R14): waiting for a
 * record → retried after `waitingDelayMs`; a refused write → by its status code, a
 * transient one due at `transientNext`, a permanent one counted and backed off (a dead
 * letter after DEAD_LETTER_AFTER in a row); anything else due at `transientNext`.
 */
function attemptState(
    outcome: string,
    error: AttemptError | null,
    failures: number,
    at: string,
    waitingDelayMs: number,
    transientNext: string | null
): AttemptState {
    if ((WAITING_OUTCOMES as readonly string[]).includes(outcome))
        return {
            outcome,
            nextAttemptAt: new Date(
                Date.parse(at) + waitingDelayMs
            ).toISOString(),
            failures: 0,
            error: null,
            deadAt: null,
            kind: null
        };
    if (outcome === 'failed' && error) {
        const kind = classifyRecordError(error.code);
        if (kind === 'transient')
            return {
                outcome,
                nextAttemptAt: transientNext,
                failures,
                error,
                deadAt: null,
                kind
            };
        const n = failures + 1;
        const dead = isDeadLetter(n);
        return {
            outcome: dead ? 'dead_letter' : 'rejected',
            nextAttemptAt: nextAttemptAt(n, at),
            failures: n,
            error,
            deadAt: dead ? at : null,
            kind
        };
    }
    return {
        outcome,
        nextAttemptAt: transientNext,
        failures: outcome === 'failed' ? failures : 0,
        error: null,
        deadAt: null,
        kind: null
    };
}

/** The audit entry of a refused write (R10, R14). */
function failureAudit(
    state: AttemptState,
    e: {
        runId: string | null;
        at: string;
        emailNorm: string;
        personId: number;
        before: string;
        source: LedgerSource;
        collectedAt: string | null;
        detail: Record<string, unknown>;
    }
): AuditInput {
    const error = state.error as AttemptError;
    return {
        action: 'delivery_failed',
        runId: e.runId,
        at: e.at,
        emailNorm: e.emailNorm,
        personId: e.personId,
        recordId: error.recordId,
        object: error.object ?? null,
        before: e.before,
        after: state.outcome,
        source: e.source,
        collectedAt: e.collectedAt,
        detail: {
            ...e.detail,
            code: error.code,
            message: error.message,
            kind: state.kind,
            failures: state.failures,
            nextAttemptAt: state.nextAttemptAt,
            ...(state.deadAt ? { deadLetter: true } : {})
        }
    };
}

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
    'suppression_events'
] as const;
export type LedgerTable = (typeof LEDGER_TABLES)[number];
export type LedgerRowCounts = Record<LedgerTable, number>;

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

/** A statement bound to its SQL: `get/all/run` take the values of its `?`s. */
interface Statement {
    get(...params: unknown[]): Promise<unknown>;
    all(...params: unknown[]): Promise<unknown[]>;
    run(...params: unknown[]): Promise<RunInfo>;
}

/** Transaction state keys (see SqlEngine.transactionState). */
const SEQ_KEY = 'seq';
const NOW_KEY = 'now';

export class Ledger {
    /**
     * The engine (SQLite or PostgreSQL). Private: all SQL on the ledger's tables lives
     * in ledger/ (modules there reach it through `engineOf`); the sync's scratch tables
     * live in its own workspace (sync/workspace.ts).
     */
    private readonly engine: SqlEngine;
    /** Where the ledger is: a file path, or a PostgreSQL URL with its password masked. */
    readonly path: string;
    readonly engineKind: EngineKind;
    private readonly now: () => Date;

    private constructor(engine: SqlEngine, options: LedgerOptions) {
        this.engine = engine;
        this.path = engine.location;
        this.engineKind = engine.kind;
        this.now = options.now ?? (() => new Date());
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
        // Read-only: the table exists once the ledger is open (migrate created it).
        const row = (await this.stmt(
            'SELECT MAX(version) AS v FROM schema_migrations'
        ).get()) as { v: number | null };
        return row.v ?? 0;
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

    private nowIso(): string {
        const frozen = this.engine.transactionState()?.get(NOW_KEY);
        return typeof frozen === 'string' ? frozen : this.now().toISOString();
    }

    private stmt(sql: string): Statement {
        const engine = this.engine;
        return {
            get: async (...params) => engine.get(sql, params),
            all: async (...params) => engine.all(sql, params),
            run: async (...params) => engine.run(sql, params)
        };
    }

    /**
     * The next membership seq. Inside a transaction the maximum is read once and
     * counted on from there (write transactions run one at a time, so no other
     * writer takes a seq meanwhile).
     */
    private async nextSeq(): Promise<number> {
        const state = this.engine.transactionState();
        let current = state?.get(SEQ_KEY) as number | undefined;
        if (current === undefined) {
            const row = (await this.stmt(
                'SELECT MAX(seq) AS s FROM memberships'
            ).get()) as { s: number | null };
            current = row.s ?? 0;
        }
        current += 1;
        state?.set(SEQ_KEY, current);
        return current;
    }

    // ---------------------------------------------------------------- persons

    /** Creates the person for this email or updates its Salesforce id. */
    async upsertPerson(input: UpsertPersonInput): Promise<UpsertPersonResult> {
        return this.transaction(async () => this.upsertPersonIn(input));
    }

    private async upsertPersonIn(
        input: UpsertPersonInput
    ): Promise<UpsertPersonResult> {
        const email = checkEmail(input.email);
        if (!email.ok) throw invalid('BAD_EMAIL', email.reason);
        let sfid: string | null = null;
        if (input.salesforceId != null && input.salesforceId.trim() !== '') {
            const id = checkPersonId(input.salesforceId);
            if (!id.ok) throw invalid('BAD_SALESFORCE_ID', id.reason);
            sfid = id.value.id;
        }
        const existing = await this.findPersonByNorm(email.value.norm);
        const at = this.nowIso();
        if (!existing) {
            const info = (await this.stmt(
                `INSERT INTO persons (email, email_norm, salesforce_id, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?) RETURNING id`
            ).get(email.value.email, email.value.norm, sfid, at, at)) as {
                id: number;
            };
            return {
                person: {
                    id: info.id,
                    email: email.value.email,
                    emailNorm: email.value.norm,
                    salesforceId: sfid,
                    createdAt: at,
                    updatedAt: at
                },
                created: true,
                changed: false
            };
        }
        if (sfid !== null && sfid !== existing.salesforceId) {
            await this.stmt(
                'UPDATE persons SET salesforce_id = ?, updated_at = ? WHERE id = ?'
            ).run(sfid, at, existing.id);
            await this.requeueLinkedPerson(existing, sfid, at);
            return {
                person: { ...existing, salesforceId: sfid, updatedAt: at },
                created: false,
                changed: true
            };
        }
        return { person: existing, created: false, changed: false };
    }

    /**
     * A person linked to a (new) Salesforce record: what it has must reach that record
     * too. Its memberships take new seqs (the hourly job upserts them, R5a), its
     * undelivered unsubscribes are due at once, and a delivered global unsubscribe is
     * re-opened for delivery (R2) — audited; nothing is removed (R4).
     */
    private async requeueLinkedPerson(
        person: PersonRecord,
        salesforceId: string,
        at: string
    ): Promise<void> {
        await this.requeuePersonIn(person.id);
        const delivered = (await this.stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? AND u.scope = 'all'
             AND u.removed_at IS NULL AND u.delivered_at IS NOT NULL`
        ).get(person.id)) as UnsubscribeRecord | undefined;
        if (!delivered) return;
        await this.stmt(
            `UPDATE unsubscribes SET delivered_at = NULL, delivered_run_id = NULL,
                 last_outcome = 'record_linked', next_attempt_at = NULL WHERE id = ?`
        ).run(delivered.id);
        await this.appendAuditIn({
            action: 'unsubscribe_requeued',
            emailNorm: person.emailNorm,
            personId: person.id,
            recordId: salesforceId,
            object: 'ledger',
            field: 'unsubscribe',
            before: 'delivered',
            after: 'pending',
            source: delivered.source,
            collectedAt: delivered.collectedAt,
            detail: {
                unsubscribeId: delivered.id,
                why: `the person was linked to ${salesforceId}`,
                previousSalesforceId: person.salesforceId,
                at
            }
        });
    }

    /** See `requeuePersons`. */
    private async requeuePersonIn(personId: number): Promise<void> {
        const memberships = (await this.stmt(
            'SELECT audience_id AS audienceId FROM memberships WHERE person_id = ? ORDER BY audience_id'
        ).all(personId)) as { audienceId: string }[];
        // A new record gets one try, dead letters included (R14): it may be the one
        // to write. The refusals in a row are kept, so a record still refused is set
        // aside again at once rather than after another full back-off.
        const bump = this.stmt(
            `UPDATE memberships SET seq = ?, sync_outcome = NULL, sync_attempts = 0,
                 next_attempt_at = NULL, sync_dead_at = NULL
             WHERE person_id = ? AND audience_id = ?`
        );
        for (const m of memberships)
            await bump.run(await this.nextSeq(), personId, m.audienceId);
        await this.stmt(
            `UPDATE unsubscribes SET next_attempt_at = NULL, dead_at = NULL,
                 last_outcome = CASE WHEN last_outcome = 'dead_letter' THEN 'rejected' ELSE last_outcome END
             WHERE person_id = ? AND delivered_at IS NULL AND removed_at IS NULL`
        ).run(personId);
    }

    /**
     * Persons with a new Salesforce record (created, converted, linked): their
     * memberships take new seqs (the hourly job writes them to every record, R5a) and
     * their undelivered unsubscribes are due at once. Returns how many persons.
     */
    async requeuePersons(personIds: readonly number[]): Promise<number> {
        return this.transaction(async () => {
            let n = 0;
            for (const id of new Set(personIds))
                if (await this.getPerson(id)) {
                    await this.requeuePersonIn(id);
                    n += 1;
                }
            return n;
        });
    }

    private async findPersonByNorm(
        norm: string
    ): Promise<PersonRecord | undefined> {
        return (await this.stmt(
            `SELECT ${PERSON_COLS} FROM persons WHERE email_norm = ?`
        ).get(norm)) as PersonRecord | undefined;
    }

    /** The person with this email, compared case-insensitively. */
    async findPerson(email: string): Promise<PersonRecord | undefined> {
        return this.findPersonByNorm(normalizeEmail(email));
    }

    async getPerson(id: number): Promise<PersonRecord | undefined> {
        return (await this.stmt(
            `SELECT ${PERSON_COLS} FROM persons WHERE id = ?`
        ).get(id)) as PersonRecord | undefined;
    }

    /** Persons linked to this Contact/Lead id (15 or 18 characters). */
    async findPersonsBySalesforceId(id: string): Promise<PersonRecord[]> {
        const check = checkPersonId(id);
        if (!check.ok) throw invalid('BAD_SALESFORCE_ID', check.reason);
        return (await this.stmt(
            `SELECT ${PERSON_COLS} FROM persons WHERE salesforce_id = ? ORDER BY id`
        ).all(check.value.id)) as PersonRecord[];
    }

    // -------------------------------------------------------------- audiences

    /** Creates the audience or renames it. */
    async upsertAudience(input: {
        id: string;
        name: string;
    }): Promise<UpsertAudienceResult> {
        return this.transaction(async () =>
            this.upsertAudienceIn(input.id, input.name)
        );
    }

    private async upsertAudienceIn(
        rawId: string,
        rawName: string
    ): Promise<UpsertAudienceResult> {
        const id = checkAudienceId(rawId);
        if (!id.ok) throw invalid('BAD_AUDIENCE', id.reason);
        const name = checkAudienceName(rawName);
        if (!name.ok) throw invalid('BAD_AUDIENCE', name.reason);
        const existing = await this.getAudience(id.value);
        const at = this.nowIso();
        if (!existing) {
            await this.stmt(
                'INSERT INTO audiences (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)'
            ).run(id.value, name.value, at, at);
            return {
                audience: {
                    id: id.value,
                    name: name.value,
                    createdAt: at,
                    updatedAt: at
                },
                created: true,
                changed: false
            };
        }
        if (existing.name !== name.value) {
            await this.stmt(
                'UPDATE audiences SET name = ?, updated_at = ? WHERE id = ?'
            ).run(name.value, at, id.value);
            return {
                audience: { ...existing, name: name.value, updatedAt: at },
                created: false,
                changed: true
            };
        }
        return { audience: existing, created: false, changed: false };
    }

    async getAudience(id: string): Promise<AudienceRecord | undefined> {
        return (await this.stmt(
            `SELECT ${AUDIENCE_COLS} FROM audiences WHERE id = ?`
        ).get(id.trim())) as AudienceRecord | undefined;
    }

    async listAudiences(): Promise<AudienceRecord[]> {
        return (await this.stmt(
            `SELECT ${AUDIENCE_COLS} FROM audiences ORDER BY id`
        ).all()) as AudienceRecord[];
    }

    /** The audience, or an UNKNOWN_AUDIENCE error that lists the known ones. */
    async requireAudience(id: string): Promise<AudienceRecord> {
        const audience = await this.getAudience(id);
        if (audience) return audience;
        const known = await this.listAudiences();
        const shown = known
            .slice(0, 20)
            .map((a) => `${a.id} (${a.name})`)
            .join(', ');
        const more = known.length > 20 ? ` and ${known.length - 20} more` : '';
        throw new OptoutError(
            'UNKNOWN_AUDIENCE',
            `Audience '${id}' is not in the ledger. ` +
                (known.length
                    ? `Known audiences: ${shown}${more}.`
                    : 'The ledger has no audiences yet.'),
            {
                actions: [
                    'Use one of the known audience ids',
                    'Or create it by adding --audience-name NAME'
                ]
            }
        );
    }

    // ------------------------------------------------------------ memberships

    async getMembership(
        personId: number,
        audienceId: string
    ): Promise<MembershipRecord | undefined> {
        return (await this.stmt(
            `SELECT ${MEMBERSHIP_COLS} FROM memberships m WHERE m.person_id = ? AND m.audience_id = ?`
        ).get(personId, audienceId)) as MembershipRecord | undefined;
    }

    async listMemberships(
        personId: number
    ): Promise<
        (MembershipRecord & MembershipSyncState & { audienceName: string })[]
    > {
        return (await this.stmt(
            `SELECT ${MEMBERSHIP_COLS}, ${MEMBERSHIP_SYNC_COLS}, a.name AS audienceName FROM memberships m
             JOIN audiences a ON a.id = m.audience_id WHERE m.person_id = ? ORDER BY m.audience_id`
        ).all(personId)) as (MembershipRecord &
            MembershipSyncState & { audienceName: string })[];
    }

    /**
     * Sets a membership's status. Unchanged → nothing written; older than the stored
     * change → `stale`; away from Unsubscribed while the audience unsubscribe is
     * active → `blocked` (R4). Becoming Unsubscribed records the audience unsubscribe.
     */
    async setMembershipStatus(
        input: SetMembershipInput
    ): Promise<SetMembershipResult> {
        return this.transaction(async () => this.setMembershipIn(input, false));
    }

    /**
     * `force`: an unsubscribe or resubscribe, applied whatever the stored time.
     * `known`: the person, when the caller has it and has checked the audience exists.
     */
    private async setMembershipIn(
        input: SetMembershipInput,
        force: boolean,
        known?: PersonRecord
    ): Promise<SetMembershipResult> {
        let person = known;
        if (!person) {
            person = await this.getPerson(input.personId);
            if (!person)
                throw invalid(
                    'UNKNOWN_PERSON',
                    `no person with ledger id ${input.personId}`
                );
            await this.requireAudience(input.audienceId);
        }
        const changedAt = input.changedAt
            ? isoTime(input.changedAt, 'changedAt')
            : this.nowIso();
        const current = await this.getMembership(
            input.personId,
            input.audienceId
        );
        const previous = current?.status ?? null;
        let outcome: MembershipOutcome | null = null;
        if (current && current.status === input.status) outcome = 'unchanged';
        else if (current && !force && olderThan(changedAt, current.changedAt))
            outcome = 'stale';
        else if (
            current?.status === 'Unsubscribed' &&
            (await this.activeAudienceUnsubscribe(
                input.personId,
                input.audienceId
            ))
        )
            outcome = 'blocked';
        if (outcome) {
            return {
                outcome,
                membership: current ?? null,
                previous,
                unsubscribeId: null
            };
        }
        const reason = cleanReason(input.reason);
        const seq = await this.nextSeq();
        await this.stmt(
            `INSERT INTO memberships (person_id, audience_id, status, changed_at, source, reason, seq)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (person_id, audience_id) DO UPDATE SET status = excluded.status,
                 changed_at = excluded.changed_at, source = excluded.source,
                 reason = excluded.reason, seq = excluded.seq,
                 ${MEMBERSHIP_SYNC_RESET}`
        ).run(
            input.personId,
            input.audienceId,
            input.status,
            changedAt,
            input.source,
            reason,
            seq
        );
        await this.appendAuditIn({
            action:
                input.auditAction ??
                (input.source === 'import' ? 'import' : 'membership_changed'),
            runId: input.runId,
            emailNorm: person.emailNorm,
            personId: person.id,
            recordId: input.audienceId,
            object: 'ledger',
            field: 'membership.status',
            before: previous,
            after: input.status,
            source: input.source,
            detail: reason ? { reason, changedAt } : { changedAt }
        });
        let unsubscribeId: number | null = null;
        if (
            input.status === 'Unsubscribed' &&
            !(await this.activeAudienceUnsubscribe(
                input.personId,
                input.audienceId
            ))
        ) {
            unsubscribeId = (
                await this.insertUnsubscribe(person, {
                    scope: 'audience',
                    audienceId: input.audienceId,
                    source: input.source,
                    reason,
                    collectedAt: this.nowIso(),
                    runId: input.runId ?? null
                })
            ).id;
        }
        return {
            outcome: current ? 'changed' : 'created',
            membership: {
                personId: input.personId,
                audienceId: input.audienceId,
                status: input.status,
                changedAt,
                source: input.source,
                reason,
                seq
            },
            previous,
            unsubscribeId
        };
    }

    /** The highest membership seq (0 when none): a cursor value for "everything so far". */
    async maxSeq(): Promise<number> {
        const row = (await this.stmt(
            'SELECT MAX(seq) AS s FROM memberships'
        ).get()) as { s: number | null };
        return row.s ?? 0;
    }

    /** Membership changes with seq > afterSeq, oldest first (R5a). */
    async membershipChanges(options: {
        afterSeq: number;
        limit?: number;
    }): Promise<MembershipChange[]> {
        return (await this.stmt(
            `SELECT ${MEMBERSHIP_COLS}, p.email, p.email_norm AS emailNorm,
                    p.salesforce_id AS salesforceId, a.name AS audienceName
             FROM memberships m JOIN persons p ON p.id = m.person_id
             JOIN audiences a ON a.id = m.audience_id
             WHERE m.seq > ? ORDER BY m.seq LIMIT ?`
        ).all(options.afterSeq, options.limit ?? 1000)) as MembershipChange[];
    }

    /** Batches of membership changes after a seq; writing between batches is allowed. */
    async *membershipChangeBatches(options: {
        afterSeq: number;
        batchSize?: number;
    }): AsyncGenerator<MembershipChange[]> {
        let after = options.afterSeq;
        const limit = options.batchSize ?? 1000;
        for (;;) {
            const batch = await this.membershipChanges({
                afterSeq: after,
                limit
            });
            if (batch.length === 0) return;
            yield batch;
            after = batch[batch.length - 1].seq;
            if (batch.length < limit) return;
        }
    }

    /** Membership changes after a seq, one at a time, fetched in batches. */
    async *iterateMembershipChanges(
        afterSeq: number,
        batchSize = 1000
    ): AsyncGenerator<MembershipChange> {
        for await (const batch of this.membershipChangeBatches({
            afterSeq,
            batchSize
        }))
            yield* batch;
    }

    // ----------------------------------------------------------- unsubscribes

    private async activeAudienceUnsubscribe(
        personId: number,
        audienceId: string
    ): Promise<UnsubscribeRecord | undefined> {
        return (await this.stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? AND u.scope = 'audience'
             AND u.audience_id = ? AND u.removed_at IS NULL`
        ).get(personId, audienceId)) as UnsubscribeRecord | undefined;
    }

    private async activeGlobalUnsubscribe(
        personId: number
    ): Promise<UnsubscribeRecord | undefined> {
        return (await this.stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? AND u.scope = 'all'
             AND u.removed_at IS NULL`
        ).get(personId)) as UnsubscribeRecord | undefined;
    }

    async getUnsubscribe(id: number): Promise<UnsubscribeRecord | undefined> {
        return (await this.stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.id = ?`
        ).get(id)) as UnsubscribeRecord | undefined;
    }

    /** Every unsubscribe of a person, removed ones included, oldest first. */
    async listUnsubscribes(personId: number): Promise<UnsubscribeRecord[]> {
        return (await this.stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? ORDER BY u.id`
        ).all(personId)) as UnsubscribeRecord[];
    }

    private async insertUnsubscribe(
        person: PersonRecord,
        u: {
            scope: UnsubscribeScope;
            audienceId: string | null;
            source: LedgerSource;
            reason: string | null;
            collectedAt: string;
            runId: string | null;
        }
    ): Promise<UnsubscribeRecord> {
        const info = (await this.stmt(
            `INSERT INTO unsubscribes (person_id, scope, audience_id, source, reason, collected_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
        ).get(
            person.id,
            u.scope,
            u.audienceId,
            u.source,
            u.reason,
            u.collectedAt
        )) as { id: number };
        const id = info.id;
        // The feed's event, in the same transaction as the unsubscribe (R15).
        await this.appendSuppressionEventIn(id, 'added', u.collectedAt);
        await this.appendAuditIn({
            action: 'unsubscribe_recorded',
            runId: u.runId,
            emailNorm: person.emailNorm,
            personId: person.id,
            recordId: u.audienceId,
            object: 'ledger',
            field: 'unsubscribe',
            before: null,
            after:
                u.scope === 'all'
                    ? 'all audiences'
                    : `audience ${u.audienceId}`,
            source: u.source,
            collectedAt: u.collectedAt,
            detail: {
                unsubscribeId: id,
                scope: u.scope,
                audienceId: u.audienceId,
                reason: u.reason
            }
        });
        return {
            id,
            personId: person.id,
            scope: u.scope,
            audienceId: u.audienceId,
            source: u.source,
            reason: u.reason,
            collectedAt: u.collectedAt,
            deliveredAt: null,
            deliveredRunId: null,
            removedAt: null,
            removedReason: null,
            attempts: 0,
            lastAttemptAt: null,
            lastOutcome: null,
            nextAttemptAt: null,
            failures: 0,
            errorCode: null,
            errorMessage: null,
            errorRecordId: null,
            deadAt: null
        };
    }

    /**
     * Records an unsubscribe (global, or one audience). Already active → `already` and
     * the unsubscribe is left as it is (a Salesforce id given links the person, R6). An
     * audience unsubscribe also sets the membership Unsubscribed.
     */
    async recordUnsubscribe(
        input: RecordUnsubscribeInput
    ): Promise<RecordUnsubscribeResult> {
        return this.transaction(async () => this.recordUnsubscribeIn(input));
    }

    /** Several unsubscribes in one transaction (a webhook micro-batch, a nightly page). */
    async recordUnsubscribes(
        inputs: RecordUnsubscribeInput[]
    ): Promise<RecordUnsubscribeResult[]> {
        return this.transaction(async () => {
            const results: RecordUnsubscribeResult[] = [];
            for (const i of inputs)
                results.push(await this.recordUnsubscribeIn(i));
            return results;
        });
    }

    private async recordUnsubscribeIn(
        input: RecordUnsubscribeInput
    ): Promise<RecordUnsubscribeResult> {
        if (!(LEDGER_SOURCES as readonly string[]).includes(input.source))
            throw invalid(
                'BAD_SOURCE',
                `source '${input.source}' is not one of ${LEDGER_SOURCES.join(', ')}`
            );
        let audienceId: string | null = null;
        if (input.scope === 'audience') {
            const id = checkAudienceId(input.audienceId ?? '');
            if (!id.ok) throw invalid('BAD_AUDIENCE', id.reason);
            audienceId = id.value;
        } else if (input.scope !== 'all') {
            throw invalid(
                'BAD_SCOPE',
                `scope '${String(input.scope)}' is not 'all' or 'audience'`
            );
        } else if (input.audienceId) {
            throw invalid(
                'BAD_SCOPE',
                'a global unsubscribe (scope all) has no audience'
            );
        }
        // Find the person without writing, so that "already" writes nothing.
        let person: PersonRecord | undefined;
        if (input.personId !== undefined) {
            person = await this.getPerson(input.personId);
            if (!person)
                throw invalid(
                    'UNKNOWN_PERSON',
                    `no person with ledger id ${input.personId}`
                );
        } else {
            const email = checkEmail(input.email ?? '');
            if (!email.ok) throw invalid('BAD_EMAIL', email.reason);
            person = await this.findPersonByNorm(email.value.norm);
        }
        let audienceCreated = false;
        const audienceKnown =
            audienceId === null || Boolean(await this.getAudience(audienceId));
        if (!audienceKnown && !input.audienceName)
            await this.requireAudience(audienceId as string);
        if (person) {
            const active =
                audienceId === null
                    ? await this.activeGlobalUnsubscribe(person.id)
                    : await this.activeAudienceUnsubscribe(
                          person.id,
                          audienceId
                      );
            if (active) {
                // The unsubscribe stays as it is; a Salesforce id that comes with it
                // still links the person (R6), or its record would never be known.
                if (
                    input.salesforceId != null &&
                    input.salesforceId.trim() !== ''
                )
                    person = (
                        await this.upsertPersonIn({
                            email: person.email,
                            salesforceId: input.salesforceId
                        })
                    ).person;
                return {
                    outcome: 'already',
                    unsubscribe:
                        (await this.getUnsubscribe(active.id)) ?? active,
                    person,
                    personCreated: false,
                    audienceCreated: false,
                    membershipChanged: false
                };
            }
        }
        let personCreated = false;
        if (
            !person ||
            (input.salesforceId != null && input.salesforceId.trim() !== '')
        ) {
            const up = await this.upsertPersonIn({
                email: person?.email ?? input.email ?? '',
                salesforceId: input.salesforceId
            });
            person = up.person;
            personCreated = up.created;
        }
        if (!audienceKnown) {
            audienceCreated = (
                await this.upsertAudienceIn(
                    audienceId as string,
                    input.audienceName ?? ''
                )
            ).created;
        }
        const reason = cleanReason(input.reason);
        const collectedAt = input.collectedAt
            ? isoTime(input.collectedAt, 'collectedAt')
            : this.nowIso();
        const unsubscribe = await this.insertUnsubscribe(person, {
            scope: input.scope,
            audienceId,
            source: input.source,
            reason,
            collectedAt,
            runId: input.runId ?? null
        });
        let membershipChanged = false;
        if (audienceId !== null) {
            // An unsubscribe always wins over the stored status, whatever its time.
            const result = await this.setMembershipIn(
                {
                    personId: person.id,
                    audienceId,
                    status: 'Unsubscribed',
                    changedAt: collectedAt,
                    source: input.source,
                    reason,
                    runId: input.runId
                },
                true
            );
            membershipChanged =
                result.outcome === 'changed' || result.outcome === 'created';
        }
        return {
            outcome: 'recorded',
            unsubscribe,
            person,
            personCreated,
            audienceCreated,
            membershipChanged
        };
    }

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
        const scope = options.scope ?? null;
        const select = options.select ?? 'all';
        const filter =
            select === 'pushable'
                ? `AND ${PUSHABLE_SQL}`
                : select === 'waiting'
                  ? `AND u.last_outcome IN ${WAITING_SQL} AND (u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)`
                  : '';
        const args: unknown[] = [options.afterId ?? 0, scope, scope];
        if (select !== 'all') args.push(options.dueBy ?? this.nowIso());
        args.push(options.limit ?? 200);
        return (await this.stmt(
            `SELECT ${UNSUB_COLS}, p.email, p.email_norm AS emailNorm,
                    p.salesforce_id AS salesforceId, a.name AS audienceName
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             LEFT JOIN audiences a ON a.id = u.audience_id
             WHERE u.delivered_at IS NULL AND u.removed_at IS NULL AND u.id > ?
               AND (CAST(? AS TEXT) IS NULL OR u.scope = ?) ${filter}
             ORDER BY u.id LIMIT ?`
        ).all(...args)) as PendingUnsubscribe[];
    }

    /** Batches of undelivered unsubscribes; writing (markDelivered) between batches is allowed. */
    async *undeliveredUnsubscribeBatches(
        options: {
            scope?: UnsubscribeScope;
            batchSize?: number;
            select?: UnsubscribeSelection;
            dueBy?: string;
        } = {}
    ): AsyncGenerator<PendingUnsubscribe[]> {
        let afterId = 0;
        const limit = options.batchSize ?? 200;
        for (;;) {
            const batch = await this.undeliveredUnsubscribes({
                scope: options.scope,
                select: options.select,
                dueBy: options.dueBy,
                afterId,
                limit
            });
            if (batch.length === 0) return;
            yield batch;
            afterId = batch[batch.length - 1].id;
            if (batch.length < limit) return;
        }
    }

    /** How many the push would take now (see `undeliveredUnsubscribes`, `pushable`). */
    async countPushable(dueBy?: string): Promise<number> {
        const row = (await this.stmt(
            `SELECT COUNT(*) AS n FROM unsubscribes u
             WHERE u.delivered_at IS NULL AND u.removed_at IS NULL AND ${PUSHABLE_SQL}`
        ).get(dueBy ?? this.nowIso())) as { n: number };
        return row.n;
    }

    /** How many undelivered unsubscribes wait for a matching Salesforce record (due by `dueBy`, if given). */
    async countWaiting(
        options: { scope?: UnsubscribeScope; dueBy?: string } = {}
    ): Promise<number> {
        const row = (await this.stmt(
            `SELECT COUNT(*) AS n FROM unsubscribes u
             WHERE u.delivered_at IS NULL AND u.removed_at IS NULL
               AND u.last_outcome IN ${WAITING_SQL}
               AND (CAST(? AS TEXT) IS NULL OR u.scope = ?)
               AND (CAST(? AS TEXT) IS NULL OR u.next_attempt_at IS NULL OR u.next_attempt_at <= ?)`
        ).get(
            options.scope ?? null,
            options.scope ?? null,
            options.dueBy ?? null,
            options.dueBy ?? null
        )) as { n: number };
        return row.n;
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
        if (attempts.length === 0) return;
        await this.transaction(async () => {
            const get = this.stmt(
                `SELECT ${UNSUB_COLS}, p.email_norm AS emailNorm FROM unsubscribes u
                 JOIN persons p ON p.id = u.person_id
                 WHERE u.id = ? AND u.delivered_at IS NULL AND u.removed_at IS NULL`
            );
            const update = this.stmt(
                `UPDATE unsubscribes SET attempts = ?, last_attempt_at = ?, last_outcome = ?,
                     next_attempt_at = ?, failures = ?, error_code = ?, error_message = ?,
                     error_record_id = ?, dead_at = ? WHERE id = ?`
            );
            for (const a of attempts) {
                const row = (await get.get(a.id)) as
                    (UnsubscribeRecord & { emailNorm: string }) | undefined;
                if (!row) continue;
                const n = row.attempts + 1;
                const next = attemptState(
                    a.outcome,
                    a.error ?? null,
                    row.failures,
                    options.at,
                    options.delay(n),
                    null
                );
                await update.run(
                    n,
                    options.at,
                    next.outcome,
                    next.nextAttemptAt,
                    next.failures,
                    next.error?.code ?? null,
                    next.error?.message ?? null,
                    next.error?.recordId ?? null,
                    next.deadAt,
                    a.id
                );
                if (next.error)
                    await this.appendAuditIn(
                        failureAudit(next, {
                            runId: options.runId ?? null,
                            at: options.at,
                            emailNorm: row.emailNorm,
                            personId: row.personId,
                            before: row.lastOutcome ?? 'pending',
                            source: row.source,
                            collectedAt: row.collectedAt,
                            detail: {
                                unsubscribeId: row.id,
                                scope: row.scope,
                                ...(row.audienceId
                                    ? { audienceId: row.audienceId }
                                    : {}),
                                attempts: n
                            }
                        })
                    );
            }
        });
    }

    /**
     * Memberships whose last sync attempt left them to retry (no matching record yet, or
     * a failed write) and that are due by `dueBy`, with seq ≤ `maxSeq` (later changes
     * are taken through the cursor), oldest seq first.
     */
    async *membershipRetryBatches(options: {
        dueBy: string;
        maxSeq: number;
        batchSize?: number;
    }): AsyncGenerator<MembershipChange[]> {
        let after = 0;
        const limit = options.batchSize ?? 1000;
        for (;;) {
            const batch = (await this.stmt(
                `SELECT ${MEMBERSHIP_COLS}, p.email, p.email_norm AS emailNorm,
                        p.salesforce_id AS salesforceId, a.name AS audienceName
                 FROM memberships m JOIN persons p ON p.id = m.person_id
                 JOIN audiences a ON a.id = m.audience_id
                 WHERE m.sync_outcome IS NOT NULL AND m.next_attempt_at <= ?
                   AND m.seq > ? AND m.seq <= ? ORDER BY m.seq LIMIT ?`
            ).all(
                options.dueBy,
                after,
                options.maxSeq,
                limit
            )) as MembershipChange[];
            if (batch.length === 0) return;
            yield batch;
            after = batch[batch.length - 1].seq;
            if (batch.length < limit) return;
        }
    }

    /** How many memberships are due for a retry (see `membershipRetryBatches`). */
    async countMembershipRetries(options: {
        dueBy: string;
        maxSeq: number;
    }): Promise<number> {
        return (
            (await this.stmt(
                `SELECT COUNT(*) AS n FROM memberships m WHERE m.sync_outcome IS NOT NULL
                 AND m.next_attempt_at <= ? AND m.seq <= ?`
            ).get(options.dueBy, options.maxSeq)) as { n: number }
        ).n;
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
        if (attempts.length === 0) return;
        await this.transaction(async () => {
            const get = this.stmt(
                `SELECT m.sync_attempts AS n, m.sync_outcome AS outcome,
                        m.sync_failures AS failures, m.status, m.source, m.changed_at AS changedAt,
                        p.email_norm AS emailNorm
                 FROM memberships m JOIN persons p ON p.id = m.person_id
                 WHERE m.person_id = ? AND m.audience_id = ?`
            );
            const clear = this.stmt(
                `UPDATE memberships SET sync_outcome = NULL, sync_attempts = 0,
                     last_attempt_at = ?, next_attempt_at = NULL, sync_failures = 0,
                     sync_error_code = NULL, sync_error_message = NULL,
                     sync_error_record_id = NULL, sync_dead_at = NULL
                 WHERE person_id = ? AND audience_id = ?`
            );
            const update = this.stmt(
                `UPDATE memberships SET sync_outcome = ?, sync_attempts = ?, last_attempt_at = ?,
                     next_attempt_at = ?, sync_failures = ?, sync_error_code = ?,
                     sync_error_message = ?, sync_error_record_id = ?, sync_dead_at = ?
                 WHERE person_id = ? AND audience_id = ?`
            );
            for (const a of attempts) {
                const row = (await get.get(a.personId, a.audienceId)) as
                    | {
                          n: number;
                          outcome: string | null;
                          failures: number;
                          status: MembershipStatus;
                          source: LedgerSource;
                          changedAt: string;
                          emailNorm: string;
                      }
                    | undefined;
                if (!row) continue;
                if (a.outcome === null) {
                    if (row.outcome !== null)
                        await clear.run(options.at, a.personId, a.audienceId);
                    continue;
                }
                const n = row.n + 1;
                const next = attemptState(
                    a.outcome,
                    a.error ?? null,
                    row.failures,
                    options.at,
                    options.delay(n),
                    options.at
                );
                await update.run(
                    next.outcome,
                    n,
                    options.at,
                    next.nextAttemptAt,
                    next.failures,
                    next.error?.code ?? null,
                    next.error?.message ?? null,
                    next.error?.recordId ?? null,
                    next.deadAt,
                    a.personId,
                    a.audienceId
                );
                if (next.error)
                    await this.appendAuditIn(
                        failureAudit(next, {
                            runId: options.runId ?? null,
                            at: options.at,
                            emailNorm: row.emailNorm,
                            personId: a.personId,
                            before: row.outcome ?? 'pending',
                            source: row.source,
                            collectedAt: row.changedAt,
                            detail: {
                                audienceId: a.audienceId,
                                status: row.status,
                                attempts: n
                            }
                        })
                    );
            }
        });
    }

    // ------------------------------------------------------------ stuck (R14)

    /** Stuck unsubscribes and memberships matching a filter, oldest attempt first. */
    async stuckRecords(filter: StuckFilter = {}): Promise<StuckRecord[]> {
        const { where, args } = stuckWhere(filter);
        const limit = filter.limit === undefined ? '' : 'LIMIT ?';
        if (filter.limit !== undefined) args.push(filter.limit);
        return (await this.stmt(
            `SELECT kind, unsubscribeId, personId, email, audienceId, state, errorCode,
                    errorMessage, recordId, failures, attempts, lastAttemptAt,
                    nextAttemptAt, deadAt
             FROM (${STUCK_UNION}) s ${where}
             ORDER BY s.lastAttemptAt, s.kind, s.personId, s.audienceId ${limit}`
        ).all(...args)) as StuckRecord[];
    }

    /** Stuck records by status code and state (R14), for `optout status`. */
    async stuckCounts(): Promise<StuckCount[]> {
        return (await this.stmt(
            `SELECT errorCode, state, COUNT(*) AS count FROM (${STUCK_UNION}) s
             GROUP BY errorCode, state ORDER BY errorCode, state`
        ).all()) as StuckCount[];
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
        const at = options.at ?? this.nowIso();
        return this.transaction(async () => {
            const records = await this.stuckRecords(filter);
            const unsub = this.stmt(
                `UPDATE unsubscribes SET failures = 0, dead_at = NULL, last_outcome = 'rejected',
                     next_attempt_at = ? WHERE id = ?`
            );
            const membership = this.stmt(
                `UPDATE memberships SET sync_failures = 0, sync_dead_at = NULL,
                     sync_outcome = 'rejected', next_attempt_at = ?
                 WHERE person_id = ? AND audience_id = ?`
            );
            for (const r of records) {
                if (r.kind === 'unsubscribe')
                    await unsub.run(at, r.unsubscribeId);
                else await membership.run(at, r.personId, r.audienceId);
                await this.appendAuditIn({
                    action: 'retry_requested',
                    runId: options.runId ?? null,
                    at,
                    emailNorm: normalizeEmail(r.email),
                    personId: r.personId,
                    recordId: r.recordId,
                    object: 'ledger',
                    field: r.kind,
                    before: r.state,
                    after: 'due',
                    detail: {
                        ...(r.unsubscribeId !== null
                            ? { unsubscribeId: r.unsubscribeId }
                            : {}),
                        ...(r.audienceId ? { audienceId: r.audienceId } : {}),
                        code: r.errorCode,
                        failures: r.failures
                    }
                });
            }
            return records;
        });
    }

    /** How many active unsubscribes wait for delivery. */
    async countUndelivered(scope?: UnsubscribeScope): Promise<number> {
        const row = (await this.stmt(
            `SELECT COUNT(*) AS n FROM unsubscribes
             WHERE delivered_at IS NULL AND removed_at IS NULL AND (CAST(? AS TEXT) IS NULL OR scope = ?)`
        ).get(scope ?? null, scope ?? null)) as { n: number };
        return row.n;
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
        const at = options.deliveredAt ?? this.nowIso();
        return this.transaction(async () => {
            let marked = 0;
            const update = this.stmt(
                `UPDATE unsubscribes SET delivered_at = ?, delivered_run_id = ?,
                     attempts = attempts + 1, last_attempt_at = ?,
                     last_outcome = 'delivered', next_attempt_at = NULL,
                     failures = 0, dead_at = NULL
                 WHERE id = ? AND delivered_at IS NULL AND removed_at IS NULL`
            );
            for (const id of ids) {
                if ((await update.run(at, options.runId, at, id)).changes === 0)
                    continue;
                marked += 1;
                const u = (await this.getUnsubscribe(id)) as UnsubscribeRecord;
                const person = (await this.getPerson(
                    u.personId
                )) as PersonRecord;
                await this.appendAuditIn({
                    action: 'unsubscribe_delivered',
                    runId: options.runId,
                    emailNorm: person.emailNorm,
                    personId: person.id,
                    recordId: u.audienceId,
                    object: 'ledger',
                    field: 'unsubscribe',
                    before: 'pending',
                    after: 'delivered',
                    source: u.source,
                    collectedAt: u.collectedAt,
                    writtenAt: at,
                    detail: {
                        unsubscribeId: id,
                        scope: u.scope,
                        ...options.detail
                    }
                });
            }
            return marked;
        });
    }

    /**
     * The deliberate, audited removal of an unsubscribe (R4): marks the active global
     * (or audience) unsubscribe removed — never a DELETE — and, for an audience, moves
     * the membership back to Subscribed. Never touches Salesforce. An empty `removed`
     * means nothing was active. Throws UNKNOWN_EMAIL for an email the ledger lacks.
     */
    async resubscribe(input: ResubscribeInput): Promise<ResubscribeResult> {
        const reason = cleanReason(input.reason);
        if (!reason)
            throw new OptoutError(
                'REASON_REQUIRED',
                'A resubscribe needs a reason (it is audited).',
                {
                    actions: [
                        'Add --reason "why this person may be emailed again"'
                    ],
                    exitCode: 2
                }
            );
        return this.transaction(async () => {
            const person = await this.findPerson(input.email);
            if (!person) {
                throw new OptoutError(
                    'UNKNOWN_EMAIL',
                    `No person with email '${input.email.trim()}' in the ledger.`,
                    {
                        actions: [
                            'Check the spelling',
                            'See what the ledger knows: optout history --email EMAIL'
                        ]
                    }
                );
            }
            const audienceId = input.audienceId
                ? (await this.requireAudience(input.audienceId)).id
                : null;
            const active =
                audienceId === null
                    ? await this.activeGlobalUnsubscribe(person.id)
                    : await this.activeAudienceUnsubscribe(
                          person.id,
                          audienceId
                      );
            if (!active) return { person, removed: [], membership: null };
            const at = input.at ?? this.nowIso();
            await this.stmt(
                'UPDATE unsubscribes SET removed_at = ?, removed_reason = ? WHERE id = ?'
            ).run(at, reason, active.id);
            await this.appendSuppressionEventIn(active.id, 'removed', at);
            await this.appendAuditIn({
                action: 'resubscribe',
                at,
                runId: input.runId,
                emailNorm: person.emailNorm,
                personId: person.id,
                recordId: active.audienceId,
                object: 'ledger',
                field: 'unsubscribe',
                before:
                    active.scope === 'all'
                        ? 'all audiences'
                        : `audience ${active.audienceId}`,
                after: 'removed',
                source: active.source,
                collectedAt: active.collectedAt,
                detail: {
                    unsubscribeId: active.id,
                    scope: active.scope,
                    reason
                }
            });
            let membership: ResubscribeResult['membership'] = null;
            if (audienceId !== null) {
                const current = await this.getMembership(person.id, audienceId);
                if (current?.status === 'Unsubscribed') {
                    await this.setMembershipIn(
                        {
                            personId: person.id,
                            audienceId,
                            status: 'Subscribed',
                            changedAt: at,
                            source: 'platform',
                            reason,
                            runId: input.runId,
                            auditAction: 'resubscribe'
                        },
                        true
                    );
                    membership = {
                        audienceId,
                        before: 'Unsubscribed',
                        after: 'Subscribed'
                    };
                }
            }
            return {
                person,
                removed: [{ ...active, removedAt: at, removedReason: reason }],
                membership
            };
        });
    }

    // ----------------------------------------------------------------- import

    /**
     * Applies validated import rows in one transaction: persons, audiences, membership
     * statuses (Unsubscribed rows record the audience unsubscribe). Call it with
     * batches of a few thousand rows; see import.ts for validation.
     */
    async importBatch(
        rows: readonly ImportRecord[],
        options: { source: LedgerSource; runId?: string | null }
    ): Promise<ImportBatchResult> {
        const result: ImportBatchResult = {
            personsCreated: 0,
            personsUpdated: 0,
            audiencesCreated: 0,
            audiencesUpdated: 0,
            membershipsChanged: 0,
            unsubscribesAdded: 0,
            skipped: { unchanged: 0, stale: 0, blocked: 0 },
            blockedLines: []
        };
        const ready = new Set<string>();
        await this.transaction(async () => {
            // One "now" for every row of the batch.
            this.engine
                .transactionState()
                ?.set(NOW_KEY, this.now().toISOString());
            {
                for (const row of rows) {
                    const p = await this.upsertPersonIn({
                        email: row.email,
                        salesforceId: row.salesforceId
                    });
                    if (p.created) result.personsCreated += 1;
                    else if (p.changed) result.personsUpdated += 1;
                    if (!ready.has(row.audienceId)) {
                        if (row.audienceName) {
                            const a = await this.upsertAudienceIn(
                                row.audienceId,
                                row.audienceName
                            );
                            if (a.created) result.audiencesCreated += 1;
                            else if (a.changed) result.audiencesUpdated += 1;
                        } else {
                            await this.requireAudience(row.audienceId);
                        }
                        ready.add(row.audienceId);
                    }
                    const m = await this.setMembershipIn(
                        {
                            personId: p.person.id,
                            audienceId: row.audienceId,
                            status: row.status,
                            changedAt: row.changedAt,
                            source: options.source,
                            reason: row.reason,
                            runId: options.runId,
                            auditAction: 'import'
                        },
                        false,
                        p.person
                    );
                    if (m.outcome === 'created' || m.outcome === 'changed')
                        result.membershipsChanged += 1;
                    else result.skipped[m.outcome] += 1;
                    if (m.outcome === 'blocked' && row.line !== undefined)
                        result.blockedLines.push(row.line);
                    if (m.unsubscribeId !== null) result.unsubscribesAdded += 1;
                }
            }
        });
        return result;
    }

    // ------------------------------------------------------------------ audit

    /** Appends one audit entry (R10). */
    async appendAudit(entry: AuditInput): Promise<number> {
        return this.transaction(async () => this.appendAuditIn(entry));
    }

    /** Appends many audit entries in one transaction. */
    async appendAudits(entries: readonly AuditInput[]): Promise<void> {
        await this.transaction(async () => {
            for (const e of entries) await this.appendAuditIn(e);
        });
    }

    private async appendAuditIn(e: AuditInput): Promise<number> {
        let latency = e.latencyMs ?? null;
        if (latency === null && e.collectedAt && e.writtenAt) {
            const ms = Date.parse(e.writtenAt) - Date.parse(e.collectedAt);
            if (!Number.isNaN(ms)) latency = ms;
        }
        const detail =
            e.detail == null
                ? null
                : typeof e.detail === 'string'
                  ? e.detail
                  : JSON.stringify(e.detail);
        const info = (await this.stmt(
            `INSERT INTO audit (run_id, at, action, email_norm, person_id, record_id, object, field,
                 before, after, source, collected_at, written_at, latency_ms, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
        ).get(
            e.runId ?? null,
            e.at ?? this.nowIso(),
            e.action,
            e.emailNorm ?? null,
            e.personId ?? null,
            e.recordId ?? null,
            e.object ?? null,
            e.field ?? null,
            e.before ?? null,
            e.after ?? null,
            e.source ?? null,
            e.collectedAt ?? null,
            e.writtenAt ?? null,
            latency,
            detail
        )) as { id: number };
        return info.id;
    }

    /** The audit trail of an email (case-insensitive), oldest first. */
    async auditForEmail(email: string): Promise<AuditRecord[]> {
        return (await this.stmt(
            `SELECT ${AUDIT_COLS} FROM audit WHERE email_norm = ? ORDER BY at, id`
        ).all(normalizeEmail(email))) as AuditRecord[];
    }

    /** The audit entries about one kind of object (e.g. 'notify'), in order. */
    async auditForObject(object: string): Promise<AuditRecord[]> {
        return (await this.stmt(
            `SELECT ${AUDIT_COLS} FROM audit WHERE object = ? ORDER BY id`
        ).all(object)) as AuditRecord[];
    }

    /** The audit entries of one run, in order. */
    async auditForRun(runId: string): Promise<AuditRecord[]> {
        return (await this.stmt(
            `SELECT ${AUDIT_COLS} FROM audit WHERE run_id = ? ORDER BY id`
        ).all(runId)) as AuditRecord[];
    }

    // ------------------------------------------------------------------- runs

    /** Records the start of a job run; returns it with a new uuid unless `id` is given. */
    async startRun(input: {
        job: string;
        dryRun?: boolean;
        id?: string;
        startedAt?: string;
    }): Promise<RunRecord> {
        const run: RunRecord = {
            id: input.id ?? randomUUID(),
            job: input.job,
            startedAt: input.startedAt ?? this.nowIso(),
            finishedAt: null,
            status: 'running',
            dryRun: Boolean(input.dryRun),
            pid: process.pid,
            result: null
        };
        await this.transaction(async () =>
            this.stmt(
                `INSERT INTO runs (id, job, started_at, status, dry_run, pid) VALUES (?, ?, ?, 'running', ?, ?)`
            ).run(run.id, run.job, run.startedAt, run.dryRun ? 1 : 0, run.pid)
        );
        return run;
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
        const finishedAt = input.finishedAt ?? this.nowIso();
        const { changes } = await this.stmt(
            `UPDATE runs SET finished_at = ?, status = ?, result_json = ? WHERE id = ?`
        ).run(
            finishedAt,
            input.status,
            input.result === undefined ? null : JSON.stringify(input.result),
            id
        );
        if (changes === 0) throw invalid('UNKNOWN_RUN', `no run with id ${id}`);
        return (await this.getRun(id)) as RunRecord;
    }

    async getRun(id: string): Promise<RunRecord | undefined> {
        const row = (await this.stmt(
            `SELECT ${RUN_COLS} FROM runs WHERE id = ?`
        ).get(id)) as RunRow | undefined;
        return row && toRun(row);
    }

    /** Runs, newest first. */
    async listRuns(
        options: { job?: string; limit?: number } = {}
    ): Promise<RunRecord[]> {
        const rows = (await this.stmt(
            `SELECT ${RUN_COLS} FROM runs WHERE (CAST(? AS TEXT) IS NULL OR job = ?) ORDER BY started_at DESC, rowid DESC LIMIT ?`
        ).all(
            options.job ?? null,
            options.job ?? null,
            options.limit ?? 20
        )) as RunRow[];
        return rows.map(toRun);
    }

    /** The latest run of each job, with its summary (for `optout status`). */
    async lastRuns(): Promise<RunSummary[]> {
        const rows = (await this.stmt(
            `SELECT ${RUN_COLS} FROM runs r WHERE rowid = (
                 SELECT rowid FROM runs WHERE job = r.job ORDER BY started_at DESC, rowid DESC LIMIT 1)
             ORDER BY job`
        ).all()) as RunRow[];
        return rows.map((row) => summarizeRun(toRun(row)));
    }

    // ---------------------------------------------------------------- cursors

    async getCursor(job: string, name: string): Promise<string | undefined> {
        const row = (await this.stmt(
            'SELECT value FROM cursors WHERE job = ? AND name = ?'
        ).get(job, name)) as { value: string } | undefined;
        return row?.value;
    }

    /** Every cursor of a job (e.g. the notify URLs' delivery cursors), by name. */
    async listCursors(job: string): Promise<{ name: string; value: string }[]> {
        return (await this.stmt(
            'SELECT name, value FROM cursors WHERE job = ? ORDER BY name'
        ).all(job)) as { name: string; value: string }[];
    }

    async setCursor(
        job: string,
        name: string,
        value: string | number
    ): Promise<void> {
        await this.transaction(async () =>
            this.stmt(
                `INSERT INTO cursors (job, name, value, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (job, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`
            ).run(job, name, String(value), this.nowIso())
        );
    }

    // ------------------------------------------------------------------ locks

    async getLock(name: string): Promise<LockInfo | undefined> {
        return (await this.stmt(
            `SELECT ${LOCK_COLS} FROM locks WHERE name = ?`
        ).get(name)) as LockInfo | undefined;
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
        const holder = options.holder ?? lockHolderId();
        const pid = options.pid ?? process.pid;
        const staleAfterMs = options.staleAfterMs ?? 120_000;
        return this.transaction(async (): Promise<LockResult> => {
            const now = this.now();
            const at = now.toISOString();
            const existing = await this.getLock(name);
            let takenOver:
                { from: LockInfo; why: 'dead' | 'stale' } | undefined;
            if (existing && existing.holder !== holder) {
                const why = lockTakeoverReason(existing, now, staleAfterMs);
                if (!why) return { acquired: false, heldBy: existing };
                takenOver = { from: existing, why };
            }
            const acquiredAt =
                existing && existing.holder === holder
                    ? existing.acquiredAt
                    : at;
            await this.stmt(
                `INSERT INTO locks (name, holder, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
                         acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at`
            ).run(name, holder, pid, acquiredAt, at);
            const lock = { name, holder, pid, acquiredAt, heartbeatAt: at };
            return takenOver
                ? { acquired: true, lock, takenOver }
                : { acquired: true, lock };
        });
    }

    /** Refreshes the heartbeat; false when this holder no longer has the lock. */
    async heartbeatLock(name: string, holder: string): Promise<boolean> {
        const { changes } = await this.stmt(
            'UPDATE locks SET heartbeat_at = ? WHERE name = ? AND holder = ?'
        ).run(this.nowIso(), name, holder);
        return changes === 1;
    }

    /** Releases the lock if this holder has it; false otherwise. */
    async releaseLock(name: string, holder: string): Promise<boolean> {
        const { changes } = await this.stmt(
            'DELETE FROM locks WHERE name = ? AND holder = ?'
        ).run(name, holder);
        return changes === 1;
    }

    // ---------------------------------------------------------------- reports

    /** Everything the ledger knows about an email, with its audit trail by time. */
    async history(email: string): Promise<HistoryReport> {
        const person = (await this.findPerson(email)) ?? null;
        return {
            email: normalizeEmail(email),
            person,
            memberships: person ? await this.listMemberships(person.id) : [],
            unsubscribes: person ? await this.listUnsubscribes(person.id) : [],
            stuck: person
                ? (await this.stuckRecords({ email: person.emailNorm })).map(
                      stuckDetail
                  )
                : [],
            audit: await this.auditForEmail(email)
        };
    }

    /** Counts for `optout status`. */
    async status(): Promise<LedgerStatus> {
        const count = async (sql: string): Promise<number> =>
            ((await this.stmt(sql).get()) as { n: number }).n;
        const byStatus = Object.fromEntries(
            MEMBERSHIP_STATUSES.map((s) => [s, 0])
        ) as Record<MembershipStatus, number>;
        for (const row of (await this.stmt(
            'SELECT status, COUNT(*) AS n FROM memberships GROUP BY status'
        ).all()) as {
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
        for (const row of (await this.stmt(
            `SELECT scope, source, COUNT(*) AS n FROM unsubscribes WHERE removed_at IS NULL GROUP BY scope, source`
        ).all()) as {
            scope: UnsubscribeScope;
            source: LedgerSource;
            n: number;
        }[]) {
            byScope[row.scope] += row.n;
            bySource[row.source] += row.n;
            active += row.n;
        }
        const pending = (await this.stmt(
            `SELECT COUNT(*) AS n, SUM(CASE WHEN scope = 'all' THEN 1 ELSE 0 END) AS g,
                    SUM(CASE WHEN scope = 'audience' THEN 1 ELSE 0 END) AS a,
                    MIN(collected_at) AS oldest
             FROM unsubscribes WHERE delivered_at IS NULL AND removed_at IS NULL`
        ).get()) as {
            n: number;
            g: number | null;
            a: number | null;
            oldest: string | null;
        };
        return {
            path: this.path,
            schemaVersion: await this.schemaVersion(),
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
                    ? Math.max(
                          0,
                          this.now().getTime() - Date.parse(pending.oldest)
                      )
                    : null,
                waitingForRecord: await this.countWaiting(),
                nextRetryAt:
                    (
                        (await this.stmt(
                            `SELECT MIN(next_attempt_at) AS t FROM unsubscribes
                             WHERE delivered_at IS NULL AND removed_at IS NULL
                               AND last_outcome IN ${WAITING_SQL}`
                        ).get()) as { t: string | null }
                    ).t ?? null
            },
            stuck: await this.stuckSummary(),
            lastRuns: await this.lastRuns()
        };
    }

    // ------------------------------------------------------- reads for the jobs
    //
    // The sync keeps the Salesforce rows it reads in a workspace of its own (sync/
    // workspace.ts) and asks the ledger what it needs in batches — a list of ids or
    // emails per call, never one call per record — so that a ledger on another
    // machine would cost a round trip per batch.

    /** How many rows each of the ledger's tables holds (checks, copies, tests). */
    async rowCounts(): Promise<LedgerRowCounts> {
        const counts = {} as LedgerRowCounts;
        for (const table of LEDGER_TABLES)
            counts[table] = (
                (await this.stmt(
                    `SELECT COUNT(*) AS n FROM ${table}`
                ).get()) as {
                    n: number;
                }
            ).n;
        return counts;
    }

    /** How many persons the ledger holds. */
    async countPersons(): Promise<number> {
        return (
            (await this.stmt('SELECT COUNT(*) AS n FROM persons').get()) as {
                n: number;
            }
        ).n;
    }

    /** How many membership changes have a seq above `seq` (the hourly's fresh work). */
    async countMembershipChangesAfter(seq: number): Promise<number> {
        return (
            (await this.stmt(
                'SELECT COUNT(*) AS n FROM memberships WHERE seq > ?'
            ).get(seq)) as { n: number }
        ).n;
    }

    /** When the sync first wrote to Salesforce (null: never). */
    async firstSalesforceWriteAt(): Promise<string | null> {
        return (
            (await this.stmt(
                `SELECT MIN(at) AS at FROM audit WHERE action IN
                 ('field_write', 'membership_written', 'unsubscribe_delivered')`
            ).get()) as { at: string | null }
        ).at;
    }

    /** The person's active, undelivered unsubscribe from this audience, if any. */
    async undeliveredAudienceUnsubscribeId(
        personId: number,
        audienceId: string
    ): Promise<number | null> {
        const row = (await this.stmt(
            `SELECT id FROM unsubscribes WHERE person_id = ? AND audience_id = ? AND scope = 'audience'
             AND removed_at IS NULL AND delivered_at IS NULL`
        ).get(personId, audienceId)) as { id: number } | undefined;
        return row?.id ?? null;
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
        return (
            (await this.stmt(
                `SELECT 1 FROM persons p JOIN unsubscribes u ON u.person_id = p.id
                 WHERE u.scope = 'audience' AND u.audience_id = ? AND u.removed_at IS NULL
                   AND p.id <> ? AND (p.salesforce_id = ? OR (CAST(? AS TEXT) IS NOT NULL AND p.email_norm = ?))
                 LIMIT 1`
            ).get(
                input.audienceId,
                input.personId,
                input.salesforceId,
                input.emailNorm,
                input.emailNorm
            )) !== undefined
        );
    }

    /**
     * Persons whose memberships changed in (afterSeq, upToSeq] and for whom R5b holds
     * now: at least one membership that is not Archived, and all of those Unsubscribed.
     */
    async personsUnsubscribedFromAllAudiences(
        afterSeq: number,
        upToSeq: number
    ): Promise<PersonTarget[]> {
        return (await this.stmt(
            `SELECT p.id AS personId, p.email_norm AS emailNorm, p.salesforce_id AS salesforceId
             FROM persons p
             WHERE p.id IN (SELECT person_id FROM memberships WHERE seq > ? AND seq <= ?)
               AND EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.status <> 'Archived')
               AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id
                               AND m.status NOT IN ('Archived', 'Unsubscribed'))`
        ).all(afterSeq, upToSeq)) as PersonTarget[];
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
        const bySalesforceId = new Map<string, number>();
        for (const part of chunks(unique(salesforceIds)))
            for (const r of (await this.stmt(
                `SELECT salesforce_id AS k, MIN(id) AS id FROM persons
                 WHERE salesforce_id IN (${marks(part.length)}) GROUP BY salesforce_id`
            ).all(...part)) as { k: string; id: number }[])
                bySalesforceId.set(r.k, r.id);
        const byEmail = new Map<string, number>();
        for (const part of chunks(unique(emailNorms)))
            for (const r of (await this.stmt(
                `SELECT email_norm AS k, id FROM persons WHERE email_norm IN (${marks(part.length)})`
            ).all(...part)) as { k: string; id: number }[])
                byEmail.set(r.k, r.id);
        return { bySalesforceId, byEmail };
    }

    /**
     * Every person linked to one of these Salesforce ids or (pass `email_norm`
     * values) these emails, lowest id first.
     */
    async personIdsLinkedTo(
        salesforceIds: readonly string[],
        emailNorms: readonly string[]
    ): Promise<number[]> {
        const ids = new Set<number>();
        for (const part of chunks(unique(salesforceIds)))
            for (const r of (await this.stmt(
                `SELECT id FROM persons WHERE salesforce_id IN (${marks(part.length)})`
            ).all(...part)) as { id: number }[])
                ids.add(r.id);
        for (const id of (
            await this.personIdsByRecord([], emailNorms)
        ).byEmail.values())
            ids.add(id);
        return [...ids].sort((a, b) => a - b);
    }

    /** Which of these persons have an active global unsubscribe. */
    async personsWithActiveGlobalUnsubscribe(
        personIds: readonly number[]
    ): Promise<Set<number>> {
        const out = new Set<number>();
        for (const part of chunks(unique(personIds)))
            for (const r of (await this.stmt(
                `SELECT DISTINCT person_id AS id FROM unsubscribes
                 WHERE person_id IN (${marks(part.length)}) AND scope = 'all' AND removed_at IS NULL`
            ).all(...part)) as { id: number }[])
                out.add(r.id);
        return out;
    }

    /**
     * These persons with their active global unsubscribe (one row per unsubscribe, one
     * row with nulls for a person without one), by person id.
     */
    async personsWithGlobalUnsubscribe(
        personIds: readonly number[]
    ): Promise<PersonGlobalUnsubscribe[]> {
        const rows: PersonGlobalUnsubscribe[] = [];
        for (const part of chunks(unique(personIds)))
            rows.push(
                ...((await this.stmt(
                    `SELECT p.id AS personId, p.email_norm AS emailNorm, p.salesforce_id AS salesforceId,
                            u.id AS unsubscribeId, CASE WHEN u.delivered_at IS NOT NULL THEN 1 ELSE 0 END AS delivered,
                            u.source AS source, u.collected_at AS collectedAt
                     FROM persons p
                     LEFT JOIN unsubscribes u ON u.person_id = p.id AND u.scope = 'all' AND u.removed_at IS NULL
                     WHERE p.id IN (${marks(part.length)})`
                ).all(...part)) as PersonGlobalUnsubscribe[])
            );
        return rows.sort((a, b) => a.personId - b.personId);
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
        return (await this.stmt(
            `SELECT u.id AS id, p.id AS personId, p.salesforce_id AS salesforceId,
                    p.email_norm AS emailNorm, u.source AS source, u.collected_at AS collectedAt,
                    u.last_outcome AS lastOutcome, u.next_attempt_at AS nextAttemptAt,
                    u.delivered_at AS deliveredAt
             FROM unsubscribes u JOIN persons p ON p.id = u.person_id
             WHERE u.scope = 'all' AND u.removed_at IS NULL AND u.id > ?
             ORDER BY u.id LIMIT ?`
        ).all(afterId, limit)) as ActiveGlobalUnsubscribe[];
    }

    // ------------------------------------------------------ suppression feed

    /** Appends a feed event; callers are inside the write that made the change. */
    private async appendSuppressionEventIn(
        unsubscribeId: number,
        kind: SuppressionEventKind,
        at: string
    ): Promise<void> {
        await this.stmt(
            'INSERT INTO suppression_events (unsubscribe_id, kind, at) VALUES (?, ?, ?)'
        ).run(unsubscribeId, kind, at);
    }

    /** The id of the newest feed event (0: none yet). */
    async lastSuppressionEventId(): Promise<number> {
        const row = (await this.stmt(
            'SELECT MAX(id) AS id FROM suppression_events'
        ).get()) as { id: number | null };
        return row.id ?? 0;
    }

    /** Feed events with an id above `afterId`, oldest first (see feed.ts). */
    async suppressionEvents(
        afterId: number,
        limit: number
    ): Promise<SuppressionEvent[]> {
        return (await this.stmt(
            `SELECT e.id AS eventId, p.email AS email, u.scope AS scope,
                    u.audience_id AS audienceId, u.source AS source, u.reason AS reason,
                    u.collected_at AS collectedAt,
                    CASE WHEN e.kind = 'removed' THEN u.removed_at END AS removedAt
             FROM suppression_events e
             JOIN unsubscribes u ON u.id = e.unsubscribe_id
             JOIN persons p ON p.id = u.person_id
             WHERE e.id > ? ORDER BY e.id LIMIT ?`
        ).all(afterId, limit)) as SuppressionEvent[];
    }

    /** How many feed events have an id above `afterId`. */
    async countSuppressionEventsAfter(afterId: number): Promise<number> {
        return (
            (await this.stmt(
                'SELECT COUNT(*) AS n FROM suppression_events WHERE id > ?'
            ).get(afterId)) as { n: number }
        ).n;
    }

    /**
     * One page of the feed after `cursor` (none: from the beginning), and the cursor
     * to continue from. A bad cursor or limit throws BAD_CURSOR / BAD_LIMIT.
     */
    async suppressionPage(
        cursor: string | null | undefined,
        limit: string | number | undefined = undefined
    ): Promise<SuppressionPage> {
        const size = parseFeedLimit(limit);
        const after = decodeCursor(cursor, await this.lastSuppressionEventId());
        const items = await this.suppressionEvents(after, size);
        const last = items.length ? items[items.length - 1].eventId : after;
        return { items, next: encodeCursor(last) };
    }

    /** Stuck records grouped by reason, with examples (see StuckSummary). */
    async stuckSummary(): Promise<StuckSummary> {
        const counts = await this.stuckCounts();
        const groups = groupStuck(counts);
        const examples = new Map<string, StuckDetail[]>();
        for (const g of groups)
            examples.set(
                g.reason,
                (
                    await this.stuckRecords({
                        codes: Object.keys(g.codes),
                        limit: STUCK_EXAMPLES
                    })
                ).map(stuckDetail)
            );
        return {
            retrying: counts
                .filter((c) => c.state === 'retrying')
                .reduce((a, c) => a + c.count, 0),
            deadLetters: counts
                .filter((c) => c.state === 'dead_letter')
                .reduce((a, c) => a + c.count, 0),
            byReason: groups.map((g) => ({
                ...g,
                examples: examples.get(g.reason) ?? []
            }))
        };
    }
}

function toRun(row: RunRow): RunRecord {
    let result: unknown = null;
    if (row.resultJson) {
        try {
            result = JSON.parse(row.resultJson);
        } catch {
            result = row.resultJson;
        }
    }
    return {
        id: row.id,
        job: row.job,
        startedAt: row.startedAt,
        finishedAt: row.finishedAt,
        status: row.status,
        dryRun: row.dryRun === 1,
        pid: row.pid,
        result
    };
}

const SUMMARY_KEYS = [
    'recordsWritten',
    'ledgerUnsubscribesAdded',
    'membershipsUpserted',
    'unsubscribesDelivered'
];

/** The counters of a run's JobResult that `optout status` shows. */
export function summarizeRun(run: RunRecord): RunSummary {
    const result = (
        run.result && typeof run.result === 'object' ? run.result : {}
    ) as Record<string, unknown>;
    const summary: Record<string, number | string | null> = {};
    for (const key of SUMMARY_KEYS)
        if (typeof result[key] === 'number') summary[key] = result[key];
    if (Array.isArray(result.failed)) summary.failed = result.failed.length;
    const deferred = result.deferred as
        { count?: unknown; reason?: unknown } | null | undefined;
    if (deferred && typeof deferred.count === 'number') {
        summary.deferred = deferred.count;
        if (typeof deferred.reason === 'string')
            summary.deferredReason = deferred.reason;
    }
    const usage = result.apiUsage as
        { used?: unknown; max?: unknown } | undefined;
    const durationMs =
        typeof result.durationMs === 'number'
            ? result.durationMs
            : run.finishedAt
              ? Date.parse(run.finishedAt) - Date.parse(run.startedAt)
              : null;
    return {
        job: run.job,
        runId: run.id,
        status: run.status,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt,
        durationMs,
        dryRun: run.dryRun,
        apiRequests:
            typeof result.apiRequests === 'number' ? result.apiRequests : null,
        apiUsage:
            usage &&
            typeof usage.used === 'number' &&
            typeof usage.max === 'number'
                ? { used: usage.used, max: usage.max }
                : null,
        summary
    };
}

/**
 * Whether a change at `incoming` is older than the stored `stored`. A time that comes
 * from Salesforce (whole seconds: DateTime fields drop the milliseconds) is compared to
 * the second, so a Salesforce change made in the same second as the ledger's is not
 * taken for an older one.
 */
function olderThan(incoming: string, stored: string): boolean {
    const a = Date.parse(incoming);
    const b = Date.parse(stored);
    if (Number.isNaN(a) || Number.isNaN(b)) return incoming < stored;
    return a % 1000 === 0 ? a < Math.floor(b / 1000) * 1000 : a < b;
}

/** Values per `IN (…)` list: well under SQLite's bound-parameter limit. */
const IN_CHUNK = 500;

function unique<T>(values: readonly T[]): T[] {
    return [...new Set(values)];
}

function chunks<T>(values: readonly T[]): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < values.length; i += IN_CHUNK)
        out.push(values.slice(i, i + IN_CHUNK));
    return out;
}

function marks(n: number): string {
    return Array.from({ length: n }, () => '?').join(', ');
}
