/**
 * The README's command reference, made from the program itself: for every command, the
 * text `optout … --help` prints (at 80 columns). `npm run docs:commands` rewrites the part
 * of README.md between the two markers; `--check` exits 1 when it is out of date (a test
 * runs the same comparison), so the reference cannot drift from `--help`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/main';
import { projectPath } from '../../model/project';

export const START = '<!-- commands:start (npm run docs:commands) -->';
export const END = '<!-- commands:end -->';
export const README = projectPath('README.md');

/** The program and every command below it, depth first, with its full name. */
function walk(cmd: Command, path: string[] = []): [string, Command][] {
    return cmd.commands.flatMap((c): [string, Command][] => {
        const name = [...path, c.name()];
        return [[name.join(' '), c], ...walk(c, name)];
    });
}

/** The help text of a command as `--help` prints it, 80 columns wide. */
function helpOf(cmd: Command): string {
    cmd.configureHelp({ helpWidth: 80 });
    return cmd.helpInformation().trimEnd();
}

export function commandReference(): string {
    const program = buildProgram('all');
    const blocks = [
        '```text',
        helpOf(program),
        '```',
        ...walk(program).flatMap(([name, cmd]) => [
            '',
            `### \`optout ${name}\``,
            '',
            '```text',
            helpOf(cmd),
            '```'
        ])
    ];
    return blocks.join('\n');
}

/** README.md with its reference section replaced by `reference`. */
export function withReference(readme: string, reference: string): string {
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    if (start < 0 || end < start)
        throw new Error(
            `README.md has no command reference markers (${START} … ${END})`
        );
    return `${readme.slice(0, start + START.length)}\n\n${reference}\n\n${readme.slice(end)}`;
}

function main(): void {
    const readme = readFileSync(README, 'utf8');
    const updated = withReference(readme, commandReference());
    if (process.argv.includes('--check')) {
        if (updated !== readme) {
            process.stderr.write(
                'README.md command reference is out of date: run npm run docs:commands\n'
            );
            process.exitCode = 1;
        }
        return;
    }
    if (updated !== readme) writeFileSync(README, updated);
    process.stdout.write(
        updated === readme
            ? 'README.md command reference is up to date\n'
            : 'README.md command reference updated\n'
    );
}

if (process.argv[1] === __filename) main();
