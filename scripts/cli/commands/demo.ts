/**
 * `optout demo` (`npm start`) — the product end to end on the embedded local org: local
 * org, deploy, a seeded data set, a burst of real-time unsubscribes through the webhook,
 * the hourly and nightly syncs, and a summary of what changed (scripts/tools/demo). Phases
 * and progress on stderr at a terminal; `--json` prints the summary as one object.
 */
import type { Command } from 'commander';
import { DEFAULT_DB_PATH } from '../../salesforce/local-org';
import { summaryOf } from './index';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    resolveLedger,
    type LedgerOptions,
    parseChoice,
    parseDemoSeed
} from '../options';
import { progressBars } from '../progress';
import { renderDemo } from '../render/demo';
import {
    demoData,
    demoRun,
    type DemoSize,
    type DemoResult,
    type PhaseEvent
} from '../tools';

/** The `--json` result of `optout demo`: the demo's summary. */
export type { DemoResult };

export interface DemoCommandOptions extends LedgerOptions {
    size: string;
    seed: string;
    db: string;
    reset?: boolean;
}

/** Phase lines on stderr for a person at a terminal. */
function phaseReporter(out: Output): ((e: PhaseEvent) => void) | undefined {
    if (!out.showProgress) return undefined;
    const { PHASE_TITLES } = demoRun();
    return (e) => {
        const title = PHASE_TITLES[e.phase];
        if (e.state === 'start') process.stderr.write(`▸ ${title}…\n`);
        else
            process.stderr.write(
                `  ✓ ${e.detail ? `${e.detail} ` : ''}(${((e.durationMs ?? 0) / 1000).toFixed(1)} s)\n`
            );
    };
}

/** Checks the options, then runs the whole demo with its phases and progress on stderr. */
export async function demo(
    opts: DemoCommandOptions,
    out: Output
): Promise<DemoResult> {
    const size = parseChoice(
        opts.size,
        '--size',
        Object.keys(demoData().DEMO_SIZES) as DemoSize[]
    );
    const seed = parseDemoSeed(opts.seed);
    const ledgerPath = resolveLedger(opts.ledger);
    const bars = progressBars(out);
    const phases = phaseReporter(out);
    try {
        return await demoRun().runDemo({
            size,
            seed,
            ledgerPath,
            dbPath: opts.db,
            reset: opts.reset === true,
            onPhase: (e) => {
                bars?.stop();
                phases?.(e);
            },
            onProgress: bars,
            log: (level, message) => out.log(level, message)
        });
    } finally {
        bars?.stop();
    }
}

export const register: CommandModule = (program: Command) => {
    const { DEMO_SIZES } = demoData();
    addLedgerOption(
        program
            .command('demo')
            .description(summaryOf('demo'))
            .option(
                '--size <size>',
                `data set size: full (${DEMO_SIZES.full.contacts} Contacts, ${DEMO_SIZES.full.leads} Leads) or small (${DEMO_SIZES.small.contacts}, ${DEMO_SIZES.small.leads})`,
                'full'
            )
            .option('--seed <n>', 'seed of the generated data', '42')
            .option('--db <file>', 'the local org database', DEFAULT_DB_PATH)
            .option(
                '--reset',
                'remove the demo’s earlier data first (only files the demo made)'
            )
    ).action(async (opts: DemoCommandOptions, cmd: Command) =>
        execute(cmd, { run: (out) => demo(opts, out), render: renderDemo })
    );
};
