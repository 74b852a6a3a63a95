import { XMLParser } from 'fast-xml-parser';

/**
 * Metadata XML parsed with every element as an array, so that a repeated element and a
 * single one read the same way. Leaf elements are strings; attributes are `@_name`.
 */
export interface XmlElement {
    [name: string]: (XmlElement | string)[] | string | undefined;
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

/** The root element of a metadata file and its name (e.g. `CustomField`). */
export function parseXml(source: string): { name: string; root: XmlElement } {
    const doc = parser.parse(source, true) as XmlElement;
    const name = Object.keys(doc).find(
        (key) => !key.startsWith('?') && !key.startsWith('#')
    );
    if (!name) throw new Error('no root element');
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

/** Value of attribute `name`. */
export function attribute(
    element: XmlElement | undefined,
    name: string
): string | undefined {
    const value = element?.[`@_${name}`];
    return typeof value === 'string' ? value : undefined;
}
