/**
 * Bulk query results parsed as they arrive (csvRowChunks): rows split anywhere across
 * the body's pieces (inside quotes, across escaped quotes, line breaks and multi-byte
 * characters), arrays bounded, rows skipped on a re-read, and nothing yielded from a
 * body that breaks but what was complete in full arrays. Then the OrgClient against the
 * local org: large pages in few requests, yielded in bounded arrays, and a page whose
 * download breaks partway (fault `cut`) read again without losing or repeating a row.
 */
import {
    createServer,
    request as httpRequest,
    type IncomingMessage,
    type Server,
    type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { bulkQuery, csvRowChunks, parseCsv } from '../bulk';
import { OrgClient, type OrgClientOptions, type SObjectRow } from '../client';

const CSV = [
    '"Id","Email","Note"',
    '"003A","a@x.test","plain"',
    '"003B","b@x.test","comma, inside"',
    '"003C","c@x.test","line\nbreak"',
    '"003D","d@x.test","quote "" inside"',
    '"003E","","ünïcødé ✓ 😀"',
    '"003F","f@x.test",""',
    '"003G","g@x.test","crlf\r\ninside"',
    ''
].join('\n');

const EXPECTED = parseCsv(CSV);

async function collect(
    pieces: Iterable<Buffer | string> | AsyncIterable<Buffer | string>,
    options: { chunkRows: number; skip?: number }
): Promise<Record<string, string>[][]> {
    const out: Record<string, string>[][] = [];
    for await (const rows of csvRowChunks(pieces, options)) out.push(rows);
    return out;
}

/** The body cut into pieces at the given byte offsets. */
function split(text: string, at: number[]): Buffer[] {
    const bytes = Buffer.from(text, 'utf8');
    const cuts = [0, ...at, bytes.length];
    const out: Buffer[] = [];
    for (let i = 0; i + 1 < cuts.length; i++)
        out.push(bytes.subarray(cuts[i], cuts[i + 1]));
    return out;
}

describe('csvRowChunks', () => {
    it('reads the rows the whole-body parser reads, with the fixture exercising quotes, commas, line breaks and UTF-8', () => {
        expect(EXPECTED).toHaveLength(7);
        expect(EXPECTED[1].Note).toBe('comma, inside');
        expect(EXPECTED[2].Note).toBe('line\nbreak');
        expect(EXPECTED[3].Note).toBe('quote " inside');
        expect(EXPECTED[4]).toEqual({
            Id: '003E',
            Email: '',
            Note: 'ünïcødé ✓ 😀'
        });
        expect(EXPECTED[6].Note).toBe('crlf\r\ninside');
    });

    it('gives the same rows whatever byte the body is split at (two pieces, every offset)', async () => {
        const length = Buffer.byteLength(CSV);
        for (let at = 1; at < length; at++) {
            const chunks = await collect(split(CSV, [at]), { chunkRows: 3 });
            expect({ at, rows: chunks.flat() }).toEqual({
                at,
                rows: EXPECTED
            });
        }
    });

    it('gives the same rows when every byte arrives on its own', async () => {
        const length = Buffer.byteLength(CSV);
        const at = Array.from({ length: length - 1 }, (_, i) => i + 1);
        const chunks = await collect(split(CSV, at), { chunkRows: 2 });
        expect(chunks.flat()).toEqual(EXPECTED);
    });

    it('yields full arrays of chunkRows rows and the rest once the body has ended', async () => {
        const sizes = (await collect([CSV], { chunkRows: 3 })).map(
            (c) => c.length
        );
        expect(sizes).toEqual([3, 3, 1]);
        expect(
            (await collect([CSV], { chunkRows: 7 })).map((c) => c.length)
        ).toEqual([7]);
        expect(
            (await collect([CSV], { chunkRows: 100 })).map((c) => c.length)
        ).toEqual([7]);
    });

    it('leaves out the first `skip` rows (a page read again after some were given)', async () => {
        const chunks = await collect(split(CSV, [40, 90]), {
            chunkRows: 2,
            skip: 3
        });
        expect(chunks.map((c) => c.length)).toEqual([2, 2]);
        expect(chunks.flat()).toEqual(EXPECTED.slice(3));
        expect(await collect([CSV], { chunkRows: 2, skip: 7 })).toEqual([]);
    });

    it('takes a body that does not end with a line break for a broken one, its last row not given', async () => {
        const cut = '"Id","Email"\n"1","a@x.test"\n"2","b@x.test"\n"3","c@x';
        const err = await collect([cut.slice(0, -5)], { chunkRows: 1 }).catch(
            (e: unknown) => e
        );
        expect(err).toMatchObject({
            message: 'results body ended inside a row'
        });
        // Cut between two fields: the parser alone would take "3" for a whole row.
        const seen: Record<string, string>[][] = [];
        const err2 = await (async () => {
            for await (const rows of csvRowChunks(
                ['"Id","Email"\n"1","a@x.test"\n"2","b@x.test"\n"3"'],
                { chunkRows: 1 }
            ))
                seen.push(rows);
        })().catch((e: unknown) => e);
        expect(err2).toMatchObject({
            message: 'results body ended inside a row'
        });
        expect(seen.flat().map((r) => r.Id)).toEqual(['1', '2']);
    });

    it('reads an empty body and a header alone as no rows', async () => {
        expect(await collect([''], { chunkRows: 5 })).toEqual([]);
        expect(await collect(['"Id","Email"\n'], { chunkRows: 5 })).toEqual([]);
    });

    it('throws when the body breaks, having yielded only full arrays of complete rows', async () => {
        // The body breaks in the middle of row 7 (003G, inside its quoted value), a
        // moment after its last bytes came (as on a network).
        const bytes = Buffer.from(CSV, 'utf8');
        const breakAt = bytes.indexOf('crlf') + 2;
        async function* broken(): AsyncGenerator<Buffer> {
            yield bytes.subarray(0, 30);
            yield bytes.subarray(30, breakAt);
            await new Promise((resolve) => setTimeout(resolve, 50));
            throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
        }
        const seen: Record<string, string>[][] = [];
        const err = await (async () => {
            for await (const rows of csvRowChunks(broken(), { chunkRows: 4 }))
                seen.push(rows);
        })().catch((e: unknown) => e);
        expect(err).toMatchObject({ message: 'aborted' });
        // Rows 1–4 filled an array; rows 5 and 6 came whole but their array did not
        // fill, so they are not given (a re-read gives them); row 7 never came whole.
        expect(seen).toEqual([EXPECTED.slice(0, 4)]);
    });

    it('stops reading the body when the consumer leaves early', async () => {
        let pulled = 0;
        function* endless(): Generator<string> {
            yield '"Id"\n';
            for (;;) {
                pulled++;
                yield `"${pulled}"\n`;
            }
        }
        for await (const rows of csvRowChunks(endless(), { chunkRows: 10 })) {
            expect(rows).toHaveLength(10);
            break;
        }
        expect(pulled).toBeLessThan(10_000);
    });
});

describe('Bulk query results against the local org', () => {
    const N = 30_000;
    let t: TestOrg;
    let ids: string[];
    let sleeps: number[];
    let logged: string[];

    beforeAll(async () => {
        t = await startTestOrg();
        const people = fakePeople(N, { domain: 'pages.test' });
        // Values a CSV has to quote: commas, quotes, line breaks, non-ASCII.
        people[7].LastName = 'O"Brien, Jr.\nthe 2nd';
        people[N - 3].LastName = 'Ünïcødé, "ok"';
        ids = await seedRecords(t, 'Contact', people);
    }, 120_000);
    afterAll(async () => {
        await t?.close();
    });
    beforeEach(() => {
        t.admin.resetStats();
        t.admin.setFaults('');
        sleeps = [];
        logged = [];
    });

    function client(options: Partial<OrgClientOptions> = {}): OrgClient {
        return new OrgClient(t.conn as never, {
            targetOrg: 'local',
            local: true,
            sleep: async (ms) => {
                sleeps.push(ms);
            },
            random: () => 0,
            poll: { minMs: 5, maxMs: 20 },
            log: (_level, message) => logged.push(message),
            ...options
        });
    }

    async function scan(
        c: OrgClient,
        during?: (arrays: number) => void
    ): Promise<SObjectRow[][]> {
        const arrays: SObjectRow[][] = [];
        for await (const rows of c.scan(
            "SELECT Id, LastName, Email FROM Contact WHERE Email LIKE '%@pages.test'",
            { forceBulk: true }
        )) {
            arrays.push(rows);
            during?.(arrays.length);
        }
        return arrays;
    }

    /** Every seeded row once: no row lost, none given twice. */
    function expectEveryRowOnce(arrays: SObjectRow[][]): void {
        const got = arrays.flat().map((r) => String(r.Id));
        expect(got).toHaveLength(N);
        expect(new Set(got).size).toBe(N);
        expect([...got].sort()).toEqual([...ids].sort());
        const byId = new Map(arrays.flat().map((r) => [String(r.Id), r]));
        expect(byId.get(ids[7])?.LastName).toBe('O"Brien, Jr.\nthe 2nd');
        expect(byId.get(ids[N - 3])?.LastName).toBe('Ünïcødé, "ok"');
    }

    it('reads every row with one results request (default maxRecords 500,000), in arrays of at most bulkQueryChunkRows', async () => {
        const c = client({ bulkQueryChunkRows: 4000 });
        expect(c.bulkQueryPageSize).toBe(500_000);
        const arrays = await scan(c);
        expectEveryRowOnce(arrays);
        expect(arrays.map((a) => a.length)).toEqual([
            ...Array<number>(7).fill(4000),
            2000
        ]);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkQueryResults).toBe(1);
        expect(c.apiRequests).toBe(stats.totalRequests);
        expect(c.retried.requests).toBe(0);
    });

    it('asks for pages of bulkQueryPageSize rows (one request each) and never spans two pages with one array', async () => {
        const c = client({
            bulkQueryPageSize: 12_000,
            bulkQueryChunkRows: 5000
        });
        const arrays = await scan(c);
        expectEveryRowOnce(arrays);
        expect(arrays.map((a) => a.length)).toEqual([
            5000, 5000, 2000, 5000, 5000, 2000, 5000, 1000
        ]);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkQueryResults).toBe(3);
        expect(c.apiRequests).toBe(stats.totalRequests);
    });

    it('reads a page again when its download breaks partway, skipping the rows already given', async () => {
        // The one page (30,000 rows) breaks inside row 15,001, after 15,000 whole rows.
        t.admin.setFaults('cut:next=1@bulkQueryResults');
        const c = client({ bulkQueryChunkRows: 4000 });
        const arrays = await scan(c);
        expectEveryRowOnce(arrays);
        expect(arrays.every((a) => a.length <= 4000)).toBe(true);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkQueryResults).toBe(2);
        expect(c.apiRequests).toBe(stats.totalRequests);
        expect(c.retried.requests).toBe(1);
        expect(sleeps).toEqual([250]);
        // Rows had been given before the break (whole arrays only), and were skipped.
        const retry = logged.find((m) => m.includes('reading the page again'));
        const given = Number(
            /\((\d+) of its rows already read\)/.exec(retry ?? '')?.[1]
        );
        expect(given).toBeGreaterThan(0);
        expect(given % 4000).toBe(0);
        expect(given).toBeLessThanOrEqual(15_000);
    });

    it('reads a later page again when it breaks, the pages before it untouched', async () => {
        const c = client({
            bulkQueryPageSize: 12_000,
            bulkQueryChunkRows: 5000
        });
        const arrays = await scan(c, (n) => {
            // The first page is being read: its successor's download will break.
            if (n === 1) t.admin.setFaults('cut:next=1@bulkQueryResults');
        });
        expectEveryRowOnce(arrays);
        const stats = t.admin.stats();
        expect(stats.byKind.bulkQueryResults).toBe(4);
        expect(c.apiRequests).toBe(stats.totalRequests);
        expect(c.retried.requests).toBe(1);
        // The second page broke after row 6,000 of its 12,000: one array of it was given.
        expect(logged.join('\n')).toContain('(5000 of its rows already read)');
    });
});

describe('Bulk query results straight from the org (a stand-in server)', () => {
    const JOB = '750000000000001AAA';
    let server: Server;
    let url: string;
    /** What the stand-in answers each results request with, in turn. */
    let answers: Array<(req: IncomingMessage, res: ServerResponse) => void>;
    let seen: Array<{ url: string; auth?: string; encoding?: string }>;
    let connCalls: string[];
    let sleeps: number[];

    beforeAll(async () => {
        server = createServer((req, res) => {
            seen.push({
                url: req.url ?? '',
                auth: req.headers.authorization,
                encoding: req.headers['accept-encoding']
            });
            const answer = answers.shift();
            if (!answer) {
                res.writeHead(500).end('no answer left');
                return;
            }
            answer(req, res);
        });
        await new Promise<void>((resolve) =>
            server.listen(0, '127.0.0.1', resolve)
        );
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
        await new Promise((resolve) => server.close(resolve));
    });
    beforeEach(() => {
        answers = [];
        seen = [];
        connCalls = [];
        sleeps = [];
    });

    function csv(from: number, to: number): string {
        let out = '"Id","Name"\n';
        for (let i = from; i < to; i++) out += `"${i}","Name, ${i}"\n`;
        return out;
    }

    function page(
        body: string,
        headers: Record<string, string>,
        options: { gzip?: boolean } = {}
    ): (req: IncomingMessage, res: ServerResponse) => void {
        return (_req, res) => {
            const data = options.gzip
                ? gzipSync(Buffer.from(body))
                : Buffer.from(body);
            res.writeHead(200, {
                'Content-Type': 'text/csv',
                ...(options.gzip ? { 'Content-Encoding': 'gzip' } : {}),
                ...headers
            });
            res.end(data);
        };
    }

    /** A connection whose jsforce part is a stub; results go to the stand-in. */
    function client(
        options: Partial<OrgClientOptions> = {},
        connOptions: { renewTo?: string; viaConnection?: boolean } = {}
    ): OrgClient {
        const conn = {
            instanceUrl: url,
            version: '66.0',
            accessToken: 'token-1' as string | null,
            request(req: { method: string; url: string }): Promise<unknown> {
                connCalls.push(`${req.method} ${req.url.replace(url, '')}`);
                if (req.method === 'POST')
                    return Promise.resolve({
                        id: JOB,
                        state: 'UploadComplete'
                    });
                if (req.method === 'DELETE') return Promise.resolve(undefined);
                if (req.url.includes('/results'))
                    // Read whole, as jsforce would (a real HTTP request: metered).
                    return new Promise((resolve, reject) => {
                        const target = req.url.startsWith('/')
                            ? `${url}${req.url}`
                            : req.url;
                        const r = httpRequest(target, (res) => {
                            let text = '';
                            res.on('data', (c) => (text += String(c)));
                            res.on('end', () => resolve(text));
                            res.on('error', reject);
                        });
                        r.on('error', reject);
                        r.end();
                    });
                // jsforce renews an expired session on the request that finds it so.
                if (connOptions.renewTo && seen.length > 0)
                    conn.accessToken = connOptions.renewTo;
                return Promise.resolve({ id: JOB, state: 'JobComplete' });
            }
        };
        if (connOptions.viaConnection) conn.accessToken = null;
        return new OrgClient(conn, {
            targetOrg: 'stand-in',
            sleep: async (ms) => {
                sleeps.push(ms);
            },
            random: () => 0,
            poll: { minMs: 1, maxMs: 1 },
            ...options
        });
    }

    async function read(c: OrgClient): Promise<Record<string, string>[][]> {
        const arrays: Record<string, string>[][] = [];
        for await (const rows of bulkQuery(c, 'SELECT Id, Name FROM Account'))
            arrays.push(rows);
        return arrays;
    }

    it('streams gzip pages through node:http with the session, following Sforce-Locator; every request metered', async () => {
        answers = [
            page(
                csv(0, 5),
                { 'Sforce-Locator': 'MTAwMDA', 'Sforce-NumberOfRecords': '5' },
                { gzip: true }
            ),
            page(
                csv(5, 8),
                { 'Sforce-Locator': 'null', 'Sforce-NumberOfRecords': '3' },
                { gzip: true }
            )
        ];
        const c = client({ bulkQueryChunkRows: 2 });
        const arrays = await read(c);
        expect(arrays.map((a) => a.length)).toEqual([2, 2, 1, 2, 1]);
        expect(arrays.flat().map((r) => r.Name)).toEqual(
            Array.from({ length: 8 }, (_, i) => `Name, ${i}`)
        );
        expect(seen).toEqual([
            {
                url: `/services/data/v66.0/jobs/query/${JOB}/results?maxRecords=500000`,
                auth: 'Bearer token-1',
                encoding: 'gzip, deflate'
            },
            {
                url: `/services/data/v66.0/jobs/query/${JOB}/results?maxRecords=500000&locator=MTAwMDA`,
                auth: 'Bearer token-1',
                encoding: 'gzip, deflate'
            }
        ]);
        // The stub's calls make no HTTP request; the two results reads are counted.
        expect(c.apiRequests).toBe(2);
        expect(connCalls.at(-1)).toBe(
            `DELETE /services/data/v66.0/jobs/query/${JOB}`
        );
    });

    it('reads a page again when it has fewer rows than Sforce-NumberOfRecords, and after a refusal (Retry-After honoured)', async () => {
        answers = [
            (_req, res) => {
                res.writeHead(503, {
                    'Content-Type': 'text/html',
                    'Retry-After': '3'
                });
                res.end('<html>Service Unavailable</html>');
            },
            // Ends cleanly, but two rows short.
            page(csv(0, 4), {
                'Sforce-Locator': 'null',
                'Sforce-NumberOfRecords': '6'
            }),
            page(csv(0, 6), {
                'Sforce-Locator': 'null',
                'Sforce-NumberOfRecords': '6'
            })
        ];
        const c = client({ bulkQueryChunkRows: 4 });
        const arrays = await read(c);
        expect(arrays.flat().map((r) => r.Id)).toEqual([
            '0',
            '1',
            '2',
            '3',
            '4',
            '5'
        ]);
        expect(arrays.map((a) => a.length)).toEqual([4, 2]);
        expect(c.retried.requests).toBe(2);
        // Retry-After: 3 s lifts the first back-off (250 ms); then 500 ms.
        expect(sleeps.slice(-2)).toEqual([3000, 500]);
        expect(c.apiRequests).toBe(3);
    });

    it('renews an expired session through the connection, then reads the page again', async () => {
        answers = [
            (_req, res) => {
                res.writeHead(401, { 'Content-Type': 'application/json' });
                res.end(
                    JSON.stringify([
                        {
                            message: 'Session expired or invalid',
                            errorCode: 'INVALID_SESSION_ID'
                        }
                    ])
                );
            },
            page(csv(0, 3), {
                'Sforce-Locator': 'null',
                'Sforce-NumberOfRecords': '3'
            })
        ];
        const c = client({}, { renewTo: 'token-2' });
        const arrays = await read(c);
        expect(arrays.flat()).toHaveLength(3);
        expect(seen.map((s) => s.auth)).toEqual([
            'Bearer token-1',
            'Bearer token-2'
        ]);
        expect(c.retried.requests).toBe(1);
    });

    it('gives up with Salesforce’s error when a refusal is not transient', async () => {
        answers = [
            (_req, res) => {
                res.writeHead(400, { 'Content-Type': 'application/json' });
                res.end(
                    JSON.stringify([
                        {
                            message: 'Invalid locator',
                            errorCode: 'INVALIDLOCATOR'
                        }
                    ])
                );
            }
        ];
        const err = await read(client()).catch((e: unknown) => e);
        expect(err).toMatchObject({
            errorCode: 'INVALIDLOCATOR',
            status: 400,
            message: expect.stringContaining('Invalid locator')
        });
        expect(seen).toHaveLength(1);
    });

    it('reads pages whole through the connection, no larger than 50,000 rows, when it cannot stream (no session at hand)', async () => {
        answers = [
            page(csv(0, 3), {
                'Sforce-Locator': 'null',
                'Sforce-NumberOfRecords': '3'
            })
        ];
        const c = client({ bulkQueryChunkRows: 2 }, { viaConnection: true });
        const arrays = await read(c);
        expect(arrays.map((a) => a.length)).toEqual([2, 1]);
        expect(seen).toEqual([
            expect.objectContaining({
                url: `/services/data/v66.0/jobs/query/${JOB}/results?maxRecords=50000`,
                auth: undefined
            })
        ]);
        expect(connCalls).toContain(
            `GET /services/data/v66.0/jobs/query/${JOB}/results?maxRecords=50000`
        );
    });
});
