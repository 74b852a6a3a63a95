/**
 * Every option parser of the CLI, in one place, and the options shared by commands: where the ledger is (`--ledger PATH`, env
 * `OPTOUT_LEDGER`, default `.optout/ledger.db`; a `postgres://` URL is recognised and
 * refused until the PostgreSQL engine exists), and parsers for option values that
 * turn bad input into an OptoutError before anything is stored.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import { OptoutError } from '../model/errors';
import {
    LEDGER_SOURCES,
    checkAudienceId,
    checkEmail,
    parseSource,
    type LedgerSource
} from '../model/statuses';
import { Ledger } from '../ledger/ledger';
import {
    describeLedgerLocation,
    parseLedgerLocation,
    type LedgerLocation
} from '../ledger/location';
import type { ImportFormat } from '../ledger/csv-format';
import { OPT_OUT_FIELDS, type OptOutField } from '../model/schema';
import {
    TEST_LEVELS,
    checkRequestedTests,
    testLevelNamed,
    testOptionsError,
    type RequestedTests,
    type TestLevel
} from '../salesforce/deploy-plan';

/** Durations (`30s`, `5m`, `1h`), shared with the scheduler's own settings. */
export { parseDuration } from '../scheduler/plan';

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const DEFAULT_LEDGER_PATH = join('.optout', 'ledger.db');
export const LEDGER_ENV = 'OPTOUT_LEDGER';

export interface LedgerOptions {
    ledger?: string;
}

/** Adds `--ledger PATH|URL` to a command. */
export function addLedgerOption(cmd: Command): Command {
    return cmd.option(
        '--ledger <path|url>',
        `ledger: a SQLite file, or a postgres:// URL for several machines (default: $${LEDGER_ENV} or ${DEFAULT_LEDGER_PATH})`
    );
}

/**
 * `--ledger`, else `OPTOUT_LEDGER`, else `.optout/ledger.db`: a SQLite path (made
 * absolute) or a PostgreSQL URL. Another URL scheme is a usage error.
 */
export function resolveLedgerLocation(
    flag: string | undefined,
    env: NodeJS.ProcessEnv = process.env
): LedgerLocation {
    if (flag !== undefined && flag.trim() !== '')
        return parseLedgerLocation(flag, { origin: '--ledger' });
    const fromEnv = env[LEDGER_ENV];
    if (fromEnv !== undefined && fromEnv.trim() !== '')
        return parseLedgerLocation(fromEnv, { origin: LEDGER_ENV });
    return parseLedgerLocation(DEFAULT_LEDGER_PATH);
}

/**
 * Where the ledger is, as `Ledger.open` takes it: a SQLite file's absolute path, or a
 * PostgreSQL URL. Any other URL is refused before anything is created.
 */
export function resolveLedger(
    flag: string | undefined,
    env: NodeJS.ProcessEnv = process.env
): string {
    const location = resolveLedgerLocation(flag, env);
    return location.kind === 'sqlite' ? location.path : location.url;
}

/**
 * Opens the ledger of a command's options (creating it and its folder unless
 * `mustExist`), runs `fn`, and closes it whatever happens.
 */
export async function withLedger<T>(
    options: LedgerOptions,
    fn: (ledger: Ledger) => Promise<T> | T,
    settings: { mustExist?: boolean } = {}
): Promise<T> {
    const path = resolveLedger(options.ledger);
    // A SQLite file must exist; a PostgreSQL database is there when it answers.
    if (settings.mustExist && isFilePath(path) && !existsSync(path)) {
        throw new OptoutError(
            'LEDGER_NOT_FOUND',
            `There is no ledger at ${path}.`,
            {
                actions: [
                    `Pass --ledger PATH or set ${LEDGER_ENV} if the ledger is elsewhere`,
                    'Or fill a new one: optout import FILE.csv, or optout unsubscribe --email EMAIL'
                ]
            }
        );
    }
    const ledger = await Ledger.open(path);
    try {
        return await fn(ledger);
    } finally {
        await ledger.close();
    }
}

/** A ledger location as a result or message may show it: a URL's password masked. */
export function shownLedger(ledger: string): string {
    return describeLedgerLocation(parseLedgerLocation(ledger));
}

function isFilePath(ledger: string): boolean {
    return parseLedgerLocation(ledger).kind === 'sqlite';
}

/** `--source` value → ledger source; a usage error (exit 2) otherwise. */
export function parseSourceOption(
    raw: string | undefined,
    fallback: LedgerSource
): LedgerSource {
    if (raw === undefined) return fallback;
    const parsed = parseSource(raw);
    if (parsed.ok) return parsed.value;
    throw new OptoutError('BAD_ARGUMENT', `--source: ${parsed.reason}`, {
        actions: [`Use one of ${LEDGER_SOURCES.join(', ')}`],
        exitCode: 2
    });
}

/** `--email` value, validated (exit 1 when it is not an address). */
export function parseEmailOption(raw: string): string {
    const checked = checkEmail(raw);
    if (checked.ok) return checked.value.email;
    const reason =
        checked.reason.charAt(0).toUpperCase() + checked.reason.slice(1);
    throw new OptoutError('BAD_EMAIL', `${reason}.`, {
        actions: ['Give a full address such as --email ana.lopez@example.com']
    });
}

/** `--audience` value, validated (exit 1). */
export function parseAudienceOption(raw: string): string {
    const checked = checkAudienceId(raw);
    if (checked.ok) return checked.value;
    throw new OptoutError('BAD_AUDIENCE', `--audience: ${checked.reason}`, {
        actions: ['Give the audience (list) id of the marketing platform']
    });
}

/** A non-empty text option (usage error when blank). */
export function requireText(
    raw: string | undefined,
    option: string,
    hint: string
): string {
    const text = (raw ?? '').trim();
    if (text !== '') return text;
    throw new OptoutError('BAD_ARGUMENT', `${option} must not be empty.`, {
        actions: [hint],
        exitCode: 2
    });
}

/** `--audience ID=NAME` values → [id, name]. */
export function parseAudienceSpecs(
    specs: readonly string[]
): [string, string][] {
    return specs.map((spec) => {
        const i = spec.indexOf('=');
        const id = i > 0 ? spec.slice(0, i).trim() : '';
        const name = i > 0 ? spec.slice(i + 1).trim() : '';
        if (!id || !name)
            throw new OptoutError(
                'BAD_ARGUMENT',
                `--audience must be LIST_ID=NAME (the Mailchimp audience id and its name), not '${spec}'.`,
                {
                    actions: [
                        'Example: --audience a1b2c3d4e5="Monthly newsletter"'
                    ],
                    exitCode: 2
                }
            );
        return [id, name];
    });
}

export function parsePort(raw: string): number {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--port must be a whole number from 0 to 65535 (0 picks a free port), not '${raw}'.`,
            { exitCode: 2 }
        );
    return n;
}

export function parseHost(raw: string): string {
    const host = raw.trim();
    if (
        host === '' ||
        !(isIP(host) || host === 'localhost' || /^[a-z0-9.-]+$/i.test(host))
    )
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--host must be an interface address such as 127.0.0.1 or 0.0.0.0, not '${raw}'.`,
            { exitCode: 2 }
        );
    return host;
}

export function parseMaxItems(raw: string): number {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--max-items must be a whole number from 1 to 10000, not '${raw}'.`,
            { exitCode: 2 }
        );
    return n;
}

export function positiveInt(
    name: string,
    value: string | undefined,
    min = 0
): number | undefined {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
        throw new OptoutError(
            'BAD_ARGUMENT',
            `${name} must be an integer ≥ ${min}, got '${value}'`,
            { exitCode: 2 }
        );
    }
    return n;
}

/** on/off (also true/false, yes/no) → boolean; anything else is a usage error. */
export function parseOnOff(
    raw: string | undefined,
    option: string
): boolean | undefined {
    if (raw === undefined) return undefined;
    const v = raw.trim().toLowerCase();
    if (['on', 'true', 'yes'].includes(v)) return true;
    if (['off', 'false', 'no'].includes(v)) return false;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `${option} must be on or off, not '${raw}'. Nothing was written.`,
        {
            exitCode: 2
        }
    );
}

/** `--bulk-threshold`: a whole number of records ≥ 1 (usage error otherwise). */
export function parseBulkThreshold(
    raw: string | undefined
): number | undefined {
    if (raw === undefined) return undefined;
    const text = raw.trim().replace(/_/g, '');
    if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text);
    throw new OptoutError(
        'BAD_ARGUMENT',
        `--bulk-threshold must be a whole number of records (1 or more), not '${raw}'.`,
        { actions: ['For example --bulk-threshold 2000'], exitCode: 2 }
    );
}

export function parseExportFormat(raw: string | undefined): ExportFormat {
    const value = (raw ?? 'csv').trim().toLowerCase();
    if ((EXPORT_FORMATS as readonly string[]).includes(value))
        return value as ExportFormat;
    throw new OptoutError(
        'BAD_FORMAT',
        `--format must be csv or jsonl, not '${String(raw).slice(0, 30)}'.`,
        { actions: ['Use --format csv or --format jsonl'], exitCode: 2 }
    );
}

export function parseImportFormat(raw: string): ImportFormat | 'auto' {
    const value = raw.trim().toLowerCase();
    if (value === 'auto' || value === 'csv' || value === 'mailchimp')
        return value;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `--format must be auto, csv or mailchimp, not '${raw}'.`,
        { exitCode: 2 }
    );
}

/** One of a fixed set of values (usage error, exit 2, otherwise). */
export function parseChoice<T extends string>(
    raw: string,
    option: string,
    choices: readonly T[]
): T {
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `${option} must be ${choices.join(' or ')}, not '${raw}'.`,
        { exitCode: 2 }
    );
}

export function parseDemoSeed(raw: string): number {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--seed must be a whole number from 0 to 2147483648, not '${raw}'.`,
            { exitCode: 2 }
        );
    return n;
}

// optout mailchimp

/** `--batch-threshold`: a whole number of unsubscribes, 0 or more (usage error otherwise). */
export function parseBatchThreshold(raw: string): number {
    const n = Number(raw);
    if (raw.trim() !== '' && Number.isInteger(n) && n >= 0) return n;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `--batch-threshold '${raw}' is not a whole number; nothing was done.`,
        { exitCode: 2 }
    );
}

// --- deploy and settings -----------------------------------------------------------

/** `--target-org`: an alias, a username known to the sf CLI, or `local` (usage error when blank). */
export function parseTargetOrg(raw: string | undefined): string {
    return requireText(
        raw,
        '--target-org',
        'Give an org alias, a username known to the sf CLI, or "local"'
    );
}

/** `--wait`: minutes, above 0 (usage error otherwise). */
export function parseWaitMinutes(raw: string): number {
    const wait = Number(raw);
    if (!Number.isFinite(wait) || wait <= 0)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--wait must be a number of minutes, not '${raw}'.`,
            { exitCode: 2 }
        );
    return wait;
}

/**
 * `--test-level` and `--tests` as given → the tests asked for (`--tests` alone means
 * RunSpecifiedTests); checked before anything is sent.
 */
export function parseTestOptions(
    level: string | undefined,
    tests: string | undefined
): RequestedTests {
    const runTests = (tests ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    if (tests !== undefined && runTests.length === 0)
        throw testOptionsError(
            '--tests needs at least one Apex test class name (comma-separated).'
        );
    let testLevel: TestLevel | null = runTests.length
        ? 'RunSpecifiedTests'
        : null;
    if (level !== undefined) {
        const named = testLevelNamed(level);
        if (!named)
            throw testOptionsError(
                `--test-level must be one of ${TEST_LEVELS.join(', ')}, not '${level}'.`
            );
        testLevel = named;
    }
    const requested = { testLevel, runTests };
    checkRequestedTests(requested);
    return requested;
}

/** `--opt-out-field`: one of the fields an unsubscribe may be written to. */
export function parseOptOutField(raw: string): OptOutField {
    const field = raw.trim();
    if ((OPT_OUT_FIELDS as readonly string[]).includes(field))
        return field as OptOutField;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `--opt-out-field must be ${OPT_OUT_FIELDS.join(' or ')}, not '${raw}'. Nothing was written.`,
        {
            actions: [
                'HasOptedOutOfEmail is the standard Email Opt Out; Marketo_Sales_Opt_Out__c comes with the package'
            ],
            exitCode: 2
        }
    );
}
