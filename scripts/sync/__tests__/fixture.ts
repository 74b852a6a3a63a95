/**
 * A fresh local org (package deployed) and an in-memory ledger per test, an OrgClient
 * that never sleeps (back-off and polling are injected), and helpers to seed records and
 * read the final Salesforce state through jsforce.
 */
import { Ledger } from '../../ledger/ledger';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient, type OrgClientOptions } from '../../salesforce/client';
import { writeSettings, type SyncSettings } from '../../salesforce/settings';
import { runJob, type RunJobOptions } from '../run';
import type { JobName, JobResult } from '../result';

export interface Fixture {
    t: TestOrg;
    ledger: Ledger;
    client: OrgClient;
    /** Sleeps the client asked for (back-off, polls), in ms. */
    sleeps: number[];
    run(job: JobName, options?: Partial<RunJobOptions>): Promise<JobResult>;
    /** A new client on the same org (a fresh process: nothing cached). */
    newClient(options?: Partial<OrgClientOptions>): OrgClient;
    settings(patch: Partial<SyncSettings>): Promise<void>;
    contacts(rows: Record<string, unknown>[]): Promise<string[]>;
    leads(rows: Record<string, unknown>[]): Promise<string[]>;
    /** Field values of records, by id (queried through jsforce). */
    values(
        object: 'Contact' | 'Lead',
        ids: readonly string[],
        field?: string
    ): Promise<Record<string, unknown>>;
    memberships(): Promise<Record<string, unknown>[]>;
    /** Requests the org served since the last reset. */
    served(): number;
    reset(): void;
    close(): Promise<void>;
}

export async function setup(
    options: {
        client?: Partial<OrgClientOptions>;
        org?: Parameters<typeof startTestOrg>[0];
    } = {}
): Promise<Fixture> {
    const t = await startTestOrg({ deploy: true, ...(options.org ?? {}) });
    const ledger = await Ledger.open(':memory:');
    const sleeps: number[] = [];
    const newClient = (extra: Partial<OrgClientOptions> = {}): OrgClient =>
        new OrgClient(t.conn as never, {
            targetOrg: 'local',
            local: true,
            sleep: async (ms) => {
                sleeps.push(ms);
            },
            random: () => 0.5,
            ...(options.client ?? {}),
            ...extra
        });
    const client = newClient();
    const f: Fixture = {
        t,
        ledger,
        client,
        sleeps,
        run: (job, o = {}) => runJob(job, { ledger, org: client, ...o }),
        newClient,
        async settings(patch) {
            await writeSettings(newClient(), patch);
        },
        contacts: (rows) => seedRecords(t, 'Contact', rows),
        leads: (rows) =>
            seedRecords(
                t,
                'Lead',
                rows.map((r) => ({ Company: 'Acme', ...r }))
            ),
        async values(object, ids, field = 'HasOptedOutOfEmail') {
            const out: Record<string, unknown> = {};
            if (ids.length === 0) return out;
            for (let i = 0; i < ids.length; i += 300) {
                const chunk = ids.slice(i, i + 300);
                const res = await t.conn.query<Record<string, unknown>>(
                    `SELECT Id, ${field} FROM ${object} WHERE Id IN (${chunk.map((id) => `'${id}'`).join(', ')})`
                );
                for (const r of res.records) out[r.Id as string] = r[field];
            }
            return out;
        },
        async memberships() {
            const res = await t.conn.query<Record<string, unknown>>(
                'SELECT Id, Membership_Key__c, Contact__c, Lead__c, Audience_Id__c, Audience_Name__c, Email__c, Status__c, Status_Changed_At__c, Source__c, Unsubscribe_Reason__c, Pending_Push__c FROM Audience_Membership__c ORDER BY Membership_Key__c'
            );
            return res.records.map((r) => {
                const { attributes: _a, ...rest } = r;
                return rest;
            });
        },
        served: () => t.admin.stats().totalRequests,
        reset: () => t.admin.resetStats(),
        async close() {
            await ledger.close();
            await t.close();
        }
    };
    t.admin.resetStats();
    return f;
}

/** n people person{i}@example.com as Contacts (or Leads). */
export function people(
    n: number,
    options: {
        type?: 'Contact' | 'Lead';
        offset?: number;
        domain?: string;
    } = {}
): Record<string, unknown>[] {
    return fakePeople(n, options);
}

/** Records `n` global unsubscribes person{offset..}@example.com. */
export async function unsubscribe(
    ledger: Ledger,
    emails: readonly string[],
    source: 'webhook' | 'platform' = 'webhook'
): Promise<number[]> {
    const ids: number[] = [];
    for (const email of emails)
        ids.push(
            (await ledger.recordUnsubscribe({ email, scope: 'all', source }))
                .unsubscribe.id
        );
    return ids;
}

export function emails(
    n: number,
    offset = 0,
    domain = 'example.com'
): string[] {
    return Array.from({ length: n }, (_, i) => `person${i + offset}@${domain}`);
}
