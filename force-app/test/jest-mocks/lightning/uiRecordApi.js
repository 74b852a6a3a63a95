/*
 * lightning/uiRecordApi for Jest, as in trailheadapps/lwc-recipes and the
 * sfdx-lwc-jest default stub: wire adapters that tests drive with emit()/error(),
 * and jest.fn() record functions whose calls tests assert.
 */
import { createLdsTestWireAdapter } from '@salesforce/wire-service-jest-util';

export const getRecord = createLdsTestWireAdapter(jest.fn());
export const getRecords = createLdsTestWireAdapter(jest.fn());
export const getRecordCreateDefaults = createLdsTestWireAdapter(jest.fn());
export const getRecordUi = createLdsTestWireAdapter(jest.fn());
export const updateRecord = jest.fn().mockResolvedValue({});
export const createRecord = jest.fn().mockResolvedValue({});
export const deleteRecord = jest.fn().mockResolvedValue();
export const notifyRecordUpdateAvailable = jest.fn().mockResolvedValue();
export const generateRecordInputForCreate = jest.fn();
export const generateRecordInputForUpdate = jest.fn();
export const createRecordInputFilteredByEditedFields = jest.fn();
export const getRecordInput = jest.fn();

/**
 * Returns the qualified API name ('Contact.HasOptedOutOfEmail') of a field given as
 * a string or as a schema import ({ objectApiName, fieldApiName }).
 */
function qualifiedName(field) {
    if (typeof field === 'string') {
        return field;
    }
    if (
        field &&
        typeof field.objectApiName === 'string' &&
        typeof field.fieldApiName === 'string'
    ) {
        return `${field.objectApiName}.${field.fieldApiName}`;
    }
    throw new TypeError('Value is not a string or FieldId.');
}

/** Field path below the object: 'Contact.Account.Name' -> ['Account', 'Name']. */
function fieldPath(field) {
    const name = qualifiedName(field);
    const dot = name.indexOf('.');
    if (dot < 1) {
        throw new TypeError('Value does not include an object API name.');
    }
    return name.substring(dot + 1).split('.');
}

/** Like the platform: the value, a nested record for spanning fields, or undefined. */
export const getFieldValue = jest.fn((record, field) => {
    const path = fieldPath(field);
    let current = record;
    while (path.length > 0 && current && current.fields) {
        const entry = current.fields[path.shift()];
        if (entry === undefined) {
            return undefined;
        }
        current = entry.value;
    }
    return current;
});

/** Like the platform: the display value of the field, or undefined. */
export const getFieldDisplayValue = jest.fn((record, field) => {
    const path = fieldPath(field);
    let current = record;
    while (current && current.fields) {
        const entry = current.fields[path.shift()];
        if (entry === undefined) {
            return undefined;
        }
        if (path.length === 0) {
            return entry.displayValue;
        }
        current = entry.value;
    }
    return undefined;
});
