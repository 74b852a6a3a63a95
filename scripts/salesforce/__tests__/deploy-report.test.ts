/**
 * The report of a deploy from what the org answered, without an org: SDR's file
 * responses (the route of real orgs, which the local org's zip route does not take),
 * failures only the org's status carries, and the overall status.
 */
import type {
    FileResponse,
    MetadataApiDeployStatus
} from '@salesforce/source-deploy-retrieve';
import {
    overallStatus,
    phaseOutcome,
    skippedTranslations,
    translationsOutcome,
    type PermissionSetReport
} from '../deploy-report';

const status = (
    fields: Partial<Record<string, unknown>>
): MetadataApiDeployStatus =>
    ({
        id: '0Af000000000001',
        success: false,
        numberComponentsDeployed: 1,
        numberComponentsTotal: 3,
        ...fields
    }) as unknown as MetadataApiDeployStatus;

describe('phaseOutcome', () => {
    it('counts file responses by state and keeps each failure with its file and position', () => {
        const files = [
            {
                state: 'Created',
                type: 'CustomObject',
                fullName: 'A__c',
                filePath: 'a'
            },
            {
                state: 'Changed',
                type: 'CustomField',
                fullName: 'A__c.B__c',
                filePath: 'b'
            },
            {
                state: 'Failed',
                type: 'ApexClass',
                fullName: 'Svc',
                filePath: 'classes/Svc.cls',
                lineNumber: 4,
                columnNumber: 9,
                error: 'Variable does not exist: x',
                problemType: 'Error'
            }
        ] as unknown as FileResponse[];
        const out = phaseOutcome(status({}), files, new Map());
        expect(out).toEqual({
            ok: false,
            deployId: '0Af000000000001',
            numberComponentsDeployed: 1,
            numberComponentsTotal: 3,
            components: { Created: 1, Changed: 1, Failed: 1 },
            failures: [
                {
                    type: 'ApexClass',
                    fullName: 'Svc',
                    filePath: 'classes/Svc.cls',
                    line: 4,
                    column: 9,
                    problem: 'Variable does not exist: x'
                }
            ]
        });
    });

    it('adds failures only the status carries, named with their source file, once', () => {
        const response = status({
            details: {
                componentFailures: [
                    {
                        componentType: 'CustomField',
                        fullName: 'Thing__c.Orphan__c',
                        fileName: 'objects/Thing__c.object',
                        lineNumber: '3',
                        problem: 'no CustomObject named Thing__c'
                    }
                ],
                componentSuccesses: [
                    {
                        fullName: 'package.xml',
                        created: 'false',
                        changed: 'true'
                    },
                    { fullName: 'A__c', created: 'true', changed: 'false' },
                    { fullName: 'B__c', created: 'false', changed: 'false' }
                ]
            }
        });
        const where = new Map([
            [
                'CustomField:Thing__c.Orphan__c',
                'force-app/objects/Thing__c/fields/Orphan__c.field-meta.xml'
            ]
        ]);
        const out = phaseOutcome(response, [], where);
        expect(out.failures).toEqual([
            {
                type: 'CustomField',
                fullName: 'Thing__c.Orphan__c',
                filePath:
                    'force-app/objects/Thing__c/fields/Orphan__c.field-meta.xml',
                line: 3,
                column: null,
                problem: 'no CustomObject named Thing__c'
            }
        ]);
        // Without file responses the successes are counted; package.xml is not a component.
        expect(out.components).toEqual({ Created: 1, Unchanged: 1 });
    });

    it('reads success sent as the string "true" (the REST deploy status)', () => {
        expect(
            phaseOutcome(status({ success: 'true' }), [], new Map()).ok
        ).toBe(true);
    });
});

describe('overallStatus', () => {
    const assigned: PermissionSetReport = {
        name: 'Opt_Out_Sync_Integration',
        supported: true,
        assigned: true,
        message: ''
    };
    const facts = { sourceDir: 'force-app-translations', targetOrg: 'acme' };

    it('is partial when the translations failed or a permission set could not be assigned', () => {
        const ok = {
            status: 'succeeded' as const,
            translations: skippedTranslations(true, facts),
            permissionSet: assigned,
            modifyAllPermissionSet: null
        };
        expect(overallStatus(ok, false)).toBe('succeeded');
        const failedTranslations = translationsOutcome(
            {
                ok: false,
                deployId: null,
                numberComponentsDeployed: 0,
                numberComponentsTotal: 1,
                components: {},
                failures: [
                    {
                        type: 'CustomField',
                        fullName: 'X.Y',
                        filePath: null,
                        line: null,
                        column: null,
                        problem: 'no X'
                    }
                ]
            },
            false,
            facts
        );
        expect(failedTranslations.status).toBe('failed');
        expect(
            overallStatus({ ...ok, translations: failedTranslations }, false)
        ).toBe('partial');
        expect(
            overallStatus(
                { ...ok, permissionSet: { ...assigned, assigned: false } },
                false
            )
        ).toBe('partial');
        // An org that cannot assign (no PermissionSetAssignment) is not a failure.
        expect(
            overallStatus(
                {
                    ...ok,
                    permissionSet: {
                        ...assigned,
                        supported: false,
                        assigned: false
                    }
                },
                false
            )
        ).toBe('succeeded');
    });

    it('stays failed when the first deploy failed', () => {
        expect(
            overallStatus(
                {
                    status: 'failed',
                    translations: skippedTranslations(false, facts),
                    permissionSet: null,
                    modifyAllPermissionSet: null
                },
                false
            )
        ).toBe('failed');
    });

    it('a refusal for want of Translation Workbench is not a failure of the translations', () => {
        const refused = translationsOutcome(
            {
                ok: false,
                deployId: '0Af',
                numberComponentsDeployed: 0,
                numberComponentsTotal: 1,
                components: {},
                failures: [
                    {
                        type: 'Translations',
                        fullName: 'fr',
                        filePath: null,
                        line: null,
                        column: null,
                        problem:
                            'Not available for deploy for this organization'
                    }
                ]
            },
            false,
            facts
        );
        expect(refused.status).toBe('refused');
        expect(refused.message).toMatch(
            /^Translations not deployed: acme has no Translation Workbench/
        );
    });
});
