/**
 * Deploys the package (`force-app`) to an org with @salesforce/source-deploy-retrieve,
 * as `sf project deploy start` does (REST deploy for the local org; SOAP for other orgs
 * unless SF_ORG_METADATA_REST_DEPLOY=true), accounts for every component, then assigns
 * the Opt_Out_Sync_Integration permission set to the user the sync runs as — where the
 * org has PermissionSetAssignment (the local org has none; the report says so).
 *
 * Then the translations (`force-app-translations`), in a deploy of their own: an org
 * without Translation Workbench refuses a deploy that contains Translations or
 * CustomObjectTranslation as a whole, so they cannot travel with the package. A refusal
 * is reported with what to enable; the package deploy still counts as a success.
 *
 * Apex tests: as asked, else on a production org only the package's own test classes
 * (RunSpecifiedTests), elsewhere the org's default (deploy-plan.ts).
 *
 * `deployPackage(client, options, hooks)` is the engine `optout deploy` runs; it returns
 * a DeployReport (deploy-report.ts) and prints nothing. Source-deploy-retrieve is loaded
 * inside the functions that deploy, never when this file is loaded, so that a command
 * that does not deploy (or `optout deploy --help`) does not pay for it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { OptoutError, errorMessage } from '../model/errors';
import type { LogFn } from '../model/log';
import type { OrgClient, SObjectRow } from './client';
import {
    NO_REQUESTED_TESTS,
    apexTestClasses,
    checkRequestedTests,
    planTests,
    type OrgKind,
    type RequestedTests,
    type TestPlan
} from './deploy-plan';
import {
    INTEGRATION_PERMISSION_SET,
    MODIFY_ALL_PERMISSION_SET,
    absentTranslations,
    erroredTranslations,
    firstReport,
    overallStatus,
    phaseOutcome,
    skippedTranslations,
    translationsOnlyOutcome,
    translationsOutcome,
    type DeployReport,
    type PermissionSetReport,
    type PhaseOutcome,
    type TranslationsReport
} from './deploy-report';
import { soqlQuote } from './soql';

export * from './deploy-report';

export interface DeployPackageOptions {
    /** The package folder (`force-app`); the report names it as given. */
    sourceDir: string;
    /** The translations folder, deployed after the package in a deploy of its own. */
    translationsDir: string;
    /** Deploy the translations after the package (default true). */
    translations?: boolean;
    /** Deploy only the translations (once the org has Translation Workbench). */
    translationsOnly?: boolean;
    /** Validate without saving (default false). */
    checkOnly?: boolean;
    /** Give up waiting for a deploy after this many minutes (default 30). */
    waitMinutes?: number;
    /** The Apex tests asked for (default: none asked, the plan decides per org). */
    tests?: RequestedTests;
    /** Assign Opt_Out_Sync_Integration to the running user after the deploy (default true). */
    assignPermissionSet?: boolean;
    /** Also assign Opt_Out_Sync_Integration_Modify_All (default false). */
    modifyAll?: boolean;
    /**
     * Metadata REST deploy rather than SOAP (default: the local org, which has no SOAP
     * API, or SF_ORG_METADATA_REST_DEPLOY=true as for the sf CLI).
     */
    rest?: boolean;
}

/** The options with their defaults, checked. */
export type CheckedDeployOptions = Required<
    Omit<DeployPackageOptions, 'rest'>
> &
    Pick<DeployPackageOptions, 'rest'>;

/** How far one deploy is: components done of the total, as the org reports them. */
export interface DeployProgress {
    /** `package`, or `translations` (their own deploy, or the only one). */
    phase: 'package' | 'translations';
    sourceDir: string;
    done: number;
    total: number;
}

export interface DeployHooks {
    onProgress?(progress: DeployProgress): void;
    log?: LogFn;
}

export const DEFAULT_WAIT_MINUTES = 30;

function usage(message: string, actions: string[] = []): OptoutError {
    return new OptoutError('BAD_ARGUMENT', message, { actions, exitCode: 2 });
}

/**
 * Fills in the defaults and checks the options against each other and the folders;
 * throws a usage error (exit 2) before anything is sent. `deployPackage` calls it; a
 * caller may call it first, before it opens the org.
 */
export function checkDeployOptions(
    options: DeployPackageOptions
): CheckedDeployOptions {
    const o: CheckedDeployOptions = {
        translations: true,
        translationsOnly: false,
        checkOnly: false,
        waitMinutes: DEFAULT_WAIT_MINUTES,
        tests: NO_REQUESTED_TESTS,
        assignPermissionSet: true,
        modifyAll: false,
        ...options
    };
    const folder = o.translationsOnly ? o.translationsDir : o.sourceDir;
    if (!existsSync(resolve(folder)))
        throw usage(`No source folder ${resolve(folder)}.`, [
            o.translationsOnly
                ? 'Run it from the project folder, or pass --translations-dir'
                : 'Run it from the project folder, or pass --source-dir'
        ]);
    if (o.translationsOnly && !o.translations)
        throw usage(
            '--translations-only and --no-translations contradict each other.'
        );
    if (!Number.isFinite(o.waitMinutes) || o.waitMinutes <= 0)
        throw usage(
            `--wait must be a number of minutes, not '${o.waitMinutes}'.`
        );
    checkRequestedTests(o.tests);
    if (o.translationsOnly && o.tests.testLevel)
        throw usage(
            '--test-level and --tests apply to the package deploy; the translations hold no Apex.'
        );
    return o;
}

// ---------------------------------------------------------------------------------------
// Loading source-deploy-retrieve, and the types this file uses from it and from the
// connections (types only: erased at compile time).

type Sdr = typeof import('@salesforce/source-deploy-retrieve');
type ComponentSetT = ReturnType<Sdr['ComponentSet']['fromSource']>;
type DeployStatus =
    import('@salesforce/source-deploy-retrieve').MetadataApiDeployStatus;
type FileResponse = import('@salesforce/source-deploy-retrieve').FileResponse;
type CoreConnection = import('@salesforce/core').Connection;
type JsforceConnection = import('jsforce').Connection;

/** Source-deploy-retrieve, loaded on the first deploy (it is heavy). */
function loadSdr(): Sdr {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see the file comment)
    return require('@salesforce/source-deploy-retrieve') as Sdr;
}

/** One deploy run: the org, the library, and how to send and wait. */
interface DeployContext {
    client: OrgClient;
    sdr: Sdr;
    rest: boolean;
    waitMinutes: number;
    hooks: DeployHooks;
}

/** What one Metadata deploy sends besides the zip. */
interface ApiOptions {
    checkOnly: boolean;
    testLevel?: TestPlan['testLevel'] & string;
    runTests?: string[];
}

type ProgressFn = (done: number, total: number) => void;

interface Deployed {
    response: DeployStatus;
    fileResponses: FileResponse[];
    /** The @salesforce/core connection of a real org (its username), null for the local org. */
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
        ...(api.testLevel ? { testLevel: api.testLevel } : {}),
        ...(api.runTests?.length ? { runTests: api.runTests } : {})
    };
}

/**
 * The local org: SDR converts the package to a zip, jsforce sends it through the
 * Metadata REST deploy (as `sf project deploy start` does with REST deploys), polled here.
 */
async function deployZip(
    ctx: DeployContext,
    components: ComponentSetT,
    api: ApiOptions,
    progress: ProgressFn
): Promise<Deployed> {
    const converted = await new ctx.sdr.MetadataConverter().convert(
        components,
        'metadata',
        { type: 'zip' }
    );
    if (!converted.zipBuffer)
        throw new OptoutError(
            'DEPLOY_FAILED',
            'The package could not be converted to a deploy zip.'
        );
    const conn = ctx.client.conn as unknown as JsforceConnection;
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
        progress(
            Number(status.numberComponentsDeployed ?? 0),
            Number(status.numberComponentsTotal ?? 0)
        );
        if (String(status.done) === 'true')
            return { response: status, fileResponses: [], conn: null };
        await ctx.client.sleep(100);
    }
}

/** Other orgs: SDR's deploy on the org's @salesforce/core connection. */
async function deploySdr(
    ctx: DeployContext,
    components: ComponentSetT,
    api: ApiOptions,
    progress: ProgressFn
): Promise<Deployed> {
    const conn = ctx.client.conn as unknown as CoreConnection;
    const op = await components.deploy({
        usernameOrConnection: conn,
        apiOptions: { rest: ctx.rest, ...deployOptionsOf(api) }
    });
    ctx.hooks.log?.('info', `Deploy ${op.id ?? ''} started`);
    op.onUpdate((st) =>
        progress(
            Number(st.numberComponentsDeployed ?? 0),
            Number(st.numberComponentsTotal ?? 0)
        )
    );
    // Frequency in ms, timeout in seconds.
    const result = await op.pollStatus(2000, ctx.waitMinutes * 60);
    return {
        response: result.response,
        fileResponses: result.getFileResponses(),
        conn
    };
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

/** One folder deployed, every component accounted for; `conn` as in Deployed. */
type FolderDeployed = PhaseOutcome & { conn: CoreConnection | null };

/** Deploys one source folder (resolved path) and accounts for every component. */
async function deployFolder(
    ctx: DeployContext,
    phase: DeployProgress['phase'],
    sourceDir: string,
    api: ApiOptions
): Promise<FolderDeployed> {
    const components = ctx.sdr.ComponentSet.fromSource(sourceDir);
    const progress: ProgressFn = (done, total) =>
        ctx.hooks.onProgress?.({ phase, sourceDir, done, total });
    const { response, fileResponses, conn } = await ctx.client.meter.run(() =>
        ctx.client.local
            ? deployZip(ctx, components, api, progress)
            : deploySdr(ctx, components, api, progress)
    );
    return {
        ...phaseOutcome(response, fileResponses, sourcePaths(components)),
        conn
    };
}

// ---------------------------------------------------------------------------------------
// The steps around the deploys: the test plan, the translations, the permission sets.

/** The Organization fields that tell production from the rest; null when unreadable. */
async function readOrgKind(ctx: DeployContext): Promise<OrgKind | null> {
    try {
        const rows = await ctx.client.queryAll<SObjectRow & OrgKind>(
            'SELECT Id, IsSandbox, OrganizationType, TrialExpirationDate FROM Organization'
        );
        return rows[0] ?? null;
    } catch (err) {
        ctx.hooks.log?.(
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

/** The tests the first deploy runs (none for the translations: they hold no Apex). */
async function testPlanFor(
    ctx: DeployContext,
    o: CheckedDeployOptions
): Promise<TestPlan> {
    if (o.translationsOnly)
        return { testLevel: null, runTests: [], reason: 'no Apex deployed' };
    const org = o.tests.testLevel ? null : await readOrgKind(ctx);
    return planTests(o.tests, org, packageTestClasses(resolve(o.sourceDir)));
}

/** The translations' own deploy, after the package went in. */
async function deployTranslations(
    ctx: DeployContext,
    o: CheckedDeployOptions
): Promise<TranslationsReport> {
    const facts = {
        sourceDir: o.translationsDir,
        targetOrg: ctx.client.targetOrg
    };
    const dir = resolve(o.translationsDir);
    if (!existsSync(dir)) return absentTranslations(facts);
    let phase: PhaseOutcome;
    try {
        // No Apex in the translations: no test level (production runs no tests then).
        phase = await deployFolder(ctx, 'translations', dir, {
            checkOnly: o.checkOnly
        });
    } catch (err) {
        return erroredTranslations(errorMessage(err), facts);
    }
    return translationsOutcome(phase, o.checkOnly, facts);
}

/** What the report says of the translations, after the first deploy. */
async function translationsStep(
    ctx: DeployContext,
    o: CheckedDeployOptions,
    first: PhaseOutcome
): Promise<TranslationsReport | null> {
    const facts = {
        sourceDir: o.translationsDir,
        targetOrg: ctx.client.targetOrg
    };
    if (o.translationsOnly) return translationsOnlyOutcome(first, facts);
    if (first.ok && o.translations) return deployTranslations(ctx, o);
    return skippedTranslations(first.ok, facts);
}

/** The local org's running user (its jsforce connection has no username): from userinfo. */
async function localUsername(client: OrgClient): Promise<string | undefined> {
    const conn = client.conn as unknown as JsforceConnection;
    const info = await conn.request<{ preferred_username?: string }>(
        '/services/oauth2/userinfo'
    );
    return info.preferred_username;
}

/** Assigns a permission set of the package to the running user, where the org can. */
export async function assignPermissionSet(
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
        return await assignTo(client, username, name);
    } catch (err) {
        return {
            name,
            supported: true,
            assigned: false,
            message: `Could not assign ${name}: ${errorMessage(err)}. Assign it with: sf org assign permset --name ${name} --target-org ${client.targetOrg}`
        };
    }
}

/** Creates the assignment of permission set `name` to `username` unless it exists. */
async function assignTo(
    client: OrgClient,
    username: string | undefined,
    name: string
): Promise<PermissionSetReport> {
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
}

/** The permission sets, after a package deploy that saved (not a validation). */
async function permissionSetsStep(
    ctx: DeployContext,
    o: CheckedDeployOptions,
    first: FolderDeployed
): Promise<Pick<DeployReport, 'permissionSet' | 'modifyAllPermissionSet'>> {
    if (
        !first.ok ||
        o.checkOnly ||
        o.translationsOnly ||
        !o.assignPermissionSet
    )
        return { permissionSet: null, modifyAllPermissionSet: null };
    const permissionSet = await assignPermissionSet(
        ctx.client,
        first.conn,
        INTEGRATION_PERMISSION_SET
    );
    const modifyAllPermissionSet = o.modifyAll
        ? await assignPermissionSet(
              ctx.client,
              first.conn,
              MODIFY_ALL_PERMISSION_SET
          )
        : null;
    return { permissionSet, modifyAllPermissionSet };
}

/** The Metadata API the deploys use when the options do not say. */
export function defaultRest(
    client: Pick<OrgClient, 'local'>,
    env: NodeJS.ProcessEnv = process.env
): boolean {
    return client.local || env.SF_ORG_METADATA_REST_DEPLOY === 'true';
}

/**
 * Deploys the package, then its translations, then assigns the permission sets, on an
 * open org (the caller closes it), and reports every step. A deploy the org refuses is
 * in the report (status `failed`), not thrown; bad options throw a usage error first.
 */
export async function deployPackage(
    client: OrgClient,
    options: DeployPackageOptions,
    hooks: DeployHooks = {}
): Promise<DeployReport> {
    const o = checkDeployOptions(options);
    const started = Date.now();
    const ctx: DeployContext = {
        client,
        sdr: loadSdr(),
        rest: o.rest ?? defaultRest(client),
        waitMinutes: o.waitMinutes,
        hooks
    };
    const plan = await testPlanFor(ctx, o);
    const firstDir = o.translationsOnly ? o.translationsDir : o.sourceDir;
    const first = await deployFolder(
        ctx,
        o.translationsOnly ? 'translations' : 'package',
        resolve(firstDir),
        {
            checkOnly: o.checkOnly,
            testLevel: plan.testLevel ?? undefined,
            runTests: plan.runTests
        }
    );
    const report = firstReport(first, {
        targetOrg: client.targetOrg,
        sourceDir: firstDir,
        checkOnly: o.checkOnly,
        rest: ctx.rest,
        plan
    });
    report.translations = await translationsStep(ctx, o, first);
    Object.assign(report, await permissionSetsStep(ctx, o, first));
    report.status = overallStatus(report, o.translationsOnly);
    report.apiRequests = client.apiRequests;
    report.durationMs = Date.now() - started;
    return report;
}
