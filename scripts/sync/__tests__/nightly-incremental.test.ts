/**
 * R16 for the nightly: incremental reads (records changed in Salesforce since the last
 * successful run, with a look-back, plus the records of persons changed in the ledger)
 * and the full reconciliation (on demand, on the first run, after a long gap, weekly).
 *
 * The local org stamps SystemModstamp with Date.now(): `at(offset, …)` runs a step with
 * the org's clock — and the run's (`now`) — moved back by `offset`, so that a test can
 * lay out a history over hours: seeds at −5 h, the first (full) run at −4 h, … A record
 * edited "at −4 h 30" while the cursor is later simulates one whose SystemModstamp
 * does not show its change (restored from a backup), which only a full run finds.
 */
import fc from 'fast-check';
import { JobFailed } from '../run';
import type { RunJobOptions } from '../run';
import type { JobResult } from '../result';
import {
    NIGHTLY_CURSOR,
    NIGHTLY_EVENT_CURSOR,
    NIGHTLY_FULL_CURSOR
} from '../nightly';
import {
    DEFAULT_FULL_EVERY_MS,
    DEFAULT_LOOKBACK_MS,
    MAX_INCREMENTAL_GAP_MS,
    chooseNightlyMode,
    parseNightlyDuration,
    resolveNightlyOptions
} from '../nightly-mode';
import { emails, people, setup, unsubscribe, type Fixture } from './fixture';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const realNow = Date.now.bind(Date);

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

/** Runs `fn` with Date.now() (the local org's clock) `offsetMin` minutes from now. */
async function at<T>(offsetMin: number, fn: () => Promise<T>): Promise<T> {
    const spy = jest
        .spyOn(Date, 'now')
        .mockImplementation(() => realNow() + offsetMin * MIN);
    try {
        return await fn();
    } finally {
        spy.mockRestore();
    }
}

/** A nightly run whose clock (and the org's) is `offsetMin` minutes from now. */
function nightlyAt(
    offsetMin: number,
    options: Partial<RunJobOptions> = {}
): Promise<JobResult> {
    return at(offsetMin, () =>
        f.run('nightly', {
            now: () => new Date(Date.now()),
            org: f.newClient(),
            ...options
        })
    );
}

async function setField(
    object: 'Contact' | 'Lead',
    id: string,
    value: boolean
): Promise<void> {
    await f.t.conn
        .sobject(object)
        .update({ Id: id, HasOptedOutOfEmail: value });
}

/**
 * 30 Contacts and 10 Leads (person0..39) seeded at −5 h, person10..24 unsubscribed in
 * the ledger; a full run at −4 h (the first: no cursor) and an incremental one at
 * −200 min (it re-reads the first run's writes, within the look-back). Quiet since.
 */
async function baseline(): Promise<{ contacts: string[]; leads: string[] }> {
    f = await setup();
    await f.settings({ nightlySyncEnabled: true });
    const contacts = await at(-300, () => f.contacts(people(30)));
    const leads = await at(-300, () =>
        f.leads(people(10, { type: 'Lead', offset: 30 }))
    );
    await unsubscribe(f.ledger, emails(15, 10));
    const first = await nightlyAt(-240);
    expect(first.reconciliation).toMatchObject({
        mode: 'full',
        reason: 'no successful nightly is recorded',
        recordsRead: 40
    });
    expect(first.recordsWritten).toBe(15);
    const second = await nightlyAt(-200);
    expect(second.reconciliation).toMatchObject({
        mode: 'incremental',
        recordsRead: 15
    });
    expect(second.recordsWritten).toBe(0);
    return { contacts, leads };
}

describe('R16 incremental nightly', () => {
    it('with nothing new reads no record, writes nothing and costs a handful of requests (R11)', async () => {
        await baseline();
        f.reset();
        const quiet = await nightlyAt(-100);
        expect(quiet).toMatchObject({
            status: 'succeeded',
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0,
            unsubscribesDelivered: 0,
            modes: expect.objectContaining({ reconciliation: 'incremental' }),
            reconciliation: {
                mode: 'incremental',
                recordsRead: 0,
                ledgerPersons: 0,
                since: expect.any(String)
            }
        });
        // Settings, two describes (R7), one changed-records query per object (the
        // two in one Composite request: OrgClient.readAhead).
        expect(quiet.apiRequests).toBe(4);
        expect(f.t.admin.stats().byKind).toEqual({
            query: 1,
            describe: 2,
            composite: 1
        });
        expect(f.t.admin.stats().records.updated).toBe(0);
        expect(
            await f.ledger.getCursor(NIGHTLY_CURSOR.job, NIGHTLY_CURSOR.name)
        ).toBe(quiet.startedAt);
        // The full run still reads all 40.
        f.reset();
        const full = await nightlyAt(-90, { nightly: { full: true } });
        expect(full.reconciliation).toMatchObject({
            mode: 'full',
            reason: 'requested (--full)',
            recordsRead: 40
        });
        expect(full.recordsWritten).toBe(0);
        expect(
            await f.ledger.getCursor(
                NIGHTLY_FULL_CURSOR.job,
                NIGHTLY_FULL_CURSOR.name
            )
        ).toBe(full.startedAt);
    });

    it('reconciles a record changed in Salesforce after the last run, reading only it', async () => {
        const { contacts } = await baseline();
        // An admin unchecks the Contact of an unsubscribed person.
        await at(-60, () => setField('Contact', contacts[12], false));
        const r = await nightlyAt(-50);
        expect(r.reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 1
        });
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Contact', [contacts[12]])).toEqual({
            [contacts[12]]: true
        });
        // A record checked in Salesforce becomes a ledger unsubscribe (R3b).
        await at(-40, () => setField('Contact', contacts[3], true));
        const b = await nightlyAt(-30);
        expect(b.ledgerUnsubscribesAdded).toBe(1);
        expect(
            (await f.ledger.history('person3@example.com')).unsubscribes[0]
        ).toMatchObject({
            source: 'salesforce',
            deliveredAt: expect.any(String)
        });
    });

    it('sets the field on a new Lead sharing an unsubscribed person’s email (R8)', async () => {
        await baseline();
        const [lead] = await at(-60, () =>
            f.leads([{ LastName: 'New', Email: 'PERSON14@example.com' }])
        );
        const r = await nightlyAt(0);
        expect(r.reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 1
        });
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Lead', [lead])).toEqual({ [lead]: true });
    });

    it('writes the Contact of a converted Lead (R9), also when only the Contact changed later', async () => {
        await baseline();
        // A person linked to a Lead by id only (its email matches no record).
        const [lead] = await at(-300, () =>
            f.leads([{ LastName: 'Conv', Email: 'conv@example.com' }])
        );
        await f.ledger.recordUnsubscribe({
            email: 'someone.else@example.com',
            salesforceId: lead,
            scope: 'all',
            source: 'webhook'
        });
        const written = await nightlyAt(-180);
        expect(written.reconciliation?.mode).toBe('incremental');
        expect(written.recordsWritten).toBe(1);
        expect(written.unsubscribesDelivered).toBe(1);
        const { contactId } = await at(-150, async () =>
            f.t.admin.convertLead(lead)
        );
        await nightlyAt(-120);
        // Now only the Contact changes: an admin unchecks it.
        await at(-30, () => setField('Contact', contactId, false));
        const r = await nightlyAt(0);
        // The Contact, and the Lead converted into it (read because of it).
        expect(r.reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 2
        });
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Contact', [contactId])).toEqual({
            [contactId]: true
        });
    });

    it('brings a new ledger unsubscribe to all its records, untouched in Salesforce', async () => {
        await baseline();
        const [oldLead] = await at(-300, () =>
            f.leads([{ LastName: 'Old', Email: 'person5@example.com' }])
        );
        await unsubscribe(f.ledger, ['person5@example.com']);
        f.reset();
        const r = await nightlyAt(0);
        expect(r.reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 2,
            ledgerPersons: 1
        });
        expect(r.recordsWritten).toBe(2);
        expect(r.unsubscribesDelivered).toBe(1);
        expect(await f.values('Lead', [oldLead])).toEqual({ [oldLead]: true });
        expect(await f.ledger.countUndelivered()).toBe(0);
    });

    it('marks delivered only an unsubscribe whose records were all read, and counts skips over those', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        const [contact] = await at(-300, () =>
            f.contacts([{ LastName: 'W', Email: 'w.old@example.com' }])
        );
        const [w] = await unsubscribe(f.ledger, ['w@example.com']);
        const first = await nightlyAt(-240);
        expect(first.skipped).toMatchObject({ no_matching_record: 1 });
        // The push found no record for it: it waits a day before its next attempt.
        await f.ledger.recordUnsubscribeAttempts(
            [{ id: w, outcome: 'no_matching_record' }],
            { at: new Date().toISOString(), delay: () => DAY }
        );
        await nightlyAt(-200);
        // The Contact's email becomes w@ with a stamp the incremental does not see…
        await at(-230, () =>
            f.t.conn
                .sobject('Contact')
                .update({ Id: contact, Email: 'w@example.com' })
        );
        // …and a new Lead with w@ is created.
        const [lead] = await at(-60, () =>
            f.leads([{ LastName: 'W', Email: 'w@example.com' }])
        );
        const r = await nightlyAt(0);
        expect(r.reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 1,
            ledgerPersons: 0
        });
        // The Lead is written (true is right whatever else), the unsubscribe is not
        // delivered: its Contact was not read. No skip is counted for it.
        expect(r.recordsWritten).toBe(1);
        expect(await f.values('Lead', [lead])).toEqual({ [lead]: true });
        expect(r.unsubscribesDelivered).toBe(0);
        expect(r.skipped).toEqual({});
        expect((await f.ledger.getUnsubscribe(w))?.deliveredAt).toBeNull();
        // The full run reads the Contact: written, and the unsubscribe delivered.
        const full = await nightlyAt(0, { nightly: { full: true } });
        expect(full.recordsWritten).toBe(1);
        expect(full.unsubscribesDelivered).toBe(1);
        expect(await f.values('Contact', [contact])).toEqual({
            [contact]: true
        });
    });
});

describe('R16 cost at volume', () => {
    it('a nothing-new incremental makes 4 requests where the full one reads every record through Bulk', async () => {
        f = await setup({
            client: {
                restPageSize: 200,
                bulkThreshold: 200,
                bulkQueryPageSize: 1000,
                bulkJobSize: 1500
            }
        });
        await f.settings({ nightlySyncEnabled: true });
        await at(-300, async () => {
            await f.contacts(people(6000));
            await f.leads(people(2000, { type: 'Lead', offset: 6000 }));
        });
        await unsubscribe(f.ledger, emails(300));
        const cold = await nightlyAt(-240);
        expect(cold.recordsWritten).toBe(300);
        await nightlyAt(-200);
        f.reset();
        const quiet = await nightlyAt(-100);
        const quietStats = f.t.admin.stats();
        f.reset();
        const full = await nightlyAt(-90, { nightly: { full: true } });
        const fullStats = f.t.admin.stats();
        const line = (r: JobResult, stats: typeof fullStats): string =>
            `${r.reconciliation?.mode}: ${r.apiRequests} requests (${JSON.stringify(stats.byKind)}), ${r.reconciliation?.recordsRead} records read`;
        if (process.env.OPTOUT_NIGHTLY_COSTS)
            process.stdout.write(
                `nightly with nothing new at 8,000 records — ${line(quiet, quietStats)}; ${line(full, fullStats)}\n`
            );
        expect(quiet.reconciliation).toMatchObject({
            mode: 'incremental',
            recordsRead: 0
        });
        expect(quiet.apiRequests).toBe(4);
        expect(full.reconciliation).toMatchObject({
            mode: 'full',
            recordsRead: 8000
        });
        expect(fullStats.byKind.bulkQueryResults).toBe(8);
        expect(full.apiRequests).toBeGreaterThan(quiet.apiRequests + 8);
        expect(full.recordsWritten + quiet.recordsWritten).toBe(0);
    });
});

describe('R16 full reconciliation', () => {
    it('--full finds drift no SystemModstamp shows; the incremental does not', async () => {
        const { contacts } = await baseline();
        // Unchecked with a stamp older than the cursor (a record restored from a backup).
        await at(-230, () => setField('Contact', contacts[20], false));
        const incremental = await nightlyAt(0);
        expect(incremental.reconciliation?.mode).toBe('incremental');
        expect(incremental.recordsWritten).toBe(0);
        expect(await f.values('Contact', [contacts[20]])).toEqual({
            [contacts[20]]: false
        });
        const full = await nightlyAt(0, { nightly: { full: true } });
        expect(full.reconciliation).toMatchObject({
            mode: 'full',
            recordsRead: 40
        });
        expect(full.recordsWritten).toBe(1);
        expect(await f.values('Contact', [contacts[20]])).toEqual({
            [contacts[20]]: true
        });
    });

    it('runs by itself weekly, after a long gap and when the ledger cursor is missing', async () => {
        f = await setup();
        await f.settings({ nightlySyncEnabled: true });
        await f.contacts(people(3));
        const t0 = Date.now();
        const run = (
            offsetMs: number,
            nightly: RunJobOptions['nightly'] = {}
        ): Promise<JobResult> =>
            f.run('nightly', {
                now: () => new Date(t0 + offsetMs),
                nightly
            });
        expect((await run(0)).reconciliation?.mode).toBe('full');
        expect((await run(DAY)).reconciliation?.mode).toBe('incremental');
        const weekly = await run(7 * DAY + MIN);
        expect(weekly.reconciliation).toMatchObject({
            mode: 'full',
            reason: expect.stringMatching(
                /the last full reconciliation \(.*\) is 7 days old or more/
            )
        });
        expect((await run(8 * DAY)).reconciliation?.mode).toBe('incremental');
        // Never by age, but a gap longer than 15 days: full.
        const gap = await run(8 * DAY + 16 * DAY, { fullEveryMs: Infinity });
        expect(gap.reconciliation).toMatchObject({
            mode: 'full',
            reason: expect.stringMatching(/older than 15 days/)
        });
        // A ledger from before incremental reads: no sequence cursor.
        await f.ledger.setCursor(
            NIGHTLY_EVENT_CURSOR.job,
            NIGHTLY_EVENT_CURSOR.name,
            ''
        );
        expect(
            (await run(25 * DAY, { fullEveryMs: Infinity })).reconciliation
        ).toMatchObject({
            mode: 'full',
            reason: expect.stringMatching(/ledger cursor/)
        });
        // The status shows which mode ran and why.
        const stored = await f.ledger.getRun(gap.runId);
        expect(stored?.result).toMatchObject({
            reconciliation: { mode: 'full' },
            modes: { reconciliation: 'full' }
        });
    });

    it('a run that fails moves no cursor: the next one is full again', async () => {
        f = await setup({
            org: { deploy: 'scripts/sync/__tests__/fixtures/settings-only' }
        });
        await f.settings({
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        await expect(f.run('nightly')).rejects.toBeInstanceOf(JobFailed);
        expect(
            await f.ledger.getCursor(NIGHTLY_CURSOR.job, NIGHTLY_CURSOR.name)
        ).toBeUndefined();
        expect(
            await f.ledger.getCursor(
                NIGHTLY_FULL_CURSOR.job,
                NIGHTLY_FULL_CURSOR.name
            )
        ).toBeUndefined();
    });
});

describe('R16 mode choice', () => {
    const options = resolveNightlyOptions({}, {});
    const now = new Date('2026-05-20T03:00:00.000Z');
    const iso = (ms: number): string => new Date(ms).toISOString();

    it('has documented defaults and reads the environment', () => {
        expect(options).toEqual({
            full: false,
            lookbackMs: DEFAULT_LOOKBACK_MS,
            fullEveryMs: DEFAULT_FULL_EVERY_MS
        });
        expect(DEFAULT_LOOKBACK_MS).toBe(10 * MIN);
        expect(DEFAULT_FULL_EVERY_MS).toBe(7 * DAY);
        expect(MAX_INCREMENTAL_GAP_MS).toBe(15 * DAY);
        expect(
            resolveNightlyOptions(
                {},
                {
                    OPTOUT_NIGHTLY_LOOKBACK: '30m',
                    OPTOUT_NIGHTLY_FULL_EVERY: 'off'
                }
            )
        ).toEqual({ full: false, lookbackMs: 30 * MIN, fullEveryMs: Infinity });
        expect(
            resolveNightlyOptions(
                { fullEveryMs: DAY },
                { OPTOUT_NIGHTLY_FULL_EVERY: '3d' }
            ).fullEveryMs
        ).toBe(DAY);
        expect(parseNightlyDuration('36h', 'x', 'interval')).toBe(
            36 * 60 * MIN
        );
        expect(parseNightlyDuration('2', 'x', 'interval')).toBe(2 * DAY);
        expect(parseNightlyDuration('15', 'x', 'lookback')).toBe(15 * MIN);
        expect(() =>
            resolveNightlyOptions({}, { OPTOUT_NIGHTLY_LOOKBACK: '2d' })
        ).toThrow(/OPTOUT_NIGHTLY_LOOKBACK must be a duration/);
        expect(() =>
            parseNightlyDuration('soon', '--full-every', 'interval')
        ).toThrow(/--full-every must be a duration such as 7d/);
    });

    it('reads from the last success less the look-back', () => {
        const last = now.getTime() - DAY;
        const choice = chooseNightlyMode({
            options,
            now,
            lastSuccess: iso(last),
            eventCursor: '42',
            lastFull: iso(last - DAY)
        });
        expect(choice).toEqual({
            mode: 'incremental',
            reason: expect.stringContaining('10-minute look-back'),
            since: iso(last - 10 * MIN)
        });
    });

    it('is full when asked, with no cursor, a bad one, a future one or an old full run', () => {
        const base = {
            options,
            now,
            lastSuccess: iso(now.getTime() - DAY),
            eventCursor: '7',
            lastFull: iso(now.getTime() - 2 * DAY)
        };
        const reason = (patch: Partial<typeof base>): string => {
            const c = chooseNightlyMode({ ...base, ...patch });
            expect(c.mode).toBe('full');
            return c.reason;
        };
        expect(reason({ options: { ...options, full: true } })).toBe(
            'requested (--full)'
        );
        expect(reason({ lastSuccess: undefined })).toMatch(/no successful/);
        expect(reason({ lastSuccess: 'garbage' })).toMatch(/no successful/);
        expect(reason({ eventCursor: undefined })).toMatch(/ledger cursor/);
        expect(reason({ lastSuccess: iso(now.getTime() + DAY) })).toMatch(
            /in the future/
        );
        expect(reason({ lastFull: undefined })).toMatch(
            /no full reconciliation/
        );
        expect(reason({ lastFull: iso(now.getTime() - 7 * DAY) })).toMatch(
            /7 days old/
        );
        expect(
            reason({
                lastSuccess: iso(now.getTime() - 16 * DAY),
                options: { ...options, fullEveryMs: Infinity }
            })
        ).toMatch(/older than 15 days/);
        expect(
            chooseNightlyMode({
                ...base,
                lastFull: undefined,
                options: { ...options, fullEveryMs: Infinity }
            }).mode
        ).toBe('incremental');
    });
});

describe('R16 property: incremental then full', () => {
    type Op =
        | { kind: 'unsub'; p: number }
        | { kind: 'edit'; r: number; value: boolean }
        | {
              kind: 'create';
              object: 'Contact' | 'Lead';
              p: number;
              value: boolean;
          }
        | { kind: 'convert'; r: number };
    const P = 6;
    const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('unsub' as const), p: fc.nat(P - 1) }),
        fc.record({
            kind: fc.constant('edit' as const),
            r: fc.nat(50),
            value: fc.boolean()
        }),
        fc.record({
            kind: fc.constant('create' as const),
            object: fc.constantFrom('Contact' as const, 'Lead' as const),
            p: fc.nat(P - 1),
            value: fc.boolean()
        }),
        fc.record({ kind: fc.constant('convert' as const), r: fc.nat(50) })
    );

    it('after any history an incremental nightly leaves nothing for a full one', async () => {
        await fc.assert(
            fc.asyncProperty(
                fc.array(op, { minLength: 1, maxLength: 10 }),
                async (ops) => {
                    f = await setup();
                    try {
                        // Several records share an email: the org's duplicate
                        // rules would refuse the edits.
                        f.t.admin.setOptions({ duplicateRules: false });
                        await f.settings({ nightlySyncEnabled: true });
                        const records: {
                            id: string;
                            object: 'Contact' | 'Lead';
                            converted: boolean;
                        }[] = [];
                        const seed = async (
                            object: 'Contact' | 'Lead',
                            p: number,
                            value: boolean
                        ): Promise<void> => {
                            const row = {
                                LastName: `P${p}`,
                                Email: `person${p}@example.com`,
                                HasOptedOutOfEmail: value
                            };
                            const [id] =
                                object === 'Contact'
                                    ? await f.contacts([row])
                                    : await f.leads([row]);
                            records.push({ id, object, converted: false });
                        };
                        await at(-300, async () => {
                            await seed('Contact', 0, false);
                            await seed('Lead', 1, true);
                            await seed('Lead', 2, false);
                            await seed('Contact', 3, false);
                        });
                        await unsubscribe(f.ledger, ['person0@example.com']);
                        await nightlyAt(-240);
                        await nightlyAt(-200);
                        await at(-150, async () => {
                            for (const o of ops) {
                                if (o.kind === 'unsub')
                                    await unsubscribe(f.ledger, [
                                        `person${o.p}@example.com`
                                    ]);
                                else if (o.kind === 'create')
                                    await seed(o.object, o.p, o.value);
                                else {
                                    const open = records.filter(
                                        (r) => !r.converted
                                    );
                                    const r = open[o.r % open.length];
                                    if (!r) continue;
                                    if (o.kind === 'edit')
                                        await setField(r.object, r.id, o.value);
                                    else if (r.object === 'Lead') {
                                        const { contactId } =
                                            f.t.admin.convertLead(r.id);
                                        r.converted = true;
                                        records.push({
                                            id: contactId,
                                            object: 'Contact',
                                            converted: false
                                        });
                                    }
                                }
                            }
                        });
                        const incremental = await nightlyAt(-100);
                        expect(incremental.reconciliation?.mode).toBe(
                            'incremental'
                        );
                        const full = await nightlyAt(-90, {
                            nightly: { full: true }
                        });
                        expect({
                            recordsWritten: full.recordsWritten,
                            ledgerUnsubscribesAdded:
                                full.ledgerUnsubscribesAdded,
                            unsubscribesDelivered: full.unsubscribesDelivered
                        }).toEqual({
                            recordsWritten: 0,
                            ledgerUnsubscribesAdded: 0,
                            unsubscribesDelivered: 0
                        });
                    } finally {
                        await f.close();
                        f = undefined as unknown as Fixture;
                    }
                }
            ),
            { numRuns: 25 }
        );
    }, 300_000);
});
