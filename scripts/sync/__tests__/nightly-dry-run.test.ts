/**
 * The nightly's dry run, pinned: the plan (counts and sample), the skip counts, the
 * modes and the reconciliation of a full and of an incremental run, exactly; and that
 * it writes nothing — no Salesforce write request, no ledger row changed but its own
 * run's and the job lock's — while the real run that follows writes what it planned.
 */
import type { Ledger } from '../../ledger/ledger';
import { tableRows } from '../../ledger/inspect';
import { NIGHTLY_CURSOR } from '../nightly';
import type { JobResult } from '../result';
import { setup, unsubscribe, type Fixture } from './fixture';

let f: Fixture;
afterEach(async () => {
    await f?.close();
});

/** Every ledger row but the runs' and the locks' (a dry run records its run). */
function ledgerRows(ledger: Ledger): Promise<Record<string, unknown[]>> {
    return tableRows(ledger, ['runs', 'locks']);
}

/** The result as JSON, ids named, without what differs between two runs. */
function pinned(
    r: JobResult,
    names: Record<string, string>,
    times: Record<string, string> = {}
): unknown {
    const {
        runId: _r,
        startedAt: _s,
        durationMs: _d,
        apiUsage: _u,
        ...rest
    } = r;
    let text = JSON.stringify(rest, null, 1);
    for (const [value, name] of Object.entries({ ...names, ...times }))
        text = text.split(value).join(name);
    return JSON.parse(text) as unknown;
}

/** Salesforce write requests (Collections, Bulk ingest, single records) and records changed. */
function writes(): Record<string, unknown> {
    const stats = f.t.admin.stats();
    return {
        ...Object.fromEntries(
            Object.entries(stats.byKind).filter(([kind]) =>
                [
                    'collections',
                    'bulkIngest',
                    'sobjectCreate',
                    'sobjectUpdate',
                    'sobjectDelete',
                    'sobjectUpsert'
                ].includes(kind)
            )
        ),
        ...stats.records
    };
}

const NO_WRITES = { inserted: 0, updated: 0, deleted: 0 };

/**
 * Contacts: unsubscribed with the field false (twice by email, R8), opted out in
 * Salesforce only, unsubscribed and opted out already, without email, stuck (refused, in back-off, R14); a Lead unsubscribed; a converted Lead opted
 * out; an unsubscribe with no record.
 */
async function seed(): Promise<Record<string, string>> {
    f = await setup();
    await f.settings({ nightlySyncEnabled: true });
    const [a, a2, b, c, none, stuck] = await f.contacts([
        { LastName: 'A', Email: 'a@example.com' },
        { LastName: 'A2', Email: 'A@Example.com' },
        { LastName: 'B', Email: 'b@example.com', HasOptedOutOfEmail: true },
        { LastName: 'C', Email: 'c@example.com', HasOptedOutOfEmail: true },
        { LastName: 'None', HasOptedOutOfEmail: true },
        { LastName: 'Stuck', Email: 'stuck@example.com' }
    ]);
    const [lead, conv] = await f.leads([
        { LastName: 'L', Email: 'l@example.com' },
        {
            LastName: 'Conv',
            Email: 'conv@example.com',
            HasOptedOutOfEmail: true
        }
    ]);
    const { contactId } = f.t.admin.convertLead(conv);
    await f.t.conn
        .sobject('Contact')
        .update({ Id: contactId, HasOptedOutOfEmail: false });
    const [, , , , stuckId] = await unsubscribe(f.ledger, [
        'a@example.com',
        'c@example.com',
        'l@example.com',
        'gone@example.com',
        'stuck@example.com'
    ]);
    await f.ledger.recordUnsubscribeAttempts(
        [
            {
                id: stuckId,
                outcome: 'failed',
                error: {
                    code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                    message: 'refused',
                    recordId: stuck,
                    object: 'Contact'
                }
            }
        ],
        { at: new Date().toISOString(), delay: () => 3_600_000 }
    );
    const ids = { a, a2, b, c, none, stuck, lead, conv, contactId };
    return Object.fromEntries(
        Object.entries(ids).map(([name, id]) => [id, `<${name}>`])
    );
}

const SETTINGS = {
    allAudiencesRule: false,
    applyToSameEmail: true,
    fieldWritten: 'HasOptedOutOfEmail',
    nightlySyncEnabled: true,
    optOutField: 'HasOptedOutOfEmail',
    source: 'org-default'
};

function fieldWrite(
    id: string,
    object: string,
    email: string
): Record<string, unknown> {
    return { object, id, field: 'HasOptedOutOfEmail', value: true, email };
}

describe('the nightly dry run', () => {
    it('full: plans exactly what the run writes, and writes nothing', async () => {
        const names = await seed();
        const before = await ledgerRows(f.ledger);
        f.reset();
        const dry = await f.run('nightly', { dryRun: true });
        expect(writes()).toEqual(NO_WRITES);
        expect(await ledgerRows(f.ledger)).toEqual(before);
        expect(pinned(dry, names)).toEqual({
            job: 'nightly',
            dryRun: true,
            targetOrg: 'local',
            apiRequests: 5,
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0,
            membershipsUpserted: 0,
            unsubscribesDelivered: 0,
            skipped: {
                already_opted_out: 1,
                converted_lead: 1,
                no_email: 1,
                no_matching_record: 1,
                stuck_record: 1
            },
            failed: [],
            retried: { requests: 0, records: 0 },
            deferred: null,
            status: 'succeeded',
            settings: SETTINGS,
            modes: {
                'read Contact': 'rest',
                'read Lead': 'rest',
                reconciliation: 'full'
            },
            reconciliation: {
                ledgerPersons: null,
                mode: 'full',
                reason: 'no successful nightly is recorded',
                recordsRead: 9
            },
            plan: {
                deliveries: 3,
                fieldWrites: 3,
                ledgerUnsubscribes: 1,
                membershipUpserts: 0,
                pendingCleared: 0,
                sample: [
                    {
                        email: 'b@example.com',
                        ledger: 'unsubscribe',
                        scope: 'all',
                        source: 'salesforce'
                    },
                    fieldWrite('<a>', 'Contact', 'a@example.com'),
                    fieldWrite('<a2>', 'Contact', 'a@example.com'),
                    fieldWrite('<lead>', 'Lead', 'l@example.com')
                ]
            }
        });
        // The real run writes what was planned, and delivers what was planned (c's,
        // confirmed already; a's and l's, whose records it writes) and b's, which it
        // records from its record first (a plan records nothing).
        const real = await f.run('nightly', { org: f.newClient() });
        expect(real.recordsWritten).toBe(dry.plan?.fieldWrites);
        expect(real.ledgerUnsubscribesAdded).toBe(dry.plan?.ledgerUnsubscribes);
        expect(real.unsubscribesDelivered).toBe(4);
        expect(real.unsubscribesDelivered).toBe(
            (dry.plan?.deliveries ?? 0) + (dry.plan?.ledgerUnsubscribes ?? 0)
        );
    });

    it('incremental: plans the changes since the last run, and writes nothing', async () => {
        const names = await seed();
        const first = await f.run('nightly');
        const c2 = (
            await f.contacts([
                { LastName: 'D', Email: 'd@example.com' },
                {
                    LastName: 'E',
                    Email: 'e@example.com',
                    HasOptedOutOfEmail: true
                }
            ])
        ).map((id, i) => [id, `<${['d', 'e'][i]}>`] as const);
        await unsubscribe(f.ledger, ['d@example.com']);
        const before = await ledgerRows(f.ledger);
        f.reset();
        const dry = await f.run('nightly', {
            dryRun: true,
            org: f.newClient()
        });
        expect(writes()).toEqual(NO_WRITES);
        expect(await ledgerRows(f.ledger)).toEqual(before);
        expect(
            await f.ledger.getCursor(NIGHTLY_CURSOR.job, NIGHTLY_CURSOR.name)
        ).toBe(first.startedAt);
        expect(
            pinned(
                dry,
                { ...names, ...Object.fromEntries(c2) },
                {
                    [first.startedAt]: '<first run>',
                    [dry.reconciliation?.since ?? '-']: '<since>'
                }
            )
        ).toEqual({
            job: 'nightly',
            dryRun: true,
            targetOrg: 'local',
            apiRequests: 6, // the Contacts and Leads created since in one Composite request (read ahead)
            recordsWritten: 0,
            ledgerUnsubscribesAdded: 0,
            membershipsUpserted: 0,
            unsubscribesDelivered: 0,
            skipped: {
                already_opted_out: 5,
                converted_lead: 1,
                no_email: 1,
                no_matching_record: 1,
                stuck_record: 1
            },
            failed: [],
            retried: { requests: 0, records: 0 },
            deferred: null,
            status: 'succeeded',
            settings: SETTINGS,
            modes: {
                'read Contact': 'rest',
                'read Lead': 'rest',
                'read ledger changes': 'lookup',
                reconciliation: 'incremental'
            },
            reconciliation: {
                ledgerPersons: 3,
                mode: 'incremental',
                reason: 'changes since the last successful nightly (<first run>), with a 10-minute look-back',
                recordsRead: 11,
                since: '<since>'
            },
            plan: {
                deliveries: 1,
                fieldWrites: 1,
                ledgerUnsubscribes: 1,
                membershipUpserts: 0,
                pendingCleared: 0,
                sample: [
                    {
                        email: 'e@example.com',
                        ledger: 'unsubscribe',
                        scope: 'all',
                        source: 'salesforce'
                    },
                    fieldWrite('<d>', 'Contact', 'd@example.com')
                ]
            }
        });
        const real = await f.run('nightly', { org: f.newClient() });
        expect(real.recordsWritten).toBe(dry.plan?.fieldWrites);
        expect(real.ledgerUnsubscribesAdded).toBe(dry.plan?.ledgerUnsubscribes);
        expect(real.unsubscribesDelivered).toBe(
            (dry.plan?.deliveries ?? 0) + (dry.plan?.ledgerUnsubscribes ?? 0)
        );
    });
});
