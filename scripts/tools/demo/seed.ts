/**
 * Puts the demo data set into the org and the ledger — through the org's own APIs
 * (Bulk API 2.0 inserts, the local org's admin lead conversion) and the ledger's import
 * path — and recognises a ledger and org it seeded before, so a second run reuses them.
 */
import type { Ledger, ImportRecord } from '../../ledger/ledger';
import { OptoutError } from '../../model/errors';
import { seedRecords } from '../local-org/testing';
import type { OrgClient } from '../../salesforce/client';
import {
    AUDIENCES,
    DEMO_DATA_VERSION,
    peopleByKey,
    type DemoData,
    type DemoPerson,
    type DemoSize
} from './data';
import { createDemoUsers, type DemoUsers } from './users';

export interface OrgTarget {
    instanceUrl: string;
    accessToken: string;
}

/** What the ledger remembers of the seed (cursor `demo/seed`). */
export interface SeedMarker {
    version: number;
    seed: number;
    size: DemoSize;
    seededAt: string;
    contacts: number;
    leads: number;
    /** Salesforce ids of the generated people, by key. */
    ids: Record<string, string>;
    /** The users the demo created (the sync runs as `integration`). */
    users: DemoUsers;
}

export const MARKER = { job: 'demo', name: 'seed' } as const;

export interface SeedCounts {
    accounts: number;
    contacts: number;
    leads: number;
    convertedLeads: number;
    salesforcePending: number;
    ledgerPersons: number;
    memberships: number;
    ledgerGlobalUnsubscribes: number;
    audienceUnsubscribes: number;
}

export async function readMarker(
    ledger: Ledger
): Promise<SeedMarker | undefined> {
    const raw = await ledger.getCursor(MARKER.job, MARKER.name);
    if (!raw) return undefined;
    try {
        return JSON.parse(raw) as SeedMarker;
    } catch {
        return undefined;
    }
}

/** Counts of what the org holds (Contacts include the converted lead's new Contact). */
export async function orgCounts(
    client: OrgClient
): Promise<{ contacts: number; leads: number }> {
    return {
        contacts: await client.count('SELECT COUNT() FROM Contact'),
        leads: await client.count('SELECT COUNT() FROM Lead')
    };
}

/**
 * Whether to seed, reuse, or stop: a ledger and org this demo seeded with the same seed
 * and size are reused; empty ones are seeded; anything else is someone's data, which
 * the demo never touches (`--reset` works only on the demo's own files).
 */
export function seedDecision(
    marker: SeedMarker | undefined,
    ledgerPersons: number,
    org: { contacts: number; leads: number },
    wanted: { seed: number; size: DemoSize; contacts: number; leads: number },
    where: { ledger: string; db: string }
): 'seed' | 'reuse' {
    if (!marker) {
        if (ledgerPersons === 0 && org.contacts === 0 && org.leads === 0)
            return 'seed';
        throw new OptoutError(
            'NOT_DEMO_DATA',
            ledgerPersons > 0
                ? `The ledger ${where.ledger} holds ${ledgerPersons} people the demo did not create; the demo leaves it alone.`
                : `The local org ${where.db} holds ${org.contacts} Contacts and ${org.leads} Leads the demo did not create; the demo leaves it alone.`,
            {
                actions: [
                    'Run the demo on its own files: npm start -- --ledger .optout/demo/ledger.db --db .optout/demo/local-org.db',
                    'Or point OPTOUT_LEDGER elsewhere for your own data'
                ]
            }
        );
    }
    const sameData =
        marker.version === DEMO_DATA_VERSION &&
        marker.seed === wanted.seed &&
        marker.size === wanted.size;
    if (
        sameData &&
        org.contacts === marker.contacts &&
        org.leads === marker.leads
    )
        return 'reuse';
    throw new OptoutError(
        'DEMO_DATA_CHANGED',
        sameData
            ? `The demo seeded ${where.ledger} and ${where.db} before, but the org now has ${org.contacts} Contacts and ${org.leads} Leads (the seed made ${marker.contacts} and ${marker.leads}).`
            : `The demo data in ${where.ledger} was made with --size ${marker.size} --seed ${marker.seed}${marker.version !== DEMO_DATA_VERSION ? ' by another version of the demo' : ''}, not --size ${wanted.size} --seed ${wanted.seed}.`,
        {
            actions: [
                'Start over with fresh demo data: npm start -- --reset',
                `Or run again with --size ${marker.size} --seed ${marker.seed}`
            ]
        }
    );
}

async function adminPost(
    target: OrgTarget,
    path: string,
    body: unknown
): Promise<Record<string, unknown>> {
    const res = await fetch(`${target.instanceUrl}/local/${path}`, {
        method: 'POST',
        headers: {
            Authorization: `Bearer ${target.accessToken}`,
            'Content-Type': 'application/json'
        },
        body: JSON.stringify(body)
    });
    const text = await res.text();
    if (!res.ok)
        throw new OptoutError(
            'DEMO_SEED_FAILED',
            `The local org refused ${path}: ${text.slice(0, 300)}`
        );
    return JSON.parse(text) as Record<string, unknown>;
}

/** 18-character ids of inserted records come back from the Bulk API in input order. */
function zip(keys: DemoPerson[], ids: string[]): [string, string][] {
    if (keys.length !== ids.length)
        throw new OptoutError(
            'DEMO_SEED_FAILED',
            `Expected ${keys.length} ids from the org, got ${ids.length}.`
        );
    return keys.map((p, i) => [p.key, ids[i]]);
}

/**
 * Inserts the data set into the org: Accounts (the companies), Contacts, Leads, the
 * lead conversion, and the audience unsubscribes made in Salesforce (membership rows
 * with Pending_Push__c checked, as the component or the Flow action leaves them).
 */
export async function seedOrg(
    target: OrgTarget,
    data: DemoData,
    step: (what: string) => void = () => undefined
): Promise<{
    ids: Map<string, string>;
    users: DemoUsers;
    counts: Partial<SeedCounts>;
}> {
    step('the integration user and a sales rep');
    const users = await createDemoUsers(target);
    step(`${data.companies.length} Accounts`);
    const accountIds = await seedRecords(
        target,
        'Account',
        data.companies.map((Name) => ({ Name }))
    );
    const accountOf = new Map(data.companies.map((c, i) => [c, accountIds[i]]));
    step(`${data.contacts.length} Contacts`);
    const contactRow = (p: DemoPerson): Record<string, unknown> => ({
        FirstName: p.firstName,
        LastName: p.lastName,
        Email: p.email,
        Title: p.title,
        ...(p.accountless ? {} : { AccountId: accountOf.get(p.company) }),
        ...(p.department ? { Department: p.department } : {}),
        HasOptedOutOfEmail: p.optedOut
    });
    // The sales rep's Contacts go in their own job: its rows all carry an OwnerId.
    const bySalesRep = data.contacts.filter((p) => p.ownedBySalesRep);
    const byAdmin = data.contacts.filter((p) => !p.ownedBySalesRep);
    const contactIds = await seedRecords(
        target,
        'Contact',
        byAdmin.map(contactRow)
    );
    const repContactIds = await seedRecords(
        target,
        'Contact',
        bySalesRep.map((p) => ({
            ...contactRow(p),
            OwnerId: users.salesRep.id
        }))
    );
    step(`${data.leads.length} Leads`);
    const leadIds = await seedRecords(
        target,
        'Lead',
        data.leads.map((p) => ({
            FirstName: p.firstName,
            LastName: p.lastName,
            Email: p.email,
            Title: p.title,
            Company: p.company,
            LeadSource: p.leadSource,
            HasOptedOutOfEmail: p.optedOut
        }))
    );
    const ids = new Map<string, string>([
        ...zip(byAdmin, contactIds),
        ...zip(bySalesRep, repContactIds),
        ...zip(data.leads, leadIds)
    ]);
    step('a lead conversion');
    const converted = await adminPost(target, 'convert-lead', {
        leadId: ids.get(data.convertLead)
    });
    ids.set(`${data.convertLead}:contact`, String(converted.contactId));

    step(
        `${data.salesforcePending.length} audience unsubscribes made in Salesforce`
    );
    const people = peopleByKey(data);
    const audienceName = new Map<string, string>(
        AUDIENCES.map((a) => [a.id, a.name])
    );
    await seedRecords(
        target,
        'Audience_Membership__c',
        data.salesforcePending.map((p) => {
            const id = ids.get(p.key) as string;
            return {
                Contact__c: id,
                Audience_Id__c: p.audienceId,
                Audience_Name__c: audienceName.get(p.audienceId),
                Email__c: people.get(p.key)?.email,
                Status__c: 'Unsubscribed',
                Status_Changed_At__c: p.changedAt,
                Source__c: p.source,
                Unsubscribe_Reason__c: p.reason,
                Membership_Key__c: `${p.audienceId}:${id}`,
                Pending_Push__c: true
            };
        })
    );
    return {
        ids,
        users,
        counts: {
            accounts: accountIds.length,
            contacts: contactIds.length + repContactIds.length + 1,
            leads: leadIds.length,
            convertedLeads: 1,
            salesforcePending: data.salesforcePending.length
        }
    };
}

/**
 * Fills the ledger as a platform export would: audiences, persons (Salesforce ids given
 * with 18 characters, 15, or none), memberships through the import path, and the old
 * platform unsubscribes from everything. Ends by writing the marker.
 */
export async function seedLedger(
    ledger: Ledger,
    data: DemoData,
    ids: Map<string, string>,
    users: DemoUsers,
    org: { contacts: number; leads: number },
    now: Date = new Date()
): Promise<Partial<SeedCounts>> {
    for (const a of AUDIENCES)
        await ledger.upsertAudience({ id: a.id, name: a.name });
    const people = peopleByKey(data);
    const audienceName = new Map<string, string>(
        AUDIENCES.map((a) => [a.id, a.name])
    );
    const idFor = (key: string, form: string): string | null => {
        const id = ids.get(key);
        if (!id || form === 'none') return null;
        return form === '15' ? id.slice(0, 15) : id;
    };
    const rows: ImportRecord[] = [];
    for (const plan of data.ledger) {
        const p = people.get(plan.key) as DemoPerson;
        for (const m of plan.memberships)
            rows.push({
                email: p.email,
                salesforceId: idFor(plan.key, plan.idForm),
                audienceId: m.audienceId,
                audienceName: audienceName.get(m.audienceId) ?? null,
                status: m.status,
                changedAt: m.changedAt,
                reason:
                    m.status === 'Unsubscribed'
                        ? 'Unsubscribed in Mailchimp'
                        : m.status === 'Cleaned'
                          ? 'Cleaned in Mailchimp: hard bounce'
                          : null
            });
    }
    let memberships = 0;
    let audienceUnsubscribes = 0;
    for (let i = 0; i < rows.length; i += 2000) {
        const r = await ledger.importBatch(rows.slice(i, i + 2000), {
            source: 'import'
        });
        memberships += r.membershipsChanged;
        audienceUnsubscribes += r.unsubscribesAdded;
    }
    const globals = data.ledger.filter((p) => p.globalUnsubscribedAt);
    await ledger.recordUnsubscribes(
        globals.map((plan) => ({
            email: (people.get(plan.key) as DemoPerson).email,
            scope: 'all' as const,
            source: 'import' as const,
            reason: 'Unsubscribed from all emails (platform export)',
            collectedAt: plan.globalUnsubscribedAt as string
        }))
    );
    const marker: SeedMarker = {
        version: DEMO_DATA_VERSION,
        seed: data.seed,
        size: data.size,
        seededAt: now.toISOString(),
        contacts: org.contacts,
        leads: org.leads,
        ids: Object.fromEntries(ids),
        users
    };
    await ledger.setCursor(MARKER.job, MARKER.name, JSON.stringify(marker));
    return {
        ledgerPersons: data.ledger.length,
        memberships,
        audienceUnsubscribes,
        ledgerGlobalUnsubscribes: globals.length
    };
}
