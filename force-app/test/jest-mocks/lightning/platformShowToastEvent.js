/*
 * lightning/platformShowToastEvent for Jest (as in trailheadapps/lwc-recipes): the
 * event bubbles out of the component so tests can listen for it and read detail.
 */
export const ShowToastEventName = 'lightning__showtoast';

export class ShowToastEvent extends CustomEvent {
    constructor(toast) {
        super(ShowToastEventName, {
            composed: true,
            cancelable: true,
            bubbles: true,
            detail: toast
        });
    }
}
