'use strict';

const { defineConfig } = require('eslint/config');
const eslintJs = require('@eslint/js');
const jestPlugin = require('eslint-plugin-jest');
const salesforceLwcConfig = require('@salesforce/eslint-config-lwc/recommended');
const tseslint = require('typescript-eslint');
const globals = require('globals');

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
