/**
 * The preview server without a browser: the UI API answers (shapes, errors,
 * translations) over an in-memory local org with the package deployed, and the HTTP
 * routes (pages, static files, writes, and the org's token never reaching the page).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../local-org/testing';
import { to18 } from '../../../model/ids';
import { loadPackageI18n } from '../i18n';
import { OrgRest, soqlContains, soqlString } from '../org';
import { escapeHtml, inlineJson } from '../pages';
import { safeFile, startPreviewServer, type PreviewServer } from '../server';
import {
    getRecordAnswer,
    getRelatedListRecordsAnswer,
    isoDateTime,
    splitFieldName,
    updateRecordAnswer,
    type UiContext,
    type UiRecord
} from '../ui-api';

let t: TestOrg;
let ctx: UiContext;
const ids: Record<string, string> = {};
const i18n = loadPackageI18n();

const MEMBERSHIP_FIELDS = [
    'Audience_Membership__c.Audience_Name__c',
    'Audience_Membership__c.Status__c',
    'Audience_Membership__c.Source__c',
    'Audience_Membership__c.Status_Changed_At__c',
    'Audience_Membership__c.Pending_Push__c'
];

beforeAll(async () => {
    t = await startTestOrg({ deploy: true });
    const [account] = await seedRecords(t, 'Account', [
        { Name: 'Acme <Corp>' }
    ]);
    [ids.ada, ids.grace] = await seedRecords(t, 'Contact', [
        {
            FirstName: 'Ada',
            LastName: 'Lovelace',
            Email: 'ada@example.com',
            AccountId: account
        },
        { FirstName: 'Grace', LastName: 'Hopper', Email: 'grace@example.com' }
    ]);
    [ids.lead] = await seedRecords(t, 'Lead', [
        { LastName: 'Johnson', Company: 'Langley', Email: 'kj@example.com' }
    ]);
    const ada = to18(ids.ada);
    [ids.news, ids.events, ids.offers] = await seedRecords(
        t,
        'Audience_Membership__c',
        [
            ['a1', 'Newsletter', 'Subscribed', 'Platform'],
            ['a2', 'Events', 'Unsubscribed', 'Webhook'],
            ['a3', 'Offers', 'Pending', 'Import']
        ].map(([id, name, status, source]) => ({
            Contact__c: ada,
            Audience_Id__c: id,
            Audience_Name__c: name,
            Status__c: status,
            Source__c: source,
            Status_Changed_At__c: '2025-03-14T16:30:00.000Z',
            Membership_Key__c: `${id}:${ada}`
        }))
    );
    ctx = {
        org: new OrgRest(t),
        i18n,
        lang: 'en_US',
        timeZone: 'UTC'
    };
}, 120_000);

afterAll(async () => {
    await t?.close();
});

describe('getRecord answers (UI API Record)', () => {
    it('gives the requested fields with value and displayValue, and the record’s metadata', async () => {
        const answer = await getRecordAnswer(
            ctx,
            ids.ada,
            ['Contact.HasOptedOutOfEmail', 'Contact.Account.Name'],
            ['Contact.Marketo_Sales_Opt_Out__c', 'Contact.No_Such_Field__c']
        );
        expect(answer.status).toBe(200);
        const record = answer.body as UiRecord;
        expect(record).toMatchObject({
            apiName: 'Contact',
            id: ids.ada,
            fields: {
                HasOptedOutOfEmail: { value: false, displayValue: null },
                Marketo_Sales_Opt_Out__c: { value: false, displayValue: null },
                Account: {
                    displayValue: 'Acme <Corp>',
                    value: {
                        apiName: 'Account',
                        fields: {
                            Name: { value: 'Acme <Corp>', displayValue: null }
                        }
                    }
                }
            }
        });
        // An optional field the object lacks is left out, as one the user cannot read.
        expect(Object.keys(record.fields).sort()).toEqual([
            'Account',
            'HasOptedOutOfEmail',
            'Marketo_Sales_Opt_Out__c'
        ]);
        expect(record.systemModstamp).toMatch(/Z$/);
        expect(record.weakEtag).toBeGreaterThan(0);
    });

    it('answers a required field it cannot give with a 400 error array', async () => {
        const answer = await getRecordAnswer(
            ctx,
            ids.ada,
            ['Contact.No_Such_Field__c'],
            []
        );
        expect(answer).toEqual({
            status: 400,
            body: [
                {
                    errorCode: 'INVALID_FIELD',
                    message: expect.stringContaining('No_Such_Field__c')
                }
            ]
        });
        // A field of another object is not a field of this record either.
        expect(
            (await getRecordAnswer(ctx, ids.ada, ['Lead.Company'], [])).status
        ).toBe(400);
    });

    it('answers 404 NOT_FOUND for a missing record, an unknown prefix or a malformed id', async () => {
        for (const id of ['003000000000000AAA', 'zzz000000000000AAA', 'nope']) {
            expect(
                await getRecordAnswer(ctx, id, ['Contact.Name'], [])
            ).toEqual({
                status: 404,
                body: [
                    {
                        errorCode: 'NOT_FOUND',
                        message: 'The requested resource does not exist'
                    }
                ]
            });
        }
    });

    it('passes the org’s failures on as UI API errors', async () => {
        t.admin.setFaults('503:1@query');
        try {
            const answer = await getRecordAnswer(
                ctx,
                ids.ada,
                ['Contact.Name'],
                []
            );
            expect(answer.status).toBe(503);
            expect(answer.body).toEqual([
                expect.objectContaining({ errorCode: 'SERVER_UNAVAILABLE' })
            ]);
        } finally {
            t.admin.clearFaults();
        }
    });
});

describe('getRelatedListRecords answers (Related List Record Collection)', () => {
    it('lists the child records sorted, with fields keyed by name, picklist labels and ISO date-times', async () => {
        const answer = await getRelatedListRecordsAnswer(
            ctx,
            ids.ada,
            'Audience_Memberships__r',
            {
                fields: MEMBERSHIP_FIELDS,
                optionalFields: [
                    'Audience_Membership__c.Unsubscribe_Reason__c'
                ],
                sortBy: ['Audience_Membership__c.Audience_Name__c']
            }
        );
        expect(answer.status).toBe(200);
        const body = answer.body as {
            records: UiRecord[];
            count: number;
            pageSize: number;
            nextPageToken: string | null;
            listReference: Record<string, unknown>;
        };
        expect(body.count).toBe(3);
        expect(body.pageSize).toBe(50);
        expect(body.nextPageToken).toBeNull();
        expect(body.listReference).toMatchObject({
            objectApiName: 'Audience_Membership__c',
            parentObjectApiName: 'Contact',
            relatedListId: 'Audience_Memberships__r',
            inContextOfRecordId: ids.ada
        });
        expect(
            body.records.map((r) => r.fields.Audience_Name__c.value)
        ).toEqual(['Events', 'Newsletter', 'Offers']);
        const news = body.records[1];
        expect(news).toMatchObject({
            apiName: 'Audience_Membership__c',
            id: ids.news,
            fields: {
                Status__c: { value: 'Subscribed', displayValue: 'Subscribed' },
                Source__c: {
                    value: 'Platform',
                    displayValue: 'Marketing platform'
                },
                Status_Changed_At__c: {
                    value: '2025-03-14T16:30:00.000Z',
                    displayValue: expect.stringMatching(/3\/14\/25.*4:30/)
                },
                Pending_Push__c: { value: false, displayValue: null },
                Unsubscribe_Reason__c: { value: null, displayValue: null }
            }
        });
    });

    it('translates picklist display values for the user’s language', async () => {
        const answer = await getRelatedListRecordsAnswer(
            { ...ctx, lang: 'fr' },
            ids.ada,
            'Audience_Memberships__r',
            {
                fields: MEMBERSHIP_FIELDS,
                optionalFields: [],
                sortBy: ['-Audience_Membership__c.Audience_Name__c']
            }
        );
        const records = (answer.body as { records: UiRecord[] }).records;
        expect(records.map((r) => r.fields.Status__c.displayValue)).toEqual([
            'En attente',
            'Abonné',
            'Désabonné'
        ]);
        expect(records[1].fields.Source__c.displayValue).toBe(
            'Plateforme marketing'
        );
    });

    it('pages with pageSize and tells whether more records exist', async () => {
        const answer = await getRelatedListRecordsAnswer(
            ctx,
            ids.ada,
            'Audience_Memberships__r',
            {
                fields: MEMBERSHIP_FIELDS,
                optionalFields: [],
                sortBy: [],
                pageSize: 2
            }
        );
        expect(answer.body).toMatchObject({
            count: 2,
            pageSize: 2,
            nextPageToken: '2'
        });
    });

    it('answers bad requests with UI API errors', async () => {
        const params = {
            fields: MEMBERSHIP_FIELDS,
            optionalFields: [],
            sortBy: []
        };
        expect(
            (
                await getRelatedListRecordsAnswer(
                    ctx,
                    ids.ada,
                    'No_Such__r',
                    params
                )
            ).status
        ).toBe(404);
        expect(
            (
                await getRelatedListRecordsAnswer(
                    ctx,
                    ids.ada,
                    'Audience_Memberships__r',
                    { ...params, pageSize: 0 }
                )
            ).status
        ).toBe(400);
        expect(
            (
                await getRelatedListRecordsAnswer(
                    ctx,
                    ids.ada,
                    'Audience_Memberships__r',
                    { ...params, where: '{ Status__c: { eq: "Subscribed" } }' }
                )
            ).body
        ).toEqual([
            expect.objectContaining({
                errorCode: 'ILLEGAL_QUERY_PARAMETER_VALUE'
            })
        ]);
        expect(
            (
                await getRelatedListRecordsAnswer(
                    ctx,
                    ids.ada,
                    'Audience_Memberships__r',
                    { ...params, sortBy: ['Audience_Membership__c.Nope__c'] }
                )
            ).status
        ).toBe(400);
    });
});

describe('updateRecord answers', () => {
    it('saves the fields and answers the saved record', async () => {
        const answer = await updateRecordAnswer(ctx, ids.offers, {
            fields: {
                Status__c: 'Unsubscribed',
                Pending_Push__c: true,
                Source__c: 'Salesforce'
            }
        });
        expect(answer.status).toBe(200);
        expect((answer.body as UiRecord).fields).toEqual({
            Status__c: { value: 'Unsubscribed', displayValue: 'Unsubscribed' },
            Pending_Push__c: { value: true, displayValue: null },
            Source__c: { value: 'Salesforce', displayValue: 'Salesforce' }
        });
        const row = await t.conn.retrieve('Audience_Membership__c', ids.offers);
        expect(row).toMatchObject({
            Status__c: 'Unsubscribed',
            Pending_Push__c: true,
            Source__c: 'Salesforce'
        });
    });

    it('answers a rejected save with field errors and changes nothing', async () => {
        const answer = await updateRecordAnswer(ctx, ids.events, {
            fields: { Status__c: 'Gone' }
        });
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({
            enhancedErrorType: 'RecordError',
            output: {
                fieldErrors: {
                    Status__c: [
                        expect.objectContaining({
                            errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'
                        })
                    ]
                }
            }
        });
        expect(
            await t.conn.retrieve('Audience_Membership__c', ids.events)
        ).toMatchObject({ Status__c: 'Unsubscribed' });
    });

    it('refuses a body without fields, and a record that does not exist', async () => {
        expect((await updateRecordAnswer(ctx, ids.events, {})).status).toBe(
            400
        );
        expect(
            (
                await updateRecordAnswer(ctx, '003000000000000AAA', {
                    fields: { LastName: 'X' }
                })
            ).status
        ).toBe(404);
    });
});

describe('helpers', () => {
    it('splits qualified field names of the right object only', () => {
        expect(splitFieldName('Contact.Account.Name', 'Contact')).toEqual([
            'Account',
            'Name'
        ]);
        expect(splitFieldName('Lead.Company', 'Contact')).toBeUndefined();
        expect(splitFieldName('Contact', 'Contact')).toBeUndefined();
    });

    it('normalises REST date-times to ISO 8601 UTC', () => {
        expect(isoDateTime('2024-05-20T20:49:32.000+0000')).toBe(
            '2024-05-20T20:49:32.000Z'
        );
        expect(isoDateTime(null)).toBeNull();
    });

    it('escapes SOQL literals and LIKE patterns', () => {
        expect(soqlString("O'Brien \\")).toBe("'O\\'Brien \\\\'");
        expect(soqlContains('50%_off')).toBe("'%50\\%\\_off%'");
    });

    it('escapes HTML and inline JSON', () => {
        expect(escapeHtml('<a href="x">&\'</a>')).toBe(
            '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;'
        );
        expect(inlineJson({ s: '</script><!--' })).toBe(
            '{"s":"\\u003c/script\\u003e\\u003c!--"}'
        );
    });

    it('serves files only from under their root', () => {
        const root = mkdtempSync(join(tmpdir(), 'optout-preview-root-'));
        try {
            writeFileSync(join(root, 'a.js'), 'x');
            expect(safeFile(root, 'a.js')).toBe(join(root, 'a.js'));
            expect(safeFile(root, '../package.json')).toBeUndefined();
            expect(safeFile(root, '%2e%2e/%2e%2e/etc/passwd')).toBeUndefined();
            expect(safeFile(root, 'missing.js')).toBeUndefined();
            expect(safeFile(root, '%E0%A4%A')).toBeUndefined();
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});

describe('the preview server over HTTP', () => {
    let server: PreviewServer;
    let buildDir: string;

    beforeAll(async () => {
        // The bundle itself is the browser test's business: a stand-in file here.
        buildDir = mkdtempSync(join(tmpdir(), 'optout-preview-build-'));
        mkdirSync(buildDir, { recursive: true });
        writeFileSync(join(buildDir, 'app.js'), 'export {};\n');
        server = await startPreviewServer({ org: t, buildDir });
    });

    afterAll(async () => {
        await server?.close();
        rmSync(buildDir, { recursive: true, force: true });
    });

    async function get(
        path: string,
        init: RequestInit = {}
    ): Promise<{ status: number; text: string; type: string }> {
        const res = await fetch(`${server.url}${path}`, init);
        return {
            status: res.status,
            text: await res.text(),
            type: res.headers.get('content-type') ?? ''
        };
    }

    it('lists Contacts and Leads on the index, with their audience counts, and searches them', async () => {
        const all = await get('/');
        expect(all.status).toBe(200);
        for (const name of ['Ada Lovelace', 'Grace Hopper', 'Johnson']) {
            expect(all.text).toContain(name);
        }
        expect(all.text).toContain('Acme &lt;Corp&gt;');
        expect(all.text).toMatch(
            new RegExp(
                `data-record-id="${ids.ada}"[\\s\\S]*?<td class="slds-text-align_right">3</td>`
            )
        );
        const found = await get('/?q=GRACE&lang=ja');
        expect(found.text).toContain('Grace Hopper');
        expect(found.text).not.toContain('Ada Lovelace');
        expect(found.text).toContain(`/record/${ids.grace}?lang=ja`);
        const none = await get(`/?q=${encodeURIComponent("nobody'%")}`);
        expect(none.text).toContain('No Contact or Lead matches');
    });

    it('renders a record page with the person, the page context and never the org’s token', async () => {
        const page = await get(`/record/${ids.ada}?lang=fr`);
        expect(page.status).toBe(200);
        expect(page.text).toContain('<html lang="fr">');
        expect(page.text).toContain('Ada Lovelace');
        const context = JSON.parse(
            /window\.__PREVIEW__ = (.*);<\/script>/.exec(page.text)?.[1] ?? '{}'
        ) as Record<string, unknown>;
        expect(context).toMatchObject({
            lang: 'fr',
            locale: 'fr-FR',
            recordId: ids.ada,
            objectApiName: 'Contact',
            labels: expect.objectContaining({
                Audience_Subscriptions_Title:
                    i18n.labels.fr.Audience_Subscriptions_Title
            })
        });
        for (const path of [
            '/',
            `/record/${ids.ada}`,
            `/preview/ui-api/records/${ids.ada}?fields=Contact.Name`
        ]) {
            expect((await get(path)).text).not.toContain(t.accessToken);
        }
        const lead = await get(`/record/${ids.lead}`);
        expect(lead.text).toContain('Langley');
        const missing = await get('/record/003000000000000AAA');
        expect(missing.text).toContain('does not exist');
    });

    it('answers the UI API routes in JSON and refuses cross-site writes', async () => {
        const read = await get(
            `/preview/ui-api/records/${ids.ada}?fields=Contact.Name`
        );
        expect(read.type).toContain('application/json');
        expect(JSON.parse(read.text)).toMatchObject({
            fields: { Name: { value: 'Ada Lovelace' } }
        });
        const write = await get(`/preview/ui-api/records/${ids.news}`, {
            method: 'PATCH',
            headers: {
                'Content-Type': 'application/json',
                Origin: 'http://evil.example'
            },
            body: JSON.stringify({ fields: { Status__c: 'Unsubscribed' } })
        });
        expect(write.status).toBe(403);
        expect(
            await t.conn.retrieve('Audience_Membership__c', ids.news)
        ).toMatchObject({ Status__c: 'Subscribed' });
        expect((await get('/preview/ui-api/nothing/here')).status).toBe(404);
    });

    it('serves the bundle and SLDS, and answers bad requests clearly', async () => {
        const bundle = await get('/preview/build/app.js');
        expect(bundle.type).toContain('text/javascript');
        const css = await get(
            '/assets/styles/salesforce-lightning-design-system.min.css'
        );
        expect(css.status).toBe(200);
        expect(css.type).toContain('text/css');
        const badLang = await get('/?lang=de');
        expect(badLang.status).toBe(400);
        expect(badLang.text).toContain('Unknown language');
        const apiBadLang = await get(
            `/preview/ui-api/records/${ids.ada}?fields=Contact.Name&lang=de`
        );
        expect(apiBadLang.status).toBe(400);
        expect((await get('/nothing')).status).toBe(404);
        expect((await get('/', { method: 'POST' })).status).toBe(405);
    });
});
