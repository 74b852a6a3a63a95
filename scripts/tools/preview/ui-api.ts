/**
 * The slice of the User Interface API that the Lightning Data Service adapters of the
 * preview call, answered from the org's REST API (query, sObject rows, describe):
 *
 *   GET   records/{id}?fields=&optionalFields=                   (getRecord)
 *   GET   related-list-records/{parentId}/{relatedListId}?…      (getRelatedListRecords)
 *   PATCH records/{id}  { fields }                               (updateRecord)
 *
 * Answers have the UI API shapes: Record { apiName, id, fields: { F: { value,
 * displayValue } }, … }, Related List Record Collection { records, count, … }; read
 * errors are arrays [{ errorCode, message }], write errors { message, output: { errors,
 * fieldErrors } }. Picklist display values are the describe's labels translated with
 * the package's object translations; date-times are formatted for the user's locale.
 */
import { createHash } from 'node:crypto';
import {
    LANGUAGE_INFO,
    type Language,
    type PackageI18n,
    picklistLabel
} from './i18n';
import {
    type DescribeField,
    type DescribeObject,
    OrgRequestError,
    type OrgRest,
    type SoqlRecord,
    soqlString
} from './org';

export interface UiContext {
    org: OrgRest;
    i18n: PackageI18n;
    lang: Language;
    timeZone: string;
}

export interface UiAnswer {
    status: number;
    body: unknown;
}

export interface UiFieldValue {
    displayValue: string | null;
    value: unknown;
}

export interface UiRecord {
    apiName: string;
    childRelationships: Record<string, unknown>;
    eTag: string;
    fields: Record<string, UiFieldValue>;
    id: string;
    lastModifiedById: string | null;
    lastModifiedDate: string | null;
    recordTypeId: string | null;
    recordTypeInfo: null;
    systemModstamp: string | null;
    weakEtag: number;
}

const RECORD_ID = /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/;
const SYSTEM_FIELDS = [
    'LastModifiedById',
    'LastModifiedDate',
    'SystemModstamp',
    'RecordTypeId'
];
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1999;

/** A UI API read error answer. */
export function readError(
    status: number,
    errorCode: string,
    message: string
): UiAnswer {
    return { status, body: [{ errorCode, message }] };
}

function notFound(): UiAnswer {
    return readError(404, 'NOT_FOUND', 'The requested resource does not exist');
}

/** An org failure as the UI API read error LDS hands to the component. */
export function orgReadError(err: unknown): UiAnswer {
    if (err instanceof OrgRequestError) {
        return {
            status: err.status,
            body: err.errors.map((e) => ({
                errorCode: e.errorCode,
                message: e.message
            }))
        };
    }
    throw err;
}

/** A REST save failure as a UI API write error (page errors and field errors). */
export function orgWriteError(err: unknown, objectLabel: string): UiAnswer {
    if (!(err instanceof OrgRequestError)) throw err;
    const errors: Array<Record<string, unknown>> = [];
    const fieldErrors: Record<string, Array<Record<string, unknown>>> = {};
    for (const e of err.errors) {
        if (e.fields && e.fields.length > 0) {
            for (const field of e.fields) {
                (fieldErrors[field] ??= []).push({
                    constituentField: null,
                    duplicateRecordError: null,
                    errorCode: e.errorCode,
                    field,
                    fieldLabel: field,
                    message: e.message
                });
            }
        } else {
            errors.push({
                constituentField: null,
                duplicateRecordError: null,
                errorCode: e.errorCode,
                field: null,
                fieldLabel: null,
                message: e.message
            });
        }
    }
    return {
        status: err.status,
        body: {
            enhancedErrorType: 'RecordError',
            message: `An error occurred while trying to update the ${objectLabel.toLowerCase()} record. Please try again.`,
            output: { errors, fieldErrors }
        }
    };
}

/** 'Contact.Account.Name' → ['Account', 'Name'] when the object is Contact. */
export function splitFieldName(
    qualified: string,
    objectName: string
): string[] | undefined {
    const parts = qualified.split('.');
    if (parts.length < 2 || parts.some((p) => p === '')) return undefined;
    if (parts[0].toLowerCase() !== objectName.toLowerCase()) return undefined;
    return parts.slice(1);
}

/** Comma-separated field list of a query parameter. */
export function fieldList(param: string | null): string[] {
    if (!param) return [];
    return param
        .split(',')
        .map((f) => f.trim())
        .filter((f) => f !== '');
}

function findField(
    describe: DescribeObject,
    name: string
): DescribeField | undefined {
    const lower = name.toLowerCase();
    return describe.fields.find((f) => f.name.toLowerCase() === lower);
}

function findRelationship(
    describe: DescribeObject,
    name: string
): DescribeField | undefined {
    const lower = name.toLowerCase();
    return describe.fields.find(
        (f) =>
            f.type === 'reference' &&
            f.relationshipName?.toLowerCase() === lower
    );
}

/** A requested field path resolved against the schema (names in their real case). */
interface ResolvedPath {
    parts: string[];
    field: DescribeField;
    /** The object each relationship step leads to (for nested records). */
    objects: string[];
}

async function resolvePath(
    org: OrgRest,
    objectName: string,
    parts: string[]
): Promise<ResolvedPath | undefined> {
    let describe = await org.describe(objectName);
    const real: string[] = [];
    const objects: string[] = [];
    for (let i = 0; i < parts.length - 1; i++) {
        const rel = findRelationship(describe, parts[i]);
        if (!rel || !rel.relationshipName || rel.referenceTo.length === 0)
            return undefined;
        real.push(rel.relationshipName);
        objects.push(rel.referenceTo[0]);
        describe = await org.describe(rel.referenceTo[0]);
    }
    const field = findField(describe, parts[parts.length - 1]);
    if (!field) return undefined;
    real.push(field.name);
    return { parts: real, field, objects };
}

/**
 * Resolves the fields and optionalFields of a request against one object: an unknown
 * or foreign required field is an error (as a field the user cannot read), an unknown
 * optional field is left out.
 */
async function resolveFields(
    org: OrgRest,
    objectName: string,
    fields: string[],
    optionalFields: string[]
): Promise<{ paths: ResolvedPath[] } | { error: UiAnswer }> {
    const paths: ResolvedPath[] = [];
    const seen = new Set<string>();
    const add = (p: ResolvedPath): void => {
        const key = p.parts.join('.').toLowerCase();
        if (!seen.has(key)) {
            seen.add(key);
            paths.push(p);
        }
    };
    for (const name of fields) {
        const parts = splitFieldName(name, objectName);
        const resolved = parts
            ? await resolvePath(org, objectName, parts)
            : undefined;
        if (!resolved) {
            return {
                error: readError(
                    400,
                    'INVALID_FIELD',
                    `${name} is not a field of ${objectName} that you can read`
                )
            };
        }
        add(resolved);
    }
    for (const name of optionalFields) {
        const parts = splitFieldName(name, objectName);
        const resolved = parts
            ? await resolvePath(org, objectName, parts)
            : undefined;
        if (resolved) add(resolved);
    }
    return { paths };
}

/** ISO 8601 UTC, as the UI API gives date-times ('…+0000' from REST → '…Z'). */
export function isoDateTime(raw: unknown): string | null {
    if (raw === null || raw === undefined || raw === '') return null;
    const date = new Date(String(raw).replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    return Number.isNaN(date.getTime()) ? String(raw) : date.toISOString();
}

/** The UI API value and display value of one field of a REST record. */
export function fieldValue(
    ctx: Pick<UiContext, 'i18n' | 'lang' | 'timeZone'>,
    objectName: string,
    field: DescribeField,
    raw: unknown
): UiFieldValue {
    if (raw === null || raw === undefined) {
        return { displayValue: null, value: null };
    }
    const locale = LANGUAGE_INFO[ctx.lang].locale;
    switch (field.type) {
        case 'picklist': {
            const value = String(raw);
            const label =
                field.picklistValues.find((p) => p.value === value)?.label ??
                value;
            return {
                displayValue: picklistLabel(
                    ctx.i18n,
                    ctx.lang,
                    objectName,
                    field.name,
                    { value, label }
                ),
                value
            };
        }
        case 'datetime': {
            const value = isoDateTime(raw);
            const date = value ? new Date(value) : undefined;
            return {
                displayValue:
                    date && !Number.isNaN(date.getTime())
                        ? new Intl.DateTimeFormat(locale, {
                              dateStyle: 'short',
                              timeStyle: 'short',
                              timeZone: ctx.timeZone
                          }).format(date)
                        : null,
                value
            };
        }
        case 'date': {
            const date = new Date(`${String(raw)}T00:00:00Z`);
            return {
                displayValue: Number.isNaN(date.getTime())
                    ? null
                    : new Intl.DateTimeFormat(locale, {
                          dateStyle: 'short',
                          timeZone: 'UTC'
                      }).format(date),
                value: raw
            };
        }
        default:
            return { displayValue: null, value: raw };
    }
}

function uiRecordShell(
    objectName: string,
    raw: SoqlRecord,
    fields: Record<string, UiFieldValue>
): UiRecord {
    const modstamp = isoDateTime(raw.SystemModstamp);
    const id = String(raw.Id);
    return {
        apiName: objectName,
        childRelationships: {},
        eTag: createHash('md5')
            .update(`${id}:${modstamp ?? ''}:${JSON.stringify(fields)}`)
            .digest('hex'),
        fields,
        id,
        lastModifiedById:
            typeof raw.LastModifiedById === 'string'
                ? raw.LastModifiedById
                : null,
        lastModifiedDate: isoDateTime(raw.LastModifiedDate),
        recordTypeId:
            typeof raw.RecordTypeId === 'string' ? raw.RecordTypeId : null,
        recordTypeInfo: null,
        systemModstamp: modstamp,
        weakEtag: modstamp ? new Date(modstamp).getTime() : 0
    };
}

/** A REST record as a UI API record with the requested fields (nested for paths). */
export function toUiRecord(
    ctx: Pick<UiContext, 'i18n' | 'lang' | 'timeZone'>,
    objectName: string,
    raw: SoqlRecord,
    paths: ResolvedPath[],
    depth = 0
): UiRecord {
    const fields: Record<string, UiFieldValue> = {};
    const nested = new Map<string, ResolvedPath[]>();
    for (const path of paths) {
        if (path.parts.length - depth === 1) {
            const name = path.parts[depth];
            fields[name] = fieldValue(ctx, objectName, path.field, raw[name]);
        } else {
            const rel = path.parts[depth];
            nested.set(rel, [...(nested.get(rel) ?? []), path]);
        }
    }
    for (const [rel, relPaths] of nested) {
        const child = raw[rel] as SoqlRecord | null | undefined;
        const childObject = relPaths[0].objects[depth];
        if (!child) {
            fields[rel] = { displayValue: null, value: null };
            continue;
        }
        const record = toUiRecord(ctx, childObject, child, relPaths, depth + 1);
        const name = record.fields.Name?.value;
        fields[rel] = {
            displayValue: typeof name === 'string' ? name : null,
            value: record
        };
    }
    return uiRecordShell(objectName, raw, fields);
}

async function selectList(
    org: OrgRest,
    objectName: string,
    paths: ResolvedPath[]
): Promise<string> {
    const describe = await org.describe(objectName);
    const names = new Set(['Id']);
    for (const f of SYSTEM_FIELDS) {
        if (findField(describe, f)) names.add(f);
    }
    for (const p of paths) names.add(p.parts.join('.'));
    return [...names].join(', ');
}

/** The object of a record id, or undefined when the id is malformed or unknown. */
async function objectOf(org: OrgRest, id: string): Promise<string | undefined> {
    if (!RECORD_ID.test(id)) return undefined;
    return org.objectOfId(id);
}

/** GET records/{recordId} (getRecord). */
export async function getRecordAnswer(
    ctx: UiContext,
    recordId: string,
    fields: string[],
    optionalFields: string[]
): Promise<UiAnswer> {
    try {
        const objectName = await objectOf(ctx.org, recordId);
        if (!objectName) return notFound();
        if (fields.length === 0 && optionalFields.length === 0) {
            return readError(
                400,
                'ILLEGAL_QUERY_PARAMETER_VALUE',
                'Give fields or optionalFields (the preview has no layouts)'
            );
        }
        const resolved = await resolveFields(
            ctx.org,
            objectName,
            fields,
            optionalFields
        );
        if ('error' in resolved) return resolved.error;
        const rows = await ctx.org.query(
            `SELECT ${await selectList(ctx.org, objectName, resolved.paths)} FROM ${objectName} WHERE Id = ${soqlString(recordId)}`
        );
        if (rows.length === 0) return notFound();
        return {
            status: 200,
            body: toUiRecord(ctx, objectName, rows[0], resolved.paths)
        };
    } catch (err) {
        return orgReadError(err);
    }
}

/** sortBy entries: 'Object.Field' or '-Object.Field' (descending). */
async function orderBy(
    org: OrgRest,
    objectName: string,
    sortBy: string[]
): Promise<string | UiAnswer> {
    const terms: string[] = [];
    for (const entry of sortBy) {
        const descending = entry.startsWith('-');
        const name = descending ? entry.slice(1) : entry;
        const parts = splitFieldName(name, objectName);
        const resolved = parts
            ? await resolvePath(org, objectName, parts)
            : undefined;
        if (!resolved) {
            return readError(
                400,
                'INVALID_FIELD',
                `Cannot sort by ${name}: not a field of ${objectName}`
            );
        }
        terms.push(
            `${resolved.parts.join('.')} ${descending ? 'DESC NULLS LAST' : 'ASC NULLS FIRST'}`
        );
    }
    terms.push('Id ASC');
    return terms.join(', ');
}

export interface RelatedListParams {
    fields: string[];
    optionalFields: string[];
    sortBy: string[];
    pageSize?: number;
    where?: string | null;
}

/** GET related-list-records/{parentRecordId}/{relatedListId} (getRelatedListRecords). */
export async function getRelatedListRecordsAnswer(
    ctx: UiContext,
    parentRecordId: string,
    relatedListId: string,
    params: RelatedListParams
): Promise<UiAnswer> {
    try {
        const parentObject = await objectOf(ctx.org, parentRecordId);
        if (!parentObject) return notFound();
        if (params.where) {
            return readError(
                400,
                'ILLEGAL_QUERY_PARAMETER_VALUE',
                'The preview does not support the where parameter of related list records'
            );
        }
        const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
        if (
            !Number.isInteger(pageSize) ||
            pageSize < 1 ||
            pageSize > MAX_PAGE_SIZE
        ) {
            return readError(
                400,
                'ILLEGAL_QUERY_PARAMETER_VALUE',
                `pageSize must be between 1 and ${MAX_PAGE_SIZE}`
            );
        }
        const parent = await ctx.org.describe(parentObject);
        const relationship = parent.childRelationships.find(
            (r) => r.relationshipName === relatedListId
        );
        if (!relationship) {
            return readError(
                404,
                'NOT_FOUND',
                `${relatedListId} is not a related list of ${parentObject}`
            );
        }
        const child = relationship.childSObject;
        const resolved = await resolveFields(
            ctx.org,
            child,
            params.fields,
            params.optionalFields
        );
        if ('error' in resolved) return resolved.error;
        const order = await orderBy(ctx.org, child, params.sortBy);
        if (typeof order !== 'string') return order;
        // One more than the page tells whether there is a next page.
        const rows = await ctx.org.query(
            `SELECT ${await selectList(ctx.org, child, resolved.paths)} FROM ${child} WHERE ${relationship.field} = ${soqlString(parentRecordId)} ORDER BY ${order} LIMIT ${pageSize + 1}`
        );
        const records = rows
            .slice(0, pageSize)
            .map((row) => toUiRecord(ctx, child, row, resolved.paths));
        return {
            status: 200,
            body: {
                count: records.length,
                currentPageToken: '0',
                currentPageUrl: null,
                fields: params.fields,
                listInfoETag: null,
                listReference: {
                    id: null,
                    inContextOfRecordId: parentRecordId,
                    listViewApiName: null,
                    objectApiName: child,
                    parentObjectApiName: parentObject,
                    recordTypeId: null,
                    relatedListId,
                    type: 'relatedList'
                },
                // Paging is not offered: the page tells whether more records exist.
                nextPageToken: rows.length > pageSize ? String(pageSize) : null,
                nextPageUrl: null,
                optionalFields: params.optionalFields,
                pageSize,
                parentRecordId,
                previousPageToken: null,
                previousPageUrl: null,
                records,
                sortBy: params.sortBy
            }
        };
    } catch (err) {
        return orgReadError(err);
    }
}

/** PATCH records/{recordId} (updateRecord): saves, then answers the saved record. */
export async function updateRecordAnswer(
    ctx: UiContext,
    recordId: string,
    input: unknown
): Promise<UiAnswer> {
    const fields =
        input &&
        typeof input === 'object' &&
        'fields' in input &&
        input.fields &&
        typeof input.fields === 'object' &&
        !Array.isArray(input.fields)
            ? (input.fields as Record<string, unknown>)
            : undefined;
    const writeError = (message: string, status = 400): UiAnswer => ({
        status,
        body: {
            enhancedErrorType: 'RecordError',
            message,
            output: {
                errors: [
                    {
                        constituentField: null,
                        duplicateRecordError: null,
                        errorCode:
                            status === 404 ? 'NOT_FOUND' : 'INVALID_INPUT',
                        field: null,
                        fieldLabel: null,
                        message
                    }
                ],
                fieldErrors: {}
            }
        }
    });
    if (!fields) return writeError('The body must be { "fields": { … } }');
    let objectName: string | undefined;
    let label = 'record';
    try {
        objectName = await objectOf(ctx.org, recordId);
        if (!objectName) {
            return writeError('The requested resource does not exist', 404);
        }
        const describe = await ctx.org.describe(objectName);
        label = describe.label;
        await ctx.org.request(
            'PATCH',
            `/sobjects/${objectName}/${encodeURIComponent(recordId)}`,
            fields
        );
    } catch (err) {
        return orgWriteError(err, label);
    }
    const names = Object.keys(fields).map((f) => `${objectName}.${f}`);
    const saved = await getRecordAnswer(ctx, recordId, [], names);
    return saved;
}
