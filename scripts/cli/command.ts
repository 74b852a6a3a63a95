/**
 * The shape every command file follows: it registers itself on the program and runs
 * through `runCommand`, which turns its result or error into output (text, or the
 * `--json` envelope) and an exit code.
 */
import type { Command } from 'commander';
import { Output, parseLogLevel } from './output';

export interface GlobalOptions {
    json?: boolean;
    logLevel?: string;
}

export type CommandModule = (program: Command) => void;

/**
 * The terminal's width: `COLUMNS` when set (tests, and shells that export it), else the
 * terminal's own, else 80.
 */
export function terminalColumns(
    env: NodeJS.ProcessEnv = process.env,
    stdoutColumns: number | undefined = process.stdout.columns
): number {
    const fromEnv = Number(env.COLUMNS);
    if (Number.isInteger(fromEnv) && fromEnv >= 20) return fromEnv;
    return stdoutColumns && stdoutColumns >= 20 ? stdoutColumns : 80;
}

/** Output settings from the options of the command and of the program. */
export function outputFor(cmd: Command): Output {
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    return new Output({
        json: Boolean(opts.json),
        logLevel: parseLogLevel(opts.logLevel ?? 'warn'),
        interactive: Boolean(process.stdout.isTTY),
        columns: terminalColumns()
    });
}

/**
 * Runs a command action. The action returns an exit code (0 when omitted); any thrown
 * error is printed by the Output and sets a non-zero exit code.
 */
export async function runCommand(
    cmd: Command,
    action: (out: Output) => Promise<number | void>
): Promise<void> {
    let out: Output;
    try {
        out = outputFor(cmd);
    } catch (err) {
        process.exitCode = new Output({
            json: false,
            logLevel: 'warn',
            interactive: false
        }).fail(err);
        return;
    }
    try {
        const code = (await action(out)) ?? 0;
        out.finish(code);
        process.exitCode = code;
    } catch (err) {
        process.exitCode = out.fail(err);
    }
}
