/**
 * The local org as an ordinary org for the real sf CLI, started with
 * `optout local-org start`: login with an access token, deploy force-app over the
 * Metadata REST API, query. sf starts slowly, so this file runs only a handful of
 * commands.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionFor } from '../connect';
import { PROJECT_ROOT } from '../../../model/project';

const ROOT = PROJECT_ROOT;
const SF = join(ROOT, 'node_modules', '.bin', 'sf');

interface Started {
    instanceUrl: string;
    accessToken: string;
    stateFile: string;
    pid: number;
}

function cleanEnv(
    home: string,
    extra: Record<string, string> = {}
): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of [
        'http_proxy',
        'https_proxy',
        'HTTP_PROXY',
        'HTTPS_PROXY',
        'SF_TARGET_ORG'
    ])
        delete env[k];
    return {
        ...env,
        HOME: home,
        SF_DISABLE_TELEMETRY: 'true',
        SF_DISABLE_AUTOUPDATE: 'true',
        SF_SKIP_NEW_VERSION_CHECK: 'true',
        SF_DISABLE_LOG_FILE: 'true',
        SF_USE_PROGRESS_BAR: 'false',
        ...extra
    };
}

function run(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv
): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolvePromise) => {
        execFile(
            cmd,
            args,
            { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 },
            (err, stdout, stderr) => {
                const code = err
                    ? typeof err.code === 'number'
                        ? err.code
                        : 1
                    : 0;
                resolvePromise({ code, stdout, stderr });
            }
        );
    });
}

function sfJson(result: {
    stdout: string;
    stderr: string;
}): Record<string, unknown> {
    try {
        return JSON.parse(result.stdout) as Record<string, unknown>;
    } catch {
        throw new Error(
            `sf printed no JSON:\n${result.stdout}\n${result.stderr}`
        );
    }
}

describe('the sf CLI against `optout local-org start`', () => {
    let dir: string;
    let child: ChildProcess;
    let started: Started;
    let exitCode: Promise<number | null>;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'local-org-sf-'));
        const stateFile = join(dir, 'local-org.json');
        child = spawn(
            process.execPath,
            [
                join(ROOT, 'bin', 'optout'),
                'local-org',
                'start',
                '--port',
                '0',
                '--db',
                // A folder that does not exist yet, as `.optout/` in a fresh clone.
                join(dir, 'data', 'org.db'),
                '--state-file',
                stateFile,
                '--json'
            ],
            { cwd: ROOT, env: cleanEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] }
        );
        exitCode = new Promise((r) => child.on('exit', (code) => r(code)));
        const out = await new Promise<string>((resolveOut, reject) => {
            let buf = '';
            child.stdout?.on('data', (d: Buffer) => {
                buf += d.toString();
                if (buf.trim().endsWith('}')) resolveOut(buf);
            });
            child.on('exit', (code) =>
                reject(new Error(`local-org start exited with ${code}`))
            );
        });
        const json = JSON.parse(out) as {
            instanceUrl: string;
            accessToken: string;
            event: string;
            pid: number;
        };
        if (json.event !== 'running')
            throw new Error(`local-org start: ${out}`);
        started = {
            instanceUrl: json.instanceUrl,
            accessToken: json.accessToken,
            stateFile,
            pid: json.pid
        };
    });

    afterAll(async () => {
        if (child && child.exitCode === null) child.kill('SIGTERM');
        await exitCode;
        rmSync(dir, { recursive: true, force: true });
    });

    it('writes the state file other commands read', () => {
        const state = JSON.parse(
            readFileSync(started.stateFile, 'utf8')
        ) as Record<string, unknown>;
        expect(state).toMatchObject({
            instanceUrl: started.instanceUrl,
            accessToken: started.accessToken,
            pid: child.pid
        });
    });

    it('logs in with an access token, deploys force-app over REST and queries', async () => {
        const env = cleanEnv(dir, { SF_ACCESS_TOKEN: started.accessToken });
        const login = sfJson(
            await run(
                SF,
                [
                    'org',
                    'login',
                    'access-token',
                    '--instance-url',
                    started.instanceUrl,
                    '--alias',
                    'local',
                    '--no-prompt',
                    '--json'
                ],
                env
            )
        );
        expect(login.status).toBe(0);
        expect(login.result).toMatchObject({
            orgId: expect.stringMatching(/^00D/)
        });

        const deploy = sfJson(
            await run(
                SF,
                [
                    'project',
                    'deploy',
                    'start',
                    '--source-dir',
                    'force-app',
                    '--target-org',
                    'local',
                    '--wait',
                    '10',
                    '--json'
                ],
                {
                    ...env,
                    SF_ORG_METADATA_REST_DEPLOY: 'true'
                }
            )
        );
        expect(deploy.status).toBe(0);
        const result = deploy.result as {
            success: boolean;
            status: string;
            files: Array<{ fullName: string; type: string; state: string }>;
        };
        expect(result).toMatchObject({ success: true, status: 'Succeeded' });
        expect(result.files).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    fullName: 'Contact.Marketo_Sales_Opt_Out__c',
                    type: 'CustomField',
                    state: 'Created'
                }),
                expect.objectContaining({
                    fullName: 'Audience_Membership__c',
                    type: 'CustomObject',
                    state: 'Created'
                })
            ])
        );

        // Data written through jsforce, read back through sf data query.
        const conn = connectionFor(started);
        const contact = (await conn.sobject('Contact').create({
            LastName: 'Sf',
            Email: 'sf@cli.test',
            Marketo_Sales_Opt_Out__c: true
        })) as { id: string };
        const query = sfJson(
            await run(
                SF,
                [
                    'data',
                    'query',
                    '--query',
                    "SELECT Id, Email, Marketo_Sales_Opt_Out__c FROM Contact WHERE Email = 'sf@cli.test'",
                    '--target-org',
                    'local',
                    '--json'
                ],
                env
            )
        );
        expect(query.status).toBe(0);
        expect((query.result as { records: unknown[] }).records).toEqual([
            expect.objectContaining({
                Id: contact.id,
                Email: 'sf@cli.test',
                Marketo_Sales_Opt_Out__c: true
            })
        ]);
    });

    it('reports its status and stops cleanly, removing the state file', async () => {
        const optout = (args: string[]) =>
            run(
                process.execPath,
                [
                    join(ROOT, 'bin', 'optout'),
                    'local-org',
                    ...args,
                    '--state-file',
                    started.stateFile,
                    '--json'
                ],
                cleanEnv(dir)
            );
        const status = (
            JSON.parse((await optout(['status'])).stdout) as {
                result: Record<string, unknown>;
            }
        ).result;
        expect(status).toMatchObject({
            status: 'running',
            instanceUrl: started.instanceUrl,
            pid: child.pid
        });
        const stop = (
            JSON.parse((await optout(['stop'])).stdout) as {
                result: Record<string, unknown>;
            }
        ).result;
        expect(stop).toMatchObject({ status: 'stopped', pid: child.pid });
        expect(await exitCode).toBe(0);
        expect(existsSync(started.stateFile)).toBe(false);
    });
});
