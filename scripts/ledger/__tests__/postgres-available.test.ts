/**
 * The tests' PostgreSQL server answers: the first test of the PostgreSQL ledger, and
 * the check that CI really started one (it fails there when none is configured).
 */
import { Client } from 'pg';
import {
    PG_URL_ENV,
    REQUIRE_PG_ENV,
    postgresTestSetting,
    postgresUrl
} from './postgres-env';

describe('postgresTestSetting', () => {
    it('runs against the URL when one is given', () => {
        expect(
            postgresTestSetting({
                [PG_URL_ENV]: ' postgres://u:p@127.0.0.1:5432/t ',
                [REQUIRE_PG_ENV]: '1'
            })
        ).toEqual({ kind: 'run', url: 'postgres://u:p@127.0.0.1:5432/t' });
    });

    it('fails without a URL when PostgreSQL is required (CI)', () => {
        const s = postgresTestSetting({
            [REQUIRE_PG_ENV]: '1',
            [PG_URL_ENV]: ''
        });
        expect(s.kind).toBe('fail');
        expect(s.kind !== 'run' && s.reason).toMatch(
            /OPTOUT_TEST_PG_URL is not set/
        );
    });

    it('gives the URL to a test, or fails it with the reason', () => {
        expect(postgresUrl({ kind: 'run', url: 'postgres://h/d' })).toBe(
            'postgres://h/d'
        );
        expect(() =>
            postgresUrl({ kind: 'fail', reason: 'none here' })
        ).toThrow('none here');
    });

    it('skips, saying how to start a server, otherwise', () => {
        const s = postgresTestSetting({});
        expect(s.kind).toBe('skip');
        expect(s.kind !== 'run' && s.reason).toMatch(
            /npm run --silent pg:start/
        );
    });
});

const pg = postgresTestSetting();
const NAME = 'the tests’ PostgreSQL server';
if (pg.kind === 'skip') console.warn(`${NAME}: ${pg.reason}`);

(pg.kind === 'skip' ? describe.skip : describe)(NAME, () => {
    it('answers SELECT version() on the database of the URL', async () => {
        const url = postgresUrl(pg);
        const client = new Client({
            connectionString: url,
            connectionTimeoutMillis: 10_000
        });
        await client.connect();
        try {
            const { rows } = await client.query<{
                version: string;
                db: string;
            }>('SELECT version() AS version, current_database() AS db');
            expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
            expect(rows[0]?.db).toBe(
                decodeURIComponent(new URL(url).pathname.slice(1))
            );
        } finally {
            await client.end();
        }
    });
});
