/**
 * Options shared by commands: where the ledger is (`--ledger PATH`, env
 * `OPTOUT_LEDGER`, default `.optout/ledger.db`), and parsers for option values that
 * turn bad input into an OptoutError before anything is stored.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

export const DEFAULT_LEDGER_PATH = join('.optout', 'ledger.db');
export const LEDGER_ENV = 'OPTOUT_LEDGER';

export interface LedgerOptions {
    ledger?: string;
}

/** Adds `--ledger PATH` to a command. */
export function addLedgerOption(cmd: Command): Command {
    return cmd.option(
        '--ledger <path>',
        `ledger file (default: $${LEDGER_ENV} or ${DEFAULT_LEDGER_PATH})`
    );
}

/** `--ledger`, else `OPTOUT_LEDGER`, else `.optout/ledger.db`, as an absolute path. */
export function resolveLedgerPath(
    flag: string | undefined,
    env: NodeJS.ProcessEnv = process.env
): string {
    const chosen =
        flag && flag.trim() !== ''
            ? flag
            : env[LEDGER_ENV] && env[LEDGER_ENV].trim() !== ''
              ? env[LEDGER_ENV]
              : DEFAULT_LEDGER_PATH;
    return resolve(chosen);
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
    const path = resolveLedgerPath(options.ledger);
    if (settings.mustExist && !existsSync(path)) {
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
    const ledger = Ledger.open(path);
    try {
        return await fn(ledger);
    } finally {
        ledger.close();
    }
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
