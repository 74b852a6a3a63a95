/**
 * The shape every command file follows: it registers itself on the program and runs
 * through `runCommand`, which turns its result or error into output and an exit code.
 */
import type { Command } from 'commander';
import { Output, parseLogLevel } from './output';

export interface GlobalOptions {
    json?: boolean;
    logLevel?: string;
}

export type CommandModule = (program: Command) => void;

/** Output settings from the options of the command and of the program. */
export function outputFor(cmd: Command): Output {
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    return new Output({
        json: Boolean(opts.json),
        logLevel: parseLogLevel(opts.logLevel ?? 'warn'),
        interactive: Boolean(process.stdout.isTTY)
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
        const code = await action(out);
        process.exitCode = code ?? 0;
    } catch (err) {
        process.exitCode = out.fail(err);
    }
}
