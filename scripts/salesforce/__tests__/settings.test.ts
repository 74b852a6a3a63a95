/**
 * The settings hierarchy as Apex getInstance() reads it (user, profile, org default,
 * field by field), without I/O, and the message when the setting cannot be read.
 */
import type { OrgClient } from '../client';
import { SalesforceError } from '../errors';
import { mergeHierarchy, readSettings } from '../settings';

const ORG = '00D000000000001AAA';
const USER = '005000000000001AAA';
const OTHER_USER = '005000000000002AAA';
const PROFILE = '00e000000000001AAA';

const org = {
    Id: 'a01000000000001AAA',
    SetupOwnerId: ORG,
    Nightly_Sync_Enabled__c: false,
    Opt_Out_Field__c: 'HasOptedOutOfEmail',
    All_Audiences_Rule__c: false,
    Apply_To_Same_Email__c: true
};

describe('mergeHierarchy (getInstance for the sync user)', () => {
    it('takes each field from the lowest level that sets it', () => {
        const rows = [
            org,
            {
                SetupOwnerId: PROFILE,
                Opt_Out_Field__c: 'Marketo_Sales_Opt_Out__c',
                All_Audiences_Rule__c: true
            },
            {
                SetupOwnerId: USER,
                Nightly_Sync_Enabled__c: true,
                Opt_Out_Field__c: null
            },
            { SetupOwnerId: OTHER_USER, Apply_To_Same_Email__c: false }
        ];
        expect(
            mergeHierarchy(rows, { userId: USER, profileId: PROFILE })
        ).toEqual({
            record: {
                Id: org.Id,
                SetupOwnerId: ORG,
                Nightly_Sync_Enabled__c: true,
                Opt_Out_Field__c: 'Marketo_Sales_Opt_Out__c',
                All_Audiences_Rule__c: true,
                Apply_To_Same_Email__c: true
            },
            levels: ['user', 'profile', 'org']
        });
        // A 15-character user id matches its 18-character SetupOwnerId.
        expect(
            mergeHierarchy(rows, { userId: USER.slice(0, 15) })?.record
                .Nightly_Sync_Enabled__c
        ).toBe(true);
    });

    it('is the org default alone for anyone else, and nothing without rows', () => {
        const rows = [
            org,
            { SetupOwnerId: OTHER_USER, Nightly_Sync_Enabled__c: true }
        ];
        expect(mergeHierarchy(rows, { userId: USER })).toEqual({
            record: org,
            levels: ['org']
        });
        expect(mergeHierarchy([], { userId: USER })).toBeUndefined();
        // A user row without an org default still applies.
        expect(
            mergeHierarchy(
                [{ SetupOwnerId: USER, Apply_To_Same_Email__c: false }],
                {
                    userId: USER
                }
            )
        ).toEqual({
            record: { Apply_To_Same_Email__c: false },
            levels: ['user']
        });
    });
});

describe('reading the settings', () => {
    it('asks who the user is only when rows other than the org default exist, and falls back to the org default when it cannot tell', async () => {
        const requests: string[] = [];
        const logs: string[] = [];
        const stub = (rows: unknown[]): OrgClient =>
            ({
                targetOrg: 'prod',
                queryAll: async () => rows,
                request: async (req: { path: string }) => {
                    requests.push(req.path);
                    throw new SalesforceError(
                        'INSUFFICIENT_SCOPE',
                        'no id scope',
                        {
                            status: 403,
                            request: `GET ${req.path}`
                        }
                    );
                },
                log: (_level: string, message: string) => logs.push(message)
            }) as unknown as OrgClient;
        expect(
            (await readSettings(stub([org]))).settings.nightlySyncEnabled
        ).toBe(false);
        expect(requests).toEqual([]);
        const read = await readSettings(
            stub([org, { SetupOwnerId: USER, Nightly_Sync_Enabled__c: true }])
        );
        expect(requests).toEqual(['/services/oauth2/userinfo']);
        expect(read.settings.nightlySyncEnabled).toBe(false);
        expect(logs[0]).toMatch(/user and profile values not applied/);
    });

    it('says the package may be missing or the user may lack the permission set (both answer INVALID_TYPE)', async () => {
        const client = {
            targetOrg: 'prod',
            queryAll: async () => {
                throw new SalesforceError(
                    'INVALID_TYPE',
                    "sObject type 'Opt_Out_Sync_Settings__c' is not supported.",
                    { status: 400, request: 'GET /query' }
                );
            }
        } as unknown as OrgClient;
        await expect(readSettings(client)).rejects.toMatchObject({
            code: 'SETTINGS_NOT_INSTALLED',
            message: expect.stringMatching(
                /not deployed there, or the user the sync runs as lacks the Opt_Out_Sync_Integration permission set/
            )
        });
    });
});
