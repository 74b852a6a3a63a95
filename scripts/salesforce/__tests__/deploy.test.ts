/**
 * The deploy engine called from code, without the CLI: `deployPackage` on an OrgClient
 * over an in-process local org deploys force-app, reports every component, reports its
 * progress through the hook, and refuses bad options before sending anything.
 */
import { join } from 'node:path';
import { OptoutError } from '../../model/errors';
import { PROJECT_ROOT } from '../../model/project';
import type { LogLevel } from '../../model/log';
import { startTestOrg, type TestOrg } from '../../tools/local-org/testing';
import { OrgClient } from '../client';
import {
    INTEGRATION_PERMISSION_SET,
    checkDeployOptions,
    deployPackage,
    type DeployProgress
} from '../deploy';

const PACKAGE = join(PROJECT_ROOT, 'force-app');
const TRANSLATIONS = join(PROJECT_ROOT, 'force-app-translations');

let t: TestOrg | undefined;

function clientOf(org: TestOrg): OrgClient {
    return new OrgClient(org.conn as never, {
        targetOrg: 'local',
        local: true
    });
}

afterEach(async () => {
    await t?.close();
    t = undefined;
});

describe('deployPackage (no CLI)', () => {
    it('deploys force-app and its translations, reports each component, its progress, and assigns the permission set', async () => {
        t = await startTestOrg({
            deploy: false,
            orgOptions: { translationWorkbench: true }
        });
        const progress: DeployProgress[] = [];
        const logs: [LogLevel, string][] = [];
        const client = clientOf(t);
        const report = await deployPackage(
            client,
            { sourceDir: PACKAGE, translationsDir: TRANSLATIONS },
            {
                onProgress: (p) => progress.push(p),
                log: (level, message) => logs.push([level, message])
            }
        );
        expect(report).toMatchObject({
            status: 'succeeded',
            targetOrg: 'local',
            sourceDir: PACKAGE,
            checkOnly: false,
            rest: true,
            failures: [],
            testLevel: null,
            runTests: [],
            testLevelReason: expect.stringMatching(/runs no tests by default/),
            translations: {
                status: 'deployed',
                sourceDir: TRANSLATIONS,
                numberComponentsDeployed: 12,
                failures: []
            },
            permissionSet: {
                name: INTEGRATION_PERMISSION_SET,
                supported: true,
                assigned: true
            },
            modifyAllPermissionSet: null
        });
        expect(report.numberComponentsTotal).toBeGreaterThan(10);
        expect(report.numberComponentsDeployed).toBe(
            report.numberComponentsTotal
        );
        // Every component of a new org is created, and counted once.
        expect(report.components).toEqual({
            Created: report.numberComponentsTotal
        });
        expect(report.apiRequests).toBe(client.apiRequests);
        expect(report.apiRequests).toBeGreaterThan(0);
        // Progress of both deploys, ending at their totals.
        const last = (phase: DeployProgress['phase']) =>
            progress.filter((p) => p.phase === phase).at(-1);
        expect(last('package')).toEqual({
            phase: 'package',
            sourceDir: PACKAGE,
            done: report.numberComponentsTotal,
            total: report.numberComponentsTotal
        });
        expect(last('translations')).toMatchObject({ done: 12, total: 12 });
        expect(logs.filter(([level]) => level === 'warn')).toEqual([]);
        // The org has the package now.
        const contact = await t.conn.sobject('Contact').describe();
        expect(
            contact.fields.some((f) => f.name === 'Marketo_Sales_Opt_Out__c')
        ).toBe(true);
    });

    it('validates only (checkOnly): nothing is saved, no permission set is assigned', async () => {
        t = await startTestOrg({ deploy: false });
        const report = await deployPackage(clientOf(t), {
            sourceDir: PACKAGE,
            translationsDir: TRANSLATIONS,
            translations: false,
            checkOnly: true,
            tests: { testLevel: 'NoTestRun', runTests: [] }
        });
        expect(report).toMatchObject({
            status: 'succeeded',
            checkOnly: true,
            testLevel: 'NoTestRun',
            testLevelReason: 'as asked (--test-level)',
            translations: { status: 'skipped' },
            permissionSet: null
        });
        const contact = await t.conn.sobject('Contact').describe();
        expect(
            contact.fields.some((f) => f.name === 'Marketo_Sales_Opt_Out__c')
        ).toBe(false);
    });

    it.each([
        [{ sourceDir: join(PROJECT_ROOT, 'nope') }, /No source folder .*nope/],
        [
            { translationsOnly: true, translations: false },
            /contradict each other/
        ],
        [{ waitMinutes: 0 }, /--wait must be a number of minutes/],
        [
            {
                translationsOnly: true,
                tests: { testLevel: 'RunLocalTests' as const, runTests: [] }
            },
            /the translations hold no Apex/
        ],
        [
            {
                tests: {
                    testLevel: 'RunSpecifiedTests' as const,
                    runTests: ['A;DELETE']
                }
            },
            /is not an Apex class name/
        ]
    ])(
        'refuses %j before sending anything (usage error, exit 2)',
        async (bad, message) => {
            t = await startTestOrg({ deploy: false });
            t.admin.resetStats();
            const options = {
                sourceDir: PACKAGE,
                translationsDir: TRANSLATIONS,
                ...bad
            };
            expect(() => checkDeployOptions(options)).toThrow(message);
            const err = await deployPackage(clientOf(t), options).catch(
                (e: unknown) => e
            );
            expect(err).toBeInstanceOf(OptoutError);
            expect(err).toMatchObject({
                code: 'BAD_ARGUMENT',
                exitCode: 2
            });
            expect(t.admin.stats().totalRequests).toBe(0);
        }
    );
});
