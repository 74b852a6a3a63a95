/**
 * lightning/platformShowToastEvent for the preview. As on a Lightning page, the
 * component only dispatches the event; the page container (app.js) shows the toast.
 */
export const SHOW_TOAST_EVENT = 'lightning__showtoast';

export class ShowToastEvent extends CustomEvent {
    constructor(toast) {
        super(SHOW_TOAST_EVENT, {
            composed: true,
            cancelable: true,
            bubbles: true,
            detail: { ...(toast || {}), platform: true }
        });
    }
}
