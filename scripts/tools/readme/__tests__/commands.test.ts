/**
 * The README's command reference is the programme's own `--help` text: a command or
 * option added, renamed or described differently without `npm run docs:commands` fails here.
 */
import { readFileSync } from 'node:fs';
import { README, commandReference, withReference } from '../commands';

describe('README command reference', () => {
    it('matches --help of every command', () => {
        const readme = readFileSync(README, 'utf8');
        expect(withReference(readme, commandReference())).toBe(readme);
    });

    it('lists every command and subcommand with its options', () => {
        const reference = commandReference();
        for (const heading of [
            '### `optout status`',
            '### `optout sync`',
            '### `optout mailchimp local start`',
            '### `optout local-org user`',
            '### `optout export suppressions`'
        ])
            expect(reference).toContain(heading);
        expect(reference).toContain('--target-org <org>');
        expect(reference).toContain('Usage: optout sync [options] <job>');
    });

    it('refuses a README without the markers', () => {
        expect(() => withReference('# no markers', 'x')).toThrow(/markers/);
    });
});
