/**
 * The demo org's users besides its administrator, made through the local org's admin
 * route (`POST /local/users`) and the org's own API (`PermissionSetAssignment`), as an
 * admin would in Setup:
 *
 * - the sync's **integration user**: a Standard User (not a System Administrator, as
 *   the README's install section recommends) with the package's
 *   `Opt_Out_Sync_Integration` permission set — View All, but no Modify All, on
 *   Contact and Lead;
 * - a **sales rep** who owns a Contact without an Account. Such a Contact is private
 *   to its owner (https://help.salesforce.com/s/articleView?id=sf.contacts_private.htm),
 *   so the integration user may read it but not edit it until it is given
 *   `Opt_Out_Sync_Integration_Modify_All`.
 */
import type { Connection } from 'jsforce';
import { connectionFor } from '../local-org/connect';
import { OptoutError } from '../../model/errors';
import { MODIFY_ALL_PERMISSION_SET } from '../../model/stuck';
import { DEMO_USERS } from './data';
import type { OrgTarget } from './seed';

export interface DemoUser {
    id: string;
    username: string;
    /** The user's own session (the local org's tokens do not expire). */
    accessToken: string;
}

export interface DemoUsers {
    integration: DemoUser;
    salesRep: DemoUser;
}

/** The package's permission sets the demo assigns to the integration user. */
export const INTEGRATION_PERMISSION_SET = 'Opt_Out_Sync_Integration';
export { MODIFY_ALL_PERMISSION_SET };

async function createUser(
    target: OrgTarget,
    user: (typeof DEMO_USERS)[keyof typeof DEMO_USERS]
): Promise<DemoUser> {
    const res = await fetch(`${target.instanceUrl}/local/users`, {
        method: 'POST',
        headers: {
            Authorization: `Bearer ${target.accessToken}`,
            'Content-Type': 'application/json'
        },
        body: JSON.stringify({ ...user, profile: 'Standard User' })
    });
    const text = await res.text();
    if (!res.ok)
        throw new OptoutError(
            'DEMO_SEED_FAILED',
            `The local org refused to create the user ${user.username}: ${text.slice(0, 300)}`,
            {
                // An earlier seed that stopped half-way leaves the users behind.
                actions: [
                    'Start over with fresh demo data: npm start -- --reset'
                ]
            }
        );
    const body = JSON.parse(text) as DemoUser;
    return {
        id: body.id,
        username: body.username,
        accessToken: body.accessToken
    };
}

/** Creates the integration user (with the View All set) and the sales rep. */
export async function createDemoUsers(target: OrgTarget): Promise<DemoUsers> {
    const integration = await createUser(target, DEMO_USERS.integration);
    const salesRep = await createUser(target, DEMO_USERS.salesRep);
    await assignPermissionSet(
        target,
        integration.id,
        INTEGRATION_PERMISSION_SET
    );
    return { integration, salesRep };
}

/** A connection as the org's administrator (the token the demo's org was opened with). */
function admin(target: OrgTarget): Connection {
    return connectionFor(target);
}

/**
 * Assigns a deployed permission set to a user, as an admin does in Setup; nothing
 * happens when it is assigned already (a second assignment is a DUPLICATE_VALUE).
 */
export async function assignPermissionSet(
    target: OrgTarget,
    userId: string,
    permissionSet: string
): Promise<'assigned' | 'already assigned'> {
    const conn = admin(target);
    const set = await conn.query<{ Id: string }>(
        `SELECT Id FROM PermissionSet WHERE Name = '${permissionSet}'`
    );
    const setId = set.records[0]?.Id;
    if (!setId)
        throw new OptoutError(
            'DEMO_SEED_FAILED',
            `The permission set ${permissionSet} is not in the org: was the package deployed?`
        );
    const existing = await conn.query(
        `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '${userId}' AND PermissionSetId = '${setId}'`
    );
    if (existing.totalSize > 0) return 'already assigned';
    const created = await conn
        .sobject('PermissionSetAssignment')
        .create({ AssigneeId: userId, PermissionSetId: setId });
    if (!created.success)
        throw new OptoutError(
            'DEMO_SEED_FAILED',
            `Could not assign ${permissionSet}: ${JSON.stringify(created.errors).slice(0, 300)}`
        );
    return 'assigned';
}
