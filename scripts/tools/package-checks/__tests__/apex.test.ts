import {
    apexReferences,
    invocableVariables,
    hasInvocableMethod,
    parseApex,
    profileNameFilters,
    soqlShape
} from '../apex';

describe('parseApex', () => {
    it('accepts user-mode SOQL and reports no error for a valid class', () => {
        const source = [
            'public with sharing class Ok {',
            '    public static List<Contact> find(Set<Id> ids) {',
            '        return [SELECT Id FROM Contact WHERE Id IN :ids WITH USER_MODE];',
            '    }',
            '}'
        ].join('\n');
        const parsed = parseApex(source);
        expect(parsed.errors).toEqual([]);
        expect(parsed.soql).toEqual([
            {
                text: 'SELECT Id FROM Contact WHERE Id IN :ids WITH USER_MODE',
                line: 3,
                column: 16
            }
        ]);
    });

    it('reports a syntax error with its line and column', () => {
        const parsed = parseApex(
            'public class Broken {\n    void f() { Integer i = ; }\n}'
        );
        expect(parsed.errors).toEqual([
            { line: 2, column: 28, message: "mismatched input ';'" }
        ]);
    });

    it('parses triggers as triggers', () => {
        expect(
            parseApex('trigger T on Contact (before insert) { }', 'trigger')
                .errors
        ).toEqual([]);
        expect(
            parseApex('trigger T on Contact (before insert) { }', 'class')
                .errors
        ).not.toEqual([]);
    });
});

describe('apexReferences', () => {
    const source = [
        'public class Refs {',
        '    // Label.In_A_Comment is not code',
        '    String a = System.Label.First_Label;',
        '    String b = Label.Second_Label;',
        "    String c = 'Label.In_A_String';",
        '    Object d = Audience_Membership__c.Status__c;',
        "    Object e = new Audience_Membership__c(Status__c = 'x', Pending_Push__c = true);",
        '    Object f = Schema.SObjectType.Contact.fields.Name;',
        '}'
    ].join('\n');
    const refs = apexReferences(source);

    it('finds labels in code only', () => {
        expect(refs.labels.map((l) => [l.name, l.line])).toEqual([
            ['First_Label', 3],
            ['Second_Label', 4]
        ]);
    });

    it('finds custom names, dotted field tokens and constructor fields', () => {
        expect(refs.customNames.map((n) => n.name)).toEqual([
            'Audience_Membership__c',
            'Status__c',
            'Audience_Membership__c',
            'Status__c',
            'Pending_Push__c'
        ]);
        expect(refs.dotted).toEqual(
            expect.arrayContaining([
                expect.objectContaining({
                    type: 'Audience_Membership__c',
                    member: 'Status__c',
                    line: 6
                })
            ])
        );
        expect(refs.constructed).toEqual([
            expect.objectContaining({
                type: 'Audience_Membership__c',
                fields: ['Status__c', 'Pending_Push__c'],
                line: 7
            })
        ]);
    });
});

describe('invocable metadata', () => {
    const source = [
        'public class Action {',
        '    public class Request {',
        "        @InvocableVariable(label='Record' required=true)",
        '        public String recordId;',
        '        @InvocableVariable',
        '        public String reason;',
        '    }',
        "    @InvocableMethod(label='Act')",
        '    public static List<String> run(List<Request> requests) { return null; }',
        '}'
    ].join('\n');

    it('lists the invocable variables and which are required', () => {
        expect(invocableVariables(source)).toEqual([
            { name: 'recordId', required: true },
            { name: 'reason', required: false }
        ]);
    });

    it('tells a class with an invocable method from one without', () => {
        expect(hasInvocableMethod(source)).toBe(true);
        expect(hasInvocableMethod('public class Plain { }')).toBe(false);
    });
});

describe('soqlShape', () => {
    it('lists fields of the query, its filters, ordering and subqueries', () => {
        expect(
            soqlShape(
                'SELECT Id, Owner__r.Name, (SELECT Id FROM Children__r WHERE Kind__c = :k ORDER BY Name) FROM Parent__c WHERE Status__c IN :s AND Flag__c = true ORDER BY Rank__c ALL ROWS'
            )
        ).toEqual({
            object: 'Parent__c',
            fields: ['Id', 'Owner__r.Name', 'Status__c', 'Flag__c', 'Rank__c'],
            subqueries: [
                {
                    relationship: 'Children__r',
                    fields: ['Id', 'Kind__c', 'Name']
                }
            ]
        });
    });

    it('returns the parser message for a query that does not parse', () => {
        expect(typeof soqlShape('SELECT FROM WHERE')).toBe('string');
    });
});

describe('profileNameFilters', () => {
    const inClass = (...body: string[]): string =>
        ['public with sharing class Q {', ...body, '}'].join('\n');

    it('finds a filter on Profile.Name, on Name of Profile, in a semi-join and in dynamic SOQL', () => {
        const source = inClass(
            "    List<Profile> a = [SELECT Id FROM Profile WHERE Name = 'Standard User'];",
            "    List<User> b = [SELECT Id FROM User WHERE IsActive = true AND Profile.Name = 'System Administrator'];",
            "    List<User> c = [SELECT Id FROM User WHERE ProfileId IN (SELECT Id FROM Profile WHERE Name LIKE 'Std%')];",
            "    List<SObject> d = Database.query('SELECT Id FROM User WHERE Owner.Profile.Name = \\'X\\'');"
        );
        expect(profileNameFilters(source)).toEqual([
            { line: 2, column: 23, field: 'Name (on Profile)' },
            { line: 3, column: 20, field: 'Profile.Name' },
            { line: 4, column: 20, field: 'Name (on Profile)' },
            { line: 5, column: 38, field: 'Owner.Profile.Name' }
        ]);
    });

    it('accepts language-neutral ways to find a profile', () => {
        const source = inClass(
            '    Id mine = UserInfo.getProfileId();',
            "    List<PermissionSet> p = [SELECT ProfileId FROM PermissionSet WHERE IsOwnedByProfile = TRUE AND Profile.UserLicense.LicenseDefinitionKey = 'SFDC'];",
            '    List<Profile> q = [SELECT Id, Name FROM Profile WHERE Id = :mine];',
            "    List<Contact> r = [SELECT Id FROM Contact WHERE Name = 'Ada'];"
        );
        expect(profileNameFilters(source)).toEqual([]);
    });
});
