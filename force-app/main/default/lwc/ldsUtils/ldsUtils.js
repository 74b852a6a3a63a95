/**
 * Helpers for Lightning Data Service results, shared by the package's components.
 */

/** Collects the messages of a { field: [{ message }] } map. */
function fieldErrorMessages(fieldErrors) {
    return Object.values(fieldErrors).flatMap((errors) =>
        errors.map((e) => e.message)
    );
}

/** Messages of one error, whatever shape LDS, UI API, Apex or JS gave it. */
function messagesOf(error) {
    const body = error.body;
    // UI API read errors: an array of { errorCode, message }
    if (Array.isArray(body)) {
        return body.map((e) => e.message);
    }
    // Record save (DML) errors: page level, then field level
    if (body?.pageErrors?.length > 0) {
        return body.pageErrors.map((e) => e.message);
    }
    if (body?.fieldErrors && Object.keys(body.fieldErrors).length > 0) {
        return fieldErrorMessages(body.fieldErrors);
    }
    // UI API write errors (updateRecord, createRecord): page level, then field level
    if (body?.output?.errors?.length > 0) {
        return body.output.errors.map((e) => e.message);
    }
    if (
        body?.output?.fieldErrors &&
        Object.keys(body.output.fieldErrors).length > 0
    ) {
        return fieldErrorMessages(body.output.fieldErrors);
    }
    // UI API, Apex and network errors with one message
    if (typeof body?.message === 'string') {
        return [body.message];
    }
    // JavaScript errors
    if (typeof error.message === 'string') {
        return [error.message];
    }
    // Unknown shape: the HTTP status text, if any
    return [error.statusText];
}

/**
 * Reduces one or more LDS errors into an array of readable messages
 * (as trailheadapps/lwc-recipes' ldsUtils). Empty and duplicate messages are dropped.
 * @param {FetchResponse|FetchResponse[]|Error|Error[]} errors
 * @return {String[]} messages
 */
export function reduceErrors(errors) {
    const list = Array.isArray(errors) ? errors : [errors];
    const messages = list
        .filter((error) => !!error)
        .flatMap(messagesOf)
        .filter((message) => typeof message === 'string' && message !== '');
    return [...new Set(messages)];
}
