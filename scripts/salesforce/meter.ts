/**
 * Counts every HTTP request a client makes — jsforce's own retries, query pages, the
 * calls @salesforce/core makes while connecting — at Node's http layer, through the
 * `http.client.request.start` / `http.client.response.finish` diagnostics channels.
 * A request belongs to the meter whose async scope issued it (AsyncLocalStorage), so
 * several clients in one process (scheduler, webhook) keep separate counts. The same
 * hook captures each response's status and headers (Sforce-Limit-Info, Sforce-Locator),
 * which jsforce's `Connection.request` does not hand back.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/** The status and headers of the one HTTP exchange a call made (the last one). */
export interface CallCapture {
    requests: number;
    status?: number;
    headers?: IncomingMessage['headers'];
}

interface Scope {
    meter: RequestMeter;
    capture?: CallCapture;
}

const storage = new AsyncLocalStorage<Scope>();
const scopes = new WeakMap<ClientRequest, Scope>();
let subscribed = false;

function ensureSubscribed(): void {
    if (subscribed) return;
    subscribed = true;
    subscribe('http.client.request.start', (message) => {
        const scope = storage.getStore();
        if (!scope) return;
        const { request } = message as { request: ClientRequest };
        scopes.set(request, scope);
        scope.meter.onRequest(request.method, request.path);
        if (scope.capture) scope.capture.requests += 1;
    });
    subscribe('http.client.response.finish', (message) => {
        const { request, response } = message as {
            request: ClientRequest;
            response: IncomingMessage;
        };
        const scope = scopes.get(request);
        if (!scope) return;
        scope.meter.onResponse(response.statusCode ?? 0, response.headers);
        if (scope.capture) {
            scope.capture.status = response.statusCode;
            scope.capture.headers = response.headers;
        }
    });
}

export interface ApiUsage {
    used: number;
    max: number;
}

/** `api-usage=18/15000` → {used: 18, max: 15000}. */
export function parseLimitInfo(
    header: string | string[] | undefined
): ApiUsage | undefined {
    const text = Array.isArray(header) ? header.join(',') : header;
    // Not per-app-api-usage=…, which real orgs may send in the same header.
    const m = /(?:^|[\s,;])api-usage=(\d+)\/(\d+)/.exec(text ?? '');
    return m ? { used: Number(m[1]), max: Number(m[2]) } : undefined;
}

export class RequestMeter {
    /** Every HTTP request made in this meter's scope. */
    requests = 0;
    readonly byMethod: Record<string, number> = {};
    /** The org's usage from the last Sforce-Limit-Info header seen. */
    usage: ApiUsage | undefined;
    /** Requests made since that header (not yet reflected in `usage`). */
    private sinceUsage = 0;
    private usageAt = 0;

    /**
     * `usageTtlMs`: a reading older than this is not trusted for budget decisions (the
     * next request refreshes it), so a long-lived client (webhook, scheduler) that
     * stopped at its budget starts again once the org's 24-hour window has moved on.
     */
    constructor(
        readonly usageTtlMs = 5 * 60_000,
        private readonly now: () => number = Date.now
    ) {
        ensureSubscribed();
    }

    onRequest(method: string, _path: string): void {
        this.requests += 1;
        this.byMethod[method] = (this.byMethod[method] ?? 0) + 1;
        this.sinceUsage += 1;
    }

    onResponse(_status: number, headers: IncomingMessage['headers']): void {
        const usage = parseLimitInfo(headers['sforce-limit-info']);
        if (usage) {
            this.usage = usage;
            this.sinceUsage = 0;
            this.usageAt = this.now();
        }
    }

    /** Best estimate of the org's usage now: the last header plus requests since. */
    estimatedUsage(): ApiUsage | undefined {
        if (!this.usage) return undefined;
        return {
            used: this.usage.used + this.sinceUsage,
            max: this.usage.max
        };
    }

    /** The estimate, or undefined when the reading is too old to decide on. */
    freshUsage(): ApiUsage | undefined {
        if (!this.usage || this.now() - this.usageAt > this.usageTtlMs)
            return undefined;
        return {
            used: this.usage.used + this.sinceUsage,
            max: this.usage.max
        };
    }

    /** Runs `fn` with its HTTP requests counted here (and captured, when given). */
    run<T>(fn: () => Promise<T>, capture?: CallCapture): Promise<T> {
        return storage.run({ meter: this, capture }, fn);
    }
}
