/**
 * Users, sessions, permission sets and sharing, driven with jsforce as each user:
 * a Contact without an Account is private to its owner (View All shows it, only
 * ownership or Modify All edits it), a Contact with an Account is open to all, Leads
 * follow the leadSharing option, and administrators see and edit everything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Connection } from 'jsforce';
import { connectionFor } from '../connect';
import { startLocalOrg } from '../server';
import { accessFromGrants, canEdit, canRead, readFilter } from '../sharing';
import { createTestUser, startTestOrg, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

interface JsforceError extends Error {
    errorCode?: string;
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
    try {
        await p;
    } catch (err) {
        return err as JsforceError;
    }
    throw new Error('expected the call to fail');
}

async function ids(conn: Connection, soql: string): Promise<string[]> {
    const res = await conn.query<{ Id: string }>(soql);
    return res.records.map((r) => r.Id);
}

/** A Bulk 2.0 query's ids (the job runs as the connection's user). */
async function bulkIds(conn: Connection, soql: string): Promise<string[]> {
    conn.bulk2.pollInterval = 20;
    conn.bulk2.pollTimeout = 30_000;
    const rows = (await conn.bulk2.query(soql)) as unknown as
        AsyncIterable<Rec> | Rec[];
    const out: string[] = [];
    for await (const r of rows as AsyncIterable<Rec>) out.push(String(r.Id));
    return out;
}

const INSUFFICIENT = {
    statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY',
    message: 'insufficient access rights on object id'
};

describe('users, permission sets and sharing', () => {
    let t: TestOrg;
    let privateContact: string;
    let accountContact: string;
    let lead: string;

    beforeAll(async () => {
        t = await startTestOrg({ deploy: true });
        const acc = await t.conn.sobject('Account').create({ Name: 'Acme' });
        const a = await t.conn.sobject('Contact').create({
            LastName: 'Private',
            Email: 'private@sharing.test'
        });
        const b = await t.conn.sobject('Contact').create({
            LastName: 'Linked',
            Email: 'linked@sharing.test',
            AccountId: (acc as { id: string }).id
        });
        const l = await t.conn.sobject('Lead').create({
            LastName: 'Lead',
            Company: 'Acme',
            Email: 'lead@sharing.test'
        });
        privateContact = (a as { id: string }).id;
        accountContact = (b as { id: string }).id;
        lead = (l as { id: string }).id;
    });
    afterAll(async () => {
        await t.close();
    });

    it('gives each user a session of its own, a profile queryable by id, and keeps the admin routes for administrators', async () => {
        const user = createTestUser(t, { lastName: 'Standard' });
        const userinfo = async (token: string): Promise<Rec> =>
            (await (
                await fetch(`${t.instanceUrl}/services/oauth2/userinfo`, {
                    headers: { Authorization: `Bearer ${token}` }
                })
            ).json()) as Rec;
        expect((await userinfo(user.accessToken)).user_id).toBe(user.id);
        expect((await userinfo(t.accessToken)).user_id).toBe(t.org.userId);
        const me = await t.conn.query<{ ProfileId: string }>(
            `SELECT ProfileId FROM User WHERE Id = '${user.id}'`
        );
        const profiles = await t.conn.query<{ Id: string; Name: string }>(
            'SELECT Id, Name FROM Profile ORDER BY Name'
        );
        expect(profiles.records.map((p) => p.Name)).toEqual([
            'Standard User',
            'System Administrator'
        ]);
        expect(me.records[0].ProfileId).toBe(
            profiles.records.find((p) => p.Name === 'Standard User')?.Id
        );
        const admin = await t.conn.query<{ ProfileId: string }>(
            `SELECT ProfileId FROM User WHERE Id = '${t.org.userId}'`
        );
        expect(admin.records[0].ProfileId).toBe(
            profiles.records.find((p) => p.Name === 'System Administrator')?.Id
        );
        // Over HTTP: created with the admin token, refused with the user's.
        const post = (token: string): Promise<Response> =>
            fetch(`${t.instanceUrl}/local/users`, {
                method: 'POST',
                headers: {
                    Authorization: `Bearer ${token}`,
                    'Content-Type': 'application/json'
                },
                body: JSON.stringify({
                    username: `http.${Date.now()}@optout.local`,
                    profile: 'Standard User'
                })
            });
        const created = await post(t.accessToken);
        expect(created.status).toBe(201);
        const body = (await created.json()) as {
            id: string;
            accessToken: string;
        };
        expect(body.id).toMatch(/^005/);
        expect(body.accessToken).not.toBe(t.accessToken);
        expect((await post(user.accessToken)).status).toBe(403);
    });

    it('makes the creating user the owner and the creator of a record', async () => {
        const user = createTestUser(t);
        const res = (await user.conn
            .sobject('Contact')
            .create({ LastName: 'Mine', Email: 'mine@sharing.test' })) as {
            id: string;
        };
        const row = (await t.conn
            .sobject('Contact')
            .retrieve(res.id)) as unknown as Rec;
        expect(row.OwnerId).toBe(user.id);
        expect(row.CreatedById).toBe(user.id);
        expect(row.LastModifiedById).toBe(user.id);
    });

    it('hides an account-less Contact from a user without access: SOQL, Bulk query, retrieve', async () => {
        const user = createTestUser(t);
        const soql = `SELECT Id FROM Contact WHERE Id IN ('${privateContact}', '${accountContact}')`;
        expect(await ids(user.conn, soql)).toEqual([accountContact]);
        expect(await bulkIds(user.conn, soql)).toEqual([accountContact]);
        const job = (await user.conn.requestPost(
            '/services/data/v66.0/jobs/query',
            { operation: 'query', query: soql }
        )) as { createdById: string };
        expect(job.createdById).toBe(user.id);
        const count = await user.conn.query(
            `SELECT COUNT() FROM Contact WHERE Id = '${privateContact}'`
        );
        expect(count.totalSize).toBe(0);
        const err = await failure(
            user.conn.sobject('Contact').retrieve(privateContact)
        );
        expect(err.errorCode).toBe('NOT_FOUND');
        // The administrator sees both.
        expect((await ids(t.conn, soql)).sort()).toEqual(
            [privateContact, accountContact].sort()
        );
    });

    it("keeps the user's view over every page of a query (keyset and ORDER BY cursors)", async () => {
        const user = createTestUser(t);
        for (const c of [t.conn, user.conn]) {
            c.bulk2.pollInterval = 20;
            c.bulk2.pollTimeout = 60_000;
        }
        const rows = (who: string, n: number): Rec[] =>
            Array.from({ length: n }, (_, i) => ({
                LastName: `${who} ${i}`,
                Email: `${who}.${i}@paging.sharing.test`
            }));
        await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'insert',
            input: rows('admin', 1_500)
        });
        await user.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'insert',
            input: rows('user', 2_300)
        });
        for (const order of ['', ' ORDER BY LastName']) {
            const res = await user.conn.query<{ OwnerId: string }>(
                `SELECT Id, OwnerId FROM Contact WHERE Email LIKE '%@paging.sharing.test'${order}`,
                { autoFetch: true, maxFetch: 10_000 }
            );
            expect(res.totalSize).toBe(2_300);
            expect(res.records).toHaveLength(2_300);
            expect(res.records.every((r) => r.OwnerId === user.id)).toBe(true);
        }
    });

    it('refuses every kind of update of it with INSUFFICIENT_ACCESS_OR_READONLY', async () => {
        const user = createTestUser(t);
        const row = await failure(
            user.conn
                .sobject('Contact')
                .update({ Id: privateContact, HasOptedOutOfEmail: true })
        );
        expect(row.errorCode).toBe(INSUFFICIENT.statusCode);
        expect(row.message).toBe(INSUFFICIENT.message);
        const collection = (await user.conn.requestPatch(
            '/services/data/v66.0/composite/sobjects',
            {
                allOrNone: false,
                records: [
                    {
                        attributes: { type: 'Contact' },
                        id: privateContact,
                        HasOptedOutOfEmail: true
                    },
                    {
                        attributes: { type: 'Contact' },
                        id: accountContact,
                        Title: 'Linked to Acme'
                    }
                ]
            }
        )) as Array<{ success: boolean; errors: Rec[] }>;
        expect(collection[0]).toMatchObject({
            success: false,
            errors: [{ ...INSUFFICIENT, fields: [] }]
        });
        expect(collection[1].success).toBe(true);
        user.conn.bulk2.pollInterval = 20;
        user.conn.bulk2.pollTimeout = 30_000;
        const bulk = await user.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'update',
            input: [{ Id: privateContact, HasOptedOutOfEmail: 'true' }]
        });
        expect(bulk.successfulResults).toHaveLength(0);
        expect(bulk.failedResults[0].sf__Error).toBe(
            `${INSUFFICIENT.statusCode}:${INSUFFICIENT.message}:--`
        );
        const after = (await t.conn
            .sobject('Contact')
            .retrieve(privateContact)) as unknown as Rec;
        expect(after.HasOptedOutOfEmail).toBe(false);
    });

    it('honours the package permission set: View All shows the Contact, but editing it still needs Modify All', async () => {
        const user = createTestUser(t);
        const sets = await t.conn.query<{ Id: string }>(
            "SELECT Id FROM PermissionSet WHERE Name = 'Opt_Out_Sync_Integration'"
        );
        expect(sets.totalSize).toBe(1);
        const assignment = {
            AssigneeId: user.id,
            PermissionSetId: sets.records[0].Id
        };
        const psa = (await t.conn
            .sobject('PermissionSetAssignment')
            .create(assignment)) as { id: string; success: boolean };
        expect(psa.success).toBe(true);
        const assigned = await t.conn.query(
            `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${user.id}' AND PermissionSetId = '${sets.records[0].Id}'`
        );
        expect(assigned.totalSize).toBe(1);
        // Assigning is setup: the user cannot give itself a set.
        const self = await failure(
            user.conn.sobject('PermissionSetAssignment').create(assignment)
        );
        expect(self.errorCode).toBe(INSUFFICIENT.statusCode);
        // A second assignment of the same set is refused.
        const dup = await failure(
            t.conn.sobject('PermissionSetAssignment').create(assignment)
        );
        expect(dup.errorCode).toBe('DUPLICATE_VALUE');
        expect(dup.message).toMatch(/^Duplicate PermissionSetAssignment/);

        expect(
            await ids(
                user.conn,
                `SELECT Id FROM Contact WHERE Id = '${privateContact}'`
            )
        ).toEqual([privateContact]);
        const seen = (await user.conn
            .sobject('Contact')
            .retrieve(privateContact)) as unknown as Rec;
        expect(seen.Id).toBe(privateContact);
        const err = await failure(
            user.conn
                .sobject('Contact')
                .update({ Id: privateContact, HasOptedOutOfEmail: true })
        );
        expect(err.errorCode).toBe(INSUFFICIENT.statusCode);

        // Unassigned: hidden again (the cached access follows the change).
        await t.conn.sobject('PermissionSetAssignment').destroy(psa.id);
        expect(
            await ids(
                user.conn,
                `SELECT Id FROM Contact WHERE Id = '${privateContact}'`
            )
        ).toEqual([]);
    });

    it('lets a user with Modify All on Contact edit it (a permission set made through the API)', async () => {
        const user = createTestUser(t);
        const ps = (await t.conn.sobject('PermissionSet').create({
            Name: 'Sharing_Test_Modify_All',
            Label: 'Sharing test: Modify All Contacts'
        })) as { id: string };
        await t.conn.sobject('ObjectPermissions').create({
            ParentId: ps.id,
            SobjectType: 'Contact',
            PermissionsRead: true,
            PermissionsEdit: true,
            PermissionsViewAllRecords: true,
            PermissionsModifyAllRecords: true
        });
        await t.conn
            .sobject('PermissionSetAssignment')
            .create({ AssigneeId: user.id, PermissionSetId: ps.id });
        await user.conn
            .sobject('Contact')
            .update({ Id: privateContact, Title: 'Edited with Modify All' });
        const row = (await t.conn
            .sobject('Contact')
            .retrieve(privateContact)) as unknown as Rec;
        expect(row.Title).toBe('Edited with Modify All');
        expect(row.LastModifiedById).toBe(user.id);
        // Modify All on Contact says nothing about Leads.
        t.admin.setOptions({ leadSharing: 'Private' });
        try {
            const err = await failure(
                user.conn.sobject('Lead').update({ Id: lead, Title: 'x' })
            );
            expect(err.errorCode).toBe(INSUFFICIENT.statusCode);
        } finally {
            t.admin.setOptions({ leadSharing: 'ReadWrite' });
        }
    });

    it("lets a user with the package's Modify All set (Opt_Out_Sync_Integration_Modify_All) edit private Contacts and Leads", async () => {
        const user = createTestUser(t);
        const sets = await t.conn.query<{ Id: string }>(
            "SELECT Id FROM PermissionSet WHERE Name = 'Opt_Out_Sync_Integration_Modify_All'"
        );
        expect(sets.totalSize).toBe(1);
        await t.conn.sobject('PermissionSetAssignment').create({
            AssigneeId: user.id,
            PermissionSetId: sets.records[0].Id
        });
        await user.conn
            .sobject('Contact')
            .update({ Id: privateContact, DoNotCall: true });
        t.admin.setOptions({ leadSharing: 'Private' });
        try {
            await user.conn
                .sobject('Lead')
                .update({ Id: lead, DoNotCall: true });
        } finally {
            t.admin.setOptions({ leadSharing: 'ReadWrite' });
        }
        const c = (await t.conn
            .sobject('Contact')
            .retrieve(privateContact)) as unknown as Rec;
        const l = (await t.conn
            .sobject('Lead')
            .retrieve(lead)) as unknown as Rec;
        expect([c.DoNotCall, l.DoNotCall]).toEqual([true, true]);
    });

    it('lets the owner edit its own account-less Contact, and the administrator edit anyone’s', async () => {
        const user = createTestUser(t);
        const other = createTestUser(t);
        const own = (await user.conn
            .sobject('Contact')
            .create({ LastName: 'Owned', Email: 'owned@sharing.test' })) as {
            id: string;
        };
        await user.conn
            .sobject('Contact')
            .update({ Id: own.id, HasOptedOutOfEmail: true });
        expect(
            await ids(
                other.conn,
                `SELECT Id FROM Contact WHERE Id = '${own.id}'`
            )
        ).toEqual([]);
        await t.conn
            .sobject('Contact')
            .update({ Id: own.id, Title: 'Set by the admin' });
        const row = (await t.conn
            .sobject('Contact')
            .retrieve(own.id)) as unknown as Rec;
        expect(row).toMatchObject({
            HasOptedOutOfEmail: true,
            Title: 'Set by the admin'
        });
        // Another System Administrator (Modify All Data) too, under its own name.
        const admin2 = createTestUser(t, { profile: 'System Administrator' });
        await admin2.conn
            .sobject('Contact')
            .update({ Id: own.id, Title: 'Set by another admin' });
        const again = (await t.conn
            .sobject('Contact')
            .retrieve(own.id)) as unknown as Rec;
        expect(again).toMatchObject({
            Title: 'Set by another admin',
            LastModifiedById: admin2.id
        });
    });

    it('opens a Contact with an Account to everyone (Account Public Read/Write), but keeps delete for its owner', async () => {
        const user = createTestUser(t);
        await user.conn
            .sobject('Contact')
            .update({ Id: accountContact, DoNotCall: true });
        const row = (await t.conn
            .sobject('Contact')
            .retrieve(accountContact)) as unknown as Rec;
        expect(row.DoNotCall).toBe(true);
        const err = await failure(
            user.conn.sobject('Contact').destroy(accountContact)
        );
        expect(err.errorCode).toBe(INSUFFICIENT.statusCode);
    });

    it('makes Leads private to their owner when the org option says so', async () => {
        const user = createTestUser(t);
        // Default Public Read/Write: the user edits the admin's Lead.
        await user.conn.sobject('Lead').update({ Id: lead, Title: 'Open' });
        t.admin.setOptions({ leadSharing: 'Private' });
        try {
            expect(
                await ids(user.conn, `SELECT Id FROM Lead WHERE Id = '${lead}'`)
            ).toEqual([]);
            const err = await failure(
                user.conn.sobject('Lead').update({ Id: lead, Title: 'Closed' })
            );
            expect(err.errorCode).toBe(INSUFFICIENT.statusCode);
            const own = (await user.conn.sobject('Lead').create({
                LastName: 'Own lead',
                Company: 'Acme',
                Email: 'ownlead@sharing.test'
            })) as { id: string };
            await user.conn
                .sobject('Lead')
                .update({ Id: own.id, Title: 'Mine' });
            expect(await ids(user.conn, 'SELECT Id FROM Lead')).toEqual([
                own.id
            ]);
            await t.conn.sobject('Lead').update({ Id: own.id, Title: 'Admin' });
        } finally {
            t.admin.setOptions({ leadSharing: 'ReadWrite' });
        }
    });

    it('accepts a hierarchy setting row for a profile or a user (SetupOwnerId)', async () => {
        const me = await t.conn.query<{ ProfileId: string }>(
            `SELECT ProfileId FROM User WHERE Id = '${t.org.userId}'`
        );
        const user = createTestUser(t);
        for (const owner of [me.records[0].ProfileId, user.id]) {
            const res = (await t.conn
                .sobject('Opt_Out_Sync_Settings__c')
                .create({ SetupOwnerId: owner })) as { success: boolean };
            expect(res.success).toBe(true);
        }
    });
});

describe('inactive users', () => {
    it('lose their session and cannot own records', async () => {
        const t = await startTestOrg();
        try {
            const user = createTestUser(t);
            await user.conn.query('SELECT Id FROM Contact');
            t.admin.setUserActive(user.id, false);
            const session = await failure(
                user.conn.query('SELECT Id FROM Contact')
            );
            expect(session.errorCode).toBe('INVALID_SESSION_ID');
            const owner = await failure(
                t.conn.sobject('Contact').create({
                    LastName: 'Orphan',
                    Email: 'orphan@sharing.test',
                    OwnerId: user.id
                })
            );
            expect(owner.errorCode).toBe('INACTIVE_OWNER_OR_USER');
        } finally {
            await t.close();
        }
    });
});

describe('sharing decisions (pure)', () => {
    const none = accessFromGrants('005000000000001AAA', []);
    const viewAll = accessFromGrants('005000000000001AAA', [
        {
            modifyAllData: false,
            viewAllData: false,
            objects: { Contact: { viewAll: true, modifyAll: false } }
        }
    ]);
    const admin = accessFromGrants('005000000000002AAA', [
        { modifyAllData: true, viewAllData: true, objects: {} }
    ]);
    const rw = { leadSharing: 'ReadWrite' as const };
    const priv = { leadSharing: 'Private' as const };
    const theirs = { OwnerId: '005000000000009AAA', AccountId: null };

    it('decide reads and edits of an account-less Contact by ownership and permissions', () => {
        expect(canRead(none, 'Contact', theirs, rw)).toBe(false);
        expect(canRead(viewAll, 'Contact', theirs, rw)).toBe(true);
        expect(canEdit(viewAll, 'Contact', theirs, rw)).toBe(false);
        expect(canEdit(admin, 'Contact', theirs, rw)).toBe(true);
        expect(
            canEdit(none, 'Contact', { ...theirs, AccountId: '001x' }, rw)
        ).toBe(true);
        expect(canEdit(none, 'Lead', theirs, rw)).toBe(true);
        expect(canEdit(none, 'Lead', theirs, priv)).toBe(false);
        expect(canEdit(none, 'Audience_Membership__c', theirs, priv)).toBe(
            true
        );
    });

    it('cost nothing in SQL for administrators and View All', () => {
        expect(readFilter(admin, 'Contact', 't0', rw)).toBeNull();
        expect(readFilter(viewAll, 'Contact', 't0', rw)).toBeNull();
        expect(readFilter(none, 'Lead', 't0', rw)).toBeNull();
        expect(readFilter(none, 'Contact', 't0', rw)).toEqual({
            sql: '(t0."AccountId" IS NOT NULL OR t0."OwnerId" = ?)',
            params: [none.userId]
        });
    });
});

describe('users in an org file', () => {
    it('are added to a file written before users existed', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'org-users-old-'));
        try {
            const dbPath = join(dir, 'org.db');
            await (await startLocalOrg({ port: 0, dbPath })).close();
            // Take the file back to its shape before this change.
            const db = new Database(dbPath);
            const added = [
                'Profile',
                'PermissionSet',
                'ObjectPermissions',
                'PermissionSetAssignment'
            ];
            for (const name of added) db.exec(`DROP TABLE "o_${name}"`);
            db.prepare(
                `DELETE FROM _lo_objects WHERE name IN (${added.map(() => '?').join(', ')})`
            ).run(...added);
            db.exec('DROP INDEX IF EXISTS "ix_User_ProfileId"');
            db.exec('ALTER TABLE "o_User" DROP COLUMN "ProfileId"');
            const userDef = JSON.parse(
                (
                    db
                        .prepare(
                            "SELECT def FROM _lo_objects WHERE name = 'User'"
                        )
                        .get() as { def: string }
                ).def
            ) as { fields: Array<{ name: string }> };
            userDef.fields = userDef.fields.filter(
                (f) => f.name !== 'ProfileId'
            );
            db.prepare(
                "UPDATE _lo_objects SET def = ? WHERE name = 'User'"
            ).run(JSON.stringify(userDef));
            db.exec('DROP TABLE _lo_sessions');
            db.close();

            const org = await startLocalOrg({ port: 0, dbPath });
            try {
                const conn = connectionFor(org);
                const me = await conn.query<{ ProfileId: string }>(
                    `SELECT ProfileId FROM User WHERE Id = '${org.userId}'`
                );
                const admin = await conn.query<{ Id: string }>(
                    "SELECT Id FROM Profile WHERE Name = 'System Administrator'"
                );
                expect(me.records[0].ProfileId).toBe(admin.records[0].Id);
                const user = org.admin.createUser({
                    username: 'after.upgrade@optout.local'
                });
                expect(user.id).toMatch(/^005/);
            } finally {
                await org.close();
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('keep their sessions and profiles across restarts', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'org-users-'));
        try {
            const dbPath = join(dir, 'org.db');
            const first = await startLocalOrg({ port: 0, dbPath });
            const user = first.admin.createUser({
                username: 'kept@optout.local'
            });
            await first.close();
            const second = await startLocalOrg({ port: 0, dbPath });
            try {
                const res = await fetch(
                    `${second.instanceUrl}/services/oauth2/userinfo`,
                    { headers: { Authorization: `Bearer ${user.accessToken}` } }
                );
                expect(res.status).toBe(200);
                expect(((await res.json()) as Rec).user_id).toBe(user.id);
                expect(second.admin.listUsers()).toHaveLength(2);
            } finally {
                await second.close();
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
