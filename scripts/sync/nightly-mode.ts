/**
 * Which reconciliation the nightly runs (R16): incremental — the records changed in
 * Salesforce since the last successful run plus the records of the persons changed in
 * the ledger since then — or full, every Contact and Lead (the behaviour before R16).
 *
 * Full when asked (`optout sync nightly --full`), and by itself when:
 * - no successful nightly is recorded (or its ledger cursor is missing: a ledger from
 *   before incremental runs);
 * - the last success is older than MAX_INCREMENTAL_GAP (15 days, the Recycle Bin's
 *   retention: past it a record deleted and restored, or merged, between the runs may
 *   have left no trace a SystemModstamp read sees; and after such a gap most of the org
 *   has changed anyway, so a scan costs less than a read by change) or lies in the future
 *   (a clock set back);
 * - the last full reconciliation is older than the full interval (7 days by default,
 *   `OPTOUT_NIGHTLY_FULL_EVERY` or `--full-every`; `off` never): drift no SystemModstamp
 *   shows — a record restored from a backup with an old stamp, a person's email or id
 *   changed in the ledger, a resubscribe whose record kept its field — is found within
 *   that interval.
 *
 * The look-back (`OPTOUT_NIGHTLY_LOOKBACK`, default 10 minutes) is read before the
 * cursor: SystemModstamp is stamped when a transaction starts saving and kept to the
 * second, a long transaction (a Bulk job, a trigger cascade) commits minutes later with
 * an older stamp, and the org's clock is not this machine's. Re-reading a record costs
 * nothing: one already right is not written (R11).
 */
import { OptoutError } from '../model/errors';

export const NIGHTLY_LOOKBACK_ENV = 'OPTOUT_NIGHTLY_LOOKBACK';
export const NIGHTLY_FULL_EVERY_ENV = 'OPTOUT_NIGHTLY_FULL_EVERY';

export const DEFAULT_LOOKBACK_MS = 10 * 60_000;
export const DEFAULT_FULL_EVERY_MS = 7 * 24 * 3_600_000;
/** Beyond this since the last success, the run is full (see above). */
export const MAX_INCREMENTAL_GAP_MS = 15 * 24 * 3_600_000;
/** The longest look-back accepted (a longer one is a full run in disguise). */
const MAX_LOOKBACK_MS = 24 * 3_600_000;

export interface NightlyOptions {
    /** Read every Contact and Lead (`--full`). */
    full?: boolean;
    /** How far before the last success the changed records are read. */
    lookbackMs?: number;
    /** A full run when the last full one is older than this; Infinity: never by age. */
    fullEveryMs?: number;
}

export type NightlyMode = 'full' | 'incremental';

export interface NightlyModeChoice {
    mode: NightlyMode;
    /** Why, for the result, `optout status` and the logs. */
    reason: string;
    /** Incremental: records with SystemModstamp after this time (ISO) are read. */
    since?: string;
}

const UNITS: Record<string, number> = {
    m: 60_000,
    min: 60_000,
    h: 3_600_000,
    d: 24 * 3_600_000
};

/**
 * "10m", "2h", "7d" (a bare number: minutes for the look-back, days for the interval);
 * the interval also takes "off". A usage error names the option or variable.
 */
export function parseNightlyDuration(
    raw: string,
    what: string,
    kind: 'lookback' | 'interval'
): number {
    const text = raw.trim().toLowerCase();
    if (kind === 'interval' && (text === 'off' || text === 'never'))
        return Infinity;
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text);
    const unit = m
        ? UNITS[m[2] || (kind === 'lookback' ? 'm' : 'd')]
        : undefined;
    const ms = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
    const ok = kind === 'lookback' ? ms >= 0 && ms <= MAX_LOOKBACK_MS : ms >= 0;
    if (!ok)
        throw new OptoutError(
            'BAD_ARGUMENT',
            kind === 'lookback'
                ? `${what} must be a duration such as 10m or 1h, at most 24h, not '${raw}'.`
                : `${what} must be a duration such as 7d or 36h, or off, not '${raw}'.`,
            { exitCode: 2 }
        );
    return ms;
}

/** The options, completed from the environment where not given. */
export function resolveNightlyOptions(
    given: NightlyOptions = {},
    env: NodeJS.ProcessEnv = process.env
): Required<NightlyOptions> {
    const fromEnv = (
        name: string,
        kind: 'lookback' | 'interval'
    ): number | undefined => {
        const v = env[name];
        return v === undefined || v.trim() === ''
            ? undefined
            : parseNightlyDuration(v, name, kind);
    };
    return {
        full: given.full === true,
        lookbackMs:
            given.lookbackMs ??
            fromEnv(NIGHTLY_LOOKBACK_ENV, 'lookback') ??
            DEFAULT_LOOKBACK_MS,
        fullEveryMs:
            given.fullEveryMs ??
            fromEnv(NIGHTLY_FULL_EVERY_ENV, 'interval') ??
            DEFAULT_FULL_EVERY_MS
    };
}

function days(ms: number): string {
    const d = ms / (24 * 3_600_000);
    return Number.isInteger(d)
        ? `${d} days`
        : `${Math.round(ms / 3_600_000)} hours`;
}

/** What the cursors say, and the choice it makes. */
export function chooseNightlyMode(input: {
    options: Required<NightlyOptions>;
    now: Date;
    /** The last successful nightly's start (NIGHTLY_CURSOR). */
    lastSuccess: string | undefined;
    /** The ledger sequence cursor (feed event id) of that run. */
    eventCursor: string | undefined;
    /** The last full nightly's start. */
    lastFull: string | undefined;
}): NightlyModeChoice {
    const { options, now } = input;
    if (options.full) return { mode: 'full', reason: 'requested (--full)' };
    const success = input.lastSuccess ? Date.parse(input.lastSuccess) : NaN;
    if (Number.isNaN(success))
        return { mode: 'full', reason: 'no successful nightly is recorded' };
    if (
        input.eventCursor === undefined ||
        !/^\d+$/.test(input.eventCursor.trim())
    )
        return {
            mode: 'full',
            reason: 'the ledger cursor of the last nightly is not recorded (its first run with incremental reads)'
        };
    const age = now.getTime() - success;
    if (age > MAX_INCREMENTAL_GAP_MS)
        return {
            mode: 'full',
            reason: `the last successful nightly (${input.lastSuccess}) is older than ${days(MAX_INCREMENTAL_GAP_MS)}`
        };
    if (age < -options.lookbackMs)
        return {
            mode: 'full',
            reason: `the last successful nightly (${input.lastSuccess}) is in the future: this machine's clock went back`
        };
    const full = input.lastFull ? Date.parse(input.lastFull) : NaN;
    if (Number.isFinite(options.fullEveryMs)) {
        if (Number.isNaN(full))
            return {
                mode: 'full',
                reason: 'no full reconciliation is recorded'
            };
        if (now.getTime() - full >= options.fullEveryMs)
            return {
                mode: 'full',
                reason: `the last full reconciliation (${input.lastFull}) is ${days(options.fullEveryMs)} old or more`
            };
    }
    const since = new Date(success - options.lookbackMs).toISOString();
    return {
        mode: 'incremental',
        reason: `changes since the last successful nightly (${input.lastSuccess}), with a ${Math.round(options.lookbackMs / 60_000)}-minute look-back`,
        since
    };
}
