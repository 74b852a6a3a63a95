/**
 * Record merge (admin route POST /local/merge and LocalOrg.admin.merge), as
 * Salesforce's merge(): up to two Contacts (or Leads) merged into a master; lookups to
 * the losers re-parented to the master with their other fields unchanged (an Audience
 * Membership keeps its Membership_Key__c); the losers deleted with MasterRecordId.
 */
import { makeId } from '../../../model/ids';
import { startTestOrg, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

const ALLOW = { 'Sforce-Duplicate-Rule-Header': 'allowSave=true' };

describe('record merge', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg({ deploy: true });
    }, 120_000);
    afterAll(async () => {
        await t.close();
    });

    async function create(type: string, fields: Rec): Promise<string> {
        const res = (await t.conn
            .sobject(type)
            .create(fields, { headers: ALLOW })) as { id: string };
        return res.id;
    }

    async function membership(person: Rec, key: string): Promise<string> {
        return create('Audience_Membership__c', {
            ...person,
            Audience_Id__c: 'aud-1',
            Audience_Name__c: 'Newsletter',
            Email__c: `${key}@merge.test`,
            Status__c: 'Unsubscribed',
            Membership_Key__c: key
        });
    }

    async function postMerge(
        body: unknown
    ): Promise<{ status: number; json: Rec | Rec[] }> {
        const res = await fetch(`${t.instanceUrl}/local/merge`, {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${t.accessToken}`,
                'Content-Type': 'application/json'
            },
            body: JSON.stringify(body)
        });
        return { status: res.status, json: (await res.json()) as Rec };
    }

    it('re-parents the losers memberships to the master and deletes the losers', async () => {
        const master = await create('Contact', {
            LastName: 'Master',
            Email: 'm@merge.test'
        });
        const b = await create('Contact', {
            LastName: 'B',
            Email: 'm@merge.test'
        });
        const c = await create('Contact', {
            LastName: 'C',
            Email: 'M@merge.test'
        });
        const mb = await membership({ Contact__c: b }, `key-b-${b}`);
        const mc = await membership({ Contact__c: c }, `key-c-${c}`);
        const mm = await membership({ Contact__c: master }, 'key-master');
        const before = await t.conn.query<Rec>(
            `SELECT Id, SystemModstamp, LastModifiedDate, Status__c, Email__c FROM Audience_Membership__c WHERE Id = '${mb}'`
        );
        // Timestamps are whole seconds: let the clock move on.
        await new Promise((resolve) => setTimeout(resolve, 1100));

        const { status, json } = await postMerge({
            masterId: master,
            duplicateIds: [b, c]
        });
        expect(status).toBe(200);
        expect(json).toEqual({
            id: master,
            success: true,
            errors: [],
            mergedRecordIds: [b, c],
            updatedRelatedIds: expect.arrayContaining([mb, mc]) as unknown
        });

        const rows = await t.conn.query<Rec>(
            `SELECT Id, Contact__c, Lead__c, Membership_Key__c, Status__c, Email__c, SystemModstamp, LastModifiedDate FROM Audience_Membership__c WHERE Id IN ('${mb}', '${mc}', '${mm}')`
        );
        const byId = new Map(rows.records.map((r) => [r.Id, r]));
        expect(byId.get(mb)).toMatchObject({
            Contact__c: master,
            Lead__c: null,
            Membership_Key__c: `key-b-${b}`,
            Status__c: 'Unsubscribed',
            Email__c: before.records[0].Email__c
        });
        expect(byId.get(mc)).toMatchObject({
            Contact__c: master,
            Membership_Key__c: `key-c-${c}`
        });
        expect(byId.get(mm)).toMatchObject({ Contact__c: master });
        const stamp = (r: Rec | undefined, f: string): number =>
            Date.parse(String(r?.[f]).replace('+0000', 'Z'));
        expect(stamp(byId.get(mb), 'SystemModstamp')).toBeGreaterThan(
            stamp(before.records[0], 'SystemModstamp')
        );
        expect(stamp(byId.get(mb), 'LastModifiedDate')).toBeGreaterThan(
            stamp(before.records[0], 'LastModifiedDate')
        );

        const live = await t.conn.query<Rec>(
            `SELECT Id FROM Contact WHERE Id IN ('${master}', '${b}', '${c}')`
        );
        expect(live.records.map((r) => r.Id)).toEqual([master]);
        const deleted = await t.conn.query<Rec>(
            `SELECT Id, IsDeleted, MasterRecordId FROM Contact WHERE Id IN ('${b}', '${c}') ORDER BY LastName`,
            { scanAll: true }
        );
        expect(deleted.records).toEqual([
            expect.objectContaining({
                Id: b,
                IsDeleted: true,
                MasterRecordId: master
            }),
            expect.objectContaining({
                Id: c,
                IsDeleted: true,
                MasterRecordId: master
            })
        ]);
    });

    it('merges Leads in process through LocalOrg.admin.merge', async () => {
        const master = await create('Lead', {
            LastName: 'LM',
            Company: 'X',
            Email: 'l@merge.test'
        });
        const loser = await create('Lead', {
            LastName: 'LL',
            Company: 'X',
            Email: 'l@merge.test'
        });
        const m = await membership({ Lead__c: loser }, `key-l-${loser}`);
        const res = t.admin.merge(master, [loser]);
        expect(res.mergedRecordIds).toEqual([loser]);
        expect(res.updatedRelatedIds).toEqual([m]);
        const row = (await t.conn
            .sobject('Audience_Membership__c')
            .retrieve(m)) as unknown as Rec;
        expect(row).toMatchObject({
            Lead__c: master,
            Contact__c: null,
            Membership_Key__c: `key-l-${loser}`
        });
    });

    it('refuses mixed types, too many records, deleted, missing and converted records', async () => {
        const contact = await create('Contact', {
            LastName: 'E1',
            Email: 'e1@merge.test'
        });
        const other = await create('Contact', {
            LastName: 'E2',
            Email: 'e2@merge.test'
        });
        const lead = await create('Lead', {
            LastName: 'E3',
            Company: 'X',
            Email: 'e3@merge.test'
        });
        const code = async (body: unknown): Promise<[number, unknown]> => {
            const { status, json } = await postMerge(body);
            const first = (Array.isArray(json) ? json[0] : json) as Rec;
            return [status, first.errorCode];
        };
        expect(await code({ masterId: contact, duplicateIds: [lead] })).toEqual(
            [400, 'INVALID_TYPE']
        );
        expect(
            await code({
                masterId: contact,
                duplicateIds: [other, lead, other]
            })
        ).toEqual([400, 'INVALID_OPERATION']);
        expect(await code({ masterId: contact, duplicateIds: [] })).toEqual([
            400,
            'INVALID_OPERATION'
        ]);
        expect(
            await code({ masterId: contact, duplicateIds: [contact] })
        ).toEqual([400, 'INVALID_OPERATION']);
        expect(
            await code({
                masterId: contact,
                duplicateIds: [makeId('003', 999_999, '8d')]
            })
        ).toEqual([400, 'INVALID_CROSS_REFERENCE_KEY']);
        expect(
            await code({ masterId: 'nonsense', duplicateIds: [other] })
        ).toEqual([400, 'MALFORMED_ID']);
        const acct = (await t.conn
            .sobject('Account')
            .create({ Name: 'A' })) as { id: string };
        expect(
            await code({ masterId: acct.id, duplicateIds: [acct.id] })
        ).toEqual([400, 'INVALID_TYPE']);
        expect(await code({ masterId: contact })).toEqual([400, 'BAD_REQUEST']);

        // A deleted record can't be merged (again).
        t.admin.merge(contact, [other]);
        expect(
            await code({ masterId: contact, duplicateIds: [other] })
        ).toEqual([400, 'ENTITY_IS_DELETED']);

        // Nor can a converted lead.
        const converted = await create('Lead', {
            LastName: 'E4',
            Company: 'X',
            Email: 'e4@merge.test'
        });
        t.admin.convertLead(converted);
        expect(
            await code({ masterId: lead, duplicateIds: [converted] })
        ).toEqual([400, 'CANNOT_UPDATE_CONVERTED_LEAD']);

        // Nothing changed by the refusals: the lead is still live.
        const stillThere = await t.conn.query<Rec>(
            `SELECT Id FROM Lead WHERE Id = '${lead}'`
        );
        expect(stillThere.totalSize).toBe(1);
    });
});
