/**
 * Contract of R14 in the CLI: `optout status` lists stuck records by reason with what
 * to do, `optout history --email` shows the refusals and attempts, `optout retry`
 * puts them back (and changes nothing on bad input); --json carries the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import type { AttemptError } from '../../ledger/types';
import { DEAD_LETTER_AFTER } from '../../model/stuck';
import { cli } from './run-cli';

let dir: string;
let ledgerPath: string;

/**
 * Wide text output: these tests read a table row on one line. How the text fits an
 * 80-column terminal is tested in render-*.test.ts.
 */
const envColumns = process.env.COLUMNS;
beforeAll(() => {
    process.env.COLUMNS = '250';
});
afterAll(() => {
    if (envColumns === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = envColumns;
});

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-stuck-'));
    ledgerPath = join(dir, 'ledger.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const RULE: AttemptError = {
    code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
    message: 'Blocked contacts cannot be opted out.',
    recordId: '0038d0000000002AAA',
    object: 'Contact'
};
const ACCESS: AttemptError = {
    code: 'INSUFFICIENT_ACCESS_OR_READONLY',
    message: 'insufficient access rights on object id',
    recordId: 'news:0038d0000000003AAA',
    object: 'Audience_Membership__c'
};

/** blocked@: a dead-lettered global unsubscribe; private@: a membership retrying. */
async function seed(): Promise<void> {
    const l = await Ledger.open(ledgerPath);
    try {
        const id = (
            await l.recordUnsubscribe({
                email: 'blocked@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        await l.recordUnsubscribe({
            email: 'fine@example.com',
            scope: 'all',
            source: 'webhook'
        });
        const at = new Date().toISOString();
        for (let i = 0; i < DEAD_LETTER_AFTER; i++)
            await l.recordUnsubscribeAttempts(
                [{ id, outcome: 'failed', error: RULE }],
                { at, delay: () => 0, runId: `run-${i}` }
            );
        const person = (await l.upsertPerson({ email: 'private@example.com' }))
            .person;
        await l.upsertAudience({ id: 'news', name: 'News' });
        await l.setMembershipStatus({
            personId: person.id,
            audienceId: 'news',
            status: 'Subscribed',
            source: 'platform'
        });
        await l.recordMembershipAttempts(
            [
                {
                    personId: person.id,
                    audienceId: 'news',
                    outcome: 'failed',
                    error: ACCESS
                }
            ],
            { at, delay: () => 0, runId: 'run-h' }
        );
    } finally {
        await l.close();
    }
}

describe('optout status (stuck records)', () => {
    it('groups them by reason with counts, examples and what to do; --json carries the same', async () => {
        await seed();
        const human = await cli('status', '--ledger', ledgerPath);
        expect(human.code).toBe(0);
        expect(human.stdout).toMatch(
            /Refused by Salesforce.*1 retrying with back-off, 1 dead letter/
        );
        expect(human.stdout).toMatch(
            /A validation rule refuses the write: 0 retrying, 1 dead letter\(s\) \[FIELD_CUSTOM_VALIDATION_EXCEPTION 1\]/
        );
        expect(human.stdout).toMatch(
            /blocked@example.com — 0038d0000000002AAA \(unsubscribe from all\): Blocked contacts cannot be opted out\./
        );
        expect(human.stdout).toMatch(
            /What to do: Assign the Opt_Out_Sync_Integration_Modify_All permission set/
        );
        const json = await cli('status', '--ledger', ledgerPath, '--json');
        expect(json.code).toBe(0);
        expect(json.json.stuck).toMatchObject({
            retrying: 1,
            deadLetters: 1,
            byReason: expect.arrayContaining([
                expect.objectContaining({
                    reason: 'no_access',
                    retrying: 1,
                    codes: { INSUFFICIENT_ACCESS_OR_READONLY: 1 },
                    examples: [
                        expect.objectContaining({
                            kind: 'membership',
                            email: 'private@example.com',
                            audienceId: 'news',
                            recordId: ACCESS.recordId,
                            errorMessage: ACCESS.message
                        })
                    ]
                })
            ])
        });
    });
});

describe('optout history (stuck records)', () => {
    it('shows the reason, the attempts and what to do', async () => {
        await seed();
        const human = await cli(
            'history',
            '--email',
            'blocked@example.com',
            '--ledger',
            ledgerPath
        );
        expect(human.code).toBe(0);
        expect(human.stdout).toMatch(
            /Refused by Salesforce \(unsubscribe #1\): FIELD_CUSTOM_VALIDATION_EXCEPTION on 0038d0000000002AAA: Blocked contacts cannot be opted out\. — dead letter since/
        );
        expect(human.stdout).toMatch(/5 refusal\(s\) in a row, 5 attempt\(s\)/);
        expect(human.stdout).toMatch(/What to do: Change the validation rule/);
        expect(human.stdout).toMatch(/set aside as a dead letter/);
        const json = await cli(
            'history',
            '--email',
            'private@example.com',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(json.json.stuck).toEqual([
            expect.objectContaining({
                kind: 'membership',
                state: 'retrying',
                errorCode: ACCESS.code,
                failures: 1,
                attempts: 1,
                reason: 'no_access'
            })
        ]);
        expect(json.json.memberships).toEqual([
            expect.objectContaining({
                audienceId: 'news',
                syncOutcome: 'rejected',
                syncErrorCode: ACCESS.code,
                syncErrorMessage: ACCESS.message
            })
        ]);
        expect(json.json.audit).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    action: 'delivery_failed',
                    recordId: ACCESS.recordId,
                    after: 'rejected'
                })
            ])
        );
    });
});

describe('optout retry', () => {
    it('changes nothing on bad input and says so', async () => {
        await seed();
        const none = await cli('retry', '--ledger', ledgerPath);
        expect(none.code).toBe(2);
        expect(none.stderr).toMatch(/--all, --email EMAIL or --reason CODE/);
        const both = await cli(
            'retry',
            '--all',
            '--email',
            'blocked@example.com',
            '--ledger',
            ledgerPath
        );
        expect(both.code).toBe(2);
        const badReason = await cli(
            'retry',
            '--reason',
            'not a code',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(badReason.code).toBe(2);
        expect(badReason.json).toMatchObject({ name: 'BAD_ARGUMENT' });
        const unknown = await cli(
            'retry',
            '--email',
            'nobody@example.com',
            '--ledger',
            ledgerPath
        );
        expect(unknown.code).toBe(1);
        expect(unknown.stderr).toMatch(/UNKNOWN_EMAIL.*nothing was changed/);
        const status = await cli('status', '--ledger', ledgerPath, '--json');
        expect(status.json.stuck).toMatchObject({
            retrying: 1,
            deadLetters: 1
        });
    });

    it('puts back by reason, by email or all, prints how many (--json too)', async () => {
        await seed();
        const none = await cli(
            'retry',
            '--reason',
            'DUPLICATE_VALUE',
            '--ledger',
            ledgerPath
        );
        expect(none.code).toBe(0);
        expect(none.stdout).toMatch(/Nothing to retry/);
        const byReason = await cli(
            'retry',
            '--reason',
            'validation_rule',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(byReason.code).toBe(0);
        expect(byReason.json).toMatchObject({
            status: 'retried',
            putBack: 1,
            deadLetters: 1,
            retrying: 0,
            unsubscribes: 1,
            memberships: 0,
            records: [
                expect.objectContaining({
                    email: 'blocked@example.com',
                    reason: 'validation_rule'
                })
            ]
        });
        const human = await cli('retry', '--all', '--ledger', ledgerPath);
        expect(human.code).toBe(0);
        expect(human.stdout).toMatch(
            /Put back 2 record\(s\) \(0 dead letter\(s\), 2 retrying\)/
        );
        const l = await Ledger.open(ledgerPath);
        try {
            const u = await l.findPerson('blocked@example.com');
            expect(u && (await l.listUnsubscribes(u.id))[0]).toMatchObject({
                lastOutcome: 'rejected',
                failures: 0,
                deadAt: null
            });
            expect(await l.countPushable()).toBe(2);
            expect(
                (await l.auditForEmail('blocked@example.com')).filter(
                    (a) => a.action === 'retry_requested'
                )
            ).toHaveLength(2);
        } finally {
            await l.close();
        }
    });
});
