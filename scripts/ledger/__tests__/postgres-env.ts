/**
 * The PostgreSQL server of the tests: `OPTOUT_TEST_PG_URL` names it (`.ci/run` and
 * `npm run pg:start` start one). In CI (`OPTOUT_REQUIRE_PG=1`) a suite that needs it
 * fails when it is missing, never skips; on a developer's machine without PostgreSQL
 * the suite is skipped and says why. A suite that needs PostgreSQL:
 *
 *     const pg = postgresTestSetting();
 *     if (pg.kind === 'skip') console.warn(`my suite: ${pg.reason}`);
 *     (pg.kind === 'skip' ? describe.skip : describe)('my suite', () => {
 *         it('…', async () => { const url = postgresUrl(pg); … });
 *     });
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
export const PG_URL_ENV = 'OPTOUT_TEST_PG_URL';
export const REQUIRE_PG_ENV = 'OPTOUT_REQUIRE_PG';

export type PostgresTestSetting =
    | { kind: 'run'; url: string }
    | { kind: 'fail'; reason: string }
    | { kind: 'skip'; reason: string };

/** What a suite that needs PostgreSQL does, from the environment. */
export function postgresTestSetting(
    env: NodeJS.ProcessEnv = process.env
): PostgresTestSetting {
    const url = (env[PG_URL_ENV] ?? '').trim();
    if (url !== '') return { kind: 'run', url };
    const missing = `${PG_URL_ENV} is not set, so there is no PostgreSQL server for the tests`;
    if (env[REQUIRE_PG_ENV] === '1')
        return {
            kind: 'fail',
            reason: `${missing}, and ${REQUIRE_PG_ENV}=1 says one is required (.ci/run starts it with .ci/postgres.sh).`
        };
    return {
        kind: 'skip',
        reason: `${missing}: skipped. Run \`eval "$(npm run --silent pg:start)"\` to start one (npm run pg:stop stops it).`
    };
}

/**
 * The server's URL, for a test that needs it: throws the reason when there is none
 * (the test fails, as it must in CI; elsewhere the suite is skipped before this runs).
 */
export function postgresUrl(setting: PostgresTestSetting): string {
    if (setting.kind === 'run') return setting.url;
    throw new Error(setting.reason);
}

/** The engine the ledgers of this Jest project run on (the `postgres` project sets it). */
export const TEST_ENGINE_ENV = 'OPTOUT_TEST_ENGINE';

/** The server's URL with `search_path` set to `schema` (a ledger of its own). */
export function schemaUrl(base: string, schema: string): string {
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
}

/** A new, empty schema on the tests' server; its URL (see `schemaUrl`). */
export async function freshSchemaUrl(base: string): Promise<string> {
    const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
    const client = new Client({ connectionString: base });
    await client.connect();
    try {
        await client.query(`CREATE SCHEMA ${schema}`);
    } finally {
        await client.end();
    }
    return schemaUrl(base, schema);
}
