import { CheckResult, location } from './problems';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** A readable summary: one line per check, then every problem as `file:line:col [rule] message`. */
export function formatReport(results: CheckResult[]): string {
    const lines: string[] = ['Package checks', ''];
    for (const result of results) {
        const status = result.problems.length === 0 ? 'ok  ' : 'FAIL';
        const count =
            result.problems.length === 0
                ? ''
                : ` (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'})`;
        lines.push(
            `${status} ${result.name}: ${result.summary}${count} [${seconds(result.durationMs)}]`
        );
    }
    for (const result of results.filter((r) => r.problems.length > 0)) {
        lines.push('', `${result.name}:`);
        for (const problem of result.problems) {
            const where = location(problem);
            lines.push(
                `  ${where ? `${where} ` : ''}[${problem.rule}] ${problem.message}`
            );
        }
    }
    const total = results.reduce((n, r) => n + r.problems.length, 0);
    lines.push(
        '',
        total === 0
            ? 'All package checks passed.'
            : `${total} problem${total === 1 ? '' : 's'} found.`
    );
    return lines.join('\n');
}
