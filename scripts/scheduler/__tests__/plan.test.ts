/**
 * Validation of the schedule's options (cron, time zone, durations) and the next-run
 * computation, across a daylight-saving change.
 */
import { OptoutError } from '../../model/errors';
import {
    checkConfig,
    checkCron,
    checkTimezone,
    formatDuration,
    localTime,
    parseDuration,
    schedulePlan
} from '../plan';

function usageError(fn: () => unknown): OptoutError {
    try {
        fn();
    } catch (err) {
        if (err instanceof OptoutError) return err;
        throw err;
    }
    throw new Error('expected an OptoutError');
}

describe('parseDuration', () => {
    it.each([
        ['30s', 30_000],
        ['500ms', 500],
        ['5m', 300_000],
        ['1h', 3_600_000],
        ['45', 45_000],
        ['1.5s', 1500]
    ])('%p → %p ms', (raw, ms) => {
        expect(parseDuration(raw, '--push-interval')).toBe(ms);
    });

    it.each(['', 'soon', '-5s', '3d', '0s'])('refuses %p', (raw) => {
        const e = usageError(() =>
            parseDuration(raw, '--push-interval', { minMs: 1000 })
        );
        expect(e.exitCode).toBe(2);
        expect(e.message).toMatch(/^--push-interval must be a duration/);
    });

    it('keeps within the given bounds', () => {
        expect(
            usageError(() => parseDuration('2h', '--x', { maxMs: 3_600_000 }))
                .message
        ).toMatch(/between 1ms and 1h/);
        expect(formatDuration(90_000)).toBe('90s');
    });
});

describe('checkTimezone', () => {
    it('returns the canonical IANA name', () => {
        expect(checkTimezone('america/los_angeles')).toBe(
            'America/Los_Angeles'
        );
        expect(checkTimezone('UTC')).toBe('UTC');
    });

    it.each(['Mars/Base', '', 'PST8PDT/extra'])('refuses %p', (tz) => {
        const e = usageError(() => checkTimezone(tz));
        expect(e.code).toBe('BAD_TIMEZONE');
        expect(e.exitCode).toBe(2);
        expect(e.actions[0]).toMatch(/America\/Los_Angeles/);
    });
});

describe('checkCron', () => {
    it.each([
        ['61 * * * *', /minute/],
        ['hello', /five, six, or seven/],
        ['0 20 * *', /five, six, or seven/],
        ['0 0 31 2 *', /never fires/]
    ])('refuses %p with croner’s reason', (expr, reason) => {
        const e = usageError(() => checkCron(expr, 'UTC', '--hourly'));
        expect(e.code).toBe('BAD_CRON');
        expect(e.message).toContain(`--hourly '${expr}'`);
        expect(e.message).toMatch(reason);
    });

    it('accepts five or six fields and nicknames', () => {
        for (const expr of [
            '0 * * * *',
            '0 0 * * * *',
            '@daily',
            '*/15 9-17 * * 1-5'
        ]) {
            const cron = checkCron(expr, 'UTC', '--hourly');
            expect(cron.nextRun()).toBeInstanceOf(Date);
            cron.stop();
        }
    });
});

describe('schedulePlan', () => {
    it('defaults to hourly at minute 0 and nightly at 20:00 Los Angeles time, across DST', () => {
        const config = checkConfig({});
        expect(config).toEqual({
            hourly: '0 * * * *',
            nightly: '0 20 * * *',
            timezone: 'America/Los_Angeles',
            pushIntervalMs: 30_000
        });
        // 2024-03-10 is the day clocks move forward in Los Angeles (PST → PDT).
        const plan = schedulePlan(config, new Date('2024-03-09T12:30:00Z'), 3);
        const [hourly, nightly] = plan.jobs;
        expect(hourly.next).toEqual([
            '2024-03-09T13:00:00.000Z',
            '2024-03-09T14:00:00.000Z',
            '2024-03-09T15:00:00.000Z'
        ]);
        expect(nightly.next).toEqual([
            '2024-03-10T04:00:00.000Z', // 20:00 PST (UTC−8)
            '2024-03-11T03:00:00.000Z', // 20:00 PDT (UTC−7)
            '2024-03-12T03:00:00.000Z'
        ]);
        expect(nightly.nextLocal).toEqual([
            '2024-03-09 20:00 PST',
            '2024-03-10 20:00 PDT',
            '2024-03-11 20:00 PDT'
        ]);
        expect(plan.push).toEqual({ intervalMs: 30_000, every: '30s' });
    });

    it('reads expressions in the given time zone', () => {
        const plan = schedulePlan(
            checkConfig({ nightly: '30 2 * * *', timezone: 'Asia/Tokyo' }),
            new Date('2024-06-01T00:00:00Z'),
            1
        );
        expect(plan.jobs[1].next).toEqual(['2024-06-01T17:30:00.000Z']);
        expect(localTime(plan.jobs[1].next[0], 'Asia/Tokyo')).toBe(
            '2024-06-02 02:30 GMT+9'
        );
    });

    it('names the option in a configuration error', () => {
        expect(
            usageError(() => checkConfig({ nightly: '0 25 * * *' })).message
        ).toMatch(/^--nightly '0 25 \* \* \*'/);
    });
});
