/**
 * What every handler of the local org shares: the store, the query engine, faults,
 * API usage, statistics and settings.
 */
import type { FaultInjector } from './faults';
import type { QueryEngine } from './query';
import type { OrgStore } from './store';

/**
 * How this org is configured, where real orgs differ. The defaults are the strict ones
 * (the local org is never kinder than Salesforce): duplicate rules active as the
 * standard Contact and Lead rules are in most orgs, Translation Workbench off as in a
 * new org. Persisted in the store (meta `orgOptions`) so every process that opens the
 * same file sees the same org; `LocalOrgOptions.orgOptions` and `PUT /local/options`
 * change them.
 */
export interface OrgOptions {
    /** Standard duplicate rules on Contact and Lead (block unless allowSave=true). */
    duplicateRules: boolean;
    /** Translation Workbench enabled (Translations / CustomObjectTranslation deploy). */
    translationWorkbench: boolean;
    /** Org-wide default for Lead: Public Read/Write (default) or Private. */
    leadSharing: 'ReadWrite' | 'Private';
}

export const DEFAULT_ORG_OPTIONS: OrgOptions = {
    duplicateRules: true,
    translationWorkbench: false,
    leadSharing: 'ReadWrite'
};

/** Reads partial options (from JSON or a caller); refuses unknown keys and bad values. */
export function parseOrgOptions(input: unknown): Partial<OrgOptions> {
    if (!input || typeof input !== 'object' || Array.isArray(input))
        throw new Error('Org options must be a JSON object');
    const out: Partial<OrgOptions> = {};
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
        if (k === 'duplicateRules' || k === 'translationWorkbench') {
            if (typeof v !== 'boolean')
                throw new Error(`Org option ${k} must be true or false`);
            out[k] = v;
        } else if (k === 'leadSharing') {
            if (v !== 'ReadWrite' && v !== 'Private')
                throw new Error(
                    'Org option leadSharing must be "ReadWrite" or "Private"'
                );
            out.leadSharing = v;
        } else
            throw new Error(
                `Unknown org option ${k} (known: ${Object.keys(DEFAULT_ORG_OPTIONS).join(', ')})`
            );
    }
    return out;
}

export interface OrgSettings {
    /** Org configuration (duplicate rules, Translation Workbench, sharing). */
    options: OrgOptions;
    /** Rows per transaction when processing Bulk ingest jobs. */
    bulkChunkSize: number;
    /** Rows per Bulk query result page when the client gives no maxRecords. */
    bulkQueryPageSize: number;
    /** Daily API request allowance. */
    apiLimit: number;
}

/** Per-kind request counts and other measurements (GET /local/stats). */
export class Stats {
    totalRequests = 0;
    byKind: Record<string, number> = {};
    /**
     * Subrequests run inside Composite requests, per kind: not requests of their own
     * (not in totalRequests, byKind or the API usage), counted here to see what the
     * composite requests carried.
     */
    subrequests: Record<string, number> = {};
    rejected = { unauthorized: 0, limitExceeded: 0, notFound: 0 };
    bulkBatches = 0;
    bulkQueryJobs = 0;
    bulkRecordsProcessed = 0;
    deploys = 0;

    count(kind: string): void {
        this.totalRequests++;
        this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    }

    countSubrequest(kind: string): void {
        this.subrequests[kind] = (this.subrequests[kind] ?? 0) + 1;
    }

    reset(): void {
        this.totalRequests = 0;
        this.byKind = {};
        this.subrequests = {};
        this.rejected = { unauthorized: 0, limitExceeded: 0, notFound: 0 };
        this.bulkBatches = 0;
        this.bulkQueryJobs = 0;
        this.bulkRecordsProcessed = 0;
        this.deploys = 0;
    }
}

/** Daily API request usage (the Sforce-Limit-Info counter), persisted in the store. */
export class ApiUsage {
    used = 0;
    private day: string;
    private dirty = 0;

    constructor(
        private readonly store: OrgStore,
        public limit: number
    ) {
        this.day = today();
        const savedDay = store.getMeta('usageDay');
        if (savedDay === this.day)
            this.used = Number(store.getMeta('usageUsed') ?? 0);
    }

    /** Rolls the counter over at midnight UTC (Salesforce uses a rolling 24 hours). */
    private roll(): void {
        const d = today();
        if (d !== this.day) {
            this.day = d;
            this.used = 0;
        }
    }

    exhausted(): boolean {
        this.roll();
        return this.used >= this.limit;
    }

    increment(): void {
        this.roll();
        this.used++;
        if (++this.dirty >= 50) this.flush();
    }

    set(used: number): void {
        this.used = used;
        this.flush();
    }

    flush(): void {
        this.dirty = 0;
        if (!this.store.db.open) return;
        this.store.setMeta('usageDay', this.day);
        this.store.setMeta('usageUsed', String(this.used));
    }

    header(): string {
        return `api-usage=${this.used}/${this.limit}`;
    }
}

function today(): string {
    return new Date().toISOString().slice(0, 10);
}

export interface OrgContext {
    store: OrgStore;
    queries: QueryEngine;
    faults: FaultInjector;
    stats: Stats;
    usage: ApiUsage;
    settings: OrgSettings;
    instanceUrl: () => string;
    log: (line: string) => void;
}
