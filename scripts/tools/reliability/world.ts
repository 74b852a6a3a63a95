/**
 * A "world" for reliability trials: a local org with the package deployed, a ledger
 * file, a deterministic data set on both sides, sync clients whose every request is
 * recorded (so that tests can prove what the sync sent, e.g. never an opt-out field
 * set to false), and the views the checks need — a snapshot of the final Salesforce
 * and ledger state to compare with a fault-free run, and the audit trail.
 *
 * The org runs in this process (fast, and its admin handle injects faults); crash
 * trials point a child `optout` process at it through a local-org state file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { writeState } from '../local-org/connect';
import { seededRandom } from '../local-org/faults';
import { seedRecords, startTestOrg, type TestOrg } from '../local-org/testing';
import {
    OrgClient,
    type OrgClientOptions,
    type RequestingConnection
} from '../../salesforce/client';
import { writeSettings, type SyncSettings } from '../../salesforce/settings';
import { runJob, type RunJobOptions } from '../../sync/run';
import type { JobName, JobResult } from '../../sync/result';

/** One HTTP request a sync client sent (body as sent: JSON text or CSV). */
export interface SentRequest {
    method: string;
    url: string;
    body?: string;
    /** The request failed (an error status, or no answer). */
    failed?: boolean;
}

/** The opt-out fields the sync may write (R1) — never to false (R4). */
export const OPT_OUT_FIELDS = [
    'HasOptedOutOfEmail',
    'Marketo_Sales_Opt_Out__c'
] as const;

export interface WorldOptions {
    /** Client options of the sync (bulk threshold, page sizes…). */
    client?: Partial<OrgClientOptions>;
    /** Daily API allowance of the org (default 1,000,000: the budget is not the subject). */
    apiLimit?: number;
    seed?: number;
    /** Keep the ledger in memory (faster; no integrity check of a file). */
    memoryLedger?: boolean;
    /** A ledger location to use instead (e.g. a PostgreSQL URL for the PostgreSQL rows). */
    ledger?: string;
}

export class World {
    readonly dir: string;
    readonly ledgerPath: string;
    ledger: Ledger;
    readonly sent: SentRequest[] = [];
    /** Every JobResult of the sync in this world, in order (thrown runs included). */
    readonly results: JobResult[] = [];
    /** Seeded: trials are reproducible. */
    readonly random: () => number;
    /** How far the sync's clock runs ahead of the real one (see `advance`). */
    private offsetMs = 0;

    private constructor(
        readonly t: TestOrg,
        readonly options: WorldOptions,
        dir: string,
        ledgerPath: string,
        ledger: Ledger
    ) {
        this.dir = dir;
        this.ledgerPath = ledgerPath;
        this.ledger = ledger;
        this.random = seededRandom((options.seed ?? 1) * 7919 + 17);
    }

    static async create(options: WorldOptions = {}): Promise<World> {
        const t = await startTestOrg({
            deploy: true,
            apiLimit: options.apiLimit ?? 1_000_000,
            seed: options.seed ?? 1
        });
        const dir = mkdtempSync(join(tmpdir(), 'optout-reliability-'));
        const ledgerPath =
            options.ledger ??
            (options.memoryLedger ? ':memory:' : join(dir, 'ledger.db'));
        return new World(
            t,
            options,
            dir,
            ledgerPath,
            await Ledger.open(ledgerPath)
        );
    }

    get admin(): TestOrg['admin'] {
        return this.t.admin;
    }

    /** A connection whose requests are recorded before they go out. */
    private recordingConnection(): RequestingConnection {
        const conn = this.t.conn as unknown as RequestingConnection;
        const sent = this.sent;
        return {
            get instanceUrl() {
                return conn.instanceUrl;
            },
            get version() {
                return conn.version;
            },
            get accessToken() {
                return conn.accessToken;
            },
            request(req, options) {
                const entry: SentRequest = {
                    method: req.method,
                    url: req.url,
                    ...(req.body !== undefined ? { body: req.body } : {})
                };
                sent.push(entry);
                const answer = conn.request(req, options);
                // Noted for the checks; the caller still gets the rejection.
                answer.then(undefined, () => {
                    entry.failed = true;
                });
                return answer;
            }
        };
    }

    /** A sync client (a fresh process: nothing cached) that never really sleeps. */
    client(extra: Partial<OrgClientOptions> = {}): OrgClient {
        return new OrgClient(this.recordingConnection(), {
            targetOrg: 'local',
            local: true,
            sleep: async () => undefined,
            random: () => 0.5,
            poll: { minMs: 1, maxMs: 5 },
            ...(this.options.client ?? {}),
            ...extra
        });
    }

    /** Runs a job with a fresh client; a run that could not finish returns its result. */
    async run(
        job: JobName,
        options: Partial<RunJobOptions> & {
            client?: Partial<OrgClientOptions>;
        } = {}
    ): Promise<{ result: JobResult; error?: string }> {
        const { client: clientOptions, ...rest } = options;
        const org = this.client(clientOptions);
        const offset = this.offsetMs;
        try {
            const result = await runJob(job, {
                ledger: this.ledger,
                org,
                now: () => new Date(Date.now() + offset),
                ...rest
            });
            this.results.push(result);
            return { result };
        } catch (err) {
            const result = (err as { result?: JobResult }).result;
            if (!result) throw err;
            this.results.push(result);
            return {
                result,
                error: err instanceof Error ? err.message : String(err)
            };
        }
    }

    /** Moves the sync's clock forward (retries with back-off become due). */
    advance(ms: number): void {
        this.offsetMs += ms;
    }

    async settings(patch: Partial<SyncSettings>): Promise<void> {
        await writeSettings(
            new OrgClient(this.t.conn as unknown as RequestingConnection, {
                targetOrg: 'local',
                local: true
            }),
            patch
        );
    }

    seed(object: string, rows: Record<string, unknown>[]): Promise<string[]> {
        return seedRecords(this.t, object, rows);
    }

    /** SOQL through the test's own connection (faults off while it reads). */
    async query(soql: string): Promise<Record<string, unknown>[]> {
        const faults = this.admin.getFaults().spec;
        this.admin.clearFaults();
        try {
            const out: Record<string, unknown>[] = [];
            let res = await this.t.conn.query<Record<string, unknown>>(soql);
            for (;;) {
                for (const r of res.records) {
                    const { attributes: _a, ...rest } = r;
                    out.push(rest);
                }
                if (res.done || !res.nextRecordsUrl) break;
                res = await this.t.conn.queryMore<Record<string, unknown>>(
                    res.nextRecordsUrl
                );
            }
            return out;
        } finally {
            if (faults) this.admin.setFaults(faults);
        }
    }

    /** Points a child `optout --target-org local` (cwd = this.dir) at this org. */
    writeLocalOrgState(): void {
        writeState(join(this.dir, '.optout', 'local-org.json'), {
            instanceUrl: this.t.instanceUrl,
            accessToken: this.t.accessToken,
            pid: process.pid,
            port: this.t.org.port,
            dbPath: this.t.org.dbPath,
            orgId: this.t.org.orgId,
            username: this.t.org.username,
            startedAt: new Date().toISOString()
        });
    }

    /** Closes the ledger connection and opens the file again (another process's view). */
    async reopenLedger(): Promise<void> {
        await this.ledger.close();
        this.ledger = await Ledger.open(this.ledgerPath);
    }

    async close(): Promise<void> {
        await this.ledger.close();
        await this.t.close();
        rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Opt-out values (true/false) a list of sent requests set, per field. */
export function optOutValuesSent(
    sent: readonly SentRequest[]
): { field: string; value: string; url: string }[] {
    const out: { field: string; value: string; url: string }[] = [];
    for (const r of sent) {
        if (r.body === undefined || r.method === 'GET') continue;
        const text = r.body;
        if (/^\s*[[{]/.test(text)) {
            let parsed: unknown;
            try {
                parsed = JSON.parse(text);
            } catch {
                continue;
            }
            // A Composite request carries its writes in its subrequests' bodies.
            const composite = (
                parsed as { compositeRequest?: { body?: unknown }[] }
            ).compositeRequest;
            const bodies = Array.isArray(composite)
                ? composite.map((sub) => sub.body).filter((b) => b != null)
                : [parsed];
            const records = bodies.flatMap((b) =>
                Array.isArray((b as { records?: unknown }).records)
                    ? ((b as { records: unknown[] }).records as Record<
                          string,
                          unknown
                      >[])
                    : [b as Record<string, unknown>]
            );
            for (const rec of records)
                for (const f of OPT_OUT_FIELDS)
                    if (rec && f in rec)
                        out.push({
                            field: f,
                            value: String(rec[f]),
                            url: r.url
                        });
            continue;
        }
        // Bulk API 2.0 upload: CSV with a header line.
        const lines = text.split(/\r?\n/).filter((l) => l !== '');
        if (lines.length < 2) continue;
        const header = lines[0].split(',').map((h) => h.replace(/"/g, ''));
        for (const f of OPT_OUT_FIELDS) {
            const i = header.indexOf(f);
            if (i < 0) continue;
            for (const line of lines.slice(1))
                out.push({
                    field: f,
                    value: line.split(',')[i]?.replace(/"/g, '') ?? '',
                    url: r.url
                });
        }
    }
    return out;
}
