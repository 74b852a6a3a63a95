/**
 * The preview server's client of the org's REST API (the server holds the token; the
 * page never sees it): requests, describes (cached briefly), queries with paging.
 */
import { LOCAL_ORG_API_VERSION } from '../local-org/connect';

export interface OrgTarget {
    instanceUrl: string;
    accessToken: string;
}

/** An answer of the org that was not a success, with its REST error body. */
export class OrgRequestError extends Error {
    readonly status: number;
    readonly statusText: string;
    /** REST errors: [{ message, errorCode, fields? }]. */
    readonly errors: Array<{
        message: string;
        errorCode: string;
        fields?: string[];
    }>;

    constructor(
        status: number,
        statusText: string,
        errors: OrgRequestError['errors']
    ) {
        super(errors.map((e) => `${e.errorCode}: ${e.message}`).join('; '));
        this.name = 'OrgRequestError';
        this.status = status;
        this.statusText = statusText;
        this.errors = errors;
    }
}

export interface DescribeField {
    name: string;
    label: string;
    type: string;
    updateable: boolean;
    nameField?: boolean;
    relationshipName: string | null;
    referenceTo: string[];
    picklistValues: Array<{ value: string; label: string; active: boolean }>;
}

export interface DescribeObject {
    name: string;
    label: string;
    labelPlural: string;
    keyPrefix: string | null;
    fields: DescribeField[];
    childRelationships: Array<{
        childSObject: string;
        field: string;
        relationshipName: string | null;
    }>;
}

export type SoqlRecord = Record<string, unknown> & {
    attributes?: { type: string; url: string };
};

/** Parses a REST error answer (array body, or a gateway's HTML page). */
function restErrors(
    status: number,
    statusText: string,
    text: string
): OrgRequestError['errors'] {
    try {
        const body = JSON.parse(text) as unknown;
        if (Array.isArray(body) && body.length > 0) {
            return body.map((e: Record<string, unknown>) => ({
                message: String(e.message ?? ''),
                errorCode: String(e.errorCode ?? e.statusCode ?? 'UNKNOWN'),
                ...(Array.isArray(e.fields)
                    ? { fields: e.fields.map(String) }
                    : {})
            }));
        }
    } catch {
        // not JSON: a load balancer's page
    }
    return [
        {
            errorCode: status >= 500 ? 'SERVER_UNAVAILABLE' : 'UNKNOWN',
            message: `The org answered ${status} ${statusText}`.trim()
        }
    ];
}

export class OrgRest {
    private readonly base: string;
    private readonly describes = new Map<
        string,
        { at: number; value: DescribeObject }
    >();
    private global: { at: number; prefixes: Map<string, string> } | undefined;

    constructor(
        private readonly target: OrgTarget,
        readonly version = LOCAL_ORG_API_VERSION,
        /** How long a describe stays cached (a deploy can change it). */
        private readonly describeTtlMs = 5_000
    ) {
        this.base = `${target.instanceUrl.replace(/\/$/, '')}/services/data/v${version}`;
    }

    /** One REST call; resolves the parsed body (undefined for 204), else throws OrgRequestError. */
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
        let res: Response;
        try {
            res = await fetch(`${this.base}${path}`, {
                method,
                headers: {
                    Authorization: `Bearer ${this.target.accessToken}`,
                    Accept: 'application/json',
                    ...(body !== undefined
                        ? { 'Content-Type': 'application/json' }
                        : {})
                },
                body: body !== undefined ? JSON.stringify(body) : undefined
            });
        } catch (err) {
            throw new OrgRequestError(502, 'Bad Gateway', [
                {
                    errorCode: 'SERVER_UNAVAILABLE',
                    message: `The org at ${this.target.instanceUrl} did not answer: ${
                        err instanceof Error
                            ? ((err.cause as Error | undefined)?.message ??
                              err.message)
                            : String(err)
                    }`
                }
            ]);
        }
        const text = await res.text();
        if (!res.ok) {
            throw new OrgRequestError(
                res.status,
                res.statusText,
                restErrors(res.status, res.statusText, text)
            );
        }
        return (text ? JSON.parse(text) : undefined) as T;
    }

    /** Every record of a SOQL query (follows nextRecordsUrl). */
    async query(soql: string): Promise<SoqlRecord[]> {
        let page = await this.request<{
            records: SoqlRecord[];
            done: boolean;
            nextRecordsUrl?: string;
        }>('GET', `/query?q=${encodeURIComponent(soql)}`);
        const records = [...page.records];
        while (!page.done && page.nextRecordsUrl) {
            const locator = page.nextRecordsUrl.split('/').pop() ?? '';
            page = await this.request('GET', `/query/${locator}`);
            records.push(...page.records);
        }
        return records;
    }

    async describe(objectName: string): Promise<DescribeObject> {
        const key = objectName.toLowerCase();
        const cached = this.describes.get(key);
        if (cached && Date.now() - cached.at < this.describeTtlMs) {
            return cached.value;
        }
        const value = await this.request<DescribeObject>(
            'GET',
            `/sobjects/${encodeURIComponent(objectName)}/describe`
        );
        this.describes.set(key, { at: Date.now(), value });
        return value;
    }

    /** The object a record id belongs to (by key prefix), or undefined. */
    async objectOfId(id: string): Promise<string | undefined> {
        if (!this.global || Date.now() - this.global.at > this.describeTtlMs) {
            const body = await this.request<{
                sobjects: Array<{ name: string; keyPrefix: string | null }>;
            }>('GET', '/sobjects');
            const prefixes = new Map<string, string>();
            for (const o of body.sobjects) {
                if (o.keyPrefix) prefixes.set(o.keyPrefix, o.name);
            }
            this.global = { at: Date.now(), prefixes };
        }
        return this.global.prefixes.get(id.substring(0, 3));
    }

    /** The org user's time zone (userinfo zoneinfo), for dates as the user sees them. */
    async userTimeZone(): Promise<string | undefined> {
        try {
            const res = await fetch(
                `${this.target.instanceUrl.replace(/\/$/, '')}/services/oauth2/userinfo`,
                {
                    headers: {
                        Authorization: `Bearer ${this.target.accessToken}`
                    }
                }
            );
            if (!res.ok) return undefined;
            const body = (await res.json()) as { zoneinfo?: unknown };
            return typeof body.zoneinfo === 'string'
                ? body.zoneinfo
                : undefined;
        } catch {
            return undefined;
        }
    }
}

/** A string as a SOQL literal (quotes and backslashes escaped). */
export function soqlString(value: string): string {
    return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A search text as a LIKE pattern matching it anywhere (wildcards escaped). */
export function soqlContains(value: string): string {
    const escaped = value
        .replace(/\\/g, '\\\\')
        .replace(/'/g, "\\'")
        .replace(/%/g, '\\%')
        .replace(/_/g, '\\_');
    return `'%${escaped}%'`;
}
