/**
 * The `optout` command line. Each command lives in its own file under commands/.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands';

export function buildProgram(): Command {
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
        .showHelpAfterError('(run with --help for usage)')
        .exitOverride();
    program.configureOutput({
        outputError: (str, write) => write(str)
    });
    for (const register of commands) register(program);
    return program;
}

export async function main(argv: string[]): Promise<void> {
    const program = buildProgram();
    try {
        await program.parseAsync(argv);
    } catch (err) {
        if (err instanceof CommanderError) {
            // Help and version exit 0; usage errors exit 2 as most CLIs do.
            process.exitCode = err.exitCode === 0 ? 0 : 2;
            return;
        }
        throw err;
    }
}

if (require.main === module) {
    void main(process.argv);
}
