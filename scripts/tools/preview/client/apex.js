/**
 * @salesforce/apex for the preview: refreshApex re-reads the wire that provisioned a
 * value (LDS wires included, as on the platform). The preview runs no Apex: an
 * import of @salesforce/apex/Class.method fails the build.
 */
import { refreshWiredValue } from './uiApi';

export function refreshApex(wiredValue) {
    return refreshWiredValue(wiredValue);
}
