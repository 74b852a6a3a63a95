import { reduceErrors } from 'c/ldsUtils';

describe('c-lds-utils reduceErrors', () => {
    it('reads the message of a UI API / Apex / network error body', () => {
        expect(reduceErrors({ body: { message: 'Record not found' } })).toEqual(
            ['Record not found']
        );
    });

    it('reads every message of a UI API read error array', () => {
        const error = {
            body: [
                { errorCode: 'INVALID_FIELD', message: 'No such column A' },
                { errorCode: 'INVALID_FIELD', message: 'No such column B' }
            ]
        };
        expect(reduceErrors(error)).toEqual([
            'No such column A',
            'No such column B'
        ]);
    });

    it('reads page level and field level save errors', () => {
        expect(
            reduceErrors({ body: { pageErrors: [{ message: 'Locked' }] } })
        ).toEqual(['Locked']);
        expect(
            reduceErrors({
                body: {
                    fieldErrors: {
                        Status__c: [{ message: 'Bad value' }],
                        Source__c: [{ message: 'Required' }]
                    }
                }
            })
        ).toEqual(['Bad value', 'Required']);
    });

    it('reads page level and field level UI API write errors', () => {
        expect(
            reduceErrors({
                body: {
                    message:
                        'An error occurred while trying to update the record.',
                    output: { errors: [{ message: 'Insufficient access' }] }
                }
            })
        ).toEqual(['Insufficient access']);
        expect(
            reduceErrors({
                body: {
                    output: {
                        errors: [],
                        fieldErrors: {
                            Status__c: [{ message: 'Status is restricted' }]
                        }
                    }
                }
            })
        ).toEqual(['Status is restricted']);
    });

    it('reads JavaScript errors and falls back to the status text', () => {
        expect(reduceErrors(new TypeError('x is undefined'))).toEqual([
            'x is undefined'
        ]);
        expect(
            reduceErrors({ status: 503, statusText: 'Unavailable' })
        ).toEqual(['Unavailable']);
    });

    it('flattens a list, drops empty entries and duplicate messages', () => {
        expect(
            reduceErrors([
                null,
                { body: { message: 'Same' } },
                undefined,
                { body: { message: 'Same' } },
                { statusText: '' },
                { message: 'Other' }
            ])
        ).toEqual(['Same', 'Other']);
        expect(reduceErrors(undefined)).toEqual([]);
    });
});
