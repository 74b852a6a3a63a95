/**
 * R14 as a property (fast-check): with any history of permanent refusals on random
 * records (a validation rule refuses the opt-out of Contacts named Blocked, another
 * refuses memberships of emails starting with "stuck"), interleaved with ledger
 * changes and push/hourly runs at random times, every other unsubscribe and
 * membership still reaches Salesforce, and the hourly cursor never stays behind a
 * refused change. A few seeded cases here (OPTOUT_PROPERTY_RUNS for more).
 */
import fc from 'fast-check';
import type { MembershipStatus } from '../../model/statuses';
import { HOURLY_CURSOR } from '../hourly';
import { setup, type Fixture } from './fixture';
import { deployRules, member } from './stuck-fixture';

const RUNS = Number(process.env.OPTOUT_PROPERTY_RUNS ?? 3);
const SEED = Number(process.env.OPTOUT_PROPERTY_SEED ?? 20261205);
const MIN = 60_000;

interface Person {
    /** The Contact's opt-out write is refused (FIELD_CUSTOM_VALIDATION_EXCEPTION). */
    blocked: boolean;
    /** Its membership writes are refused. */
    stuck: boolean;
    unsubscribed: boolean;
    audience: 'news' | 'sport';
    status: MembershipStatus;
}

type Step =
    | { kind: 'push' | 'hourly'; advanceMin: number }
    | { kind: 'change'; person: number; status: MembershipStatus }
    | { kind: 'unsubscribe'; person: number };

interface Case {
    persons: Person[];
    steps: Step[];
}

const statusArb = fc.constantFrom<MembershipStatus>(
    'Subscribed',
    'Unsubscribed'
);

const caseArb: fc.Arbitrary<Case> = fc
    .array(
        fc.record({
            blocked: fc.boolean(),
            stuck: fc.boolean(),
            unsubscribed: fc.boolean(),
            audience: fc.constantFrom<'news' | 'sport'>('news', 'sport'),
            status: statusArb
        }),
        { minLength: 3, maxLength: 6 }
    )
    .chain((persons) =>
        fc.record({
            persons: fc.constant(persons),
            steps: fc.array(
                fc.oneof(
                    fc.record({
                        kind: fc.constantFrom<'push' | 'hourly'>(
                            'push',
                            'hourly'
                        ),
                        advanceMin: fc.integer({ min: 0, max: 800 })
                    }),
                    fc.record({
                        kind: fc.constant<'change'>('change'),
                        person: fc.nat({ max: persons.length - 1 }),
                        status: statusArb
                    }),
                    fc.record({
                        kind: fc.constant<'unsubscribe'>('unsubscribe'),
                        person: fc.nat({ max: persons.length - 1 })
                    })
                ),
                { minLength: 2, maxLength: 7 }
            )
        })
    );

function emailOf(p: Person, i: number): string {
    return `${p.stuck ? 'stuck' : 'p'}${i}@example.com`;
}

/** Runs one case; returns what went wrong (empty: the property holds). */
async function runCase(f: Fixture, kase: Case): Promise<string[]> {
    const ids = await f.contacts(
        kase.persons.map((p, i) => ({
            LastName: p.blocked ? 'Blocked' : `P${i}`,
            Email: emailOf(p, i)
        }))
    );
    for (const [i, p] of kase.persons.entries()) {
        await member(f.ledger, emailOf(p, i), p.audience, p.status);
        if (p.unsubscribed)
            await f.ledger.recordUnsubscribe({
                email: emailOf(p, i),
                scope: 'all',
                source: 'webhook'
            });
    }
    let t = Date.now();
    const at = (): Date => new Date(t);
    for (const s of kase.steps) {
        if (s.kind === 'change') {
            const p = kase.persons[s.person];
            const person = await f.ledger.findPerson(emailOf(p, s.person));
            if (person)
                await f.ledger.setMembershipStatus({
                    personId: person.id,
                    audienceId: p.audience,
                    status: s.status,
                    source: 'platform',
                    changedAt: at().toISOString()
                });
        } else if (s.kind === 'unsubscribe') {
            kase.persons[s.person].unsubscribed = true;
            await f.ledger.recordUnsubscribe({
                email: emailOf(kase.persons[s.person], s.person),
                scope: 'all',
                source: 'webhook'
            });
        } else {
            t += s.advanceMin * MIN;
            await f.run(s.kind, { now: at });
        }
    }
    // One more of each: what is not refused must be in Salesforce now.
    await f.run('push', { now: at });
    await f.run('hourly', { now: at });

    const problems: string[] = [];
    const optedOut = await f.values('Contact', ids);
    const rows = await f.memberships();
    for (const [i, p] of kase.persons.entries()) {
        const email = emailOf(p, i);
        const person = await f.ledger.findPerson(email);
        if (!person) continue;
        const u = (await f.ledger.listUnsubscribes(person.id)).find(
            (x) => x.scope === 'all' && !x.removedAt
        );
        if (u && !p.blocked) {
            if (optedOut[ids[i]] !== true)
                problems.push(`${email}: unsubscribed, not opted out`);
            if (!u.deliveredAt)
                problems.push(`${email}: unsubscribe not delivered`);
        }
        if (u && p.blocked && !u.deliveredAt && !u.errorCode)
            problems.push(`${email}: refused but no refusal recorded`);
        const m = await f.ledger.getMembership(person.id, p.audience);
        if (m && !p.stuck) {
            const row = rows.find(
                (r) =>
                    r.Contact__c === ids[i] && r.Audience_Id__c === p.audience
            );
            if (row?.Status__c !== m.status)
                problems.push(
                    `${email}: membership ${m.status} in the ledger, ${String(row?.Status__c)} in Salesforce`
                );
        }
    }
    const cursor = Number(
        (await f.ledger.getCursor(HOURLY_CURSOR.job, HOURLY_CURSOR.name)) ?? '0'
    );
    if (cursor < (await f.ledger.maxSeq()))
        problems.push(
            `hourly cursor ${cursor} behind the last change ${await f.ledger.maxSeq()}`
        );
    return problems;
}

describe('R14 property: refused records never hold the rest back', () => {
    it('every other unsubscribe and membership reaches Salesforce; no cursor stays behind', async () => {
        await fc.assert(
            fc.asyncProperty(caseArb, async (kase) => {
                const f = await setup();
                try {
                    await deployRules(f);
                    expect(await runCase(f, kase)).toEqual([]);
                } finally {
                    await f.close();
                }
            }),
            { numRuns: RUNS, seed: SEED, endOnFailure: true }
        );
    }, 240_000);
});
