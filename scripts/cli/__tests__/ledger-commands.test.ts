/**
 * Contract of the ledger commands (import, unsubscribe, resubscribe, history, status):
 * arguments, JSON keys, exit codes and error messages. Most run in-process through
 * `main`; a few spawn `node bin/optout` to check the real entry point.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeId } from '../../model/ids';
import { Ledger } from '../../ledger/ledger';
import { cli, readJson, ROOT, type Run } from './run-cli';
import { ResultBuilder, type JobResult } from '../../sync/result';
import { unsubscribeHooks } from '../commands/unsubscribe';
import { DEFAULT_LEDGER_PATH, resolveLedger } from '../options';

let dir: string;
let ledgerPath: string;

/**
 * Wide text output: these tests read a table row on one line. How the text fits an
 * 80-column terminal is tested in render-*.test.ts.
 */
const envColumns = process.env.COLUMNS;
beforeAll(() => {
    process.env.COLUMNS = '250';
});
afterAll(() => {
    if (envColumns === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = envColumns;
});

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-ledger-'));
    ledgerPath = join(dir, 'sub', 'ledger.db');
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    delete unsubscribeHooks.pushAfterUnsubscribe;
});

/** A push run's result as the sync returns it, with `changes` applied. */
function pushResult(
    targetOrg: string,
    changes: (r: JobResult) => void
): JobResult {
    const { result } = new ResultBuilder({
        job: 'push',
        runId: 'push-1',
        dryRun: false,
        targetOrg,
        startedAt: '2025-05-06T10:00:00.000Z'
    });
    changes(result);
    return result;
}

function spawnCli(...args: string[]): Run {
    const env = { ...process.env };
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete env[k];
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/optout'), ...args], {
        cwd: dir,
        env,
        encoding: 'utf8'
    });
    return {
        code: r.status ?? -1,
        stdout: r.stdout,
        stderr: r.stderr,
        ...readJson(r.stdout, args)
    };
}

async function withLedger<T>(fn: (l: Ledger) => T): Promise<T> {
    const l = await Ledger.open(ledgerPath);
    try {
        return await fn(l);
    } finally {
        await l.close();
    }
}

function csv(name: string, content: string): string {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
}

const HEADER =
    'email,salesforce_id,audience_id,audience_name,status,changed_at';

describe('ledger location', () => {
    it('uses --ledger, else OPTOUT_LEDGER, else .optout/ledger.db', () => {
        expect(resolveLedger('x/l.db', {})).toBe(resolve('x/l.db'));
        expect(resolveLedger(undefined, { OPTOUT_LEDGER: '/srv/l.db' })).toBe(
            '/srv/l.db'
        );
        expect(resolveLedger(undefined, { OPTOUT_LEDGER: ' ' })).toBe(
            resolve(DEFAULT_LEDGER_PATH)
        );
        expect(resolveLedger('', {})).toBe(resolve('.optout/ledger.db'));
    });

    it('reads OPTOUT_LEDGER and creates the folder', async () => {
        process.env.OPTOUT_LEDGER = ledgerPath;
        try {
            const r = await cli('unsubscribe', '--email', 'a@x.io', '--json');
            expect(r.code).toBe(0);
            expect(r.json.ledger).toBe(ledgerPath);
            expect(existsSync(ledgerPath)).toBe(true);
        } finally {
            delete process.env.OPTOUT_LEDGER;
        }
    });

    it('status and history refuse a ledger that does not exist', async () => {
        const r = await cli('status', '--ledger', join(dir, 'nope.db'));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/LEDGER_NOT_FOUND.*no ledger at .*nope\.db/s);
        expect(existsSync(join(dir, 'nope.db'))).toBe(false);
        const h = await cli(
            'history',
            '--email',
            'a@x.io',
            '--ledger',
            join(dir, 'nope.db'),
            '--json'
        );
        expect(h.code).toBe(1);
        expect(h.json).toMatchObject({
            status: 1,
            name: 'LEDGER_NOT_FOUND'
        });
    });
});

describe('optout unsubscribe', () => {
    it('records a global unsubscribe, then answers "already"', async () => {
        const first = await cli(
            'unsubscribe',
            '--email',
            'Ana@Example.com',
            '--reason',
            'phone call',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(first.code).toBe(0);
        expect(first.json).toMatchObject({
            status: 'recorded',
            email: 'Ana@Example.com',
            scope: 'all',
            audienceId: null,
            source: 'platform',
            reason: 'phone call',
            deliveredAt: null,
            personCreated: true
        });
        const again = await cli(
            'unsubscribe',
            '--email',
            'ana@example.com',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(again.json).toMatchObject({
            status: 'already',
            unsubscribeId: first.json.unsubscribeId
        });
        const human = await cli(
            'unsubscribe',
            '--email',
            'ANA@example.com',
            '--ledger',
            ledgerPath
        );
        expect(human.stdout).toMatch(
            /Already recorded: Ana@Example\.com was unsubscribed from all email/
        );
        expect(await withLedger(async (l) => l.countUndelivered())).toBe(1);
    });

    it('records an audience unsubscribe; an unknown audience is refused with the known ones listed', async () => {
        const unknown = await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--audience',
            'news',
            '--ledger',
            ledgerPath
        );
        expect(unknown.code).toBe(1);
        expect(unknown.stderr).toMatch(
            /UNKNOWN_AUDIENCE.*'news' is not in the ledger/
        );
        const made = await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--audience',
            'news',
            '--audience-name',
            'Newsletter',
            '--source',
            'Webhook',
            '--salesforce-id',
            makeId('00Q', 3).slice(0, 15),
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(made.json).toMatchObject({
            status: 'recorded',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook',
            audienceCreated: true,
            membershipChanged: true
        });
        const other = await cli(
            'unsubscribe',
            '--email',
            'b@x.io',
            '--audience',
            'promo',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(other.json).toMatchObject({
            name: 'UNKNOWN_AUDIENCE',
            message: expect.stringMatching(
                /Known audiences: news \(Newsletter\)/
            )
        });
        await withLedger(async (l) => {
            expect((await l.findPerson('a@x.io'))?.salesforceId).toBe(
                makeId('00Q', 3)
            );
            expect(await l.findPerson('b@x.io')).toBeUndefined();
        });
    });

    it.each([
        [['--email', 'nope'], 1, /BAD_EMAIL.*Email 'nope' has no '@'/],
        [
            ['--email', 'a@x.io', '--source', 'mailchimp'],
            2,
            /--source: source 'mailchimp'/
        ],
        [
            ['--email', 'a@x.io', '--salesforce-id', makeId('001', 1)],
            1,
            /BAD_SALESFORCE_ID.*neither a Contact/
        ],
        [['--email', 'a@x.io', '--audience', 'has space'], 1, /BAD_AUDIENCE/],
        [
            ['--email', 'a@x.io', '--audience-name', 'X'],
            2,
            /--audience-name needs --audience/
        ],
        [
            ['--email', 'a@x.io', '--target-org', ' '],
            2,
            /--target-org must not be empty/
        ],
        [[], 2, /required option '--email <email>' not specified/]
    ])(
        'refuses %j (exit %i) and stores nothing',
        async (args, code, message) => {
            const r = await cli('unsubscribe', ...args, '--ledger', ledgerPath);
            expect(r.code).toBe(code);
            expect(r.stderr).toMatch(message);
            const active = existsSync(ledgerPath)
                ? await withLedger(
                      async (l) => (await l.status()).unsubscribes.active
                  )
                : 0;
            expect(active).toBe(0);
        }
    );

    it('pushes at once through the hook the sync registers, after committing', async () => {
        const calls: { targetOrg: string; pending: number }[] = [];
        unsubscribeHooks.pushAfterUnsubscribe = async ({
            ledger,
            targetOrg,
            unsubscribeId
        }) => {
            calls.push({ targetOrg, pending: await ledger.countUndelivered() });
            await ledger.markDelivered([unsubscribeId], { runId: 'push-1' });
            return pushResult(targetOrg, (p) => {
                p.recordsWritten = 1;
                p.unsubscribesDelivered = 1;
                p.apiRequests = 3;
            });
        };
        const r = await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(r.code).toBe(0);
        expect(calls).toEqual([{ targetOrg: 'local', pending: 1 }]);
        expect(r.json.push).toMatchObject({
            job: 'push',
            runId: 'push-1',
            recordsWritten: 1,
            unsubscribesDelivered: 1
        });
        // The ledger's state after the push, not the one before it.
        expect(r.json.deliveredAt).toEqual(expect.any(String));

        unsubscribeHooks.pushAfterUnsubscribe = async () => {
            throw new Error('connection refused');
        };
        const failed = await cli(
            'unsubscribe',
            '--email',
            'b@x.io',
            '--target-org',
            'prod',
            '--ledger',
            ledgerPath
        );
        expect(failed.code).toBe(1);
        expect(failed.stderr).toMatch(
            /PUSH_FAILED.*recorded in the ledger.*connection refused/
        );
        expect(failed.stderr).toMatch(/optout sync push --target-org prod/);
        expect(await withLedger(async (l) => l.countUndelivered())).toBe(1);
    });
});

describe('optout unsubscribe --target-org, only this command loaded', () => {
    it('pushes through the push job itself (no hook from the sync command)', async () => {
        expect(unsubscribeHooks.pushAfterUnsubscribe).toBeUndefined();
        const r = await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--target-org',
            'no-such-org-for-this-test',
            '--ledger',
            ledgerPath
        );
        // It reached the org lookup (not "cannot push from the unsubscribe command").
        expect(r.code).toBe(1);
        expect(r.stderr).not.toMatch(/PUSH_NOT_AVAILABLE/);
        expect(r.stderr).toMatch(/UNKNOWN_ORG.*recorded in the ledger/);
        expect(r.stderr).toMatch(
            /optout sync push --target-org no-such-org-for-this-test/
        );
        expect(await withLedger(async (l) => l.countUndelivered())).toBe(1);
    });
});

describe('optout unsubscribe --target-org (text output)', () => {
    it('prints one line on the push: delivered, what it wrote and its API requests', async () => {
        unsubscribeHooks.pushAfterUnsubscribe = async ({
            ledger,
            targetOrg,
            unsubscribeId
        }) => {
            await ledger.markDelivered([unsubscribeId], { runId: 'push-1' });
            return pushResult(targetOrg, (p) => {
                p.recordsWritten = 2;
                p.membershipsUpserted = 1;
                p.unsubscribesDelivered = 1;
                p.apiRequests = 4;
            });
        };
        const r = await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--audience',
            'news',
            '--audience-name',
            'News',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath
        );
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(
            /^Recorded: a@x\.io unsubscribed from audience news\./
        );
        expect(r.stdout).toContain(
            'Push to local: delivered (2 records written, 1 membership upserted, 4 API requests).'
        );
        expect(r.stdout).not.toMatch(/Pending/);
    });

    it('says why the push left it pending: no matching record, or a deferred run', async () => {
        unsubscribeHooks.pushAfterUnsubscribe = async ({ targetOrg }) =>
            pushResult(targetOrg, (p) => {
                p.skipped = { no_matching_record: 1 };
                p.apiRequests = 1;
            });
        const waiting = await cli(
            'unsubscribe',
            '--email',
            'nobody@x.io',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath
        );
        expect(waiting.code).toBe(0);
        expect(waiting.stdout).toContain(
            'Push to local: still pending (no matching record); it stays in the ledger for a later push (0 records written, 1 API request).'
        );

        unsubscribeHooks.pushAfterUnsubscribe = async ({ targetOrg }) =>
            pushResult(targetOrg, (p) => {
                p.status = 'deferred';
                p.deferred = {
                    count: 1,
                    reason: 'The org has used 99 of its 100 API requests today.'
                };
            });
        const deferred = await cli(
            'unsubscribe',
            '--email',
            'c@x.io',
            '--target-org',
            'prod',
            '--ledger',
            ledgerPath
        );
        expect(deferred.code).toBe(0);
        expect(deferred.stdout).toContain(
            'Push to prod: still pending (deferred: The org has used 99 of its 100 API requests today.); it stays in the ledger for a later push (0 records written, 0 API requests).'
        );
        expect(await withLedger(async (l) => l.countUndelivered())).toBe(2);
    });
});

describe('optout resubscribe', () => {
    it('removes the active unsubscribe with an audited reason, or says nothing was active', async () => {
        await cli('unsubscribe', '--email', 'a@x.io', '--ledger', ledgerPath);
        const r = await cli(
            'resubscribe',
            '--email',
            'A@x.io',
            '--reason',
            'mistake',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'removed',
            scope: 'all',
            reason: 'mistake',
            removed: [
                expect.objectContaining({
                    scope: 'all',
                    removedReason: 'mistake'
                })
            ]
        });
        const none = await cli(
            'resubscribe',
            '--email',
            'a@x.io',
            '--reason',
            'again',
            '--ledger',
            ledgerPath
        );
        expect(none.code).toBe(0);
        expect(none.stdout).toMatch(
            /Nothing to remove: a@x\.io has no active global unsubscribe/
        );
        const history = await cli(
            'history',
            '--email',
            'a@x.io',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(
            (history.json.audit as { action: string }[]).map((a) => a.action)
        ).toEqual(['unsubscribe_recorded', 'resubscribe']);
    });

    it('lifts an audience unsubscribe and resubscribes the membership', async () => {
        await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--audience',
            'news',
            '--audience-name',
            'News',
            '--ledger',
            ledgerPath
        );
        const r = await cli(
            'resubscribe',
            '--email',
            'a@x.io',
            '--audience',
            'news',
            '--reason',
            'opted in',
            '--ledger',
            ledgerPath
        );
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/Removed the unsubscribe from audience news/);
        expect(r.stdout).toMatch(/Subscribed again/);
    });

    it.each([
        [['--email', 'a@x.io'], 2, /required option '--reason <text>'/],
        [
            ['--email', 'a@x.io', '--reason', '   '],
            2,
            /--reason must not be empty/
        ],
        [
            ['--email', 'zed@x.io', '--reason', 'x'],
            1,
            /UNKNOWN_EMAIL.*zed@x\.io/
        ],
        [
            ['--email', 'a@x.io', '--reason', 'x', '--audience', 'ghost'],
            1,
            /UNKNOWN_AUDIENCE/
        ]
    ])(
        'refuses %j (exit %i) and changes nothing',
        async (args, code, message) => {
            await cli(
                'unsubscribe',
                '--email',
                'a@x.io',
                '--ledger',
                ledgerPath
            );
            const r = await cli('resubscribe', ...args, '--ledger', ledgerPath);
            expect(r.code).toBe(code);
            expect(r.stderr).toMatch(message);
            expect(
                await withLedger(async (l) => (await l.status()).unsubscribes)
            ).toMatchObject({
                active: 1,
                removed: 0
            });
        }
    );
});

describe('optout import', () => {
    it('imports a valid file and prints the counts', async () => {
        const file = csv(
            'ok.csv',
            `${HEADER}\na@x.io,,news,News,Subscribed,2025-01-01\nb@x.io,,news,News,unsubscribed,2025-01-02\n`
        );
        const r = await cli('import', file, '--ledger', ledgerPath, '--json');
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'imported',
            rowsRead: 2,
            personsUpserted: 2,
            membershipsChanged: 2,
            unsubscribesAdded: 1,
            invalid: []
        });
        const human = await cli('import', file, '--ledger', ledgerPath);
        expect(human.stdout).toMatch(/Unchanged rows\s*│ 2/);
    });

    it('reports invalid rows with line numbers, imports nothing and exits 1; --skip-invalid imports the rest', async () => {
        const file = csv(
            'bad.csv',
            `${HEADER}\na@x.io,,news,News,Subscribed,\nbad,,news,News,Subscribed,\nc@x.io,,news,News,Gone,\n`
        );
        const r = await cli('import', file, '--ledger', ledgerPath);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/line 3: email 'bad' has no '@'/);
        expect(r.stderr).toMatch(/line 4: status 'Gone' is not one of/);
        expect(r.stderr).toMatch(
            /INVALID_ROWS.*Nothing imported: 2 invalid row/
        );
        expect(r.stderr).toMatch(/--skip-invalid/);
        expect(await withLedger(async (l) => (await l.status()).persons)).toBe(
            0
        );
        const skip = await cli(
            'import',
            file,
            '--skip-invalid',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(skip.code).toBe(0);
        expect(skip.json).toMatchObject({
            status: 'partial',
            membershipsChanged: 1,
            invalid: [{ line: 3 }, { line: 4 }]
        });
    });

    it.each([
        [
            'a bad header',
            `email,audience,status\n`,
            [],
            1,
            /BAD_HEADER.*unknown column\(s\) 'audience'/
        ],
        ['an empty file', '', [], 1, /EMPTY_FILE/],
        [
            'a bad --format',
            `${HEADER}\n`,
            ['--format', 'xlsx'],
            2,
            /--format must be auto, csv or mailchimp/
        ],
        [
            'a Mailchimp export without --audience-id',
            '"Email Address",MEMBER_RATING,LEID\na@x.io,2,1\n',
            [],
            2,
            /AUDIENCE_REQUIRED/
        ]
    ])('refuses %s', async (_what, content, extra, code, message) => {
        const r = await cli(
            'import',
            csv('x.csv', content),
            ...extra,
            '--ledger',
            ledgerPath
        );
        expect(r.code).toBe(code);
        expect(r.stderr).toMatch(message);
    });

    it('imports a Mailchimp export with --audience-id and --audience-name', async () => {
        const file = csv(
            'mc.csv',
            '"Email Address","First Name",MEMBER_RATING,OPTIN_TIME,UNSUB_TIME,UNSUB_REASON,LEID,EUID\na@x.io,A,2,,"2024-07-01 08:00:00","No longer interested",1,e\n'
        );
        const r = await cli(
            'import',
            file,
            '--audience-id',
            'abc123',
            '--audience-name',
            'Newsletter',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(r.json).toMatchObject({
            status: 'imported',
            format: 'mailchimp',
            mailchimpKind: 'unsubscribed',
            unsubscribesAdded: 1
        });
    });
});

describe('optout history and status', () => {
    it('shows the trail of an email as a table or JSON', async () => {
        await cli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--reason',
            'spam',
            '--ledger',
            ledgerPath
        );
        const j = await cli(
            'history',
            '--email',
            'A@X.IO',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(j.code).toBe(0);
        expect(Object.keys(j.json).sort()).toEqual([
            'audit',
            'email',
            'ledger',
            'memberships',
            'person',
            'stuck',
            'unsubscribes'
        ]);
        expect(j.json.email).toBe('a@x.io');
        const t = await cli(
            'history',
            '--email',
            'a@x.io',
            '--ledger',
            ledgerPath
        );
        expect(t.stdout).toMatch(
            /unsubscribe_recorded.*unsubscribed from all audiences \(reason: spam\)/
        );
        const unknown = await cli(
            'history',
            '--email',
            'who@x.io',
            '--ledger',
            ledgerPath
        );
        expect(unknown.code).toBe(0);
        expect(unknown.stdout).toMatch(/no record of who@x\.io/);
    });

    it('shows counts, pending pushes and the last runs with their API usage', async () => {
        await cli('unsubscribe', '--email', 'a@x.io', '--ledger', ledgerPath);
        await withLedger(async (l) => {
            const run = await l.startRun({ job: 'hourly' });
            await l.finishRun(run.id, {
                status: 'succeeded',
                result: {
                    apiRequests: 6,
                    apiUsage: { used: 40, max: 15000 },
                    membershipsUpserted: 12
                }
            });
        });
        const j = await cli('status', '--ledger', ledgerPath, '--json');
        expect(j.code).toBe(0);
        expect(j.json).toMatchObject({
            persons: 1,
            pending: { count: 1, global: 1 },
            lastRuns: [
                expect.objectContaining({
                    job: 'hourly',
                    apiRequests: 6,
                    apiUsage: { used: 40, max: 15000 },
                    summary: { membershipsUpserted: 12 }
                })
            ]
        });
        const t = await cli('status', '--ledger', ledgerPath);
        expect(t.stdout).toMatch(
            /Pending pushes\s*│ 1 \(1 global, 0 audience\), oldest/
        );
        expect(t.stdout).toMatch(
            /hourly.*succeeded.*6.*40\/15000.*membershipsUpserted 12/
        );
    });
});

describe('the real entry point (bin/optout)', () => {
    it('prints one JSON object and the right exit codes', () => {
        const file = csv(
            'in.csv',
            `${HEADER}\na@x.io,,news,News,Unsubscribed,2025-01-01\nbad,,news,News,Subscribed,\n`
        );
        const rejected = spawnCli(
            'import',
            file,
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(rejected.code).toBe(1);
        expect(rejected.json).toMatchObject({
            status: 'rejected',
            code: 'INVALID_ROWS',
            invalid: [{ line: 3, problems: [expect.any(String)] }]
        });
        expect(Object.keys(rejected.json)).toEqual(
            expect.arrayContaining([
                'rowsRead',
                'personsUpserted',
                'membershipsChanged',
                'unsubscribesAdded',
                'invalid'
            ])
        );
        const unsub = spawnCli(
            'unsubscribe',
            '--email',
            'a@x.io',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(unsub.code).toBe(0);
        expect(unsub.json).toMatchObject({ status: 'recorded', scope: 'all' });
        expect(unsub.stderr).toBe('');
        const usage = spawnCli(
            'resubscribe',
            '--email',
            'a@x.io',
            '--ledger',
            ledgerPath
        );
        expect(usage.code).toBe(2);
        expect(usage.stderr).toMatch(/required option '--reason <text>'/);
        const status = spawnCli('status', '--ledger', ledgerPath, '--json');
        expect(status.code).toBe(0);
        expect(status.json).toMatchObject({
            persons: 1,
            pending: { count: 1 }
        });
    });
});
