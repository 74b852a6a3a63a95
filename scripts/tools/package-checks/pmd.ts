/**
 * PMD on the package's Apex through Salesforce Code Analyzer (core + PMD engine, Java 17),
 * with the rules tagged Security and BestPractices.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
    CodeAnalyzer,
    CodeAnalyzerConfig,
    EventType,
    LogLevel
} from '@salesforce/code-analyzer-core';
import type { LogEvent } from '@salesforce/code-analyzer-core';
import { createEnginePlugin } from '@salesforce/code-analyzer-pmd-engine';
import { Problem } from './problems';
import { listFiles } from './model';

export const PMD_SELECTORS = ['pmd:Security', 'pmd:BestPractices'];

export interface PmdResult {
    problems: Problem[];
    rules: number;
    files: number;
}

/** Runs the selected PMD rules on the given Apex folders or files (absolute paths). */
export async function runPmd(
    targets: string[],
    projectRoot: string
): Promise<PmdResult> {
    const existing = targets.filter((target) => fs.existsSync(target));
    if (existing.length === 0) return { problems: [], rules: 0, files: 0 };
    const workFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-pmd-'));
    const errors: string[] = [];
    try {
        const config = CodeAnalyzerConfig.fromObject(
            {
                log_folder: workFolder,
                root_working_folder: workFolder,
                engines: { cpd: { disable_engine: true } }
            },
            projectRoot
        );
        const analyzer = new CodeAnalyzer(config);
        analyzer.onEvent(EventType.LogEvent, (event: LogEvent) => {
            if (event.logLevel === LogLevel.Error) errors.push(event.message);
        });
        await analyzer.addEnginePlugin(createEnginePlugin());
        // The whole package is the workspace; only the Apex is targeted.
        const apexFiles = existing.flatMap((target) =>
            fs.statSync(target).isDirectory()
                ? listFiles(target).filter((file) =>
                      /\.(cls|trigger)$/.test(file)
                  )
                : [target]
        );
        if (apexFiles.length === 0) return { problems: [], rules: 0, files: 0 };
        const workspace = await analyzer.createWorkspace(existing, apexFiles);
        const selection = await analyzer.selectRules(PMD_SELECTORS, {
            workspace
        });
        const results = await analyzer.run(selection, { workspace });
        const problems: Problem[] = results.getViolations().map((violation) => {
            const where = violation.getPrimaryLocation();
            const file = where.getFile();
            return {
                file: file ? path.relative(projectRoot, file) : undefined,
                line: where.getStartLine(),
                column: where.getStartColumn(),
                rule: violation.getRule().getName(),
                message: violation.getMessage()
            };
        });
        for (const message of errors)
            problems.push({ rule: 'pmd-error', message });
        // An engine that cannot start (no Java) comes back as a violation above; an empty
        // rule selection would pass silently, so it is a problem too.
        if (selection.getCount() === 0) {
            problems.push({
                rule: 'pmd-error',
                message: `no PMD rule matched ${PMD_SELECTORS.join(', ')}`
            });
        }
        return {
            problems,
            rules: selection.getCount(),
            files: apexFiles.length
        };
    } finally {
        fs.rmSync(workFolder, { recursive: true, force: true });
    }
}
