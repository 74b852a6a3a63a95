/** One finding of a package check, located as precisely as the check can. */
export interface Problem {
    /** Path relative to the project root (or absolute when outside it). */
    file?: string;
    line?: number;
    column?: number;
    /** A rule name, e.g. a PMD rule or "missing-field". */
    rule: string;
    message: string;
}

/** The outcome of one check. */
export interface CheckResult {
    name: string;
    /** What was examined, for the summary (e.g. "212 components"). */
    summary: string;
    problems: Problem[];
    durationMs: number;
}

/** `file:line:column` as far as it is known. */
export function location(problem: Problem): string {
    if (!problem.file) return '';
    let out = problem.file;
    if (problem.line !== undefined) {
        out += `:${problem.line}`;
        if (problem.column !== undefined) out += `:${problem.column}`;
    }
    return out;
}

/** 1-based line of the first occurrence of `needle` in `source`, if any. */
export function lineOf(source: string, needle: string): number | undefined {
    const index = source.indexOf(needle);
    if (index < 0) return undefined;
    let line = 1;
    for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
    return line;
}
