/**
 * What a reliability trial checks, as plain functions returning the problems found
 * (empty = fine), so that the jest tests and the long matrix (`npm run reliability`)
 * share them:
 *
 * - `snapshot` / `diffSnapshots`: the final Salesforce and ledger state, without run
 *   ids and times, compared with a fault-free run's;
 * - `falseWrites`: any request of the sync that set an opt-out field to false (R4);
 * - `deliveredUnconfirmed`: a delivered unsubscribe whose records do not carry it (R11);
 * - `auditProblems`: audit trail vs JobResults vs the org — nothing counted twice (R10);
 * - `removedWithoutResubscribe`: a ledger unsubscribe removed other than by resubscribe;
 * - `integrity`: SQLite's own check of the ledger file;
 * - `convergedProblems`: the end state against the fault-free run's, with R11's delivery;
 * - `idleRound`: what one more round of every job changed (R11: nothing).
 */
import {
    activeUnsubscribeRows,
    auditedFieldWrites,
    countAuditAction,
    countDeliveredWithoutAudit,
    fieldsWrittenTwice,
    integrityProblems,
    removedWithoutResubscribe as removedIds,
    stateRows,
    unsubscribesDeliveredTwice,
    type ActiveUnsubscribeRow
} from '../../ledger/inspect';
import type { LocalOrgStats } from '../local-org/admin';
import { id18 } from '../../sync/decisions';
import type { JobResult } from '../../sync/result';
import { TRIAL_SETTINGS } from './dataset';
import { optOutValuesSent, type SentRequest, type World } from './world';

export interface Snapshot {
    contacts: unknown[];
    leads: unknown[];
    memberships: unknown[];
    persons: unknown[];
    ledgerMemberships: unknown[];
    unsubscribes: unknown[];
}

interface SfPerson {
    Id: string;
    Email: string | null;
    HasOptedOutOfEmail: boolean;
    Marketo_Sales_Opt_Out__c: boolean;
    IsConverted?: boolean;
    ConvertedContactId?: string | null;
}

export async function readPeople(
    world: World
): Promise<{ contacts: SfPerson[]; leads: SfPerson[] }> {
    const contacts = (await world.query(
        'SELECT Id, Email, HasOptedOutOfEmail, Marketo_Sales_Opt_Out__c FROM Contact ORDER BY Id'
    )) as unknown as SfPerson[];
    const leads = (await world.query(
        'SELECT Id, Email, IsConverted, ConvertedContactId, HasOptedOutOfEmail, Marketo_Sales_Opt_Out__c FROM Lead ORDER BY Id'
    )) as unknown as SfPerson[];
    return { contacts, leads };
}

export async function readMemberships(
    world: World
): Promise<Record<string, unknown>[]> {
    return world.query(
        'SELECT Membership_Key__c, Contact__c, Lead__c, Audience_Id__c, Audience_Name__c, Email__c, Status__c, Status_Changed_At__c, Source__c, Unsubscribe_Reason__c, Pending_Push__c FROM Audience_Membership__c ORDER BY Membership_Key__c'
    );
}

/** The state two runs of the same trial must agree on (no ids of runs, no times of runs). */
export async function snapshot(world: World): Promise<Snapshot> {
    const { contacts, leads } = await readPeople(world);
    const state = await stateRows(world.ledger);
    return {
        contacts: contacts.map((c) => [
            c.Id,
            (c.Email ?? '').toLowerCase(),
            c.HasOptedOutOfEmail,
            c.Marketo_Sales_Opt_Out__c
        ]),
        leads: leads.map((l) => [
            l.Id,
            (l.Email ?? '').toLowerCase(),
            l.IsConverted,
            l.HasOptedOutOfEmail,
            l.Marketo_Sales_Opt_Out__c
        ]),
        memberships: await readMemberships(world),
        persons: state.persons,
        ledgerMemberships: state.memberships,
        unsubscribes: state.unsubscribes
    };
}

/** Differences between two snapshots (first few per part). */
export function diffSnapshots(expected: Snapshot, actual: Snapshot): string[] {
    const out: string[] = [];
    for (const part of Object.keys(expected) as (keyof Snapshot)[]) {
        const a = expected[part].map((x) => JSON.stringify(x));
        const b = actual[part].map((x) => JSON.stringify(x));
        const setA = new Set(a);
        const setB = new Set(b);
        const missing = a.filter((x) => !setB.has(x));
        const extra = b.filter((x) => !setA.has(x));
        if (a.length !== b.length)
            out.push(`${part}: ${a.length} rows expected, ${b.length} found`);
        for (const m of missing.slice(0, 3)) out.push(`${part}: missing ${m}`);
        for (const e of extra.slice(0, 3)) out.push(`${part}: unexpected ${e}`);
    }
    return out;
}

/** R4: requests of the sync that set an opt-out field to false. */
export function falseWrites(sent: readonly SentRequest[]): string[] {
    return optOutValuesSent(sent)
        .filter((v) => v.value !== 'true')
        .map((v) => `${v.field} = ${v.value} sent to ${v.url}`);
}

type ActiveUnsub = ActiveUnsubscribeRow;

/** The Contacts/Leads a person's unsubscribe goes to (R6, R8, R9), as the org has them now. */
function recordsOf(
    person: { emailNorm: string; salesforceId: string | null },
    people: { contacts: SfPerson[]; leads: SfPerson[] },
    applyToSameEmail: boolean
): { id: string; record: SfPerson }[] {
    const byId = new Map<string, SfPerson>();
    for (const r of [...people.contacts, ...people.leads])
        byId.set(id18(r.Id) as string, r);
    const out = new Map<string, SfPerson>();
    const add = (r: SfPerson): void => {
        if (r.IsConverted) {
            const c = id18(r.ConvertedContactId ?? '');
            const contact = c ? byId.get(c) : undefined;
            if (c && contact) out.set(c, contact);
            return;
        }
        out.set(id18(r.Id) as string, r);
    };
    const sf = id18(person.salesforceId ?? '');
    if (sf && byId.has(sf)) add(byId.get(sf) as SfPerson);
    if (applyToSameEmail)
        for (const r of [...people.contacts, ...people.leads])
            if ((r.Email ?? '').toLowerCase() === person.emailNorm) add(r);
    return [...out].map(([id, record]) => ({ id, record }));
}

async function activeUnsubscribes(world: World): Promise<ActiveUnsub[]> {
    return activeUnsubscribeRows(world.ledger);
}

export interface DeliveryCheck {
    /** Delivered, but a record of the person does not carry it (R11 broken). */
    unconfirmed: string[];
    /** Not delivered although every record of the person carries it and one exists. */
    undelivered: string[];
    /** Not delivered: the person matches no record (they wait). */
    waiting: number;
    delivered: number;
}

/**
 * R11 both ways: every delivered unsubscribe is in the org (global: the field true on
 * each of the person's records; audience: the membership row Unsubscribed on each), and
 * — once the org is healthy and the jobs have run — every one with a record is delivered.
 */
export async function deliveryCheck(
    world: World,
    options: {
        field: 'HasOptedOutOfEmail' | 'Marketo_Sales_Opt_Out__c';
        applyToSameEmail: boolean;
    }
): Promise<DeliveryCheck> {
    const people = await readPeople(world);
    const rows = await readMemberships(world);
    const byKey = new Map(
        rows.map((r) => [String(r.Membership_Key__c).toLowerCase(), r])
    );
    const out: DeliveryCheck = {
        unconfirmed: [],
        undelivered: [],
        waiting: 0,
        delivered: 0
    };
    for (const u of await activeUnsubscribes(world)) {
        const records = recordsOf(u, people, options.applyToSameEmail);
        const carried = records.every(({ id, record }) =>
            u.scope === 'all'
                ? record[options.field] === true
                : byKey.get(`${u.audienceId}:${id}`.toLowerCase())
                      ?.Status__c === 'Unsubscribed'
        );
        const what = `unsubscribe ${u.id} (${u.scope}${u.audienceId ? ` ${u.audienceId}` : ''}) of ${u.emailNorm}`;
        if (u.delivered) {
            out.delivered += 1;
            if (records.length === 0)
                out.unconfirmed.push(`${what}: delivered but no record`);
            else if (!carried)
                out.unconfirmed.push(
                    `${what}: delivered but not on ${records
                        .map((r) => r.id)
                        .join(', ')}`
                );
        } else if (records.length === 0) out.waiting += 1;
        else out.undelivered.push(`${what}: not delivered`);
    }
    return out;
}

/**
 * R10 and "nothing counted twice": the audit trail agrees with the JobResults (when
 * every run returned one) and with the org; no record got two field writes, no
 * unsubscribe two deliveries (unless re-opened), every audited write is in the org.
 */
export async function auditProblems(
    world: World,
    options: {
        results?: readonly JobResult[];
        field: 'HasOptedOutOfEmail' | 'Marketo_Sales_Opt_Out__c';
        /** Users edited records (the property tests): skip the "still true" check. */
        userEdits?: boolean;
    }
): Promise<string[]> {
    const problems: string[] = [];
    const ledger = world.ledger;
    if (options.results) {
        const sum = (
            k:
                | 'recordsWritten'
                | 'unsubscribesDelivered'
                | 'membershipsUpserted'
        ): number => (options.results ?? []).reduce((a, r) => a + r[k], 0);
        const pairs: [string, number, number][] = [
            [
                'field writes',
                sum('recordsWritten'),
                await countAuditAction(ledger, 'field_write')
            ],
            [
                'deliveries',
                sum('unsubscribesDelivered'),
                await countAuditAction(ledger, 'unsubscribe_delivered')
            ],
            [
                'membership writes',
                sum('membershipsUpserted'),
                await countAuditAction(ledger, 'membership_written')
            ]
        ];
        for (const [what, reported, audited] of pairs)
            if (reported !== audited)
                problems.push(
                    `${what}: the JobResults report ${reported}, the audit trail has ${audited}`
                );
    }
    if (!options.userEdits) {
        const twice = await fieldsWrittenTwice(ledger);
        for (const t of twice)
            problems.push(
                `${t.field} of ${t.id} audited as written ${t.n} times`
            );
    }
    const deliveredTwice = await unsubscribesDeliveredTwice(ledger);
    for (const d of deliveredTwice)
        problems.push(`unsubscribe ${d.id} marked delivered ${d.n} times`);
    const notDelivered = { n: await countDeliveredWithoutAudit(ledger) };
    if (notDelivered.n > 0)
        problems.push(
            `${notDelivered.n} unsubscribe(s) delivered without an unsubscribe_delivered audit entry`
        );
    if (!options.userEdits) {
        const { contacts, leads } = await readPeople(world);
        const value = new Map(
            [...contacts, ...leads].map((r) => [
                id18(r.Id) as string,
                r as unknown as Record<string, unknown>
            ])
        );
        const writes = await auditedFieldWrites(ledger);
        for (const w of writes)
            if (value.get(w.id)?.[w.field] !== true)
                problems.push(
                    `audited write of ${w.field} on ${w.id} is not in the org`
                );
    }
    return problems;
}

/** R4: unsubscribes removed by anything but `resubscribe`. */
export async function removedWithoutResubscribe(
    world: World
): Promise<string[]> {
    const ids = await removedIds(world.ledger);
    return ids.map((id) => `unsubscribe ${id} removed without a resubscribe`);
}

/** The ledger file's integrity problems (none: []); see ledger/inspect.ts. */
export function integrity(path: string): string[] {
    return integrityProblems(path);
}

/**
 * A trial's end state against the fault-free run's, and R11 both ways: every delivered
 * unsubscribe confirmed, every one with a record delivered, and only the data set's
 * unmatched ones still waiting. `lost`: unsubscribes undelivered or unconfirmed.
 */
export async function convergedProblems(
    world: World,
    baseline: Snapshot,
    expectedWaiting: number
): Promise<{ problems: string[]; lost: number }> {
    const problems = diffSnapshots(baseline, await snapshot(world)).map(
        (d) => `differs from the fault-free run: ${d}`
    );
    const delivery = await deliveryCheck(world, {
        field: TRIAL_SETTINGS.optOutField ?? 'HasOptedOutOfEmail',
        applyToSameEmail: TRIAL_SETTINGS.applyToSameEmail ?? true
    });
    problems.push(...delivery.unconfirmed, ...delivery.undelivered);
    if (delivery.waiting !== expectedWaiting)
        problems.push(
            `${delivery.waiting} unsubscribe(s) wait for a record, ${expectedWaiting} expected`
        );
    return {
        problems,
        lost: delivery.undelivered.length + delivery.unconfirmed.length
    };
}

/** What a round of jobs changed, by their results and by the write requests the org served. */
export function idleRound(
    before: LocalOrgStats,
    after: LocalOrgStats,
    results: readonly JobResult[]
): { changes: number; writeRequests: number } {
    return {
        changes: results.reduce(
            (a, r) =>
                a +
                r.recordsWritten +
                r.membershipsUpserted +
                r.ledgerUnsubscribesAdded +
                r.unsubscribesDelivered,
            0
        ),
        writeRequests:
            after.groups.collections -
            before.groups.collections +
            (after.groups.bulkIngest - before.groups.bulkIngest)
    };
}
