/**
 * The package checks accept exactly the standard fields of metadata/standard-fields.ts,
 * the one list the schema generator also types its standard fields from: a name added
 * there is accepted here, with no second list to keep in step.
 */
import { readPackage } from '../../../metadata/package';
import {
    STANDARD_OBJECT_FIELDS,
    StandardField
} from '../../../metadata/standard-fields';
import { PROJECT_ROOT } from '../../../model/project';
import { PackageModel, fieldExists, matchField } from '../model';

function model(): PackageModel {
    return { ...readPackage(PROJECT_ROOT, ['force-app']), problems: [] };
}

describe('standard fields in the package checks', () => {
    it('accepts every listed standard field and no other', () => {
        const m = model();
        for (const [object, fields] of Object.entries(STANDARD_OBJECT_FIELDS)) {
            for (const f of fields)
                expect(fieldExists(m, object, f.name)).toBe(true);
        }
        expect(fieldExists(m, 'Contact', 'Salutation')).toBe(false);
        expect(matchField(m, 'Lead', 'isconverted')).toBe('IsConverted');
        // Custom objects and settings get their system fields from the same module.
        expect(fieldExists(m, 'Audience_Membership__c', 'OwnerId')).toBe(true);
        expect(fieldExists(m, 'Opt_Out_Sync_Settings__c', 'SetupOwnerId')).toBe(
            true
        );
        expect(fieldExists(m, 'Opt_Out_Sync_Settings__c', 'OwnerId')).toBe(
            false
        );
    });

    it('reads the list itself, not a copy of it', () => {
        const contact = STANDARD_OBJECT_FIELDS.Contact as StandardField[];
        const m = model();
        expect(fieldExists(m, 'Contact', 'Salutation')).toBe(false);
        contact.push({ name: 'Salutation', type: 'picklist', nillable: true });
        try {
            expect(fieldExists(m, 'Contact', 'Salutation')).toBe(true);
        } finally {
            contact.pop();
        }
    });
});
