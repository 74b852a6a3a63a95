/**
 * The real-time push against the local org: final Salesforce state (through jsforce),
 * ledger state and the JobResult, per rule.
 */
import { deployPackage } from '../../tools/local-org/testing';
import { makeId } from '../../model/ids';
import { ResultBuilder } from '../result';
import { jobLockName, runJob } from '../run';
import { writeOptOut, type JobContext } from '../context';
import { Workspace } from '../workspace';
import { emails, people, setup, unsubscribe, type Fixture } from './fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

describe('R2 real-time push', () => {
    it('writes each pending global unsubscribe to the person’s record and marks it delivered', async () => {
        f = await setup();
        const ids = await f.contacts(people(20));
        f.reset();
        await unsubscribe(f.ledger, emails(5));
        const r = await f.run('push');
        expect(r).toMatchObject({
            job: 'push',
            dryRun: false,
            status: 'succeeded',
            recordsWritten: 5,
            unsubscribesDelivered: 5,
            failed: [],
            deferred: null
        });
        // Counted at the HTTP layer: exactly what the org served.
        expect(r.apiRequests).toBe(f.served());
        expect(r.apiUsage?.max).toBe(15_000);
        const values = await f.values('Contact', ids);
        expect(ids.map((id) => values[id])).toEqual([
            ...Array(5).fill(true),
            ...Array(15).fill(false)
        ]);
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('pushes a burst of 1,000 unsubscribes in a handful of requests, ≤ 200 records each', async () => {
        f = await setup();
        const ids = await f.contacts(people(1000));
        f.reset();
        await unsubscribe(f.ledger, emails(1000));
        const r = await f.run('push');
        expect(r.recordsWritten).toBe(1000);
        expect(r.unsubscribesDelivered).toBe(1000);
        const stats = f.t.admin.stats();
        // The lookups (6 queries: ids and emails, Contact and Lead) in two Composite
        // requests, the five Collections updates of 200 in one; the settings and
        // the describes besides: 6 requests, against 15 before Composite.
        expect(stats.byKind.collectionsUpdate ?? 0).toBe(0);
        expect(stats.byKind.composite).toBe(3);
        expect(stats.compositeSubrequests).toEqual({
            query: 6,
            collectionsUpdate: 5
        });
        expect(r.apiRequests).toBe(stats.totalRequests);
        expect(r.apiRequests).toBe(6);
        const values = await f.values('Contact', ids);
        expect(Object.values(values).every((v) => v === true)).toBe(true);
    });

    it('writes Contacts and Leads in the same Collections request (sorted by type, two chunks)', async () => {
        f = await setup();
        const contacts = await f.contacts(people(60));
        const leads = await f.leads(people(60, { type: 'Lead', offset: 60 }));
        f.reset();
        await unsubscribe(f.ledger, emails(120));
        const r = await f.run('push');
        expect(r.recordsWritten).toBe(120);
        expect(r.unsubscribesDelivered).toBe(120);
        const stats = f.t.admin.stats();
        expect(stats.byKind.collectionsUpdate).toBe(1);
        expect(Object.values(await f.values('Contact', contacts))).toEqual(
            Array(60).fill(true)
        );
        expect(Object.values(await f.values('Lead', leads))).toEqual(
            Array(60).fill(true)
        );
    });

    it('only pushes the unsubscribes it is given (the unsubscribe command’s hook)', async () => {
        f = await setup();
        await f.contacts(people(3));
        const [first] = await unsubscribe(f.ledger, emails(3));
        const r = await f.run('push', { unsubscribeIds: [first] });
        expect(r.unsubscribesDelivered).toBe(1);
        expect(await f.ledger.countUndelivered()).toBe(2);
    });
});

describe('R1 field choice', () => {
    it('writes Marketo_Sales_Opt_Out__c when chosen (nightly sync on), not Email Opt Out', async () => {
        f = await setup();
        const ids = await f.contacts(people(2));
        await f.settings({
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        await unsubscribe(f.ledger, emails(1));
        const r = await f.run('push');
        expect(r.settings).toMatchObject({
            source: 'org-default',
            optOutField: 'Marketo_Sales_Opt_Out__c',
            fieldWritten: 'Marketo_Sales_Opt_Out__c'
        });
        expect(
            await f.values('Contact', ids, 'Marketo_Sales_Opt_Out__c')
        ).toEqual({
            [ids[0]]: true,
            [ids[1]]: false
        });
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: false,
            [ids[1]]: false
        });
    });

    it('writes HasOptedOutOfEmail when the nightly sync is off, whatever the chosen field (R2)', async () => {
        f = await setup();
        const ids = await f.contacts(people(1));
        await f.settings({
            nightlySyncEnabled: false,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        await unsubscribe(f.ledger, emails(1));
        const r = await f.run('push');
        expect(r.settings?.fieldWritten).toBe('HasOptedOutOfEmail');
        expect(await f.values('Contact', ids)).toEqual({ [ids[0]]: true });
        expect(
            await f.values('Contact', ids, 'Marketo_Sales_Opt_Out__c')
        ).toEqual({
            [ids[0]]: false
        });
    });
});

describe('R6 Salesforce ids', () => {
    it('matches a person by a 15-character id (normalised to 18) when same-email is off', async () => {
        f = await setup();
        const [id] = await f.contacts([
            { LastName: 'Other', Email: 'crm@example.org' }
        ]);
        await f.settings({ applyToSameEmail: false });
        await f.ledger.recordUnsubscribe({
            email: 'marketing@example.com',
            salesforceId: id.slice(0, 15),
            scope: 'all',
            source: 'platform'
        });
        expect(
            (await f.ledger.findPerson('marketing@example.com'))?.salesforceId
        ).toBe(id);
        const r = await f.run('push');
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Contact', [id])).toEqual({ [id]: true });
    });

    it('skips and counts a person matched to no record, without a crash or a write', async () => {
        f = await setup();
        const ids = await f.contacts(people(2));
        // A well-formed id of a record that does not exist, and an unknown email.
        await f.ledger.recordUnsubscribe({
            email: 'ghost@example.com',
            salesforceId: makeId('003', 999_999),
            scope: 'all',
            source: 'platform'
        });
        const r = await f.run('push');
        expect(r.skipped).toEqual({ no_matching_record: 1 });
        expect(r.recordsWritten).toBe(0);
        expect(r.status).toBe('succeeded');
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: false,
            [ids[1]]: false
        });
        // Nothing to write yet: not delivered (R11) but waiting for a record, left to
        // the hourly retry so that the push does not ask again on every run.
        expect(await f.ledger.countUndelivered()).toBe(1);
        expect(await f.ledger.countWaiting()).toBe(1);
        expect(await f.ledger.countPushable()).toBe(0);
    });

    it('refuses an id that is neither a Contact nor a Lead before anything is stored', async () => {
        f = await setup();
        await expect(
            f.ledger.recordUnsubscribe({
                email: 'acct@example.com',
                salesforceId: makeId('001', 1),
                scope: 'all',
                source: 'platform'
            })
        ).rejects.toThrow(/neither a Contact \(003\) nor a Lead \(00Q\)/);
        expect(await f.ledger.countUndelivered()).toBe(0);
    });
});

describe('R8 same email', () => {
    it('applies an unsubscribe to every Contact and Lead with the email, case-insensitively', async () => {
        f = await setup();
        const [c1, c2] = await f.contacts([
            { LastName: 'A', Email: 'Ana.Lopez@Example.com' },
            { LastName: 'B', Email: 'ana.lopez@example.com' }
        ]);
        const [l1] = await f.leads([
            { LastName: 'C', Email: 'ANA.LOPEZ@EXAMPLE.COM' }
        ]);
        const [other] = await f.contacts([
            { LastName: 'D', Email: 'someone@example.com' }
        ]);
        await unsubscribe(f.ledger, ['ana.lopez@example.com']);
        const r = await f.run('push');
        expect(r.recordsWritten).toBe(3);
        expect(await f.values('Contact', [c1, c2, other])).toEqual({
            [c1]: true,
            [c2]: true,
            [other]: false
        });
        expect(await f.values('Lead', [l1])).toEqual({ [l1]: true });
    });

    it('with the setting off, writes only the record of the person’s id', async () => {
        f = await setup();
        const [c1, c2] = await f.contacts([
            { LastName: 'A', Email: 'ana@example.com' },
            { LastName: 'B', Email: 'ana@example.com' }
        ]);
        await f.settings({ applyToSameEmail: false });
        await f.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            salesforceId: c2,
            scope: 'all',
            source: 'platform'
        });
        await f.run('push');
        expect(await f.values('Contact', [c1, c2])).toEqual({
            [c1]: false,
            [c2]: true
        });
    });
});

describe('R9 converted leads', () => {
    it('writes the converted Contact, never the converted Lead', async () => {
        f = await setup();
        const [lead] = await f.leads([
            { LastName: 'Conv', Email: 'lead@example.com' }
        ]);
        const { contactId } = f.t.admin.convertLead(lead);
        // The Contact has another email: it is found through ConvertedContactId only.
        await f.t.conn
            .sobject('Contact')
            .update({ Id: contactId, Email: 'new@example.com' });
        await f.ledger.recordUnsubscribe({
            email: 'lead@example.com',
            salesforceId: lead,
            scope: 'all',
            source: 'platform'
        });
        const r = await f.run('push');
        expect(r.failed).toEqual([]);
        expect(await f.values('Contact', [contactId])).toEqual({
            [contactId]: true
        });
        expect(await f.values('Lead', [lead])).toEqual({ [lead]: false });
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('rewrites to the Contact when Salesforce refuses a lead converted after it was read', async () => {
        f = await setup();
        const [lead] = await f.leads([
            { LastName: 'Late', Email: 'late@example.com' }
        ]);
        const { contactId } = f.t.admin.convertLead(lead);
        const ctx: JobContext = {
            job: 'push',
            runId: 'run-r9',
            ledger: f.ledger,
            workspace: Workspace.open(':memory:'),
            client: f.client,
            dryRun: false,
            builder: new ResultBuilder({
                job: 'push',
                runId: 'run-r9',
                dryRun: false,
                targetOrg: 'local',
                startedAt: new Date().toISOString()
            }),
            log: () => undefined,
            progress: () => undefined,
            now: () => new Date(),
            heartbeat: () => undefined
        };
        const outcomes = await writeOptOut(
            ctx,
            'HasOptedOutOfEmail',
            [{ id: lead, object: 'Lead' }],
            () => ({
                emailNorm: 'late@example.com',
                personId: null,
                source: 'platform',
                collectedAt: null
            })
        );
        expect(outcomes.get(lead)).toEqual({
            ok: true,
            writtenId: contactId,
            object: 'Contact'
        });
        expect(ctx.builder.result.failed).toEqual([]);
        expect(await f.values('Contact', [contactId])).toEqual({
            [contactId]: true
        });
        const audit = await f.ledger.auditForRun('run-r9');
        expect(audit).toHaveLength(1);
        expect(audit[0]).toMatchObject({
            recordId: contactId,
            object: 'Contact'
        });
    });
});

describe('R10 audit', () => {
    it('records every field write with run, record, field, before/after, source and latency', async () => {
        f = await setup();
        const [id] = await f.contacts(people(1));
        await f.ledger.recordUnsubscribe({
            email: 'person0@example.com',
            scope: 'all',
            source: 'webhook',
            collectedAt: new Date(Date.now() - 1500).toISOString()
        });
        const r = await f.run('push');
        const trail = (await f.ledger.history('PERSON0@example.com')).audit;
        const write = trail.find((a) => a.action === 'field_write');
        expect(write).toMatchObject({
            runId: r.runId,
            recordId: id,
            object: 'Contact',
            field: 'HasOptedOutOfEmail',
            before: 'false',
            after: 'true',
            source: 'webhook'
        });
        expect(write?.latencyMs).toBeGreaterThanOrEqual(1500);
        expect(trail.map((a) => a.action)).toEqual([
            'unsubscribe_recorded',
            'field_write',
            'unsubscribe_delivered'
        ]);
        const run = await f.ledger.getRun(r.runId);
        expect(run).toMatchObject({ job: 'push', status: 'succeeded' });
        expect(run?.result).toMatchObject({
            recordsWritten: 1,
            apiRequests: r.apiRequests
        });
    });
});

describe('R11 idempotent and monotone', () => {
    it('a second push with no new input makes no request and writes nothing', async () => {
        f = await setup();
        await f.contacts(people(3));
        await unsubscribe(f.ledger, emails(3));
        await f.run('push');
        f.reset();
        const again = await f.run('push');
        expect(again).toMatchObject({
            apiRequests: 0,
            recordsWritten: 0,
            status: 'succeeded'
        });
        expect(f.served()).toBe(0);
    });

    it('does not write records already opted out, and confirms them', async () => {
        f = await setup();
        const ids = await f.contacts([
            { LastName: 'A', Email: 'a@example.com', HasOptedOutOfEmail: true }
        ]);
        await unsubscribe(f.ledger, ['a@example.com']);
        f.reset();
        const r = await f.run('push');
        expect(r.recordsWritten).toBe(0);
        expect(r.skipped.already_opted_out).toBe(1);
        expect(f.t.admin.stats().byKind.collectionsUpdate ?? 0).toBe(0);
        expect(r.unsubscribesDelivered).toBe(1);
        expect(await f.values('Contact', ids)).toEqual({ [ids[0]]: true });
    });

    it('loses nothing under 503s, 429s, dropped connections and row locks', async () => {
        f = await setup();
        const ids = await f.contacts(people(300));
        f.t.admin.setFaults(
            '503:next=1@composite,429:next=1@query,drop-after:next=1@composite,drop:next=1@composite,500:next=1@describe'
        );
        f.reset();
        await unsubscribe(f.ledger, emails(300));
        const r = await f.run('push');
        expect(r.status).toBe('succeeded');
        expect(f.t.admin.stats().faultsInjected).toEqual({
            '503': 1,
            '429': 1,
            '500': 1,
            'drop-after': 1,
            'drop-before': 1
        });
        expect(r.retried.requests).toBe(5);
        expect(r.apiRequests).toBe(f.served());
        expect(f.sleeps.length).toBeGreaterThan(0);
        const values = await f.values('Contact', ids);
        expect(Object.values(values).filter((v) => v === true)).toHaveLength(
            300
        );
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('sends records again that failed with UNABLE_TO_LOCK_ROW', async () => {
        f = await setup();
        const ids = await f.contacts(people(10));
        f.t.admin.setFaults('lock:next=4');
        await unsubscribe(f.ledger, emails(10));
        const r = await f.run('push');
        expect(r.retried).toEqual({ requests: 0, records: 4 });
        expect(r.failed).toEqual([]);
        expect(r.recordsWritten).toBe(10);
        expect(
            Object.values(await f.values('Contact', ids)).every(Boolean)
        ).toBe(true);
        const audit = (await f.ledger.auditForRun(r.runId)).filter(
            (a) => a.action === 'field_write'
        );
        expect(audit).toHaveLength(10);
    });

    it('keeps an unsubscribe pending when Salesforce keeps failing, and delivers it next time', async () => {
        f = await setup();
        const ids = await f.contacts(people(2));
        await unsubscribe(f.ledger, emails(2));
        f.t.admin.setFaults('503:1@collections');
        await expect(f.run('push')).rejects.toThrow(/HTTP 503/);
        expect(await f.ledger.countUndelivered()).toBe(2);
        expect((await f.ledger.listRuns({ job: 'push' }))[0].status).toBe(
            'failed'
        );
        f.t.admin.clearFaults();
        const r = await f.run('push');
        expect(r.unsubscribesDelivered).toBe(2);
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: true,
            [ids[1]]: true
        });
    });

    it('reports a record Salesforce refuses for good, keeps it pending and exits non-zero', async () => {
        f = await setup();
        const summary = await deployPackage(
            f.t,
            'scripts/sync/__tests__/fixtures/contact-rule'
        );
        expect(summary.success).toBe(true);
        const [ok, blocked] = await f.contacts([
            { LastName: 'Fine', Email: 'fine@example.com' },
            { LastName: 'Blocked', Email: 'blocked@example.com' }
        ]);
        await unsubscribe(f.ledger, [
            'fine@example.com',
            'blocked@example.com'
        ]);
        const r = await f.run('push');
        expect(r.status).toBe('partial');
        expect(r.failed).toEqual([
            expect.objectContaining({
                recordId: blocked,
                object: 'Contact',
                field: 'HasOptedOutOfEmail',
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                message: expect.stringContaining(
                    'Blocked contacts cannot be opted out'
                ),
                email: 'blocked@example.com'
            })
        ]);
        expect(await f.values('Contact', [ok, blocked])).toEqual({
            [ok]: true,
            [blocked]: false
        });
        expect(await f.ledger.countUndelivered()).toBe(1);
    });

    it('counts a record deleted between read and write as settled, not failed', async () => {
        f = await setup();
        const [gone] = await f.contacts(people(1));
        await unsubscribe(f.ledger, emails(1));
        const update = f.client.updateRecords.bind(f.client);
        f.client.updateRecords = async (object, records, options) => {
            await f.t.conn.sobject('Contact').destroy(gone);
            return update(object, records, options);
        };
        const r = await f.run('push');
        expect(r.failed).toEqual([]);
        expect(r.skipped.record_deleted).toBe(1);
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('a dry run reports what it would write and writes nothing, delivers nothing', async () => {
        f = await setup();
        const ids = await f.contacts(people(4));
        await unsubscribe(f.ledger, emails(4));
        const r = await f.run('push', { dryRun: true });
        expect(r.dryRun).toBe(true);
        expect(r.recordsWritten).toBe(0);
        expect(r.plan).toMatchObject({ fieldWrites: 4, deliveries: 4 });
        expect(r.plan?.sample[0]).toMatchObject({
            object: 'Contact',
            field: 'HasOptedOutOfEmail',
            value: true
        });
        expect(f.t.admin.stats().byKind.collectionsUpdate ?? 0).toBe(0);
        expect(Object.values(await f.values('Contact', ids))).toEqual([
            false,
            false,
            false,
            false
        ]);
        expect(await f.ledger.countUndelivered()).toBe(4);
        expect((await f.ledger.getRun(r.runId))?.dryRun).toBe(true);
    });
});

describe('R12 API budget', () => {
    it('switches to Bulk API 2.0 above the threshold', async () => {
        f = await setup({ client: { bulkThreshold: 50 } });
        const ids = await f.contacts(people(120));
        f.reset();
        await unsubscribe(f.ledger, emails(120));
        const r = await f.run('push');
        expect(r.modes?.['write Contact']).toBe('bulk');
        const stats = f.t.admin.stats();
        expect(stats.groups.bulkIngest).toBeGreaterThan(0);
        expect(stats.groups.collections).toBe(0);
        expect(r.apiRequests).toBe(stats.totalRequests);
        expect(
            Object.values(await f.values('Contact', ids)).every(
                (v) => v === true
            )
        ).toBe(true);
        expect(r.unsubscribesDelivered).toBe(120);
    });

    it('stops before crossing the configured share of the daily allowance and defers the rest', async () => {
        f = await setup({ client: { apiBudgetShare: 0.5 } });
        const ids = await f.contacts(people(3));
        await unsubscribe(f.ledger, emails(3));
        f.t.admin.setApiLimit(100);
        f.t.admin.setUsage(48);
        f.reset();
        const r = await f.run('push');
        expect(r.status).toBe('deferred');
        expect(r.deferred).toEqual({
            count: 3,
            reason: expect.stringMatching(/50% of local's daily API requests/)
        });
        // The settings read (usage 49), one describe (50), then it stopped.
        expect(r.apiRequests).toBe(2);
        expect(f.t.admin.stats().apiUsage).toBe(50);
        expect(Object.values(await f.values('Contact', ids))).toEqual([
            false,
            false,
            false
        ]);
        expect(await f.ledger.countUndelivered()).toBe(3);
        expect((await f.ledger.getRun(r.runId))?.status).toBe('deferred');

        // The next run (a new process, or once the reading is stale) goes on.
        f.t.admin.setApiLimit(15_000);
        const next = await runJob('push', {
            ledger: f.ledger,
            org: f.newClient()
        });
        expect(next.status).toBe('succeeded');
        expect(next.unsubscribesDelivered).toBe(3);
    });

    it('defers when the org itself refuses for the daily limit (403 REQUEST_LIMIT_EXCEEDED)', async () => {
        f = await setup();
        await f.contacts(people(1));
        await unsubscribe(f.ledger, emails(1));
        f.t.admin.setApiLimit(10);
        f.t.admin.setUsage(10);
        const r = await f.run('push');
        expect(r.status).toBe('deferred');
        expect(r.deferred?.reason).toMatch(
            /daily API request limit is used up/
        );
        expect(await f.ledger.countUndelivered()).toBe(1);
    });
});

describe('runs', () => {
    it('never runs the same job twice at once (the ledger lock holds across processes)', async () => {
        f = await setup();
        await f.contacts(people(1));
        await unsubscribe(f.ledger, emails(1));
        const held = await f.ledger.acquireLock(jobLockName('push'), {
            holder: 'other-host:1:x'
        });
        expect(held.acquired).toBe(true);
        f.reset();
        const r = await f.run('push');
        expect(r.status).toBe('skipped');
        expect(r.message).toMatch(/Another push run holds the lock/);
        expect(f.served()).toBe(0);
        expect(await f.ledger.countUndelivered()).toBe(1);
        await f.ledger.releaseLock(jobLockName('push'), 'other-host:1:x');
        expect((await f.run('push')).status).toBe('succeeded');
        expect(await f.ledger.getLock(jobLockName('push'))).toBeUndefined();
    });

    it('a stop request ends the run deferred, with nothing lost', async () => {
        f = await setup();
        await f.contacts(people(2));
        await unsubscribe(f.ledger, emails(2));
        const stop = new AbortController();
        stop.abort();
        const r = await f.run('push', { signal: stop.signal });
        expect(r.status).toBe('deferred');
        expect(r.deferred).toEqual({
            count: 2,
            reason: expect.stringMatching(/stopped/)
        });
        expect(r.apiRequests).toBe(0);
        expect((await f.run('push')).unsubscribesDelivered).toBe(2);
    });
});

describe('R13 one row per key (push)', () => {
    it('two persons’ audience unsubscribes on one Contact send one row, and both are delivered', async () => {
        f = await setup();
        // Person A is linked by id to the Contact whose email is b@x.com; person B
        // is b@x.com: with R8 both resolve to it (audit A1).
        const [x] = await f.contacts([{ LastName: 'X', Email: 'b@x.com' }]);
        await f.ledger.upsertAudience({ id: 'news', name: 'News' });
        for (const [email, salesforceId] of [
            ['a@x.com', x],
            ['b@x.com', undefined]
        ] as const)
            await f.ledger.recordUnsubscribe({
                email,
                salesforceId,
                scope: 'audience',
                audienceId: 'news',
                source: 'webhook'
            });
        const keys: string[][] = [];
        const collections = f.client.collectionsWrite.bind(f.client);
        f.client.collectionsWrite = async (object, key, records) => {
            if (object === 'Audience_Membership__c')
                keys.push(records.map((r) => String(r[key])));
            return collections(object, key, records);
        };
        const r = await f.run('push');
        expect(r.failed).toEqual([]);
        expect(keys).toEqual([[`news:${x}`]]);
        expect(r.unsubscribesDelivered).toBe(2);
        expect(await f.ledger.countUndelivered()).toBe(0);
        const rows = await f.memberships();
        expect(rows.map((m) => m.Status__c)).toEqual(['Unsubscribed']);
    });
});
