/**
 * What a package deploy reports (salesforce/deploy.ts), and the pure steps that build
 * the report from what the org answered: component by component, the translations'
 * outcome, and the overall status. Nothing here talks to an org or loads a library
 * (the source-deploy-retrieve types below are erased at compile time).
 */
import type {
    FileResponse,
    MetadataApiDeployStatus
} from '@salesforce/source-deploy-retrieve';
import {
    isWorkbenchRefusal,
    workbenchHint,
    type TestPlan
} from './deploy-plan';

export const INTEGRATION_PERMISSION_SET = 'Opt_Out_Sync_Integration';
/**
 * Optional: Modify All on Contact and Lead, for orgs where the sync must update records
 * it cannot otherwise edit (a Contact without an Account is private to its owner, and
 * sharing rules don't apply to it). Assigned only when asked (`--modify-all`).
 */
export const MODIFY_ALL_PERMISSION_SET = 'Opt_Out_Sync_Integration_Modify_All';
export const PACKAGE_DIR = 'force-app';
export const TRANSLATIONS_DIR = 'force-app-translations';

export interface ComponentFailure {
    type: string;
    fullName: string;
    filePath: string | null;
    line: number | null;
    column: number | null;
    problem: string;
}

export interface PermissionSetReport {
    name: string;
    supported: boolean;
    assigned: boolean;
    alreadyAssigned?: boolean;
    message: string;
}

export interface TranslationsReport {
    sourceDir: string;
    /**
     * deployed/validated; refused: the org has no Translation Workbench (or lacks the
     * languages), the package still counts as installed; failed: another problem;
     * skipped: not asked for, or the package deploy failed; absent: no such folder.
     */
    status:
        'deployed' | 'validated' | 'refused' | 'failed' | 'skipped' | 'absent';
    deployId: string | null;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    failures: ComponentFailure[];
    message: string;
}

export interface DeployReport {
    status: 'succeeded' | 'failed' | 'partial';
    targetOrg: string;
    /** The folder of the first deploy: the package, or the translations when only they were deployed. */
    sourceDir: string;
    deployId: string | null;
    checkOnly: boolean;
    rest: boolean;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    components: Record<string, number>;
    failures: ComponentFailure[];
    /** The Apex tests the package deploy asked for (null: the org's default). */
    testLevel: string | null;
    runTests: string[];
    testLevelReason: string;
    translations: TranslationsReport | null;
    permissionSet: PermissionSetReport | null;
    /** Opt_Out_Sync_Integration_Modify_All: assigned when asked, else null. */
    modifyAllPermissionSet: PermissionSetReport | null;
    apiRequests: number;
    durationMs: number;
}

/** The outcome of one Metadata deploy, component by component. */
export interface PhaseOutcome {
    ok: boolean;
    deployId: string | null;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    /** Count per state: Created, Changed, Unchanged, Failed… */
    components: Record<string, number>;
    failures: ComponentFailure[];
}

function asArray<T>(v: T | T[] | undefined | null): T[] {
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v : [v];
}

/** Failures and counts from SDR's file responses (empty for a zip sent by hand). */
function fromFileResponses(fileResponses: readonly FileResponse[]): {
    counts: Record<string, number>;
    failures: ComponentFailure[];
} {
    const counts: Record<string, number> = {};
    const failures: ComponentFailure[] = [];
    for (const f of fileResponses) {
        counts[f.state] = (counts[f.state] ?? 0) + 1;
        if (f.state === 'Failed')
            failures.push({
                type: f.type,
                fullName: f.fullName,
                filePath: f.filePath ?? null,
                line: f.lineNumber ?? null,
                column: f.columnNumber ?? null,
                problem: f.error
            });
    }
    return { counts, failures };
}

/**
 * Accounts for every component of one deploy: SDR's file responses, then the failures
 * the org reported that no file response carries (named with their source file from
 * `where`, `Type:FullName` → path), and, when there were no file responses (the zip
 * sent by hand), the successes the org listed.
 */
export function phaseOutcome(
    response: MetadataApiDeployStatus,
    fileResponses: readonly FileResponse[],
    where: ReadonlyMap<string, string>
): PhaseOutcome {
    const { counts, failures } = fromFileResponses(fileResponses);
    for (const c of asArray(response.details?.componentFailures)) {
        if (
            failures.some(
                (f) => f.fullName === c.fullName && f.type === c.componentType
            )
        )
            continue;
        failures.push({
            type: c.componentType ?? '',
            fullName: c.fullName,
            filePath:
                where.get(`${c.componentType}:${c.fullName}`) ??
                c.fileName ??
                null,
            line: c.lineNumber ? Number(c.lineNumber) : null,
            column: c.columnNumber ? Number(c.columnNumber) : null,
            problem: c.problem ?? ''
        });
    }
    if (fileResponses.length === 0)
        for (const c of asArray(response.details?.componentSuccesses)) {
            if (c.fullName === 'package.xml') continue;
            const state =
                String(c.created) === 'true'
                    ? 'Created'
                    : String(c.changed) === 'true'
                      ? 'Changed'
                      : 'Unchanged';
            counts[state] = (counts[state] ?? 0) + 1;
        }
    return {
        ok: response.success === true || String(response.success) === 'true',
        deployId: response.id ?? null,
        numberComponentsDeployed: Number(
            response.numberComponentsDeployed ?? 0
        ),
        numberComponentsTotal: Number(response.numberComponentsTotal ?? 0),
        components: counts,
        failures
    };
}

/** The report of the first deploy, before the translations and the permission sets. */
export function firstReport(
    first: PhaseOutcome,
    facts: {
        targetOrg: string;
        sourceDir: string;
        checkOnly: boolean;
        rest: boolean;
        plan: TestPlan;
    }
): DeployReport {
    return {
        status: first.ok ? 'succeeded' : 'failed',
        targetOrg: facts.targetOrg,
        sourceDir: facts.sourceDir,
        deployId: first.deployId,
        checkOnly: facts.checkOnly,
        rest: facts.rest,
        numberComponentsDeployed: first.numberComponentsDeployed,
        numberComponentsTotal: first.numberComponentsTotal,
        components: first.components,
        failures: first.failures,
        testLevel: facts.plan.testLevel,
        runTests: facts.plan.runTests,
        testLevelReason: facts.plan.reason,
        translations: null,
        permissionSet: null,
        modifyAllPermissionSet: null,
        apiRequests: 0,
        durationMs: 0
    };
}

/** Where the translations stand before (or instead of) their own deploy. */
interface TranslationsFacts {
    sourceDir: string;
    targetOrg: string;
}

const notDeployed = (sourceDir: string) => ({
    sourceDir,
    deployId: null,
    numberComponentsDeployed: 0,
    numberComponentsTotal: 0,
    failures: [] as ComponentFailure[]
});

/**
 * When only the translations were deployed: a refusal for want of Translation
 * Workbench says what to enable; anything else is in the report itself (null).
 */
export function translationsOnlyOutcome(
    first: PhaseOutcome,
    facts: TranslationsFacts
): TranslationsReport | null {
    if (first.ok || !isWorkbenchRefusal(first.failures)) return null;
    return {
        sourceDir: facts.sourceDir,
        status: 'refused',
        deployId: first.deployId,
        numberComponentsDeployed: 0,
        numberComponentsTotal: first.numberComponentsTotal,
        failures: first.failures,
        message: workbenchHint(facts.targetOrg)
    };
}

/** The translations were not attempted: not asked for, or the package failed. */
export function skippedTranslations(
    packageOk: boolean,
    facts: TranslationsFacts
): TranslationsReport {
    return {
        ...notDeployed(facts.sourceDir),
        status: 'skipped',
        message: packageOk
            ? `Translations skipped (--no-translations). Add them later with: optout deploy --target-org ${facts.targetOrg} --translations-only`
            : 'Translations not attempted: the package deploy failed.'
    };
}

/** There is no translations folder: only the package was deployed. */
export function absentTranslations(
    facts: TranslationsFacts
): TranslationsReport {
    return {
        ...notDeployed(facts.sourceDir),
        status: 'absent',
        message: `No translations folder ${facts.sourceDir}: only the package was deployed.`
    };
}

/** The translations deploy threw after the package went in. */
export function erroredTranslations(
    error: string,
    facts: TranslationsFacts
): TranslationsReport {
    // The package is in: an error now must not read as "nothing deployed".
    return {
        ...notDeployed(facts.sourceDir),
        status: 'failed',
        message: `Deploy of the translations (${facts.sourceDir}) to ${facts.targetOrg} failed: ${error}; the package itself is deployed. Retry with: optout deploy --target-org ${facts.targetOrg} --translations-only`
    };
}

/** The translations' own deploy, after the package: a refusal is not a failure. */
export function translationsOutcome(
    phase: PhaseOutcome,
    checkOnly: boolean,
    facts: TranslationsFacts
): TranslationsReport {
    const done = {
        sourceDir: facts.sourceDir,
        deployId: phase.deployId,
        numberComponentsDeployed: phase.numberComponentsDeployed,
        numberComponentsTotal: phase.numberComponentsTotal,
        failures: phase.failures
    };
    if (phase.ok)
        return {
            ...done,
            status: checkOnly ? 'validated' : 'deployed',
            message: `${checkOnly ? 'Validated' : 'Deployed'} the translations (${facts.sourceDir}): ${phase.numberComponentsDeployed} of ${phase.numberComponentsTotal} components.`
        };
    if (isWorkbenchRefusal(phase.failures))
        return {
            ...done,
            status: 'refused',
            message: workbenchHint(facts.targetOrg)
        };
    return {
        ...done,
        status: 'failed',
        message: `Deploy of the translations (${facts.sourceDir}) to ${facts.targetOrg} failed: ${phase.failures.length} component problem(s); the package itself is deployed.`
    };
}

/**
 * The overall status: the first deploy decides failed; after a package that went in, a
 * translations deploy that failed (not refused) or a permission set the org could
 * have assigned but did not makes it partial.
 */
export function overallStatus(
    report: Pick<
        DeployReport,
        'status' | 'translations' | 'permissionSet' | 'modifyAllPermissionSet'
    >,
    translationsOnly: boolean
): DeployReport['status'] {
    if (report.status === 'failed') return 'failed';
    if (!translationsOnly && report.translations?.status === 'failed')
        return 'partial';
    for (const set of [report.permissionSet, report.modifyAllPermissionSet])
        if (set?.supported && !set.assigned) return 'partial';
    return report.status;
}
