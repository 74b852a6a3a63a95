/**
 * Metadata deploy over REST, through source-deploy-retrieve (the path `sf project
 * deploy start` takes) and jsforce: the schema exists only after a deploy installs it,
 * invalid components fail the whole deploy, validation rules are enforced.
 */
import JSZip from 'jszip';
import {
    deployPackage,
    startTestOrg,
    waitForDeploy,
    type TestOrg
} from '../testing';

type Rec = Record<string, unknown>;

interface JsforceError extends Error {
    errorCode?: string;
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
    try {
        await p;
    } catch (err) {
        return err as JsforceError;
    }
    throw new Error('expected the call to fail');
}

const FIXTURES = 'scripts/tools/local-org/__tests__/fixtures';

describe('metadata deploy: the package', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg();
    });
    afterAll(async () => {
        await t.close();
    });

    it('installs force-app: fields appear in describe and accept writes only after the deploy', async () => {
        const before = await failure(
            t.conn.query('SELECT Marketo_Sales_Opt_Out__c FROM Contact')
        );
        expect(before.errorCode).toBe('INVALID_FIELD');
        expect(
            (await failure(t.conn.describe('Audience_Membership__c'))).errorCode
        ).toBe('NOT_FOUND');

        // Through source-deploy-retrieve itself (no cached zip), as sf project deploy start does.
        const summary = await deployPackage(t, 'force-app', {
            useCache: false
        });
        expect(summary.componentFailures).toEqual([]);
        expect(summary).toMatchObject({ status: 'Succeeded', success: true });
        expect(summary.numberComponentsDeployed).toBe(
            summary.numberComponentsTotal
        );

        const contact = await t.conn.describe('Contact');
        const optOut = contact.fields.find(
            (f) => f.name === 'Marketo_Sales_Opt_Out__c'
        );
        expect(optOut).toMatchObject({
            type: 'boolean',
            label: 'Marketo Sales Opt Out',
            custom: true,
            updateable: true,
            defaultValue: false
        });
        expect(contact.childRelationships).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    childSObject: 'Audience_Membership__c',
                    relationshipName: 'Audience_Memberships__r'
                })
            ])
        );
        const am = await t.conn.describe('Audience_Membership__c');
        const fields = Object.fromEntries(am.fields.map((f) => [f.name, f]));
        expect(fields.Name).toMatchObject({
            autoNumber: true,
            createable: false
        });
        expect(fields.Contact__c).toMatchObject({
            type: 'reference',
            referenceTo: ['Contact'],
            relationshipName: 'Contact__r'
        });
        expect(fields.Membership_Key__c).toMatchObject({
            externalId: true,
            unique: true,
            length: 255,
            idLookup: true
        });
        expect(fields.Status__c).toMatchObject({
            type: 'picklist',
            restrictedPicklist: true
        });
        expect(
            (fields.Source__c.picklistValues ?? []).map(
                (p: { value: string; label: string }) => [p.value, p.label]
            )
        ).toContainEqual(['Platform', 'Marketing platform']);
        expect(fields.Status_Changed_At__c.type).toBe('datetime');
        expect(fields.Email__c.type).toBe('email');
        expect(fields.Pending_Push__c).toMatchObject({
            type: 'boolean',
            defaultValue: false
        });

        const c = (await t.conn.sobject('Contact').create({
            LastName: 'Deployed',
            Marketo_Sales_Opt_Out__c: true
        })) as { id: string };
        const row = (await t.conn.sobject('Contact').retrieve(c.id)) as Rec;
        expect(row.Marketo_Sales_Opt_Out__c).toBe(true);
        const lead = (await t.conn
            .sobject('Lead')
            .create({ LastName: 'L', Company: 'C' })) as { id: string };
        expect(
            ((await t.conn.sobject('Lead').retrieve(lead.id)) as Rec)
                .Marketo_Sales_Opt_Out__c
        ).toBe(false);
    });

    it('enforces the Exactly_One_Person rule, restricted picklists and the unique membership key', async () => {
        const contact = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Member' })) as { id: string };
        const lead = (await t.conn
            .sobject('Lead')
            .create({ LastName: 'Member', Company: 'C' })) as { id: string };
        const am = t.conn.sobject('Audience_Membership__c');
        const key = `aud1:${contact.id}`;
        const created = (await am.create({
            Contact__c: contact.id,
            Audience_Id__c: 'aud1',
            Status__c: 'Subscribed',
            Source__c: 'Platform',
            Membership_Key__c: key,
            Status_Changed_At__c: '2024-05-20T20:49:32.000+0000'
        })) as { id: string };
        const row = (await am.retrieve(created.id)) as Rec;
        expect(row.Name).toMatch(/^AM-\d{7}$/);
        expect(row.Status_Changed_At__c).toBe('2024-05-20T20:49:32.000+0000');
        expect(row.Pending_Push__c).toBe(false);

        const neither = await failure(
            am.create({ Audience_Id__c: 'aud1', Status__c: 'Subscribed' })
        );
        expect(neither.errorCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
        expect(neither.message).toBe(
            'Choose either a Contact or a Lead for this audience membership, not both.'
        );
        const both = await failure(
            am.create({ Contact__c: contact.id, Lead__c: lead.id })
        );
        expect(both.errorCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
        const picklist = await failure(
            am.create({ Lead__c: lead.id, Status__c: 'Bounced' })
        );
        expect(picklist.errorCode).toBe(
            'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'
        );
        expect(picklist.message).toBe(
            'Status: bad value for restricted picklist field: Bounced'
        );
        // Membership_Key__c is unique and case-sensitive: only the exact key collides.
        const dup = await failure(
            am.create({
                Lead__c: lead.id,
                Membership_Key__c: key
            })
        );
        expect(dup.errorCode).toBe('DUPLICATE_VALUE');
        expect(dup.message).toBe(
            `duplicate value found: Membership_Key__c duplicates value on record with id: ${created.id}`
        );
        const long = await failure(
            am.create({ Lead__c: lead.id, Audience_Id__c: 'x'.repeat(65) })
        );
        expect(long.errorCode).toBe('STRING_TOO_LONG');

        // Upsert on the external id: update, then create.
        const upserted = (await am.upsert(
            [
                {
                    Membership_Key__c: key,
                    Status__c: 'Unsubscribed',
                    Unsubscribe_Reason__c: 'Asked'
                },
                {
                    Membership_Key__c: `aud2:${lead.id}`,
                    Lead__c: lead.id,
                    Status__c: 'Pending'
                }
            ],
            'Membership_Key__c'
        )) as Array<{ id: string; success: boolean; created: boolean }>;
        expect(upserted.map((u) => [u.success, u.created])).toEqual([
            [true, false],
            [true, true]
        ]);
        expect(upserted[0].id).toBe(created.id);
        // Single-record upsert by external id (PATCH /sobjects/{Type}/{Field}/{value}).
        const single = (await am.upsert(
            {
                Membership_Key__c: `aud3:${lead.id}`,
                Lead__c: lead.id,
                Status__c: 'Cleaned'
            },
            'Membership_Key__c'
        )) as {
            success: boolean;
            created: boolean;
            id: string;
        };
        expect(single).toMatchObject({ success: true, created: true });
        const again = (await am.upsert(
            { Membership_Key__c: `aud3:${lead.id}`, Status__c: 'Archived' },
            'Membership_Key__c'
        )) as {
            created: boolean;
            id: string;
        };
        expect(again).toMatchObject({ created: false, id: single.id });
        // The key is case-sensitive: AUD3 is another audience, another record.
        const upper = (await am.upsert(
            {
                Membership_Key__c: `AUD3:${lead.id}`,
                Lead__c: lead.id,
                Status__c: 'Subscribed'
            },
            'Membership_Key__c'
        )) as {
            created: boolean;
            id: string;
        };
        expect(upper.created).toBe(true);
        expect(upper.id).not.toBe(single.id);

        // The child relationship lives on Contact and Lead, not on the membership itself.
        const wrongSide = await failure(
            t.conn.query(
                'SELECT Id, (SELECT Id FROM Audience_Memberships__r) FROM Audience_Membership__c'
            )
        );
        expect(wrongSide.errorCode).toBe('INVALID_FIELD');
        const parent = await t.conn.query(
            `SELECT Id, (SELECT Status__c, Membership_Key__c FROM Audience_Memberships__r) FROM Contact WHERE Id = '${contact.id}'`
        );
        expect(
            (parent.records[0] as Rec).Audience_Memberships__r
        ).toMatchObject({
            totalSize: 1,
            records: [{ Status__c: 'Unsubscribed', Membership_Key__c: key }]
        });

        // Deleting the Contact clears the lookup (deleteConstraint SetNull).
        await t.conn.sobject('Contact').destroy(contact.id);
        expect(((await am.retrieve(created.id)) as Rec).Contact__c).toBeNull();
    });

    it('serves the hierarchy custom setting with an org-default row', async () => {
        const settings = t.conn.sobject('Opt_Out_Sync_Settings__c');
        const none = await t.conn.query(
            'SELECT Id FROM Opt_Out_Sync_Settings__c'
        );
        expect(none.totalSize).toBe(0);
        const created = (await settings.create({
            SetupOwnerId: t.org.orgId,
            Nightly_Sync_Enabled__c: true
        })) as { id: string };
        const q = await t.conn.query(
            'SELECT SetupOwnerId, Nightly_Sync_Enabled__c, Opt_Out_Field__c, All_Audiences_Rule__c, Apply_To_Same_Email__c FROM Opt_Out_Sync_Settings__c'
        );
        expect(q.records[0]).toMatchObject({
            SetupOwnerId: t.org.orgId,
            Nightly_Sync_Enabled__c: true,
            Opt_Out_Field__c: 'HasOptedOutOfEmail',
            All_Audiences_Rule__c: false,
            Apply_To_Same_Email__c: true
        });
        await settings.update({
            Id: created.id,
            Opt_Out_Field__c: 'Marketo_Sales_Opt_Out__c'
        });
        expect(
            ((await settings.retrieve(created.id)) as Rec).Opt_Out_Field__c
        ).toBe('Marketo_Sales_Opt_Out__c');
        const second = await failure(
            settings.create({ SetupOwnerId: t.org.orgId })
        );
        expect(second.errorCode).toBe('DUPLICATE_VALUE');
    });

    it('reports an unchanged package as unchanged on a second deploy', async () => {
        const again = await deployPackage(t, 'force-app');
        expect(again.success).toBe(true);
        const status = (await t.conn.metadata.checkDeployStatus(
            again.id,
            true,
            true
        )) as unknown as {
            details: {
                componentSuccesses: Array<{
                    fullName: string;
                    created: boolean;
                    changed: boolean;
                }>;
            };
        };
        const field = status.details.componentSuccesses.find(
            (m) => m.fullName === 'Contact.Marketo_Sales_Opt_Out__c'
        );
        expect(field).toMatchObject({ created: false, changed: false });
    });
});

describe('metadata deploy: fixtures', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg();
    });
    afterAll(async () => {
        await t.close();
    });

    it('installs a custom object with typed fields and warns about a rule it cannot evaluate', async () => {
        const summary = await deployPackage(t, `${FIXTURES}/valid`);
        expect(summary.success).toBe(true);
        expect(summary.warnings).toEqual([
            expect.objectContaining({
                componentType: 'ValidationRule',
                fullName: 'Widget__c.Not_Overdue',
                problem: expect.stringContaining('cannot evaluate')
            })
        ]);
        const w = await t.conn.describe('Widget__c');
        expect(w.keyPrefix).toMatch(/^a[0-9A-Za-z]{2}$/);
        const contact = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Owner', Widget_Count__c: 3 })) as {
            id: string;
        };
        const widget = (await t.conn.sobject('Widget__c').create({
            Name: 'W1',
            Code__c: 'W-1',
            Size__c: 1.234,
            Owner_Contact__c: contact.id,
            Due__c: '2001-01-01',
            Seen_At__c: '2024-01-02T03:04:05Z'
        })) as { id: string };
        const row = (await t.conn
            .sobject('Widget__c')
            .retrieve(widget.id)) as Rec;
        expect(row).toMatchObject({
            Active__c: true,
            Kind__c: 'Small',
            Size__c: 1.23,
            Due__c: '2001-01-01',
            Seen_At__c: '2024-01-02T03:04:05.000+0000'
        });
        const rule = await failure(
            t.conn.sobject('Widget__c').create({ Name: 'W2', Active__c: true })
        );
        expect(rule).toMatchObject({
            errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
            message: 'An active widget needs a code.'
        });
        const q = await t.conn.query(
            `SELECT Name, Owner_Contact__r.Widget_Count__c FROM Widget__c WHERE Code__c = 'w-1'`
        );
        expect(q.records[0]).toMatchObject({
            Name: 'W1',
            Owner_Contact__r: { Widget_Count__c: 3 }
        });
    });

    it('fails an invalid package with component failures and installs nothing of it', async () => {
        const summary = await deployPackage(t, `${FIXTURES}/invalid`);
        expect(summary).toMatchObject({ success: false, status: 'Failed' });
        const problems = Object.fromEntries(
            summary.componentFailures.map((f) => [f.fullName, f])
        );
        expect(problems['Gadget__c.Bad_Type__c']).toMatchObject({
            componentType: 'CustomField',
            fileName: 'objects/Gadget__c.object',
            problem: "'Sprocket' is not a valid value for the enum 'FieldType'"
        });
        expect(problems['Gadget__c.Parent__c'].problem).toBe(
            "Field Parent__c: referenceTo value of 'Nowhere__c' does not resolve to a valid sObject type"
        );
        expect(problems['Missing__c.Orphan__c'].problem).toBe(
            'no CustomObject named Missing__c found'
        );
        // The valid parts of the failed deploy were not installed either.
        expect((await failure(t.conn.describe('Gadget__c'))).errorCode).toBe(
            'NOT_FOUND'
        );
    });

    it('reports malformed XML and unknown types from a hand-made zip deployed with jsforce', async () => {
        const zip = new JSZip();
        zip.file(
            'package.xml',
            '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata"><types><members>Broken__c</members><name>CustomObject</name></types><types><members>X</members><name>NoSuchType</name></types><version>66.0</version></Package>'
        );
        zip.file(
            'objects/Broken__c.object',
            '<?xml version="1.0"?><CustomObject><label>Broken</fields></CustomObject>'
        );
        const res = (await t.conn.metadata.deployRest(
            await zip.generateAsync({ type: 'nodebuffer' }),
            {
                rollbackOnError: true
            }
        )) as unknown as { id: string };
        const summary = await waitForDeploy(t.conn, res.id);
        expect(summary.success).toBe(false);
        const broken = summary.componentFailures.find(
            (f) => f.fullName === 'Broken__c'
        );
        expect(broken).toMatchObject({
            componentType: 'CustomObject',
            fileName: 'objects/Broken__c.object'
        });
        expect(broken?.problem).toMatch(/^Error parsing file: /);
        expect(summary.componentFailures).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    fullName: 'package.xml',
                    problem:
                        "Unknown type name 'NoSuchType' specified in package.xml"
                })
            ])
        );
    });

    it('validates without installing on a check-only deploy', async () => {
        const zip = new JSZip();
        zip.file(
            'package.xml',
            '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata"><types><members>Lead.Check_Only__c</members><name>CustomField</name></types><version>66.0</version></Package>'
        );
        zip.file(
            'objects/Lead.object',
            '<?xml version="1.0" encoding="UTF-8"?><CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><fields><fullName>Check_Only__c</fullName><label>Check Only</label><type>Checkbox</type><defaultValue>false</defaultValue></fields></CustomObject>'
        );
        const res = (await t.conn.metadata.deployRest(
            await zip.generateAsync({ type: 'nodebuffer' }),
            { checkOnly: true }
        )) as unknown as {
            id: string;
        };
        const summary = await waitForDeploy(t.conn, res.id);
        expect(summary.success).toBe(true);
        const lead = await t.conn.describe('Lead');
        expect(lead.fields.some((f) => f.name === 'Check_Only__c')).toBe(false);
    });
});
