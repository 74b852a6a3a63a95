/**
 * Bulk API 2.0 ingest jobs ask for only the results their counts call for
 * (bulk.ts, ingestResults): an update whose job reports no failure reads no results
 * file at all, one with failures reads failedResults (the reasons) and not
 * successfulResults, an upsert reads successfulResults (its Ids and created flags),
 * records not processed are read and sent again; counts that do not add up make it
 * read the successes rather than assume them. The first status poll waits one interval
 * after the close.
 */
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { ingestResults, type JobInfo } from '../bulk';
import {
    OrgClient,
    type ApiRequest,
    type OrgClientOptions,
    type SObjectRow
} from '../client';

describe('Bulk ingest results against the local org', () => {
    let t: TestOrg;
    let sleeps: number[];
    /** Every request the client made, as `METHOD path` (the path without its query). */
    let calls: string[];

    beforeAll(async () => {
        t = await startTestOrg({ deploy: true });
    }, 60_000);
    afterAll(async () => {
        await t?.close();
    });
    beforeEach(() => {
        t.admin.resetStats();
        t.admin.setFaults('');
        sleeps = [];
        calls = [];
    });

    function client(options: Partial<OrgClientOptions> = {}): OrgClient {
        const c = new OrgClient(t.conn as never, {
            targetOrg: 'local',
            local: true,
            sleep: async (ms) => {
                sleeps.push(ms);
                calls.push(`sleep ${ms}`);
                // Let the org's job run between polls.
                await new Promise((resolve) => setTimeout(resolve, 20));
            },
            random: () => 0,
            poll: { minMs: 7, maxMs: 50 },
            ...options
        });
        const request = c.request.bind(c);
        c.request = (<T>(r: ApiRequest) => {
            calls.push(`${r.method} ${r.path.split('?')[0]}`);
            return request<T>(r);
        }) as typeof c.request;
        return c;
    }

    const results = (): string[] =>
        calls.filter((c) =>
            /\/(successfulResults|failedResults|unprocessedrecords)$/.test(c)
        );

    it('an update with no failure: create, upload, close and status polls — no results request', async () => {
        const ids = await seedRecords(
            t,
            'Contact',
            fakePeople(300, { domain: 'none-failed.test' })
        );
        t.admin.resetStats();
        const c = client({ bulkThreshold: 100 });
        const out = await c.updateRecords(
            'Contact',
            ids.map((Id) => ({ Id, Marketo_Sales_Opt_Out__c: true }))
        );
        expect(out.map((r) => [r.key, r.id, r.success])).toEqual(
            ids.map((id) => [id, id, true])
        );
        expect(
            out.every((r) => r.errors.length === 0 && r.attempts === 1)
        ).toBe(true);
        expect(results()).toEqual([]);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkIngestResults ?? 0).toBe(0);
        const polls = stats.byKind.bulkIngestStatus;
        expect(polls).toBeGreaterThanOrEqual(1);
        // create, upload, close, the polls: nothing else.
        expect(c.apiRequests).toBe(3 + polls);
        expect(stats.totalRequests).toBe(c.apiRequests);
        // The first poll waited one interval after the close; each poll after a wait.
        const close = calls.findIndex((x) =>
            x.startsWith('PATCH /jobs/ingest/')
        );
        expect(calls[close + 1]).toBe('sleep 7');
        expect(
            calls.filter((x) => x.startsWith('GET /jobs/ingest/'))
        ).toHaveLength(polls);
        expect(sleeps).toHaveLength(polls);
        const check = await t.conn.query(
            "SELECT COUNT() FROM Contact WHERE Marketo_Sales_Opt_Out__c = true AND Email LIKE '%@none-failed.test'"
        );
        expect(check.totalSize).toBe(300);
    });

    it('an update with failures reads failedResults only: reasons reported, locked rows sent again', async () => {
        const ids = await seedRecords(
            t,
            'Contact',
            fakePeople(200, { domain: 'some-failed.test' })
        );
        const gone = '003000000000000AAA';
        t.admin.resetStats();
        t.admin.setFaults('lock:next=3@bulkIngest');
        const c = client({ bulkThreshold: 100 });
        const out = await c.updateRecords('Contact', [
            ...ids.map((Id) => ({ Id, Marketo_Sales_Opt_Out__c: true })),
            { Id: gone, Marketo_Sales_Opt_Out__c: true }
        ]);
        expect(out.filter((r) => r.success)).toHaveLength(200);
        expect(out[200]).toMatchObject({
            key: gone,
            success: false,
            errors: [
                expect.objectContaining({
                    statusCode: 'INVALID_CROSS_REFERENCE_KEY'
                })
            ]
        });
        expect(out[200].errors[0].message).not.toBe('');
        // The three locked rows failed in the job, then went again through Collections.
        expect(out.filter((r) => r.attempts === 2)).toHaveLength(3);
        expect(
            results().map((x) =>
                x.replace(/\/jobs\/ingest\/\w+\//, '/jobs/ingest/ID/')
            )
        ).toEqual(['GET /jobs/ingest/ID/failedResults']);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkIngestResults).toBe(1);
        expect(stats.byKind.collectionsUpdate).toBe(1);
        expect(stats.totalRequests).toBe(c.apiRequests);
    });

    it('an upsert reads successfulResults for its Ids and created flags, and no failedResults when none failed', async () => {
        const contacts = await seedRecords(
            t,
            'Contact',
            fakePeople(150, { domain: 'upsert-ids.test' })
        );
        t.admin.resetStats();
        const c = client({ bulkThreshold: 1 });
        const out = await c.upsertRecords(
            'Audience_Membership__c',
            'Membership_Key__c',
            contacts.map((id) => ({
                Membership_Key__c: `news:${id}`,
                Contact__c: id,
                Audience_Id__c: 'news',
                Status__c: 'Subscribed'
            }))
        );
        expect(out.every((r) => r.success && r.created === true)).toBe(true);
        expect(out.every((r) => /^a[0-9A-Za-z]{17}$/.test(String(r.id)))).toBe(
            true
        );
        expect(
            results().map((x) =>
                x.replace(/\/jobs\/ingest\/\w+\//, '/jobs/ingest/ID/')
            )
        ).toEqual(['GET /jobs/ingest/ID/successfulResults']);
        expect(t.admin.stats().byKind.bulkIngestResults).toBe(1);
    });
});

describe('ingestResults: what the counts call for', () => {
    const ROWS: SObjectRow[] = ['003A', '003B', '003C', '003D'].map((Id) => ({
        Id,
        HasOptedOutOfEmail: true
    }));
    const header = '"sf__Id","sf__Error","Id","HasOptedOutOfEmail"';

    /** A client whose only request is a results file, from `files`. */
    function fakeClient(files: Record<string, string>): {
        client: OrgClient;
        asked: string[];
    } {
        const asked: string[] = [];
        const client = {
            request: async (r: ApiRequest) => {
                const which = r.path.split('/').pop() as string;
                asked.push(which);
                return { body: files[which] ?? '', status: 200, headers: {} };
            }
        } as unknown as OrgClient;
        return { client, asked };
    }

    const info = (over: Partial<JobInfo>): JobInfo => ({
        id: '750X',
        state: 'JobComplete',
        ...over
    });

    it('reads unprocessed records when fewer were processed than uploaded: reported UNPROCESSED, the rest succeeded', async () => {
        const { client, asked } = fakeClient({
            failedResults: `${header}\n"003B","UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--","003B","true"\n`,
            unprocessedrecords: '"Id","HasOptedOutOfEmail"\n"003D","true"\n'
        });
        const out = await ingestResults(
            client,
            '750X',
            'update',
            'Id',
            ROWS,
            info({ numberRecordsProcessed: 3, numberRecordsFailed: 1 })
        );
        expect(asked).toEqual(['failedResults', 'unprocessedrecords']);
        expect(out.get('003A')).toMatchObject({ success: true, id: '003A' });
        expect(out.get('003C')).toMatchObject({ success: true, id: '003C' });
        expect(out.get('003B')).toMatchObject({
            success: false,
            errors: [
                expect.objectContaining({ statusCode: 'UNABLE_TO_LOCK_ROW' })
            ]
        });
        expect(out.get('003D')).toMatchObject({
            success: false,
            errors: [expect.objectContaining({ statusCode: 'UNPROCESSED' })]
        });
    });

    it('reads successfulResults when the failures listed fall short of numberRecordsFailed: a success is read, never assumed', async () => {
        const { client, asked } = fakeClient({
            // Two failed, one listed (results not recorded for a batch).
            failedResults: `${header}\n"003B","FIELD_CUSTOM_VALIDATION_EXCEPTION:no:--","003B","true"\n`,
            successfulResults:
                '"sf__Id","sf__Created","Id","HasOptedOutOfEmail"\n"003A","false","003A","true"\n"003C","false","003C","true"\n'
        });
        const out = await ingestResults(
            client,
            '750X',
            'update',
            'Id',
            ROWS,
            info({ numberRecordsProcessed: 4, numberRecordsFailed: 2 })
        );
        expect(asked).toEqual(['failedResults', 'successfulResults']);
        expect(out.get('003A')?.success).toBe(true);
        expect(out.get('003C')?.success).toBe(true);
        expect(out.get('003B')?.success).toBe(false);
        // In neither file: no result (bulkWrite reports it unprocessed and sends it again).
        expect(out.has('003D')).toBe(false);
    });

    it('without counts, reads every file as before', async () => {
        const { client, asked } = fakeClient({
            successfulResults:
                '"sf__Id","sf__Created","Id","HasOptedOutOfEmail"\n"003A","false","003A","true"\n"003B","false","003B","true"\n"003C","false","003C","true"\n"003D","false","003D","true"\n'
        });
        const out = await ingestResults(
            client,
            '750X',
            'update',
            'Id',
            ROWS,
            info({})
        );
        expect(asked).toEqual(['successfulResults', 'failedResults']);
        expect([...out.values()].every((r) => r.success)).toBe(true);
    });

    it('an update with every record processed and none failed asks for nothing', async () => {
        const { client, asked } = fakeClient({});
        const out = await ingestResults(
            client,
            '750X',
            'update',
            'Id',
            ROWS,
            info({ numberRecordsProcessed: 4, numberRecordsFailed: 0 })
        );
        expect(asked).toEqual([]);
        expect([...out.keys()].sort()).toEqual([
            '003A',
            '003B',
            '003C',
            '003D'
        ]);
        expect(
            [...out.values()].every((r) => r.success && r.id === r.key)
        ).toBe(true);
    });

    it('an update whose keys repeat reads successfulResults (the counts cannot tell the rows apart)', async () => {
        const { client, asked } = fakeClient({
            successfulResults:
                '"sf__Id","sf__Created","Id","HasOptedOutOfEmail"\n"003A","false","003A","true"\n"003A","false","003A","true"\n'
        });
        const rows = [ROWS[0], ROWS[0]];
        await ingestResults(
            client,
            '750X',
            'update',
            'Id',
            rows,
            info({ numberRecordsProcessed: 2, numberRecordsFailed: 0 })
        );
        expect(asked).toEqual(['successfulResults']);
    });
});
