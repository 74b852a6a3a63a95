/**
 * The demo end to end at the small size against an in-memory local org: it deploys,
 * seeds, pushes a webhook burst, runs hourly and nightly, and the Salesforce state
 * matches each named person's rule; a second run reuses the data and writes nothing
 * (R11); someone else's ledger is left alone. Plus the generator's determinism.
 *
 * The org is the strict default one (duplicate rules on, private account-less
 * Contacts, the customer's validation rule): the assertions on Tomás Silva (refused
 * with INSUFFICIENT_ACCESS_OR_READONLY, then delivered after the Modify All set and
 * optout retry), Margaret Okafor (stuck on FIELD_CUSTOM_VALIDATION_EXCEPTION) and Ana
 * López's duplicate pair fail against a kinder org.
 *
 * The Mailchimp side is a local Mailchimp the test starts and hands to the demo, so it
 * can read the members and every status change: Elena Petrova's Salesforce opt-out
 * reaches Mailchimp (push), Noah Fischer's unsubscribe in Mailchimp reaches the ledger
 * and his Audience_Membership__c row (pull, then the hourly), and nothing was ever set
 * to subscribed by the connector.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../../ledger/ledger';
import { OptoutError } from '../../../model/errors';
import { startTestOrg, type TestOrg } from '../../local-org/testing';
import {
    startLocalMailchimp,
    type LocalMailchimp
} from '../../local-mailchimp/server';
import { OrgClient } from '../../../salesforce/client';
import {
    generateDemoData,
    peopleByKey,
    AUDIENCES,
    DEMO_USERS,
    PROTECTED_DEPARTMENT
} from '../data';
import { runDemo, type DemoOptions, type PhaseEvent } from '../run';
import { readMarker } from '../seed';
import { renderSummary, type DemoSummary } from '../summary';

describe('generateDemoData', () => {
    it('is deterministic for a seed and differs between seeds', () => {
        const a = generateDemoData({ seed: 7, size: 'small' });
        expect(generateDemoData({ seed: 7, size: 'small' })).toEqual(a);
        const b = generateDemoData({ seed: 8, size: 'small' });
        expect(b.contacts.map((c) => c.email)).not.toEqual(
            a.contacts.map((c) => c.email)
        );
    });

    it('has the full size’s thousands of records, duplicates, case variants and opt-outs', () => {
        const d = generateDemoData({ size: 'full' });
        expect(d.contacts).toHaveLength(3000);
        expect(d.leads).toHaveLength(2000);
        expect(d.burst).toHaveLength(200);
        const all = [...d.contacts, ...d.leads];
        const lower = new Map<string, string[]>();
        for (const p of all)
            lower.set(p.email.toLowerCase(), [
                ...(lower.get(p.email.toLowerCase()) ?? []),
                p.email
            ]);
        const shared = [...lower.values()].filter((v) => v.length > 1);
        expect(shared.length).toBeGreaterThan(50);
        expect(shared.some((v) => new Set(v).size > 1)).toBe(true); // case variants
        expect(all.filter((p) => p.optedOut).length).toBeGreaterThan(100);
        expect(new Set(d.ledger.map((p) => p.idForm))).toEqual(
            new Set(['15', '18', 'none'])
        );
        // The strict org's people: an account-less Contact of the sales rep, and an
        // Investor Relations Contact the customer's validation rule protects.
        const byKey = peopleByKey(d);
        expect(byKey.get(d.examples.noAccess)).toMatchObject({
            object: 'Contact',
            accountless: true,
            ownedBySalesRep: true
        });
        expect(byKey.get(d.examples.validationRule)).toMatchObject({
            object: 'Contact',
            department: PROTECTED_DEPARTMENT
        });
        expect(d.companies).not.toContain('Freelance');
        expect(
            d.burst.filter((b) =>
                [d.examples.noAccess, d.examples.validationRule].includes(b.key)
            )
        ).toHaveLength(2);
        expect(
            all.every((p) => p.email.toLowerCase().endsWith('.example'))
        ).toBe(true);
    });
});

describe('runDemo (small, in-memory org)', () => {
    let t: TestOrg;
    let dir: string;
    let options: DemoOptions;
    let phases: PhaseEvent[];
    let mc: LocalMailchimp;

    beforeAll(async () => {
        for (const k of [
            'http_proxy',
            'https_proxy',
            'HTTP_PROXY',
            'HTTPS_PROXY'
        ])
            delete process.env[k];
        t = await startTestOrg(); // empty: the demo deploys the package itself
        dir = mkdtempSync(join(tmpdir(), 'optout-demo-'));
        phases = [];
        mc = await startLocalMailchimp({
            port: 0,
            dbPath: join(dir, 'local-mailchimp.db'),
            batchStepMs: 0
        });
        options = {
            mailchimp: mc,
            size: 'small',
            ledgerPath: join(dir, 'ledger.db'),
            pushDelayMs: 200,
            onPhase: (e) => phases.push(e),
            connect: async () => ({
                client: new OrgClient(t.conn as never, {
                    targetOrg: 'local',
                    local: true
                }),
                target: {
                    instanceUrl: t.instanceUrl,
                    accessToken: t.accessToken
                },
                description: 'the test org',
                close: async () => undefined
            })
        };
    });

    afterAll(async () => {
        await mc?.close();
        await t?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    let first: DemoSummary;

    it('runs end to end: every job writes, each named person shows its rule', async () => {
        first = await runDemo(options);
        expect(
            phases.filter((p) => p.state === 'end').map((p) => p.phase)
        ).toEqual([
            'org',
            'deploy',
            'seed',
            'mailchimp',
            'settings',
            'burst',
            'mailchimp-pull',
            'hourly',
            'nightly',
            'mailchimp-push',
            'fix',
            'readback',
            'summary'
        ]);
        const data = generateDemoData({ size: 'small' });
        expect(first).toMatchObject({
            status: 'ok',
            seeded: true,
            size: 'small',
            burst: {
                webhookCalls: data.burst.length,
                recorded: data.burst.length,
                refused: 0
            }
        });
        expect(first.burst.pushes).toBeGreaterThanOrEqual(1);
        // Delivered: every one whose person has a Salesforce record (the others
        // are counted as skipped, no matching record), except the two Salesforce
        // refuses: Tomás (no access) and Margaret (validation rule).
        const withRecord = data.burst.filter(
            (b) => !b.key.startsWith('prospect:')
        ).length;
        expect(first.jobs.push.unsubscribesDelivered).toBeGreaterThanOrEqual(
            withRecord - 2
        );
        expect(first.jobs.push.failed).toBe(2);
        expect(first.jobs.push.skipped.no_matching_record).toBe(
            data.burst.length - withRecord
        );
        expect(first.jobs.hourly.membershipsUpserted).toBeGreaterThan(200);
        expect(first.jobs.nightly.ledgerUnsubscribesAdded).toBeGreaterThan(0);
        expect(first.changes.failed).toBeGreaterThanOrEqual(2);
        expect(first.changes.recordsWritten).toBe(
            Object.values(first.changes.fieldWrites).reduce((a, b) => a + b, 0)
        );
        expect(first.changes.skipped.no_matching_record).toBeGreaterThan(0);
        expect(first.apiRequests.total).toBe(
            first.apiRequests.push +
                first.apiRequests.hourly +
                first.apiRequests.nightly +
                first.apiRequests.retry +
                first.apiRequests.readback
        );
        expect(first.examples.map((e) => e.rule)).toEqual([
            'R8',
            'R9',
            'R6',
            'R3b',
            'R5b',
            'R5c',
            'R3a',
            'R6',
            'R14',
            'R14',
            'R3b → Mailchimp',
            'R5 ← Mailchimp'
        ]);
        // R14: the no-access record was fixed during the demo; the validation rule's
        // record is what is left, grouped by reason with what to do.
        expect(first.syncUser).toBe(DEMO_USERS.integration.username);
        expect(first.fixed).toEqual({
            reason: 'no_access',
            permissionSet: 'Opt_Out_Sync_Integration_Modify_All',
            retried: 1,
            delivered: 1
        });
        expect(first.jobs.retry).toMatchObject({
            status: 'succeeded',
            unsubscribesDelivered: 1,
            failed: 0
        });
        const margaretEmail = peopleByKey(data).get(
            data.examples.validationRule
        )?.email as string;
        const tomasEmail = peopleByKey(data).get(data.examples.noAccess)
            ?.email as string;
        expect(first.stuck.byReason).toEqual([
            expect.objectContaining({
                reason: 'validation_rule',
                retrying: 1,
                deadLetters: 0,
                whatToDo: expect.stringMatching(/optout retry/),
                records: [
                    {
                        email: margaretEmail,
                        errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                        message: expect.stringMatching(/Investor Relations/)
                    }
                ]
            })
        ]);

        // The org's own state, read back through the API.
        const marker = await readMarker(await Ledger.open(options.ledgerPath));
        const ids = marker?.ids ?? {};
        const people = peopleByKey(data);
        const optOut = async (id: string): Promise<boolean> => {
            const object = id.startsWith('003') ? 'Contact' : 'Lead';
            const r = await t.conn.query<{ HasOptedOutOfEmail: boolean }>(
                `SELECT HasOptedOutOfEmail FROM ${object} WHERE Id = '${id}'`
            );
            return r.records[0].HasOptedOutOfEmail;
        };
        const ex = data.examples;
        // R8: Ana's Contact and her Lead with the email in other case.
        const anaLead = data.leads.find(
            (l) =>
                l.email !== people.get(ex.sameEmail)?.email &&
                l.email.toLowerCase() ===
                    people.get(ex.sameEmail)?.email.toLowerCase()
        );
        expect(await optOut(ids[ex.sameEmail])).toBe(true);
        expect(await optOut(ids[anaLead?.key as string])).toBe(true);
        // R9: the converted Lead untouched, its Contact written.
        expect(await optOut(ids[ex.convertedLead])).toBe(false);
        expect(await optOut(ids[`${ex.convertedLead}:contact`])).toBe(true);
        // Duplicate rules are on: Ana's Lead matches her Contact, so an update without
        // allowSave=true is refused; the sync's writes (above) carried the header.
        await expect(
            t.conn
                .sobject('Lead')
                .update({ Id: ids[anaLead?.key as string], Title: 'Buyer' })
        ).rejects.toMatchObject({ errorCode: 'DUPLICATES_DETECTED' });
        // R6, R5b, R3a.
        expect(await optOut(ids[ex.id15])).toBe(true);
        expect(await optOut(ids[ex.allAudiences])).toBe(true);
        expect(await optOut(ids[ex.platformBacklog])).toBe(true);
        // The sync ran as the integration user (a Standard User), not the admin.
        const users = await t.conn.query<{
            Id: string;
            Username: string;
            ProfileId: string;
        }>('SELECT Id, Username, ProfileId FROM User');
        const integration = users.records.find(
            (u) => u.Username === DEMO_USERS.integration.username
        );
        const salesRep = users.records.find(
            (u) => u.Username === DEMO_USERS.salesRep.username
        );
        const written = await t.conn.query<{ LastModifiedById: string }>(
            `SELECT LastModifiedById FROM Contact WHERE Id = '${ids[ex.id15]}'`
        );
        expect(written.records[0].LastModifiedById).toBe(integration?.Id);
        const profile = await t.conn.query<{ Name: string }>(
            `SELECT Name FROM Profile WHERE Id = '${integration?.ProfileId}'`
        );
        expect(profile.records[0].Name).toBe('Standard User');
        // R14 no access: Tomás's Contact has no Account and belongs to the sales rep;
        // the first push was refused, the one after optout retry wrote it.
        const tomas = await t.conn.query<{
            AccountId: string | null;
            OwnerId: string;
            HasOptedOutOfEmail: boolean;
        }>(
            `SELECT AccountId, OwnerId, HasOptedOutOfEmail FROM Contact WHERE Id = '${ids[ex.noAccess]}'`
        );
        expect(tomas.records[0]).toMatchObject({
            AccountId: null,
            OwnerId: salesRep?.Id,
            HasOptedOutOfEmail: true
        });
        // R14 validation rule: Margaret's Contact is not opted out.
        expect(await optOut(ids[ex.validationRule])).toBe(false);
        // R5c: the membership made in Salesforce reached the ledger; the flag is cleared.
        const pending = await t.conn.query<{ Pending_Push__c: boolean }>(
            'SELECT Pending_Push__c FROM Audience_Membership__c WHERE Pending_Push__c = true'
        );
        expect(pending.totalSize).toBe(0);
        const ledger = await Ledger.open(options.ledgerPath);
        try {
            const lucas = await ledger.findPerson(
                people.get(ex.salesforceAudienceUnsubscribe)?.email as string
            );
            expect(
                await ledger.getMembership(lucas?.id as number, AUDIENCES[1].id)
            ).toMatchObject({ status: 'Unsubscribed', source: 'flow' });
            // R3b: Wei is in the ledger now, from Salesforce.
            const wei = await ledger.findPerson(
                people.get(ex.optedOutInSalesforce)?.email as string
            );
            expect(await ledger.listUnsubscribes(wei?.id as number)).toEqual([
                expect.objectContaining({ scope: 'all', source: 'salesforce' })
            ]);
            // Everything delivered, except what waits for a Salesforce record (the
            // people only the platform knows) and Margaret's, refused by the rule.
            const left = await ledger.undeliveredUnsubscribes({ limit: 1000 });
            expect(
                left
                    .filter((u) => !u.email.endsWith('@mailbox.example'))
                    .map((u) => u.email)
            ).toEqual([margaretEmail]);
            // Tomás: refused first for lack of access, then delivered.
            const tomasAudit = (await ledger.auditForEmail(tomasEmail))
                .filter((a) =>
                    [
                        'delivery_failed',
                        'retry_requested',
                        'unsubscribe_delivered'
                    ].includes(a.action)
                )
                .sort((a, b) => a.id - b.id);
            expect(tomasAudit.map((a) => a.action)).toContain(
                'retry_requested'
            );
            expect(tomasAudit.at(-1)?.action).toBe('unsubscribe_delivered');
            expect(
                tomasAudit
                    .filter((a) => a.action === 'delivery_failed')
                    .map(
                        (a) =>
                            (JSON.parse(a.detail ?? '{}') as { code: string })
                                .code
                    )
            ).toContain('INSUFFICIENT_ACCESS_OR_READONLY');
            expect(
                await ledger.stuckRecords({ email: margaretEmail })
            ).toMatchObject([
                {
                    kind: 'unsubscribe',
                    errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                    state: 'retrying'
                }
            ]);
        } finally {
            await ledger.close();
        }

        // Mailchimp, both directions.
        const elena = people.get(ex.mailchimpPush)?.email as string;
        const noah = people.get(ex.mailchimpPull)?.email as string;
        const [newsletter, productUpdates] = AUDIENCES;
        // (a) Salesforce → Mailchimp: Elena's opt-out (nightly, R3b) pushed there.
        expect(await optOut(ids[ex.mailchimpPush])).toBe(true);
        expect(mc.admin.member(newsletter.id, elena)?.status).toBe(
            'unsubscribed'
        );
        expect(
            mc.admin
                .statusChanges()
                .filter((c) => c.email === elena && c.to === 'unsubscribed')
                .map((c) => c.source)
        ).toEqual(['api']);
        // (c) An audience unsubscribe made in Salesforce (Lucas, a Flow, R5c) reaches
        // Mailchimp for that audience only (R15).
        const lucasEmail = people.get(ex.salesforceAudienceUnsubscribe)
            ?.email as string;
        expect(
            mc.admin
                .statusChanges()
                .filter(
                    (c) =>
                        c.email === lucasEmail &&
                        c.to === 'unsubscribed' &&
                        c.source === 'api'
                )
                .map((c) => c.listId)
        ).toEqual([productUpdates.id]);
        // (b) Mailchimp → Salesforce: Noah left Product Updates with the link; the
        // pull took it into the ledger, the hourly wrote his membership row; his
        // Contact is not opted out (R5: one audience is not everything).
        expect(mc.admin.member(productUpdates.id, noah)?.status).toBe(
            'unsubscribed'
        );
        expect(mc.admin.member(newsletter.id, noah)?.status).toBe('subscribed');
        const rows = await t.conn.query<{
            Audience_Id__c: string;
            Status__c: string;
        }>(
            `SELECT Audience_Id__c, Status__c FROM Audience_Membership__c WHERE Contact__c = '${ids[ex.mailchimpPull]}'`
        );
        expect(
            Object.fromEntries(
                rows.records.map((r) => [r.Audience_Id__c, r.Status__c])
            )
        ).toEqual({
            [newsletter.id]: 'Subscribed',
            [productUpdates.id]: 'Unsubscribed'
        });
        expect(await optOut(ids[ex.mailchimpPull])).toBe(false);
        // The connector only ever unsubscribes.
        const changes = mc.admin.statusChanges();
        expect(
            changes.filter((c) => c.to === 'subscribed' && c.source === 'api')
        ).toEqual([]);
        expect(
            changes.filter((c) => c.source === 'api').length
        ).toBeGreaterThan(0);
        expect(first.mailchimp).toMatchObject({
            audiencesCreated: 3,
            pull: { unsubscribedInMailchimp: true, skipped: 0 },
            push: { failed: 0 }
        });
        expect(
            first.mailchimp.pull.audienceUnsubscribes
        ).toBeGreaterThanOrEqual(1);
        // Every change the connector made is one of its deliveries (some PATCHes
        // found the member unsubscribed already: delivered, no change).
        expect(first.mailchimp.push.delivered).toBeGreaterThanOrEqual(
            changes.filter((c) => c.source === 'api').length
        );
        expect(first.mailchimp.pull.apiRequests).toBeGreaterThan(0);
        expect(first.examples.at(-1)?.story).toMatch(
            /wrote Audience_Membership__c a\w+ as Unsubscribed/
        );
        expect(first.examples.at(-2)?.story).toMatch(
            /set her unsubscribed in Monthly Newsletter\./
        );
        // The members the push unsubscribed come back on the next pull; the demo
        // runs it (and the hourly) so that the loop is closed when it ends.
        expect(first.mailchimp.readback.membershipsChanged).toBeGreaterThan(0);
        expect(first.jobs.readback.membershipsUpserted).toBeGreaterThan(0);

        const text = renderSummary(first);
        expect(text).toMatch(/^Demo finished in/);
        expect(text).toContain('mailchimp pull');
        expect(text).toContain('mailchimp push');
        expect(text).toContain('optout history --email');
        expect(text).toContain('Refused by Salesforce (optout status)');
        expect(text).toContain('A validation rule refuses the write');
        expect(text).toContain('What to do:');
        // Fitted to the terminal: at 80 and 160 columns no line is wider.
        for (const columns of [80, 160]) {
            const lines = renderSummary(first, columns).split('\n');
            expect(
                Math.max(...lines.map((l) => [...l].length))
            ).toBeLessThanOrEqual(columns);
        }
    });

    it('runs again cleanly on the same data: nothing seeded, the jobs write nothing (R11)', async () => {
        const second = await runDemo(options);
        expect(second.seeded).toBe(false);
        expect(second.data.ledgerPersons).toBe(first.data.ledgerPersons);
        expect(second.burst).toMatchObject({
            recorded: 0,
            already: first.burst.webhookCalls,
            pushes: 0
        });
        expect(second.changes).toMatchObject({
            fieldWrites: {},
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0,
            membershipsUpserted: 0,
            unsubscribesDelivered: 0,
            failed: 0
        });
        expect(second.apiRequests.push).toBe(0);
        // Mailchimp reused: nothing new pulled, nothing pushed again.
        expect(second.mailchimp).toMatchObject({
            audiencesCreated: 0,
            pull: { unsubscribedInMailchimp: false, membershipsChanged: 0 },
            push: { mode: 'none', delivered: 0 },
            readback: { membershipsChanged: 0 }
        });
        // Margaret is still stuck (her back-off is not over): nothing marks her
        // unsubscribe delivered while Salesforce has not taken it.
        expect(second.fixed).toBeNull();
        expect(second.stuck.byReason.map((g) => g.reason)).toEqual([
            'validation_rule'
        ]);
        expect(renderSummary(second)).toMatch(/^Demo run again/);
        const narrow = renderSummary(second, 80).split('\n');
        expect(
            Math.max(...narrow.map((l) => [...l].length))
        ).toBeLessThanOrEqual(80);
    });

    it('leaves a ledger it did not make alone, and says how to run beside it', async () => {
        const other = join(dir, 'someone-else.db');
        const l = await Ledger.open(other);
        await l.upsertPerson({ email: 'real.customer@example.com' });
        await l.close();
        let error: unknown;
        try {
            await runDemo({ ...options, ledgerPath: other });
        } catch (err) {
            error = err;
        }
        expect(error).toBeInstanceOf(OptoutError);
        expect((error as OptoutError).code).toBe('NOT_DEMO_DATA');
        expect((error as OptoutError).actions[0]).toMatch(/--ledger .*--db/);
        const after = await Ledger.open(other);
        expect((await after.status()).persons).toBe(1);
        await after.close();
    });
});
