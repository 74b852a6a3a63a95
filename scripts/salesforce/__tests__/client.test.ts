/**
 * The OrgClient against the local org: request counting (pages, polls, retries) equal
 * to what the org served, retries and back-off, Bulk API 2.0 reads and writes under
 * faults, describe caching and the settings round trip.
 */
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { OrgClient, type OrgClientOptions } from '../client';
import { SalesforceError } from '../errors';
import { readSettings, writeSettings } from '../settings';
import { findFieldProblems } from '../describe';

let t: TestOrg;
let sleeps: number[];
afterEach(async () => {
    await t?.close();
});

function client(options: Partial<OrgClientOptions> = {}): OrgClient {
    return new OrgClient(t.conn as never, {
        targetOrg: 'local',
        local: true,
        sleep: async (ms) => {
            sleeps.push(ms);
        },
        random: () => 0,
        ...options
    });
}

beforeEach(() => {
    sleeps = [];
});

describe('reads', () => {
    it('pages a REST scan past 10,000 rows (no maxFetch cut-off) and counts every page', async () => {
        t = await startTestOrg({ deploy: true });
        await seedRecords(t, 'Contact', fakePeople(10_500));
        t.admin.resetStats();
        t.admin.resetUsage();
        const c = client();
        let rows = 0;
        let mode = '';
        for await (const page of c.scan('SELECT Id, Email FROM Contact', {
            onMode: (m) => (mode = m)
        }))
            rows += page.length;
        expect(rows).toBe(10_500);
        expect(mode).toBe('rest');
        expect(t.admin.stats().byKind).toEqual({ query: 1, queryMore: 5 });
        expect(c.apiRequests).toBe(6);
        expect(c.apiUsage).toEqual({ used: 6, max: 15_000 });
    });

    it('streams a Bulk API 2.0 query page by page, starting a failed job again', async () => {
        t = await startTestOrg({ deploy: true });
        await seedRecords(t, 'Contact', fakePeople(2500));
        t.admin.resetStats();
        t.admin.setFaults('bulkfail:next=1@bulkQuery');
        const c = client({ bulkQueryPageSize: 1000 });
        const pages: number[] = [];
        for await (const page of c.scan(
            'SELECT Id, Email, HasOptedOutOfEmail FROM Contact',
            {
                forceBulk: true,
                booleanFields: ['HasOptedOutOfEmail']
            }
        )) {
            pages.push(page.length);
            expect(page[0].HasOptedOutOfEmail).toBe(false);
        }
        expect(pages).toEqual([1000, 1000, 500]);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkQueryCreate).toBe(2);
        expect(stats.byKind.bulkQueryResults).toBe(3);
        expect(c.apiRequests).toBe(stats.totalRequests);
        expect(c.retried.requests).toBe(1);
    });

    it('describes once per object and reports missing fields and objects', async () => {
        t = await startTestOrg({ deploy: true });
        const c = client();
        expect(
            await findFieldProblems(c, [
                { object: 'Contact', field: 'Marketo_Sales_Opt_Out__c' },
                { object: 'Contact', field: 'Nope__c' },
                { object: 'Lead', field: 'IsConverted' },
                { object: 'Ghost__c', field: 'X__c' }
            ])
        ).toEqual([
            { object: 'Contact', field: 'Nope__c', problem: 'field missing' },
            { object: 'Lead', field: 'IsConverted', problem: 'not updateable' },
            { object: 'Ghost__c', field: 'X__c', problem: 'object missing' }
        ]);
        expect(t.admin.stats().byKind.describe).toBe(3);
    });
});

describe('writes and retries', () => {
    it('retries POST and PATCH on 5xx, 429 (honouring Retry-After) and dropped connections', async () => {
        t = await startTestOrg({ deploy: true });
        const ids = await seedRecords(t, 'Contact', fakePeople(3));
        t.admin.resetStats();
        t.admin.setFaults(
            '500:next=1@PATCH,429:next=1@PATCH,drop:next=1@PATCH,drop-after:next=1@PATCH'
        );
        const c = client();
        const results = await c.updateRecords(
            'Contact',
            ids.map((Id) => ({ Id, HasOptedOutOfEmail: true }))
        );
        expect(results.every((r) => r.success)).toBe(true);
        expect(c.retried.requests).toBe(4);
        expect(c.apiRequests).toBe(5);
        expect(t.admin.stats().totalRequests).toBe(5);
        // random() = 0: 250, 500, 1000, 2000 ms; Retry-After: 1 s lifts the second.
        expect(sleeps).toEqual([250, 1000, 1000, 2000]);
    });

    it('retries the concurrent long-running request limit (403 REQUEST_LIMIT_EXCEEDED) instead of deferring the run', async () => {
        t = await startTestOrg({ deploy: true });
        t.admin.setFaults('concurrent:next=2@query');
        const c = client();
        const rows = await c.queryAll('SELECT Id FROM Contact');
        expect(rows).toEqual([]);
        expect(c.retried.requests).toBe(2);
        expect(sleeps).toEqual([250, 500]);
    });

    it('gives up after the last attempt with the request, status and Salesforce’s error', async () => {
        t = await startTestOrg({ deploy: true });
        t.admin.setFaults('503:1@query');
        const c = client({ retry: { maxAttempts: 3 } });
        const err = await c
            .queryAll('SELECT Id FROM Contact')
            .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SalesforceError);
        expect(err).toMatchObject({
            errorCode: 'SERVER_UNAVAILABLE',
            status: 503,
            message: expect.stringMatching(
                /^GET \/query failed \(HTTP 503\): Server temporarily unavailable/
            )
        });
        expect(c.apiRequests).toBe(3);
        expect(sleeps).toHaveLength(2);
    });

    it('does not retry what a retry cannot fix', async () => {
        t = await startTestOrg({ deploy: true });
        const c = client();
        await expect(
            c.queryAll('SELECT Nope FROM Contact')
        ).rejects.toMatchObject({
            errorCode: 'INVALID_FIELD',
            status: 400
        });
        expect(c.apiRequests).toBe(1);
        expect(sleeps).toEqual([]);
    });

    it('writes through Bulk API 2.0 above the threshold and retries locked rows', async () => {
        t = await startTestOrg({ deploy: true });
        const ids = await seedRecords(t, 'Contact', fakePeople(300));
        t.admin.resetStats();
        t.admin.setFaults('lock:next=3@bulkIngest');
        const c = client({ bulkThreshold: 100 });
        const results = await c.updateRecords(
            'Contact',
            ids.map((Id) => ({ Id, Marketo_Sales_Opt_Out__c: true }))
        );
        expect(results.filter((r) => r.success)).toHaveLength(300);
        expect(results.filter((r) => r.attempts === 2)).toHaveLength(3);
        expect(c.retried.records).toBe(3);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkIngestCreate).toBe(1);
        // The three locked rows went again through sObject Collections (cheaper).
        expect(stats.byKind.collectionsUpdate).toBe(1);
        expect(c.apiRequests).toBe(stats.totalRequests);
        const check = await t.conn.query<{ Marketo_Sales_Opt_Out__c: boolean }>(
            'SELECT Marketo_Sales_Opt_Out__c FROM Contact WHERE Marketo_Sales_Opt_Out__c = true'
        );
        expect(check.totalSize).toBe(300);
    });

    it('sends several Collections chunks in one Composite request, per-record results kept', async () => {
        t = await startTestOrg({ deploy: true });
        const ids = await seedRecords(t, 'Contact', fakePeople(650));
        t.admin.resetStats();
        t.admin.setFaults('lock:next=2@collectionsUpdate');
        const c = client({ bulkThreshold: 10_000 });
        const gone = '003000000000000AAA';
        const results = await c.updateRecords('Contact', [
            ...ids.map((Id) => ({ Id, Marketo_Sales_Opt_Out__c: true })),
            { Id: gone, Marketo_Sales_Opt_Out__c: true }
        ]);
        expect(results).toHaveLength(651);
        expect(results.filter((r) => r.success)).toHaveLength(650);
        expect(results[650]).toMatchObject({
            key: gone,
            success: false,
            errors: [
                expect.objectContaining({
                    statusCode: 'INVALID_CROSS_REFERENCE_KEY'
                })
            ]
        });
        const stats = t.admin.stats();
        // 4 chunks of ≤ 200 in one composite; the 2 locked rows again in one request.
        expect(stats.byKind.composite).toBe(1);
        expect(stats.byKind.collectionsUpdate ?? 0).toBe(1);
        expect(c.apiRequests).toBe(2);
        expect(results.filter((r) => r.attempts === 2)).toHaveLength(2);
        const check = await t.conn.query(
            'SELECT COUNT() FROM Contact WHERE Marketo_Sales_Opt_Out__c = true'
        );
        expect(check.totalSize).toBe(650);
    });

    it('upserts on an external id through Bulk and reports per-record errors', async () => {
        t = await startTestOrg({ deploy: true });
        const [contact] = await seedRecords(t, 'Contact', fakePeople(1));
        const c = client({ bulkThreshold: 1 });
        const results = await c.upsertRecords(
            'Audience_Membership__c',
            'Membership_Key__c',
            [
                {
                    Membership_Key__c: `a:${contact}`,
                    Contact__c: contact,
                    Audience_Id__c: 'a',
                    Status__c: 'Subscribed'
                },
                {
                    Membership_Key__c: 'b:none',
                    Audience_Id__c: 'b',
                    Status__c: 'Subscribed'
                }
            ]
        );
        expect(results[0]).toMatchObject({
            success: true,
            created: true,
            key: `a:${contact}`
        });
        expect(results[1]).toMatchObject({ success: false, key: 'b:none' });
        expect(results[1].errors[0].statusCode).toBe(
            'FIELD_CUSTOM_VALIDATION_EXCEPTION'
        );
    });
});

describe('duplicate rules', () => {
    /** A Contact and a Lead with one email: each is the other's duplicate. */
    async function duplicatePair(): Promise<{ contact: string; lead: string }> {
        t = await startTestOrg({
            deploy: true,
            orgOptions: { duplicateRules: false }
        });
        const [contact] = await seedRecords(t, 'Contact', [
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        const [lead] = await seedRecords(t, 'Lead', [
            { LastName: 'Ana', Company: 'Acme', Email: 'ANA@example.com' }
        ]);
        t.admin.setOptions({ duplicateRules: true });
        return { contact, lead };
    }

    it('updates a Contact and a Lead that duplicate each other: every sObject write says allowSave=true', async () => {
        const { contact, lead } = await duplicatePair();
        // Without the header the org refuses (the strict org is not kinder).
        await expect(
            t.conn
                .sobject('Lead')
                .update({ Id: lead, HasOptedOutOfEmail: true })
        ).rejects.toThrow(/Use one of these records/);
        const c = client();
        for (const [object, id] of [
            ['Contact', contact],
            ['Lead', lead]
        ] as const) {
            const [r] = await c.updateRecords(object, [
                { Id: id, HasOptedOutOfEmail: true }
            ]);
            expect(r).toMatchObject({ success: true, errors: [] });
        }
        await c.updateRecord('Contact', contact, { Title: 'x' });
        const rows = await t.conn.query<{ HasOptedOutOfEmail: boolean }>(
            `SELECT HasOptedOutOfEmail FROM Lead WHERE Id = '${lead}'`
        );
        expect(rows.records[0].HasOptedOutOfEmail).toBe(true);
    });

    it('sends records a Bulk job lost to a duplicate rule again through Collections, with the header', async () => {
        const { lead } = await duplicatePair();
        const [other] = await seedRecords(t, 'Lead', [
            { LastName: 'Bo', Company: 'Acme', Email: 'bo@example.com' }
        ]);
        t.admin.resetStats();
        const c = client({ bulkThreshold: 1 });
        const results = await c.updateRecords('Lead', [
            { Id: lead, HasOptedOutOfEmail: true },
            { Id: other, HasOptedOutOfEmail: true }
        ]);
        expect(results.map((r) => [r.key, r.success])).toEqual([
            [lead, true],
            [other, true]
        ]);
        expect(results[0].attempts).toBe(2);
        const stats = t.admin.stats();
        expect(stats.byKind.collectionsUpdate).toBe(1);
    });
});

describe('queryEach', () => {
    it('sends up to five queries per Composite request and continues long results with queryMore', async () => {
        t = await startTestOrg({ deploy: true });
        await seedRecords(t, 'Contact', fakePeople(450));
        t.admin.resetStats();
        const c = client({ restPageSize: 200 });
        const soqls = [
            "SELECT Id FROM Contact WHERE Email LIKE 'person1%'",
            "SELECT Id FROM Contact WHERE Email LIKE 'person2%'",
            "SELECT Id FROM Contact WHERE Email = 'nobody@example.com'",
            "SELECT Id FROM Contact WHERE Email LIKE 'person3%'",
            'SELECT Id FROM Contact',
            "SELECT Id FROM Contact WHERE Email LIKE 'person4%'",
            "SELECT Id FROM Contact WHERE Email LIKE 'person44%'"
        ];
        const seen = new Map<number, number>();
        for await (const page of c.queryEach(soqls))
            seen.set(
                page.index,
                (seen.get(page.index) ?? 0) + page.records.length
            );
        expect([...seen.entries()].sort((a, b) => a[0] - b[0])).toEqual([
            [0, 111],
            [1, 111],
            [2, 0],
            [3, 111],
            [4, 450],
            [5, 61],
            [6, 11]
        ]);
        const stats = t.admin.stats();
        // Two composites (5 + 2 queries) and two queryMore for the 450 rows.
        expect(stats.byKind.composite).toBe(2);
        expect(stats.byKind.queryMore).toBe(2);
        expect(stats.byKind.query ?? 0).toBe(0);
        expect(c.apiRequests).toBe(4);
    });

    it('raises a refused query with its Salesforce error code', async () => {
        t = await startTestOrg({ deploy: true });
        const c = client();
        const pages = c.queryEach([
            'SELECT Id FROM Contact',
            'SELECT Nope__c FROM Contact'
        ]);
        await expect(
            (async () => {
                for await (const page of pages) void page;
            })()
        ).rejects.toMatchObject({ errorCode: 'INVALID_FIELD', status: 400 });
    });
});

describe('settings', () => {
    it('reads defaults, creates the org default, updates it, and repairs a bad value', async () => {
        t = await startTestOrg({ deploy: true });
        const c = client();
        expect(await readSettings(c)).toEqual({
            settings: {
                nightlySyncEnabled: false,
                optOutField: 'HasOptedOutOfEmail',
                allAudiencesRule: false,
                applyToSameEmail: true
            },
            source: 'defaults',
            recordId: null
        });
        const created = await writeSettings(c, { nightlySyncEnabled: true });
        expect(created.source).toBe('org-default');
        const updated = await writeSettings(c, {
            allAudiencesRule: true,
            applyToSameEmail: false
        });
        expect(updated.recordId).toBe(created.recordId);
        expect((await readSettings(c)).settings).toEqual({
            nightlySyncEnabled: true,
            optOutField: 'HasOptedOutOfEmail',
            allAudiencesRule: true,
            applyToSameEmail: false
        });
        const rows = await t.conn.query<{ SetupOwnerId: string }>(
            'SELECT SetupOwnerId FROM Opt_Out_Sync_Settings__c'
        );
        expect(rows.totalSize).toBe(1);
        expect(rows.records[0].SetupOwnerId.startsWith('00D')).toBe(true);
        await t.conn.sobject('Opt_Out_Sync_Settings__c').update({
            Id: created.recordId as string,
            Opt_Out_Field__c: 'Bogus__c'
        });
        await expect(readSettings(c)).rejects.toThrow(
            /Opt_Out_Field__c is 'Bogus__c'/
        );
        await expect(
            writeSettings(c, { nightlySyncEnabled: false })
        ).rejects.toThrow(/Bogus__c/);
        const fixed = await writeSettings(c, {
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        expect(fixed.settings.optOutField).toBe('Marketo_Sales_Opt_Out__c');
        await expect(
            writeSettings(c, { optOutField: 'DoNotCall' as never })
        ).rejects.toThrow(
            /must be HasOptedOutOfEmail or Marketo_Sales_Opt_Out__c, not 'DoNotCall'/
        );
    });

    it('reuses the settings for settingsTtlMs (serve, schedule), reads again after its own write, keeps no failed read', async () => {
        t = await startTestOrg({ deploy: true });
        let now = 1_000_000;
        const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
        try {
            const c = client({ settingsTtlMs: 30_000 });
            await writeSettings(c, { nightlySyncEnabled: true });
            const first = c.apiRequests;
            expect((await readSettings(c)).settings.nightlySyncEnabled).toBe(
                true
            );
            const one = c.apiRequests - first;
            expect(one).toBeGreaterThan(0);
            // Changed in Setup: not seen until the time is over.
            await t.conn.sobject('Opt_Out_Sync_Settings__c').update({
                Id: (await readSettings(c)).recordId as string,
                Nightly_Sync_Enabled__c: false
            });
            expect((await readSettings(c)).settings.nightlySyncEnabled).toBe(
                true
            );
            expect(c.apiRequests - first).toBe(one);
            now += 30_001;
            expect((await readSettings(c)).settings.nightlySyncEnabled).toBe(
                false
            );
            expect(c.apiRequests - first).toBe(2 * one);
            // Its own write is seen at once.
            await writeSettings(c, { allAudiencesRule: true });
            expect((await readSettings(c)).settings.allAudiencesRule).toBe(
                true
            );
            // A failed read is not kept.
            now += 30_001;
            t.admin.setFaults('500:next=9@query');
            await expect(readSettings(c)).rejects.toThrow();
            t.admin.setFaults('');
            expect((await readSettings(c)).settings.allAudiencesRule).toBe(
                true
            );
            // Without a time (one-shot commands), every read asks the org.
            const plain = client();
            await readSettings(plain);
            await readSettings(plain);
            expect(plain.apiRequests).toBe(2 * one);
        } finally {
            clock.mockRestore();
        }
    });

    it('applies the sync user’s own values, then its profile’s, then the org default, field by field (getInstance)', async () => {
        t = await startTestOrg({ deploy: true });
        const c = client();
        await writeSettings(c, {
            nightlySyncEnabled: false,
            allAudiencesRule: false,
            applyToSameEmail: false
        });
        t.admin.resetStats();
        expect((await readSettings(c)).levels).toBeUndefined();
        // Only the org default: one request, no user lookup.
        expect(t.admin.stats().totalRequests).toBe(1);

        const info = (await t.conn.request('/services/oauth2/userinfo')) as {
            user_id: string;
        };
        const users = await t.conn.query<{ ProfileId: string }>(
            `SELECT ProfileId FROM User WHERE Id = '${info.user_id}'`
        );
        const profileId = users.records[0].ProfileId;
        expect(profileId).toMatch(/^00e/);
        const settings = t.conn.sobject('Opt_Out_Sync_Settings__c');
        // The user's row: nightly on, the field left empty (falls through; a
        // checkbox is never empty, so the user's checkboxes all apply).
        await settings.create({
            SetupOwnerId: info.user_id,
            Nightly_Sync_Enabled__c: true,
            All_Audiences_Rule__c: true,
            Apply_To_Same_Email__c: true,
            Opt_Out_Field__c: null
        });
        // The profile's row: the Marketo field.
        await settings.create({
            SetupOwnerId: profileId,
            Opt_Out_Field__c: 'Marketo_Sales_Opt_Out__c',
            All_Audiences_Rule__c: false
        });
        t.admin.resetStats();
        const read = await readSettings(c);
        expect(read.settings).toEqual({
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c',
            allAudiencesRule: true,
            applyToSameEmail: true
        });
        expect(read.levels).toEqual(['user', 'profile']);
        expect(read.source).toBe('org-default');
        // The rows, the user id, the user's profile.
        expect(t.admin.stats().totalRequests).toBe(3);
    });
});
