/**
 * The benchmark's dealings with a PostgreSQL server that are not the ledger's: creating
 * and dropping the databases a benchmark ledger lives in (the test role may create
 * databases), copying one (a template copy: a file copy on the server, no round trip per
 * row), and URLs for them. The ledger itself is only ever opened through Ledger.open.
 */
import { Client } from 'pg';

/** The URL without its password, for logs and results. */
export function redactUrl(url: string): string {
    try {
        const u = new URL(url);
        if (u.password) u.password = '***';
        return u.toString();
    } catch {
        return url;
    }
}

/**
 * A command line as a results file keeps it: every postgres:// URL in it (a value of
 * its own or after `--flag=`) without its password.
 */
export function shownCommand(args: readonly string[]): string {
    return args
        .map((a) =>
            a.replace(/postgres(ql)?:\/\/\S+/gi, (url) => redactUrl(url))
        )
        .join(' ');
}

/** The same server URL with another database. */
export function withDatabase(url: string, database: string): string {
    const u = new URL(url);
    u.pathname = `/${database}`;
    return u.toString();
}

/**
 * A database name made of the parts given: lower case, [a-z0-9_], at most 63 bytes
 * (PostgreSQL's limit), so that it needs no quoting.
 */
export function databaseName(...parts: readonly (string | number)[]): string {
    return parts
        .map((p) =>
            String(p)
                .toLowerCase()
                .replace(/[^a-z0-9]+/g, '_')
        )
        .join('_')
        .replace(/^_+|_+$/g, '')
        .slice(0, 63);
}

/** One statement on the server of `url` (its own connection, closed after). */
export async function adminQuery<R = Record<string, unknown>>(
    url: string,
    sql: string,
    params: unknown[] = []
): Promise<R[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
        const res = await client.query(sql, params);
        return res.rows as R[];
    } finally {
        await client.end();
    }
}

function checkName(name: string): string {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
        throw new Error(`not a plain database name: '${name}'`);
    return name;
}

/**
 * Creates a database on the server of `serverUrl` (a copy of `template` when given:
 * no session may be connected to the template meanwhile) and returns its URL.
 */
export async function createDatabase(
    serverUrl: string,
    name: string,
    template?: string
): Promise<string> {
    await adminQuery(
        serverUrl,
        `CREATE DATABASE ${checkName(name)}${template ? ` TEMPLATE ${checkName(template)}` : ''}`
    );
    return withDatabase(serverUrl, name);
}

/** Drops a database, closing its sessions (a worker killed mid-job may leave one). */
export async function dropDatabase(
    serverUrl: string,
    name: string
): Promise<void> {
    await adminQuery(
        serverUrl,
        `DROP DATABASE IF EXISTS ${checkName(name)} WITH (FORCE)`
    );
}

/** Bytes the database takes on the server. */
export async function databaseBytes(
    serverUrl: string,
    name: string
): Promise<number> {
    const [row] = await adminQuery<{ bytes: string }>(
        serverUrl,
        'SELECT pg_database_size($1)::text AS bytes',
        [name]
    );
    return Number(row.bytes);
}

/** What a PostgreSQL server's figures depend on: its version and durability settings. */
export interface ServerInfo {
    version: string;
    fsync: string;
    synchronousCommit: string;
}

export async function serverInfo(serverUrl: string): Promise<ServerInfo> {
    const [row] = await adminQuery<ServerInfo>(
        serverUrl,
        `SELECT current_setting('server_version') AS version,
                current_setting('fsync') AS fsync,
                current_setting('synchronous_commit') AS "synchronousCommit"`
    );
    return row;
}
