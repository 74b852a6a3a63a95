/**
 * Org options: the local org starts strict (duplicate rules on, Translation Workbench
 * off), keeps what it was told in its database, and refuses options it does not know.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orgOptionsFrom } from '../../../cli/commands/local-org';
import { DEFAULT_ORG_OPTIONS, parseOrgOptions } from '../context';
import { startLocalOrg } from '../server';

describe('org options', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'org-options-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('are strict in a new org: duplicate rules on, Translation Workbench off', async () => {
        expect(DEFAULT_ORG_OPTIONS).toEqual({
            duplicateRules: true,
            translationWorkbench: false,
            leadSharing: 'ReadWrite'
        });
        const org = await startLocalOrg({ port: 0 });
        try {
            expect(org.admin.getOptions()).toEqual(DEFAULT_ORG_OPTIONS);
        } finally {
            await org.close();
        }
    });

    it('are kept in the database for the next process that opens it', async () => {
        const dbPath = join(dir, 'org.db');
        const first = await startLocalOrg({
            port: 0,
            dbPath,
            orgOptions: { translationWorkbench: true }
        });
        first.admin.setOptions({ leadSharing: 'Private' });
        await first.close();
        const second = await startLocalOrg({ port: 0, dbPath });
        try {
            expect(second.admin.getOptions()).toEqual({
                duplicateRules: true,
                translationWorkbench: true,
                leadSharing: 'Private'
            });
        } finally {
            await second.close();
        }
    });

    it('are read and changed over the admin route, and bad ones change nothing', async () => {
        const org = await startLocalOrg({ port: 0 });
        const call = async (
            method: string,
            body?: unknown
        ): Promise<{ status: number; json: unknown }> => {
            const res = await fetch(`${org.instanceUrl}/local/options`, {
                method,
                headers: {
                    Authorization: `Bearer ${org.accessToken}`,
                    'Content-Type': 'application/json'
                },
                body: body === undefined ? undefined : JSON.stringify(body)
            });
            return { status: res.status, json: await res.json() };
        };
        try {
            const changed = await call('PUT', { duplicateRules: false });
            expect(changed.status).toBe(200);
            expect(changed.json).toMatchObject({ duplicateRules: false });
            const bad = await call('PUT', {
                duplicateRules: true,
                personAccounts: true
            });
            expect(bad.status).toBe(400);
            expect(JSON.stringify(bad.json)).toMatch(
                /Unknown org option personAccounts/
            );
            expect((await call('GET')).json).toMatchObject({
                duplicateRules: false
            });
        } finally {
            await org.close();
        }
    });

    it('refuses values of the wrong type', () => {
        expect(() => parseOrgOptions({ duplicateRules: 'yes' })).toThrow(
            /true or false/
        );
        expect(() => parseOrgOptions({ leadSharing: 'Public' })).toThrow(
            /ReadWrite/
        );
        expect(() => parseOrgOptions([])).toThrow(/JSON object/);
    });

    it('come from optout local-org start flags', () => {
        expect(
            orgOptionsFrom({
                duplicateRules: 'off',
                translationWorkbench: 'on',
                leadSharing: 'Private'
            })
        ).toEqual({
            duplicateRules: false,
            translationWorkbench: true,
            leadSharing: 'Private'
        });
        expect(orgOptionsFrom({})).toEqual({});
        expect(() => orgOptionsFrom({ duplicateRules: 'maybe' })).toThrow(
            /--duplicate-rules must be on or off/
        );
    });
});
