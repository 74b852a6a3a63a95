/**
 * Text of `optout demo`: the demo's own summary (scripts/tools/demo/summary.ts), fitted
 * to the terminal's width. The demo is a development tool, loaded through cli/tools.ts
 * only when the command runs.
 */
import { demoSummary, type DemoResult } from '../tools';

export function renderDemo(summary: DemoResult, columns: number): string {
    return demoSummary().renderSummary(summary, columns);
}
