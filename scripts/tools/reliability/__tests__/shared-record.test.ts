/**
 * Two ledger persons linked to one Salesforce record (a person who changed email on the
 * platform keeps the same Contact): an active audience unsubscribe of one of them keeps
 * the record's row for that audience Unsubscribed — the other's membership changes are
 * not written over it (R4: an unsubscribe is never undone by a job). Found by the
 * property tests.
 */
import { setup, type Fixture } from '../../../sync/__tests__/fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

async function member(
    email: string,
    status: 'Subscribed' | 'Cleaned',
    salesforceId?: string
): Promise<void> {
    const person = (await f.ledger.upsertPerson({ email, salesforceId }))
        .person;
    if (!(await f.ledger.getAudience('news')))
        await f.ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
    await f.ledger.setMembershipStatus({
        personId: person.id,
        audienceId: 'news',
        status,
        source: 'platform'
    });
}

describe('one record, two persons', () => {
    it('a membership change of one person does not overwrite the other’s audience unsubscribe on the shared record', async () => {
        f = await setup();
        const [contact] = await f.contacts([
            { LastName: 'Old', Email: 'old@example.com' }
        ]);
        await member('old@example.com', 'Subscribed', contact);
        await member('new@example.com', 'Subscribed', contact);
        await f.run('hourly');
        await f.ledger.recordUnsubscribe({
            email: 'old@example.com',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook'
        });
        expect((await f.run('push')).unsubscribesDelivered).toBe(1);
        expect((await f.memberships()).map((m) => m.Status__c)).toEqual([
            'Unsubscribed'
        ]);
        // The other address of the same person is cleaned, then subscribed again.
        await member('new@example.com', 'Cleaned');
        const r = await f.run('hourly');
        expect(r.skipped.held_by_audience_unsubscribe).toBe(1);
        await member('new@example.com', 'Subscribed');
        await f.run('hourly');
        expect((await f.memberships()).map((m) => m.Status__c)).toEqual([
            'Unsubscribed'
        ]);
        // Once the unsubscribe is lifted (resubscribe), the row follows the ledger again.
        await f.ledger.resubscribe({
            email: 'old@example.com',
            audienceId: 'news',
            reason: 'Asked again'
        });
        await member('new@example.com', 'Cleaned');
        await f.run('hourly');
        expect((await f.memberships()).map((m) => m.Status__c)).toEqual([
            'Cleaned'
        ]);
    });
});
