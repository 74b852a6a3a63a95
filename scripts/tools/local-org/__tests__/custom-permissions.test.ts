/**
 * Custom permissions and `$Permission` in validation rules, driven with jsforce as
 * different users: the package's custom permission is stored and granted by its
 * integration permission sets, and a customer rule that excepts
 * `$Permission.Opt_Out_Sync_Integration_User` refuses everyone else — including the
 * org's System Administrator, who holds a custom permission only when granted it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectionFor } from '../connect';
import { startLocalOrg } from '../server';
import {
    deployPackage,
    createTestUser,
    startTestOrg,
    type TestOrg
} from '../testing';

interface JsforceError extends Error {
    errorCode?: string;
    data?: unknown;
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
    try {
        await p;
    } catch (err) {
        return err as JsforceError;
    }
    throw new Error('expected the call to fail');
}

const FIXTURES = 'scripts/tools/local-org/__tests__/fixtures';
const RULE_MESSAGE =
    "Investor Relations manages this contact's email preferences.";

describe('custom permissions and $Permission in validation rules', () => {
    let t: TestOrg;
    let accountId: string;

    beforeAll(async () => {
        t = await startTestOrg({ deploy: true });
        const summary = await deployPackage(t, `${FIXTURES}/permission-rule`);
        if (!summary.success)
            throw new Error(
                `fixture deploy failed: ${JSON.stringify(summary.componentFailures)}`
            );
        const acc = (await t.conn
            .sobject('Account')
            .create({ Name: 'Investor Co' })) as { id: string };
        accountId = acc.id;
    });
    afterAll(async () => {
        await t.close();
    });

    /** A Contact of the IR team, under an Account so every user may edit it. */
    async function irContact(tag: string): Promise<string> {
        const res = (await t.conn.sobject('Contact').create({
            LastName: tag,
            Email: `${tag}@permission.test`,
            Department: 'Investor Relations',
            AccountId: accountId
        })) as { id: string };
        return res.id;
    }

    async function permissionSetId(name: string): Promise<string> {
        const res = await t.conn.query<{ Id: string }>(
            `SELECT Id FROM PermissionSet WHERE Name = '${name}'`
        );
        expect(res.records).toHaveLength(1);
        return res.records[0].Id;
    }

    it('stores the deployed custom permission and the sets that grant it (CustomPermission, SetupEntityAccess)', async () => {
        const cp = await t.conn.query<{
            Id: string;
            DeveloperName: string;
            MasterLabel: string;
        }>(
            "SELECT Id, DeveloperName, MasterLabel FROM CustomPermission WHERE DeveloperName = 'Opt_Out_Sync_Integration_User'"
        );
        expect(cp.records).toHaveLength(1);
        expect(cp.records[0].MasterLabel).toBe('Opt-Out Sync Integration User');
        const grants = await t.conn.query<{ ParentId: string }>(
            `SELECT ParentId FROM SetupEntityAccess WHERE SetupEntityId = '${cp.records[0].Id}'`
        );
        expect(grants.records.map((r) => r.ParentId).sort()).toEqual(
            [
                await permissionSetId('Opt_Out_Sync_Integration'),
                await permissionSetId('Opt_Out_Sync_Integration_Modify_All')
            ].sort()
        );
        // Opt_Out_Sync_User does not grant it.
        const userSet = await permissionSetId('Opt_Out_Sync_User');
        expect(grants.records.map((r) => r.ParentId)).not.toContain(userSet);
    });

    it('refuses the update for a user without the custom permission', async () => {
        const id = await irContact('refused');
        const user = createTestUser(t);
        const err = await failure(
            user.conn
                .sobject('Contact')
                .update({ Id: id, HasOptedOutOfEmail: true })
        );
        expect(err.errorCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
        expect(err.message).toBe(RULE_MESSAGE);
        // sObject Collections report it per record, with the display field.
        const [res] = (await user.conn
            .sobject('Contact')
            .update([{ Id: id, HasOptedOutOfEmail: true }], {
                allOrNone: false
            })) as unknown as Array<{
            success: boolean;
            errors: Array<{ statusCode: string; fields: string[] }>;
        }>;
        expect(res.success).toBe(false);
        expect(res.errors[0]).toMatchObject({
            statusCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
            fields: ['HasOptedOutOfEmail']
        });
    });

    it("refuses the org's own System Administrator too: Modify All Data does not grant custom permissions", async () => {
        const id = await irContact('admin');
        const err = await failure(
            t.conn
                .sobject('Contact')
                .update({ Id: id, HasOptedOutOfEmail: true })
        );
        expect(err.errorCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
        const admin2 = createTestUser(t, { profile: 'System Administrator' });
        expect(
            (
                await failure(
                    admin2.conn
                        .sobject('Contact')
                        .update({ Id: id, HasOptedOutOfEmail: true })
                )
            ).errorCode
        ).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    });

    it('lets the update through for a user with Opt_Out_Sync_Integration assigned, until it is unassigned', async () => {
        const id = await irContact('allowed');
        const integ = createTestUser(t);
        const assignment = (await t.conn
            .sobject('PermissionSetAssignment')
            .create({
                AssigneeId: integ.id,
                PermissionSetId: await permissionSetId(
                    'Opt_Out_Sync_Integration'
                )
            })) as { id: string; success: boolean };
        expect(assignment.success).toBe(true);
        const ok = (await integ.conn
            .sobject('Contact')
            .update({ Id: id, HasOptedOutOfEmail: true })) as {
            success: boolean;
        };
        expect(ok.success).toBe(true);
        const row = (await t.conn.sobject('Contact').retrieve(id)) as {
            HasOptedOutOfEmail: boolean;
        };
        expect(row.HasOptedOutOfEmail).toBe(true);
        // Unassigned: the cached permissions are dropped, the rule applies again.
        await t.conn.sobject('PermissionSetAssignment').destroy(assignment.id);
        expect(
            (
                await failure(
                    integ.conn
                        .sobject('Contact')
                        .update({ Id: id, HasOptedOutOfEmail: false })
                )
            ).errorCode
        ).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    });

    it('applies to Bulk API 2.0 ingest jobs as the job creator', async () => {
        const refusedId = await irContact('bulk-refused');
        const allowedId = await irContact('bulk-allowed');
        const user = createTestUser(t);
        const integ = createTestUser(t);
        await t.conn.sobject('PermissionSetAssignment').create({
            AssigneeId: integ.id,
            PermissionSetId: await permissionSetId(
                'Opt_Out_Sync_Integration_Modify_All'
            )
        });
        for (const c of [user.conn, integ.conn]) {
            c.bulk2.pollInterval = 20;
            c.bulk2.pollTimeout = 30_000;
        }
        const refused = await user.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'update',
            input: [{ Id: refusedId, HasOptedOutOfEmail: 'true' }]
        });
        expect(refused.successfulResults).toHaveLength(0);
        expect(String(refused.failedResults[0]?.sf__Error)).toContain(
            'FIELD_CUSTOM_VALIDATION_EXCEPTION'
        );
        const allowed = await integ.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'update',
            input: [{ Id: allowedId, HasOptedOutOfEmail: 'true' }]
        });
        expect(allowed.failedResults).toHaveLength(0);
        expect(allowed.successfulResults).toHaveLength(1);
    });

    it('refuses a deploy whose rule or permission set names a custom permission the org does not have', async () => {
        const summary = await deployPackage(
            t,
            `${FIXTURES}/permission-rule-unknown`
        );
        expect(summary.success).toBe(false);
        const problems = Object.fromEntries(
            summary.componentFailures.map((f) => [f.fullName, f.problem])
        );
        expect(problems['Contact.Needs_Unknown_Permission']).toBe(
            'Error: Field $Permission.No_Such_Permission does not exist. Check spelling.'
        );
        expect(problems.Grants_Unknown_Permission).toBe(
            'In field: name - no CustomPermission named No_Such_Permission found'
        );
    });
});

describe('custom permissions in an org file', () => {
    it('are added to a file written before CustomPermission existed', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'org-custom-perms-'));
        try {
            const dbPath = join(dir, 'org.db');
            const first = await startLocalOrg({ port: 0, dbPath });
            try {
                const summary = await deployPackage(first, 'force-app');
                if (!summary.success) throw new Error('deploy failed');
            } finally {
                await first.close();
            }
            // Take the file back to its shape before this change.
            const db = new Database(dbPath);
            const added = ['CustomPermission', 'SetupEntityAccess'];
            for (const name of added) db.exec(`DROP TABLE "o_${name}"`);
            db.prepare(
                `DELETE FROM _lo_objects WHERE name IN (${added.map(() => '?').join(', ')})`
            ).run(...added);
            db.close();

            const org = await startLocalOrg({ port: 0, dbPath });
            try {
                const conn = connectionFor(org);
                const grants = await conn.query<{ ParentId: string }>(
                    "SELECT ParentId FROM SetupEntityAccess WHERE SetupEntityId IN (SELECT Id FROM CustomPermission WHERE DeveloperName = 'Opt_Out_Sync_Integration_User')"
                );
                expect(grants.totalSize).toBe(2);
            } finally {
                await org.close();
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
