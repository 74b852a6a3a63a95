/*
 * @salesforce/apex for Jest. The component imports only refreshApex (to re-read
 * its Lightning Data Service wires); a jest.fn() lets tests assert the re-read.
 */
export const refreshApex = jest.fn().mockResolvedValue();

export const getSObjectValue = jest.fn(
    (record, field) => record[field.fieldApiName]
);
