/**
 * The local org's schema model: sObjects and fields as describe reports them, the
 * standard objects every org has, and the system fields every custom object gets.
 * Custom objects and fields come from deploys (deploy.ts) and are stored as JSON in
 * the database (store.ts); this file only defines shapes and built-ins.
 */

export type FieldType =
    | 'id'
    | 'string'
    | 'textarea'
    | 'boolean'
    | 'reference'
    | 'picklist'
    | 'multipicklist'
    | 'email'
    | 'phone'
    | 'url'
    | 'datetime'
    | 'date'
    | 'double'
    | 'int'
    | 'currency'
    | 'percent';

export interface PicklistValue {
    value: string;
    label: string;
    active: boolean;
    defaultValue: boolean;
}

export interface FieldDef {
    name: string;
    label: string;
    type: FieldType;
    /** Text length (string, textarea, email, phone, url, picklist). */
    length?: number;
    precision?: number;
    scale?: number;
    custom: boolean;
    nillable: boolean;
    createable: boolean;
    updateable: boolean;
    /** Must be given on create (not nillable, no default, createable). */
    required?: boolean;
    externalId?: boolean;
    unique?: boolean;
    caseSensitive?: boolean;
    nameField?: boolean;
    referenceTo?: string[];
    /** Parent-side relationship name (describe's relationshipName), e.g. Contact__r. */
    relationshipName?: string;
    /** The child relationship this lookup adds to its parent, e.g. Audience_Memberships__r. */
    childRelationshipName?: string;
    /** SetNull (default) or Restrict: what deleting the parent does to this lookup. */
    deleteConstraint?: 'SetNull' | 'Restrict' | 'Cascade';
    picklistValues?: PicklistValue[];
    restrictedPicklist?: boolean;
    /** Default applied on create when the field is not given (already typed). */
    defaultValue?: string | number | boolean | null;
    /** Auto-number display format, e.g. AM-{0000000}. */
    autoNumberFormat?: string;
    /** Maintained by the org (timestamps, audit fields, IsDeleted, computed Name). */
    system?: boolean;
    /** Salesforce's "calculated" flag (e.g. Contact.Name). */
    calculated?: boolean;
    /** Field help text from the metadata, reported by describe. */
    inlineHelpText?: string;
    description?: string;
}

export interface ValidationRuleDef {
    fullName: string;
    active: boolean;
    errorConditionFormula: string;
    errorMessage: string;
    errorDisplayField?: string;
    /** False when the formula uses something the local org cannot evaluate. */
    supported: boolean;
    unsupportedReason?: string;
}

export interface ObjectDef {
    name: string;
    label: string;
    labelPlural: string;
    keyPrefix: string;
    custom: boolean;
    /** 'Hierarchy' or 'List' for custom settings. */
    customSetting?: 'Hierarchy' | 'List';
    createable: boolean;
    updateable: boolean;
    deletable: boolean;
    queryable: boolean;
    fields: FieldDef[];
    validationRules: ValidationRuleDef[];
    /** Next auto-number value, per auto-number field (persisted with the def). */
    autoNumberNext?: Record<string, number>;
    description?: string;
}

/** SQLite table that holds an object's rows. */
export function tableName(objectName: string): string {
    return `o_${objectName}`;
}

function f(
    name: string,
    label: string,
    type: FieldType,
    extra: Partial<FieldDef> = {}
): FieldDef {
    const base: FieldDef = {
        name,
        label,
        type,
        custom: false,
        nillable: true,
        createable: true,
        updateable: true
    };
    if (
        type === 'string' ||
        type === 'email' ||
        type === 'phone' ||
        type === 'url' ||
        type === 'picklist' ||
        type === 'textarea'
    ) {
        base.length = type === 'email' ? 80 : type === 'phone' ? 40 : 255;
    }
    return { ...base, ...extra };
}

const readOnly: Partial<FieldDef> = {
    createable: false,
    updateable: false,
    system: true
};

function idField(): FieldDef {
    return f('Id', 'Record ID', 'id', {
        ...readOnly,
        nillable: false,
        length: 18
    });
}

function auditFields(): FieldDef[] {
    const dt = { ...readOnly, nillable: false };
    return [
        f('CreatedDate', 'Created Date', 'datetime', dt),
        f('CreatedById', 'Created By ID', 'reference', {
            ...dt,
            length: 18,
            referenceTo: ['User'],
            relationshipName: 'CreatedBy'
        }),
        f('LastModifiedDate', 'Last Modified Date', 'datetime', dt),
        f('LastModifiedById', 'Last Modified By ID', 'reference', {
            ...dt,
            length: 18,
            referenceTo: ['User'],
            relationshipName: 'LastModifiedBy'
        }),
        f('SystemModstamp', 'System Modstamp', 'datetime', dt)
    ];
}

function isDeletedField(): FieldDef {
    return f('IsDeleted', 'Deleted', 'boolean', {
        ...readOnly,
        nillable: false,
        defaultValue: false
    });
}

function ownerField(): FieldDef {
    return f('OwnerId', 'Owner ID', 'reference', {
        length: 18,
        nillable: false,
        referenceTo: ['User'],
        relationshipName: 'Owner'
    });
}

function picklist(
    values: string[],
    defaultValue?: string
): Pick<FieldDef, 'picklistValues' | 'restrictedPicklist'> {
    return {
        picklistValues: values.map((v) => ({
            value: v,
            label: v,
            active: true,
            defaultValue: v === defaultValue
        })),
        restrictedPicklist: false
    };
}

const nameParts = (): FieldDef[] => [
    f('LastName', 'Last Name', 'string', {
        length: 80,
        nillable: false,
        required: true
    }),
    f('FirstName', 'First Name', 'string', { length: 40 }),
    f('Salutation', 'Salutation', 'picklist', {
        ...picklist(['Mr.', 'Ms.', 'Mrs.', 'Dr.', 'Prof.'])
    }),
    f('Name', 'Full Name', 'string', {
        ...readOnly,
        length: 121,
        nillable: false,
        nameField: true,
        calculated: false
    })
];

function account(): ObjectDef {
    return {
        name: 'Account',
        label: 'Account',
        labelPlural: 'Accounts',
        keyPrefix: '001',
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            f('Name', 'Account Name', 'string', {
                nillable: false,
                required: true,
                nameField: true
            }),
            f('Type', 'Account Type', 'picklist', {
                ...picklist([
                    'Prospect',
                    'Customer - Direct',
                    'Customer - Channel',
                    'Channel Partner / Reseller',
                    'Installation Partner',
                    'Technology Partner',
                    'Other'
                ])
            }),
            f('Industry', 'Industry', 'picklist', {
                ...picklist([
                    'Agriculture',
                    'Banking',
                    'Education',
                    'Healthcare',
                    'Manufacturing',
                    'Retail',
                    'Technology',
                    'Other'
                ])
            }),
            f('Phone', 'Account Phone', 'phone'),
            f('Website', 'Website', 'url'),
            f('BillingCity', 'Billing City', 'string', { length: 40 }),
            f('BillingCountry', 'Billing Country', 'string', { length: 80 }),
            f('Description', 'Account Description', 'textarea', {
                length: 32000
            }),
            ownerField(),
            ...auditFields()
        ]
    };
}

/**
 * MasterRecordId: on a record deleted by a merge, the record it was merged into
 * (SOAP API merge(): "SELECT Id FROM Contact WHERE isDeleted=true and masterRecordId
 * != null", https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_merge.htm).
 */
function masterRecordField(object: 'Contact' | 'Lead'): FieldDef {
    return f('MasterRecordId', 'Master Record ID', 'reference', {
        ...readOnly,
        length: 18,
        referenceTo: [object],
        relationshipName: 'MasterRecord'
    });
}

function contact(): ObjectDef {
    return {
        name: 'Contact',
        label: 'Contact',
        labelPlural: 'Contacts',
        keyPrefix: '003',
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            masterRecordField('Contact'),
            f('AccountId', 'Account ID', 'reference', {
                length: 18,
                referenceTo: ['Account'],
                relationshipName: 'Account',
                childRelationshipName: 'Contacts',
                deleteConstraint: 'Cascade'
            }),
            ...nameParts(),
            f('Email', 'Email', 'email', { length: 80 }),
            f('Phone', 'Business Phone', 'phone'),
            f('Title', 'Title', 'string', { length: 128 }),
            f('Department', 'Department', 'string', { length: 80 }),
            f('LeadSource', 'Lead Source', 'picklist', {
                ...picklist([
                    'Web',
                    'Phone Inquiry',
                    'Partner Referral',
                    'Purchased List',
                    'Other'
                ])
            }),
            f('HasOptedOutOfEmail', 'Email Opt Out', 'boolean', {
                nillable: false,
                defaultValue: false
            }),
            f('DoNotCall', 'Do Not Call', 'boolean', {
                nillable: false,
                defaultValue: false
            }),
            f('EmailBouncedDate', 'Email Bounced Date', 'datetime'),
            ownerField(),
            ...auditFields()
        ]
    };
}

const LEAD_STATUS = [
    'Open - Not Contacted',
    'Working - Contacted',
    'Closed - Converted',
    'Closed - Not Converted'
];

function lead(): ObjectDef {
    return {
        name: 'Lead',
        label: 'Lead',
        labelPlural: 'Leads',
        keyPrefix: '00Q',
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            masterRecordField('Lead'),
            ...nameParts(),
            f('Company', 'Company', 'string', {
                nillable: false,
                required: true
            }),
            f('Email', 'Email', 'email', { length: 80 }),
            f('Phone', 'Phone', 'phone'),
            f('Title', 'Title', 'string', { length: 128 }),
            f('Status', 'Lead Status', 'picklist', {
                ...picklist(LEAD_STATUS, 'Open - Not Contacted'),
                length: 255,
                nillable: false,
                defaultValue: 'Open - Not Contacted'
            }),
            f('LeadSource', 'Lead Source', 'picklist', {
                ...picklist([
                    'Web',
                    'Phone Inquiry',
                    'Partner Referral',
                    'Purchased List',
                    'Other'
                ])
            }),
            f('HasOptedOutOfEmail', 'Email Opt Out', 'boolean', {
                nillable: false,
                defaultValue: false
            }),
            f('DoNotCall', 'Do Not Call', 'boolean', {
                nillable: false,
                defaultValue: false
            }),
            f('IsConverted', 'Converted', 'boolean', {
                ...readOnly,
                nillable: false,
                defaultValue: false
            }),
            f('ConvertedDate', 'Converted Date', 'date', readOnly),
            f('ConvertedAccountId', 'Converted Account ID', 'reference', {
                ...readOnly,
                length: 18,
                referenceTo: ['Account'],
                relationshipName: 'ConvertedAccount'
            }),
            f('ConvertedContactId', 'Converted Contact ID', 'reference', {
                ...readOnly,
                length: 18,
                referenceTo: ['Contact'],
                relationshipName: 'ConvertedContact'
            }),
            ownerField(),
            ...auditFields()
        ]
    };
}

function user(): ObjectDef {
    const ro = { ...readOnly, system: false };
    return {
        name: 'User',
        label: 'User',
        labelPlural: 'Users',
        keyPrefix: '005',
        custom: false,
        createable: false,
        updateable: false,
        deletable: false,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            f('Username', 'Username', 'string', {
                ...ro,
                length: 80,
                nillable: false,
                unique: true
            }),
            f('LastName', 'Last Name', 'string', { ...ro, length: 80 }),
            f('FirstName', 'First Name', 'string', { ...ro, length: 40 }),
            f('Name', 'Full Name', 'string', {
                ...ro,
                length: 121,
                nameField: true
            }),
            f('Alias', 'Alias', 'string', { ...ro, length: 8 }),
            f('Email', 'Email', 'email', { ...ro, length: 128 }),
            f('IsActive', 'Active', 'boolean', {
                ...ro,
                nillable: false,
                defaultValue: true
            }),
            f('UserType', 'User Type', 'picklist', {
                ...ro,
                ...picklist(['Standard'])
            }),
            f('TimeZoneSidKey', 'Time Zone', 'picklist', {
                ...ro,
                ...picklist(['America/Los_Angeles', 'GMT'])
            }),
            f('LocaleSidKey', 'Locale', 'picklist', {
                ...ro,
                ...picklist(['en_US'])
            }),
            f('LanguageLocaleKey', 'Language', 'picklist', {
                ...ro,
                ...picklist(['en_US', 'fr', 'ja', 'zh_CN'])
            }),
            f('EmailEncodingKey', 'Email Encoding', 'picklist', {
                ...ro,
                ...picklist(['UTF-8'])
            }),
            f('ProfileId', 'Profile ID', 'reference', {
                ...ro,
                length: 18,
                referenceTo: ['Profile'],
                relationshipName: 'Profile'
            }),
            ...auditFields()
        ]
    };
}

/**
 * Profile: the two standard profiles a new org's users get here (System Administrator
 * with Modify All Data, Standard User without). Read-only through the API, as the
 * standard profiles are. Queried by id (their names are translated per user language).
 */
function profile(): ObjectDef {
    const ro = { ...readOnly, system: false };
    return {
        name: 'Profile',
        label: 'Profile',
        labelPlural: 'Profiles',
        keyPrefix: '00e',
        custom: false,
        createable: false,
        updateable: false,
        deletable: false,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            f('Name', 'Name', 'string', { ...ro, nameField: true }),
            f('UserType', 'User Type', 'picklist', {
                ...ro,
                ...picklist(['Standard'])
            }),
            f('PermissionsModifyAllData', 'Modify All Data', 'boolean', {
                ...ro,
                nillable: false,
                defaultValue: false
            }),
            f('PermissionsViewAllData', 'View All Data', 'boolean', {
                ...ro,
                nillable: false,
                defaultValue: false
            }),
            ...auditFields()
        ]
    };
}

/**
 * PermissionSet: one row per deployed permission set (kept in step with the deployed
 * metadata, see OrgStore.syncPermissionSets) and one owned by each profile
 * (IsOwnedByProfile), as Salesforce has. Createable through the API as in Salesforce.
 */
function permissionSet(): ObjectDef {
    const flag = (name: string, label: string): FieldDef =>
        f(name, label, 'boolean', { nillable: false, defaultValue: false });
    return {
        name: 'PermissionSet',
        label: 'Permission Set',
        labelPlural: 'Permission Sets',
        keyPrefix: '0PS',
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            f('Name', 'Name', 'string', {
                length: 80,
                nillable: false,
                required: true,
                unique: true,
                nameField: true
            }),
            f('Label', 'Label', 'string', {
                length: 80,
                nillable: false,
                required: true
            }),
            f('Description', 'Description', 'textarea', { length: 255 }),
            f('IsOwnedByProfile', 'Is Owned by Profile', 'boolean', {
                ...readOnly,
                system: false,
                nillable: false,
                defaultValue: false
            }),
            f('ProfileId', 'Profile ID', 'reference', {
                ...readOnly,
                system: false,
                length: 18,
                referenceTo: ['Profile'],
                relationshipName: 'Profile'
            }),
            flag('PermissionsModifyAllData', 'Modify All Data'),
            flag('PermissionsViewAllData', 'View All Data'),
            ...auditFields()
        ]
    };
}

/** ObjectPermissions: a permission set's access to one object (Read … Modify All). */
function objectPermissions(): ObjectDef {
    const flag = (name: string, label: string): FieldDef =>
        f(name, label, 'boolean', { nillable: false, defaultValue: false });
    return {
        name: 'ObjectPermissions',
        label: 'Object Permissions',
        labelPlural: 'Object Permissions',
        keyPrefix: '110',
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            f('ParentId', 'Parent ID', 'reference', {
                length: 18,
                nillable: false,
                required: true,
                updateable: false,
                referenceTo: ['PermissionSet'],
                relationshipName: 'Parent',
                childRelationshipName: 'ObjectPerms',
                deleteConstraint: 'Cascade'
            }),
            f('SobjectType', 'Sobject Type Name', 'string', {
                length: 80,
                nillable: false,
                required: true,
                updateable: false
            }),
            flag('PermissionsRead', 'Read'),
            flag('PermissionsCreate', 'Create'),
            flag('PermissionsEdit', 'Edit'),
            flag('PermissionsDelete', 'Delete'),
            flag('PermissionsViewAllRecords', 'View All'),
            flag('PermissionsModifyAllRecords', 'Modify All'),
            ...auditFields()
        ]
    };
}

/** PermissionSetAssignment: a permission set given to a user (create, query, delete). */
function permissionSetAssignment(): ObjectDef {
    return {
        name: 'PermissionSetAssignment',
        label: 'Permission Set Assignment',
        labelPlural: 'Permission Set Assignments',
        keyPrefix: '0Pa',
        custom: false,
        createable: true,
        updateable: false,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            f('AssigneeId', 'Assignee ID', 'reference', {
                length: 18,
                nillable: false,
                required: true,
                updateable: false,
                referenceTo: ['User'],
                relationshipName: 'Assignee'
            }),
            f('PermissionSetId', 'Permission Set ID', 'reference', {
                length: 18,
                nillable: false,
                required: true,
                updateable: false,
                referenceTo: ['PermissionSet'],
                relationshipName: 'PermissionSet',
                childRelationshipName: 'Assignments',
                deleteConstraint: 'Cascade'
            }),
            ...auditFields()
        ]
    };
}

/**
 * CustomPermission: one row per deployed custom permission (kept in step with the
 * deployed metadata, see users.ts syncPermissionSets). Read-only through the API, as
 * in Salesforce (describeSObjects, query, retrieve only:
 * https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-custompermission.html).
 */
function customPermission(): ObjectDef {
    const ro = { ...readOnly, system: false };
    return {
        name: 'CustomPermission',
        label: 'Custom Permission',
        labelPlural: 'Custom Permissions',
        keyPrefix: '0CP',
        custom: false,
        createable: false,
        updateable: false,
        deletable: false,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            f('DeveloperName', 'Name', 'string', {
                ...ro,
                length: 80,
                nillable: false
            }),
            f('MasterLabel', 'Label', 'string', {
                ...ro,
                length: 80,
                nillable: false,
                nameField: true
            }),
            f('Description', 'Description', 'textarea', { ...ro, length: 255 }),
            f('IsLicensed', 'Is Licensed', 'boolean', {
                ...ro,
                nillable: false,
                defaultValue: false
            }),
            f('NamespacePrefix', 'Namespace Prefix', 'string', {
                ...ro,
                length: 15
            }),
            ...auditFields()
        ]
    };
}

/**
 * SetupEntityAccess: a permission set's (or profile's) grant of a setup entity; the
 * local org models the custom-permission kind (SetupEntityType 'CustomPermission'),
 * written from each deployed permission set's <customPermissions> entries.
 */
function setupEntityAccess(): ObjectDef {
    return {
        name: 'SetupEntityAccess',
        label: 'Setup Entity Access',
        labelPlural: 'Setup Entity Access',
        keyPrefix: '0J0',
        custom: false,
        createable: true,
        updateable: false,
        deletable: true,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            isDeletedField(),
            f('ParentId', 'Parent ID', 'reference', {
                length: 18,
                nillable: false,
                required: true,
                updateable: false,
                referenceTo: ['PermissionSet'],
                relationshipName: 'Parent',
                childRelationshipName: 'SetupEntityAccessItems',
                deleteConstraint: 'Cascade'
            }),
            f('SetupEntityId', 'Setup Entity ID', 'reference', {
                length: 18,
                nillable: false,
                required: true,
                updateable: false,
                referenceTo: ['CustomPermission']
            }),
            f('SetupEntityType', 'Setup Entity Type', 'picklist', {
                ...readOnly,
                system: false,
                ...picklist(['CustomPermission'])
            }),
            ...auditFields()
        ]
    };
}

function organization(): ObjectDef {
    const ro = { ...readOnly, system: false };
    return {
        name: 'Organization',
        label: 'Organization',
        labelPlural: 'Organizations',
        keyPrefix: '00D',
        custom: false,
        createable: false,
        updateable: false,
        deletable: false,
        queryable: true,
        validationRules: [],
        fields: [
            idField(),
            f('Name', 'Name', 'string', { ...ro, length: 80, nameField: true }),
            f('OrganizationType', 'Edition', 'picklist', {
                ...ro,
                ...picklist(['Developer Edition', 'Enterprise Edition'])
            }),
            f('InstanceName', 'Instance Name', 'string', {
                ...ro,
                length: 5
            }),
            f('IsSandbox', 'Is Sandbox', 'boolean', {
                ...ro,
                nillable: false,
                defaultValue: false
            }),
            f('TrialExpirationDate', 'Trial Expiration Date', 'datetime', ro),
            f('NamespacePrefix', 'Namespace Prefix', 'string', {
                ...ro,
                length: 15
            }),
            f('DefaultLocaleSidKey', 'Locale', 'picklist', {
                ...ro,
                ...picklist(['en_US'])
            }),
            f('LanguageLocaleKey', 'Language', 'picklist', {
                ...ro,
                ...picklist(['en_US'])
            }),
            f('TimeZoneSidKey', 'Time Zone', 'picklist', {
                ...ro,
                ...picklist(['America/Los_Angeles', 'GMT'])
            }),
            ...auditFields()
        ]
    };
}

/** The standard objects of a fresh local org. */
export function standardObjects(): ObjectDef[] {
    return [
        account(),
        contact(),
        lead(),
        user(),
        organization(),
        profile(),
        permissionSet(),
        objectPermissions(),
        permissionSetAssignment(),
        customPermission(),
        setupEntityAccess()
    ];
}

/**
 * The fields Salesforce adds to every custom object (before its own fields): Id,
 * owner, Name (text or auto number), audit fields. Custom settings have no owner and
 * carry SetupOwnerId instead.
 */
export function customObjectSystemFields(options: {
    nameLabel: string;
    nameType: 'Text' | 'AutoNumber';
    autoNumberFormat?: string;
    customSetting?: 'Hierarchy' | 'List';
}): FieldDef[] {
    const fields: FieldDef[] = [idField()];
    if (!options.customSetting) fields.push(ownerField());
    fields.push(isDeletedField());
    if (options.nameType === 'AutoNumber') {
        fields.push(
            f('Name', options.nameLabel, 'string', {
                length: 80,
                createable: false,
                updateable: false,
                nillable: false,
                nameField: true,
                autoNumberFormat: options.autoNumberFormat ?? '{0}'
            })
        );
    } else {
        fields.push(
            f('Name', options.nameLabel, 'string', {
                length: options.customSetting ? 38 : 80,
                nameField: true
            })
        );
    }
    if (options.customSetting === 'Hierarchy') {
        fields.push(
            f('SetupOwnerId', 'Location', 'reference', {
                length: 18,
                nillable: false,
                unique: true,
                referenceTo: ['Organization', 'Profile', 'User'],
                relationshipName: 'SetupOwner'
            })
        );
    }
    fields.push(...auditFields());
    return fields;
}

/** A field's SOAP type, as describe reports it. */
export function soapType(type: FieldType): string {
    switch (type) {
        case 'id':
        case 'reference':
            return 'tns:ID';
        case 'boolean':
            return 'xsd:boolean';
        case 'datetime':
            return 'xsd:dateTime';
        case 'date':
            return 'xsd:date';
        case 'double':
        case 'currency':
        case 'percent':
            return 'xsd:double';
        case 'int':
            return 'xsd:int';
        default:
            return 'xsd:string';
    }
}

/** Whether a field type is stored as text (and compared case-insensitively). */
export function isTextType(type: FieldType): boolean {
    return !(
        type === 'boolean' ||
        type === 'datetime' ||
        type === 'date' ||
        type === 'double' ||
        type === 'int' ||
        type === 'currency' ||
        type === 'percent'
    );
}

/** The SQLite column declaration of a field. */
export function columnDecl(field: FieldDef): string {
    const q = quoteIdent(field.name);
    switch (field.type) {
        case 'boolean':
            return `${q} INTEGER NOT NULL DEFAULT 0`;
        case 'datetime':
        case 'int':
            return `${q} INTEGER`;
        case 'double':
        case 'currency':
        case 'percent':
            return `${q} REAL`;
        case 'date':
            return `${q} TEXT`;
        default:
            // Salesforce compares text case-insensitively (SOQL = and LIKE, unique
            // indexes unless caseSensitive): NOCASE gives that for ASCII.
            return field.caseSensitive
                ? `${q} TEXT`
                : `${q} TEXT COLLATE NOCASE`;
    }
}

export function quoteIdent(name: string): string {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name))
        throw new Error(`invalid identifier: ${name}`);
    return `"${name}"`;
}

/** A field of an object by case-insensitive name. */
export function findField(obj: ObjectDef, name: string): FieldDef | undefined {
    const lower = name.toLowerCase();
    return obj.fields.find((x) => x.name.toLowerCase() === lower);
}
