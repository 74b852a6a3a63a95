/**
 * The preview's HTTP server: the record picker, a record page per Contact or Lead,
 * the compiled bundle and SLDS assets, and the UI API routes the bundle's Lightning
 * Data Service adapters call. It holds the org's token and talks to the org's REST
 * API; the page never sees the token.
 *
 *   GET   /                                   record picker (?q=search, ?lang=)
 *   GET   /record/{id}                        record page (?lang=fr|zh_CN|ja)
 *   GET   /preview/ui-api/records/{id}        getRecord
 *   PATCH /preview/ui-api/records/{id}        updateRecord
 *   GET   /preview/ui-api/related-list-records/{parentId}/{relatedListId}
 *   GET   /preview/build/…, /assets/…         bundle, SLDS
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import {
    createServer,
    type IncomingMessage,
    type ServerResponse
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { OptoutError } from '../../model/errors';
import { packageRoot } from './build';
import {
    DEFAULT_PACKAGE_DIR,
    LANGUAGE_INFO,
    type Language,
    type PackageI18n,
    loadPackageI18n,
    parseLanguage
} from './i18n';
import { OrgRest, type OrgTarget, soqlContains, soqlString } from './org';
import {
    PAGE_CSS,
    type PersonRecord,
    type PersonRow,
    indexPage,
    problemPage,
    recordPage
} from './pages';
import {
    type UiAnswer,
    type UiContext,
    fieldList,
    getRecordAnswer,
    getRelatedListRecordsAnswer,
    updateRecordAnswer
} from './ui-api';

export interface PreviewServerOptions {
    org: OrgTarget;
    /** The folder buildPreview wrote (app.js and chunks). */
    buildDir: string;
    port?: number;
    host?: string;
    packageDir?: string;
    /** People listed on the index page (default 50). */
    pickerLimit?: number;
    /** One line per request. */
    log?: (line: string) => void;
}

export interface PreviewServer {
    url: string;
    port: number;
    close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.jpg': 'image/jpeg',
    '.gif': 'image/gif',
    '.woff': 'font/woff',
    '.woff2': 'font/woff2',
    '.json': 'application/json; charset=utf-8'
};

const PERSON_OBJECTS = ['Contact', 'Lead'] as const;
type PersonObject = (typeof PERSON_OBJECTS)[number];
const MAX_BODY = 1_000_000;

function send(
    res: ServerResponse,
    status: number,
    body: string | Buffer,
    type: string,
    headers: Record<string, string> = {}
): void {
    res.writeHead(status, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'X-Content-Type-Options': 'nosniff',
        ...headers
    });
    res.end(body);
}

function sendJson(res: ServerResponse, answer: UiAnswer): void {
    send(
        res,
        answer.status,
        JSON.stringify(answer.body),
        'application/json; charset=utf-8',
        { 'Cache-Control': 'no-store' }
    );
}

/** A file under root, or undefined (no escaping root with .. or encoded slashes). */
export function safeFile(
    root: string,
    relativePath: string
): string | undefined {
    let decoded: string;
    try {
        decoded = decodeURIComponent(relativePath);
    } catch {
        return undefined;
    }
    if (decoded.includes('\0')) return undefined;
    const base = resolve(root);
    const file = resolve(base, `.${sep}${decoded}`);
    if (file !== base && !file.startsWith(base + sep)) return undefined;
    return existsSync(file) && statSync(file).isFile() ? file : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolveBody, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_BODY) {
                reject(new Error('request body too large'));
                req.destroy();
                return;
            }
            chunks.push(chunk);
        });
        req.on('end', () =>
            resolveBody(Buffer.concat(chunks).toString('utf8'))
        );
        req.on('error', reject);
    });
}

/** A string field of a REST record, or null. */
function str(record: Record<string, unknown>, name: string): string | null {
    const value = record[name];
    return typeof value === 'string' && value !== '' ? value : null;
}

function bool(record: Record<string, unknown>, name: string): boolean | null {
    const value = record[name];
    return typeof value === 'boolean' ? value : null;
}

export class PreviewApp {
    readonly org: OrgRest;
    readonly i18n: PackageI18n;
    private timeZone = 'America/Los_Angeles';
    private readonly sldsDir: string;

    constructor(private readonly options: PreviewServerOptions) {
        this.org = new OrgRest(options.org);
        this.i18n = loadPackageI18n(options.packageDir ?? DEFAULT_PACKAGE_DIR);
        this.sldsDir = join(
            packageRoot('@salesforce-ux/design-system', __dirname),
            'assets'
        );
        if (!existsSync(join(options.buildDir, 'app.js'))) {
            throw new OptoutError(
                'PREVIEW_NOT_BUILT',
                `No preview bundle in ${options.buildDir}`,
                { actions: ['Build it first: npm run preview builds it'] }
            );
        }
    }

    /** Reads the org user's time zone (dates show in it, as in Salesforce). */
    async init(): Promise<void> {
        this.timeZone = (await this.org.userTimeZone()) ?? this.timeZone;
    }

    private ui(lang: Language): UiContext {
        return {
            org: this.org,
            i18n: this.i18n,
            lang,
            timeZone: this.timeZone
        };
    }

    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const url = new URL(req.url ?? '/', 'http://preview.invalid');
        const path = url.pathname;
        const method = req.method ?? 'GET';
        let lang: Language = 'en_US';
        try {
            lang = parseLanguage(url.searchParams.get('lang'));
        } catch (err) {
            if (path.startsWith('/preview/ui-api/')) {
                sendJson(res, {
                    status: 400,
                    body: [
                        {
                            errorCode: 'ILLEGAL_QUERY_PARAMETER_VALUE',
                            message: (err as Error).message
                        }
                    ]
                });
            } else {
                send(
                    res,
                    400,
                    problemPage('en_US', 400, (err as Error).message),
                    'text/html; charset=utf-8'
                );
            }
            return;
        }

        if (path.startsWith('/preview/ui-api/')) {
            await this.uiApi(req, res, method, path, url, lang);
            return;
        }
        if (method !== 'GET' && method !== 'HEAD') {
            send(res, 405, 'Method not allowed', 'text/plain; charset=utf-8', {
                Allow: 'GET'
            });
            return;
        }
        if (path === '/') {
            send(
                res,
                200,
                await this.index(
                    lang,
                    (url.searchParams.get('q') ?? '').trim()
                ),
                'text/html; charset=utf-8',
                { 'Cache-Control': 'no-store' }
            );
            return;
        }
        const record = /^\/record\/([^/]+)\/?$/.exec(path);
        if (record) {
            send(
                res,
                200,
                await this.recordPage(lang, decodeURIComponent(record[1])),
                'text/html; charset=utf-8',
                { 'Cache-Control': 'no-store' }
            );
            return;
        }
        if (path === '/preview/page.css') {
            send(res, 200, PAGE_CSS, CONTENT_TYPES['.css']);
            return;
        }
        if (path === '/favicon.ico') {
            res.writeHead(204).end();
            return;
        }
        const staticRoots: Array<[string, string]> = [
            ['/preview/build/', this.options.buildDir],
            ['/assets/', this.sldsDir]
        ];
        for (const [prefix, root] of staticRoots) {
            if (path.startsWith(prefix)) {
                const file = safeFile(root, path.slice(prefix.length));
                if (file) {
                    send(
                        res,
                        200,
                        readFileSync(file),
                        CONTENT_TYPES[extname(file)] ??
                            'application/octet-stream',
                        { 'Cache-Control': 'no-cache' }
                    );
                    return;
                }
            }
        }
        send(
            res,
            404,
            problemPage(lang, 404, `Nothing at ${path}`),
            'text/html; charset=utf-8'
        );
    }

    private async uiApi(
        req: IncomingMessage,
        res: ServerResponse,
        method: string,
        path: string,
        url: URL,
        lang: Language
    ): Promise<void> {
        const parts = path
            .slice('/preview/ui-api/'.length)
            .split('/')
            .map((p) => decodeURIComponent(p));
        const ctx = this.ui(lang);
        if (parts[0] === 'records' && parts.length === 2) {
            if (method === 'GET') {
                sendJson(
                    res,
                    await getRecordAnswer(
                        ctx,
                        parts[1],
                        fieldList(url.searchParams.get('fields')),
                        fieldList(url.searchParams.get('optionalFields'))
                    )
                );
                return;
            }
            if (method === 'PATCH') {
                // Writes only from the preview's own pages (no cross-site requests).
                const origin = req.headers.origin;
                if (origin && origin !== `http://${req.headers.host}`) {
                    sendJson(res, {
                        status: 403,
                        body: [
                            {
                                errorCode: 'FORBIDDEN',
                                message: 'Cross-origin writes are refused'
                            }
                        ]
                    });
                    return;
                }
                let input: unknown;
                try {
                    input = JSON.parse(await readBody(req));
                } catch {
                    input = undefined;
                }
                sendJson(res, await updateRecordAnswer(ctx, parts[1], input));
                return;
            }
        }
        if (
            parts[0] === 'related-list-records' &&
            parts.length === 3 &&
            method === 'GET'
        ) {
            const pageSize = url.searchParams.get('pageSize');
            sendJson(
                res,
                await getRelatedListRecordsAnswer(ctx, parts[1], parts[2], {
                    fields: fieldList(url.searchParams.get('fields')),
                    optionalFields: fieldList(
                        url.searchParams.get('optionalFields')
                    ),
                    sortBy: fieldList(url.searchParams.get('sortBy')),
                    pageSize: pageSize === null ? undefined : Number(pageSize),
                    where: url.searchParams.get('where')
                })
            );
            return;
        }
        sendJson(res, {
            status: 404,
            body: [
                {
                    errorCode: 'NOT_FOUND',
                    message: `The preview has no UI API resource ${method} ${path}`
                }
            ]
        });
    }

    /** Fields of `wanted` that the object has (the package may not be deployed yet). */
    private async existing(
        objectName: string,
        wanted: string[]
    ): Promise<Set<string>> {
        const describe = await this.org.describe(objectName);
        const names = new Set(describe.fields.map((f) => f.name));
        return new Set(wanted.filter((w) => names.has(w.split('.')[0])));
    }

    async people(q: string, limit: number): Promise<PersonRow[]> {
        const rows: PersonRow[] = [];
        for (const objectName of PERSON_OBJECTS) {
            const describe = await this.org.describe(objectName);
            const orgField = objectName === 'Contact' ? 'AccountId' : 'Company';
            const has = await this.existing(objectName, ['Email', orgField]);
            const memberships = describe.childRelationships.some(
                (r) => r.relationshipName === 'Audience_Memberships__r'
            );
            const select = [
                'Id',
                'Name',
                ...(has.has('Email') ? ['Email'] : []),
                ...(has.has(orgField)
                    ? [objectName === 'Contact' ? 'Account.Name' : 'Company']
                    : []),
                ...(memberships
                    ? ['(SELECT Id FROM Audience_Memberships__r)']
                    : [])
            ];
            const where = q
                ? ` WHERE Name LIKE ${soqlContains(q)}${has.has('Email') ? ` OR Email LIKE ${soqlContains(q)}` : ''}`
                : '';
            const records = await this.org.query(
                `SELECT ${select.join(', ')} FROM ${objectName}${where} ORDER BY Name ASC NULLS LAST, Id ASC LIMIT ${limit}`
            );
            for (const r of records) {
                const account = r.Account as Record<string, unknown> | null;
                const children = r.Audience_Memberships__r as {
                    totalSize?: number;
                    records?: unknown[];
                } | null;
                rows.push({
                    id: String(r.Id),
                    objectName,
                    name: str(r, 'Name') ?? String(r.Id),
                    email: str(r, 'Email'),
                    organisation:
                        objectName === 'Contact'
                            ? account
                                ? str(account, 'Name')
                                : null
                            : str(r, 'Company'),
                    audiences:
                        children?.totalSize ?? children?.records?.length ?? 0
                });
            }
        }
        return rows
            .sort(
                (a, b) =>
                    a.name.localeCompare(b.name) || a.id.localeCompare(b.id)
            )
            .slice(0, limit);
    }

    private async index(lang: Language, q: string): Promise<string> {
        const limit = this.options.pickerLimit ?? 50;
        try {
            const people = await this.people(q, limit);
            const deployed = (
                await this.org.describe('Contact')
            ).childRelationships.some(
                (r) => r.relationshipName === 'Audience_Memberships__r'
            );
            return indexPage({
                lang,
                q,
                people,
                limit,
                orgUrl: this.options.org.instanceUrl,
                warning: deployed
                    ? undefined
                    : 'The package is not deployed to this org, so the card has no audience memberships to read. Run npm start: it deploys the package and loads the demo data.'
            });
        } catch (err) {
            return indexPage({
                lang,
                q,
                people: [],
                limit,
                orgUrl: this.options.org.instanceUrl,
                error: `Could not read the org: ${(err as Error).message}`
            });
        }
    }

    /** The person a record page shows, or why it cannot show one. */
    async person(
        lang: Language,
        recordId: string
    ): Promise<{
        objectName?: string;
        person?: PersonRecord;
        problem?: string;
    }> {
        let objectName: string | undefined;
        try {
            objectName = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(recordId)
                ? await this.org.objectOfId(recordId)
                : undefined;
            if (!objectName) return {};
            if (!(PERSON_OBJECTS as readonly string[]).includes(objectName)) {
                return {
                    objectName,
                    problem: `The Audience Subscriptions component is placed on Contact and Lead pages; ${recordId} is a ${objectName}.`
                };
            }
            const personObject = objectName as PersonObject;
            const orgField =
                personObject === 'Contact' ? 'AccountId' : 'Company';
            const has = await this.existing(personObject, [
                'Title',
                'Email',
                'Phone',
                orgField,
                'HasOptedOutOfEmail',
                'Marketo_Sales_Opt_Out__c'
            ]);
            const select = [
                'Id',
                'Name',
                ...[...has].filter((f) => f !== 'AccountId'),
                ...(has.has('AccountId') ? ['Account.Name'] : [])
            ];
            const rows = await this.org.query(
                `SELECT ${select.join(', ')} FROM ${personObject} WHERE Id = ${soqlString(recordId)}`
            );
            if (rows.length === 0) return { objectName };
            const r = rows[0];
            const account = r.Account as Record<string, unknown> | null;
            const sections = this.i18n.fieldLabels[lang][personObject] ?? {};
            return {
                objectName,
                person: {
                    id: String(r.Id),
                    objectName: personObject,
                    name: str(r, 'Name') ?? recordId,
                    title: str(r, 'Title'),
                    email: str(r, 'Email'),
                    phone: str(r, 'Phone'),
                    organisation:
                        personObject === 'Contact'
                            ? account
                                ? str(account, 'Name')
                                : null
                            : str(r, 'Company'),
                    emailOptOut: bool(r, 'HasOptedOutOfEmail'),
                    salesOptOut: has.has('Marketo_Sales_Opt_Out__c')
                        ? bool(r, 'Marketo_Sales_Opt_Out__c')
                        : null,
                    salesOptOutLabel:
                        sections.Marketo_Sales_Opt_Out__c ??
                        (await this.org.describe(personObject)).fields.find(
                            (f) => f.name === 'Marketo_Sales_Opt_Out__c'
                        )?.label ??
                        'Marketo Sales Opt Out',
                    emailPreferencesLabel:
                        this.i18n.labels[lang]
                            .Audience_Subscriptions_Email_Preferences ??
                        'Email Preferences'
                }
            };
        } catch (err) {
            return {
                objectName,
                problem: `Could not read ${recordId} from the org: ${(err as Error).message}`
            };
        }
    }

    private async recordPage(
        lang: Language,
        recordId: string
    ): Promise<string> {
        const { objectName, person, problem } = await this.person(
            lang,
            recordId
        );
        return recordPage({
            lang,
            recordId,
            objectName,
            person,
            problem,
            context: {
                lang,
                locale: LANGUAGE_INFO[lang].locale,
                timeZone: this.timeZone,
                labels: this.i18n.labels[lang],
                recordId,
                objectApiName: objectName
            }
        });
    }
}

/** Starts the preview server (127.0.0.1, port 0 = a free port). */
export async function startPreviewServer(
    options: PreviewServerOptions
): Promise<PreviewServer> {
    const app = new PreviewApp(options);
    await app.init();
    const server = createServer((req, res) => {
        const started = Date.now();
        app.handle(req, res)
            .catch((err: unknown) => {
                if (!res.headersSent) {
                    send(
                        res,
                        500,
                        problemPage(
                            'en_US',
                            500,
                            `The preview failed: ${(err as Error).message}`
                        ),
                        'text/html; charset=utf-8'
                    );
                } else {
                    res.destroy();
                }
            })
            .finally(() => {
                options.log?.(
                    `${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`
                );
            });
    });
    await new Promise<void>((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () =>
            resolveListen()
        );
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host ?? '127.0.0.1';
    return {
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        port,
        close: () =>
            new Promise<void>((resolveClose) => {
                server.closeAllConnections();
                server.close(() => resolveClose());
            })
    };
}
