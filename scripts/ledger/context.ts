/**
 * What every section of the ledger works with: the engine, the clock and the
 * transaction-scoped state (the frozen "now" of an import batch, the running membership
 * seq). `Ledger` (ledger.ts) owns one context and hands it to the section modules
 * (store.ts, delivery.ts, runs.ts, …), which are plain functions taking it first.
 *
 * Also the input checks those modules share (`invalid`, `isoTime`).
 */
import { OptoutError } from '../model/errors';
import { parseIsoTime } from '../model/statuses';
import type { RunInfo, SqlEngine } from './sql/engine';

/** A statement bound to its SQL: `get/all/run` take the values of its `?`s. */
export interface Statement {
    get(...params: unknown[]): Promise<unknown>;
    all(...params: unknown[]): Promise<unknown[]>;
    run(...params: unknown[]): Promise<RunInfo>;
}

/** Transaction state keys (see SqlEngine.transactionState). */
const SEQ_KEY = 'seq';
const NOW_KEY = 'now';

export class LedgerContext {
    constructor(
        readonly engine: SqlEngine,
        private readonly clock: () => Date
    ) {}

    /** The clock (tests pass their own to Ledger.open). */
    now(): Date {
        return this.clock();
    }

    /** Now in the ledger's form, or the time frozen for the current transaction. */
    nowIso(): string {
        const frozen = this.engine.transactionState()?.get(NOW_KEY);
        return typeof frozen === 'string' ? frozen : this.now().toISOString();
    }

    /** Freezes "now" for the rest of the current transaction (one time for a batch). */
    freezeNow(): void {
        this.engine.transactionState()?.set(NOW_KEY, this.now().toISOString());
    }

    /** See Ledger.transaction. */
    async transaction<T>(fn: () => Promise<T>): Promise<T> {
        return this.engine.transaction(fn);
    }

    stmt(sql: string): Statement {
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
    async nextSeq(): Promise<number> {
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
}

export function invalid(code: string, reason: string): OptoutError {
    return new OptoutError(
        code,
        reason.charAt(0).toUpperCase() + reason.slice(1)
    );
}

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A caller-given time in the ledger's form (so stored times compare as strings). */
export function isoTime(raw: string, what: string): string {
    if (CANONICAL_TIME.test(raw) && !Number.isNaN(Date.parse(raw))) return raw;
    const parsed = parseIsoTime(raw);
    if (!parsed.ok) throw invalid('BAD_TIME', `${what}: ${parsed.reason}`);
    return parsed.value;
}
