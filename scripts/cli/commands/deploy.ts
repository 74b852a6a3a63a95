/**
 * `optout deploy --target-org X` — deploys the package (`force-app`), then its
 * translations (`force-app-translations`) in a deploy of their own, then assigns the
 * Opt_Out_Sync_Integration permission set to the user the sync runs as. The work is
 * the Salesforce adapter's (`salesforce/deploy.ts`, `deployPackage`); this file turns
 * the flags into its options, shows a progress bar, and hands the report to
 * render/deploy.ts. Exit 0 when everything succeeded, 1 when a deploy failed or a step
 * after it did (partial), 2 for bad arguments.
 */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { openOrg } from '../../salesforce/open';
import {
    MODIFY_ALL_PERMISSION_SET,
    PACKAGE_DIR,
    TRANSLATIONS_DIR,
    checkDeployOptions,
    deployPackage,
    type DeployPackageOptions,
    type DeployProgress,
    type DeployReport
} from '../../salesforce/deploy';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import { parseTargetOrg, parseTestOptions, parseWaitMinutes } from '../options';
import { renderDeploy } from '../render/deploy';
import { summaryOf } from './index';

/** The flags as commander gives them. */
export interface DeployFlags {
    targetOrg: string;
    sourceDir: string;
    translationsDir: string;
    translations: boolean;
    translationsOnly?: boolean;
    checkOnly?: boolean;
    wait: string;
    assignPermissionSet: boolean;
    modifyAll?: boolean;
    testLevel?: string;
    tests?: string;
}

/** The `--json` result: the deploy's report. */
export type DeployResult = DeployReport;

/** The engine's options from the flags; usage errors (exit 2) before anything is sent. */
export function deployOptionsFrom(flags: DeployFlags): DeployPackageOptions {
    return checkDeployOptions({
        sourceDir: flags.sourceDir,
        translationsDir: flags.translationsDir,
        translations: flags.translations,
        translationsOnly: flags.translationsOnly === true,
        checkOnly: flags.checkOnly === true,
        waitMinutes: parseWaitMinutes(flags.wait),
        tests: parseTestOptions(flags.testLevel, flags.tests),
        assignPermissionSet: flags.assignPermissionSet,
        modifyAll: flags.modifyAll === true
    });
}

/** A progress bar on stderr per deploy (package, translations), at a terminal only. */
function progressBar(out: Output): {
    update(progress: DeployProgress): void;
    stop(): void;
} {
    let bar: SingleBar | undefined;
    let phase: DeployProgress['phase'] | undefined;
    const stop = (): void => {
        bar?.stop();
        bar = undefined;
    };
    return {
        update({ phase: now, done, total }) {
            if (!out.showProgress || total <= 0) return;
            if (now !== phase) stop();
            phase = now;
            if (!bar) {
                bar = new SingleBar({
                    format: 'Deploying [{bar}] {value}/{total} components',
                    hideCursor: true,
                    stream: process.stderr
                });
                bar.start(total, done);
            }
            bar.setTotal(total);
            bar.update(done);
        },
        stop
    };
}

/** Runs `optout deploy`: checks the flags, opens the org, deploys, closes the org. */
export async function deploy(
    flags: DeployFlags,
    out: Output
): Promise<DeployResult> {
    const targetOrg = parseTargetOrg(flags.targetOrg);
    const options = deployOptionsFrom(flags);
    const client = await openOrg(targetOrg, {
        log: (level, message) => out.log(level, message)
    });
    const bar = progressBar(out);
    try {
        return await deployPackage(client, options, {
            onProgress: (p) => bar.update(p),
            log: (level, message) => out.log(level, message)
        });
    } finally {
        bar.stop();
        await client.close();
    }
}

export const register: CommandModule = (program: Command) => {
    program
        .command('deploy')
        .description(summaryOf('deploy'))
        .requiredOption(
            '--target-org <org>',
            'org alias or username known to the sf CLI, or "local"'
        )
        .option('--source-dir <dir>', 'the package folder', PACKAGE_DIR)
        .option(
            '--translations-dir <dir>',
            'the translations folder, deployed after the package',
            TRANSLATIONS_DIR
        )
        .option(
            '--no-translations',
            'deploy the package only, not its translations'
        )
        .option(
            '--translations-only',
            'deploy only the translations (after enabling Translation Workbench)'
        )
        .option(
            '--test-level <level>',
            'Apex tests the deploy runs: NoTestRun, RunSpecifiedTests, RunLocalTests or RunAllTestsInOrg (default: the package’s own tests on production, the org’s default elsewhere)'
        )
        .option(
            '--tests <classes>',
            'comma-separated Apex test classes for RunSpecifiedTests (default: the package’s own)'
        )
        .option('--check-only', 'validate the deploy without saving it')
        .option('--wait <minutes>', 'give up waiting after this long', '30')
        .option(
            '--no-assign-permission-set',
            'do not assign Opt_Out_Sync_Integration after the deploy'
        )
        .option(
            '--modify-all',
            `also assign ${MODIFY_ALL_PERMISSION_SET} (Modify All on Contact and Lead, for Contacts without an Account and private Leads)`
        )
        .action(async (flags: DeployFlags, cmd: Command) =>
            execute(cmd, {
                run: (out) => deploy(flags, out),
                render: renderDeploy,
                exitCode: (r) => (r.status === 'succeeded' ? 0 : 1)
            })
        );
};
