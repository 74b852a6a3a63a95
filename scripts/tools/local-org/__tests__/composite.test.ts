/**
 * The Composite resource (POST /services/data/vNN.N/composite) through the real jsforce
 * client: references between subrequests, the 25-subrequest and 5-collections-or-query
 * limits, request-level refusals, allOrNone rollback in the store, failed references,
 * one API request per call, and subrequests that run as the caller.
 */
import type { Connection } from 'jsforce';
import {
    MAX_COLLECTION_OR_QUERY_SUBREQUESTS,
    MAX_SUBREQUESTS,
    ROLLED_BACK_MESSAGE
} from '../composite';
import { createTestUser, startTestOrg, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

interface Sub {
    method: string;
    url: string;
    referenceId: string;
    body?: unknown;
    httpHeaders?: Record<string, string>;
}

interface SubResult {
    body: unknown;
    httpHeaders: Record<string, string>;
    httpStatusCode: number;
    referenceId: string | null;
}

interface JsforceError extends Error {
    errorCode?: string;
    data?: unknown;
}

const V = '/services/data/v66.0';

function post(
    conn: Connection,
    body: unknown
): Promise<{ compositeResponse: SubResult[] }> {
    return conn.request({
        method: 'POST',
        url: `${V}/composite`,
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' }
    });
}

/** The status and body of a refused composite request (raw fetch: jsforce hides the body shape). */
async function refused(
    t: TestOrg,
    body: unknown
): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${t.instanceUrl}${V}/composite`, {
        method: 'POST',
        headers: {
            Authorization: `Bearer ${t.accessToken}`,
            'Content-Type': 'application/json'
        },
        body: JSON.stringify(body)
    });
    return { status: res.status, body: (await res.json()) as unknown };
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
    try {
        await p;
    } catch (err) {
        return err as JsforceError;
    }
    throw new Error('expected the call to fail');
}

let serial = 0;
function email(): string {
    serial += 1;
    return `composite.${serial}.${Date.now()}@composite.test`;
}

async function createContact(
    conn: Connection,
    fields: Rec = {}
): Promise<string> {
    const res = (await conn.sobject('Contact').create({
        LastName: 'Composite',
        Email: email(),
        ...fields
    })) as { id: string };
    return res.id;
}

async function contact(conn: Connection, id: string): Promise<Rec> {
    return (await conn.sobject('Contact').retrieve(id)) as unknown as Rec;
}

describe('local org Composite resource', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg();
    });
    afterAll(async () => {
        await t.close();
    });

    it('runs a query and an update that references its first row', async () => {
        const lastName = `QueryRef${Date.now()}`;
        const id = await createContact(t.conn, { LastName: lastName });
        const res = await post(t.conn, {
            allOrNone: true,
            compositeRequest: [
                {
                    method: 'GET',
                    url: `${V}/query?q=${encodeURIComponent(`SELECT Id, LastName FROM Contact WHERE LastName = '${lastName}'`)}`,
                    referenceId: 'found'
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/@{found.records[0].Id}`,
                    referenceId: 'updated',
                    body: {
                        HasOptedOutOfEmail: true,
                        Title: 'was @{found.records[0].LastName}'
                    }
                },
                {
                    method: 'GET',
                    url: `${V}/sobjects/Contact/@{found.records[0].Id}?fields=Id,HasOptedOutOfEmail,Title`,
                    referenceId: 'reread'
                }
            ]
        });
        const [q, u, r] = res.compositeResponse;
        expect(q).toMatchObject({
            httpStatusCode: 200,
            referenceId: 'found',
            body: { totalSize: 1, done: true }
        });
        expect(u).toEqual({
            body: null,
            httpHeaders: {},
            httpStatusCode: 204,
            referenceId: 'updated'
        });
        expect(r).toMatchObject({
            httpStatusCode: 200,
            body: {
                Id: id,
                HasOptedOutOfEmail: true,
                Title: `was ${lastName}`
            }
        });
        expect(await contact(t.conn, id)).toMatchObject({
            HasOptedOutOfEmail: true,
            Title: `was ${lastName}`
        });
    });

    it('answers a create with 201, its body and a Location header, referenced as @{ref.id}', async () => {
        const res = await post(t.conn, {
            compositeRequest: [
                {
                    method: 'POST',
                    url: `${V}/sobjects/Account`,
                    referenceId: 'acct',
                    body: { Name: 'Composite Account' }
                },
                {
                    method: 'POST',
                    url: `${V}/sobjects/Contact`,
                    referenceId: 'person',
                    body: {
                        LastName: 'Linked',
                        Email: email(),
                        AccountId: '@{acct.id}'
                    }
                }
            ]
        });
        const [a, c] = res.compositeResponse;
        const accountId = (a.body as { id: string }).id;
        expect(a).toEqual({
            body: { id: accountId, success: true, errors: [] },
            httpHeaders: {
                Location: `${V}/sobjects/Account/${accountId}`
            },
            httpStatusCode: 201,
            referenceId: 'acct'
        });
        expect(c.httpStatusCode).toBe(201);
        const created = await contact(t.conn, (c.body as { id: string }).id);
        expect(created.AccountId).toBe(accountId);
    });

    it('refuses 26 subrequests as a whole, before running any', async () => {
        const lastName = `TooMany${Date.now()}`;
        const subs: Sub[] = Array.from(
            { length: MAX_SUBREQUESTS + 1 },
            (_, i) => ({
                method: 'POST',
                url: `${V}/sobjects/Contact`,
                referenceId: `c${i}`,
                body: { LastName: lastName, Email: email() }
            })
        );
        const res = await refused(t, { compositeRequest: subs });
        expect(res).toEqual({
            status: 400,
            body: {
                compositeResponse: [
                    {
                        body: [
                            {
                                errorCode: 'LIMIT_EXCEEDED',
                                message:
                                    'The request can’t contain more than 25 operations.'
                            }
                        ],
                        httpHeaders: {},
                        httpStatusCode: 400,
                        referenceId: null
                    }
                ]
            }
        });
        // jsforce raises it as an HTTP 400.
        const err = await failure(post(t.conn, { compositeRequest: subs }));
        expect(err.errorCode).toBe('ERROR_HTTP_400');
        const count = await t.conn.query(
            `SELECT COUNT() FROM Contact WHERE LastName = '${lastName}'`
        );
        expect(count.totalSize).toBe(0);
        // 25 is fine.
        const ok = await post(t.conn, {
            compositeRequest: subs.slice(0, MAX_SUBREQUESTS)
        });
        expect(ok.compositeResponse).toHaveLength(25);
        expect(
            ok.compositeResponse.every((r) => r.httpStatusCode === 201)
        ).toBe(true);
    });

    it('refuses a sixth sObject Collections or query subrequest', async () => {
        const query = (i: number): Sub => ({
            method: 'GET',
            url: `${V}/query?q=${encodeURIComponent('SELECT Id FROM Contact LIMIT 1')}`,
            referenceId: `q${i}`
        });
        const collection = (i: number): Sub => ({
            method: 'POST',
            url: `${V}/composite/sobjects`,
            referenceId: `col${i}`,
            body: {
                records: [
                    {
                        attributes: { type: 'Contact' },
                        LastName: 'Col',
                        Email: email()
                    }
                ]
            }
        });
        const six = [
            query(0),
            query(1),
            collection(2),
            collection(3),
            {
                method: 'GET',
                url: `${V}/queryAll?q=${encodeURIComponent('SELECT Id FROM Contact LIMIT 1')}`,
                referenceId: 'all4'
            },
            collection(5),
            // sObject rows do not count toward the five
            {
                method: 'GET',
                url: `${V}/sobjects/Contact/describe`,
                referenceId: 'describe6'
            }
        ];
        const res = await refused(t, { compositeRequest: six });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
            compositeResponse: [
                {
                    body: [
                        {
                            errorCode: 'LIMIT_EXCEEDED',
                            message:
                                'The request can’t contain more than 5 sObject Collections or query operations.'
                        }
                    ],
                    httpHeaders: {},
                    httpStatusCode: 400,
                    referenceId: null
                }
            ]
        });
        expect(MAX_COLLECTION_OR_QUERY_SUBREQUESTS).toBe(5);
        const five = six.filter((s) => s.referenceId !== 'col5');
        const ok = await post(t.conn, { compositeRequest: five });
        expect(ok.compositeResponse.map((r) => r.httpStatusCode)).toEqual([
            200, 200, 200, 200, 200, 200
        ]);
    });

    it.each([
        [
            'a subrequest without referenceId',
            { method: 'GET', url: `${V}/sobjects/Contact/describe` },
            "'referenceId' is a required field."
        ],
        [
            'a lower-case method',
            {
                method: 'get',
                url: `${V}/sobjects/Contact/describe`,
                referenceId: 'a'
            },
            "'get' is not a valid value for 'method': use POST, PUT, PATCH, GET or DELETE (case-sensitive)"
        ],
        [
            'an illegal referenceId',
            {
                method: 'GET',
                url: `${V}/sobjects/Contact/describe`,
                referenceId: 'ref-1'
            },
            "Provided referenceId ('ref-1') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
        ],
        [
            'a URL outside /services/data/vXX.X/',
            {
                method: 'GET',
                url: '/sobjects/Contact/describe',
                referenceId: 'a'
            },
            'The subrequest URL must start with /services/data/vXX.X/: /sobjects/Contact/describe'
        ],
        [
            'a Bulk API subrequest',
            { method: 'GET', url: `${V}/jobs/ingest`, referenceId: 'a' },
            `The Composite resource does not run ${V}/jobs/ingest: only sObject resources, Query, QueryAll and sObject Collections (API 43.0 and later)`
        ],
        [
            'a composite inside a composite',
            { method: 'POST', url: `${V}/composite`, referenceId: 'a' },
            `The Composite resource does not run ${V}/composite: only sObject resources, Query, QueryAll and sObject Collections (API 43.0 and later)`
        ],
        [
            'a Content-Type subrequest header',
            {
                method: 'GET',
                url: `${V}/sobjects/Contact/describe`,
                referenceId: 'a',
                httpHeaders: { 'Content-Type': 'text/csv' }
            },
            "Subrequests inherit the Accept, Authorization and Content-Type headers of the composite request: 'Content-Type' can't be set in httpHeaders"
        ]
    ])(
        'refuses %s with 400 JSON_PARSER_ERROR and runs nothing',
        async (_what, bad, message) => {
            const lastName = `Refused${Date.now()}`;
            const res = await refused(t, {
                compositeRequest: [
                    {
                        method: 'POST',
                        url: `${V}/sobjects/Contact`,
                        referenceId: 'first',
                        body: { LastName: lastName, Email: email() }
                    },
                    bad
                ]
            });
            expect(res).toEqual({
                status: 400,
                body: [{ errorCode: 'JSON_PARSER_ERROR', message }]
            });
            const count = await t.conn.query(
                `SELECT COUNT() FROM Contact WHERE LastName = '${lastName}'`
            );
            expect(count.totalSize).toBe(0);
        }
    );

    it('refuses a repeated referenceId and a missing compositeRequest', async () => {
        const sub = {
            method: 'GET',
            url: `${V}/sobjects/Contact/describe`,
            referenceId: 'same'
        };
        expect(await refused(t, { compositeRequest: [sub, sub] })).toEqual({
            status: 400,
            body: [
                {
                    errorCode: 'JSON_PARSER_ERROR',
                    message:
                        "Duplicate referenceId 'same': each subrequest needs its own"
                }
            ]
        });
        expect(await refused(t, { allOrNone: true })).toEqual({
            status: 400,
            body: [
                {
                    errorCode: 'JSON_PARSER_ERROR',
                    message: "'compositeRequest' is a required field."
                }
            ]
        });
    });

    it('allOrNone: the first failure rolls back every subrequest in the store', async () => {
        const id = await createContact(t.conn, { Title: 'before' });
        const lastName = `Rollback${Date.now()}`;
        const res = await post(t.conn, {
            allOrNone: true,
            compositeRequest: [
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'update1',
                    body: { Title: 'after' }
                },
                {
                    method: 'POST',
                    url: `${V}/sobjects/Contact`,
                    referenceId: 'create2',
                    body: { LastName: lastName, Email: email() }
                },
                {
                    method: 'POST',
                    url: `${V}/composite/sobjects`,
                    referenceId: 'collection3',
                    body: {
                        allOrNone: false,
                        records: [
                            {
                                attributes: { type: 'Contact' },
                                LastName: lastName,
                                Email: email()
                            }
                        ]
                    }
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'bad4',
                    body: { NoSuchField__c: 1 }
                },
                {
                    method: 'POST',
                    url: `${V}/sobjects/Contact`,
                    referenceId: 'later5',
                    body: { LastName: lastName, Email: email() }
                }
            ]
        });
        const halted = (referenceId: string): SubResult => ({
            body: [
                { errorCode: 'PROCESSING_HALTED', message: ROLLED_BACK_MESSAGE }
            ],
            httpHeaders: {},
            httpStatusCode: 400,
            referenceId
        });
        expect(res.compositeResponse).toEqual([
            halted('update1'),
            halted('create2'),
            halted('collection3'),
            {
                body: [
                    {
                        errorCode: 'INVALID_FIELD',
                        message:
                            "No such column 'NoSuchField__c' on sobject of type Contact"
                    }
                ],
                httpHeaders: {},
                httpStatusCode: 400,
                referenceId: 'bad4'
            },
            halted('later5')
        ]);
        expect((await contact(t.conn, id)).Title).toBe('before');
        const count = await t.conn.query(
            `SELECT COUNT() FROM Contact WHERE LastName = '${lastName}'`
        );
        expect(count.totalSize).toBe(0);
        // The store is usable and committed afterwards.
        await t.conn.sobject('Contact').update({ Id: id, Title: 'later' });
        expect((await contact(t.conn, id)).Title).toBe('later');
    });

    it('allOrNone applies to a Collections subrequest: one failed record fails the whole call', async () => {
        const id = await createContact(t.conn, { Title: 'kept' });
        const lastName = `Collection${Date.now()}`;
        const res = await post(t.conn, {
            allOrNone: true,
            compositeRequest: [
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'first',
                    body: { Title: 'changed' }
                },
                {
                    method: 'PATCH',
                    url: `${V}/composite/sobjects`,
                    referenceId: 'records',
                    body: {
                        allOrNone: false,
                        records: [
                            {
                                attributes: { type: 'Contact' },
                                id,
                                LastName: lastName
                            },
                            {
                                attributes: { type: 'Contact' },
                                id: '003000000000000AAA',
                                LastName: lastName
                            }
                        ]
                    }
                }
            ]
        });
        const [first, records] = res.compositeResponse;
        expect(first.body).toEqual([
            { errorCode: 'PROCESSING_HALTED', message: ROLLED_BACK_MESSAGE }
        ]);
        expect(records.httpStatusCode).toBe(200);
        const outcomes = records.body as Array<{
            success: boolean;
            errors: Array<{ statusCode: string }>;
        }>;
        expect(outcomes[0]).toMatchObject({
            success: false,
            errors: [{ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' }]
        });
        expect(outcomes[1].success).toBe(false);
        expect(await contact(t.conn, id)).toMatchObject({
            Title: 'kept',
            LastName: 'Composite'
        });
    });

    it('allOrNone false: a failure stops only what references it', async () => {
        const id = await createContact(t.conn, { Title: 'start' });
        const lastName = `Partial${Date.now()}`;
        const res = await post(t.conn, {
            allOrNone: false,
            compositeRequest: [
                {
                    method: 'POST',
                    url: `${V}/sobjects/Contact`,
                    referenceId: 'badCreate',
                    body: { LastName: lastName, Email: email(), Nope__c: 1 }
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/@{badCreate.id}`,
                    referenceId: 'dependent',
                    body: { Title: 'never' }
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'independent',
                    body: { Title: 'done' }
                },
                {
                    method: 'GET',
                    url: `${V}/sobjects/Contact/${id}?fields=Title`,
                    referenceId: 'unknownRef',
                    body: undefined
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'laterRef',
                    body: { Title: '@{notYet.Title}' }
                },
                {
                    method: 'GET',
                    url: `${V}/sobjects/Contact/${id}?fields=Title`,
                    referenceId: 'notYet'
                }
            ]
        });
        const byRef = new Map(
            res.compositeResponse.map((r) => [r.referenceId, r])
        );
        expect(byRef.get('badCreate')?.httpStatusCode).toBe(400);
        expect(byRef.get('dependent')).toEqual({
            body: [
                {
                    errorCode: 'PROCESSING_HALTED',
                    message:
                        "Invalid reference specified. No value for badCreate.id found in badCreate. Provided referenceId ('badCreate.id') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
                }
            ],
            httpHeaders: {},
            httpStatusCode: 400,
            referenceId: 'dependent'
        });
        expect(byRef.get('independent')?.httpStatusCode).toBe(204);
        // A reference to a subrequest that comes later has no value yet.
        expect(byRef.get('laterRef')?.body).toEqual([
            {
                errorCode: 'PROCESSING_HALTED',
                message: expect.stringContaining(
                    'No value for notYet.Title found in notYet.'
                ) as unknown
            }
        ]);
        expect(byRef.get('notYet')?.body).toMatchObject({ Title: 'done' });
        expect((await contact(t.conn, id)).Title).toBe('done');
        // A reference to a field the parent did not return fails; a null field resolves (52.0+).
        const res2 = await post(t.conn, {
            compositeRequest: [
                {
                    method: 'GET',
                    url: `${V}/sobjects/Contact/${id}?fields=Title,Department`,
                    referenceId: 'row'
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'missingField',
                    body: { Title: '@{row.LastName}' }
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${id}`,
                    referenceId: 'nullField',
                    body: { Title: '@{row.Department}' }
                }
            ]
        });
        expect(res2.compositeResponse[1].httpStatusCode).toBe(400);
        expect(res2.compositeResponse[2].httpStatusCode).toBe(204);
        expect((await contact(t.conn, id)).Title).toBeNull();
    });

    it('before API 52.0 a reference to a null field fails the subrequest', async () => {
        const id = await createContact(t.conn, { Title: 'v51' });
        const res = (await t.conn.request({
            method: 'POST',
            url: '/services/data/v51.0/composite',
            body: JSON.stringify({
                compositeRequest: [
                    {
                        method: 'GET',
                        url: `/services/data/v51.0/sobjects/Contact/${id}?fields=Department`,
                        referenceId: 'row'
                    },
                    {
                        method: 'PATCH',
                        url: `/services/data/v51.0/sobjects/Contact/${id}`,
                        referenceId: 'copy',
                        body: { Title: '@{row.Department}' }
                    }
                ]
            }),
            headers: { 'Content-Type': 'application/json' }
        })) as { compositeResponse: SubResult[] };
        expect(res.compositeResponse[1]).toEqual({
            body: [
                {
                    errorCode: 'PROCESSING_HALTED',
                    message:
                        "Invalid reference specified. No value for row.Department found in row. Provided referenceId ('row.Department') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
                }
            ],
            httpHeaders: {},
            httpStatusCode: 400,
            referenceId: 'copy'
        });
        expect((await contact(t.conn, id)).Title).toBe('v51');
    });

    it('a request running beside an allOrNone composite is never rolled back with it', async () => {
        const mine = await createContact(t.conn, { Title: 'composite' });
        const other = await createContact(t.conn, { Title: 'other' });
        const failing = {
            allOrNone: true,
            compositeRequest: [
                ...Array.from({ length: 10 }, (_, i) => ({
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${mine}`,
                    referenceId: `u${i}`,
                    body: { Title: `step ${i}` }
                })),
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${mine}`,
                    referenceId: 'bad',
                    body: { Nope__c: 1 }
                }
            ]
        };
        const results = await Promise.all([
            post(t.conn, failing),
            ...Array.from({ length: 5 }, (_, i) =>
                t.conn
                    .sobject('Contact')
                    .update({ Id: other, Title: `beside ${i}` })
            ),
            post(t.conn, failing)
        ]);
        expect(results[0].compositeResponse[10].httpStatusCode).toBe(400);
        expect((await contact(t.conn, mine)).Title).toBe('composite');
        expect((await contact(t.conn, other)).Title).toMatch(/^beside \d$/);
    });

    it('counts as one API request, whatever it carries', async () => {
        const id = await createContact(t.conn);
        t.admin.resetStats();
        const before = t.admin.stats().apiUsage;
        const subs: Sub[] = Array.from({ length: 20 }, (_, i) => ({
            method: 'PATCH',
            url: `${V}/sobjects/Contact/${id}`,
            referenceId: `u${i}`,
            body: { Title: `n${i}` }
        }));
        const res = (await t.conn.request({
            method: 'POST',
            url: `${V}/composite`,
            body: JSON.stringify({ compositeRequest: subs }),
            headers: { 'Content-Type': 'application/json' }
        })) as { compositeResponse: SubResult[] };
        expect(res.compositeResponse).toHaveLength(20);
        const stats = t.admin.stats();
        expect(stats.apiUsage - before).toBe(1);
        expect(stats.totalRequests).toBe(1);
        expect(stats.byKind).toEqual({ composite: 1 });
        expect(stats.groups.composite).toBe(1);
        expect(stats.groups.sobjectRow).toBe(0);
        expect(stats.compositeSubrequests).toEqual({ sobjectUpdate: 20 });
        // The usage header carries the same count.
        const raw = await fetch(`${t.instanceUrl}${V}/composite`, {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${t.accessToken}`,
                'Content-Type': 'application/json'
            },
            body: JSON.stringify({ compositeRequest: subs.slice(0, 3) })
        });
        expect(raw.status).toBe(200);
        expect(raw.headers.get('sforce-limit-info')).toBe(
            `api-usage=${before + 2}/${stats.apiLimit}`
        );
    });

    it('a fault on the composite request fires once, not per subrequest', async () => {
        const id = await createContact(t.conn, { Title: 'faulted' });
        t.admin.setFaults('503:next=1@composite');
        try {
            const err = await failure(
                post(t.conn, {
                    compositeRequest: [
                        {
                            method: 'PATCH',
                            url: `${V}/sobjects/Contact/${id}`,
                            referenceId: 'u',
                            body: { Title: 'x' }
                        }
                    ]
                })
            );
            expect(err.errorCode).toBe('SERVER_UNAVAILABLE');
            expect((await contact(t.conn, id)).Title).toBe('faulted');
            const again = await post(t.conn, {
                compositeRequest: [
                    {
                        method: 'PATCH',
                        url: `${V}/sobjects/Contact/${id}`,
                        referenceId: 'u',
                        body: { Title: 'y' }
                    },
                    {
                        method: 'PATCH',
                        url: `${V}/sobjects/Contact/${id}`,
                        referenceId: 'v',
                        body: { Title: 'z' }
                    }
                ]
            });
            expect(
                again.compositeResponse.map((r) => r.httpStatusCode)
            ).toEqual([204, 204]);
            expect(t.admin.stats().faultsInjected['503']).toBe(1);
        } finally {
            t.admin.clearFaults();
        }
    });

    it('runs subrequests as the caller: what the user may not see or edit fails as at top level', async () => {
        const user = createTestUser(t);
        // A Contact without an Account is private to its owner (the admin here).
        const hidden = await createContact(t.conn, { Title: 'private' });
        const topRead = await failure(
            user.conn.sobject('Contact').retrieve(hidden)
        );
        const topUpdate = await failure(
            user.conn.sobject('Contact').update({ Id: hidden, Title: 'mine' })
        );
        expect(topRead.errorCode).toBe('NOT_FOUND');
        expect(topUpdate.errorCode).toBe('INSUFFICIENT_ACCESS_OR_READONLY');
        const res = await post(user.conn, {
            compositeRequest: [
                {
                    method: 'GET',
                    url: `${V}/sobjects/Contact/${hidden}`,
                    referenceId: 'read'
                },
                {
                    method: 'PATCH',
                    url: `${V}/sobjects/Contact/${hidden}`,
                    referenceId: 'write',
                    body: { Title: 'mine' }
                },
                {
                    method: 'GET',
                    url: `${V}/query?q=${encodeURIComponent(`SELECT Id FROM Contact WHERE Id = '${hidden}'`)}`,
                    referenceId: 'query'
                }
            ]
        });
        const [read, write, query] = res.compositeResponse;
        expect(read.httpStatusCode).toBe(404);
        expect((read.body as Array<{ errorCode: string }>)[0].errorCode).toBe(
            topRead.errorCode
        );
        expect(write.httpStatusCode).toBe(400);
        expect(write.body).toEqual([
            expect.objectContaining({
                errorCode: topUpdate.errorCode,
                message: topUpdate.message
            })
        ]);
        expect(query.body).toMatchObject({ totalSize: 0, records: [] });
        expect((await contact(t.conn, hidden)).Title).toBe('private');
        // What the user created in a composite is theirs.
        const mine = await post(user.conn, {
            compositeRequest: [
                {
                    method: 'POST',
                    url: `${V}/sobjects/Contact`,
                    referenceId: 'c',
                    body: { LastName: 'Mine', Email: email() }
                }
            ]
        });
        const created = await contact(
            t.conn,
            (mine.compositeResponse[0].body as { id: string }).id
        );
        expect(created.OwnerId).toBe(user.id);
    });

    it('answers subrequest routing errors per subrequest, like top-level ones', async () => {
        const res = await post(t.conn, {
            compositeRequest: [
                {
                    method: 'GET',
                    url: `${V}/sobjects/NoSuchObject__c/describe`,
                    referenceId: 'unknownObject'
                },
                {
                    method: 'PUT',
                    url: `${V}/sobjects/Contact/describe`,
                    referenceId: 'wrongMethod'
                },
                {
                    method: 'GET',
                    url: '/services/data/v99.0/sobjects/Contact/describe',
                    referenceId: 'futureVersion'
                }
            ]
        });
        expect(res.compositeResponse.map((r) => r.httpStatusCode)).toEqual([
            404, 405, 404
        ]);
        expect(
            (res.compositeResponse[1].body as Array<{ errorCode: string }>)[0]
                .errorCode
        ).toBe('METHOD_NOT_ALLOWED');
    });

    it('lists the composite resources and is listed among the version resources', async () => {
        const list = await t.conn.request<Rec>(`${V}/composite`);
        expect(list).toEqual({
            tree: `${V}/composite/tree`,
            batch: `${V}/composite/batch`,
            sobjects: `${V}/composite/sobjects`,
            graph: `${V}/composite/graph`
        });
        const resources = await t.conn.request<Rec>(V);
        expect(resources.composite).toBe(`${V}/composite`);
    });
});
