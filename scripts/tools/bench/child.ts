/**
 * Child processes of the benchmark (the org, each measured job): a TypeScript file run
 * through bin/run-ts — or, `compiled`, its JavaScript under dist/ run by Node alone, as
 * bin/optout runs the CLI — with an IPC channel, its input in one environment variable,
 * and messages awaited by type. Loopback traffic never goes through a proxy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { PROJECT_ROOT, projectPath } from '../../model/project';

const RUN_TS = projectPath('bin', 'run-ts');

/** A TypeScript file of this folder's compiled JavaScript under dist/ (npm run build). */
export function compiledPath(file: string): string {
    return projectPath(
        'dist',
        relative(PROJECT_ROOT, resolve(__dirname, file)).replace(/\.ts$/, '.js')
    );
}

/** The environment without proxy settings (loopback requests only). */
export function withoutProxy(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const out: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(env))
        if (!/^(https?|all|no)_proxy$/i.test(k)) out[k] = v;
    return out;
}

export interface Message {
    type: string;
}

export class Child<M extends Message> {
    readonly proc: ChildProcess;
    private readonly inbox: M[] = [];
    private waiters: { type: string; resolve: (m: M) => void }[] = [];
    private exitInfo: { code: number | null; signal: string | null } | null =
        null;
    private readonly exitWaiters: (() => void)[] = [];

    constructor(
        file: string,
        envName: string,
        input: unknown,
        nodeArgs: readonly string[] = [],
        options: { compiled?: boolean } = {}
    ) {
        this.proc = spawn(
            process.execPath,
            options.compiled
                ? [...nodeArgs, compiledPath(file)]
                : [...nodeArgs, RUN_TS, resolve(__dirname, file)],
            {
                stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
                env: {
                    ...withoutProxy(process.env),
                    [envName]: JSON.stringify(input)
                }
            }
        );
        this.proc.on('message', (m: M) => {
            const i = this.waiters.findIndex(
                (w) => w.type === m.type || m.type === 'error'
            );
            if (i >= 0) {
                const [w] = this.waiters.splice(i, 1);
                w.resolve(m);
            } else this.inbox.push(m);
        });
        this.proc.on('exit', (code, signal) => {
            this.exitInfo = { code, signal };
            for (const w of this.exitWaiters.splice(0)) w();
            // Whoever still waits for a message will not get one.
            for (const w of this.waiters.splice(0))
                w.resolve({
                    type: 'error',
                    message: `${file} exited (${code ?? signal}) before sending '${w.type}'`
                } as unknown as M);
        });
    }

    get pid(): number | undefined {
        return this.proc.pid;
    }

    send(message: Message): void {
        this.proc.send(message);
    }

    /** The next message of this type; an `error` message (or the exit) rejects. */
    async next<T extends M>(type: T['type']): Promise<T> {
        const i = this.inbox.findIndex(
            (m) => m.type === type || m.type === 'error'
        );
        const m =
            i >= 0
                ? this.inbox.splice(i, 1)[0]
                : this.exitInfo
                  ? ({
                        type: 'error',
                        message: `exited (${this.exitInfo.code ?? this.exitInfo.signal}) before sending '${type}'`
                    } as unknown as M)
                  : await new Promise<M>((resolveMessage) =>
                        this.waiters.push({ type, resolve: resolveMessage })
                    );
        if (m.type === 'error')
            throw new Error(
                `child ${this.pid}: ${(m as unknown as { message: string }).message}`
            );
        return m as T;
    }

    async exited(): Promise<{ code: number | null; signal: string | null }> {
        if (!this.exitInfo)
            await new Promise<void>((r) => this.exitWaiters.push(r));
        return this.exitInfo as { code: number | null; signal: string | null };
    }

    /** Ends the child (SIGTERM) if it still runs. */
    kill(): void {
        if (!this.exitInfo) this.proc.kill('SIGTERM');
    }
}
