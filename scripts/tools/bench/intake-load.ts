/**
 * The intake benchmark's two clocks: the load (autocannon, one unique email per request,
 * its send and answer times kept per email) and the watcher that polls the local org for
 * the records whose opt-out field was written, keeping when each was first seen. Both
 * stamp times with the same clock (`now()`), in this process.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { LOCAL_ORG_API_VERSION } from '../local-org/connect';
import type { OrgAccess } from './dataset';
import type { LoadRecord } from './intake-report';

const LOOP_RESOLUTION_MS = 10;

/** Wall-clock milliseconds with sub-millisecond resolution. */
export function now(): number {
    return performance.timeOrigin + performance.now();
}

/** What the load kept per request. */
export type LoadLog = LoadRecord;

export interface LoadOptions {
    /** Each replica's base URL; connections are dealt out round-robin. */
    urls: readonly string[];
    secret: string;
    connections: number;
    durationSeconds: number;
    /** The emails to send, each once, in order; the load stops when they run out. */
    emails: readonly string[];
}

/**
 * Runs autocannon against the replicas. Each connection has a request object of its
 * own (autocannon keeps the built request on the request object, so a shared one would
 * send one connection's first body on every connection), whose setupRequest takes the
 * next email and stamps its send time: autocannon calls it right before writing the
 * request (for a connection's first request, when it opens the connection).
 */
export function runLoad(o: LoadOptions): Promise<LoadLog> {
    const log: LoadLog = {
        sentAt: new Map(),
        okAt: new Map(),
        replicaOf: new Map(),
        non200: {},
        firstSentAt: Infinity,
        lastAnswerAt: 0
    };
    let next = 0;
    const ports = o.urls.map((u) => new URL(u).port);
    const body = (email: string): string => JSON.stringify({ email });
    const loopDelay = monitorEventLoopDelay({
        resolution: LOOP_RESOLUTION_MS
    });
    loopDelay.enable();
    return new Promise((resolve, reject) => {
        const instance = autocannon(
            {
                // autocannon takes several URLs and gives connection i the URL i mod N
                // (its README; the typings only know one).
                url: o.urls.map(
                    (u) => `${u}/unsubscribes`
                ) as unknown as string,
                connections: o.connections,
                duration: o.durationSeconds,
                // Shared out among the connections: never more requests than emails.
                maxOverallRequests: o.emails.length,
                method: 'POST',
                timeout: 30,
                headers: {
                    'content-type': 'application/json',
                    authorization: `Bearer ${o.secret}`
                },
                setupClient: (client) => {
                    const replica = ports.indexOf(
                        String(
                            (client as unknown as { opts: { port: number } })
                                .opts.port
                        )
                    );
                    let current = '';
                    client.setRequests([
                        {
                            setupRequest: (req) => {
                                current = o.emails[next++] ?? '';
                                const t = now();
                                log.sentAt.set(current, t);
                                log.replicaOf.set(current, replica);
                                if (t < log.firstSentAt) log.firstSentAt = t;
                                return { ...req, body: body(current) };
                            },
                            onResponse: (status) => {
                                const t = now();
                                log.lastAnswerAt = Math.max(
                                    log.lastAnswerAt,
                                    t
                                );
                                if (status === 200) log.okAt.set(current, t);
                                else
                                    log.non200[String(status)] =
                                        (log.non200[String(status)] ?? 0) + 1;
                            }
                        }
                    ]);
                }
            },
            (err, result) => {
                loopDelay.disable();
                if (err) {
                    reject(err);
                    return;
                }
                log.autocannon = {
                    p50: result.latency.p50,
                    p99: result.latency.p99,
                    requests: result['2xx']
                };
                // The histogram holds the time between its 10 ms checks: the lag is the excess.
                const lag = (ns: number): number =>
                    Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
                log.harnessLoopDelay = {
                    p50: lag(loopDelay.percentile(50)),
                    p99: lag(loopDelay.percentile(99)),
                    max: lag(loopDelay.max)
                };
                resolve(log);
            }
        );
        // Not rendered: the harness prints its own table.
        void instance;
    });
}

/** Email → when the harness first saw the record's opt-out field written. */
export type SeenLog = Map<string, number>;

/** A SOQL datetime literal (whole seconds, UTC). */
export function soqlDateTime(ms: number): string {
    return new Date(Math.floor(ms / 1000) * 1000)
        .toISOString()
        .replace('.000Z', 'Z');
}

interface QueryPage {
    records: { Email: string | null }[];
    done: boolean;
    nextRecordsUrl?: string;
}

async function getJson<T>(org: OrgAccess, path: string): Promise<T> {
    const res = await fetch(`${org.instanceUrl}${path}`, {
        headers: { Authorization: `Bearer ${org.accessToken}` }
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path.slice(0, 80)}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
}

/**
 * Polls the org every `pollMs` for Contacts and Leads whose `field` is true and whose
 * SystemModstamp is recent (the org stamps whole seconds: a look-back of one second
 * before the previous poll's start), and notes when each email was first seen.
 */
export class Watcher {
    readonly seen: SeenLog = new Map();
    private stopped = false;
    private loop: Promise<void> | undefined;
    /** The last failure of a poll (the loop goes on). */
    lastError: string | undefined;
    polls = 0;

    constructor(
        private readonly org: OrgAccess,
        private readonly field: string,
        private readonly pollMs: number
    ) {}

    start(): void {
        let since = Date.now() - 1000;
        this.loop = (async () => {
            while (!this.stopped) {
                const started = Date.now();
                try {
                    for (const object of ['Contact', 'Lead'])
                        await this.pollObject(object, since);
                    // A write this poll did not see commits after it started, so its
                    // whole-second stamp is at least the start's second: one second
                    // of margin.
                    since = started - 1000;
                    this.polls++;
                } catch (err) {
                    this.lastError =
                        err instanceof Error ? err.message : String(err);
                }
                const wait = this.pollMs - (Date.now() - started);
                if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            }
        })();
    }

    private async pollObject(object: string, since: number): Promise<void> {
        const soql = `SELECT Email FROM ${object} WHERE ${this.field} = true AND SystemModstamp >= ${soqlDateTime(since)}`;
        let page = await getJson<QueryPage>(
            this.org,
            `/services/data/v${LOCAL_ORG_API_VERSION}/query?q=${encodeURIComponent(soql)}`
        );
        for (;;) {
            const t = now();
            for (const r of page.records) {
                const email = (r.Email ?? '').toLowerCase();
                if (email && !this.seen.has(email)) this.seen.set(email, t);
            }
            if (page.done || !page.nextRecordsUrl) break;
            page = await getJson<QueryPage>(this.org, page.nextRecordsUrl);
        }
    }

    /** Resolves once every email is seen (true) or after `timeoutMs` (false). */
    async waitFor(
        emails: readonly string[],
        timeoutMs: number
    ): Promise<boolean> {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            if (emails.every((e) => this.seen.has(e))) return true;
            await new Promise((r) => setTimeout(r, this.pollMs));
        }
        return emails.every((e) => this.seen.has(e));
    }

    async stop(): Promise<void> {
        this.stopped = true;
        await this.loop;
    }
}
