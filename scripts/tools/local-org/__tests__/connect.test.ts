/**
 * Connecting to the local org: @salesforce/core (what the sf CLI and SDR use), the
 * `--target-org local` resolution, and jsforce connections with proxies set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthInfo, Connection as CoreConnection, Org } from '@salesforce/core';
import type { Connection } from 'jsforce';
import { resolveLocalOrg, writeState, type ResolvedLocalOrg } from '../connect';
import { startTestOrg, withSalesforceHome, type TestOrg } from '../testing';

describe('connecting to the local org', () => {
    let t: TestOrg;
    let dir: string;

    beforeAll(async () => {
        t = await startTestOrg();
        dir = mkdtempSync(join(tmpdir(), 'local-org-connect-'));
    });
    afterAll(async () => {
        await t.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it('connects with @salesforce/core AuthInfo, Connection and Org', () =>
        withSalesforceHome(async () => {
            const authInfo = await AuthInfo.create({
                accessTokenOptions: {
                    accessToken: t.accessToken,
                    instanceUrl: t.instanceUrl,
                    loginUrl: t.instanceUrl
                }
            });
            expect(authInfo.getUsername()).toBe(t.org.username);
            expect(authInfo.getFields().orgId).toBe(t.org.orgId);
            const connection = await CoreConnection.create({ authInfo });
            expect(connection.getApiVersion()).toBe('66.0');
            const org = await Org.create({ connection });
            expect(org.getOrgId()).toBe(t.org.orgId);
            expect(await org.determineIfDevHubOrg()).toBe(false);
            const res = await connection.query<{
                Name: string;
                IsSandbox: boolean;
            }>('SELECT Name, IsSandbox, OrganizationType FROM Organization');
            expect(res.records[0]).toMatchObject({
                Name: 'Local Org',
                IsSandbox: false
            });
            // The calls core makes on connect, as TOOLCHAIN-NOTES lists them.
            expect(t.admin.stats().byKind).toMatchObject({
                userinfo: 1,
                sobjectRead: 1,
                versions: 1
            });
        }, t.org.username));

    it('finds a running org from the state file, else serves one in-process on the database file', async () => {
        const stateFile = join(dir, 'state.json');
        const dbPath = join(dir, 'org.db');
        const first: ResolvedLocalOrg = await resolveLocalOrg({
            stateFile,
            dbPath
        });
        try {
            expect(first.inProcess).toBe(true);
            writeState(stateFile, {
                instanceUrl: first.instanceUrl,
                accessToken: first.accessToken,
                pid: process.pid,
                port: Number(new URL(first.instanceUrl).port),
                dbPath,
                orgId: 'x',
                username: 'x',
                startedAt: new Date().toISOString()
            });
            const second = await resolveLocalOrg({ stateFile, dbPath });
            expect(second).toMatchObject({
                inProcess: false,
                instanceUrl: first.instanceUrl,
                accessToken: first.accessToken
            });
            await second.close();
            // The database file belongs to the running org: a second server cannot open it.
            await expect(
                resolveLocalOrg({ stateFile: join(dir, 'none.json'), dbPath })
            ).rejects.toMatchObject({
                code: 'LOCAL_ORG_START_FAILED'
            });
        } finally {
            await first.close();
        }
        // A stale state file (org gone) falls back to an in-process org on the same file.
        const third = await resolveLocalOrg({ stateFile, dbPath });
        try {
            expect(third.inProcess).toBe(true);
            expect(third.accessToken).toBe(first.accessToken);
        } finally {
            await third.close();
        }
    });

    it('clears http(s)_proxy for loopback connections', async () => {
        const saved = process.env.https_proxy;
        process.env.https_proxy = 'http://127.0.0.1:9';
        let conn: Connection | undefined;
        try {
            jest.isolateModules(() => {
                // A fresh jsforce reads the proxy variable when it loads.
                const fresh =
                    jest.requireActual<typeof import('../connect')>(
                        '../connect'
                    );
                conn = fresh.connectionFor(t);
            });
            const res = await (conn as Connection).query('SELECT Id FROM User');
            expect(res.totalSize).toBe(1);
            expect(process.env.https_proxy).toBeUndefined();
        } finally {
            if (saved === undefined) delete process.env.https_proxy;
            else process.env.https_proxy = saved;
        }
    });
});
