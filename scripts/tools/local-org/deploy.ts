/**
 * Metadata deploy over REST (`POST …/metadata/deployRequest`, multipart with the zip
 * and `entity_content` deploy options; `GET …/deployRequest/{id}` for the status).
 *
 * The zip is read like the Metadata API reads it: package.xml names the components;
 * custom objects, custom fields (on custom and standard objects), custom settings and
 * validation rules are validated and installed into the org's schema (new tables and
 * columns), so a field exists for describe, query and writes only after a deploy.
 * A deploy is atomic: one failing component fails the deploy and nothing is installed.
 * Every other metadata type SDR knows is checked for presence and well-formed XML,
 * stored, and reported as deployed without effect (Apex is not compiled or run).
 */
import JSZip from 'jszip';
import { RegistryAccess } from '@salesforce/source-deploy-retrieve';
import {
    readLayout,
    readManifest,
    readPermissionSet
} from '../../metadata/components';
import {
    type CustomFieldMeta,
    type CustomObjectMeta,
    type ValidationRuleMeta,
    readCustomObject
} from '../../metadata/objects';
import {
    MetadataXmlError,
    type XmlDocument,
    parseMetadataXml
} from '../../metadata/xml';
import { makeId } from '../../model/ids';
import type { OrgContext } from './context';
import { ApiError } from './errors';
import {
    type Reply,
    type RequestContext,
    jsonReply,
    readBody,
    readJson,
    yieldToLoop
} from './http';
import {
    type FieldDef,
    type FieldType,
    type ObjectDef,
    type PicklistValue,
    type ValidationRuleDef,
    customObjectSystemFields,
    findField
} from './schema';
import {
    FormulaUnsupported,
    parseFormula,
    referencedFields,
    referencedPermissions
} from './formula';
import { UniqueIndexFailure } from './store';
import { syncPermissionSets } from './users';
import { formatDateTimeJson } from './values';

export interface DeployMessage {
    changed: boolean;
    columnNumber?: number;
    componentType: string;
    created: boolean;
    createdDate: string;
    deleted: boolean;
    fileName: string;
    fullName: string;
    id?: string;
    lineNumber?: number;
    problem?: string;
    problemType?: 'Warning' | 'Error';
    success: boolean;
}

type DeployStatus =
    | 'Pending'
    | 'InProgress'
    | 'Succeeded'
    | 'Failed'
    | 'Canceling'
    | 'Canceled';

interface DeployRecord {
    id: string;
    status: DeployStatus;
    options: Record<string, unknown>;
    checkOnly: boolean;
    rollbackOnError: boolean;
    ignoreWarnings: boolean;
    createdDate: number;
    startDate?: number;
    completedDate?: number;
    successes: DeployMessage[];
    failures: DeployMessage[];
    total: number;
    errorMessage?: string;
    errorStatusCode?: string;
}

/** Metadata types that need Translation Workbench enabled in the org. */
const TRANSLATION_TYPES = new Set(['Translations', 'CustomObjectTranslation']);

/**
 * Deploy test levels of the Metadata API (DeployOptions.testLevel,
 * https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_rest_deploy.htm).
 * RunRelevantTests is new in API 66.0 (source-deploy-retrieve sends it).
 */
const TEST_LEVELS = new Set([
    'NoTestRun',
    'RunSpecifiedTests',
    'RunLocalTests',
    'RunAllTestsInOrg',
    'RunRelevantTests'
]);

/** The levels that run Apex tests in a deploy (what runTestsEnabled reports). */
const TESTING_LEVELS = new Set([
    'RunSpecifiedTests',
    'RunLocalTests',
    'RunAllTestsInOrg',
    'RunRelevantTests'
]);

/**
 * Why Salesforce refuses a deploy request's test options, or null. Messages as the
 * Metadata API gives them (INVALID_OPERATION; quoted in xjsender/haoide#138 and in
 * the DevOps Center CLI plugin's messages): RunSpecifiedTests needs runTests, and
 * runTests needs RunSpecifiedTests. An unknown level fails deserialisation.
 */
export function testOptionsProblem(
    options: Record<string, unknown>
): { errorCode: string; message: string } | null {
    const level = options.testLevel;
    const runTests = options.runTests;
    if (level !== undefined && level !== null) {
        if (typeof level !== 'string' || !TEST_LEVELS.has(level)) {
            return {
                errorCode: 'JSON_PARSER_ERROR',
                message: `Cannot deserialize instance of TestLevel from VALUE_STRING value ${String(level)} or request may be missing a required field`
            };
        }
    }
    if (
        runTests !== undefined &&
        runTests !== null &&
        (!Array.isArray(runTests) ||
            runTests.some((t) => typeof t !== 'string'))
    ) {
        return {
            errorCode: 'JSON_PARSER_ERROR',
            message: `Cannot deserialize instance of String[] from ${typeof runTests === 'string' ? 'VALUE_STRING' : 'START_OBJECT'} value ${JSON.stringify(runTests)} or request may be missing a required field`
        };
    }
    const tests = (runTests as string[] | undefined | null) ?? [];
    if (level === 'RunSpecifiedTests' && tests.length === 0) {
        return {
            errorCode: 'INVALID_OPERATION',
            message:
                'runTests must not be empty when a testLevel of RunSpecifiedTests is used.'
        };
    }
    if (tests.length > 0 && level !== 'RunSpecifiedTests') {
        return {
            errorCode: 'INVALID_OPERATION',
            message:
                'runTests can only be used with a testLevel of RunSpecifiedTests.'
        };
    }
    return null;
}

/** Deploy limits of the Metadata API. */
const MAX_ZIP_BYTES = 39 * 1024 * 1024;
const MAX_FILES = 10_000;

/** Where a file is not well-formed XML, as the deploy reports it. */
interface XmlProblem {
    msg: string;
    line?: number;
    col?: number;
}

/** Parses a file of the deploy: its document, or why it is not well-formed XML. */
function parseDeployFile(
    source: string,
    file: string
): { doc: XmlDocument } | { problem: XmlProblem } {
    try {
        return { doc: parseMetadataXml(source, file) };
    } catch (err) {
        if (!(err instanceof MetadataXmlError)) throw err;
        return {
            problem: { msg: err.reason, line: err.line, col: err.column }
        };
    }
}

/** Splits a multipart/form-data body into its named parts. */
export function parseMultipart(
    body: Buffer,
    contentType: string
): Map<string, Buffer> {
    const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
    if (!m)
        throw new ApiError(
            400,
            'INVALID_MULTIPART_REQUEST',
            'The multipart request has no boundary'
        );
    const boundary = Buffer.from(`--${(m[1] ?? m[2]).trim()}`);
    const parts = new Map<string, Buffer>();
    let pos = body.indexOf(boundary);
    while (pos >= 0) {
        let start = pos + boundary.length;
        if (body.slice(start, start + 2).toString() === '--') break;
        if (body.slice(start, start + 2).toString() === '\r\n') start += 2;
        const next = body.indexOf(boundary, start);
        if (next < 0) break;
        const part = body.slice(start, next - 2); // drop the CRLF before the boundary
        const headerEnd = part.indexOf('\r\n\r\n');
        if (headerEnd >= 0) {
            const headers = part.slice(0, headerEnd).toString('utf8');
            const name = /name="([^"]*)"/i.exec(headers)?.[1];
            if (name) parts.set(name, part.slice(headerEnd + 4));
        }
        pos = next;
    }
    return parts;
}

/** Records a component failure of the deploy being checked. */
type ReportFailure = (
    type: string,
    fullName: string,
    fileName: string,
    problem: string
) => void;

/** Records a component success (created, changed or unchanged) of that deploy. */
type ReportSuccess = (
    type: string,
    fullName: string,
    fileName: string,
    state: { created?: boolean; changed?: boolean; problem?: string }
) => void;

interface Listed {
    type: string;
    fullName: string;
}

interface Working {
    objects: Map<string, ObjectDef>;
    created: Set<string>;
    newFields: Map<string, FieldDef[]>;
    changedFields: Map<string, FieldDef[]>;
    changedObjects: Set<string>;
    prefixes: Set<string>;
}

const UNSUPPORTED_FIELD_TYPES = new Set([
    'Summary',
    'Location',
    'EncryptedText',
    'ExternalLookup',
    'IndirectLookup',
    'Hierarchy',
    'MetadataRelationship',
    'File',
    'Time'
]);

export class DeployService {
    private readonly deploys = new Map<string, DeployRecord>();
    private counter = 1;
    private readonly registry = new RegistryAccess();
    private readonly running = new Set<Promise<void>>();

    constructor(private readonly org: OrgContext) {
        const row = org.store.db
            .prepare('SELECT COUNT(*) AS n FROM _lo_deploys')
            .get() as { n: number };
        this.counter = row.n + 1;
    }

    async close(): Promise<void> {
        await Promise.allSettled([...this.running]);
    }

    /** POST …/metadata/deployRequest */
    async create(ctx: RequestContext): Promise<Reply> {
        const contentType = String(ctx.req.headers['content-type'] ?? '');
        if (!/multipart\/form-data/i.test(contentType)) {
            const body = (await readJson(ctx.req)) as
                Record<string, unknown> | undefined;
            if (body && typeof body.validatedDeployRequestId === 'string') {
                throw new ApiError(
                    400,
                    'INVALID_ID_FIELD',
                    'The local org does not keep validated deploys for quick deploy; deploy the package again'
                );
            }
            throw new ApiError(
                400,
                'INVALID_MULTIPART_REQUEST',
                'A deploy request is multipart/form-data with the parts file and entity_content'
            );
        }
        const body = await readBody(ctx.req, MAX_ZIP_BYTES + 1024 * 1024);
        const parts = parseMultipart(body, contentType);
        const zipData = parts.get('file');
        if (!zipData)
            throw new ApiError(
                400,
                'INVALID_MULTIPART_REQUEST',
                'The multipart request has no file part'
            );
        if (zipData.length > MAX_ZIP_BYTES) {
            throw new ApiError(
                400,
                'EXCEEDED_MAX_SIZE_REQUEST',
                'The zip file exceeds the 39 MB Metadata API limit'
            );
        }
        let options: Record<string, unknown> = {};
        const entity = parts.get('entity_content');
        if (entity) {
            try {
                const parsed = JSON.parse(entity.toString('utf8')) as {
                    deployOptions?: Record<string, unknown>;
                };
                options = parsed.deployOptions ?? {};
            } catch {
                throw new ApiError(
                    400,
                    'JSON_PARSER_ERROR',
                    'entity_content is not valid JSON'
                );
            }
        }
        const testProblem = testOptionsProblem(options);
        if (testProblem)
            throw new ApiError(400, testProblem.errorCode, testProblem.message);
        const id = makeId('0Af', this.counter++, '8d');
        const record: DeployRecord = {
            id,
            status: 'Pending',
            options,
            checkOnly: options.checkOnly === true,
            rollbackOnError: options.rollbackOnError !== false,
            ignoreWarnings: options.ignoreWarnings === true,
            createdDate: Date.now(),
            successes: [],
            failures: [],
            total: 0
        };
        this.deploys.set(id, record);
        this.org.stats.deploys++;
        const p = this.run(record, zipData);
        this.running.add(p);
        void p.finally(() => this.running.delete(p));
        return jsonReply(201, {
            id,
            validatedDeployRequestId: null,
            deployOptions: options,
            deployResult: this.result(record, false),
            url: `/services/data/v${ctx.apiVersion}/metadata/deployRequest/${id}`
        });
    }

    /** GET …/metadata/deployRequest/{id}[?includeDetails=true] */
    get(ctx: RequestContext, id: string): Reply {
        const record = this.find(id);
        return jsonReply(200, {
            id: record.id,
            url: `/services/data/v${ctx.apiVersion}/metadata/deployRequest/${record.id}`,
            deployOptions: record.options,
            deployResult: this.result(
                record,
                ctx.url.searchParams.get('includeDetails') === 'true'
            )
        });
    }

    /** PATCH …/metadata/deployRequest/{id} {"deployResult":{"status":"Canceling"}} */
    async cancel(ctx: RequestContext, id: string): Promise<Reply> {
        const record = this.find(id);
        const body = (await readJson(ctx.req)) as
            { deployResult?: { status?: unknown } } | undefined;
        if (body?.deployResult?.status !== 'Canceling') {
            throw new ApiError(
                400,
                'INVALID_FIELD',
                'Only deployResult.status = Canceling can be set'
            );
        }
        if (record.status === 'Pending' || record.status === 'InProgress')
            record.status = 'Canceling';
        return jsonReply(202, {
            id: record.id,
            deployResult: this.result(record, false)
        });
    }

    private find(id: string): DeployRecord {
        const record = this.deploys.get(id);
        if (record) return record;
        const row = this.org.store.db
            .prepare('SELECT result FROM _lo_deploys WHERE id = ?')
            .get(id) as { result: string } | undefined;
        if (!row)
            throw new ApiError(
                404,
                'NOT_FOUND',
                'The requested resource does not exist'
            );
        return JSON.parse(row.result) as DeployRecord;
    }

    private result(r: DeployRecord, details: boolean): Record<string, unknown> {
        const done =
            r.status === 'Succeeded' ||
            r.status === 'Failed' ||
            r.status === 'Canceled';
        const deployed = r.successes.filter(
            (m) => m.fullName !== 'package.xml'
        ).length;
        return {
            id: r.id,
            checkOnly: r.checkOnly,
            ignoreWarnings: r.ignoreWarnings,
            rollbackOnError: r.rollbackOnError,
            status: r.status,
            done,
            success: r.status === 'Succeeded',
            numberComponentsDeployed: done ? deployed : 0,
            numberComponentsTotal: r.total,
            numberComponentErrors: r.failures.length,
            // Apex does not run here: the requested level shows in runTestsEnabled
            // and deployOptions (testLevel, runTests), and no test is counted.
            numberTestsCompleted: 0,
            numberTestsTotal: 0,
            numberTestErrors: 0,
            runTestsEnabled: TESTING_LEVELS.has(String(r.options.testLevel)),
            createdBy: this.org.store.userId.slice(0, 15),
            createdByName: 'Local Admin',
            createdDate: formatDateTimeJson(r.createdDate),
            startDate: r.startDate ? formatDateTimeJson(r.startDate) : null,
            lastModifiedDate: formatDateTimeJson(
                r.completedDate ?? r.startDate ?? r.createdDate
            ),
            completedDate: r.completedDate
                ? formatDateTimeJson(r.completedDate)
                : null,
            stateDetail: null,
            errorMessage: r.errorMessage ?? null,
            errorStatusCode: r.errorStatusCode ?? null,
            canceledBy: null,
            canceledByName: null,
            ...(details
                ? {
                      details: {
                          componentFailures: r.failures,
                          componentSuccesses: r.successes,
                          runTestResult: {
                              numFailures: 0,
                              numTestsRun: 0,
                              totalTime: 0,
                              codeCoverage: [],
                              codeCoverageWarnings: [],
                              failures: [],
                              flowCoverage: [],
                              flowCoverageWarnings: [],
                              successes: []
                          }
                      }
                  }
                : {})
        };
    }

    private finish(r: DeployRecord, status: DeployStatus): void {
        r.status = status;
        r.completedDate = Date.now();
        this.org.store.db
            .prepare(
                'INSERT INTO _lo_deploys (id, result) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET result = excluded.result'
            )
            .run(r.id, JSON.stringify(r));
    }

    private async run(r: DeployRecord, zipData: Buffer): Promise<void> {
        await yieldToLoop();
        if (r.status === 'Canceling') {
            this.finish(r, 'Canceled');
            return;
        }
        r.status = 'InProgress';
        r.startDate = Date.now();
        try {
            await this.deploy(r, zipData);
        } catch (err) {
            r.errorMessage = err instanceof Error ? err.message : String(err);
            r.errorStatusCode = 'UNKNOWN_EXCEPTION';
            this.org.log(
                `deploy ${r.id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
            );
            this.finish(r, 'Failed');
        }
    }

    private message(
        r: DeployRecord,
        type: string,
        fullName: string,
        fileName: string,
        state: {
            created?: boolean;
            changed?: boolean;
            problem?: string;
            problemType?: 'Warning' | 'Error';
            line?: number;
            column?: number;
        }
    ): DeployMessage {
        const success = state.problemType !== 'Error';
        const m: DeployMessage = {
            changed: success && state.changed === true,
            componentType: type,
            created: success && state.created === true,
            createdDate: formatDateTimeJson(r.startDate ?? Date.now()),
            deleted: false,
            fileName,
            fullName,
            success
        };
        if (state.problem) {
            m.problem = state.problem;
            m.problemType = state.problemType ?? 'Warning';
        }
        if (state.line !== undefined) m.lineNumber = state.line;
        if (state.column !== undefined) m.columnNumber = state.column;
        return m;
    }

    private async deploy(r: DeployRecord, zipData: Buffer): Promise<void> {
        let zip: JSZip;
        try {
            zip = await JSZip.loadAsync(zipData);
        } catch (err) {
            r.errorMessage = `The deploy file is not a valid zip file: ${err instanceof Error ? err.message : String(err)}`;
            r.errorStatusCode = 'INVALID_CROSS_REFERENCE_KEY';
            this.finish(r, 'Failed');
            return;
        }
        const names = Object.keys(zip.files).filter((n) => !zip.files[n].dir);
        if (names.length > MAX_FILES) {
            r.errorMessage = `The deploy zip has ${names.length} files; the limit is ${MAX_FILES}`;
            this.finish(r, 'Failed');
            return;
        }
        const pkgPath = names
            .filter(
                (n) => n === 'package.xml' || /^[^/]+\/package\.xml$/.test(n)
            )
            .sort((a, b) => a.length - b.length)[0];
        if (!pkgPath) {
            r.errorMessage = 'No package.xml found';
            r.errorStatusCode = 'UNKNOWN_EXCEPTION';
            this.finish(r, 'Failed');
            return;
        }
        const root = pkgPath.slice(0, pkgPath.length - 'package.xml'.length);
        const files = new Map<string, string>();
        for (const n of names) {
            if (!n.startsWith(root)) continue;
            files.set(n.slice(root.length), await zip.files[n].async('string'));
        }
        const manifest = parseDeployFile(
            files.get('package.xml') as string,
            'package.xml'
        );
        if ('problem' in manifest) {
            r.failures.push(
                this.message(r, '', 'package.xml', 'package.xml', {
                    problem: `Error parsing file: ${manifest.problem.msg}`,
                    problemType: 'Error',
                    line: manifest.problem.line,
                    column: manifest.problem.col
                })
            );
            this.finish(r, 'Failed');
            return;
        }
        const listed: Listed[] =
            manifest.doc.name === 'Package'
                ? readManifest(manifest.doc.root)
                : [];
        r.total = listed.length;
        this.validateAndInstall(r, listed, files);
    }

    private fileFor(
        type: string,
        fullName: string,
        files: Map<string, string>
    ): string | undefined {
        let t;
        try {
            t = this.registry.getTypeByName(type);
        } catch {
            return undefined;
        }
        let parentType;
        try {
            parentType = this.registry.getParentType(t.id);
        } catch {
            parentType = undefined;
        }
        if (parentType) {
            const parentName =
                parentType.id === 'customlabels'
                    ? 'CustomLabels'
                    : fullName.split('.')[0];
            return this.fileFor(parentType.name, parentName, files);
        }
        const dir = t.directoryName;
        const candidates = [...files.keys()].filter((f) => {
            if (!f.startsWith(`${dir}/`)) return false;
            const rest = f.slice(dir.length + 1);
            return (
                rest === fullName ||
                rest.startsWith(`${fullName}.`) ||
                rest.startsWith(`${fullName}/`) ||
                rest === `${fullName}-meta.xml`
            );
        });
        return candidates.sort((a, b) => a.length - b.length)[0];
    }

    private validateAndInstall(
        r: DeployRecord,
        listed: Listed[],
        files: Map<string, string>
    ): void {
        const store = this.org.store;
        const work: Working = {
            objects: new Map(
                store
                    .listObjects()
                    .map((o) => [
                        o.name.toLowerCase(),
                        JSON.parse(JSON.stringify(o)) as ObjectDef
                    ])
            ),
            created: new Set(),
            newFields: new Map(),
            changedFields: new Map(),
            changedObjects: new Set(),
            prefixes: new Set(store.listObjects().map((o) => o.keyPrefix))
        };
        const fail = (
            type: string,
            fullName: string,
            fileName: string,
            problem: string,
            line?: number,
            column?: number
        ): void => {
            r.failures.push(
                this.message(r, type, fullName, fileName, {
                    problem,
                    problemType: 'Error',
                    line,
                    column
                })
            );
        };
        const succeed: ReportSuccess = (type, fullName, fileName, state) => {
            r.successes.push(this.message(r, type, fullName, fileName, state));
        };

        // Which listed components exist, and parse every XML file once.
        const parsed = new Map<string, XmlDocument>();
        const badFiles = new Map<string, XmlProblem>();
        const fileOf = new Map<Listed, string>();
        for (const c of listed) {
            let known = true;
            try {
                this.registry.getTypeByName(c.type);
            } catch {
                known = false;
            }
            if (!known) {
                fail(
                    '',
                    'package.xml',
                    'package.xml',
                    `Unknown type name '${c.type}' specified in package.xml`
                );
                continue;
            }
            const file = this.fileFor(c.type, c.fullName, files);
            if (!file) {
                fail(
                    c.type,
                    c.fullName,
                    'package.xml',
                    `An object '${c.fullName}' of type ${c.type} was named in package.xml, but was not found in zipped directory`
                );
                continue;
            }
            fileOf.set(c, file);
            const xmlFiles = [...files.keys()].filter(
                (f) =>
                    (f === file ||
                        f === `${file}-meta.xml` ||
                        f.startsWith(`${file}/`)) &&
                    /\.xml$|\.(object|layout|labels|permissionset|flexipage|app|tab|translation|objectTranslation|flow|field)$/.test(
                        f
                    )
            );
            for (const f of xmlFiles) {
                if (parsed.has(f) || badFiles.has(f)) continue;
                const result = parseDeployFile(files.get(f) as string, f);
                if ('problem' in result) badFiles.set(f, result.problem);
                else parsed.set(f, result.doc);
            }
        }
        const ok = (c: Listed): boolean => {
            const file = fileOf.get(c);
            if (!file) return false;
            const bad = badFiles.get(file) ?? badFiles.get(`${file}-meta.xml`);
            if (bad) {
                fail(
                    c.type,
                    c.fullName,
                    file,
                    `Error parsing file: ${bad.msg}`,
                    bad.line,
                    bad.col
                );
                return false;
            }
            return true;
        };
        const objectMetas = new Map<string, CustomObjectMeta>();
        /** The object file's definition (empty when the file is not a CustomObject). */
        const objectMeta = (file: string): CustomObjectMeta => {
            let meta = objectMetas.get(file);
            if (!meta) {
                const doc = parsed.get(file);
                meta = readCustomObject(
                    doc?.name === 'CustomObject' ? doc.root : {}
                );
                objectMetas.set(file, meta);
            }
            return meta;
        };

        // 1. Custom objects
        for (const c of listed.filter((x) => x.type === 'CustomObject')) {
            if (!ok(c)) continue;
            const file = fileOf.get(c) as string;
            this.deployObject(
                c.fullName,
                objectMeta(file),
                file,
                work,
                fail,
                succeed
            );
        }
        // 2. Fields: listed ones, and every field in the file of a listed custom object.
        const fieldJobs: Array<{
            objectName: string;
            field: CustomFieldMeta;
            file: string;
            listed: boolean;
        }> = [];
        for (const c of listed.filter((x) => x.type === 'CustomField')) {
            if (!ok(c)) continue;
            const file = fileOf.get(c) as string;
            const [objectName, fieldName] = c.fullName.split('.');
            const field = objectMeta(file).fields.find(
                (f) => f.name === fieldName
            );
            if (!field) {
                fail(
                    c.type,
                    c.fullName,
                    file,
                    `An object '${c.fullName}' of type CustomField was named in package.xml, but was not found in zipped directory`
                );
                continue;
            }
            fieldJobs.push({ objectName, field, file, listed: true });
        }
        for (const c of listed.filter(
            (x) => x.type === 'CustomObject' && fileOf.has(x)
        )) {
            const file = fileOf.get(c) as string;
            for (const field of objectMeta(file).fields) {
                if (
                    !fieldJobs.some(
                        (j) =>
                            j.objectName === c.fullName &&
                            j.field.name === field.name
                    )
                ) {
                    fieldJobs.push({
                        objectName: c.fullName,
                        field,
                        file,
                        listed: false
                    });
                }
            }
        }
        for (const j of fieldJobs)
            this.deployField(
                j.objectName,
                j.field,
                j.file,
                j.listed,
                work,
                fail,
                succeed
            );

        // Custom permissions a rule's $Permission or a permission set may name: the
        // deployed ones and those in this deploy (lower-cased DeveloperNames).
        const customPermissions = this.knownCustomPermissions(listed);

        // 3. Validation rules
        for (const c of listed.filter((x) => x.type === 'ValidationRule')) {
            if (!ok(c)) continue;
            const file = fileOf.get(c) as string;
            const [objectName, ruleName] = c.fullName.split('.');
            const rx = objectMeta(file).validationRules.find(
                (v) => v.name === ruleName
            );
            if (!rx) {
                fail(
                    c.type,
                    c.fullName,
                    file,
                    `An object '${c.fullName}' of type ValidationRule was named in package.xml, but was not found in zipped directory`
                );
                continue;
            }
            this.deployRule(
                objectName,
                rx,
                file,
                work,
                customPermissions,
                fail,
                succeed
            );
        }

        // 4. Everything else: checked, stored, reported.
        const handled = new Set([
            'CustomObject',
            'CustomField',
            'ValidationRule'
        ]);
        const stored: Array<{
            type: string;
            fullName: string;
            file: string;
            content: string;
            created: boolean;
            changed: boolean;
        }> = [];
        for (const c of listed.filter((x) => !handled.has(x.type))) {
            if (!ok(c)) continue;
            const file = fileOf.get(c) as string;
            if (
                TRANSLATION_TYPES.has(c.type) &&
                !this.org.settings.options.translationWorkbench
            ) {
                // An org without Translation Workbench refuses translations, and the
                // atomic deploy installs nothing (forcedotcom/cli#1272,
                // https://github.com/forcedotcom/cli/issues/1272;
                // SalesforceFoundation/NPSP#2281).
                fail(
                    c.type,
                    c.fullName,
                    file,
                    'Not available for deploy for this organization'
                );
                continue;
            }
            const problem = this.checkReferences(
                c,
                parsed.get(file),
                work,
                customPermissions
            );
            if (problem) {
                fail(c.type, c.fullName, file, problem);
                continue;
            }
            const content = [...files.keys()]
                .filter(
                    (f) =>
                        f === file ||
                        f === `${file}-meta.xml` ||
                        f.startsWith(`${file}/`)
                )
                .sort()
                .map((f) => `${f}\n${files.get(f) ?? ''}`)
                .join('\n');
            const prev = store.db
                .prepare(
                    'SELECT content FROM _lo_components WHERE type = ? AND fullName = ?'
                )
                .get(c.type, c.fullName) as
                { content: Buffer | string } | undefined;
            const created = !prev;
            const changed = !!prev && String(prev.content) !== content;
            stored.push({
                type: c.type,
                fullName: c.fullName,
                file,
                content,
                created,
                changed
            });
            succeed(c.type, c.fullName, file, { created, changed });
        }

        if (r.failures.length > 0) {
            // Atomic: nothing of a failed deploy is installed.
            this.finish(r, 'Failed');
            return;
        }
        succeed('', 'package.xml', 'package.xml', { changed: true });
        if (!r.checkOnly) {
            try {
                store.db.transaction(() => {
                    this.install(work);
                    const put = store.db.prepare(
                        'INSERT INTO _lo_components (type, fullName, fileName, content, deployId) VALUES (?, ?, ?, ?, ?) ON CONFLICT(type, fullName) DO UPDATE SET fileName = excluded.fileName, content = excluded.content, deployId = excluded.deployId'
                    );
                    for (const s of stored)
                        put.run(s.type, s.fullName, s.file, s.content, r.id);
                })();
            } catch (err) {
                if (!(err instanceof UniqueIndexFailure)) throw err;
                // The transaction rolled back: the field's component fails, nothing is installed.
                const fullName = `${err.objectName}.${err.fieldName}`;
                const done = r.successes.find(
                    (m) =>
                        m.componentType === 'CustomField' &&
                        m.fullName === fullName
                );
                r.successes = r.successes.filter(
                    (m) => m !== done && m.fullName !== 'package.xml'
                );
                fail(
                    'CustomField',
                    fullName,
                    done?.fileName ?? 'package.xml',
                    err.message
                );
                this.finish(r, 'Failed');
                return;
            }
            store.reloadSchemaCache();
            // Deployed permission sets become PermissionSet rows (queryable, assignable).
            syncPermissionSets(store);
        }
        this.finish(r, 'Succeeded');
    }

    /** DDL for the working schema: new tables, new columns, changed indexes, saved definitions. */
    private install(work: Working): void {
        const store = this.org.store;
        for (const key of work.created)
            store.createObject(work.objects.get(key) as ObjectDef);
        for (const [key, fields] of work.newFields) {
            if (work.created.has(key)) continue;
            store.addFields(work.objects.get(key) as ObjectDef, fields);
        }
        for (const [key, fields] of work.changedFields) {
            if (work.created.has(key)) continue;
            for (const f of fields)
                store.reindexField(work.objects.get(key) as ObjectDef, f);
        }
        for (const key of new Set([
            ...work.changedObjects,
            ...work.newFields.keys(),
            ...work.changedFields.keys()
        ])) {
            if (work.created.has(key)) continue;
            store.saveObjectDef(work.objects.get(key) as ObjectDef);
        }
    }

    private allocatePrefix(work: Working): string {
        const alphabet =
            '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
        for (const a of 'abcdefghijklm') {
            for (const b of alphabet) {
                for (const c of alphabet) {
                    const p = `${a}${b}${c}`;
                    if (!work.prefixes.has(p)) {
                        work.prefixes.add(p);
                        return p;
                    }
                }
            }
        }
        throw new Error('no key prefix left');
    }

    private deployObject(
        name: string,
        ox: CustomObjectMeta,
        file: string,
        work: Working,
        fail: ReportFailure,
        succeed: ReportSuccess
    ): void {
        const key = name.toLowerCase();
        const existing = work.objects.get(key);
        if (!name.endsWith('__c')) {
            if (existing) {
                succeed('CustomObject', name, file, { changed: false });
                return;
            }
            if (
                name.endsWith('__mdt') ||
                name.endsWith('__e') ||
                name.endsWith('__b')
            ) {
                succeed('CustomObject', name, file, {
                    created: true,
                    problem: `The local org stores ${name} but does not serve custom metadata types, platform events or big objects`
                });
                return;
            }
            fail(
                'CustomObject',
                name,
                file,
                `Cannot create a new standard object named ${name}: custom object names end with __c`
            );
            return;
        }
        if (
            !/^[A-Za-z][A-Za-z0-9_]*[A-Za-z0-9]__c$/.test(name) ||
            name.includes('___')
        ) {
            fail(
                'CustomObject',
                name,
                file,
                `Invalid custom object name: ${name}`
            );
            return;
        }
        const label = ox.label;
        if (!label) {
            fail(
                'CustomObject',
                name,
                file,
                'Must specify a non-empty label for the CustomObject'
            );
            return;
        }
        const settingsType = ox.customSettingsType;
        if (
            settingsType !== undefined &&
            settingsType !== 'Hierarchy' &&
            settingsType !== 'List'
        ) {
            fail(
                'CustomObject',
                name,
                file,
                `'${settingsType}' is not a valid value for the enum 'CustomSettingsType'`
            );
            return;
        }
        const nameField = ox.nameField;
        if (!settingsType && !nameField) {
            fail(
                'CustomObject',
                name,
                file,
                'Must specify a nameField for the CustomObject'
            );
            return;
        }
        const pluralLabel = ox.pluralLabel ?? label;
        const nameType =
            nameField?.type === 'AutoNumber' ? 'AutoNumber' : 'Text';
        const nameLabel = nameField?.label ?? `${label} Name`;
        if (existing) {
            const before = JSON.stringify([
                existing.label,
                existing.labelPlural
            ]);
            existing.label = label;
            existing.labelPlural = pluralLabel;
            existing.description = ox.description;
            const nameDef = findField(existing, 'Name');
            let problem: string | undefined;
            if (nameDef) {
                nameDef.label = nameLabel;
                const wasAuto = nameDef.autoNumberFormat !== undefined;
                if (wasAuto !== (nameType === 'AutoNumber') && !settingsType) {
                    problem =
                        'The local org cannot change the type of an existing Name field; the previous type is kept';
                } else if (wasAuto) {
                    nameDef.autoNumberFormat =
                        nameField?.displayFormat ?? nameDef.autoNumberFormat;
                }
            }
            work.changedObjects.add(key);
            succeed('CustomObject', name, file, {
                changed: before !== JSON.stringify([label, pluralLabel]),
                problem
            });
            return;
        }
        if (nameType === 'AutoNumber' && !nameField?.displayFormat) {
            fail(
                'CustomObject',
                name,
                file,
                'An Auto Number name field needs a displayFormat'
            );
            return;
        }
        const def: ObjectDef = {
            name,
            label,
            labelPlural: pluralLabel,
            keyPrefix: this.allocatePrefix(work),
            custom: true,
            ...(settingsType
                ? { customSetting: settingsType as 'Hierarchy' | 'List' }
                : {}),
            createable: true,
            updateable: true,
            deletable: true,
            queryable: true,
            validationRules: [],
            description: ox.description,
            fields: customObjectSystemFields({
                nameLabel: settingsType ? 'Name' : nameLabel,
                nameType: settingsType ? 'Text' : nameType,
                autoNumberFormat: nameField?.displayFormat,
                customSetting: settingsType as 'Hierarchy' | 'List' | undefined
            })
        };
        work.objects.set(key, def);
        work.created.add(key);
        succeed('CustomObject', name, file, { created: true });
    }

    private deployField(
        objectName: string,
        fx: CustomFieldMeta,
        file: string,
        listed: boolean,
        work: Working,
        fail: ReportFailure,
        succeed: ReportSuccess
    ): void {
        const fieldName = fx.name;
        const fullName = `${objectName}.${fieldName}`;
        const report = listed ? succeed : (): void => undefined;
        const obj = work.objects.get(objectName.toLowerCase());
        if (!obj) {
            fail(
                'CustomField',
                fullName,
                file,
                `no CustomObject named ${objectName} found`
            );
            return;
        }
        const existing = findField(obj, fieldName);
        if (!fieldName.endsWith('__c')) {
            if (existing && !obj.custom) {
                report('CustomField', fullName, file, { changed: false });
                return;
            }
            if (existing) {
                report('CustomField', fullName, file, {
                    changed: false,
                    problem: `Standard field ${fieldName} is not changed by the local org`
                });
                return;
            }
            fail(
                'CustomField',
                fullName,
                file,
                `Invalid custom field name: ${fieldName}; custom field names end with __c`
            );
            return;
        }
        if (
            !/^[A-Za-z][A-Za-z0-9_]*[A-Za-z0-9]__c$/.test(fieldName) ||
            fieldName.includes('___')
        ) {
            fail(
                'CustomField',
                fullName,
                file,
                `Invalid custom field name: ${fieldName}`
            );
            return;
        }
        const built = this.buildField(obj, fieldName, fx, work);
        if ('problem' in built && built.fatal) {
            fail('CustomField', fullName, file, built.problem);
            return;
        }
        if (!('field' in built)) {
            report('CustomField', fullName, file, { problem: built.problem });
            return;
        }
        const field = built.field;
        const key = obj.name.toLowerCase();
        if (existing) {
            if (existing.type !== field.type) {
                fail(
                    'CustomField',
                    fullName,
                    file,
                    `The local org cannot change the type of ${fullName} from ${existing.type} to ${field.type}`
                );
                return;
            }
            const before = JSON.stringify(existing);
            const indexChanged =
                existing.unique !== field.unique ||
                existing.externalId !== field.externalId ||
                existing.caseSensitive !== field.caseSensitive;
            Object.assign(existing, field);
            const changed = before !== JSON.stringify(existing);
            if (indexChanged) {
                const list2 = work.changedFields.get(key) ?? [];
                list2.push(existing);
                work.changedFields.set(key, list2);
            } else if (changed) {
                work.changedObjects.add(key);
            }
            report('CustomField', fullName, file, {
                changed,
                problem: built.warning
            });
            return;
        }
        // Custom fields come after the standard ones, as describe lists them.
        obj.fields.push(field);
        const nf = work.newFields.get(key) ?? [];
        nf.push(field);
        work.newFields.set(key, nf);
        report('CustomField', fullName, file, {
            created: true,
            problem: built.warning
        });
    }

    private buildField(
        obj: ObjectDef,
        name: string,
        fx: CustomFieldMeta,
        work: Working
    ):
        | { field: FieldDef; warning?: string }
        | { problem: string; fatal: boolean } {
        const type = fx.type;
        const label = fx.label;
        if (!type)
            return {
                problem: 'Must specify a type for the CustomField',
                fatal: true
            };
        if (!label)
            return {
                problem: 'Must specify a non-empty label for the CustomField',
                fatal: true
            };
        if (UNSUPPORTED_FIELD_TYPES.has(type)) {
            return {
                problem: `The local org does not support ${type} fields; ${obj.name}.${name} was not installed`,
                fatal: false
            };
        }
        const isSetting = obj.customSetting !== undefined;
        const formula = fx.formula;
        const base: FieldDef = {
            name,
            label,
            type: 'string',
            custom: true,
            nillable: true,
            createable: true,
            updateable: true,
            externalId: fx.externalId,
            unique: fx.unique,
            caseSensitive: fx.caseSensitive,
            inlineHelpText: fx.help,
            description: fx.description
        };
        if (fx.required) {
            base.required = true;
            base.nillable = false;
        }
        const length = fx.length;
        const map: Record<string, FieldType> = {
            Checkbox: 'boolean',
            Text: 'string',
            TextArea: 'textarea',
            LongTextArea: 'textarea',
            Html: 'textarea',
            Email: 'email',
            Phone: 'phone',
            Url: 'url',
            Number: 'double',
            Currency: 'currency',
            Percent: 'percent',
            Date: 'date',
            DateTime: 'datetime',
            Picklist: 'picklist',
            MultiselectPicklist: 'multipicklist',
            Lookup: 'reference',
            MasterDetail: 'reference',
            AutoNumber: 'string'
        };
        const fieldType = map[type];
        if (!fieldType)
            return {
                problem: `'${type}' is not a valid value for the enum 'FieldType'`,
                fatal: true
            };
        base.type = fieldType;
        let warning: string | undefined;
        switch (type) {
            case 'Checkbox':
                base.nillable = false;
                base.defaultValue =
                    (fx.defaultValue ?? 'false').trim().toLowerCase() ===
                    'true';
                break;
            case 'Text': {
                if (
                    length === undefined ||
                    !Number.isInteger(length) ||
                    length < 1 ||
                    length > 255
                ) {
                    return {
                        problem: `Length must be between 1 and 255 for a Text field: ${length ?? '(none)'}`,
                        fatal: true
                    };
                }
                base.length = length;
                break;
            }
            case 'TextArea':
                base.length = 255;
                break;
            case 'LongTextArea':
            case 'Html': {
                const n = length ?? 32768;
                if (!Number.isInteger(n) || n < 256 || n > 131072) {
                    return {
                        problem: `Length must be between 256 and 131,072 for a long text area: ${length}`,
                        fatal: true
                    };
                }
                base.length = n;
                break;
            }
            case 'Email':
                base.length = 80;
                break;
            case 'Phone':
                base.length = 40;
                break;
            case 'Url':
                base.length = 255;
                break;
            case 'Number':
            case 'Currency':
            case 'Percent': {
                const precision = fx.precision ?? 18;
                const scale = fx.scale ?? 0;
                if (
                    !Number.isInteger(precision) ||
                    precision < 1 ||
                    precision > 18 ||
                    !Number.isInteger(scale) ||
                    scale < 0 ||
                    scale > precision
                ) {
                    return {
                        problem: `Invalid precision/scale ${precision}/${scale}: precision is 1–18 and scale at most the precision`,
                        fatal: true
                    };
                }
                base.precision = precision;
                base.scale = scale;
                break;
            }
            case 'Picklist':
            case 'MultiselectPicklist': {
                if (isSetting)
                    return {
                        problem:
                            'Picklist fields are not allowed on custom settings',
                        fatal: true
                    };
                const valueSet = fx.valueSet;
                const values: PicklistValue[] = fx.picklistValues.map((v) => ({
                    value: v.name,
                    label: v.label,
                    active: v.active,
                    defaultValue: v.default
                }));
                if (values.some((v) => v.value === ''))
                    return {
                        problem: 'Every picklist value needs a fullName',
                        fatal: true
                    };
                const seen = new Set<string>();
                for (const v of values) {
                    if (seen.has(v.value.toLowerCase()))
                        return {
                            problem: `Duplicate picklist value: ${v.value}`,
                            fatal: true
                        };
                    seen.add(v.value.toLowerCase());
                }
                if (!valueSet?.inline && valueSet?.valueSetName) {
                    warning = `Global value set ${valueSet.valueSetName} is not served by the local org; the picklist accepts any value`;
                } else if (values.length === 0) {
                    return {
                        problem: 'A picklist needs at least one value',
                        fatal: true
                    };
                }
                base.picklistValues = values;
                base.restrictedPicklist = valueSet?.restricted === true;
                base.length = type === 'Picklist' ? 255 : 4099;
                const def = values.find((v) => v.defaultValue);
                if (def) base.defaultValue = def.value;
                break;
            }
            case 'Lookup':
            case 'MasterDetail': {
                if (isSetting)
                    return {
                        problem:
                            'Lookup fields are not allowed on custom settings',
                        fatal: true
                    };
                const target = fx.referenceTo;
                if (!target)
                    return {
                        problem:
                            'Must specify referenceTo for a relationship field',
                        fatal: true
                    };
                const targetObj = work.objects.get(target.toLowerCase());
                if (!targetObj) {
                    return {
                        problem: `Field ${name}: referenceTo value of '${target}' does not resolve to a valid sObject type`,
                        fatal: true
                    };
                }
                const rel = fx.relationshipName;
                if (!rel)
                    return {
                        problem:
                            'Must specify relationshipName for a relationship field',
                        fatal: true
                    };
                const childName = `${rel}__r`;
                for (const o of work.objects.values()) {
                    for (const f of o.fields) {
                        if (
                            f.childRelationshipName?.toLowerCase() ===
                                childName.toLowerCase() &&
                            f.referenceTo?.some(
                                (t) =>
                                    t.toLowerCase() ===
                                    targetObj.name.toLowerCase()
                            ) &&
                            !(o.name === obj.name && f.name === name)
                        ) {
                            return {
                                problem: `The relationship name ${rel} is already used on ${targetObj.name} by ${o.name}.${f.name}`,
                                fatal: true
                            };
                        }
                    }
                }
                base.length = 18;
                base.referenceTo = [targetObj.name];
                base.relationshipName = name.replace(/__c$/, '__r');
                base.childRelationshipName = childName;
                if (type === 'MasterDetail') {
                    base.required = true;
                    base.nillable = false;
                    base.deleteConstraint = 'Cascade';
                    base.updateable = fx.reparentableMasterDetail;
                } else {
                    const dc = fx.deleteConstraint ?? 'SetNull';
                    if (
                        dc !== 'SetNull' &&
                        dc !== 'Restrict' &&
                        dc !== 'Cascade'
                    ) {
                        return {
                            problem: `'${dc}' is not a valid value for the enum 'DeleteConstraint'`,
                            fatal: true
                        };
                    }
                    if (dc === 'SetNull' && base.required) {
                        return {
                            problem:
                                'A required lookup cannot clear its value when the parent is deleted (deleteConstraint SetNull)',
                            fatal: true
                        };
                    }
                    base.deleteConstraint = dc;
                }
                break;
            }
            case 'AutoNumber':
                base.autoNumberFormat = fx.displayFormat ?? '{0}';
                base.createable = false;
                base.updateable = false;
                base.nillable = false;
                base.length = 30;
                break;
            default:
                break;
        }
        if (formula !== undefined) {
            base.calculated = true;
            base.createable = false;
            base.updateable = false;
            warning = `Formula fields are not evaluated by the local org: ${obj.name}.${name} always reads null`;
        } else if (
            type !== 'Checkbox' &&
            type !== 'Picklist' &&
            type !== 'MultiselectPicklist'
        ) {
            const dv = fx.defaultValue;
            if (dv !== undefined && dv.trim() !== '') {
                const parsed = parseDefault(dv.trim(), base.type);
                if (parsed === undefined) {
                    warning = `Default value formula ${dv} is not evaluated by the local org; no default is applied`;
                } else {
                    base.defaultValue = parsed;
                }
            }
        }
        if (
            base.unique &&
            ![
                'string',
                'email',
                'double',
                'int',
                'currency',
                'percent',
                'reference'
            ].includes(base.type)
        ) {
            return { problem: `A ${type} field cannot be unique`, fatal: true };
        }
        return { field: base, warning };
    }

    /** The org's custom permissions after this deploy (lower-cased names). */
    private knownCustomPermissions(listed: Listed[]): Set<string> {
        const stored = this.org.store.db
            .prepare(
                "SELECT fullName FROM _lo_components WHERE type = 'CustomPermission'"
            )
            .all() as Array<{ fullName: string }>;
        return new Set(
            [
                ...stored.map((r) => r.fullName),
                ...listed
                    .filter((c) => c.type === 'CustomPermission')
                    .map((c) => c.fullName)
            ].map((n) => n.toLowerCase())
        );
    }

    private deployRule(
        objectName: string,
        rx: ValidationRuleMeta,
        file: string,
        work: Working,
        customPermissions: ReadonlySet<string>,
        fail: ReportFailure,
        succeed: ReportSuccess
    ): void {
        const ruleName = rx.name;
        const fullName = `${objectName}.${ruleName}`;
        const obj = work.objects.get(objectName.toLowerCase());
        if (!obj) {
            fail(
                'ValidationRule',
                fullName,
                file,
                `no CustomObject named ${objectName} found`
            );
            return;
        }
        const formula = rx.errorConditionFormula;
        const message = rx.errorMessage;
        if (!formula) {
            fail(
                'ValidationRule',
                fullName,
                file,
                'Must specify an errorConditionFormula'
            );
            return;
        }
        if (!message) {
            fail(
                'ValidationRule',
                fullName,
                file,
                'Must specify an errorMessage'
            );
            return;
        }
        const display = rx.errorDisplayField;
        if (display && !findField(obj, display)) {
            fail(
                'ValidationRule',
                fullName,
                file,
                `Error Location: field ${display} does not exist on ${obj.name}`
            );
            return;
        }
        const rule: ValidationRuleDef = {
            fullName: ruleName,
            active: rx.active,
            errorConditionFormula: formula,
            errorMessage: message,
            ...(display ? { errorDisplayField: display } : {}),
            supported: true
        };
        let warning: string | undefined;
        try {
            const node = parseFormula(formula);
            for (const ref of referencedFields(node)) {
                if (!findField(obj, ref)) {
                    fail(
                        'ValidationRule',
                        fullName,
                        file,
                        `Error: Field ${ref} does not exist. Check spelling.`
                    );
                    return;
                }
            }
            // `$Permission.X` must name a custom permission of the org: the formula
            // compiler treats it as a field and refuses an unknown one the same way
            // (the wording of a missing field; not confirmed for $Permission
            // against a real org, see /tmp/notes/WP8.md).
            for (const name of referencedPermissions(node)) {
                if (!customPermissions.has(name.toLowerCase())) {
                    fail(
                        'ValidationRule',
                        fullName,
                        file,
                        `Error: Field $Permission.${name} does not exist. Check spelling.`
                    );
                    return;
                }
            }
        } catch (err) {
            if (!(err instanceof FormulaUnsupported)) throw err;
            rule.supported = false;
            rule.unsupportedReason = err.message;
            warning = `The local org cannot evaluate this formula (${err.message}); the rule is stored but not enforced`;
        }
        const idx = obj.validationRules.findIndex(
            (v) => v.fullName === ruleName
        );
        const created = idx < 0;
        const changed =
            !created &&
            JSON.stringify(obj.validationRules[idx]) !== JSON.stringify(rule);
        if (created) obj.validationRules.push(rule);
        else obj.validationRules[idx] = rule;
        work.changedObjects.add(obj.name.toLowerCase());
        succeed('ValidationRule', fullName, file, {
            created,
            changed,
            problem: warning
        });
    }

    /** References to custom objects and fields in layouts, permission sets and tabs must resolve. */
    private checkReferences(
        c: Listed,
        doc: XmlDocument | undefined,
        work: Working,
        customPermissions: ReadonlySet<string>
    ): string | undefined {
        const hasObject = (n: string): boolean =>
            work.objects.has(n.toLowerCase());
        const hasField = (objName: string, fieldName: string): boolean => {
            const o = work.objects.get(objName.toLowerCase());
            return !!o && !!findField(o, fieldName);
        };
        if (c.type === 'Layout') {
            const objName = c.fullName.split('-')[0];
            if (!hasObject(objName))
                return `no CustomObject named ${objName} found`;
            const fields =
                doc?.name === 'Layout' ? readLayout(doc.root).fields : [];
            for (const f of fields) {
                if (f.endsWith('__c') && !hasField(objName, f))
                    return `In field: field - no CustomField named ${objName}.${f} found`;
            }
        }
        if (c.type === 'PermissionSet' || c.type === 'Profile') {
            const ps =
                doc?.name === 'PermissionSet' || doc?.name === 'Profile'
                    ? readPermissionSet(doc.root)
                    : undefined;
            for (const fp of ps?.fieldPermissions ?? []) {
                const f = fp.field;
                const [o, fname] = f.split('.');
                if (fname?.endsWith('__c') && !hasField(o, fname)) {
                    return `In field: field - no CustomField named ${f} found`;
                }
            }
            for (const op of ps?.objectPermissions ?? []) {
                const o = op.object;
                if (o.endsWith('__c') && !hasObject(o))
                    return `In field: object - no CustomObject named ${o} found`;
            }
            for (const cs of ps?.customSettingAccesses ?? []) {
                const o = cs.name;
                if (o.endsWith('__c') && !hasObject(o))
                    return `In field: name - no CustomObject named ${o} found`;
            }
            for (const cp of ps?.customPermissions ?? []) {
                const n = cp.name;
                // Same shape as the other unresolved references of a permission set.
                if (n && !customPermissions.has(n.toLowerCase()))
                    return `In field: name - no CustomPermission named ${n} found`;
            }
        }
        if (
            c.type === 'CustomTab' &&
            c.fullName.endsWith('__c') &&
            !hasObject(c.fullName)
        ) {
            return `no CustomObject named ${c.fullName} found`;
        }
        return undefined;
    }
}

/** A default value formula the local org can apply: a literal of the field's type. */
function parseDefault(
    formula: string,
    type: FieldType
): string | number | boolean | null | undefined {
    if (/^null$/i.test(formula)) return null;
    const quoted =
        /^"((?:[^"\\]|\\.)*)"$/.exec(formula) ??
        /^'((?:[^'\\]|\\.)*)'$/.exec(formula);
    if (quoted) {
        return [
            'string',
            'textarea',
            'email',
            'phone',
            'url',
            'picklist'
        ].includes(type)
            ? quoted[1].replace(/\\(.)/g, '$1')
            : undefined;
    }
    if (
        /^-?\d+(\.\d+)?$/.test(formula) &&
        ['double', 'int', 'currency', 'percent'].includes(type)
    )
        return Number(formula);
    return undefined;
}
