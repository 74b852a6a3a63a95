/**
 * What the preview page gives the bundle at run time (window.__PREVIEW__, written by
 * the preview server into the page): the user's language and locale, the custom
 * labels of that language, and the record the page shows.
 */
const context = window.__PREVIEW__ || {};

export const lang = context.lang || 'en_US';
export const locale = context.locale || 'en-US';
export const timeZone = context.timeZone || 'America/Los_Angeles';
export const recordId = context.recordId;
export const objectApiName = context.objectApiName;

const labels = context.labels || {};

/**
 * A custom label in the page's language. The server already fell back to the
 * English value for untranslated labels, as Salesforce does; a label missing here
 * means the build and the server disagree, which must show.
 */
export function label(name) {
    if (!Object.prototype.hasOwnProperty.call(labels, name)) {
        throw new Error(`Custom label c.${name} is not defined in the package`);
    }
    return labels[name];
}
