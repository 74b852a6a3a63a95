/**
 * Text of `optout local-org start | user | status | stop`, fitted to the terminal's
 * width. Lines meant to be copied into a shell (the sf login) stay whole.
 */
import type {
    LocalOrgRunning,
    LocalOrgStatusResult,
    LocalOrgStopResult,
    LocalUserResult
} from '../commands/local-org';
import { wrapText } from '../table';

const onOff = (v: boolean): string => (v ? 'on' : 'off');

/**
 * Where the local org runs, its options, and how to connect the sf CLI to it. The
 * token, the ids and the login line stay whole, to be copied.
 */
export function renderRunning(e: LocalOrgRunning, columns = 80): string {
    return [
        `Local org running at ${e.instanceUrl}`,
        `  access token: ${e.accessToken}`,
        ...wrapText(
            `org options: duplicate rules ${onOff(e.options.duplicateRules)}, Translation Workbench ${onOff(e.options.translationWorkbench)}, Lead sharing ${e.options.leadSharing}`,
            columns - 4
        ).map((l, i) => (i === 0 ? `  ${l}` : `    ${l}`)),
        `  org id:       ${e.orgId}`,
        `  username:     ${e.username}`,
        `  database:     ${e.dbPath}`,
        '',
        'Connect the sf CLI:',
        sfLogin(e, columns),
        '',
        'Press Ctrl-C to stop.'
    ].join('\n');
}

/**
 * The sf login command: one line when it fits, else shell lines continued with a
 * backslash (still one command when pasted).
 */
export function sfLogin(
    e: Pick<LocalOrgRunning, 'accessToken' | 'instanceUrl'>,
    columns: number
): string {
    const parts = [
        `SF_ACCESS_TOKEN='${e.accessToken}'`,
        'sf org login access-token',
        `--instance-url ${e.instanceUrl}`,
        '--alias local --no-prompt'
    ];
    const line = `  ${parts.join(' ')}`;
    if (line.length <= columns) return line;
    return parts.map((p, i) => `${i === 0 ? '  ' : '    '}${p}`).join(' \\\n');
}

/** Once the org started by `local-org start` stopped (its URL is in the result). */
export function renderStopped(): string {
    return 'Local org stopped.';
}

export function renderUser(u: LocalUserResult, columns: number): string {
    return wrapText(
        `Created ${u.username} (${u.id}). Its access token: ${u.accessToken}`,
        columns
    ).join('\n');
}

export function renderLocalOrgStatus(
    r: LocalOrgStatusResult,
    columns: number
): string {
    const text =
        r.status === 'stopped'
            ? 'No local org runs (commands with --target-org local serve one in-process).'
            : r.status === 'running'
              ? `Local org running at ${r.instanceUrl} (pid ${r.pid}, database ${r.dbPath})`
              : `A local org was started at ${r.instanceUrl} (pid ${r.pid}) but does not answer.`;
    return wrapText(text, columns).join('\n');
}

export function renderStop(r: LocalOrgStopResult): string {
    return r.pid === undefined
        ? 'No local org runs.'
        : `Stopped the local org (pid ${r.pid}).`;
}
