/**
 * refreshMirror against the local org: the first refresh reads every object in full;
 * later ones read only what changed (SystemModstamp, queryAll: deletions, merges,
 * conversions, undeletes included) at one query per object when little changed; a
 * fault midway leaves the watermark where it was and loses nothing.
 */
import fc from 'fast-check';
import type { Ledger } from '../../ledger/ledger';
import type { MirrorRecord } from '../../ledger/mirror';
import type { OptOutField } from '../../model/schema';
import type { OrgClient } from '../../salesforce/client';
import {
    DEFAULT_LOOKBACK_MS,
    mirrorLookback,
    refreshMirror,
    sfTime,
    sinceLiteral,
    type MirrorRefreshResult
} from '../mirror';
import { setup, type Fixture } from './fixture';

jest.setTimeout(120_000);

const FIELDS: OptOutField[] = [
    'HasOptedOutOfEmail',
    'Marketo_Sales_Opt_Out__c'
];

const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the org's clock (whole seconds) has moved past every stamp so far. */
const nextSecond = (): Promise<void> => sleep(1100);

function byObject(
    r: MirrorRefreshResult
): Record<string, MirrorRefreshResult['objects'][number]> {
    return Object.fromEntries(r.objects.map((o) => [o.object, o]));
}

/** The org's live Contacts and Leads, as the mirror should hold them. */
async function orgRecords(f: Fixture): Promise<MirrorRecord[]> {
    const out: MirrorRecord[] = [];
    for (const object of ['Contact', 'Lead'] as const) {
        const extra =
            object === 'Lead' ? ', IsConverted, ConvertedContactId' : '';
        // Every page (a client of its own: the tests' clients count their requests).
        const rows = await f
            .newClient()
            .queryAll(
                `SELECT Id, Email, HasOptedOutOfEmail, Marketo_Sales_Opt_Out__c, SystemModstamp${extra} FROM ${object}`
            );
        for (const r of rows) {
            const email = (r.Email as string | null) ?? null;
            out.push({
                id: r.Id as string,
                object,
                email,
                emailNorm: email ? email.toLowerCase() : null,
                isConverted: r.IsConverted === true,
                convertedContactId: (r.ConvertedContactId as string) ?? null,
                hasOptedOutOfEmail: r.HasOptedOutOfEmail === true,
                marketoSalesOptOut: r.Marketo_Sales_Opt_Out__c === true,
                systemModstamp: sfTime(r.SystemModstamp) as string
            });
        }
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

async function mirrorRecords(
    ledger: Ledger,
    ids: readonly string[]
): Promise<MirrorRecord[]> {
    const all = await ledger.mirrorRecordsById(ids);
    return all.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Every mirrored record: those the org has and those it no longer has. */
async function mirrorMatchesOrg(
    f: Fixture,
    extraIds: string[] = []
): Promise<void> {
    const org = await orgRecords(f);
    const counts = await f.ledger.mirrorCounts();
    expect(counts.contacts + counts.leads).toBe(org.length);
    expect(
        await mirrorRecords(f.ledger, [...org.map((r) => r.id), ...extraIds])
    ).toEqual(org);
}

async function orgMemberships(
    f: Fixture
): Promise<{ key: string; contactId: string | null; status: string }[]> {
    return (await f.memberships())
        .map((m) => ({
            key: m.Membership_Key__c as string,
            contactId: (m.Contact__c as string) ?? null,
            status: m.Status__c as string
        }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
}

async function mirrorMemberships(
    f: Fixture,
    keys: string[]
): Promise<{ key: string; contactId: string | null; status: string }[]> {
    return (await f.ledger.mirrorMembershipsByKeys(keys))
        .map((m) => ({
            key: m.key,
            contactId: m.contactId,
            status: m.status as string
        }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
}

function membership(
    key: string,
    person: { Contact__c?: string; Lead__c?: string },
    status = 'Subscribed'
): Record<string, unknown> {
    return {
        Membership_Key__c: key,
        Audience_Id__c: key.split(':')[0],
        Audience_Name__c: 'News',
        Email__c: 'x@example.com',
        Status__c: status,
        Source__c: 'Platform',
        ...person
    };
}

describe('refreshMirror', () => {
    let f: Fixture;
    let client: OrgClient;
    beforeEach(async () => {
        f = await setup();
        client = f.client;
    });
    afterEach(async () => {
        await f.close();
    });

    it('reads every object in full first, then one query per object when nothing changed', async () => {
        const contacts = await f.contacts([
            { LastName: 'A', Email: 'Ana@Example.com' },
            { LastName: 'B', Email: 'bo@example.com', HasOptedOutOfEmail: true }
        ]);
        const leads = await f.leads([
            { LastName: 'L', Email: 'ana@example.com' }
        ]);
        await f.t.conn
            .sobject('Audience_Membership__c')
            .create([
                membership(`news:${contacts[0]}`, { Contact__c: contacts[0] })
            ]);
        const before = client.apiRequests;
        const first = await refreshMirror(client, f.ledger);
        const afterRead = new Date().toISOString();
        const full = byObject(first);
        expect(first.objects.map((o) => [o.object, o.mode, o.reason])).toEqual([
            ['Contact', 'full', 'first'],
            ['Lead', 'full', 'first'],
            ['Audience_Membership__c', 'full', 'first']
        ]);
        expect([full.Contact.read, full.Lead.read]).toEqual([2, 1]);
        expect(full.Audience_Membership__c.upserted).toBe(1);
        // Describe of Contact and Lead (the installed opt-out fields), then the
        // three objects' first (and only) REST pages in one Composite request,
        // counted with the first object.
        expect(first.requests).toBe(client.apiRequests - before);
        expect(first.requests).toBe(3);
        expect(first.objects.map((o) => o.requests)).toEqual([3, 0, 0]);
        await mirrorMatchesOrg(f);
        // R8 through the mirror: one person, its Contact and the Lead with its email.
        expect(
            (
                await f.ledger.mirrorRecordsFor(
                    [
                        {
                            salesforceId: contacts[0],
                            emailNorm: 'ana@example.com'
                        }
                    ],
                    { applyToSameEmail: true }
                )
            )
                .map((r) => r.id)
                .sort()
        ).toEqual([contacts[0], leads[0]].sort());
        // The watermark is Salesforce's clock, not this one's: the later of the highest
        // SystemModstamp read and the org's time at the read (its Date header, whole
        // seconds) — the stamp when the read came within its second, else that second.
        const stamps = (await orgRecords(f))
            .filter((r) => r.object === 'Contact')
            .map((r) => r.systemModstamp)
            .sort();
        const last = stamps[stamps.length - 1];
        const watermark = (await f.ledger.mirrorState('Contact'))
            ?.watermark as string;
        expect(watermark >= last).toBe(true);
        expect(watermark <= afterRead).toBe(true);
        expect(watermark === last || /:\d\d\.000Z$/.test(watermark)).toBe(true);

        const again = await refreshMirror(client, f.ledger, { fields: FIELDS });
        // One request: the three queries in one Composite request.
        expect(
            again.objects.map((o) => [o.object, o.mode, o.requests])
        ).toEqual([
            ['Contact', 'incremental', 1],
            ['Lead', 'incremental', 0],
            ['Audience_Membership__c', 'incremental', 0]
        ]);
        // The default look-back: from five minutes before the watermark (which is
        // the org's second at the read when the read crossed into the next one).
        expect(byObject(again).Contact.since).toBe(
            sinceLiteral(watermark, DEFAULT_LOOKBACK_MS)
        );
        expect(again.deleted).toBe(0);
        await mirrorMatchesOrg(f);
    });

    it('picks up exactly the edits, creations, deletions, merges, conversions and undeletes since the watermark', async () => {
        const [a, b, c, d] = await f.contacts([
            { LastName: 'A', Email: 'a@example.com' },
            { LastName: 'B', Email: 'b@example.com' },
            { LastName: 'C', Email: 'c@example.com' },
            { LastName: 'D', Email: 'd@example.com' }
        ]);
        const [l1, l2] = await f.leads([
            { LastName: 'L1', Email: 'l1@example.com' },
            { LastName: 'L2', Email: 'l2@example.com' }
        ]);
        const ams = f.t.conn.sobject('Audience_Membership__c');
        const [mA, mB] = (await ams.create([
            membership(`news:${a}`, { Contact__c: a }),
            membership(`news:${b}`, { Contact__c: b })
        ])) as { id: string }[];
        await nextSecond();
        // One more save per object: every watermark is this second, after the seeds.
        await f.t.conn.sobject('Contact').update({ Id: d, Title: 'sentinel' });
        await f.t.conn.sobject('Lead').update({ Id: l2, Title: 'sentinel' });
        await ams.update({ Id: mA.id, Unsubscribe_Reason__c: 'sentinel' });
        await refreshMirror(client, f.ledger, { fields: FIELDS });
        await mirrorMatchesOrg(f);
        await nextSecond();

        // The changes: an edit, a new Contact, a deletion, a merge (B into D: B is
        // deleted, its membership re-parented to D), a conversion (a new Contact) and
        // a Lead deleted then undeleted before the refresh.
        await f.t.conn.sobject('Contact').update({
            Id: a,
            Email: 'A.New@Example.com',
            HasOptedOutOfEmail: true
        });
        const [e] = await f.contacts([
            { LastName: 'E', Email: 'e@example.com' }
        ]);
        await f.t.conn.sobject('Contact').destroy(c);
        const merged = f.t.admin.merge(d, [b]);
        expect(merged.updatedRelatedIds).toEqual([mB.id]);
        const converted = f.t.admin.convertLead(l1);
        await ams.update({ Id: mA.id, Status__c: 'Unsubscribed' });

        const r = await refreshMirror(client, f.ledger, {
            fields: FIELDS,
            lookbackMs: 0
        });
        const o = byObject(r);
        expect(r.objects.map((x) => [x.object, x.mode, x.requests])).toEqual([
            ['Contact', 'incremental', 1],
            ['Lead', 'incremental', 0],
            ['Audience_Membership__c', 'incremental', 0]
        ]);
        // Read: the changed rows and the sentinel of each object (its stamp is the
        // watermark, read again by `>=`), no other.
        // Contacts: a, e, c (deleted), b (merged away), d (merge winner, sentinel),
        // the converted Contact.
        expect(o.Contact).toMatchObject({ read: 6, deleted: 2, upserted: 4 });
        // Leads: l1 (converted), and l2 (the sentinel) when its stamp is the
        // watermark. It is not when the refresh came in a later second than the
        // sentinel's save (a loaded machine): the watermark is then the org's second
        // at the read. Contact's sentinel d and membership's mA changed again since.
        const l2Stamp = (await orgRecords(f)).find(
            (r) => r.id === l2
        )!.systemModstamp;
        const leadsRead =
            Date.parse(l2Stamp) >= Date.parse(o.Lead.since!) ? 2 : 1;
        expect(o.Lead).toMatchObject({
            read: leadsRead,
            deleted: 0,
            upserted: leadsRead
        });
        // Memberships: mA (status), mB (re-parented).
        expect(o.Audience_Membership__c).toMatchObject({
            read: 2,
            deleted: 0,
            upserted: 2
        });
        await mirrorMatchesOrg(f, [b, c]);
        expect(await mirrorRecords(f.ledger, [b, c])).toEqual([]);
        expect(await mirrorMemberships(f, [`news:${a}`, `news:${b}`])).toEqual(
            await orgMemberships(f)
        );
        expect(
            (await f.ledger.mirrorMembershipsForRecords([d])).map((m) => m.key)
        ).toEqual([`news:${b}`]);
        // R9 through the mirror: the converted Lead brings its Contact.
        expect(
            (
                await f.ledger.mirrorRecordsFor(
                    [{ salesforceId: l1, emailNorm: 'l1@example.com' }],
                    { applyToSameEmail: false }
                )
            )
                .map((x) => x.id)
                .sort()
        ).toEqual([converted.contactId, l1].sort());
        expect((await f.ledger.mirrorRecordsById([e]))[0]?.emailNorm).toBe(
            'e@example.com'
        );

        // Deleted, then undeleted: it leaves the mirror, then comes back.
        await nextSecond();
        await f.t.conn.sobject('Lead').destroy(l2);
        const gone = await refreshMirror(client, f.ledger, {
            fields: FIELDS,
            lookbackMs: 0,
            objects: ['Lead']
        });
        expect(gone.objects[0]).toMatchObject({ deleted: 1, requests: 1 });
        expect(await mirrorRecords(f.ledger, [l2])).toEqual([]);
        await nextSecond();
        expect(f.t.admin.undelete([l2])).toEqual([
            { id: l2, success: true, errors: [] }
        ]);
        const back = await refreshMirror(client, f.ledger, {
            fields: FIELDS,
            lookbackMs: 0,
            objects: ['Lead']
        });
        expect(back.objects[0]).toMatchObject({
            read: 1,
            upserted: 1,
            deleted: 0
        });
        await mirrorMatchesOrg(f, [b, c]);
    });

    it('reads in full again when asked, when a field appears, or when the last full read is old', async () => {
        await f.contacts([{ LastName: 'A', Email: 'a@example.com' }]);
        await refreshMirror(client, f.ledger, {
            fields: ['HasOptedOutOfEmail'],
            objects: ['Contact']
        });
        const [rec] = await f.ledger.mirrorRecordsFor(
            [{ salesforceId: null, emailNorm: 'a@example.com' }],
            { applyToSameEmail: true }
        );
        expect(rec.marketoSalesOptOut).toBeNull();
        const modes = async (
            options: Parameters<typeof refreshMirror>[2]
        ): Promise<unknown> =>
            (
                await refreshMirror(client, f.ledger, {
                    objects: ['Contact'],
                    ...options
                })
            ).objects.map((o) => [o.mode, o.reason]);
        expect(await modes({ fields: FIELDS })).toEqual([
            ['full', 'fields changed']
        ]);
        expect(
            (await f.ledger.mirrorRecordsById([rec.id]))[0].marketoSalesOptOut
        ).toBe(false);
        expect(await modes({ fields: FIELDS })).toEqual([
            ['incremental', undefined]
        ]);
        expect(await modes({ fields: FIELDS, full: true })).toEqual([
            ['full', 'asked']
        ]);
        const inTenDays = new Date(Date.now() + 10 * 24 * 3600_000);
        expect(await modes({ fields: FIELDS, now: () => inTenDays })).toEqual([
            ['full', 'periodic']
        ]);
    });

    it('a fault midway leaves the watermark where it was and loses nothing', async () => {
        // Pages of 200 rows: 500 Contacts are three REST pages.
        const paged = f.newClient({ restPageSize: 200 });
        const ids = await f.contacts(
            Array.from({ length: 500 }, (_, i) => ({
                LastName: `P${i}`,
                Email: `p${i}@example.com`
            }))
        );
        // A full read that fails on its second page: nothing swept, no watermark.
        await refreshMirror(paged, f.ledger, {
            fields: FIELDS,
            objects: ['Contact']
        });
        await f.ledger.resetMirrorState('Contact');
        await f.t.conn.sobject('Contact').destroy(ids.slice(0, 3));
        f.t.admin.setFaults('503:1@queryMore');
        await expect(
            refreshMirror(paged, f.ledger, {
                fields: FIELDS,
                objects: ['Contact']
            })
        ).rejects.toThrow(/503|SERVER_UNAVAILABLE|Service Unavailable/);
        expect(await f.ledger.mirrorState('Contact')).toBeUndefined();
        // The three deleted ones are still there: a failed full read deletes nothing.
        expect(await f.ledger.mirrorRecordsById(ids.slice(0, 3))).toHaveLength(
            3
        );
        f.t.admin.clearFaults();
        await refreshMirror(paged, f.ledger, {
            fields: FIELDS,
            objects: ['Contact']
        });
        await mirrorMatchesOrg(f, ids.slice(0, 3));
        const watermark = (await f.ledger.mirrorState('Contact'))?.watermark;

        // An incremental read that fails on its second page.
        await nextSecond();
        await f.t.conn.sobject('Contact').update(
            ids.slice(3, 453).map((Id) => ({ Id, HasOptedOutOfEmail: true })),
            { allowRecursive: true }
        );
        await f.t.conn.sobject('Contact').destroy(ids.slice(490));
        // 460 changed rows are three pages: the third one fails, after two were read
        // (and the first stored).
        let pagesRead = 0;
        await expect(
            refreshMirror(paged, f.ledger, {
                fields: FIELDS,
                objects: ['Contact'],
                lookbackMs: 0,
                onProgress: () => {
                    pagesRead += 1;
                    if (pagesRead === 2) f.t.admin.setFaults('503:1@queryMore');
                }
            })
        ).rejects.toThrow();
        expect(pagesRead).toBe(2);
        expect((await f.ledger.mirrorState('Contact'))?.watermark).toBe(
            watermark
        );
        f.t.admin.clearFaults();
        const r = await refreshMirror(paged, f.ledger, {
            fields: FIELDS,
            objects: ['Contact'],
            lookbackMs: 0
        });
        expect(r.objects[0]).toMatchObject({
            mode: 'incremental',
            deleted: 10
        });
        expect(r.objects[0].watermark! > watermark!).toBe(true);
        await mirrorMatchesOrg(f, ids.slice(0, 3).concat(ids.slice(490)));
    });

    it('reads a large object and a large change set through Bulk API 2.0 (queryAll for deletions)', async () => {
        const bulky = f.newClient({
            restPageSize: 200,
            bulkQueryPageSize: 1000
        });
        const ids = await f.contacts(
            Array.from({ length: 3000 }, (_, i) => ({
                LastName: `P${i}`,
                Email: `p${i}@example.com`
            }))
        );
        const full = await refreshMirror(bulky, f.ledger, {
            fields: FIELDS,
            objects: ['Contact']
        });
        expect(full.objects[0]).toMatchObject({
            mode: 'full',
            api: 'bulk',
            read: 3000
        });
        // The first REST page (its totalSize chooses Bulk), the job, its polls, three
        // result pages of 1,000, the job's deletion: 7 here; 15 REST pages otherwise.
        expect(full.objects[0].requests).toBeLessThanOrEqual(10);
        await nextSecond();
        // 2,020 changed rows: past the first REST page, 10 more REST pages of 200
        // against 5 + 2 Bulk requests, so Bulk is chosen whether or not the 3,000
        // created rows share the watermark's second (with a change set of 1,420 the
        // two tie and REST wins, which CI under load showed).
        await f.t.conn.sobject('Contact').update(
            ids
                .slice(0, 2000)
                .map((Id) => ({ Id, Email: `q-${Id}@example.com` })),
            { allowRecursive: true }
        );
        await f.t.conn.sobject('Contact').destroy(ids.slice(2200, 2220), {
            allowRecursive: true
        });
        const inc = await refreshMirror(bulky, f.ledger, {
            fields: FIELDS,
            objects: ['Contact'],
            lookbackMs: 0
        });
        expect(inc.objects[0]).toMatchObject({
            mode: 'incremental',
            api: 'bulk',
            deleted: 20
        });
        expect(inc.objects[0].requests).toBeLessThanOrEqual(10);
        await mirrorMatchesOrg(f, ids.slice(2200, 2220));
    });
});

describe('incremental refreshes equal a full read (property)', () => {
    type Op =
        | { kind: 'contact' | 'lead'; n: number }
        | { kind: 'email' | 'optOut' | 'delete' | 'undelete'; pick: number }
        | { kind: 'merge' | 'convert'; pick: number; other: number }
        | { kind: 'refresh' };
    const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({
            kind: fc.constantFrom('contact' as const, 'lead' as const),
            n: fc.integer({ min: 1, max: 3 })
        }),
        fc.record({
            kind: fc.constantFrom(
                'email' as const,
                'optOut' as const,
                'delete' as const,
                'undelete' as const
            ),
            pick: fc.nat(50)
        }),
        fc.record({
            kind: fc.constantFrom('merge' as const, 'convert' as const),
            pick: fc.nat(50),
            other: fc.nat(50)
        }),
        fc.constant({ kind: 'refresh' as const })
    );

    it('after any history of creations, edits, deletions, undeletions, merges and conversions, refreshed as it goes, the mirror holds what a full read holds', async () => {
        let f: Fixture;
        let seq = 0;
        await fc.assert(
            fc.asyncProperty(
                fc.array(op, { minLength: 4, maxLength: 14 }),
                async (ops) => {
                    f = await setup();
                    try {
                        const live: string[] = [];
                        const gone: string[] = [];
                        const every: string[] = [];
                        const at = (
                            list: string[],
                            i: number
                        ): string | null =>
                            list.length ? list[i % list.length] : null;
                        // The first refresh is the full read; later ones incremental.
                        await refreshMirror(f.client, f.ledger, {
                            fields: FIELDS
                        });
                        for (const o of ops) {
                            if (o.kind === 'contact' || o.kind === 'lead') {
                                const rows = Array.from(
                                    { length: o.n },
                                    () => ({
                                        LastName: `P${++seq}`,
                                        Email: `p${seq}@example.com`,
                                        ...(o.kind === 'lead'
                                            ? { Company: 'Acme' }
                                            : {})
                                    })
                                );
                                const ids =
                                    o.kind === 'contact'
                                        ? await f.contacts(rows)
                                        : await f.leads(rows);
                                live.push(...ids);
                                every.push(...ids);
                            } else if (
                                o.kind === 'email' ||
                                o.kind === 'optOut'
                            ) {
                                const id = at(live, o.pick);
                                if (!id) continue;
                                const object = id.startsWith('003')
                                    ? 'Contact'
                                    : 'Lead';
                                await f.t.conn
                                    .sobject(object)
                                    .update(
                                        o.kind === 'email'
                                            ? {
                                                  Id: id,
                                                  Email: `e${++seq}@example.com`
                                              }
                                            : {
                                                  Id: id,
                                                  HasOptedOutOfEmail: true
                                              }
                                    )
                                    .catch(() => undefined); // a converted Lead refuses
                            } else if (o.kind === 'delete') {
                                const id = at(live, o.pick);
                                if (!id) continue;
                                const object = id.startsWith('003')
                                    ? 'Contact'
                                    : 'Lead';
                                const r = (await f.t.conn
                                    .sobject(object)
                                    .destroy(id)
                                    .catch(() => ({ success: false }))) as {
                                    success: boolean;
                                };
                                if (r.success) {
                                    live.splice(live.indexOf(id), 1);
                                    gone.push(id);
                                }
                            } else if (o.kind === 'undelete') {
                                const id = at(gone, o.pick);
                                if (!id) continue;
                                const [r] = f.t.admin.undelete([id]);
                                if (r?.success) {
                                    gone.splice(gone.indexOf(id), 1);
                                    live.push(id);
                                }
                            } else if (o.kind === 'merge') {
                                const contacts = live.filter((id) =>
                                    id.startsWith('003')
                                );
                                const master = at(contacts, o.pick);
                                const loser = at(contacts, o.other);
                                if (!master || !loser || master === loser)
                                    continue;
                                f.t.admin.merge(master, [loser]);
                                live.splice(live.indexOf(loser), 1);
                                gone.push(loser);
                            } else if (o.kind === 'convert') {
                                const leads = live.filter((id) =>
                                    id.startsWith('00Q')
                                );
                                const lead = at(leads, o.pick);
                                if (!lead) continue;
                                try {
                                    const c = f.t.admin.convertLead(lead);
                                    live.push(c.contactId);
                                    every.push(c.contactId);
                                } catch {
                                    // converted already
                                }
                            } else {
                                await refreshMirror(f.client, f.ledger, {
                                    fields: FIELDS
                                });
                            }
                        }
                        const last = await refreshMirror(f.client, f.ledger, {
                            fields: FIELDS
                        });
                        expect(
                            last.objects.every((o) => o.mode === 'incremental')
                        ).toBe(true);
                        await mirrorMatchesOrg(f, every);
                    } finally {
                        await f.close();
                    }
                }
            ),
            { numRuns: 8 }
        );
    });
});

describe('mirrorLookback (OPTOUT_MIRROR_LOOKBACK)', () => {
    it('is 5 minutes by default, a duration when set, and a usage error when not one', () => {
        expect(mirrorLookback({})).toBe(DEFAULT_LOOKBACK_MS);
        expect(mirrorLookback({ OPTOUT_MIRROR_LOOKBACK: '2m' })).toBe(120_000);
        expect(mirrorLookback({ OPTOUT_MIRROR_LOOKBACK: '0.25m' })).toBe(
            15_000
        );
        expect(() =>
            mirrorLookback({ OPTOUT_MIRROR_LOOKBACK: 'soon' })
        ).toThrow(/OPTOUT_MIRROR_LOOKBACK/);
    });
});
