/**
 * Where a ledger lives, as a typed choice: a SQLite file (the embedded default) or a
 * PostgreSQL server named by a `postgres://` / `postgresql://` URL. Anything else that
 * looks like a URL is refused here, so that `mysql://…` or a mistyped `postgres:/…`
 * never becomes a file of that name in the working folder.
 */
import { resolve } from 'node:path';
import { OptoutError } from '../model/errors';

export type LedgerLocation =
    { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export const POSTGRES_SCHEMES = ['postgres', 'postgresql'] as const;

export interface ParseLedgerOptions {
    /** Where the value came from, for messages (`--ledger`, `OPTOUT_LEDGER`). */
    origin?: string;
    /** The folder a relative path is taken from (default: the working folder). */
    cwd?: string;
}

/** `scheme://…`: the value is a URL, not a path. */
const URL_PREFIX = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
/** `postgres:` or `postgresql:` without `//`: a mistyped URL, never a file name. */
const POSTGRES_PREFIX = /^(postgres|postgresql):/i;

const EXAMPLE_URL = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/**
 * A `--ledger` / `OPTOUT_LEDGER` value → where the ledger is. A path becomes absolute
 * (from `cwd`); a PostgreSQL URL is kept as given. A URL of another scheme, or a
 * PostgreSQL URL that does not parse, is a usage error (exit 2).
 */
export function parseLedgerLocation(
    raw: string,
    options: ParseLedgerOptions = {}
): LedgerLocation {
    const origin = options.origin ?? 'The ledger';
    const value = raw.trim();
    if (value === '')
        throw new OptoutError(
            'BAD_ARGUMENT',
            `${origin} must be a file path or a ${EXAMPLE_URL} URL, not empty.`,
            { exitCode: 2 }
        );
    const scheme = URL_PREFIX.exec(value)?.[1]?.toLowerCase();
    if (scheme !== undefined && !isPostgresScheme(scheme))
        throw unsupportedScheme(origin, scheme, value);
    if (scheme !== undefined || POSTGRES_PREFIX.test(value))
        return { kind: 'postgres', url: checkPostgresUrl(origin, value) };
    return {
        kind: 'sqlite',
        path: resolve(options.cwd ?? process.cwd(), value)
    };
}

/** The location as it may be printed: a URL's password is masked. */
export function describeLedgerLocation(location: LedgerLocation): string {
    return location.kind === 'sqlite'
        ? location.path
        : redactPassword(location.url);
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function redactPassword(url: string): string {
    try {
        const parsed = new URL(url);
        if (parsed.password === '') return url;
        parsed.password = '***';
        return parsed.toString();
    } catch {
        // Not a URL the parser reads: mask anything between the first ':' after the
        // scheme and the last '@', where a password would be.
        return url.replace(/^([^:]+:\/\/[^:/@]*:)[^@]*@/, '$1***@');
    }
}

function isPostgresScheme(scheme: string): boolean {
    return (POSTGRES_SCHEMES as readonly string[]).includes(scheme);
}

function unsupportedScheme(
    origin: string,
    scheme: string,
    value: string
): OptoutError {
    return new OptoutError(
        'LEDGER_URL_UNSUPPORTED',
        `${origin} '${redactPassword(value)}' is a ${scheme}:// URL; a ledger is a SQLite file path or a PostgreSQL URL (postgres:// or postgresql://). Nothing was read or written.`,
        {
            actions: [
                'Give the path of a SQLite file, e.g. --ledger .optout/ledger.db',
                `Or a PostgreSQL server: ${EXAMPLE_URL}`
            ],
            exitCode: 2
        }
    );
}

/** A PostgreSQL URL the WHATWG parser reads, with `//` after the scheme. */
function checkPostgresUrl(origin: string, value: string): string {
    let parsed: URL | undefined;
    try {
        parsed = URL_PREFIX.test(value) ? new URL(value) : undefined;
    } catch {
        parsed = undefined;
    }
    if (parsed) return value;
    throw new OptoutError(
        'BAD_LEDGER_URL',
        `${origin} '${redactPassword(value)}' is not a valid PostgreSQL URL. Nothing was read or written.`,
        {
            actions: [
                `Write it as ${EXAMPLE_URL} (percent-encode special characters in the password)`
            ],
            exitCode: 2
        }
    );
}
