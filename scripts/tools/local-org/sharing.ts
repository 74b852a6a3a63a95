/**
 * Who may see and change which Contact and Lead: the one place the local org decides
 * record access (REST rows, sObject Collections, SOQL, Bulk API 2.0 all ask here).
 *
 * What is modelled (the local org is never kinder than Salesforce):
 * - A user with Modify All Data (the System Administrator profile) sees and edits
 *   everything; View All Data sees everything.
 * - A Contact without an Account is private to its owner: "A contact that isn't linked
 *   to an account is always private, regardless of your organization's sharing model.
 *   Only the owner of the contact and administrators can view it. Sharing rules … don't
 *   apply to private contacts" (help.salesforce.com, Considerations for Sharing and
 *   Accessing Contacts; quoted in ../../../shared/REAL-ORG-AUDIT.md M6). View All on
 *   Contact shows it; only ownership or Modify All on Contact allows editing it.
 * - A Contact with an Account follows the Account, whose org-wide default is taken as
 *   Public Read/Write: everyone reads and edits it.
 * - Leads follow the org option `leadSharing`: 'ReadWrite' (everyone) or 'Private'
 *   (the same owner rule as a private Contact).
 * - Deleting a Contact or Lead needs ownership or Modify All even under Public
 *   Read/Write ("Delete" needs full access to the record: the owner, someone above the
 *   owner in the role hierarchy, or an administrator — Salesforce Help, Record Access
 *   Levels / "Full Access"); the role hierarchy is not modelled.
 *
 * Not modelled: roles and the role hierarchy, sharing rules, manual shares, teams,
 * territories, field-level security, object CRUD permissions.
 *
 * The acting user of a request travels in an AsyncLocalStorage (set by the server for
 * each request of a user other than the org's own admin, inherited by the Bulk jobs it
 * starts), so the store's write path and the query engine see it without every call
 * passing it along. The org's own admin runs outside it (see server.ts): no per-row
 * cost and no async-context cost on the benchmarks' path.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { OrgOptions } from './context';

/** The record-access-relevant permissions of one user (profile + assigned sets). */
export interface Access {
    userId: string;
    /** Modify All Data: sees and edits every record (System Administrator). */
    modifyAllData: boolean;
    /** View All Data: sees every record. */
    viewAllData: boolean;
    /** Per-object View All / Modify All, for the objects with record sharing. */
    objects: Record<SharedObject, ObjectAccess>;
}

export interface ObjectAccess {
    viewAll: boolean;
    modifyAll: boolean;
}

/** The objects whose records the local org shares per owner. */
export type SharedObject = 'Contact' | 'Lead';

export const SHARED_OBJECTS: readonly SharedObject[] = ['Contact', 'Lead'];

/** One permission set's (or profile's) grants, as read from PermissionSet / ObjectPermissions rows. */
export interface PermissionGrant {
    modifyAllData: boolean;
    viewAllData: boolean;
    objects: Partial<Record<string, ObjectAccess>>;
}

/** A user's access: the union of the grants of the profile and every assigned set. */
export function accessFromGrants(
    userId: string,
    grants: PermissionGrant[]
): Access {
    const objects = {} as Record<SharedObject, ObjectAccess>;
    for (const name of SHARED_OBJECTS)
        objects[name] = { viewAll: false, modifyAll: false };
    let modifyAllData = false;
    let viewAllData = false;
    for (const g of grants) {
        modifyAllData ||= g.modifyAllData;
        viewAllData ||= g.viewAllData || g.modifyAllData;
        for (const name of SHARED_OBJECTS) {
            const o = g.objects[name];
            if (!o) continue;
            // Modify All implies View All, as Salesforce enforces on save.
            objects[name].viewAll ||= o.viewAll || o.modifyAll;
            objects[name].modifyAll ||= o.modifyAll;
        }
    }
    return { userId, modifyAllData, viewAllData, objects };
}

function sharedObject(objectName: string): SharedObject | undefined {
    return objectName === 'Contact' || objectName === 'Lead'
        ? objectName
        : undefined;
}

/** Whether rows of this object are private to their owner for this org (before permissions). */
function ownerPrivate(
    obj: SharedObject,
    row: { AccountId?: unknown },
    options: Pick<OrgOptions, 'leadSharing'>
): boolean {
    if (obj === 'Contact')
        return row.AccountId === null || row.AccountId === undefined;
    return options.leadSharing === 'Private';
}

function owns(access: Access, row: { OwnerId?: unknown }): boolean {
    return (
        typeof row.OwnerId === 'string' &&
        row.OwnerId.slice(0, 15) === access.userId.slice(0, 15)
    );
}

/** Whether the user sees the record (SOQL, retrieve, the row a write targets). */
export function canRead(
    access: Access,
    objectName: string,
    row: Record<string, unknown>,
    options: Pick<OrgOptions, 'leadSharing'>
): boolean {
    if (access.viewAllData || access.modifyAllData) return true;
    const obj = sharedObject(objectName);
    if (!obj || !ownerPrivate(obj, row, options)) return true;
    return owns(access, row) || access.objects[obj].viewAll;
}

/** Whether the user may update the record. */
export function canEdit(
    access: Access,
    objectName: string,
    row: Record<string, unknown>,
    options: Pick<OrgOptions, 'leadSharing'>
): boolean {
    if (access.modifyAllData) return true;
    const obj = sharedObject(objectName);
    if (!obj || !ownerPrivate(obj, row, options)) return true;
    return owns(access, row) || access.objects[obj].modifyAll;
}

/** Whether the user may delete the record (full access: owner or Modify All). */
export function canDelete(
    access: Access,
    objectName: string,
    row: Record<string, unknown>
): boolean {
    if (access.modifyAllData) return true;
    const obj = sharedObject(objectName);
    if (!obj) return true;
    return owns(access, row) || access.objects[obj].modifyAll;
}

/**
 * The SQL form of canRead for a query on `objectName` aliased `alias`: a condition
 * to AND into the WHERE clause, or null when the user sees every row (no cost at all
 * for administrators and for objects without owner sharing).
 */
export function readFilter(
    access: Access | undefined,
    objectName: string,
    alias: string,
    options: Pick<OrgOptions, 'leadSharing'>
): { sql: string; params: string[] } | null {
    if (!access || access.viewAllData || access.modifyAllData) return null;
    const obj = sharedObject(objectName);
    if (!obj || access.objects[obj].viewAll) return null;
    const owner = `${alias}."OwnerId" = ?`;
    if (obj === 'Contact')
        return {
            sql: `(${alias}."AccountId" IS NOT NULL OR ${owner})`,
            params: [access.userId]
        };
    if (options.leadSharing === 'Private')
        return { sql: `(${owner})`, params: [access.userId] };
    return null;
}

/** Salesforce's answer to a write on a record the user may not change. */
export const INSUFFICIENT_ACCESS = {
    statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY',
    // The message Salesforce sends with this code for a record-level refusal
    // (e.g. github.com/SFDO-Community/declarative-lookup-rollup-summaries/issues/22).
    message: 'insufficient access rights on object id'
} as const;

const actorStorage = new AsyncLocalStorage<Access>();

/** Runs fn as the given user (the request's session user, a Bulk job's creator). */
export function runAs<T>(access: Access, fn: () => T): T {
    return actorStorage.run(access, fn);
}

/**
 * The acting user, or undefined outside a request (setup code, the deploy, admin
 * routes): the org itself, which is not subject to sharing.
 */
export function currentActor(): Access | undefined {
    return actorStorage.getStore();
}
