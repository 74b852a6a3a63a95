/**
 * A Bulk API 2.0 write whose answer is lost (the connection drops after the org
 * processed the request — `drop-after`): the client must neither fail the run nor send
 * the same rows twice.
 */
import { World } from '../world';

let world: World;
afterEach(async () => {
    await world?.close();
});

async function contacts(n: number): Promise<string[]> {
    return world.seed(
        'Contact',
        Array.from({ length: n }, (_, i) => ({
            LastName: `Bulk${i}`,
            Email: `bulk${i}@example.com`
        }))
    );
}

describe('Bulk ingest with lost answers', () => {
    it('a lost answer to "UploadComplete" does not fail the write: the job is closed already', async () => {
        world = await World.create();
        const ids = await contacts(120);
        world.admin.resetStats();
        world.admin.setFaults('drop-after:next=1@bulkIngestClose');
        const client = world.client();
        const results = await client.updateRecords(
            'Contact',
            ids.map((Id) => ({ Id, HasOptedOutOfEmail: true })),
            { mode: 'bulk' }
        );
        expect(results.filter((r) => !r.success)).toEqual([]);
        expect(world.admin.stats().faultsInjected).toEqual({ 'drop-after': 1 });
        const rows = await world.query(
            'SELECT Id FROM Contact WHERE HasOptedOutOfEmail = true'
        );
        expect(rows).toHaveLength(120);
    });

    it('a lost answer to the upload does not send the rows to the same job twice', async () => {
        world = await World.create();
        const ids = await contacts(120);
        world.admin.resetStats();
        world.admin.setFaults('drop-after:next=1@bulkIngestUpload');
        const client = world.client();
        const results = await client.upsertRecords(
            'Audience_Membership__c',
            'Membership_Key__c',
            ids.map((id, i) => ({
                Membership_Key__c: `news:${id}`,
                Contact__c: id,
                Audience_Id__c: 'news',
                Email__c: `bulk${i}@example.com`,
                Status__c: 'Subscribed'
            })),
            { mode: 'bulk' }
        );
        expect(results.filter((r) => !r.success)).toEqual([]);
        // Each row processed once by the org (no job got the upload twice).
        expect(world.admin.stats().bulk.recordsProcessed).toBe(120);
        expect(client.retried.requests).toBeGreaterThanOrEqual(1);
        const rows = await world.query(
            'SELECT Membership_Key__c FROM Audience_Membership__c'
        );
        expect(rows).toHaveLength(120);
    });
});
