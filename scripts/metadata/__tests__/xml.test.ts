/**
 * One metadata file's text, as the local org's deploy reads it from a zip (Metadata API
 * format: fields and rules inline in the object file) and the package checks from SFDX
 * source.
 */
import { readLayout, readManifest, readPermissionSet } from '../components';
import { readCustomField, readCustomObject } from '../objects';
import { MetadataXmlError, parseMetadataXml } from '../xml';

const OBJECT = `<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <label>Widget</label>
    <pluralLabel>Widgets</pluralLabel>
    <nameField><label>Widget Number</label><type>AutoNumber</type><displayFormat>W-{0000}</displayFormat></nameField>
    <fields>
        <fullName>Size__c</fullName><label>Size</label><type>Number</type>
        <precision>5</precision><scale>2</scale><required>True</required>
    </fields>
    <fields>
        <fullName>Color__c</fullName><label>Color</label><type>Picklist</type>
        <valueSet><restricted>true</restricted><valueSetDefinition>
            <value><fullName>red</fullName><default>true</default><label>Red</label></value>
            <value><fullName>blue</fullName><isActive>false</isActive></value>
        </valueSetDefinition></valueSet>
    </fields>
    <fields>
        <fullName>Region__c</fullName><label>Region</label><type>Picklist</type>
        <valueSet><valueSetName>Regions</valueSetName></valueSet>
    </fields>
    <validationRules>
        <fullName>Size_Positive</fullName><active>false</active>
        <errorConditionFormula>Size__c &lt; 0</errorConditionFormula>
        <errorMessage>Size must be positive</errorMessage>
    </validationRules>
</CustomObject>`;

describe('parsing one metadata file', () => {
    it('reads a Metadata API object with its fields and rules inline', () => {
        const doc = parseMetadataXml(OBJECT, 'objects/Widget__c.object');
        expect(doc.name).toBe('CustomObject');
        const object = readCustomObject(doc.root);
        expect(object).toMatchObject({
            label: 'Widget',
            pluralLabel: 'Widgets',
            nameField: {
                label: 'Widget Number',
                type: 'AutoNumber',
                displayFormat: 'W-{0000}'
            }
        });
        expect(object.customSettingsType).toBeUndefined();
        const [size, color, region] = object.fields;
        // A single field reads like a repeated one; numbers are numbers, booleans any case.
        expect(size).toMatchObject({
            name: 'Size__c',
            type: 'Number',
            precision: 5,
            scale: 2,
            required: true,
            unique: false
        });
        expect(size.valueSet).toBeUndefined();
        expect(color.picklistValues).toEqual([
            { name: 'red', label: 'Red', active: true, default: true },
            { name: 'blue', label: 'blue', active: false, default: false }
        ]);
        expect(color.valueSet).toEqual({
            inline: true,
            restricted: true,
            valueSetName: undefined
        });
        expect(region.picklistValues).toEqual([]);
        expect(region.valueSet).toEqual({
            inline: false,
            restricted: false,
            valueSetName: 'Regions'
        });
        expect(object.validationRules).toEqual([
            {
                name: 'Size_Positive',
                active: false,
                errorConditionFormula: 'Size__c < 0',
                errorMessage: 'Size must be positive',
                errorDisplayField: undefined
            }
        ]);
    });

    it('keeps text values as text: a default formula, a number-like name', () => {
        const { root } = parseMetadataXml(
            '<CustomField><fullName>K__c</fullName><type>Text</type><defaultValue>"007"</defaultValue><label>0012</label></CustomField>',
            'K__c.field-meta.xml'
        );
        expect(readCustomField(root)).toMatchObject({
            defaultValue: '"007"',
            label: '0012',
            length: undefined
        });
    });

    it('refuses malformed XML with an error naming the file and the position', () => {
        const parse = (): unknown =>
            parseMetadataXml(
                '<Layout>\n  <layoutSections>\n</Layout>',
                'layouts/Widget__c-Widget Layout.layout'
            );
        expect(parse).toThrow(MetadataXmlError);
        expect(parse).toThrow(
            /^layouts\/Widget__c-Widget Layout\.layout:3:\d+: Expected closing tag 'layoutSections'/
        );
        let thrown: unknown;
        try {
            parse();
        } catch (err) {
            thrown = err;
        }
        expect(thrown).toMatchObject({
            file: 'layouts/Widget__c-Widget Layout.layout',
            line: 3
        });
    });

    it('refuses a file without an element', () => {
        expect(() =>
            parseMetadataXml('<?xml version="1.0"?><!-- empty -->', 'x.xml')
        ).toThrow(/^x\.xml:1:\w+: Start tag expected/);
    });

    it('reads a layout, a permission set and a deploy manifest', () => {
        const layout = readLayout(
            parseMetadataXml(
                `<Layout><layoutSections><label>Main</label><layoutColumns>
                    <layoutItems><field>Name</field></layoutItems>
                    <layoutItems><emptySpace>true</emptySpace></layoutItems>
                    <layoutItems><field>Size__c</field></layoutItems>
                </layoutColumns></layoutSections></Layout>`,
                'l'
            ).root
        );
        expect(layout.fields).toEqual(['Name', 'Size__c']);
        expect(layout.sections).toEqual([{ label: 'Main', custom: false }]);

        const set = readPermissionSet(
            parseMetadataXml(
                `<PermissionSet><label>Widgets</label>
                    <fieldPermissions><field>Widget__c.Size__c</field><readable>true</readable><editable>false</editable></fieldPermissions>
                    <objectPermissions><object>Widget__c</object><allowRead>true</allowRead><modifyAllRecords>TRUE</modifyAllRecords></objectPermissions>
                    <customPermissions><name>Can_Widget</name><enabled>true</enabled></customPermissions>
                    <customPermissions><name>Cannot_Widget</name><enabled>false</enabled></customPermissions>
                    <userPermissions><name>ViewAllData</name><enabled>true</enabled></userPermissions>
                </PermissionSet>`,
                'p'
            ).root
        );
        expect(set.label).toBe('Widgets');
        expect(set.fieldPermissions).toEqual([
            { field: 'Widget__c.Size__c', readable: true, editable: false }
        ]);
        expect(set.objectPermissions[0]).toMatchObject({
            object: 'Widget__c',
            read: true,
            edit: false,
            modifyAll: true
        });
        expect(set.customPermissions).toEqual([
            { name: 'Can_Widget', enabled: true },
            { name: 'Cannot_Widget', enabled: false }
        ]);
        expect(set.userPermissions).toEqual([
            { name: 'ViewAllData', enabled: true }
        ]);

        expect(
            readManifest(
                parseMetadataXml(
                    `<Package><types><members>Widget__c</members><name>CustomObject</name></types>
                    <types><members>Widget__c.Size__c</members><members>Widget__c.Color__c</members><name>CustomField</name></types>
                    <version>62.0</version></Package>`,
                    'package.xml'
                ).root
            )
        ).toEqual([
            { type: 'CustomObject', fullName: 'Widget__c' },
            { type: 'CustomField', fullName: 'Widget__c.Size__c' },
            { type: 'CustomField', fullName: 'Widget__c.Color__c' }
        ]);
    });
});
