/**
 * OrgClient.readAhead against the local org: describes and the first pages of several
 * queries in one Composite request, each read then taking its own without a request of
 * its own; a subrequest Salesforce refuses keeps nothing (the read meets the refusal
 * itself); a single read is not wrapped; stale pages are read again; a page read ahead
 * carries its own answer's time (lastServerTime) to its reader.
 */
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient, READ_AHEAD_TTL_MS } from '../client';

jest.setTimeout(60_000);

let t: TestOrg;
beforeAll(async () => {
    t = await startTestOrg({ deploy: true });
    await seedRecords(t, 'Contact', fakePeople(450, { domain: 'ahead.test' }));
    await seedRecords(
        t,
        'Lead',
        fakePeople(30, { domain: 'ahead.test', type: 'Lead' })
    );
});
afterAll(async () => {
    await t?.close();
});
beforeEach(() => {
    t.admin.resetStats();
});

function client(): OrgClient {
    return new OrgClient(t.conn as never, {
        targetOrg: 'local',
        local: true,
        sleep: async () => undefined,
        random: () => 0,
        restPageSize: 200
    });
}

const CONTACTS =
    "SELECT Id, Email FROM Contact WHERE Email LIKE '%@ahead.test'";
const LEADS = "SELECT Id, Email FROM Lead WHERE Email LIKE '%@ahead.test'";

async function rowsOf(c: OrgClient, soql: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const rows of c.scan(soql))
        ids.push(...rows.map((r) => String(r.Id)));
    return ids.sort();
}

describe('OrgClient.readAhead', () => {
    it('reads describes and first pages in one Composite request; the reads then take them (later pages as before)', async () => {
        const plain = client();
        const expected = {
            contacts: await rowsOf(plain, CONTACTS),
            leads: await rowsOf(plain, LEADS)
        };
        expect(expected.contacts).toHaveLength(450);
        t.admin.resetStats();

        const c = client();
        await c.readAhead({
            describes: ['Contact', 'Lead'],
            queries: [{ soql: CONTACTS }, { soql: LEADS }]
        });
        expect(c.apiRequests).toBe(1);
        expect(t.admin.stats().compositeSubrequests).toEqual({
            describe: 2,
            query: 2
        });
        expect((await c.describe('Contact'))?.name).toBe('Contact');
        expect((await c.describe('Lead'))?.name).toBe('Lead');
        expect(await rowsOf(c, LEADS)).toEqual(expected.leads);
        expect(c.apiRequests).toBe(1);
        // 450 Contacts in pages of 200: the first read ahead, two more as before.
        expect(await rowsOf(c, CONTACTS)).toEqual(expected.contacts);
        expect(c.apiRequests).toBe(3);
        expect(t.admin.stats().byKind).toEqual({ composite: 1, queryMore: 2 });
        // Taken once: the same query again is a request of its own.
        await rowsOf(c, LEADS);
        expect(c.apiRequests).toBe(4);
    });

    it('continues the queries read ahead together: a next page asked for brings the others’ next pages in the same Composite request', async () => {
        const other = `${CONTACTS} AND LastName != 'nobody'`;
        const plain = client();
        const expected = await rowsOf(plain, CONTACTS);
        t.admin.resetStats();
        const c = client();
        await c.readAhead({ queries: [{ soql: CONTACTS }, { soql: other }] });
        expect(c.apiRequests).toBe(1);
        // 450 rows each in pages of 200: each next page of the first comes with the
        // other's in one request; the other then reads none of its own.
        expect(await rowsOf(c, CONTACTS)).toEqual(expected);
        expect(c.apiRequests).toBe(3);
        expect(await rowsOf(c, other)).toEqual(expected);
        expect(c.apiRequests).toBe(3);
        expect(t.admin.stats().byKind).toEqual({ composite: 3 });
        expect(t.admin.stats().compositeSubrequests).toEqual({
            query: 2,
            queryMore: 4
        });
    });

    it('keeps nothing of a refused subrequest: the read meets the refusal itself, as without readAhead', async () => {
        const bad = 'SELECT Nope__c FROM Contact';
        const plainError = await client()
            .queryAll(bad)
            .then(
                () => undefined,
                (err: unknown) => err
            );
        expect(plainError).toMatchObject({ errorCode: 'INVALID_FIELD' });
        const c = client();
        await c.readAhead({ queries: [{ soql: bad }, { soql: LEADS }] });
        expect(c.apiRequests).toBe(1);
        await expect(c.queryAll(bad)).rejects.toMatchObject({
            errorCode: 'INVALID_FIELD'
        });
        expect(c.apiRequests).toBe(2);
        // A describe of an object the org does not have: cached as absent, as describe() does.
        await c.readAhead({
            describes: ['Nothing__c', 'Contact'],
            queries: []
        });
        expect(c.apiRequests).toBe(3);
        expect(await c.describe('Nothing__c')).toBeNull();
        expect(c.apiRequests).toBe(3);
    });

    it('sends nothing for a single read (nothing to save) nor for describes already cached', async () => {
        const c = client();
        await c.describe('Contact');
        const before = c.apiRequests;
        await c.readAhead({
            describes: ['Contact'],
            queries: [{ soql: LEADS }]
        });
        expect(c.apiRequests).toBe(before);
        await c.readAhead({ queries: [{ soql: LEADS }, { soql: LEADS }] });
        expect(c.apiRequests).toBe(before);
    });

    it('goes five queries to a Composite request', async () => {
        const c = client();
        const soqls = Array.from(
            { length: 7 },
            (_, i) => `${LEADS} AND LastName != 'x${i}'`
        );
        await c.readAhead({ queries: soqls.map((soql) => ({ soql })) });
        expect(c.apiRequests).toBe(2);
        for (const soql of soqls) await c.queryAll(soql);
        expect(c.apiRequests).toBe(2);
    });

    it('reads a page again when it waited longer than READ_AHEAD_TTL_MS', async () => {
        const c = client();
        await c.readAhead({ queries: [{ soql: CONTACTS }, { soql: LEADS }] });
        const now = Date.now();
        const clock = jest
            .spyOn(Date, 'now')
            .mockReturnValue(now + READ_AHEAD_TTL_MS + 1000);
        try {
            await c.queryAll(LEADS);
        } finally {
            clock.mockRestore();
        }
        expect(c.apiRequests).toBe(2);
    });

    it('gives the reader of a page read ahead the time of its own answer, not of a later one', async () => {
        const c = client();
        await c.readAhead({ queries: [{ soql: CONTACTS }, { soql: LEADS }] });
        const aheadAt = c.lastServerTime as string;
        expect(aheadAt).not.toBeNull();
        // A later answer, in a later second of the org's clock.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await c.count('SELECT COUNT() FROM Account');
        expect(c.lastServerTime! > aheadAt).toBe(true);
        await c.queryAll(LEADS);
        expect(c.lastServerTime).toBe(aheadAt);
    });
});
