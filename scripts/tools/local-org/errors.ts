/**
 * Request-level errors of the local org, answered with Salesforce's body shape:
 * `[{"message":"…","errorCode":"…","fields":[…]}]` and the matching HTTP status.
 */
export class ApiError extends Error {
    constructor(
        readonly status: number,
        readonly errorCode: string,
        message: string,
        readonly fields?: string[]
    ) {
        super(message);
    }

    body(): Array<{ message: string; errorCode: string; fields?: string[] }> {
        return [
            {
                message: this.message,
                errorCode: this.errorCode,
                ...(this.fields ? { fields: this.fields } : {})
            }
        ];
    }
}

export const notFound = (): ApiError =>
    new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');

/** SOQL's answer for an object the org does not have. */
export function unsupportedSObject(name: string): ApiError {
    return new ApiError(
        400,
        'INVALID_TYPE',
        `sObject type '${name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`
    );
}

export function malformedQuery(message: string): ApiError {
    return new ApiError(400, 'MALFORMED_QUERY', message);
}
