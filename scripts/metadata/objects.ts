/**
 * Custom objects, custom fields and validation rules as typed definitions. The same
 * readers serve both source formats: SFDX source (one `.field-meta.xml` per field) and
 * Metadata API format (a `.object` file with its fields and rules inline, as a deploy
 * zip carries them).
 */
import { XmlElement, children, flag, numberOf, text, texts } from './xml';

/** One value of an inline picklist. */
export interface PicklistValueMeta {
    /** API name (`fullName`). */
    name: string;
    /** The label, or the API name when the file gives none. */
    label: string;
    /** `isActive`; a value is active unless it says otherwise. */
    active: boolean;
    default: boolean;
}

/** A custom field's metadata (`CustomField`), as the file says it. */
export interface CustomFieldMeta {
    /** `fullName`: the field's API name in SFDX source and in a `.object` file ('' when missing). */
    name: string;
    /** Metadata type (Checkbox, Text, Picklist, Lookup, …; '' when missing). */
    type: string;
    label?: string;
    description?: string;
    /** `inlineHelpText`. */
    help?: string;
    required: boolean;
    unique: boolean;
    externalId: boolean;
    caseSensitive: boolean;
    length?: number;
    precision?: number;
    scale?: number;
    /** The default value formula's text, untouched (`"x"`, `true`, `TODAY()`). */
    defaultValue?: string;
    formula?: string;
    /** Auto-number `displayFormat`. */
    displayFormat?: string;
    referenceTo?: string;
    relationshipName?: string;
    relationshipLabel?: string;
    deleteConstraint?: string;
    reparentableMasterDetail: boolean;
    /** The inline picklist values (`valueSet/valueSetDefinition/value`), in file order. */
    picklistValues: PicklistValueMeta[];
    /** Present when the field has a `valueSet`. */
    valueSet?: {
        /** False when the value set names a global value set instead of listing values. */
        inline: boolean;
        valueSetName?: string;
        restricted: boolean;
    };
}

export interface ValidationRuleMeta {
    /** `fullName` ('' when missing). */
    name: string;
    /** A rule is active unless it says otherwise. */
    active: boolean;
    errorConditionFormula?: string;
    errorMessage?: string;
    errorDisplayField?: string;
}

/** A custom object's own metadata (`CustomObject`), with what a `.object` file inlines. */
export interface CustomObjectMeta {
    label?: string;
    pluralLabel?: string;
    description?: string;
    /** `Hierarchy` or `List` for a custom setting (as written; not checked here). */
    customSettingsType?: string;
    nameField?: { type?: string; label?: string; displayFormat?: string };
    compactLayoutAssignment?: string;
    /** Every `…AdditionalFields` of `searchLayouts`. */
    searchLayoutFields: string[];
    /** Fields inline in the object file (Metadata API format; none in SFDX source). */
    fields: CustomFieldMeta[];
    /** Validation rules inline in the object file (Metadata API format). */
    validationRules: ValidationRuleMeta[];
}

/** Reads a `CustomField` element (the root of a field file, or a `fields` of an object). */
export function readCustomField(element: XmlElement): CustomFieldMeta {
    const valueSet = children(element, 'valueSet')[0];
    const definition = children(valueSet, 'valueSetDefinition')[0];
    return {
        name: text(element, 'fullName') ?? '',
        type: text(element, 'type') ?? '',
        label: text(element, 'label'),
        description: text(element, 'description'),
        help: text(element, 'inlineHelpText'),
        required: flag(element, 'required') === true,
        unique: flag(element, 'unique') === true,
        externalId: flag(element, 'externalId') === true,
        caseSensitive: flag(element, 'caseSensitive') === true,
        length: numberOf(element, 'length'),
        precision: numberOf(element, 'precision'),
        scale: numberOf(element, 'scale'),
        defaultValue: text(element, 'defaultValue'),
        formula: text(element, 'formula'),
        displayFormat: text(element, 'displayFormat'),
        referenceTo: text(element, 'referenceTo'),
        relationshipName: text(element, 'relationshipName'),
        relationshipLabel: text(element, 'relationshipLabel'),
        deleteConstraint: text(element, 'deleteConstraint'),
        reparentableMasterDetail:
            flag(element, 'reparentableMasterDetail') === true,
        picklistValues: children(definition, 'value').map((value) => {
            const name = text(value, 'fullName') ?? '';
            return {
                name,
                label: text(value, 'label') ?? name,
                active: flag(value, 'isActive') !== false,
                default: flag(value, 'default') === true
            };
        }),
        ...(valueSet
            ? {
                  valueSet: {
                      inline: definition !== undefined,
                      valueSetName: text(valueSet, 'valueSetName'),
                      restricted: flag(valueSet, 'restricted') === true
                  }
              }
            : {})
    };
}

/** Reads a `ValidationRule` element (a rule file's root, or a `validationRules` of an object). */
export function readValidationRule(element: XmlElement): ValidationRuleMeta {
    return {
        name: text(element, 'fullName') ?? '',
        active: flag(element, 'active') !== false,
        errorConditionFormula: text(element, 'errorConditionFormula'),
        errorMessage: text(element, 'errorMessage'),
        errorDisplayField: text(element, 'errorDisplayField')
    };
}

/** Reads a `CustomObject` root element. */
export function readCustomObject(root: XmlElement): CustomObjectMeta {
    const nameField = children(root, 'nameField')[0];
    const search = children(root, 'searchLayouts')[0];
    const searchLayoutFields: string[] = [];
    for (const key of Object.keys(search ?? {})) {
        if (key.endsWith('AdditionalFields'))
            searchLayoutFields.push(...texts(search, key));
    }
    return {
        label: text(root, 'label'),
        pluralLabel: text(root, 'pluralLabel'),
        description: text(root, 'description'),
        customSettingsType: text(root, 'customSettingsType'),
        ...(nameField
            ? {
                  nameField: {
                      type: text(nameField, 'type'),
                      label: text(nameField, 'label'),
                      displayFormat: text(nameField, 'displayFormat')
                  }
              }
            : {}),
        compactLayoutAssignment: text(root, 'compactLayoutAssignment'),
        searchLayoutFields,
        fields: children(root, 'fields').map(readCustomField),
        validationRules: children(root, 'validationRules').map(
            readValidationRule
        )
    };
}
