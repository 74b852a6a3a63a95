'use strict';

const { jestConfig } = require('@salesforce/sfdx-lwc-jest/config');

// Two projects: the Lightning Web Components (sfdx-lwc-jest preset, jsdom) and the
// TypeScript under scripts/ (node).
const lwc = {
    ...jestConfig,
    displayName: 'lwc',
    roots: ['<rootDir>/force-app'],
    // Per project: Jest instruments a project's files from its own list, not the root's
    collectCoverageFrom: [
        'force-app/main/default/lwc/**/*.js',
        '!**/__tests__/**'
    ],
    setupFilesAfterEnv: [
        ...(jestConfig.setupFilesAfterEnv || []),
        '<rootDir>/jest-sa11y-setup.js'
    ],
    moduleNameMapper: {
        '^lightning/platformShowToastEvent$':
            '<rootDir>/force-app/test/jest-mocks/lightning/platformShowToastEvent',
        '^lightning/uiRecordApi$':
            '<rootDir>/force-app/test/jest-mocks/lightning/uiRecordApi',
        '^lightning/uiRelatedListApi$':
            '<rootDir>/force-app/test/jest-mocks/lightning/uiRelatedListApi',
        '^lightning/refresh$':
            '<rootDir>/force-app/test/jest-mocks/lightning/refresh',
        '^lightning/confirm$':
            '<rootDir>/force-app/test/jest-mocks/lightning/confirm',
        '^@salesforce/apex$': '<rootDir>/force-app/test/jest-mocks/apex'
    }
};

const scripts = {
    displayName: 'scripts',
    rootDir: __dirname,
    roots: ['<rootDir>/scripts'],
    testEnvironment: 'node',
    globalSetup: '<rootDir>/jest.global-setup.js',
    testMatch: ['**/__tests__/**/*.test.ts'],
    transform: {
        '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }]
    },
    moduleFileExtensions: ['ts', 'js', 'json', 'node']
};

// The same suites on the other engine: the ledger's contract tests and the sync,
// webhook and scheduler suites with every ledger they open in-process on the tests'
// PostgreSQL server (scripts/ledger/__tests__/postgres-redirect.ts). Included when a
// server is named (OPTOUT_TEST_PG_URL) or required (OPTOUT_REQUIRE_PG=1, CI: the
// setup then fails every test, never skips); `npm run test:jest` starts one itself
// when this machine has PostgreSQL (.ci/with-postgres.sh).
const postgres = {
    ...scripts,
    displayName: 'postgres',
    testMatch: [
        '<rootDir>/scripts/ledger/__tests__/**/*.test.ts',
        '<rootDir>/scripts/sync/__tests__/**/*.test.ts',
        '<rootDir>/scripts/webhook/__tests__/**/*.test.ts',
        '<rootDir>/scripts/scheduler/__tests__/**/*.test.ts'
    ],
    // Suites about PostgreSQL itself already run on it in the `scripts` project.
    testPathIgnorePatterns: [
        '/node_modules/',
        'postgres-(engine|available)\\.test\\.ts$'
    ],
    setupFilesAfterEnv: [
        '<rootDir>/scripts/ledger/__tests__/postgres-redirect.ts'
    ]
};
const withPostgres =
    (process.env.OPTOUT_TEST_PG_URL ?? '').trim() !== '' ||
    process.env.OPTOUT_REQUIRE_PG === '1';

module.exports = {
    projects: withPostgres ? [lwc, scripts, postgres] : [lwc, scripts],
    collectCoverageFrom: [
        'force-app/main/default/lwc/**/*.js',
        '!**/__tests__/**'
    ],
    coverageThreshold: {
        './force-app/main/default/lwc/': { lines: 90 }
    },
    testTimeout: 60000
};
