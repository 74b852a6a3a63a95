/**
 * Builds the data set of layout.ts in a fresh local org and a fresh ledger file:
 * the package deployed, Contacts and Leads inserted through the org's Bulk API 2.0
 * (seedRecords), leads converted through the org's admin route, the ledger's persons
 * and `news` memberships loaded with `importBatch` (the CSV import's batch API), the
 * 10 % global unsubscribes recorded with `recordUnsubscribes`, and the
 * Audience_Membership__c rows an earlier hourly run would have left (so the hourly
 * measured is the steady state: its cursor is set to the ledger's last change).
 * Settings: nightly sync on, all-audiences rule on.
 */
import Database from 'better-sqlite3';
import { to18 } from '../../model/ids';
import { Ledger } from '../../ledger/ledger';
import type { ImportRecord } from '../../ledger/ledger';
import { connectionFor } from '../local-org/connect';
import { deployPackage, seedRecords } from '../local-org/testing';
import { OrgClient } from '../../salesforce/client';
import { writeSettings } from '../../salesforce/settings';
import { desiredMembership } from '../../sync/decisions';
import { ALL_AUDIENCES_CURSOR, HOURLY_CURSOR } from '../../sync/hourly';
import {
    NEW_RECORDS_CURSOR,
    NEW_RECORDS_LOOKBACK_MS
} from '../../sync/new-records';
import { NEWS, person, sizes, type Person } from './layout';

export interface OrgAccess {
    instanceUrl: string;
    accessToken: string;
}

/** Rows per seeding request (one Bulk job each) and per ledger transaction. */
const SEED_CHUNK = 50_000;
const LEDGER_CHUNK = 5_000;

/** When the ledger's memberships were imported (fixed: runs compare equal). */
const IMPORTED_AT = '2025-01-01T00:00:00.000Z';

export interface BuildReport {
    seconds: Record<string, number>;
    counts: Record<string, number>;
}

/** Calls the org's admin surface (/local/…): never counted, never faulted. */
export async function admin<T = Record<string, unknown>>(
    org: OrgAccess,
    path: string,
    method = 'GET',
    body?: unknown
): Promise<T> {
    const res = await fetch(`${org.instanceUrl}/local/${path}`, {
        method,
        headers: {
            Authorization: `Bearer ${org.accessToken}`,
            ...(body !== undefined
                ? { 'Content-Type': 'application/json' }
                : {})
        },
        body: body === undefined ? undefined : JSON.stringify(body)
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`/local/${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
}

/** Seeds rows made by `make(i)` for i in [from, to), in Bulk jobs of SEED_CHUNK. */
async function seedRange(
    org: OrgAccess,
    object: string,
    indexes: readonly number[],
    make: (i: number) => Record<string, unknown>,
    onIds: (i: number, id: string) => void
): Promise<void> {
    for (let k = 0; k < indexes.length; k += SEED_CHUNK) {
        const slice = indexes.slice(k, k + SEED_CHUNK);
        const ids = await seedRecords(org, object, slice.map(make));
        slice.forEach((i, j) => onIds(i, to18(ids[j])));
    }
}

function contactRow(p: Person): Record<string, unknown> {
    return {
        FirstName: `First${p.i}`,
        LastName: `Last${p.i}`,
        Email: p.contactEmail,
        HasOptedOutOfEmail: p.optedOutInSalesforce
    };
}

function leadRow(p: Person, email: string): Record<string, unknown> {
    return {
        FirstName: `First${p.i}`,
        LastName: `Last${p.i}`,
        Company: `Company ${p.i % 997}`,
        Email: email,
        HasOptedOutOfEmail: p.optedOutInSalesforce
    };
}

/** A ledger the data set is loaded into; `label` names its build phases when several are. */
export interface LedgerTarget {
    /** As Ledger.open takes it: a file path or a postgres:// URL (an empty database). */
    location: string;
    label?: string;
}

type Timed = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/**
 * The ledger's side of the data set: persons and memberships, the 10 % global
 * unsubscribes. Returns how many unsubscribes it recorded.
 */
async function loadLedger(
    target: LedgerTarget,
    n: number,
    contactId: readonly (string | undefined)[],
    leadId: readonly (string | undefined)[],
    timed: Timed
): Promise<number> {
    const s = sizes(n);
    let unsubscribes = 0;
    const phase = target.label ? `ledger (${target.label})` : 'ledger';
    const ledger = await Ledger.open(target.location);
    try {
        await timed(
            `${phase}: persons and memberships (importBatch)`,
            async () => {
                for (let k = 0; k < n; k += LEDGER_CHUNK) {
                    const rows: ImportRecord[] = [];
                    for (let i = k; i < Math.min(n, k + LEDGER_CHUNK); i++) {
                        const p = person(i, s);
                        const own =
                            p.kind === 'contact'
                                ? contactId[i]
                                : p.kind === 'lead'
                                  ? leadId[i]
                                  : undefined;
                        rows.push({
                            email: p.ledgerEmail,
                            salesforceId: p.linked && own ? own : null,
                            audienceId: NEWS.id,
                            audienceName: NEWS.name,
                            status: 'Subscribed',
                            changedAt: IMPORTED_AT,
                            reason: null
                        });
                    }
                    await ledger.importBatch(rows, { source: 'import' });
                }
            }
        );
        await timed(`${phase}: 10 % global unsubscribes`, async () => {
            let batch: Parameters<Ledger['recordUnsubscribes']>[0] = [];
            for (let i = 0; i < n; i++) {
                const p = person(i, s);
                if (!p.unsubscribed) continue;
                batch.push({
                    email: p.email,
                    scope: 'all',
                    source: 'import',
                    collectedAt: IMPORTED_AT
                });
                unsubscribes++;
                if (batch.length === LEDGER_CHUNK) {
                    await ledger.recordUnsubscribes(batch);
                    batch = [];
                }
            }
            if (batch.length) await ledger.recordUnsubscribes(batch);
        });
    } finally {
        await ledger.close();
    }
    return unsubscribes;
}

/**
 * The cursors of the hourly run that wrote the org's memberships: set once they are
 * seeded, as that run would have left them.
 */
async function setCursors(
    target: LedgerTarget,
    convertedLeadIds: readonly string[]
): Promise<void> {
    const ledger = await Ledger.open(target.location);
    try {
        const seq = await ledger.maxSeq();
        await ledger.setCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name, seq);
        await ledger.setCursor(
            ALL_AUDIENCES_CURSOR.job,
            ALL_AUDIENCES_CURSOR.name,
            seq
        );
        // …and that run's check for records created (or Leads converted) since the one
        // before: dated past its 10-minute look-back, as if the data were older than
        // that, with the converted Leads it took (conversions are read by day) — so the
        // hourly measured finds no record new, as none is created meanwhile.
        await ledger.setCursor(
            NEW_RECORDS_CURSOR.job,
            NEW_RECORDS_CURSOR.name,
            JSON.stringify({
                at: new Date(
                    Date.now() + NEW_RECORDS_LOOKBACK_MS + 60_000
                ).toISOString(),
                seen: convertedLeadIds
            })
        );
    } finally {
        await ledger.close();
    }
}

/**
 * Builds the data set of `n` persons in the org (running, package not yet deployed)
 * and in each of `ledgers` (new, empty), the same in each: a SQLite file, a PostgreSQL
 * database, or both for an engine comparison on one org.
 */
export async function buildDataset(
    org: OrgAccess,
    ledgers: readonly LedgerTarget[],
    n: number,
    log: (line: string) => void = () => undefined
): Promise<BuildReport> {
    const s = sizes(n);
    const report: BuildReport = { seconds: {}, counts: {} };
    const timed: Timed = async <T>(
        what: string,
        fn: () => Promise<T>
    ): Promise<T> => {
        const t0 = Date.now();
        const out = await fn();
        report.seconds[what] = (Date.now() - t0) / 1000;
        // After a long synchronous phase (the ledger loads block the event loop for
        // longer than the org's 5 s keep-alive), let the loop see the sockets the org
        // closed meanwhile; otherwise the next request goes out on a dead one.
        await new Promise((r) => setTimeout(r, 50));
        log(`  ${what}: ${report.seconds[what].toFixed(1)} s`);
        return out;
    };

    await timed('deploy', async () => {
        const d = await deployPackage(org);
        if (!d.success)
            throw new Error(
                `deploy failed: ${d.componentFailures.map((f) => `${f.fullName}: ${f.problem ?? ''}`).join('; ')}`
            );
    });
    const conn = connectionFor(org);
    const client = new OrgClient(conn as never, {
        targetOrg: 'local',
        local: true
    });
    await writeSettings(client, {
        nightlySyncEnabled: true,
        allAudiencesRule: true
    });

    // Record ids per person: the Contact (or converted Contact), the own Lead, the dup Lead.
    const contactId: (string | undefined)[] = new Array(n);
    const leadId: (string | undefined)[] = new Array(n);
    const dupLeadId = new Map<number, string>();
    const all = Array.from({ length: n }, (_, i) => i);
    await timed('seed Contacts', () =>
        seedRange(
            org,
            'Contact',
            all.filter((i) => i < s.contacts),
            (i) => contactRow(person(i, s)),
            (i, id) => (contactId[i] = id)
        )
    );
    await timed('seed Leads', async () => {
        await seedRange(
            org,
            'Lead',
            all.filter((i) => i >= s.contacts && i < s.ownLeadsEnd),
            (i) => {
                const p = person(i, s);
                return leadRow(p, p.email);
            },
            (i, id) => (leadId[i] = id)
        );
        await seedRange(
            org,
            'Lead',
            all.filter((i) => person(i, s).dupLead),
            (i) => {
                const p = person(i, s);
                return leadRow(p, p.email.toUpperCase());
            },
            (i, id) => dupLeadId.set(i, id)
        );
    });
    const convertedLeadIds: string[] = [];
    await timed('convert leads', async () => {
        let converted = 0;
        for (let i = 0; i < n; i++) {
            const p = person(i, s);
            if (p.dupLeadConverted) {
                await admin(org, 'convert-lead', 'POST', {
                    leadId: dupLeadId.get(i),
                    contactId: contactId[i]
                });
                convertedLeadIds.push(dupLeadId.get(i) as string);
                converted++;
            } else if (p.ownLeadConverted) {
                const r = await admin<{ contactId: string }>(
                    org,
                    'convert-lead',
                    'POST',
                    { leadId: leadId[i] }
                );
                contactId[i] = to18(r.contactId);
                convertedLeadIds.push(leadId[i] as string);
                converted++;
            }
        }
        report.counts.convertedLeads = converted;
    });

    for (const target of ledgers)
        report.counts.ledgerUnsubscribes = await loadLedger(
            target,
            n,
            contactId,
            leadId,
            timed
        );
    // The memberships an earlier hourly run wrote (its cursor = the last change).
    await timed('seed Audience_Membership__c', async () => {
        const rows: Record<string, unknown>[] = [];
        let count = 0;
        const flush = async (): Promise<void> => {
            if (!rows.length) return;
            await seedRecords(org, 'Audience_Membership__c', rows);
            count += rows.length;
            rows.length = 0;
        };
        for (let i = 0; i < n; i++) {
            const p = person(i, s);
            const targets: { id: string; object: 'Contact' | 'Lead' }[] = [];
            if (p.kind === 'contact') {
                targets.push({
                    id: contactId[i] as string,
                    object: 'Contact'
                });
                if (p.dupLead && !p.dupLeadConverted)
                    targets.push({
                        id: dupLeadId.get(i) as string,
                        object: 'Lead'
                    });
            } else if (p.kind === 'lead') {
                targets.push(
                    p.ownLeadConverted
                        ? { id: contactId[i] as string, object: 'Contact' }
                        : { id: leadId[i] as string, object: 'Lead' }
                );
            }
            for (const t of targets)
                rows.push({
                    ...desiredMembership(
                        {
                            audienceId: NEWS.id,
                            audienceName: NEWS.name,
                            email: p.ledgerEmail,
                            status: 'Subscribed',
                            changedAt: IMPORTED_AT,
                            source: 'import',
                            reason: null
                        },
                        t
                    )
                });
            if (rows.length >= SEED_CHUNK) await flush();
        }
        await flush();
        report.counts.audienceMemberships = count;
    });
    // The memberships' run read each ledger up to its last change (its cursors).
    for (const target of ledgers) await setCursors(target, convertedLeadIds);
    await admin(org, 'stats/reset', 'POST');
    await admin(org, 'usage/reset', 'POST');
    return report;
}

/** The time the data set's records are dated to (long before any job of a run). */
export const RECORDS_DATED = Date.parse(IMPORTED_AT);

/** The org objects whose seeded rows are dated back. */
const DATED_OBJECTS = ['Account', 'Contact', 'Lead', 'Audience_Membership__c'];

/**
 * Dates the seeded records back to RECORDS_DATED (CreatedDate, LastModifiedDate,
 * SystemModstamp) in the stopped org's database file, as the records of an org that has
 * been there a while: a nightly reading what changed since the one before (R16, with a
 * 10-minute look-back) must not find the whole data set changed because it was seeded
 * a minute before the run. Leads' ConvertedDate is left as it is (the hourly's check
 * for conversions knows them: see setCursors). Returns the rows dated per object.
 */
export function dateRecordsBack(
    orgDbPath: string,
    at: number = RECORDS_DATED
): Record<string, number> {
    const db = new Database(orgDbPath);
    const out: Record<string, number> = {};
    try {
        for (const object of DATED_OBJECTS) {
            const table = `o_${object}`;
            const cols = new Set(
                (
                    db.prepare(`PRAGMA table_info("${table}")`).all() as {
                        name: string;
                    }[]
                ).map((c) => c.name)
            );
            const set = ['CreatedDate', 'LastModifiedDate', 'SystemModstamp']
                .filter((c) => cols.has(c))
                .map((c) => `"${c}" = @at`);
            if (!set.length) continue;
            out[object] = db
                .prepare(`UPDATE "${table}" SET ${set.join(', ')}`)
                .run({ at }).changes;
        }
        db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
        db.close();
    }
    return out;
}
