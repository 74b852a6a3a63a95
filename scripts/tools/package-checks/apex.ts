/**
 * Apex source, read offline: syntax (apex-parser), formatting (prettier-plugin-apex) and
 * the schema names a class refers to (labels, SObjects, fields, SOQL), for the
 * consistency check. No semantic compiler runs here, so names are found from tokens and
 * from the SOQL inside `[...]`.
 */
import {
    ApexErrorListener,
    ApexLexer,
    ApexParseTreeWalker,
    ApexParserBaseListener,
    ApexParserFactory,
    SoqlLiteralContext
} from '@apexdevtools/apex-parser';
import { parseQuery } from '@jetstreamapp/soql-parser-js';
import type {
    FieldType,
    Query,
    Subquery,
    WhereClause
} from '@jetstreamapp/soql-parser-js';

export interface SyntaxError {
    line: number;
    /** 1-based, as editors count. */
    column: number;
    message: string;
}

class CollectingErrorListener extends ApexErrorListener {
    readonly errors: SyntaxError[] = [];
    apexSyntaxError(line: number, column: number, msg: string): void {
        // ANTLR lists every token it would have accepted; the first words say enough.
        const message = msg.replace(/ expecting \{[^}]*\}$/, '').slice(0, 200);
        this.errors.push({ line, column: column + 1, message });
    }
}

export interface SoqlLiteral {
    /** The query without its brackets. */
    text: string;
    line: number;
    column: number;
}

export interface ParsedApex {
    errors: SyntaxError[];
    soql: SoqlLiteral[];
}

// Parsing and lexing cost tens of milliseconds per class; several checks ask about the
// same source, so results are kept per source text.
const parseCache = new Map<string, ParsedApex>();
const tokenCache = new Map<string, Token[]>();

/** Parses a class or trigger; syntax errors come back with line and column. */
export function parseApex(
    source: string,
    kind: 'class' | 'trigger' = 'class'
): ParsedApex {
    const key = `${kind}\u0000${source}`;
    let parsed = parseCache.get(key);
    if (!parsed) {
        parsed = parseUncached(source, kind);
        parseCache.set(key, parsed);
    }
    return parsed;
}

function parseUncached(
    source: string,
    kind: 'class' | 'trigger' = 'class'
): ParsedApex {
    const listener = new CollectingErrorListener();
    const { parser } = ApexParserFactory.createLexerAndParser(source, listener);
    const tree =
        kind === 'trigger' ? parser.triggerUnit() : parser.compilationUnit();
    const soql: SoqlLiteral[] = [];
    if (listener.errors.length === 0) {
        const collector = new (class extends ApexParserBaseListener {
            enterSoqlLiteral = (ctx: SoqlLiteralContext): void => {
                const text = source.slice(
                    ctx.start.start,
                    ctx.stop ? ctx.stop.stop + 1 : undefined
                );
                soql.push({
                    text: text.replace(/^\[/, '').replace(/\]$/, ''),
                    line: ctx.start.line,
                    column: ctx.start.column + 1
                });
            };
        })();
        ApexParseTreeWalker.DEFAULT.walk(collector, tree);
    }
    return { errors: listener.errors, soql };
}

export interface Token {
    text: string;
    type: number;
    line: number;
    column: number;
}

/** Code tokens (no comments or whitespace). */
export function apexTokens(source: string): Token[] {
    let tokens = tokenCache.get(source);
    if (!tokens) {
        tokens = lexUncached(source);
        tokenCache.set(source, tokens);
    }
    return tokens;
}

function lexUncached(source: string): Token[] {
    const lexer = ApexParserFactory.createLexer(source);
    lexer.removeErrorListeners();
    return lexer
        .getAllTokens()
        .filter((token) => token.channel === 0)
        .map((token) => ({
            text: token.text,
            type: token.type,
            line: token.line,
            column: token.column + 1
        }));
}

const WORD = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ApexReferences {
    /** `System.Label.X` / `Label.X` */
    labels: { name: string; line: number; column: number }[];
    /** `Type.Member` where Type may be an SObject (`Contact.SObjectType`, `Audience_Membership__c.Status__c`). */
    dotted: { type: string; member: string; line: number; column: number }[];
    /** `new Type(Field = ...)` */
    constructed: {
        type: string;
        fields: string[];
        line: number;
        column: number;
    }[];
    /** Every identifier ending in `__c` or `__r`. */
    customNames: { name: string; line: number; column: number }[];
}

/** Schema names a class refers to, from its tokens. */
export function apexReferences(source: string): ApexReferences {
    const tokens = apexTokens(source);
    const refs: ApexReferences = {
        labels: [],
        dotted: [],
        constructed: [],
        customNames: []
    };
    const at = (i: number): string => tokens[i]?.text ?? '';
    for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i];
        if (/__[cr]$/i.test(token.text) && WORD.test(token.text)) {
            refs.customNames.push({
                name: token.text,
                line: token.line,
                column: token.column
            });
        }
        // System.Label.X or Label.X (but not a.Label.X)
        const labelQualifier =
            at(i - 1) !== '.' ||
            (at(i - 2).toLowerCase() === 'system' && at(i - 3) !== '.');
        if (
            token.text.toLowerCase() === 'label' &&
            at(i + 1) === '.' &&
            WORD.test(at(i + 2)) &&
            labelQualifier
        ) {
            refs.labels.push({
                name: at(i + 2),
                line: token.line,
                column: token.column
            });
            continue;
        }
        if (
            token.text.toLowerCase() === 'system' &&
            at(i + 1) === '.' &&
            at(i + 2).toLowerCase() === 'label'
        ) {
            continue;
        }
        if (
            WORD.test(token.text) &&
            at(i - 1) !== '.' &&
            at(i + 1) === '.' &&
            WORD.test(at(i + 2)) &&
            at(i + 3) !== '('
        ) {
            refs.dotted.push({
                type: token.text,
                member: at(i + 2),
                line: token.line,
                column: token.column
            });
        }
        if (
            token.type === ApexLexer.NEW &&
            WORD.test(at(i + 1)) &&
            at(i + 2) === '('
        ) {
            const fields: string[] = [];
            let depth = 0;
            for (let j = i + 2; j < tokens.length; j++) {
                const t = at(j);
                if (t === '(' || t === '{' || t === '[') depth++;
                else if (t === ')' || t === '}' || t === ']') {
                    depth--;
                    if (depth === 0) break;
                } else if (
                    depth === 1 &&
                    t === '=' &&
                    WORD.test(at(j - 1)) &&
                    (at(j - 2) === '(' || at(j - 2) === ',')
                ) {
                    fields.push(at(j - 1));
                }
            }
            refs.constructed.push({
                type: at(i + 1),
                fields,
                line: token.line,
                column: token.column
            });
        }
    }
    return refs;
}

/** `@InvocableVariable` field names and whether each is required, per class file. */
export function invocableVariables(
    source: string
): { name: string; required: boolean }[] {
    const tokens = apexTokens(source);
    const out: { name: string; required: boolean }[] = [];
    for (let i = 0; i < tokens.length; i++) {
        if (
            tokens[i].text !== '@' ||
            tokens[i + 1]?.text.toLowerCase() !== 'invocablevariable'
        )
            continue;
        let j = i + 2;
        let required = false;
        if (tokens[j]?.text === '(') {
            let depth = 0;
            for (; j < tokens.length; j++) {
                if (tokens[j].text === '(') depth++;
                else if (tokens[j].text === ')') {
                    depth--;
                    if (depth === 0) break;
                } else if (
                    tokens[j].text.toLowerCase() === 'required' &&
                    tokens[j + 2]?.text.toLowerCase() === 'true'
                ) {
                    required = true;
                }
            }
            j++;
        }
        for (
            ;
            j < tokens.length &&
            tokens[j].text !== ';' &&
            tokens[j].text !== '{';
            j++
        );
        const name = tokens[j - 1]?.text;
        if (name && WORD.test(name)) out.push({ name, required });
    }
    return out;
}

/** True when the class declares an `@InvocableMethod`. */
export function hasInvocableMethod(source: string): boolean {
    const tokens = apexTokens(source);
    return tokens.some(
        (t, i) =>
            t.text === '@' &&
            tokens[i + 1]?.text.toLowerCase() === 'invocablemethod'
    );
}

export interface SoqlShape {
    object: string;
    /** Field paths on `object` (`Status__c`, `Contact__r.LastName`). */
    fields: string[];
    subqueries: { relationship: string; fields: string[] }[];
}

const soqlCache = new Map<string, SoqlShape | string>();

/** The objects and fields of a SOQL query, or an error message when it does not parse. */
export function soqlShape(text: string): SoqlShape | string {
    let shape = soqlCache.get(text);
    if (shape === undefined) {
        shape = soqlShapeUncached(text);
        soqlCache.set(text, shape);
    }
    return shape;
}

function soqlShapeUncached(text: string): SoqlShape | string {
    // Apex-only clauses the SOQL parser does not know.
    const cleaned = text
        .replace(/\bALL\s+ROWS\b/gi, '')
        .replace(/\bFOR\s+(UPDATE|VIEW|REFERENCE)\b/gi, '');
    let query: Query;
    try {
        query = parseQuery(cleaned, { allowApexBindVariables: true });
    } catch (err) {
        return err instanceof Error ? err.message.split('\n')[0] : String(err);
    }
    const shape: SoqlShape = {
        object: query.sObject ?? '',
        fields: [],
        subqueries: []
    };
    collect(query, shape.fields, shape.subqueries);
    return shape;
}

function collect(
    query: Query | Subquery,
    fields: string[],
    subqueries: SoqlShape['subqueries'] | undefined
): void {
    for (const field of query.fields ?? []) {
        const path = fieldPath(field);
        if (path) fields.push(path);
        if (field.type === 'FieldSubquery' && subqueries) {
            const subFields: string[] = [];
            collect(field.subquery, subFields, undefined);
            subqueries.push({
                relationship: field.subquery.relationshipName,
                fields: subFields
            });
        }
    }
    collectWhere(query.where, fields);
    const orderBy =
        query.orderBy === undefined
            ? []
            : Array.isArray(query.orderBy)
              ? query.orderBy
              : [query.orderBy];
    for (const clause of orderBy)
        if ('field' in clause && clause.field) fields.push(clause.field);
    const groupBy =
        query.groupBy === undefined
            ? []
            : Array.isArray(query.groupBy)
              ? query.groupBy
              : [query.groupBy];
    for (const clause of groupBy)
        if ('field' in clause && clause.field) fields.push(clause.field);
}

function fieldPath(field: FieldType): string | undefined {
    if (field.type === 'Field') return field.field;
    if (field.type === 'FieldRelationship')
        return [...field.relationships, field.field].join('.');
    return undefined;
}

function collectWhere(where: WhereClause | undefined, fields: string[]): void {
    if (!where) return;
    const left = where.left as { field?: unknown } | null;
    if (left && typeof left.field === 'string') fields.push(left.field);
    if ('right' in where && where.right) collectWhere(where.right, fields);
}

export interface ProfileNameFilter {
    line: number;
    column: number;
    /** The filter as written, e.g. `Profile.Name` or `Name (on Profile)`. */
    field: string;
}

/**
 * Where a query filters on a profile's name: `FROM Profile WHERE Name …` or
 * `… WHERE Profile.Name …` (any relationship ending in `Profile.Name`). Standard profile
 * names are translated for users whose language is not English, so such a filter finds
 * nothing in those orgs and an Apex test that relies on it fails
 * (https://salesforce.stackexchange.com/q/156802). Looks at SOQL literals (`[...]`) and
 * at string literals that hold a query (dynamic SOQL).
 */
export function profileNameFilters(source: string): ProfileNameFilter[] {
    const found: ProfileNameFilter[] = [];
    for (const literal of parseApex(source).soql) {
        for (const field of profileNameFieldsOf(literal.text))
            found.push({ line: literal.line, column: literal.column, field });
    }
    for (const token of apexTokens(source)) {
        if (token.type !== ApexLexer.StringLiteral) continue;
        const text = token.text.slice(1, -1).replace(/\\'/g, "'");
        if (!/^\s*SELECT\b/i.test(text)) continue;
        for (const field of profileNameFieldsOf(text))
            found.push({ line: token.line, column: token.column, field });
    }
    return found;
}

/** The profile-name fields a query's WHERE clause filters on (also in subqueries). */
function profileNameFieldsOf(text: string): string[] {
    const where = whereFields(text);
    if (where === undefined) {
        // A query the parser cannot read (e.g. dynamic SOQL built from pieces): the text
        // itself is enough to recognise the two forms.
        const out: string[] = [];
        if (/\bProfile\.Name\b/i.test(text)) out.push('Profile.Name');
        if (/\bFROM\s+Profile\b[\s\S]*\bWHERE\b[\s\S]*\bName\b/i.test(text))
            out.push('Name (on Profile)');
        return out;
    }
    return where.flatMap(({ object, field }) => {
        if (/(^|\.)Profile\.Name$/i.test(field)) return [field];
        if (
            object.toLowerCase() === 'profile' &&
            field.toLowerCase() === 'name'
        )
            return ['Name (on Profile)'];
        return [];
    });
}

/** Fields in the WHERE clauses of a query and its semi-join subqueries; undefined when it does not parse. */
function whereFields(
    text: string
): { object: string; field: string }[] | undefined {
    const cleaned = text
        .replace(/\bALL\s+ROWS\b/gi, '')
        .replace(/\bFOR\s+(UPDATE|VIEW|REFERENCE)\b/gi, '');
    let query: Query;
    try {
        query = parseQuery(cleaned, { allowApexBindVariables: true });
    } catch {
        return undefined;
    }
    const out: { object: string; field: string }[] = [];
    const visit = (q: Query | Subquery, object: string): void => {
        let where: WhereClause | undefined = q.where;
        while (where) {
            const left = where.left as {
                field?: unknown;
                valueQuery?: Query;
            } | null;
            if (left && typeof left.field === 'string')
                out.push({ object, field: left.field });
            if (left?.valueQuery)
                visit(left.valueQuery, left.valueQuery.sObject ?? '');
            where = 'right' in where ? where.right : undefined;
        }
    };
    visit(query, query.sObject ?? '');
    return out;
}
