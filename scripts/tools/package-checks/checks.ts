/**
 * The package checks `npm run check:package` runs, offline, in order: conversion with
 * source-deploy-retrieve, Apex syntax and formatting (and no query by profile name), PMD,
 * and the consistency check.
 */
import * as path from 'node:path';
import { CheckResult, Problem } from './problems';
import { convertPackageDir } from './convert';
import { parseApex, profileNameFilters } from './apex';
import { listUnformatted } from './format';
import { checkConsistency } from './consistency';
import { loadPackage } from './model';
import { runPmd } from './pmd';
// The types an org refuses without Translation Workbench; `optout deploy` sends them
// separately, from force-app-translations.
import { WORKBENCH_TYPES } from '../../salesforce/deploy-plan';

export interface CheckOptions {
    projectRoot: string;
    /** The package (deployed by default). */
    packageDir: string;
    /**
     * Directories deployed on their own after the package: the lead-convert mapping (by
     * the admin, deliberately) and the translations (by `optout deploy`, when the org has
     * Translation Workbench).
     */
    extraDirs: string[];
    /** Skip PMD (needs Java); the summary says it was skipped. */
    skipPmd?: boolean;
    /** Prettier configuration for the Apex format check; default: found from each file. */
    prettierConfig?: string;
}

export const DEFAULT_OPTIONS: Omit<CheckOptions, 'projectRoot'> = {
    packageDir: 'force-app',
    extraDirs: ['force-app-lead-convert', 'force-app-translations']
};

async function timed(
    name: string,
    run: () => Promise<{ summary: string; problems: Problem[] }>
): Promise<CheckResult> {
    const started = Date.now();
    try {
        const { summary, problems } = await run();
        return { name, summary, problems, durationMs: Date.now() - started };
    } catch (err) {
        return {
            name,
            summary: 'could not run',
            problems: [
                {
                    rule: 'check-failed',
                    message: err instanceof Error ? err.message : String(err)
                }
            ],
            durationMs: Date.now() - started
        };
    }
}

function translationsInPackage(
    dir: string,
    types: Map<string, number>
): Problem[] {
    return WORKBENCH_TYPES.filter((type) => types.has(type)).map((type) => ({
        file: dir,
        rule: 'translations-in-package',
        message: `${types.get(type)} ${type} component(s) in ${dir}: an org without Translation Workbench refuses the whole deploy. Move them to force-app-translations/main/default (optout deploy sends that folder after the package)`
    }));
}

export async function conversionCheck(
    options: CheckOptions
): Promise<CheckResult> {
    return timed(
        'Convert to Metadata API format (source-deploy-retrieve)',
        async () => {
            const problems: Problem[] = [];
            const parts: string[] = [];
            for (const dir of [options.packageDir, ...options.extraDirs]) {
                const result = await convertPackageDir(
                    path.resolve(options.projectRoot, dir),
                    options.projectRoot
                );
                problems.push(...result.problems);
                if (dir === options.packageDir)
                    problems.push(...translationsInPackage(dir, result.types));
                parts.push(
                    `${dir}: ${result.components} components in ${result.types.size} types`
                );
            }
            return { summary: parts.join('; '), problems };
        }
    );
}

export async function apexSourceCheck(
    options: CheckOptions
): Promise<CheckResult> {
    return timed(
        'Apex syntax and formatting (apex-parser, prettier-plugin-apex)',
        async () => {
            const model = loadPackage(options.projectRoot, [
                options.packageDir
            ]);
            const problems: Problem[] = [];
            const parsable: string[] = [];
            for (const apex of model.apex) {
                const parsed = parseApex(apex.source, apex.kind);
                for (const error of parsed.errors) {
                    problems.push({
                        file: apex.file,
                        line: error.line,
                        column: error.column,
                        rule: 'apex-syntax',
                        message: error.message
                    });
                }
                if (parsed.errors.length === 0)
                    parsable.push(path.resolve(options.projectRoot, apex.file));
                for (const filter of profileNameFilters(apex.source)) {
                    problems.push({
                        file: apex.file,
                        line: filter.line,
                        column: filter.column,
                        rule: 'apex-profile-name',
                        message: `SOQL filters on ${filter.field}: standard profile names are translated for users whose language is not English, so this finds nothing there. Find the profile by what it grants (e.g. PermissionSet WHERE IsOwnedByProfile = TRUE AND Profile.UserLicense.LicenseDefinitionKey = 'SFDC' AND PermissionsModifyAllData = FALSE) or use UserInfo.getProfileId()`
                    });
                }
            }
            const format = await listUnformatted(
                parsable,
                options.projectRoot,
                options.prettierConfig
            );
            for (const file of format.unformatted) {
                problems.push({
                    file: path.relative(options.projectRoot, file),
                    rule: 'prettier',
                    message: 'not formatted: run npx prettier --write on it'
                });
            }
            if (format.errors)
                problems.push({ rule: 'prettier', message: format.errors });
            return { summary: `${model.apex.length} Apex files`, problems };
        }
    );
}

export async function pmdCheck(options: CheckOptions): Promise<CheckResult> {
    if (options.skipPmd) {
        return {
            name: 'PMD Security and BestPractices',
            summary: 'skipped (--skip-pmd)',
            problems: [],
            durationMs: 0
        };
    }
    return timed('PMD Security and BestPractices (Code Analyzer)', async () => {
        const root = path.resolve(options.projectRoot, options.packageDir);
        const result = await runPmd([root], options.projectRoot);
        return {
            summary: `${result.rules} rules on ${result.files} Apex files`,
            problems: result.problems
        };
    });
}

export async function consistencyCheck(
    options: CheckOptions
): Promise<CheckResult> {
    return timed(
        'Consistency of references, grants and translations',
        async () => {
            const model = loadPackage(options.projectRoot, [
                options.packageDir,
                ...options.extraDirs
            ]);
            const fields = [...model.objects.values()].reduce(
                (n, o) => n + o.fields.size,
                0
            );
            const summary = `${model.objects.size} objects, ${fields} custom fields, ${model.labels.size} labels, ${model.lwc.size} components, ${model.apex.length} Apex files`;
            return { summary, problems: checkConsistency(model) };
        }
    );
}

/** Runs every check; the checks are independent, so one failing does not hide the others. */
export async function runAllChecks(
    options: CheckOptions
): Promise<CheckResult[]> {
    return [
        await conversionCheck(options),
        await apexSourceCheck(options),
        await pmdCheck(options),
        await consistencyCheck(options)
    ];
}
