/**
 * Helpers for the CLI contract tests of serve, schedule and demo: the CLI in-process
 * (output and exit code captured), the real entry point as a child process, and a
 * working folder whose `--target-org local` is a test org.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { writeState } from '../../tools/local-org/connect';
import type { TestOrg } from '../../tools/local-org/testing';
import { ROOT } from '../../cli/__tests__/run-cli';

export { cli, ROOT, type Run } from '../../cli/__tests__/run-cli';

/**
 * A folder where `--target-org local` means the test org: the state file that
 * `optout local-org start` writes, naming this (living) process.
 */
export function localOrgFolder(dir: string, t: TestOrg): void {
    mkdirSync(join(dir, '.optout'), { recursive: true });
    writeState(join(dir, '.optout', 'local-org.json'), {
        instanceUrl: t.instanceUrl,
        accessToken: t.accessToken,
        pid: process.pid,
        port: Number(new URL(t.instanceUrl).port),
        dbPath: ':memory:',
        orgId: t.org.orgId,
        username: t.org.username,
        startedAt: new Date().toISOString()
    });
}

export interface Child {
    proc: ChildProcess;
    /** Resolves with the next stdout line that matches. */
    line(match: (line: string) => boolean): Promise<string>;
    stdout(): string;
    stderr(): string;
    exited: Promise<number | null>;
}

/** Starts `node bin/optout ARGS` in `cwd`, without proxies. */
export function spawnCli(
    cwd: string,
    args: string[],
    env: Record<string, string | undefined> = {}
): Child {
    const full: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete full[k];
    const proc = spawn(process.execPath, [join(ROOT, 'bin/optout'), ...args], {
        cwd,
        env: full,
        stdio: ['ignore', 'pipe', 'pipe']
    });
    const out: string[] = [];
    const err: string[] = [];
    const waiters: {
        match: (l: string) => boolean;
        ok: (l: string) => void;
    }[] = [];
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on(
        'line',
        (l) => {
            out.push(l);
            const i = waiters.findIndex((w) => w.match(l));
            if (i >= 0) waiters.splice(i, 1)[0].ok(l);
        }
    );
    proc.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
    // 'close', not 'exit': by then every line the child printed has been read.
    const exited = new Promise<number | null>((r) =>
        proc.once('close', (code) => r(code))
    );
    return {
        proc,
        stdout: () => out.join('\n'),
        stderr: () => err.join(''),
        exited,
        line: (match) =>
            new Promise((ok, fail) => {
                const seen = out.find(match);
                if (seen !== undefined) {
                    ok(seen);
                    return;
                }
                waiters.push({ match, ok });
                void exited.then(() =>
                    fail(
                        new Error(
                            `exited before the line; stdout: ${out.join('\n')}\nstderr: ${err.join('')}`
                        )
                    )
                );
            })
    };
}
