/**
 * The standard objects and fields the package and the sync refer to: Salesforce defines
 * them, so force-app has no file for them. This is the only list of them: the package
 * checks accept exactly these names, and the schema generator takes the types of the
 * standard fields the sync reads from here. Keep it small and explicit: adding a name is
 * a claim that it exists in every org.
 *
 * Types are describe's field types (`id`, `string`, `reference`, …); `nillable` is
 * describe's flag (false: every record has a value).
 */

export type StandardFieldType =
    | 'id'
    | 'string'
    | 'textarea'
    | 'email'
    | 'phone'
    | 'picklist'
    | 'boolean'
    | 'reference'
    | 'datetime'
    | 'address';

export interface StandardField {
    name: string;
    type: StandardFieldType;
    nillable: boolean;
}

const field = (
    name: string,
    type: StandardFieldType,
    nillable = true
): StandardField => ({ name, type, nillable });

const ID = field('Id', 'id', false);
const CREATED_BY = field('CreatedById', 'reference', false);
const LAST_MODIFIED_BY = field('LastModifiedById', 'reference', false);

/** The standard objects the package may refer to, with their fields. */
export const STANDARD_OBJECT_FIELDS: Readonly<
    Record<string, readonly StandardField[]>
> = {
    Contact: [
        ID,
        field('Name', 'string', false),
        field('FirstName', 'string'),
        field('LastName', 'string', false),
        field('Email', 'email'),
        field('Phone', 'phone'),
        field('MobilePhone', 'phone'),
        field('Title', 'string'),
        field('AccountId', 'reference'),
        field('OwnerId', 'reference', false),
        field('ReportsToId', 'reference'),
        field('LeadSource', 'picklist'),
        field('MailingAddress', 'address'),
        field('Description', 'textarea'),
        field('HasOptedOutOfEmail', 'boolean', false),
        CREATED_BY,
        LAST_MODIFIED_BY
    ],
    Lead: [
        ID,
        field('Name', 'string', false),
        field('FirstName', 'string'),
        field('LastName', 'string', false),
        field('Email', 'email'),
        field('Phone', 'phone'),
        field('MobilePhone', 'phone'),
        field('Title', 'string'),
        field('Company', 'string', false),
        field('Status', 'picklist', false),
        field('LeadSource', 'picklist'),
        field('Address', 'address'),
        field('Description', 'textarea'),
        field('OwnerId', 'reference', false),
        field('HasOptedOutOfEmail', 'boolean', false),
        field('IsConverted', 'boolean', false),
        field('ConvertedContactId', 'reference'),
        CREATED_BY,
        LAST_MODIFIED_BY
    ],
    Account: [ID, field('Name', 'string', false)],
    User: [
        ID,
        field('LastName', 'string', false),
        field('Alias', 'string', false),
        field('Email', 'email', false),
        field('Username', 'string', false),
        field('ProfileId', 'reference', false),
        field('EmailEncodingKey', 'picklist', false),
        field('LanguageLocaleKey', 'picklist', false),
        field('LocaleSidKey', 'picklist', false),
        field('TimeZoneSidKey', 'picklist', false)
    ],
    Profile: [
        ID,
        field('Name', 'string', false),
        field('CreatedDate', 'datetime', false),
        field('UserLicenseId', 'reference', false),
        field('PermissionsModifyAllData', 'boolean', false),
        field('PermissionsViewAllData', 'boolean', false)
    ],
    PermissionSet: [
        ID,
        field('Name', 'string', false),
        field('ProfileId', 'reference'),
        field('IsOwnedByProfile', 'boolean', false)
    ],
    PermissionSetAssignment: [
        ID,
        field('AssigneeId', 'reference', false),
        field('PermissionSetId', 'reference', false)
    ],
    ObjectPermissions: [
        ID,
        field('ParentId', 'reference', false),
        field('SobjectType', 'picklist', false)
    ],
    UserLicense: [ID, field('LicenseDefinitionKey', 'string', false)]
};

/** Fields every custom object has. */
export const CUSTOM_OBJECT_FIELDS: readonly StandardField[] = [
    ID,
    field('Name', 'string', false),
    field('OwnerId', 'reference', false),
    CREATED_BY,
    field('CreatedDate', 'datetime', false),
    LAST_MODIFIED_BY,
    field('LastModifiedDate', 'datetime', false),
    field('SystemModstamp', 'datetime', false),
    field('IsDeleted', 'boolean', false)
];

/** Fields every custom setting has (a hierarchy setting's Name may be empty). */
export const CUSTOM_SETTING_FIELDS: readonly StandardField[] = [
    ID,
    field('Name', 'string'),
    field('SetupOwnerId', 'reference', false),
    CREATED_BY,
    LAST_MODIFIED_BY
];

/** True for a standard object the package may refer to. */
export function isStandardObject(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(STANDARD_OBJECT_FIELDS, name);
}

/**
 * The standard fields of an object: the listed ones for a standard object, the system
 * fields for a custom object or custom setting (none for an unknown standard object).
 */
export function standardFieldsOf(
    objectName: string,
    customSettingsType?: string
): readonly StandardField[] {
    if (objectName.endsWith('__c'))
        return customSettingsType
            ? CUSTOM_SETTING_FIELDS
            : CUSTOM_OBJECT_FIELDS;
    return isStandardObject(objectName)
        ? STANDARD_OBJECT_FIELDS[objectName]
        : [];
}
