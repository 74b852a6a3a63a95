/**
 * The data set of a reliability trial: the same on every run of a given size, so that
 * two worlds seeded alike have the same record ids and the same ledger, and their final
 * states can be compared field by field.
 *
 * It touches every rule the jobs apply: global unsubscribes by email and by id (R2,
 * R6), duplicates by email across Contacts and Leads (R8), a converted lead (R9),
 * persons with no record (they wait, R11), opt-outs checked in Salesforce only (R3b),
 * audience memberships in several statuses (R5a), audience unsubscribes, the
 * all-audiences rule (R5b) and rows unsubscribed inside Salesforce (R5c).
 */
import type { SyncSettings } from '../../salesforce/settings';
import type { World } from './world';

export interface DatasetSize {
    /** Contacts person{i}@example.com. */
    contacts: number;
}

export interface Seeded {
    contactIds: string[];
    leadIds: string[];
    convertedContactId: string;
    /** Active global unsubscribes seeded in the ledger. */
    unsubscribes: number;
    /** Of those, the ones whose person matches no record. */
    unmatched: number;
}

export const AUDIENCES = [
    { id: 'news', name: 'Newsletter' },
    { id: 'offers', name: 'Offers' },
    { id: 'events', name: 'Events' }
] as const;

/** The settings of every trial: nightly on, both rules on (R3, R5b, R8). */
export const TRIAL_SETTINGS: Partial<SyncSettings> = {
    nightlySyncEnabled: true,
    optOutField: 'HasOptedOutOfEmail',
    allAudiencesRule: true,
    applyToSameEmail: true
};

const T0 = Date.parse('2026-01-05T09:00:00.000Z');
const at = (minutes: number): string =>
    new Date(T0 + minutes * 60_000).toISOString();

export async function seedDataset(
    world: World,
    size: DatasetSize,
    settings: Partial<SyncSettings> = TRIAL_SETTINGS
): Promise<Seeded> {
    const n = size.contacts;
    const nLeads = Math.max(4, Math.ceil(n / 4));
    await world.settings(settings);
    const contactIds = await world.seed(
        'Contact',
        Array.from({ length: n }, (_, i) => ({
            FirstName: `First${i}`,
            LastName: `Last${i}`,
            Email: `person${i}@example.com`,
            // Opt-outs made in Salesforce only: the nightly brings them in (R3b).
            HasOptedOutOfEmail: i % 23 === 5
        }))
    );
    const leadIds = await world.seed(
        'Lead',
        Array.from({ length: nLeads }, (_, j) => ({
            LastName: `Lead${j}`,
            Company: `Company ${j % 7}`,
            // Every third lead shares a Contact's email, in another case (R8).
            Email:
                j % 3 === 0 ? `PERSON${j}@Example.com` : `lead${j}@example.com`
        }))
    );
    // A converted lead: writes go to its Contact (R9).
    const { contactId: convertedContactId } = world.admin.convertLead(
        leadIds[1]
    );
    // Audience rows unsubscribed inside Salesforce (component, Flow): R5c.
    const pendingRows = contactIds
        .map((id, i) => ({ id, i }))
        .filter(({ i }) => i % 13 === 1)
        .map(({ id, i }) => ({
            Membership_Key__c: `news:${id}`,
            Contact__c: id,
            Audience_Id__c: 'news',
            Audience_Name__c: 'Newsletter',
            Email__c: `person${i}@example.com`,
            Status__c: 'Unsubscribed',
            Status_Changed_At__c: at(30),
            Source__c: i % 2 ? 'Flow' : 'Salesforce',
            Unsubscribe_Reason__c: 'Asked the sales rep',
            Pending_Push__c: true
        }));
    await world.seed('Audience_Membership__c', pendingRows);

    const ledger = world.ledger;
    for (const a of AUDIENCES) await ledger.upsertAudience(a);
    let unsubscribes = 0;
    let unmatched = 0;
    await ledger.transaction(async () => {
        for (let i = 0; i < n; i++) {
            const email = `person${i}@example.com`;
            const person = (
                await ledger.upsertPerson({
                    email,
                    // Some persons carry their Contact's id, in the 15-character form (R6).
                    salesforceId:
                        i % 10 === 0 ? contactIds[i].slice(0, 15) : null
                })
            ).person;
            if (i % 3 === 0)
                await ledger.setMembershipStatus({
                    personId: person.id,
                    audienceId: 'news',
                    status: 'Subscribed',
                    changedAt: at(i % 50),
                    source: 'platform'
                });
            if (i % 11 === 0)
                await ledger.setMembershipStatus({
                    personId: person.id,
                    audienceId: 'events',
                    status: i % 2 ? 'Cleaned' : 'Subscribed',
                    changedAt: at(i % 40),
                    source: 'import'
                });
            if (i % 7 === 0) {
                // An audience unsubscribe (R5: the membership status, not the field).
                await ledger.recordUnsubscribe({
                    email,
                    scope: 'audience',
                    audienceId: 'offers',
                    source: 'webhook',
                    reason: 'Too many offers',
                    collectedAt: at(60 + (i % 30))
                });
            }
            if (i % 5 === 0) {
                await ledger.recordUnsubscribe({
                    email,
                    scope: 'all',
                    source: i % 2 ? 'platform' : 'webhook',
                    collectedAt: at(90 + (i % 20))
                });
                unsubscribes += 1;
            }
        }
        for (let j = 0; j < nLeads; j++) {
            // Leads of their own (not sharing a Contact's email), the converted one included.
            if (j % 4 !== 1 || j % 3 === 0) continue;
            await ledger.recordUnsubscribe({
                email: `lead${j}@example.com`,
                scope: 'all',
                source: 'import',
                collectedAt: at(120 + j)
            });
            unsubscribes += 1;
        }
        // Persons with no record anywhere: they wait (R6, R11).
        for (let k = 0; k < Math.max(2, Math.ceil(n / 40)); k++) {
            const email = `ghost${k}@example.org`;
            const person = (await ledger.upsertPerson({ email })).person;
            await ledger.setMembershipStatus({
                personId: person.id,
                audienceId: 'news',
                status: 'Subscribed',
                changedAt: at(5),
                source: 'platform'
            });
            await ledger.recordUnsubscribe({
                email,
                scope: 'all',
                source: 'webhook',
                collectedAt: at(150 + k)
            });
            unsubscribes += 1;
            unmatched += 1;
        }
    });
    return { contactIds, leadIds, convertedContactId, unsubscribes, unmatched };
}
