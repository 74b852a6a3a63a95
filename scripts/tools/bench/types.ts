/**
 * The shapes the benchmark's processes exchange: the jobs and ways measured, the task
 * a worker gets and the result it sends back.
 */
export const BENCH_JOBS = [
    'nightly-cold',
    'nightly-next',
    'nightly-again',
    'nightly-full',
    'hourly-first',
    'hourly',
    'hourly-100',
    'push-burst'
] as const;
export type BenchJob = (typeof BENCH_JOBS)[number];

export const VARIANTS = ['sync', 'collections', 'naive'] as const;
export type Variant = (typeof VARIANTS)[number];

/** Where the ledger lives: a SQLite file (the default) or a PostgreSQL database. */
export const LEDGER_ENGINES = ['sqlite', 'postgres'] as const;
export type LedgerEngine = (typeof LEDGER_ENGINES)[number];

export interface WorkerTask {
    org: { instanceUrl: string; accessToken: string };
    /** The ledger's location as Ledger.open takes it: a file path or a postgres:// URL. */
    ledgerPath: string;
    job: BenchJob;
    variant: Variant;
    n: number;
    /** Naive baseline: persons (or changes) processed for real before extrapolating. */
    naiveSample: number;
    /** Push burst: the persons (layout numbers) who unsubscribe, computed by the parent
     *  so that choosing them is not part of the measured job. */
    burstPersons: number[];
    /** Client options on top of the variant's (experiments: page and job sizes). */
    clientOptions?: {
        bulkJobSize?: number;
        bulkQueryPageSize?: number;
        bulkThreshold?: number;
        restPageSize?: number;
    };
    /** Push burst: arrivals and the time between them. */
    burst?: { arrivals: number; gapMs: number };
    /**
     * The job's clock ahead of real time, ms (runJob's `now`): the sequence's schedule —
     * nights a day apart, hours an hour apart — since its jobs run minutes apart.
     */
    clockOffsetMs?: number;
    /** An unmeasured run that sets the state up (a settle nightly, a warm-up hourly). */
    unmeasured?: boolean;
}

export interface WorkerResult {
    type: 'result';
    job: BenchJob;
    variant: Variant;
    wallMs: number;
    /** Requests the client counted (JobResult.apiRequests, summed over pushes). */
    apiRequests: number;
    recordsWritten: number;
    membershipsUpserted: number;
    ledgerUnsubscribesAdded: number;
    unsubscribesDelivered: number;
    status: string;
    failed: number;
    /** Requests and records the client sent again (transient failures, lock errors). */
    retried: { requests: number; records: number };
    skipped: Record<string, number>;
    modes: Record<string, string>;
    /** Nightly (R16): the reconciliation that ran, as JobResult.reconciliation has it. */
    reconciliation?: {
        mode: string;
        reason: string;
        since?: string;
        recordsRead: number;
        ledgerPersons: number | null;
    };
    /** Push burst: pushes run, and collected → delivered seconds (median, max). */
    pushes?: number;
    deliverySeconds?: { median: number; max: number };
    /** Naive: what was measured and what is extrapolated. */
    naive?: {
        extrapolated: boolean;
        sampledItems: number;
        totalItems: number;
        measuredRequests: number;
        measuredMs: number;
    };
    /** When each phase the job reported began and ended (ms from the job's start). */
    phases?: Record<
        string,
        { fromMs: number; toMs: number; done: number; rssMiB?: number }
    >;
    /** The job's log lines, with ms from its start (the first 40). */
    timeline?: string[];
    memory: {
        rssBeforeJobBytes: number;
        peakBytes: number;
        maxRssBytes: number;
        /** Most heap in use just after a full GC (the kept set; older runs: absent). */
        heapAfterGcBytes?: number;
        /** Full (mark-compact) GCs during the job. */
        fullGcs?: number;
    };
}
