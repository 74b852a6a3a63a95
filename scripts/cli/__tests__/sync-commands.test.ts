/**
 * Contract of `optout sync`, `optout deploy`, `optout settings` and the unsubscribe
 * command's push: arguments, JSON keys, exit codes and error messages. Commands run
 * in-process through `main` against an in-process local org that a state file in a
 * temporary `.optout` folder points at (`--target-org local`); one spawn checks the
 * real entry point.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { writeState, DEFAULT_STATE_FILE } from '../../tools/local-org/connect';
import {
    deployPackage,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient } from '../../salesforce/client';
import { readSettings, writeSettings } from '../../salesforce/settings';
import { cli, ROOT } from './run-cli';
import { unsubscribeHooks } from '../commands/unsubscribe';

const cwd = process.cwd();
const home = process.env.HOME;
let dir: string;
let ledgerPath: string;
let t: TestOrg | undefined;

/** An in-process org that `--target-org local` finds through the state file in `dir`. */
async function localOrg(deploy: boolean | string = true): Promise<TestOrg> {
    t = await startTestOrg({ deploy });
    writeState(join(dir, DEFAULT_STATE_FILE), {
        instanceUrl: t.instanceUrl,
        accessToken: t.accessToken,
        pid: process.pid,
        port: t.org.port,
        dbPath: t.org.dbPath,
        orgId: t.org.orgId,
        username: t.org.username,
        startedAt: new Date().toISOString()
    });
    return t;
}

function client(org: TestOrg): OrgClient {
    return new OrgClient(org.conn as never, {
        targetOrg: 'local',
        local: true
    });
}

async function ledger<T>(fn: (l: Ledger) => T | Promise<T>): Promise<T> {
    const l = await Ledger.open(ledgerPath);
    try {
        return await fn(l);
    } finally {
        await l.close();
    }
}

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-sync-'));
    ledgerPath = join(dir, 'ledger.db');
    process.chdir(dir);
    // The sf CLI's state (aliases, auth files) of an empty home: no org is known.
    process.env.HOME = dir;
});

afterEach(async () => {
    process.chdir(cwd);
    process.env.HOME = home;
    await t?.close();
    t = undefined;
    rmSync(dir, { recursive: true, force: true });
});

const JOB_RESULT_KEYS = [
    'job',
    'runId',
    'dryRun',
    'targetOrg',
    'startedAt',
    'durationMs',
    'apiRequests',
    'apiUsage',
    'recordsWritten',
    'ledgerUnsubscribesAdded',
    'membershipsUpserted',
    'unsubscribesDelivered',
    'skipped',
    'failed',
    'retried',
    'deferred',
    'status'
];

describe('optout sync', () => {
    it('runs a job and prints its JobResult with --json (exit 0)', async () => {
        const org = await localOrg();
        const [id] = await seedRecords(org, 'Contact', [
            { LastName: 'A', Email: 'a@example.com' }
        ]);
        org.admin.resetStats();
        await ledger(async (l) =>
            l.recordUnsubscribe({
                email: 'a@example.com',
                scope: 'all',
                source: 'webhook'
            })
        );
        const r = await cli(
            'sync',
            'push',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(r.code).toBe(0);
        expect(Object.keys(r.json)).toEqual(
            expect.arrayContaining(JOB_RESULT_KEYS)
        );
        expect(r.json).toMatchObject({
            job: 'push',
            targetOrg: 'local',
            dryRun: false,
            recordsWritten: 1,
            unsubscribesDelivered: 1,
            status: 'succeeded',
            failed: [],
            deferred: null
        });
        expect(r.json.apiRequests).toBe(org.admin.stats().totalRequests);
        const rec = await org.conn.sobject('Contact').retrieve(id);
        expect(
            (rec as unknown as { HasOptedOutOfEmail: boolean })
                .HasOptedOutOfEmail
        ).toBe(true);
    });

    it('nightly: incremental after the first run, full with --full, and says which and why (R16)', async () => {
        const org = await localOrg();
        await writeSettings(client(org), { nightlySyncEnabled: true });
        await seedRecords(org, 'Contact', [
            { LastName: 'A', Email: 'a@example.com' }
        ]);
        const run = (...extra: string[]): ReturnType<typeof cli> =>
            cli(
                'sync',
                'nightly',
                '--target-org',
                'local',
                '--ledger',
                ledgerPath,
                ...extra
            );
        const first = await run('--json');
        expect(first.code).toBe(0);
        expect(first.json).toMatchObject({
            reconciliation: {
                mode: 'full',
                reason: 'no successful nightly is recorded'
            }
        });
        const second = await run('--json');
        expect(second.json).toMatchObject({
            reconciliation: { mode: 'incremental' },
            modes: { reconciliation: 'incremental' }
        });
        const full = await run('--full');
        expect(full.code).toBe(0);
        expect(full.stdout).toMatch(
            /Reconciliation\s*│ full \(requested \(--full\)\); 1 records read/
        );
        const every = await run('--full-every', '0', '--json');
        expect(every.json).toMatchObject({
            reconciliation: {
                mode: 'full',
                reason: expect.stringMatching(/0 days old or more/)
            }
        });
    });

    it('prints a readable summary without --json, and a dry run says so', async () => {
        const org = await localOrg();
        await seedRecords(org, 'Contact', [
            { LastName: 'A', Email: 'a@example.com' }
        ]);
        await ledger(async (l) =>
            l.recordUnsubscribe({
                email: 'a@example.com',
                scope: 'all',
                source: 'webhook'
            })
        );
        const r = await cli(
            'sync',
            'push',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath,
            '--dry-run'
        );
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(
            /push → local: succeeded \(dry run: nothing was written\)/
        );
        expect(r.stdout).toMatch(/Would write opt-out fields\s*│ 1/);
        expect(r.stdout).toMatch(/API requests\s*│ \d+ \(org usage/);
        expect(await ledger(async (l) => l.countUndelivered())).toBe(1);
    });

    it.each([
        [
            ['sync', 'bogus', '--target-org', 'local'],
            2,
            /argument 'job'.*Allowed choices are push, hourly, nightly/
        ],
        [
            ['sync', 'push'],
            2,
            /required option '--target-org <org>' not specified/
        ],
        [
            ['sync', 'push', '--target-org', ' '],
            2,
            /--target-org must not be empty/
        ],
        [
            [
                'sync',
                'push',
                '--target-org',
                'local',
                '--api-budget-share',
                '1.5'
            ],
            2,
            /--api-budget-share must be a number above 0 and at most 1/
        ],
        [
            [
                'sync',
                'push',
                '--target-org',
                'local',
                '--bulk-threshold',
                'many'
            ],
            2,
            /--bulk-threshold must be a whole number of records/
        ],
        [
            ['sync', 'push', '--target-org', 'local', '--full'],
            2,
            /--full applies to the nightly job only, not push/
        ],
        [
            [
                'sync',
                'nightly',
                '--target-org',
                'local',
                '--full-every',
                'weekly'
            ],
            2,
            /--full-every must be a duration such as 7d or 36h, or off/
        ],
        [
            ['sync', 'nightly', '--target-org', 'prod-org'],
            1,
            /UNKNOWN_ORG.*No org 'prod-org' is known to the Salesforce CLI[\s\S]*sf org login web --alias prod-org[\s\S]*sf org login jwt/
        ]
    ])(
        'refuses %j with exit %i and a clear message, writing nothing',
        async (args, code, message) => {
            const r = await cli(...args, '--ledger', ledgerPath);
            expect(r.code).toBe(code);
            expect(r.stderr).toMatch(message);
            expect(r.stdout).toBe('');
        }
    );

    it('R7: before the package is deployed it stops, naming the field and the deploy command (exit 1)', async () => {
        const org = await localOrg(
            'scripts/sync/__tests__/fixtures/settings-only'
        );
        await writeSettings(client(org), {
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        await ledger(async (l) =>
            l.recordUnsubscribe({
                email: 'a@example.com',
                scope: 'all',
                source: 'webhook'
            })
        );
        const human = await cli(
            'sync',
            'push',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath
        );
        expect(human.code).toBe(1);
        expect(human.stderr).toMatch(
            /Error \(FIELD_NOT_INSTALLED\): Nothing was written: in local, the field Contact\.Marketo_Sales_Opt_Out__c does not exist/
        );
        expect(human.stderr).toMatch(
            /Try this: Install or update the package: optout deploy --target-org local/
        );
        const json = await cli(
            'sync',
            'push',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(json.code).toBe(1);
        expect(json.json).toMatchObject({
            job: 'push',
            status: 'failed',
            error: {
                code: 'FIELD_NOT_INSTALLED',
                actions: expect.arrayContaining([
                    expect.stringMatching(/optout deploy/)
                ])
            }
        });
        expect(await ledger(async (l) => l.countUndelivered())).toBe(1);
    });

    it('exits 3 (partial) when a record failed for good, 0 when the run is deferred by the budget', async () => {
        const org = await localOrg();
        await deployPackage(
            org,
            'scripts/sync/__tests__/fixtures/contact-rule'
        );
        await seedRecords(org, 'Contact', [
            { LastName: 'Blocked', Email: 'b@example.com' }
        ]);
        await ledger(async (l) =>
            l.recordUnsubscribe({
                email: 'b@example.com',
                scope: 'all',
                source: 'webhook'
            })
        );
        const failed = await cli(
            'sync',
            'push',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath,
            '--json'
        );
        // Partial (a record refused, R14): exit 3, distinct from a run that failed (1).
        expect(failed.code).toBe(3);
        expect(failed.json.status).toBe('partial');
        expect(failed.json.failed).toEqual([
            expect.objectContaining({
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                object: 'Contact'
            })
        ]);
        // The refused one waits for its back-off (R14); a new one is due now.
        await ledger(async (l) =>
            l.recordUnsubscribe({
                email: 'c@example.com',
                scope: 'all',
                source: 'webhook'
            })
        );
        org.admin.setApiLimit(100);
        org.admin.setUsage(99);
        const deferred = await cli(
            'sync',
            'push',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath
        );
        expect(deferred.code).toBe(0);
        expect(deferred.stdout).toMatch(/push → local: deferred/);
        expect(deferred.stdout).toMatch(
            /Deferred: 2 item\(s\) left for the next run/
        );
    });
});

describe('optout settings', () => {
    it('shows the defaults, sets values, and shows them back (--json)', async () => {
        await localOrg();
        const shown = await cli(
            'settings',
            'show',
            '--target-org',
            'local',
            '--json'
        );
        expect(shown.code).toBe(0);
        expect(shown.json).toEqual({
            targetOrg: 'local',
            source: 'defaults',
            recordId: null,
            settings: {
                nightlySyncEnabled: false,
                optOutField: 'HasOptedOutOfEmail',
                allAudiencesRule: false,
                applyToSameEmail: true
            },
            fieldWritten: 'HasOptedOutOfEmail'
        });
        const set = await cli(
            'settings',
            'set',
            '--target-org',
            'local',
            '--nightly-sync',
            'on',
            '--opt-out-field',
            'Marketo_Sales_Opt_Out__c',
            '--all-audiences-rule',
            'ON',
            '--same-email',
            'off',
            '--json'
        );
        expect(set.code).toBe(0);
        expect(set.json).toMatchObject({
            source: 'org-default',
            settings: {
                nightlySyncEnabled: true,
                optOutField: 'Marketo_Sales_Opt_Out__c',
                allAudiencesRule: true,
                applyToSameEmail: false
            },
            fieldWritten: 'Marketo_Sales_Opt_Out__c',
            changed: [
                'nightlySyncEnabled',
                'optOutField',
                'allAudiencesRule',
                'applyToSameEmail'
            ]
        });
        const human = await cli('settings', 'show', '--target-org', 'local');
        expect(human.stdout).toMatch(
            /Opt-out field \(R1\)\s*│ Opt_Out_Field__c\s*│ Marketo_Sales_Opt_Out__c/
        );
    });

    it.each([
        [
            ['--opt-out-field', 'DoNotCall'],
            /--opt-out-field must be HasOptedOutOfEmail or Marketo_Sales_Opt_Out__c, not 'DoNotCall'\. Nothing was written/
        ],
        [
            ['--nightly-sync', 'maybe'],
            /--nightly-sync must be on or off, not 'maybe'/
        ],
        [
            ['--same-email', 'sometimes'],
            /--same-email must be on or off, not 'sometimes'/
        ]
    ])(
        'set %j is refused (exit 2) and writes nothing',
        async (args, message) => {
            const org = await localOrg();
            org.admin.resetStats();
            const r = await cli(
                'settings',
                'set',
                '--target-org',
                'local',
                '--all-audiences-rule',
                'on',
                ...args
            );
            expect(r.code).toBe(2);
            expect(r.stderr).toMatch(message);
            expect(org.admin.stats().totalRequests).toBe(0);
            expect((await readSettings(client(org))).source).toBe('defaults');
        }
    );

    it('set without values is a usage error', async () => {
        const r = await cli('settings', 'set', '--target-org', 'local');
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/Nothing to set[\s\S]*--nightly-sync on\|off/);
    });

    it('refuses an unknown action', async () => {
        const r = await cli('settings', 'change', '--target-org', 'local');
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/Allowed choices are show, set/);
    });
});

describe('optout deploy', () => {
    it('deploys the package over REST, and assigns the integration permission set to the deploying user', async () => {
        const org = await localOrg(false);
        const r = await cli(
            'deploy',
            '--target-org',
            'local',
            '--source-dir',
            join(ROOT, 'force-app'),
            '--json'
        );
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'succeeded',
            targetOrg: 'local',
            rest: true,
            checkOnly: false,
            failures: [],
            permissionSet: {
                name: 'Opt_Out_Sync_Integration',
                supported: true,
                assigned: true,
                message: expect.stringMatching(
                    /^Assigned Opt_Out_Sync_Integration to /
                )
            }
        });
        expect(r.json.numberComponentsDeployed).toBe(
            r.json.numberComponentsTotal
        );
        expect(r.json.apiRequests).toBeGreaterThan(0);
        const d = await org.conn.sobject('Contact').describe();
        expect(
            d.fields.some((f) => f.name === 'Marketo_Sales_Opt_Out__c')
        ).toBe(true);
    });

    it('reports failures component by component and exits 1', async () => {
        await localOrg(false);
        const r = await cli(
            'deploy',
            '--target-org',
            'local',
            '--source-dir',
            join(ROOT, 'scripts/cli/__tests__/fixtures/broken'),
            '--json'
        );
        expect(r.code).toBe(1);
        expect(r.json.status).toBe('failed');
        expect(r.json.permissionSet).toBeNull();
        expect(r.json.failures).toEqual([
            expect.objectContaining({
                type: 'CustomField',
                fullName: 'Missing_Thing__c.Orphan__c',
                problem: expect.stringMatching(/Missing_Thing__c/)
            })
        ]);
        const human = await cli(
            'deploy',
            '--target-org',
            'local',
            '--source-dir',
            join(ROOT, 'scripts/cli/__tests__/fixtures/broken')
        );
        // The line wraps at the terminal's width: read it unwrapped.
        expect(human.stdout.replace(/\n/g, ' ')).toMatch(
            /Deploy of .* to local failed: 1 component problem\(s\); nothing was changed\./
        );
        expect(human.stdout).toMatch(
            /CustomField\s*│ Missing_Thing__c\.Orphan__c/
        );
    });

    it('refuses a missing source folder (exit 2)', async () => {
        const r = await cli(
            'deploy',
            '--target-org',
            'local',
            '--source-dir',
            'nope'
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/No source folder .*nope/);
    });
});

describe('optout unsubscribe --target-org', () => {
    it('records the unsubscribe, then pushes it at once', async () => {
        // No stand-in: the command's own push (pushToOrg) runs.
        expect(unsubscribeHooks.pushAfterUnsubscribe).toBeUndefined();
        const org = await localOrg();
        const [id, idB] = await seedRecords(org, 'Contact', [
            { LastName: 'A', Email: 'a@example.com' },
            { LastName: 'B', Email: 'b@example.com' }
        ]);
        const r = await cli(
            'unsubscribe',
            '--email',
            'a@example.com',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(r.code).toBe(0);
        expect(r.json.push).toMatchObject({
            job: 'push',
            status: 'succeeded',
            recordsWritten: 1,
            unsubscribesDelivered: 1
        });
        const rec = (await org.conn
            .sobject('Contact')
            .retrieve(id)) as unknown as { HasOptedOutOfEmail: boolean };
        expect(rec.HasOptedOutOfEmail).toBe(true);
        expect(await ledger(async (l) => l.countUndelivered())).toBe(0);
        expect(r.json.deliveredAt).toEqual(expect.any(String));

        // Without --json: one line on the push.
        const text = await cli(
            'unsubscribe',
            '--email',
            'b@example.com',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath
        );
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(
            /Push to local: delivered \(1 record written, [1-9]\d* API requests?\)\./
        );
        const b = (await org.conn
            .sobject('Contact')
            .retrieve(idB)) as unknown as { HasOptedOutOfEmail: boolean };
        expect(b.HasOptedOutOfEmail).toBe(true);

        // No Contact or Lead has this email: it stays pending, and the line says why.
        const waiting = await cli(
            'unsubscribe',
            '--email',
            'nobody@example.com',
            '--target-org',
            'local',
            '--ledger',
            ledgerPath
        );
        expect(waiting.code).toBe(0);
        // The line wraps at the terminal's width (80 here).
        expect(waiting.stdout.replace(/\s+/g, ' ')).toMatch(
            /Push to local: still pending \(no matching record\); it stays in the ledger for a later push \(0 records written, [1-9]\d* API requests?\)\./
        );
        expect(await ledger(async (l) => l.countUndelivered())).toBe(1);
    });

    it('keeps it pending when the org is unknown, and says how to deliver it', async () => {
        const r = await cli(
            'unsubscribe',
            '--email',
            'a@example.com',
            '--target-org',
            'prod-org',
            '--ledger',
            ledgerPath
        );
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/UNKNOWN_ORG.*recorded in the ledger/);
        expect(r.stderr).toMatch(/optout sync push --target-org prod-org/);
        expect(await ledger(async (l) => l.countUndelivered())).toBe(1);
    });
});

describe('the optout entry point', () => {
    it('runs `optout sync hourly --target-org local --json` in a child process', async () => {
        await localOrg();
        const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir };
        for (const k of [
            'http_proxy',
            'https_proxy',
            'HTTP_PROXY',
            'HTTPS_PROXY'
        ])
            delete env[k];
        // Asynchronously: this process serves the org the child talks to.
        const child = spawn(
            process.execPath,
            [
                join(ROOT, 'bin/optout'),
                'sync',
                'hourly',
                '--target-org',
                'local',
                '--ledger',
                ledgerPath,
                '--json'
            ],
            { cwd: dir, env }
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const status = await new Promise<number | null>((done) =>
            child.on('close', done)
        );
        const r = { status, stdout, stderr };
        expect(r.status).toBe(0);
        const json = JSON.parse(r.stdout) as Record<string, unknown>;
        expect(json).toMatchObject({ status: 0, warnings: [] });
        expect(json.result).toMatchObject({
            job: 'hourly',
            status: 'succeeded',
            // The settings, the pending rows and the describes in one Composite
            // request; an empty ledger has no persons to read new records for.
            apiRequests: 1
        });
    });
});
