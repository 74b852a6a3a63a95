/**
 * Runs `optout ARGS` in this process for the CLI contract tests: stdout, stderr and the
 * exit code captured, and the JSON object parsed when `--json` was given.
 */
import { main } from '../main';
import { PROJECT_ROOT } from '../../model/project';

export const ROOT = PROJECT_ROOT;

export interface Run {
    code: number;
    stdout: string;
    stderr: string;
    /**
     * With `--json`: the envelope's `result` when the command returned one, else the
     * error envelope (`{status: 1, name, message, actions, exitCode}`); `{}` without
     * `--json` or when nothing was printed.
     */
    json: Record<string, unknown>;
    /** The whole `--json` envelope. */
    envelope: Record<string, unknown>;
}

export async function cli(...args: string[]): Promise<Run> {
    const out: string[] = [];
    const err: string[] = [];
    const so = jest
        .spyOn(process.stdout, 'write')
        .mockImplementation((chunk: string | Uint8Array) => {
            out.push(String(chunk));
            return true;
        });
    const se = jest
        .spyOn(process.stderr, 'write')
        .mockImplementation((chunk: string | Uint8Array) => {
            err.push(String(chunk));
            return true;
        });
    process.exitCode = undefined;
    try {
        await main(['node', 'optout', ...args]);
    } finally {
        so.mockRestore();
        se.mockRestore();
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    const stdout = out.join('');
    return { code, stdout, stderr: err.join(''), ...readJson(stdout, args) };
}

/** The `--json` envelope on stdout, and its result (or the error envelope). */
export function readJson(
    stdout: string,
    args: readonly string[]
): Pick<Run, 'json' | 'envelope'> {
    let envelope: Record<string, unknown> = {};
    if (args.includes('--json') && stdout.trim())
        envelope = JSON.parse(stdout) as Record<string, unknown>;
    const json =
        'result' in envelope
            ? (envelope.result as Record<string, unknown>)
            : envelope;
    return { json, envelope };
}
