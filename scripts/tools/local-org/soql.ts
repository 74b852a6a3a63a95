/**
 * SOQL → parameterised SQL. The query is parsed by @jetstreamapp/soql-parser-js, then
 * every name is resolved against the org's schema (so unknown fields and objects get
 * Salesforce's INVALID_FIELD / INVALID_TYPE answers) and literals are converted to
 * column values; nothing from the query text reaches SQL except through parameters and
 * identifiers checked against the schema.
 *
 * Supported: fields, parent relationship paths (Contact__r.Email, any depth), child
 * subqueries, WHERE with AND/OR/NOT and parentheses, = != <> < <= > >=, IN / NOT IN
 * (values or a semi-join subquery), LIKE, INCLUDES/EXCLUDES, NULL, booleans, numbers,
 * date and date-time literals, relative date literals (TODAY, LAST_N_DAYS:n, …),
 * ORDER BY with NULLS FIRST/LAST, LIMIT, OFFSET, FIELDS(ALL|STANDARD|CUSTOM), COUNT(),
 * and aggregate queries (COUNT, COUNT_DISTINCT, MIN, MAX, SUM, AVG with GROUP BY and
 * HAVING).
 */
import { parseQuery } from '@jetstreamapp/soql-parser-js';
import { ApiError, malformedQuery, unsupportedSObject } from './errors';
import {
    type FieldDef,
    type ObjectDef,
    findField,
    isTextType,
    quoteIdent,
    tableName
} from './schema';
import { normalizeId } from '../../model/ids';
import { parseDateTime } from './values';

/** The part of the store the compiler needs. */
export interface SchemaSource {
    getObject(name: string): ObjectDef | undefined;
    listObjects(): ObjectDef[];
}

export interface OutputField {
    kind: 'field';
    key: string;
    field: FieldDef;
    alias: string;
}
export interface OutputParent {
    kind: 'parent';
    key: string;
    node: ShapeNode;
}
export interface OutputChild {
    kind: 'child';
    key: string;
    plan: ChildPlan;
}
export type OutputEntry = OutputField | OutputParent | OutputChild;

/** How one (possibly nested) record of the result is built from a SQL row. */
export interface ShapeNode {
    obj: ObjectDef;
    /** SQL alias of this record's Id (for attributes.url and null detection). */
    idAlias: string;
    entries: OutputEntry[];
}

export interface ChildPlan {
    obj: ObjectDef;
    /** The child's lookup column to the parent. */
    fkField: FieldDef;
    /** SQL alias of the fk in the child query. */
    fkAlias: string;
    selectSql: string[];
    fromSql: string;
    whereSql: string;
    params: unknown[];
    orderSql: string;
    limit: number | null;
    shape: ShapeNode;
}

export interface AggregateOutput {
    key: string;
    /** How the query wrote it, e.g. COUNT(Id) (query columns' displayName). */
    display: string;
    alias: string;
    /** Field for value formatting; undefined for COUNT. */
    field?: FieldDef;
    isCount: boolean;
}

export interface CompiledQuery {
    soql: string;
    obj: ObjectDef;
    mode: 'records' | 'count' | 'aggregate';
    selectSql: string[];
    fromSql: string;
    /** The LEFT JOINs for parent relationships alone (part of fromSql). */
    joinsSql: string;
    /** WHERE without the IsDeleted filter (added per query/queryAll). */
    whereSql: string;
    params: unknown[];
    /** ORDER BY body, '' when none. */
    orderSql: string;
    /** True when rows come in _rid order (no ORDER BY, or ORDER BY Id ASC). */
    ridOrder: boolean;
    limit: number | null;
    offset: number | null;
    shape: ShapeNode;
    /** Columns in SELECT order for Bulk API CSV (header = field path). */
    flat: Array<{ header: string; alias: string; field: FieldDef }>;
    children: ChildPlan[];
    aggregates: AggregateOutput[];
    hasDeletedColumn: boolean;
}

// ---- helpers ---------------------------------------------------------------

function noSuchColumn(name: string, obj: ObjectDef): ApiError {
    return new ApiError(
        400,
        'INVALID_FIELD',
        `No such column '${name}' on entity '${obj.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`
    );
}

function badRelationship(name: string): ApiError {
    return new ApiError(
        400,
        'INVALID_FIELD',
        `Didn't understand relationship '${name}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`
    );
}

/** Salesforce prefixes SOQL errors with the query and a caret at the offending column. */
function withLocation(err: ApiError, soql: string, token: string): ApiError {
    if (err.errorCode !== 'INVALID_FIELD' && err.errorCode !== 'INVALID_TYPE')
        return err;
    const line = soql.replace(/\s+/g, ' ');
    const idx = line.toLowerCase().indexOf(token.toLowerCase());
    if (idx < 0) return err;
    const start = Math.max(0, idx - 40);
    const snippet = line.slice(start, idx + token.length + 40);
    const caret = `${' '.repeat(idx - start)}^`;
    return new ApiError(
        err.status,
        err.errorCode,
        `\n${snippet}\n${caret}\nERROR at Row:1:Column:${idx + 1}\n${err.message}`
    );
}

/** Unescapes a SOQL string literal ('…' with backslash escapes). */
export function unquote(raw: string, like = false): string {
    let s = raw.trim();
    if (s.startsWith("'") && s.endsWith("'")) s = s.slice(1, -1);
    let out = '';
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (c !== '\\') {
            out += c;
            continue;
        }
        const n = s[++i];
        switch (n) {
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case '%':
            case '_':
                out += like ? `\\${n}` : n;
                break;
            case '\\':
                out += like ? '\\\\' : '\\';
                break;
            case undefined:
                throw malformedQuery(
                    'Invalid string literal: trailing backslash'
                );
            default:
                out += n;
        }
    }
    return out;
}

// ---- date literals -----------------------------------------------------------

const DAY = 86_400_000;

function utcDay(ms: number): number {
    return Math.floor(ms / DAY) * DAY;
}

function addMonths(ms: number, n: number): number {
    const d = new Date(ms);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1);
}

/** [start, end) in epoch ms of a relative date literal, in UTC (week starts Sunday). */
export function dateLiteralRange(
    literal: string,
    now: number = Date.now()
): [number, number] {
    const [name, nRaw] = literal.toUpperCase().split(':');
    const n = nRaw === undefined ? 0 : Number(nRaw);
    if (nRaw !== undefined && (!Number.isInteger(n) || n < 0)) {
        throw malformedQuery(`Invalid date literal: ${literal}`);
    }
    const today = utcDay(now);
    const weekStart = today - new Date(today).getUTCDay() * DAY;
    const monthStart = addMonths(today, 0);
    const d = new Date(today);
    const quarterStart = Date.UTC(
        d.getUTCFullYear(),
        Math.floor(d.getUTCMonth() / 3) * 3,
        1
    );
    const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
    const yearAt = (k: number): number =>
        Date.UTC(d.getUTCFullYear() + k, 0, 1);
    switch (name) {
        case 'TODAY':
            return [today, today + DAY];
        case 'YESTERDAY':
            return [today - DAY, today];
        case 'TOMORROW':
            return [today + DAY, today + 2 * DAY];
        case 'THIS_WEEK':
            return [weekStart, weekStart + 7 * DAY];
        case 'LAST_WEEK':
            return [weekStart - 7 * DAY, weekStart];
        case 'NEXT_WEEK':
            return [weekStart + 7 * DAY, weekStart + 14 * DAY];
        case 'THIS_MONTH':
            return [monthStart, addMonths(monthStart, 1)];
        case 'LAST_MONTH':
            return [addMonths(monthStart, -1), monthStart];
        case 'NEXT_MONTH':
            return [addMonths(monthStart, 1), addMonths(monthStart, 2)];
        case 'THIS_QUARTER':
            return [quarterStart, addMonths(quarterStart, 3)];
        case 'LAST_QUARTER':
            return [addMonths(quarterStart, -3), quarterStart];
        case 'NEXT_QUARTER':
            return [addMonths(quarterStart, 3), addMonths(quarterStart, 6)];
        case 'THIS_YEAR':
            return [yearStart, yearAt(1)];
        case 'LAST_YEAR':
            return [yearAt(-1), yearStart];
        case 'NEXT_YEAR':
            return [yearAt(1), yearAt(2)];
        case 'LAST_90_DAYS':
            return [today - 90 * DAY, today + DAY];
        case 'NEXT_90_DAYS':
            return [today + DAY, today + 91 * DAY];
        case 'LAST_N_DAYS':
            return [today - n * DAY, today + DAY];
        case 'NEXT_N_DAYS':
            return [today + DAY, today + (n + 1) * DAY];
        case 'N_DAYS_AGO':
            return [today - n * DAY, today - (n - 1) * DAY];
        case 'LAST_N_WEEKS':
            return [weekStart - 7 * n * DAY, weekStart];
        case 'NEXT_N_WEEKS':
            return [weekStart + 7 * DAY, weekStart + 7 * (n + 1) * DAY];
        case 'N_WEEKS_AGO':
            return [weekStart - 7 * n * DAY, weekStart - 7 * (n - 1) * DAY];
        case 'LAST_N_MONTHS':
            return [addMonths(monthStart, -n), monthStart];
        case 'NEXT_N_MONTHS':
            return [addMonths(monthStart, 1), addMonths(monthStart, n + 1)];
        case 'N_MONTHS_AGO':
            return [addMonths(monthStart, -n), addMonths(monthStart, -n + 1)];
        case 'LAST_N_YEARS':
            return [yearAt(-n), yearStart];
        case 'NEXT_N_YEARS':
            return [yearAt(1), yearAt(n + 1)];
        case 'N_YEARS_AGO':
            return [yearAt(-n), yearAt(-n + 1)];
        default:
            throw malformedQuery(
                `Date literal ${literal} is not supported by the local org`
            );
    }
}

// ---- the compiler --------------------------------------------------------------

type Json = Record<string, unknown>;

interface Ctx {
    schema: SchemaSource;
    soql: string;
    base: ObjectDef;
    baseAlias: string | undefined;
    tableAlias: string;
    joins: Map<string, { alias: string; obj: ObjectDef }>;
    joinSql: string[];
    aliasCounter: { n: number };
    params: unknown[];
    now: number;
}

function newCtx(
    schema: SchemaSource,
    soql: string,
    base: ObjectDef,
    baseAlias: string | undefined,
    tableAlias: string,
    aliasCounter: { n: number },
    now: number
): Ctx {
    return {
        schema,
        soql,
        base,
        baseAlias,
        tableAlias,
        joins: new Map(),
        joinSql: [],
        aliasCounter,
        params: [],
        now
    };
}

function lookupObject(schema: SchemaSource, name: string): ObjectDef {
    const obj = schema.getObject(name);
    if (!obj || !obj.queryable) throw unsupportedSObject(name);
    return obj;
}

/** Resolves a dotted path to (SQL table alias, object, field), adding LEFT JOINs. */
function resolvePath(
    ctx: Ctx,
    path: string
): { tableAlias: string; obj: ObjectDef; field: FieldDef; segments: string[] } {
    let segments = path.split('.');
    if (
        segments.length > 1 &&
        (segments[0].toLowerCase() === ctx.base.name.toLowerCase() ||
            (ctx.baseAlias &&
                segments[0].toLowerCase() === ctx.baseAlias.toLowerCase()))
    ) {
        segments = segments.slice(1);
    }
    let obj = ctx.base;
    let alias = ctx.tableAlias;
    const canonical: string[] = [];
    let joinKey = '';
    for (let i = 0; i < segments.length - 1; i++) {
        const rel = segments[i];
        const refField = obj.fields.find(
            (fd) =>
                fd.type === 'reference' &&
                fd.relationshipName?.toLowerCase() === rel.toLowerCase()
        );
        if (!refField) throw withLocation(badRelationship(rel), ctx.soql, rel);
        const target = (refField.referenceTo ?? [])
            .map((n) => ctx.schema.getObject(n))
            .find((o): o is ObjectDef => o !== undefined);
        if (!target) throw withLocation(badRelationship(rel), ctx.soql, rel);
        joinKey += `.${(refField.relationshipName as string).toLowerCase()}`;
        let join = ctx.joins.get(joinKey);
        if (!join) {
            const a = `t${ctx.aliasCounter.n++}`;
            join = { alias: a, obj: target };
            ctx.joins.set(joinKey, join);
            ctx.joinSql.push(
                `LEFT JOIN ${quoteIdent(tableName(target.name))} ${a} ON ${a}."Id" = ${alias}.${quoteIdent(refField.name)}`
            );
        }
        canonical.push(refField.relationshipName as string);
        obj = join.obj;
        alias = join.alias;
    }
    const last = segments[segments.length - 1];
    const field = findField(obj, last);
    if (!field) throw withLocation(noSuchColumn(last, obj), ctx.soql, last);
    canonical.push(field.name);
    return { tableAlias: alias, obj, field, segments: canonical };
}

function col(tableAlias: string, field: FieldDef): string {
    return `${tableAlias}.${quoteIdent(field.name)}`;
}

function typeName(field: FieldDef): string {
    switch (field.type) {
        case 'boolean':
            return 'boolean';
        case 'datetime':
            return 'dateTime';
        case 'date':
            return 'date';
        case 'double':
        case 'currency':
        case 'percent':
            return 'double';
        case 'int':
            return 'int';
        case 'id':
        case 'reference':
            return 'id';
        default:
            return 'string';
    }
}

function criterionError(field: FieldDef, quoted: boolean): ApiError {
    return new ApiError(
        400,
        'INVALID_FIELD',
        `value of filter criterion for field '${field.name}' must be of type ${typeName(
            field
        )} and should ${quoted ? 'not ' : ''}be enclosed in quotes`
    );
}

/** A WHERE literal as a column value (or a [start,end) range for date literals). */
function literalValue(
    ctx: Ctx,
    field: FieldDef,
    literalType: string,
    raw: string,
    like: boolean
): unknown {
    switch (literalType) {
        case 'NULL':
            return null;
        case 'STRING': {
            if (!isTextType(field.type)) throw criterionError(field, true);
            const text = unquote(raw, like);
            if ((field.type === 'id' || field.type === 'reference') && !like) {
                if (text === '') return null;
                const check = normalizeId(text);
                if (!check.ok) {
                    throw new ApiError(
                        400,
                        'INVALID_QUERY_FILTER_OPERATOR',
                        `invalid ID field: ${text}`
                    );
                }
                return check.id;
            }
            return text;
        }
        case 'BOOLEAN':
            if (field.type !== 'boolean') throw criterionError(field, false);
            return raw.toUpperCase() === 'TRUE' ? 1 : 0;
        case 'INTEGER':
        case 'DECIMAL':
        case 'INTEGER_WITH_CURRENCY_PREFIX':
        case 'DECIMAL_WITH_CURRENCY_PREFIX': {
            if (
                !['double', 'int', 'currency', 'percent'].includes(field.type)
            ) {
                throw criterionError(field, false);
            }
            const n = Number(raw.replace(/^[A-Z]{3}/, ''));
            if (!Number.isFinite(n)) throw malformedQuery(`Bad number ${raw}`);
            return n;
        }
        case 'DATETIME': {
            if (field.type !== 'datetime') throw criterionError(field, false);
            const t = parseDateTime(raw);
            if (t === null) throw malformedQuery(`Invalid datetime: ${raw}`);
            return t;
        }
        case 'DATE': {
            if (field.type !== 'date') throw criterionError(field, false);
            return raw;
        }
        case 'DATE_LITERAL':
        case 'DATE_N_LITERAL': {
            if (field.type !== 'date' && field.type !== 'datetime')
                throw criterionError(field, false);
            const [s, e] = dateLiteralRange(raw, ctx.now);
            return field.type === 'date'
                ? {
                      range: [
                          new Date(s).toISOString().slice(0, 10),
                          new Date(e).toISOString().slice(0, 10)
                      ]
                  }
                : { range: [s, e] };
        }
        default:
            throw malformedQuery(
                `Literal type ${literalType} is not supported by the local org`
            );
    }
}

function addParam(ctx: Ctx, v: unknown): string {
    ctx.params.push(v);
    return '?';
}

function conditionSql(ctx: Ctx, cond: Json): string {
    if (cond.fn) {
        const fn = cond.fn as Json;
        throw malformedQuery(
            `Function ${String(fn.functionName)} in WHERE is not supported by the local org`
        );
    }
    const fieldPath = String(cond.field);
    const { tableAlias, field } = resolvePath(ctx, fieldPath);
    const c = col(tableAlias, field);
    const op = String(cond.operator).toUpperCase();
    const literalTypes = cond.literalType;
    if (literalTypes === 'SUBQUERY' || cond.valueQuery) {
        if (op !== 'IN' && op !== 'NOT IN')
            throw malformedQuery('A semi-join needs IN or NOT IN');
        const sub = compileSemiJoin(ctx, cond.valueQuery as Json);
        return op === 'IN'
            ? `(${c} IS NOT NULL AND ${c} IN (${sub}))`
            : `(${c} IS NULL OR ${c} NOT IN (${sub}))`;
    }
    const values = Array.isArray(cond.value)
        ? (cond.value as string[])
        : [String(cond.value)];
    const types = Array.isArray(literalTypes)
        ? (literalTypes as string[])
        : values.map(() => String(literalTypes));
    const isLike = op === 'LIKE';
    const vals = values.map((raw, i) =>
        literalValue(
            ctx,
            field,
            String(types[i] ?? types[0]).toUpperCase() === 'NULL' ||
                String(raw).toUpperCase() === 'NULL'
                ? 'NULL'
                : String(types[i] ?? types[0]).toUpperCase(),
            raw,
            isLike
        )
    );
    const isRange = (v: unknown): v is { range: [unknown, unknown] } =>
        typeof v === 'object' && v !== null && 'range' in v;

    if (op === 'IN' || op === 'NOT IN') {
        const nonNull = vals.filter((v) => v !== null);
        if (nonNull.some(isRange))
            throw malformedQuery('Date literals are not allowed in IN');
        const hasNull = nonNull.length !== vals.length;
        const list = nonNull.map((v) => addParam(ctx, v)).join(', ');
        if (op === 'IN') {
            const parts: string[] = [];
            if (nonNull.length) parts.push(`${c} IN (${list})`);
            if (hasNull) parts.push(`${c} IS NULL`);
            return parts.length ? `(${parts.join(' OR ')})` : '0';
        }
        const parts: string[] = [];
        if (nonNull.length)
            parts.push(`(${c} IS NULL OR ${c} NOT IN (${list}))`);
        if (hasNull) parts.push(`${c} IS NOT NULL`);
        return parts.length ? `(${parts.join(' AND ')})` : '1';
    }
    if (op === 'INCLUDES' || op === 'EXCLUDES') {
        if (field.type !== 'multipicklist')
            throw malformedQuery(
                `INCLUDES and EXCLUDES need a multi-select picklist field: ${field.name}`
            );
        // Each value may itself be 'a;b' = all of a and b.
        const alternatives = vals.map((v) => {
            const parts = String(v)
                .split(';')
                .map(
                    (p) =>
                        `(';' || ${c} || ';') LIKE ${addParam(ctx, `%;${p.replace(/[\\%_]/g, (m) => `\\${m}`)};%`)} ESCAPE '\\'`
                );
            return `(${parts.join(' AND ')})`;
        });
        const any = `(${c} IS NOT NULL AND (${alternatives.join(' OR ')}))`;
        return op === 'INCLUDES' ? any : `NOT ${any}`;
    }
    if (vals.length !== 1)
        throw malformedQuery(`Operator ${op} takes one value`);
    const v = vals[0];
    if (isLike) {
        if (!isTextType(field.type))
            throw new ApiError(
                400,
                'INVALID_FIELD',
                `invalid operator on ${typeName(field)} field: LIKE`
            );
        if (v === null) return '0';
        return `(${c} IS NOT NULL AND ${c} LIKE ${addParam(ctx, v)} ESCAPE '\\')`;
    }
    if (isRange(v)) {
        const [s, e] = v.range;
        switch (op) {
            case '=':
                return `(${c} >= ${addParam(ctx, s)} AND ${c} < ${addParam(ctx, e)})`;
            case '!=':
            case '<>':
                return `(${c} IS NULL OR ${c} < ${addParam(ctx, s)} OR ${c} >= ${addParam(ctx, e)})`;
            case '<':
                return `(${c} < ${addParam(ctx, s)})`;
            case '<=':
                return `(${c} < ${addParam(ctx, e)})`;
            case '>':
                return `(${c} >= ${addParam(ctx, e)})`;
            case '>=':
                return `(${c} >= ${addParam(ctx, s)})`;
            default:
                throw malformedQuery(`Operator ${op} is not supported`);
        }
    }
    if (v === null) {
        if (op === '=') return `${c} IS NULL`;
        if (op === '!=' || op === '<>') return `${c} IS NOT NULL`;
        throw malformedQuery(`Operator ${op} cannot compare with null`);
    }
    switch (op) {
        case '=':
            return `${c} = ${addParam(ctx, v)}`;
        case '!=':
        case '<>':
            // SOQL's != also matches null values.
            return `(${c} IS NULL OR ${c} != ${addParam(ctx, v)})`;
        case '<':
        case '<=':
        case '>':
        case '>=':
            if (field.type === 'boolean')
                throw new ApiError(
                    400,
                    'INVALID_FIELD',
                    `invalid operator on boolean field: ${op}`
                );
            return `(${c} IS NOT NULL AND ${c} ${op} ${addParam(ctx, v)})`;
        default:
            throw malformedQuery(`Unknown operator ${op}`);
    }
}

type Tok =
    | { t: 'cond'; c: Json }
    | { t: '(' }
    | { t: ')' }
    | { t: 'AND' | 'OR' | 'NOT' };

/**
 * soql-parser-js gives WHERE as a right-leaning chain whose conditions carry
 * open/close parenthesis counts; flatten it to tokens and parse with SOQL's rules
 * (AND and OR cannot be mixed without parentheses).
 */
function flattenWhere(node: Json | undefined | null, out: Tok[]): void {
    if (!node) return;
    const left = node.left as Json | null | undefined;
    if (left) {
        const open = Number(left.openParen ?? 0);
        const close = Number(left.closeParen ?? 0);
        for (let i = 0; i < open; i++) out.push({ t: '(' });
        // A left side may be a bare parenthesis marker, as in "(NOT x = 1)".
        if (left.field !== undefined || left.fn !== undefined)
            out.push({ t: 'cond', c: left });
        for (let i = 0; i < close; i++) out.push({ t: ')' });
    }
    if (node.operator) {
        const op = String(node.operator).toUpperCase();
        if (op !== 'AND' && op !== 'OR' && op !== 'NOT')
            throw malformedQuery(`unexpected token: ${op}`);
        out.push({ t: op });
    }
    if (node.right) flattenWhere(node.right as Json, out);
}

function whereSql(
    ctx: Ctx,
    node: Json | undefined,
    leaf: (ctx: Ctx, cond: Json) => string = conditionSql
): string {
    if (!node) return '';
    const tokens: Tok[] = [];
    flattenWhere(node, tokens);
    let pos = 0;
    const parseExpr = (): string => {
        const first = parseUnary();
        let joiner: 'AND' | 'OR' | null = null;
        const parts = [first];
        while (pos < tokens.length) {
            const t = tokens[pos];
            if (t.t !== 'AND' && t.t !== 'OR') break;
            if (joiner && joiner !== t.t)
                throw malformedQuery(
                    `unexpected token: '${t.t}' (use parentheses to mix AND and OR)`
                );
            joiner = t.t;
            pos++;
            parts.push(parseUnary());
        }
        return parts.length === 1 ? first : `(${parts.join(` ${joiner} `)})`;
    };
    const parseUnary = (): string => {
        const t = tokens[pos];
        if (!t) throw malformedQuery('unexpected end of WHERE clause');
        if (t.t === 'NOT') {
            pos++;
            return `(NOT ${parseUnary()})`;
        }
        if (t.t === '(') {
            pos++;
            const inner = parseExpr();
            if (tokens[pos]?.t !== ')')
                throw malformedQuery('unbalanced parentheses in WHERE');
            pos++;
            return `(${inner})`;
        }
        if (t.t === 'cond') {
            pos++;
            return leaf(ctx, t.c);
        }
        throw malformedQuery(`unexpected token: ${t.t}`);
    };
    const sql = parseExpr();
    if (pos !== tokens.length)
        throw malformedQuery('unexpected token in WHERE clause');
    return sql;
}

function compileSemiJoin(ctx: Ctx, query: Json): string {
    const obj = lookupObject(ctx.schema, String(query.sObject));
    const fields = (query.fields as Json[]) ?? [];
    if (fields.length !== 1 || fields[0].type !== 'Field')
        throw malformedQuery('A semi-join subquery selects exactly one field');
    const alias = `t${ctx.aliasCounter.n++}`;
    const sub = newCtx(
        ctx.schema,
        ctx.soql,
        obj,
        query.sObjectAlias as string | undefined,
        alias,
        ctx.aliasCounter,
        ctx.now
    );
    const { tableAlias, field } = resolvePath(sub, String(fields[0].field));
    if (field.type !== 'id' && field.type !== 'reference')
        throw malformedQuery(
            'The selected field in a semi-join subquery must be an Id or reference field'
        );
    const where = whereSql(sub, query.where as Json | undefined);
    const hasDeleted = findField(obj, 'IsDeleted') !== undefined;
    const conds = [
        ...(hasDeleted ? [`${alias}."IsDeleted" = 0`] : []),
        ...(where ? [where] : [])
    ];
    ctx.params.push(...sub.params);
    return `SELECT ${col(tableAlias, field)} FROM ${quoteIdent(tableName(obj.name))} ${alias} ${sub.joinSql.join(' ')}${
        conds.length ? ` WHERE ${conds.join(' AND ')}` : ''
    }`;
}

function orderSql(
    ctx: Ctx,
    orderBy: Json[] | undefined
): { sql: string; ridOrder: boolean } {
    if (!orderBy || orderBy.length === 0) return { sql: '', ridOrder: true };
    const parts: string[] = [];
    let ridOrder = false;
    for (const item of orderBy) {
        if (item.fn) throw malformedQuery('ORDER BY a function needs GROUP BY');
        const { tableAlias, field, segments } = resolvePath(
            ctx,
            String(item.field)
        );
        const dir =
            String(item.order ?? 'ASC').toUpperCase() === 'DESC'
                ? 'DESC'
                : 'ASC';
        const nulls = item.nulls
            ? ` NULLS ${String(item.nulls).toUpperCase() === 'LAST' ? 'LAST' : 'FIRST'}`
            : dir === 'ASC'
              ? ' NULLS FIRST'
              : ' NULLS LAST';
        parts.push(`${col(tableAlias, field)} ${dir}${nulls}`);
        if (
            orderBy.length === 1 &&
            segments.length === 1 &&
            field.name === 'Id' &&
            dir === 'ASC'
        )
            ridOrder = true;
    }
    return { sql: ridOrder ? '' : parts.join(', '), ridOrder };
}

interface SelectBuild {
    selectSql: string[];
    shape: ShapeNode;
    flat: Array<{ header: string; alias: string; field: FieldDef }>;
    children: ChildPlan[];
}

function expandFieldsFn(obj: ObjectDef, which: string): string[] {
    const w = which.toUpperCase();
    return obj.fields
        .filter((fd) =>
            w === 'ALL' ? true : w === 'CUSTOM' ? fd.custom : !fd.custom
        )
        .map((fd) => fd.name);
}

function buildSelect(
    ctx: Ctx,
    fields: Json[],
    allowChildren: boolean,
    limit: number | null
): SelectBuild {
    const selectSql: string[] = [];
    let colN = 0;
    const aliasFor = (expr: string): string => {
        const a = `c${colN++}`;
        selectSql.push(`${expr} AS ${a}`);
        return a;
    };
    const rootIdAlias = aliasFor(`${ctx.tableAlias}."Id"`);
    const root: ShapeNode = {
        obj: ctx.base,
        idAlias: rootIdAlias,
        entries: []
    };
    const parentNodes = new Map<string, ShapeNode>();
    const flat: SelectBuild['flat'] = [];
    const children: Array<{ key: string; plan: ChildPlan }> = [];
    const seen = new Set<string>();

    const addPath = (path: string): void => {
        const { tableAlias, field, segments } = resolvePath(ctx, path);
        const key = segments.join('.').toLowerCase();
        if (seen.has(key)) {
            throw malformedQuery(
                `duplicate field selected: ${segments.join('.')}`
            );
        }
        seen.add(key);
        const alias = aliasFor(col(tableAlias, field));
        flat.push({ header: segments.join('.'), alias, field });
        let node = root;
        let prefix = '';
        for (let i = 0; i < segments.length - 1; i++) {
            prefix += `.${segments[i].toLowerCase()}`;
            let child = parentNodes.get(prefix);
            if (!child) {
                const join = ctx.joins.get(prefix);
                if (!join) throw new Error(`join missing for ${prefix}`);
                child = {
                    obj: join.obj,
                    idAlias: aliasFor(`${join.alias}."Id"`),
                    entries: []
                };
                parentNodes.set(prefix, child);
                node.entries.push({
                    kind: 'parent',
                    key: segments[i],
                    node: child
                });
            }
            node = child;
        }
        node.entries.push({
            kind: 'field',
            key: field.name,
            field,
            alias
        });
    };

    for (const item of fields) {
        switch (item.type) {
            case 'Field': {
                addPath(String(item.field));
                break;
            }
            case 'FieldRelationship': {
                const rels = (item.relationships as string[]) ?? [];
                const path = [...rels, String(item.field)].join('.');
                addPath(
                    item.objectPrefix
                        ? `${String(item.objectPrefix)}.${path}`
                        : path
                );
                break;
            }
            case 'FieldFunctionExpression': {
                const fn = String(item.functionName).toUpperCase();
                if (fn === 'FIELDS') {
                    const which = String(
                        (item.parameters as string[])[0] ?? ''
                    );
                    if (
                        which.toUpperCase() !== 'STANDARD' &&
                        (limit === null || limit > 200)
                    ) {
                        throw malformedQuery(
                            'The SOQL FIELDS function must have a LIMIT of at most 200'
                        );
                    }
                    for (const name of expandFieldsFn(ctx.base, which)) {
                        if (!seen.has(name.toLowerCase())) addPath(name);
                    }
                    break;
                }
                throw malformedQuery(
                    `Function ${fn} in SELECT is not supported by the local org`
                );
            }
            case 'FieldSubquery': {
                if (!allowChildren)
                    throw malformedQuery('Nested subqueries are not supported');
                const plan = compileChild(ctx, item.subquery as Json);
                children.push(plan);
                root.entries.push({
                    kind: 'child',
                    key: plan.key,
                    plan: plan.plan
                });
                break;
            }
            case 'FieldTypeof':
                throw malformedQuery(
                    'TYPEOF is not supported by the local org'
                );
            default:
                throw malformedQuery(
                    `Unsupported select item ${String(item.type)}`
                );
        }
    }
    return {
        selectSql,
        shape: root,
        flat,
        children: children.map((c) => c.plan)
    };
}

function compileChild(ctx: Ctx, sub: Json): { key: string; plan: ChildPlan } {
    const relName = String(sub.relationshipName);
    let found: { obj: ObjectDef; field: FieldDef } | undefined;
    for (const obj of ctx.schema.listObjects()) {
        for (const field of obj.fields) {
            if (
                field.type === 'reference' &&
                field.childRelationshipName?.toLowerCase() ===
                    relName.toLowerCase() &&
                field.referenceTo?.some(
                    (r) => r.toLowerCase() === ctx.base.name.toLowerCase()
                )
            ) {
                found = { obj, field };
            }
        }
    }
    if (!found) throw withLocation(badRelationship(relName), ctx.soql, relName);
    const alias = `t${ctx.aliasCounter.n++}`;
    const cctx = newCtx(
        ctx.schema,
        ctx.soql,
        found.obj,
        undefined,
        alias,
        ctx.aliasCounter,
        ctx.now
    );
    const limit = typeof sub.limit === 'number' ? sub.limit : null;
    const sel = buildSelect(cctx, (sub.fields as Json[]) ?? [], false, limit);
    const fkAlias = `fk`;
    sel.selectSql.push(`${col(alias, found.field)} AS ${fkAlias}`);
    const where = whereSql(cctx, sub.where as Json | undefined);
    const order = orderSql(cctx, sub.orderBy as Json[] | undefined);
    const hasDeleted = findField(found.obj, 'IsDeleted') !== undefined;
    return {
        key: found.field.childRelationshipName as string,
        plan: {
            obj: found.obj,
            fkField: found.field,
            fkAlias,
            selectSql: sel.selectSql,
            fromSql: `${quoteIdent(tableName(found.obj.name))} ${alias} ${cctx.joinSql.join(' ')}`,
            whereSql: [
                ...(hasDeleted ? [`${alias}."IsDeleted" = 0`] : []),
                ...(where ? [where] : [])
            ].join(' AND '),
            params: cctx.params,
            orderSql: order.sql || `${alias}._rid`,
            limit,
            shape: sel.shape
        }
    };
}

const AGG_FNS = ['COUNT', 'COUNT_DISTINCT', 'MIN', 'MAX', 'SUM', 'AVG'];

function aggregateExpr(
    ctx: Ctx,
    fn: string,
    params: string[]
): { sql: string; field?: FieldDef } {
    const name = fn.toUpperCase();
    if (!AGG_FNS.includes(name))
        throw malformedQuery(
            `Function ${name} is not supported by the local org`
        );
    if (params.length === 0) {
        if (name !== 'COUNT') throw malformedQuery(`${name} needs a field`);
        return { sql: 'COUNT(*)' };
    }
    const { tableAlias, field } = resolvePath(ctx, params[0]);
    const c = col(tableAlias, field);
    switch (name) {
        case 'COUNT':
            return { sql: `COUNT(${c})` };
        case 'COUNT_DISTINCT':
            return { sql: `COUNT(DISTINCT ${c})` };
        case 'SUM':
        case 'AVG':
            if (!['double', 'int', 'currency', 'percent'].includes(field.type))
                throw malformedQuery(
                    `${name} needs a number field: ${field.name}`
                );
            return { sql: `${name}(${c})`, field };
        default:
            return { sql: `${name}(${c})`, field };
    }
}

/** Compiles a SOQL query against the schema. */
export function compileSoql(
    schema: SchemaSource,
    soql: string,
    now: number = Date.now()
): CompiledQuery {
    let parsed: Json;
    try {
        parsed = parseQuery(soql) as unknown as Json;
    } catch (err) {
        throw malformedQuery(
            `\n${soql}\n^\nERROR at Row:1:Column:1\n${
                err instanceof Error ? err.message.split('\n')[0] : String(err)
            }`
        );
    }
    const objName = String(parsed.sObject ?? '');
    let base: ObjectDef;
    try {
        base = lookupObject(schema, objName);
    } catch (err) {
        throw err instanceof ApiError ? withLocation(err, soql, objName) : err;
    }
    const aliasCounter = { n: 1 };
    const ctx = newCtx(
        schema,
        soql,
        base,
        parsed.sObjectAlias as string | undefined,
        't0',
        aliasCounter,
        now
    );
    const fields = (parsed.fields as Json[]) ?? [];
    const limit = typeof parsed.limit === 'number' ? parsed.limit : null;
    const offset = typeof parsed.offset === 'number' ? parsed.offset : null;
    if (offset !== null && offset > 2000) {
        throw new ApiError(
            400,
            'NUMBER_OUTSIDE_VALID_RANGE',
            'Maximum SOQL offset allowed is 2000'
        );
    }
    const hasDeletedColumn = findField(base, 'IsDeleted') !== undefined;
    const fromBase = `${quoteIdent(tableName(base.name))} t0`;
    const isAggregate =
        fields.some(
            (f) =>
                f.type === 'FieldFunctionExpression' &&
                AGG_FNS.includes(String(f.functionName).toUpperCase())
        ) || Array.isArray(parsed.groupBy);

    if (isAggregate) {
        const onlyCountStar =
            fields.length === 1 &&
            String(fields[0].functionName).toUpperCase() === 'COUNT' &&
            ((fields[0].parameters as string[]) ?? []).length === 0;
        if (onlyCountStar && !parsed.groupBy) {
            const where = whereSql(ctx, parsed.where as Json | undefined);
            return {
                soql,
                obj: base,
                mode: 'count',
                selectSql: ['COUNT(*) AS c0'],
                fromSql: `${fromBase} ${ctx.joinSql.join(' ')}`,
                joinsSql: ctx.joinSql.join(' '),
                whereSql: where,
                params: ctx.params,
                orderSql: '',
                ridOrder: true,
                limit,
                offset,
                shape: { obj: base, idAlias: 'c0', entries: [] },
                flat: [],
                children: [],
                aggregates: [],
                hasDeletedColumn
            };
        }
        const selectSql: string[] = [];
        const aggregates: AggregateOutput[] = [];
        const groupCols = new Set<string>();
        const groupSql: string[] = [];
        for (const g of (parsed.groupBy as Json[]) ?? []) {
            if (g.fn)
                throw malformedQuery(
                    'GROUP BY a function is not supported by the local org'
                );
            const { tableAlias, field } = resolvePath(ctx, String(g.field));
            groupSql.push(col(tableAlias, field));
            groupCols.add(col(tableAlias, field));
        }
        let expr = 0;
        fields.forEach((item, i) => {
            const alias = `c${i}`;
            if (item.type === 'FieldFunctionExpression') {
                const { sql, field } = aggregateExpr(
                    ctx,
                    String(item.functionName),
                    (item.parameters as string[]) ?? []
                );
                const fn = String(item.functionName).toUpperCase();
                selectSql.push(`${sql} AS ${alias}`);
                aggregates.push({
                    key: (item.alias as string | undefined) ?? `expr${expr++}`,
                    display: String(item.rawValue ?? fn),
                    alias,
                    field:
                        fn === 'COUNT' || fn === 'COUNT_DISTINCT'
                            ? undefined
                            : field,
                    isCount: fn === 'COUNT' || fn === 'COUNT_DISTINCT'
                });
            } else if (
                item.type === 'Field' ||
                item.type === 'FieldRelationship'
            ) {
                const path =
                    item.type === 'Field'
                        ? String(item.field)
                        : [
                              ...((item.relationships as string[]) ?? []),
                              String(item.field)
                          ].join('.');
                const { tableAlias, field } = resolvePath(ctx, path);
                const c = col(tableAlias, field);
                if (!groupCols.has(c))
                    throw malformedQuery(
                        `Field must be grouped or aggregated: ${field.name}`
                    );
                selectSql.push(`${c} AS ${alias}`);
                aggregates.push({
                    key: (item.alias as string | undefined) ?? field.name,
                    display: field.name,
                    alias,
                    field,
                    isCount: false
                });
            } else {
                throw malformedQuery(
                    'Subqueries are not allowed in aggregate queries'
                );
            }
        });
        const where = whereSql(ctx, parsed.where as Json | undefined);
        const havingParams: unknown[] = [];
        let havingSql = '';
        if (parsed.having) {
            const before = ctx.params.length;
            havingSql = whereSql(ctx, parsed.having as Json, (c, cond) => {
                const fn = cond.fn as Json | undefined;
                if (!fn) return conditionSql(c, cond);
                const { sql } = aggregateExpr(
                    c,
                    String(fn.functionName),
                    (fn.parameters as string[]) ?? []
                );
                const op = String(cond.operator);
                if (!['=', '!=', '<>', '<', '<=', '>', '>='].includes(op))
                    throw malformedQuery(
                        `Operator ${op} is not supported in HAVING`
                    );
                const n = Number(cond.value);
                if (!Number.isFinite(n))
                    throw malformedQuery('HAVING compares with a number');
                return `${sql} ${op === '<>' ? '!=' : op} ${addParam(c, n)}`;
            });
            havingParams.push(...ctx.params.splice(before));
        }
        const orderParts: string[] = [];
        for (const item of (parsed.orderBy as Json[]) ?? []) {
            const dir =
                String(item.order ?? 'ASC').toUpperCase() === 'DESC'
                    ? 'DESC'
                    : 'ASC';
            if (item.fn) {
                const fn = item.fn as Json;
                orderParts.push(
                    `${aggregateExpr(ctx, String(fn.functionName), (fn.parameters as string[]) ?? []).sql} ${dir}`
                );
            } else {
                const { tableAlias, field } = resolvePath(
                    ctx,
                    String(item.field)
                );
                orderParts.push(`${col(tableAlias, field)} ${dir}`);
            }
        }
        const conds = [...(where ? [where] : [])];
        return {
            soql,
            obj: base,
            mode: 'aggregate',
            selectSql,
            fromSql: `${fromBase} ${ctx.joinSql.join(' ')}`,
            joinsSql: ctx.joinSql.join(' '),
            whereSql: conds.join(' AND '),
            params: ctx.params,
            orderSql:
                (groupSql.length ? ` GROUP BY ${groupSql.join(', ')}` : '') +
                (havingSql ? ` HAVING ${havingSql}` : '') +
                (orderParts.length ? ` ORDER BY ${orderParts.join(', ')}` : ''),
            ridOrder: false,
            limit,
            offset,
            shape: { obj: base, idAlias: 'c0', entries: [] },
            flat: [],
            children: [],
            aggregates: aggregates.map((a) => a),
            hasDeletedColumn,
            ...(havingParams.length
                ? { params: [...ctx.params, ...havingParams] }
                : {})
        };
    }

    const sel = buildSelect(ctx, fields, true, limit);
    const where = whereSql(ctx, parsed.where as Json | undefined);
    const order = orderSql(ctx, parsed.orderBy as Json[] | undefined);
    return {
        soql,
        obj: base,
        mode: 'records',
        selectSql: sel.selectSql,
        fromSql: `${fromBase} ${ctx.joinSql.join(' ')}`,
        joinsSql: ctx.joinSql.join(' '),
        whereSql: where,
        params: ctx.params,
        orderSql: order.sql,
        ridOrder: order.ridOrder,
        limit,
        offset,
        shape: sel.shape,
        flat: sel.flat,
        children: sel.children,
        aggregates: [],
        hasDeletedColumn
    };
}
