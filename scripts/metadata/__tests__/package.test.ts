/**
 * The one reader of the package metadata against the real package: what the schema
 * generator, the package checks and the local org's deploy all rely on.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../model/project';
import { MEMBERSHIP_STATUSES } from '../../model/statuses';
import { readPackage } from '../package';
import { MetadataXmlError } from '../xml';

describe('readPackage on force-app', () => {
    const pkg = readPackage(PROJECT_ROOT, [
        'force-app',
        'force-app-translations'
    ]);

    it('reads every file', () => {
        expect(pkg.unreadable).toEqual([]);
    });

    it('reads the Marketo Sales Opt Out checkbox on Contact and on Lead', () => {
        for (const object of ['Contact', 'Lead']) {
            const def = pkg.objects.get(object);
            expect(def?.custom).toBe(false);
            expect(def?.fields.get('Marketo_Sales_Opt_Out__c')).toMatchObject({
                object,
                name: 'Marketo_Sales_Opt_Out__c',
                type: 'Checkbox',
                label: 'Marketo Sales Opt Out',
                defaultValue: 'false',
                required: false,
                externalId: false,
                file: `force-app/main/default/objects/${object}/fields/Marketo_Sales_Opt_Out__c.field-meta.xml`
            });
        }
    });

    it('reads the Audience Membership fields: lookups, the upsert key, the status picklist', () => {
        const am = pkg.objects.get('Audience_Membership__c');
        expect(am?.definition?.file).toBe(
            'force-app/main/default/objects/Audience_Membership__c/Audience_Membership__c.object-meta.xml'
        );
        expect(am?.customSettingsType).toBeUndefined();
        expect([...(am?.fields.keys() ?? [])]).toEqual([
            'Audience_Id__c',
            'Audience_Name__c',
            'Contact__c',
            'Email__c',
            'Lead__c',
            'Membership_Key__c',
            'Pending_Push__c',
            'Source__c',
            'Status_Changed_At__c',
            'Status__c',
            'Unsubscribe_Reason__c'
        ]);
        expect(am?.fields.get('Contact__c')).toMatchObject({
            type: 'Lookup',
            referenceTo: 'Contact',
            relationshipName: 'Audience_Memberships',
            relationshipLabel: 'Audience Memberships',
            deleteConstraint: 'SetNull'
        });
        expect(am?.fields.get('Membership_Key__c')).toMatchObject({
            type: 'Text',
            length: 255,
            externalId: true,
            unique: true,
            caseSensitive: true
        });
        const status = am?.fields.get('Status__c');
        expect(status?.picklistValues.map((v) => v.name)).toEqual([
            ...MEMBERSHIP_STATUSES
        ]);
        expect(status?.valueSet).toMatchObject({ inline: true });
    });

    it('reads the settings as a hierarchy custom setting', () => {
        expect(
            pkg.objects.get('Opt_Out_Sync_Settings__c')?.customSettingsType
        ).toBe('Hierarchy');
    });

    it('reads labels, their translations and the permission sets', () => {
        expect(pkg.labels.size).toBeGreaterThan(0);
        expect([...pkg.translations.keys()].sort()).toEqual([
            'fr',
            'ja',
            'zh_CN'
        ]);
        for (const translation of pkg.translations.values())
            expect([...translation.labels.keys()].sort()).toEqual(
                [...pkg.labels.keys()].sort()
            );
        const integration = pkg.permissionSets.get('Opt_Out_Sync_Integration');
        expect(integration?.fieldPermissions).toEqual(
            expect.arrayContaining([
                {
                    field: 'Contact.Marketo_Sales_Opt_Out__c',
                    readable: true,
                    editable: true
                }
            ])
        );
    });
});

describe('readPackage on a folder with a malformed file', () => {
    let dir: string;
    beforeAll(() => {
        dir = mkdtempSync(join(tmpdir(), 'metadata-'));
        const fields = join(dir, 'pkg', 'objects', 'Thing__c', 'fields');
        mkdirSync(fields, { recursive: true });
        writeFileSync(
            join(fields, 'Good__c.field-meta.xml'),
            '<CustomField><fullName>Good__c</fullName><type>Text</type><length>10</length></CustomField>'
        );
        writeFileSync(
            join(fields, 'Bad__c.field-meta.xml'),
            '<CustomField>\n<fullName>Bad__c</fullName>\n<type>Text</CustomField>'
        );
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('lists the file as unreadable, naming it and the line, and reads the rest', () => {
        const pkg = readPackage(dir, ['pkg']);
        const file = join(
            'pkg',
            'objects',
            'Thing__c',
            'fields',
            'Bad__c.field-meta.xml'
        );
        expect(pkg.unreadable).toHaveLength(1);
        expect(pkg.unreadable[0].file).toBe(file);
        const error = pkg.unreadable[0].error;
        expect(error).toBeInstanceOf(MetadataXmlError);
        expect(error.message).toMatch(
            new RegExp(
                `^${file.replace(/[.]/g, '\\.')}:3:\\d+: Expected closing tag 'type'`
            )
        );
        expect([...(pkg.objects.get('Thing__c')?.fields.keys() ?? [])]).toEqual(
            ['Good__c']
        );
        expect(pkg.objects.get('Thing__c')?.fields.get('Good__c')?.length).toBe(
            10
        );
    });
});
