/**
 * The hourly audience sync against the local org (R5 a, b, c), with R4 and R11.
 */
import type { Ledger } from '../../ledger/ledger';
import type { MembershipStatus } from '../../model/statuses';
import { ALL_AUDIENCES_CURSOR, HOURLY_CURSOR } from '../hourly';
import { setup, type Fixture } from './fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

async function member(
    ledger: Ledger,
    email: string,
    audienceId: string,
    status: MembershipStatus,
    options: { salesforceId?: string; changedAt?: string } = {}
): Promise<void> {
    const person = (
        await ledger.upsertPerson({
            email,
            salesforceId: options.salesforceId
        })
    ).person;
    if (!(await ledger.getAudience(audienceId)))
        await ledger.upsertAudience({
            id: audienceId,
            name: `Audience ${audienceId}`
        });
    await ledger.setMembershipStatus({
        personId: person.id,
        audienceId,
        status,
        source: 'import',
        changedAt: options.changedAt ?? '2024-05-20T20:49:32.000Z'
    });
}

async function pendingRow(
    f: Fixture,
    fields: Record<string, unknown>
): Promise<string> {
    const res = (await f.t.conn.sobject('Audience_Membership__c').create({
        Pending_Push__c: true,
        Status_Changed_At__c: '2024-06-01T10:00:00.000Z',
        ...fields
    })) as { id: string; success: boolean };
    expect(res.success).toBe(true);
    return res.id;
}

describe('R5 hourly audience sync', () => {
    it('(a) upserts membership changes since the last run by Membership_Key__c on each of the person’s records', async () => {
        f = await setup();
        const [ana, bo] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' },
            { LastName: 'Bo', Email: 'bo@example.com' }
        ]);
        const [anaLead] = await f.leads([
            { LastName: 'Ana', Email: 'ANA@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await member(f.ledger, 'ana@example.com', 'offers', 'Cleaned');
        await member(f.ledger, 'bo@example.com', 'news', 'Pending');
        await member(f.ledger, 'nobody@example.com', 'news', 'Subscribed');
        f.reset();
        const r = await f.run('hourly');
        expect(r).toMatchObject({
            status: 'succeeded',
            membershipsUpserted: 5,
            skipped: { no_matching_record: 1 }
        });
        expect(r.apiRequests).toBe(f.served());
        const rows = await f.memberships();
        expect(rows.map((m) => [m.Membership_Key__c, m.Status__c])).toEqual(
            [
                [`news:${ana}`, 'Subscribed'],
                [`news:${anaLead}`, 'Subscribed'],
                [`news:${bo}`, 'Pending'],
                [`offers:${ana}`, 'Cleaned'],
                [`offers:${anaLead}`, 'Cleaned']
            ].sort((a, b) => a[0].localeCompare(b[0]))
        );
        expect(
            rows.find((m) => m.Membership_Key__c === `news:${anaLead}`)
        ).toMatchObject({
            Contact__c: null,
            Lead__c: anaLead,
            Audience_Id__c: 'news',
            Audience_Name__c: 'Audience news',
            Email__c: 'ana@example.com',
            Source__c: 'Import',
            Status_Changed_At__c: '2024-05-20T20:49:32.000+0000',
            Pending_Push__c: false
        });
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));

        // One change later: only its rows are written (R11).
        await member(f.ledger, 'bo@example.com', 'news', 'Subscribed', {
            changedAt: '2024-07-01T00:00:00.000Z'
        });
        const next = await f.run('hourly');
        expect(next.membershipsUpserted).toBe(1);
        const bos = (await f.memberships()).filter((m) => m.Contact__c === bo);
        expect(bos.map((m) => m.Status__c)).toEqual(['Subscribed']);
    });

    it('(a) an audience unsubscribe reaches Salesforce as the membership status, not as a global opt-out', async () => {
        f = await setup();
        const [id] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await f.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook',
            reason: 'too many emails'
        });
        const r = await f.run('hourly');
        expect(r.membershipsUpserted).toBe(1);
        expect(r.unsubscribesDelivered).toBe(1);
        const [row] = await f.memberships();
        expect(row).toMatchObject({
            Status__c: 'Unsubscribed',
            Source__c: 'Webhook',
            Unsubscribe_Reason__c: 'too many emails'
        });
        expect(await f.values('Contact', [id])).toEqual({ [id]: false });
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('(b) with the all-audiences rule on, unsubscribed from every audience checks Email Opt Out', async () => {
        f = await setup();
        const ids = await f.contacts([
            { LastName: 'All', Email: 'all@example.com' },
            { LastName: 'Some', Email: 'some@example.com' },
            { LastName: 'Archived', Email: 'archived@example.com' }
        ]);
        await f.settings({
            allAudiencesRule: true,
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        await member(f.ledger, 'all@example.com', 'a', 'Unsubscribed');
        await member(f.ledger, 'all@example.com', 'b', 'Archived');
        await member(f.ledger, 'some@example.com', 'a', 'Unsubscribed');
        await member(f.ledger, 'some@example.com', 'b', 'Subscribed');
        await member(f.ledger, 'archived@example.com', 'a', 'Archived');
        const r = await f.run('hourly');
        expect(r.recordsWritten).toBe(1);
        // Email Opt Out, whichever field the global push writes (R5b names it).
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: true,
            [ids[1]]: false,
            [ids[2]]: false
        });
        expect(
            await f.values('Contact', ids, 'Marketo_Sales_Opt_Out__c')
        ).toEqual({
            [ids[0]]: false,
            [ids[1]]: false,
            [ids[2]]: false
        });
        expect(
            await f.ledger.getCursor(
                ALL_AUDIENCES_CURSOR.job,
                ALL_AUDIENCES_CURSOR.name
            )
        ).toBe(String(await f.ledger.maxSeq()));
        const trail = (await f.ledger.history('all@example.com')).audit;
        expect(trail.find((a) => a.action === 'field_write')).toMatchObject({
            field: 'HasOptedOutOfEmail',
            recordId: ids[0]
        });
    });

    it('(b) with the rule off, nobody is opted out by it', async () => {
        f = await setup();
        const ids = await f.contacts([
            { LastName: 'All', Email: 'all@example.com' }
        ]);
        await member(f.ledger, 'all@example.com', 'a', 'Unsubscribed');
        const r = await f.run('hourly');
        expect(r.recordsWritten).toBe(0);
        expect(await f.values('Contact', ids)).toEqual({ [ids[0]]: false });
    });

    it('(c) takes audience unsubscribes made in Salesforce into the ledger, then clears the pending flag', async () => {
        f = await setup();
        const [ana, bo] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' },
            { LastName: 'Bo', Email: 'bo@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        const flowRow = await pendingRow(f, {
            Membership_Key__c: `news:${ana}`,
            Contact__c: ana,
            Audience_Id__c: 'news',
            Audience_Name__c: 'Newsletter',
            Email__c: 'ana@example.com',
            Status__c: 'Unsubscribed',
            Source__c: 'Flow',
            Unsubscribe_Reason__c: 'asked on the phone'
        });
        // The component's row has no Email__c: the Contact's email is used.
        const componentRow = await pendingRow(f, {
            Membership_Key__c: `offers:${bo}`,
            Contact__c: bo,
            Audience_Id__c: 'offers',
            Audience_Name__c: 'Offers',
            Status__c: 'Unsubscribed',
            Source__c: 'Salesforce'
        });
        const r = await f.run('hourly');
        expect(r).toMatchObject({
            status: 'succeeded',
            ledgerUnsubscribesAdded: 2,
            failed: []
        });
        const anaHistory = await f.ledger.history('ana@example.com');
        expect(anaHistory.unsubscribes).toEqual([
            expect.objectContaining({
                scope: 'audience',
                audienceId: 'news',
                source: 'flow',
                reason: 'asked on the phone',
                collectedAt: '2024-06-01T10:00:00.000Z',
                deliveredAt: expect.any(String)
            })
        ]);
        expect(
            (await f.ledger.history('bo@example.com')).unsubscribes[0]
        ).toMatchObject({
            audienceId: 'offers',
            source: 'salesforce'
        });
        expect((await f.ledger.getAudience('offers'))?.name).toBe('Offers');
        const rows = await f.memberships();
        expect(rows.every((m) => m.Pending_Push__c === false)).toBe(true);
        expect(rows.find((m) => m.Id === flowRow)).toMatchObject({
            Status__c: 'Unsubscribed',
            Source__c: 'Flow'
        });
        expect(rows.find((m) => m.Id === componentRow)).toMatchObject({
            Status__c: 'Unsubscribed'
        });
        // An audience unsubscribe is not a global one.
        expect(await f.values('Contact', [ana, bo])).toEqual({
            [ana]: false,
            [bo]: false
        });
        const actions = anaHistory.audit.map((a) => a.action);
        expect(actions).toEqual(
            expect.arrayContaining([
                'membership_from_salesforce',
                'unsubscribe_recorded'
            ])
        );
        expect(
            (await f.ledger.auditForRun(r.runId)).filter(
                (a) => a.action === 'pending_cleared'
            )
        ).toHaveLength(2);
        // Next hour: nothing pending, nothing changed.
        f.reset();
        const again = await f.run('hourly');
        expect(again).toMatchObject({
            ledgerUnsubscribesAdded: 0,
            membershipsUpserted: 0,
            recordsWritten: 0
        });
    });

    it('(c) comes first: an older ledger status never overwrites a pending Salesforce unsubscribe', async () => {
        f = await setup();
        const [ana] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await pendingRow(f, {
            Membership_Key__c: `news:${ana}`,
            Contact__c: ana,
            Audience_Id__c: 'news',
            Audience_Name__c: 'Audience news',
            Email__c: 'ana@example.com',
            Status__c: 'Unsubscribed',
            Source__c: 'Salesforce'
        });
        await f.run('hourly');
        const [row] = await f.memberships();
        expect(row).toMatchObject({
            Status__c: 'Unsubscribed',
            Pending_Push__c: false
        });
        expect(
            (
                await f.ledger.getMembership(
                    (await f.ledger.findPerson('ana@example.com'))!.id,
                    'news'
                )
            )?.status
        ).toBe('Unsubscribed');
    });

    it('(c) reports a pending row it cannot read and leaves it pending', async () => {
        f = await setup();
        const [ana] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        const bad = await pendingRow(f, {
            Membership_Key__c: `x:${ana}`,
            Contact__c: ana,
            Status__c: 'Unsubscribed'
        });
        const r = await f.run('hourly');
        expect(r.status).toBe('partial');
        expect(r.failed).toEqual([
            expect.objectContaining({
                recordId: bad,
                object: 'Audience_Membership__c',
                errorCode: 'INVALID_PENDING_ROW',
                message: expect.stringMatching(/audience id is empty/)
            })
        ]);
        expect((await f.memberships())[0].Pending_Push__c).toBe(true);
    });
});

describe('R4 never re-subscribe', () => {
    it('Salesforce cannot lift an active audience unsubscribe; the row gets the ledger’s status back', async () => {
        f = await setup();
        const [ana] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        await f.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'News',
            source: 'webhook'
        });
        await f.run('hourly');
        const [row] = await f.memberships();
        await f.t.conn.sobject('Audience_Membership__c').update({
            Id: row.Id as string,
            Status__c: 'Subscribed',
            Pending_Push__c: true
        });
        const r = await f.run('hourly');
        expect(r.skipped.ledger_blocked).toBe(1);
        const [after] = await f.memberships();
        expect(after).toMatchObject({
            Status__c: 'Unsubscribed',
            Pending_Push__c: false
        });
        const person = (await f.ledger.findPerson('ana@example.com'))!;
        expect((await f.ledger.getMembership(person.id, 'news'))?.status).toBe(
            'Unsubscribed'
        );
        expect(
            (await f.ledger.listUnsubscribes(person.id)).every(
                (u) => u.removedAt === null
            )
        ).toBe(true);
        expect(await f.values('Contact', [ana])).toEqual({ [ana]: false });
    });
});

/** The reads of a warm hourly, as Composite subrequests (what used to be requests). */
const WARM_READS = {
    query: 4, // settings, pending rows, Contacts and Leads created since
    describe: 3, // the membership fields (R7), the mirror's opt-out fields
    queryAll: 3 // the mirror: what changed since its last read, per object
};

describe('R16 cost follows change (hourly)', () => {
    /** A warm hourly's requests and modes with 10 changes, at `n` Contacts. */
    async function warmHourly(
        n: number,
        options: { allAudiences?: boolean } = {}
    ): Promise<{
        requests: number;
        byKind: Record<string, number>;
        subrequests: Record<string, number>;
        first: Record<string, string> | undefined;
        modes: Record<string, string> | undefined;
        upserted: number;
        written: number;
    }> {
        // The records two hours ago and the first run one hour ago: the look-back of
        // the mirror's incremental read (5 minutes before the newest row it read)
        // reaches the first run's own rows, not the records.
        const realNow = Date.now();
        let hoursAgo = 2;
        const clock = jest
            .spyOn(Date, 'now')
            .mockImplementation(() => realNow - hoursAgo * 3_600_000);
        f = await setup({ client: { restPageSize: 200 } });
        if (options.allAudiences) await f.settings({ allAudiencesRule: true });
        await f.contacts(
            Array.from({ length: n }, (_, i) => ({
                LastName: `P${i}`,
                Email: `p${i}@example.com`
            }))
        );
        for (let i = 0; i < 50; i++)
            await member(f.ledger, `p${i}@example.com`, 'news', 'Subscribed');
        hoursAgo = 1;
        const first = await f.run('hourly');
        clock.mockRestore();
        expect(first.membershipsUpserted).toBe(50);
        for (let i = 0; i < 10; i++)
            await member(
                f.ledger,
                `p${i}@example.com`,
                'news',
                'Unsubscribed',
                {
                    changedAt: '2024-06-01T10:00:00.000Z'
                }
            );
        f.reset();
        const r = await f.run('hourly');
        const out = {
            requests: r.apiRequests,
            byKind: f.t.admin.stats().byKind,
            subrequests: f.t.admin.stats().compositeSubrequests,
            first: first.modes,
            modes: r.modes,
            upserted: r.membershipsUpserted,
            written: r.recordsWritten
        };
        await f.close();
        return out;
    }

    it('takes the all-audiences rule’s records (R5b) from the mirror too: no lookup, no scan', async () => {
        const r = await warmHourly(300, { allAudiences: true });
        expect(r.upserted).toBe(10);
        expect(r.written).toBe(10);
        // The same reads as without the rule (no lookup of its persons' records);
        // the opt-out writes besides.
        expect(r.byKind).toEqual({
            composite: 3,
            collectionsUpsert: 1,
            collectionsUpdate: 1
        });
        expect(r.subrequests).toEqual(WARM_READS);
    });

    it('reads what changed in Salesforce since the last run, not the org: the same requests at 300 and 1,500 persons', async () => {
        const small = await warmHourly(300);
        const large = await warmHourly(1500);
        // The first run read the org into the mirror (REST pages: more at 1,500).
        expect(small.first?.mirror).toMatch(/^full read/);
        expect(large.first?.mirror).toMatch(/^full read/);
        for (const r of [small, large]) {
            expect(r.upserted).toBe(10);
            expect(r.modes).toMatchObject({
                mirror: expect.stringMatching(/^incremental/) as unknown,
                'read records': 'mirror'
            });
        }
        expect(large.requests).toBe(small.requests);
        expect(large.byKind).toEqual(small.byKind);
        expect(small.byKind).toEqual({
            // Three Composite requests (OrgClient.readAhead): the settings, the
            // pending rows and three describes (the membership fields, R7; the
            // mirror's opt-out fields); the Contacts and Leads created since; the
            // mirror: what changed since its last read, per object.
            composite: 3,
            collectionsUpsert: 1
        });
        expect(small.subrequests).toEqual(WARM_READS);
    });
});

describe('R11 idempotent and monotone (hourly)', () => {
    it('a second run with no new input writes nothing and only reads the settings, the pending rows and the records created since', async () => {
        f = await setup();
        await f.contacts([{ LastName: 'Ana', Email: 'ana@example.com' }]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await f.run('hourly');
        f.reset();
        const again = await f.run('hourly');
        expect(again).toMatchObject({
            membershipsUpserted: 0,
            recordsWritten: 0,
            status: 'succeeded'
        });
        // Settings and pending rows in one Composite request, Contacts and Leads
        // created since the last run in another (the describes the first run read
        // are still in the client's cache).
        expect(again.apiRequests).toBe(2);
        expect(f.t.admin.stats().byKind).toEqual({ composite: 2 });
        expect(f.t.admin.stats().compositeSubrequests).toEqual({ query: 4 });
    });

    it('does not write a row that already says the same, even without a cursor', async () => {
        f = await setup();
        await f.contacts([{ LastName: 'Ana', Email: 'ana@example.com' }]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await f.run('hourly');
        await f.ledger.setCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name, 0);
        const r = await f.run('hourly');
        expect(r.membershipsUpserted).toBe(0);
        expect(r.skipped.membership_unchanged).toBe(1);
    });

    it('a dry run plans the writes and changes nothing anywhere', async () => {
        f = await setup();
        const [ana] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await pendingRow(f, {
            Membership_Key__c: `offers:${ana}`,
            Contact__c: ana,
            Audience_Id__c: 'offers',
            Status__c: 'Unsubscribed',
            Source__c: 'Flow'
        });
        const seq = await f.ledger.maxSeq();
        const r = await f.run('hourly', { dryRun: true });
        expect(r.plan).toMatchObject({
            membershipUpserts: 1,
            ledgerUnsubscribes: 1,
            pendingCleared: 1
        });
        expect(r.membershipsUpserted).toBe(0);
        expect(await f.ledger.maxSeq()).toBe(seq);
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBeUndefined();
        const rows = await f.memberships();
        expect(rows).toHaveLength(1);
        expect(rows[0].Pending_Push__c).toBe(true);
    });

    it('moves the cursor past a change whose write was refused, keeps the refusal and writes it when due (R14)', async () => {
        f = await setup();
        await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' },
            { LastName: 'Bo', Email: 'bo@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'news', 'Subscribed');
        await member(f.ledger, 'bo@example.com', 'news', 'Subscribed');
        const collections = f.client.collectionsWrite.bind(f.client);
        f.client.collectionsWrite = async (object, key, records) => {
            const results = await collections(object, key, records.slice(1));
            return [
                {
                    key: String(records[0][key]),
                    id: null,
                    success: false,
                    errors: [
                        {
                            statusCode: 'STORAGE_LIMIT_EXCEEDED',
                            message: 'storage limit exceeded',
                            fields: []
                        }
                    ],
                    attempts: 1
                },
                ...results
            ];
        };
        const r = await f.run('hourly');
        expect(r.status).toBe('partial');
        expect(r.failed[0]).toMatchObject({
            errorCode: 'STORAGE_LIMIT_EXCEEDED',
            email: 'ana@example.com'
        });
        // The cursor is not pinned by the refused change (it was '0' before R14).
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));
        const [stuck] = await f.ledger.stuckRecords();
        expect(stuck).toMatchObject({
            kind: 'membership',
            email: 'ana@example.com',
            audienceId: 'news',
            state: 'retrying',
            errorCode: 'STORAGE_LIMIT_EXCEEDED',
            errorMessage: 'storage limit exceeded',
            failures: 1
        });
        f.client.collectionsWrite = collections;
        // Not due yet: nothing is sent again.
        const early = await f.run('hourly');
        expect(early.membershipsUpserted).toBe(0);
        const later = new Date(Date.now() + 6 * 60_000);
        const next = await f.run('hourly', { now: () => later });
        expect(next.membershipsUpserted).toBe(1);
        expect(next.status).toBe('succeeded');
        expect(await f.memberships()).toHaveLength(2);
        expect(await f.ledger.stuckRecords()).toEqual([]);
    });
});

describe('R13 one row per key (hourly)', () => {
    /** Records every membership upsert request the client sends (keys per request). */
    function watchUpserts(fx: Fixture): string[][] {
        const requests: string[][] = [];
        const collections = fx.client.collectionsWrite.bind(fx.client);
        fx.client.collectionsWrite = async (object, key, records) => {
            if (object === 'Audience_Membership__c')
                requests.push(records.map((r) => String(r[key])));
            return collections(object, key, records);
        };
        return requests;
    }

    it('two persons on one Contact in one audience send one row; Cleaned beats a later Subscribed, both are handled and the cursor moves', async () => {
        f = await setup();
        // Person A is linked by id to Contact X, whose email is now b@x.com (an email
        // change); person B is b@x.com, so R8 resolves both to X (audit A1).
        const [x] = await f.contacts([{ LastName: 'X', Email: 'b@x.com' }]);
        await member(f.ledger, 'a@x.com', 'news', 'Subscribed', {
            salesforceId: x,
            changedAt: '2024-06-02T00:00:00.000Z'
        });
        await member(f.ledger, 'b@x.com', 'news', 'Cleaned', {
            changedAt: '2024-06-01T00:00:00.000Z'
        });
        const requests = watchUpserts(f);
        const r = await f.run('hourly');
        expect(r.status).toBe('succeeded');
        expect(r.failed).toEqual([]);
        expect(requests).toEqual([[`news:${x}`]]);
        expect(r.membershipsUpserted).toBe(1);
        expect(r.skipped.membership_shared_row).toBe(1);
        const rows = await f.memberships();
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
            Status__c: 'Cleaned',
            Email__c: 'b@x.com'
        });
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));
        // R11: both claims are settled by the row; nothing is written again, even
        // when both changes are taken again (a cursor reset).
        await f.ledger.setCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name, '0');
        const again = await f.run('hourly');
        expect(again.membershipsUpserted).toBe(0);
        expect(again.failed).toEqual([]);
    });

    it('between two live statuses the later change wins', async () => {
        f = await setup();
        const [x] = await f.contacts([{ LastName: 'X', Email: 'b@x.com' }]);
        await member(f.ledger, 'a@x.com', 'news', 'Pending', {
            salesforceId: x,
            changedAt: '2024-06-01T00:00:00.000Z'
        });
        await member(f.ledger, 'b@x.com', 'news', 'Subscribed', {
            changedAt: '2024-06-02T00:00:00.000Z'
        });
        const r = await f.run('hourly');
        expect(r.failed).toEqual([]);
        const rows = await f.memberships();
        expect(rows.map((m) => m.Status__c)).toEqual(['Subscribed']);
    });

    it('two audience unsubscribes on one Contact: one row, both delivered', async () => {
        f = await setup();
        const [x] = await f.contacts([{ LastName: 'X', Email: 'b@x.com' }]);
        await member(f.ledger, 'a@x.com', 'news', 'Subscribed', {
            salesforceId: x
        });
        await member(f.ledger, 'b@x.com', 'news', 'Subscribed');
        for (const email of ['a@x.com', 'b@x.com'])
            await f.ledger.recordUnsubscribe({
                email,
                scope: 'audience',
                audienceId: 'news',
                source: 'webhook'
            });
        const requests = watchUpserts(f);
        const r = await f.run('hourly');
        expect(r.failed).toEqual([]);
        expect(requests).toEqual([[`news:${x}`]]);
        expect(r.unsubscribesDelivered).toBe(2);
        expect(await f.ledger.countUndelivered()).toBe(0);
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));
    });

    it('on the Bulk path too: one row per key in the job', async () => {
        f = await setup({ client: { bulkThreshold: 1 } });
        const [x, y] = await f.contacts([
            { LastName: 'X', Email: 'b@x.com' },
            { LastName: 'Y', Email: 'y@x.com' }
        ]);
        await member(f.ledger, 'a@x.com', 'news', 'Cleaned', {
            salesforceId: x,
            changedAt: '2024-06-01T00:00:00.000Z'
        });
        await member(f.ledger, 'b@x.com', 'news', 'Subscribed', {
            changedAt: '2024-06-02T00:00:00.000Z'
        });
        await member(f.ledger, 'y@x.com', 'news', 'Subscribed');
        const r = await f.run('hourly');
        expect(r.failed).toEqual([]);
        expect(r.modes?.['write memberships']).toBe('bulk');
        const rows = await f.memberships();
        expect(rows.map((m) => [m.Membership_Key__c, m.Status__c])).toEqual(
            [
                [`news:${x}`, 'Cleaned'],
                [`news:${y}`, 'Subscribed']
            ].sort((a, b) => a[0].localeCompare(b[0]))
        );
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));
    });
});

describe('Merged records and case-sensitive keys (hourly)', () => {
    it('a row re-parented by a merge (key still names the loser) is updated under the winner, not duplicated', async () => {
        f = await setup();
        const [winner, loser] = await f.contacts([
            { LastName: 'Winner', Email: 'ana@example.com' },
            { LastName: 'Loser', Email: 'old@example.com' }
        ]);
        // What a merge leaves: the loser's row, its key unchanged, on the winner.
        const res = (await f.t.conn.sobject('Audience_Membership__c').create({
            Membership_Key__c: `news:${loser}`,
            Contact__c: winner,
            Audience_Id__c: 'news',
            Audience_Name__c: 'Audience news',
            Email__c: 'ana@example.com',
            Status__c: 'Subscribed',
            Status_Changed_At__c: '2024-05-01T00:00:00.000Z',
            Source__c: 'Import'
        })) as { id: string; success: boolean };
        expect(res.success).toBe(true);
        await member(f.ledger, 'ana@example.com', 'news', 'Unsubscribed', {
            changedAt: '2024-06-01T00:00:00.000Z'
        });
        const r = await f.run('hourly');
        expect(r.failed).toEqual([]);
        expect(r.membershipsUpserted).toBe(1);
        const rows = await f.memberships();
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
            Id: res.id,
            Membership_Key__c: `news:${loser}`,
            Contact__c: winner,
            Status__c: 'Unsubscribed'
        });
        // R11: the row now says the same; nothing is written again.
        await member(f.ledger, 'other@example.com', 'news', 'Subscribed');
        const again = await f.run('hourly');
        expect(again.membershipsUpserted).toBe(0);
    });

    it('after a merge in Salesforce (admin merge), the loser’s row is found under the winner and updated', async () => {
        f = await setup();
        const [winner, loser] = await f.contacts([
            { LastName: 'Ana', Email: 'ana@example.com' },
            { LastName: 'Ana Old', Email: 'old@example.com' }
        ]);
        await member(f.ledger, 'old@example.com', 'news', 'Subscribed', {
            salesforceId: loser
        });
        await f.run('hourly');
        expect((await f.memberships()).map((m) => m.Membership_Key__c)).toEqual(
            [`news:${loser}`]
        );
        f.t.admin.merge(winner, [loser]);
        const [moved] = await f.memberships();
        expect(moved).toMatchObject({
            Membership_Key__c: `news:${loser}`,
            Contact__c: winner
        });
        // The winner's email unsubscribes from the audience.
        await f.ledger.upsertPerson({ email: 'ana@example.com' });
        await f.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            scope: 'audience',
            audienceId: 'news',
            source: 'webhook'
        });
        const r = await f.run('hourly');
        expect(r.failed).toEqual([]);
        const rows = await f.memberships();
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
            Id: moved.Id,
            Membership_Key__c: `news:${loser}`,
            Contact__c: winner,
            Status__c: 'Unsubscribed'
        });
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('audiences whose ids differ only in case get a row each', async () => {
        f = await setup();
        const [x] = await f.contacts([
            { LastName: 'X', Email: 'ana@example.com' }
        ]);
        await member(f.ledger, 'ana@example.com', 'AbC', 'Subscribed');
        await member(f.ledger, 'ana@example.com', 'abc', 'Unsubscribed');
        const r = await f.run('hourly');
        expect(r.failed).toEqual([]);
        const rows = await f.memberships();
        expect(
            rows
                .map((m) => [m.Membership_Key__c, m.Status__c])
                .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
        ).toEqual(
            [
                [`AbC:${x}`, 'Subscribed'],
                [`abc:${x}`, 'Unsubscribed']
            ].sort((a, b) => a[0].localeCompare(b[0]))
        );
        expect(
            await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)
        ).toBe(String(await f.ledger.maxSeq()));
        // Read back and compared by exact key: both rows already say the same (a
        // case-insensitive lookup would compare each change with the other row).
        await f.ledger.setCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name, '0');
        const again = await f.run('hourly');
        expect(again.membershipsUpserted).toBe(0);
        expect(again.skipped.membership_unchanged).toBe(2);
    });
});
