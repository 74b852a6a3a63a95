/**
 * `--target-org local`: find the local org started by `optout local-org start` (state
 * file `.optout/local-org.json`), or serve one in-process on the same database file
 * when none runs; and build jsforce connections to it.
 */
import {
    existsSync,
    mkdirSync,
    readFileSync,
    rmSync,
    writeFileSync
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as http from 'node:http';
import { OptoutError } from '../../model/errors';
import {
    DEFAULT_DB_PATH,
    DEFAULT_STATE_FILE
} from '../../salesforce/local-org';
import { startLocalOrg, type LocalOrg, type LocalOrgOptions } from './server';

// Defined on the product side (the CLI's option defaults need them without loading
// the simulator); re-exported for the tools and tests that use them from here.
export { DEFAULT_DB_PATH, DEFAULT_STATE_FILE };
// jsforce connections (a module of their own, which does not load the simulator).
export {
    LOCAL_ORG_API_VERSION,
    clearLoopbackProxies,
    connectionFor
} from './connection';

/** What `optout local-org start` writes so that other commands can find the org. */
export interface LocalOrgState {
    instanceUrl: string;
    accessToken: string;
    pid: number;
    port: number;
    dbPath: string;
    orgId: string;
    username: string;
    startedAt: string;
}

export interface ResolvedLocalOrg {
    instanceUrl: string;
    accessToken: string;
    /** True when this process serves the org (none was running). */
    inProcess: boolean;
    /** The in-process org (admin handle, …) when inProcess. */
    org?: LocalOrg;
    /** Stops the in-process org; does nothing for an org another process runs. */
    close(): Promise<void>;
}

export function writeState(stateFile: string, state: LocalOrgState): void {
    mkdirSync(dirname(resolve(stateFile)), { recursive: true });
    writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`, {
        mode: 0o600
    });
}

export function readState(stateFile: string): LocalOrgState | undefined {
    if (!existsSync(stateFile)) return undefined;
    try {
        const s = JSON.parse(
            readFileSync(stateFile, 'utf8')
        ) as Partial<LocalOrgState>;
        if (
            typeof s.instanceUrl !== 'string' ||
            typeof s.accessToken !== 'string'
        )
            return undefined;
        return s as LocalOrgState;
    } catch {
        return undefined;
    }
}

export function removeState(stateFile: string, pid = process.pid): void {
    const s = readState(stateFile);
    if (s && s.pid === pid) rmSync(stateFile, { force: true });
}

function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
}

/** Asks a running org whether it answers with this token (GET /local/health). */
export function checkOrg(
    instanceUrl: string,
    accessToken: string,
    timeoutMs = 2000
): Promise<boolean> {
    return new Promise((resolvePromise) => {
        let url: URL;
        try {
            url = new URL('/local/health', instanceUrl);
        } catch {
            resolvePromise(false);
            return;
        }
        const req = http.get(
            url,
            {
                headers: { Authorization: `Bearer ${accessToken}` },
                timeout: timeoutMs,
                agent: false
            },
            (res) => {
                res.resume();
                resolvePromise(res.statusCode === 200);
            }
        );
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolvePromise(false));
    });
}

/**
 * The local org for `--target-org local`: the running one from the state file if it
 * answers (and uses the same database when one is asked for), else one served
 * in-process on the database file (default .optout/local-org.db).
 */
export async function resolveLocalOrg(
    options: {
        dbPath?: string;
        stateFile?: string;
        orgOptions?: LocalOrgOptions;
    } = {}
): Promise<ResolvedLocalOrg> {
    const stateFile = options.stateFile ?? DEFAULT_STATE_FILE;
    const wantedDb = options.dbPath ? resolve(options.dbPath) : undefined;
    const state = readState(stateFile);
    if (state) {
        const sameDb = !wantedDb || resolve(state.dbPath) === wantedDb;
        if (
            sameDb &&
            processAlive(state.pid) &&
            (await checkOrg(state.instanceUrl, state.accessToken))
        ) {
            return {
                instanceUrl: state.instanceUrl,
                accessToken: state.accessToken,
                inProcess: false,
                close: async () => undefined
            };
        }
    }
    const dbPath = options.dbPath ?? DEFAULT_DB_PATH;
    let org: LocalOrg;
    try {
        org = await startLocalOrg({ ...(options.orgOptions ?? {}), dbPath });
    } catch (err) {
        throw new OptoutError(
            'LOCAL_ORG_START_FAILED',
            `Could not start the local org on ${dbPath}: ${err instanceof Error ? err.message : String(err)}`,
            {
                actions: [
                    'Check that the database file is not locked by another program',
                    'Start it yourself with: optout local-org start'
                ],
                cause: err
            }
        );
    }
    return {
        instanceUrl: org.instanceUrl,
        accessToken: org.accessToken,
        inProcess: true,
        org,
        close: () => org.close()
    };
}
