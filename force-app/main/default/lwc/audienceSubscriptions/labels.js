/**
 * Every user-visible text of the component, from custom labels
 * (labels/CustomLabels.labels-meta.xml, translated in
 * force-app-translations/main/default/translations/).
 */
import title from '@salesforce/label/c.Audience_Subscriptions_Title';
import refresh from '@salesforce/label/c.Audience_Subscriptions_Refresh';
import loading from '@salesforce/label/c.Audience_Subscriptions_Loading';
import empty from '@salesforce/label/c.Audience_Subscriptions_Empty';
import loadError from '@salesforce/label/c.Audience_Subscriptions_Load_Error';
import noRecord from '@salesforce/label/c.Audience_Subscriptions_No_Record';
import emailPreferences from '@salesforce/label/c.Audience_Subscriptions_Email_Preferences';
import emailOptOut from '@salesforce/label/c.Audience_Subscriptions_Email_Opt_Out';
import salesOptOut from '@salesforce/label/c.Audience_Subscriptions_Sales_Opt_Out';
import yes from '@salesforce/label/c.Audience_Subscriptions_Yes';
import no from '@salesforce/label/c.Audience_Subscriptions_No';
import audiences from '@salesforce/label/c.Audience_Subscriptions_Audiences';
import lastChanged from '@salesforce/label/c.Audience_Subscriptions_Last_Changed';
import source from '@salesforce/label/c.Audience_Subscriptions_Source';
import reason from '@salesforce/label/c.Audience_Subscriptions_Reason';
import pendingPush from '@salesforce/label/c.Audience_Subscriptions_Pending_Push';
import unsubscribe from '@salesforce/label/c.Audience_Subscriptions_Unsubscribe';
import unsubscribeTitle from '@salesforce/label/c.Audience_Subscriptions_Unsubscribe_Title';
import confirmTitle from '@salesforce/label/c.Audience_Subscriptions_Confirm_Title';
import confirmMessage from '@salesforce/label/c.Audience_Subscriptions_Confirm_Message';
import successTitle from '@salesforce/label/c.Audience_Subscriptions_Success_Title';
import successMessage from '@salesforce/label/c.Audience_Subscriptions_Success_Message';
import errorTitle from '@salesforce/label/c.Audience_Subscriptions_Error_Title';
import unknownError from '@salesforce/label/c.Audience_Subscriptions_Unknown_Error';

export default {
    title,
    refresh,
    loading,
    empty,
    loadError,
    noRecord,
    emailPreferences,
    emailOptOut,
    salesOptOut,
    yes,
    no,
    audiences,
    lastChanged,
    source,
    reason,
    pendingPush,
    unsubscribe,
    unsubscribeTitle,
    confirmTitle,
    confirmMessage,
    successTitle,
    successMessage,
    errorTitle,
    unknownError
};

/**
 * Fills the {0}, {1}… placeholders of a label. Unknown placeholders stay as they are.
 * @param {String} label
 * @param {...*} values
 * @return {String}
 */
export function formatLabel(label, ...values) {
    return label.replace(/\{(\d+)\}/g, (placeholder, index) => {
        return index < values.length ? String(values[index]) : placeholder;
    });
}
