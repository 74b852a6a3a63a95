/**
 * `optout local-org start | user | status | stop` text at 80 and 160 columns: every line
 * within the width, the URL, token and ids whole (they are copied).
 */
import type { LocalOrgRunning } from '../commands/local-org';
import {
    renderRunning,
    renderLocalOrgStatus,
    renderStop,
    renderUser,
    sfLogin
} from '../render/local-org';

function widest(text: string): number {
    return Math.max(...text.split('\n').map((l) => [...l].length));
}

const running: LocalOrgRunning = {
    event: 'running',
    instanceUrl: 'http://127.0.0.1:8642',
    accessToken: '00D8d0000000001!AQ4AQL0cAL-local-0123456789abcdef',
    port: 8642,
    dbPath: '/srv/opt-out-sync/shared/state/.optout/local-org.db',
    orgId: '00D8d0000000001EAA',
    username: 'admin@optout-local.example',
    stateFile: '.optout/local-org.json',
    pid: 4242,
    options: {
        duplicateRules: true,
        translationWorkbench: false,
        leadSharing: 'Private'
    }
};

const state = {
    instanceUrl: running.instanceUrl,
    accessToken: running.accessToken,
    pid: 4242,
    port: 8642,
    dbPath: running.dbPath,
    orgId: running.orgId,
    username: running.username,
    startedAt: '2026-12-05T05:00:00.000Z'
};

describe.each([80, 160])('at %i columns', (columns) => {
    it('start: the URL, token, options and the sf login, within the width', () => {
        const text = renderRunning(running, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        expect(text).toContain('Local org running at http://127.0.0.1:8642');
        expect(text).toContain(`  access token: ${running.accessToken}`);
        expect(text.replace(/\s+/g, ' ')).toContain(
            'duplicate rules on, Translation Workbench off, Lead sharing Private'
        );
        expect(text).toContain(`  database:     ${running.dbPath}`);
        // The login is one shell command, whether on one line or continued.
        expect(
            sfLogin(running, columns)
                .replace(/ \\\n\s+/g, ' ')
                .trim()
        ).toBe(
            `SF_ACCESS_TOKEN='${running.accessToken}' sf org login access-token --instance-url http://127.0.0.1:8642 --alias local --no-prompt`
        );
    });

    it('user, status and stop fit and keep their facts', () => {
        const user = renderUser(
            {
                id: '0058d0000000002AAA',
                username: 'dana.whitfield@optout-local.example',
                accessToken: running.accessToken
            },
            columns
        );
        expect(widest(user)).toBeLessThanOrEqual(columns);
        expect(user).toContain(running.accessToken);
        for (const r of [
            { status: 'running' as const, ...state },
            { status: 'not-answering' as const, ...state },
            { status: 'stopped' as const }
        ]) {
            const text = renderLocalOrgStatus(r, columns);
            expect(widest(text)).toBeLessThanOrEqual(columns);
        }
        expect(
            renderLocalOrgStatus(
                { status: 'running', ...state },
                columns
            ).replace(/\s+/g, ' ')
        ).toBe(
            `Local org running at http://127.0.0.1:8642 (pid 4242, database ${running.dbPath})`
        );
        expect(
            renderLocalOrgStatus({ status: 'not-answering', ...state }, columns)
        ).toMatch(/but does not answer\.$/);
        expect(renderStop({ status: 'stopped', pid: 4242 })).toBe(
            'Stopped the local org (pid 4242).'
        );
        expect(renderStop({ status: 'stopped' })).toBe('No local org runs.');
    });
});

it('the sf login stays on one line when it fits', () => {
    expect(sfLogin(running, 200).split('\n')).toHaveLength(1);
    expect(sfLogin(running, 80).split('\n').length).toBeGreaterThan(1);
});
