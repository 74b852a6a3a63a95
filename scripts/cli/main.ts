/**
 * The `optout` command line. Each command lives in its own file under commands/, listed
 * in the manifest (commands/index.ts); only the command being run is loaded.
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS, type CommandEntry } from './commands';

/** Global options that take a value: their value is not a command name. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--log-level']);

/**
 * The command named on the command line (`optout --json status` → status), or undefined
 * for `optout`, `optout --help` and names that are not commands.
 */
export function commandNamed(
    argv: readonly string[]
): CommandEntry | undefined {
    const args = argv.slice(2);
    for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (arg === '--') return undefined;
        if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
            i++;
            continue;
        }
        if (arg.startsWith('-')) continue;
        // `optout help status` shows the help of status: load status.
        if (arg === 'help') return COMMANDS.find((c) => c.name === args[i + 1]);
        return COMMANDS.find((c) => c.name === arg);
    }
    return undefined;
}

/**
 * The program. With `only`, that command is registered in full and the others by name and
 * summary alone (enough for the command list and for "unknown command" errors); without,
 * every command is registered in full (tests and the README's reference use this).
 */
export function buildProgram(
    only?: CommandEntry | 'all',
    settings: { onUsageError?: (message: string) => void } = {}
): Command {
    const program = new Command('optout')
        .description(
            'Keep email unsubscribes in sync between the marketing platform and Salesforce.'
        )
        .option('--json', 'print one JSON object on stdout instead of text')
        .option(
            '--log-level <level>',
            'error, warn, info or debug (logs go to stderr)',
            'warn'
        )
        .exitOverride();
    // With --json the usage error becomes the envelope; the hint is in its actions.
    if (!settings.onUsageError)
        program.showHelpAfterError('(run with --help for usage)');
    const onUsageError = settings.onUsageError;
    program.configureOutput({
        outputError: (str, write) =>
            onUsageError ? onUsageError(str) : write(str)
    });
    for (const entry of COMMANDS) {
        if (only === 'all' || only === entry) entry.load()(program);
        else
            program
                .command(
                    entry.args ? `${entry.name} ${entry.args}` : entry.name
                )
                .description(entry.summary);
    }
    return program;
}

/**
 * A usage error (unknown option, missing argument…) as the `--json` error envelope, so
 * that a script gets JSON whatever went wrong.
 */
export function usageErrorEnvelope(
    message: string,
    command: CommandEntry | undefined
): Record<string, unknown> {
    return {
        status: 1,
        name: 'BAD_ARGUMENT',
        message: message.replace(/^error: /, '').trim(),
        actions: [
            `Run optout ${command ? `${command.name} ` : ''}--help for usage`
        ],
        exitCode: 2,
        warnings: []
    };
}

export async function main(argv: string[]): Promise<void> {
    const command = commandNamed(argv);
    const json = argv.slice(2).includes('--json');
    let usageError: string | undefined;
    const program = buildProgram(command, {
        onUsageError: json
            ? (message) => {
                  usageError = (usageError ?? '') + message;
              }
            : undefined
    });
    try {
        await program.parseAsync(argv);
    } catch (err) {
        if (err instanceof CommanderError) {
            // Help and version exit 0; usage errors exit 2 as most CLIs do.
            process.exitCode = err.exitCode === 0 ? 0 : 2;
            if (json && err.exitCode !== 0)
                process.stdout.write(
                    `${JSON.stringify(usageErrorEnvelope(usageError ?? err.message, command), null, 2)}\n`
                );
            return;
        }
        throw err;
    }
}

if (require.main === module) {
    void main(process.argv);
}
