/**
 * The committed schema.ts must equal a fresh generation from force-app: renaming a field
 * in the package then fails here (and in tsc, wherever the sync uses the old name).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
    REPO_ROOT,
    SCHEMA_FILE,
    generateSchema,
    parseFieldXml,
    renderSchema
} from '../generate-schema';
import { STANDARD_OBJECT_FIELDS, StandardField } from '../standard-fields';
import * as schema from '../../model/schema';
import { MEMBERSHIP_STATUSES, SOURCE_PICKLIST } from '../../model/statuses';

describe('generated schema', () => {
    it('is up to date with force-app (run npm run generate:schema when this fails)', () => {
        expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(generateSchema());
    });

    it('agrees with the ledger vocabulary (statuses and sources)', () => {
        expect([...schema.AUDIENCE_MEMBERSHIP_STATUS_VALUES]).toEqual([
            ...MEMBERSHIP_STATUSES
        ]);
        expect([...schema.AUDIENCE_MEMBERSHIP_SOURCE_VALUES].sort()).toEqual(
            Object.values(SOURCE_PICKLIST).sort()
        );
        expect(schema.OPT_OUT_FIELDS).toEqual([
            'HasOptedOutOfEmail',
            'Marketo_Sales_Opt_Out__c'
        ]);
        expect(schema.OPT_OUT_SYNC_SETTINGS_DEFAULTS).toEqual({
            All_Audiences_Rule__c: false,
            Apply_To_Same_Email__c: true,
            Nightly_Sync_Enabled__c: false,
            Opt_Out_Field__c: 'HasOptedOutOfEmail'
        });
    });

    it('changes when a field of the package is renamed', () => {
        const dir = mkdtempSync(join(tmpdir(), 'schema-'));
        try {
            const objects = join(REPO_ROOT, 'force-app/main/default/objects');
            for (const o of ['Contact', 'Lead']) {
                mkdirSync(join(dir, o), { recursive: true });
                cpSync(join(objects, o), join(dir, o), { recursive: true });
            }
            const before = renderSchema(dir);
            rmSync(
                join(dir, 'Lead/fields/Marketo_Sales_Opt_Out__c.field-meta.xml')
            );
            const after = renderSchema(dir);
            expect(before).toMatch(
                /OPT_OUT_FIELDS = \['HasOptedOutOfEmail', 'Marketo_Sales_Opt_Out__c'\]/
            );
            // Only on Contact now: no longer a field the sync may write (R1).
            expect(after).toMatch(/OPT_OUT_FIELDS = \['HasOptedOutOfEmail'\]/);
            expect(after).not.toMatch(/Audience_Id__c/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it('reads checkbox defaults, picklists, lengths and external ids', () => {
        const f = parseFieldXml(
            `<?xml version="1.0"?><CustomField xmlns="http://soap.sforce.com/2006/04/metadata">
            <fullName>K__c</fullName><externalId>true</externalId><length>12</length><type>Text</type>
            <defaultValue>"x"</defaultValue></CustomField>`,
            'K__c'
        );
        expect(f).toMatchObject({
            name: 'K__c',
            kind: 'string',
            length: 12,
            externalId: true,
            defaultValue: 'x'
        });
        expect(() => parseFieldXml('<Other/>', 'bad.xml')).toThrow(
            /not a CustomField/
        );
    });

    it('types the standard fields from the one list of metadata/standard-fields.ts', () => {
        const email = (STANDARD_OBJECT_FIELDS.Contact as StandardField[]).find(
            (f) => f.name === 'Email'
        ) as StandardField;
        expect(renderSchema()).toMatch(
            /interface ContactRecord \{[^}]*\n {4}Email: string \| null;/
        );
        email.nillable = false;
        try {
            expect(renderSchema()).toMatch(
                /interface ContactRecord \{[^}]*\n {4}Email: string;/
            );
        } finally {
            email.nillable = true;
        }
    });
});
