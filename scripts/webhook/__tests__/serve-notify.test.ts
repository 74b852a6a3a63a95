/**
 * `optout serve --notify URL` and the feed in `optout status`: usage errors (exit 2,
 * nothing opened), then the real entry point against a local org posting a signed
 * notification for an unsubscribe it received, and `optout status` showing the URL.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestOrg, type TestOrg } from '../../tools/local-org/testing';
import { SECRET_ENV } from '../auth';
import { NOTIFY_SECRET_ENV } from '../notify';
import { cli, localOrgFolder, spawnCli } from './cli';
import { itSqlite } from '../../ledger/__tests__/sqlite-only';

const SECRET = 'cli-secret-0123456789abcdef';
const NOTIFY_SECRET = 'notify-secret-0123456789abcdef';
let dir: string;

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'optout-notify-'));
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

describe('optout serve --notify: usage errors', () => {
    const saved = [process.env[SECRET_ENV], process.env[NOTIFY_SECRET_ENV]];
    beforeEach(() => {
        process.env[SECRET_ENV] = SECRET;
        process.env[NOTIFY_SECRET_ENV] = NOTIFY_SECRET;
    });
    afterAll(() => {
        [SECRET_ENV, NOTIFY_SECRET_ENV].forEach((k, i) => {
            if (saved[i] === undefined) delete process.env[k];
            else process.env[k] = saved[i];
        });
    });

    it.each([
        [['--notify', 'ftp://esp.example/'], 'BAD_NOTIFY_URL'],
        [['--notify', 'esp.example/hook'], 'BAD_NOTIFY_URL'],
        [['--notify', 'https://u:p@esp.example/'], 'BAD_NOTIFY_URL']
    ])('%p exits 2 with %p', async (args, code) => {
        const ledger = join(dir, 'ledger.db');
        const r = await cli(
            '--json',
            'serve',
            '--target-org',
            'local',
            '--ledger',
            ledger,
            ...args
        );
        expect(r.code).toBe(2);
        expect(r.json.name).toBe(code);
        expect(existsSync(ledger)).toBe(false);
    });

    it('needs OPTOUT_NOTIFY_SECRET with --notify', async () => {
        delete process.env[NOTIFY_SECRET_ENV];
        const ledger = join(dir, 'ledger.db');
        const r = await cli(
            '--json',
            'serve',
            '--target-org',
            'local',
            '--ledger',
            ledger,
            '--notify',
            'https://esp.example/hook'
        );
        expect(r.code).toBe(2);
        expect(r.json).toMatchObject({
            name: 'NOTIFY_SECRET_REQUIRED',
            message: expect.stringContaining(NOTIFY_SECRET_ENV)
        });
        expect(existsSync(ledger)).toBe(false);
    });
});

describe('optout serve --notify: the real entry point', () => {
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
    });
    afterAll(async () => {
        await t?.close();
    });

    // SQLite only: optout serve runs as a child process on the ledger file, which this process reads too.
    itSqlite(
        'posts a signed notification for an unsubscribe it receives, and status shows the URL',
        async () => {
            const bodies: { raw: string; ok: boolean }[] = [];
            const receiver = http.createServer((req, res) => {
                const chunks: Buffer[] = [];
                req.on('data', (c: Buffer) => chunks.push(c));
                req.on('end', () => {
                    const raw = Buffer.concat(chunks).toString('utf8');
                    const expected =
                        'sha256=' +
                        createHmac('sha256', NOTIFY_SECRET)
                            .update(raw)
                            .digest('hex');
                    bodies.push({
                        raw,
                        ok: req.headers['x-optout-signature'] === expected
                    });
                    res.writeHead(204).end();
                });
            });
            await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
            const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
            try {
                localOrgFolder(dir, t);
                const ledger = join(dir, 'ledger.db');
                const child = spawnCli(
                    dir,
                    [
                        '--json',
                        'serve',
                        '--target-org',
                        'local',
                        '--port',
                        '0',
                        '--ledger',
                        ledger,
                        '--notify',
                        hook
                    ],
                    { [SECRET_ENV]: SECRET, [NOTIFY_SECRET_ENV]: NOTIFY_SECRET }
                );
                const listening = JSON.parse(
                    await child.line((l) => l.includes('"listening"'))
                ) as {
                    url: string;
                    notify: string[];
                    endpoints: Record<string, string>;
                };
                expect(listening.notify).toEqual([hook]);
                expect(listening.endpoints.suppressions).toBe(
                    `${listening.url}/suppressions`
                );
                const res = await fetch(`${listening.url}/unsubscribes`, {
                    method: 'POST',
                    headers: {
                        'content-type': 'application/json',
                        authorization: `Bearer ${SECRET}`
                    },
                    body: JSON.stringify({
                        email: 'Person@example.com',
                        reason: 'spam'
                    })
                });
                expect(res.status).toBe(200);
                const line = JSON.parse(
                    await child.line((l) => l.includes('"notify_delivered"'))
                ) as Record<string, unknown>;
                expect(line).toMatchObject({
                    url: hook,
                    eventId: 1,
                    status: 204,
                    delivered: true
                });
                child.proc.kill('SIGTERM');
                expect(await child.exited).toBe(0);
                expect(bodies).toHaveLength(1);
                expect(bodies[0].ok).toBe(true);
                expect(JSON.parse(bodies[0].raw)).toMatchObject({
                    eventId: 1,
                    email: 'Person@example.com',
                    scope: 'all',
                    audienceId: null,
                    source: 'webhook',
                    reason: 'spam',
                    removedAt: null
                });
                expect(child.stdout() + child.stderr()).not.toContain(
                    NOTIFY_SECRET
                );

                const status = await cli(
                    '--json',
                    'status',
                    '--ledger',
                    ledger
                );
                expect(status.json.notifications).toEqual([
                    { url: hook, deliveredUpTo: 1, pending: 0, lastError: null }
                ]);
                const text = await cli('status', '--ledger', ledger);
                expect(text.stdout).toContain(hook);
            } finally {
                await new Promise<void>((r) => receiver.close(() => r()));
            }
        },
        120_000
    );
});
