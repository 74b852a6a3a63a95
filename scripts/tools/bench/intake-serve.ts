/**
 * The parts of the intake benchmark that run the product: `optout serve` replicas (the
 * real CLI in child processes, `--json`, ready at their `listening` line, stopped with
 * SIGTERM and read from their closing envelope) and the ledger each configuration gets
 * (a temporary SQLite file, or a fresh PostgreSQL database created on the test server
 * and dropped afterwards). The ledger is only ever named on serve's command line: the
 * harness reads it back through serve's own suppression feed, whatever the engine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../model/project';
import { withoutProxy } from './child';
import type { IntakeConfig, ServeTotals } from './intake-report';
import {
    createDatabase,
    databaseName,
    dropDatabase,
    redactUrl
} from './pg-admin';

export { redactUrl, withDatabase } from './pg-admin';

const CLI = join(PROJECT_ROOT, 'bin', 'optout');

/** Keeps the last `max` characters of a stream (enough for an error message). */
function tail(text: string, max = 4000): string {
    return text.length > max ? text.slice(text.length - max) : text;
}

/** The message of serve's failure envelope (pretty-printed JSON) or its stderr. */
export function failureText(stdout: string, stderr: string): string {
    const start = stdout.indexOf('{');
    if (start >= 0) {
        try {
            const env = JSON.parse(stdout.slice(start)) as {
                name?: string;
                message?: string;
            };
            if (env.message) return `${env.name ?? 'error'}: ${env.message}`;
        } catch {
            // not one envelope: fall back to stderr
        }
    }
    return tail(stderr.trim() || stdout.trim(), 600) || 'no output';
}

export interface ServeStart {
    /** Folder with `.optout/local-org.json`, so that `--target-org local` finds the org. */
    cwd: string;
    ledger: string;
    secret: string;
    /** How long to wait for the `listening` line. */
    readyTimeoutMs?: number;
}

export class ServeReplica {
    private stdout = '';
    private stderr = '';
    private lineBuffer = '';
    private readonly lines: Record<string, unknown>[] = [];
    private readonly exit: Promise<{
        code: number | null;
        signal: NodeJS.Signals | null;
    }>;

    private constructor(
        private readonly proc: ChildProcess,
        readonly url: string
    ) {
        this.exit = new Promise((r) =>
            proc.once('exit', (code, signal) => r({ code, signal }))
        );
    }

    get pid(): number | undefined {
        return this.proc.pid;
    }

    /** Starts one replica and resolves at its `listening` line (rejects if it exits first). */
    static start(s: ServeStart): Promise<ServeReplica> {
        const env = withoutProxy(process.env);
        delete env.OPTOUT_LEDGER;
        env.OPTOUT_FROM_SOURCE = '1';
        env.OPTOUT_WEBHOOK_SECRET = s.secret;
        env.NODE_OPTIONS = '';
        const proc = spawn(
            process.execPath,
            [
                CLI,
                'serve',
                '--target-org',
                'local',
                '--ledger',
                s.ledger,
                '--port',
                '0',
                // One load generator is one client address: lift the per-address brake.
                '--rate',
                '1000000/min',
                '--json'
            ],
            { cwd: s.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }
        );
        return new Promise((resolve, reject) => {
            let replica: ServeReplica | undefined;
            let out = '';
            let err = '';
            let buffer = '';
            const timer = setTimeout(() => {
                proc.kill('SIGKILL');
                reject(
                    new Error(
                        `optout serve did not print its listening line within ${(s.readyTimeoutMs ?? 60_000) / 1000} s: ${failureText(out, err)}`
                    )
                );
            }, s.readyTimeoutMs ?? 60_000);
            proc.stderr?.on('data', (d: Buffer) => {
                if (replica)
                    replica.stderr = tail(replica.stderr + d.toString());
                else err = tail(err + d.toString());
            });
            proc.stdout?.on('data', (d: Buffer) => {
                if (replica) {
                    replica.take(d.toString());
                    return;
                }
                out += d.toString();
                buffer += d.toString();
                let nl: number;
                while ((nl = buffer.indexOf('\n')) >= 0) {
                    const line = buffer.slice(0, nl);
                    buffer = buffer.slice(nl + 1);
                    const event = parseLine(line);
                    if (event?.event === 'listening' && !replica) {
                        clearTimeout(timer);
                        replica = new ServeReplica(proc, String(event.url));
                        replica.lines.push(event);
                        replica.take(buffer);
                        buffer = '';
                        resolve(replica);
                        return;
                    }
                }
            });
            proc.once('exit', (code, signal) => {
                if (replica) return;
                clearTimeout(timer);
                reject(
                    new Error(
                        `optout serve exited (${code ?? signal}) before listening: ${failureText(out, err)}`
                    )
                );
            });
        });
    }

    private take(chunk: string): void {
        this.stdout = tail(this.stdout + chunk, 64_000);
        this.lineBuffer += chunk;
        let nl: number;
        while ((nl = this.lineBuffer.indexOf('\n')) >= 0) {
            const event = parseLine(this.lineBuffer.slice(0, nl));
            this.lineBuffer = this.lineBuffer.slice(nl + 1);
            if (event) this.lines.push(event);
        }
    }

    /** Event lines of a kind seen so far (`push`, …). */
    events(kind: string): Record<string, unknown>[] {
        return this.lines.filter((l) => l.event === kind);
    }

    /**
     * SIGTERM, as a platform stops a process: it stops accepting and finishes the push
     * in flight; its envelope gives the totals. SIGKILL after `timeoutMs`.
     */
    async stop(timeoutMs = 60_000): Promise<ServeTotals> {
        this.proc.kill('SIGTERM');
        const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
        const { code, signal } = await this.exit;
        clearTimeout(timer);
        const envelope = [...this.lines]
            .reverse()
            .find((l) => 'status' in l && 'result' in l) as
            { status: number; result: ServeTotals | null } | undefined;
        if (!envelope?.result)
            throw new Error(
                `optout serve (${this.pid}) exited (${code ?? signal}) without its totals: ${failureText(this.stdout, this.stderr)}`
            );
        return envelope.result;
    }

    kill(): void {
        if (this.proc.exitCode === null && this.proc.signalCode === null)
            this.proc.kill('SIGKILL');
    }
}

function parseLine(line: string): Record<string, unknown> | undefined {
    const t = line.trim();
    if (!t.startsWith('{')) return undefined;
    try {
        const v = JSON.parse(t) as unknown;
        return v && typeof v === 'object'
            ? (v as Record<string, unknown>)
            : undefined;
    } catch {
        return undefined;
    }
}

/** A ledger for one configuration and how to get rid of it. */
export interface PreparedLedger {
    /** What serve gets as --ledger. */
    ledger: string;
    /** Shown in the results (a URL without its password). */
    shown: string;
    dispose(): Promise<void>;
}

/**
 * The ledger of a configuration: the one given (used as it is), a SQLite file in the
 * run's folder, or a new database on the PostgreSQL server (the test role may create
 * databases), dropped with FORCE afterwards.
 */
export async function prepareLedger(
    config: IntakeConfig,
    dir: string,
    pgUrl: string | undefined,
    tag: string
): Promise<PreparedLedger> {
    if (config.ledger)
        return {
            ledger: config.ledger,
            shown: redactUrl(config.ledger),
            dispose: async () => undefined
        };
    if (config.engine === 'sqlite') {
        const path = join(dir, `ledger-${config.name}.db`);
        return { ledger: path, shown: path, dispose: async () => undefined };
    }
    if (!pgUrl)
        throw new Error(
            'no PostgreSQL server: pass --pg-url or set OPTOUT_TEST_PG_URL (npm run pg:start)'
        );
    const database = databaseName('optout_intake', tag, config.name);
    const url = await createDatabase(pgUrl, database);
    return {
        ledger: url,
        shown: redactUrl(url),
        dispose: () => dropDatabase(pgUrl, database)
    };
}
