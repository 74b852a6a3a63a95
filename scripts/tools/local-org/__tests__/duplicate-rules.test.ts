/**
 * Duplicate rules (org option `duplicateRules`, on by default): an API create or update
 * of a Contact or Lead whose email matches another live Contact or unconverted Lead
 * fails with DUPLICATES_DETECTED unless the request sends
 * `Sforce-Duplicate-Rule-Header: allowSave=true`; Bulk ingest can't send it.
 */
import { Connection } from 'jsforce';
import { seedRecords, startTestOrg, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

const ALLOW = { 'Sforce-Duplicate-Rule-Header': 'allowSave=true' };

interface SaveResult {
    id?: string;
    success: boolean;
    errors: Array<{ statusCode: string; message: string; fields: string[] }>;
}

interface ApiFailure extends Error {
    errorCode?: string;
    data?: unknown;
}

async function failure(p: PromiseLike<unknown>): Promise<ApiFailure> {
    try {
        await p;
    } catch (err) {
        return err as ApiFailure;
    }
    throw new Error('expected the call to fail');
}

describe('duplicate rules', () => {
    let t: TestOrg;
    let contactId: string;
    let leadId: string;
    let otherId: string;

    /** A Contact/Lead pair sharing an email (case differs), saved with allowSave=true. */
    async function pair(email: string): Promise<[string, string]> {
        const c = (await t.conn
            .sobject('Contact')
            .create(
                { LastName: 'Pair', Email: email },
                { headers: ALLOW }
            )) as SaveResult;
        const l = (await t.conn.sobject('Lead').create(
            {
                LastName: 'Pair',
                Company: 'Acme',
                Email: email.toUpperCase()
            },
            { headers: ALLOW }
        )) as SaveResult;
        expect(c.success && l.success).toBe(true);
        return [c.id as string, l.id as string];
    }

    /** A Collections update of records (Id and type), with or without headers. */
    function collectionsUpdate(
        records: Array<{ type: string; id: string; fields: Rec }>,
        headers: Record<string, string> = {}
    ): Promise<SaveResult[]> {
        return t.conn.request<SaveResult[]>({
            method: 'PATCH',
            url: `/services/data/v${t.conn.version}/composite/sobjects`,
            body: JSON.stringify({
                allOrNone: false,
                records: records.map((r) => ({
                    attributes: { type: r.type },
                    id: r.id,
                    ...r.fields
                }))
            }),
            headers: { 'Content-Type': 'application/json', ...headers }
        });
    }

    beforeAll(async () => {
        t = await startTestOrg();
        t.conn.bulk2.pollInterval = 20;
        [contactId, leadId] = await pair('dup@rules.test');
        const other = (await t.conn.sobject('Contact').create({
            LastName: 'Other',
            Email: 'other@rules.test'
        })) as SaveResult;
        otherId = other.id as string;
    });
    afterAll(async () => {
        await t.close();
    });
    afterEach(() => {
        t.admin.setOptions({ duplicateRules: true });
    });

    it('fails both records of a Contact/Lead pair in one Collections update, and not the others', async () => {
        const res = await collectionsUpdate([
            { type: 'Contact', id: contactId, fields: { Title: 'A' } },
            { type: 'Lead', id: leadId, fields: { Title: 'B' } },
            { type: 'Contact', id: otherId, fields: { Title: 'C' } }
        ]);
        const dup = {
            success: false,
            errors: [
                {
                    statusCode: 'DUPLICATES_DETECTED',
                    message: 'Use one of these records?',
                    fields: []
                }
            ]
        };
        expect(res).toEqual([
            { id: contactId, ...dup },
            { id: leadId, ...dup },
            { id: otherId, success: true, errors: [] }
        ]);
        const rows = await t.conn.query<Rec>(
            `SELECT Id, Title FROM Contact WHERE Id IN ('${contactId}', '${otherId}')`
        );
        const title = new Map(rows.records.map((r) => [r.Id, r.Title]));
        expect(title.get(contactId)).toBeNull();
        expect(title.get(otherId)).toBe('C');
    });

    it('saves the same update with Sforce-Duplicate-Rule-Header: allowSave=true', async () => {
        const res = await collectionsUpdate(
            [
                { type: 'Contact', id: contactId, fields: { Title: 'A' } },
                { type: 'Lead', id: leadId, fields: { Title: 'B' } }
            ],
            {
                'Sforce-Duplicate-Rule-Header':
                    'allowSave=true; runAsCurrentUser=false'
            }
        );
        expect(res.map((r) => r.success)).toEqual([true, true]);
    });

    it('saves it when the org has no duplicate rules', async () => {
        t.admin.setOptions({ duplicateRules: false });
        const res = await collectionsUpdate([
            { type: 'Contact', id: contactId, fields: { Title: 'X' } }
        ]);
        expect(res[0].success).toBe(true);
    });

    it('answers a single-record PATCH with 400 and the rule findings (duplicateResut)', async () => {
        const res = await fetch(
            `${t.instanceUrl}/services/data/v${t.conn.version}/sobjects/Contact/${contactId}`,
            {
                method: 'PATCH',
                headers: {
                    Authorization: `Bearer ${t.accessToken}`,
                    'Content-Type': 'application/json'
                },
                body: JSON.stringify({ Title: 'Z' })
            }
        );
        expect(res.status).toBe(400);
        const body = (await res.json()) as Rec[];
        expect(body).toEqual([
            {
                duplicateResut: {
                    allowSave: true,
                    duplicateRule: 'Standard_Contact_Duplicate_Rule',
                    duplicateRuleEntityType: 'Contact',
                    errorMessage: 'Use one of these records?',
                    matchResults: [
                        {
                            entityType: 'Lead',
                            errors: [],
                            matchEngine: 'FuzzyMatchEngine',
                            matchRecords: [
                                {
                                    additionalInformation: [],
                                    fieldDiffs: [],
                                    matchConfidence: 100,
                                    record: {
                                        attributes: {
                                            type: 'Lead',
                                            url: `/services/data/v${t.conn.version}/sobjects/Lead/${leadId}`
                                        },
                                        Id: leadId
                                    }
                                }
                            ],
                            rule: 'Standard_Lead_Match_Rule_v1_0',
                            size: 1,
                            success: true
                        }
                    ]
                },
                errorCode: 'DUPLICATES_DETECTED',
                message: 'Use one of these records?'
            }
        ]);
        // jsforce surfaces it as an error with the code; with the header it saves.
        const err = await failure(
            t.conn.sobject('Lead').update({ Id: leadId, Title: 'Z' })
        );
        expect(err.errorCode).toBe('DUPLICATES_DETECTED');
        const ok = (await t.conn
            .sobject('Lead')
            .update(
                { Id: leadId, Title: 'Z' },
                { headers: ALLOW }
            )) as SaveResult;
        expect(ok.success).toBe(true);
    });

    it('applies to Collections upserts too', async () => {
        const upsert = (
            headers: Record<string, string>
        ): Promise<SaveResult[]> =>
            t.conn.request<SaveResult[]>({
                method: 'PATCH',
                url: `/services/data/v${t.conn.version}/composite/sobjects/Lead/Id`,
                body: JSON.stringify({
                    allOrNone: false,
                    records: [
                        { attributes: { type: 'Lead' }, Id: leadId, Title: 'U' }
                    ]
                }),
                headers: { 'Content-Type': 'application/json', ...headers }
            });
        const refused = await upsert({});
        expect(refused[0].errors[0]?.statusCode).toBe('DUPLICATES_DETECTED');
        const saved = await upsert(ALLOW);
        expect(saved[0].success).toBe(true);
    });

    it('refuses a create that duplicates an existing record, but not records of the same save', async () => {
        const err = await failure(
            t.conn.sobject('Lead').create({
                LastName: 'New',
                Company: 'X',
                Email: 'Dup@Rules.test'
            })
        );
        expect(err.errorCode).toBe('DUPLICATES_DETECTED');
        // Two new records sharing a new email in one Collections create: both saved.
        const res = (await t.conn.sobject('Contact').create([
            { LastName: 'Twin1', Email: 'twin@rules.test' },
            { LastName: 'Twin2', Email: 'twin@rules.test' }
        ])) as SaveResult[];
        expect(res.map((r) => r.success)).toEqual([true, true]);
        // A later save compares with both.
        const later = await collectionsUpdate([
            { type: 'Contact', id: res[0].id as string, fields: { Title: 'T' } }
        ]);
        expect(later[0].errors[0]?.statusCode).toBe('DUPLICATES_DETECTED');
    });

    it('ignores deleted Contacts and converted Leads', async () => {
        const [c, l] = await pair('gone@rules.test');
        await t.conn.sobject('Lead').destroy(l);
        const afterDelete = await collectionsUpdate([
            { type: 'Contact', id: c, fields: { Title: 'D' } }
        ]);
        expect(afterDelete[0].success).toBe(true);

        const [c2, l2] = await pair('converted@rules.test');
        t.admin.convertLead(l2, { contactId: c2 });
        const afterConvert = await collectionsUpdate([
            { type: 'Contact', id: c2, fields: { Title: 'E' } }
        ]);
        expect(afterConvert[0].success).toBe(true);
    });

    it('honours the header only from API 52.0, where it exists', async () => {
        const old = new Connection({
            instanceUrl: t.instanceUrl,
            accessToken: t.accessToken,
            version: '51.0'
        });
        const err = await failure(
            old
                .sobject('Contact')
                .update({ Id: contactId, Title: 'Old' }, { headers: ALLOW })
        );
        expect(err.errorCode).toBe('DUPLICATES_DETECTED');
    });

    it('lets seedRecords (test setup) load a duplicate pair, and keeps the rules on after it', async () => {
        const [c] = await seedRecords(t, 'Contact', [
            { LastName: 'Seed', Email: 'seed@rules.test' }
        ]);
        await seedRecords(t, 'Lead', [
            { LastName: 'Seed', Company: 'S', Email: 'seed@rules.test' }
        ]);
        expect(t.admin.getOptions().duplicateRules).toBe(true);
        const res = await collectionsUpdate([
            { type: 'Contact', id: c, fields: { Title: 'S' } }
        ]);
        expect(res[0].errors[0]?.statusCode).toBe('DUPLICATES_DETECTED');
    });

    it('fails Bulk ingest rows of a duplicate pair: a Bulk job cannot send the header', async () => {
        const res = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'update',
            input: [
                { Id: contactId, Title: 'Bulk' },
                { Id: otherId, Title: 'Bulk' }
            ]
        });
        expect(res.successfulResults.map((r) => r.sf__Id)).toEqual([otherId]);
        expect(res.failedResults.map((r) => r.sf__Error)).toEqual([
            'DUPLICATES_DETECTED:Use one of these records?:--'
        ]);
    });
});
