/**
 * The shape every command file follows, as the sf CLI's commands do:
 * - `register` declares the command and its options on the program (parsers from
 *   `options.ts`), and nothing else;
 * - a `run` function takes the parsed options and returns a typed result (no printing:
 *   logs, progress, events and warnings go through the Output);
 * - a renderer (in `render/`) turns the result into text fitted to the terminal.
 * `execute` ties them together; `runCommand` turns the result or error into output
 * (text, or the `--json` envelope) and an exit code.
 */
import type { Command } from 'commander';
import { Output, parseLogLevel } from './output';

export interface GlobalOptions {
    json?: boolean;
    logLevel?: string;
}

export type CommandModule = (program: Command) => void;

/**
 * The width human output fits in: `COLUMNS` when set (tests, and shells that export it),
 * else the terminal's own; unlimited when stdout is not a terminal (piped to a file or
 * grep: one line per row, as git and kubectl do).
 */
export function terminalColumns(
    env: NodeJS.ProcessEnv = process.env,
    stdoutColumns: number | undefined = process.stdout.columns
): number {
    const fromEnv = Number(env.COLUMNS);
    if (Number.isInteger(fromEnv) && fromEnv >= 20) return fromEnv;
    return stdoutColumns && stdoutColumns >= 20 ? stdoutColumns : Infinity;
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

/** A command's work, apart from its options (commander) and from its text. */
export interface CommandWork<R> {
    /** Does the work and returns the typed result, which is the `--json` envelope's `result`. */
    run(out: Output): Promise<R>;
    /** The result as text for a person, fitted to `columns`. */
    render(result: R, columns: number): string;
    /** The exit code for a result; 0 when omitted (e.g. 1 when Salesforce refused rows). */
    exitCode?(result: R): number;
}

/** Runs a command's work: the result printed as text or as the envelope, and the exit code. */
export async function execute<R>(
    cmd: Command,
    work: CommandWork<R>
): Promise<void> {
    await runCommand(cmd, async (out) => {
        const result = await work.run(out);
        out.result(result, () => work.render(result, out.columns));
        return work.exitCode ? work.exitCode(result) : 0;
    });
}
