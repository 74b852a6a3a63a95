/**
 * `optout deploy` against the local org: the package first, then its translations in a
 * deploy of their own (refused by an org without Translation Workbench, which must not
 * undo the package), and the Apex test level it asks the Metadata API for.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OrgOptions } from '../../tools/local-org/context';
import {
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { localOrgFolder } from '../../webhook/__tests__/cli';
import { cli, ROOT } from './run-cli';

const cwd = process.cwd();
const home = process.env.HOME;
let dir: string;
let t: TestOrg | undefined;

const PACKAGE = join(ROOT, 'force-app');
const TRANSLATIONS = join(ROOT, 'force-app-translations');

/** An empty in-process org that `--target-org local` finds through the state file in `dir`. */
async function localOrg(
    orgOptions: Partial<OrgOptions> = {}
): Promise<TestOrg> {
    t = await startTestOrg({ deploy: false, orgOptions });
    localOrgFolder(dir, t);
    return t;
}

function deploy(...args: string[]): ReturnType<typeof cli> {
    return cli(
        'deploy',
        '--target-org',
        'local',
        '--source-dir',
        PACKAGE,
        '--translations-dir',
        TRANSLATIONS,
        ...args
    );
}

async function hasField(org: TestOrg, object: string, field: string) {
    const d = await org.conn.sobject(object).describe();
    return d.fields.some((f) => f.name === field);
}

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-deploy-'));
    process.chdir(dir);
    process.env.HOME = dir;
});

afterEach(async () => {
    process.chdir(cwd);
    process.env.HOME = home;
    await t?.close();
    t = undefined;
    rmSync(dir, { recursive: true, force: true });
});

describe('optout deploy: translations in a deploy of their own', () => {
    it('installs the package in an org without Translation Workbench and says in one line what to enable (exit 0)', async () => {
        const org = await localOrg({ translationWorkbench: false });
        const r = await deploy('--json');
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'succeeded',
            sourceDir: PACKAGE,
            failures: [],
            translations: {
                status: 'refused',
                message: expect.stringMatching(
                    /^Translations not deployed: the local org has Translation Workbench off, as a new org does\. Restart it with optout local-org start --translation-workbench on, then run: optout deploy --target-org local --translations-only$/
                )
            }
        });
        expect(
            (r.json.translations as { failures: { type: string }[] }).failures
                .length
        ).toBeGreaterThan(0);
        expect(await hasField(org, 'Contact', 'Marketo_Sales_Opt_Out__c')).toBe(
            true
        );
        const human = await deploy();
        expect(human.code).toBe(0);
        const hints = human.stdout
            .split('\n')
            .filter((line) => /Translation Workbench/.test(line));
        expect(hints).toHaveLength(1);
    });

    it('then adds them with --translations-only once the workbench is on', async () => {
        const org = await localOrg({ translationWorkbench: false });
        expect((await deploy('--json')).code).toBe(0);
        const refused = await deploy('--translations-only', '--json');
        expect(refused.code).toBe(1);
        expect(refused.json).toMatchObject({
            status: 'failed',
            sourceDir: TRANSLATIONS,
            translations: { status: 'refused' },
            permissionSet: null
        });
        org.admin.setOptions({ translationWorkbench: true });
        const r = await deploy('--translations-only', '--json');
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'succeeded',
            sourceDir: TRANSLATIONS,
            failures: [],
            permissionSet: null
        });
        // Created now: the refused deploys stored none of them.
        expect(r.json.numberComponentsDeployed).toBe(12);
        expect(r.json.components).toEqual({ Created: 12 });
    });

    it('deploys package and translations together where the org has the workbench', async () => {
        await localOrg({ translationWorkbench: true });
        const r = await deploy('--json');
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'succeeded',
            translations: {
                status: 'deployed',
                numberComponentsDeployed: 12,
                failures: []
            }
        });
        const again = await deploy('--translations-only', '--json');
        expect(again.json.components).toEqual({ Unchanged: 12 });
    });

    it('leaves the translations out with --no-translations', async () => {
        await localOrg({ translationWorkbench: true });
        const r = await deploy('--no-translations', '--json');
        expect(r.code).toBe(0);
        expect(r.json.translations).toMatchObject({
            status: 'skipped',
            message: expect.stringMatching(/--translations-only/)
        });
        const later = await deploy('--translations-only', '--json');
        expect(later.json.components).toEqual({ Created: 12 });
    });

    it('shows any other failure of the second deploy as a problem of its own (exit 1, package installed)', async () => {
        const org = await localOrg({ translationWorkbench: true });
        const r = await cli(
            'deploy',
            '--target-org',
            'local',
            '--source-dir',
            PACKAGE,
            '--translations-dir',
            join(ROOT, 'scripts/cli/__tests__/fixtures/broken'),
            '--json'
        );
        expect(r.code).toBe(1);
        expect(r.json.status).toBe('partial');
        expect(r.json.failures).toEqual([]);
        expect(r.json.translations).toMatchObject({
            status: 'failed',
            failures: [
                expect.objectContaining({
                    type: 'CustomField',
                    fullName: 'Missing_Thing__c.Orphan__c'
                })
            ],
            message: expect.stringMatching(
                /^Deploy of the translations .* failed: 1 component problem\(s\); the package itself is deployed\.$/
            )
        });
        expect(await hasField(org, 'Contact', 'Marketo_Sales_Opt_Out__c')).toBe(
            true
        );
    });
});

describe('optout deploy --test-level', () => {
    it('leaves the test level to a Developer Edition org (no tests run there by default)', async () => {
        await localOrg();
        const r = await deploy('--no-translations', '--json');
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            testLevel: null,
            runTests: [],
            testLevelReason: expect.stringMatching(/runs no tests by default/)
        });
    });

    it("sends RunSpecifiedTests with the package's own test classes, and the org sees it", async () => {
        const org = await localOrg();
        const r = await deploy(
            '--no-translations',
            '--test-level',
            'RunSpecifiedTests',
            '--json'
        );
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            testLevel: 'RunSpecifiedTests',
            runTests: ['UnsubscribeFromAudienceActionTest']
        });
        const status = (await org.conn.metadata.checkDeployStatus(
            r.json.deployId as string,
            true,
            true
        )) as unknown as { runTestsEnabled: boolean | string };
        expect(String(status.runTestsEnabled)).toBe('true');
    });

    it('passes --tests and another level through', async () => {
        const org = await localOrg();
        const named = await deploy(
            '--no-translations',
            '--tests',
            'UnsubscribeFromAudienceActionTest',
            '--json'
        );
        expect(named.code).toBe(0);
        expect(named.json).toMatchObject({
            testLevel: 'RunSpecifiedTests',
            runTests: ['UnsubscribeFromAudienceActionTest'],
            testLevelReason: 'as asked (--tests)'
        });
        const none = await deploy(
            '--no-translations',
            '--test-level',
            'notestrun',
            '--json'
        );
        expect(none.json).toMatchObject({ testLevel: 'NoTestRun' });
        const status = (await org.conn.metadata.checkDeployStatus(
            none.json.deployId as string,
            true,
            true
        )) as unknown as { runTestsEnabled: boolean | string };
        expect(String(status.runTestsEnabled)).toBe('false');
    });

    it.each([
        [['--test-level', 'RunSomeTests'], /--test-level must be one of/],
        [
            ['--test-level', 'RunLocalTests', '--tests', 'A'],
            /--tests goes with --test-level RunSpecifiedTests/
        ],
        [['--tests', ' , '], /--tests needs at least one/],
        [['--tests', 'A;DELETE'], /is not an Apex class name/],
        [
            ['--translations-only', '--test-level', 'RunLocalTests'],
            /the translations hold no Apex/
        ]
    ])(
        'refuses %j with a clear error (exit 2) and changes nothing',
        async (args, message) => {
            const org = await localOrg();
            const r = await deploy(...args);
            expect(r.code).toBe(2);
            expect(r.stderr).toMatch(message);
            expect(
                await hasField(org, 'Contact', 'Marketo_Sales_Opt_Out__c')
            ).toBe(false);
        }
    );
});

describe('optout deploy --modify-all', () => {
    it('also assigns (or says how to assign) the optional Modify All permission set', async () => {
        await localOrg();
        const plain = await deploy('--no-translations', '--json');
        expect(plain.json.modifyAllPermissionSet).toBeNull();
        const r = await deploy('--no-translations', '--modify-all', '--json');
        expect(r.code).toBe(0);
        expect(r.json.modifyAllPermissionSet).toMatchObject({
            name: 'Opt_Out_Sync_Integration_Modify_All',
            message: expect.stringMatching(
                /Opt_Out_Sync_Integration_Modify_All|PermissionSetAssignment/
            )
        });
    });
});

describe('the deployed package', () => {
    it('keeps audiences whose ids differ only in case apart (Membership_Key__c is case-sensitive)', async () => {
        const org = await localOrg();
        expect((await deploy('--no-translations', '--json')).code).toBe(0);
        const [contactId] = await seedRecords(org, 'Contact', [
            { LastName: 'Case', Email: 'case@example.com' }
        ]);
        const rows = ['AbC', 'abc'].map((audience) => ({
            Audience_Id__c: audience,
            Contact__c: contactId,
            Status__c: 'Subscribed',
            Membership_Key__c: `${audience}:${contactId}`
        }));
        const results = await org.conn
            .sobject('Audience_Membership__c')
            .upsert(rows, 'Membership_Key__c', { allOrNone: false });
        expect(results.map((r) => r.success)).toEqual([true, true]);
        const stored = await org.conn.query<{ Membership_Key__c: string }>(
            'SELECT Membership_Key__c FROM Audience_Membership__c ORDER BY Membership_Key__c'
        );
        expect(stored.records.map((r) => r.Membership_Key__c).sort()).toEqual(
            [`AbC:${contactId}`, `abc:${contactId}`].sort()
        );
    });
});
