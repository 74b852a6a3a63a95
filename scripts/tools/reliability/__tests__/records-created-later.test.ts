/**
 * Records created in Salesforce after an unsubscribe or a membership reached the
 * person's other records (R8: same email; R9: a lead converted later): the hourly job
 * brings them the opt-out and the memberships — with the nightly sync off, too. Found by
 * the property tests ("every unsubscribe delivered once the org is healthy").
 */
import { setup, type Fixture } from '../../../sync/__tests__/fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

async function member(
    email: string,
    audienceId: string,
    status: 'Subscribed' | 'Cleaned'
): Promise<void> {
    const person = (await f.ledger.upsertPerson({ email })).person;
    if (!(await f.ledger.getAudience(audienceId)))
        await f.ledger.upsertAudience({
            id: audienceId,
            name: `List ${audienceId}`
        });
    await f.ledger.setMembershipStatus({
        personId: person.id,
        audienceId,
        status,
        source: 'platform'
    });
}

describe('a record created after the sync wrote the person’s other records', () => {
    it('gets the global opt-out (nightly off) and the memberships, audience unsubscribes included, at the next hourly run', async () => {
        f = await setup();
        const [first] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        await member('ana@example.com', 'news', 'Subscribed');
        await f.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            scope: 'audience',
            audienceId: 'offers',
            audienceName: 'Offers',
            source: 'webhook'
        });
        await f.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            scope: 'all',
            source: 'webhook'
        });
        expect((await f.run('push')).unsubscribesDelivered).toBe(2);
        await f.run('hourly');
        // Later: a lead form creates a Lead with her address (another case).
        const [lead] = await f.leads([
            { LastName: 'Ana', Email: 'ANA@example.com' }
        ]);
        const r = await f.run('hourly');
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Lead', [lead])).toEqual({ [lead]: true });
        expect(await f.values('Contact', [first])).toEqual({ [first]: true });
        expect(
            (await f.memberships()).map((m) => [
                m.Membership_Key__c,
                m.Status__c
            ])
        ).toEqual([
            [`news:${first}`, 'Subscribed'],
            [`news:${lead}`, 'Subscribed'],
            [`offers:${first}`, 'Unsubscribed'],
            [`offers:${lead}`, 'Unsubscribed']
        ]);
        const trail = await f.ledger.auditForEmail('ana@example.com');
        expect(
            trail
                .filter((a) => a.action === 'field_write')
                .map((a) => a.recordId)
        ).toEqual([first, lead]);
        // Nothing left: the next runs write nothing.
        f.reset();
        const again = await f.run('hourly');
        expect(again.recordsWritten + again.membershipsUpserted).toBe(0);
        expect((await f.run('push')).apiRequests).toBe(0);
    });

    it('a lead converted later: its new Contact gets the memberships of the lead’s person', async () => {
        f = await setup();
        const [lead] = await f.leads([
            { LastName: 'Bo', Email: 'bo@example.com' }
        ]);
        await member('bo@example.com', 'news', 'Cleaned');
        await f.run('hourly');
        const { contactId } = f.t.admin.convertLead(lead);
        const r = await f.run('hourly');
        expect(r.membershipsUpserted).toBe(1);
        expect(
            (await f.memberships()).map((m) => [
                m.Membership_Key__c,
                m.Status__c
            ])
        ).toEqual(
            [
                [`news:${contactId}`, 'Cleaned'],
                [`news:${lead}`, 'Cleaned']
            ].sort((a, b) => a[0].localeCompare(b[0]))
        );
    });

    it('with Apply_To_Same_Email__c off, a record of another email is not touched', async () => {
        f = await setup();
        await f.settings({ applyToSameEmail: false });
        const [first] = await f.contacts([
            { LastName: 'Cy', Email: 'cy@example.com' }
        ]);
        await f.ledger.recordUnsubscribe({
            email: 'cy@example.com',
            salesforceId: first,
            scope: 'all',
            source: 'webhook'
        });
        await f.run('push');
        await f.run('hourly');
        const [other] = await f.contacts([
            { LastName: 'Cy', Email: 'cy@example.com' }
        ]);
        const r = await f.run('hourly');
        expect(r.recordsWritten).toBe(0);
        expect(await f.values('Contact', [other])).toEqual({ [other]: false });
    });
});
