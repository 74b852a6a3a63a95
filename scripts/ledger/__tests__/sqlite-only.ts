/** Tests that only make sense on SQLite (see `itSqlite`). */
import { TEST_ENGINE_ENV } from './postgres-env';

/**
 * `it` on SQLite, `it.skip` in the `postgres` project: for tests of SQLite itself
 * (pragmas, a file left by an old release, SQLITE_BUSY). They run in the `scripts`
 * project; their PostgreSQL counterparts are tests of their own.
 */
export const itSqlite: jest.It =
    process.env[TEST_ENGINE_ENV] === 'postgres' ? it.skip : it;
