/**
 * The benchmark's data set as pure functions of a person's number `i` (0 ≤ i < n), so
 * that the seeding, the baselines and the expected outcomes all read the same facts and
 * every run of a size builds the same data:
 *
 * - persons = n; Salesforce records ≈ n: 80 % of persons have a Contact, 18 % a Lead of
 *   their own, 2 % nothing in Salesforce (the sync skips them); 2.5 % of the Contacts
 *   share their email with a Lead (written in capitals: a case variant, R8) and 10 % of
 *   the Contacts carry their email in mixed case;
 * - converted leads (R9): 20 % of the duplicate Leads were converted into their Contact,
 *   1 % of the own Leads into a new Contact;
 * - 10 % of persons are globally unsubscribed in the ledger (not yet delivered: the cold
 *   nightly writes them), 1 % of those are opted out in Salesforce already; 1 % of the
 *   others are opted out only in Salesforce (R3b brings them to the ledger);
 * - every person is Subscribed to the audience `news` (ledger and Audience_Membership__c);
 *   half of the persons are linked to their record's id, the others only by email;
 * - the hourly's 1 %: half unsubscribe from `news` (and so from every audience: R5b),
 *   half join `offers`; the push burst: 1,000 other persons unsubscribe globally;
 * - later hourlies (hourlyChanges): rounds of other persons, disjoint from the first
 *   1 % and from the burst, changing the same way — another 1 %, then 100 of a third.
 *
 * Choices use a hash of `i` rather than `i % m`, so that features overlap the way they
 * would in a real org (a duplicate email among the unsubscribed, a converted lead in
 * the burst…) instead of landing on disjoint residues.
 */

export const NEWS = { id: 'news', name: 'Newsletter' } as const;
export const OFFERS = { id: 'offers', name: 'Offers' } as const;
export const EMAIL_DOMAIN = 'bench.example';
export const PUSH_BURST = 1000;

/** A 32-bit mix of (i, salt) (murmur3's finaliser): deterministic, well spread. */
export function hash(i: number, salt: number): number {
    let h = (i ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
}

/** True for about `perMille`/1000 of the persons, independently for each salt. */
export function chosen(i: number, salt: number, perMille: number): boolean {
    return hash(i, salt) % 1000 < perMille;
}

const SALT = {
    dup: 1,
    dupConverted: 2,
    ownConverted: 3,
    unsubscribed: 4,
    both: 5,
    sfOnly: 6,
    contactCase: 7,
    linked: 8,
    hourly: 9,
    hourlyKind: 10,
    ledgerCase: 11
} as const;

export interface Sizes {
    n: number;
    /** Persons 0…contacts−1 have a Contact. */
    contacts: number;
    /** Persons contacts…ownLeadsEnd−1 have a Lead of their own. */
    ownLeadsEnd: number;
}

export function sizes(n: number): Sizes {
    const contacts = Math.round(n * 0.8);
    return { n, contacts, ownLeadsEnd: contacts + Math.round(n * 0.18) };
}

export type PersonKind = 'contact' | 'lead' | 'none';

/** What person `i` is and has. */
export interface Person {
    i: number;
    kind: PersonKind;
    /** Lower-case email (the person's identity). */
    email: string;
    /** The email as the ledger received it (sometimes mixed case). */
    ledgerEmail: string;
    /** The Contact's email as stored in Salesforce (sometimes mixed case). */
    contactEmail: string | null;
    /** A Lead sharing the Contact's email (in capitals). */
    dupLead: boolean;
    /** That Lead was converted into the Contact. */
    dupLeadConverted: boolean;
    /** The own Lead was converted (into a new Contact). */
    ownLeadConverted: boolean;
    /** Globally unsubscribed in the ledger. */
    unsubscribed: boolean;
    /** The opt-out field is true on every record of the person. */
    optedOutInSalesforce: boolean;
    /** The ledger person carries its record's id (else matched by email only). */
    linked: boolean;
    /** The hourly's 1 %: 'unsubscribe' from news, 'join' offers, or none. */
    hourly: 'unsubscribe' | 'join' | null;
}

export function emailOf(i: number): string {
    return `person${i}@${EMAIL_DOMAIN}`;
}

export function person(i: number, s: Sizes): Person {
    const kind: PersonKind =
        i < s.contacts ? 'contact' : i < s.ownLeadsEnd ? 'lead' : 'none';
    const email = emailOf(i);
    const unsubscribed = chosen(i, SALT.unsubscribed, 100);
    const dupLead = kind === 'contact' && chosen(i, SALT.dup, 25);
    const hourlyPick = chosen(i, SALT.hourly, 10);
    return {
        i,
        kind,
        email,
        ledgerEmail: chosen(i, SALT.ledgerCase, 50)
            ? `Person${i}@Bench.Example`
            : email,
        contactEmail:
            kind !== 'contact'
                ? null
                : chosen(i, SALT.contactCase, 100)
                  ? `Person${i}@Bench.example`
                  : email,
        dupLead,
        dupLeadConverted: dupLead && chosen(i, SALT.dupConverted, 200),
        ownLeadConverted: kind === 'lead' && chosen(i, SALT.ownConverted, 10),
        unsubscribed,
        optedOutInSalesforce: unsubscribed
            ? chosen(i, SALT.both, 100)
            : chosen(i, SALT.sfOnly, 10),
        linked: chosen(i, SALT.linked, 500),
        hourly: hourlyPick
            ? chosen(i, SALT.hourlyKind, 500)
                ? 'unsubscribe'
                : 'join'
            : null
    };
}

/**
 * How many distinct records a person's change is written to (R8 same email, R9 a
 * converted lead's Contact): Contact + its duplicate Lead unless that was converted
 * into the Contact; the own Lead or, converted, its new Contact.
 */
export function targetCount(p: Person): number {
    if (p.kind === 'contact') return p.dupLead && !p.dupLeadConverted ? 2 : 1;
    return p.kind === 'lead' ? 1 : 0;
}

/**
 * The 1,000 persons of the push burst: not unsubscribed, not opted out, not in the
 * hourly's changes, with a record in Salesforce, spread evenly over the data set.
 */
export function pushBurstPersons(s: Sizes, count = PUSH_BURST): number[] {
    const eligible = (i: number): boolean => {
        const p = person(i, s);
        return (
            !p.unsubscribed &&
            !p.optedOutInSalesforce &&
            p.hourly === null &&
            p.kind !== 'none'
        );
    };
    let total = 0;
    for (let i = 0; i < s.n; i++) if (eligible(i)) total++;
    const want = Math.min(count, total);
    const out: number[] = [];
    let seen = 0;
    for (let i = 0; i < s.n && out.length < want; i++) {
        if (!eligible(i)) continue;
        // Take the k-th eligible person when k crosses the next multiple of total/want.
        if (Math.floor((seen * want) / total) !== out.length) {
            seen++;
            continue;
        }
        out.push(i);
        seen++;
    }
    return out;
}

/**
 * The mirror's look-back in the bench (OPTOUT_MIRROR_LOOKBACK). The hourlies stand an
 * hour apart but run seconds apart against an org on real time: a 5-minute look-back
 * would reach back over the hourly before (its writes), which an hour apart it never
 * does. 15 s keeps the proportion; and an hourly starts at least this long (plus a
 * second) after the hourly before it ended, so that no hourly's mirror re-reads the
 * writes of the hourly before last — as an hour apart none does.
 */
export const BENCH_MIRROR_LOOKBACK = '0.25m';
export const BENCH_MIRROR_LOOKBACK_MS = 15_000;

/**
 * Rounds of hourly changes, as bands of the persons' hourly hash (per mille, disjoint):
 * the first 1 % (Person.hourly), another 1 %, then 100 persons of the next 2 % (wide
 * enough for 100 at 10,000 persons once the burst's are left out).
 */
export interface HourlyRound {
    /** Persons whose hourly hash % 1000 is in [from, to). */
    from: number;
    to: number;
    /** That many of them, evenly spaced (default: all). */
    count?: number;
}

export const HOURLY_ROUNDS = {
    first: { from: 0, to: 10 },
    warm: { from: 10, to: 20 },
    hundred: { from: 20, to: 40, count: 100 },
    /** 100 other persons, changed by the hourly before the measured one (steady state). */
    hundredSettle: { from: 40, to: 60, count: 100 }
} as const satisfies Record<string, HourlyRound>;

export interface HourlyChange {
    i: number;
    change: 'unsubscribe' | 'join';
}

/**
 * The persons of an hourly round and their change. The first band (0–10 ‰) is
 * Person.hourly; a later one leaves out the burst's persons (whose records must still be
 * unchanged when it runs). Bands are disjoint, so each round changes other persons.
 */
export function hourlyChanges(s: Sizes, round: HourlyRound): HourlyChange[] {
    const { from, to, count } = round;
    const burst = from > 0 ? new Set(pushBurstPersons(s)) : new Set<number>();
    const all: HourlyChange[] = [];
    for (let i = 0; i < s.n; i++) {
        const h = hash(i, SALT.hourly) % 1000;
        if (h < from || h >= to || burst.has(i)) continue;
        all.push({
            i,
            change: chosen(i, SALT.hourlyKind, 500) ? 'unsubscribe' : 'join'
        });
    }
    if (count === undefined || count >= all.length) return all;
    return Array.from(
        { length: count },
        (_, k) => all[Math.floor((k * all.length) / count)]
    );
}

/** What an hourly round should write: its changes, R5a upserts and R5b writes. */
export interface HourlyExpected {
    changes: number;
    upserts: number;
    ruleWrites: number;
}

export function hourlyExpected(
    s: Sizes,
    changes: readonly HourlyChange[]
): HourlyExpected {
    const e: HourlyExpected = { changes: 0, upserts: 0, ruleWrites: 0 };
    for (const c of changes) {
        const p = person(c.i, s);
        const targets = targetCount(p);
        e.changes += 1;
        e.upserts += targets;
        // R5b: unsubscribed from news, their only audience; the field is already true
        // where the person was unsubscribed or opted out before.
        if (
            c.change === 'unsubscribe' &&
            !p.unsubscribed &&
            !p.optedOutInSalesforce
        )
            e.ruleWrites += targets;
    }
    return e;
}

/** What each job should do on this data set, for checking the runs (not for timing). */
export interface Expected {
    persons: number;
    salesforceRecords: number;
    contacts: number;
    leads: number;
    convertedLeads: number;
    duplicateEmails: number;
    ledgerUnsubscribes: number;
    optedOutOnlyInSalesforce: number;
    hourlyChanges: number;
    /** R3a: records the cold nightly sets true. */
    nightlyWrites: number;
    /** R3b: persons the cold nightly records as unsubscribed. */
    nightlyLedgerAdds: number;
    /** R5a: Audience_Membership__c rows the hourly upserts. */
    hourlyUpserts: number;
    /** R5b: records the hourly sets HasOptedOutOfEmail on. */
    hourlyRuleWrites: number;
    /** The warm hourly's round (another 1 %) and the 100 changes' (older runs: absent). */
    hourlyWarm?: HourlyExpected;
    hourly100?: HourlyExpected;
    pushUnsubscribes: number;
    /** R2: records the burst writes. */
    pushWrites: number;
}

export function expected(n: number): Expected {
    const s = sizes(n);
    const e: Expected = {
        persons: n,
        salesforceRecords: 0,
        contacts: 0,
        leads: 0,
        convertedLeads: 0,
        duplicateEmails: 0,
        ledgerUnsubscribes: 0,
        optedOutOnlyInSalesforce: 0,
        hourlyChanges: 0,
        nightlyWrites: 0,
        nightlyLedgerAdds: 0,
        hourlyUpserts: 0,
        hourlyRuleWrites: 0,
        pushUnsubscribes: 0,
        pushWrites: 0
    };
    for (let i = 0; i < n; i++) {
        const p = person(i, s);
        const targets = targetCount(p);
        if (p.kind === 'contact') {
            e.contacts += 1;
            if (p.dupLead) {
                e.leads += 1;
                e.duplicateEmails += 1;
                if (p.dupLeadConverted) e.convertedLeads += 1;
            }
        } else if (p.kind === 'lead') {
            e.leads += 1;
            if (p.ownLeadConverted) {
                e.convertedLeads += 1;
                e.contacts += 1;
            }
        }
        if (p.unsubscribed) e.ledgerUnsubscribes += 1;
        if (p.unsubscribed && !p.optedOutInSalesforce)
            e.nightlyWrites += targets;
        if (!p.unsubscribed && p.optedOutInSalesforce && p.kind !== 'none') {
            e.optedOutOnlyInSalesforce += 1;
            e.nightlyLedgerAdds += 1;
        }
        if (p.hourly) {
            e.hourlyChanges += 1;
            e.hourlyUpserts += targets;
            // R5b: unsubscribed from news, their only audience; the field is already
            // true where the person was unsubscribed or opted out before.
            if (
                p.hourly === 'unsubscribe' &&
                !p.unsubscribed &&
                !p.optedOutInSalesforce
            )
                e.hourlyRuleWrites += targets;
        }
    }
    e.salesforceRecords = e.contacts + e.leads;
    e.hourlyWarm = hourlyExpected(s, hourlyChanges(s, HOURLY_ROUNDS.warm));
    e.hourly100 = hourlyExpected(s, hourlyChanges(s, HOURLY_ROUNDS.hundred));
    const burst = pushBurstPersons(s);
    e.pushUnsubscribes = burst.length;
    for (const i of burst) e.pushWrites += targetCount(person(i, s));
    return e;
}
