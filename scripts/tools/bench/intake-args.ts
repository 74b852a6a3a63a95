/**
 * Command-line options of `npm run bench:intake` (see intake.ts), parsed without side
 * effects.
 */
import { OptoutError } from '../../model/errors';
import { DEFAULT_RESULTS } from './args';
import type { Engine, IntakeConfig } from './intake-report';
import { resolve } from 'node:path';

export interface IntakeOptions {
    configs: IntakeConfig[];
    durationSeconds: number;
    connections: number;
    /** Most unsubscribes sent per configuration (= persons seeded). */
    count: number;
    pollMs: number;
    confirmTimeoutSeconds: number;
    /** Server on which the postgres configurations get a fresh database each. */
    pgUrl?: string;
    /** Results folder; README.md is regenerated beside it. */
    out: string;
    readme: boolean;
}

/** The configurations of the issue: 1 SQLite process, 1 and 3 replicas on PostgreSQL. */
export const DEFAULT_CONFIGS = ['sqlite-1', 'postgres-1', 'postgres-3'];

/** Short names of the configurations of the issue (a, b, c). */
const ALIASES: Record<string, string> = {
    a: 'sqlite-1',
    b: 'postgres-1',
    c: 'postgres-3'
};

export const INTAKE_USAGE = `npm run bench:intake -- [--configs sqlite-1,postgres-1,postgres-3 | a,b,c]
                 [--duration 10] [--connections 10] [--count 20000]
                 [--pg-url postgres://…] [--poll-ms 100] [--confirm-timeout 120]
                 [--out DIR] [--no-readme]
       npm run bench:intake -- --ledger <path|postgres-url> [--replicas N] […]
  A configuration is ENGINE-REPLICAS (sqlite-1, postgres-3). --ledger runs one
  configuration on that ledger, as it is (a postgres:// URL: that database); without
  it each configuration gets a fresh ledger (postgres: a new database on --pg-url,
  default $OPTOUT_TEST_PG_URL, dropped afterwards).`;

function usage(message: string): OptoutError {
    return new OptoutError('BAD_ARGUMENT', message, {
        exitCode: 2,
        actions: [`Usage: ${INTAKE_USAGE}`]
    });
}

export function isPostgresUrl(value: string): boolean {
    return /^postgres(ql)?:\/\//i.test(value);
}

/** "sqlite-1", "postgres-3", "pg-3", "b" → a configuration. */
export function parseConfig(raw: string): IntakeConfig {
    const text = (
        ALIASES[raw.trim().toLowerCase()] ?? raw.trim()
    ).toLowerCase();
    const m = /^(sqlite|postgres|pg)-(\d+)$/.exec(text);
    if (!m)
        throw usage(
            `--configs: '${raw}' is not ENGINE-REPLICAS (sqlite-1, postgres-3) nor a, b, c`
        );
    const engine: Engine = m[1] === 'sqlite' ? 'sqlite' : 'postgres';
    const replicas = Number(m[2]);
    if (!(replicas >= 1 && replicas <= 16))
        throw usage(`--configs: '${raw}': between 1 and 16 replicas`);
    return { name: `${engine}-${replicas}`, engine, replicas };
}

function wholeNumber(text: string, what: string, min: number): number {
    const n = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min)
        throw usage(`${what}: '${text}' is not a whole number ≥ ${min}`);
    return n;
}

export function parseIntakeArgs(
    argv: readonly string[],
    env: NodeJS.ProcessEnv = process.env
): IntakeOptions {
    const o: IntakeOptions = {
        configs: DEFAULT_CONFIGS.map(parseConfig),
        durationSeconds: 10,
        connections: 10,
        count: 20_000,
        pollMs: 100,
        confirmTimeoutSeconds: 120,
        ...(env.OPTOUT_TEST_PG_URL ? { pgUrl: env.OPTOUT_TEST_PG_URL } : {}),
        out: DEFAULT_RESULTS,
        readme: true
    };
    let configsGiven = false;
    let ledger: string | undefined;
    let replicas: number | undefined;
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
            case '--configs':
            case '--config':
                o.configs = value().split(',').map(parseConfig);
                configsGiven = true;
                break;
            case '--duration':
                o.durationSeconds = wholeNumber(
                    value().replace(/s$/, ''),
                    '--duration',
                    1
                );
                break;
            case '--connections':
                o.connections = wholeNumber(value(), '--connections', 1);
                break;
            case '--count':
                o.count = wholeNumber(value(), '--count', 1);
                break;
            case '--poll-ms':
                o.pollMs = wholeNumber(value(), '--poll-ms', 10);
                break;
            case '--confirm-timeout':
                o.confirmTimeoutSeconds = wholeNumber(
                    value().replace(/s$/, ''),
                    '--confirm-timeout',
                    1
                );
                break;
            case '--pg-url': {
                const v = value();
                if (!isPostgresUrl(v))
                    throw usage(`--pg-url: '${v}' is not a postgres:// URL`);
                o.pgUrl = v;
                break;
            }
            case '--ledger':
                ledger = value();
                break;
            case '--replicas':
                replicas = wholeNumber(value(), '--replicas', 1);
                break;
            case '--out':
                o.out = resolve(value());
                break;
            case '--no-readme':
                o.readme = false;
                break;
            case '--help':
            case '-h':
                throw new OptoutError('HELP', INTAKE_USAGE, { exitCode: 0 });
            default:
                throw usage(`unknown option '${a}'`);
        }
    }
    if (ledger !== undefined || replicas !== undefined) {
        if (configsGiven)
            throw usage(
                '--ledger/--replicas describe one configuration: not with --configs'
            );
        const engine: Engine =
            ledger !== undefined && isPostgresUrl(ledger)
                ? 'postgres'
                : 'sqlite';
        const n = replicas ?? 1;
        o.configs = [
            {
                name: `${engine}-${n}`,
                engine,
                replicas: n,
                ...(ledger !== undefined
                    ? {
                          ledger: isPostgresUrl(ledger)
                              ? ledger
                              : resolve(ledger)
                      }
                    : {})
            }
        ];
    }
    const names = o.configs.map((c) => c.name);
    if (new Set(names).size !== names.length)
        throw usage(
            `--configs: a configuration is named twice (${names.join(', ')})`
        );
    for (const c of o.configs)
        if (o.connections < c.replicas)
            throw usage(
                `${c.name}: --connections ${o.connections} is fewer than its ${c.replicas} replicas (each gets at least one)`
            );
    if (o.count < o.connections)
        throw usage(
            `--count ${o.count} is fewer than --connections ${o.connections}`
        );
    return o;
}
