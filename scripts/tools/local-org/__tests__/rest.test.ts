/**
 * REST conformance, driven with the real jsforce client: versions, auth, limits and the
 * usage header, describe, sObject rows, query paging, sObject Collections, errors.
 */
import { Connection } from 'jsforce';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../testing';

type Rec = Record<string, unknown>;

interface JsforceError extends Error {
    errorCode?: string;
    data?: unknown;
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
    try {
        await p;
    } catch (err) {
        return err as JsforceError;
    }
    throw new Error('expected the call to fail');
}

describe('local org REST API through jsforce', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg();
    });
    afterAll(async () => {
        await t.close();
    });

    it('lists API versions without auth and rejects a wrong token with INVALID_SESSION_ID', async () => {
        const res = await fetch(`${t.instanceUrl}/services/data`);
        expect(res.headers.get('content-type')).toBe(
            'application/json;charset=UTF-8'
        );
        const versions = (await res.json()) as Array<{
            version: string;
            url: string;
        }>;
        expect(versions[versions.length - 1]).toMatchObject({
            version: '66.0',
            url: '/services/data/v66.0'
        });

        const bad = new Connection({
            instanceUrl: t.instanceUrl,
            accessToken: 'wrong',
            version: '66.0'
        });
        const err = await failure(bad.query('SELECT Id FROM Contact'));
        expect(err.errorCode).toBe('INVALID_SESSION_ID');
        expect(err.message).toBe('Session expired or invalid');
    });

    it('answers userinfo and the identity URL', async () => {
        const info = (await t.conn.request('/services/oauth2/userinfo')) as Rec;
        expect(info).toMatchObject({
            user_id: t.org.userId,
            organization_id: t.org.orgId,
            preferred_username: t.org.username
        });
    });

    it('counts every request in Sforce-Limit-Info and in /limits', async () => {
        t.admin.resetUsage();
        await t.conn.query('SELECT Id FROM Contact LIMIT 1');
        expect(t.conn.limitInfo).toEqual({
            apiUsage: { used: 1, limit: 15000 }
        });
        const limits = await t.conn.limits();
        expect(limits.DailyApiRequests).toEqual({
            Max: 15000,
            Remaining: 15000 - 2
        });
        expect(limits.DailyBulkV2QueryJobs.Max).toBe(10000);
        expect(t.conn.limitInfo.apiUsage?.used).toBe(2);
        expect(t.admin.stats().byKind.limits).toBeGreaterThan(0);
    });

    it('answers 403 REQUEST_LIMIT_EXCEEDED once the allowance is used up', async () => {
        t.admin.setUsage(15000);
        const err = await failure(
            t.conn.sobject('Contact').create({ LastName: 'Over' })
        );
        expect(err.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
        expect(err.message).toBe('TotalRequests Limit exceeded.');
        expect(t.admin.stats().rejected.limitExceeded).toBeGreaterThan(0);
        t.admin.resetUsage();
    });

    it('describes objects with fields, types, picklists and relationships', async () => {
        const global = await t.conn.describeGlobal();
        expect(global.sobjects.map((s) => s.name)).toEqual(
            expect.arrayContaining([
                'Account',
                'Contact',
                'Lead',
                'User',
                'Organization'
            ])
        );
        const lead = await t.conn.describe('Lead');
        expect(lead.keyPrefix).toBe('00Q');
        const byName = Object.fromEntries(lead.fields.map((f) => [f.name, f]));
        expect(byName.HasOptedOutOfEmail).toMatchObject({
            type: 'boolean',
            label: 'Email Opt Out',
            updateable: true,
            nillable: false
        });
        expect(byName.IsConverted).toMatchObject({
            type: 'boolean',
            updateable: false,
            createable: false
        });
        expect(byName.ConvertedContactId).toMatchObject({
            type: 'reference',
            referenceTo: ['Contact'],
            relationshipName: 'ConvertedContact'
        });
        expect(
            (byName.Status.picklistValues ?? []).map(
                (p: { value: string }) => p.value
            )
        ).toContain('Closed - Converted');
        expect(byName.Email).toMatchObject({ type: 'email', length: 80 });
        const account = await t.conn.describe('Account');
        expect(account.childRelationships).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    childSObject: 'Contact',
                    field: 'AccountId',
                    relationshipName: 'Contacts'
                })
            ])
        );
        const err = await failure(t.conn.describe('Nope__c'));
        expect(err.errorCode).toBe('NOT_FOUND');
    });

    it('creates, reads, updates and deletes one record; timestamps are whole seconds and never move back', async () => {
        const created = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Row', Email: 'row@example.com' })) as {
            id: string;
            success: boolean;
        };
        expect(created.success).toBe(true);
        expect(created.id).toMatch(/^003[0-9A-Za-z]{15}$/);
        const first = (await t.conn
            .sobject('Contact')
            .retrieve(created.id)) as Rec;
        expect(first).toMatchObject({
            Id: created.id,
            LastName: 'Row',
            Name: 'Row',
            HasOptedOutOfEmail: false,
            IsDeleted: false
        });
        // Salesforce keeps DateTime to the second.
        expect(first.CreatedDate).toMatch(
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$/
        );
        await t.conn.sobject('Contact').update({
            Id: created.id,
            HasOptedOutOfEmail: true,
            FirstName: 'Rae'
        });
        const second = (await t.conn
            .sobject('Contact')
            .retrieve(created.id)) as Rec;
        expect(second).toMatchObject({
            HasOptedOutOfEmail: true,
            Name: 'Rae Row'
        });
        // Two writes in one second share a SystemModstamp, as in Salesforce.
        expect(
            Date.parse(String(second.SystemModstamp).replace('+0000', 'Z'))
        ).toBeGreaterThanOrEqual(
            Date.parse(String(first.SystemModstamp).replace('+0000', 'Z'))
        );
        expect(second.CreatedDate).toBe(first.CreatedDate);
        await t.conn.sobject('Contact').destroy(created.id);
        const gone = await failure(
            t.conn.sobject('Contact').retrieve(created.id)
        );
        expect(gone.errorCode).toBe('ENTITY_IS_DELETED');
        expect(
            (
                await failure(
                    t.conn.sobject('Contact').retrieve('003000000000000AAA')
                )
            ).errorCode
        ).toBe('NOT_FOUND');
        const again = await failure(
            t.conn.sobject('Contact').update({ Id: created.id, LastName: 'X' })
        );
        expect(again.errorCode).toBe('ENTITY_IS_DELETED');
        const all = await t.conn.query(
            `SELECT Id, IsDeleted FROM Contact WHERE Id = '${created.id}'`,
            { scanAll: true }
        );
        expect(all.records).toMatchObject([
            { Id: created.id, IsDeleted: true }
        ]);
    });

    it('checks field values on write with Salesforce error codes', async () => {
        const contact = t.conn.sobject('Contact');
        expect(
            (await failure(contact.create({ LastName: 'X', Foo__c: 1 })))
                .errorCode
        ).toBe('INVALID_FIELD');
        const bad = await failure(
            contact.create({ LastName: 'X', Email: 'not-an-email' })
        );
        expect(bad.errorCode).toBe('INVALID_EMAIL_ADDRESS');
        expect(bad.message).toBe('Email: invalid email address: not-an-email');
        expect(
            (await failure(contact.create({ FirstName: 'NoLast' }))).errorCode
        ).toBe('REQUIRED_FIELD_MISSING');
        expect(
            (await failure(contact.create({ LastName: 'x'.repeat(81) })))
                .errorCode
        ).toBe('STRING_TOO_LONG');
        expect(
            (
                await failure(
                    contact.create({
                        LastName: 'X',
                        HasOptedOutOfEmail: 'maybe'
                    })
                )
            ).errorCode
        ).toBe('JSON_PARSER_ERROR');
        expect(
            (
                await failure(
                    contact.create({ LastName: 'X', AccountId: 'nope' })
                )
            ).errorCode
        ).toBe('MALFORMED_ID');
        const lead = (await t.conn
            .sobject('Lead')
            .create({ LastName: 'L', Company: 'C' })) as { id: string };
        expect(
            (
                await failure(
                    contact.create({ LastName: 'X', AccountId: lead.id })
                )
            ).errorCode
        ).toBe('FIELD_INTEGRITY_EXCEPTION');
        expect(
            (
                await failure(
                    contact.create({
                        LastName: 'X',
                        AccountId: '001000000000000AAA'
                    })
                )
            ).errorCode
        ).toBe('INVALID_CROSS_REFERENCE_KEY');
        const ro = await failure(
            t.conn.sobject('Lead').update({ Id: lead.id, IsConverted: true })
        );
        expect(ro.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    });

    it('refuses writes to a converted lead and exposes ConvertedContactId', async () => {
        const lead = (await t.conn.sobject('Lead').create({
            LastName: 'Conv',
            Company: 'Acme',
            Email: 'conv@example.com',
            HasOptedOutOfEmail: true
        })) as {
            id: string;
        };
        const res = await fetch(`${t.instanceUrl}/local/convert-lead`, {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${t.accessToken}`,
                'Content-Type': 'application/json'
            },
            body: JSON.stringify({ leadId: lead.id })
        });
        expect(res.status).toBe(200);
        const converted = (await res.json()) as {
            contactId: string;
            accountId: string;
        };
        const err = await failure(
            t.conn
                .sobject('Lead')
                .update({ Id: lead.id, HasOptedOutOfEmail: false })
        );
        expect(err.errorCode).toBe('CANNOT_UPDATE_CONVERTED_LEAD');
        const rows = await t.conn.query(
            `SELECT IsConverted, ConvertedContactId, ConvertedContact.Email, ConvertedContact.HasOptedOutOfEmail FROM Lead WHERE Id = '${lead.id}'`
        );
        expect(rows.records[0]).toMatchObject({
            IsConverted: true,
            ConvertedContactId: converted.contactId,
            ConvertedContact: {
                Email: 'conv@example.com',
                HasOptedOutOfEmail: true
            }
        });
    });

    it('pages query results with nextRecordsUrl and honours Sforce-Query-Options batchSize', async () => {
        await seedRecords(
            t,
            'Lead',
            fakePeople(1100, { type: 'Lead', domain: 'paging.test' })
        );
        t.admin.resetStats();
        const first = (await t.conn.request({
            method: 'GET',
            url: `/services/data/v66.0/query?q=${encodeURIComponent("SELECT Id FROM Lead WHERE Email LIKE '%@paging.test'")}`,
            headers: { 'Sforce-Query-Options': 'batchSize=250' }
        })) as {
            totalSize: number;
            done: boolean;
            nextRecordsUrl: string;
            records: unknown[];
        };
        expect(first).toMatchObject({ totalSize: 1100, done: false });
        expect(first.records).toHaveLength(250);
        expect(first.nextRecordsUrl).toMatch(
            /^\/services\/data\/v66\.0\/query\/01g[0-9A-Za-z]{15}-250$/
        );

        const all = await t.conn
            .query(
                "SELECT Id, Email FROM Lead WHERE Email LIKE '%@paging.test' ORDER BY Email",
                { headers: { 'Sforce-Query-Options': 'batchSize=200' } }
            )
            .run({ autoFetch: true, maxFetch: 5000 });
        expect(all.records).toHaveLength(1100);
        expect(new Set(all.records.map((r) => (r as Rec).Id)).size).toBe(1100);
        const emails = all.records.map((r) => String((r as Rec).Email));
        // Text sorts case-insensitively by character code (see the known differences).
        const byCode = (a: string, b: string): number =>
            a.toLowerCase() < b.toLowerCase()
                ? -1
                : a.toLowerCase() > b.toLowerCase()
                  ? 1
                  : 0;
        expect(emails).toEqual([...emails].sort(byCode));
        // 1 first page + 5 more pages of 200 for the autoFetch, plus the single raw page above.
        expect(t.admin.stats().byKind.queryMore).toBe(5);

        const err = await failure(
            t.conn.request('/services/data/v66.0/query/01g8d0000000999AAA-2000')
        );
        expect(err.errorCode).toBe('INVALID_QUERY_LOCATOR');
    });

    it('fetches beyond maxFetch 10,000 with the default page size of 2,000', async () => {
        await seedRecords(
            t,
            'Contact',
            fakePeople(12_000, { domain: 'bulkload.test' })
        );
        t.admin.resetStats();
        const res = await t.conn
            .query("SELECT Id FROM Contact WHERE Email LIKE '%@bulkload.test'")
            .run({ autoFetch: true, maxFetch: 20_000 });
        expect(res.totalSize).toBe(12_000);
        expect(res.records).toHaveLength(12_000);
        expect(t.admin.stats().byKind).toMatchObject({
            query: 1,
            queryMore: 5
        });
        // jsforce stops silently at its default maxFetch of 10,000.
        const capped = await t.conn
            .query("SELECT Id FROM Contact WHERE Email LIKE '%@bulkload.test'")
            .run({ autoFetch: true });
        expect(capped.records).toHaveLength(10_000);
    });

    it('creates 200 records in one collections call and refuses 201', async () => {
        const recs = Array.from({ length: 201 }, (_, i) => ({
            LastName: `Coll${i}`,
            Email: `coll${i}@collections.test`
        }));
        const tooMany = await failure(t.conn.sobject('Contact').create(recs));
        expect(tooMany.errorCode).toBe('EXCEEDED_ID_LIMIT');
        expect(tooMany.message).toBe(
            'record limit reached. cannot submit more than 200 records into this call'
        );
        t.admin.resetStats();
        const res = (await t.conn
            .sobject('Contact')
            .create(recs.slice(0, 200))) as Array<{
            id: string;
            success: boolean;
            errors: unknown[];
        }>;
        expect(res).toHaveLength(200);
        expect(
            res.every(
                (r) =>
                    r.success && r.errors.length === 0 && r.id.startsWith('003')
            )
        ).toBe(true);
        expect(t.admin.stats().byKind.collectionsCreate).toBe(1);
        // jsforce splits bigger arrays itself only with allowRecursive.
        const split = (await t.conn
            .sobject('Contact')
            .create(recs, { allowRecursive: true })) as unknown[];
        expect(split).toHaveLength(201);
    });

    it('reports per-record errors and rolls everything back with allOrNone', async () => {
        const ok = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Keep', Email: 'keep@aon.test' })) as {
            id: string;
        };
        const mixed = (await t.conn.sobject('Contact').update([
            { Id: ok.id, Title: 'Changed' },
            { Id: ok.id.replace(/^003/, '00Q'), Title: 'Wrong type' },
            { Id: ok.id, Email: 'broken' }
        ])) as Array<{
            id?: string;
            success: boolean;
            errors: Array<{
                statusCode: string;
                message: string;
                fields: string[];
            }>;
        }>;
        expect(mixed[0]).toEqual({ id: ok.id, success: true, errors: [] });
        expect(mixed[1].success).toBe(false);
        expect(mixed[2]).toMatchObject({
            id: ok.id,
            success: false,
            errors: [
                {
                    statusCode: 'INVALID_EMAIL_ADDRESS',
                    message: 'Email: invalid email address: broken',
                    fields: ['Email']
                }
            ]
        });

        const rolled = (await t.conn.sobject('Contact').update(
            [
                { Id: ok.id, Title: 'Rolled back' },
                { Id: ok.id, Email: 'broken' }
            ],
            { allOrNone: true }
        )) as Array<{
            success: boolean;
            errors: Array<{ statusCode: string }>;
        }>;
        expect(rolled[0].errors[0].statusCode).toBe(
            'ALL_OR_NONE_OPERATION_ROLLED_BACK'
        );
        expect(rolled[1].errors[0].statusCode).toBe('INVALID_EMAIL_ADDRESS');
        const row = (await t.conn.sobject('Contact').retrieve(ok.id)) as Rec;
        expect(row.Title).toBe('Changed');
    });

    it('accepts lowercase id in collections records and deletes by ids', async () => {
        const a = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'LowerId' })) as { id: string };
        const res = (await t.conn.request({
            method: 'PATCH',
            url: '/services/data/v66.0/composite/sobjects',
            body: JSON.stringify({
                allOrNone: false,
                records: [
                    {
                        attributes: { type: 'Contact' },
                        id: a.id,
                        Title: 'lower'
                    }
                ]
            }),
            headers: { 'content-type': 'application/json' }
        })) as Array<{ success: boolean }>;
        expect(res[0].success).toBe(true);
        const del = (await t.conn
            .sobject('Contact')
            .destroy([a.id, a.id])) as Array<{
            success: boolean;
            errors: Array<{ statusCode: string }>;
        }>;
        expect(del[0].success).toBe(true);
        expect(del[1].errors[0].statusCode).toBe('ENTITY_IS_DELETED');
    });

    it('retrieves several records with collections and answers unknown routes with NOT_FOUND', async () => {
        const a = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Many1' })) as { id: string };
        const got = (await t.conn
            .sobject('Contact')
            .retrieve([a.id, '003000000000000AAA'], {
                fields: ['LastName']
            })) as Array<Rec | null>;
        expect(got[0]).toMatchObject({ Id: a.id, LastName: 'Many1' });
        expect(got[1]).toBeNull();
        const err = await failure(
            t.conn.request('/services/data/v66.0/nothing/here')
        );
        expect(err.errorCode).toBe('NOT_FOUND');
        const old = await failure(
            t.conn.request('/services/data/v99.0/limits')
        );
        expect(old.errorCode).toBe('NOT_FOUND');
    });
    it('lists updated and deleted ids for a time window (getUpdated / getDeleted)', async () => {
        const start = new Date(Date.now() - 60_000);
        const a = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Window' })) as { id: string };
        await t.conn.sobject('Contact').destroy(a.id);
        const b = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Window2' })) as { id: string };
        const end = new Date(Date.now() + 1000);
        const updated = await t.conn.sobject('Contact').updated(start, end);
        expect(updated.ids).toContain(b.id);
        expect(updated.ids).not.toContain(a.id);
        const deleted = await t.conn.sobject('Contact').deleted(start, end);
        expect(deleted.deletedRecords.map((d) => d.id)).toContain(a.id);
    });

    it('answers SOAP calls with a fault that explains the REST-only setup', async () => {
        const res = await fetch(`${t.instanceUrl}/services/Soap/m/66.0`, {
            method: 'POST',
            body: '<x/>'
        });
        expect(res.status).toBe(500);
        expect(await res.text()).toContain('SF_ORG_METADATA_REST_DEPLOY=true');
    });
});
