/**
 * The sync's settings live in the org: the hierarchy custom setting
 * `Opt_Out_Sync_Settings__c`, read as Apex `getInstance()` reads it for the user the
 * sync runs as — the user's record, then its profile's, then the organization default
 * (SetupOwnerId 00D…), field by field. No record → the fields' defaults. `optout
 * settings set` writes the organization default. An `Opt_Out_Field__c` that is neither allowed field
 * (custom settings cannot carry validation rules) stops the sync with a clear error.
 */
import { KEY_PREFIX } from '../model/ids';
import { OptoutError } from '../model/errors';
import {
    OPT_OUT_FIELDS,
    OPT_OUT_SYNC_SETTINGS as F,
    OPT_OUT_SYNC_SETTINGS_DEFAULTS as DEFAULTS,
    SOBJECT,
    type OptOutField,
    type OptOutSyncSettingsRecord
} from '../model/schema';
import type { OrgClient } from './client';
import { SalesforceError } from './errors';

export interface SyncSettings {
    nightlySyncEnabled: boolean;
    /** The field the sync writes for global unsubscribes when nightly sync is on (R1). */
    optOutField: OptOutField;
    allAudiencesRule: boolean;
    applyToSameEmail: boolean;
}

export interface SettingsReadResult {
    settings: SyncSettings;
    /** Where they came from. */
    source: 'org-default' | 'defaults';
    /** The organization default's record id. */
    recordId: string | null;
    /**
     * The hierarchy levels that gave at least one value, lowest first (absent: only
     * the organization default, or none).
     */
    levels?: HierarchyLevel[];
}

export type HierarchyLevel = 'user' | 'profile' | 'org';

export const DEFAULT_SETTINGS: SyncSettings = {
    nightlySyncEnabled: DEFAULTS.Nightly_Sync_Enabled__c,
    optOutField: DEFAULTS.Opt_Out_Field__c,
    allAudiencesRule: DEFAULTS.All_Audiences_Rule__c,
    applyToSameEmail: DEFAULTS.Apply_To_Same_Email__c
};

export function isOptOutField(value: string): value is OptOutField {
    return (OPT_OUT_FIELDS as readonly string[]).includes(value);
}

/**
 * R1/R2: the field a global unsubscribe is written to. With nightly sync off the push
 * still happens and writes HasOptedOutOfEmail.
 */
export function effectiveOptOutField(settings: SyncSettings): OptOutField {
    return settings.nightlySyncEnabled
        ? settings.optOutField
        : 'HasOptedOutOfEmail';
}

/** The settings a record stands for; a bad Opt_Out_Field__c value is an error. */
export function settingsFromRecord(
    record: Partial<OptOutSyncSettingsRecord>,
    targetOrg: string
): SyncSettings {
    const raw = (record.Opt_Out_Field__c ?? '').trim();
    let optOutField: OptOutField = DEFAULT_SETTINGS.optOutField;
    if (raw !== '') {
        if (!isOptOutField(raw))
            throw new OptoutError(
                'BAD_SETTING',
                `${SOBJECT.OPT_OUT_SYNC_SETTINGS}.${F.Opt_Out_Field__c} is '${raw}' in ${targetOrg}; it must be ${OPT_OUT_FIELDS.join(' or ')}. Nothing was written.`,
                {
                    actions: [
                        `Fix it: optout settings set --target-org ${targetOrg} --opt-out-field ${DEFAULT_SETTINGS.optOutField}`,
                        'Or in Setup: Custom Settings, Opt-Out Sync Settings, Manage'
                    ]
                }
            );
        optOutField = raw;
    }
    const bool = (v: unknown, d: boolean): boolean =>
        typeof v === 'boolean'
            ? v
            : v === 'true'
              ? true
              : v === 'false'
                ? false
                : d;
    return {
        nightlySyncEnabled: bool(
            record.Nightly_Sync_Enabled__c,
            DEFAULT_SETTINGS.nightlySyncEnabled
        ),
        optOutField,
        allAudiencesRule: bool(
            record.All_Audiences_Rule__c,
            DEFAULT_SETTINGS.allAudiencesRule
        ),
        applyToSameEmail: bool(
            record.Apply_To_Same_Email__c,
            DEFAULT_SETTINGS.applyToSameEmail
        )
    };
}

const FIELDS = [
    F.Id,
    F.SetupOwnerId,
    F.Nightly_Sync_Enabled__c,
    F.Opt_Out_Field__c,
    F.All_Audiences_Rule__c,
    F.Apply_To_Same_Email__c
];

function notInstalled(client: OrgClient, cause: unknown): OptoutError {
    // Salesforce answers INVALID_TYPE both when the object does not exist and when the
    // user may not see it (no permission set), so the message names both causes.
    return new OptoutError(
        'SETTINGS_NOT_INSTALLED',
        `${client.targetOrg} has no ${SOBJECT.OPT_OUT_SYNC_SETTINGS} custom setting this user can read: the package is not deployed there, or the user the sync runs as lacks the Opt_Out_Sync_Integration permission set.`,
        {
            actions: [
                `Deploy it: optout deploy --target-org ${client.targetOrg}`,
                `Or assign the permission set: sf org assign permset --name Opt_Out_Sync_Integration --target-org ${client.targetOrg}`
            ],
            cause
        }
    );
}

type SettingsRow = Partial<OptOutSyncSettingsRecord>;

const VALUE_FIELDS = [
    F.Nightly_Sync_Enabled__c,
    F.Opt_Out_Field__c,
    F.All_Audiences_Rule__c,
    F.Apply_To_Same_Email__c
] as const;

function ownerPrefix(row: SettingsRow): string {
    return String(row.SetupOwnerId ?? '').slice(0, 3);
}

/** SetupOwnerId is 18 characters; an id from elsewhere may be 15. */
function sameId(
    a: string | null | undefined,
    b: string | null | undefined
): boolean {
    return !!a && !!b && a.slice(0, 15) === b.slice(0, 15);
}

/**
 * Apex `getInstance()` for one user, as a pure function: each field from the user's
 * row, else the profile's, else the organization default's — a value left empty
 * (null) at a level falls through to the next ("the fields returned in the custom
 * setting record are merged based on the lowest level fields that are defined in the
 * hierarchy": Apex Reference, Custom Settings Methods,
 * https://developer.salesforce.com/docs/atlas.en-us.apexref.meta/apexref/apex_methods_system_custom_settings.htm).
 * Undefined when no level has a row.
 */
export function mergeHierarchy(
    rows: readonly SettingsRow[],
    who: { userId?: string | null; profileId?: string | null }
): { record: SettingsRow; levels: HierarchyLevel[] } | undefined {
    const levels: { level: HierarchyLevel; row: SettingsRow | undefined }[] = [
        {
            level: 'user',
            row: rows.find((r) => sameId(r.SetupOwnerId, who.userId))
        },
        {
            level: 'profile',
            row: rows.find((r) => sameId(r.SetupOwnerId, who.profileId))
        },
        {
            level: 'org',
            row: rows.find((r) => ownerPrefix(r) === KEY_PREFIX.Organization)
        }
    ];
    const present = levels.filter((l) => l.row !== undefined);
    if (present.length === 0) return undefined;
    const record: Record<string, unknown> = {};
    const used = new Set<HierarchyLevel>();
    for (const field of VALUE_FIELDS) {
        for (const { level, row } of present) {
            const v = (row as Record<string, unknown>)[field];
            if (v === null || v === undefined || v === '') continue;
            record[field] = v;
            used.add(level);
            break;
        }
    }
    const org = levels[2].row;
    if (org?.Id) record[F.Id] = org.Id;
    if (org?.SetupOwnerId) record[F.SetupOwnerId] = org.SetupOwnerId;
    return {
        record: record as SettingsRow,
        levels: present.map((l) => l.level).filter((l) => used.has(l))
    };
}

/** The user the client is logged in as, and its profile (one request each). */
async function whoAmI(
    client: OrgClient,
    needProfile: boolean
): Promise<{ userId: string | null; profileId: string | null }> {
    const info = await client.request<{ user_id?: string }>({
        method: 'GET',
        path: '/services/oauth2/userinfo'
    });
    const userId = info.body.user_id ?? null;
    if (!userId || !needProfile) return { userId, profileId: null };
    const rows = await client.queryAll<{ ProfileId?: string | null }>(
        `SELECT ProfileId FROM User WHERE Id = '${userId.replace(/[^A-Za-z0-9]/g, '')}'`
    );
    return { userId, profileId: rows[0]?.ProfileId ?? null };
}

/**
 * The query readSettings makes for the settings' rows (a job can read it ahead with
 * others in one Composite request: OrgClient.readAhead).
 */
export function settingsSoql(): string {
    // Hierarchy settings hold a handful of rows (org, profiles, users): read them all.
    return `SELECT ${FIELDS.join(', ')} FROM ${SOBJECT.OPT_OUT_SYNC_SETTINGS}`;
}

async function settingsRows(client: OrgClient): Promise<SettingsRow[]> {
    let rows: SettingsRow[];
    try {
        rows =
            await client.queryAll<Partial<OptOutSyncSettingsRecord>>(
                settingsSoql()
            );
    } catch (err) {
        if (
            err instanceof SalesforceError &&
            (err.errorCode === 'INVALID_TYPE' ||
                err.errorCode === 'INVALID_FIELD')
        )
            throw notInstalled(client, err);
        throw err;
    }
    return rows;
}

async function orgDefaultRecord(
    client: OrgClient
): Promise<SettingsRow | undefined> {
    return (await settingsRows(client)).find(
        (r) => ownerPrefix(r) === KEY_PREFIX.Organization
    );
}

/**
 * Reads the settings as they apply to the sync's own user (see mergeHierarchy): one
 * request when every row is the organization default; with user or profile rows, one
 * more for the user id, and one for its profile when there are profile rows.
 */
export function readSettings(client: OrgClient): Promise<SettingsReadResult> {
    // Reused for client.settingsTtlMs (0 unless serve or schedule set it).
    if (!(client.settingsTtlMs > 0)) return readSettingsNow(client);
    return client.remember(SETTINGS_MEMO, client.settingsTtlMs, () =>
        readSettingsNow(client)
    );
}

const SETTINGS_MEMO = 'settings';

/**
 * How long serve and schedule reuse the settings they read (OrgClient.settingsTtlMs):
 * a change made in Setup reaches the jobs within 30 s, and a burst of webhook pushes
 * reads them once instead of once per micro-batch.
 */
export const LONG_RUNNING_SETTINGS_TTL_MS = 30_000;

async function readSettingsNow(client: OrgClient): Promise<SettingsReadResult> {
    const rows = await settingsRows(client);
    const others = rows.filter(
        (r) => ownerPrefix(r) !== KEY_PREFIX.Organization
    );
    let who: { userId?: string | null; profileId?: string | null } = {};
    if (others.length) {
        try {
            who = await whoAmI(
                client,
                others.some((r) => ownerPrefix(r) !== KEY_PREFIX.User)
            );
        } catch (err) {
            // A session without access to the identity service (an OAuth scope the
            // connected app lacks) still syncs, with the organization default.
            if (!(err instanceof SalesforceError)) throw err;
            client.log(
                'warn',
                `${SOBJECT.OPT_OUT_SYNC_SETTINGS}: user and profile values not applied, the sync's user could not be identified (${err.message}); using the organization default`
            );
        }
    }
    const merged = mergeHierarchy(rows, who);
    const org = rows.find((r) => ownerPrefix(r) === KEY_PREFIX.Organization);
    if (!merged)
        return {
            settings: { ...DEFAULT_SETTINGS },
            source: 'defaults',
            recordId: null
        };
    return {
        settings: settingsFromRecord(merged.record, client.targetOrg),
        source: org ? 'org-default' : 'defaults',
        recordId: org?.Id ?? null,
        ...(merged.levels.some((l) => l !== 'org')
            ? { levels: merged.levels }
            : {})
    };
}

export type SettingsPatch = Partial<SyncSettings>;

/**
 * Writes the organization default: updates the record, or creates it for the org.
 * Values are checked first; nothing is written when one is bad. A stored bad
 * Opt_Out_Field__c can be repaired by setting the field.
 */
export async function writeSettings(
    client: OrgClient,
    patch: SettingsPatch
): Promise<SettingsReadResult> {
    if (patch.optOutField !== undefined && !isOptOutField(patch.optOutField))
        throw new OptoutError(
            'BAD_ARGUMENT',
            `The opt-out field must be ${OPT_OUT_FIELDS.join(' or ')}, not '${String(patch.optOutField)}'.`,
            { exitCode: 2 }
        );
    if (client.settingsTtlMs > 0) client.forget(SETTINGS_MEMO);
    const record = await orgDefaultRecord(client);
    const fields: Record<string, unknown> = {};
    if (patch.nightlySyncEnabled !== undefined)
        fields[F.Nightly_Sync_Enabled__c] = patch.nightlySyncEnabled;
    if (patch.optOutField !== undefined)
        fields[F.Opt_Out_Field__c] = patch.optOutField;
    if (patch.allAudiencesRule !== undefined)
        fields[F.All_Audiences_Rule__c] = patch.allAudiencesRule;
    if (patch.applyToSameEmail !== undefined)
        fields[F.Apply_To_Same_Email__c] = patch.applyToSameEmail;
    if (record?.Id) {
        // Validate what would be stored (a bad stored field that the patch does not fix).
        settingsFromRecord({ ...record, ...fields }, client.targetOrg);
        if (Object.keys(fields).length)
            await client.updateRecord(
                SOBJECT.OPT_OUT_SYNC_SETTINGS,
                record.Id,
                fields
            );
        return {
            settings: settingsFromRecord(
                { ...record, ...fields },
                client.targetOrg
            ),
            source: 'org-default',
            recordId: record.Id
        };
    }
    const orgs = await client.queryAll<{ Id: string }>(
        'SELECT Id FROM Organization'
    );
    const orgId = orgs[0]?.Id;
    if (!orgId)
        throw new OptoutError(
            'NO_ORGANIZATION',
            `Could not read the organization id of ${client.targetOrg}.`
        );
    const full = {
        [F.Nightly_Sync_Enabled__c]: DEFAULT_SETTINGS.nightlySyncEnabled,
        [F.Opt_Out_Field__c]: DEFAULT_SETTINGS.optOutField,
        [F.All_Audiences_Rule__c]: DEFAULT_SETTINGS.allAudiencesRule,
        [F.Apply_To_Same_Email__c]: DEFAULT_SETTINGS.applyToSameEmail,
        ...fields
    };
    const id = await client.createRecord(SOBJECT.OPT_OUT_SYNC_SETTINGS, {
        [F.SetupOwnerId]: orgId,
        ...full
    });
    return {
        settings: settingsFromRecord(full, client.targetOrg),
        source: 'org-default',
        recordId: id
    };
}
