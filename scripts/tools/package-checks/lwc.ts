/**
 * Schema and label names a Lightning Web Component refers to: `@salesforce/schema` and
 * `@salesforce/label` imports, and string literals naming `Object.Field` or a child
 * relationship (`X__r`), as the UI API adapters take them.
 */
export interface LwcReferences {
    /** `@salesforce/schema/Object` or `@salesforce/schema/Object.Field.Path` */
    schema: { object: string; fieldPath?: string; line?: number }[];
    /** `@salesforce/label/c.Name` */
    labels: { name: string; line?: number }[];
    /** String literals shaped `Object.Field` (the caller decides whether Object is an SObject). */
    fieldStrings: { object: string; fieldPath: string; line?: number }[];
    /** String literals shaped `Name__r`. */
    relationships: { name: string; line?: number }[];
}

const SCHEMA_IMPORT = /['"]@salesforce\/schema\/([A-Za-z0-9_.]+)['"]/g;
const LABEL_IMPORT = /['"]@salesforce\/label\/c\.([A-Za-z0-9_]+)['"]/g;
const STRING_LITERAL =
    /'((?:\\.|[^'\\\n])*)'|"((?:\\.|[^"\\\n])*)"|`((?:\\.|[^`\\])*)`/g;
const FIELD_STRING =
    /^([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)$/;
const RELATIONSHIP_STRING = /^[A-Za-z][A-Za-z0-9_]*__r$/;

/** Line of the character at `index`. */
function lineAt(source: string, index: number): number {
    let line = 1;
    for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) line++;
    return line;
}

export function lwcReferences(source: string): LwcReferences {
    const refs: LwcReferences = {
        schema: [],
        labels: [],
        fieldStrings: [],
        relationships: []
    };
    for (const match of source.matchAll(SCHEMA_IMPORT)) {
        const [object, ...rest] = match[1].split('.');
        refs.schema.push({
            object,
            fieldPath: rest.length ? rest.join('.') : undefined,
            line: lineAt(source, match.index ?? 0)
        });
    }
    for (const match of source.matchAll(LABEL_IMPORT)) {
        refs.labels.push({
            name: match[1],
            line: lineAt(source, match.index ?? 0)
        });
    }
    for (const match of source.matchAll(STRING_LITERAL)) {
        const value = match[1] ?? match[2] ?? match[3] ?? '';
        const line = lineAt(source, match.index ?? 0);
        const field = FIELD_STRING.exec(value);
        if (field)
            refs.fieldStrings.push({
                object: field[1],
                fieldPath: field[2],
                line
            });
        else if (RELATIONSHIP_STRING.test(value))
            refs.relationships.push({ name: value, line });
    }
    return refs;
}
