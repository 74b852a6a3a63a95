/**
 * Reads package source folders (SFDX format: force-app and friends) into one model:
 * objects with their fields, rules, list views and compact layouts; layouts, pages,
 * permission sets, Flows, apps, tabs, labels, translations, Apex and Lightning web
 * components. Built from the files alone; a file that cannot be read is listed in
 * `unreadable`, never thrown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
    AppMeta,
    FieldTranslationMeta,
    FlexiPageMeta,
    FlowMeta,
    LayoutMeta,
    LeadConvertMapping,
    LwcMeta,
    ObjectPermissionMeta,
    PermissionSetMeta,
    enabledNames,
    readApp,
    readCustomLabels,
    readFieldTranslation,
    readFlexiPage,
    readFlow,
    readLayout,
    readLeadConvertSettings,
    readLwcMeta,
    readObjectTranslation,
    readPermissionSet,
    readTranslations
} from './components';
import { CustomFieldMeta, readCustomField, readCustomObject } from './objects';
import { XmlElement, children, parseMetadataXml, text, texts } from './xml';

export interface SourceFile {
    /** Path relative to the project root. */
    file: string;
    source: string;
}

/** A custom field of the package, on a custom or a standard object. */
export interface FieldDef extends SourceFile, CustomFieldMeta {
    object: string;
}

export interface ObjectDef {
    name: string;
    /** Defined by the package (`__c`), as opposed to a standard object it extends. */
    custom: boolean;
    /** `Hierarchy` or `List` for a custom setting. */
    customSettingsType?: string;
    definition?: SourceFile;
    /** Custom fields by API name, in file-name order. */
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

export interface LayoutDef extends SourceFile, LayoutMeta {
    /** Full name, e.g. `Contact-Opt-Out Sync Contact Layout`. */
    name: string;
    object: string;
    /** The part after the object, as translations name it. */
    layoutName: string;
}

export interface FlexiPageDef extends SourceFile, FlexiPageMeta {
    name: string;
}

export interface PermissionSetDef extends SourceFile {
    name: string;
    fieldPermissions: PermissionSetMeta['fieldPermissions'];
    objectPermissions: ObjectPermissionMeta[];
    /** Enabled Apex class accesses. */
    classes: string[];
    tabs: string[];
    applications: string[];
    /** Enabled custom setting accesses. */
    customSettings: string[];
    /** Custom permissions the set enables. */
    customPermissions: string[];
    description?: string;
}

export interface FlowDef extends SourceFile, FlowMeta {
    name: string;
}

export interface AppDef extends SourceFile, AppMeta {
    name: string;
}

export interface LabelDef extends SourceFile {
    name: string;
    value: string;
}

export interface TranslationDef extends SourceFile {
    language: string;
    labels: Map<string, string>;
}

export type FieldTranslationDef = SourceFile & FieldTranslationMeta;

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
    meta?: SourceFile & LwcMeta;
    scripts: SourceFile[];
}

export interface LeadConvertDef extends SourceFile {
    mappings: LeadConvertMapping[];
}

export interface MetadataPackage {
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
    /** Files that could not be read as metadata, and why. */
    unreadable: { file: string; error: Error }[];
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

/** Reads the package directories (relative to `projectRoot`) into a model. */
export function readPackage(
    projectRoot: string,
    packageDirs: string[]
): MetadataPackage {
    const pkg: MetadataPackage = {
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
        unreadable: []
    };
    for (const dir of packageDirs) {
        for (const full of listFiles(path.resolve(projectRoot, dir))) {
            const file = path.relative(projectRoot, full);
            try {
                addFile(pkg, file, () => fs.readFileSync(full, 'utf8'));
            } catch (err) {
                pkg.unreadable.push({
                    file,
                    error: err instanceof Error ? err : new Error(String(err))
                });
            }
        }
    }
    return pkg;
}

function objectOf(pkg: MetadataPackage, name: string): ObjectDef {
    let object = pkg.objects.get(name);
    if (!object) {
        object = {
            name,
            custom: name.endsWith('__c'),
            fields: new Map(),
            validationRules: new Map(),
            listViews: new Map(),
            compactLayouts: new Map(),
            searchLayoutFields: []
        };
        pkg.objects.set(name, object);
    }
    return object;
}

function objectTranslationOf(
    pkg: MetadataPackage,
    key: string
): ObjectTranslationDef {
    let translation = pkg.objectTranslations.get(key);
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
        pkg.objectTranslations.set(key, translation);
    }
    return translation;
}

/** Where a metadata file sits and what it holds, for the reader of its type. */
interface MetadataFile extends SourceFile {
    /** The file name without the type's suffix (the component's name). */
    name: string;
    /** The folder the file is in, and the one above it. */
    parent: string;
    grandParent: string;
    /** The parsed root element; parsed on first use, so a type read by name only never fails on its XML. */
    readonly root: XmlElement;
}

type Reader = (pkg: MetadataPackage, f: MetadataFile) => void;

/** The file, its text and the component's name, as every named definition starts. */
const named = (f: MetadataFile): SourceFile & { name: string } => ({
    file: f.file,
    source: f.source,
    name: f.name
});

/** One reader per `-meta.xml` suffix. */
const READERS: [suffix: string, read: Reader][] = [
    [
        '.object-meta.xml',
        (pkg, f) => {
            const meta = readCustomObject(f.root);
            const object = objectOf(pkg, f.name);
            object.definition = { file: f.file, source: f.source };
            object.customSettingsType = meta.customSettingsType;
            object.compactLayoutAssignment = meta.compactLayoutAssignment;
            object.searchLayoutFields.push(...meta.searchLayoutFields);
        }
    ],
    [
        '.field-meta.xml',
        (pkg, f) => {
            if (f.parent !== 'fields') return;
            objectOf(pkg, f.grandParent).fields.set(f.name, {
                ...readCustomField(f.root),
                // The file name is the field's name in SFDX source, whatever fullName says.
                name: f.name,
                file: f.file,
                source: f.source,
                object: f.grandParent
            });
        }
    ],
    [
        '.validationRule-meta.xml',
        (pkg, f) =>
            objectOf(pkg, f.grandParent).validationRules.set(f.name, {
                file: f.file,
                source: f.source
            })
    ],
    [
        '.listView-meta.xml',
        (pkg, f) =>
            objectOf(pkg, f.grandParent).listViews.set(f.name, {
                file: f.file,
                source: f.source,
                columns: texts(f.root, 'columns'),
                filterFields: children(f.root, 'filters').map(
                    (filter) => text(filter, 'field') ?? ''
                )
            })
    ],
    [
        '.compactLayout-meta.xml',
        (pkg, f) =>
            objectOf(pkg, f.grandParent).compactLayouts.set(f.name, {
                file: f.file,
                source: f.source,
                fields: texts(f.root, 'fields')
            })
    ],
    [
        '.layout-meta.xml',
        (pkg, f) => {
            const dash = f.name.indexOf('-');
            pkg.layouts.push({
                ...named(f),
                object: dash > 0 ? f.name.slice(0, dash) : f.name,
                layoutName: dash > 0 ? f.name.slice(dash + 1) : f.name,
                ...readLayout(f.root)
            });
        }
    ],
    [
        '.flexipage-meta.xml',
        (pkg, f) =>
            pkg.flexipages.set(f.name, {
                ...named(f),
                ...readFlexiPage(f.root)
            })
    ],
    [
        '.permissionset-meta.xml',
        (pkg, f) => {
            const meta = readPermissionSet(f.root);
            pkg.permissionSets.set(f.name, {
                ...named(f),
                fieldPermissions: meta.fieldPermissions,
                objectPermissions: meta.objectPermissions,
                classes: enabledNames(meta.classAccesses),
                tabs: meta.tabs,
                applications: meta.applications,
                customSettings: enabledNames(meta.customSettingAccesses),
                customPermissions: enabledNames(meta.customPermissions),
                description: meta.description
            });
        }
    ],
    [
        '.customPermission-meta.xml',
        (pkg, f) => pkg.customPermissions.set(f.name, named(f))
    ],
    [
        '.flow-meta.xml',
        (pkg, f) =>
            pkg.flows.set(f.name, {
                ...named(f),
                ...readFlow(f.root, f.source)
            })
    ],
    [
        '.app-meta.xml',
        (pkg, f) =>
            pkg.apps.set(f.name, {
                ...named(f),
                ...readApp(f.root)
            })
    ],
    [
        '.tab-meta.xml',
        (pkg, f) => pkg.tabs.set(f.name, { file: f.file, source: f.source })
    ],
    [
        '.labels-meta.xml',
        (pkg, f) => {
            for (const label of readCustomLabels(f.root))
                pkg.labels.set(label.name, {
                    file: f.file,
                    source: f.source,
                    ...label
                });
        }
    ],
    [
        '.translation-meta.xml',
        (pkg, f) =>
            pkg.translations.set(f.name, {
                file: f.file,
                source: f.source,
                language: f.name,
                labels: readTranslations(f.root)
            })
    ],
    [
        '.objectTranslation-meta.xml',
        (pkg, f) => {
            const meta = readObjectTranslation(f.root);
            const translation = objectTranslationOf(pkg, f.name);
            translation.definition = { file: f.file, source: f.source };
            translation.caseValues = meta.caseValues;
            translation.nameFieldLabel = meta.nameFieldLabel;
            translation.layouts = meta.layouts;
            translation.validationRules = meta.validationRules;
            for (const field of meta.fields)
                translation.fields.set(field.name, {
                    file: f.file,
                    source: f.source,
                    ...field
                });
        }
    ],
    [
        '.fieldTranslation-meta.xml',
        (pkg, f) => {
            const key = f.parent === 'fields' ? f.grandParent : f.parent;
            const field = readFieldTranslation(f.root);
            objectTranslationOf(pkg, key).fields.set(
                text(f.root, 'name') ?? f.name,
                { file: f.file, source: f.source, ...field }
            );
        }
    ],
    [
        '.LeadConvertSetting-meta.xml',
        (pkg, f) =>
            pkg.leadConvert.push({
                file: f.file,
                source: f.source,
                mappings: readLeadConvertSettings(f.root)
            })
    ]
];

function addFile(pkg: MetadataPackage, file: string, read: () => string): void {
    const parts = file.split(path.sep);
    const base = parts[parts.length - 1];
    if (base.endsWith('.cls') || base.endsWith('.trigger')) {
        pkg.apex.push({
            file,
            source: read(),
            name: base.replace(/\.(cls|trigger)$/, ''),
            kind: base.endsWith('.cls') ? 'class' : 'trigger'
        });
        return;
    }
    if (parts.includes('lwc')) {
        addLwcFile(pkg, file, parts, read);
        return;
    }
    if (!base.endsWith('-meta.xml')) return;
    const entry = READERS.find(([suffix]) => base.endsWith(suffix));
    if (!entry) return;
    const [suffix, reader] = entry;
    const source = read();
    let root: XmlElement | undefined;
    reader(pkg, {
        file,
        source,
        name: base.slice(0, -suffix.length),
        parent: parts[parts.length - 2],
        grandParent: parts[parts.length - 3],
        get root(): XmlElement {
            root ??= parseMetadataXml(source, file).root;
            return root;
        }
    });
}

function addLwcFile(
    pkg: MetadataPackage,
    file: string,
    parts: string[],
    read: () => string
): void {
    const base = parts[parts.length - 1];
    const at = parts.indexOf('lwc');
    const bundleName = parts[at + 1];
    let bundle = pkg.lwc.get(bundleName);
    if (!bundle) {
        bundle = {
            name: bundleName,
            dir: parts.slice(0, at + 2).join(path.sep),
            scripts: []
        };
        pkg.lwc.set(bundleName, bundle);
    }
    if (base === `${bundleName}.js-meta.xml`) {
        const source = read();
        bundle.meta = {
            file,
            source,
            ...readLwcMeta(parseMetadataXml(source, file).root)
        };
    } else if (base.endsWith('.js')) {
        bundle.scripts.push({ file, source: read() });
    }
}
