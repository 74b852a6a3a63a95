/**
 * Undelete (admin route POST /local/undelete and LocalOrg.admin.undelete), as
 * Salesforce's undelete(): a record leaves the Recycle Bin and its SystemModstamp moves,
 * so `queryAll … WHERE SystemModstamp >= …` sees it again; a live record or a unique
 * value taken meanwhile is refused per record.
 */
import { startTestOrg, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => setTimeout(resolve, ms));

describe('undelete', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg({ deploy: true });
    }, 120_000);
    afterAll(async () => {
        await t.close();
    });

    async function stateOf(id: string, object = 'Contact'): Promise<Rec> {
        const res = await t.conn.query<Rec>(
            `SELECT Id, IsDeleted, SystemModstamp FROM ${object} WHERE Id = '${id}'`,
            { scanAll: true }
        );
        return res.records[0];
    }

    async function postUndelete(
        body: unknown
    ): Promise<{ status: number; json: unknown }> {
        const res = await fetch(`${t.instanceUrl}/local/undelete`, {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${t.accessToken}`,
                'Content-Type': 'application/json'
            },
            body: JSON.stringify(body)
        });
        return { status: res.status, json: await res.json() };
    }

    it('restores a deleted record with a new SystemModstamp, over HTTP and in-process', async () => {
        const { id } = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Gone', Email: 'gone@undelete.test' })) as {
            id: string;
        };
        await t.conn.sobject('Contact').destroy(id);
        const deleted = await stateOf(id);
        expect(deleted.IsDeleted).toBe(true);
        await sleep(1100); // stamps are whole seconds
        const res = await postUndelete({ ids: [id] });
        expect(res).toEqual({
            status: 200,
            json: [{ id, success: true, errors: [] }]
        });
        const back = await stateOf(id);
        expect(back.IsDeleted).toBe(false);
        expect(
            Date.parse(String(back.SystemModstamp).replace('+0000', 'Z'))
        ).toBeGreaterThan(
            Date.parse(String(deleted.SystemModstamp).replace('+0000', 'Z'))
        );
        // A plain query sees it again.
        const live = await t.conn.query<Rec>(
            `SELECT Id FROM Contact WHERE Id = '${id}'`
        );
        expect(live.totalSize).toBe(1);
        // Undeleting a live record is refused, per record.
        expect(t.admin.undelete([id])).toEqual([
            {
                id,
                success: false,
                errors: [
                    expect.objectContaining({ statusCode: 'UNDELETE_FAILED' })
                ]
            }
        ]);
    });

    it('refuses a record whose unique value a live record took meanwhile', async () => {
        const { id: contact } = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'K', Email: 'k@undelete.test' })) as {
            id: string;
        };
        const row = {
            Contact__c: contact,
            Audience_Id__c: 'aud',
            Audience_Name__c: 'Aud',
            Email__c: 'k@undelete.test',
            Status__c: 'Subscribed',
            Membership_Key__c: `aud:${contact}`
        };
        const ams = t.conn.sobject('Audience_Membership__c');
        const first = (await ams.create(row)) as { id: string };
        await ams.destroy(first.id);
        await ams.create(row);
        expect(t.admin.undelete([first.id])).toEqual([
            {
                id: first.id,
                success: false,
                errors: [
                    expect.objectContaining({ statusCode: 'DUPLICATE_VALUE' })
                ]
            }
        ]);
        expect(
            (await stateOf(first.id, 'Audience_Membership__c')).IsDeleted
        ).toBe(true);
    });

    it('answers a bad body with 400', async () => {
        expect((await postUndelete({ id: 'x' })).status).toBe(400);
    });
});
