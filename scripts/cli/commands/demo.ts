/**
 * `optout demo` (`npm start`) — the product end to end on the embedded local org: local
 * org, deploy, a seeded data set, a burst of real-time unsubscribes through the webhook,
 * the hourly and nightly syncs, and a summary of what changed (scripts/tools/demo). Phases
 * and progress on stderr at a terminal; `--json` prints the summary as one object.
 */
import type { Command } from 'commander';
import { DEFAULT_DB_PATH } from '../../salesforce/local-org';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import {
    addLedgerOption,
    resolveLedgerPath,
    type LedgerOptions,
    parseChoice,
    parseDemoSeed
} from '../options';
import {
    demoData,
    demoRun,
    demoSummary,
    type DemoSize,
    type PhaseEvent
} from '../tools';
import { progressBars } from './sync';

interface DemoCommandOptions extends LedgerOptions {
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
        runCommand(cmd, async (out) => {
            const size = parseChoice(
                opts.size,
                '--size',
                Object.keys(DEMO_SIZES) as DemoSize[]
            );
            const seed = parseDemoSeed(opts.seed);
            const ledgerPath = resolveLedgerPath(opts.ledger);
            const bars = progressBars(out);
            try {
                const summary = await demoRun().runDemo({
                    size,
                    seed,
                    ledgerPath,
                    dbPath: opts.db,
                    reset: opts.reset === true,
                    onPhase: (e) => {
                        bars?.stop();
                        phaseReporter(out)?.(e);
                    },
                    onProgress: bars,
                    log: (level, message) => out.log(level, message)
                });
                bars?.stop();
                out.result(summary, () => demoSummary().renderSummary(summary));
                return 0;
            } finally {
                bars?.stop();
            }
        })
    );
};
