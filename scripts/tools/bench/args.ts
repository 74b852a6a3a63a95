/**
 * Command-line options of `npm run bench` (see run.ts), parsed without side effects.
 */
import { resolve } from 'node:path';
import { OptoutError } from '../../model/errors';
import {
    BENCH_JOBS,
    LEDGER_ENGINES,
    VARIANTS,
    type BenchJob,
    type LedgerEngine,
    type Variant
} from './types';

export interface BenchOptions {
    sizes: number[];
    latencies: number[];
    jobs: BenchJob[];
    variants: Variant[];
    /** Results folder (JSON per run); the Markdown page is written beside it. */
    out: string;
    /** Persons (or changes) the per-record baseline runs for real before extrapolating. */
    naiveSample: number;
    /** CI smoke run: checks request bounds, writes to a temporary folder by default. */
    smoke: boolean;
    /** Regenerate README.md from the results folder (default: unless --smoke). */
    readme: boolean;
    /** V8 old-space limit of each job's process, MiB (0: Node's default). */
    heapMb: number;
    /** Records per Bulk ingest job the sync uses (experiments; default: the client's). */
    bulkJobSize?: number;
    /**
     * Writes above this many records go through Bulk API 2.0, and rows per REST query
     * page (experiments: a smaller org shaped like a larger one; default: the client's).
     */
    bulkThreshold?: number;
    restPageSize?: number;
    /** Only regenerate README.md from the results folder (runs of several commands). */
    reportOnly: boolean;
    /**
     * The ledger's engines, each measured on the same org data set (--ledger-engine): an
     * engine comparison, shown in a section of its own. Absent: the default SQLite ledger
     * file, the run feeding the main tables.
     */
    ledgerEngines?: LedgerEngine[];
    /** Server on which a postgres ledger gets fresh databases (default $OPTOUT_TEST_PG_URL). */
    pgUrl?: string;
}

export const DEFAULT_RESULTS = resolve(__dirname, 'results');

export const USAGE = `npm run bench -- [--size 10000,100000[,1000000]] [--latency 0,50]
                 [--jobs ${BENCH_JOBS.join(',')}]
                 [--variants sync,collections,naive] [--naive-sample 1000]
                 [--heap-mb 256] [--bulk-job-size N] [--bulk-threshold N]
                 [--rest-page-size N] [--out DIR] [--no-readme] [--smoke]
                 [--ledger-engine sqlite,postgres] [--pg-url postgres://…]
       npm run bench -- --report [--out DIR]   (only regenerate README.md)
  --ledger-engine runs the same jobs with the ledger on each engine (postgres: a fresh
  database per size on --pg-url, default $OPTOUT_TEST_PG_URL, copied for each sequence
  of jobs and dropped afterwards); its figures go to the engine comparison section.
  Jobs run in that order on one copy of the data set; a job whose predecessor is not
  asked for gets it run first, not measured (nightly-next and nightly-full after the
  cold nightly, nightly-again after nightly-next, hourly and hourly-100 after
  hourly-first).`;

function usage(message: string): OptoutError {
    return new OptoutError('BAD_ARGUMENT', message, {
        exitCode: 2,
        actions: [`Usage: ${USAGE}`]
    });
}

/** "10000,100_000,1e6,1M,100k" → numbers. */
export function parseSizes(text: string, what: string, min: number): number[] {
    const out = text.split(',').map((raw) => {
        const t = raw.trim().replace(/_/g, '').toLowerCase();
        const m = /^(\d+(?:\.\d+)?)(k|m)?$/.exec(t);
        const n = m
            ? Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] === 'm' ? 1e6 : 1)
            : Number(t);
        if (!Number.isInteger(n) || n < min)
            throw usage(`${what}: '${raw}' is not a whole number ≥ ${min}`);
        return n;
    });
    if (out.length === 0) throw usage(`${what}: give at least one value`);
    return [...new Set(out)];
}

function parseList<T extends string>(
    text: string,
    allowed: readonly T[],
    what: string
): T[] {
    const out = text.split(',').map((s) => s.trim());
    for (const v of out)
        if (!(allowed as readonly string[]).includes(v))
            throw usage(`${what}: '${v}' is not one of ${allowed.join(', ')}`);
    return [...new Set(out)] as T[];
}

export function isPostgresUrl(value: string): boolean {
    return /^postgres(ql)?:\/\//i.test(value);
}

export function parseArgs(
    argv: readonly string[],
    env: NodeJS.ProcessEnv = process.env
): BenchOptions {
    const o: BenchOptions = {
        sizes: [10_000, 100_000],
        latencies: [0, 50],
        jobs: [...BENCH_JOBS],
        variants: [...VARIANTS],
        out: DEFAULT_RESULTS,
        naiveSample: 1000,
        smoke: false,
        readme: true,
        heapMb: 256,
        reportOnly: false,
        ...(env.OPTOUT_TEST_PG_URL ? { pgUrl: env.OPTOUT_TEST_PG_URL } : {})
    };
    let outGiven = false;
    let readmeGiven = false;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const [flag, inline] = a.startsWith('--') ? a.split(/=(.*)/s) : [a];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v === '')
                throw usage(`${flag} needs a value`);
            return v;
        };
        switch (flag) {
            case '--size':
            case '--sizes':
                o.sizes = parseSizes(value(), '--size', 1000);
                break;
            case '--latency':
                o.latencies = parseSizes(value(), '--latency', 0);
                break;
            case '--jobs':
                o.jobs = parseList(value(), BENCH_JOBS, '--jobs');
                break;
            case '--variants':
                o.variants = parseList(value(), VARIANTS, '--variants');
                break;
            case '--naive-sample':
                [o.naiveSample] = parseSizes(value(), '--naive-sample', 1);
                break;
            case '--heap-mb':
                o.heapMb = parseSizes(value(), '--heap-mb', 0)[0];
                break;
            case '--out':
                o.out = resolve(value());
                outGiven = true;
                break;
            case '--no-readme':
                o.readme = false;
                readmeGiven = true;
                break;
            case '--smoke':
                o.smoke = true;
                break;
            case '--bulk-job-size':
                [o.bulkJobSize] = parseSizes(value(), '--bulk-job-size', 1);
                break;
            case '--bulk-threshold':
                [o.bulkThreshold] = parseSizes(value(), '--bulk-threshold', 1);
                break;
            case '--rest-page-size':
                [o.restPageSize] = parseSizes(value(), '--rest-page-size', 200);
                break;
            case '--report':
                o.reportOnly = true;
                break;
            case '--ledger-engine':
            case '--ledger-engines':
                o.ledgerEngines = parseList(
                    value(),
                    LEDGER_ENGINES,
                    '--ledger-engine'
                );
                break;
            case '--pg-url': {
                const v = value();
                if (!isPostgresUrl(v))
                    throw usage(`--pg-url: '${v}' is not a postgres:// URL`);
                o.pgUrl = v;
                break;
            }
            case '--help':
            case '-h':
                throw new OptoutError('HELP', USAGE, { exitCode: 0 });
            default:
                throw usage(`unknown option '${a}'`);
        }
    }
    if (o.reportOnly && (o.smoke || !o.readme))
        throw usage(
            '--report writes README.md: not with --smoke or --no-readme'
        );
    if (o.ledgerEngines?.includes('postgres') && !o.pgUrl)
        throw usage(
            '--ledger-engine postgres needs a server: --pg-url or $OPTOUT_TEST_PG_URL (npm run pg:start)'
        );
    if (o.smoke) {
        // Unless told otherwise: 10,000 persons, no latency, a small baseline sample,
        // results in a temporary folder (the committed ones stay as they are).
        if (!argv.some((a) => a.startsWith('--size'))) o.sizes = [10_000];
        if (!argv.some((a) => a.startsWith('--latency'))) o.latencies = [0];
        if (!argv.some((a) => a.startsWith('--naive-sample')))
            o.naiveSample = 200;
        if (!outGiven) o.out = '';
        if (!readmeGiven) o.readme = false;
    }
    return o;
}
