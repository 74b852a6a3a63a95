/**
 * The CLI contract of `optout serve`: usage errors (exit 2, clear messages, nothing
 * opened), and the real entry point against a local org — listening, pushing, stopping
 * gracefully on SIGTERM with exit 0 — with the secret never printed.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { SECRET_ENV } from '../auth';
import { cli, localOrgFolder, spawnCli } from './cli';

const SECRET = 'cli-secret-0123456789abcdef';
let dir: string;

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'optout-serve-'));
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

describe('optout serve: usage errors', () => {
    const saved = process.env[SECRET_ENV];
    beforeEach(() => {
        process.env[SECRET_ENV] = SECRET;
    });
    afterAll(() => {
        if (saved === undefined) delete process.env[SECRET_ENV];
        else process.env[SECRET_ENV] = saved;
    });

    it.each([
        [['serve'], /required option '--target-org <org>'/],
        [
            ['serve', '--target-org', 'local', '--port', 'http'],
            /--port must be a whole number/
        ],
        [
            ['serve', '--target-org', 'local', '--port', '70000'],
            /--port must be a whole number/
        ],
        [
            ['serve', '--target-org', 'local', '--rate', 'lots'],
            /--rate must be/
        ],
        [
            ['serve', '--target-org', 'local', '--max-body', '1tb'],
            /--max-body must be/
        ],
        [
            ['serve', '--target-org', 'local', '--max-items', '0'],
            /--max-items must be/
        ],
        [
            ['serve', '--target-org', 'local', '--push-delay', 'soon'],
            /--push-delay must be a duration/
        ],
        [
            ['serve', '--target-org', 'local', '--audience', 'abc'],
            /--audience must be LIST_ID=NAME/
        ],
        [
            ['serve', '--target-org', 'local', '--secret', 'short'],
            /at least 16 characters/
        ],
        [['serve', '--target-org', '  '], /--target-org must not be empty/]
    ])('%p exits 2: %p', async (args, message) => {
        const ledger = join(dir, 'ledger.db');
        const r = await cli(...args, '--ledger', ledger);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(existsSync(ledger)).toBe(false); // nothing opened
    });

    it('needs a secret: from OPTOUT_WEBHOOK_SECRET or --secret (JSON error shape)', async () => {
        delete process.env[SECRET_ENV];
        const r = await cli('--json', 'serve', '--target-org', 'local');
        expect(r.code).toBe(2);
        expect(JSON.parse(r.stdout)).toMatchObject({
            status: 1,
            name: 'SECRET_REQUIRED',
            message: expect.stringContaining(SECRET_ENV),
            actions: [expect.stringMatching(/openssl rand/), expect.any(String)]
        });
    });
});

describe('optout serve: the real entry point', () => {
    let t: TestOrg;
    beforeAll(async () => {
        for (const k of [
            'http_proxy',
            'https_proxy',
            'HTTP_PROXY',
            'HTTPS_PROXY'
        ])
            delete process.env[k];
        t = await startTestOrg({ deploy: true });
        await seedRecords(t, 'Contact', fakePeople(5));
    });
    afterAll(async () => {
        await t?.close();
    });

    it('listens, pushes what it accepts, and stops gracefully on SIGTERM (exit 0), never printing the secret', async () => {
        localOrgFolder(dir, t);
        const ledger = join(dir, 'ledger.db');
        const child = spawnCli(
            dir,
            [
                '--json',
                '--log-level',
                'info',
                'serve',
                '--target-org',
                'local',
                '--port',
                '0',
                '--ledger',
                ledger,
                '--push-delay',
                '100ms',
                '--audience',
                'a6b5da1054=Newsletter'
            ],
            { [SECRET_ENV]: SECRET }
        );
        const listening = JSON.parse(
            await child.line((l) => l.includes('"listening"'))
        ) as {
            url: string;
            endpoints: Record<string, string>;
            optOutField: string;
        };
        expect(listening.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(listening.optOutField).toBe('HasOptedOutOfEmail');
        const res = await fetch(`${listening.url}/mailchimp?secret=${SECRET}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'type=unsubscribe&data[email]=person1@example.com&data[list_id]=a6b5da1054'
        });
        expect(res.status).toBe(200);
        const json = await fetch(`${listening.url}/unsubscribes`, {
            method: 'POST',
            headers: {
                'content-type': 'application/json',
                authorization: `Bearer ${SECRET}`
            },
            body: JSON.stringify({ email: 'person2@example.com' })
        });
        expect(json.status).toBe(200);
        const pushed = JSON.parse(
            await child.line(
                (l) =>
                    l.includes('"push"') &&
                    l.includes('"unsubscribesDelivered":2')
            )
        ) as Record<string, unknown>;
        expect(pushed).toMatchObject({
            event: 'push',
            job: 'push',
            status: 'succeeded',
            recordsWritten: 1,
            membershipsUpserted: 1
        });
        child.proc.kill('SIGTERM');
        expect(await child.exited).toBe(0);
        // The last line is the envelope, with the totals as its result.
        const lines = child.stdout().trim().split('\n');
        const envelope = JSON.parse(lines[lines.length - 1]) as Record<
            string,
            unknown
        >;
        expect(envelope).toMatchObject({
            status: 0,
            result: { stopped: true, unsubscribesRecorded: 2, pending: 0 },
            warnings: []
        });
        expect(child.stdout() + child.stderr()).not.toContain(SECRET);
        expect(child.stderr()).toMatch(/POST \/mailchimp 200/);
        const l = await Ledger.open(ledger);
        expect(await l.countUndelivered()).toBe(0);
        await l.close();
    }, 120_000);

    it('refuses to start when the package is not in the org (R7), naming the deploy command', async () => {
        const bare = await startTestOrg();
        try {
            localOrgFolder(dir, bare);
            const child = spawnCli(
                dir,
                [
                    'serve',
                    '--target-org',
                    'local',
                    '--port',
                    '0',
                    '--ledger',
                    join(dir, 'l.db')
                ],
                { [SECRET_ENV]: SECRET }
            );
            expect(await child.exited).toBe(1);
            expect(child.stderr()).toMatch(/optout deploy --target-org local/);
        } finally {
            await bare.close();
        }
    }, 120_000);
});
