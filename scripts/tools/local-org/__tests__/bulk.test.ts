/**
 * Bulk API 2.0 conformance with jsforce: ingest jobs (insert, update, upsert, delete)
 * with results, failed jobs, and query jobs over several result pages.
 */
import type { Connection } from 'jsforce';
import { QueryJobV2 } from 'jsforce/lib/api/bulk2';
import HttpApi from 'jsforce/lib/http-api';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../testing';

type Rec = Record<string, unknown>;

interface ResultPage {
    records: Rec[];
    locator: string;
    count: number;
}

/** One results page through jsforce's own HTTP layer (bulk2.query cannot page: see below). */
async function resultPage(
    conn: Connection,
    jobId: string,
    params: { locator?: string; maxRecords?: number }
): Promise<ResultPage> {
    const api = new HttpApi(conn, { responseType: 'text/csv' });
    let headers: Record<string, string> = {};
    api.on('response', (res: { headers: Record<string, string> }) => {
        headers = res.headers;
    });
    const qs = new URLSearchParams();
    if (params.locator) qs.set('locator', params.locator);
    if (params.maxRecords) qs.set('maxRecords', String(params.maxRecords));
    const records = (await api.request({
        method: 'GET',
        url: `${conn.instanceUrl}/services/data/v66.0/jobs/query/${jobId}/results${qs.size ? `?${qs}` : ''}`,
        headers: { Accept: 'text/csv' }
    })) as Rec[];
    return {
        records,
        locator: headers['sforce-locator'],
        count: Number(headers['sforce-numberofrecords'])
    };
}

async function openQueryJob(
    conn: Connection,
    query: string,
    operation: 'query' | 'queryAll' = 'query'
): Promise<string> {
    const job = new QueryJobV2(conn, {
        bodyParams: { query, operation },
        pollingOptions: { pollInterval: 20, pollTimeout: 30_000 }
    });
    await job.open();
    await job.poll(20, 30_000);
    return job.id as string;
}

describe('Bulk API 2.0 through jsforce', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg({ bulkChunkSize: 500, bulkQueryPageSize: 700 });
        t.conn.bulk2.pollInterval = 20;
        t.conn.bulk2.pollTimeout = 60_000;
    });
    afterAll(async () => {
        await t.close();
    });

    it('loads records and reports successful and failed results', async () => {
        const input = fakePeople(2_000, { domain: 'ingest.test' }).map(
            (r, i) => ({
                ...r,
                Email: i === 10 ? 'broken' : r.Email,
                LastName: i === 20 ? '' : r.LastName,
                Title: i === 30 ? 'Comma, "quoted"\nnew line' : undefined,
                HasOptedOutOfEmail: i % 2 === 0
            })
        );
        const res = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'insert',
            input
        });
        expect(res.successfulResults).toHaveLength(1_998);
        expect(res.failedResults).toHaveLength(2);
        expect(res.unprocessedRecords).toHaveLength(0);
        expect(res.successfulResults[0]).toMatchObject({
            sf__Created: 'true',
            LastName: 'Last0',
            Email: 'person0@ingest.test'
        });
        expect(String(res.successfulResults[0].sf__Id)).toMatch(
            /^003[0-9A-Za-z]{15}$/
        );
        const errors = Object.fromEntries(
            res.failedResults.map((r) => [
                String((r as Rec).Email),
                String(r.sf__Error)
            ])
        );
        expect(errors.broken).toBe(
            'INVALID_EMAIL_ADDRESS:Email: invalid email address: broken:Email --'
        );
        expect(errors['person20@ingest.test']).toBe(
            'REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --'
        );
        const q = await t.conn.query(
            "SELECT Title, HasOptedOutOfEmail FROM Contact WHERE Email = 'person30@ingest.test'"
        );
        expect(q.records[0]).toMatchObject({
            Title: 'Comma, "quoted"\nnew line',
            HasOptedOutOfEmail: true
        });
        const stats = t.admin.stats();
        expect(stats.groups.bulkIngest).toBeGreaterThanOrEqual(7);
        expect(stats.bulk.recordsProcessed).toBeGreaterThanOrEqual(2_000);
    });

    it('updates with #N/A to clear and empty to keep, upserts on Id and deletes', async () => {
        const ids = await seedRecords(t, 'Contact', [
            { LastName: 'U1', Title: 'Keep', Phone: '111' },
            { LastName: 'U2', Title: 'Keep', Phone: '222' }
        ]);
        const upd = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'update',
            input: `Id,Title,Phone\n${ids[0]},,#N/A\n${ids[1]},New,\n003000000000000AAA,X,\n`
        });
        expect(upd.successfulResults).toHaveLength(2);
        expect(upd.failedResults[0]).toMatchObject({
            sf__Id: '003000000000000AAA',
            sf__Error:
                'INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--'
        });
        const rows = await t.conn.query(
            `SELECT LastName, Title, Phone FROM Contact WHERE Id IN ('${ids[0]}', '${ids[1]}') ORDER BY LastName`
        );
        expect(rows.records).toMatchObject([
            { LastName: 'U1', Title: 'Keep', Phone: null },
            { LastName: 'U2', Title: 'New', Phone: '222' }
        ]);
        const ups = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'upsert',
            externalIdFieldName: 'Id',
            input: `Id,LastName\n${ids[0]},U1b\n,Fresh\n`
        });
        expect(ups.successfulResults.map((r) => r.sf__Created).sort()).toEqual([
            'false',
            'true'
        ]);
        const del = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'delete',
            input: `Id\n${ids[1]}\n`
        });
        expect(del.successfulResults).toHaveLength(1);
        const deleted = await t.conn.query(
            `SELECT IsDeleted FROM Contact WHERE Id = '${ids[1]}'`,
            { scanAll: true }
        );
        expect(deleted.records[0]).toMatchObject({ IsDeleted: true });
    });

    it('counts failed records among the processed ones and unprocessed records in neither (job info), as Salesforce does', async () => {
        // "Unprocessed rows are not the same as failed rows. Failed rows are processed
        // but encounter an error during processing" (Bulk API 2.0, Get Job Unprocessed
        // Record Results): the sync trusts these counts to skip results files.
        const ids = await seedRecords(t, 'Contact', fakePeople(4));
        const finished = async (
            csv: string
        ): Promise<{ info: Rec; id: string }> => {
            const job = t.conn.bulk2.createJob({
                object: 'Contact',
                operation: 'update'
            });
            await job.open();
            await job.uploadData(csv);
            await job.close();
            for (;;) {
                const info = (await job.check()) as unknown as Rec;
                if (
                    info.state !== 'UploadComplete' &&
                    info.state !== 'InProgress'
                )
                    return { info, id: job.id as string };
                await new Promise((resolve) => setTimeout(resolve, 20));
            }
        };
        const some = await finished(
            `Id,Title\n${ids[0]},A\n${ids[1]},B\n003000000000000AAA,C\n`
        );
        expect(some.info).toMatchObject({
            state: 'JobComplete',
            numberRecordsProcessed: 3,
            numberRecordsFailed: 1
        });
        // A job that fails midway (fault): half its rows processed, the rest unprocessed.
        t.admin.setFaults('bulkfail:next=1@bulkIngest');
        try {
            const half = await finished(
                `Id,Title\n${ids.map((id) => `${id},D`).join('\n')}\n`
            );
            expect(half.info).toMatchObject({
                state: 'Failed',
                numberRecordsProcessed: 2,
                numberRecordsFailed: 0
            });
            const api = new HttpApi(t.conn, { responseType: 'text/csv' });
            const unprocessed = (await api.request({
                method: 'GET',
                url: `${t.conn.instanceUrl}/services/data/v66.0/jobs/ingest/${half.id}/unprocessedrecords`,
                headers: { Accept: 'text/csv' }
            })) as Rec[];
            expect(unprocessed).toHaveLength(2);
        } finally {
            t.admin.setFaults('');
        }
    });

    it('fails a job whose CSV names an unknown field', async () => {
        await expect(
            t.conn.bulk2.loadAndWaitForResults({
                object: 'Lead',
                operation: 'insert',
                input: 'LastName,Company,Nope__c\nA,B,C\n'
            })
        ).rejects.toThrow(
            'Ingest job failed to complete due to: InvalidBatch : Field name not found : Nope__c'
        );
    });

    it('moves jobs through UploadComplete/InProgress to JobComplete while the org keeps answering', async () => {
        // The CSV is made before the job is opened, and goes up as one string: turning
        // 20,000 records into CSV inside uploadData blocks this process (server and
        // client) long enough, under a loaded CI, for the server to close the idle
        // keep-alive socket; jsforce then retries the PUT after ECONNRESET with its
        // already-read body stream, so the org got an empty upload (0 rows, JobComplete
        // at once). The product sends uploads with jsforce's retry off and retries with
        // the body again itself (salesforce/bulk.ts).
        const csv = `FirstName,LastName,Email,Company\n${fakePeople(20_000, {
            type: 'Lead',
            domain: 'states.test'
        })
            .map(
                (r) => `${r.FirstName},${r.LastName},${r.Email},${r.Company}\n`
            )
            .join('')}`;
        const job = t.conn.bulk2.createJob({
            object: 'Lead',
            operation: 'insert'
        });
        await job.open();
        await job.uploadData(csv);
        await job.close();
        const states = new Set<string>();
        let answeredWhileRunning = false;
        for (;;) {
            const info = await job.check();
            states.add(info.state);
            if (info.state === 'JobComplete' || info.state === 'Failed') break;
            await t.conn.query('SELECT Id FROM Lead LIMIT 1');
            const after = await job.check();
            if (after.state === 'InProgress') answeredWhileRunning = true;
        }
        expect(states.has('JobComplete')).toBe(true);
        expect(states.has('InProgress') || states.has('UploadComplete')).toBe(
            true
        );
        expect(answeredWhileRunning).toBe(true);
        const info = await job.check();
        expect(info).toMatchObject({
            numberRecordsProcessed: 20_000,
            numberRecordsFailed: 0,
            jobType: 'V2Ingest'
        });
    });

    it('queries one result page with bulk2.query', async () => {
        const records = await (
            await t.conn.bulk2.query(
                "SELECT Id, Email, HasOptedOutOfEmail FROM Contact WHERE Email LIKE 'person1__@ingest.test'"
            )
        ).toArray();
        expect(records).toHaveLength(100);
        expect(records[0]).toMatchObject({
            Email: expect.stringMatching(/@ingest\.test$/)
        });
        expect(['true', 'false']).toContain(records[0].HasOptedOutOfEmail);
    });

    it('pages query results with Sforce-Locator and maxRecords, null on the last page', async () => {
        const jobId = await openQueryJob(
            t.conn,
            "SELECT Id, Email FROM Lead WHERE Email LIKE '%@states.test'"
        );
        const info = (await t.conn.request(
            `/services/data/v66.0/jobs/query/${jobId}`
        )) as Rec;
        expect(info).toMatchObject({
            state: 'JobComplete',
            numberRecordsProcessed: 20_000,
            object: 'Lead',
            jobType: 'V2Query'
        });
        const seen = new Set<string>();
        let locator: string | undefined;
        let pages = 0;
        do {
            const page = await resultPage(t.conn, jobId, {
                locator,
                maxRecords: pages === 0 ? undefined : 6_000
            });
            expect(page.count).toBe(page.records.length);
            expect(page.records.length).toBe(
                pages === 0
                    ? 700
                    : Math.min(6_000, 20_000 - 700 - (pages - 1) * 6_000)
            );
            for (const r of page.records) seen.add(String(r.Id));
            locator = page.locator;
            pages++;
        } while (locator !== 'null');
        expect(pages).toBe(5);
        expect(seen.size).toBe(20_000);
        // A locator can be read again while the job exists.
        const again = await resultPage(t.conn, jobId, { maxRecords: 3 });
        expect(again.records).toHaveLength(3);
    });

    it('serves a page as large as maxRecords asks, and a page cut partway (fault) reads again whole', async () => {
        const jobId = await openQueryJob(
            t.conn,
            "SELECT Id, Email FROM Lead WHERE Email LIKE '%@states.test'"
        );
        // Far above the org's default page (700 here): one page holds all 20,000.
        const whole = await resultPage(t.conn, jobId, { maxRecords: 500_000 });
        expect(whole.count).toBe(20_000);
        expect(whole.records).toHaveLength(20_000);
        expect(whole.locator).toBe('null');

        // Cut: the body stops inside row 10,001 and the connection is destroyed.
        t.admin.setFaults('cut:next=1@bulkQueryResults');
        const url = `${t.instanceUrl}/services/data/v66.0/jobs/query/${jobId}/results?maxRecords=500000`;
        const res = await fetch(url, {
            headers: { Authorization: `Bearer ${t.accessToken}` }
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('sforce-numberofrecords')).toBe('20000');
        let received = '';
        const decoder = new TextDecoder();
        const failure = await (async () => {
            for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>)
                received += decoder.decode(piece, { stream: true });
        })().then(
            () => undefined,
            (err: unknown) => err
        );
        // undici's word for a body that ended before it was complete.
        expect(failure).toMatchObject({ message: 'terminated' });
        const lines = received.split('\n');
        expect(lines[0]).toBe('"Id","Email"');
        // 10,000 whole rows, then half of the next one.
        expect(lines).toHaveLength(1 + 10_000 + 1);
        expect(lines[10_001]).toMatch(/^"00Q/);
        expect(lines[10_001]).not.toMatch(/"$/);
        expect(t.admin.stats().byKind.bulkQueryResults).toBeGreaterThanOrEqual(
            2
        );

        // The same locator (none: the first page) reads the same page again, whole.
        const again = await resultPage(t.conn, jobId, { maxRecords: 500_000 });
        expect(again.records).toEqual(whole.records);
    });

    it('sees deleted rows with queryAll and rejects aggregate bulk queries', async () => {
        const jobId = await openQueryJob(
            t.conn,
            'SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true',
            'queryAll'
        );
        const page = await resultPage(t.conn, jobId, {});
        expect(page.records.length).toBeGreaterThanOrEqual(1);
        expect(page.records.every((r) => r.IsDeleted === 'true')).toBe(true);
        expect(page.locator).toBe('null');
        await expect(
            openQueryJob(t.conn, 'SELECT COUNT(Id) FROM Contact')
        ).rejects.toMatchObject({ errorCode: 'API_ERROR' });
    });
});
