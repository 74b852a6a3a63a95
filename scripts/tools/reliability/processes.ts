/**
 * The moving parts of the PostgreSQL reliability trials (replicas.ts, pg-restart.ts):
 *
 * - a schema of its own per trial on a PostgreSQL server (the ledger's URL names it
 *   through `search_path`), dropped at the end;
 * - `OrgProxy`: a recording proxy in front of the local org, one per child process, so
 *   that a trial knows which process sent what and can SIGKILL it at a chosen request —
 *   and counts, as the org received them, the opt-out field writes per record: the
 *   oracle of "written exactly once" across processes, which the ledger's own audit
 *   trail cannot be (a process killed after its write but before its audit entry);
 * - `CliProcess`: the real CLI (`optout serve`, `optout schedule`, …) in a child
 *   process run from source, its JSON event lines collected, in a working folder of
 *   its own whose `--target-org local` is the proxy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
    createServer,
    request as httpRequest,
    type IncomingMessage,
    type Server
} from 'node:http';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Client } from 'pg';
import { writeState } from '../local-org/connect';
import { PROJECT_ROOT } from '../../model/project';
import { OPT_OUT_FIELDS, type World } from './world';

const CLI = join(PROJECT_ROOT, 'bin', 'optout');

// ------------------------------------------------------------ PostgreSQL schemas

/** The server's URL with `search_path` set to `schema`. */
export function schemaUrl(base: string, schema: string): string {
    const url = new URL(base);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
}

async function onServer(base: string, sql: string): Promise<void> {
    const client = new Client({ connectionString: base });
    await client.connect();
    try {
        await client.query(sql);
    } finally {
        await client.end();
    }
}

/** A fresh schema on the server; `drop` removes it with everything in it. */
export async function freshSchema(
    base: string,
    prefix = 'rel'
): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
    const schema = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    await onServer(base, `CREATE SCHEMA ${schema}`);
    return {
        url: schemaUrl(base, schema),
        schema,
        drop: () => onServer(base, `DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    };
}

// ------------------------------------------------------------ the recording proxy

/** One opt-out field value a process sent for a record (as forwarded to the org). */
export interface FieldWrite {
    id: string;
    field: string;
    value: string;
}

/** The opt-out field values of a write request's body (sObject Collections or one record). */
export function fieldWritesOf(
    method: string,
    url: string,
    body: string
): FieldWrite[] {
    if (method !== 'PATCH' && method !== 'POST') return [];
    let parsed: unknown;
    try {
        parsed = JSON.parse(body);
    } catch {
        // Bulk API 2.0 CSV: the trials' data sets stay below the Bulk threshold.
        return [];
    }
    const one = /\/sobjects\/\w+\/(\w{15,18})$/.exec(url.split('?')[0]);
    const records = Array.isArray((parsed as { records?: unknown }).records)
        ? (parsed as { records: Record<string, unknown>[] }).records
        : [parsed as Record<string, unknown>];
    const out: FieldWrite[] = [];
    for (const rec of records) {
        if (!rec || typeof rec !== 'object') continue;
        const id = String(rec.Id ?? rec.id ?? one?.[1] ?? '');
        for (const field of OPT_OUT_FIELDS)
            if (field in rec)
                out.push({ id, field, value: String(rec[field]) });
    }
    return out;
}

/** What the proxy does with a write request of its process (see `onWrite`). */
export type WriteDecision = 'forward' | 'drop';

export class OrgProxy {
    requests = 0;
    inFlight = 0;
    /** Field writes forwarded to the org (the org applies them, answered or not). */
    readonly writes: FieldWrite[] = [];
    /** Write requests seen (forwarded or not). */
    writeRequests = 0;
    /**
     * Called at each write request once its body is read: 'drop' never forwards it
     * (the process dies before it leaves); after 'forward', `afterForward` runs while
     * the org handles it (the process dies before it hears the answer).
     */
    onWrite?: (n: number) => WriteDecision;
    afterForward?: (n: number) => void;

    private readonly server: Server;
    private target: URL | undefined;
    url = '';

    private constructor() {
        this.server = createServer((req, res) => {
            this.requests += 1;
            this.inFlight += 1;
            const chunks: Buffer[] = [];
            req.on('data', (c: Buffer) => chunks.push(c));
            req.on('end', () =>
                this.forward(
                    req,
                    Buffer.concat(chunks),
                    res,
                    this.target as URL
                )
            );
            res.on('close', () => (this.inFlight -= 1));
        });
    }

    static async start(target: string): Promise<OrgProxy> {
        const proxy = new OrgProxy();
        proxy.target = new URL(target);
        await new Promise<void>((r) => proxy.server.listen(0, '127.0.0.1', r));
        const port = (proxy.server.address() as AddressInfo).port;
        proxy.url = `http://127.0.0.1:${port}`;
        return proxy;
    }

    private forward(
        req: IncomingMessage,
        body: Buffer,
        res: import('node:http').ServerResponse,
        to: URL
    ): void {
        const writes = fieldWritesOf(
            req.method ?? 'GET',
            req.url ?? '',
            body.toString()
        );
        let n = 0;
        if (writes.length) {
            n = ++this.writeRequests;
            if (this.onWrite?.(n) === 'drop') {
                res.destroy();
                return;
            }
            this.writes.push(...writes);
        }
        const headers = { ...req.headers, host: to.host };
        const up = httpRequest(
            {
                host: to.hostname,
                port: to.port,
                method: req.method,
                path: req.url,
                headers
            },
            (answer) => {
                res.on('error', () => undefined);
                res.writeHead(answer.statusCode ?? 502, answer.headers);
                answer.pipe(res);
            }
        );
        up.on('error', () => res.destroy());
        up.end(body);
        if (writes.length) this.afterForward?.(n);
    }

    async close(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise<void>((r) => this.server.close(() => r()));
    }
}

/** A working folder whose `--target-org local` is `instanceUrl` (the org or a proxy). */
export function orgFolder(world: World, instanceUrl: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'optout-replica-'));
    writeState(join(dir, '.optout', 'local-org.json'), {
        instanceUrl,
        accessToken: world.t.accessToken,
        pid: process.pid,
        port: Number(new URL(instanceUrl).port),
        dbPath: world.t.org.dbPath,
        orgId: world.t.org.orgId,
        username: world.t.org.username,
        startedAt: new Date().toISOString()
    });
    return dir;
}

/** Every file under a folder, relative to it (the trials check nothing else appeared). */
export function filesUnder(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
        for (const name of readdirSync(d)) {
            const p = join(d, name);
            if (statSync(p).isDirectory()) walk(p);
            else out.push(relative(dir, p));
        }
    };
    walk(dir);
    return out.sort();
}

// ------------------------------------------------------------ CLI processes

export function childEnv(
    extra: Record<string, string> = {}
): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env))
        if (!/^(https?|all|no)_proxy$/i.test(k)) env[k] = v;
    delete env.OPTOUT_LEDGER;
    delete env.OPTOUT_API_BUDGET_SHARE;
    delete env.OPTOUT_PG_POOL_MAX;
    env.NODE_OPTIONS = '';
    env.OPTOUT_FROM_SOURCE = '1';
    return { ...env, ...extra };
}

/** The real CLI in a child process; its JSON lines kept as events. */
export class CliProcess {
    readonly events: Record<string, unknown>[] = [];
    stdout = '';
    stderr = '';
    readonly exited: Promise<{
        code: number | null;
        signal: NodeJS.Signals | null;
    }>;
    private waiters: {
        match: (e: Record<string, unknown>) => boolean;
        ok: (e: Record<string, unknown>) => void;
    }[] = [];
    private buffer = '';

    constructor(
        readonly proc: ChildProcess,
        readonly name: string
    ) {
        this.exited = new Promise((r) =>
            proc.once('close', (code, signal) => r({ code, signal }))
        );
        proc.stdout?.on('data', (d: Buffer) => this.take(d.toString()));
        proc.stderr?.on('data', (d: Buffer) => {
            this.stderr = (this.stderr + d.toString()).slice(-20_000);
        });
    }

    static start(
        name: string,
        cwd: string,
        args: string[],
        env: Record<string, string> = {}
    ): CliProcess {
        const proc = spawn(process.execPath, [CLI, ...args], {
            cwd,
            env: childEnv(env),
            stdio: ['ignore', 'pipe', 'pipe']
        });
        return new CliProcess(proc, name);
    }

    private take(chunk: string): void {
        this.stdout = (this.stdout + chunk).slice(-200_000);
        this.buffer += chunk;
        let nl: number;
        while ((nl = this.buffer.indexOf('\n')) >= 0) {
            const line = this.buffer.slice(0, nl).trim();
            this.buffer = this.buffer.slice(nl + 1);
            if (!line.startsWith('{')) continue;
            let event: Record<string, unknown>;
            try {
                event = JSON.parse(line) as Record<string, unknown>;
            } catch {
                continue;
            }
            this.events.push(event);
            this.waiters = this.waiters.filter((w) => {
                if (!w.match(event)) return true;
                w.ok(event);
                return false;
            });
        }
    }

    /** The next event that matches (or one seen already); rejects on exit or timeout. */
    waitFor(
        match: (e: Record<string, unknown>) => boolean,
        timeoutMs: number
    ): Promise<Record<string, unknown>> {
        const seen = this.events.find(match);
        if (seen) return Promise.resolve(seen);
        return new Promise((ok, fail) => {
            const timer = setTimeout(
                () =>
                    fail(
                        new Error(
                            `${this.name}: no such event within ${timeoutMs / 1000} s; stderr: ${this.stderr.slice(-1500)}`
                        )
                    ),
                timeoutMs
            );
            this.waiters.push({
                match,
                ok: (e) => {
                    clearTimeout(timer);
                    ok(e);
                }
            });
            void this.exited.then(({ code, signal }) => {
                clearTimeout(timer);
                fail(
                    new Error(
                        `${this.name} exited (${code ?? signal}) before the event; stdout: ${this.stdout.slice(-1500)} stderr: ${this.stderr.slice(-1500)}`
                    )
                );
            });
        });
    }

    get alive(): boolean {
        return this.proc.exitCode === null && this.proc.signalCode === null;
    }

    kill(signal: NodeJS.Signals = 'SIGKILL'): void {
        if (this.alive) this.proc.kill(signal);
    }

    /** SIGTERM (graceful), SIGKILL after `timeoutMs`; the exit code (null: killed). */
    async stop(timeoutMs = 30_000): Promise<number | null> {
        if (!this.alive) return (await this.exited).code;
        this.proc.kill('SIGTERM');
        const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
        const { code } = await this.exited;
        clearTimeout(timer);
        return code;
    }
}
