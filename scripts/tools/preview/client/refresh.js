/**
 * lightning/refresh (RefreshView API) for the preview: one refresh tree per page.
 * A container registered with registerRefreshContainer receives RefreshEvent and
 * runs every registered handler (called on its context element, as with Lightning
 * Web Security); the container's callback gets a promise of the overall status.
 */
export const RefreshComplete = 'RefreshComplete';
export const RefreshCompleteWithError = 'RefreshCompleteWithError';
export const RefreshError = 'RefreshError';
const REFRESH_EVENT = 'lightning__refreshevent';

export class RefreshEvent extends CustomEvent {
    constructor() {
        super(REFRESH_EVENT, { bubbles: true, composed: true });
    }
}

let nextHandle = 1;
const handlers = new Map();
const containers = new Map();

export function registerRefreshHandler(contextElement, providerMethod) {
    const handle = nextHandle++;
    handlers.set(handle, { contextElement, providerMethod });
    return handle;
}

export function unregisterRefreshHandler(handle) {
    handlers.delete(handle);
}

async function runHandlers() {
    const results = await Promise.allSettled(
        [...handlers.values()].map(({ contextElement, providerMethod }) =>
            Promise.resolve(providerMethod.call(contextElement))
        )
    );
    const failed = results.filter(
        (r) => r.status === 'rejected' || r.value === false
    ).length;
    if (failed === 0) {
        return RefreshComplete;
    }
    return failed === results.length ? RefreshError : RefreshCompleteWithError;
}

export function registerRefreshContainer(contextElement, providerMethod) {
    const handle = nextHandle++;
    const listener = (event) => {
        event.stopPropagation();
        providerMethod.call(contextElement, runHandlers());
    };
    contextElement.addEventListener(REFRESH_EVENT, listener);
    containers.set(handle, { contextElement, listener });
    return handle;
}

export function unregisterRefreshContainer(handle) {
    const container = containers.get(handle);
    if (container) {
        container.contextElement.removeEventListener(
            REFRESH_EVENT,
            container.listener
        );
        containers.delete(handle);
    }
}
