/*
 * lightning/refresh (RefreshView API) for Jest. Registered handlers are kept so a
 * test can play the platform's part with fireRefresh(), which calls every
 * registered handler and resolves with their results.
 */
export const RefreshEventName = 'lightning__refresh';

export class RefreshEvent extends CustomEvent {
    constructor() {
        super(RefreshEventName, {
            composed: true,
            cancelable: true,
            bubbles: true
        });
    }
}

export const REFRESH_COMPLETE = 'RefreshComplete';
export const REFRESH_COMPLETE_WITH_ERRORS = 'RefreshCompleteWithErrors';
export const REFRESH_ERROR = 'RefreshError';

const handlers = new Map();
let lastId = 0;

export const registerRefreshHandler = jest.fn((element, handler) => {
    lastId += 1;
    handlers.set(lastId, handler.bind(element));
    return lastId;
});

export const unregisterRefreshHandler = jest.fn((id) => {
    handlers.delete(id);
});

export const registerRefreshContainer = jest.fn(() => {
    lastId += 1;
    return lastId;
});

export const unregisterRefreshContainer = jest.fn();

/** Test helper: what the platform does when a RefreshEvent reaches the page. */
export function fireRefresh() {
    return Promise.all([...handlers.values()].map((handler) => handler()));
}

/** Test helper: how many components have a refresh handler registered. */
export function registeredHandlerCount() {
    return handlers.size;
}
