import { Fixture, DEFAULT, TRANSLATIONS, copyProject } from './fixture';
import { Problem } from '../problems';
import { checkConsistency } from '../consistency';

const AM = `${DEFAULT}/objects/Audience_Membership__c`;
const INTEGRATION = `${DEFAULT}/permissionsets/Opt_Out_Sync_Integration.permissionset-meta.xml`;
const CONTACT_LAYOUT = `${DEFAULT}/layouts/Contact-Opt-Out Sync Contact Layout.layout-meta.xml`;

function summary(problems: Problem[]): string[] {
    return problems.map((p) => `${p.rule} ${p.file ?? ''} ${p.message}`);
}

describe('consistency check', () => {
    let fixture: Fixture;
    beforeEach(() => {
        fixture = copyProject();
    });
    afterEach(() => fixture.dispose());

    it('finds nothing wrong in the package as shipped', () => {
        expect(summary(checkConsistency(fixture.model()))).toEqual([]);
    });

    it('reports every reference to a field that was removed', () => {
        fixture.remove(`${AM}/fields/Pending_Push__c.field-meta.xml`);
        for (const language of ['fr', 'ja', 'zh_CN']) {
            fixture.remove(
                `${TRANSLATIONS}/objectTranslations/Audience_Membership__c-${language}/Pending_Push__c.fieldTranslation-meta.xml`
            );
        }
        const problems = checkConsistency(fixture.model()).filter(
            (p) => p.rule === 'missing-field'
        );
        const files = new Set(problems.map((p) => p.file));
        // The component, the Flow action, its test, the layouts, the list views and both permission sets.
        expect([...files]).toEqual(
            expect.arrayContaining([
                `${DEFAULT}/lwc/audienceSubscriptions/memberships.js`,
                `${DEFAULT}/classes/UnsubscribeFromAudienceAction.cls`,
                `${DEFAULT}/classes/UnsubscribeFromAudienceActionTest.cls`,
                CONTACT_LAYOUT,
                `${AM}/listViews/All.listView-meta.xml`,
                `${AM}/listViews/Pending_Push.listView-meta.xml`,
                INTEGRATION,
                `${DEFAULT}/permissionsets/Opt_Out_Sync_User.permissionset-meta.xml`
            ])
        );
        const apex = problems.find((p) =>
            p.file?.endsWith('UnsubscribeFromAudienceAction.cls')
        );
        expect(apex?.line).toBeGreaterThan(0);
        expect(apex?.message).toContain('Pending_Push__c');
    });

    it('reports a custom field the integration permission set does not grant', () => {
        fixture.edit(
            INTEGRATION,
            /\s*<fieldPermissions>\s*<editable>true<\/editable>\s*<field>Audience_Membership__c\.Email__c<\/field>\s*<readable>true<\/readable>\s*<\/fieldPermissions>/,
            ''
        );
        const problems = checkConsistency(fixture.model());
        expect(summary(problems)).toEqual([
            expect.stringMatching(
                /^ungranted-field .*Email__c\.field-meta\.xml Audience_Membership__c\.Email__c is not granted in Opt_Out_Sync_Integration$/
            )
        ]);
    });

    it('reports a custom label missing from one translation', () => {
        const ja = `${TRANSLATIONS}/translations/ja.translation-meta.xml`;
        fixture.edit(
            ja,
            /\s*<customLabels>\s*<label>[^<]*<\/label>\s*<name>Flow_Action_No_Access<\/name>\s*<\/customLabels>/,
            ''
        );
        const problems = checkConsistency(fixture.model());
        expect(summary(problems)).toEqual([
            `missing-translation ${ja} custom label Flow_Action_No_Access has no ja translation`
        ]);
    });

    it('reports a translation whose placeholders differ from the label', () => {
        const fr = `${TRANSLATIONS}/translations/fr.translation-meta.xml`;
        fixture.edit(
            fr,
            /\{0\}(?=[^<]*<\/label>\s*<name>Flow_Action_Success<)/,
            '{1}'
        );
        const problems = checkConsistency(fixture.model());
        expect(problems.map((p) => p.rule)).toEqual([
            'translation-placeholders'
        ]);
        expect(problems[0].message).toContain('Flow_Action_Success');
    });

    it('reports a label the Apex uses but the labels file lacks', () => {
        const labels = `${DEFAULT}/labels/CustomLabels.labels-meta.xml`;
        fixture.edit(
            labels,
            '<fullName>Flow_Action_Success</fullName>',
            '<fullName>Flow_Action_Done</fullName>'
        );
        const problems = checkConsistency(fixture.model());
        const missing = problems.filter((p) => p.rule === 'missing-label');
        expect(missing.map((p) => p.file)).toEqual(
            expect.arrayContaining([
                `${DEFAULT}/classes/UnsubscribeFromAudienceAction.cls`,
                `${TRANSLATIONS}/translations/fr.translation-meta.xml`
            ])
        );
        expect(
            missing.find((p) => p.file?.endsWith('.cls'))?.message
        ).toContain('System.Label.Flow_Action_Success');
    });

    it('reports an untranslated picklist value and help text', () => {
        const status = `${TRANSLATIONS}/objectTranslations/Audience_Membership__c-zh_CN/Status__c.fieldTranslation-meta.xml`;
        fixture.edit(
            status,
            /\s*<picklistValues>\s*<masterLabel>Cleaned<\/masterLabel>[\s\S]*?<\/picklistValues>/,
            ''
        );
        fixture.edit(status, /\s*<help[\s\S]*?<\/help>/, '');
        const messages = checkConsistency(fixture.model()).map(
            (p) => p.message
        );
        expect(messages).toEqual([
            'Audience_Membership__c.Status__c (zh_CN) has no translated help text',
            'Audience_Membership__c.Status__c (zh_CN): picklist value Cleaned is not translated'
        ]);
    });

    it('matches picklist translations by the value’s label, reporting one keyed by its API name', () => {
        // Source__c's value Platform is labelled "Marketing platform": masterLabel is
        // the label, so a translation keyed "Platform" would not apply in an org.
        const source = `${TRANSLATIONS}/objectTranslations/Audience_Membership__c-ja/Source__c.fieldTranslation-meta.xml`;
        fixture.edit(
            source,
            '<masterLabel>Marketing platform</masterLabel>',
            '<masterLabel>Platform</masterLabel>'
        );
        const problems = checkConsistency(fixture.model());
        expect(summary(problems)).toEqual([
            `missing-translation ${source} Audience_Membership__c.Source__c (ja): picklist value Platform is translated under its API name; masterLabel must be its label "Marketing platform"`
        ]);
        expect(problems[0].line).toBeGreaterThan(0);

        // A translation of neither the label nor the API name is stale, and the value
        // is reported untranslated, naming its label.
        fixture.edit(
            source,
            '<masterLabel>Platform</masterLabel>',
            '<masterLabel>Marketing</masterLabel>'
        );
        expect(checkConsistency(fixture.model()).map((p) => p.message)).toEqual(
            [
                'Audience_Membership__c.Source__c (ja): picklist value Platform ("Marketing platform") is not translated',
                'Audience_Membership__c.Source__c (ja) translates picklist value Marketing, which the field does not have'
            ]
        );
    });

    it('reports a custom field with no translation file in a language', () => {
        fixture.remove(
            `${TRANSLATIONS}/objectTranslations/Lead-fr/Marketo_Sales_Opt_Out__c.fieldTranslation-meta.xml`
        );
        expect(checkConsistency(fixture.model()).map((p) => p.message)).toEqual(
            ['Lead.Marketo_Sales_Opt_Out__c (fr) has no translated label']
        );
    });

    it("refuses to ship the org's own standard layouts", () => {
        fixture.write(
            `${DEFAULT}/layouts/Contact-Contact Layout.layout-meta.xml`,
            fixture.read(CONTACT_LAYOUT)
        );
        const problems = checkConsistency(fixture.model()).filter(
            (p) => p.rule === 'standard-layout'
        );
        expect(problems).toHaveLength(1);
        expect(problems[0].message).toContain('Contact-Contact Layout');
    });

    it('reports a layout field and a related-list column that do not exist', () => {
        fixture.edit(
            CONTACT_LAYOUT,
            '<field>Marketo_Sales_Opt_Out__c</field>',
            '<field>Marketo_Sale_Opt_Out__c</field>'
        );
        fixture.edit(
            CONTACT_LAYOUT,
            '<fields>Source__c</fields>',
            '<fields>Origin__c</fields>'
        );
        const messages = checkConsistency(fixture.model()).map(
            (p) => p.message
        );
        expect(messages).toEqual(
            expect.arrayContaining([
                'layout Contact-Opt-Out Sync Contact Layout shows Contact.Marketo_Sale_Opt_Out__c, which does not exist',
                'layout Contact-Opt-Out Sync Contact Layout: related list Audience_Membership__c.Contact__c shows Audience_Membership__c.Origin__c, which does not exist'
            ])
        );
    });

    it('reports a record page placing a component that is not in the package', () => {
        const page = `${DEFAULT}/flexipages/Opt_Out_Sync_Lead_Record_Page.flexipage-meta.xml`;
        fixture.edit(
            page,
            '<componentName>audienceSubscriptions</componentName>',
            '<componentName>audienceSubscription</componentName>'
        );
        const problems = checkConsistency(fixture.model());
        expect(summary(problems)).toEqual([
            expect.stringContaining('missing-component')
        ]);
        expect(problems[0].message).toContain('audienceSubscription,');
        expect(problems[0].line).toBeGreaterThan(1);
    });

    it('reports a Flow that ships active or passes an input the action lacks', () => {
        const flow = `${DEFAULT}/flows/Opt_Out_Sync_Contact_Email_Opt_Out.flow-meta.xml`;
        fixture.edit(flow, '<status>Draft</status>', '<status>Active</status>');
        fixture.edit(flow, '<name>reason</name>', '<name>why</name>');
        expect(
            checkConsistency(fixture.model())
                .map((p) => p.rule)
                .sort()
        ).toEqual(['active-flow', 'missing-input']);
    });

    it('reports an app override that opens the wrong page', () => {
        const app = `${DEFAULT}/applications/Opt_Out_Sync.app-meta.xml`;
        fixture.edit(
            app,
            '<content>Opt_Out_Sync_Lead_Record_Page</content>',
            '<content>Opt_Out_Sync_Contact_Record_Page</content>'
        );
        expect(checkConsistency(fixture.model()).map((p) => p.rule)).toEqual([
            'override-mismatch'
        ]);
    });

    it('reports a field grant on a custom setting, which a deploy rejects', () => {
        fixture.edit(
            INTEGRATION,
            '<hasActivationRequired>',
            '<fieldPermissions><editable>false</editable><field>Opt_Out_Sync_Settings__c.Opt_Out_Field__c</field><readable>true</readable></fieldPermissions>\n    <hasActivationRequired>'
        );
        expect(checkConsistency(fixture.model()).map((p) => p.rule)).toEqual([
            'setting-field-grant'
        ]);
    });

    it('reports a SOQL query on a field that does not exist', () => {
        const action = `${DEFAULT}/classes/UnsubscribeFromAudienceAction.cls`;
        fixture.edit(
            action,
            'SELECT Id, Audience_Id__c',
            'SELECT Id, Audience_Key__c'
        );
        const problems = checkConsistency(fixture.model());
        expect(
            problems.some(
                (p) =>
                    p.rule === 'missing-field' &&
                    p.message.includes(
                        'Audience_Membership__c.Audience_Key__c does not exist'
                    )
            )
        ).toBe(true);
    });

    it('reports a lead conversion mapping of a field that does not exist', () => {
        const mapping =
            'force-app-lead-convert/main/default/LeadConvertSettings/LeadConvertSettings.LeadConvertSetting-meta.xml';
        fixture.edit(
            mapping,
            '<outputField>Marketo_Sales_Opt_Out__c</outputField>',
            '<outputField>Sales_Opt_Out__c</outputField>'
        );
        expect(checkConsistency(fixture.model()).map((p) => p.message)).toEqual(
            [
                'lead conversion maps to Contact.Sales_Opt_Out__c, which is not a custom field of the package'
            ]
        );
    });

    it('reports a child relationship the component and the Apex use but no lookup defines', () => {
        for (const lookup of ['Contact__c', 'Lead__c']) {
            fixture.edit(
                `${AM}/fields/${lookup}.field-meta.xml`,
                '<relationshipName>Audience_Memberships</relationshipName>',
                '<relationshipName>Memberships</relationshipName>'
            );
        }
        const problems = checkConsistency(fixture.model()).filter(
            (p) => p.rule === 'missing-relationship'
        );
        expect(problems.map((p) => p.file)).toEqual(
            expect.arrayContaining([
                `${DEFAULT}/lwc/audienceSubscriptions/memberships.js`,
                `${DEFAULT}/classes/UnsubscribeFromAudienceAction.cls`
            ])
        );
        expect(problems.find((p) => p.file?.endsWith('.cls'))?.message).toBe(
            'SOQL on Contact: no child relationship Audience_Memberships__r'
        );
    });

    it('reports a component import of a label that does not exist', () => {
        const labels = `${DEFAULT}/lwc/audienceSubscriptions/labels.js`;
        fixture.edit(
            labels,
            "'@salesforce/label/c.Audience_Subscriptions_Refresh'",
            "'@salesforce/label/c.Audience_Subscriptions_Reload'"
        );
        const problems = checkConsistency(fixture.model());
        expect(summary(problems)).toEqual([
            `missing-label ${labels} imports @salesforce/label/c.Audience_Subscriptions_Reload, which is not in the custom labels`
        ]);
    });

    it('reports a Modify All grant without the permissions it depends on', () => {
        const modifyAll = `${DEFAULT}/permissionsets/Opt_Out_Sync_Integration_Modify_All.permissionset-meta.xml`;
        fixture.edit(
            modifyAll,
            /<allowDelete>true<\/allowDelete>(\s*<allowEdit>true<\/allowEdit>\s*<allowRead>true<\/allowRead>\s*<modifyAllRecords>true<\/modifyAllRecords>\s*<object>Contact<\/object>\s*)<viewAllRecords>true<\/viewAllRecords>/,
            '<allowDelete>false</allowDelete>$1<viewAllRecords>false</viewAllRecords>'
        );
        expect(summary(checkConsistency(fixture.model()))).toEqual([
            `object-permission-dependency ${modifyAll} Opt_Out_Sync_Integration_Modify_All grants Contact permissions without allowDelete, viewAllRecords, which they depend on; the deploy fails`
        ]);
    });

    it('reports a permission set description longer than 255 characters', () => {
        fixture.edit(
            INTEGRATION,
            /<description\s*>[^<]*<\/description>/,
            `<description>${'x'.repeat(256)}</description>`
        );
        expect(summary(checkConsistency(fixture.model()))).toEqual([
            `description-too-long ${INTEGRATION} Opt_Out_Sync_Integration's description has 256 characters; a permission set allows 255, so the deploy fails`
        ]);
    });

    it('reports a Flow excluding a custom permission that an integration set does not grant, or that does not exist', () => {
        const modifyAll = `${DEFAULT}/permissionsets/Opt_Out_Sync_Integration_Modify_All.permissionset-meta.xml`;
        fixture.edit(
            modifyAll,
            /\s*<customPermissions>[\s\S]*?<\/customPermissions>/,
            ''
        );
        expect(summary(checkConsistency(fixture.model()))).toEqual([
            `ungranted-custom-permission ${modifyAll} Opt_Out_Sync_Integration_Modify_All does not enable Opt_Out_Sync_Integration_User, which the example Flows exclude: the sync's own writes would start them`
        ]);
        fixture.remove(
            `${DEFAULT}/customPermissions/Opt_Out_Sync_Integration_User.customPermission-meta.xml`
        );
        const rules = checkConsistency(fixture.model()).map(
            (p) => `${p.rule} ${p.file ?? ''}`
        );
        expect(rules).toEqual([
            `missing-custom-permission ${INTEGRATION}`,
            `missing-custom-permission ${DEFAULT}/flows/Opt_Out_Sync_Contact_Email_Opt_Out.flow-meta.xml`,
            `missing-custom-permission ${DEFAULT}/flows/Opt_Out_Sync_Lead_Email_Opt_Out.flow-meta.xml`
        ]);
    });
});
