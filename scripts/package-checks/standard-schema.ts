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
    Profile: ['Id', 'Name'],
    PermissionSet: ['Id', 'Name'],
    PermissionSetAssignment: ['Id', 'AssigneeId', 'PermissionSetId']
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
/** The permission set for users of the component and the Flow action. */
export const USER_PERMISSION_SET = 'Opt_Out_Sync_User';

/** Layout names that belong to the org, which the package must never ship (or overwrite). */
export const FORBIDDEN_LAYOUTS: readonly string[] = [
    'Contact-Contact Layout',
    'Lead-Lead Layout'
];
