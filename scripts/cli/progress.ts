/**
 * Progress bars on stderr for a person at a terminal, one per phase of a job: shared by
 * `optout sync` and `optout demo`. Nothing is drawn with --json or when piped.
 */
import { SingleBar } from 'cli-progress';
import type { Progress } from '../sync/records';
import type { Output } from './output';

/** A progress callback that draws bars, and stops the last one; undefined when not at a terminal. */
export function progressBars(
    out: Output
): (Progress & { stop(): void }) | undefined {
    if (!out.showProgress) return undefined;
    let bar: SingleBar | undefined;
    let phase = '';
    const report = ((e) => {
        if (e.phase !== phase || !bar) {
            bar?.stop();
            phase = e.phase;
            bar = new SingleBar({
                format:
                    e.total !== undefined
                        ? `${phase.padEnd(28)} [{bar}] {value}/{total}`
                        : `${phase.padEnd(28)} {value} records`,
                hideCursor: true,
                clearOnComplete: false,
                stream: process.stderr
            });
            bar.start(e.total ?? 0, e.done);
            return;
        }
        if (e.total !== undefined) bar.setTotal(e.total);
        bar.update(e.done);
    }) as Progress & { stop(): void };
    report.stop = () => {
        bar?.stop();
        bar = undefined;
    };
    return report;
}
