/**
 * The standard objects and fields the package refers to. Salesforce defines them, so
 * force-app has no file for them; the consistency check accepts exactly these. Keep the
 * list small and explicit: adding a name here is a claim that it exists in every org.
 */
export const STANDARD_FIELDS: Readonly<Record<string, readonly string[]>> = {
    Contact: [
        'Id',
        'Name',
        'FirstName',
        'LastName',
        'Email',
        'Phone',
        'MobilePhone',
        'Title',
        'AccountId',
        'OwnerId',
        'ReportsToId',
        'LeadSource',
        'MailingAddress',
        'Description',
        'HasOptedOutOfEmail',
        'CreatedById',
        'LastModifiedById'
    ],
    Lead: [
        'Id',
        'Name',
        'FirstName',
        'LastName',
        'Email',
        'Phone',
        'MobilePhone',
        'Title',
        'Company',
        'Status',
        'LeadSource',
        'Address',
        'Description',
        'OwnerId',
        'HasOptedOutOfEmail',
        'IsConverted',
        'ConvertedContactId',
        'CreatedById',
        'LastModifiedById'
    ],
    Account: ['Id', 'Name'],
    User: [
        'Id',
        'LastName',
        'Alias',
        'Email',
        'Username',
        'ProfileId',
        'EmailEncodingKey',
        'LanguageLocaleKey',
        'LocaleSidKey',
        'TimeZoneSidKey'
    ],
    Profile: [
        'Id',
        'Name',
        'CreatedDate',
        'UserLicenseId',
        'PermissionsModifyAllData',
        'PermissionsViewAllData'
    ],
    PermissionSet: ['Id', 'Name', 'ProfileId', 'IsOwnedByProfile'],
    PermissionSetAssignment: ['Id', 'AssigneeId', 'PermissionSetId'],
    ObjectPermissions: ['Id', 'ParentId', 'SobjectType'],
    UserLicense: ['Id', 'LicenseDefinitionKey']
};

/** Fields every custom object has. */
export const CUSTOM_OBJECT_STANDARD_FIELDS: readonly string[] = [
    'Id',
    'Name',
    'OwnerId',
    'CreatedById',
    'CreatedDate',
    'LastModifiedById',
    'LastModifiedDate',
    'SystemModstamp',
    'IsDeleted'
];

/** Fields every custom setting has. */
export const CUSTOM_SETTING_STANDARD_FIELDS: readonly string[] = [
    'Id',
    'Name',
    'SetupOwnerId',
    'CreatedById',
    'LastModifiedById'
];

/** Standard related lists used on the package's layouts (their columns are platform tokens). */
export const STANDARD_RELATED_LISTS: readonly string[] = [
    'RelatedActivityList',
    'RelatedHistoryList'
];

/** Languages every label and custom field must be translated into. */
export const LANGUAGES: readonly string[] = ['fr', 'zh_CN', 'ja'];

/** The permission set the sync's integration user gets: it must grant every custom field. */
export const INTEGRATION_PERMISSION_SET = 'Opt_Out_Sync_Integration';
/** The optional set with Modify All on Contact and Lead (private Contacts and Leads). */
export const MODIFY_ALL_PERMISSION_SET = 'Opt_Out_Sync_Integration_Modify_All';
/**
 * PermissionSet.Description is a 255-character string
 * (https://developer.salesforce.com/docs/atlas.en-us.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_PermissionSet.htm):
 * a longer description fails the deploy.
 */
export const PERMISSION_SET_DESCRIPTION_MAX = 255;
/** The permission set for users of the component and the Flow action. */
export const USER_PERMISSION_SET = 'Opt_Out_Sync_User';

/** Layout names that belong to the org, which the package must never ship (or overwrite). */
export const FORBIDDEN_LAYOUTS: readonly string[] = [
    'Contact-Contact Layout',
    'Lead-Lead Layout'
];
