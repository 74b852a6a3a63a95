/**
 * The one XML configuration for Salesforce metadata files. Every element is parsed as an
 * array, so that a repeated element and a single one read the same way; leaf elements
 * are strings (never numbers or booleans: `parseTagValue` is off) and attributes are
 * `@_name`. The readers in this folder turn the elements into typed definitions.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XmlElement {
    [name: string]: (XmlElement | string)[] | string | undefined;
}

/** A parsed metadata file: its root element's name (e.g. `CustomField`) and content. */
export interface XmlDocument {
    name: string;
    root: XmlElement;
}

/** A file that is not well-formed XML, with the position the validator reports. */
export class MetadataXmlError extends Error {
    constructor(
        readonly file: string,
        /** The validator's message, without the file or position. */
        readonly reason: string,
        readonly line?: number,
        readonly column?: number
    ) {
        super(
            `${file}${line !== undefined ? `:${line}:${column ?? 0}` : ''}: ${reason}`
        );
        this.name = 'MetadataXmlError';
    }
}

const parser = new XMLParser({
    ignoreAttributes: false,
    ignoreDeclaration: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    isArray: (
        _name: string,
        _jpath: unknown,
        _isLeaf: boolean,
        isAttribute: boolean
    ) => !isAttribute
});

/**
 * Parses one metadata file's text (a file of a package folder, or one read from a deploy
 * zip). Throws MetadataXmlError naming `file` when the text is not well-formed XML.
 */
export function parseMetadataXml(source: string, file: string): XmlDocument {
    const check = XMLValidator.validate(source);
    if (check !== true)
        throw new MetadataXmlError(
            file,
            check.err.msg,
            check.err.line,
            check.err.col
        );
    const doc = parser.parse(source) as XmlElement;
    const name = Object.keys(doc).find(
        (key) => !key.startsWith('?') && !key.startsWith('#')
    );
    // The validator refuses a document without an element; kept for safety.
    if (!name) throw new MetadataXmlError(file, 'no root element');
    const value = doc[name];
    const first = Array.isArray(value) ? value[0] : undefined;
    return { name, root: typeof first === 'object' ? first : {} };
}

/** Child elements named `name` (leaf values are skipped). */
export function children(
    element: XmlElement | undefined,
    name: string
): XmlElement[] {
    const value = element?.[name];
    if (!Array.isArray(value)) return [];
    return value.filter((item): item is XmlElement => typeof item === 'object');
}

/** Text of every child element named `name`. */
export function texts(element: XmlElement | undefined, name: string): string[] {
    const value = element?.[name];
    if (!Array.isArray(value)) return [];
    const out: string[] = [];
    for (const item of value) {
        if (typeof item === 'string') out.push(item);
        else {
            const inner = item['#text'];
            out.push(typeof inner === 'string' ? inner : '');
        }
    }
    return out;
}

/** Text of the first child element named `name`. */
export function text(
    element: XmlElement | undefined,
    name: string
): string | undefined {
    return texts(element, name)[0];
}

/**
 * A boolean element: `true` (any case, spaces ignored) is true, any other text false,
 * and a missing element undefined, so that callers choose the default.
 */
export function flag(
    element: XmlElement | undefined,
    name: string
): boolean | undefined {
    const value = text(element, name);
    return value === undefined
        ? undefined
        : value.trim().toLowerCase() === 'true';
}

/** A number element, or undefined when missing or empty (NaN when not a number). */
export function numberOf(
    element: XmlElement | undefined,
    name: string
): number | undefined {
    const value = text(element, name);
    return value === undefined || value.trim() === ''
        ? undefined
        : Number(value);
}

/** Value of attribute `name`. */
export function attribute(
    element: XmlElement | undefined,
    name: string
): string | undefined {
    const value = element?.[`@_${name}`];
    return typeof value === 'string' ? value : undefined;
}
