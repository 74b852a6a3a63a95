/**
 * `npm run check:package`: the offline checks of the SFDX package. Prints a summary and
 * exits 1 when any check finds a problem (2 on a usage error).
 *
 *   node bin/run-ts scripts/tools/package-checks/run.ts [--skip-pmd] [--json]
 */
import { DEFAULT_OPTIONS, runAllChecks } from './checks';
import { formatReport } from './report';
import { PROJECT_ROOT } from '../../model/project';

async function main(argv: string[]): Promise<number> {
    const known = new Set(['--skip-pmd', '--json']);
    const unknown = argv.filter((arg) => !known.has(arg));
    if (unknown.length > 0) {
        process.stderr.write(
            `unknown option ${unknown.join(' ')}\nusage: check-package [--skip-pmd] [--json]\n`
        );
        return 2;
    }
    const results = await runAllChecks({
        ...DEFAULT_OPTIONS,
        projectRoot: PROJECT_ROOT,
        skipPmd: argv.includes('--skip-pmd')
    });
    const failed = results.some((r) => r.problems.length > 0);
    if (argv.includes('--json'))
        process.stdout.write(
            `${JSON.stringify({ ok: !failed, checks: results }, null, 2)}\n`
        );
    else process.stdout.write(`${formatReport(results)}\n`);
    return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
        process.stderr.write(
            `package checks crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`
        );
        process.exit(1);
    }
);
