/**
 * Property-based histories (fast-check): random sequences of ledger unsubscribes and
 * resubscribes, platform membership changes, edits made by Salesforce users (checking
 * and unchecking opt-out fields, changing audience rows in the component, creating
 * records, linking a person to a record), and job runs under random faults.
 *
 * Invariants, after every step:
 * - the sync never sends an opt-out field set to false, and no field true before a run
 *   is false after it (R4: nobody re-subscribed by the sync);
 * - no ledger unsubscribe is removed except by `resubscribe` (R4);
 * and at the end, once the org is healthy and the jobs have run:
 * - every unsubscribe with a record is delivered, and every delivered one is in the org
 *   (R11; global ones where a user may have unchecked the field only with nightly on,
 *   which puts it back, R3a);
 * - a further round of the three jobs writes nothing (R11 idempotence);
 * - the JobResults agree with the audit trail (R10).
 */
import fc from 'fast-check';
import { to18 } from '../../model/ids';
import type { OptOutField } from '../../model/schema';
import {
    DUPLICATE_RULE_HEADER,
    type OrgClientOptions
} from '../../salesforce/client';
import type { JobName, JobResult } from '../../sync/result';
import {
    auditProblems,
    deliveryCheck,
    falseWrites,
    idleRound,
    readPeople,
    removedWithoutResubscribe
} from './checks';
import { JOB_ORDER } from './matrix';
import { World } from './world';

export const PERSONS = [
    'ana@example.com',
    'bo@example.com',
    'cy@example.com',
    'di@example.com',
    'ed@example.com',
    'flo@example.com'
] as const;
const AUDIENCE_IDS = ['news', 'offers'] as const;
const STATUSES = ['Subscribed', 'Unsubscribed', 'Cleaned', 'Pending'] as const;
export const FAULTS = [
    '',
    '',
    '503:0.3',
    '500:next=2',
    '429:0.3',
    'lock:0.4',
    'drop:0.2',
    'drop-after:0.25',
    'bulkfail:0.5',
    '503:0.1,lock:0.2,drop-after:0.1,bulkfail:0.3'
] as const;

export type Command =
    | { kind: 'unsub'; p: number; audience: string | null }
    | { kind: 'resub'; p: number; audience: string | null }
    | { kind: 'member'; p: number; audience: string; status: string }
    | {
          kind: 'sfField';
          rec: number;
          field: OptOutField;
          value: boolean;
      }
    | {
          kind: 'sfMember';
          rec: number;
          audience: string;
          status: string;
          flow: boolean;
      }
    | { kind: 'sfCreate'; p: number; object: 'Contact' | 'Lead' }
    | { kind: 'link'; p: number; rec: number }
    | { kind: 'run'; job: JobName; fault: string };

export interface Case {
    nightly: boolean;
    field: OptOutField;
    sameEmail: boolean;
    allAudiences: boolean;
    /** Bulk API above this many records (tiny: the Bulk paths on a tiny data set). */
    bulkThreshold: number;
    commands: Command[];
}

const p = fc.integer({ min: 0, max: PERSONS.length - 1 });
const rec = fc.integer({ min: 0, max: 63 });
const audience = fc.constantFrom(...AUDIENCE_IDS);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
    {
        weight: 3,
        arbitrary: fc.record({
            kind: fc.constant('unsub' as const),
            p,
            audience: fc.option(audience, { nil: null })
        })
    },
    {
        weight: 1,
        arbitrary: fc.record({
            kind: fc.constant('resub' as const),
            p,
            audience: fc.option(audience, { nil: null })
        })
    },
    {
        weight: 2,
        arbitrary: fc.record({
            kind: fc.constant('member' as const),
            p,
            audience,
            status: fc.constantFrom(...STATUSES)
        })
    },
    {
        weight: 2,
        arbitrary: fc.record({
            kind: fc.constant('sfField' as const),
            rec,
            field: fc.constantFrom<OptOutField>(
                'HasOptedOutOfEmail',
                'Marketo_Sales_Opt_Out__c'
            ),
            value: fc.boolean()
        })
    },
    {
        weight: 1,
        arbitrary: fc.record({
            kind: fc.constant('sfMember' as const),
            rec,
            audience,
            status: fc.constantFrom(...STATUSES),
            flow: fc.boolean()
        })
    },
    {
        weight: 1,
        arbitrary: fc.record({
            kind: fc.constant('sfCreate' as const),
            p,
            object: fc.constantFrom<'Contact' | 'Lead'>('Contact', 'Lead')
        })
    },
    {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('link' as const), p, rec })
    },
    {
        weight: 4,
        arbitrary: fc.record({
            kind: fc.constant('run' as const),
            job: fc.constantFrom<JobName>('push', 'hourly', 'nightly'),
            fault: fc.constantFrom(...FAULTS)
        })
    }
);

export const caseArb = (maxCommands: number): fc.Arbitrary<Case> =>
    fc.record({
        nightly: fc.boolean(),
        field: fc.constantFrom<OptOutField>(
            'HasOptedOutOfEmail',
            'Marketo_Sales_Opt_Out__c'
        ),
        sameEmail: fc.boolean(),
        allAudiences: fc.boolean(),
        bulkThreshold: fc.constantFrom(2, 2000),
        commands: fc.array(commandArb, { minLength: 3, maxLength: maxCommands })
    });

interface Model {
    /** Unsubscribes recorded by the commands and not resubscribed: must stay active. */
    active: Set<number>;
    results: JobResult[];
    /** Records whose opt-out field a user unchecked (R4: their call). */
    unchecked: Set<string>;
}

async function optOutValues(
    world: World
): Promise<Map<string, Record<string, boolean>>> {
    const { contacts, leads } = await readPeople(world);
    return new Map(
        [...contacts, ...leads].map((r) => [
            r.Id,
            {
                HasOptedOutOfEmail: r.HasOptedOutOfEmail,
                Marketo_Sales_Opt_Out__c: r.Marketo_Sales_Opt_Out__c
            }
        ])
    );
}

async function records(
    world: World
): Promise<{ id: string; object: 'Contact' | 'Lead'; email: string | null }[]> {
    const { contacts, leads } = await readPeople(world);
    return [
        ...contacts.map((c) => ({
            id: c.Id,
            object: 'Contact' as const,
            email: c.Email
        })),
        ...leads
            .filter((l) => !l.IsConverted)
            .map((l) => ({ id: l.Id, object: 'Lead' as const, email: l.Email }))
    ];
}

/** Applies one command; returns problems found by the step invariants. */
async function apply(
    world: World,
    c: Command,
    model: Model,
    client: Partial<OrgClientOptions>
): Promise<string[]> {
    const ledger = world.ledger;
    switch (c.kind) {
        case 'unsub': {
            const r = await ledger.recordUnsubscribe({
                email: PERSONS[c.p],
                scope: c.audience ? 'audience' : 'all',
                audienceId: c.audience,
                audienceName: c.audience ? `List ${c.audience}` : null,
                source: 'webhook'
            });
            model.active.add(r.unsubscribe.id);
            return [];
        }
        case 'resub': {
            if (!(await ledger.findPerson(PERSONS[c.p]))) return [];
            if (c.audience && !(await ledger.getAudience(c.audience)))
                return [];
            const r = await ledger.resubscribe({
                email: PERSONS[c.p],
                audienceId: c.audience,
                reason: 'Asked to hear from us again'
            });
            for (const u of r.removed) model.active.delete(u.id);
            return [];
        }
        case 'member': {
            const person = (await ledger.upsertPerson({ email: PERSONS[c.p] }))
                .person;
            if (!(await ledger.getAudience(c.audience)))
                await ledger.upsertAudience({
                    id: c.audience,
                    name: `List ${c.audience}`
                });
            const r = await ledger.setMembershipStatus({
                personId: person.id,
                audienceId: c.audience,
                status: c.status as (typeof STATUSES)[number],
                source: 'platform'
            });
            if (r.unsubscribeId !== null) model.active.add(r.unsubscribeId);
            return [];
        }
        case 'sfField': {
            const list = await records(world);
            if (list.length === 0) return [];
            const r = list[c.rec % list.length];
            // A user editing a record that shares its email with another (the org's
            // duplicate rules, on by default, flag it) sees the Alert and saves anyway
            // ("Save (Ignore Alert)"), which the API spells allowSave=true:
            // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm
            await world.t.conn
                .sobject(r.object)
                .update(
                    { Id: r.id, [c.field]: c.value },
                    { headers: { ...DUPLICATE_RULE_HEADER } }
                );
            if (!c.value) model.unchecked.add(to18(r.id));
            return [];
        }
        case 'sfMember': {
            const list = await records(world);
            if (list.length === 0) return [];
            const r = list[c.rec % list.length];
            const id = to18(r.id);
            // As the component does: the row's status, source and the pending flag.
            await world.t.conn.sobject('Audience_Membership__c').upsert(
                {
                    Membership_Key__c: `${c.audience}:${id}`,
                    Contact__c: r.object === 'Contact' ? id : null,
                    Lead__c: r.object === 'Lead' ? id : null,
                    Audience_Id__c: c.audience,
                    Audience_Name__c: `List ${c.audience}`,
                    Email__c: r.email,
                    Status__c: c.status,
                    Status_Changed_At__c: new Date().toISOString(),
                    Source__c: c.flow ? 'Flow' : 'Salesforce',
                    Pending_Push__c: true
                },
                'Membership_Key__c'
            );
            return [];
        }
        case 'sfCreate': {
            await world.seed(c.object, [
                {
                    LastName: `New ${c.p}`,
                    Email: PERSONS[c.p].toUpperCase(),
                    ...(c.object === 'Lead' ? { Company: 'Acme' } : {})
                }
            ]);
            return [];
        }
        case 'link': {
            const list = await records(world);
            if (list.length === 0) return [];
            await ledger.upsertPerson({
                email: PERSONS[c.p],
                salesforceId: list[c.rec % list.length].id
            });
            return [];
        }
        case 'run': {
            const before = await optOutValues(world);
            const sentBefore = world.sent.length;
            if (c.fault) world.admin.setFaults(c.fault);
            const { result } = await world.run(c.job, { client });
            world.admin.clearFaults();
            model.results.push(result);
            const problems = falseWrites(world.sent.slice(sentBefore));
            const after = await optOutValues(world);
            for (const [id, values] of before)
                for (const f of Object.keys(values) as OptOutField[])
                    if (values[f] && after.get(id)?.[f] === false)
                        problems.push(`${c.job} turned ${f} of ${id} false`);
            return problems;
        }
    }
}

/** Seeds the base of every case: a few records, some shared emails, one linked person. */
async function seedBase(world: World, kase: Case): Promise<void> {
    await world.settings({
        nightlySyncEnabled: kase.nightly,
        optOutField: kase.field,
        applyToSameEmail: kase.sameEmail,
        allAudiencesRule: kase.allAudiences
    });
    const [ana, bo] = await world.seed('Contact', [
        { LastName: 'Ana', Email: 'ana@example.com' },
        { LastName: 'Bo', Email: 'bo@example.com' },
        { LastName: 'Cy', Email: 'cy@example.com' }
    ]);
    const [, diLead] = await world.seed('Lead', [
        { LastName: 'Cy', Email: 'Cy@Example.com', Company: 'Acme' },
        { LastName: 'Di', Email: 'di@example.com', Company: 'Acme' },
        { LastName: 'Ed', Email: 'ed@example.com', Company: 'Acme' }
    ]);
    world.admin.convertLead(diLead);
    await world.ledger.upsertPerson({
        email: 'bo@example.com',
        salesforceId: bo
    });
    await world.ledger.upsertPerson({
        email: 'ana@example.com',
        salesforceId: ana
    });
}

/** Counts over many cases (the long form's table). */
export interface CaseStats {
    cases: number;
    /** Job runs of the histories (the healing rounds not counted). */
    jobRuns: number;
    /** Of those, runs under faults. */
    faultyRuns: number;
    /** Unsubscribes not delivered, or delivered but not in the org, at the end. */
    lost: number;
}

/** Runs one case; returns the problems found (empty: the invariants held). */
export async function runCase(
    kase: Case,
    seed: number,
    stats?: CaseStats
): Promise<string[]> {
    if (stats) {
        stats.cases += 1;
        for (const c of kase.commands)
            if (c.kind === 'run') {
                stats.jobRuns += 1;
                if (c.fault) stats.faultyRuns += 1;
            }
    }
    const client: Partial<OrgClientOptions> = {
        bulkThreshold: kase.bulkThreshold
    };
    const world = await World.create({ seed, memoryLedger: true });
    try {
        await seedBase(world, kase);
        world.admin.reseed(seed);
        const model: Model = {
            active: new Set(),
            results: [],
            unchecked: new Set()
        };
        for (const [i, c] of kase.commands.entries()) {
            const problems = await apply(world, c, model, client);
            problems.push(...(await removedWithoutResubscribe(world)));
            for (const id of model.active)
                if ((await world.ledger.getUnsubscribe(id))?.removedAt)
                    problems.push(
                        `unsubscribe ${id} removed without a resubscribe`
                    );
            if (problems.length)
                return problems.map(
                    (pr) => `step ${i} ${JSON.stringify(c)}: ${pr}`
                );
        }
        // The org is healthy now: the jobs run until they finish clean.
        // A day later (retries with back-off are due), with the org healthy.
        world.advance(25 * 3_600_000);
        for (const round of [1, 2]) {
            for (const job of JOB_ORDER) {
                let clean = false;
                for (let attempt = 0; attempt < 4 && !clean; attempt++) {
                    const { result } = await world.run(job, { client });
                    model.results.push(result);
                    clean =
                        (result.status === 'succeeded' ||
                            result.status === 'skipped') &&
                        result.failed.length === 0;
                }
                if (!clean)
                    return [
                        `healing round ${round}: ${job} does not finish clean: ${JSON.stringify(model.results.at(-1)?.failed.slice(0, 2) ?? model.results.at(-1)?.error)}`
                    ];
            }
        }
        const problems: string[] = [];
        // Idempotence: one more round writes nothing.
        const before = world.admin.stats();
        const idle: JobResult[] = [];
        for (const job of JOB_ORDER)
            idle.push((await world.run(job, { client })).result);
        model.results.push(...idle);
        const { changes, writeRequests } = idleRound(
            before,
            world.admin.stats(),
            idle
        );
        if (changes > 0 || writeRequests > 0)
            problems.push(
                `not idempotent: ${changes} change(s), ${writeRequests} write request(s) after healing: ${JSON.stringify(idle.map((r) => [r.job, r.recordsWritten, r.membershipsUpserted, r.ledgerUnsubscribesAdded, r.unsubscribesDelivered]))}`
            );
        const field = kase.nightly ? kase.field : 'HasOptedOutOfEmail';
        const delivery = await deliveryCheck(world, {
            field,
            applyToSameEmail: kase.sameEmail
        });
        problems.push(...delivery.undelivered);
        // A user may uncheck a delivered opt-out (R4: their call); nightly puts it back.
        const unconfirmed = delivery.unconfirmed.filter(
            (u) =>
                kase.nightly ||
                !/\(all\)/.test(u) ||
                ![...model.unchecked].some((id) => u.includes(id))
        );
        problems.push(...unconfirmed);
        if (stats)
            stats.lost += delivery.undelivered.length + unconfirmed.length;
        problems.push(
            ...(await auditProblems(world, {
                field,
                results: model.results,
                userEdits: true
            }))
        );
        return problems;
    } finally {
        await world.close();
    }
}
