/**
 * The local org's users, sessions, profiles and permission sets: more than one user,
 * one access token per user, the two standard profiles, PermissionSet rows kept in
 * step with the deployed permission sets, and each user's record access (sharing.ts)
 * worked out from the profile and the assigned sets, cached until any of those change.
 */
import { randomBytes } from 'node:crypto';
import {
    enabledNames,
    readCustomPermission,
    readPermissionSet
} from '../../metadata/components';
import { parseMetadataXml } from '../../metadata/xml';
import { makeId } from '../../model/ids';
import type { ObjectDef } from './schema';
import { type Access, type PermissionGrant, accessFromGrants } from './sharing';
import type { OrgStore, Row } from './store';
import { recordError } from './values';

export const SYSTEM_ADMINISTRATOR = 'System Administrator';
export const STANDARD_USER = 'Standard User';

/** The standard profiles: name and whether it has Modify All Data. */
const PROFILES: Array<{ name: string; modifyAllData: boolean }> = [
    { name: SYSTEM_ADMINISTRATOR, modifyAllData: true },
    { name: STANDARD_USER, modifyAllData: false }
];

/** Fixed profile ids (the same in every local org, like a standard profile's role). */
export function profileId(store: OrgStore, name: string): string | undefined {
    const i = PROFILES.findIndex((p) => p.name === name);
    return i < 0 ? undefined : makeId('00e', i + 1, store.orgId.slice(3, 5));
}

function object(store: OrgStore, name: string): ObjectDef {
    const def = store.getObject(name);
    if (!def) throw new Error(`the local org has no ${name} object`);
    return def;
}

/** A session token sf and jsforce accept: <15-char org id>!<letters, digits, dots>. */
export function newToken(orgId: string): string {
    const secret = randomBytes(48)
        .toString('base64')
        .replace(/[^A-Za-z0-9]/g, '')
        .slice(0, 54);
    return `${orgId.slice(0, 15)}!AQ.${secret}`;
}

/**
 * Brings an org file up to the access model (new orgs and files written before it):
 * the sessions table, the standard objects added since, the standard profiles and
 * their permission sets, the admin user's profile and session, and the PermissionSet
 * rows of permission sets deployed earlier. Idempotent; runs at every start.
 */
export function ensureAccessModel(
    store: OrgStore,
    standard: ObjectDef[]
): void {
    store.db.exec(
        'CREATE TABLE IF NOT EXISTS _lo_sessions (token TEXT PRIMARY KEY, userId TEXT NOT NULL)'
    );
    store.db.transaction(() => {
        let changed = false;
        for (const def of standard) {
            const existing = store.getObject(def.name);
            if (!existing) {
                store.createObject(def);
                changed = true;
                continue;
            }
            const missing = def.fields.filter(
                (f) => !existing.fields.some((x) => x.name === f.name)
            );
            if (missing.length > 0) {
                store.addFields(existing, missing);
                existing.fields.push(...missing);
                store.saveObjectDef(existing);
                changed = true;
            }
        }
        if (changed) store.reloadSchemaCache();
        const now = Date.now();
        const profileObj = object(store, 'Profile');
        const psObj = object(store, 'PermissionSet');
        for (const p of PROFILES) {
            const id = profileId(store, p.name) as string;
            if (store.getRow(profileObj, id)) continue;
            store.insertRaw(
                profileObj,
                {
                    Id: id,
                    Name: p.name,
                    UserType: 'Standard',
                    PermissionsModifyAllData: p.modifyAllData ? 1 : 0,
                    PermissionsViewAllData: p.modifyAllData ? 1 : 0
                },
                now,
                store.userId
            );
            store.insertRaw(
                psObj,
                {
                    Name: `X${id.slice(0, 15)}`,
                    Label: p.name,
                    IsOwnedByProfile: 1,
                    ProfileId: id,
                    PermissionsModifyAllData: p.modifyAllData ? 1 : 0,
                    PermissionsViewAllData: p.modifyAllData ? 1 : 0
                },
                now,
                store.userId
            );
        }
        // The org's own user is a System Administrator (Modify All Data), so
        // everything written before users existed keeps working as it did.
        store
            .prepare(
                'UPDATE "o_User" SET "ProfileId" = ? WHERE "Id" = ? AND "ProfileId" IS NULL'
            )
            .run(profileId(store, SYSTEM_ADMINISTRATOR), store.userId);
        store
            .prepare(
                'INSERT OR IGNORE INTO _lo_sessions (token, userId) VALUES (?, ?)'
            )
            .run(store.accessToken, store.userId);
        syncPermissionSets(store);
    })();
}

export interface NewUser {
    username: string;
    email?: string;
    firstName?: string;
    lastName?: string;
    /** 'System Administrator', 'Standard User', or a Profile id. */
    profile?: string;
}

export interface CreatedUser {
    id: string;
    username: string;
    profileId: string;
    accessToken: string;
}

/** Creates an active user with a session of its own (admin route; Salesforce needs Setup). */
export function createUser(store: OrgStore, input: NewUser): CreatedUser {
    const username = input.username.trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(username)) {
        throw recordError(
            'INVALID_NEW_VALUE',
            'Username: The username must be in the form of an email address (for example, john@acme.com).',
            ['Username']
        );
    }
    const profileObj = object(store, 'Profile');
    const wanted = input.profile ?? STANDARD_USER;
    const pid = profileId(store, wanted) ?? wanted;
    if (!pid.startsWith('00e') || !store.getRow(profileObj, pid)) {
        throw recordError(
            'INVALID_CROSS_REFERENCE_KEY',
            `Profile ID: id value of incorrect type: ${wanted}`,
            ['ProfileId']
        );
    }
    const taken = store
        .prepare('SELECT "Id" AS id FROM "o_User" WHERE "Username" = ?')
        .get(username);
    if (taken) {
        // Usernames are unique across every Salesforce org.
        throw recordError(
            'DUPLICATE_USERNAME',
            'Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations.',
            ['Username']
        );
    }
    const lastName = input.lastName ?? username.split('@')[0];
    const name = [input.firstName, lastName].filter(Boolean).join(' ');
    return store.db.transaction(() => {
        const id = store.insertRaw(
            object(store, 'User'),
            {
                Username: username,
                FirstName: input.firstName ?? null,
                LastName: lastName,
                Name: name,
                Alias: lastName.slice(0, 8),
                Email: input.email ?? username,
                IsActive: 1,
                UserType: 'Standard',
                TimeZoneSidKey: 'America/Los_Angeles',
                LocaleSidKey: 'en_US',
                LanguageLocaleKey: 'en_US',
                EmailEncodingKey: 'UTF-8',
                ProfileId: pid
            },
            Date.now(),
            store.userId
        );
        const token = newToken(store.orgId);
        store
            .prepare('INSERT INTO _lo_sessions (token, userId) VALUES (?, ?)')
            .run(token, id);
        store.accessChanged();
        return { id, username, profileId: pid, accessToken: token };
    })();
}

/** Activates or deactivates a user: an inactive user's token is refused and it cannot own records. */
export function setUserActive(
    store: OrgStore,
    userId: string,
    active: boolean
): void {
    if (userId === store.userId && !active)
        throw recordError(
            'FIELD_INTEGRITY_EXCEPTION',
            'You cannot deactivate yourself: the org needs its administrator.'
        );
    const res = store
        .prepare(
            'UPDATE "o_User" SET "IsActive" = ?, "LastModifiedDate" = ?, "SystemModstamp" = ? WHERE "Id" = ?'
        )
        .run(active ? 1 : 0, Date.now(), Date.now(), userId);
    if (res.changes === 0)
        throw recordError(
            'INVALID_CROSS_REFERENCE_KEY',
            'invalid cross reference id'
        );
    store.accessChanged();
}

/** The user a bearer token belongs to, or undefined (401). Inactive users have no session. */
export function userForToken(
    store: OrgStore,
    token: string
): string | undefined {
    if (token === store.accessToken) return store.userId;
    const row = store
        .prepare(
            'SELECT s.userId AS id FROM _lo_sessions s JOIN "o_User" u ON u."Id" = s.userId WHERE s.token = ? AND u."IsActive" = 1'
        )
        .get(token) as { id: string } | undefined;
    return row?.id;
}

/** A user's row (userinfo, identity), or undefined. */
export function userRow(store: OrgStore, userId: string): Row | undefined {
    return store.getRow(object(store, 'User'), userId);
}

const accessCache = new WeakMap<
    OrgStore,
    { version: number; byUser: Map<string, Access> }
>();

/**
 * A user's record access: the union of the profile's own permission set and every
 * assigned one. Cached per user until a user, profile, permission set, object
 * permission or assignment changes (OrgStore.accessVersion), so a request or a Bulk
 * job pays for it once, not per row.
 */
export function accessFor(store: OrgStore, userId: string): Access {
    let cache = accessCache.get(store);
    if (!cache || cache.version !== store.accessVersion) {
        cache = { version: store.accessVersion, byUser: new Map() };
        accessCache.set(store, cache);
    }
    const hit = cache.byUser.get(userId);
    if (hit) return hit;
    const sets = store
        .prepare(
            `SELECT ps."Id" AS id, ps."PermissionsModifyAllData" AS mad, ps."PermissionsViewAllData" AS vad
             FROM "o_PermissionSet" ps
             WHERE ps."IsDeleted" = 0 AND (
                 ps."Id" IN (SELECT a."PermissionSetId" FROM "o_PermissionSetAssignment" a WHERE a."AssigneeId" = ? AND a."IsDeleted" = 0)
                 OR (ps."IsOwnedByProfile" = 1 AND ps."ProfileId" = (SELECT u."ProfileId" FROM "o_User" u WHERE u."Id" = ?)))`
        )
        .all(userId, userId) as Array<{ id: string; mad: number; vad: number }>;
    const perms = store
        .prepare(
            `SELECT "ParentId" AS parent, "SobjectType" AS type, "PermissionsViewAllRecords" AS va, "PermissionsModifyAllRecords" AS ma
             FROM "o_ObjectPermissions" WHERE "IsDeleted" = 0 AND "ParentId" IN (SELECT value FROM json_each(?))`
        )
        .all(JSON.stringify(sets.map((s) => s.id))) as Array<{
        parent: string;
        type: string;
        va: number;
        ma: number;
    }>;
    const grants: PermissionGrant[] = sets.map((s) => ({
        modifyAllData: s.mad === 1,
        viewAllData: s.vad === 1,
        objects: Object.fromEntries(
            perms
                .filter((p) => p.parent === s.id)
                .map((p) => [
                    p.type,
                    { viewAll: p.va === 1, modifyAll: p.ma === 1 }
                ])
        )
    }));
    const access = accessFromGrants(userId, grants);
    cache.byUser.set(userId, access);
    return access;
}

/**
 * Refuses a second assignment of the same set to the same user, as Salesforce does
 * ("Duplicate PermissionSetAssignment. Assignee: …, Permission Set: …", the text
 * `sf org assign permset` reports and scripts match on), and assignments of a
 * profile's own permission set.
 */
export function checkAssignment(store: OrgStore, row: Row): void {
    const dup = store
        .prepare(
            'SELECT "Id" FROM "o_PermissionSetAssignment" WHERE "AssigneeId" = ? AND "PermissionSetId" = ? AND "IsDeleted" = 0'
        )
        .get(row.AssigneeId, row.PermissionSetId);
    if (dup) {
        throw recordError(
            'DUPLICATE_VALUE',
            `Duplicate PermissionSetAssignment. Assignee: ${String(row.AssigneeId)}, Permission Set: ${String(row.PermissionSetId)}`
        );
    }
    const owned = store
        .prepare(
            'SELECT "IsOwnedByProfile" AS o FROM "o_PermissionSet" WHERE "Id" = ?'
        )
        .get(row.PermissionSetId) as { o: number } | undefined;
    if (owned?.o === 1) {
        throw recordError(
            'INVALID_CROSS_REFERENCE_KEY',
            "You can't assign or unassign this permission set because it's associated with a profile.",
            ['PermissionSetId']
        );
    }
}

/** The owner of a record must be an active user. */
export function checkOwner(
    store: OrgStore,
    obj: ObjectDef,
    ownerId: string
): void {
    const row = store
        .prepare('SELECT "IsActive" AS a FROM "o_User" WHERE "Id" = ?')
        .get(ownerId) as { a: number } | undefined;
    if (row && row.a !== 1) {
        throw recordError(
            'INACTIVE_OWNER_OR_USER',
            // As Salesforce words it, e.g. "operation performed with inactive user
            // [005…] as owner of contact" (quoted in Marketo Measure's error docs).
            `operation performed with inactive user [${ownerId}] as owner of ${obj.name.toLowerCase()}`,
            ['OwnerId']
        );
    }
}

interface ParsedSet {
    label: string;
    description: string | null;
    modifyAllData: boolean;
    viewAllData: boolean;
    /** The custom permissions the set enables (<customPermissions>, enabled true). */
    customPermissions: string[];
    objects: Array<{
        object: string;
        read: boolean;
        create: boolean;
        edit: boolean;
        del: boolean;
        viewAll: boolean;
        modifyAll: boolean;
    }>;
}

/** Reads a stored PermissionSet component (path line, then the -meta.xml text). */
export function parsePermissionSet(
    fullName: string,
    content: string
): ParsedSet {
    const start = content.indexOf('<');
    const doc = parseMetadataXml(
        start < 0 ? '' : content.slice(start),
        fullName
    );
    const ps = readPermissionSet(doc.name === 'PermissionSet' ? doc.root : {});
    const userPerms = enabledNames(ps.userPermissions);
    return {
        label: ps.label ?? fullName,
        description: ps.description ?? null,
        modifyAllData: userPerms.includes('ModifyAllData'),
        viewAllData:
            userPerms.includes('ViewAllData') ||
            userPerms.includes('ModifyAllData'),
        customPermissions: enabledNames(ps.customPermissions).filter(
            (n) => n !== ''
        ),
        objects: ps.objectPermissions.map((o) => ({
            object: o.object,
            read: o.read,
            create: o.create,
            edit: o.edit,
            del: o.delete,
            viewAll: o.viewAll,
            modifyAll: o.modifyAll
        }))
    };
}

/**
 * Keeps CustomPermission rows in step with the deployed custom permissions
 * (_lo_components, type CustomPermission): created or updated by DeveloperName.
 * Returns the id of each, by lower-cased DeveloperName.
 */
function syncCustomPermissions(store: OrgStore): Map<string, string> {
    const cpObj = object(store, 'CustomPermission');
    const components = store
        .prepare(
            "SELECT fullName, content FROM _lo_components WHERE type = 'CustomPermission'"
        )
        .all() as Array<{ fullName: string; content: Buffer | string | null }>;
    const ids = new Map<string, string>();
    for (const r of store
        .prepare(
            'SELECT "Id" AS id, "DeveloperName" AS name FROM "o_CustomPermission" WHERE "IsDeleted" = 0'
        )
        .all() as Array<{ id: string; name: string }>)
        ids.set(r.name.toLowerCase(), r.id);
    let changed = false;
    for (const c of components) {
        const content = String(c.content ?? '');
        const start = content.indexOf('<');
        const doc = parseMetadataXml(
            start < 0 ? '' : content.slice(start),
            c.fullName
        );
        const cp = readCustomPermission(
            doc.name === 'CustomPermission' ? doc.root : {}
        );
        const values = {
            MasterLabel: cp.label ?? c.fullName,
            Description: cp.description ?? null,
            IsLicensed: cp.isLicensed ? 1 : 0
        };
        const id = ids.get(c.fullName.toLowerCase());
        if (id) {
            store
                .prepare(
                    'UPDATE "o_CustomPermission" SET "MasterLabel" = ?, "Description" = ?, "IsLicensed" = ? WHERE "Id" = ?'
                )
                .run(
                    values.MasterLabel,
                    values.Description,
                    values.IsLicensed,
                    id
                );
            continue;
        }
        ids.set(
            c.fullName.toLowerCase(),
            store.insertRaw(
                cpObj,
                { DeveloperName: c.fullName, ...values },
                Date.now(),
                store.userId
            )
        );
        changed = true;
    }
    if (changed) store.accessChanged();
    return ids;
}

/**
 * Keeps PermissionSet, ObjectPermissions and SetupEntityAccess (custom permission)
 * rows in step with the deployed permission sets (_lo_components): a deploy creates
 * or updates the set by Name and replaces its object and custom permissions, as a
 * Metadata API deploy does. Runs after every deploy and at start.
 */
export function syncPermissionSets(store: OrgStore): void {
    const psObj = object(store, 'PermissionSet');
    const opObj = object(store, 'ObjectPermissions');
    const seaObj = object(store, 'SetupEntityAccess');
    const customPermissionIds = syncCustomPermissions(store);
    const components = store
        .prepare(
            "SELECT fullName, content FROM _lo_components WHERE type = 'PermissionSet'"
        )
        .all() as Array<{ fullName: string; content: Buffer | string | null }>;
    if (components.length === 0) return;
    const now = Date.now();
    store.db.transaction(() => {
        for (const c of components) {
            const parsed = parsePermissionSet(
                c.fullName,
                String(c.content ?? '')
            );
            const existing = store
                .prepare(
                    'SELECT "Id" AS id FROM "o_PermissionSet" WHERE "Name" = ? AND "IsDeleted" = 0'
                )
                .get(c.fullName) as { id: string } | undefined;
            let id: string;
            if (existing) {
                id = existing.id;
                store
                    .prepare(
                        'UPDATE "o_PermissionSet" SET "Label" = ?, "Description" = ?, "PermissionsModifyAllData" = ?, "PermissionsViewAllData" = ? WHERE "Id" = ?'
                    )
                    .run(
                        parsed.label,
                        parsed.description,
                        parsed.modifyAllData ? 1 : 0,
                        parsed.viewAllData ? 1 : 0,
                        id
                    );
                store
                    .prepare(
                        'DELETE FROM "o_ObjectPermissions" WHERE "ParentId" = ?'
                    )
                    .run(id);
                store
                    .prepare(
                        'DELETE FROM "o_SetupEntityAccess" WHERE "ParentId" = ?'
                    )
                    .run(id);
            } else {
                id = store.insertRaw(
                    psObj,
                    {
                        Name: c.fullName,
                        Label: parsed.label,
                        Description: parsed.description,
                        PermissionsModifyAllData: parsed.modifyAllData ? 1 : 0,
                        PermissionsViewAllData: parsed.viewAllData ? 1 : 0
                    },
                    now,
                    store.userId
                );
            }
            for (const o of parsed.objects) {
                if (!o.object) continue;
                store.insertRaw(
                    opObj,
                    {
                        ParentId: id,
                        SobjectType: o.object,
                        PermissionsRead: o.read ? 1 : 0,
                        PermissionsCreate: o.create ? 1 : 0,
                        PermissionsEdit: o.edit ? 1 : 0,
                        PermissionsDelete: o.del ? 1 : 0,
                        PermissionsViewAllRecords:
                            o.viewAll || o.modifyAll ? 1 : 0,
                        PermissionsModifyAllRecords: o.modifyAll ? 1 : 0
                    },
                    now,
                    store.userId
                );
            }
            for (const name of parsed.customPermissions) {
                // The deploy refuses a set naming an unknown custom permission.
                const entity = customPermissionIds.get(name.toLowerCase());
                if (!entity) continue;
                store.insertRaw(
                    seaObj,
                    {
                        ParentId: id,
                        SetupEntityId: entity,
                        SetupEntityType: 'CustomPermission'
                    },
                    now,
                    store.userId
                );
            }
        }
        store.accessChanged();
    })();
}

const customPermissionCache = new WeakMap<
    OrgStore,
    { version: number; byUser: Map<string, ReadonlySet<string>> }
>();

/**
 * The custom permissions a user holds (lower-cased DeveloperNames): those enabled in
 * the profile's own permission set or in any assigned one. A System Administrator
 * holds none unless granted so: Modify All Data does not imply custom permissions,
 * which are enabled per profile or permission set (Salesforce Help, "Enable Custom
 * Permissions in Permission Sets",
 * https://help.salesforce.com/s/articleView?id=platform.perm_sets_custom_perms.htm&type=5).
 * Cached per user like accessFor (one query per user until access changes), so a
 * validation rule's `$Permission` costs no SQL per row.
 */
export function customPermissionsFor(
    store: OrgStore,
    userId: string
): ReadonlySet<string> {
    let cache = customPermissionCache.get(store);
    if (!cache || cache.version !== store.accessVersion) {
        cache = { version: store.accessVersion, byUser: new Map() };
        customPermissionCache.set(store, cache);
    }
    const hit = cache.byUser.get(userId);
    if (hit) return hit;
    const rows = store
        .prepare(
            `SELECT DISTINCT cp."DeveloperName" AS name
             FROM "o_SetupEntityAccess" sea
             JOIN "o_CustomPermission" cp ON cp."Id" = sea."SetupEntityId" AND cp."IsDeleted" = 0
             JOIN "o_PermissionSet" ps ON ps."Id" = sea."ParentId" AND ps."IsDeleted" = 0
             WHERE sea."IsDeleted" = 0 AND (
                 ps."Id" IN (SELECT a."PermissionSetId" FROM "o_PermissionSetAssignment" a WHERE a."AssigneeId" = ? AND a."IsDeleted" = 0)
                 OR (ps."IsOwnedByProfile" = 1 AND ps."ProfileId" = (SELECT u."ProfileId" FROM "o_User" u WHERE u."Id" = ?)))`
        )
        .all(userId, userId) as Array<{ name: string }>;
    const held = new Set(rows.map((r) => r.name.toLowerCase()));
    cache.byUser.set(userId, held);
    return held;
}
