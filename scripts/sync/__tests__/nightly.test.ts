/**
 * The nightly reconciliation against the local org (R3), with R7 (installed field),
 * R11 and R12, and the Bulk API 2.0 paths at a scale that stays fast.
 */
import {
    countAuditAction,
    fieldsWrittenTwice,
    unsubscribesDeliveredTwice
} from '../../ledger/inspect';
import { JobFailed, runJob } from '../run';
import type { JobResult } from '../result';
import { NIGHTLY_CURSOR } from '../nightly';
import { emails, people, setup, unsubscribe, type Fixture } from './fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

describe('R3 nightly sync', () => {
    it('does nothing but read the settings when it is disabled', async () => {
        f = await setup();
        const ids = await f.contacts(people(2));
        await unsubscribe(f.ledger, emails(2));
        f.reset();
        const r = await f.run('nightly');
        expect(r.status).toBe('skipped');
        expect(r.message).toMatch(/Nightly_Sync_Enabled__c/);
        expect(r.apiRequests).toBe(1);
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: false,
            [ids[1]]: false
        });
        expect((await f.ledger.getRun(r.runId))?.status).toBe('skipped');
    });

    it('(a) sets the field on records of unsubscribed persons, (b) brings Salesforce opt-outs into the ledger', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        const [pushed, missed, dup, optedInSf, known, noEmail] =
            await f.contacts([
                {
                    LastName: 'Pushed',
                    Email: 'pushed@example.com',
                    HasOptedOutOfEmail: true
                },
                { LastName: 'Missed', Email: 'missed@example.com' },
                { LastName: 'Dup', Email: 'Pushed@Example.com' },
                {
                    LastName: 'Sf',
                    Email: 'sf.only@example.com',
                    HasOptedOutOfEmail: true
                },
                {
                    LastName: 'Known',
                    Email: 'known@example.com',
                    HasOptedOutOfEmail: true
                },
                { LastName: 'NoEmail', HasOptedOutOfEmail: true }
            ]);
        const [lead, convLead] = await f.leads([
            { LastName: 'Lead', Email: 'missed@example.com' },
            {
                LastName: 'Conv',
                Email: 'conv@example.com',
                HasOptedOutOfEmail: true
            }
        ]);
        // Converted: its Contact took the opt-out, then an admin unchecked the Contact.
        const { contactId } = f.t.admin.convertLead(convLead);
        await f.t.conn
            .sobject('Contact')
            .update({ Id: contactId, HasOptedOutOfEmail: false });
        await unsubscribe(f.ledger, [
            'pushed@example.com',
            'missed@example.com',
            'gone@example.com'
        ]);
        await f.ledger.upsertPerson({ email: 'known@example.com' });
        f.reset();
        const r = await f.run('nightly');
        expect(r.status).toBe('succeeded');
        expect(r.recordsWritten).toBe(3);
        expect(r.ledgerUnsubscribesAdded).toBe(2);
        // 'gone' matches no record: it waits, not delivered (R11).
        expect(r.unsubscribesDelivered).toBe(4);
        expect(
            (await f.ledger.history('gone@example.com')).unsubscribes[0]
                .deliveredAt
        ).toBeNull();
        expect(r.skipped).toMatchObject({
            no_matching_record: 1,
            converted_lead: 1,
            no_email: 1
        });
        expect(r.apiRequests).toBe(f.served());
        expect(
            await f.values('Contact', [
                pushed,
                missed,
                dup,
                optedInSf,
                known,
                noEmail
            ])
        ).toEqual({
            [pushed]: true,
            [missed]: true,
            [dup]: true,
            [optedInSf]: true,
            [known]: true,
            [noEmail]: true
        });
        expect(await f.values('Lead', [lead])).toEqual({ [lead]: true });
        // (b): new person from Salesforce, linked to its record; a known person gets it too.
        const sf = await f.ledger.history('sf.only@example.com');
        expect(sf.person?.salesforceId).toBe(optedInSf);
        expect(sf.unsubscribes).toEqual([
            expect.objectContaining({
                scope: 'all',
                source: 'salesforce',
                reason: expect.stringContaining(`Contact ${optedInSf}`),
                deliveredAt: expect.any(String)
            })
        ]);
        expect(
            (await f.ledger.history('known@example.com')).unsubscribes
        ).toHaveLength(1);
        // The converted lead's opt-out is history: it did not become an unsubscribe,
        // and the unchecked Contact stays unchecked.
        expect(await f.ledger.findPerson('conv@example.com')).toBeUndefined();
        expect(await f.values('Contact', [contactId])).toEqual({
            [contactId]: false
        });
        expect(
            await f.ledger.getCursor(NIGHTLY_CURSOR.job, NIGHTLY_CURSOR.name)
        ).toBe(r.startedAt);
    });

    it('reconciles the chosen field (R1) and leaves the other alone', async () => {
        f = await setup();
        await f.settings({
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        const [a, b] = await f.contacts([
            { LastName: 'A', Email: 'a@example.com' },
            { LastName: 'B', Email: 'b@example.com', HasOptedOutOfEmail: true }
        ]);
        await unsubscribe(f.ledger, ['a@example.com']);
        const r = await f.run('nightly');
        expect(r.ledgerUnsubscribesAdded).toBe(0);
        expect(
            await f.values('Contact', [a, b], 'Marketo_Sales_Opt_Out__c')
        ).toEqual({ [a]: true, [b]: false });
        expect(await f.values('Contact', [a, b])).toEqual({
            [a]: false,
            [b]: true
        });
    });

    it('reads through Bulk API 2.0 page by page and writes through Bulk jobs at volume', async () => {
        f = await setup({
            client: {
                restPageSize: 200,
                bulkThreshold: 200,
                bulkQueryPageSize: 1000,
                bulkJobSize: 1500
            }
        });
        await f.settings({ nightlySyncEnabled: true });
        const ids = await f.contacts(people(6000));
        await f.leads(people(2000, { type: 'Lead', offset: 6000 }));
        await unsubscribe(f.ledger, emails(2500));
        f.reset();
        const r = await f.run('nightly');
        expect(r.modes).toMatchObject({
            'read Contact': 'bulk',
            'read Lead': 'bulk',
            'write Contact': 'bulk'
        });
        expect(r.recordsWritten).toBe(2500);
        expect(r.unsubscribesDelivered).toBe(2500);
        const stats = f.t.admin.stats();
        expect(r.apiRequests).toBe(stats.totalRequests);
        // 6 Contact pages + 2 Lead pages; 2 ingest jobs of ≤ 1,500 rows.
        expect(stats.byKind.bulkQueryResults).toBe(8);
        expect(stats.byKind.bulkIngestCreate).toBe(2);
        expect(stats.groups.collections).toBe(0);
        const values = await f.values('Contact', ids.slice(2400, 2600));
        expect(ids.slice(2400, 2600).map((id) => values[id])).toEqual([
            ...Array(100).fill(true),
            ...Array(100).fill(false)
        ]);
        f.reset();
        const again = await f.run('nightly');
        expect(again.recordsWritten).toBe(0);
        expect(again.ledgerUnsubscribesAdded).toBe(0);
        expect(f.t.admin.stats().groups.bulkIngest).toBe(0);
    });
});

describe('R7 installed field', () => {
    it('stops before any write when the chosen field is missing, naming it and the deploy command', async () => {
        f = await setup({
            org: { deploy: 'scripts/sync/__tests__/fixtures/settings-only' }
        });
        await f.settings({
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        const ids = await f.contacts(people(2));
        await unsubscribe(f.ledger, emails(2));
        f.reset();
        for (const job of ['push', 'nightly'] as const) {
            const err = await f.run(job).then(
                () => undefined,
                (e: unknown) => e
            );
            expect(err).toBeInstanceOf(JobFailed);
            const failed = err as JobFailed;
            expect(failed.code).toBe('FIELD_NOT_INSTALLED');
            expect(failed.message).toMatch(
                /Nothing was written: in local, the field Contact\.Marketo_Sales_Opt_Out__c does not exist; the field Lead\.Marketo_Sales_Opt_Out__c does not exist/
            );
            expect(failed.actions[0]).toBe(
                'Install or update the package: optout deploy --target-org local'
            );
            expect(failed.result.status).toBe('failed');
            expect((await f.ledger.getRun(failed.result.runId))?.status).toBe(
                'failed'
            );
        }
        const stats = f.t.admin.stats();
        expect(stats.groups.collections + stats.groups.bulkIngest).toBe(0);
        expect(stats.records.updated).toBe(0);
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: false,
            [ids[1]]: false
        });
        expect(await f.ledger.countUndelivered()).toBe(2);
    });

    it('says the audience membership object is missing before the hourly writes', async () => {
        f = await setup({
            org: { deploy: 'scripts/sync/__tests__/fixtures/settings-only' }
        });
        await f.ledger.recordUnsubscribe({
            email: 'a@example.com',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'News',
            source: 'webhook'
        });
        await expect(f.run('hourly')).rejects.toThrow(
            /the object Audience_Membership__c does not exist/
        );
    });

    it('without the package, the settings read says to deploy it', async () => {
        f = await setup({ org: { deploy: false } });
        await unsubscribe(f.ledger, ['a@example.com']);
        const err = (await f.run('push').catch((e: unknown) => e)) as JobFailed;
        expect(err.code).toBe('SETTINGS_NOT_INSTALLED');
        expect(err.actions).toEqual([
            'Deploy it: optout deploy --target-org local',
            'Or assign the permission set: sf org assign permset --name Opt_Out_Sync_Integration --target-org local'
        ]);
    });

    it('refuses an Opt_Out_Field__c value that is not one of the two fields', async () => {
        f = await setup();
        await f.t.conn.sobject('Opt_Out_Sync_Settings__c').create({
            SetupOwnerId: (
                await f.t.conn.query<{ Id: string }>(
                    'SELECT Id FROM Organization'
                )
            ).records[0].Id,
            Opt_Out_Field__c: 'DoNotCall',
            Nightly_Sync_Enabled__c: true
        });
        await unsubscribe(f.ledger, ['a@example.com']);
        const err = (await f.run('push').catch((e: unknown) => e)) as JobFailed;
        expect(err.code).toBe('BAD_SETTING');
        expect(err.message).toMatch(
            /Opt_Out_Field__c is 'DoNotCall' in local; it must be HasOptedOutOfEmail or Marketo_Sales_Opt_Out__c/
        );
        expect(err.actions[0]).toMatch(
            /optout settings set --target-org local --opt-out-field HasOptedOutOfEmail/
        );
    });
});

describe('R4 never re-subscribe (nightly)', () => {
    it('never writes false and never removes a ledger unsubscribe', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        const [a] = await f.contacts([
            { LastName: 'A', Email: 'a@example.com', HasOptedOutOfEmail: true }
        ]);
        await unsubscribe(f.ledger, ['a@example.com']);
        // An admin unchecks in Salesforce: the ledger still has the unsubscribe, so it comes back.
        await f.t.conn
            .sobject('Contact')
            .update({ Id: a, HasOptedOutOfEmail: false });
        const r = await f.run('nightly');
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Contact', [a])).toEqual({ [a]: true });
        // A deliberate resubscribe on the ledger side plus the admin's uncheck: both stick.
        await f.ledger.resubscribe({
            email: 'a@example.com',
            reason: 'asked to be emailed again'
        });
        await f.t.conn
            .sobject('Contact')
            .update({ Id: a, HasOptedOutOfEmail: false });
        for (const job of ['push', 'hourly', 'nightly'] as const)
            await f.run(job);
        expect(await f.values('Contact', [a])).toEqual({ [a]: false });
        const person = (await f.ledger.findPerson('a@example.com'))!;
        expect(
            (await f.ledger.listUnsubscribes(person.id)).map(
                (u) => u.removedReason
            )
        ).toEqual(['asked to be emailed again']);
    });
});

describe('R11 idempotent and monotone (nightly)', () => {
    it('a second run writes nothing and costs only its reads', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        await f.contacts(people(30));
        await f.leads(people(10, { type: 'Lead', offset: 30 }));
        await unsubscribe(f.ledger, emails(10, 25));
        await f.run('nightly');
        f.reset();
        // Full again (R16: a second run within the look-back would re-read every
        // record changed by the first and the Leads converted into its Contacts; the
        // incremental costs are in nightly-incremental.test.ts).
        const again = await f.run('nightly', {
            org: f.newClient(),
            nightly: { full: true }
        });
        expect(again).toMatchObject({
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0,
            unsubscribesDelivered: 0,
            status: 'succeeded'
        });
        // Settings, two describes (R7), one REST page per object.
        expect(again.apiRequests).toBe(5);
        expect(f.t.admin.stats().byKind).toEqual({ query: 3, describe: 2 });
    });

    it('a dry run reports the reconciliation and changes nothing', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        const ids = await f.contacts([
            { LastName: 'A', Email: 'a@example.com' },
            { LastName: 'B', Email: 'b@example.com', HasOptedOutOfEmail: true }
        ]);
        await unsubscribe(f.ledger, ['a@example.com']);
        const r = await f.run('nightly', { dryRun: true });
        expect(r.plan).toMatchObject({ fieldWrites: 1, ledgerUnsubscribes: 1 });
        expect(r.plan?.sample).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    id: ids[0],
                    field: 'HasOptedOutOfEmail'
                })
            ])
        );
        expect(await f.values('Contact', ids)).toEqual({
            [ids[0]]: false,
            [ids[1]]: true
        });
        expect(await f.ledger.findPerson('b@example.com')).toBeUndefined();
        expect(await f.ledger.countUndelivered()).toBe(1);
    });
});

describe('R12 API budget (nightly)', () => {
    it('stops cleanly mid-run when the budget runs out and finishes on the next run', async () => {
        f = await setup({ client: { apiBudgetShare: 0.8 } });
        await f.settings({ nightlySyncEnabled: true });
        const ids = await f.contacts(people(5000));
        await unsubscribe(f.ledger, emails(50));
        f.t.admin.setApiLimit(1000);
        f.t.admin.setUsage(795);
        const r = await f.run('nightly');
        expect(r.status).toBe('deferred');
        expect(r.deferred?.count).toBe(50);
        expect(f.t.admin.stats().apiUsage).toBe(800);
        expect(
            Object.values(await f.values('Contact', ids.slice(0, 50))).some(
                Boolean
            )
        ).toBe(false);
        f.t.admin.setUsage(0);
        const next = await f.run('nightly', { org: f.newClient() });
        expect(next.status).toBe('succeeded');
        expect(next.unsubscribesDelivered).toBe(50);
    });
});

describe('the nightly and a push at the same time', () => {
    it('writes a record a push wrote since the nightly read it only once (R11)', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        const ids = await f.contacts(people(6));
        await unsubscribe(f.ledger, emails(6));
        // A push (a webhook replica, the scheduler) runs after the nightly read the
        // records and just before it writes them: the worst moment.
        const client = f.newClient();
        const update = client.updateRecords.bind(client);
        let push: JobResult | undefined;
        client.updateRecords = async (...args) => {
            push ??= await runJob('push', {
                ledger: f.ledger,
                org: f.newClient()
            });
            return update(...args);
        };
        const nightly = await f.run('nightly', { org: client });
        expect(nightly.status).toBe('succeeded');
        expect(await f.values('Contact', ids)).toEqual(
            Object.fromEntries(ids.map((id) => [id, true]))
        );
        // Each record's field written once, and every unsubscribe delivered once.
        expect(await fieldsWrittenTwice(f.ledger)).toEqual([]);
        expect(await countAuditAction(f.ledger, 'field_write')).toBe(6);
        expect(await f.ledger.countUndelivered()).toBe(0);
        expect(await unsubscribesDeliveredTwice(f.ledger)).toEqual([]);
        // The push found the nightly at work and left the records to it.
        expect(push?.status).toBe('skipped');
    });
});
