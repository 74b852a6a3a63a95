/**
 * `openOrg(targetOrg)`: `local` → the embedded local org (running, or served in-process
 * on .optout/local-org.db; loaded only then, through ./local-org); anything else → an
 * alias or username the Salesforce CLI knows, through @salesforce/core (which refreshes
 * the session when it expires).
 */
import { OptoutError, errorMessage } from '../model/errors';
import {
    OrgClient,
    type OrgClientOptions,
    type RequestingConnection
} from './client';
import { RequestMeter } from './meter';
import { localOrgConnect } from './local-org';
import { BUDGET_SHARE_ENV, parseBudgetShare } from './policy';

export interface OpenOrgOptions extends Omit<OrgClientOptions, 'targetOrg'> {
    /** For `local`: where the local org's state file and database are. */
    localOrg?: { stateFile?: string; dbPath?: string };
    env?: NodeJS.ProcessEnv;
}

export const LOCAL_TARGET = 'local';

/** The budget share from the option, else OPTOUT_API_BUDGET_SHARE, else the default. */
export function resolveBudgetShare(
    option: number | string | undefined,
    env: NodeJS.ProcessEnv = process.env
): number | undefined {
    if (option !== undefined) {
        const share =
            typeof option === 'number' ? option : parseBudgetShare(option);
        if (share === undefined || !(share > 0 && share <= 1))
            throw new OptoutError(
                'BAD_ARGUMENT',
                `--api-budget-share must be a number above 0 and at most 1 (e.g. 0.8 or 80%), not '${String(option)}'.`,
                { exitCode: 2 }
            );
        return share;
    }
    const fromEnv = env[BUDGET_SHARE_ENV];
    if (fromEnv !== undefined && fromEnv.trim() !== '') {
        const share = parseBudgetShare(fromEnv);
        if (share === undefined)
            throw new OptoutError(
                'BAD_ARGUMENT',
                `${BUDGET_SHARE_ENV} must be a number above 0 and at most 1, not '${fromEnv}'.`,
                { exitCode: 2 }
            );
        return share;
    }
    return undefined;
}

function load<T>(name: string): T {
    // Loaded on demand: @salesforce/core is heavy and `local` never needs it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
}

function unknownOrg(target: string, cause?: unknown): OptoutError {
    return new OptoutError(
        'UNKNOWN_ORG',
        `No org '${target}' is known to the Salesforce CLI${cause ? ` (${errorMessage(cause)})` : ''}.`,
        {
            actions: [
                `Log in interactively: sf org login web --alias ${target}`,
                `Or, for a server or scheduler, with a certificate: sf org login jwt --username USER --jwt-key-file server.key --client-id CONSUMER_KEY --alias ${target}`,
                'See the orgs you can use: sf org list',
                'Or use the embedded local org: --target-org local'
            ],
            cause
        }
    );
}

/** Opens one org for the sync (see the file comment). Close the client when done. */
export async function openOrg(
    targetOrg: string,
    options: OpenOrgOptions = {}
): Promise<OrgClient> {
    const target = targetOrg.trim();
    if (target === '')
        throw new OptoutError(
            'BAD_ARGUMENT',
            '--target-org must not be empty.',
            {
                actions: ['Give an org alias, a username or "local"'],
                exitCode: 2
            }
        );
    const share =
        options.apiBudgetShare ?? resolveBudgetShare(undefined, options.env);
    const base: OrgClientOptions = {
        ...options,
        targetOrg: target,
        ...(share !== undefined ? { apiBudgetShare: share } : {})
    };
    if (target === LOCAL_TARGET) {
        const { resolveLocalOrg, connectionFor } = localOrgConnect();
        const resolved = await resolveLocalOrg({
            stateFile: options.localOrg?.stateFile,
            dbPath: options.localOrg?.dbPath
        });
        const conn = connectionFor(resolved) as unknown as RequestingConnection;
        return new OrgClient(conn, {
            ...base,
            local: true,
            onClose: async () => {
                await options.onClose?.();
                await resolved.close();
            }
        });
    }
    process.env.SF_DISABLE_TELEMETRY ??= 'true';
    const core = load<typeof import('@salesforce/core')>('@salesforce/core');
    const meter = new RequestMeter();
    let username: string;
    try {
        const state = await core.StateAggregator.getInstance();
        username = state.aliases.resolveUsername(target);
        if (!(await state.orgs.exists(username))) throw unknownOrg(target);
    } catch (err) {
        if (err instanceof OptoutError) throw err;
        throw unknownOrg(target, err);
    }
    let conn: RequestingConnection;
    try {
        // Connecting may make requests (token refresh): count them for this client.
        conn = await meter.run(async () => {
            const org = await core.Org.create({ aliasOrUsername: username });
            return org.getConnection() as unknown as RequestingConnection;
        });
    } catch (err) {
        throw new OptoutError(
            'ORG_CONNECT_FAILED',
            `Could not connect to ${target}: ${errorMessage(err)}`,
            {
                actions: [
                    `Log in again: sf org login web --alias ${target}`,
                    `Check it: sf org display --target-org ${target}`
                ],
                cause: err
            }
        );
    }
    const client = new OrgClient(conn, base);
    client.meter.requests += meter.requests;
    return client;
}
