/**
 * The consistency check: every object, field, relationship, label, class, component, tab,
 * app and page the package refers to exists in the package (or is a standard name from
 * metadata/standard-fields.ts); every custom field is granted to the integration permission set;
 * every custom label and custom field is translated into every language.
 */
import type { ObjectPermissionMeta } from '../../metadata/components';
import { Problem, lineOf } from './problems';
import {
    FieldDef,
    PackageModel,
    checkFieldPath,
    childRelationship,
    customFields,
    fieldExists,
    isStandardObject,
    knownObjectName,
    matchField,
    objectExists
} from './model';
import {
    apexReferences,
    hasInvocableMethod,
    invocableVariables,
    parseApex,
    soqlShape
} from './apex';
import { lwcReferences } from './lwc';
import {
    FORBIDDEN_LAYOUTS,
    INTEGRATION_PERMISSION_SET,
    LANGUAGES,
    MODIFY_ALL_PERMISSION_SET,
    PERMISSION_SET_DESCRIPTION_MAX,
    STANDARD_RELATED_LISTS,
    USER_PERMISSION_SET
} from './standard-schema';

type Source = { file: string; source: string };

function at(
    where: Source,
    needle: string,
    rule: string,
    message: string
): Problem {
    return {
        file: where.file,
        line: lineOf(where.source, needle),
        rule,
        message
    };
}

/** All consistency problems of the package, in a stable order. */
export function checkConsistency(model: PackageModel): Problem[] {
    return [
        ...model.problems,
        ...checkObjects(model),
        ...checkLwc(model),
        ...checkApex(model),
        ...checkLayouts(model),
        ...checkFlexiPages(model),
        ...checkPermissionSets(model),
        ...checkIntegrationGrants(model),
        ...checkFlowPermissionGrants(model),
        ...checkFlows(model),
        ...checkApps(model),
        ...checkLabels(model),
        ...checkObjectTranslations(model),
        ...checkLeadConvert(model)
    ];
}

/** Objects and what hangs off them: lookups, list views, compact and search layouts, rules. */
export function checkObjects(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const object of model.objects.values()) {
        if (object.custom && !object.definition) {
            for (const field of object.fields.values()) {
                problems.push({
                    file: field.file,
                    rule: 'missing-object',
                    message: `field ${object.name}.${field.name} belongs to ${object.name}, which has no ${object.name}.object-meta.xml`
                });
            }
        }
        for (const field of object.fields.values()) {
            if (field.referenceTo && !objectExists(model, field.referenceTo)) {
                problems.push(
                    at(
                        field,
                        field.referenceTo,
                        'missing-object',
                        `${object.name}.${field.name} looks up ${field.referenceTo}, which does not exist`
                    )
                );
            }
            if (field.required && object.customSettingsType === undefined) {
                problems.push(
                    at(
                        field,
                        '<required>',
                        'required-field',
                        `${object.name}.${field.name} is required in metadata: permission sets cannot grant it; enforce it with a validation rule`
                    )
                );
            }
        }
        for (const [name, view] of object.listViews) {
            for (const column of view.columns) {
                if (column === 'NAME' || column === 'OWNER.ALIAS') continue;
                if (!fieldExists(model, object.name, column)) {
                    problems.push(
                        at(
                            view,
                            column,
                            'missing-field',
                            `list view ${object.name}.${name} shows ${column}, which does not exist`
                        )
                    );
                }
            }
            for (const field of view.filterFields) {
                if (!fieldExists(model, object.name, field)) {
                    problems.push(
                        at(
                            view,
                            field,
                            'missing-field',
                            `list view ${object.name}.${name} filters on ${field}, which does not exist`
                        )
                    );
                }
            }
        }
        for (const [name, compact] of object.compactLayouts) {
            for (const field of compact.fields) {
                if (!fieldExists(model, object.name, field)) {
                    problems.push(
                        at(
                            compact,
                            field,
                            'missing-field',
                            `compact layout ${object.name}.${name} shows ${field}, which does not exist`
                        )
                    );
                }
            }
        }
        if (object.definition) {
            if (
                object.compactLayoutAssignment &&
                !object.compactLayouts.has(object.compactLayoutAssignment)
            ) {
                problems.push(
                    at(
                        object.definition,
                        object.compactLayoutAssignment,
                        'missing-component',
                        `${object.name} assigns compact layout ${object.compactLayoutAssignment}, which does not exist`
                    )
                );
            }
            for (const field of object.searchLayoutFields) {
                if (!fieldExists(model, object.name, field)) {
                    problems.push(
                        at(
                            object.definition,
                            field,
                            'missing-field',
                            `search layout of ${object.name} shows ${field}, which does not exist`
                        )
                    );
                }
            }
        }
        for (const [name, rule] of object.validationRules) {
            for (const match of rule.source.matchAll(
                /\b([A-Za-z][A-Za-z0-9_]*__c)\b/g
            )) {
                if (!fieldExists(model, object.name, match[1])) {
                    problems.push(
                        at(
                            rule,
                            match[1],
                            'missing-field',
                            `validation rule ${object.name}.${name} uses ${match[1]}, which does not exist on ${object.name}`
                        )
                    );
                }
            }
        }
    }
    return problems;
}

/** Lightning Web Components: schema and label imports, field and relationship strings. */
export function checkLwc(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const bundle of model.lwc.values()) {
        for (const object of bundle.meta?.recordPageObjects ?? []) {
            if (!objectExists(model, object)) {
                problems.push(
                    at(
                        bundle.meta!,
                        object,
                        'missing-object',
                        `${bundle.name} targets record pages of ${object}, which does not exist`
                    )
                );
            }
        }
        for (const script of bundle.scripts) {
            const refs = lwcReferences(script.source);
            for (const ref of refs.schema) {
                if (!objectExists(model, ref.object)) {
                    problems.push({
                        file: script.file,
                        line: ref.line,
                        rule: 'missing-object',
                        message: `imports @salesforce/schema/${ref.object}, which does not exist`
                    });
                    continue;
                }
                const error = ref.fieldPath
                    ? checkFieldPath(model, ref.object, ref.fieldPath)
                    : undefined;
                if (error) {
                    problems.push({
                        file: script.file,
                        line: ref.line,
                        rule: 'missing-field',
                        message: `imports @salesforce/schema/${ref.object}.${ref.fieldPath}: ${error}`
                    });
                }
            }
            for (const ref of refs.labels) {
                if (!model.labels.has(ref.name)) {
                    problems.push({
                        file: script.file,
                        line: ref.line,
                        rule: 'missing-label',
                        message: `imports @salesforce/label/c.${ref.name}, which is not in the custom labels`
                    });
                }
            }
            for (const ref of refs.fieldStrings) {
                if (!objectExists(model, ref.object)) continue;
                const error = checkFieldPath(model, ref.object, ref.fieldPath);
                if (error) {
                    problems.push({
                        file: script.file,
                        line: ref.line,
                        rule: 'missing-field',
                        message: `names '${ref.object}.${ref.fieldPath}': ${error}`
                    });
                }
            }
            for (const ref of refs.relationships) {
                const parents = [...model.objects.keys(), 'Contact', 'Lead'];
                if (
                    !parents.some((parent) =>
                        childRelationship(model, parent, ref.name)
                    )
                ) {
                    problems.push({
                        file: script.file,
                        line: ref.line,
                        rule: 'missing-relationship',
                        message: `names the child relationship ${ref.name}, which no lookup defines`
                    });
                }
            }
        }
    }
    return problems;
}

/** Apex: labels, SObjects and fields named in code and in SOQL. */
export function checkApex(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    const allFieldNames = new Set(
        customFields(model).map((f) => f.name.toLowerCase())
    );
    // Child relationships (Contact.Audience_Memberships__r) and parent ones (Contact__r).
    const allRelationships = new Set(
        customFields(model)
            .filter((f) => f.referenceTo)
            .flatMap((f) => [
                `${f.relationshipName}__r`,
                f.name.replace(/__c$/, '__r')
            ])
            .map((name) => name.toLowerCase())
    );
    const customObjects = new Set(
        [...model.objects.values()]
            .filter((o) => o.custom && o.definition)
            .map((o) => o.name.toLowerCase())
    );
    for (const apex of model.apex) {
        const refs = apexReferences(apex.source);
        for (const label of refs.labels) {
            if (!model.labels.has(label.name)) {
                problems.push({
                    file: apex.file,
                    line: label.line,
                    column: label.column,
                    rule: 'missing-label',
                    message: `uses System.Label.${label.name}, which is not in the custom labels`
                });
            }
        }
        for (const name of refs.customNames) {
            const lower = name.name.toLowerCase();
            const known = lower.endsWith('__r')
                ? allRelationships.has(lower)
                : allFieldNames.has(lower) || customObjects.has(lower);
            if (!known) {
                problems.push({
                    file: apex.file,
                    line: name.line,
                    column: name.column,
                    rule: 'missing-field',
                    message: `uses ${name.name}, which is no custom object, field or relationship of the package`
                });
            }
        }
        for (const ref of refs.dotted) {
            const object = knownObjectName(model, ref.type);
            if (
                !object ||
                ['sobjecttype', 'class'].includes(ref.member.toLowerCase())
            )
                continue;
            if (!matchField(model, object, ref.member)) {
                problems.push({
                    file: apex.file,
                    line: ref.line,
                    column: ref.column,
                    rule: 'missing-field',
                    message: `uses ${ref.type}.${ref.member}, which does not exist`
                });
            }
        }
        for (const ref of refs.constructed) {
            const object = knownObjectName(model, ref.type);
            if (!object) continue;
            for (const field of ref.fields) {
                if (!matchField(model, object, field)) {
                    problems.push({
                        file: apex.file,
                        line: ref.line,
                        column: ref.column,
                        rule: 'missing-field',
                        message: `new ${ref.type}(${field} = ...): ${object}.${field} does not exist`
                    });
                }
            }
        }
        const parsed = parseApex(apex.source, apex.kind);
        for (const query of parsed.soql) {
            const shape = soqlShape(query.text);
            if (typeof shape === 'string') {
                problems.push({
                    file: apex.file,
                    line: query.line,
                    column: query.column,
                    rule: 'soql',
                    message: `SOQL does not parse: ${shape}`
                });
                continue;
            }
            const object = knownObjectName(model, shape.object);
            if (!object) {
                problems.push({
                    file: apex.file,
                    line: query.line,
                    column: query.column,
                    rule: 'missing-object',
                    message: `SOQL queries ${shape.object}, which is neither in the package nor a known standard object`
                });
                continue;
            }
            for (const field of shape.fields) {
                const error = checkFieldPath(model, object, field);
                if (error)
                    problems.push({
                        file: apex.file,
                        line: query.line,
                        column: query.column,
                        rule: 'missing-field',
                        message: `SOQL on ${object}: ${error}`
                    });
            }
            for (const sub of shape.subqueries) {
                const lookup = [...model.objects.values()]
                    .flatMap((o) => [...o.fields.values()])
                    .find(
                        (f) =>
                            f.referenceTo === object &&
                            `${f.relationshipName}__r`.toLowerCase() ===
                                sub.relationship.toLowerCase()
                    );
                if (!lookup) {
                    problems.push({
                        file: apex.file,
                        line: query.line,
                        column: query.column,
                        rule: 'missing-relationship',
                        message: `SOQL on ${object}: no child relationship ${sub.relationship}`
                    });
                    continue;
                }
                for (const field of sub.fields) {
                    const error = checkFieldPath(model, lookup.object, field);
                    if (error)
                        problems.push({
                            file: apex.file,
                            line: query.line,
                            column: query.column,
                            rule: 'missing-field',
                            message: `SOQL subquery ${sub.relationship}: ${error}`
                        });
                }
            }
        }
    }
    return problems;
}

/** Page layouts: fields, related lists and their columns; never the org's standard layouts. */
export function checkLayouts(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const layout of model.layouts) {
        if (FORBIDDEN_LAYOUTS.includes(layout.name)) {
            problems.push({
                file: layout.file,
                rule: 'standard-layout',
                message: `the package must not ship ${layout.name}: deploying it overwrites the org's own layout; use a package-named layout`
            });
        }
        if (!objectExists(model, layout.object)) {
            problems.push({
                file: layout.file,
                rule: 'missing-object',
                message: `layout ${layout.name} is for ${layout.object}, which does not exist`
            });
            continue;
        }
        for (const field of layout.fields) {
            if (!fieldExists(model, layout.object, field)) {
                problems.push(
                    at(
                        layout,
                        `<field>${field}</field>`,
                        'missing-field',
                        `layout ${layout.name} shows ${layout.object}.${field}, which does not exist`
                    )
                );
            }
        }
        for (const list of layout.relatedLists) {
            if (STANDARD_RELATED_LISTS.includes(list.name)) continue;
            const [child, lookupName] = list.name.split('.');
            const lookup = model.objects
                .get(child)
                ?.fields.get(lookupName ?? '');
            if (!lookup || lookup.referenceTo !== layout.object) {
                problems.push(
                    at(
                        layout,
                        list.name,
                        'missing-relationship',
                        `layout ${layout.name} shows related list ${list.name}, which is no lookup from ${child} to ${layout.object}`
                    )
                );
                continue;
            }
            for (const column of [
                ...list.fields,
                ...(list.sortField ? [list.sortField] : [])
            ]) {
                if (column === 'NAME') continue;
                if (!fieldExists(model, child, column)) {
                    problems.push(
                        at(
                            layout,
                            column,
                            'missing-field',
                            `layout ${layout.name}: related list ${list.name} shows ${child}.${column}, which does not exist`
                        )
                    );
                }
            }
        }
    }
    return problems;
}

/** Lightning pages: object, custom components (exposed for that object), facet references. */
export function checkFlexiPages(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const page of model.flexipages.values()) {
        if (
            page.type === 'RecordPage' &&
            (!page.sobjectType || !objectExists(model, page.sobjectType))
        ) {
            problems.push(
                at(
                    page,
                    '<sobjectType>',
                    'missing-object',
                    `record page ${page.name} is for ${page.sobjectType ?? '(no object)'}, which does not exist`
                )
            );
        }
        const regionNames = new Set(page.regions.map((r) => r.name));
        for (const region of page.regions) {
            for (const component of region.components) {
                for (const key of ['body', 'tabs']) {
                    const facet = component.properties.get(key);
                    if (facet !== undefined && !regionNames.has(facet)) {
                        problems.push(
                            at(
                                page,
                                facet,
                                'missing-component',
                                `${page.name}: ${component.name} shows facet ${facet}, which the page does not define`
                            )
                        );
                    }
                }
                for (const [, value] of component.properties) {
                    const field = /^Record\.([A-Za-z0-9_]+)$/.exec(value);
                    if (
                        field &&
                        page.sobjectType &&
                        !fieldExists(model, page.sobjectType, field[1])
                    ) {
                        problems.push(
                            at(
                                page,
                                value,
                                'missing-field',
                                `${page.name} shows ${page.sobjectType}.${field[1]}, which does not exist`
                            )
                        );
                    }
                }
                if (component.name.includes(':')) continue; // a platform component
                const name = component.name.replace(/^c:/, '');
                const bundle = model.lwc.get(name);
                if (!bundle) {
                    problems.push(
                        at(
                            page,
                            component.name,
                            'missing-component',
                            `${page.name} places the component ${name}, which is not in lwc/`
                        )
                    );
                    continue;
                }
                const meta = bundle.meta;
                if (
                    !meta?.exposed ||
                    !meta.targets.includes('lightning__RecordPage')
                ) {
                    problems.push(
                        at(
                            page,
                            component.name,
                            'component-target',
                            `${page.name} places ${name}, which is not exposed for lightning__RecordPage`
                        )
                    );
                } else if (
                    page.sobjectType &&
                    meta.recordPageObjects.length > 0 &&
                    !meta.recordPageObjects.includes(page.sobjectType)
                ) {
                    problems.push(
                        at(
                            page,
                            component.name,
                            'component-target',
                            `${page.name} places ${name} on ${page.sobjectType}, which its targetConfig does not list`
                        )
                    );
                }
            }
        }
    }
    return problems;
}

/**
 * The object permissions a grant lacks although its other permissions depend on them.
 * Create and Edit need Read, Delete needs Read and Edit, View All needs Read, and
 * Modify All ("read, edit, delete, transfer… all records") needs Read, Edit, Delete and
 * View All (https://help.salesforce.com/s/articleView?id=platform.users_profiles_object_perms.htm);
 * a permission set that breaks a dependency is refused ("Permission X depends on
 * permission(s): Y").
 */
export function missingObjectDependencies(
    grant: Omit<ObjectPermissionMeta, 'object'>
): string[] {
    const needed = new Set<string>();
    if (grant.create || grant.edit || grant.delete || grant.viewAll)
        needed.add('allowRead');
    if (grant.delete) needed.add('allowEdit');
    if (grant.modifyAll)
        for (const p of [
            'allowRead',
            'allowEdit',
            'allowDelete',
            'viewAllRecords'
        ])
            needed.add(p);
    const has: Record<string, boolean> = {
        allowRead: grant.read,
        allowEdit: grant.edit,
        allowDelete: grant.delete,
        viewAllRecords: grant.viewAll
    };
    return [...needed].filter((p) => !has[p]);
}

/** Permission sets: every granted name exists; no grant a deploy would reject. */
export function checkPermissionSets(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const set of model.permissionSets.values()) {
        for (const grant of set.fieldPermissions) {
            const [object, field] = grant.field.split('.');
            if (
                !objectExists(model, object) ||
                !field ||
                !fieldExists(model, object, field)
            ) {
                problems.push(
                    at(
                        set,
                        grant.field,
                        'missing-field',
                        `${set.name} grants ${grant.field}, which does not exist`
                    )
                );
                continue;
            }
            const def = model.objects.get(object)?.fields.get(field);
            if (model.objects.get(object)?.customSettingsType) {
                problems.push(
                    at(
                        set,
                        grant.field,
                        'setting-field-grant',
                        `${set.name} grants field ${grant.field} of a custom setting; grant the setting with customSettingAccesses instead`
                    )
                );
            } else if (def?.required) {
                problems.push(
                    at(
                        set,
                        grant.field,
                        'required-field',
                        `${set.name} grants ${grant.field}, a required field, which a permission set deploy rejects`
                    )
                );
            }
            if (grant.editable && !grant.readable) {
                problems.push(
                    at(
                        set,
                        grant.field,
                        'field-permission',
                        `${set.name} makes ${grant.field} editable but not readable`
                    )
                );
            }
        }
        for (const grant of set.objectPermissions) {
            const missing = missingObjectDependencies(grant);
            if (missing.length)
                problems.push(
                    at(
                        set,
                        `<object>${grant.object}</object>`,
                        'object-permission-dependency',
                        `${set.name} grants ${grant.object} permissions without ${missing.join(', ')}, which they depend on; the deploy fails`
                    )
                );
            if (!objectExists(model, grant.object)) {
                problems.push(
                    at(
                        set,
                        grant.object,
                        'missing-object',
                        `${set.name} grants ${grant.object}, which does not exist`
                    )
                );
            }
        }
        for (const apexClass of set.classes) {
            if (
                !model.apex.some(
                    (a) => a.kind === 'class' && a.name === apexClass
                )
            ) {
                problems.push(
                    at(
                        set,
                        apexClass,
                        'missing-class',
                        `${set.name} grants the Apex class ${apexClass}, which is not in classes/`
                    )
                );
            }
        }
        for (const tab of set.tabs) {
            if (!tabExists(model, tab))
                problems.push(
                    at(
                        set,
                        tab,
                        'missing-tab',
                        `${set.name} sets the tab ${tab}, which does not exist`
                    )
                );
        }
        for (const app of set.applications) {
            if (!model.apps.has(app))
                problems.push(
                    at(
                        set,
                        app,
                        'missing-app',
                        `${set.name} shows the app ${app}, which does not exist`
                    )
                );
        }
        for (const permission of set.customPermissions) {
            if (!model.customPermissions.has(permission))
                problems.push(
                    at(
                        set,
                        permission,
                        'missing-custom-permission',
                        `${set.name} enables the custom permission ${permission}, which is not in customPermissions/`
                    )
                );
        }
        if (
            set.description &&
            set.description.length > PERMISSION_SET_DESCRIPTION_MAX
        )
            problems.push(
                at(
                    set,
                    '<description',
                    'description-too-long',
                    `${set.name}'s description has ${set.description.length} characters; a permission set allows ${PERMISSION_SET_DESCRIPTION_MAX}, so the deploy fails`
                )
            );
        for (const setting of set.customSettings) {
            if (!model.objects.get(setting)?.customSettingsType) {
                problems.push(
                    at(
                        set,
                        setting,
                        'missing-object',
                        `${set.name} grants the custom setting ${setting}, which does not exist`
                    )
                );
            }
        }
    }
    // Users of a Flow action need its class.
    const userSet = model.permissionSets.get(USER_PERMISSION_SET);
    if (userSet) {
        for (const apex of model.apex) {
            if (
                apex.kind === 'class' &&
                hasInvocableMethod(apex.source) &&
                !userSet.classes.includes(apex.name)
            ) {
                problems.push({
                    file: userSet.file,
                    rule: 'ungranted-class',
                    message: `${USER_PERMISSION_SET} does not grant the invocable class ${apex.name}`
                });
            }
        }
    }
    return problems;
}

/**
 * Every custom permission a Flow tests (`$Permission.X`, e.g. the integration user's,
 * which the example Flows exclude) is enabled by both integration permission sets, so
 * the sync's own writes never start them whichever set the admin assigned.
 */
export function checkFlowPermissionGrants(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    const tested = new Set(
        [...model.flows.values()].flatMap((flow) => flow.permissions)
    );
    for (const setName of [
        INTEGRATION_PERMISSION_SET,
        MODIFY_ALL_PERMISSION_SET
    ]) {
        const set = model.permissionSets.get(setName);
        if (!set) continue; // the integration set's absence is reported below
        for (const permission of tested) {
            if (
                model.customPermissions.has(permission) &&
                !set.customPermissions.includes(permission)
            )
                problems.push({
                    file: set.file,
                    rule: 'ungranted-custom-permission',
                    message: `${setName} does not enable ${permission}, which the example Flows exclude: the sync's own writes would start them`
                });
        }
    }
    return problems;
}

/** Every custom field (and custom setting) is granted to the integration user. */
export function checkIntegrationGrants(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    const set = model.permissionSets.get(INTEGRATION_PERMISSION_SET);
    if (!set) {
        return [
            {
                rule: 'missing-permission-set',
                message: `the package has no permission set ${INTEGRATION_PERMISSION_SET}`
            }
        ];
    }
    const readable = new Set(
        set.fieldPermissions.filter((g) => g.readable).map((g) => g.field)
    );
    for (const object of model.objects.values()) {
        if (object.customSettingsType) {
            if (!set.customSettings.includes(object.name)) {
                problems.push({
                    file: set.file,
                    rule: 'ungranted-setting',
                    message: `${INTEGRATION_PERMISSION_SET} does not grant the custom setting ${object.name} (customSettingAccesses)`
                });
            }
            continue;
        }
        for (const field of object.fields.values()) {
            if (field.required) continue; // reported by checkObjects
            if (!readable.has(`${object.name}.${field.name}`)) {
                problems.push({
                    file: field.file,
                    rule: 'ungranted-field',
                    message: `${object.name}.${field.name} is not granted in ${INTEGRATION_PERMISSION_SET}`
                });
            }
        }
        if (
            object.custom &&
            object.definition &&
            !set.objectPermissions.some(
                (g) => g.object === object.name && g.read
            )
        ) {
            problems.push({
                file: set.file,
                rule: 'ungranted-object',
                message: `${INTEGRATION_PERMISSION_SET} does not grant read access to ${object.name}`
            });
        }
    }
    return problems;
}

function tabExists(model: PackageModel, tab: string): boolean {
    if (tab.startsWith('standard-'))
        return (
            isStandardObject(tab.slice('standard-'.length)) ||
            tab === 'standard-home'
        );
    return model.tabs.has(tab);
}

/** Flows: trigger object and filters, `$Record` fields, invocable Apex and its inputs; ship inactive. */
export function checkFlows(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const flow of model.flows.values()) {
        if (flow.status === 'Active') {
            problems.push(
                at(
                    flow,
                    '<status>',
                    'active-flow',
                    `Flow ${flow.name} ships active; the package's Flows are examples and must ship as Draft`
                )
            );
        }
        if (flow.startObject) {
            if (!objectExists(model, flow.startObject)) {
                problems.push(
                    at(
                        flow,
                        flow.startObject,
                        'missing-object',
                        `Flow ${flow.name} starts on ${flow.startObject}, which does not exist`
                    )
                );
            } else {
                for (const field of [
                    ...flow.filterFields,
                    ...flow.recordFields
                ]) {
                    if (!fieldExists(model, flow.startObject, field)) {
                        problems.push(
                            at(
                                flow,
                                field,
                                'missing-field',
                                `Flow ${flow.name} uses ${flow.startObject}.${field}, which does not exist`
                            )
                        );
                    }
                }
            }
        }
        for (const permission of new Set(flow.permissions)) {
            if (!model.customPermissions.has(permission))
                problems.push(
                    at(
                        flow,
                        `$Permission.${permission}`,
                        'missing-custom-permission',
                        `Flow ${flow.name} tests $Permission.${permission}, which is not in customPermissions/`
                    )
                );
        }
        for (const call of flow.actionCalls) {
            if (call.actionType !== 'apex') continue;
            const apex = model.apex.find(
                (a) => a.kind === 'class' && a.name === call.actionName
            );
            if (!apex || !hasInvocableMethod(apex.source)) {
                problems.push(
                    at(
                        flow,
                        call.actionName ?? call.name,
                        'missing-class',
                        `Flow ${flow.name} calls the Apex action ${call.actionName}, which is no class with an @InvocableMethod`
                    )
                );
                continue;
            }
            const variables = invocableVariables(apex.source);
            for (const input of call.inputs) {
                if (!variables.some((v) => v.name === input)) {
                    problems.push(
                        at(
                            flow,
                            `<name>${input}</name>`,
                            'missing-input',
                            `Flow ${flow.name} passes ${input} to ${apex.name}, which has no @InvocableVariable of that name`
                        )
                    );
                }
            }
            for (const variable of variables.filter((v) => v.required)) {
                if (!call.inputs.includes(variable.name)) {
                    problems.push(
                        at(
                            flow,
                            call.name,
                            'missing-input',
                            `Flow ${flow.name} does not pass the required input ${variable.name} to ${apex.name}`
                        )
                    );
                }
            }
        }
    }
    return problems;
}

/** Apps: tabs and record-page overrides (page exists, is a record page of that object). */
export function checkApps(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const app of model.apps.values()) {
        for (const tab of app.tabs) {
            if (!tabExists(model, tab))
                problems.push(
                    at(
                        app,
                        `<tabs>${tab}</tabs>`,
                        'missing-tab',
                        `app ${app.name} shows the tab ${tab}, which does not exist`
                    )
                );
        }
        for (const override of app.overrides) {
            if (override.type !== 'Flexipage') continue;
            const page = model.flexipages.get(override.content ?? '');
            if (!page) {
                problems.push(
                    at(
                        app,
                        override.content ?? '<content>',
                        'missing-component',
                        `app ${app.name} opens ${override.pageOrSobjectType} on ${override.content}, which is not in flexipages/`
                    )
                );
            } else if (
                page.type !== 'RecordPage' ||
                page.sobjectType !== override.pageOrSobjectType
            ) {
                problems.push(
                    at(
                        app,
                        page.name,
                        'override-mismatch',
                        `app ${app.name} uses ${page.name} (${page.type} of ${page.sobjectType}) for ${override.pageOrSobjectType}`
                    )
                );
            }
        }
    }
    return problems;
}

/** Every custom label is translated into every language, with the same placeholders. */
export function checkLabels(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const language of LANGUAGES) {
        const translation = model.translations.get(language);
        if (!translation) {
            if (model.labels.size > 0) {
                problems.push({
                    rule: 'missing-translation',
                    message: `no translations/${language}.translation-meta.xml for the ${model.labels.size} custom labels`
                });
            }
            continue;
        }
        for (const label of model.labels.values()) {
            const translated = translation.labels.get(label.name);
            if (translated === undefined || translated.trim() === '') {
                problems.push({
                    file: translation.file,
                    rule: 'missing-translation',
                    message: `custom label ${label.name} has no ${language} translation`
                });
                continue;
            }
            const placeholders = (value: string): string =>
                [...new Set(value.match(/\{\d+\}/g) ?? [])].sort().join(' ');
            if (placeholders(label.value) !== placeholders(translated)) {
                problems.push(
                    at(
                        translation,
                        label.name,
                        'translation-placeholders',
                        `${language} translation of ${label.name} has placeholders '${placeholders(translated)}', the label has '${placeholders(label.value)}'`
                    )
                );
            }
        }
        for (const name of translation.labels.keys()) {
            if (!model.labels.has(name)) {
                problems.push(
                    at(
                        translation,
                        name,
                        'missing-label',
                        `${language} translates ${name}, which is not a custom label`
                    )
                );
            }
        }
    }
    return problems;
}

/**
 * Every custom field (label, help text, relationship label, picklist values) of the
 * package's objects, and each custom object's name, is translated into every language;
 * translations name only things that exist. Custom settings are left out: they are
 * Setup-only and the Translation Workbench does not translate them.
 */
export function checkObjectTranslations(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    const translatable = (f: FieldDef): boolean =>
        !model.objects.get(f.object)?.customSettingsType;
    for (const object of model.objects.values()) {
        if (object.customSettingsType) continue;
        for (const language of LANGUAGES) {
            const key = `${object.name}-${language}`;
            const translation = model.objectTranslations.get(key);
            if (object.fields.size === 0 && !object.custom) continue;
            if (!translation) {
                problems.push({
                    rule: 'missing-translation',
                    message: `no objectTranslations/${key} for ${object.name}`
                });
                continue;
            }
            if (
                object.custom &&
                object.definition &&
                translation.caseValues.every((v) => v.trim() === '')
            ) {
                problems.push({
                    file: translation.definition?.file,
                    rule: 'missing-translation',
                    message: `${object.name} has no ${language} name (caseValues)`
                });
            }
            for (const field of [...object.fields.values()].filter(
                translatable
            )) {
                const t = translation.fields.get(field.name);
                const where = `${object.name}.${field.name} (${language})`;
                if (!t || !t.label?.trim()) {
                    problems.push({
                        file: t?.file ?? field.file,
                        rule: 'missing-translation',
                        message: `${where} has no translated label`
                    });
                    continue;
                }
                if (field.help && !t.help?.trim()) {
                    problems.push({
                        file: t.file,
                        rule: 'missing-translation',
                        message: `${where} has no translated help text`
                    });
                }
                if (field.relationshipLabel && !t.relationshipLabel?.trim()) {
                    problems.push({
                        file: t.file,
                        rule: 'missing-translation',
                        message: `${where} has no translated relationship label`
                    });
                }
                // Translations are keyed by the value's label (masterLabel), which
                // is not its API name when the two differ (Source__c Platform).
                for (const value of field.picklistValues) {
                    if (!t.picklistValues.get(value.label)?.trim()) {
                        const keyedByName =
                            value.name !== value.label &&
                            t.picklistValues.has(value.name);
                        problems.push(
                            keyedByName
                                ? at(
                                      t,
                                      `<masterLabel>${value.name}</masterLabel>`,
                                      'missing-translation',
                                      `${where}: picklist value ${value.name} is translated under its API name; masterLabel must be its label "${value.label}"`
                                  )
                                : {
                                      file: t.file,
                                      rule: 'missing-translation',
                                      message: `${where}: picklist value ${value.name}${value.label === value.name ? '' : ` ("${value.label}")`} is not translated`
                                  }
                        );
                    }
                }
                for (const master of t.picklistValues.keys()) {
                    if (
                        !field.picklistValues.some(
                            (v) => v.label === master || v.name === master
                        )
                    ) {
                        problems.push(
                            at(
                                t,
                                master,
                                'stale-translation',
                                `${where} translates picklist value ${master}, which the field does not have`
                            )
                        );
                    }
                }
            }
        }
    }
    for (const translation of model.objectTranslations.values()) {
        const object = model.objects.get(translation.object);
        for (const field of translation.fields.values()) {
            if (!object?.fields.has(field.name)) {
                problems.push({
                    file: field.file,
                    rule: 'stale-translation',
                    message: `translation of ${translation.object}.${field.name} (${translation.language}): the field is not in the package`
                });
            }
        }
        for (const rule of translation.validationRules) {
            if (!object?.validationRules.has(rule) && translation.definition) {
                problems.push(
                    at(
                        translation.definition,
                        rule,
                        'stale-translation',
                        `${translation.object}-${translation.language} translates validation rule ${rule}, which does not exist`
                    )
                );
            }
        }
        for (const layout of translation.layouts) {
            const def = model.layouts.find(
                (l) =>
                    l.object === translation.object &&
                    l.layoutName === layout.layout
            );
            if (!def) {
                if (translation.definition)
                    problems.push(
                        at(
                            translation.definition,
                            layout.layout,
                            'stale-translation',
                            `${translation.object}-${translation.language} translates layout ${layout.layout}, which is not in layouts/`
                        )
                    );
                continue;
            }
            for (const section of layout.sections) {
                if (!def.sections.some((s) => s.label === section)) {
                    if (translation.definition)
                        problems.push(
                            at(
                                translation.definition,
                                section,
                                'stale-translation',
                                `${translation.object}-${translation.language} translates section ${section}, which layout ${def.name} does not have`
                            )
                        );
                }
            }
        }
        if (object) {
            for (const layout of model.layouts.filter(
                (l) => l.object === translation.object
            )) {
                for (const section of layout.sections.filter((s) => s.custom)) {
                    const translated = translation.layouts.some(
                        (l) =>
                            l.layout === layout.layoutName &&
                            l.sections.includes(section.label)
                    );
                    if (!translated) {
                        problems.push({
                            file: translation.definition?.file ?? layout.file,
                            rule: 'missing-translation',
                            message: `section ${section.label} of layout ${layout.name} has no ${translation.language} translation`
                        });
                    }
                }
            }
        }
    }
    return problems;
}

/** Lead conversion mapping: both fields exist, with the same type. */
export function checkLeadConvert(model: PackageModel): Problem[] {
    const problems: Problem[] = [];
    for (const settings of model.leadConvert) {
        for (const mapping of settings.mappings) {
            const input = model.objects
                .get('Lead')
                ?.fields.get(mapping.inputField);
            const output = model.objects
                .get(mapping.outputObject)
                ?.fields.get(mapping.outputField);
            if (!input) {
                problems.push(
                    at(
                        settings,
                        mapping.inputField,
                        'missing-field',
                        `lead conversion maps Lead.${mapping.inputField}, which is not a custom field of the package`
                    )
                );
            }
            if (!output) {
                problems.push(
                    at(
                        settings,
                        mapping.outputField,
                        'missing-field',
                        `lead conversion maps to ${mapping.outputObject}.${mapping.outputField}, which is not a custom field of the package`
                    )
                );
            }
            if (input && output && input.type !== output.type) {
                problems.push(
                    at(
                        settings,
                        mapping.outputField,
                        'mapping-type',
                        `lead conversion maps a ${input.type} to a ${output.type}`
                    )
                );
            }
        }
    }
    return problems;
}
