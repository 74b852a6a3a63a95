/**
 * Readers for the package's other metadata types (layouts, permission sets, pages, Flows,
 * apps, labels, translations, the lead-convert mapping, the component meta and the
 * deploy manifest): each takes the file's root element and returns what the package
 * checks and the local org's deploy look at.
 */
import { XmlElement, attribute, children, flag, text, texts } from './xml';

const isTrue = (element: XmlElement | undefined, name: string): boolean =>
    flag(element, name) === true;

export interface LayoutMeta {
    /** Every `layoutItems/field`, section by section. */
    fields: string[];
    sections: { label: string; custom: boolean }[];
    relatedLists: { name: string; fields: string[]; sortField?: string }[];
}

export function readLayout(root: XmlElement): LayoutMeta {
    const fields: string[] = [];
    const sections: LayoutMeta['sections'] = [];
    for (const section of children(root, 'layoutSections')) {
        sections.push({
            label: text(section, 'label') ?? '',
            custom: isTrue(section, 'customLabel')
        });
        for (const column of children(section, 'layoutColumns')) {
            for (const item of children(column, 'layoutItems')) {
                const field = text(item, 'field');
                if (field) fields.push(field);
            }
        }
    }
    return {
        fields,
        sections,
        relatedLists: children(root, 'relatedLists').map((list) => ({
            name: text(list, 'relatedList') ?? '',
            fields: texts(list, 'fields'),
            sortField: text(list, 'sortField')
        }))
    };
}

/** A named grant (`customPermissions`, `customSettingAccesses`, `classAccesses`, `userPermissions`). */
export interface Grant {
    name: string;
    enabled: boolean;
}

export interface ObjectPermissionMeta {
    object: string;
    read: boolean;
    edit: boolean;
    create: boolean;
    delete: boolean;
    viewAll: boolean;
    modifyAll: boolean;
}

/** A `PermissionSet` (or `Profile`: the grants read the same). */
export interface PermissionSetMeta {
    label?: string;
    description?: string;
    fieldPermissions: { field: string; readable: boolean; editable: boolean }[];
    objectPermissions: ObjectPermissionMeta[];
    classAccesses: Grant[];
    customSettingAccesses: Grant[];
    customPermissions: Grant[];
    userPermissions: Grant[];
    tabs: string[];
    applications: string[];
}

function grants(root: XmlElement, element: string, key: string): Grant[] {
    return children(root, element).map((g) => ({
        name: text(g, key) ?? '',
        enabled: isTrue(g, 'enabled')
    }));
}

export function readPermissionSet(root: XmlElement): PermissionSetMeta {
    return {
        label: text(root, 'label'),
        description: text(root, 'description'),
        fieldPermissions: children(root, 'fieldPermissions').map((p) => ({
            field: text(p, 'field') ?? '',
            readable: isTrue(p, 'readable'),
            editable: isTrue(p, 'editable')
        })),
        objectPermissions: children(root, 'objectPermissions').map((p) => ({
            object: text(p, 'object') ?? '',
            read: isTrue(p, 'allowRead'),
            edit: isTrue(p, 'allowEdit'),
            create: isTrue(p, 'allowCreate'),
            delete: isTrue(p, 'allowDelete'),
            viewAll: isTrue(p, 'viewAllRecords'),
            modifyAll: isTrue(p, 'modifyAllRecords')
        })),
        classAccesses: grants(root, 'classAccesses', 'apexClass'),
        customSettingAccesses: grants(root, 'customSettingAccesses', 'name'),
        customPermissions: grants(root, 'customPermissions', 'name'),
        userPermissions: grants(root, 'userPermissions', 'name'),
        tabs: children(root, 'tabSettings').map((t) => text(t, 'tab') ?? ''),
        applications: children(root, 'applicationVisibilities').map(
            (a) => text(a, 'application') ?? ''
        )
    };
}

/** The names of the enabled grants. */
export const enabledNames = (list: Grant[]): string[] =>
    list.filter((g) => g.enabled).map((g) => g.name);

export interface FlexiComponent {
    name: string;
    identifier?: string;
    properties: Map<string, string>;
}

export interface FlexiPageMeta {
    type?: string;
    sobjectType?: string;
    regions: { name: string; type?: string; components: FlexiComponent[] }[];
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

export function readFlexiPage(root: XmlElement): FlexiPageMeta {
    return {
        type: text(root, 'type'),
        sobjectType: text(root, 'sobjectType'),
        regions: children(root, 'flexiPageRegions').map((region) => ({
            name: text(region, 'name') ?? '',
            type: text(region, 'type'),
            components: children(region, 'itemInstances').flatMap((item) =>
                children(item, 'componentInstance').map(flexiComponent)
            )
        }))
    };
}

export interface FlowActionCall {
    name: string;
    actionType?: string;
    actionName?: string;
    inputs: string[];
}

export interface FlowMeta {
    status?: string;
    processType?: string;
    startObject?: string;
    triggerType?: string;
    filterFields: string[];
    /** Field names used as `$Record.Field` anywhere in the file. */
    recordFields: string[];
    /** Custom permissions used as `$Permission.Name` (entry conditions, formulas). */
    permissions: string[];
    actionCalls: FlowActionCall[];
}

/** A Flow; `source` is the file's text, searched for `$Record.` and `$Permission.` uses. */
export function readFlow(root: XmlElement, source: string): FlowMeta {
    const start = children(root, 'start')[0];
    return {
        status: text(root, 'status'),
        processType: text(root, 'processType'),
        startObject: text(start, 'object'),
        triggerType: text(start, 'triggerType'),
        filterFields: children(start, 'filters').map(
            (f) => text(f, 'field') ?? ''
        ),
        recordFields: [...source.matchAll(/\$Record\.([A-Za-z0-9_]+)/g)].map(
            (m) => m[1]
        ),
        permissions: [...source.matchAll(/\$Permission\.([A-Za-z0-9_]+)/g)].map(
            (m) => m[1]
        ),
        actionCalls: children(root, 'actionCalls').map((call) => ({
            name: text(call, 'name') ?? '',
            actionType: text(call, 'actionType'),
            actionName: text(call, 'actionName'),
            inputs: children(call, 'inputParameters').map(
                (p) => text(p, 'name') ?? ''
            )
        }))
    };
}

export interface AppMeta {
    tabs: string[];
    overrides: {
        actionName?: string;
        content?: string;
        type?: string;
        pageOrSobjectType?: string;
        profile?: string;
    }[];
}

export function readApp(root: XmlElement): AppMeta {
    const override = (o: XmlElement): AppMeta['overrides'][number] => ({
        actionName: text(o, 'actionName'),
        content: text(o, 'content'),
        type: text(o, 'type'),
        pageOrSobjectType: text(o, 'pageOrSobjectType'),
        profile: text(o, 'profile')
    });
    return {
        tabs: texts(root, 'tabs'),
        overrides: [
            ...children(root, 'actionOverrides').map(override),
            ...children(root, 'profileActionOverrides').map(override)
        ]
    };
}

/** `CustomLabels`: each label's API name and value, in file order. */
export function readCustomLabels(
    root: XmlElement
): { name: string; value: string }[] {
    return children(root, 'labels').map((label) => ({
        name: text(label, 'fullName') ?? '',
        value: text(label, 'value') ?? ''
    }));
}

/** `Translations`: custom label name → translated label. */
export function readTranslations(root: XmlElement): Map<string, string> {
    const labels = new Map<string, string>();
    for (const label of children(root, 'customLabels'))
        labels.set(text(label, 'name') ?? '', text(label, 'label') ?? '');
    return labels;
}

export interface FieldTranslationMeta {
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

/** A `CustomFieldTranslation` (a file's root, or a `fields` of an object translation). */
export function readFieldTranslation(
    element: XmlElement
): FieldTranslationMeta {
    const picklistValues = new Map<string, string>();
    for (const value of children(element, 'picklistValues')) {
        picklistValues.set(
            text(value, 'masterLabel') ?? '',
            text(value, 'translation') ?? ''
        );
    }
    return {
        name: text(element, 'name') ?? '',
        label: text(element, 'label'),
        help: text(element, 'help'),
        relationshipLabel: text(element, 'relationshipLabel'),
        picklistValues
    };
}

export interface ObjectTranslationMeta {
    caseValues: string[];
    nameFieldLabel?: string;
    layouts: { layout: string; sections: string[] }[];
    validationRules: string[];
    fields: FieldTranslationMeta[];
}

export function readObjectTranslation(root: XmlElement): ObjectTranslationMeta {
    return {
        caseValues: children(root, 'caseValues').map(
            (c) => text(c, 'value') ?? ''
        ),
        nameFieldLabel: text(root, 'nameFieldLabel'),
        layouts: children(root, 'layouts').map((l) => ({
            layout: text(l, 'layout') ?? '',
            sections: children(l, 'sections').map(
                (s) => text(s, 'section') ?? ''
            )
        })),
        validationRules: children(root, 'validationRules').map(
            (v) => text(v, 'name') ?? ''
        ),
        fields: children(root, 'fields').map(readFieldTranslation)
    };
}

export interface LeadConvertMapping {
    outputObject: string;
    inputField: string;
    outputField: string;
}

export function readLeadConvertSettings(
    root: XmlElement
): LeadConvertMapping[] {
    const mappings: LeadConvertMapping[] = [];
    for (const mapping of children(root, 'objectMapping')) {
        for (const field of children(mapping, 'mappingFields')) {
            mappings.push({
                outputObject: text(mapping, 'outputObject') ?? '',
                inputField: text(field, 'inputField') ?? '',
                outputField: text(field, 'outputField') ?? ''
            });
        }
    }
    return mappings;
}

export interface LwcMeta {
    exposed: boolean;
    targets: string[];
    /** Objects of the `lightning__RecordPage` target configs. */
    recordPageObjects: string[];
}

/** A Lightning web component's `.js-meta.xml` (`LightningComponentBundle`). */
export function readLwcMeta(root: XmlElement): LwcMeta {
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
    return {
        exposed: isTrue(root, 'isExposed'),
        targets: texts(children(root, 'targets')[0], 'target'),
        recordPageObjects
    };
}

/** A deploy manifest (`package.xml`): each listed component, in file order. */
export function readManifest(
    root: XmlElement
): { type: string; fullName: string }[] {
    return children(root, 'types').flatMap((t) => {
        const type = text(t, 'name') ?? '';
        return texts(t, 'members').map((fullName) => ({ type, fullName }));
    });
}

export interface CustomPermissionMeta {
    label?: string;
    description?: string;
    isLicensed: boolean;
}

export function readCustomPermission(root: XmlElement): CustomPermissionMeta {
    return {
        label: text(root, 'label'),
        description: text(root, 'description'),
        isLicensed: isTrue(root, 'isLicensed')
    };
}
