/**
 * The sync's settings live in the org: the organization default of the hierarchy custom
 * setting `Opt_Out_Sync_Settings__c` (the record whose SetupOwnerId is the org, 00D…).
 * No record → the fields' defaults. An `Opt_Out_Field__c` that is neither allowed field
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
    recordId: string | null;
}

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
    return new OptoutError(
        'SETTINGS_NOT_INSTALLED',
        `${client.targetOrg} has no ${SOBJECT.OPT_OUT_SYNC_SETTINGS} custom setting: the package is not deployed there.`,
        {
            actions: [
                `Deploy it: optout deploy --target-org ${client.targetOrg}`
            ],
            cause
        }
    );
}

async function orgDefaultRecord(
    client: OrgClient
): Promise<Partial<OptOutSyncSettingsRecord> | undefined> {
    let rows: Partial<OptOutSyncSettingsRecord>[];
    try {
        // Hierarchy settings hold a handful of rows (org, profiles, users): read them all.
        rows = await client.queryAll<Partial<OptOutSyncSettingsRecord>>(
            `SELECT ${FIELDS.join(', ')} FROM ${SOBJECT.OPT_OUT_SYNC_SETTINGS}`
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
    return rows.find((r) =>
        String(r.SetupOwnerId ?? '').startsWith(KEY_PREFIX.Organization)
    );
}

/** Reads the organization default (one request). */
export async function readSettings(
    client: OrgClient
): Promise<SettingsReadResult> {
    const record = await orgDefaultRecord(client);
    if (!record)
        return {
            settings: { ...DEFAULT_SETTINGS },
            source: 'defaults',
            recordId: null
        };
    return {
        settings: settingsFromRecord(record, client.targetOrg),
        source: 'org-default',
        recordId: record.Id ?? null
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
