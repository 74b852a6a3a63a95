'use strict';

const { defineConfig } = require('eslint/config');
const eslintJs = require('@eslint/js');
const jestPlugin = require('eslint-plugin-jest');
const salesforceLwcConfig = require('@salesforce/eslint-config-lwc/recommended');
const tseslint = require('typescript-eslint');
const globals = require('globals');
const importPlugin = require('eslint-plugin-import');

// ---------------------------------------------------------------------------------------
// The cut between the product and the development tools, and the product's layers
// (scripts/README.md). Each product folder may import only the folders listed for it;
// no product folder imports scripts/tools/, except through the two lazy entry points.
const PRODUCT_LAYERS = {
    model: [],
    metadata: ['model'],
    ledger: ['model'],
    salesforce: ['model', 'metadata'],
    sync: ['model', 'ledger', 'salesforce'],
    mailchimp: ['model', 'ledger'],
    webhook: ['model', 'ledger', 'salesforce', 'sync', 'mailchimp'],
    scheduler: ['model', 'ledger', 'salesforce', 'sync', 'mailchimp'],
    cli: [
        'model',
        'metadata',
        'ledger',
        'salesforce',
        'sync',
        'mailchimp',
        'webhook',
        'scheduler'
    ]
};
const PRODUCT = Object.keys(PRODUCT_LAYERS);
const TOOL_ENTRY_POINTS = [
    'scripts/salesforce/local-org.ts',
    'scripts/cli/tools.ts'
];
const REACH_TOOLS =
    'Product code does not load development tools: reach the local org through scripts/salesforce/local-org.ts, the demo and the local Mailchimp through scripts/cli/tools.ts (lazy loaders; add one there if needed).';
/** One zone per product folder: the product folders it may not import. */
function layerZonesFor(layers) {
    return PRODUCT.flatMap((folder) => {
        const allowed = layers[folder];
        const forbidden = PRODUCT.filter(
            (other) => other !== folder && !allowed.includes(other)
        );
        if (forbidden.length === 0) return [];
        return [
            {
                target: `scripts/${folder}`,
                from: forbidden.map((other) => `scripts/${other}`),
                message: `scripts/${folder}/ may import only ${allowed.length ? allowed.map((a) => `scripts/${a}/`).join(', ') : 'its own files'}: move what both need down to a lower layer, or pass it in (see scripts/README.md).`
            }
        ];
    });
}
const layerZones = layerZonesFor(PRODUCT_LAYERS);
const toolZones = [
    {
        target: PRODUCT.map((folder) => `scripts/${folder}`),
        from: 'scripts/tools',
        message: REACH_TOOLS
    },
    {
        target: PRODUCT.map((folder) => `scripts/${folder}`),
        from: ['scripts/**/__tests__/**'],
        message:
            'Product code does not load test helpers: move what it needs out of __tests__/.'
    }
];
// Zones resolve against basePath: this folder, wherever eslint is started from.
const restrictedPaths = (zones) => ['error', { basePath: __dirname, zones }];
// import/no-restricted-paths also checks a literal require('…') it can resolve; these
// catch a require or an import type naming a tool however it is written.
const TOOL_PATH = String.raw`/(^|\/)tools\//`;
const toolRequireSyntax = [
    {
        selector: `CallExpression[callee.name='require'][arguments.0.value=${TOOL_PATH}]`,
        message: REACH_TOOLS
    },
    {
        selector: `CallExpression[callee.name='require'] > TemplateLiteral TemplateElement[value.raw=${TOOL_PATH}]`,
        message: REACH_TOOLS
    },
    {
        selector: `TSImportType[source.value=${TOOL_PATH}]`,
        message: REACH_TOOLS
    }
];

// The ledger's boundary: SQL on its tables lives in scripts/ledger/. Its connection is
// private (TypeScript refuses `ledger.db`); these catch the ways around that — the
// bracket form and ledger/'s own accessor — everywhere else, tests and tools included.
const LEDGER_CONNECTION =
    "The ledger's connection is for scripts/ledger/ only: add a Ledger method (batched for lists), or put a tool's query in scripts/ledger/inspect.ts.";
const LEDGER_NAME = String.raw`/ledger/i`;
const ledgerConnectionSyntax = ['db', 'engine'].flatMap((member) => [
    {
        selector: `MemberExpression[property.name='${member}'][object.name=${LEDGER_NAME}]`,
        message: LEDGER_CONNECTION
    },
    {
        selector: `MemberExpression[property.name='${member}'][object.property.name=${LEDGER_NAME}]`,
        message: LEDGER_CONNECTION
    },
    {
        selector: `MemberExpression[computed=true][property.value='${member}'][object.name=${LEDGER_NAME}]`,
        message: LEDGER_CONNECTION
    },
    {
        selector: `MemberExpression[computed=true][property.value='${member}'][object.property.name=${LEDGER_NAME}]`,
        message: LEDGER_CONNECTION
    }
]);
const ledgerConnectionImports = {
    patterns: [
        {
            group: ['**/ledger/ledger', '**/ledger'],
            importNames: ['connectionOf', 'engineOf'],
            message: LEDGER_CONNECTION
        }
    ]
};

module.exports = defineConfig([
    {
        ignores: [
            'node_modules/**',
            'dist/**',
            'coverage/**',
            '.optout/**',
            '.sfdx/**',
            '.sf/**',
            'preview/build/**',
            'bench/results/**'
        ]
    },

    // Lightning Web Components (as trailheadapps/lwc-recipes)
    {
        files: ['force-app/main/default/lwc/**/*.js'],
        extends: [salesforceLwcConfig]
    },
    // Lightning Web Security lint rules (Salesforce's @locker/eslint-config-locker, base
    // and recommended, published in .eslintrc form): what LWS blocks or distorts, as errors.
    // Except distorted-xml-http-request-window-open, which flags any `.open(` call by name
    // (LightningConfirm.open too); XMLHttpRequest and window are not used by the component.
    {
        files: ['force-app/main/default/lwc/**/*.js'],
        ignores: ['**/__tests__/**'],
        plugins: { '@locker/locker': require('@locker/eslint-plugin-locker') },
        rules: {
            ...Object.fromEntries(
                Object.keys({
                    ...require('@locker/eslint-config-locker/base').rules,
                    ...require('@locker/eslint-config-locker/recommended').rules
                }).map((rule) => [rule, 'error'])
            ),
            '@locker/locker/distorted-xml-http-request-window-open': 'off'
        }
    },
    {
        files: ['force-app/main/default/lwc/**/*.test.js'],
        extends: [salesforceLwcConfig],
        rules: {
            '@lwc/lwc/no-unexpected-wire-adapter-usages': 'off'
        },
        languageOptions: {
            globals: { ...globals.node }
        }
    },
    {
        files: ['force-app/test/jest-mocks/**/*.js'],
        languageOptions: {
            sourceType: 'module',
            ecmaVersion: 'latest',
            globals: {
                ...globals.node,
                ...globals.es2021,
                ...jestPlugin.environments.globals.globals,
                CustomEvent: 'readonly',
                window: 'readonly'
            }
        },
        plugins: { eslintJs },
        extends: ['eslintJs/recommended']
    },

    // Node-side TypeScript (scripts/)
    {
        files: ['scripts/**/*.ts'],
        extends: [
            eslintJs.configs.recommended,
            ...tseslint.configs.recommended
        ],
        languageOptions: {
            globals: { ...globals.node }
        },
        rules: {
            '@typescript-eslint/no-unused-vars': [
                'error',
                { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }
            ]
        }
    },
    // The ledger is asynchronous (both engines): a ledger call that is not awaited
    // would run after its caller moved on — or after the ledger was closed. These
    // rules need the types (the project service reads tsconfig.json).
    {
        files: ['scripts/**/*.ts'],
        languageOptions: {
            parserOptions: { projectService: true, tsconfigRootDir: __dirname }
        },
        rules: {
            '@typescript-eslint/no-floating-promises': 'error',
            '@typescript-eslint/no-misused-promises': 'error',
            '@typescript-eslint/return-await': ['error', 'in-try-catch']
        }
    },
    // The cut and the layers (see PRODUCT_LAYERS above), for product code. Tests are
    // exempt: they are never loaded by the product, they use the local org and the local
    // Mailchimp as fixtures, and a command's test may sit beside the engine it drives
    // (mailchimp/__tests__/cli.test.ts runs `optout mailchimp` through cli/__tests__).
    {
        files: PRODUCT.map((folder) => `scripts/${folder}/**/*.ts`),
        ignores: ['scripts/**/__tests__/**'],
        plugins: { import: importPlugin },
        settings: {
            'import/resolver': {
                node: { extensions: ['.ts', '.js', '.json'] }
            }
        },
        rules: {
            'import/no-restricted-paths': restrictedPaths([
                ...layerZones,
                ...toolZones
            ]),
            'no-restricted-syntax': ['error', ...toolRequireSyntax]
        }
    },
    // The ledger's boundary in product code outside ledger/ (see LEDGER_CONNECTION); the
    // reads only the tools make (ledger/inspect.ts) are not for the product.
    {
        files: PRODUCT.map((folder) => `scripts/${folder}/**/*.ts`),
        ignores: ['scripts/ledger/**', 'scripts/**/__tests__/**'],
        rules: {
            'no-restricted-syntax': [
                'error',
                ...toolRequireSyntax,
                ...ledgerConnectionSyntax
            ],
            'no-restricted-imports': [
                'error',
                {
                    patterns: [
                        ...ledgerConnectionImports.patterns,
                        {
                            group: ['**/ledger/inspect'],
                            message:
                                "ledger/inspect.ts holds the development tools' queries: the product adds a Ledger method."
                        }
                    ]
                }
            ]
        }
    },
    // The two lazy entry points: the layers apply, the tools are theirs to load.
    {
        files: TOOL_ENTRY_POINTS,
        rules: {
            'import/no-restricted-paths': restrictedPaths(layerZones),
            'no-restricted-syntax': ['error', ...ledgerConnectionSyntax]
        }
    },
    // The ledger's boundary holds for tests and tools too (product code: above).
    {
        files: ['scripts/**/__tests__/**/*.ts', 'scripts/tools/**/*.ts'],
        ignores: ['scripts/ledger/**'],
        rules: {
            'no-restricted-syntax': ['error', ...ledgerConnectionSyntax],
            'no-restricted-imports': ['error', ledgerConnectionImports]
        }
    },
    {
        files: ['scripts/**/__tests__/**/*.ts'],
        plugins: { jest: jestPlugin },
        languageOptions: {
            globals: { ...jestPlugin.environments.globals.globals }
        },
        rules: {
            ...jestPlugin.configs['flat/recommended'].rules,
            'jest/expect-expect': [
                'error',
                { assertFunctionNames: ['expect', 'assert*', 'expect*'] }
            ],
            // itSqlite: `it` on SQLite, skipped on PostgreSQL (ledger/__tests__/sqlite-only.ts)
            'jest/no-standalone-expect': [
                'error',
                { additionalTestBlockFunctions: ['itSqlite'] }
            ]
        }
    },

    // Plain Node JavaScript (configs, bin)
    {
        files: ['*.js', 'bin/**', 'scripts/**/*.js', 'scripts/**/*.mjs'],
        extends: [eslintJs.configs.recommended],
        languageOptions: {
            sourceType: 'commonjs',
            globals: { ...globals.node }
        }
    },

    // Browser modules of the component preview (scripts/tools/preview), bundled by rollup
    {
        files: ['scripts/tools/preview/client/**/*.js'],
        languageOptions: {
            sourceType: 'module',
            ecmaVersion: 'latest',
            globals: { ...globals.browser }
        }
    }
]);
