/**
 * `optout deploy`'s text fits the terminal: at 80 and 160 columns every line fits, and
 * the facts a person acts on are still there (outcome, deploy id, the refused component
 * and why, the translations hint, the permission set). Built from typed reports, no org.
 */
import type { DeployReport } from '../../salesforce/deploy-report';
import { workbenchHint } from '../../salesforce/deploy-plan';
import { renderDeploy } from '../render/deploy';

const SUCCEEDED: DeployReport = {
    status: 'succeeded',
    targetOrg: 'acme-production',
    sourceDir: '/home/ana/projects/opt-out-sync/force-app',
    deployId: '0Af8d00000ABCDEFGH',
    checkOnly: false,
    rest: false,
    numberComponentsDeployed: 61,
    numberComponentsTotal: 61,
    components: { Created: 40, Changed: 12, Unchanged: 9 },
    failures: [],
    testLevel: 'RunSpecifiedTests',
    runTests: ['UnsubscribeFromAudienceActionTest'],
    testLevelReason:
        "production org: only the package's own test classes run, so unrelated failing tests in the org don't block the install",
    translations: {
        sourceDir: 'force-app-translations',
        status: 'refused',
        deployId: '0Af8d00000ABCDEFGI',
        numberComponentsDeployed: 0,
        numberComponentsTotal: 12,
        failures: [
            {
                type: 'Translations',
                fullName: 'fr',
                filePath: null,
                line: null,
                column: null,
                problem: 'Not available for deploy for this organization'
            }
        ],
        message: workbenchHint('acme-production')
    },
    permissionSet: {
        name: 'Opt_Out_Sync_Integration',
        supported: true,
        assigned: true,
        message:
            'Assigned Opt_Out_Sync_Integration to integration.user@acme.example.com.'
    },
    modifyAllPermissionSet: null,
    apiRequests: 14,
    durationMs: 83_400
};

const FAILED: DeployReport = {
    ...SUCCEEDED,
    status: 'failed',
    numberComponentsDeployed: 0,
    components: { Failed: 2 },
    failures: [
        {
            type: 'CustomField',
            fullName: 'Thing__c.Orphan__c',
            filePath:
                'force-app/main/default/objects/Thing__c/fields/Orphan__c.field-meta.xml',
            line: 12,
            column: 5,
            problem:
                'In field: Orphan__c - no CustomObject named Thing__c found, and the deploy does not create it'
        },
        {
            type: 'ApexClass',
            fullName: 'OptOutSyncSettingsService',
            filePath:
                'force-app/main/default/classes/OptOutSyncSettingsService.cls',
            line: 40,
            column: 17,
            problem: 'Variable does not exist: Opt_Out_Field__c'
        }
    ],
    translations: {
        ...SUCCEEDED.translations!,
        status: 'skipped',
        deployId: null,
        failures: [],
        message: 'Translations not attempted: the package deploy failed.'
    },
    permissionSet: null
};

function expectFits(text: string, columns: number): void {
    const long = text.split('\n').filter((l) => [...l].length > columns);
    expect(long).toEqual([]);
}

/** The text as words, whatever the wrapping and the table borders. */
const words = (text: string): string[] =>
    text.split(/[\s│┌┐└┘├┤┬┴┼─]+/).filter(Boolean);

describe.each([80, 160])('renderDeploy at %i columns', (columns) => {
    it('a deploy that succeeded: counts, tests, the translations hint, the permission set', () => {
        const text = renderDeploy(SUCCEEDED, columns);
        expectFits(text, columns);
        const w = words(text);
        expect(w).toEqual(
            expect.arrayContaining([
                'Deployed',
                'acme-production:',
                '0Af8d00000ABCDEFGH',
                'SOAP',
                'created',
                'RunSpecifiedTests',
                '--translations-only',
                'Opt_Out_Sync_Integration_Modify_All'
            ])
        );
        expect(text.replace(/\s+/g, ' ')).toMatch(
            /61 of 61 components\. .*Assigned Opt_Out_Sync_Integration to integration\.user@acme\.example\.com\./
        );
        // One paragraph names Translation Workbench: the hint, not a failure table.
        expect(text).not.toMatch(/Not available for deploy/);
    });

    it('a deploy that failed: each refused component with its type, line and problem', () => {
        const text = renderDeploy(FAILED, columns);
        expectFits(text, columns);
        expect(text.replace(/\s+/g, ' ')).toMatch(
            /^Deploy of \/home\/ana\/projects\/opt-out-sync\/force-app to acme-production failed: 2 component problem\(s\); nothing was changed\./
        );
        expect(words(text)).toEqual(
            expect.arrayContaining([
                'CustomField',
                'Thing__c.Orphan__c',
                'ApexClass',
                'OptOutSyncSettingsService',
                '12',
                '40',
                'Variable',
                'attempted:'
            ])
        );
        expect(text).not.toMatch(/Assigned/);
    });
});

describe('renderDeploy without a width (piped output)', () => {
    it('keeps each sentence on one line', () => {
        const text = renderDeploy(FAILED);
        expect(text.split('\n')[0]).toBe(
            'Deploy of /home/ana/projects/opt-out-sync/force-app to acme-production failed: 2 component problem(s); nothing was changed.'
        );
    });
});
