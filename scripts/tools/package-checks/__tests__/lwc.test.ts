import { lwcReferences } from '../lwc';

describe('lwcReferences', () => {
    const source = [
        "import STATUS from '@salesforce/schema/Audience_Membership__c.Status__c';",
        "import CONTACT from '@salesforce/schema/Contact';",
        "import title from '@salesforce/label/c.Audience_Subscriptions_Title';",
        'const fields = [\'Audience_Membership__c.Source__c\', "Contact.Account.Name"];',
        'const relatedListId = `Audience_Memberships__r`;',
        "const notAField = 'event.detail.value';"
    ].join('\n');
    const refs = lwcReferences(source);

    it('reads schema and label imports with their lines', () => {
        expect(refs.schema).toEqual([
            {
                object: 'Audience_Membership__c',
                fieldPath: 'Status__c',
                line: 1
            },
            { object: 'Contact', fieldPath: undefined, line: 2 }
        ]);
        expect(refs.labels).toEqual([
            { name: 'Audience_Subscriptions_Title', line: 3 }
        ]);
    });

    it('reads field and relationship strings', () => {
        expect(
            refs.fieldStrings.map((f) => `${f.object}.${f.fieldPath}`)
        ).toEqual([
            'Audience_Membership__c.Source__c',
            'Contact.Account.Name',
            'event.detail.value'
        ]);
        expect(refs.relationships).toEqual([
            { name: 'Audience_Memberships__r', line: 5 }
        ]);
    });
});
