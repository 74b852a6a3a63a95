/**
 * A read-only model of the package source (force-app and friends): objects, fields,
 * layouts, record pages, permission sets, Flows, apps, labels, translations, Apex and
 * Lightning Web Components, built from the files alone. The consistency check asks it
 * whether a referenced name exists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Problem } from './problems';
import {
    CUSTOM_OBJECT_STANDARD_FIELDS,
    CUSTOM_SETTING_STANDARD_FIELDS,
    STANDARD_FIELDS
} from './standard-schema';
import { XmlElement, attribute, children, parseXml, text, texts } from './xml';

export interface SourceFile {
    /** Path relative to the project root. */
    file: string;
    source: string;
}

export interface FieldDef extends SourceFile {
    object: string;
    name: string;
    type: string;
    label?: string;
    help?: string;
    required: boolean;
    /** Inline picklist values: API name (`fullName`) and label. */
    picklistValues: { name: string; label: string }[];
    referenceTo?: string;
    relationshipName?: string;
    relationshipLabel?: string;
}

export interface ObjectDef {
    name: string;
    /** Defined by the package (`__c`), as opposed to a standard object it extends. */
    custom: boolean;
    /** `Hierarchy` or `List` for a custom setting. */
    customSettingsType?: string;
    definition?: SourceFile;
    fields: Map<string, FieldDef>;
    validationRules: Map<string, SourceFile>;
    listViews: Map<
        string,
        SourceFile & { columns: string[]; filterFields: string[] }
    >;
    compactLayouts: Map<string, SourceFile & { fields: string[] }>;
    compactLayoutAssignment?: string;
    searchLayoutFields: string[];
}

export interface LayoutDef extends SourceFile {
    /** Full name, e.g. `Contact-Opt-Out Sync Contact Layout`. */
    name: string;
    object: string;
    /** The part after the object, as translations name it. */
    layoutName: string;
    fields: string[];
    sections: { label: string; custom: boolean }[];
    relatedLists: { name: string; fields: string[]; sortField?: string }[];
}

export interface FlexiComponent {
    name: string;
    identifier?: string;
    properties: Map<string, string>;
}

export interface FlexiPageDef extends SourceFile {
    name: string;
    type?: string;
    sobjectType?: string;
    regions: { name: string; type?: string; components: FlexiComponent[] }[];
}

export interface PermissionSetDef extends SourceFile {
    name: string;
    fieldPermissions: { field: string; readable: boolean; editable: boolean }[];
    objectPermissions: {
        object: string;
        read: boolean;
        edit: boolean;
        create: boolean;
        delete: boolean;
        viewAll: boolean;
        modifyAll: boolean;
    }[];
    classes: string[];
    tabs: string[];
    applications: string[];
    customSettings: string[];
    /** Custom permissions the set enables. */
    customPermissions: string[];
    description?: string;
}

export interface FlowActionCall {
    name: string;
    actionType?: string;
    actionName?: string;
    inputs: string[];
}

export interface FlowDef extends SourceFile {
    name: string;
    status?: string;
    processType?: string;
    startObject?: string;
    triggerType?: string;
    filterFields: string[];
    /** Field names used as `$Record.Field`. */
    recordFields: string[];
    /** Custom permissions used as `$Permission.Name` (entry conditions, formulas). */
    permissions: string[];
    actionCalls: FlowActionCall[];
}

export interface AppDef extends SourceFile {
    name: string;
    tabs: string[];
    overrides: {
        actionName?: string;
        content?: string;
        type?: string;
        pageOrSobjectType?: string;
        profile?: string;
    }[];
}

export interface LabelDef extends SourceFile {
    name: string;
    value: string;
}

export interface TranslationDef extends SourceFile {
    language: string;
    labels: Map<string, string>;
}

export interface FieldTranslationDef extends SourceFile {
    name: string;
    label?: string;
    help?: string;
    relationshipLabel?: string;
    /**
     * masterLabel -> translation. masterLabel is the value's original (untranslated)
     * label, not its API name: retrieved translations key values by label.
     */
    picklistValues: Map<string, string>;
}

export interface ObjectTranslationDef {
    object: string;
    language: string;
    definition?: SourceFile;
    caseValues: string[];
    nameFieldLabel?: string;
    layouts: { layout: string; sections: string[] }[];
    validationRules: string[];
    fields: Map<string, FieldTranslationDef>;
}

export interface LwcBundle {
    name: string;
    dir: string;
    meta?: SourceFile & {
        exposed: boolean;
        targets: string[];
        recordPageObjects: string[];
    };
    scripts: SourceFile[];
}

export interface LeadConvertDef extends SourceFile {
    mappings: {
        outputObject: string;
        inputField: string;
        outputField: string;
    }[];
}

export interface PackageModel {
    projectRoot: string;
    packageDirs: string[];
    objects: Map<string, ObjectDef>;
    layouts: LayoutDef[];
    flexipages: Map<string, FlexiPageDef>;
    permissionSets: Map<string, PermissionSetDef>;
    flows: Map<string, FlowDef>;
    apps: Map<string, AppDef>;
    tabs: Map<string, SourceFile>;
    labels: Map<string, LabelDef>;
    translations: Map<string, TranslationDef>;
    /** Keyed `Object-language`. */
    objectTranslations: Map<string, ObjectTranslationDef>;
    apex: (SourceFile & { name: string; kind: 'class' | 'trigger' })[];
    lwc: Map<string, LwcBundle>;
    leadConvert: LeadConvertDef[];
    customPermissions: Map<string, SourceFile & { name: string }>;
    /** Files that could not be read as metadata. */
    problems: Problem[];
}

/** Every file under `dir`, skipping tests, dependencies and dot folders. */
export function listFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (current: string): void => {
        for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
            if (entry.name.startsWith('.') || entry.name === 'node_modules')
                continue;
            if (entry.name === '__tests__' || entry.name === 'jsconfig.json')
                continue;
            const full = path.join(current, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (entry.isFile()) out.push(full);
        }
    };
    if (fs.existsSync(dir)) walk(dir);
    return out.sort();
}

const isTrue = (value: string | undefined): boolean => value === 'true';

function emptyObject(name: string): ObjectDef {
    return {
        name,
        custom: name.endsWith('__c'),
        fields: new Map(),
        validationRules: new Map(),
        listViews: new Map(),
        compactLayouts: new Map(),
        searchLayoutFields: []
    };
}

/** Reads the package directories (relative to `projectRoot`) into a model. */
export function loadPackage(
    projectRoot: string,
    packageDirs: string[]
): PackageModel {
    const model: PackageModel = {
        projectRoot,
        packageDirs,
        objects: new Map(),
        layouts: [],
        flexipages: new Map(),
        permissionSets: new Map(),
        flows: new Map(),
        apps: new Map(),
        tabs: new Map(),
        labels: new Map(),
        translations: new Map(),
        objectTranslations: new Map(),
        apex: [],
        lwc: new Map(),
        leadConvert: [],
        customPermissions: new Map(),
        problems: []
    };
    for (const dir of packageDirs) {
        for (const full of listFiles(path.resolve(projectRoot, dir))) {
            const file = path.relative(projectRoot, full);
            try {
                addFile(model, file, full);
            } catch (err) {
                model.problems.push({
                    file,
                    rule: 'unreadable-metadata',
                    message: `cannot read this file as metadata: ${err instanceof Error ? err.message : String(err)}`
                });
            }
        }
    }
    return model;
}

function objectOf(model: PackageModel, name: string): ObjectDef {
    let object = model.objects.get(name);
    if (!object) {
        object = emptyObject(name);
        model.objects.set(name, object);
    }
    return object;
}

function objectTranslationOf(
    model: PackageModel,
    key: string
): ObjectTranslationDef {
    let translation = model.objectTranslations.get(key);
    if (!translation) {
        const dash = key.lastIndexOf('-');
        translation = {
            object: key.slice(0, dash),
            language: key.slice(dash + 1),
            caseValues: [],
            layouts: [],
            validationRules: [],
            fields: new Map()
        };
        model.objectTranslations.set(key, translation);
    }
    return translation;
}

const SUFFIX = (name: string, suffix: string): string | undefined =>
    name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;

function addFile(model: PackageModel, file: string, full: string): void {
    const parts = file.split(path.sep);
    const base = parts[parts.length - 1];
    const parent = parts[parts.length - 2];
    const grandParent = parts[parts.length - 3];
    const read = (): string => fs.readFileSync(full, 'utf8');
    let name: string | undefined;

    if (base.endsWith('.cls') || base.endsWith('.trigger')) {
        const kind = base.endsWith('.cls') ? 'class' : 'trigger';
        model.apex.push({
            file,
            source: read(),
            name: base.replace(/\.(cls|trigger)$/, ''),
            kind
        });
        return;
    }
    if (parts.includes('lwc')) {
        const bundleName = parts[parts.indexOf('lwc') + 1];
        const bundleDir = parts
            .slice(0, parts.indexOf('lwc') + 2)
            .join(path.sep);
        let bundle = model.lwc.get(bundleName);
        if (!bundle) {
            bundle = { name: bundleName, dir: bundleDir, scripts: [] };
            model.lwc.set(bundleName, bundle);
        }
        if (base === `${bundleName}.js-meta.xml`) {
            const source = read();
            const { root } = parseXml(source);
            const recordPageObjects: string[] = [];
            for (const targetConfig of children(
                children(root, 'targetConfigs')[0],
                'targetConfig'
            )) {
                const targets = (attribute(targetConfig, 'targets') ?? '')
                    .split(',')
                    .map((t) => t.trim());
                if (targets.includes('lightning__RecordPage')) {
                    recordPageObjects.push(
                        ...texts(children(targetConfig, 'objects')[0], 'object')
                    );
                }
            }
            bundle.meta = {
                file,
                source,
                exposed: isTrue(text(root, 'isExposed')),
                targets: texts(children(root, 'targets')[0], 'target'),
                recordPageObjects
            };
        } else if (base.endsWith('.js')) {
            bundle.scripts.push({ file, source: read() });
        }
        return;
    }
    if (!base.endsWith('-meta.xml')) return;
    const source = read();

    if ((name = SUFFIX(base, '.object-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        const object = objectOf(model, name);
        object.definition = { file, source };
        object.customSettingsType = text(root, 'customSettingsType');
        object.compactLayoutAssignment = text(root, 'compactLayoutAssignment');
        const search = children(root, 'searchLayouts')[0];
        for (const key of Object.keys(search ?? {})) {
            if (key.endsWith('AdditionalFields'))
                object.searchLayoutFields.push(...texts(search, key));
        }
    } else if (
        (name = SUFFIX(base, '.field-meta.xml')) !== undefined &&
        parent === 'fields'
    ) {
        const { root } = parseXml(source);
        const objectName = grandParent;
        const valueSet = children(
            children(root, 'valueSet')[0],
            'valueSetDefinition'
        )[0];
        objectOf(model, objectName).fields.set(name, {
            file,
            source,
            object: objectName,
            name,
            type: text(root, 'type') ?? '',
            label: text(root, 'label'),
            help: text(root, 'inlineHelpText'),
            required: isTrue(text(root, 'required')),
            picklistValues: children(valueSet, 'value').map((v) => {
                const fullName = text(v, 'fullName') ?? '';
                return { name: fullName, label: text(v, 'label') ?? fullName };
            }),
            referenceTo: text(root, 'referenceTo'),
            relationshipName: text(root, 'relationshipName'),
            relationshipLabel: text(root, 'relationshipLabel')
        });
    } else if (
        (name = SUFFIX(base, '.validationRule-meta.xml')) !== undefined
    ) {
        objectOf(model, grandParent).validationRules.set(name, {
            file,
            source
        });
    } else if ((name = SUFFIX(base, '.listView-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        objectOf(model, grandParent).listViews.set(name, {
            file,
            source,
            columns: texts(root, 'columns'),
            filterFields: children(root, 'filters').map(
                (f) => text(f, 'field') ?? ''
            )
        });
    } else if ((name = SUFFIX(base, '.compactLayout-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        objectOf(model, grandParent).compactLayouts.set(name, {
            file,
            source,
            fields: texts(root, 'fields')
        });
    } else if ((name = SUFFIX(base, '.layout-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        const dash = name.indexOf('-');
        const fields: string[] = [];
        const sections: LayoutDef['sections'] = [];
        for (const section of children(root, 'layoutSections')) {
            sections.push({
                label: text(section, 'label') ?? '',
                custom: isTrue(text(section, 'customLabel'))
            });
            for (const column of children(section, 'layoutColumns')) {
                for (const item of children(column, 'layoutItems')) {
                    const field = text(item, 'field');
                    if (field) fields.push(field);
                }
            }
        }
        model.layouts.push({
            file,
            source,
            name,
            object: dash > 0 ? name.slice(0, dash) : name,
            layoutName: dash > 0 ? name.slice(dash + 1) : name,
            fields,
            sections,
            relatedLists: children(root, 'relatedLists').map((list) => ({
                name: text(list, 'relatedList') ?? '',
                fields: texts(list, 'fields'),
                sortField: text(list, 'sortField')
            }))
        });
    } else if ((name = SUFFIX(base, '.flexipage-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        model.flexipages.set(name, {
            file,
            source,
            name,
            type: text(root, 'type'),
            sobjectType: text(root, 'sobjectType'),
            regions: children(root, 'flexiPageRegions').map((region) => ({
                name: text(region, 'name') ?? '',
                type: text(region, 'type'),
                components: children(region, 'itemInstances').flatMap((item) =>
                    children(item, 'componentInstance').map((instance) =>
                        flexiComponent(instance)
                    )
                )
            }))
        });
    } else if ((name = SUFFIX(base, '.permissionset-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        model.permissionSets.set(name, {
            file,
            source,
            name,
            fieldPermissions: children(root, 'fieldPermissions').map((p) => ({
                field: text(p, 'field') ?? '',
                readable: isTrue(text(p, 'readable')),
                editable: isTrue(text(p, 'editable'))
            })),
            objectPermissions: children(root, 'objectPermissions').map((p) => ({
                object: text(p, 'object') ?? '',
                read: isTrue(text(p, 'allowRead')),
                edit: isTrue(text(p, 'allowEdit')),
                create: isTrue(text(p, 'allowCreate')),
                delete: isTrue(text(p, 'allowDelete')),
                viewAll: isTrue(text(p, 'viewAllRecords')),
                modifyAll: isTrue(text(p, 'modifyAllRecords'))
            })),
            classes: children(root, 'classAccesses')
                .filter((c) => isTrue(text(c, 'enabled')))
                .map((c) => text(c, 'apexClass') ?? ''),
            tabs: children(root, 'tabSettings').map(
                (t) => text(t, 'tab') ?? ''
            ),
            applications: children(root, 'applicationVisibilities').map(
                (a) => text(a, 'application') ?? ''
            ),
            customSettings: children(root, 'customSettingAccesses')
                .filter((c) => isTrue(text(c, 'enabled')))
                .map((c) => text(c, 'name') ?? ''),
            customPermissions: children(root, 'customPermissions')
                .filter((c) => isTrue(text(c, 'enabled')))
                .map((c) => text(c, 'name') ?? ''),
            description: text(root, 'description')
        });
    } else if (
        (name = SUFFIX(base, '.customPermission-meta.xml')) !== undefined
    ) {
        model.customPermissions.set(name, { file, source, name });
    } else if ((name = SUFFIX(base, '.flow-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        const start = children(root, 'start')[0];
        model.flows.set(name, {
            file,
            source,
            name,
            status: text(root, 'status'),
            processType: text(root, 'processType'),
            startObject: text(start, 'object'),
            triggerType: text(start, 'triggerType'),
            filterFields: children(start, 'filters').map(
                (f) => text(f, 'field') ?? ''
            ),
            recordFields: [
                ...source.matchAll(/\$Record\.([A-Za-z0-9_]+)/g)
            ].map((m) => m[1]),
            permissions: [
                ...source.matchAll(/\$Permission\.([A-Za-z0-9_]+)/g)
            ].map((m) => m[1]),
            actionCalls: children(root, 'actionCalls').map((call) => ({
                name: text(call, 'name') ?? '',
                actionType: text(call, 'actionType'),
                actionName: text(call, 'actionName'),
                inputs: children(call, 'inputParameters').map(
                    (p) => text(p, 'name') ?? ''
                )
            }))
        });
    } else if ((name = SUFFIX(base, '.app-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        const override = (o: XmlElement): AppDef['overrides'][number] => ({
            actionName: text(o, 'actionName'),
            content: text(o, 'content'),
            type: text(o, 'type'),
            pageOrSobjectType: text(o, 'pageOrSobjectType'),
            profile: text(o, 'profile')
        });
        model.apps.set(name, {
            file,
            source,
            name,
            tabs: texts(root, 'tabs'),
            overrides: [
                ...children(root, 'actionOverrides').map(override),
                ...children(root, 'profileActionOverrides').map(override)
            ]
        });
    } else if ((name = SUFFIX(base, '.tab-meta.xml')) !== undefined) {
        model.tabs.set(name, { file, source });
    } else if (base.endsWith('.labels-meta.xml')) {
        const { root } = parseXml(source);
        for (const label of children(root, 'labels')) {
            const labelName = text(label, 'fullName') ?? '';
            model.labels.set(labelName, {
                file,
                source,
                name: labelName,
                value: text(label, 'value') ?? ''
            });
        }
    } else if ((name = SUFFIX(base, '.translation-meta.xml')) !== undefined) {
        const { root } = parseXml(source);
        const labels = new Map<string, string>();
        for (const label of children(root, 'customLabels')) {
            labels.set(text(label, 'name') ?? '', text(label, 'label') ?? '');
        }
        model.translations.set(name, { file, source, language: name, labels });
    } else if (
        (name = SUFFIX(base, '.objectTranslation-meta.xml')) !== undefined
    ) {
        const { root } = parseXml(source);
        const translation = objectTranslationOf(model, name);
        translation.definition = { file, source };
        translation.caseValues = children(root, 'caseValues').map(
            (c) => text(c, 'value') ?? ''
        );
        translation.nameFieldLabel = text(root, 'nameFieldLabel');
        translation.layouts = children(root, 'layouts').map((l) => ({
            layout: text(l, 'layout') ?? '',
            sections: children(l, 'sections').map(
                (s) => text(s, 'section') ?? ''
            )
        }));
        translation.validationRules = children(root, 'validationRules').map(
            (v) => text(v, 'name') ?? ''
        );
        for (const field of children(root, 'fields')) {
            const fieldName = text(field, 'name') ?? '';
            translation.fields.set(
                fieldName,
                fieldTranslation(field, file, source)
            );
        }
    } else if (
        (name = SUFFIX(base, '.fieldTranslation-meta.xml')) !== undefined
    ) {
        const { root } = parseXml(source);
        const key = parent === 'fields' ? grandParent : parent;
        const translation = objectTranslationOf(model, key);
        translation.fields.set(
            text(root, 'name') ?? name,
            fieldTranslation(root, file, source)
        );
    } else if (base.endsWith('.LeadConvertSetting-meta.xml')) {
        const { root } = parseXml(source);
        const mappings: LeadConvertDef['mappings'] = [];
        for (const mapping of children(root, 'objectMapping')) {
            for (const field of children(mapping, 'mappingFields')) {
                mappings.push({
                    outputObject: text(mapping, 'outputObject') ?? '',
                    inputField: text(field, 'inputField') ?? '',
                    outputField: text(field, 'outputField') ?? ''
                });
            }
        }
        model.leadConvert.push({ file, source, mappings });
    }
}

function flexiComponent(instance: XmlElement): FlexiComponent {
    const properties = new Map<string, string>();
    for (const property of children(instance, 'componentInstanceProperties')) {
        properties.set(
            text(property, 'name') ?? '',
            text(property, 'value') ?? ''
        );
    }
    return {
        name: text(instance, 'componentName') ?? '',
        identifier: text(instance, 'identifier'),
        properties
    };
}

function fieldTranslation(
    element: XmlElement,
    file: string,
    source: string
): FieldTranslationDef {
    const picklistValues = new Map<string, string>();
    for (const value of children(element, 'picklistValues')) {
        picklistValues.set(
            text(value, 'masterLabel') ?? '',
            text(value, 'translation') ?? ''
        );
    }
    return {
        file,
        source,
        name: text(element, 'name') ?? '',
        label: text(element, 'label'),
        help: text(element, 'help'),
        relationshipLabel: text(element, 'relationshipLabel'),
        picklistValues
    };
}

// ---- questions the checks ask ----

/** True for a standard object the package may refer to. */
export function isStandardObject(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(STANDARD_FIELDS, name);
}

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
        ...Object.keys(STANDARD_FIELDS)
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
    if (object?.custom) {
        const standard = object.customSettingsType
            ? CUSTOM_SETTING_STANDARD_FIELDS
            : CUSTOM_OBJECT_STANDARD_FIELDS;
        return object.definition !== undefined && standard.includes(field);
    }
    return (STANDARD_FIELDS[objectName] ?? []).includes(field);
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
        ...(object?.custom
            ? object.customSettingsType
                ? CUSTOM_SETTING_STANDARD_FIELDS
                : CUSTOM_OBJECT_STANDARD_FIELDS
            : (STANDARD_FIELDS[objectName] ?? []))
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
