/**
 * The subset of Salesforce's formula language the local org evaluates for validation
 * rules: literals, field references on the record itself, the logical functions and
 * operators (AND, OR, NOT, &&, ||, !), comparisons, IF, ISBLANK, ISNULL, ISPICKVAL,
 * TEXT, LEN, BEGINS, CONTAINS, ISNEW, ISCHANGED, PRIORVALUE and BLANKVALUE, and the
 * `$Permission.<CustomPermission>` global (true when the acting user holds that custom
 * permission through the profile or an assigned permission set).
 *
 * Anything else (relationship paths, $User/$Setup globals, date and math functions,
 * string concatenation…) is reported as unsupported: the deploy stores such a rule,
 * reports a warning, and the org does not enforce it.
 */

export type FormulaNode =
    | { kind: 'literal'; value: string | number | boolean | null }
    | { kind: 'field'; name: string }
    | { kind: 'permission'; name: string }
    | { kind: 'call'; name: string; args: FormulaNode[] }
    | { kind: 'binary'; op: string; left: FormulaNode; right: FormulaNode }
    | { kind: 'not'; operand: FormulaNode };

export class FormulaUnsupported extends Error {}

const FUNCTIONS: Record<string, [number, number]> = {
    AND: [1, Infinity],
    OR: [1, Infinity],
    NOT: [1, 1],
    IF: [3, 3],
    ISBLANK: [1, 1],
    ISNULL: [1, 1],
    ISPICKVAL: [2, 2],
    TEXT: [1, 1],
    LEN: [1, 1],
    BEGINS: [2, 2],
    CONTAINS: [2, 2],
    ISNEW: [0, 0],
    ISCHANGED: [1, 1],
    PRIORVALUE: [1, 1],
    BLANKVALUE: [2, 2]
};

type Token =
    | { t: 'num'; v: number }
    | { t: 'str'; v: string }
    | { t: 'id'; v: string }
    | { t: 'op'; v: string }
    | { t: 'end' };

function tokenize(src: string): Token[] {
    const out: Token[] = [];
    let i = 0;
    while (i < src.length) {
        const c = src[i];
        if (/\s/.test(c)) {
            i++;
            continue;
        }
        if (c === '/' && src[i + 1] === '*') {
            const end = src.indexOf('*/', i + 2);
            if (end < 0) throw new FormulaUnsupported('unterminated comment');
            i = end + 2;
            continue;
        }
        if (c === '"' || c === "'") {
            let j = i + 1;
            let s = '';
            while (j < src.length && src[j] !== c) {
                if (src[j] === '\\' && j + 1 < src.length) {
                    s += src[j + 1];
                    j += 2;
                } else {
                    s += src[j++];
                }
            }
            if (j >= src.length)
                throw new FormulaUnsupported('unterminated string literal');
            out.push({ t: 'str', v: s });
            i = j + 1;
            continue;
        }
        if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
            const m = /^[0-9]*\.?[0-9]+/.exec(src.slice(i));
            if (!m) throw new FormulaUnsupported(`bad number at ${i}`);
            out.push({ t: 'num', v: Number(m[0]) });
            i += m[0].length;
            continue;
        }
        if (/[A-Za-z_$]/.test(c)) {
            const m = /^[A-Za-z_$][A-Za-z0-9_$.]*/.exec(src.slice(i));
            if (!m) throw new FormulaUnsupported(`bad name at ${i}`);
            out.push({ t: 'id', v: m[0] });
            i += m[0].length;
            continue;
        }
        const two = src.slice(i, i + 2);
        if (['&&', '||', '==', '!=', '<>', '<=', '>='].includes(two)) {
            out.push({ t: 'op', v: two });
            i += 2;
            continue;
        }
        if ('(),!=<>&+-*/'.includes(c)) {
            out.push({ t: 'op', v: c });
            i++;
            continue;
        }
        throw new FormulaUnsupported(`unexpected character '${c}'`);
    }
    out.push({ t: 'end' });
    return out;
}

/** Parses a formula; throws FormulaUnsupported for anything outside the subset. */
export function parseFormula(src: string): FormulaNode {
    const tokens = tokenize(src);
    let pos = 0;
    const peek = (): Token => tokens[pos];
    const isOp = (v: string): boolean => {
        const t = peek();
        return t.t === 'op' && t.v === v;
    };
    const expectOp = (v: string): void => {
        if (!isOp(v)) throw new FormulaUnsupported(`expected '${v}'`);
        pos++;
    };

    function parseOr(): FormulaNode {
        let left = parseAnd();
        while (isOp('||')) {
            pos++;
            left = { kind: 'call', name: 'OR', args: [left, parseAnd()] };
        }
        return left;
    }
    function parseAnd(): FormulaNode {
        let left = parseCompare();
        while (isOp('&&')) {
            pos++;
            left = { kind: 'call', name: 'AND', args: [left, parseCompare()] };
        }
        return left;
    }
    function parseCompare(): FormulaNode {
        const left = parseUnary();
        const t = peek();
        if (
            t.t === 'op' &&
            ['=', '==', '!=', '<>', '<', '>', '<=', '>='].includes(t.v)
        ) {
            pos++;
            const op = t.v === '==' ? '=' : t.v === '<>' ? '!=' : t.v;
            return { kind: 'binary', op, left, right: parseUnary() };
        }
        if (t.t === 'op' && ['&', '+', '-', '*', '/'].includes(t.v)) {
            throw new FormulaUnsupported(
                `operator '${t.v}' is not supported by the local org`
            );
        }
        return left;
    }
    function parseUnary(): FormulaNode {
        if (isOp('!')) {
            pos++;
            return { kind: 'not', operand: parseUnary() };
        }
        return parsePrimary();
    }
    function parsePrimary(): FormulaNode {
        const t = peek();
        if (t.t === 'num') {
            pos++;
            return { kind: 'literal', value: t.v };
        }
        if (t.t === 'str') {
            pos++;
            return { kind: 'literal', value: t.v };
        }
        if (isOp('(')) {
            pos++;
            const inner = parseOr();
            expectOp(')');
            return inner;
        }
        if (t.t === 'id') {
            pos++;
            const upper = t.v.toUpperCase();
            if (isOp('(')) {
                pos++;
                const args: FormulaNode[] = [];
                if (!isOp(')')) {
                    args.push(parseOr());
                    while (isOp(',')) {
                        pos++;
                        args.push(parseOr());
                    }
                }
                expectOp(')');
                const arity = FUNCTIONS[upper];
                if (!arity) {
                    throw new FormulaUnsupported(
                        `function ${upper} is not supported by the local org`
                    );
                }
                if (args.length < arity[0] || args.length > arity[1]) {
                    throw new FormulaUnsupported(
                        `wrong number of arguments to ${upper}`
                    );
                }
                if (
                    ['ISCHANGED', 'PRIORVALUE', 'ISPICKVAL'].includes(upper) &&
                    args[0].kind !== 'field'
                ) {
                    throw new FormulaUnsupported(
                        `${upper} needs a field as its first argument`
                    );
                }
                return { kind: 'call', name: upper, args };
            }
            if (upper === 'TRUE') return { kind: 'literal', value: true };
            if (upper === 'FALSE') return { kind: 'literal', value: false };
            if (upper === 'NULL') return { kind: 'literal', value: null };
            const perm = /^\$Permission\.([A-Za-z][A-Za-z0-9_]*)$/i.exec(t.v);
            if (perm) return { kind: 'permission', name: perm[1] };
            if (t.v.startsWith('$') || t.v.includes('.')) {
                throw new FormulaUnsupported(
                    `reference ${t.v} is not supported by the local org`
                );
            }
            return { kind: 'field', name: t.v };
        }
        throw new FormulaUnsupported('unexpected end of formula');
    }

    const node = parseOr();
    if (peek().t !== 'end') {
        const t = peek();
        throw new FormulaUnsupported(
            `unexpected '${'v' in t ? String(t.v) : ''}' in formula`
        );
    }
    return node;
}

/** Every name of one kind a formula references. */
function referenced(node: FormulaNode, kind: 'field' | 'permission'): string[] {
    const out = new Set<string>();
    const walk = (n: FormulaNode): void => {
        if (n.kind === kind) out.add(n.name);
        else if (n.kind === 'call') n.args.forEach(walk);
        else if (n.kind === 'binary') {
            walk(n.left);
            walk(n.right);
        } else if (n.kind === 'not') walk(n.operand);
    };
    walk(node);
    return [...out];
}

/** Every field name a formula references (for the deploy's existence check). */
export function referencedFields(node: FormulaNode): string[] {
    return referenced(node, 'field');
}

/** Every custom permission a formula's `$Permission.X` references (deploy check). */
export function referencedPermissions(node: FormulaNode): string[] {
    return referenced(node, 'permission');
}

export interface FormulaContext {
    /** Field value of the record being saved (JSON-style: booleans, strings, numbers). */
    get(name: string): unknown;
    /** Value before this save (undefined on create). */
    prior(name: string): unknown;
    isNew: boolean;
    /**
     * Whether the acting user holds the custom permission (`$Permission.<name>`).
     * Called only when a formula reaches such a reference, so callers can look the
     * user's permissions up lazily.
     */
    hasPermission(name: string): boolean;
}

const blank = (v: unknown): boolean =>
    v === null || v === undefined || v === '';

function truthy(v: unknown): boolean {
    return v === true;
}

function compare(op: string, a: unknown, b: unknown): boolean {
    // Formula text comparisons treat blank as ''; numbers compare numerically.
    const norm = (v: unknown): unknown =>
        v === null || v === undefined ? '' : v;
    const x = norm(a);
    const y = norm(b);
    switch (op) {
        case '=':
            return x === y;
        case '!=':
            return x !== y;
        case '<':
            return (x as number) < (y as number);
        case '>':
            return (x as number) > (y as number);
        case '<=':
            return (x as number) <= (y as number);
        case '>=':
            return (x as number) >= (y as number);
        default:
            throw new FormulaUnsupported(`operator ${op}`);
    }
}

/** Evaluates a parsed formula against a record. */
export function evaluateFormula(
    node: FormulaNode,
    ctx: FormulaContext
): unknown {
    switch (node.kind) {
        case 'literal':
            return node.value;
        case 'field':
            return ctx.get(node.name);
        case 'permission':
            return ctx.hasPermission(node.name);
        case 'not':
            return !truthy(evaluateFormula(node.operand, ctx));
        case 'binary':
            return compare(
                node.op,
                evaluateFormula(node.left, ctx),
                evaluateFormula(node.right, ctx)
            );
        case 'call': {
            const args = node.args;
            const ev = (i: number): unknown => evaluateFormula(args[i], ctx);
            switch (node.name) {
                case 'AND':
                    return args.every((_, i) => truthy(ev(i)));
                case 'OR':
                    return args.some((_, i) => truthy(ev(i)));
                case 'NOT':
                    return !truthy(ev(0));
                case 'IF':
                    return truthy(ev(0)) ? ev(1) : ev(2);
                case 'ISBLANK':
                case 'ISNULL':
                    return blank(ev(0));
                case 'BLANKVALUE': {
                    const v = ev(0);
                    return blank(v) ? ev(1) : v;
                }
                case 'ISPICKVAL':
                    return (ev(0) ?? '') === (ev(1) ?? '');
                case 'TEXT': {
                    const v = ev(0);
                    return v === null || v === undefined ? '' : String(v);
                }
                case 'LEN': {
                    const v = ev(0);
                    return v === null || v === undefined ? 0 : String(v).length;
                }
                case 'BEGINS':
                    return String(ev(0) ?? '').startsWith(String(ev(1) ?? ''));
                case 'CONTAINS':
                    return String(ev(0) ?? '').includes(String(ev(1) ?? ''));
                case 'ISNEW':
                    return ctx.isNew;
                case 'ISCHANGED': {
                    if (ctx.isNew) return false;
                    const name = (args[0] as { name: string }).name;
                    return (
                        (ctx.prior(name) ?? null) !== (ctx.get(name) ?? null)
                    );
                }
                case 'PRIORVALUE': {
                    const name = (args[0] as { name: string }).name;
                    return ctx.isNew ? ctx.get(name) : ctx.prior(name);
                }
                default:
                    throw new FormulaUnsupported(`function ${node.name}`);
            }
        }
    }
}
