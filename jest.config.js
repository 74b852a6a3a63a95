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

module.exports = {
    projects: [lwc, scripts],
    collectCoverageFrom: [
        'force-app/main/default/lwc/**/*.js',
        '!**/__tests__/**'
    ],
    coverageThreshold: {
        './force-app/main/default/lwc/': { lines: 90 }
    },
    testTimeout: 60000
};
