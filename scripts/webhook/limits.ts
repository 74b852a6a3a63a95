/**
 * Option values of `optout serve` (body size, request rate) and the rate limiter: a token
 * bucket per client address, refilled continuously, with an injectable clock for tests.
 */
import { OptoutError } from '../model/errors';

const SIZE_UNITS: Record<string, number> = {
    '': 1,
    b: 1,
    kb: 1024,
    k: 1024,
    mb: 1024 * 1024,
    m: 1024 * 1024
};

/** "64kb", "1mb", "65536" → bytes; a usage error (exit 2) otherwise. */
export function parseSize(raw: string, option = '--max-body'): number {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
    const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
    const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : 0;
    if (!m || unit === undefined || !(bytes >= 1) || bytes > 64 * 1024 * 1024)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `${option} must be a size between 1 byte and 64mb, such as 64kb or 1mb, not '${raw}'.`,
            { exitCode: 2 }
        );
    return bytes;
}

export interface Rate {
    /** Requests allowed per window. */
    limit: number;
    windowMs: number;
    /** As given, for messages. */
    text: string;
}

const WINDOWS: Record<string, number> = {
    s: 1000,
    sec: 1000,
    second: 1000,
    m: 60_000,
    min: 60_000,
    minute: 60_000,
    h: 3_600_000,
    hour: 3_600_000
};

/** "600/min", "20/s", "1000/hour", or a bare number (per minute). */
export function parseRate(raw: string, option = '--rate'): Rate {
    const m = /^\s*(\d+)\s*(?:\/\s*([a-z]+))?\s*$/i.exec(raw);
    const windowMs = m ? WINDOWS[(m[2] ?? 'min').toLowerCase()] : undefined;
    const limit = m ? Number(m[1]) : 0;
    if (!m || windowMs === undefined || !(limit >= 1) || limit > 1_000_000)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `${option} must be a number of requests per second, minute or hour, such as 600/min, not '${raw}'.`,
            { exitCode: 2 }
        );
    return { limit, windowMs, text: `${limit}/${m[2] ?? 'min'}` };
}

/**
 * A token bucket per key (client address): `limit` tokens, refilled at limit/windowMs.
 * Idle buckets are forgotten so the map stays small.
 */
export class RateLimiter {
    private readonly buckets = new Map<
        string,
        { tokens: number; at: number }
    >();

    constructor(
        readonly rate: Rate,
        private readonly now: () => number = Date.now
    ) {}

    /** Takes a token for `key`: 0 when allowed, else the ms until one is available. */
    take(key: string): number {
        const t = this.now();
        const perMs = this.rate.limit / this.rate.windowMs;
        const b = this.buckets.get(key) ?? { tokens: this.rate.limit, at: t };
        b.tokens = Math.min(
            this.rate.limit,
            b.tokens + Math.max(0, t - b.at) * perMs
        );
        b.at = t;
        this.buckets.set(key, b);
        if (this.buckets.size > 10_000) this.prune(t);
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return 0;
        }
        return Math.ceil((1 - b.tokens) / perMs);
    }

    private prune(t: number): void {
        for (const [k, b] of this.buckets)
            if (t - b.at > this.rate.windowMs) this.buckets.delete(k);
    }
}
