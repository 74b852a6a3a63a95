/**
 * `optout deploy --target-org X` — deploys the package (`force-app`) with
 * @salesforce/source-deploy-retrieve, as `sf project deploy start` does (REST deploy for
 * the local org; SOAP for other orgs unless SF_ORG_METADATA_REST_DEPLOY=true), shows
 * progress, reports failures component by component, then assigns the
 * Opt_Out_Sync_Integration permission set to the user the sync runs as — where the org
 * has PermissionSetAssignment (the local org has none; it says so).
 */
import { relative, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { OptoutError, errorMessage } from '../../model/errors';
import { openOrg } from '../../salesforce/open';
import type { OrgClient } from '../../salesforce/client';
import { soqlQuote } from '../../salesforce/soql';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import { renderPairs, renderTable } from '../table';
import { targetOrgOption } from './sync';

export const INTEGRATION_PERMISSION_SET = 'Opt_Out_Sync_Integration';

interface DeployOptions {
    targetOrg: string;
    sourceDir: string;
    checkOnly?: boolean;
    wait: string;
    assignPermissionSet: boolean;
}

export interface ComponentFailure {
    type: string;
    fullName: string;
    filePath: string | null;
    line: number | null;
    column: number | null;
    problem: string;
}

export interface DeployReport {
    status: 'succeeded' | 'failed' | 'partial';
    targetOrg: string;
    sourceDir: string;
    deployId: string | null;
    checkOnly: boolean;
    rest: boolean;
    numberComponentsDeployed: number;
    numberComponentsTotal: number;
    components: Record<string, number>;
    failures: ComponentFailure[];
    permissionSet: {
        name: string;
        supported: boolean;
        assigned: boolean;
        alreadyAssigned?: boolean;
        message: string;
    } | null;
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

/** Assigns the integration permission set to the running user, where the org can. */
async function assignPermissionSet(
    client: OrgClient,
    conn: CoreConnection | null
): Promise<NonNullable<DeployReport['permissionSet']>> {
    const name = INTEGRATION_PERMISSION_SET;
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
        const username = conn?.getUsername();
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

/**
 * The local org: SDR converts the package to a zip, jsforce sends it through the
 * Metadata REST deploy (as `sf project deploy start` does with REST deploys), polled here.
 */
async function deployZip(
    client: OrgClient,
    sdr: Sdr,
    components: ComponentSetT,
    opts: DeployOptions,
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
        rollbackOnError: true,
        singlePackage: true,
        checkOnly: opts.checkOnly === true
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
    opts: DeployOptions,
    rest: boolean,
    wait: number,
    bar: { update(done: number, total: number): void },
    out: Output
): Promise<Deployed> {
    const conn = client.conn as unknown as CoreConnection;
    const op = await components.deploy({
        usernameOrConnection: conn,
        apiOptions: {
            rest,
            checkOnly: opts.checkOnly === true,
            rollbackOnError: true
        }
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

function human(r: DeployReport): string {
    const verb = r.checkOnly ? 'Validated' : 'Deployed';
    const head =
        r.status === 'failed'
            ? `Deploy of ${r.sourceDir} to ${r.targetOrg} failed: ${r.failures.length} component problem(s); nothing was changed.`
            : `${verb} ${r.sourceDir} to ${r.targetOrg}: ${r.numberComponentsDeployed} of ${r.numberComponentsTotal} components.`;
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
            ['API requests', r.apiRequests],
            ['Duration', `${(r.durationMs / 1000).toFixed(1)} s`]
        ])
    ];
    if (r.failures.length)
        parts.push(
            renderTable(
                ['Type', 'Component', 'File', 'Line', 'Problem'],
                r.failures.map((f) => [
                    f.type,
                    f.fullName,
                    f.filePath,
                    f.line,
                    f.problem
                ])
            )
        );
    if (r.permissionSet) parts.push(r.permissionSet.message);
    return parts.join('\n');
}

async function deploy(opts: DeployOptions, out: Output): Promise<number> {
    const targetOrg = targetOrgOption(opts.targetOrg);
    const sourceDir = resolve(opts.sourceDir);
    if (!existsSync(sourceDir))
        throw new OptoutError(
            'BAD_ARGUMENT',
            `No source folder ${sourceDir}.`,
            {
                actions: [
                    'Run it from the project folder, or pass --source-dir'
                ],
                exitCode: 2
            }
        );
    const wait = Number(opts.wait);
    if (!Number.isFinite(wait) || wait <= 0)
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--wait must be a number of minutes, not '${opts.wait}'.`,
            { exitCode: 2 }
        );
    const started = Date.now();
    const client = await openOrg(targetOrg, {
        log: (level, message) => out.log(level, message)
    });
    const bar = progressBar(out);
    try {
        const sdr = load<Sdr>('@salesforce/source-deploy-retrieve');
        const rest =
            client.local || process.env.SF_ORG_METADATA_REST_DEPLOY === 'true';
        const components = sdr.ComponentSet.fromSource(sourceDir);
        const { response, fileResponses, conn } = await client.meter.run(() =>
            client.local
                ? deployZip(client, sdr, components, opts, bar)
                : deploySdr(client, components, opts, rest, wait, bar, out)
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
        const ok =
            response.success === true || String(response.success) === 'true';
        const report: DeployReport = {
            status: ok ? 'succeeded' : 'failed',
            targetOrg,
            sourceDir: opts.sourceDir,
            deployId: response.id ?? null,
            checkOnly: opts.checkOnly === true,
            rest,
            numberComponentsDeployed: Number(
                response.numberComponentsDeployed ?? 0
            ),
            numberComponentsTotal: Number(response.numberComponentsTotal ?? 0),
            components: counts,
            failures,
            permissionSet: null,
            apiRequests: 0,
            durationMs: 0
        };
        if (ok && !report.checkOnly && opts.assignPermissionSet) {
            report.permissionSet = await assignPermissionSet(client, conn);
            if (
                report.permissionSet.supported &&
                !report.permissionSet.assigned
            )
                report.status = 'partial';
        }
        report.apiRequests = client.apiRequests;
        report.durationMs = Date.now() - started;
        out.result(report, () => human(report));
        return report.status === 'succeeded' ? 0 : 1;
    } finally {
        bar.stop();
        await client.close();
    }
}

export const register: CommandModule = (program: Command) => {
    program
        .command('deploy')
        .description(
            'Deploy the package (force-app) to an org and give the sync’s user the Opt_Out_Sync_Integration permission set'
        )
        .requiredOption(
            '--target-org <org>',
            'org alias or username known to the sf CLI, or "local"'
        )
        .option('--source-dir <dir>', 'the package folder', 'force-app')
        .option('--check-only', 'validate the deploy without saving it')
        .option('--wait <minutes>', 'give up waiting after this long', '30')
        .option(
            '--no-assign-permission-set',
            'do not assign Opt_Out_Sync_Integration after the deploy'
        )
        .action(async (opts: DeployOptions, cmd: Command) =>
            runCommand(cmd, (out) => deploy(opts, out))
        );
};
