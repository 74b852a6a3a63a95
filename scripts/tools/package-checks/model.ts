/**
 * The package checks' view of the package source (force-app and friends): the model
 * `metadata/package.ts` reads, with unreadable files as problems, and the questions the
 * consistency check asks it (does this object, field or relationship exist?).
 */
import { MetadataXmlError } from '../../metadata/xml';
import {
    FieldDef,
    MetadataPackage,
    listFiles,
    readPackage
} from '../../metadata/package';
import {
    isStandardObject,
    STANDARD_OBJECT_FIELDS,
    standardFieldsOf
} from '../../metadata/standard-fields';
import { Problem } from './problems';

export type {
    AppDef,
    FieldDef,
    FieldTranslationDef,
    FlexiPageDef,
    FlowDef,
    LabelDef,
    LayoutDef,
    LeadConvertDef,
    LwcBundle,
    ObjectDef,
    ObjectTranslationDef,
    PermissionSetDef,
    SourceFile,
    TranslationDef
} from '../../metadata/package';
export type { FlexiComponent, FlowActionCall } from '../../metadata/components';
export { isStandardObject, listFiles };

export interface PackageModel extends MetadataPackage {
    /** Files that could not be read as metadata. */
    problems: Problem[];
}

/** Why a file could not be read, as the check has always worded it. */
function unreadableMessage(error: Error): string {
    const reason =
        error instanceof MetadataXmlError
            ? error.line !== undefined
                ? `${error.reason}:${error.line}:${error.column}`
                : error.reason
            : error.message;
    return `cannot read this file as metadata: ${reason}`;
}

/** Reads the package directories (relative to `projectRoot`) into a model. */
export function loadPackage(
    projectRoot: string,
    packageDirs: string[]
): PackageModel {
    const pkg = readPackage(projectRoot, packageDirs);
    return {
        ...pkg,
        problems: pkg.unreadable.map(({ file, error }) => ({
            file,
            rule: 'unreadable-metadata',
            message: unreadableMessage(error)
        }))
    };
}

/** The standard field names of an object the package defines or extends. */
function standardFieldNames(
    model: PackageModel,
    objectName: string
): readonly string[] {
    const object = model.objects.get(objectName);
    const fields = object?.custom
        ? standardFieldsOf(objectName, object.customSettingsType)
        : (STANDARD_OBJECT_FIELDS[objectName] ?? []);
    return fields.map((f) => f.name);
}

// ---- questions the checks ask ----

/** True when the object is defined by the package or is a known standard object. */
export function objectExists(model: PackageModel, name: string): boolean {
    const object = model.objects.get(name);
    if (object?.custom) return object.definition !== undefined;
    return isStandardObject(name) || (object !== undefined && !object.custom);
}

/** The case-correct name of an object the package knows, matched case-insensitively (as Apex does). */
export function knownObjectName(
    model: PackageModel,
    name: string
): string | undefined {
    const lower = name.toLowerCase();
    for (const candidate of [
        ...model.objects.keys(),
        ...Object.keys(STANDARD_OBJECT_FIELDS)
    ]) {
        if (candidate.toLowerCase() === lower && objectExists(model, candidate))
            return candidate;
    }
    return undefined;
}

/** The field of an object, custom or standard, or undefined. */
export function fieldExists(
    model: PackageModel,
    objectName: string,
    field: string
): boolean {
    const object = model.objects.get(objectName);
    if (object?.fields.has(field)) return true;
    const standard = standardFieldNames(model, objectName).includes(field);
    if (object?.custom) return object.definition !== undefined && standard;
    return standard;
}

/** The lookup field of `objectName` behind the parent relationship `X__r` (field `X__c`), matched case-insensitively. */
export function lookupByRelationship(
    model: PackageModel,
    objectName: string,
    relationship: string
): FieldDef | undefined {
    const object = model.objects.get(objectName);
    const wanted = `${relationship.replace(/__r$/i, '')}__c`.toLowerCase();
    for (const field of object?.fields.values() ?? []) {
        if (field.referenceTo && field.name.toLowerCase() === wanted)
            return field;
    }
    return undefined;
}

/** Lookups on any object that point at `parent` with child relationship `relationship` (`X__r`). */
export function childRelationship(
    model: PackageModel,
    parent: string,
    relationship: string
): FieldDef | undefined {
    const wanted = relationship.replace(/__r$/, '');
    for (const object of model.objects.values()) {
        for (const field of object.fields.values()) {
            if (
                field.referenceTo === parent &&
                field.relationshipName === wanted
            )
                return field;
        }
    }
    return undefined;
}

/**
 * Resolves a field path on an object (`Status__c`, `Contact__r.LastName`), case-insensitively
 * as SOQL does. Returns an error message, or undefined when the path exists.
 */
export function checkFieldPath(
    model: PackageModel,
    objectName: string,
    fieldPath: string
): string | undefined {
    const segments = fieldPath.split('.');
    let current = objectName;
    for (let i = 0; i < segments.length; i++) {
        const segment = segments[i];
        if (i === segments.length - 1) {
            const field = matchField(model, current, segment);
            return field ? undefined : `${current}.${segment} does not exist`;
        }
        if (!/__r$/i.test(segment))
            return `${current}.${segment}: only custom relationships (__r) are followed`;
        const lookup = lookupByRelationship(model, current, segment);
        if (!lookup?.referenceTo)
            return `${current} has no relationship ${segment}`;
        current = lookup.referenceTo;
    }
    return undefined;
}

/** The case-correct name of a field, matched case-insensitively, or undefined. */
export function matchField(
    model: PackageModel,
    objectName: string,
    field: string
): string | undefined {
    const lower = field.toLowerCase();
    const object = model.objects.get(objectName);
    const candidates = [
        ...(object?.fields.keys() ?? []),
        ...standardFieldNames(model, objectName)
    ];
    const found = candidates.find(
        (candidate) => candidate.toLowerCase() === lower
    );
    return found && fieldExists(model, objectName, found) ? found : undefined;
}

/** Every custom field of the package, by `Object.Field`. */
export function customFields(model: PackageModel): FieldDef[] {
    const out: FieldDef[] = [];
    for (const object of model.objects.values())
        out.push(...object.fields.values());
    return out;
}
