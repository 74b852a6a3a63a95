/**
 * The product's one door to the local org (`scripts/tools/local-org`), the development
 * tool that answers the Salesforce APIs from SQLite. Nothing of the simulator loads until
 * a function here is called: `--target-org local` and `optout local-org …` pay for it,
 * every other command does not (`__tests__/lazy-local-org.test.ts` checks that loading
 * `open.ts` loads no tool).
 *
 * eslint.config.js lets only this file (and `cli/tools.ts`, for the other tools) reach a
 * tool: any other product file that needs the local org calls these loaders.
 */

/** Where `optout local-org start` writes its URL and token for other commands. */
export const DEFAULT_STATE_FILE = '.optout/local-org.json';
/** The local org's database file when no `--db` is given. */
export const DEFAULT_DB_PATH = '.optout/local-org.db';

// Types only (erased at compile time): naming them loads nothing.
type Connect = typeof import('../tools/local-org/connect');
type Server = typeof import('../tools/local-org/server');
type Faults = typeof import('../tools/local-org/faults');
export type OrgOptions = import('../tools/local-org/context').OrgOptions;
export type ResolvedLocalOrg =
    import('../tools/local-org/connect').ResolvedLocalOrg;

// `require` inside functions, not `import`: an import (even a dynamic one compiled to
// CommonJS) would be hoisted or awaited; a call loads the tool only when it is needed.

/** State file, in-process org and jsforce connections to the local org. */
export function localOrgConnect(): Connect {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/local-org/connect') as Connect;
}

/** `startLocalOrg`: serves a local org in this process. */
export function localOrgServer(): Server {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/local-org/server') as Server;
}

/** The parsers of `--faults` and `--latency-ms` (and their error class). */
export function localOrgFaults(): Faults {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/local-org/faults') as Faults;
}
