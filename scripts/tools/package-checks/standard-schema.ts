/**
 * What the package checks expect of the package beyond its own files: the standard
 * related lists, the languages, the permission sets. The standard objects and fields
 * the package may refer to are in `metadata/standard-fields.ts`, the only list of them.
 */

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
