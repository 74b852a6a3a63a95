/**
 * Each injected fault as jsforce observes it: retried GETs, surfaced POST/PATCH errors,
 * dropped connections before and after the write, row locks, failed Bulk jobs, the
 * exhausted allowance; faults reproducible from the seed and never on admin routes.
 */
import { seedRecords, startTestOrg, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

interface NetError extends Error {
    errorCode?: string;
    code?: string;
}

async function failure(p: PromiseLike<unknown>): Promise<NetError> {
    try {
        await p;
    } catch (err) {
        return err as NetError;
    }
    throw new Error('expected the call to fail');
}

describe('fault injection as jsforce sees it', () => {
    let t: TestOrg;
    let ids: string[];

    beforeAll(async () => {
        t = await startTestOrg({ seed: 3 });
        t.conn.bulk2.pollInterval = 20;
        ids = await seedRecords(
            t,
            'Contact',
            Array.from({ length: 20 }, (_, i) => ({
                LastName: `F${i}`,
                Email: `f${i}@faults.test`
            }))
        );
    });
    afterAll(async () => {
        await t.close();
    });
    afterEach(() => {
        t.admin.clearFaults();
        t.admin.resetStats();
    });

    it('retries a GET on 503 and 502 transparently', async () => {
        t.admin.setFaults('503:next=1@query,502:next=1@query');
        const res = await t.conn.query(
            "SELECT Id FROM Contact WHERE Email LIKE '%@faults.test'"
        );
        expect(res.totalSize).toBe(20);
        const stats = t.admin.stats();
        expect(stats.faultsInjected).toMatchObject({ '503': 1, '502': 1 });
        expect(stats.byKind.query).toBe(3);
    });

    it('surfaces a 503 on PATCH as an error, and the record is unchanged', async () => {
        t.admin.setFaults('503:next=1@PATCH');
        const err = await failure(
            t.conn.sobject('Contact').update({ Id: ids[0], Title: 'Never' })
        );
        expect(err.errorCode).toBe('SERVER_UNAVAILABLE');
        expect(
            ((await t.conn.sobject('Contact').retrieve(ids[0])) as Rec).Title
        ).toBeNull();
    });

    it('surfaces 500 and 429 on POST with Salesforce-like bodies', async () => {
        t.admin.setFaults('500:next=1@collections,429:next=1@sobjectCreate');
        const e500 = await failure(
            t.conn
                .sobject('Contact')
                .create([{ LastName: 'A' }, { LastName: 'B' }])
        );
        expect(e500.errorCode).toBe('UNKNOWN_EXCEPTION');
        expect(e500.message).toMatch(
            /^An unexpected error occurred\. Please include this ErrorId/
        );
        const e429 = await failure(
            t.conn.sobject('Contact').create({ LastName: 'C' })
        );
        expect(e429.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
    });

    it('drops the connection before processing: the client sees a reset and nothing is written', async () => {
        t.admin.setFaults('drop:next=1@sobjectCreate');
        const before = (await t.conn.query('SELECT COUNT() FROM Contact'))
            .totalSize;
        const err = await failure(
            t.conn.sobject('Contact').create({ LastName: 'Dropped' })
        );
        expect(
            err.code === 'ECONNRESET' ||
                /socket hang up|ECONNRESET/.test(err.message)
        ).toBe(true);
        expect(
            (await t.conn.query('SELECT COUNT() FROM Contact')).totalSize
        ).toBe(before);
    });

    it('drops the connection after processing: the client sees a reset but the write happened', async () => {
        t.admin.setFaults('drop-after:next=1@PATCH');
        const err = await failure(
            t.conn.sobject('Contact').update({ Id: ids[1], Title: 'Written' })
        );
        expect(
            err.code === 'ECONNRESET' ||
                /socket hang up|ECONNRESET/.test(err.message)
        ).toBe(true);
        expect(
            ((await t.conn.sobject('Contact').retrieve(ids[1])) as Rec).Title
        ).toBe('Written');
        expect(t.admin.stats().faultsInjected['drop-after']).toBe(1);
    });

    it('retries a GET whose connection was dropped', async () => {
        t.admin.setFaults('drop:next=1@sobjectRead');
        const row = (await t.conn.sobject('Contact').retrieve(ids[2])) as Rec;
        expect(row.Id).toBe(ids[2]);
    });

    it('fails single records with UNABLE_TO_LOCK_ROW in collections and bulk results', async () => {
        t.admin.setFaults('lock:next=2@collections');
        const res = (await t.conn
            .sobject('Contact')
            .update(
                ids.slice(0, 5).map((Id) => ({ Id, Department: 'Locked?' }))
            )) as Array<{
            success: boolean;
            errors: Array<{ statusCode: string; message: string }>;
        }>;
        expect(res.map((r) => r.success)).toEqual([
            false,
            false,
            true,
            true,
            true
        ]);
        expect(res[0].errors[0]).toEqual({
            statusCode: 'UNABLE_TO_LOCK_ROW',
            message: `unable to obtain exclusive access to this record or 1 records: ${ids[0]}`,
            fields: []
        });
        t.admin.setFaults('lock:next=1@bulkIngest');
        const bulk = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Contact',
            operation: 'update',
            input: ids.slice(0, 3).map((Id) => ({ Id, Department: 'Bulk' }))
        });
        expect(bulk.successfulResults).toHaveLength(2);
        expect(String(bulk.failedResults[0].sf__Error)).toBe(
            `UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: ${ids[0]}:--`
        );
    });

    it('ends a Bulk job Failed with an errorMessage after processing part of it', async () => {
        t.admin.setFaults('bulkfail:next=1');
        const job = t.conn.bulk2.createJob({
            object: 'Lead',
            operation: 'insert'
        });
        await job.open();
        await job.uploadData(
            Array.from({ length: 10 }, (_, i) => ({
                LastName: `BF${i}`,
                Company: 'C'
            }))
        );
        await job.close();
        await expect(job.poll(20, 30_000)).rejects.toThrow(
            /^Ingest job failed to complete due to: InternalServerError : /
        );
        const info = await job.check();
        expect(info).toMatchObject({
            state: 'Failed',
            numberRecordsProcessed: 5
        });
        expect(await job.getUnprocessedRecords()).toHaveLength(5);
        expect(await job.getSuccessfulResults()).toHaveLength(5);
    });

    it('answers REQUEST_LIMIT_EXCEEDED once the allowance is exhausted', async () => {
        t.admin.setApiLimit(t.admin.stats().apiUsage + 1);
        await t.conn.query('SELECT Id FROM Contact LIMIT 1');
        const err = await failure(
            t.conn.query('SELECT Id FROM Contact LIMIT 1')
        );
        expect(err.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
        t.admin.setApiLimit(15_000);
        t.admin.resetUsage();
    });

    it('answers the concurrent-request limit with 403 REQUEST_LIMIT_EXCEEDED, told apart from the daily allowance by its message', async () => {
        t.admin.setFaults('concurrent:next=1@sobjectCreate');
        const err = await failure(
            t.conn.sobject('Contact').create({ LastName: 'Busy' })
        );
        expect(err.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
        expect(err.message).toBe('ConcurrentPerOrgLongTxn Limit exceeded.');
        // Transient: the next request goes through.
        const ok = (await t.conn
            .sobject('Contact')
            .create({ LastName: 'Busy' })) as { success: boolean };
        expect(ok.success).toBe(true);
        expect(t.admin.stats().faultsInjected).toMatchObject({
            concurrent: 1
        });

        t.admin.setFaults('concurrent:next=1@query');
        const res = await fetch(
            `${t.instanceUrl}/services/data/v${t.conn.version}/query?q=SELECT+Id+FROM+Contact+LIMIT+1`,
            { headers: { Authorization: `Bearer ${t.accessToken}` } }
        );
        expect(res.status).toBe(403);
        expect(res.headers.get('retry-after')).toBeNull();
        expect(await res.json()).toEqual([
            {
                message: 'ConcurrentPerOrgLongTxn Limit exceeded.',
                errorCode: 'REQUEST_LIMIT_EXCEEDED'
            }
        ]);

        // The daily allowance: same status and code, another message.
        t.admin.setApiLimit(t.admin.stats().apiUsage);
        const daily = await failure(
            t.conn.query('SELECT Id FROM Contact LIMIT 1')
        );
        expect(daily.errorCode).toBe('REQUEST_LIMIT_EXCEEDED');
        expect(daily.message).toBe('TotalRequests Limit exceeded.');
        t.admin.setApiLimit(15_000);
        t.admin.resetUsage();
    });

    it('never applies faults to admin routes, and changes them at run time over HTTP', async () => {
        const auth = {
            Authorization: `Bearer ${t.accessToken}`,
            'Content-Type': 'application/json'
        };
        const put = await fetch(`${t.instanceUrl}/local/faults`, {
            method: 'PUT',
            headers: auth,
            body: JSON.stringify({ spec: '503:1,latency:5' })
        });
        expect(await put.json()).toMatchObject({ spec: '503:1,latency:5' });
        const stats = await fetch(`${t.instanceUrl}/local/stats`, {
            headers: auth
        });
        expect(stats.status).toBe(200);
        const services = await fetch(
            `${t.instanceUrl}/services/data/v66.0/limits`,
            { headers: auth }
        );
        expect(services.status).toBe(503);
        const bad = await fetch(`${t.instanceUrl}/local/faults`, {
            method: 'PUT',
            headers: auth,
            body: JSON.stringify({ spec: 'teapot:1' })
        });
        expect(bad.status).toBe(400);
        expect(await bad.json()).toEqual([
            expect.objectContaining({
                errorCode: 'BAD_REQUEST',
                message: expect.stringContaining("unknown fault 'teapot'")
            })
        ]);
        const noToken = await fetch(`${t.instanceUrl}/local/stats`);
        expect(noToken.status).toBe(401);
    });

    it('reproduces the same faults from the same seed', async () => {
        const outcome = async (seed: number): Promise<string> => {
            const o = await startTestOrg({ seed, faults: 'lock:0.3' });
            try {
                const res = (await o.conn.sobject('Contact').create(
                    Array.from({ length: 40 }, (_, i) => ({
                        LastName: `S${i}`
                    }))
                )) as Array<{ success: boolean }>;
                return res.map((r) => (r.success ? '.' : 'L')).join('');
            } finally {
                await o.close();
            }
        };
        const a = await outcome(11);
        expect(a).toContain('L');
        expect(await outcome(11)).toBe(a);
        expect(await outcome(12)).not.toBe(a);
    });
});
