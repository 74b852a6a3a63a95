/**
 * Describe results in the REST shape: global describe (`/sobjects`), basic info
 * (`/sobjects/{Type}`) and full describe (`/sobjects/{Type}/describe`).
 */
import type { FieldDef, ObjectDef } from './schema';
import { soapType } from './schema';

export interface SchemaView {
    listObjects(): ObjectDef[];
}

function urls(obj: ObjectDef, v: string): Record<string, string> {
    const base = `/services/data/v${v}/sobjects/${obj.name}`;
    return {
        compactLayouts: `${base}/describe/compactLayouts`,
        rowTemplate: `${base}/{ID}`,
        defaultValues: `${base}/defaultValues?recordTypeId&fields`,
        describe: `${base}/describe`,
        sobject: base
    };
}

/** The summary of an object as global describe lists it. */
export function objectSummary(
    obj: ObjectDef,
    v: string
): Record<string, unknown> {
    return {
        activateable: false,
        associateEntityType: null,
        associateParentEntity: null,
        createable: obj.createable,
        custom: obj.custom,
        customSetting: obj.customSetting !== undefined,
        deepCloneable: false,
        deletable: obj.deletable,
        deprecatedAndHidden: false,
        feedEnabled: false,
        hasSubtypes: false,
        isInterface: false,
        isSubtype: false,
        keyPrefix: obj.keyPrefix,
        label: obj.label,
        labelPlural: obj.labelPlural,
        layoutable: !obj.customSetting && obj.createable,
        mergeable:
            obj.name === 'Contact' ||
            obj.name === 'Lead' ||
            obj.name === 'Account',
        mruEnabled: !obj.customSetting,
        name: obj.name,
        queryable: obj.queryable,
        replicateable: true,
        retrieveable: true,
        searchable: !obj.customSetting,
        triggerable: true,
        undeletable: obj.deletable,
        updateable: obj.updateable,
        urls: urls(obj, v)
    };
}

export function globalDescribe(
    schema: SchemaView,
    v: string
): Record<string, unknown> {
    return {
        encoding: 'UTF-8',
        maxBatchSize: 200,
        sobjects: schema.listObjects().map((o) => objectSummary(o, v))
    };
}

function fieldDescribe(field: FieldDef): Record<string, unknown> {
    const isText = [
        'string',
        'textarea',
        'email',
        'phone',
        'url',
        'picklist',
        'multipicklist',
        'id',
        'reference'
    ].includes(field.type);
    const length =
        field.type === 'id' || field.type === 'reference'
            ? 18
            : isText
              ? (field.length ?? 255)
              : 0;
    const defaultedOnCreate =
        field.system === true ||
        field.type === 'boolean' ||
        field.name === 'OwnerId' ||
        field.autoNumberFormat !== undefined ||
        (field.defaultValue !== undefined && field.defaultValue !== null);
    return {
        aggregatable: field.type !== 'textarea',
        aiPredictionField: false,
        autoNumber: field.autoNumberFormat !== undefined,
        byteLength: length * 3,
        calculated: field.calculated === true,
        calculatedFormula: null,
        cascadeDelete: field.deleteConstraint === 'Cascade',
        caseSensitive: field.caseSensitive === true,
        compoundFieldName: null,
        controllerName: null,
        createable: field.createable,
        custom: field.custom,
        defaultValue:
            field.defaultValue === undefined || field.type === 'reference'
                ? null
                : field.defaultValue,
        defaultValueFormula: null,
        defaultedOnCreate,
        dependentPicklist: false,
        deprecatedAndHidden: false,
        digits: field.type === 'int' ? (field.precision ?? 9) : 0,
        displayLocationInDecimal: false,
        encrypted: false,
        externalId: field.externalId === true,
        extraTypeInfo: null,
        filterable: field.type !== 'textarea' || (field.length ?? 0) <= 255,
        filteredLookupInfo: null,
        groupable: ![
            'textarea',
            'double',
            'currency',
            'percent',
            'datetime'
        ].includes(field.type),
        highScaleNumber: false,
        htmlFormatted: false,
        idLookup:
            field.name === 'Id' ||
            field.externalId === true ||
            (field.unique === true && field.type !== 'reference'),
        inlineHelpText: field.inlineHelpText ?? null,
        label: field.label,
        length,
        mask: null,
        maskType: null,
        name: field.name,
        nameField: field.nameField === true,
        namePointing: false,
        nillable: field.nillable && field.type !== 'boolean',
        permissionable: field.custom && field.nillable,
        picklistValues: (field.picklistValues ?? []).map((p) => ({
            active: p.active,
            defaultValue: p.defaultValue,
            label: p.label,
            validFor: null,
            value: p.value
        })),
        polymorphicForeignKey: (field.referenceTo?.length ?? 0) > 1,
        precision: field.precision ?? 0,
        queryByDistance: false,
        referenceTargetField: null,
        referenceTo: field.referenceTo ?? [],
        relationshipName: field.relationshipName ?? null,
        relationshipOrder: null,
        restrictedDelete: field.deleteConstraint === 'Restrict',
        restrictedPicklist: field.restrictedPicklist === true,
        scale: field.scale ?? 0,
        searchPrefilterable: false,
        soapType: soapType(field.type),
        sortable: field.type !== 'textarea',
        type: field.type,
        unique: field.unique === true,
        updateable: field.updateable,
        writeRequiresMasterRead: false
    };
}

/** Full describe of one object, with child relationships from every object's lookups. */
export function describeObject(
    schema: SchemaView,
    obj: ObjectDef,
    v: string
): Record<string, unknown> {
    const childRelationships: Array<Record<string, unknown>> = [];
    for (const child of schema.listObjects()) {
        for (const field of child.fields) {
            if (
                field.type === 'reference' &&
                field.referenceTo?.some(
                    (r) => r.toLowerCase() === obj.name.toLowerCase()
                ) &&
                !field.system
            ) {
                childRelationships.push({
                    cascadeDelete: field.deleteConstraint === 'Cascade',
                    childSObject: child.name,
                    deprecatedAndHidden: false,
                    field: field.name,
                    junctionIdListNames: [],
                    junctionReferenceTo: [],
                    relationshipName: field.childRelationshipName ?? null,
                    restrictedDelete: field.deleteConstraint === 'Restrict'
                });
            }
        }
    }
    return {
        ...objectSummary(obj, v),
        actionOverrides: [],
        childRelationships,
        compactLayoutable: !obj.customSetting,
        defaultImplementation: null,
        extendedBy: null,
        extendsInterfaces: null,
        fields: obj.fields.map(fieldDescribe),
        implementedBy: null,
        implementsInterfaces: null,
        listviewable: null,
        lookupLayoutable: null,
        namedLayoutInfos: [],
        networkScopeFieldName: null,
        recordTypeInfos: obj.customSetting
            ? []
            : [
                  {
                      active: true,
                      available: true,
                      defaultRecordTypeMapping: true,
                      developerName: 'Master',
                      master: true,
                      name: 'Master',
                      recordTypeId: '012000000000000AAA',
                      urls: {
                          layout: `/services/data/v${v}/sobjects/${obj.name}/describe/layouts/012000000000000AAA`
                      }
                  }
              ],
        searchLayoutable: !obj.customSetting,
        supportedScopes: [
            {
                label: 'All ' + obj.labelPlural.toLowerCase(),
                name: 'everything'
            },
            { label: 'My ' + obj.labelPlural.toLowerCase(), name: 'mine' }
        ],
        urls: {
            ...urls(obj, v),
            uiDetailTemplate: null,
            uiEditTemplate: null,
            uiNewRecord: null
        }
    };
}
