/**
 * `optout mailchimp pull|push` through the CLI: bad configuration and unknown audiences
 * are usage errors (exit 2) that touch neither Mailchimp nor the ledger; a pull and a
 * push run end to end against the local Mailchimp, recorded as runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../cli/__tests__/run-cli';
import { Ledger } from '../../ledger/ledger';
import {
    type LocalMailchimp,
    startLocalMailchimp
} from '../../tools/local-mailchimp/server';
import { projectPath } from '../../model/project';

let dir: string;
let ledgerPath: string;
let mc: LocalMailchimp;
const saved = { ...process.env };

beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mc-cli-'));
    ledgerPath = join(dir, 'ledger.db');
    mc = await startLocalMailchimp({ batchStepMs: 1 });
    process.env.MAILCHIMP_API_KEY = mc.apiKey;
    process.env.MAILCHIMP_API_URL = mc.apiUrl;
});
afterEach(async () => {
    process.env = { ...saved };
    await mc.close();
    rmSync(dir, { recursive: true, force: true });
});

describe('optout mailchimp', () => {
    it.each([
        ['missing', undefined, 'MAILCHIMP_NOT_CONFIGURED'],
        ['malformed', 'not-a-key', 'MAILCHIMP_BAD_KEY'],
        [
            'without data centre',
            '0123456789abcdef0123456789abcdef',
            'MAILCHIMP_BAD_KEY'
        ]
    ])(
        'refuses a %s key with exit 2 and does nothing',
        async (_what, key, code) => {
            if (key === undefined) delete process.env.MAILCHIMP_API_KEY;
            else process.env.MAILCHIMP_API_KEY = key;
            for (const job of ['pull', 'push']) {
                const r = await cli(
                    'mailchimp',
                    job,
                    '--ledger',
                    ledgerPath,
                    '--json'
                );
                expect(r.code).toBe(2);
                expect(r.stderr + r.stdout).toContain(code);
            }
            expect(existsSync(ledgerPath)).toBe(false);
            expect(mc.admin.stats().requests).toEqual({});
        }
    );

    it('optout schedule refuses a malformed key before starting', async () => {
        process.env.MAILCHIMP_API_KEY = 'nope';
        const r = await cli(
            'schedule',
            '--target-org',
            'local',
            '--dry-run',
            '--ledger',
            ledgerPath
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('MAILCHIMP_BAD_KEY');
        delete process.env.MAILCHIMP_API_KEY;
        const ok = await cli(
            'schedule',
            '--target-org',
            'local',
            '--dry-run',
            '--ledger',
            ledgerPath
        );
        expect(ok.code).toBe(0);
    });

    it('refuses an audience Mailchimp does not have, naming the ones it has', async () => {
        const news = mc.admin.createList('Newsletter').id;
        const r = await cli(
            'mailchimp',
            'pull',
            '--audience',
            'nope123',
            '--ledger',
            ledgerPath
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toContain("Mailchimp has no audience 'nope123'");
        expect(r.stderr).toContain(`${news} (Newsletter)`);
        expect(existsSync(ledgerPath)).toBe(false);
    });

    it('shows Mailchimp’s title and detail when the key is refused', async () => {
        process.env.MAILCHIMP_API_KEY = 'ffffffffffffffffffffffffffffffff-us1';
        const r = await cli('mailchimp', 'push', '--ledger', ledgerPath);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/401 API Key Invalid/);
    });

    it('pulls and pushes end to end, recorded as runs', async () => {
        const news = mc.admin.createList('Newsletter').id;
        mc.admin.addMember(news, 'ann@example.com');
        mc.admin.addMember(news, 'bob@example.com');
        const pulled = await cli(
            'mailchimp',
            'pull',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(pulled.code).toBe(0);
        expect(pulled.json.audiencesCreated).toBe(1);
        const l = await Ledger.open(ledgerPath);
        await l.recordUnsubscribe({
            email: 'bob@example.com',
            scope: 'all',
            source: 'salesforce'
        });
        await l.close();
        const pushed = await cli(
            'mailchimp',
            'push',
            '--audience',
            news,
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(pushed.code).toBe(0);
        expect(pushed.json).toMatchObject({
            delivered: 1,
            pending: 1,
            mode: 'requests'
        });
        expect(mc.admin.member(news, 'bob@example.com')?.status).toBe(
            'unsubscribed'
        );
        const again = await cli('mailchimp', 'push', '--ledger', ledgerPath);
        expect(again.stdout).toContain('Nothing to push');
        const runs = await Ledger.open(ledgerPath);
        expect(
            (await runs.listRuns()).map((r) => `${r.job}:${r.status}`).sort()
        ).toEqual([
            'mailchimp-pull:succeeded',
            'mailchimp-push:succeeded',
            'mailchimp-push:succeeded'
        ]);
        await runs.close();
    });

    it('registers the audience webhook once, with the events the server handles', async () => {
        const news = mc.admin.createList('Newsletter').id;
        // Mailchimp checks the URL with a GET that must answer 200 (optout serve does).
        const serve = createServer((_req, res) => res.end('ok'));
        await new Promise<void>((r) => serve.listen(0, '127.0.0.1', r));
        const url = `http://127.0.0.1:${(serve.address() as AddressInfo).port}/mailchimp?secret=s3cret-s3cret-s3cret`;
        try {
            const bad = await cli(
                'mailchimp',
                'webhook',
                '--url',
                'http://x.example/hook',
                '--json'
            );
            expect(bad.code).toBe(2);
            expect(bad.stderr + bad.stdout).toContain('BAD_WEBHOOK_URL');
            expect(mc.admin.stats().requests).toEqual({});
            const first = await cli(
                'mailchimp',
                'webhook',
                '--url',
                url,
                '--json'
            );
            expect(first.code).toBe(0);
            expect(first.json.audiences).toEqual([
                expect.objectContaining({ listId: news, outcome: 'registered' })
            ]);
            const again = await cli(
                'mailchimp',
                'webhook',
                '--url',
                url,
                '--json'
            );
            expect(again.json.audiences).toEqual([
                expect.objectContaining({ listId: news, outcome: 'already' })
            ]);
            const hooks = (await (
                await fetch(`${mc.apiUrl}/lists/${news}/webhooks`, {
                    headers: { authorization: `apikey ${mc.apiKey}` }
                })
            ).json()) as {
                webhooks: {
                    events: Record<string, boolean>;
                    sources: Record<string, boolean>;
                }[];
            };
            expect(hooks.webhooks).toHaveLength(1);
            expect(hooks.webhooks[0].events).toMatchObject({
                unsubscribe: true,
                cleaned: true,
                subscribe: true,
                campaign: false
            });
            expect(hooks.webhooks[0].sources).toMatchObject({
                user: true,
                admin: true,
                api: false
            });
        } finally {
            await new Promise((r) => serve.close(r));
        }
    });
});

describe('optout mailchimp local start', () => {
    it('serves the local Mailchimp until Ctrl-C, printing the URL and key the connector takes', async () => {
        const child = spawn(
            process.execPath,
            [
                projectPath('bin', 'optout'),
                'mailchimp',
                'local',
                'start',
                '--port',
                '0',
                '--db',
                ':memory:',
                '--list',
                'Newsletter',
                '--json'
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] }
        );
        try {
            let stdout = '';
            child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
            const started = await new Promise<{
                apiUrl: string;
                apiKey: string;
                audiences: unknown[];
            }>((resolve, reject) => {
                child.on('exit', (code) =>
                    reject(new Error(`exited with ${code}: ${stdout}`))
                );
                const poll = setInterval(() => {
                    try {
                        const parsed = JSON.parse(stdout) as never;
                        clearInterval(poll);
                        resolve(parsed);
                    } catch {
                        // not all of it yet
                    }
                }, 50);
            });
            const { apiUrl, apiKey, audiences } = started;
            expect(apiKey).toMatch(/-us\d+$/);
            expect(audiences).toEqual([
                { name: 'Newsletter', id: expect.any(String) }
            ]);
            process.env.MAILCHIMP_API_KEY = apiKey;
            process.env.MAILCHIMP_API_URL = apiUrl;
            const pull = await cli(
                'mailchimp',
                'pull',
                '--ledger',
                ledgerPath,
                '--json'
            );
            expect(pull.code).toBe(0);
            const ledger = await Ledger.open(ledgerPath);
            try {
                expect(await ledger.listAudiences()).toEqual([
                    expect.objectContaining({ name: 'Newsletter' })
                ]);
            } finally {
                await ledger.close();
            }
            const exited = new Promise<number | null>((resolve) =>
                child.on('exit', resolve)
            );
            child.kill('SIGINT');
            expect(await exited).toBe(0);
        } finally {
            // A failed assertion must not leave the server running.
            if (child.exitCode === null && child.signalCode === null)
                child.kill('SIGKILL');
        }
    }, 60_000);
});
