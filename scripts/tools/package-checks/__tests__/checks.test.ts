import { Fixture, DEFAULT, TRANSLATIONS, copyProject } from './fixture';
import { apexSourceCheck, conversionCheck, pmdCheck } from '../checks';
import { formatReport } from '../report';

const CLASSES = `${DEFAULT}/classes`;
const META =
    '<?xml version="1.0" encoding="UTF-8" ?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">\n    <apiVersion>66.0</apiVersion>\n    <status>Active</status>\n</ApexClass>\n';

describe('package checks on broken input', () => {
    let fixture: Fixture;
    beforeEach(() => {
        fixture = copyProject();
    });
    afterEach(() => fixture.dispose());

    it('converts the package, the lead-convert folder and the translations with no problem', async () => {
        const result = await conversionCheck(fixture.options());
        expect(result.problems).toEqual([]);
        expect(result.summary).toMatch(
            /^force-app: \d+ components in \d+ types; force-app-lead-convert: 1 components in 1 types; force-app-translations: 12 components in 2 types$/
        );
    });

    it('reports translations in the package itself (an org without Translation Workbench refuses the whole deploy)', async () => {
        fixture.write(
            `${DEFAULT}/translations/de.translation-meta.xml`,
            fixture.read(`${TRANSLATIONS}/translations/fr.translation-meta.xml`)
        );
        const result = await conversionCheck(fixture.options());
        expect(result.problems).toEqual([
            expect.objectContaining({
                file: 'force-app',
                rule: 'translations-in-package',
                message: expect.stringMatching(
                    /^1 Translations component\(s\) in force-app: an org without Translation Workbench refuses the whole deploy/
                )
            })
        ]);
    });

    it('reports a file in a metadata folder that no component claims', async () => {
        fixture.write(
            `${DEFAULT}/objects/Audience_Membership__c/fields/Notes.txt`,
            'not metadata'
        );
        const result = await conversionCheck(fixture.options());
        expect(result.problems).toEqual([
            {
                file: `${DEFAULT}/objects/Audience_Membership__c/fields/Notes.txt`,
                rule: 'unknown-metadata',
                message:
                    'no metadata component claims this file, so a deploy would leave it out'
            }
        ]);
    });

    it('reports a metadata file of a type the registry does not know', async () => {
        fixture.write(`${DEFAULT}/widgets/Thing.widget-meta.xml`, '<Widget/>');
        const result = await conversionCheck(fixture.options());
        expect(result.problems).toEqual([
            expect.objectContaining({
                file: `${DEFAULT}/widgets/Thing.widget-meta.xml`,
                rule: 'unknown-metadata'
            })
        ]);
    });

    it('reports an Apex syntax error at its line and column, and an unformatted class', async () => {
        fixture.write(
            `${CLASSES}/Broken.cls`,
            'public with sharing class Broken {\n    public void f() {\n        Integer i = ;\n    }\n}\n'
        );
        fixture.write(`${CLASSES}/Broken.cls-meta.xml`, META);
        fixture.write(
            `${CLASSES}/Untidy.cls`,
            'public  with sharing class Untidy{ public Integer x=1; }\n'
        );
        fixture.write(`${CLASSES}/Untidy.cls-meta.xml`, META);
        const result = await apexSourceCheck(fixture.options());
        expect(result.problems).toEqual([
            {
                file: `${CLASSES}/Broken.cls`,
                line: 3,
                column: 21,
                rule: 'apex-syntax',
                message: "mismatched input ';'"
            },
            {
                file: `${CLASSES}/Untidy.cls`,
                rule: 'prettier',
                message: 'not formatted: run npx prettier --write on it'
            }
        ]);
        const report = formatReport([result]);
        expect(report).toContain(`FAIL Apex syntax and formatting`);
        expect(report).toContain(
            `  ${CLASSES}/Broken.cls:3:21 [apex-syntax] mismatched input ';'`
        );
        expect(report).toContain('2 problems found.');
    });

    it('reports a SOQL filter on a profile name in the package Apex (names are translated)', async () => {
        fixture.write(
            `${CLASSES}/ByName.cls`,
            [
                '@IsTest',
                'private class ByName {',
                '    @IsTest',
                '    static void findsProfiles() {',
                '        List<Profile> profiles = [',
                '            SELECT Id',
                '            FROM Profile',
                "            WHERE Name IN ('Minimum Access - Salesforce', 'Standard User')",
                '        ];',
                '        List<User> admins = [',
                '            SELECT Id',
                '            FROM User',
                "            WHERE Profile.Name = 'System Administrator'",
                '        ];',
                "        Assert.isFalse(profiles.isEmpty(), admins.size() + ' found');",
                '    }',
                '}',
                ''
            ].join('\n')
        );
        fixture.write(`${CLASSES}/ByName.cls-meta.xml`, META);
        const result = await apexSourceCheck(fixture.options());
        expect(
            result.problems.map((p) => `${p.file}:${p.line} ${p.rule}`)
        ).toEqual([
            `${CLASSES}/ByName.cls:5 apex-profile-name`,
            `${CLASSES}/ByName.cls:10 apex-profile-name`
        ]);
        expect(result.problems[0].message).toMatch(
            /^SOQL filters on Name \(on Profile\): standard profile names are translated/
        );
        expect(result.problems[1].message).toMatch(
            /^SOQL filters on Profile\.Name:/
        );
    });

    it('runs PMD on the Apex and reports Security and BestPractices violations by file, line and rule', async () => {
        fixture.write(
            `${CLASSES}/Leaky.cls`,
            [
                'public class Leaky {',
                '    public static List<Contact> find(String name) {',
                "        return Database.query('SELECT Id FROM Contact WHERE LastName = \\'' + name + '\\'');",
                '    }',
                '    public static void save(Contact person) {',
                '        update person;',
                '    }',
                '}',
                ''
            ].join('\n')
        );
        fixture.write(`${CLASSES}/Leaky.cls-meta.xml`, META);
        const result = await pmdCheck(fixture.options());
        const found = result.problems.map(
            (p) => `${p.file}:${p.line} ${p.rule}`
        );
        expect(found).toEqual(
            expect.arrayContaining([
                `${CLASSES}/Leaky.cls:1 ApexSharingViolations`,
                `${CLASSES}/Leaky.cls:3 ApexSOQLInjection`,
                `${CLASSES}/Leaky.cls:6 ApexCRUDViolation`
            ])
        );
        // The shipped classes themselves are clean.
        expect(
            result.problems.filter((p) => !p.file?.endsWith('Leaky.cls'))
        ).toEqual([]);
        expect(result.summary).toMatch(/rules on 3 Apex files$/);
    }, 120000);
});
