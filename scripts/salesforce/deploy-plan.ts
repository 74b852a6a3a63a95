/**
 * The decisions of a package deploy (salesforce/deploy.ts), as pure functions: which Apex
 * tests it runs (asked for, or the default per kind of org), which classes are the
 * package's own tests, and whether a failed translations deploy means "this org has no
 * Translation Workbench" (say what to enable) or a real problem (show it).
 */
import { OptoutError } from '../model/errors';

/** The Metadata API's deploy test levels (DeployOptions.testLevel). */
export const TEST_LEVELS = [
    'NoTestRun',
    'RunSpecifiedTests',
    'RunLocalTests',
    'RunAllTestsInOrg'
] as const;
export type TestLevel = (typeof TEST_LEVELS)[number];

/** The Organization fields that tell a production org from the others. */
export interface OrgKind {
    IsSandbox: boolean | null;
    OrganizationType: string | null;
    TrialExpirationDate: string | null;
}

export interface TestPlan {
    /** Omitted (null): the org's default: no tests outside production. */
    testLevel: TestLevel | null;
    runTests: string[];
    /** Why, for the report. */
    reason: string;
}

/**
 * Whether deploys to this org run Apex tests by default. Salesforce: "By default, no
 * tests are run in a deployment to a non-production organization, such as a sandbox or
 * a Developer Edition organization"; in production all local tests run when the deploy
 * contains Apex (https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_deploy_running_tests.htm).
 * Sandboxes say IsSandbox; scratch orgs and trials carry a TrialExpirationDate.
 */
export function isProductionOrg(org: OrgKind): boolean {
    if (org.IsSandbox === true) return false;
    if (org.TrialExpirationDate) return false;
    return org.OrganizationType !== 'Developer Edition';
}

/** The tests a deploy asks for, before the plan fills in the defaults. */
export interface RequestedTests {
    /** null: no level asked for (the plan decides). */
    testLevel: TestLevel | null;
    /** Apex test classes, with RunSpecifiedTests only. */
    runTests: string[];
}

export const NO_REQUESTED_TESTS: RequestedTests = {
    testLevel: null,
    runTests: []
};

/** The test level of this name, in any case; undefined when there is none. */
export function testLevelNamed(name: string): TestLevel | undefined {
    return TEST_LEVELS.find(
        (l) => l.toLowerCase() === name.trim().toLowerCase()
    );
}

/** An Apex class name as a deploy's runTests takes it: `Class` or `namespace.Class`. */
export function isApexClassName(name: string): boolean {
    return /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$/.test(name);
}

/**
 * Checks requested tests before anything is sent: class names that are names, and
 * classes only with RunSpecifiedTests (the Metadata API ignores them otherwise).
 */
export function checkRequestedTests(requested: RequestedTests): void {
    for (const name of requested.runTests)
        if (!isApexClassName(name))
            throw testOptionsError(
                `--tests: '${name}' is not an Apex class name (namespace.Class or Class).`
            );
    if (
        requested.runTests.length &&
        requested.testLevel !== 'RunSpecifiedTests'
    )
        throw testOptionsError(
            `--tests goes with --test-level RunSpecifiedTests, not ${requested.testLevel ?? 'the org default'}.`
        );
}

/** A usage error (exit 2) about the tests asked for, with the accepted form. */
export function testOptionsError(message: string): OptoutError {
    return new OptoutError('BAD_ARGUMENT', message, {
        actions: [
            `Run optout deploy --test-level ${TEST_LEVELS.join('|')} [--tests Class1,Class2]`
        ],
        exitCode: 2
    });
}

/**
 * The tests the core deploy runs. An explicit level wins (RunSpecifiedTests without
 * --tests means the package's own test classes). Without one: on a production org, the
 * package's own test classes, so a customer's unrelated failing tests don't block the
 * install (the default there would run every local test); elsewhere the org's default
 * (no tests). `org` is null when the Organization could not be read.
 */
export function planTests(
    requested: RequestedTests,
    org: OrgKind | null,
    packageTests: string[]
): TestPlan {
    if (requested.testLevel === 'RunSpecifiedTests') {
        const runTests = requested.runTests.length
            ? requested.runTests
            : packageTests;
        if (!runTests.length)
            throw testOptionsError(
                '--test-level RunSpecifiedTests needs --tests: the package has no Apex test class.'
            );
        return {
            testLevel: 'RunSpecifiedTests',
            runTests,
            reason: requested.runTests.length
                ? 'as asked (--tests)'
                : "as asked, with the package's own test classes"
        };
    }
    if (requested.testLevel)
        return {
            testLevel: requested.testLevel,
            runTests: [],
            reason: 'as asked (--test-level)'
        };
    if (org === null)
        return {
            testLevel: null,
            runTests: [],
            reason: "the Organization record could not be read: on production the default runs every local test; pass --test-level RunSpecifiedTests to run only the package's"
        };
    if (isProductionOrg(org) && packageTests.length)
        return {
            testLevel: 'RunSpecifiedTests',
            runTests: packageTests,
            reason: "production org: only the package's own test classes run, so unrelated failing tests in the org don't block the install"
        };
    return {
        testLevel: null,
        runTests: [],
        reason: isProductionOrg(org)
            ? 'production org: every local test runs if the deploy has Apex'
            : 'a sandbox, scratch, trial or Developer Edition org runs no tests by default'
    };
}

/**
 * The names of the Apex test classes in a set of class sources: a class annotated
 * `@IsTest` at the top (comments and strings aside). Product code cannot load the
 * Apex parser (a development dependency), and the annotation is all that is needed.
 */
export function apexTestClasses(
    classes: { name: string; source: string }[]
): string[] {
    const names: string[] = [];
    for (const { name, source } of classes) {
        const code = source
            .replace(/\/\*[\s\S]*?\*\//g, ' ')
            .replace(/\/\/[^\n]*/g, ' ')
            .replace(/'(?:\\.|[^'\\])*'/g, "''");
        const head = /^[\s\S]*?\bclass\s+\w+/i.exec(code)?.[0] ?? '';
        if (/@isTest\b/i.test(head)) names.push(name);
    }
    return names.sort();
}

/** A component failure as the deploy reports it. */
export interface FailureLike {
    type: string;
    problem: string;
}

/** Metadata types an org refuses unless Translation Workbench is enabled. */
export const WORKBENCH_TYPES: readonly string[] = [
    'Translations',
    'CustomObjectTranslation'
];

/**
 * Whether a failed translations deploy is the org refusing translations as such (no
 * Translation Workbench, or the language not added): "Not available for deploy for this
 * organization" on the Translations and CustomObjectTranslation components
 * (https://github.com/SalesforceFoundation/NPSP/issues/2281,
 * https://github.com/SalesforceFoundation/NPSP/pull/5681). Any other failure (a field
 * the translation names that does not exist…) is a real problem and is shown.
 */
export function isWorkbenchRefusal(failures: FailureLike[]): boolean {
    return (
        failures.length > 0 &&
        failures.every(
            (f) =>
                WORKBENCH_TYPES.includes(f.type) &&
                /not available for deploy|translation workbench|language/i.test(
                    f.problem
                )
        )
    );
}

/** The languages the translations folder ships. */
export const TRANSLATION_LANGUAGES = ['fr', 'ja', 'zh_CN'] as const;

/** One line: what to enable, and the command that adds the translations later. */
export function workbenchHint(targetOrg: string): string {
    if (targetOrg === 'local')
        return 'Translations not deployed: the local org has Translation Workbench off, as a new org does. Restart it with optout local-org start --translation-workbench on, then run: optout deploy --target-org local --translations-only';
    return `Translations not deployed: ${targetOrg} has no Translation Workbench. Enable it (Setup → Translation Workbench → Translation Settings → Enable), add the languages ${TRANSLATION_LANGUAGES.join(', ')}, then run: optout deploy --target-org ${targetOrg} --translations-only`;
}
