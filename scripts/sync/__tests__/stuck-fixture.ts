/**
 * R14 test helpers: the validation rules that make Salesforce refuse chosen records
 * (the local org runs them as Salesforce does), and a ledger membership in one line.
 */
import type { Ledger } from '../../ledger/ledger';
import { deployPackage } from '../../tools/local-org/testing';
import type { MembershipStatus } from '../../model/statuses';
import type { Fixture } from './fixture';

export async function member(
    ledger: Ledger,
    email: string,
    audienceId: string,
    status: MembershipStatus
): Promise<void> {
    const person = (await ledger.upsertPerson({ email })).person;
    if (!(await ledger.getAudience(audienceId)))
        await ledger.upsertAudience({
            id: audienceId,
            name: `Audience ${audienceId}`
        });
    await ledger.setMembershipStatus({
        personId: person.id,
        audienceId,
        status,
        source: 'import',
        changedAt: '2024-05-20T20:49:32.000Z'
    });
}

/** The validation rules: Contacts named Blocked refuse the opt-out; "stuck…" memberships are refused. */
export async function deployRules(fx: Fixture): Promise<void> {
    for (const dir of ['contact-rule', 'membership-rule']) {
        const summary = await deployPackage(
            fx.t,
            `scripts/sync/__tests__/fixtures/${dir}`
        );
        expect(summary.success).toBe(true);
    }
}
