/**
 * `optout local-org start|status|stop`: the embedded local org (a Salesforce-compatible
 * server on SQLite) in the foreground, and a look at the one that runs.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { summaryOf } from './index';
import { positiveInt } from '../options';
import { runCommand } from '../command';
import { OptoutError } from '../../model/errors';
// The local org is a development tool: loaded in the action bodies, never at start.
import {
    DEFAULT_DB_PATH,
    DEFAULT_STATE_FILE,
    localOrgConnect,
    localOrgFaults,
    localOrgServer,
    type OrgOptions
} from '../../salesforce/local-org';
import { waitForStopSignal } from '../../scheduler/signals';

interface StartOptions {
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

function onOff(name: string, value: string | undefined): boolean | undefined {
    if (value === undefined) return undefined;
    if (value === 'on') return true;
    if (value === 'off') return false;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `${name} must be on or off, got '${value}'`,
        { exitCode: 2 }
    );
}

/** The org options given on the command line (the rest keep their stored values). */
export function orgOptionsFrom(opts: {
    duplicateRules?: string;
    translationWorkbench?: string;
    leadSharing?: string;
}): Partial<OrgOptions> {
    const out: Partial<OrgOptions> = {};
    const dup = onOff('--duplicate-rules', opts.duplicateRules);
    if (dup !== undefined) out.duplicateRules = dup;
    const tw = onOff('--translation-workbench', opts.translationWorkbench);
    if (tw !== undefined) out.translationWorkbench = tw;
    if (opts.leadSharing !== undefined) {
        if (opts.leadSharing !== 'ReadWrite' && opts.leadSharing !== 'Private')
            throw new OptoutError(
                'BAD_ARGUMENT',
                `--lead-sharing must be ReadWrite or Private, got '${opts.leadSharing}'`,
                { exitCode: 2 }
            );
        out.leadSharing = opts.leadSharing;
    }
    return out;
}

export function register(program: Command): void {
    const cmd = program
        .command('local-org')
        .description(summaryOf('local-org'));

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
        .action(async (opts: StartOptions, command: Command) => {
            await runCommand(command, async (out) => {
                const { FaultSpecError, parseFaultSpec, parseLatency } =
                    localOrgFaults();
                const { checkOrg, readState, removeState, writeState } =
                    localOrgConnect();
                const { startLocalOrg } = localOrgServer();
                const port = positiveInt('--port', opts.port) as number;
                const orgOptions = orgOptionsFrom(opts);
                let faults;
                let latency;
                try {
                    faults = opts.faults
                        ? parseFaultSpec(opts.faults)
                        : undefined;
                    latency =
                        opts.latencyMs !== undefined
                            ? parseLatency(opts.latencyMs)
                            : undefined;
                } catch (err) {
                    if (err instanceof FaultSpecError) {
                        throw new OptoutError('BAD_ARGUMENT', err.message, {
                            exitCode: 2,
                            actions: [
                                'See `optout local-org start --help`; example: --faults 503:0.1,lock:0.05,drop:next=3'
                            ]
                        });
                    }
                    throw err;
                }
                const running = readState(opts.stateFile);
                if (
                    running &&
                    (await checkOrg(running.instanceUrl, running.accessToken))
                ) {
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
                let org;
                try {
                    org = await startLocalOrg({
                        port,
                        host: opts.host,
                        dbPath:
                            opts.db === ':memory:'
                                ? ':memory:'
                                : resolve(opts.db),
                        apiLimit: positiveInt('--api-limit', opts.apiLimit, 1),
                        latencyMs: latency,
                        faults,
                        seed: positiveInt('--seed', opts.seed),
                        bulkQueryPageSize: positiveInt(
                            '--bulk-query-page-size',
                            opts.bulkQueryPageSize,
                            1
                        ),
                        orgOptions,
                        log: (line) => out.log('debug', line)
                    });
                } catch (err) {
                    const e = err as NodeJS.ErrnoException;
                    if (e.code === 'EADDRINUSE') {
                        throw new OptoutError(
                            'PORT_IN_USE',
                            `Port ${port} is already in use`,
                            {
                                actions: [
                                    'Pick another port with --port, or --port 0 for any free port'
                                ]
                            }
                        );
                    }
                    if (/database is locked/i.test(e.message ?? '')) {
                        throw new OptoutError(
                            'DATABASE_LOCKED',
                            `The database ${opts.db} is in use by another local org`,
                            {
                                actions: [
                                    'Stop the other one (optout local-org stop) or use another --db'
                                ]
                            }
                        );
                    }
                    throw err;
                }
                const dbPath = org.dbPath;
                writeState(opts.stateFile, {
                    instanceUrl: org.instanceUrl,
                    accessToken: org.accessToken,
                    pid: process.pid,
                    port: org.port,
                    dbPath,
                    orgId: org.orgId,
                    username: org.username,
                    startedAt: new Date().toISOString()
                });
                out.event(
                    {
                        event: 'running',
                        instanceUrl: org.instanceUrl,
                        accessToken: org.accessToken,
                        port: org.port,
                        dbPath,
                        orgId: org.orgId,
                        username: org.username,
                        stateFile: opts.stateFile,
                        pid: process.pid,
                        options: org.admin.getOptions()
                    },
                    [
                        `Local org running at ${org.instanceUrl}`,
                        `  access token: ${org.accessToken}`,
                        `  org options: duplicate rules ${org.admin.getOptions().duplicateRules ? 'on' : 'off'}, Translation Workbench ${org.admin.getOptions().translationWorkbench ? 'on' : 'off'}, Lead sharing ${org.admin.getOptions().leadSharing}`,
                        `  org id:       ${org.orgId}`,
                        `  username:     ${org.username}`,
                        `  database:     ${dbPath}`,
                        '',
                        'Connect the sf CLI:',
                        `  SF_ACCESS_TOKEN='${org.accessToken}' sf org login access-token --instance-url ${org.instanceUrl} --alias local --no-prompt`,
                        '',
                        'Press Ctrl-C to stop.'
                    ].join('\n')
                );
                // The first SIGINT/SIGTERM stops; handlers removed, a second one exits.
                const signal = waitForStopSignal(() => undefined);
                await signal.stopped;
                signal.dispose();
                out.log('info', 'Stopping the local org…');
                await org.close();
                removeState(opts.stateFile);
                out.result(
                    { status: 'stopped', instanceUrl: org.instanceUrl },
                    () => 'Local org stopped.'
                );
                return 0;
            });
        });

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
        .option(
            '--state-file <file>',
            'state file written by local-org start',
            DEFAULT_STATE_FILE
        )
        .action(
            async (
                action: string,
                opts: {
                    username: string;
                    profile: string;
                    lastName?: string;
                    db: string;
                    stateFile: string;
                },
                command: Command
            ) => {
                await runCommand(command, async (out) => {
                    if (action !== 'create')
                        throw new OptoutError(
                            'BAD_ARGUMENT',
                            `Unknown action '${action}' (known: create)`,
                            { exitCode: 2 }
                        );
                    const user = await createLocalUser(opts);
                    out.result(
                        user,
                        () =>
                            `Created ${user.username} (${user.id}). Its access token: ${user.accessToken}`
                    );
                    return 0;
                });
            }
        );

    cmd.command('status')
        .description(
            'Show whether a local org runs (from the state file) and answers.'
        )
        .option(
            '--state-file <file>',
            'state file written by local-org start',
            DEFAULT_STATE_FILE
        )
        .action(async (opts: { stateFile: string }, command: Command) => {
            await runCommand(command, async (out) => {
                const { checkOrg, readState } = localOrgConnect();
                const state = readState(opts.stateFile);
                const answers = state
                    ? await checkOrg(state.instanceUrl, state.accessToken, 5000)
                    : false;
                out.result(
                    state
                        ? {
                              status: answers ? 'running' : 'not-answering',
                              ...state
                          }
                        : { status: 'stopped' },
                    () =>
                        !state
                            ? 'No local org runs (commands with --target-org local serve one in-process).'
                            : answers
                              ? `Local org running at ${state.instanceUrl} (pid ${state.pid}, database ${state.dbPath})`
                              : `A local org was started at ${state.instanceUrl} (pid ${state.pid}) but does not answer.`
                );
                return state && !answers ? 1 : 0;
            });
        });

    cmd.command('stop')
        .description('Stop the local org started with local-org start.')
        .option(
            '--state-file <file>',
            'state file written by local-org start',
            DEFAULT_STATE_FILE
        )
        .action(async (opts: { stateFile: string }, command: Command) => {
            await runCommand(command, async (out) => {
                const { checkOrg, readState, removeState } = localOrgConnect();
                const state = readState(opts.stateFile);
                if (!state) {
                    out.result(
                        { status: 'stopped' },
                        () => 'No local org runs.'
                    );
                    return 0;
                }
                try {
                    process.kill(state.pid, 'SIGTERM');
                } catch (err) {
                    if ((err as NodeJS.ErrnoException).code !== 'ESRCH')
                        throw err;
                    removeState(opts.stateFile, state.pid);
                }
                for (
                    let i = 0;
                    i < 50 &&
                    (await checkOrg(state.instanceUrl, state.accessToken, 200));
                    i++
                ) {
                    await new Promise((r) => setTimeout(r, 100));
                }
                out.result(
                    { status: 'stopped', pid: state.pid },
                    () => `Stopped the local org (pid ${state.pid}).`
                );
                return 0;
            });
        });
}

/** Creates a user in the running local org (admin route) or in its database file. */
async function createLocalUser(opts: {
    username: string;
    profile: string;
    lastName?: string;
    db: string;
    stateFile: string;
}): Promise<{ id: string; username: string; accessToken: string }> {
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
        return body as { id: string; username: string; accessToken: string };
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
