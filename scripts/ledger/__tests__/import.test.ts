import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeId } from '../../model/ids';
import { OptoutError } from '../../model/errors';
import { Ledger, engineOf } from '../ledger';
import { importCsv, type ImportOptions, type ImportReport } from '../import';

const NOW = new Date('2025-03-01T12:00:00.000Z');
const CONTACT = makeId('003', 1);
const LEAD = makeId('00Q', 2);

let dir: string;
let ledger: Ledger;
beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'import-test-'));
    ledger = await Ledger.open(':memory:', { now: () => NOW });
});
afterEach(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
});

let fileNo = 0;
function file(content: string | Buffer): string {
    const path = join(dir, `f${++fileNo}.csv`);
    writeFileSync(path, content);
    return path;
}

async function run(
    content: string | Buffer,
    options: Partial<ImportOptions> = {}
): Promise<ImportReport> {
    return importCsv(ledger, {
        file: file(content),
        now: NOW,
        ...options
    });
}

async function expectRejects(
    content: string | Buffer,
    code: string,
    message: RegExp,
    options: Partial<ImportOptions> = {}
) {
    let caught: unknown;
    try {
        await run(content, options);
    } catch (err) {
        caught = err;
    }
    expect(caught).toBeInstanceOf(OptoutError);
    expect((caught as OptoutError).code).toBe(code);
    expect((caught as OptoutError).message).toMatch(message);
    await expectEmptyLedger();
    return caught as OptoutError;
}

async function count(table: string): Promise<number> {
    const row = await engineOf(ledger).get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM ${table}`
    );
    return row?.n ?? 0;
}

async function expectEmptyLedger(): Promise<void> {
    for (const t of [
        'persons',
        'audiences',
        'memberships',
        'unsubscribes',
        'audit'
    ])
        expect(await count(t)).toBe(0);
}

const HEADER =
    'email,salesforce_id,audience_id,audience_name,status,changed_at';

describe('import of optout CSV files', () => {
    it('imports persons, audiences and memberships; Unsubscribed rows record audience unsubscribes', async () => {
        const report = await run(
            [
                HEADER,
                `ana@example.com,${CONTACT},news,Newsletter,subscribed,2025-02-01T10:00:00Z`,
                `Bo@Example.com,${LEAD.slice(0, 15)},news,Newsletter,UNSUBSCRIBED,2025-02-02`,
                'bo@example.com,,events,Events,Pending,',
                'cy@example.com,,events,,cleaned,2025-02-03 08:00:00'
            ].join('\n') + '\n'
        );
        expect(report).toMatchObject({
            status: 'imported',
            format: 'csv',
            rowsRead: 4,
            rowsValid: 4,
            personsUpserted: 3,
            audiencesUpserted: 2,
            membershipsChanged: 4,
            unsubscribesAdded: 1,
            invalid: []
        });
        const bo = await ledger.findPerson('bo@example.com');
        expect(bo).toMatchObject({
            email: 'Bo@Example.com',
            salesforceId: LEAD
        });
        expect(await ledger.listUnsubscribes(bo!.id)).toEqual([
            expect.objectContaining({
                scope: 'audience',
                audienceId: 'news',
                source: 'import'
            })
        ]);
        expect(await ledger.getMembership(bo!.id, 'events')).toMatchObject({
            status: 'Pending',
            changedAt: NOW.toISOString()
        });
        expect(
            (
                await ledger.getMembership(
                    (await ledger.findPerson('cy@example.com'))!.id,
                    'events'
                )
            )?.changedAt
        ).toBe('2025-02-03T08:00:00.000Z');
        expect(
            (await ledger.auditForEmail('bo@example.com')).map((a) => a.action)
        ).toEqual(['import', 'unsubscribe_recorded', 'import']);

        // The same file again changes nothing (R11).
        const again = await run(
            [
                HEADER,
                `ana@example.com,${CONTACT},news,Newsletter,subscribed,2025-02-01T10:00:00Z`
            ].join('\n')
        );
        expect(again).toMatchObject({
            membershipsChanged: 0,
            personsUpserted: 0,
            skipped: { unchanged: 1 }
        });
    });

    it('reads header names in any case and order, with optional columns left out', async () => {
        const report = await run(
            'Status, Audience ID ,EMAIL,Audience-Name,Reason\r\nunsubscribed,news,a@x.io,News,moved away\r\n',
            { source: 'platform' }
        );
        expect(report.status).toBe('imported');
        const a = (await ledger.findPerson('a@x.io'))!;
        expect(await ledger.getMembership(a.id, 'news')).toMatchObject({
            status: 'Unsubscribed',
            source: 'platform',
            reason: 'moved away'
        });
        expect((await ledger.listUnsubscribes(a.id))[0]).toMatchObject({
            source: 'platform',
            reason: 'moved away'
        });
    });

    it('uses the audiences already in the ledger when audience_name is empty', async () => {
        await ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
        const report = await run(
            'email,audience_id,status\na@x.io,news,Subscribed\n'
        );
        expect(report).toMatchObject({
            status: 'imported',
            audiencesUpserted: 0
        });
        expect((await ledger.getAudience('news'))?.name).toBe('Newsletter');
    });

    it('reports every invalid row with its line number and imports nothing', async () => {
        const rows = [
            HEADER, // 1
            `ok@x.io,${CONTACT},news,News,Subscribed,2025-01-01`, // 2 valid
            'not-an-email,,news,News,Subscribed,', // 3
            'b@x.io,,news,News,Bounced,', // 4
            'c@x.io,,news,News,Subscribed,31/12/2024', // 5
            'd@x.io,,news,News,Subscribed,2030-01-01T00:00:00Z', // 6
            'e@x.io,003abc,news,News,Subscribed,', // 7
            `f@x.io,${CONTACT.slice(0, 14)}!,news,News,Subscribed,`, // 8
            `g@x.io,${CONTACT.slice(0, 15)}ZZZ,news,News,Subscribed,`, // 9
            `h@x.io,${makeId('001', 9)},news,News,Subscribed,`, // 10
            'i@x.io,,news,News,Subscribed', // 11: five fields
            ',,,News,,', // 12: everything missing
            '', // 13: blank, skipped
            'j@x.io,,news,News,Subscribed,2025-01-01', // 14
            'J@x.io,,news,News,Unsubscribed,2025-01-01', // 15 conflicts with 14
            'k@x.io,,news,News,Subscribed,2025-01-01', // 16
            'k@x.io,,news,News,Subscribed,2025-01-01', // 17 exact duplicate: fine
            `l@x.io,${CONTACT},news,News,Subscribed,`, // 18
            `l@x.io,${LEAD},events,Events,Subscribed,`, // 19 other id for the same email
            'm@x.io,,promo,Promo A,Subscribed,', // 20
            'n@x.io,,promo,Promo B,Subscribed,', // 21 two names for one audience
            'o@x.io,,ghost,,Subscribed,' // 22 unknown audience, no name
        ];
        const report = await run(rows.join('\n'));
        expect(report.status).toBe('rejected');
        expect(report.rowsRead).toBe(20);
        const byLine = Object.fromEntries(
            report.invalid.map((r) => [r.line, r.problems.join(' | ')])
        );
        expect(Object.keys(byLine).map(Number)).toEqual([
            3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 18, 19, 20, 21, 22
        ]);
        expect(byLine[3]).toMatch(/email 'not-an-email' has no '@'/);
        expect(byLine[4]).toMatch(/status 'Bounced' is not one of/);
        expect(byLine[5]).toMatch(
            /changed_at: time '31\/12\/2024' is not an ISO-8601/
        );
        expect(byLine[6]).toMatch(/in the future/);
        expect(byLine[7]).toMatch(/6 characters; expected 15 or 18/);
        expect(byLine[8]).toMatch(/characters other than letters and digits/);
        expect(byLine[9]).toMatch(/bad checksum/);
        expect(byLine[10]).toMatch(/starts with 001/);
        expect(byLine[11]).toMatch(/has 5 fields; the header has 6/);
        expect(byLine[12]).toMatch(
            /email is empty.*audience id is empty.*status is empty/
        );
        expect(byLine[14]).toMatch(
            /j@x\.io in audience news also appears on line\(s\) 15 with different data/
        );
        expect(byLine[15]).toMatch(/also appears on line\(s\) 14/);
        expect(byLine[18]).toMatch(/different Salesforce ids/);
        expect(byLine[20]).toMatch(/audience promo has different names/);
        expect(byLine[22]).toMatch(
            /audience ghost is not in the ledger and no row gives its audience_name/
        );
        await expectEmptyLedger();
    });

    it('with skipInvalid imports the valid rows and reports the rest', async () => {
        const report = await run(
            [
                HEADER,
                'a@x.io,,news,News,Subscribed,',
                'bad,,news,News,Subscribed,',
                'c@x.io,,news,,Archived,'
            ].join('\n'),
            {
                skipInvalid: true
            }
        );
        expect(report).toMatchObject({
            status: 'partial',
            rowsRead: 3,
            rowsValid: 2,
            membershipsChanged: 2
        });
        expect(report.invalid).toEqual([
            { line: 3, problems: [expect.stringMatching(/no '@'/)] }
        ]);
        expect(await count('persons')).toBe(2);
    });

    it('does not lift an active audience unsubscribe (R4): such rows are skipped with their line', async () => {
        await ledger.recordUnsubscribe({
            email: 'a@x.io',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'News',
            source: 'webhook'
        });
        const report = await run(
            [
                HEADER,
                'b@x.io,,news,,Subscribed,',
                'a@x.io,,news,,Subscribed,'
            ].join('\n')
        );
        expect(report).toMatchObject({
            status: 'imported',
            membershipsChanged: 1,
            skipped: { blocked: 1 },
            blockedLines: [3]
        });
        expect(
            (
                await ledger.getMembership(
                    (await ledger.findPerson('a@x.io'))!.id,
                    'news'
                )
            )?.status
        ).toBe('Unsubscribed');
    });

    it('reports exact line numbers across CRLF line ends and quoted fields spanning lines', async () => {
        const report = await run(
            'email,audience_id,audience_name,status,reason\r\n' +
                'a@x.io,news,News,Subscribed,"line one\r\nline two"\r\n' +
                '\r\n' +
                'b@x.io,news,News,Nope,\r\n'
        );
        expect(report.invalid).toEqual([
            { line: 5, problems: [expect.stringMatching(/status 'Nope'/)] }
        ]);
    });
});

describe('large invalid files', () => {
    it('counts every invalid line and lists the first 10,000', async () => {
        const rows = [HEADER];
        for (let i = 0; i < 10_005; i++)
            rows.push(`bad${i},,news,News,Subscribed,`);
        const report = await run(rows.join('\n'));
        expect(report.status).toBe('rejected');
        expect(report.invalidCount).toBe(10_005);
        expect(report.invalid).toHaveLength(10_000);
        expect(report.invalid[9_999].line).toBe(10_001);
    });
});

describe('file-level problems', () => {
    it.each([
        [
            'a missing column',
            'email,audience_id\n',
            /missing column\(s\) status/
        ],
        [
            'an unknown column',
            'email,audience_id,status,stat\n',
            /unknown column\(s\) 'stat'/
        ],
        [
            'a duplicate column',
            'email,Email,audience_id,status\n',
            /column 'Email' appears twice/
        ],
        [
            'data instead of a header',
            'a@x.io,news,Subscribed\nb@x.io,news,Subscribed\n',
            /looks like data/
        ]
    ])('refuses %s in the header', async (_what, content, message) => {
        const e = await expectRejects(content, 'BAD_HEADER', message);
        expect(e.actions.join(' ')).toMatch(
            /email,salesforce_id,audience_id,audience_name,status,changed_at/
        );
    });

    it('refuses empty files and header-only files', async () => {
        await expectRejects('', 'EMPTY_FILE', /0 bytes/);
        await expectRejects('\n\n\n', 'EMPTY_FILE', /no header/);
        await expectRejects(
            `${HEADER}\n\n`,
            'EMPTY_FILE',
            /header but no rows/
        );
        await expectRejects(
            `${HEADER}\n,,,,,\n`,
            'EMPTY_FILE',
            /header but no rows/
        );
    });

    it('refuses a missing file', async () => {
        let caught: unknown;
        try {
            await importCsv(ledger, { file: join(dir, 'nope.csv') });
        } catch (err) {
            caught = err;
        }
        expect((caught as OptoutError).code).toBe('FILE_NOT_FOUND');
    });

    it('refuses text that is not UTF-8, naming the line', async () => {
        const latin1 = Buffer.concat([
            Buffer.from(
                `${HEADER}\na@x.io,,news,News,Subscribed,\nb@x.io,,news,Actualit`
            ),
            Buffer.from([0xe9]),
            Buffer.from('s,Subscribed,\n')
        ]);
        const e = await expectRejects(
            latin1,
            'BAD_ENCODING',
            /byte 0xE9 on line 3 .*Windows-1252/
        );
        expect(e.actions.join(' ')).toMatch(/CSV UTF-8/);
        const utf16 = Buffer.concat([
            Buffer.from([0xff, 0xfe]),
            Buffer.from(`${HEADER}\n`, 'utf16le')
        ]);
        await expectRejects(utf16, 'BAD_ENCODING', /UTF-16 \(little-endian\)/);
        await expectRejects(
            Buffer.from(`${HEADER}\n`, 'utf16le'),
            'BAD_ENCODING',
            /NUL bytes/
        );
        await expectRejects(
            Buffer.from([0x65, 0x6d, 0xe2, 0x82]),
            'BAD_ENCODING',
            /ends in the middle of a character/
        );
        // Overlong and surrogate encodings are not UTF-8 either.
        await expectRejects(
            Buffer.concat([Buffer.from('e'), Buffer.from([0xed, 0xa0, 0x80])]),
            'BAD_ENCODING',
            /0xED/
        );
    });

    it('strips a UTF-8 byte order mark and keeps non-ASCII text', async () => {
        const report = await run(
            `\ufeff${HEADER}\nzoe@example.com,,actu,Actualités,Subscribed,\n`
        );
        expect(report.status).toBe('imported');
        expect((await ledger.getAudience('actu'))?.name).toBe('Actualités');
    });

    it('refuses the whole file on broken CSV quoting, even with skipInvalid', async () => {
        const report = await run(
            [
                HEADER,
                'a@x.io,,news,News,Subscribed,',
                'b@x.io,,news,"News"x,Subscribed,',
                'c@x.io,,news,News,Subscribed,'
            ].join('\n'),
            {
                skipInvalid: true
            }
        );
        expect(report.status).toBe('rejected');
        expect(report.invalid[0]).toMatchObject({
            line: 3,
            problems: [
                expect.stringMatching(/CSV syntax: Invalid Closing Quote/)
            ]
        });
        await expectEmptyLedger();
    });
});

const MC_COMMON =
    'MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION';
const MC_TAIL = 'LEID,EUID,NOTES,TAGS';

describe('Mailchimp audience exports', () => {
    const subscribed = [
        `"Email Address","First Name","Last Name",${MC_COMMON},LAST_CHANGED,${MC_TAIL}`,
        'ana@example.com,Ana,Lopez,2,"2024-01-05 10:00:00",,"2024-01-05 10:01:00",,,,,,,,,"2024-06-01 09:30:00",111,aaa,,"""VIP"""',
        'bo@example.com,Bo,,1,,,,,,,,,,,,,112,aab,,'
    ].join('\n');
    const unsubscribed = [
        `"Email Address","First Name",${MC_COMMON},UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,${MC_TAIL}`,
        'ana@example.com,Ana,2,,,,,,,,,,,,"2024-07-01 08:00:00","Summer sale",c1,"I no longer want to receive these emails",,111,aaa,,',
        'cy@example.com,Cy,2,,,,,,,,,,,,"2024-07-02 08:00:00",,,"Other","Too many emails",113,aac,,'
    ].join('\n');
    const cleaned = [
        `"Email Address",${MC_COMMON},CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,${MC_TAIL}`,
        'dee@example.com,1,,,,,,,,,,,,"2024-08-01 00:00:00","August news",c2,114,aad,,'
    ].join('\n');

    it('detects the three export files by header and maps them to statuses', async () => {
        const audience = {
            audienceId: 'a1b2c3d4e5',
            audienceName: 'Newsletter'
        };
        const sub = await run(subscribed, audience);
        expect(sub).toMatchObject({
            format: 'mailchimp',
            mailchimpKind: 'subscribed',
            status: 'imported',
            membershipsChanged: 2
        });
        const ana = (await ledger.findPerson('ana@example.com'))!;
        expect(await ledger.getMembership(ana.id, 'a1b2c3d4e5')).toMatchObject({
            status: 'Subscribed',
            changedAt: '2024-06-01T09:30:00.000Z'
        });
        const unsub = await run(unsubscribed, audience);
        expect(unsub).toMatchObject({
            mailchimpKind: 'unsubscribed',
            membershipsChanged: 2,
            unsubscribesAdded: 2
        });
        expect(await ledger.getMembership(ana.id, 'a1b2c3d4e5')).toMatchObject({
            status: 'Unsubscribed',
            changedAt: '2024-07-01T08:00:00.000Z',
            reason: 'I no longer want to receive these emails'
        });
        expect(
            (
                await ledger.listUnsubscribes(
                    (await ledger.findPerson('cy@example.com'))!.id
                )
            )[0].reason
        ).toBe('Too many emails');
        const clean = await run(cleaned, { audienceId: 'a1b2c3d4e5' });
        expect(clean).toMatchObject({
            mailchimpKind: 'cleaned',
            membershipsChanged: 1,
            unsubscribesAdded: 0
        });
        expect(
            await ledger.getMembership(
                (await ledger.findPerson('dee@example.com'))!.id,
                'a1b2c3d4e5'
            )
        ).toMatchObject({
            status: 'Cleaned',
            reason: 'Cleaned after campaign: August news'
        });
        expect((await ledger.getAudience('a1b2c3d4e5'))?.name).toBe(
            'Newsletter'
        );
    });

    it('needs the audience id (the export does not name it) and a name for a new audience', async () => {
        await expectRejects(
            subscribed,
            'AUDIENCE_REQUIRED',
            /does not say which audience/
        );
        const report = await run(subscribed, { audienceId: 'newlist' });
        expect(report.status).toBe('rejected');
        expect(report.invalid[0].problems[0]).toMatch(
            /audience newlist is not in the ledger/
        );
        await expectEmptyLedger();
    });

    it('refuses --format mailchimp for a file that is not an export, and audience options for optout files', async () => {
        await expectRejects(
            `${HEADER}\na@x.io,,news,News,Subscribed,\n`,
            'BAD_HEADER',
            /not a Mailchimp audience export/,
            {
                format: 'mailchimp',
                audienceId: 'x'
            }
        );
        await expectRejects(
            `${HEADER}\na@x.io,,news,News,Subscribed,\n`,
            'BAD_ARGUMENT',
            /Mailchimp exports only/,
            {
                audienceId: 'x'
            }
        );
    });

    it('reports bad rows of an export with line numbers', async () => {
        const report = await run(
            [
                `"Email Address",${MC_COMMON},LAST_CHANGED,${MC_TAIL}`,
                'nope,1,,,,,,,,,,,,"2024-06-01 09:30:00",1,a,,',
                'ok@x.io,1,,,,,,,,,,,,"2024-13-01 09:30:00",1,a,,'
            ].join('\n'),
            { audienceId: 'l1', audienceName: 'List' }
        );
        expect(report.invalid).toEqual([
            { line: 2, problems: [expect.stringMatching(/no '@'/)] },
            {
                line: 3,
                problems: [
                    expect.stringMatching(/LAST_CHANGED: time .* has no month/)
                ]
            }
        ]);
    });
});

/**
 * 50,000 rows on SQLite; 6,000 on PostgreSQL, where every statement is a round trip
 * to the server (the import's rate there is measured by the benchmark, not here).
 */
const ROWS = process.env.OPTOUT_TEST_ENGINE === 'postgres' ? 6_000 : 50_000;

describe('scale', () => {
    it(`imports ${ROWS.toLocaleString('en')} rows in batches`, async () => {
        const path = join(dir, 'big.csv');
        const out = createWriteStream(path);
        out.write(`${HEADER}\n`);
        const statuses = [
            'Subscribed',
            'Unsubscribed',
            'Cleaned',
            'Pending',
            'Transactional',
            'Archived'
        ];
        for (let i = 0; i < ROWS; i++) {
            const id = i % 2 === 0 ? makeId('003', i) : makeId('00Q', i);
            const line = `person${i}@example.com,${id},aud${i % 3},Audience ${i % 3},${statuses[i % 6]},2025-01-01T00:00:00Z\n`;
            if (!out.write(line)) await once(out, 'drain');
        }
        out.end();
        await once(out, 'finish');
        const progress: string[] = [];
        const report = await importCsv(ledger, {
            file: path,
            now: NOW,
            batchSize: 4000,
            onProgress: (p) => progress.push(p.phase)
        });
        expect(report).toMatchObject({
            status: 'imported',
            rowsRead: ROWS,
            personsUpserted: ROWS,
            audiencesUpserted: 3,
            membershipsChanged: ROWS,
            unsubscribesAdded: Math.ceil((ROWS - 1) / 6)
        });
        expect(await ledger.maxSeq()).toBe(ROWS);
        expect((await ledger.status()).memberships.byStatus.Archived).toBe(
            Math.floor(ROWS / 6)
        );
        expect(progress).toContain('validate');
        expect(progress.filter((p) => p === 'import')).toHaveLength(
            Math.ceil(ROWS / 4000)
        );
    }, 180_000);
});
