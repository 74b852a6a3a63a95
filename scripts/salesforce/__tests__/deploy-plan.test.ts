import { parseTestOptions } from '../../cli/options';
import {
    apexTestClasses,
    checkRequestedTests,
    isProductionOrg,
    isWorkbenchRefusal,
    planTests,
    workbenchHint,
    type OrgKind
} from '../deploy-plan';

const PRODUCTION: OrgKind = {
    IsSandbox: false,
    OrganizationType: 'Enterprise Edition',
    TrialExpirationDate: null
};
const PACKAGE_TESTS = ['UnsubscribeFromAudienceActionTest'];
const NONE = { testLevel: null, runTests: [] };

describe('isProductionOrg', () => {
    it.each<[string, OrgKind, boolean]>([
        ['production', PRODUCTION, true],
        [
            'Unlimited Edition production',
            { ...PRODUCTION, OrganizationType: 'Unlimited Edition' },
            true
        ],
        ['sandbox', { ...PRODUCTION, IsSandbox: true }, false],
        [
            'scratch org or trial',
            {
                ...PRODUCTION,
                TrialExpirationDate: '2026-12-12T00:00:00.000+0000'
            },
            false
        ],
        [
            'Developer Edition',
            { ...PRODUCTION, OrganizationType: 'Developer Edition' },
            false
        ]
    ])('%s', (_name, org, expected) => {
        expect(isProductionOrg(org)).toBe(expected);
    });
});

describe('planTests', () => {
    it("runs only the package's own tests on production by default", () => {
        expect(planTests(NONE, PRODUCTION, PACKAGE_TESTS)).toMatchObject({
            testLevel: 'RunSpecifiedTests',
            runTests: PACKAGE_TESTS
        });
    });

    it("leaves other orgs, and an unreadable Organization, to the org's default", () => {
        expect(
            planTests(NONE, { ...PRODUCTION, IsSandbox: true }, PACKAGE_TESTS)
        ).toMatchObject({ testLevel: null, runTests: [] });
        expect(planTests(NONE, null, PACKAGE_TESTS)).toMatchObject({
            testLevel: null,
            reason: expect.stringMatching(/could not be read/)
        });
    });

    it('keeps an explicit level, and fills RunSpecifiedTests with the package tests', () => {
        expect(
            planTests(
                { testLevel: 'RunLocalTests', runTests: [] },
                PRODUCTION,
                PACKAGE_TESTS
            )
        ).toMatchObject({ testLevel: 'RunLocalTests', runTests: [] });
        expect(
            planTests(
                { testLevel: 'RunSpecifiedTests', runTests: [] },
                null,
                PACKAGE_TESTS
            )
        ).toMatchObject({ runTests: PACKAGE_TESTS });
        expect(() =>
            planTests(
                { testLevel: 'RunSpecifiedTests', runTests: [] },
                null,
                []
            )
        ).toThrow(/needs --tests/);
    });
});

describe('parseTestOptions', () => {
    it('accepts the four levels in any case, and --tests alone as RunSpecifiedTests', () => {
        expect(parseTestOptions('runlocaltests', undefined)).toEqual({
            testLevel: 'RunLocalTests',
            runTests: []
        });
        expect(parseTestOptions(undefined, 'A, ns.B')).toEqual({
            testLevel: 'RunSpecifiedTests',
            runTests: ['A', 'ns.B']
        });
        expect(parseTestOptions(undefined, undefined)).toEqual(NONE);
    });

    it('refuses an unknown level (exit 2)', () => {
        expect(() => parseTestOptions('RunRelevantTests', undefined)).toThrow(
            expect.objectContaining({ exitCode: 2 })
        );
    });
});

describe('checkRequestedTests (the engine checks typed options too)', () => {
    it('accepts classes with RunSpecifiedTests, and no classes with any level', () => {
        expect(() =>
            checkRequestedTests({
                testLevel: 'RunSpecifiedTests',
                runTests: ['A', 'ns.B']
            })
        ).not.toThrow();
        expect(() =>
            checkRequestedTests({ testLevel: 'NoTestRun', runTests: [] })
        ).not.toThrow();
    });

    it.each([
        [
            { testLevel: 'RunLocalTests' as const, runTests: ['A'] },
            /--tests goes with --test-level RunSpecifiedTests, not RunLocalTests/
        ],
        [
            { testLevel: null, runTests: ['A'] },
            /--tests goes with --test-level RunSpecifiedTests/
        ],
        [
            { testLevel: 'RunSpecifiedTests' as const, runTests: ['A;DELETE'] },
            /is not an Apex class name/
        ]
    ])('refuses %j (exit 2)', (requested, message) => {
        expect(() => checkRequestedTests(requested)).toThrow(message);
        expect(() => checkRequestedTests(requested)).toThrow(
            expect.objectContaining({ exitCode: 2 })
        );
    });
});

describe('apexTestClasses', () => {
    it('finds classes annotated @IsTest, not classes that only mention it', () => {
        expect(
            apexTestClasses([
                {
                    name: 'ATest',
                    source: '/** docs */\n@isTest(SeeAllData=false)\nprivate class ATest {}'
                },
                {
                    name: 'Action',
                    source: "// @IsTest below\npublic with sharing class Action { String s = '@IsTest'; @IsTest static void x() {} }"
                }
            ])
        ).toEqual(['ATest']);
    });
});

describe('isWorkbenchRefusal', () => {
    it('is the org refusing translations as such, not any other failure', () => {
        const refused = {
            type: 'CustomObjectTranslation',
            problem: 'Not available for deploy for this organization'
        };
        expect(isWorkbenchRefusal([refused])).toBe(true);
        expect(
            isWorkbenchRefusal([
                refused,
                { type: 'CustomField', problem: 'Not available for deploy' }
            ])
        ).toBe(false);
        expect(
            isWorkbenchRefusal([
                {
                    type: 'CustomObjectTranslation',
                    problem: 'Entity cannot be found: Foo__c'
                }
            ])
        ).toBe(false);
        expect(isWorkbenchRefusal([])).toBe(false);
    });
});

describe('workbenchHint', () => {
    it('tells a real org what to enable in Setup and the command that adds the translations later', () => {
        expect(workbenchHint('my-org')).toBe(
            'Translations not deployed: my-org has no Translation Workbench. Enable it (Setup → Translation Workbench → Translation Settings → Enable), add the languages fr, ja, zh_CN, then run: optout deploy --target-org my-org --translations-only'
        );
    });

    it('tells the local org user the option that turns it on', () => {
        expect(workbenchHint('local')).toMatch(
            /optout local-org start --translation-workbench on, then run: optout deploy --target-org local --translations-only$/
        );
    });
});
