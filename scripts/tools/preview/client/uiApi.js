/**
 * The Lightning Data Service part the preview needs: UI API requests through the
 * preview server (which holds the org's token), wire adapters that can be refreshed,
 * and the FetchResponse error shape LDS gives components.
 */
import { lang } from './runtime';

/** Live wire adapter instances, to refresh them after writes and notifications. */
const liveAdapters = new Set();
/** Value provisioned to a component -> the adapter that provisioned it (refreshApex). */
const adapterOfValue = new WeakMap();

function deepFreeze(value) {
    if (value && typeof value === 'object' && !Object.isFrozen(value)) {
        Object.freeze(value);
        Object.values(value).forEach(deepFreeze);
    }
    return value;
}

/** LDS errors are FetchResponse-like objects: { ok, status, statusText, body }. */
function fetchResponse(status, statusText, body) {
    return { ok: false, status, statusText, body, headers: {} };
}

/**
 * Calls the preview server's UI API route. Resolves the JSON body; rejects with a
 * FetchResponse (a network failure gets status 0, as LDS reports an offline error).
 */
export async function uiApiRequest(method, path, params, body) {
    const url = new URL(`/preview/ui-api/${path}`, window.location.origin);
    url.searchParams.set('lang', lang);
    for (const [name, value] of Object.entries(params || {})) {
        if (value !== undefined && value !== null) {
            url.searchParams.set(name, String(value));
        }
    }
    let response;
    try {
        response = await fetch(url, {
            method,
            headers: body ? { 'Content-Type': 'application/json' } : {},
            body: body ? JSON.stringify(body) : undefined
        });
    } catch (error) {
        throw fetchResponse(0, 'Network Error', {
            message: `Could not reach the preview server: ${error.message}`
        });
    }
    const text = await response.text();
    let json;
    try {
        json = text ? JSON.parse(text) : null;
    } catch {
        json = { message: text };
    }
    if (!response.ok) {
        throw fetchResponse(response.status, response.statusText, json);
    }
    return deepFreeze(json);
}

/** Field references as LDS takes them: 'Object.Field' strings or schema imports. */
export function fieldNames(fields) {
    if (fields === undefined || fields === null) {
        return [];
    }
    const list = Array.isArray(fields) ? fields : [fields];
    return list.map((field) =>
        typeof field === 'string'
            ? field
            : `${field.objectApiName}.${field.fieldApiName}`
    );
}

/**
 * Base of the preview's wire adapters (LWC wire adapter protocol: constructor with
 * the data callback, update(config), connect(), disconnect()). Subclasses say which
 * request a config makes (undefined while a required parameter is missing: nothing
 * is provisioned, as with LDS) and which record ids a provisioned value holds.
 */
export class UiApiWireAdapter {
    constructor(dataCallback) {
        this.dataCallback = dataCallback;
        this.config = undefined;
        this.connected = false;
        this.sequence = 0;
        this.value = undefined;
    }

    update(config) {
        this.config = config;
        if (this.connected) {
            this.load();
        }
    }

    connect() {
        this.connected = true;
        liveAdapters.add(this);
        if (this.config) {
            this.load();
        }
    }

    disconnect() {
        this.connected = false;
        liveAdapters.delete(this);
    }

    /** Ids of the records in the last provisioned data. */
    recordIds() {
        return [];
    }

    /** Reads again and provisions the result; resolves once it is provisioned. */
    async load() {
        const request = this.config ? this.request(this.config) : undefined;
        if (!request) {
            return undefined;
        }
        this.sequence += 1;
        const sequence = this.sequence;
        let value;
        try {
            const data = await uiApiRequest(
                'GET',
                request.path,
                request.params
            );
            value = { data, error: undefined };
        } catch (error) {
            value = { data: undefined, error };
        }
        // A newer request (config change, refresh) or a disconnect supersedes this one.
        if (sequence !== this.sequence || !this.connected) {
            return undefined;
        }
        this.value = value;
        adapterOfValue.set(value, this);
        this.dataCallback(value);
        return value;
    }
}

/** refreshApex(value): re-reads the wire that provisioned value. */
export function refreshWiredValue(value) {
    const adapter = value ? adapterOfValue.get(value) : undefined;
    return adapter ? adapter.load() : Promise.resolve(undefined);
}

/** Re-reads every live wire that shows one of these records (LDS cache update). */
export function refreshRecords(recordIds) {
    const ids = new Set(recordIds.map((id) => String(id).substring(0, 15)));
    const loads = [];
    for (const adapter of liveAdapters) {
        if (
            adapter
                .recordIds()
                .some((id) => ids.has(String(id).substring(0, 15)))
        ) {
            loads.push(adapter.load());
        }
    }
    return Promise.all(loads);
}
