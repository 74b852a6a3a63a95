/**
 * The sync's decision functions, one rule at a time, without any I/O.
 */
import { makeId } from '../../model/ids';
import {
    allAudiencesUnsubscribed,
    claimWins,
    desiredMembership,
    emailKey,
    membershipKey,
    membershipWrite,
    nextCursor,
    oneRowPerKey,
    optOutDecision,
    pendingChange,
    resolveTargets,
    sameInstant,
    toSecond,
    type ExistingMembership,
    type RowClaim,
    type SfRecord
} from '../decisions';
import { newRecordsWhere } from '../new-records';
import { exitCodeFor, finalStatus } from '../result';

const C1 = makeId('003', 1);
const C2 = makeId('003', 2);
const L1 = makeId('00Q', 1);
const L2 = makeId('00Q', 2);

function rec(
    id: string,
    email: string | null,
    extra: Partial<SfRecord> = {}
): SfRecord {
    return {
        id,
        object: id.startsWith('003') ? 'Contact' : 'Lead',
        emailNorm: emailKey(email),
        optOut: { HasOptedOutOfEmail: false },
        isConverted: false,
        convertedContactId: null,
        ...extra
    };
}

describe('R6/R8/R9 resolveTargets', () => {
    const records = [
        rec(C1, 'Ana@Example.com'),
        rec(C2, 'other@example.com'),
        rec(L1, 'ana@example.com'),
        rec(L2, 'ana@example.com', {
            isConverted: true,
            convertedContactId: C2
        })
    ];
    const lookup = (id: string): SfRecord | undefined =>
        records.find((r) => r.id === id);

    it('R8 on: the id’s record plus every record with the email; a converted lead gives its Contact', () => {
        const r = resolveTargets(
            { emailNorm: 'ana@example.com', salesforceId: null },
            records,
            {
                applyToSameEmail: true,
                lookup
            }
        );
        expect(r.targets.map((t) => [t.id, t.via])).toEqual([
            [C1, 'email'],
            [L1, 'email'],
            [C2, 'converted']
        ]);
        expect(r.targets.find((t) => t.id === C2)?.record?.emailNorm).toBe(
            'other@example.com'
        );
    });

    it('R8 off: only the record of the id (a 15-character id works too)', () => {
        const r = resolveTargets(
            { emailNorm: 'ana@example.com', salesforceId: C2.slice(0, 15) },
            records,
            { applyToSameEmail: false, lookup }
        );
        expect(r.targets.map((t) => [t.id, t.via])).toEqual([[C2, 'id']]);
    });

    it('R6: no match is a skip with a reason, and a malformed id is no crash', () => {
        expect(
            resolveTargets(
                { emailNorm: 'x@example.com', salesforceId: 'garbage' },
                records,
                {
                    applyToSameEmail: true
                }
            )
        ).toEqual({ targets: [], skip: 'no_matching_record' });
        expect(
            resolveTargets(
                { emailNorm: 'z@example.com', salesforceId: L2 },
                [rec(L2, 'z@example.com', { isConverted: true })],
                { applyToSameEmail: false }
            )
        ).toEqual({ targets: [], skip: 'converted_lead_without_contact' });
    });

    it('R9: a converted Contact not read is still a target (value unknown → written)', () => {
        const r = resolveTargets(
            { emailNorm: 'z@example.com', salesforceId: L2 },
            [
                rec(L2, 'z@example.com', {
                    isConverted: true,
                    convertedContactId: C1
                })
            ],
            { applyToSameEmail: false }
        );
        expect(r.targets).toEqual([
            { id: C1, object: 'Contact', record: null, via: 'converted' }
        ]);
        expect(
            optOutDecision(r.targets, 'HasOptedOutOfEmail').write
        ).toHaveLength(1);
    });
});

describe('R1/R4/R11 optOutDecision', () => {
    it('writes true only where the chosen field is not already true; never false', () => {
        const t = (id: string, v: boolean | undefined) => ({
            id,
            object: 'Contact' as const,
            record: rec(id, null, {
                optOut: v === undefined ? {} : { Marketo_Sales_Opt_Out__c: v }
            }),
            via: 'email' as const
        });
        const d = optOutDecision(
            [t(C1, true), t(C2, false), t(L1, undefined)],
            'Marketo_Sales_Opt_Out__c'
        );
        expect(d.alreadySet.map((x) => x.id)).toEqual([C1]);
        expect(d.write.map((x) => x.id)).toEqual([C2, L1]);
    });
});

describe('R5b allAudiencesUnsubscribed', () => {
    it.each([
        [['Unsubscribed'], true],
        [['Unsubscribed', 'Archived'], true],
        [['Unsubscribed', 'Subscribed'], false],
        [['Unsubscribed', 'Cleaned'], false],
        [['Archived'], false],
        [[], false]
    ] as const)('%j → %s', (statuses, expected) => {
        expect(allAudiencesUnsubscribed(statuses)).toBe(expected);
    });
});

describe('R5a memberships', () => {
    const m = {
        audienceId: 'news',
        audienceName: 'News',
        email: 'Ana@example.com',
        status: 'Unsubscribed' as const,
        changedAt: '2024-05-20T20:49:32.000Z',
        source: 'flow' as const,
        reason: '  too many  '
    };
    const desired = desiredMembership(m, { id: L1, object: 'Lead' });
    const existing: ExistingMembership = {
        id: makeId('a00', 1),
        key: membershipKey('news', L1),
        contactId: null,
        leadId: L1.slice(0, 15),
        audienceId: 'news',
        audienceName: 'News',
        email: 'ana@example.com',
        status: 'Unsubscribed',
        changedAt: '2024-05-20T20:49:32.000+0000',
        source: 'Flow',
        reason: 'too many',
        pending: false
    };

    it('builds the row: key, lookups, picklist source, reason only when unsubscribed', () => {
        expect(desired).toEqual({
            Membership_Key__c: `news:${L1}`,
            Contact__c: null,
            Lead__c: L1,
            Audience_Id__c: 'news',
            Audience_Name__c: 'News',
            Email__c: 'Ana@example.com',
            Status__c: 'Unsubscribed',
            Status_Changed_At__c: '2024-05-20T20:49:32.000Z',
            Source__c: 'Flow',
            Unsubscribe_Reason__c: 'too many'
        });
        expect(
            desiredMembership(
                { ...m, status: 'Subscribed' },
                { id: C1, object: 'Contact' }
            ).Unsubscribe_Reason__c
        ).toBeNull();
    });

    it('R11: writes only a missing or different row; leaves a pending Salesforce change alone', () => {
        expect(membershipWrite(desired, undefined)).toBe('create');
        expect(membershipWrite(desired, existing)).toBe('unchanged');
        expect(
            membershipWrite(desired, { ...existing, audienceName: 'Old' })
        ).toBe('update');
        expect(
            membershipWrite(desired, {
                ...existing,
                changedAt: '2024-05-21T00:00:00.000Z'
            })
        ).toBe('update');
        expect(
            membershipWrite(desired, {
                ...existing,
                status: 'Subscribed',
                pending: true
            })
        ).toBe('pending_in_salesforce');
        expect(membershipWrite(desired, { ...existing, pending: true })).toBe(
            'unchanged'
        );
    });

    it('R11 on a real org: times compare to the second, and are sent cut to the second', () => {
        // Salesforce keeps DateTime to the second: a ledger time with milliseconds
        // reads back without them, and the row is the same.
        const withMs = desiredMembership(
            { ...m, changedAt: '2024-05-20T20:49:32.789Z' },
            { id: L1, object: 'Lead' }
        );
        expect(withMs.Status_Changed_At__c).toBe('2024-05-20T20:49:32.000Z');
        expect(
            membershipWrite(
                {
                    ...desired,
                    Status_Changed_At__c: '2024-05-20T20:49:32.123Z'
                },
                existing
            )
        ).toBe('unchanged');
        expect(
            membershipWrite(desired, {
                ...existing,
                changedAt: '2024-05-20T20:49:33.000+0000'
            })
        ).toBe('update');
        expect(
            sameInstant('2024-05-20T20:49:32.999Z', '2024-05-20T22:49:32+0200')
        ).toBe(true);
        expect(sameInstant('2024-05-20T20:49:32Z', null)).toBe(false);
        expect(sameInstant(null, null)).toBe(true);
        expect(toSecond('2024-05-20T22:49:32.5+02:00')).toBe(
            '2024-05-20T20:49:32.000Z'
        );
        expect(toSecond('not a time')).toBe('not a time');
    });

    it('R5c: a pending row becomes a ledger change (Flow → flow, else salesforce)', () => {
        expect(pendingChange(existing)).toEqual({
            ok: true,
            email: 'ana@example.com',
            salesforceId: L1,
            audienceId: 'news',
            audienceName: 'News',
            status: 'Unsubscribed',
            changedAt: '2024-05-20T20:49:32.000Z',
            source: 'flow',
            reason: 'too many'
        });
        expect(
            pendingChange({ ...existing, source: 'Platform' })
        ).toMatchObject({ source: 'salesforce' });
        expect(
            pendingChange({ ...existing, email: null }, 'rec@example.com')
        ).toMatchObject({
            email: 'rec@example.com'
        });
        expect(pendingChange({ ...existing, email: null })).toEqual({
            ok: false,
            reason: 'email is empty'
        });
        expect(pendingChange({ ...existing, status: 'Gone' })).toMatchObject({
            ok: false
        });
    });

    it('moves the cursor up to what was handled, never past a failure', () => {
        expect(nextCursor(10, 50, [])).toBe(50);
        expect(nextCursor(10, 50, [30, 41])).toBe(29);
        expect(nextCursor(10, 50, [11])).toBe(10);
        expect(nextCursor(10, 10, [])).toBe(10);
        expect(
            nextCursor(
                0,
                200_000,
                Array.from({ length: 200_000 }, (_, i) => i + 5)
            )
        ).toBe(4);
    });
});

describe('R13 one row per key', () => {
    const claim = (
        status: string,
        changedAt: string | null,
        personId: number | null
    ): RowClaim => ({ status, changedAt, personId });

    it('an unsubscribe beats Cleaned, Cleaned beats every live status, whatever the times', () => {
        const old = '2024-01-01T00:00:00Z';
        const late = '2024-06-01T00:00:00Z';
        expect(
            claimWins(claim('Unsubscribed', old, 2), claim('Cleaned', late, 1))
        ).toBe(true);
        expect(
            claimWins(claim('Cleaned', old, 2), claim('Subscribed', late, 1))
        ).toBe(true);
        expect(
            claimWins(claim('Subscribed', late, 1), claim('Cleaned', old, 2))
        ).toBe(false);
        expect(
            claimWins(claim('Archived', late, 1), claim('Unsubscribed', old, 2))
        ).toBe(false);
    });

    it('otherwise the later change wins (to the second), then the lower person id', () => {
        expect(
            claimWins(
                claim('Subscribed', '2024-06-02T00:00:00Z', 9),
                claim('Pending', '2024-06-01T00:00:00Z', 1)
            )
        ).toBe(true);
        expect(
            claimWins(
                claim('Subscribed', null, 1),
                claim('Pending', '2024-06-01T00:00:00Z', 9)
            )
        ).toBe(false);
        // Same second: the milliseconds do not count (Salesforce drops them).
        expect(
            claimWins(
                claim('Subscribed', '2024-06-01T00:00:00.900Z', 9),
                claim('Pending', '2024-06-01T00:00:00.100Z', 1)
            )
        ).toBe(false);
        expect(
            claimWins(
                claim('Pending', '2024-06-01T00:00:00.100Z', 1),
                claim('Subscribed', '2024-06-01T00:00:00.900Z', 9)
            )
        ).toBe(true);
        expect(
            claimWins(
                claim('Subscribed', null, null),
                claim('Subscribed', null, 3)
            )
        ).toBe(false);
    });

    it('keeps one item per exact key, whatever the order they come in', () => {
        const items = [
            {
                key: `news:${C1}`,
                c: claim('Subscribed', '2024-06-02T00:00:00Z', 1)
            },
            {
                key: `NEWS:${C1}`,
                c: claim('Subscribed', '2024-06-02T00:00:00Z', 2)
            },
            {
                key: `news:${C1}`,
                c: claim('Unsubscribed', '2024-06-01T00:00:00Z', 3)
            },
            { key: `news:${C2}`, c: claim('Pending', null, 4) },
            {
                key: `news:${C1}`,
                c: claim('Unsubscribed', '2024-06-01T00:00:00Z', 2)
            }
        ];
        const pick = (list: typeof items): [string, number | null][] =>
            [
                ...oneRowPerKey(
                    list,
                    (i) => i.key,
                    (i) => i.c
                )
            ]
                .map(([k, i]): [string, number | null] => [k, i.c.personId])
                .sort((a, b) => a[0].localeCompare(b[0]));
        const expected: [string, number | null][] = [
            [`NEWS:${C1}`, 2],
            [`news:${C1}`, 2],
            [`news:${C2}`, 4]
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))) as [
            string,
            number | null
        ][];
        expect(pick(items)).toEqual(expected);
        expect(pick([...items].reverse())).toEqual(expected);
    });
});

describe('records created or converted since the last check', () => {
    it('reads Leads converted from the day before (ConvertedDate is a date in the org’s time zone)', () => {
        const since = Date.parse('2024-06-02T01:30:00.250Z');
        expect(newRecordsWhere('Contact', since)).toBe(
            'CreatedDate >= 2024-06-02T01:30:00Z'
        );
        expect(newRecordsWhere('Lead', since)).toBe(
            '(CreatedDate >= 2024-06-02T01:30:00Z OR (IsConverted = true AND ConvertedDate >= 2024-06-01))'
        );
    });
});

describe('run status and exit codes', () => {
    it('deferred is not a failure; a record failed for good is', () => {
        const failure = {
            recordId: C1,
            object: 'Contact',
            errorCode: 'X',
            message: 'x'
        };
        expect(finalStatus({ failed: [], deferred: null })).toBe('succeeded');
        expect(finalStatus({ failed: [failure], deferred: null })).toBe(
            'partial'
        );
        expect(
            finalStatus({
                failed: [],
                deferred: { count: 1, reason: 'budget' }
            })
        ).toBe('deferred');
        expect(exitCodeFor({ status: 'deferred', failed: [] })).toBe(0);
        expect(exitCodeFor({ status: 'skipped', failed: [] })).toBe(0);
        // A partial run (records refused, R14) has its own code: 3, not 1.
        expect(exitCodeFor({ status: 'partial', failed: [failure] })).toBe(3);
        expect(exitCodeFor({ status: 'deferred', failed: [failure] })).toBe(3);
        expect(exitCodeFor({ status: 'failed', failed: [] })).toBe(1);
    });
});
