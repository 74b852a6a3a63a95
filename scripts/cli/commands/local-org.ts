/**
 * `optout local-org start|user|status|stop`: the embedded local org (a Salesforce-compatible
 * server on SQLite) in the foreground, and a look at the one that runs. Text in
 * render/local-org.ts.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { summaryOf } from './index';
import {
    parseChoice,
    parseHost,
    parseOnOff,
    parsePort,
    positiveInt
} from '../options';
import { execute } from '../command';
import type { Output } from '../output';
import { OptoutError } from '../../model/errors';
// The local org is a development tool: loaded in the run functions, never at start.
import {
    DEFAULT_DB_PATH,
    DEFAULT_STATE_FILE,
    localOrgConnect,
    localOrgFaults,
    localOrgServer,
    type OrgOptions
} from '../../salesforce/local-org';
import { waitForStopSignal } from '../../scheduler/signals';
import {
    renderRunning,
    renderLocalOrgStatus,
    renderStop,
    renderStopped,
    renderUser
} from '../render/local-org';

// Types of the local org's API, named through the lazy loaders (erased at compile time).
type Server = ReturnType<typeof localOrgServer>;
type StartSettings = NonNullable<Parameters<Server['startLocalOrg']>[0]> & {
    port: number;
    dbPath: string;
};
type LocalOrg = Awaited<ReturnType<Server['startLocalOrg']>>;
type LocalOrgState = NonNullable<
    ReturnType<ReturnType<typeof localOrgConnect>['readState']>
>;

export interface StartOptions {
    port: string;
    host: string;
    db: string;
    apiLimit?: string;
    latencyMs?: string;
    faults?: string;
    seed?: string;
    bulkQueryPageSize?: string;
    duplicateRules?: string;
    translationWorkbench?: string;
    leadSharing?: string;
    stateFile: string;
}

export interface UserOptions {
    username: string;
    profile: string;
    lastName?: string;
    db: string;
    stateFile: string;
}

export interface StateFileOptions {
    stateFile: string;
}

/** The event line of `optout local-org start`: where the org runs and how to reach it. */
export interface LocalOrgRunning {
    event: 'running';
    instanceUrl: string;
    accessToken: string;
    port: number;
    dbPath: string;
    orgId: string;
    username: string;
    stateFile: string;
    pid: number;
    options: OrgOptions;
}

/** `--json` result of `optout local-org start`, once stopped. */
export interface LocalOrgStopped {
    status: 'stopped';
    instanceUrl: string;
}

/** `--json` result of `optout local-org user create`. */
export interface LocalUserResult {
    id: string;
    username: string;
    accessToken: string;
}

/** `--json` result of `optout local-org status` (exit 1 when it does not answer). */
export type LocalOrgStatusResult =
    | ({ status: 'running' | 'not-answering' } & LocalOrgState)
    | { status: 'stopped' };

/** `--json` result of `optout local-org stop`; `pid` when one was running. */
export interface LocalOrgStopResult {
    status: 'stopped';
    pid?: number;
}

/** The org options given on the command line (the rest keep their stored values). */
export function orgOptionsFrom(opts: {
    duplicateRules?: string;
    translationWorkbench?: string;
    leadSharing?: string;
}): Partial<OrgOptions> {
    const out: Partial<OrgOptions> = {};
    const dup = parseOnOff(opts.duplicateRules, '--duplicate-rules');
    if (dup !== undefined) out.duplicateRules = dup;
    const tw = parseOnOff(opts.translationWorkbench, '--translation-workbench');
    if (tw !== undefined) out.translationWorkbench = tw;
    if (opts.leadSharing !== undefined)
        out.leadSharing = parseChoice(opts.leadSharing, '--lead-sharing', [
            'ReadWrite',
            'Private'
        ] as const);
    return out;
}

/** `--faults` and `--latency-ms`, their errors as usage errors. */
function faultOptions(
    opts: StartOptions
): Pick<StartSettings, 'faults' | 'latencyMs'> {
    const { FaultSpecError, parseFaultSpec, parseLatency } = localOrgFaults();
    try {
        return {
            faults: opts.faults ? parseFaultSpec(opts.faults) : undefined,
            latencyMs:
                opts.latencyMs !== undefined
                    ? parseLatency(opts.latencyMs)
                    : undefined
        };
    } catch (err) {
        if (err instanceof FaultSpecError)
            throw new OptoutError('BAD_ARGUMENT', err.message, {
                exitCode: 2,
                actions: [
                    'See `optout local-org start --help`; example: --faults 503:0.1,lock:0.05,drop:next=3'
                ]
            });
        throw err;
    }
}

/** Every option of `local-org start` checked, before anything starts. */
export function checkStartOptions(
    opts: StartOptions,
    out: Output
): StartSettings {
    return {
        port: parsePort(opts.port),
        host: parseHost(opts.host),
        dbPath: opts.db === ':memory:' ? ':memory:' : resolve(opts.db),
        apiLimit: positiveInt('--api-limit', opts.apiLimit, 1),
        ...faultOptions(opts),
        seed: positiveInt('--seed', opts.seed),
        bulkQueryPageSize: positiveInt(
            '--bulk-query-page-size',
            opts.bulkQueryPageSize,
            1
        ),
        orgOptions: orgOptionsFrom(opts),
        log: (line: string) => out.log('debug', line)
    };
}

/** Refuses to start a second org on the same state file while the first answers. */
async function refuseIfRunning(stateFile: string): Promise<void> {
    const { checkOrg, readState } = localOrgConnect();
    const running = readState(stateFile);
    if (running && (await checkOrg(running.instanceUrl, running.accessToken)))
        throw new OptoutError(
            'LOCAL_ORG_RUNNING',
            `A local org already runs at ${running.instanceUrl} (pid ${running.pid}, database ${running.dbPath})`,
            {
                actions: [
                    'Use it as it is, or stop it first: optout local-org stop'
                ]
            }
        );
}

/** Starts the org; a busy port or database as errors the person can act on. */
async function startOrg(s: StartSettings, db: string): Promise<LocalOrg> {
    try {
        return await localOrgServer().startLocalOrg(s);
    } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE')
            throw new OptoutError(
                'PORT_IN_USE',
                `Port ${s.port} is already in use`,
                {
                    actions: [
                        'Pick another port with --port, or --port 0 for any free port'
                    ]
                }
            );
        if (/database is locked/i.test(e.message ?? ''))
            throw new OptoutError(
                'DATABASE_LOCKED',
                `The database ${db} is in use by another local org`,
                {
                    actions: [
                        'Stop the other one (optout local-org stop) or use another --db'
                    ]
                }
            );
        throw err;
    }
}

/** Writes the state file other commands read, and returns the `running` event. */
function announce(org: LocalOrg, stateFile: string): LocalOrgRunning {
    localOrgConnect().writeState(stateFile, {
        instanceUrl: org.instanceUrl,
        accessToken: org.accessToken,
        pid: process.pid,
        port: org.port,
        dbPath: org.dbPath,
        orgId: org.orgId,
        username: org.username,
        startedAt: new Date().toISOString()
    });
    return {
        event: 'running',
        instanceUrl: org.instanceUrl,
        accessToken: org.accessToken,
        port: org.port,
        dbPath: org.dbPath,
        orgId: org.orgId,
        username: org.username,
        stateFile,
        pid: process.pid,
        options: org.admin.getOptions()
    };
}

/**
 * Serves the local org in this process until SIGINT/SIGTERM: options checked, a running
 * org refused, the org started and announced, then stopped and its state file removed.
 */
export async function startLocalOrgCommand(
    opts: StartOptions,
    out: Output
): Promise<LocalOrgStopped> {
    const settings = checkStartOptions(opts, out);
    await refuseIfRunning(opts.stateFile);
    const org = await startOrg(settings, opts.db);
    const running = announce(org, opts.stateFile);
    // The stop handler first: a signal sent as soon as the line is read must find it.
    const signal = waitForStopSignal(() => undefined);
    out.event({ ...running }, renderRunning(running, out.columns));
    // The first SIGINT/SIGTERM stops; handlers removed, a second one exits.
    await signal.stopped;
    signal.dispose();
    out.log('info', 'Stopping the local org…');
    await org.close();
    localOrgConnect().removeState(opts.stateFile);
    return { status: 'stopped', instanceUrl: org.instanceUrl };
}

/** `local-org user create`. */
export async function localOrgUser(
    action: string,
    opts: UserOptions
): Promise<LocalUserResult> {
    if (action !== 'create')
        throw new OptoutError(
            'BAD_ARGUMENT',
            `Unknown action '${action}' (known: create)`,
            { exitCode: 2 }
        );
    return createLocalUser(opts);
}

/** Whether a local org runs (from the state file) and answers. */
export async function localOrgStatus(
    opts: StateFileOptions
): Promise<LocalOrgStatusResult> {
    const { checkOrg, readState } = localOrgConnect();
    const state = readState(opts.stateFile);
    if (!state) return { status: 'stopped' };
    const answers = await checkOrg(state.instanceUrl, state.accessToken, 5000);
    return { status: answers ? 'running' : 'not-answering', ...state };
}

/** Stops the local org of the state file (SIGTERM) and waits until it no longer answers. */
export async function localOrgStop(
    opts: StateFileOptions
): Promise<LocalOrgStopResult> {
    const { checkOrg, readState, removeState } = localOrgConnect();
    const state = readState(opts.stateFile);
    if (!state) return { status: 'stopped' };
    try {
        process.kill(state.pid, 'SIGTERM');
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        removeState(opts.stateFile, state.pid);
    }
    for (
        let i = 0;
        i < 50 && (await checkOrg(state.instanceUrl, state.accessToken, 200));
        i++
    )
        await new Promise((r) => setTimeout(r, 100));
    return { status: 'stopped', pid: state.pid };
}

const STATE_FILE_HELP = 'state file written by local-org start';

function registerStart(cmd: Command): void {
    cmd.command('start')
        .description(
            'Start the local org in the foreground (stop with Ctrl-C); writes its URL and token to the state file.'
        )
        .option('--port <port>', 'TCP port (0 picks a free one)', '8642')
        .option('--host <host>', 'interface to listen on', '127.0.0.1')
        .option(
            '--db <file>',
            "SQLite database file (':memory:' for a throw-away org)",
            DEFAULT_DB_PATH
        )
        .option(
            '--api-limit <n>',
            'daily API request allowance (default 15000)'
        )
        .option(
            '--latency-ms <ms>',
            'latency per request: N or MIN-MAX milliseconds'
        )
        .option(
            '--faults <spec>',
            'fault injection, e.g. 503:0.1,lock:0.05,drop:next=3,latency:20-80'
        )
        .option(
            '--seed <n>',
            'seed of the random fault sequence (reproducible runs)'
        )
        .option(
            '--bulk-query-page-size <n>',
            'rows per Bulk query result page when the client gives no maxRecords (default 50000)'
        )
        .option(
            '--duplicate-rules <on|off>',
            'standard Contact and Lead duplicate rules (stored with the org; on in a new org)'
        )
        .option(
            '--translation-workbench <on|off>',
            'Translation Workbench (stored with the org; off in a new org, as in Salesforce)'
        )
        .option(
            '--lead-sharing <ReadWrite|Private>',
            'org-wide default for Lead (stored with the org; ReadWrite in a new org)'
        )
        .option(
            '--state-file <file>',
            'where to write the URL and token for other commands',
            DEFAULT_STATE_FILE
        )
        .action(async (opts: StartOptions, command: Command) =>
            execute(command, {
                run: (out) => startLocalOrgCommand(opts, out),
                render: renderStopped
            })
        );
}

function registerUser(cmd: Command): void {
    cmd.command('user')
        .description(
            'Create a user in the local org, with its own access token (sharing applies to it).'
        )
        .argument('<action>', 'create')
        .requiredOption('--username <email>', "the new user's username")
        .option(
            '--profile <name>',
            "'Standard User' or 'System Administrator' (or a Profile id)",
            'Standard User'
        )
        .option('--last-name <name>', 'last name (default: the username)')
        .option('--db <file>', 'database file', DEFAULT_DB_PATH)
        .option('--state-file <file>', STATE_FILE_HELP, DEFAULT_STATE_FILE)
        .action(async (action: string, opts: UserOptions, command: Command) =>
            execute(command, {
                run: () => localOrgUser(action, opts),
                render: renderUser
            })
        );
}

function registerStatus(cmd: Command): void {
    cmd.command('status')
        .description(
            'Show whether a local org runs (from the state file) and answers.'
        )
        .option('--state-file <file>', STATE_FILE_HELP, DEFAULT_STATE_FILE)
        .action(async (opts: StateFileOptions, command: Command) =>
            execute(command, {
                run: () => localOrgStatus(opts),
                render: renderLocalOrgStatus,
                exitCode: (r) => (r.status === 'not-answering' ? 1 : 0)
            })
        );
}

function registerStop(cmd: Command): void {
    cmd.command('stop')
        .description('Stop the local org started with local-org start.')
        .option('--state-file <file>', STATE_FILE_HELP, DEFAULT_STATE_FILE)
        .action(async (opts: StateFileOptions, command: Command) =>
            execute(command, {
                run: () => localOrgStop(opts),
                render: renderStop
            })
        );
}

export function register(program: Command): void {
    const cmd = program
        .command('local-org')
        .description(summaryOf('local-org'));
    registerStart(cmd);
    registerUser(cmd);
    registerStatus(cmd);
    registerStop(cmd);
}

/** Creates a user in the running local org (admin route) or in its database file. */
async function createLocalUser(opts: UserOptions): Promise<LocalUserResult> {
    const org = await localOrgConnect().resolveLocalOrg({
        dbPath: opts.db,
        stateFile: opts.stateFile
    });
    const input = {
        username: opts.username,
        profile: opts.profile,
        lastName: opts.lastName
    };
    try {
        if (org.org) return org.org.admin.createUser(input);
        const res = await fetch(new URL('/local/users', org.instanceUrl), {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${org.accessToken}`,
                'Content-Type': 'application/json'
            },
            body: JSON.stringify(input)
        });
        const body = (await res.json()) as unknown;
        if (!res.ok) {
            const e = (Array.isArray(body) ? body[0] : body) as {
                message?: string;
                errorCode?: string;
            };
            throw new OptoutError(
                'LOCAL_ORG_USER_FAILED',
                `Could not create ${opts.username}: ${e.errorCode ?? res.status}: ${e.message ?? ''}`,
                { exitCode: 1 }
            );
        }
        return body as LocalUserResult;
    } catch (err) {
        if (err instanceof OptoutError) throw err;
        const e = err as { error?: { statusCode?: string; message?: string } };
        throw new OptoutError(
            'LOCAL_ORG_USER_FAILED',
            `Could not create ${opts.username}: ${e.error ? `${e.error.statusCode}: ${e.error.message}` : String(err)}`,
            { exitCode: 1 }
        );
    } finally {
        await org.close();
    }
}
