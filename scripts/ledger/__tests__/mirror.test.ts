/**
 * The Salesforce mirror's ledger side (mirror.ts, migration 6): page upserts, deletes,
 * lookups by id and email (R6, R8, R9), memberships by key and by record, the full
 * read's sweep, and the watermark written with its rows. Runs on both engines.
 */
import { Ledger } from '../ledger';
import {
    statementChunks,
    type MirrorMembership,
    type MirrorRecord
} from '../mirror';
import { to18 } from '../../model/ids';

const C1 = to18('003000000000001');
const C2 = to18('003000000000002');
const C3 = to18('003000000000003');
const L1 = to18('00Q000000000001');
const L2 = to18('00Q000000000002');

function rec(
    id: string,
    email: string | null,
    extra: Partial<MirrorRecord> = {}
): MirrorRecord {
    return {
        id,
        object: id.startsWith('00Q') ? 'Lead' : 'Contact',
        email,
        emailNorm: email ? email.trim().toLowerCase() : null,
        isConverted: false,
        convertedContactId: null,
        hasOptedOutOfEmail: false,
        marketoSalesOptOut: null,
        systemModstamp: '2026-12-01T10:00:00.000Z',
        ...extra
    };
}

function mem(
    key: string,
    id: string,
    extra: Partial<MirrorMembership> = {}
): MirrorMembership {
    return {
        id,
        key,
        contactId: C1,
        leadId: null,
        audienceId: 'news',
        audienceName: 'News',
        email: 'ana@example.com',
        status: 'Subscribed',
        changedAt: '2026-12-01T09:00:00.000Z',
        source: 'Platform',
        reason: null,
        pending: false,
        systemModstamp: '2026-12-01T10:00:00.000Z',
        ...extra
    };
}

const ids = (rows: readonly { id: string }[]): string[] =>
    rows.map((r) => r.id).sort();

describe('the Salesforce mirror in the ledger', () => {
    let ledger: Ledger;
    beforeEach(async () => {
        ledger = await Ledger.open(':memory:');
    });
    afterEach(async () => {
        await ledger.close();
    });

    it('stores records and reads them back as stored, flags and nulls included', async () => {
        await ledger.mirrorUpsertRecords([
            rec(C1, 'Ana@Example.com', {
                hasOptedOutOfEmail: true,
                marketoSalesOptOut: false
            }),
            rec(L1, null, { isConverted: true, convertedContactId: C1 })
        ]);
        expect(await ledger.mirrorRecordsById([C1, L1])).toEqual([
            rec(C1, 'Ana@Example.com', {
                hasOptedOutOfEmail: true,
                marketoSalesOptOut: false
            }),
            rec(L1, null, { isConverted: true, convertedContactId: C1 })
        ]);
        expect(await ledger.mirrorCounts()).toEqual({
            contacts: 1,
            leads: 1,
            memberships: 0
        });
    });

    it('finds a person’s records by id, and by email only when R8 is on', async () => {
        await ledger.mirrorUpsertRecords([
            rec(C1, 'ana@example.com'),
            rec(C2, 'ANA@example.com '.trim()),
            rec(L2, 'ana@example.com'),
            rec(C3, 'bo@example.com')
        ]);
        const ana = [{ salesforceId: C1, emailNorm: 'ana@example.com' }];
        expect(
            ids(await ledger.mirrorRecordsFor(ana, { applyToSameEmail: false }))
        ).toEqual([C1]);
        expect(
            ids(await ledger.mirrorRecordsFor(ana, { applyToSameEmail: true }))
        ).toEqual([C1, C2, L2].sort());
        // A person without a Salesforce id is found by email only.
        expect(
            ids(
                await ledger.mirrorRecordsFor(
                    [{ salesforceId: null, emailNorm: 'bo@example.com' }],
                    { applyToSameEmail: true }
                )
            )
        ).toEqual([C3]);
        expect(
            await ledger.mirrorRecordsFor(
                [{ salesforceId: null, emailNorm: 'bo@example.com' }],
                { applyToSameEmail: false }
            )
        ).toEqual([]);
    });

    it('brings the Contact of a converted Lead along (R9), unless asked not to', async () => {
        await ledger.mirrorUpsertRecords([
            rec(L1, 'lee@example.com', {
                isConverted: true,
                convertedContactId: C2
            }),
            rec(C2, 'lee.new@example.com')
        ]);
        const lee = [{ salesforceId: L1, emailNorm: 'lee@example.com' }];
        expect(
            ids(await ledger.mirrorRecordsFor(lee, { applyToSameEmail: false }))
        ).toEqual([C2, L1]);
        expect(
            ids(
                await ledger.mirrorRecordsFor(lee, {
                    applyToSameEmail: false,
                    convertedContacts: false
                })
            )
        ).toEqual([L1]);
    });

    it('replaces a record by id and forgets deleted ones', async () => {
        await ledger.mirrorUpsertRecords([rec(C1, 'old@example.com')]);
        await ledger.mirrorUpsertRecords([
            rec(C1, 'new@example.com', {
                systemModstamp: '2026-12-01T11:00:00.000Z'
            })
        ]);
        const byEmail = async (e: string): Promise<string[]> =>
            ids(
                await ledger.mirrorRecordsFor(
                    [{ salesforceId: null, emailNorm: e }],
                    { applyToSameEmail: true }
                )
            );
        expect(await byEmail('old@example.com')).toEqual([]);
        expect(await byEmail('new@example.com')).toEqual([C1]);
        expect(await ledger.mirrorDeleteRecords([C1, C2])).toBe(1);
        expect(await byEmail('new@example.com')).toEqual([]);
    });

    it('looks up many persons in batches (more than one statement), each record once', async () => {
        const n = 1300;
        const records = Array.from({ length: n }, (_, i) =>
            rec(to18(`003${String(i + 100).padStart(12, '0')}`), `p${i}@x.io`)
        );
        // 1,300 rows × 11 columns: more values than one statement takes.
        expect(await ledger.mirrorUpsertRecords(records)).toBe(n);
        const found = await ledger.mirrorRecordsFor(
            records.map((r) => ({
                salesforceId: r.id,
                emailNorm: r.emailNorm
            })),
            { applyToSameEmail: true }
        );
        expect(found).toHaveLength(n);
        expect(new Set(found.map((r) => r.id)).size).toBe(n);
    });

    it('finds memberships by exact key, and by record whatever the key', async () => {
        await ledger.mirrorUpsertMemberships([
            mem(`AbC:${C1}`, 'a00000000000001AAA', { audienceId: 'AbC' }),
            mem(`abc:${C1}`, 'a00000000000002AAA', { audienceId: 'abc' }),
            mem(`news:${L1}`, 'a00000000000003AAA', {
                contactId: null,
                leadId: L1
            }),
            // Re-parented by a merge: its key still names the loser.
            mem(`news:${C3}`, 'a00000000000004AAA', { contactId: C2 })
        ]);
        expect(
            (await ledger.mirrorMembershipsByKeys([`abc:${C1}`])).map(
                (m) => m.id
            )
        ).toEqual(['a00000000000002AAA']);
        expect(
            (await ledger.mirrorMembershipsForRecords([L1, C2])).map(
                (m) => m.key
            )
        ).toEqual([`news:${C3}`, `news:${L1}`]);
        const [row] = await ledger.mirrorMembershipsByKeys([`news:${L1}`]);
        expect(row).toEqual(
            mem(`news:${L1}`, 'a00000000000003AAA', {
                contactId: null,
                leadId: L1
            })
        );
    });

    it('moves a membership whose key changed (same Id) instead of keeping both', async () => {
        await ledger.mirrorUpsertMemberships([
            mem('old-key', 'a00000000000001AAA')
        ]);
        await ledger.mirrorUpsertMemberships([
            mem('new-key', 'a00000000000001AAA', { status: 'Unsubscribed' })
        ]);
        expect(await ledger.mirrorMembershipsByKeys(['old-key'])).toEqual([]);
        expect(
            (await ledger.mirrorMembershipsByKeys(['new-key'])).map(
                (m) => m.status
            )
        ).toEqual(['Unsubscribed']);
        expect(
            await ledger.mirrorDeleteMemberships(['a00000000000001AAA'])
        ).toBe(1);
        expect((await ledger.mirrorCounts()).memberships).toBe(0);
    });

    it('a full read’s sweep deletes only the object’s rows it did not see', async () => {
        await ledger.mirrorUpsertRecords([
            rec(C1, 'a@x.io'),
            rec(C2, 'b@x.io'),
            rec(L1, 'c@x.io')
        ]);
        await ledger.mirrorUpsertMemberships([mem('k1', 'a00000000000001AAA')]);
        // The full read of Contacts saw C1 (and a new C3), not C2.
        await ledger.mirrorApplyPage('Contact', {
            records: [rec(C1, 'a@x.io'), rec(C3, 'd@x.io')],
            fullSeen: 'token-1'
        });
        // An incremental page meanwhile keeps the mark it finds.
        await ledger.mirrorApplyPage('Contact', {
            records: [rec(C1, 'a2@x.io')]
        });
        const deleted = await ledger.mirrorSweep('Contact', 'token-1', {
            watermark: '2026-12-01T10:00:00.000Z',
            fullAt: '2026-12-01T10:05:00.000Z',
            fields: ['HasOptedOutOfEmail']
        });
        expect(deleted).toBe(1);
        expect(ids(await ledger.mirrorRecordsById([C1, C2, C3, L1]))).toEqual(
            [C1, C3, L1].sort()
        );
        expect((await ledger.mirrorCounts()).memberships).toBe(1);
        expect(await ledger.mirrorState('Contact')).toMatchObject({
            watermark: '2026-12-01T10:00:00.000Z',
            fullAt: '2026-12-01T10:05:00.000Z',
            fields: ['HasOptedOutOfEmail']
        });
        // A second full read with another token sweeps what the first one marked.
        await ledger.mirrorApplyPage('Contact', {
            records: [rec(C3, 'd@x.io')],
            fullSeen: 'token-2'
        });
        await ledger.mirrorSweep('Contact', 'token-2', {
            watermark: '2026-12-01T11:00:00.000Z',
            fullAt: '2026-12-01T11:05:00.000Z',
            fields: []
        });
        expect(ids(await ledger.mirrorRecordsById([C1, C3, L1]))).toEqual(
            [C3, L1].sort()
        );
    });

    it('writes a page’s rows, deletions and watermark together, or none of them', async () => {
        await ledger.mirrorApplyPage('Contact', {
            records: [rec(C1, 'a@x.io')],
            state: { watermark: '2026-12-01T10:00:00.000Z', fields: [] }
        });
        const bad = rec(C3, 'c@x.io', { id: 'too-short' });
        await expect(
            ledger.mirrorApplyPage('Contact', {
                records: [rec(C2, 'b@x.io'), bad],
                deleted: [
                    { id: C1, systemModstamp: '2026-12-01T11:00:00.000Z' }
                ],
                state: { watermark: '2026-12-01T12:00:00.000Z', fields: [] }
            })
            // (Matched on the message: the SQLite error may come from another test
            // file's realm — better-sqlite3's addon keeps the first SqliteError class
            // it was given — where toThrow's Error check fails.)
        ).rejects.toMatchObject({
            message: expect.stringMatching(/check constraint/i) as unknown
        });
        expect(ids(await ledger.mirrorRecordsById([C1, C2]))).toEqual([C1]);
        expect((await ledger.mirrorState('Contact'))?.watermark).toBe(
            '2026-12-01T10:00:00.000Z'
        );
        // The same page without the bad row: all of it.
        await ledger.mirrorApplyPage('Contact', {
            records: [rec(C2, 'b@x.io')],
            deleted: [{ id: C1, systemModstamp: '2026-12-01T11:00:00.000Z' }],
            state: { watermark: '2026-12-01T12:00:00.000Z', fields: [] }
        });
        expect(ids(await ledger.mirrorRecordsById([C1, C2]))).toEqual([C2]);
        expect((await ledger.mirrorState('Contact'))?.watermark).toBe(
            '2026-12-01T12:00:00.000Z'
        );
    });

    it('never puts an older version back: rows and deletions older than the stored row are skipped', async () => {
        const at = (t: string): string => `2026-12-01T${t}:00.000Z`;
        await ledger.mirrorApplyPage('Contact', {
            records: [
                rec(C1, 'new@x.io', { systemModstamp: at('12:00') }),
                rec(C2, 'b@x.io', { systemModstamp: at('12:00') })
            ]
        });
        // Another refresh that read earlier writes late.
        const late = await ledger.mirrorApplyPage('Contact', {
            records: [rec(C1, 'old@x.io', { systemModstamp: at('11:00') })],
            deleted: [{ id: C2, systemModstamp: at('11:30') }],
            fullSeen: 'token-1'
        });
        expect(late).toEqual({ upserted: 0, deleted: 0, stale: 1 });
        expect(
            (await ledger.mirrorRecordsById([C1, C2])).map((r) => r.email)
        ).toEqual(['new@x.io', 'b@x.io']);
        // A deletion as new as the row applies; a full read's stale row was marked
        // seen, so its sweep keeps it.
        expect(
            await ledger.mirrorApplyPage('Contact', {
                deleted: [{ id: C2, systemModstamp: at('12:00') }]
            })
        ).toEqual({ upserted: 0, deleted: 1, stale: 0 });
        await ledger.mirrorSweep(
            'Contact',
            'token-1',
            { watermark: at('11:00'), fields: [] },
            at('11:00')
        );
        expect(ids(await ledger.mirrorRecordsById([C1, C2]))).toEqual([C1]);
    });

    it('a sweep keeps unseen rows stamped after the read’s snapshot (another refresh stored them)', async () => {
        const at = (t: string): string => `2026-12-01T${t}:00.000Z`;
        await ledger.mirrorApplyPage('Contact', {
            records: [
                rec(C1, 'a@x.io', { systemModstamp: at('10:00') }),
                rec(C2, 'b@x.io', { systemModstamp: at('10:00') }),
                rec(C3, 'c@x.io', { systemModstamp: at('12:00') })
            ]
        });
        await ledger.mirrorApplyPage('Contact', {
            records: [rec(C1, 'a@x.io', { systemModstamp: at('10:00') })],
            fullSeen: 'token-1'
        });
        expect(
            await ledger.mirrorSweep(
                'Contact',
                'token-1',
                { watermark: at('11:00'), fields: [] },
                at('11:00')
            )
        ).toBe(1);
        expect(ids(await ledger.mirrorRecordsById([C1, C2, C3]))).toEqual([
            C1,
            C3
        ]);
        // Without a bound (the read saw no row) every unseen row goes.
        await ledger.mirrorSweep('Contact', 'token-2', {
            watermark: at('11:00'),
            fields: []
        });
        expect(await ledger.mirrorRecordsById([C1, C2, C3])).toEqual([]);
    });

    it('keeps the time of the last full read when an incremental read moves the watermark', async () => {
        await ledger.setMirrorState('Lead', {
            watermark: '2026-12-01T10:00:00.000Z',
            fullAt: '2026-12-01T10:01:00.000Z',
            fields: ['Marketo_Sales_Opt_Out__c', 'HasOptedOutOfEmail']
        });
        await ledger.setMirrorState('Lead', {
            watermark: '2026-12-01T11:00:00.000Z',
            fields: ['HasOptedOutOfEmail', 'Marketo_Sales_Opt_Out__c']
        });
        expect(await ledger.mirrorState('Lead')).toMatchObject({
            object: 'Lead',
            watermark: '2026-12-01T11:00:00.000Z',
            fullAt: '2026-12-01T10:01:00.000Z',
            fields: ['HasOptedOutOfEmail', 'Marketo_Sales_Opt_Out__c']
        });
        await ledger.resetMirrorState('Lead');
        expect(await ledger.mirrorState('Lead')).toBeUndefined();
        expect(await ledger.mirrorStates()).toEqual([]);
    });
});

describe('statementChunks', () => {
    it('cuts any number of rows into a few lengths only, in order, losing none', () => {
        const lengths = new Set<number>();
        for (let n = 0; n <= 12_000; n += 37) {
            const rows = Array.from({ length: n }, (_, i) => i);
            const parts = statementChunks(rows, 2727);
            expect(parts.flat()).toEqual(rows);
            for (const p of parts) lengths.add(p.length);
        }
        // 2,727 and the powers of two below it: 13 statement texts at most, where one
        // per remainder would be hundreds.
        expect(
            [...lengths].every((l) => l === 2727 || (l & (l - 1)) === 0)
        ).toBe(true);
        expect(lengths.size).toBeLessThanOrEqual(13);
    });
});
