/**
 * R14 in the ledger: refused writes recorded with Salesforce's code and message,
 * backed off, dead-lettered after DEAD_LETTER_AFTER in a row, and put back by
 * `retryStuck`; migration 3 on a file written by an older version.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEAD_LETTER_AFTER, STUCK_OUTCOMES } from '../../model/stuck';
import { Ledger, connectionOf } from '../ledger';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../migrations';
import type { AttemptError } from '../types';
import { itSqlite } from './sqlite-only';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const MIN = 60_000;

async function clocked(path = ':memory:'): Promise<{
    ledger: Ledger;
    tick: (ms: number) => void;
    now: () => string;
}> {
    let t = T0;
    const ledger = await Ledger.open(path, { now: () => new Date(t) });
    return {
        ledger,
        tick: (ms) => (t += ms),
        now: () => new Date(t).toISOString()
    };
}

const RULE: AttemptError = {
    code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
    message: 'Blocked contacts cannot be opted out.',
    recordId: '003000000000001AAA',
    object: 'Contact'
};
const LOCK: AttemptError = {
    code: 'UNABLE_TO_LOCK_ROW',
    message: 'unable to obtain exclusive access to this record',
    recordId: '003000000000002AAA',
    object: 'Contact'
};
const delay = (): number => 50 * MIN;

async function pushableIds(ledger: Ledger, dueBy: string): Promise<number[]> {
    return (
        await ledger.undeliveredUnsubscribes({ select: 'pushable', dueBy })
    ).map((u) => u.id);
}

describe('migration 3 (stuck records)', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'ledger-stuck-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    itSqlite(
        'adds the columns to a version 2 ledger, keeping its rows',
        async () => {
            const path = join(dir, 'ledger.db');
            const old = await Ledger.open(path, {
                migrations: MIGRATIONS.slice(0, 2)
            });
            expect(await old.schemaVersion()).toBe(2);
            // Plain SQL: today's ledger API writes tables a version-2 file lacks
            // (migration 4's suppression_events).
            connectionOf(old).exec(`
INSERT INTO persons (id, email, email_norm, created_at, updated_at)
    VALUES (1, 'a@example.com', 'a@example.com', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
INSERT INTO unsubscribes (person_id, scope, source, collected_at)
    VALUES (1, 'all', 'webhook', '2025-01-01T00:00:00.000Z');`);
            await old.close();
            const ledger = await Ledger.open(path);
            try {
                expect(await ledger.schemaVersion()).toBe(
                    LATEST_SCHEMA_VERSION
                );
                const [u] = await ledger.undeliveredUnsubscribes();
                expect(u).toMatchObject({
                    failures: 0,
                    errorCode: null,
                    errorMessage: null,
                    errorRecordId: null,
                    deadAt: null
                });
                expect((await ledger.status()).stuck).toEqual({
                    retrying: 0,
                    deadLetters: 0,
                    byReason: []
                });
            } finally {
                await ledger.close();
            }
        }
    );
});

describe('migration 3 is frozen', () => {
    it('names the stuck outcomes literally, and they are still the ones the ledger uses', () => {
        const sql = MIGRATIONS[2].sql;
        const literal = `IN (${STUCK_OUTCOMES.map((o) => `'${o}'`).join(', ')})`;
        // If STUCK_OUTCOMES changes, add a migration for the new vocabulary: a
        // released migration's text never changes.
        expect(sql.split(literal)).toHaveLength(3);
    });
});

describe('refused unsubscribes', () => {
    it('records the code and message, backs off, and dead-letters after DEAD_LETTER_AFTER refusals', async () => {
        const { ledger, tick, now } = await clocked();
        const blocked = (
            await ledger.recordUnsubscribe({
                email: 'blocked@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        const other = (
            await ledger.recordUnsubscribe({
                email: 'fine@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        const delays = [5, 30, 120, 720];
        for (let i = 1; i <= DEAD_LETTER_AFTER; i++) {
            expect(await pushableIds(ledger, now())).toContain(blocked);
            await ledger.recordUnsubscribeAttempts(
                [{ id: blocked, outcome: 'failed', error: RULE }],
                { at: now(), delay, runId: `run-${i}` }
            );
            const dead = i === DEAD_LETTER_AFTER;
            expect(await ledger.getUnsubscribe(blocked)).toMatchObject({
                failures: i,
                attempts: i,
                errorCode: RULE.code,
                errorMessage: RULE.message,
                errorRecordId: RULE.recordId,
                lastOutcome: dead ? 'dead_letter' : 'rejected',
                deadAt: dead ? now() : null,
                nextAttemptAt: dead
                    ? null
                    : new Date(
                          Date.parse(now()) + delays[i - 1] * MIN
                      ).toISOString()
            });
            // Not due before its back-off is over; the other one always is.
            expect(await pushableIds(ledger, now())).toEqual([other]);
            if (!dead) tick(delays[i - 1] * MIN);
        }
        // A dead letter is never due on its own.
        tick(30 * 24 * 60 * MIN);
        expect(await pushableIds(ledger, now())).toEqual([other]);
        expect(await ledger.countPushable(now())).toBe(1);
        const audit = (
            await ledger.auditForEmail('blocked@example.com')
        ).filter((a) => a.action === 'delivery_failed');
        expect(audit).toHaveLength(DEAD_LETTER_AFTER);
        expect(JSON.parse(audit[0].detail ?? '{}')).toMatchObject({
            code: RULE.code,
            message: RULE.message,
            kind: 'permanent',
            failures: 1
        });
        expect(audit[0]).toMatchObject({
            recordId: RULE.recordId,
            object: 'Contact',
            after: 'rejected'
        });
        expect(audit[DEAD_LETTER_AFTER - 1].after).toBe('dead_letter');
        await ledger.close();
    });

    it('keeps a transient refusal due at once and does not count it toward a dead letter', async () => {
        const { ledger, now } = await clocked();
        const id = (
            await ledger.recordUnsubscribe({
                email: 'a@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        await ledger.recordUnsubscribeAttempts(
            [{ id, outcome: 'failed', error: RULE }],
            { at: now(), delay }
        );
        await ledger.recordUnsubscribeAttempts(
            [{ id, outcome: 'failed', error: LOCK }],
            { at: now(), delay }
        );
        expect(await ledger.getUnsubscribe(id)).toMatchObject({
            lastOutcome: 'failed',
            failures: 1,
            errorCode: 'UNABLE_TO_LOCK_ROW',
            nextAttemptAt: null
        });
        expect(await pushableIds(ledger, now())).toEqual([id]);
        expect(await ledger.stuckRecords()).toEqual([]);
        await ledger.close();
    });

    it('a delivery ends the stuck state', async () => {
        const { ledger, now } = await clocked();
        const id = (
            await ledger.recordUnsubscribe({
                email: 'a@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        await ledger.recordUnsubscribeAttempts(
            [{ id, outcome: 'failed', error: RULE }],
            { at: now(), delay }
        );
        expect(await ledger.stuckRecords()).toHaveLength(1);
        await ledger.markDelivered([id], { runId: 'r' });
        expect(await ledger.stuckRecords()).toEqual([]);
        expect((await ledger.getUnsubscribe(id))?.failures).toBe(0);
        await ledger.close();
    });
});

describe('refused memberships', () => {
    async function member(
        ledger: Ledger,
        email: string,
        audienceId: string
    ): Promise<number> {
        const person = (await ledger.upsertPerson({ email })).person;
        await ledger.upsertAudience({ id: audienceId, name: audienceId });
        await ledger.setMembershipStatus({
            personId: person.id,
            audienceId,
            status: 'Subscribed',
            source: 'platform'
        });
        return person.id;
    }

    it('backs off, dead-letters, is left out of the retries, and a new change starts afresh', async () => {
        const { ledger, tick, now } = await clocked();
        const ana = await member(ledger, 'ana@example.com', 'news');
        const dup: AttemptError = {
            code: 'DUPLICATES_DETECTED',
            message: 'Use one of these records?',
            recordId: 'news:003000000000001AAA',
            object: 'Audience_Membership__c'
        };
        const due = async (): Promise<number> =>
            ledger.countMembershipRetries({ dueBy: now(), maxSeq: 99 });
        for (let i = 1; i <= DEAD_LETTER_AFTER; i++) {
            await ledger.recordMembershipAttempts(
                [
                    {
                        personId: ana,
                        audienceId: 'news',
                        outcome: 'failed',
                        error: dup
                    }
                ],
                { at: now(), delay, runId: `run-${i}` }
            );
            expect(await due()).toBe(0);
            tick(13 * 60 * MIN);
        }
        const [m] = await ledger.listMemberships(ana);
        expect(m).toMatchObject({
            syncOutcome: 'dead_letter',
            syncFailures: DEAD_LETTER_AFTER,
            syncErrorCode: 'DUPLICATES_DETECTED',
            syncErrorMessage: 'Use one of these records?',
            syncErrorRecordId: dup.recordId,
            nextAttemptAt: null
        });
        expect(await due()).toBe(0);
        const status = (await ledger.status()).stuck;
        expect(status.deadLetters).toBe(1);
        expect(status.byReason[0]).toMatchObject({
            reason: 'duplicate_rule',
            deadLetters: 1,
            codes: { DUPLICATES_DETECTED: 1 },
            examples: [
                expect.objectContaining({
                    email: 'ana@example.com',
                    kind: 'membership',
                    audienceId: 'news',
                    recordId: dup.recordId
                })
            ]
        });
        expect(status.byReason[0].whatToDo).toMatch(/duplicate rule/);
        // A new change in the ledger is a new start (the cursor takes it).
        await ledger.setMembershipStatus({
            personId: ana,
            audienceId: 'news',
            status: 'Unsubscribed',
            source: 'platform'
        });
        expect((await ledger.listMemberships(ana))[0]).toMatchObject({
            syncOutcome: null,
            syncFailures: 0,
            syncErrorCode: null
        });
        await ledger.close();
    });
});

describe('retryStuck', () => {
    async function stuckLedger(): Promise<
        Awaited<ReturnType<typeof clocked>> & {
            ids: Record<string, number>;
        }
    > {
        const c = await clocked();
        const ids: Record<string, number> = {};
        for (const email of ['a@example.com', 'b@example.com', 'c@example.com'])
            ids[email] = (
                await c.ledger.recordUnsubscribe({
                    email,
                    scope: 'all',
                    source: 'webhook'
                })
            ).unsubscribe.id;
        const errors: Record<string, AttemptError> = {
            'a@example.com': RULE,
            'b@example.com': {
                ...RULE,
                code: 'INSUFFICIENT_ACCESS_OR_READONLY',
                message: 'insufficient access rights on object id'
            },
            'c@example.com': { ...RULE, code: 'FIELD_INTEGRITY_EXCEPTION' }
        };
        for (let i = 0; i < DEAD_LETTER_AFTER; i++)
            await c.ledger.recordUnsubscribeAttempts(
                Object.entries(ids).map(([email, id]) => ({
                    id,
                    outcome: 'failed',
                    error: errors[email]
                })),
                { at: c.now(), delay }
            );
        return { ...c, ids };
    }

    it('puts back what matches the filter: due now, failures reset, audited; the rest stays', async () => {
        const { ledger, now, ids } = await stuckLedger();
        expect((await ledger.status()).stuck.deadLetters).toBe(3);
        const back = await ledger.retryStuck({
            codes: ['FIELD_CUSTOM_VALIDATION_EXCEPTION']
        });
        expect(back.map((r) => r.email)).toEqual(['a@example.com']);
        expect(await ledger.getUnsubscribe(ids['a@example.com'])).toMatchObject(
            {
                lastOutcome: 'rejected',
                failures: 0,
                deadAt: null,
                nextAttemptAt: now()
            }
        );
        expect(await pushableIds(ledger, now())).toEqual([
            ids['a@example.com']
        ]);
        expect(
            (await ledger.auditForEmail('a@example.com')).filter(
                (a) => a.action === 'retry_requested'
            )
        ).toHaveLength(1);
        // `other`: every code outside the catalogue.
        expect(
            (
                await ledger.retryStuck({
                    excludeCodes: [
                        'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                        'INSUFFICIENT_ACCESS_OR_READONLY'
                    ],
                    state: 'dead_letter'
                })
            ).map((r) => r.email)
        ).toEqual(['c@example.com']);
        expect(
            (await ledger.retryStuck({ email: 'B@Example.com' })).map(
                (r) => r.errorCode
            )
        ).toEqual(['INSUFFICIENT_ACCESS_OR_READONLY']);
        expect((await ledger.status()).stuck).toMatchObject({
            retrying: 3,
            deadLetters: 0
        });
        await ledger.close();
    });

    it('changes nothing when nothing matches', async () => {
        const { ledger } = await stuckLedger();
        const before = await ledger.stuckRecords();
        expect(await ledger.retryStuck({ codes: ['DUPLICATE_VALUE'] })).toEqual(
            []
        );
        expect(
            await ledger.retryStuck({ email: 'nobody@example.com' })
        ).toEqual([]);
        expect(await ledger.stuckRecords()).toEqual(before);
        await ledger.close();
    });
});
