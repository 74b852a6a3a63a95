/**
 * The demo's data set, generated deterministically from a seed: companies, Contacts and
 * Leads with realistic names (the seeds of this product come in English, French,
 * Chinese and Japanese), three audiences, the ledger's marketing data, and a handful of
 * named people who each show one rule:
 *
 * | person          | what is special                                       | rule    |
 * |-----------------|-------------------------------------------------------|---------|
 * | Ana López       | a Contact and a Lead, email differing in case          | R8      |
 * | Kenji Watanabe  | a Lead converted to a Contact; ledger id 15 characters | R9, R6  |
 * | Chloé Martin    | ledger id given with 15 characters                     | R6      |
 * | Wei Zhang       | opted out in Salesforce, unknown to the ledger          | R3b     |
 * | Priya Natarajan | unsubscribed from all three audiences                   | R5b     |
 * | Lucas Moreau    | unsubscribed from an audience in Salesforce (Flow)      | R5c     |
 * | Sofia Rossi     | unsubscribed long ago on the platform, not in Salesforce| R3a     |
 * | Jordan Reyes    | in the ledger, no Salesforce record at all              | R6 skip |
 * | Tomás Silva     | a Contact without an Account, owned by a sales rep       | R14 no access |
 * | Margaret Okafor | Investor Relations: a customer validation rule refuses   | R14 validation rule |
 * | Elena Petrova   | opted out in Salesforce, a Mailchimp member: pushed there | R3b → Mailchimp |
 * | Noah Fischer    | unsubscribes from one audience in Mailchimp: pulled     | R5 ← Mailchimp |
 *
 * Ana López is also the demo's duplicate pair under the org's duplicate rules (a
 * Contact and a Lead with one email): the sync's writes pass because it sends
 * `allowSave=true`. Tomás Silva's Contact is private to its owner, Dana Whitfield (a
 * second user the demo creates): the sync's integration user, with only the package's
 * View All set, is refused until the demo assigns the Modify All set and retries.
 *
 * Pure: no I/O. Emails use the reserved `.example` top-level domain.
 */
import type { MembershipStatus } from '../../model/statuses';

export type DemoSize = 'small' | 'full';

export const DEMO_SIZES: Record<DemoSize, { contacts: number; leads: number }> =
    {
        full: { contacts: 3000, leads: 2000 },
        small: { contacts: 120, leads: 80 }
    };

/** Bumped when the generated data changes: a ledger seeded by another version is not reused. */
export const DEMO_DATA_VERSION = 3;

/**
 * The users the demo creates besides the org's administrator: the sync's integration
 * user (Standard User profile, the package's permission sets) and the sales rep who
 * owns the account-less Contact. Usernames are unique across Salesforce, so they use
 * the reserved `.example` domain too.
 */
export const DEMO_USERS = {
    integration: {
        username: 'optout.integration@optout-demo.example',
        firstName: 'Opt-Out Sync',
        lastName: 'Integration'
    },
    salesRep: {
        username: 'dana.whitfield@optout-demo.example',
        firstName: 'Dana',
        lastName: 'Whitfield'
    }
} as const;

/**
 * The customer's validation rule the demo deploys on Contact (scripts/tools/demo/customer-org):
 * Investor Relations contacts' email preferences may not be changed through the API.
 */
export const PROTECTED_DEPARTMENT = 'Investor Relations';

export const AUDIENCES = [
    { id: '3f9a1c2b7d', name: 'Monthly Newsletter' },
    { id: '8e4d2a9c1f', name: 'Product Updates' },
    { id: 'b7c3e5f1a2', name: 'Events & Webinars' }
] as const;

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const FIRST = [
    'Emma',
    'Liam',
    'Olivia',
    'Noah',
    'Ava',
    'Ethan',
    'Sophia',
    'Mason',
    'Isabella',
    'Lucas',
    'Mia',
    'James',
    'Charlotte',
    'Benjamin',
    'Amelia',
    'Elijah',
    'Harper',
    'Henry',
    'Evelyn',
    'Daniel',
    'Camille',
    'Léa',
    'Hugo',
    'Manon',
    'Louis',
    'Chloé',
    'Gabriel',
    'Inès',
    'Arthur',
    'Jade',
    'Wei',
    'Fang',
    'Jun',
    'Li',
    'Min',
    'Xiu',
    'Hao',
    'Mei',
    'Yan',
    'Lei',
    'Haruto',
    'Yui',
    'Sota',
    'Aoi',
    'Ren',
    'Hina',
    'Yuto',
    'Sakura',
    'Riku',
    'Mio',
    'Priya',
    'Arjun',
    'Aisha',
    'Omar',
    'Sofia',
    'Mateo',
    'Valentina',
    'Diego',
    'Zoe',
    'Kwame',
    'Amara',
    'Nia',
    'Tariq',
    'Ingrid'
];

const LAST = [
    'Smith',
    'Johnson',
    'Williams',
    'Brown',
    'Jones',
    'Garcia',
    'Miller',
    'Davis',
    'Rodriguez',
    'Martinez',
    'Wilson',
    'Anderson',
    'Taylor',
    'Thomas',
    'Moore',
    'Jackson',
    'Martin',
    'Lee',
    'Thompson',
    'White',
    'Dubois',
    'Lefebvre',
    'Moreau',
    'Laurent',
    'Simon',
    'Michel',
    'Garnier',
    'Faure',
    'Rousseau',
    'Blanc',
    'Wang',
    'Li',
    'Zhang',
    'Liu',
    'Chen',
    'Yang',
    'Huang',
    'Zhao',
    'Wu',
    'Zhou',
    'Sato',
    'Suzuki',
    'Takahashi',
    'Tanaka',
    'Watanabe',
    'Ito',
    'Yamamoto',
    'Nakamura',
    'Kobayashi',
    'Kato',
    'Patel',
    'Sharma',
    'Okafor',
    'Haddad',
    'Rossi',
    'Ferrari',
    'Costa',
    'Nguyen',
    'Kim',
    'Park',
    'Novak',
    'Jensen',
    'Silva',
    'Cohen'
];

const COMPANIES = [
    'Northwind Traders',
    'Contoso Pharmaceuticals',
    'Fabrikam Robotics',
    'Tailspin Toys',
    'Adventure Works Cycles',
    'Wide World Importers',
    'Litware Software',
    'Proseware Analytics',
    'Alpine Ski House',
    'Blue Yonder Airlines',
    'Coho Winery',
    'Fourth Coffee',
    'Lucerne Publishing',
    'Margie’s Travel',
    'Trey Research',
    'Woodgrove Bank',
    'Humongous Insurance',
    'Southridge Video',
    'Lumière & Fils',
    'Atelier Beaumont',
    'Boulangerie Durand',
    'Sakura Systems',
    'Hanami Foods',
    'Kitsune Logistics',
    'Fuji Precision',
    'Dragon Peak Technology',
    'Jade River Textiles',
    'Golden Lotus Hotels',
    'Redwood Health',
    'Summit Outdoor Gear',
    'Harbor Freight Partners',
    'Silverline Energy',
    'Cedar & Pine Architects',
    'BrightPath Learning',
    'Quantum Harvest',
    'Meridian Capital',
    'Oakridge Manufacturing',
    'Blue Heron Media',
    'Pioneer Biotech',
    'Evergreen Logistics'
];

const TITLES = [
    'Marketing Manager',
    'VP Sales',
    'Account Executive',
    'CTO',
    'Operations Director',
    'Product Manager',
    'Buyer',
    'CFO',
    'Customer Success Lead',
    'Head of Procurement',
    'Engineer',
    'Office Manager',
    'CEO',
    'Data Analyst',
    'Sales Representative'
];

const LEAD_SOURCES = [
    'Web',
    'Phone Inquiry',
    'Partner Referral',
    'Purchased List',
    'Other'
];

/** ASCII, lower case, for email local parts and domains. */
export function slug(text: string): string {
    return text
        .normalize('NFD')
        .replace(/[\u0300-\u036f]/g, '')
        .toLowerCase()
        .replace(/&/g, 'and')
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
}

export function companyDomain(company: string): string {
    const words = slug(company)
        .split('-')
        .filter((w) => !['and', 'de', 'the', 's'].includes(w));
    return `${words.slice(0, 2).join('')}.example`;
}

export interface DemoPerson {
    /** Stable key: contact:N, lead:N, prospect:N. */
    key: string;
    object: 'Contact' | 'Lead' | null;
    firstName: string;
    lastName: string;
    email: string;
    company: string;
    title: string;
    /** Leads only: where the lead came from. */
    leadSource: string | null;
    /** HasOptedOutOfEmail at insert. */
    optedOut: boolean;
    /** Index into the Contact or Lead list (insert order). */
    index: number;
    /** Contacts only: created without an Account (then private to its owner). */
    accountless?: boolean;
    /** Owned by the demo's sales rep rather than the administrator. */
    ownedBySalesRep?: boolean;
    /** Contact.Department, when set. */
    department?: string;
}

export type IdForm = '18' | '15' | 'none';

export interface LedgerPlan {
    /** The person (by key) and how its Salesforce id is given to the ledger. */
    key: string;
    idForm: IdForm;
    memberships: {
        audienceId: string;
        status: MembershipStatus;
        changedAt: string;
    }[];
    /** An old platform unsubscribe from everything (collected at this time). */
    globalUnsubscribedAt: string | null;
}

export interface SalesforcePending {
    /** The Contact's key. */
    key: string;
    audienceId: string;
    source: 'Flow' | 'Salesforce';
    reason: string;
    changedAt: string;
}

export interface BurstItem {
    key: string;
    kind: 'global' | 'audience';
    audienceId: string | null;
    /** Send the Salesforce id (15 characters) along, as some platforms do. */
    withId15: boolean;
    reason: string;
}

export interface DemoData {
    seed: number;
    size: DemoSize;
    companies: string[];
    contacts: DemoPerson[];
    leads: DemoPerson[];
    /** People only the marketing platform knows. */
    prospects: DemoPerson[];
    ledger: LedgerPlan[];
    salesforcePending: SalesforcePending[];
    /** The Lead (key) converted to a Contact before the jobs run. */
    convertLead: string;
    burst: BurstItem[];
    /** The local Mailchimp's members: the ledger's memberships, plus Mailchimp-only ones. */
    mailchimpMembers: MailchimpMember[];
    /** The member who unsubscribes in Mailchimp during the demo (then pulled). */
    mailchimpUnsubscribe: { key: string; audienceId: string };
    examples: Record<DemoExample, string>;
}

export interface MailchimpMember {
    key: string;
    audienceId: string;
    status: MembershipStatus;
}

export type DemoExample =
    | 'sameEmail'
    | 'convertedLead'
    | 'id15'
    | 'optedOutInSalesforce'
    | 'allAudiences'
    | 'salesforceAudienceUnsubscribe'
    | 'platformBacklog'
    | 'noMatch'
    | 'noAccess'
    | 'validationRule'
    | 'mailchimpPush'
    | 'mailchimpPull';

interface Named {
    example: DemoExample;
    first: string;
    last: string;
    company: string;
    object: 'Contact' | 'Lead' | null;
    email?: string;
    /** Extra fields of the generated person. */
    extra?: Partial<
        Pick<DemoPerson, 'accountless' | 'ownedBySalesRep' | 'department'>
    >;
}

const NAMED: Named[] = [
    {
        example: 'sameEmail',
        first: 'Ana',
        last: 'López',
        company: 'Northwind Traders',
        object: 'Contact'
    },
    {
        example: 'convertedLead',
        first: 'Kenji',
        last: 'Watanabe',
        company: 'Sakura Systems',
        object: 'Lead'
    },
    {
        example: 'id15',
        first: 'Chloé',
        last: 'Martin',
        company: 'Lumière & Fils',
        object: 'Contact'
    },
    {
        example: 'optedOutInSalesforce',
        first: 'Wei',
        last: 'Zhang',
        company: 'Dragon Peak Technology',
        object: 'Contact'
    },
    {
        example: 'allAudiences',
        first: 'Priya',
        last: 'Natarajan',
        company: 'Redwood Health',
        object: 'Contact'
    },
    {
        example: 'salesforceAudienceUnsubscribe',
        first: 'Lucas',
        last: 'Moreau',
        company: 'Atelier Beaumont',
        object: 'Contact'
    },
    {
        example: 'platformBacklog',
        first: 'Sofia',
        last: 'Rossi',
        company: 'Coho Winery',
        object: 'Lead'
    },
    {
        example: 'noMatch',
        first: 'Jordan',
        last: 'Reyes',
        company: 'Freelance',
        object: null,
        email: 'jordan.reyes@mailbox.example'
    },
    {
        // A freelance consultant sales keeps as a Contact without an Account.
        example: 'noAccess',
        first: 'Tomás',
        last: 'Silva',
        company: 'Freelance',
        object: 'Contact',
        email: 'tomas.silva@consulting.example',
        extra: { accountless: true, ownedBySalesRep: true }
    },
    {
        example: 'validationRule',
        first: 'Margaret',
        last: 'Okafor',
        company: 'Woodgrove Bank',
        object: 'Contact',
        extra: { department: PROTECTED_DEPARTMENT }
    },
    {
        // Opted out in Salesforce; known only to Mailchimp (not in the ledger's seed).
        example: 'mailchimpPush',
        first: 'Elena',
        last: 'Petrova',
        company: 'Fourth Coffee',
        object: 'Contact'
    },
    {
        example: 'mailchimpPull',
        first: 'Noah',
        last: 'Fischer',
        company: 'Trey Research',
        object: 'Contact'
    }
];

const DAY = 86_400_000;

/** Generates the whole data set (see the file comment). */
export function generateDemoData(
    options: { seed?: number; size?: DemoSize; now?: Date } = {}
): DemoData {
    const seed = options.seed ?? 42;
    const size = options.size ?? 'full';
    const counts = DEMO_SIZES[size];
    const now = (options.now ?? new Date('2025-01-15T12:00:00Z')).getTime();
    const rnd = prng(seed);
    const pick = <T>(list: readonly T[]): T =>
        list[Math.floor(rnd() * list.length)];
    const chance = (p: number): boolean => rnd() < p;
    const pastIso = (maxDays: number): string =>
        new Date(now - Math.floor(rnd() * maxDays * DAY) - DAY).toISOString();

    const used = new Set<string>();
    const uniqueEmail = (
        first: string,
        last: string,
        company: string
    ): string => {
        const base = `${slug(first)}.${slug(last)}`;
        const domain = companyDomain(company);
        let email = `${base}@${domain}`;
        for (let n = 2; used.has(email); n++) email = `${base}${n}@${domain}`;
        used.add(email);
        return email;
    };
    const person = (
        key: string,
        object: DemoPerson['object'],
        index: number,
        first: string,
        last: string,
        company: string,
        email?: string
    ): DemoPerson => ({
        key,
        object,
        index,
        firstName: first,
        lastName: last,
        company,
        title: pick(TITLES),
        leadSource: object === 'Lead' ? pick(LEAD_SOURCES) : null,
        email: email ?? uniqueEmail(first, last, company),
        optedOut: false
    });

    const contacts: DemoPerson[] = [];
    const leads: DemoPerson[] = [];
    const prospects: DemoPerson[] = [];
    const examples = {} as Record<DemoExample, string>;
    for (const n of NAMED) {
        const list =
            n.object === 'Contact'
                ? contacts
                : n.object === 'Lead'
                  ? leads
                  : prospects;
        const prefix =
            n.object === 'Contact'
                ? 'contact'
                : n.object === 'Lead'
                  ? 'lead'
                  : 'prospect';
        const p = person(
            `${prefix}:${list.length}`,
            n.object,
            list.length,
            n.first,
            n.last,
            n.company,
            n.email
        );
        if (n.email) used.add(n.email);
        Object.assign(p, n.extra);
        list.push(p);
        examples[n.example] = p.key;
    }
    // Ana López is also a Lead, her email typed with capitals (R8 finds both).
    const ana = contacts[0];
    leads.push({
        ...person(
            `lead:${leads.length}`,
            'Lead',
            leads.length,
            ana.firstName,
            ana.lastName,
            ana.company,
            ana.email.replace(/^a/, 'A').replace(/@n/, '@N')
        ),
        title: 'Purchasing Lead'
    });
    contacts.find((c) => c.key === examples.optedOutInSalesforce)!.optedOut =
        true;
    contacts.find((c) => c.key === examples.mailchimpPush)!.optedOut = true;

    while (contacts.length < counts.contacts) {
        const i = contacts.length;
        // 1 %: a second Contact with an existing Contact's email (a duplicate record).
        if (i > 10 && chance(0.01)) {
            const twin = contacts[Math.floor(rnd() * (i - 10)) + 10];
            contacts.push({
                ...person(
                    `contact:${i}`,
                    'Contact',
                    i,
                    twin.firstName,
                    twin.lastName,
                    pick(COMPANIES),
                    twin.email
                ),
                optedOut: chance(0.04)
            });
            continue;
        }
        const p = person(
            `contact:${i}`,
            'Contact',
            i,
            pick(FIRST),
            pick(LAST),
            pick(COMPANIES)
        );
        p.optedOut = chance(0.04);
        contacts.push(p);
    }
    while (leads.length < counts.leads) {
        const i = leads.length;
        // 6 %: the Lead of someone who is also a Contact, half of them typed in capitals.
        if (chance(0.06)) {
            const c = contacts[Math.floor(rnd() * (contacts.length - 10)) + 10];
            const email = chance(0.5) ? c.email.toUpperCase() : c.email;
            leads.push({
                ...person(
                    `lead:${i}`,
                    'Lead',
                    i,
                    c.firstName,
                    c.lastName,
                    c.company,
                    email
                ),
                optedOut: chance(0.03)
            });
            continue;
        }
        const p = person(
            `lead:${i}`,
            'Lead',
            i,
            pick(FIRST),
            pick(LAST),
            pick(COMPANIES)
        );
        p.optedOut = chance(0.03);
        leads.push(p);
    }
    // People only the platform knows (signed up on the website, never reached sales).
    const prospectCount = Math.max(5, Math.round(counts.contacts * 0.02));
    while (prospects.length < prospectCount) {
        const i = prospects.length;
        const first = pick(FIRST);
        const last = pick(LAST);
        prospects.push(
            person(
                `prospect:${i}`,
                null,
                i,
                first,
                last,
                'Freelance',
                uniqueEmail(first, last, 'Mailbox')
            )
        );
    }

    // ---- the ledger: who the platform knows, in which audiences
    const ledger: LedgerPlan[] = [];
    const byKey = new Map<string, LedgerPlan>();
    const seen = new Set<string>();
    const statusOf = (): MembershipStatus => {
        const r = rnd();
        if (r < 0.8) return 'Subscribed';
        if (r < 0.88) return 'Unsubscribed';
        if (r < 0.91) return 'Cleaned';
        if (r < 0.94) return 'Pending';
        if (r < 0.97) return 'Transactional';
        return 'Archived';
    };
    const addLedger = (p: DemoPerson, idForm: IdForm): void => {
        const norm = p.email.toLowerCase();
        if (seen.has(norm)) return; // one person per email
        seen.add(norm);
        const n = 1 + Math.floor(rnd() * 3);
        const audiences = [...AUDIENCES].sort(() => rnd() - 0.5).slice(0, n);
        const plan: LedgerPlan = {
            key: p.key,
            idForm,
            memberships: audiences.map((a) => ({
                audienceId: a.id,
                status: statusOf(),
                changedAt: pastIso(700)
            })),
            globalUnsubscribedAt: null
        };
        ledger.push(plan);
        byKey.set(p.key, plan);
    };
    const idFormOf = (): IdForm => {
        const r = rnd();
        return r < 0.1 ? '15' : r < 0.9 ? '18' : 'none';
    };
    for (const c of contacts) {
        if (
            c.key === examples.optedOutInSalesforce ||
            c.key === examples.mailchimpPush
        )
            continue;
        if (c.key === examples.id15) addLedger(c, '15');
        else if (Object.values(examples).includes(c.key) || chance(0.85))
            addLedger(c, idFormOf());
    }
    for (const l of leads) {
        if (l.key === examples.convertedLead) addLedger(l, '15');
        else if (Object.values(examples).includes(l.key) || chance(0.7))
            addLedger(l, idFormOf());
    }
    for (const p of prospects) addLedger(p, 'none');
    // The named people's memberships say what they show.
    const set = (key: string, memberships: LedgerPlan['memberships']): void => {
        const plan = byKey.get(key);
        if (plan) plan.memberships = memberships;
    };
    const sub = (
        audienceId: string,
        status: MembershipStatus = 'Subscribed'
    ): LedgerPlan['memberships'][number] => ({
        audienceId,
        status,
        changedAt: pastIso(400)
    });
    for (const key of [
        examples.sameEmail,
        examples.convertedLead,
        examples.id15,
        examples.noMatch,
        examples.noAccess,
        examples.validationRule
    ])
        set(key, [sub(AUDIENCES[0].id), sub(AUDIENCES[1].id)]);
    set(
        examples.allAudiences,
        AUDIENCES.map((a) => sub(a.id, 'Unsubscribed'))
    );
    set(examples.salesforceAudienceUnsubscribe, [
        sub(AUDIENCES[0].id),
        sub(AUDIENCES[1].id)
    ]);
    set(examples.platformBacklog, [sub(AUDIENCES[2].id)]);
    // Two audiences: leaving one in Mailchimp is not leaving everything (R5).
    set(examples.mailchimpPull, [sub(AUDIENCES[0].id), sub(AUDIENCES[1].id)]);
    // Old platform unsubscribes from everything that never reached Salesforce.
    for (const plan of ledger)
        if (plan.key.startsWith('contact') || plan.key.startsWith('lead'))
            if (!Object.values(examples).includes(plan.key) && chance(0.015))
                plan.globalUnsubscribedAt = pastIso(300);
    (byKey.get(examples.platformBacklog) as LedgerPlan).globalUnsubscribedAt =
        pastIso(120);

    // ---- audience unsubscribes made in Salesforce (component or Flow), waiting for the hourly
    const salesforcePending: SalesforcePending[] = [
        {
            key: examples.salesforceAudienceUnsubscribe,
            audienceId: AUDIENCES[1].id,
            source: 'Flow',
            reason: 'Asked the account manager to stop product emails',
            changedAt: new Date(now - 2 * 3_600_000).toISOString()
        }
    ];
    for (const plan of ledger) {
        if (
            salesforcePending.length >=
            Math.max(3, Math.round(counts.contacts * 0.005))
        )
            break;
        if (
            !plan.key.startsWith('contact') ||
            Object.values(examples).includes(plan.key) ||
            plan.globalUnsubscribedAt
        )
            continue;
        const m = plan.memberships.find((x) => x.status === 'Subscribed');
        if (m && chance(0.05))
            salesforcePending.push({
                key: plan.key,
                audienceId: m.audienceId,
                source: chance(0.5) ? 'Flow' : 'Salesforce',
                reason: 'Unsubscribed from the record page',
                changedAt: new Date(
                    now - Math.floor(rnd() * 50) * 60_000
                ).toISOString()
            });
    }

    // ---- the burst of real-time unsubscribes: 200 (fewer at the small size)
    const burstSize = size === 'full' ? 200 : 40;
    const burst: BurstItem[] = [
        {
            key: examples.sameEmail,
            kind: 'global',
            audienceId: null,
            withId15: false,
            reason: 'Unsubscribed from all emails'
        },
        {
            key: examples.convertedLead,
            kind: 'global',
            audienceId: null,
            withId15: true,
            reason: 'Unsubscribed from all emails'
        },
        {
            key: examples.id15,
            kind: 'global',
            audienceId: null,
            withId15: false,
            reason: 'Replied STOP'
        },
        {
            key: examples.noMatch,
            kind: 'global',
            audienceId: null,
            withId15: false,
            reason: 'Unsubscribed from all emails'
        },
        {
            key: examples.noAccess,
            kind: 'global',
            audienceId: null,
            withId15: false,
            reason: 'Unsubscribed from all emails'
        },
        {
            key: examples.validationRule,
            kind: 'global',
            audienceId: null,
            withId15: false,
            reason: 'Unsubscribed from all emails'
        }
    ];
    const taken = new Set(burst.map((b) => b.key));
    const candidates = ledger.filter(
        (p) =>
            !Object.values(examples).includes(p.key) && !p.globalUnsubscribedAt
    );
    while (burst.length < burstSize && taken.size < candidates.length) {
        const plan = candidates[Math.floor(rnd() * candidates.length)];
        if (taken.has(plan.key)) continue;
        const subscribed = plan.memberships.find(
            (m) => m.status === 'Subscribed'
        );
        const audience = burst.length % 4 === 0 && subscribed;
        taken.add(plan.key);
        burst.push(
            audience
                ? {
                      key: plan.key,
                      kind: 'audience',
                      audienceId: subscribed.audienceId,
                      withId15: false,
                      reason: 'manual'
                  }
                : {
                      key: plan.key,
                      kind: 'global',
                      audienceId: null,
                      withId15: false,
                      reason: 'Unsubscribed from all emails'
                  }
        );
    }

    return {
        seed,
        size,
        companies: [
            ...new Set(
                [...contacts, ...leads]
                    .filter((p) => !p.accountless)
                    .map((p) => p.company)
            )
        ],
        contacts,
        leads,
        prospects,
        ledger,
        salesforcePending,
        convertLead: examples.convertedLead,
        burst,
        mailchimpMembers: [
            ...ledger.flatMap((plan) =>
                plan.memberships.map((m) => ({
                    key: plan.key,
                    audienceId: m.audienceId,
                    status: m.status
                }))
            ),
            {
                key: examples.mailchimpPush,
                audienceId: AUDIENCES[0].id,
                status: 'Subscribed' as const
            }
        ],
        mailchimpUnsubscribe: {
            key: examples.mailchimpPull,
            audienceId: AUDIENCES[1].id
        },
        examples
    };
}

/** Every generated person by key. */
export function peopleByKey(data: DemoData): Map<string, DemoPerson> {
    return new Map(
        [...data.contacts, ...data.leads, ...data.prospects].map((p) => [
            p.key,
            p
        ])
    );
}
