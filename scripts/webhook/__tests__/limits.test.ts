/**
 * Option parsing, the rate limiter, and the secret: extraction, constant-time
 * comparison, resolution from the environment, redaction.
 */
import { OptoutError } from '../../model/errors';
import {
    presentedSecret,
    resolveSecret,
    secretChecker,
    SECRET_ENV
} from '../auth';
import { parseRate, parseSize, RateLimiter } from '../limits';

function usageError(fn: () => unknown): OptoutError {
    try {
        fn();
    } catch (err) {
        if (err instanceof OptoutError) return err;
        throw err;
    }
    throw new Error('expected an OptoutError');
}

describe('parseSize', () => {
    it.each([
        ['64kb', 65536],
        ['1mb', 1048576],
        ['512', 512],
        ['2 KB', 2048]
    ])('%p → %p bytes', (raw, bytes) => {
        expect(parseSize(raw)).toBe(bytes);
    });

    it.each(['', '0', 'lots', '1gb', '-1kb'])('refuses %p (exit 2)', (raw) => {
        const e = usageError(() => parseSize(raw));
        expect(e.exitCode).toBe(2);
        expect(e.message).toMatch(/--max-body/);
    });
});

describe('parseRate', () => {
    it.each([
        ['600/min', 600, 60_000],
        ['20/s', 20, 1000],
        ['1000/hour', 1000, 3_600_000],
        ['120', 120, 60_000]
    ])('%p', (raw, limit, windowMs) => {
        expect(parseRate(raw)).toMatchObject({ limit, windowMs });
    });

    it.each(['0/min', 'fast', '10/fortnight'])('refuses %p', (raw) => {
        expect(usageError(() => parseRate(raw)).exitCode).toBe(2);
    });
});

describe('RateLimiter', () => {
    it('allows the limit per window and refills over time, per client', () => {
        let now = 0;
        const r = new RateLimiter(parseRate('3/s'), () => now);
        expect([r.take('a'), r.take('a'), r.take('a')]).toEqual([0, 0, 0]);
        const wait = r.take('a');
        expect(wait).toBeGreaterThan(0);
        expect(wait).toBeLessThanOrEqual(334);
        expect(r.take('b')).toBe(0); // another client has its own bucket
        now += wait;
        expect(r.take('a')).toBe(0);
        expect(r.take('a')).toBeGreaterThan(0);
    });
});

describe('the secret', () => {
    const secret = 'A-long-enough-secret-1234';

    it('compares in constant time on digests, whatever the lengths', () => {
        const check = secretChecker(secret);
        expect(check(secret)).toBe(true);
        expect(check(`${secret}x`)).toBe(false);
        expect(check('')).toBe(false);
        expect(check('A-long-enough-secret-1235')).toBe(false);
    });

    it('is read from the query, a Bearer token or X-Optout-Secret', () => {
        const url = (q: string): URL => new URL(`http://h/mailchimp${q}`);
        expect(presentedSecret(url('?secret=s1'), {})).toBe('s1');
        expect(presentedSecret(url(''), { authorization: 'Bearer s2' })).toBe(
            's2'
        );
        expect(presentedSecret(url(''), { 'x-optout-secret': 's3' })).toBe(
            's3'
        );
        expect(
            presentedSecret(url(''), { authorization: 'Basic eDp5' })
        ).toBeUndefined();
        expect(presentedSecret(url('?secret='), {})).toBeUndefined();
    });

    it('comes from the option or the environment, with clear errors', () => {
        expect(resolveSecret(undefined, { [SECRET_ENV]: secret })).toBe(secret);
        expect(resolveSecret(` ${secret} `, {})).toBe(secret);
        const missing = usageError(() => resolveSecret(undefined, {}));
        expect(missing.code).toBe('SECRET_REQUIRED');
        expect(missing.message).toContain(SECRET_ENV);
        expect(usageError(() => resolveSecret('short', {})).code).toBe(
            'SECRET_TOO_SHORT'
        );
        expect(
            usageError(() => resolveSecret('has a space in it, long', {})).code
        ).toBe('BAD_SECRET');
    });
});
