/**
 * An unsubscribe that is already in the ledger, arriving again with a Salesforce id (a
 * webhook with salesforceId, a row unsubscribed in Salesforce on a Contact or Lead):
 * the person is linked to that record (R6) — otherwise, with Apply_To_Same_Email__c
 * off, the ledger marked the unsubscribe delivered through a record it does not know
 * the person by, and nothing else of the person ever reached that record. Found by the
 * property tests.
 */
import {
    parseUnsubscribeItems,
    recordUnsubscribeItems
} from '../../../webhook/intake';
import { setup, type Fixture } from '../../../sync/__tests__/fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

describe('an unsubscribe already recorded, arriving again with a Salesforce id', () => {
    it('from the webhook: answers "already" and links the person', async () => {
        f = await setup();
        const [id] = await f.contacts([
            { LastName: 'Cy', Email: 'cy.work@example.com' }
        ]);
        await f.ledger.recordUnsubscribe({
            email: 'cy@example.com',
            scope: 'all',
            source: 'webhook'
        });
        const [outcome] = await recordUnsubscribeItems(
            f.ledger,
            parseUnsubscribeItems(
                { email: 'cy@example.com', salesforceId: id },
                10
            )
        );
        expect(outcome.outcome).toBe('already');
        expect(
            (await f.ledger.findPerson('cy@example.com'))?.salesforceId
        ).toBe(id);
        expect(
            (await f.ledger.history('cy@example.com')).unsubscribes
        ).toHaveLength(1);
    });

    it('from a row unsubscribed in Salesforce (R5c): the row’s record becomes the person’s, and what the person has reaches it', async () => {
        f = await setup();
        await f.settings({ applyToSameEmail: false });
        const [lead] = await f.leads([
            { LastName: 'Cy', Email: 'cy@example.com' }
        ]);
        await f.ledger.recordUnsubscribe({
            email: 'cy@example.com',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'Newsletter',
            source: 'webhook'
        });
        await f.ledger.recordUnsubscribe({
            email: 'cy@example.com',
            scope: 'all',
            source: 'webhook'
        });
        await f.t.conn.sobject('Audience_Membership__c').create({
            Membership_Key__c: `news:${lead}`,
            Lead__c: lead,
            Audience_Id__c: 'news',
            Audience_Name__c: 'Newsletter',
            Email__c: 'cy@example.com',
            Status__c: 'Unsubscribed',
            Source__c: 'Salesforce',
            Pending_Push__c: true
        });
        await f.run('hourly');
        expect(
            (await f.ledger.findPerson('cy@example.com'))?.salesforceId
        ).toBe(lead);
        // The global unsubscribe now has a record to go to.
        const push = await f.run('push');
        expect(push.unsubscribesDelivered).toBe(1);
        expect(await f.values('Lead', [lead])).toEqual({ [lead]: true });
    });
});
