/**
 * The `--json` contract, for every command: stdout is one envelope, as the sf CLI
 * prints it — `{"status": exitCode, "result": …, "warnings": […]}` when the command
 * ran, `{"status": 1, "name": CODE, "message", "actions", "exitCode", "warnings"}` when
 * it failed — and the process exit code agrees with it. Long-running commands stream
 * one JSON object per line and end with the envelope, compact, as their last line.
 * Every command of the program must have a scenario here: a new command without one
 * fails the first test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
    startLocalMailchimp,
    type LocalMailchimp
} from '../../tools/local-mailchimp/server';
import { startTestOrg, type TestOrg } from '../../tools/local-org/testing';
import {
    localOrgFolder,
    spawnCli,
    type Child
} from '../../webhook/__tests__/cli';
import { buildProgram } from '../main';
import { cli } from './run-cli';

type Envelope = Record<string, unknown>;

/** Every runnable command path: `status`, `mailchimp pull`, `local-org start`… */
function leafCommands(cmd: Command, prefix: string[] = []): string[] {
    return cmd.commands.flatMap((c) =>
        c.commands.length
            ? leafCommands(c, [...prefix, c.name()])
            : [[...prefix, c.name()].join(' ')]
    );
}

function expectSuccess(envelope: Envelope, exitCode: number): void {
    expect(Object.keys(envelope).sort()).toEqual([
        'result',
        'status',
        'warnings'
    ]);
    expect(envelope.status).toBe(exitCode);
    expect(envelope.result).toEqual(expect.anything());
    expect(Array.isArray(envelope.warnings)).toBe(true);
}

function expectFailure(
    envelope: Envelope,
    exitCode: number,
    name?: string
): void {
    expect(Object.keys(envelope).sort()).toEqual([
        'actions',
        'exitCode',
        'message',
        'name',
        'status',
        'warnings'
    ]);
    expect(envelope).toMatchObject({
        status: 1,
        exitCode,
        name: name ?? expect.stringMatching(/^[A-Z][A-Z0-9_]+$/)
    });
    expect(String(envelope.message).length).toBeGreaterThan(0);
    expect(envelope.actions).toEqual(expect.any(Array));
    expect(exitCode).toBeGreaterThan(0);
}

/** Runs in-process; stdout must be exactly one JSON document. */
async function envelopeOf(...args: string[]): Promise<[Envelope, number]> {
    const r = await cli(...args, '--json');
    expect(r.stdout.trim()).not.toBe('');
    return [JSON.parse(r.stdout) as Envelope, r.code];
}

/** The last stdout line of a long-running command, once it has exited. */
async function lastLine(child: Child): Promise<[Envelope, number | null]> {
    const code = await child.exited;
    const lines = child.stdout().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    return [JSON.parse(lines[lines.length - 1]) as Envelope, code];
}

const covered = new Set<string>();
/** Children still running when a test fails are stopped, so that Jest can end. */
const children: Child[] = [];
function start(...args: Parameters<typeof spawnCli>): Child {
    const child = spawnCli(...args);
    children.push(child);
    return child;
}
const cwd = process.cwd();
let dir: string;
let t: TestOrg;
let mc: LocalMailchimp;
const env = { ...process.env };

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'optout-json-'));
    t = await startTestOrg({ deploy: true });
    localOrgFolder(dir, t);
    mc = await startLocalMailchimp({ batchStepMs: 1 });
    mc.admin.createList('Newsletter');
    process.chdir(dir);
    process.env.OPTOUT_LEDGER = join(dir, 'ledger.db');
    process.env.MAILCHIMP_API_KEY = mc.apiKey;
    process.env.MAILCHIMP_API_URL = mc.apiUrl;
}, 120_000);

afterAll(async () => {
    for (const c of children)
        if (c.proc.exitCode === null && c.proc.signalCode === null)
            c.proc.kill('SIGKILL');
    process.chdir(cwd);
    for (const k of ['OPTOUT_LEDGER', 'MAILCHIMP_API_KEY', 'MAILCHIMP_API_URL'])
        if (env[k] === undefined) delete process.env[k];
        else process.env[k] = env[k];
    await mc?.close();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
});

describe('every command with --json prints the sf-style envelope', () => {
    it('has a scenario for every command of the program', () => {
        // Checked last (afterAll would be too late to fail a test): see the final test.
        expect(leafCommands(buildProgram('all')).length).toBeGreaterThan(15);
    });

    it.each([
        ['import', () => ['import', join(dir, 'people.csv')]],
        ['unsubscribe', () => ['unsubscribe', '--email', 'ana@example.com']],
        ['history', () => ['history', '--email', 'ana@example.com']],
        [
            'resubscribe',
            () => [
                'resubscribe',
                '--email',
                'ana@example.com',
                '--reason',
                'asked to hear from us again'
            ]
        ],
        ['status', () => ['status']],
        ['retry', () => ['retry', '--all']],
        ['sync', () => ['sync', 'push', '--target-org', 'local']],
        ['settings', () => ['settings', 'show', '--target-org', 'local']],
        ['schedule', () => ['schedule', '--target-org', 'local', '--dry-run']],
        ['mailchimp pull', () => ['mailchimp', 'pull']],
        ['mailchimp push', () => ['mailchimp', 'push']],
        [
            'export suppressions',
            () => ['export', 'suppressions', '--out', join(dir, 'feed.csv')]
        ],
        [
            'ledger copy',
            () => [
                'ledger',
                'copy',
                '--from',
                join(dir, 'ledger.db'),
                '--to',
                join(dir, 'ledger-copy.db')
            ]
        ]
    ])(
        '%s: success',
        async (name, args) => {
            if (name === 'import')
                writeFileSync(
                    join(dir, 'people.csv'),
                    'email,salesforce_id,audience_id,audience_name,status,changed_at\n' +
                        'ana@example.com,,news,Newsletter,subscribed,2026-11-01T10:00:00Z\n'
                );
            const [envelope, code] = await envelopeOf(...args());
            expectSuccess(envelope, code);
            expect(code).toBe(0);
            covered.add(name);
        },
        60_000
    );

    it.each([
        [
            'deploy',
            ['deploy', '--target-org', 'local', '--test-level', 'Sometimes'],
            2
        ],
        ['demo', ['demo', '--size', 'enormous'], 2],
        [
            'mailchimp webhook',
            ['mailchimp', 'webhook', '--url', 'ftp://example.com/hook'],
            2
        ],
        [
            'local-org user',
            ['local-org', 'user', 'delete', '--username', 'x@y.z'],
            2
        ],
        ['(usage error)', ['status', '--no-such-option'], 2],
        ['(unknown ledger)', ['status', '--ledger', '/nonexistent/l.db'], 1]
    ])('%s: failure', async (name, args, exitCode) => {
        const [envelope, code] = await envelopeOf(...args);
        expect(code).toBe(exitCode);
        expectFailure(envelope, code);
        covered.add(name);
    });

    it('serve: event lines, then the envelope with its totals', async () => {
        const child = start(
            dir,
            ['serve', '--target-org', 'local', '--port', '0', '--json'],
            {
                OPTOUT_WEBHOOK_SECRET:
                    'a-secret-of-at-least-32-characters-long!!'
            }
        );
        const listening = JSON.parse(
            await child.line((l) => l.includes('"listening"'))
        ) as Envelope;
        expect(listening).toMatchObject({ event: 'listening' });
        child.proc.kill('SIGTERM');
        const [envelope, code] = await lastLine(child);
        expectSuccess(envelope, code ?? -1);
        expect(envelope.result).toMatchObject({ stopped: true });
        covered.add('serve');
    }, 60_000);

    it('mailchimp local start: a running line, then the envelope', async () => {
        const child = start(dir, [
            'mailchimp',
            'local',
            'start',
            '--port',
            '0',
            '--db',
            join(dir, 'mc.db'),
            '--json'
        ]);
        await child.line((l) => l.includes('"running"'));
        child.proc.kill('SIGTERM');
        const [envelope, code] = await lastLine(child);
        expectSuccess(envelope, code ?? -1);
        covered.add('mailchimp local start');
    }, 60_000);

    it('local-org start, user, status and stop', async () => {
        const state = join(dir, 'other-org.json');
        const child = start(dir, [
            'local-org',
            'start',
            '--port',
            '0',
            '--db',
            join(dir, 'other-org.db'),
            '--state-file',
            state,
            '--json'
        ]);
        await child.line((l) => l.includes('"running"'));
        for (const [name, args] of [
            [
                'local-org user',
                ['local-org', 'user', 'create', '--username', 'rep@example.com']
            ],
            ['local-org status', ['local-org', 'status']],
            ['local-org stop', ['local-org', 'stop']]
        ] as const) {
            const [envelope, code] = await envelopeOf(
                ...args,
                '--state-file',
                state
            );
            expectSuccess(envelope, code);
            covered.add(name);
        }
        const [envelope, code] = await lastLine(child);
        expectSuccess(envelope, code ?? -1);
        covered.add('local-org start');
    }, 60_000);

    it('covered every command', () => {
        const missing = leafCommands(buildProgram('all')).filter(
            (c) => !covered.has(c)
        );
        expect(missing).toEqual([]);
    });
});
