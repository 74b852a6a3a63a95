/**
 * Fault and latency injection for the local Mailchimp's /3.0 routes, reproducible from
 * a seed. SPEC is a comma-separated list of `name[:arg][@scope|scope…]`:
 *
 * | rule             | effect                                                            |
 * |------------------|-------------------------------------------------------------------|
 * | `429:next=2`     | answer 429 Too Many Requests (with Retry-After) to the next 2     |
 * | `500:0.1`        | answer 500 Internal Server Error to 10 % of requests              |
 * | `502:…`, `503:…`, `504:…` | gateway / unavailable answers                            |
 * | `drop:…`         | destroy the connection before the request is processed            |
 * | `drop-after:…`   | process the request, then destroy the connection (no answer)      |
 * | `latency:50`, `latency:20-80` | wait before answering each request                   |
 *
 * A rate is a probability in [0, 1]; `next=N` fires on the next N matching requests. A
 * scope is an HTTP method (`PATCH`) or a request kind prefix (`updateMember`, `listMembers`,
 * `startBatch`, …; see stats). Example: `503:0.1,429:next=2@PATCH,latency:20-80`.
 */
export type FaultKind = 'status' | 'drop' | 'drop-after';

export interface FaultRule {
    kind: FaultKind;
    status?: 429 | 500 | 502 | 503 | 504;
    rate?: number;
    next?: number;
    scope?: string[];
}

export interface FaultSpec {
    rules: FaultRule[];
    latency?: { min: number; max: number };
}

export class FaultSpecError extends Error {}

const STATUSES = new Set([429, 500, 502, 503, 504]);

export function parseFaultSpec(text: string): FaultSpec {
    const spec: FaultSpec = { rules: [] };
    for (const raw of text.split(',')) {
        const item = raw.trim();
        if (item === '') continue;
        const [body, scopeText] = item.split('@');
        const [name, arg = ''] = body.split(':');
        if (name === 'latency') {
            const m = /^(\d+)(?:-(\d+))?$/.exec(arg);
            if (!m)
                throw new FaultSpecError(
                    `latency must be N or MIN-MAX, got '${arg}'`
                );
            const min = Number(m[1]);
            spec.latency = { min, max: m[2] ? Number(m[2]) : min };
            continue;
        }
        const scope = scopeText
            ? scopeText.split('|').filter(Boolean)
            : undefined;
        let rate: number | undefined;
        let next: number | undefined;
        const nm = /^next=(\d+)$/.exec(arg);
        if (nm) next = Number(nm[1]);
        else if (arg === '') rate = 1;
        else {
            rate = Number(arg);
            if (!Number.isFinite(rate) || rate < 0 || rate > 1)
                throw new FaultSpecError(`fault '${item}': bad rate '${arg}'`);
        }
        if (name === 'drop' || name === 'drop-after') {
            spec.rules.push({ kind: name, rate, next, scope });
        } else if (STATUSES.has(Number(name))) {
            spec.rules.push({
                kind: 'status',
                status: Number(name) as FaultRule['status'],
                rate,
                next,
                scope
            });
        } else {
            throw new FaultSpecError(`unknown fault '${name}' in '${item}'`);
        }
    }
    return spec;
}

export interface FaultDecision {
    status?: FaultRule['status'];
    drop?: boolean;
    dropAfter?: boolean;
}

export class FaultInjector {
    private spec: FaultSpec = { rules: [] };
    private state: number;

    constructor(seed = 1) {
        this.state = seed >>> 0 || 1;
    }

    set(spec: FaultSpec): void {
        this.spec = {
            rules: spec.rules.map((r) => ({ ...r })),
            latency: spec.latency
        };
    }

    get(): FaultSpec {
        return this.spec;
    }

    /** mulberry32: a small seeded generator, so fault runs repeat. */
    private random(): number {
        this.state = (this.state + 0x6d2b79f5) >>> 0;
        let t = this.state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }

    latencyMs(): number {
        const l = this.spec.latency;
        if (!l) return 0;
        return l.min + Math.floor(this.random() * (l.max - l.min + 1));
    }

    forRequest(kind: string, method: string): FaultDecision {
        for (const rule of this.spec.rules) {
            if (
                rule.scope &&
                !rule.scope.some((s) => s === method || kind.startsWith(s))
            )
                continue;
            let fire = false;
            if (rule.next !== undefined) {
                if (rule.next > 0) {
                    rule.next -= 1;
                    fire = true;
                }
            } else if (rule.rate !== undefined) {
                fire = this.random() < rule.rate;
            }
            if (!fire) continue;
            if (rule.kind === 'drop') return { drop: true };
            if (rule.kind === 'drop-after') return { dropAfter: true };
            return { status: rule.status };
        }
        return {};
    }
}
