/**
 * `optout deploy --help` and `optout settings --help` must start fast: they load their
 * command module (and the deploy engine, salesforce/deploy.ts) but none of the heavy
 * libraries the deploy needs — source-deploy-retrieve, @salesforce/core, jsforce,
 * jszip — nor a development tool. A fresh Node process (Jest's module registry is not
 * Node's) runs the CLI with tsx and lists what it loaded.
 */
import { execFileSync } from 'node:child_process';
import { PROJECT_ROOT, projectPath } from '../../model/project';

const HEAVY =
    /\/node_modules\/(@salesforce\/source-deploy-retrieve|@salesforce\/core|jsforce|jszip)\//;
const MARK = '@@loaded@@';

/** The modules loaded (paths from the project root) once `then` ran after tsx. */
function probe(then: string): string[] {
    const script = `
require('tsx/cjs');
(async () => {
${then}
})().then(() => {
    process.stdout.write(${JSON.stringify(MARK)} + JSON.stringify(Object.keys(require.cache)));
});
`;
    const out = execFileSync(process.execPath, ['-e', script], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' }
    });
    const at = out.lastIndexOf(MARK);
    if (at < 0) throw new Error(`the probe printed no module list:\n${out}`);
    return (JSON.parse(out.slice(at + MARK.length)) as string[]).map((p) =>
        p.startsWith(PROJECT_ROOT) ? p.slice(PROJECT_ROOT.length + 1) : p
    );
}

/** Runs `optout ARGS` in the probe, its output kept out of the module list. */
const runCli = (...args: string[]): string => `
const { main } = require(${JSON.stringify(projectPath('scripts/cli/main.ts'))});
await main(['node', 'optout', ...${JSON.stringify(args)}]);
`;

const heavy = (loaded: string[]): string[] =>
    loaded.filter((p) => HEAVY.test(`/${p}`) || p.includes('scripts/tools/'));

describe('optout deploy and settings start without their heavy libraries', () => {
    it('deploy --help loads the command and the engine, not source-deploy-retrieve, @salesforce/core, jsforce or jszip', () => {
        const loaded = probe(runCli('deploy', '--help'));
        expect(loaded).toContain('scripts/cli/commands/deploy.ts');
        expect(loaded).toContain('scripts/salesforce/deploy.ts');
        expect(heavy(loaded)).toEqual([]);
    });

    it('settings --help loads the command alone', () => {
        const loaded = probe(runCli('settings', '--help'));
        expect(loaded).toContain('scripts/cli/commands/settings.ts');
        expect(heavy(loaded)).toEqual([]);
    });

    it('the probe sees source-deploy-retrieve once it is loaded (so the checks above can fail)', () => {
        const loaded = probe(
            `require(${JSON.stringify(projectPath('scripts/salesforce/deploy.ts'))}); require('@salesforce/source-deploy-retrieve');`
        );
        expect(heavy(loaded).length).toBeGreaterThan(0);
    });
});
