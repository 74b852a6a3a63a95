/**
 * The cut between the product and the development tools, and the product's layers, as
 * eslint.config.js enforces them (`npm run lint` runs it on the whole tree). Lints a
 * handful of snippets with the real configuration, and checks that the CLI's command
 * modules load no tool until a command runs.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { ESLint, type Linter } from 'eslint';
import { PROJECT_ROOT, projectPath } from '../../model/project';

const BOUNDARY_RULES = ['import/no-restricted-paths', 'no-restricted-syntax'];

let eslint: ESLint;
beforeAll(() => {
    // The configuration object itself, not the file: ESLint loads a config file with
    // import(), which Jest's module system does not provide. Same rules either way.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const config = require(projectPath('eslint.config.js')) as Linter.Config[];
    eslint = new ESLint({
        cwd: PROJECT_ROOT,
        overrideConfigFile: true,
        overrideConfig: [
            ...config,
            // The files linted here do not exist, so the type-aware rules (which read
            // them through tsconfig.json) are off; the boundary rules need no types.
            {
                files: ['scripts/**/*.ts'],
                languageOptions: { parserOptions: { projectService: false } },
                rules: {
                    '@typescript-eslint/no-floating-promises': 'off',
                    '@typescript-eslint/no-misused-promises': 'off',
                    '@typescript-eslint/return-await': 'off'
                }
            }
        ]
    });
});

/** The boundary problems ESLint reports for `code` as if it were the file `filePath`. */
async function boundaryErrors(
    filePath: string,
    code: string
): Promise<{ rule: string | null; message: string }[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return result.messages
        .filter((m) => m.ruleId === null || BOUNDARY_RULES.includes(m.ruleId))
        .map((m) => ({ rule: m.ruleId, message: m.message }));
}

const LOCAL_ORG_HINT =
    /reach the local org through scripts\/salesforce\/local-org\.ts/;

describe('product code and the development tools', () => {
    it('refuses an import of a tool from a product file, and says what to do', async () => {
        const errors = await boundaryErrors(
            'scripts/sync/foo.ts',
            "import { readState } from '../tools/local-org/connect';\nexport const f = readState;\n"
        );
        expect(errors).toEqual([
            {
                rule: 'import/no-restricted-paths',
                message: expect.stringMatching(LOCAL_ORG_HINT)
            }
        ]);
    });

    it('refuses a require of a tool from a product file, however it is written', async () => {
        const literal = await boundaryErrors(
            'scripts/webhook/foo.ts',
            "export const c = require('../tools/local-org/connect');\n"
        );
        expect(literal.map((e) => e.rule).sort()).toEqual([
            'import/no-restricted-paths',
            'no-restricted-syntax'
        ]);
        expect(literal[0].message).toMatch(LOCAL_ORG_HINT);
        const template = await boundaryErrors(
            'scripts/cli/commands/foo.ts',
            "const name = 'run';\nexport const c = require(`../../tools/demo/${name}`);\n"
        );
        expect(template).toEqual([
            {
                rule: 'no-restricted-syntax',
                message: expect.stringMatching(/scripts\/cli\/tools\.ts/)
            }
        ]);
        const type = await boundaryErrors(
            'scripts/sync/foo.ts',
            "export type C = typeof import('../tools/local-org/connect');\n"
        );
        expect(type).toEqual([
            {
                rule: 'no-restricted-syntax',
                message: expect.stringMatching(LOCAL_ORG_HINT)
            }
        ]);
    });

    it('lets the two lazy entry points require a tool', async () => {
        const [localOrg] = await eslint.lintText(
            "// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy\nexport const c = () => require('../tools/local-org/connect');\n",
            { filePath: 'scripts/salesforce/local-org.ts' }
        );
        expect(localOrg.messages).toEqual([]);
        expect(
            await boundaryErrors(
                'scripts/cli/tools.ts',
                "export const c = () => require('../tools/demo/run');\n"
            )
        ).toEqual([]);
    });

    it('constrains every product folder there is (a new folder needs its layer in eslint.config.js)', async () => {
        const folders = readdirSync(projectPath('scripts'), {
            withFileTypes: true
        })
            .filter((d) => d.isDirectory() && d.name !== 'tools')
            .map((d) => d.name);
        expect(folders).toEqual(
            expect.arrayContaining(['cli', 'model', 'sync'])
        );
        const unconstrained: string[] = [];
        for (const folder of folders) {
            const errors = await boundaryErrors(
                `scripts/${folder}/probe.ts`,
                "import { readState } from '../tools/local-org/connect';\nexport const f = readState;\n"
            );
            if (errors.length === 0) unconstrained.push(folder);
        }
        expect(unconstrained).toEqual([]);
    });

    it('lets tests use the tools as fixtures', async () => {
        expect(
            await boundaryErrors(
                'scripts/sync/__tests__/foo.test.ts',
                "import { startLocalOrg } from '../../tools/local-org/server';\nit('runs', () => expect(startLocalOrg).toBeDefined());\n"
            )
        ).toEqual([]);
    });
});

describe('the product layers', () => {
    it('refuses a lower layer importing a higher one', async () => {
        const errors = await boundaryErrors(
            'scripts/ledger/foo.ts',
            "import { runJob } from '../sync/run';\nexport const r = runJob;\n"
        );
        expect(errors).toEqual([
            {
                rule: 'import/no-restricted-paths',
                message: expect.stringMatching(
                    /scripts\/ledger\/ may import only scripts\/model\//
                )
            }
        ]);
    });

    it('allows a higher layer importing a lower one', async () => {
        expect(
            await boundaryErrors(
                'scripts/sync/foo.ts',
                "import { Ledger } from '../ledger/ledger';\nexport const l = Ledger;\n"
            )
        ).toEqual([]);
    });

    it('holds for the files that reach the tools today', async () => {
        const results = await eslint.lintFiles([
            'scripts/salesforce/local-org.ts',
            'scripts/salesforce/open.ts',
            'scripts/cli/tools.ts',
            'scripts/cli/commands/demo.ts',
            'scripts/cli/commands/local-org.ts',
            'scripts/cli/commands/mailchimp.ts'
        ]);
        expect(
            results.flatMap((r) =>
                r.messages.map(
                    (m) => `${r.filePath}: ${m.ruleId}: ${m.message}`
                )
            )
        ).toEqual([]);
    });
});

describe('the CLI commands that run tools', () => {
    it('load no tool until the command runs', () => {
        // A fresh Node process: Jest's module registry is not Node's require.cache.
        const script = `
require('tsx/cjs');
for (const name of ['demo', 'local-org', 'mailchimp'])
    require('./scripts/cli/commands/' + name + '.ts');
process.stdout.write(JSON.stringify(
    Object.keys(require.cache).filter((p) => p.includes('/scripts/tools/'))
));
`;
        const out = execFileSync(process.execPath, ['-e', script], {
            cwd: PROJECT_ROOT,
            encoding: 'utf8',
            env: { ...process.env, NODE_OPTIONS: '' }
        });
        expect(JSON.parse(out)).toEqual([]);
    });
});
