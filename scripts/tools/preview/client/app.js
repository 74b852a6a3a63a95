/**
 * The preview page's container (what the Lightning record page is around a
 * component): mounts c-audience-subscriptions on the record the page shows, shows
 * the toasts components ask for, and runs page-level refreshes (RefreshEvent).
 */
import '@lwc/synthetic-shadow';
import { createElement } from 'lwc';
import Toast from 'lightning/toast';
import { RefreshEvent, registerRefreshContainer } from 'lightning/refresh';
import AudienceSubscriptions from 'c/audienceSubscriptions';
import { SHOW_TOAST_EVENT } from './platformShowToastEvent';
import { objectApiName, recordId } from './runtime';

// Platform toasts ({ title, message, variant, mode }) become lightning/toast toasts.
window.addEventListener(
    SHOW_TOAST_EVENT,
    (event) => {
        const detail = event.detail || {};
        if (!detail.platform) {
            return; // lightning/toast's own event, on its way to the toast container
        }
        event.stopPropagation();
        Toast.show({
            label: detail.title || detail.message,
            message: detail.title ? detail.message : undefined,
            variant: detail.variant || 'info',
            mode: detail.mode || 'dismissible'
        });
    },
    true
);

const page = document.querySelector('[data-preview-page]');
registerRefreshContainer(page, (status) => {
    page.dataset.refreshStatus = 'running';
    status.then((result) => {
        page.dataset.refreshStatus = result;
    });
});
const pageRefresh = document.querySelector('[data-preview-refresh]');
if (pageRefresh) {
    pageRefresh.addEventListener('click', () =>
        pageRefresh.dispatchEvent(new RefreshEvent())
    );
}

const slot = document.querySelector('[data-component-slot]');
if (slot) {
    const element = createElement('c-audience-subscriptions', {
        is: AudienceSubscriptions
    });
    element.recordId = recordId;
    element.objectApiName = objectApiName;
    slot.appendChild(element);
}
