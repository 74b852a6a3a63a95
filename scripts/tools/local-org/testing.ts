/**
 * Test helpers for every part of the project: an in-memory local org on a free port,
 * this repository's package deployed to it through the real deploy path, and fast
 * seeding through the org's own Bulk API 2.0 (never by writing SQLite directly).
 *
 *   const t = await startTestOrg({ deploy: true });
 *   const ids = await seedRecords(t, 'Contact', [{ LastName: 'A', Email: 'a@x.com' }]);
 *   … t.conn (jsforce), t.admin (faults, stats, convert lead) …
 *   await t.close();
 */
import { createHash } from 'node:crypto';
import {
    existsSync,
    mkdirSync,
    readdirSync,
    readFileSync,
    renameSync,
    rmSync,
    statSync,
    writeFileSync
} from 'node:fs';
import * as os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import type { Connection } from 'jsforce';
import { connectionFor, LOCAL_ORG_API_VERSION } from './connect';
import { startLocalOrg, type LocalOrg, type LocalOrgOptions } from './server';
import { PROJECT_ROOT } from '../../model/project';

export interface TestOrg {
    org: LocalOrg;
    instanceUrl: string;
    accessToken: string;
    conn: Connection;
    admin: LocalOrg['admin'];
    close(): Promise<void>;
}

export interface DeploySummary {
    id: string;
    status: string;
    success: boolean;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    componentFailures: Array<{
        fullName: string;
        componentType: string;
        problem?: string;
        fileName: string;
    }>;
    warnings: Array<{
        fullName: string;
        componentType: string;
        problem?: string;
    }>;
}

const REPO_ROOT = PROJECT_ROOT;

/** Loads a heavy module on first use (most tests never deploy). */
function load<T>(name: string): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
}

/** Where @salesforce/core keeps auth files and locks during tests (not the user's home). */
export const TEST_SF_HOME = join(os.tmpdir(), 'optout-local-org-sf-home');

/**
 * Runs `fn` with HOME pointing at a scratch folder, so that @salesforce/core (which
 * saves an auth file for every access-token login) leaves the user's ~/.sfdx alone;
 * no log files, no telemetry.
 */
export async function withSalesforceHome<T>(
    fn: () => Promise<T>,
    username?: string
): Promise<T> {
    process.env.SF_DISABLE_LOG_FILE ??= 'true';
    process.env.SF_DISABLE_TELEMETRY ??= 'true';
    process.env.SFDX_DISABLE_TELEMETRY ??= 'true';
    // core creates ~/.sfdx/alias.json when it is missing, but under jest its ENOENT
    // check fails (errors come from another realm, so `instanceof Error` is false):
    // create the empty file it would have created.
    const aliases = join(TEST_SF_HOME, '.sfdx', 'alias.json');
    if (!existsSync(aliases)) {
        mkdirSync(dirname(aliases), { recursive: true });
        writeFileSync(aliases, '{"orgs":{}}\n');
    }
    // Same for the auth file core saves for the user (else it leaves a lock behind
    // and the next save waits 10 s for the lock to go stale).
    if (username) {
        const authFile = join(TEST_SF_HOME, '.sfdx', `${username}.json`);
        if (!existsSync(authFile)) writeFileSync(authFile, '{}\n');
    }
    // Under jest, process.env is a copy that os.homedir() never sees: swap the function.
    const osModule = load<{ homedir: () => string }>('node:os');
    const saved = osModule.homedir;
    osModule.homedir = () => TEST_SF_HOME;
    try {
        return await fn();
    } finally {
        osModule.homedir = saved;
        if (username) {
            for (const f of [`${username}.json`, `${username}.json.lock`]) {
                rmSync(join(TEST_SF_HOME, '.sfdx', f), {
                    recursive: true,
                    force: true
                });
            }
        }
    }
}

/**
 * Creates a user in a test org (profile 'Standard User' unless given) and a jsforce
 * connection that runs as that user: sharing and its permission sets apply to it.
 */
export function createTestUser(
    t: TestOrg,
    options: {
        username?: string;
        profile?: string;
        lastName?: string;
    } = {}
): { id: string; username: string; accessToken: string; conn: Connection } {
    const username =
        options.username ??
        `user.${createHash('sha256').update(`${Math.random()}`).digest('hex').slice(0, 10)}@optout.local`;
    const user = t.admin.createUser({
        username,
        profile: options.profile,
        lastName: options.lastName
    });
    return {
        id: user.id,
        username: user.username,
        accessToken: user.accessToken,
        conn: connectionFor({
            instanceUrl: t.instanceUrl,
            accessToken: user.accessToken
        })
    };
}

/**
 * Starts an in-memory org on a free port (options as startLocalOrg), optionally with
 * this repository's force-app deployed (`deploy: true`) or another source folder.
 */
export async function startTestOrg(
    options: LocalOrgOptions & { deploy?: boolean | string } = {}
): Promise<TestOrg> {
    const { deploy, ...orgOptions } = options;
    const sourceDir = typeof deploy === 'string' ? deploy : 'force-app';
    // Translations need Translation Workbench (off in a new org): a test that deploys
    // a folder with translations gets an org that has it, unless it says otherwise.
    if (
        deploy &&
        orgOptions.orgOptions?.translationWorkbench === undefined &&
        hasTranslations(resolve(REPO_ROOT, sourceDir))
    ) {
        orgOptions.orgOptions = {
            ...orgOptions.orgOptions,
            translationWorkbench: true
        };
    }
    const org = await startLocalOrg({
        port: 0,
        dbPath: ':memory:',
        ...orgOptions
    });
    const conn = connectionFor(org);
    const t: TestOrg = {
        org,
        instanceUrl: org.instanceUrl,
        accessToken: org.accessToken,
        conn,
        admin: org.admin,
        close: () => org.close()
    };
    try {
        if (deploy) {
            const summary = await deployPackage(
                t,
                typeof deploy === 'string' ? deploy : 'force-app'
            );
            if (!summary.success) {
                throw new Error(
                    `deploy of ${typeof deploy === 'string' ? deploy : 'force-app'} failed: ${summary.componentFailures
                        .map(
                            (f) =>
                                `${f.componentType} ${f.fullName}: ${f.problem ?? ''}`
                        )
                        .join('; ')}`
                );
            }
            // Deploying is setup: start the test with clean counters.
            org.admin.resetStats();
            org.admin.resetUsage();
        }
    } catch (err) {
        await org.close();
        throw err;
    }
    return t;
}

/** Whether a source folder holds Translations or CustomObjectTranslation components. */
export function hasTranslations(dir: string): boolean {
    if (!existsSync(dir)) return false;
    return readdirSync(dir, { withFileTypes: true }).some(
        (entry) =>
            entry.isDirectory() &&
            entry.name !== 'node_modules' &&
            (entry.name === 'translations' ||
                entry.name === 'objectTranslations' ||
                hasTranslations(join(dir, entry.name)))
    );
}

function sourceFingerprint(dir: string): string {
    const hash = createHash('sha256');
    const walk = (d: string): void => {
        for (const entry of readdirSync(d, { withFileTypes: true }).sort(
            (a, b) => a.name.localeCompare(b.name)
        )) {
            const p = join(d, entry.name);
            if (entry.isDirectory()) {
                if (entry.name === '__tests__' || entry.name === 'node_modules')
                    continue;
                walk(p);
            } else {
                const st = statSync(p);
                hash.update(`${relative(dir, p)}:${st.size}:${st.mtimeMs}\n`);
            }
        }
    };
    walk(dir);
    return hash.digest('hex').slice(0, 24);
}

/**
 * Deploys a source-format folder through source-deploy-retrieve's REST deploy — the
 * path `sf project deploy start` takes. The converted zip is cached on disk (keyed
 * by the folder's file names, sizes and times) so later test files skip the
 * conversion and send the same zip through jsforce's `metadata.deployRest`.
 */
export async function deployPackage(
    target: { instanceUrl: string; accessToken: string },
    sourceDir = 'force-app',
    options: { checkOnly?: boolean; useCache?: boolean } = {}
): Promise<DeploySummary> {
    const dir = resolve(REPO_ROOT, sourceDir);
    if (!existsSync(dir)) throw new Error(`no source folder ${dir}`);
    const cacheDir = join(os.tmpdir(), 'optout-local-org-deploy-cache');
    const cacheFile = join(cacheDir, `${sourceFingerprint(dir)}.zip`);
    const conn = connectionFor(target);
    let id: string;
    if (options.useCache !== false && existsSync(cacheFile)) {
        const zip = readFileSync(cacheFile);
        const res = (await conn.metadata.deployRest(zip, {
            rollbackOnError: true,
            singlePackage: true,
            checkOnly: options.checkOnly === true
        })) as unknown as { id: string };
        id = res.id;
    } else {
        const { preferred_username: username } = (await conn.request(
            '/services/oauth2/userinfo'
        )) as { preferred_username: string };
        id = await withSalesforceHome(async () => {
            const core =
                load<typeof import('@salesforce/core')>('@salesforce/core');
            const sdr = load<
                typeof import('@salesforce/source-deploy-retrieve')
            >('@salesforce/source-deploy-retrieve');
            const authInfo = await core.AuthInfo.create({
                accessTokenOptions: {
                    accessToken: target.accessToken,
                    instanceUrl: target.instanceUrl,
                    loginUrl: target.instanceUrl
                }
            });
            const coreConn = await core.Connection.create({ authInfo });
            coreConn.setApiVersion(LOCAL_ORG_API_VERSION);
            const components = sdr.ComponentSet.fromSource(dir);
            const deploy = await components.deploy({
                usernameOrConnection: coreConn,
                apiOptions: {
                    rest: true,
                    checkOnly: options.checkOnly === true
                }
            });
            // Cache the zip for the next test file (conversion is the slow part).
            try {
                const converted = await new sdr.MetadataConverter().convert(
                    components,
                    'metadata',
                    { type: 'zip' }
                );
                if (converted.zipBuffer) {
                    // Write then rename: parallel test workers may read it meanwhile.
                    mkdirSync(cacheDir, { recursive: true });
                    const tmp = `${cacheFile}.${process.pid}.tmp`;
                    writeFileSync(tmp, converted.zipBuffer);
                    renameSync(tmp, cacheFile);
                }
            } catch {
                // caching is an optimisation only
            }
            return deploy.id as string;
        }, username);
    }
    return waitForDeploy(conn, id);
}

/** Polls a REST deploy until it is done and summarises it. */
export async function waitForDeploy(
    conn: Connection,
    id: string,
    timeoutMs = 60_000
): Promise<DeploySummary> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const res = (await conn.metadata.checkDeployStatus(
            id,
            true,
            true
        )) as unknown as Record<string, unknown>;
        if (res.done === true) {
            const details = (res.details ?? {}) as {
                componentFailures?: DeploySummary['componentFailures'];
                componentSuccesses?: Array<{
                    fullName: string;
                    componentType: string;
                    problem?: string;
                    problemType?: string;
                }>;
            };
            return {
                id,
                status: String(res.status),
                success: res.success === true,
                numberComponentsDeployed: Number(res.numberComponentsDeployed),
                numberComponentsTotal: Number(res.numberComponentsTotal),
                componentFailures: details.componentFailures ?? [],
                warnings: (details.componentSuccesses ?? []).filter(
                    (m) => m.problemType === 'Warning'
                )
            };
        }
        if (Date.now() > end)
            throw new Error(
                `deploy ${id} did not finish within ${timeoutMs} ms`
            );
        await new Promise((r) => setTimeout(r, 20));
    }
}

function csvCell(v: unknown): string {
    if (v === undefined) return '';
    if (v === null) return '#N/A';
    const s =
        v instanceof Date
            ? v.toISOString()
            : typeof v === 'boolean'
              ? String(v)
              : String(v);
    return `"${s.replace(/"/g, '""')}"`;
}

async function api(
    target: { instanceUrl: string; accessToken: string },
    method: string,
    path: string,
    body?: string,
    contentType = 'application/json'
): Promise<{ status: number; text: string; headers: Headers }> {
    const res = await fetch(
        `${target.instanceUrl}/services/data/v${LOCAL_ORG_API_VERSION}${path}`,
        {
            method,
            headers: {
                Authorization: `Bearer ${target.accessToken}`,
                ...(body !== undefined ? { 'Content-Type': contentType } : {})
            },
            body
        }
    );
    return { status: res.status, text: await res.text(), headers: res.headers };
}

function parseCsv(text: string): string[][] {
    const rows: string[][] = [];
    let row: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quoted) {
            if (c === '"' && text[i + 1] === '"') {
                cell += '"';
                i++;
            } else if (c === '"') quoted = false;
            else cell += c;
        } else if (c === '"') quoted = true;
        else if (c === ',') {
            row.push(cell);
            cell = '';
        } else if (c === '\n') {
            row.push(cell);
            rows.push(row);
            row = [];
            cell = '';
        } else if (c !== '\r') cell += c;
    }
    if (cell !== '' || row.length) {
        row.push(cell);
        rows.push(row);
    }
    return rows;
}

/**
 * Inserts records through the org's Bulk API 2.0 (one job) and returns their ids in
 * input order. Fails with the org's per-record errors if any record is rejected.
 * Counts against the org's API usage like any client: reset stats after seeding if
 * the test measures requests.
 *
 * Seeded records are the org's existing data, so duplicates among them (a Contact
 * and a Lead with one email) are allowed: the org's duplicate rules are off while the
 * job runs (as an admin deactivates them for a data load) and back on after it. A
 * Bulk job can't send the duplicate rule header.
 */
export async function seedRecords(
    target: { instanceUrl: string; accessToken: string },
    objectName: string,
    records: Array<Record<string, unknown>>
): Promise<string[]> {
    if (records.length === 0) return [];
    const options = async (
        method: 'GET' | 'PUT',
        body?: unknown
    ): Promise<{ duplicateRules?: boolean }> => {
        const res = await fetch(`${target.instanceUrl}/local/options`, {
            method,
            headers: {
                Authorization: `Bearer ${target.accessToken}`,
                'Content-Type': 'application/json'
            },
            body: body === undefined ? undefined : JSON.stringify(body)
        });
        if (!res.ok)
            throw new Error(`seed: /local/options: ${await res.text()}`);
        return (await res.json()) as { duplicateRules?: boolean };
    };
    const rulesOn = (await options('GET')).duplicateRules === true;
    if (rulesOn) await options('PUT', { duplicateRules: false });
    try {
        return await insertThroughBulk(target, objectName, records);
    } finally {
        if (rulesOn) await options('PUT', { duplicateRules: true });
    }
}

async function insertThroughBulk(
    target: { instanceUrl: string; accessToken: string },
    objectName: string,
    records: Array<Record<string, unknown>>
): Promise<string[]> {
    if (records.length === 0) return [];
    const columns = [...new Set(records.flatMap((r) => Object.keys(r)))];
    const lines = [columns.map((c) => `"${c}"`).join(',')];
    for (const r of records)
        lines.push(columns.map((c) => csvCell(r[c])).join(','));
    const created = await api(
        target,
        'POST',
        '/jobs/ingest',
        JSON.stringify({
            object: objectName,
            operation: 'insert',
            contentType: 'CSV'
        })
    );
    if (created.status !== 200)
        throw new Error(`seed ${objectName}: ${created.text}`);
    const jobId = (JSON.parse(created.text) as { id: string }).id;
    const upload = await api(
        target,
        'PUT',
        `/jobs/ingest/${jobId}/batches`,
        `${lines.join('\n')}\n`,
        'text/csv'
    );
    if (upload.status !== 201)
        throw new Error(`seed ${objectName}: ${upload.text}`);
    await api(
        target,
        'PATCH',
        `/jobs/ingest/${jobId}`,
        JSON.stringify({ state: 'UploadComplete' })
    );
    for (;;) {
        const info = JSON.parse(
            (await api(target, 'GET', `/jobs/ingest/${jobId}`)).text
        ) as {
            state: string;
            errorMessage?: string;
            numberRecordsFailed: number;
        };
        if (info.state === 'JobComplete') {
            if (info.numberRecordsFailed > 0) {
                const failed = parseCsv(
                    (
                        await api(
                            target,
                            'GET',
                            `/jobs/ingest/${jobId}/failedResults`
                        )
                    ).text
                );
                throw new Error(
                    `seed ${objectName}: ${info.numberRecordsFailed} records failed: ${failed
                        .slice(1, 4)
                        .map((r) => r[1])
                        .join('; ')}`
                );
            }
            break;
        }
        if (info.state === 'Failed' || info.state === 'Aborted') {
            throw new Error(
                `seed ${objectName}: job ${info.state}: ${info.errorMessage ?? ''}`
            );
        }
        await new Promise((r) => setTimeout(r, 10));
    }
    const ok = parseCsv(
        (await api(target, 'GET', `/jobs/ingest/${jobId}/successfulResults`))
            .text
    );
    await api(target, 'DELETE', `/jobs/ingest/${jobId}`);
    // The org writes results in input order (Salesforce does not promise an order).
    return ok.slice(1).map((r) => r[0]);
}

/** Generates `n` simple Contacts (or Leads) for volume tests. */
export function fakePeople(
    n: number,
    options: {
        type?: 'Contact' | 'Lead';
        offset?: number;
        domain?: string;
    } = {}
): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    const offset = options.offset ?? 0;
    for (let i = offset; i < offset + n; i++) {
        const rec: Record<string, unknown> = {
            FirstName: `First${i}`,
            LastName: `Last${i}`,
            Email: `person${i}@${options.domain ?? 'example.com'}`
        };
        if (options.type === 'Lead') rec.Company = `Company ${i % 1000}`;
        out.push(rec);
    }
    return out;
}
