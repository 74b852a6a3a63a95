/**
 * Fault and latency injection for the local org's /services/ routes, reproducible
 * from a seed.
 *
 * SPEC is a comma-separated list of rules, each `name[:arg][@scope|scope…]`:
 *
 * | rule                   | effect                                                           |
 * |------------------------|------------------------------------------------------------------|
 * | `503:0.1`              | answer 503 SERVER_UNAVAILABLE to 10 % of requests                |
 * | `503:next=3`           | answer 503 to the next 3 requests                                |
 * | `429:…`, `500:…`       | 429 (REQUEST_LIMIT_EXCEEDED, Retry-After) / 500 UNKNOWN_EXCEPTION |
 * | `502:…`, `504:…`       | gateway errors with an HTML body, as a load balancer sends them  |
 * | `concurrent:…`         | 403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn Limit        |
 * |                        | exceeded." (too many concurrent long-running requests: transient, |
 * |                        | retry later), unlike the daily allowance ("TotalRequests Limit   |
 * |                        | exceeded.", same status and code, which lasts until usage drops)  |
 * | `drop:…`               | destroy the connection before the request is processed           |
 * | `drop-after:…`         | process the request, then destroy the connection (no answer)     |
 * | `cut:…`                | answer, then destroy the connection partway through the body     |
 * |                        | (streamed bodies that honour it: Bulk query results)             |
 * | `lock:0.05`            | fail 5 % of records (collections, bulk) with UNABLE_TO_LOCK_ROW  |
 * | `lock:next=2`          | fail the next 2 records with UNABLE_TO_LOCK_ROW                  |
 * | `bulkfail:next=1`      | the next Bulk job (ingest or query) ends Failed with errorMessage |
 * | `latency:50`           | wait 50 ms before answering each request                         |
 * | `latency:20-80`        | wait a uniformly random 20–80 ms                                 |
 *
 * A rate is a probability in [0, 1]; `next=N` fires on the next N matching requests.
 * A scope limits a rule to request kinds (see stats: `query`, `queryMore`,
 * `collectionsUpdate`, `bulkIngestUpload`, …; a prefix matches, so `collections`
 * matches every collections call) or HTTP methods (`GET`, `POST`, `PATCH`, `PUT`,
 * `DELETE`). Example: `503:0.1,lock:0.05,drop:next=3@PATCH,latency:20-80`.
 */

/** 403 is the concurrent long-running request limit (`concurrent`). */
export type StatusCode = 403 | 429 | 500 | 502 | 503 | 504;

export interface FaultRule {
    kind: 'status' | 'drop' | 'drop-after' | 'cut' | 'lock' | 'bulkfail';
    status?: StatusCode;
    /** Probability per request (or per record for lock). */
    rate?: number;
    /** Fire on the next N matching requests (records for lock, jobs for bulkfail). */
    next?: number;
    /** Request kinds (prefixes) or HTTP methods this rule applies to; all when empty. */
    scope?: string[];
}

export interface Latency {
    min: number;
    max: number;
}

export interface FaultSpec {
    rules: FaultRule[];
    latency?: Latency;
}

export class FaultSpecError extends Error {}

function parseRate(
    arg: string,
    item: string
): { rate?: number; next?: number } {
    const nextMatch = /^next=(\d+)$/.exec(arg);
    if (nextMatch) return { next: Number(nextMatch[1]) };
    const rate = Number(arg);
    if (arg === '' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
        throw new FaultSpecError(
            `fault '${item}': expected a rate between 0 and 1 or next=N, got '${arg}'`
        );
    }
    return { rate };
}

export function parseLatency(text: string): Latency {
    const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
    if (!m) {
        throw new FaultSpecError(
            `latency must be N or MIN-MAX milliseconds, got '${text}'`
        );
    }
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : Number(m[2]);
    if (max < min) {
        throw new FaultSpecError(`latency range ${text} has max below min`);
    }
    return { min, max };
}

/** Parses a SPEC string (see the file comment). Throws FaultSpecError on bad input. */
export function parseFaultSpec(spec: string): FaultSpec {
    const out: FaultSpec = { rules: [] };
    for (const raw of spec.split(',')) {
        const item = raw.trim();
        if (!item) continue;
        const [body, scopeText] = item.split('@');
        const scope = scopeText
            ? scopeText
                  .split('|')
                  .map((s) => s.trim())
                  .filter(Boolean)
            : undefined;
        const colon = body.indexOf(':');
        const name = (colon < 0 ? body : body.slice(0, colon))
            .trim()
            .toLowerCase();
        const arg = colon < 0 ? '' : body.slice(colon + 1).trim();
        if (name === 'latency') {
            out.latency = parseLatency(arg);
            continue;
        }
        const rate = parseRate(arg === '' ? '1' : arg, item);
        if (['429', '500', '502', '503', '504'].includes(name)) {
            out.rules.push({
                kind: 'status',
                status: Number(name) as StatusCode,
                ...rate,
                scope
            });
        } else if (name === 'concurrent') {
            out.rules.push({ kind: 'status', status: 403, ...rate, scope });
        } else if (name === 'drop' || name === 'drop-before') {
            out.rules.push({ kind: 'drop', ...rate, scope });
        } else if (name === 'drop-after') {
            out.rules.push({ kind: 'drop-after', ...rate, scope });
        } else if (name === 'cut') {
            out.rules.push({ kind: 'cut', ...rate, scope });
        } else if (name === 'lock') {
            out.rules.push({ kind: 'lock', ...rate, scope });
        } else if (name === 'bulkfail' || name === 'bulk-fail') {
            out.rules.push({ kind: 'bulkfail', ...rate, scope });
        } else {
            throw new FaultSpecError(
                `unknown fault '${name}' in '${item}' (expected 429, 500, 502, 503, 504, concurrent, drop, drop-after, cut, lock, bulkfail or latency)`
            );
        }
    }
    return out;
}

/** Describes a spec back as SPEC text (for status output). */
export function formatFaultSpec(spec: FaultSpec): string {
    const parts = spec.rules.map((r) => {
        const name =
            r.kind !== 'status'
                ? r.kind
                : r.status === 403
                  ? 'concurrent'
                  : String(r.status);
        const arg =
            r.next !== undefined ? `next=${r.next}` : String(r.rate ?? 1);
        return `${name}:${arg}${r.scope?.length ? `@${r.scope.join('|')}` : ''}`;
    });
    if (spec.latency) {
        parts.push(
            `latency:${spec.latency.min === spec.latency.max ? spec.latency.min : `${spec.latency.min}-${spec.latency.max}`}`
        );
    }
    return parts.join(',');
}

/** mulberry32: a small, fast seeded PRNG (reproducible fault sequences). */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

export interface RequestFault {
    status?: StatusCode;
    drop?: 'before' | 'after';
}

export class FaultInjector {
    private spec: FaultSpec = { rules: [] };
    private random: () => number;
    readonly injected: Record<string, number> = {};

    constructor(seed: number) {
        this.random = seededRandom(seed);
    }

    reseed(seed: number): void {
        this.random = seededRandom(seed);
    }

    set(spec: FaultSpec): void {
        this.spec = {
            rules: spec.rules.map((r) => ({ ...r })),
            latency: spec.latency ? { ...spec.latency } : undefined
        };
    }

    get(): FaultSpec {
        return {
            rules: this.spec.rules.map((r) => ({ ...r })),
            latency: this.spec.latency ? { ...this.spec.latency } : undefined
        };
    }

    setLatency(latency: Latency | undefined): void {
        this.spec.latency = latency;
    }

    private count(name: string): void {
        this.injected[name] = (this.injected[name] ?? 0) + 1;
    }

    private matches(rule: FaultRule, kind: string, method: string): boolean {
        if (!rule.scope || rule.scope.length === 0) return true;
        return rule.scope.some(
            (s) =>
                s.toUpperCase() === method ||
                kind.toLowerCase().startsWith(s.toLowerCase())
        );
    }

    /** Whether a rule fires now (consumes next=N or draws against the rate). */
    private fires(rule: FaultRule): boolean {
        if (rule.next !== undefined) {
            if (rule.next <= 0) return false;
            rule.next--;
            return true;
        }
        return this.random() < (rule.rate ?? 0);
    }

    /** Delay for this request, in ms. */
    latencyMs(): number {
        const l = this.spec.latency;
        if (!l) return 0;
        if (l.max === l.min) return l.min;
        return l.min + Math.floor(this.random() * (l.max - l.min + 1));
    }

    /** The fault (if any) for one request. */
    forRequest(kind: string, method: string): RequestFault {
        for (const rule of this.spec.rules) {
            if (
                rule.kind !== 'status' &&
                rule.kind !== 'drop' &&
                rule.kind !== 'drop-after'
            )
                continue;
            if (!this.matches(rule, kind, method)) continue;
            if (!this.fires(rule)) continue;
            if (rule.kind === 'status') {
                this.count(
                    rule.status === 403 ? 'concurrent' : String(rule.status)
                );
                return { status: rule.status };
            }
            this.count(rule.kind === 'drop' ? 'drop-before' : 'drop-after');
            return { drop: rule.kind === 'drop' ? 'before' : 'after' };
        }
        return {};
    }

    /** Whether one record in a write (collections, bulk) fails with UNABLE_TO_LOCK_ROW. */
    lockRecord(kind: string): boolean {
        for (const rule of this.spec.rules) {
            if (rule.kind !== 'lock' || !this.matches(rule, kind, '')) continue;
            if (this.fires(rule)) {
                this.count('lock');
                return true;
            }
        }
        return false;
    }

    /** Whether a streamed answer to this request is cut off partway through its body. */
    cutsBody(kind: string, method: string): boolean {
        for (const rule of this.spec.rules) {
            if (rule.kind !== 'cut' || !this.matches(rule, kind, method))
                continue;
            if (this.fires(rule)) {
                this.count('cut');
                return true;
            }
        }
        return false;
    }

    /** Whether a Bulk job (starting to process) ends Failed. */
    bulkFails(kind: string): boolean {
        for (const rule of this.spec.rules) {
            if (rule.kind !== 'bulkfail' || !this.matches(rule, kind, ''))
                continue;
            if (this.fires(rule)) {
                this.count('bulkfail');
                return true;
            }
        }
        return false;
    }
}
