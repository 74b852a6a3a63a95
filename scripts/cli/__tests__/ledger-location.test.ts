/**
 * `--ledger` / `OPTOUT_LEDGER` given a URL, through every command that opens a ledger:
 * a postgres:// URL of a server that does not answer is LEDGER_UNAVAILABLE (exit 1,
 * password masked) and another scheme a usage error (exit 2) — and the working folder
 * stays empty (once, `OPTOUT_LEDGER=postgres://…` made a SQLite file under a folder
 * `postgres:`). postgres-ledger.test.ts runs the commands on a real server.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './run-cli';

const PG_URL = 'postgres://optout:s3cret-pw@127.0.0.1:1/optout';
const SAVED_ENV = [
    'OPTOUT_LEDGER',
    'MAILCHIMP_API_KEY',
    'MAILCHIMP_API_URL',
    'OPTOUT_WEBHOOK_SECRET'
] as const;
const saved = Object.fromEntries(SAVED_ENV.map((k) => [k, process.env[k]]));
const cwd = process.cwd();
let dir: string;
let inputs: string;

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-location-'));
    inputs = mkdtempSync(join(tmpdir(), 'cli-location-in-'));
    process.chdir(dir);
    // mailchimp pull/push and serve check these first: make them pass.
    process.env.MAILCHIMP_API_KEY = '0123456789abcdef0123456789abcdef-us1';
    process.env.MAILCHIMP_API_URL = 'http://127.0.0.1:1/3.0';
    process.env.OPTOUT_WEBHOOK_SECRET =
        'a-long-enough-webhook-secret-0123456789';
});
afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
    rmSync(inputs, { recursive: true, force: true });
    for (const k of SAVED_ENV)
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
});

/** Files outside the working folder, named in a command's arguments. */
const CSV = '<people.csv>';
const OUT = '<out.csv>';

/** Every command that opens a ledger, with the arguments it needs to get that far. */
function ledgerCommands(): string[][] {
    return [
        ['status'],
        ['history', '--email', 'ana@example.com'],
        ['unsubscribe', '--email', 'ana@example.com'],
        ['resubscribe', '--email', 'ana@example.com', '--reason', 'asked'],
        ['retry', '--all'],
        ['import', CSV],
        ['export', 'suppressions', '--out', OUT],
        ['sync', 'push', '--target-org', 'local'],
        ['serve', '--target-org', 'local', '--port', '0'],
        ['schedule', '--target-org', 'local'],
        ['mailchimp', 'pull'],
        ['mailchimp', 'push'],
        ['demo']
    ];
}

describe('a PostgreSQL URL as the ledger', () => {
    it.each(ledgerCommands().map((args) => [args.join(' '), args]))(
        'optout %s with OPTOUT_LEDGER=postgres://… of no server: a clear error, nothing created',
        async (_name, args) => {
            process.env.OPTOUT_LEDGER = PG_URL;
            const csv = join(inputs, 'people.csv');
            writeFileSync(csv, 'email,unsubscribed\nana@example.com,true\n');
            const out = join(inputs, 'out.csv');
            const argv = (args as string[]).map((a) =>
                a === CSV ? csv : a === OUT ? out : a
            );
            const r = await cli(...argv, '--json');
            expect(r.code).toBe(1);
            // The Mailchimp commands ask Mailchimp for its audiences before they open
            // the ledger (a wrong audience must not create one); Mailchimp is not
            // reachable here either, so its error comes first.
            const mailchimp = argv[0] === 'mailchimp';
            expect(r.json).toMatchObject({
                status: 1,
                name: mailchimp ? 'MAILCHIMP_ERROR' : 'LEDGER_UNAVAILABLE',
                exitCode: 1
            });
            expect(String(r.json.message)).toContain(
                mailchimp
                    ? 'Mailchimp'
                    : 'The ledger postgres://optout:***@127.0.0.1:1/optout cannot be reached'
            );
            expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
            expect(readdirSync(dir)).toEqual([]);
        }
    );

    it('says so in text too, with what to check', async () => {
        const r = await cli('status', '--ledger', PG_URL);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
            /The ledger postgres:\/\/optout:\*\*\*@127\.0\.0\.1:1\/optout cannot be reached: .*ECONNREFUSED/
        );
        expect(r.stderr).toMatch(/PostgreSQL server is running and reachable/);
        expect(r.stderr).not.toContain('s3cret-pw');
        expect(readdirSync(dir)).toEqual([]);
    });
});

describe('a URL of another scheme as the ledger', () => {
    it.each([
        ['--ledger', ['unsubscribe', '--email', 'ana@example.com']],
        ['--ledger', ['sync', 'push', '--target-org', 'local']],
        ['OPTOUT_LEDGER', ['status']],
        ['OPTOUT_LEDGER', ['serve', '--target-org', 'local', '--port', '0']]
    ])('is a usage error from %s (optout %j)', async (origin, args) => {
        const url = 'mysql://root:pw@localhost/optout';
        if (origin === 'OPTOUT_LEDGER') process.env.OPTOUT_LEDGER = url;
        const flag = origin === '--ledger' ? ['--ledger', url] : [];
        const r = await cli(...args, ...flag, '--json');
        expect(r.code).toBe(2);
        expect(r.json).toMatchObject({
            status: 1,
            name: 'LEDGER_URL_UNSUPPORTED',
            exitCode: 2
        });
        expect(String(r.json.message)).toContain(
            `${origin} 'mysql://root:***@localhost/optout' is a mysql:// URL`
        );
        expect(r.json.actions).toEqual([
            expect.stringMatching(/path of a SQLite file/),
            expect.stringMatching(/postgres:\/\//)
        ]);
        expect(readdirSync(dir)).toEqual([]);
    });

    it('a flag wins over the environment', async () => {
        process.env.OPTOUT_LEDGER = 'http://example.com/ledger';
        const r = await cli(
            'status',
            '--ledger',
            join(dir, 'nope.db'),
            '--json'
        );
        expect(r.json).toMatchObject({ name: 'LEDGER_NOT_FOUND' });
    });
});
