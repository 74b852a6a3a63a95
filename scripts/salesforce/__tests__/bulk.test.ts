/**
 * Bulk query results parsed as they arrive (csvRowChunks): rows split anywhere across
 * the body's pieces (inside quotes, across escaped quotes, line breaks and multi-byte
 * characters), arrays bounded, rows skipped on a re-read, and nothing yielded from a
 * body that breaks but what was complete in full arrays. Then the OrgClient against the
 * local org: large pages in few requests, yielded in bounded arrays, and a page whose
 * download breaks partway (fault `cut`) read again without losing or repeating a row.
 */
import {
    fakePeople,
    seedRecords,
    startTestOrg,
    type TestOrg
} from '../../tools/local-org/testing';
import { csvRowChunks, parseCsv } from '../bulk';
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
