/**
 * `optout deploy --target-org X` — deploys the package (`force-app`) with
 * @salesforce/source-deploy-retrieve, as `sf project deploy start` does (REST deploy for
 * the local org; SOAP for other orgs unless SF_ORG_METADATA_REST_DEPLOY=true), shows
 * progress, reports failures component by component, then assigns the
 * Opt_Out_Sync_Integration permission set to the user the sync runs as — where the org
 * has PermissionSetAssignment (the local org has none; it says so).
 *
 * Then the translations (`force-app-translations`), in a deploy of their own: an org
 * without Translation Workbench refuses a deploy that contains Translations or
 * CustomObjectTranslation as a whole, so they cannot travel with the package. When the
 * org refuses them, one line says what to enable and how to add them later
 * (`--translations-only`); the package deploy still counts as a success.
 *
 * Apex tests: `--test-level` / `--tests`, else on a production org only the package's
 * own test classes (RunSpecifiedTests), elsewhere the org's default (see deploy-plan.ts).
 */
import { join, relative, resolve } from 'node:path';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { OptoutError, errorMessage } from '../../model/errors';
import { openOrg } from '../../salesforce/open';
import type { OrgClient, SObjectRow } from '../../salesforce/client';
import { soqlQuote } from '../../salesforce/soql';
import { summaryOf } from './index';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import { renderPairs, renderTable } from '../table';
import { targetOrgOption } from './sync';
import {
    apexTestClasses,
    isWorkbenchRefusal,
    parseTestOptions,
    planTests,
    workbenchHint,
    type OrgKind,
    type TestPlan
} from './deploy-plan';

export const INTEGRATION_PERMISSION_SET = 'Opt_Out_Sync_Integration';
/**
 * Optional: Modify All on Contact and Lead, for orgs where the sync must update records
 * it cannot otherwise edit (a Contact without an Account is private to its owner, and
 * sharing rules don't apply to it). Assigned only with `--modify-all`.
 */
export const MODIFY_ALL_PERMISSION_SET = 'Opt_Out_Sync_Integration_Modify_All';
export const TRANSLATIONS_DIR = 'force-app-translations';

interface DeployOptions {
    targetOrg: string;
    sourceDir: string;
    translationsDir: string;
    translations: boolean;
    translationsOnly?: boolean;
    checkOnly?: boolean;
    wait: string;
    assignPermissionSet: boolean;
    modifyAll?: boolean;
    testLevel?: string;
    tests?: string;
}

/** What one Metadata deploy sends besides the zip. */
interface ApiOptions {
    checkOnly: boolean;
    testLevel?: string;
    runTests?: string[];
}

export interface ComponentFailure {
    type: string;
    fullName: string;
    filePath: string | null;
    line: number | null;
    column: number | null;
    problem: string;
}

export interface PermissionSetReport {
    name: string;
    supported: boolean;
    assigned: boolean;
    alreadyAssigned?: boolean;
    message: string;
}

export interface TranslationsReport {
    sourceDir: string;
    /**
     * deployed/validated; refused: the org has no Translation Workbench (or lacks the
     * languages), the package still counts as installed; failed: another problem;
     * skipped: --no-translations or the package deploy failed; absent: no such folder.
     */
    status:
        'deployed' | 'validated' | 'refused' | 'failed' | 'skipped' | 'absent';
    deployId: string | null;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    failures: ComponentFailure[];
    message: string;
}

export interface DeployReport {
    status: 'succeeded' | 'failed' | 'partial';
    targetOrg: string;
    /** The folder of the first deploy: the package, or the translations with --translations-only. */
    sourceDir: string;
    deployId: string | null;
    checkOnly: boolean;
    rest: boolean;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    components: Record<string, number>;
    failures: ComponentFailure[];
    /** The Apex tests the package deploy asked for (null: the org's default). */
    testLevel: string | null;
    runTests: string[];
    testLevelReason: string;
    translations: TranslationsReport | null;
    permissionSet: PermissionSetReport | null;
    /** Opt_Out_Sync_Integration_Modify_All: assigned with --modify-all, else null. */
    modifyAllPermissionSet: PermissionSetReport | null;
    apiRequests: number;
    durationMs: number;
}

function load<T>(name: string): T {
    // Heavy libraries, loaded only by this command.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
}

type CoreConnection = import('@salesforce/core').Connection;

function progressBar(out: Output): {
    update(done: number, total: number): void;
    stop(): void;
} {
    let bar: SingleBar | undefined;
    return {
        update(done, total) {
            if (!out.showProgress || total <= 0) return;
            if (!bar) {
                bar = new SingleBar({
                    format: 'Deploying [{bar}] {value}/{total} components',
                    hideCursor: true,
                    stream: process.stderr
                });
                bar.start(total, done);
            }
            bar.setTotal(total);
            bar.update(done);
        },
        stop() {
            bar?.stop();
        }
    };
}

/** The local org's running user (its jsforce connection has no username): from userinfo. */
async function localUsername(client: OrgClient): Promise<string | undefined> {
    const conn = client.conn as unknown as import('jsforce').Connection;
    const info = await conn.request<{ preferred_username?: string }>(
        '/services/oauth2/userinfo'
    );
    return info.preferred_username;
}

/** Assigns a permission set of the package to the running user, where the org can. */
async function assignPermissionSet(
    client: OrgClient,
    conn: CoreConnection | null,
    name: string
): Promise<PermissionSetReport> {
    const global = await client.request<{ sobjects: { name: string }[] }>({
        method: 'GET',
        path: '/sobjects'
    });
    if (!global.body.sobjects.some((s) => s.name === 'PermissionSetAssignment'))
        return {
            name,
            supported: false,
            assigned: false,
            message: `${client.targetOrg} has no PermissionSetAssignment object (the local org deploys permission sets but does not enforce or assign them): nothing assigned.`
        };
    try {
        const username = conn?.getUsername() ?? (await localUsername(client));
        const users = await client.queryAll<{ Id: string }>(
            `SELECT Id FROM User WHERE Username = ${soqlQuote(username ?? '')}`
        );
        const sets = await client.queryAll<{ Id: string }>(
            `SELECT Id FROM PermissionSet WHERE Name = ${soqlQuote(name)}`
        );
        if (!users[0] || !sets[0])
            throw new Error(
                !users[0]
                    ? `no user ${username ?? '(unknown)'}`
                    : `no permission set ${name} after the deploy`
            );
        const existing = await client.queryAll(
            `SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = ${soqlQuote(users[0].Id)} AND PermissionSetId = ${soqlQuote(sets[0].Id)}`
        );
        if (existing.length)
            return {
                name,
                supported: true,
                assigned: true,
                alreadyAssigned: true,
                message: `${name} was already assigned to ${username}.`
            };
        await client.createRecord('PermissionSetAssignment', {
            AssigneeId: users[0].Id,
            PermissionSetId: sets[0].Id
        });
        return {
            name,
            supported: true,
            assigned: true,
            message: `Assigned ${name} to ${username}.`
        };
    } catch (err) {
        return {
            name,
            supported: true,
            assigned: false,
            message: `Could not assign ${name}: ${errorMessage(err)}. Assign it with: sf org assign permset --name ${name} --target-org ${client.targetOrg}`
        };
    }
}

type Sdr = typeof import('@salesforce/source-deploy-retrieve');
type ComponentSetT = ReturnType<Sdr['ComponentSet']['fromSource']>;
type DeployStatus =
    import('@salesforce/source-deploy-retrieve').MetadataApiDeployStatus;
type FileResponse = import('@salesforce/source-deploy-retrieve').FileResponse;

function asArray<T>(v: T | T[] | undefined | null): T[] {
    if (v === undefined || v === null) return [];
    return Array.isArray(v) ? v : [v];
}

interface SourceNode {
    type: { name: string };
    fullName: string;
    xml?: string;
    getChildren(): SourceNode[];
}

/** `Type:FullName` → the source file, for messages (children included). */
function sourcePaths(components: ComponentSetT): Map<string, string> {
    const out = new Map<string, string>();
    const add = (c: SourceNode): void => {
        if (c.xml)
            out.set(
                `${c.type.name}:${c.fullName}`,
                relative(process.cwd(), c.xml) || c.xml
            );
        for (const child of c.getChildren()) add(child);
    };
    for (const c of components.getSourceComponents())
        add(c as unknown as SourceNode);
    return out;
}

interface Deployed {
    response: DeployStatus;
    fileResponses: FileResponse[];
    conn: CoreConnection | null;
}

/** The Metadata API's options for one deploy: atomic, tests as planned. */
function deployOptionsOf(api: ApiOptions): {
    rollbackOnError: true;
    checkOnly: boolean;
    testLevel?: TestPlan['testLevel'] & string;
    runTests?: string[];
} {
    return {
        rollbackOnError: true,
        checkOnly: api.checkOnly,
        ...(api.testLevel
            ? { testLevel: api.testLevel as TestPlan['testLevel'] & string }
            : {}),
        ...(api.runTests?.length ? { runTests: api.runTests } : {})
    };
}

/**
 * The local org: SDR converts the package to a zip, jsforce sends it through the
 * Metadata REST deploy (as `sf project deploy start` does with REST deploys), polled here.
 */
async function deployZip(
    client: OrgClient,
    sdr: Sdr,
    components: ComponentSetT,
    api: ApiOptions,
    bar: { update(done: number, total: number): void }
): Promise<Deployed> {
    const converted = await new sdr.MetadataConverter().convert(
        components,
        'metadata',
        { type: 'zip' }
    );
    if (!converted.zipBuffer)
        throw new OptoutError(
            'DEPLOY_FAILED',
            'The package could not be converted to a deploy zip.'
        );
    const conn = client.conn as unknown as import('jsforce').Connection;
    const started = (await conn.metadata.deployRest(converted.zipBuffer, {
        singlePackage: true,
        ...deployOptionsOf(api)
    })) as unknown as { id: string };
    for (;;) {
        const status = (await conn.metadata.checkDeployStatus(
            started.id,
            true,
            true // over REST: the local org has no SOAP API
        )) as unknown as DeployStatus;
        bar.update(
            Number(status.numberComponentsDeployed ?? 0),
            Number(status.numberComponentsTotal ?? 0)
        );
        if (String(status.done) === 'true')
            return { response: status, fileResponses: [], conn: null };
        await client.sleep(100);
    }
}

/** Other orgs: SDR's deploy on the org's @salesforce/core connection. */
async function deploySdr(
    client: OrgClient,
    components: ComponentSetT,
    api: ApiOptions,
    rest: boolean,
    wait: number,
    bar: { update(done: number, total: number): void },
    out: Output
): Promise<Deployed> {
    const conn = client.conn as unknown as CoreConnection;
    const op = await components.deploy({
        usernameOrConnection: conn,
        apiOptions: { rest, ...deployOptionsOf(api) }
    });
    out.log('info', `Deploy ${op.id ?? ''} started`);
    op.onUpdate((st) =>
        bar.update(
            Number(st.numberComponentsDeployed ?? 0),
            Number(st.numberComponentsTotal ?? 0)
        )
    );
    // Frequency in ms, timeout in seconds.
    const result = await op.pollStatus(2000, wait * 60);
    return {
        response: result.response,
        fileResponses: result.getFileResponses(),
        conn
    };
}

/** The outcome of one Metadata deploy, component by component. */
interface Phase {
    ok: boolean;
    deployId: string | null;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    components: Record<string, number>;
    failures: ComponentFailure[];
    conn: CoreConnection | null;
}

/** Deploys one source folder and accounts for every component. */
async function deployFolder(
    client: OrgClient,
    sdr: Sdr,
    sourceDir: string,
    api: ApiOptions,
    ctx: { rest: boolean; wait: number; out: Output }
): Promise<Phase> {
    const bar = progressBar(ctx.out);
    try {
        const components = sdr.ComponentSet.fromSource(sourceDir);
        const { response, fileResponses, conn } = await client.meter.run(() =>
            client.local
                ? deployZip(client, sdr, components, api, bar)
                : deploySdr(
                      client,
                      components,
                      api,
                      ctx.rest,
                      ctx.wait,
                      bar,
                      ctx.out
                  )
        );
        bar.stop();
        const counts: Record<string, number> = {};
        const failures: ComponentFailure[] = [];
        for (const f of fileResponses) {
            counts[f.state] = (counts[f.state] ?? 0) + 1;
            if (f.state === 'Failed')
                failures.push({
                    type: f.type,
                    fullName: f.fullName,
                    filePath: f.filePath ?? null,
                    line: f.lineNumber ?? null,
                    column: f.columnNumber ?? null,
                    problem: f.error
                });
        }
        // Failures the org reported that no file response carries.
        const where = sourcePaths(components);
        for (const c of asArray(response.details?.componentFailures)) {
            if (
                failures.some(
                    (f) =>
                        f.fullName === c.fullName && f.type === c.componentType
                )
            )
                continue;
            failures.push({
                type: c.componentType ?? '',
                fullName: c.fullName,
                filePath:
                    where.get(`${c.componentType}:${c.fullName}`) ??
                    c.fileName ??
                    null,
                line: c.lineNumber ? Number(c.lineNumber) : null,
                column: c.columnNumber ? Number(c.columnNumber) : null,
                problem: c.problem ?? ''
            });
        }
        if (fileResponses.length === 0)
            for (const c of asArray(response.details?.componentSuccesses)) {
                if (c.fullName === 'package.xml') continue;
                const state =
                    String(c.created) === 'true'
                        ? 'Created'
                        : String(c.changed) === 'true'
                          ? 'Changed'
                          : 'Unchanged';
                counts[state] = (counts[state] ?? 0) + 1;
            }
        return {
            ok:
                response.success === true ||
                String(response.success) === 'true',
            deployId: response.id ?? null,
            numberComponentsDeployed: Number(
                response.numberComponentsDeployed ?? 0
            ),
            numberComponentsTotal: Number(response.numberComponentsTotal ?? 0),
            components: counts,
            failures,
            conn
        };
    } finally {
        bar.stop();
    }
}

/** The Organization fields that tell production from the rest; null when unreadable. */
async function readOrgKind(
    client: OrgClient,
    out: Output
): Promise<OrgKind | null> {
    try {
        const rows = await client.queryAll<SObjectRow & OrgKind>(
            'SELECT Id, IsSandbox, OrganizationType, TrialExpirationDate FROM Organization'
        );
        return rows[0] ?? null;
    } catch (err) {
        out.log(
            'warn',
            `Could not read the Organization record: ${errorMessage(err)}`
        );
        return null;
    }
}

/** The package's Apex test classes (for RunSpecifiedTests), from its classes folders. */
export function packageTestClasses(sourceDir: string): string[] {
    const classes: { name: string; source: string }[] = [];
    const walk = (dir: string): void => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            const full = join(dir, entry.name);
            if (entry.isDirectory()) {
                if (entry.name !== 'node_modules' && entry.name !== '__tests__')
                    walk(full);
            } else if (entry.name.endsWith('.cls'))
                classes.push({
                    name: entry.name.slice(0, -'.cls'.length),
                    source: readFileSync(full, 'utf8')
                });
        }
    };
    if (existsSync(sourceDir)) walk(sourceDir);
    return apexTestClasses(classes);
}

function failureTable(failures: ComponentFailure[]): string {
    return renderTable(
        ['Type', 'Component', 'File', 'Line', 'Problem'],
        failures.map((f) => [f.type, f.fullName, f.filePath, f.line, f.problem])
    );
}

function human(r: DeployReport): string {
    const verb = r.checkOnly ? 'Validated' : 'Deployed';
    const head =
        r.status === 'failed' && r.failures.length
            ? `Deploy of ${r.sourceDir} to ${r.targetOrg} failed: ${r.failures.length} component problem(s); nothing was changed.`
            : `${verb} ${r.sourceDir} to ${r.targetOrg}: ${r.numberComponentsDeployed} of ${r.numberComponentsTotal} components.`;
    const tests = r.testLevel
        ? `${r.testLevel}${r.runTests.length ? ` (${r.runTests.join(', ')})` : ''}`
        : 'org default';
    const parts = [
        head,
        renderPairs([
            ['Deploy id', r.deployId],
            ['API', r.rest ? 'Metadata REST deploy' : 'Metadata SOAP deploy'],
            [
                'Components',
                Object.entries(r.components)
                    .map(([k, n]) => `${k.toLowerCase()} ${n}`)
                    .join(', ')
            ],
            ['Apex tests', `${tests}: ${r.testLevelReason}`],
            ['API requests', r.apiRequests],
            ['Duration', `${(r.durationMs / 1000).toFixed(1)} s`]
        ])
    ];
    if (r.failures.length) parts.push(failureTable(r.failures));
    const t = r.translations;
    if (t && t.status !== 'absent') {
        parts.push(t.message);
        if (t.status === 'failed' && t.failures.length)
            parts.push(failureTable(t.failures));
    }
    if (r.permissionSet) parts.push(r.permissionSet.message);
    if (r.modifyAllPermissionSet) parts.push(r.modifyAllPermissionSet.message);
    else if (r.permissionSet?.assigned)
        parts.push(
            `Contacts without an Account are private to their owner: if the sync must update them, also assign ${MODIFY_ALL_PERMISSION_SET} (Modify All on Contact and Lead) with optout deploy --modify-all, or: sf org assign permset --name ${MODIFY_ALL_PERMISSION_SET} --target-org ${r.targetOrg}`
        );
    return parts.join('\n');
}

/** Checks the folders and the arguments; nothing is sent before they are right. */
function checkArguments(opts: DeployOptions): {
    sourceDir: string;
    translationsDir: string;
    wait: number;
    requested: ReturnType<typeof parseTestOptions>;
} {
    const sourceDir = resolve(opts.sourceDir);
    const translationsDir = resolve(opts.translationsDir);
    const folder = opts.translationsOnly ? translationsDir : sourceDir;
    if (!existsSync(folder))
        throw new OptoutError('BAD_ARGUMENT', `No source folder ${folder}.`, {
            actions: [
                opts.translationsOnly
                    ? 'Run it from the project folder, or pass --translations-dir'
                    : 'Run it from the project folder, or pass --source-dir'
            ],
            exitCode: 2
        });
    if (opts.translationsOnly && !opts.translations)
        throw new OptoutError(
            'BAD_ARGUMENT',
            '--translations-only and --no-translations contradict each other.',
            { exitCode: 2 }
        );
    const wait = Number(opts.wait);
    if (!Number.isFinite(wait) || wait <= 0)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--wait must be a number of minutes, not '${opts.wait}'.`,
            { exitCode: 2 }
        );
    const requested = parseTestOptions(opts.testLevel, opts.tests);
    if (opts.translationsOnly && requested.testLevel)
        throw new OptoutError(
            'BAD_ARGUMENT',
            '--test-level and --tests apply to the package deploy; the translations hold no Apex.',
            { exitCode: 2 }
        );
    return { sourceDir, translationsDir, wait, requested };
}

/** Deploys the translations folder after the package; a refusal is not a failure. */
async function deployTranslations(
    client: OrgClient,
    sdr: Sdr,
    dir: string,
    opts: DeployOptions,
    ctx: { rest: boolean; wait: number; out: Output }
): Promise<TranslationsReport> {
    const base = {
        sourceDir: opts.translationsDir,
        deployId: null,
        numberComponentsDeployed: 0,
        numberComponentsTotal: 0,
        failures: []
    };
    if (!existsSync(dir))
        return {
            ...base,
            status: 'absent',
            message: `No translations folder ${opts.translationsDir}: only the package was deployed.`
        };
    // No Apex in the translations: no test level (production runs no tests then).
    let phase: Phase;
    try {
        phase = await deployFolder(
            client,
            sdr,
            dir,
            { checkOnly: opts.checkOnly === true },
            ctx
        );
    } catch (err) {
        // The package is in: an error now must not read as "nothing deployed".
        return {
            ...base,
            status: 'failed',
            message: `Deploy of the translations (${opts.translationsDir}) to ${client.targetOrg} failed: ${errorMessage(err)}; the package itself is deployed. Retry with: optout deploy --target-org ${client.targetOrg} --translations-only`
        };
    }
    const done = {
        ...base,
        deployId: phase.deployId,
        numberComponentsDeployed: phase.numberComponentsDeployed,
        numberComponentsTotal: phase.numberComponentsTotal,
        failures: phase.failures
    };
    if (phase.ok)
        return {
            ...done,
            status: opts.checkOnly ? 'validated' : 'deployed',
            message: `${opts.checkOnly ? 'Validated' : 'Deployed'} the translations (${opts.translationsDir}): ${phase.numberComponentsDeployed} of ${phase.numberComponentsTotal} components.`
        };
    if (isWorkbenchRefusal(phase.failures))
        return {
            ...done,
            status: 'refused',
            message: workbenchHint(client.targetOrg)
        };
    return {
        ...done,
        status: 'failed',
        message: `Deploy of the translations (${opts.translationsDir}) to ${client.targetOrg} failed: ${phase.failures.length} component problem(s); the package itself is deployed.`
    };
}

async function deploy(opts: DeployOptions, out: Output): Promise<number> {
    const targetOrg = targetOrgOption(opts.targetOrg);
    const { sourceDir, translationsDir, wait, requested } =
        checkArguments(opts);
    const started = Date.now();
    const client = await openOrg(targetOrg, {
        log: (level, message) => out.log(level, message)
    });
    try {
        const sdr = load<Sdr>('@salesforce/source-deploy-retrieve');
        const rest =
            client.local || process.env.SF_ORG_METADATA_REST_DEPLOY === 'true';
        const ctx = { rest, wait, out };
        const checkOnly = opts.checkOnly === true;
        const plan: TestPlan = opts.translationsOnly
            ? { testLevel: null, runTests: [], reason: 'no Apex deployed' }
            : planTests(
                  requested,
                  requested.testLevel ? null : await readOrgKind(client, out),
                  packageTestClasses(sourceDir)
              );
        const first = await deployFolder(
            client,
            sdr,
            opts.translationsOnly ? translationsDir : sourceDir,
            {
                checkOnly,
                testLevel: plan.testLevel ?? undefined,
                runTests: plan.runTests
            },
            ctx
        );
        const report: DeployReport = {
            status: first.ok ? 'succeeded' : 'failed',
            targetOrg,
            sourceDir: opts.translationsOnly
                ? opts.translationsDir
                : opts.sourceDir,
            deployId: first.deployId,
            checkOnly,
            rest,
            numberComponentsDeployed: first.numberComponentsDeployed,
            numberComponentsTotal: first.numberComponentsTotal,
            components: first.components,
            failures: first.failures,
            testLevel: plan.testLevel,
            runTests: plan.runTests,
            testLevelReason: plan.reason,
            translations: null,
            permissionSet: null,
            modifyAllPermissionSet: null,
            apiRequests: 0,
            durationMs: 0
        };
        if (opts.translationsOnly) {
            if (!first.ok && isWorkbenchRefusal(first.failures))
                report.translations = {
                    sourceDir: opts.translationsDir,
                    status: 'refused',
                    deployId: first.deployId,
                    numberComponentsDeployed: 0,
                    numberComponentsTotal: first.numberComponentsTotal,
                    failures: first.failures,
                    message: workbenchHint(targetOrg)
                };
        } else if (first.ok && opts.translations) {
            report.translations = await deployTranslations(
                client,
                sdr,
                translationsDir,
                opts,
                ctx
            );
            if (report.translations.status === 'failed')
                report.status = 'partial';
        } else
            report.translations = {
                sourceDir: opts.translationsDir,
                status: 'skipped',
                deployId: null,
                numberComponentsDeployed: 0,
                numberComponentsTotal: 0,
                failures: [],
                message: first.ok
                    ? `Translations skipped (--no-translations). Add them later with: optout deploy --target-org ${targetOrg} --translations-only`
                    : 'Translations not attempted: the package deploy failed.'
            };
        if (
            first.ok &&
            !checkOnly &&
            !opts.translationsOnly &&
            opts.assignPermissionSet
        ) {
            report.permissionSet = await assignPermissionSet(
                client,
                first.conn,
                INTEGRATION_PERMISSION_SET
            );
            if (opts.modifyAll)
                report.modifyAllPermissionSet = await assignPermissionSet(
                    client,
                    first.conn,
                    MODIFY_ALL_PERMISSION_SET
                );
            for (const set of [
                report.permissionSet,
                report.modifyAllPermissionSet
            ])
                if (set?.supported && !set.assigned) report.status = 'partial';
        }
        report.apiRequests = client.apiRequests;
        report.durationMs = Date.now() - started;
        out.result(report, () => human(report));
        return report.status === 'succeeded' ? 0 : 1;
    } finally {
        await client.close();
    }
}

export const register: CommandModule = (program: Command) => {
    program
        .command('deploy')
        .description(summaryOf('deploy'))
        .requiredOption(
            '--target-org <org>',
            'org alias or username known to the sf CLI, or "local"'
        )
        .option('--source-dir <dir>', 'the package folder', 'force-app')
        .option(
            '--translations-dir <dir>',
            'the translations folder, deployed after the package',
            TRANSLATIONS_DIR
        )
        .option(
            '--no-translations',
            'deploy the package only, not its translations'
        )
        .option(
            '--translations-only',
            'deploy only the translations (after enabling Translation Workbench)'
        )
        .option(
            '--test-level <level>',
            'Apex tests the deploy runs: NoTestRun, RunSpecifiedTests, RunLocalTests or RunAllTestsInOrg (default: the package’s own tests on production, the org’s default elsewhere)'
        )
        .option(
            '--tests <classes>',
            'comma-separated Apex test classes for RunSpecifiedTests (default: the package’s own)'
        )
        .option('--check-only', 'validate the deploy without saving it')
        .option('--wait <minutes>', 'give up waiting after this long', '30')
        .option(
            '--no-assign-permission-set',
            'do not assign Opt_Out_Sync_Integration after the deploy'
        )
        .option(
            '--modify-all',
            `also assign ${MODIFY_ALL_PERMISSION_SET} (Modify All on Contact and Lead, for Contacts without an Account and private Leads)`
        )
        .action(async (opts: DeployOptions, cmd: Command) =>
            runCommand(cmd, (out) => deploy(opts, out))
        );
};
