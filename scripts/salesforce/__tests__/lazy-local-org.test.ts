/**
 * The product never loads the local org (a development tool) unless asked: loading
 * salesforce/open.ts must not load anything under scripts/tools/. A fresh Node process
 * (Jest's module registry is not Node's) loads the file with tsx and lists what it loaded.
 */
import { execFileSync } from 'node:child_process';
import { PROJECT_ROOT, projectPath } from '../../model/project';

/** The modules under scripts/tools/ loaded after requiring `file` (then running `then`). */
function toolsLoadedBy(file: string, then = ''): string[] {
    const script = `
require('tsx/cjs');
const loaded = require(${JSON.stringify(file)});
${then}
const tools = Object.keys(require.cache).filter((p) => p.includes('/scripts/tools/'));
process.stdout.write(JSON.stringify(tools));
`;
    const out = execFileSync(process.execPath, ['-e', script], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: '' }
    });
    return (JSON.parse(out) as string[]).map((p) =>
        p.slice(PROJECT_ROOT.length + 1)
    );
}

describe('the local org is loaded only when used', () => {
    it('loading salesforce/open.ts loads no development tool', () => {
        expect(
            toolsLoadedBy(projectPath('scripts/salesforce/open.ts'))
        ).toEqual([]);
    });

    it('the entry point loads it on the first call (so the probe above can see it)', () => {
        const loaded = toolsLoadedBy(
            projectPath('scripts/salesforce/local-org.ts'),
            'loaded.localOrgConnect();'
        );
        expect(loaded).toContain('scripts/tools/local-org/connect.ts');
    });
});
