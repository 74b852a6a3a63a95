import {
    DEAD_LETTER_AFTER,
    STUCK_REASON_CATALOGUE,
    STUCK_REASONS,
    classifyRecordError,
    groupStuck,
    isDeadLetter,
    nextAttemptAt,
    parseRetryReason,
    retryDeferred,
    stuckReasonOf,
    stuckRetryDelay
} from '../stuck';

describe('classifyRecordError (R14)', () => {
    it.each([
        'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        'CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY',
        'DUPLICATES_DETECTED',
        'DUPLICATE_VALUE',
        'INSUFFICIENT_ACCESS_OR_READONLY',
        'INVALID_EMAIL_ADDRESS',
        'FIELD_INTEGRITY_EXCEPTION',
        'STORAGE_LIMIT_EXCEEDED',
        'SOMETHING_NEW'
    ])('%s is permanent', (code) => {
        expect(classifyRecordError(code)).toBe('permanent');
    });

    it.each([
        'UNABLE_TO_LOCK_ROW',
        'UNPROCESSED',
        'BULK_JOB_FAILED',
        'unable_to_lock_row '
    ])('%s is transient', (code) => {
        expect(classifyRecordError(code)).toBe('transient');
    });
});

describe('back-off and dead letters', () => {
    const at = '2026-01-01T00:00:00.000Z';

    it('backs off 5 min, 30 min, 2 h, 12 h, then sets the record aside', () => {
        expect([1, 2, 3, 4].map((n) => nextAttemptAt(n, at))).toEqual([
            '2026-01-01T00:05:00.000Z',
            '2026-01-01T00:30:00.000Z',
            '2026-01-01T02:00:00.000Z',
            '2026-01-01T12:00:00.000Z'
        ]);
        expect(DEAD_LETTER_AFTER).toBe(5);
        expect(nextAttemptAt(5, at)).toBeNull();
        expect(nextAttemptAt(9, at)).toBeNull();
    });

    it('counts a dead letter from DEAD_LETTER_AFTER refusals in a row', () => {
        expect(isDeadLetter(0)).toBe(false);
        expect(isDeadLetter(DEAD_LETTER_AFTER - 1)).toBe(false);
        expect(isDeadLetter(DEAD_LETTER_AFTER)).toBe(true);
        expect(stuckRetryDelay(0)).toBe(5 * 60_000);
        expect(stuckRetryDelay(100)).toBe(12 * 3_600_000);
    });

    it('defers a dead letter always and a refused record until it is due', () => {
        const now = '2026-01-01T01:00:00.000Z';
        expect(
            retryDeferred(
                { lastOutcome: 'dead_letter', nextAttemptAt: null },
                now
            )
        ).toBe(true);
        expect(
            retryDeferred(
                {
                    lastOutcome: 'rejected',
                    nextAttemptAt: '2026-01-01T02:00:00.000Z'
                },
                now
            )
        ).toBe(true);
        expect(
            retryDeferred(
                {
                    lastOutcome: 'rejected',
                    nextAttemptAt: '2026-01-01T00:59:00.000Z'
                },
                now
            )
        ).toBe(false);
        expect(
            retryDeferred({ lastOutcome: 'failed', nextAttemptAt: null }, now)
        ).toBe(false);
        expect(
            retryDeferred({ lastOutcome: null, nextAttemptAt: null }, now)
        ).toBe(false);
    });
});

describe('reason catalogue', () => {
    it('maps each status code to its reason, unknown ones to other', () => {
        expect(stuckReasonOf('FIELD_CUSTOM_VALIDATION_EXCEPTION')).toBe(
            'validation_rule'
        );
        expect(stuckReasonOf('CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY')).toBe(
            'trigger_or_flow'
        );
        expect(stuckReasonOf('DUPLICATES_DETECTED')).toBe('duplicate_rule');
        expect(stuckReasonOf('INSUFFICIENT_ACCESS_OR_READONLY')).toBe(
            'no_access'
        );
        expect(stuckReasonOf('DUPLICATE_VALUE')).toBe('duplicate_external_id');
        expect(stuckReasonOf('INVALID_EMAIL_ADDRESS')).toBe('invalid_email');
        expect(stuckReasonOf('FIELD_INTEGRITY_EXCEPTION')).toBe('other');
    });

    it('says what to do for every reason, and no access names the Modify All permission set', () => {
        for (const r of STUCK_REASONS) {
            expect(STUCK_REASON_CATALOGUE[r].whatToDo).toMatch(/optout retry/);
            expect(STUCK_REASON_CATALOGUE[r].title.length).toBeGreaterThan(0);
        }
        expect(STUCK_REASON_CATALOGUE.no_access.whatToDo).toMatch(
            /Opt_Out_Sync_Integration_Modify_All/
        );
    });

    it('groups counts by reason, most records first', () => {
        const groups = groupStuck([
            { errorCode: 'DUPLICATES_DETECTED', state: 'retrying', count: 1 },
            {
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                state: 'dead_letter',
                count: 2
            },
            {
                errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                state: 'retrying',
                count: 1
            },
            {
                errorCode: 'STORAGE_LIMIT_EXCEEDED',
                state: 'retrying',
                count: 1
            },
            {
                errorCode: 'FIELD_INTEGRITY_EXCEPTION',
                state: 'dead_letter',
                count: 1
            }
        ]);
        expect(
            groups.map((g) => [g.reason, g.retrying, g.deadLetters])
        ).toEqual([
            ['validation_rule', 1, 2],
            ['other', 1, 1],
            ['duplicate_rule', 1, 0]
        ]);
        expect(groups[1].codes).toEqual({
            STORAGE_LIMIT_EXCEEDED: 1,
            FIELD_INTEGRITY_EXCEPTION: 1
        });
    });

    it('parses --reason as a reason or a status code, and refuses anything else', () => {
        expect(parseRetryReason('validation_rule')).toEqual({
            ok: true,
            codes: ['FIELD_CUSTOM_VALIDATION_EXCEPTION']
        });
        expect(parseRetryReason('DUPLICATES_DETECTED')).toEqual({
            ok: true,
            codes: ['DUPLICATES_DETECTED']
        });
        expect(parseRetryReason('other')).toEqual({ ok: true, codes: null });
        expect(parseRetryReason('not a code').ok).toBe(false);
        expect(parseRetryReason('').ok).toBe(false);
    });
});
