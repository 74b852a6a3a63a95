/**
 * Private Contacts against the local org, with the sync logged in as a realistic
 * integration user (Standard User + Opt_Out_Sync_Integration), not an administrator.
 * A Contact without an Account is private to its owner: with View All the sync sees it,
 * but without Modify All its opt-out write is refused (INSUFFICIENT_ACCESS_OR_READONLY).
 * The refusal is reported as "no access" with its fix (R14) and never holds the others
 * back; once the admin assigns Opt_Out_Sync_Integration_Modify_All and puts the record
 * back (optout retry), the next push delivers it.
 */
import type { Connection } from 'jsforce';
import { createTestUser } from '../../tools/local-org/testing';
import { OrgClient } from '../../salesforce/client';
import { setup, unsubscribe, type Fixture } from './fixture';

let f: Fixture | undefined;
afterEach(async () => {
    await f?.close();
    f = undefined;
});

async function assign(
    admin: Connection,
    userId: string,
    permissionSet: string
): Promise<void> {
    const set = await admin.query<{ Id: string }>(
        `SELECT Id FROM PermissionSet WHERE Name = '${permissionSet}'`
    );
    expect(set.records).toHaveLength(1);
    await admin.sobject('PermissionSetAssignment').create({
        AssigneeId: userId,
        PermissionSetId: set.records[0].Id
    });
}

function clientFor(conn: Connection): OrgClient {
    return new OrgClient(conn as never, {
        targetOrg: 'local',
        local: true,
        sleep: async () => undefined,
        random: () => 0.5
    });
}

describe('private Contacts and the integration user', () => {
    it('reports an account-less Contact it may not edit as "no access", delivers the rest, and delivers it once Modify All is granted', async () => {
        f = await setup();
        const admin = f.t.conn;
        const integration = createTestUser(f.t, { lastName: 'Integration' });
        await assign(admin, integration.id, 'Opt_Out_Sync_Integration');
        const account = (await admin
            .sobject('Account')
            .create({ Name: 'Acme' })) as { id: string };
        // Owned by the administrator (who created them): one private (no Account), one
        // readable and editable by everyone (under an Account).
        const [privateContact, accountContact] = await f.contacts([
            { LastName: 'Private', Email: 'private@example.com' },
            {
                LastName: 'Shared',
                Email: 'shared@example.com',
                AccountId: account.id
            }
        ]);
        // Owned by the integration user itself: private, but its own.
        const own = (await integration.conn.sobject('Contact').create({
            LastName: 'Own',
            Email: 'own@example.com'
        })) as { id: string };
        await unsubscribe(f.ledger, [
            'private@example.com',
            'shared@example.com',
            'own@example.com'
        ]);

        const push = await f.run('push', { org: clientFor(integration.conn) });
        expect(push.status).toBe('partial');
        expect(push.unsubscribesDelivered).toBe(2);
        expect(push.failed).toEqual([
            expect.objectContaining({
                recordId: privateContact,
                errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY'
            })
        ]);
        expect(
            await f.values('Contact', [privateContact, accountContact, own.id])
        ).toEqual({
            [privateContact]: false,
            [accountContact]: true,
            [own.id]: true
        });
        const stuck = await f.ledger.stuckSummary();
        expect(stuck.retrying).toBe(1);
        expect(stuck.byReason).toEqual([
            expect.objectContaining({
                reason: 'no_access',
                codes: { INSUFFICIENT_ACCESS_OR_READONLY: 1 },
                whatToDo: expect.stringContaining(
                    'Opt_Out_Sync_Integration_Modify_All'
                )
            })
        ]);

        // The admin grants Modify All and puts the record back (optout retry).
        await assign(
            admin,
            integration.id,
            'Opt_Out_Sync_Integration_Modify_All'
        );
        expect(
            await f.ledger.retryStuck({
                codes: ['INSUFFICIENT_ACCESS_OR_READONLY']
            })
        ).toHaveLength(1);
        const again = await f.run('push', {
            org: clientFor(integration.conn)
        });
        expect(again.status).toBe('succeeded');
        expect(again.unsubscribesDelivered).toBe(1);
        expect(await f.values('Contact', [privateContact])).toEqual({
            [privateContact]: true
        });
        expect((await f.ledger.stuckSummary()).retrying).toBe(0);
    });
});
