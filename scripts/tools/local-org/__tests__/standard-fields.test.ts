/**
 * The local org simulates an org's Contact and Lead (schema.ts, with describe's labels,
 * lengths and picklists); the standard fields the package and the sync may refer to are
 * listed once, in metadata/standard-fields.ts. The two must agree wherever both know a
 * field, or a package the checks accept would behave differently here than in an org.
 */
import {
    STANDARD_OBJECT_FIELDS,
    type StandardField
} from '../../../metadata/standard-fields';
import { standardObjects } from '../schema';

/** Listed fields the local org does not simulate (see KNOWN-DIFFERENCES.md). */
const NOT_SIMULATED: Record<string, string[]> = {
    Contact: ['MobilePhone', 'ReportsToId', 'MailingAddress', 'Description'],
    Lead: ['MobilePhone', 'Address', 'Description']
};

describe('the local org and the one list of standard fields', () => {
    const local = new Map(standardObjects().map((o) => [o.name, o]));

    it.each(['Contact', 'Lead'])(
        '%s: every listed field has the same type and nillability here',
        (objectName) => {
            const object = local.get(objectName);
            const listed: readonly StandardField[] =
                STANDARD_OBJECT_FIELDS[objectName];
            const missing: string[] = [];
            for (const field of listed) {
                const here = object?.fields.find((f) => f.name === field.name);
                if (!here) {
                    missing.push(field.name);
                    continue;
                }
                expect({
                    name: here.name,
                    type: here.type,
                    nillable: here.nillable
                }).toEqual(field);
            }
            expect(missing).toEqual(NOT_SIMULATED[objectName]);
        }
    );
});
