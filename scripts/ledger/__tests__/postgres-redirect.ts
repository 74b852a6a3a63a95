/**
 * Setup (after the framework) of the `postgres` Jest project: the same suites as the `scripts` project, with
 * every ledger they open in this process on the tests' PostgreSQL server instead of a
 * SQLite file. Each location becomes a schema of its own (`:memory:` a new one at each
 * open, a file path the same one at each open, so that reopening finds the data), so
 * suites and workers never share tables. Child processes (a CLI the test spawns with
 * `--ledger FILE`) are not redirected: the CLI's own PostgreSQL tests cover them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Ledger, type LedgerOptions } from '../ledger';
import {
    TEST_ENGINE_ENV,
    postgresTestSetting,
    postgresUrl,
    schemaUrl
} from './postgres-env';

process.env[TEST_ENGINE_ENV] = 'postgres';
// Many ledgers per worker, some left open by a test: small pools, all closed below.
process.env.OPTOUT_PG_POOL_MAX ??= '2';
const setting = postgresTestSetting();
const opened = new Set<Ledger>();
afterAll(async () => {
    for (const ledger of opened) await ledger.close();
    opened.clear();
});
const schemas = new Map<string, string>();
const open = Ledger.open.bind(Ledger);

/** The schema for a location: a fresh one for memory, a stable one per path. */
function schemaFor(location: string): string {
    if (location === ':memory:' || location === '')
        return `t_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
    let schema = schemas.get(location);
    if (!schema) {
        const hash = createHash('sha256')
            .update(`${process.pid}:${location}`)
            .digest('hex');
        schema = `t_${hash.slice(0, 20)}`;
        schemas.set(location, schema);
    }
    return schema;
}

async function createSchema(base: string, schema: string): Promise<void> {
    const client = new Client({ connectionString: base });
    await client.connect();
    try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
        await client.end();
    }
}

Ledger.open = async (
    location: string,
    options: LedgerOptions = {}
): Promise<Ledger> => {
    if (/^postgres(ql)?:/i.test(location) || /^\w+:\/\//.test(location))
        return open(location, options);
    const base = postgresUrl(setting); // throws (the test fails) when there is none
    const schema = schemaFor(location);
    await createSchema(base, schema);
    const ledger = await open(schemaUrl(base, schema), options);
    opened.add(ledger);
    return ledger;
};
