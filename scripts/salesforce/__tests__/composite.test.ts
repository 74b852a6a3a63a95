/**
 * The Composite adapter against the local org: typed per-subrequest results, one API
 * request per call, the limits checked before a request is spent, request-level
 * refusals, allOrNone, and which failures are retried (reads: like any read; writes:
 * only refusals that prove nothing ran, unless the caller says retrying is harmless).
 */
import type { Connection } from 'jsforce';
import { startTestOrg, type TestOrg } from '../../tools/local-org/testing';
import { OrgClient, type OrgClientOptions } from '../client';
import {
    type CompositeSubrequest,
    composite,
    isCollectionOrQuery,
    refusedBeforeRunning
} from '../composite';
import { SalesforceError } from '../errors';
import { OptoutError } from '../../model/errors';

type Rec = Record<string, unknown>;

let t: TestOrg;
let sleeps: number[];

beforeAll(async () => {
    t = await startTestOrg();
});
afterAll(async () => {
    await t.close();
});
beforeEach(() => {
    sleeps = [];
    t.admin.clearFaults();
    t.admin.resetStats();
});

function client(
    options: Partial<OrgClientOptions> = {},
    conn: unknown = t.conn
): OrgClient {
    return new OrgClient(conn as never, {
        targetOrg: 'local',
        local: true,
        sleep: async (ms) => {
            sleeps.push(ms);
        },
        random: () => 0,
        ...options
    });
}

let serial = 0;
async function createContact(fields: Rec = {}): Promise<string> {
    serial += 1;
    const res = (await t.conn.sobject('Contact').create({
        LastName: 'Adapter',
        Email: `adapter.${serial}.${Date.now()}@composite.test`,
        ...fields
    })) as { id: string };
    return res.id;
}

async function title(id: string): Promise<unknown> {
    const row = (await t.conn
        .sobject('Contact')
        .retrieve(id)) as unknown as Rec;
    return row.Title;
}

async function thrown(p: Promise<unknown>): Promise<unknown> {
    try {
        await p;
    } catch (err) {
        return err;
    }
    throw new Error('expected a failure');
}

const update = (
    id: string,
    referenceId: string,
    value: string
): CompositeSubrequest => ({
    method: 'PATCH',
    url: `/sobjects/Contact/${id}`,
    referenceId,
    body: { Title: value }
});

describe('composite', () => {
    it('runs a query and an update referencing it, in one API request, with typed results', async () => {
        const lastName = `Adapter${Date.now()}`;
        const id = await createContact({ LastName: lastName });
        t.admin.resetStats();
        const c = client();
        const res = await composite(
            c,
            [
                {
                    method: 'GET',
                    url: `/query?q=${encodeURIComponent(`SELECT Id FROM Contact WHERE LastName = '${lastName}'`)}`,
                    referenceId: 'found'
                },
                {
                    method: 'PATCH',
                    url: '/sobjects/Contact/@{found.records[0].Id}',
                    referenceId: 'optOut',
                    body: { HasOptedOutOfEmail: true, Title: 'composite' }
                },
                {
                    method: 'POST',
                    url: '/sobjects/Contact',
                    referenceId: 'made',
                    body: {
                        LastName: lastName,
                        Email: `made.${Date.now()}@composite.test`
                    }
                }
            ],
            { allOrNone: true }
        );
        expect(res.ok).toBe(true);
        const found = res.get<{ totalSize: number; records: Rec[] }>('found');
        expect(found).toMatchObject({ status: 200, ok: true, halted: false });
        expect(found.body?.records[0].Id).toBe(id);
        expect(res.get('optOut')).toEqual({
            referenceId: 'optOut',
            status: 204,
            ok: true,
            body: null,
            errors: [],
            halted: false,
            headers: {}
        });
        const made = res.get<{ id: string }>('made');
        expect(made.status).toBe(201);
        expect(made.headers.Location).toBe(
            `/services/data/v66.0/sobjects/Contact/${made.body?.id}`
        );
        expect(c.apiRequests).toBe(1);
        expect(t.admin.stats().byKind).toEqual({ composite: 1 });
        expect(await title(id)).toBe('composite');
        expect(() => res.get('nope')).toThrow(OptoutError);
    });

    it('reports an allOrNone rollback per subrequest: the failure, and the rest halted', async () => {
        const id = await createContact({ Title: 'unchanged' });
        const res = await composite(
            client(),
            [
                update(id, 'first', 'changed'),
                {
                    method: 'PATCH',
                    url: `/sobjects/Contact/${id}`,
                    referenceId: 'bad',
                    body: { Missing__c: 1 }
                },
                update(id, 'third', 'changed again')
            ],
            { allOrNone: true }
        );
        expect(res.ok).toBe(false);
        expect(
            res.results.map((r) => [r.referenceId, r.status, r.halted])
        ).toEqual([
            ['first', 400, true],
            ['bad', 400, false],
            ['third', 400, true]
        ]);
        expect(res.get('bad').errors).toEqual([
            {
                errorCode: 'INVALID_FIELD',
                message:
                    "No such column 'Missing__c' on sobject of type Contact"
            }
        ]);
        expect(await title(id)).toBe('unchanged');
    });

    it('without allOrNone, only what references a failure is halted', async () => {
        const id = await createContact({ Title: 'before' });
        const res = await composite(client(), [
            {
                method: 'GET',
                url: '/sobjects/Contact/003000000000000AAA',
                referenceId: 'ghost'
            },
            {
                method: 'PATCH',
                url: '/sobjects/Contact/@{ghost.Id}',
                referenceId: 'dependent',
                body: { Title: 'x' }
            },
            update(id, 'independent', 'after')
        ]);
        expect(res.results.map((r) => [r.status, r.halted])).toEqual([
            [404, false],
            [400, true],
            [204, false]
        ]);
        expect(res.get('dependent').errors[0].errorCode).toBe(
            'PROCESSING_HALTED'
        );
        expect(await title(id)).toBe('after');
    });

    it('refuses more than 25 subrequests, 6 Collections or query subrequests and bad referenceIds without a request', async () => {
        const id = await createContact();
        t.admin.resetStats();
        const c = client();
        const many = Array.from({ length: 26 }, (_, i) =>
            update(id, `u${i}`, 'x')
        );
        const queries = Array.from(
            { length: 6 },
            (_, i): CompositeSubrequest => ({
                method: 'GET',
                url:
                    i % 2 === 0
                        ? '/query?q=SELECT+Id+FROM+Contact+LIMIT+1'
                        : '/services/data/v66.0/composite/sobjects/Contact?ids=x&fields=Id',
                referenceId: `q${i}`
            })
        );
        for (const subs of [
            many,
            queries,
            [update(id, 'bad-ref', 'x')],
            [update(id, 'twice', 'x'), update(id, 'twice', 'y')],
            []
        ]) {
            const err = await thrown(composite(c, subs));
            expect(err).toBeInstanceOf(OptoutError);
            expect((err as OptoutError).code).toBe('BAD_ARGUMENT');
        }
        expect(c.apiRequests).toBe(0);
        expect(t.admin.stats().totalRequests).toBe(0);
        // 25, and 5 of them queries, are fine.
        const ok = await composite(c, [
            ...queries.slice(0, 5),
            ...many.slice(0, 20)
        ]);
        expect(ok.results).toHaveLength(25);
        expect(ok.ok).toBe(true);
    });

    it('raises the org’s request-level refusals as SalesforceError with Salesforce’s code', async () => {
        const id = await createContact();
        // What the org answers for 26 subrequests (a connection that sends them anyway).
        const conn = t.conn as unknown as Connection;
        const sendsTooMany = {
            instanceUrl: conn.instanceUrl,
            version: conn.version,
            accessToken: conn.accessToken,
            request: (req: { body?: string } & Rec, opts: unknown) => {
                const body = JSON.parse(String(req.body)) as {
                    compositeRequest: Rec[];
                };
                body.compositeRequest = Array.from({ length: 26 }, (_, i) => ({
                    ...body.compositeRequest[0],
                    referenceId: `r${i}`
                }));
                return conn.request(
                    { ...req, body: JSON.stringify(body) } as never,
                    opts as never
                );
            }
        };
        const tooMany = await thrown(
            composite(client({}, sendsTooMany), [update(id, 'one', 'x')])
        );
        expect(tooMany).toBeInstanceOf(SalesforceError);
        expect(tooMany).toMatchObject({
            errorCode: 'LIMIT_EXCEEDED',
            status: 400,
            message:
                'POST /composite failed (HTTP 400): The request can’t contain more than 25 operations.'
        });
        // A subrequest Composite does not run (Bulk API): 400 JSON_PARSER_ERROR.
        const bulk = await thrown(
            composite(client(), [
                { method: 'GET', url: '/jobs/ingest', referenceId: 'jobs' }
            ])
        );
        expect(bulk).toMatchObject({
            errorCode: 'JSON_PARSER_ERROR',
            status: 400
        });
        expect(await title(id)).toBeNull();
    });

    it('does not retry a composite with writes after an answer that does not prove it did not run', async () => {
        const id = await createContact({ Title: 'start' });
        for (const fault of ['503', '500', 'drop-after']) {
            t.admin.setFaults(`${fault}:next=1@composite`);
            const c = client();
            const err = await thrown(
                composite(c, [update(id, 'u', `after ${fault}`)])
            );
            expect(err).toBeInstanceOf(SalesforceError);
            expect(c.apiRequests).toBe(1);
            expect(c.retried.requests).toBe(0);
        }
        // drop-after: the org ran it once; nothing ran it twice.
        expect(await title(id)).toBe('after drop-after');
        t.admin.clearFaults();
        t.admin.resetStats();
        // A create whose answer was lost is not sent again: one row, not two.
        const lastName = `Once${Date.now()}`;
        t.admin.setFaults('drop-after:next=1@composite');
        await thrown(
            composite(client(), [
                {
                    method: 'POST',
                    url: '/sobjects/Contact',
                    referenceId: 'c',
                    body: { LastName: lastName, Email: `${lastName}@x.test` }
                }
            ])
        );
        const count = await t.conn.query(
            `SELECT COUNT() FROM Contact WHERE LastName = '${lastName}'`
        );
        expect(count.totalSize).toBe(1);
    });

    it('retries a composite with writes after 429 and the concurrent-request limit, which prove it did not run', async () => {
        const id = await createContact({ Title: 'start' });
        t.admin.setFaults('429:next=1@composite,concurrent:next=1@composite');
        const c = client();
        const res = await composite(c, [update(id, 'u', 'retried')]);
        expect(res.ok).toBe(true);
        expect(c.retried.requests).toBe(2);
        expect(c.apiRequests).toBe(3);
        expect(sleeps).toEqual([1000, 500]);
        expect(await title(id)).toBe('retried');
    });

    it('retries reads-only composites, and writes when the caller says it is harmless', async () => {
        const id = await createContact({ Title: 'read me' });
        t.admin.setFaults('503:next=1@composite,drop-after:next=1@composite');
        const c = client();
        const reads = await composite(c, [
            {
                method: 'GET',
                url: `/sobjects/Contact/${id}?fields=Title`,
                referenceId: 'r'
            }
        ]);
        expect(reads.get<Rec>('r').body?.Title).toBe('read me');
        expect(c.retried.requests).toBe(2);
        t.admin.setFaults('503:next=1@composite');
        const writes = await composite(c, [update(id, 'w', 'idempotent')], {
            retryWrites: true
        });
        expect(writes.ok).toBe(true);
        expect(c.retried.requests).toBe(3);
        expect(await title(id)).toBe('idempotent');
    });
});

describe('composite helpers', () => {
    it('counts Collections and query subrequests toward the five', () => {
        expect(isCollectionOrQuery('/query?q=SELECT+Id+FROM+Contact')).toBe(
            true
        );
        expect(isCollectionOrQuery('/services/data/v66.0/queryAll?q=x')).toBe(
            true
        );
        expect(isCollectionOrQuery('/query/01gXX-2000')).toBe(true);
        expect(isCollectionOrQuery('/composite/sobjects')).toBe(true);
        expect(
            isCollectionOrQuery(
                '/services/data/v66.0/composite/sobjects/Contact/Email'
            )
        ).toBe(true);
        expect(isCollectionOrQuery('/sobjects/Contact/003')).toBe(false);
        expect(isCollectionOrQuery('/sobjects/Contact/describe')).toBe(false);
    });

    it('treats only throttling refusals as proof that a write did not run', () => {
        expect(refusedBeforeRunning({ status: 429 })).toBe(true);
        expect(
            refusedBeforeRunning({
                status: 403,
                code: 'REQUEST_LIMIT_EXCEEDED',
                message: 'ConcurrentPerOrgLongTxn Limit exceeded.'
            })
        ).toBe(true);
        expect(
            refusedBeforeRunning({
                status: 403,
                code: 'REQUEST_LIMIT_EXCEEDED',
                message: 'TotalRequests Limit exceeded.'
            })
        ).toBe(false);
        for (const status of [500, 502, 503, 504])
            expect(refusedBeforeRunning({ status })).toBe(false);
        expect(refusedBeforeRunning({ code: 'ECONNRESET' })).toBe(false);
    });
});
