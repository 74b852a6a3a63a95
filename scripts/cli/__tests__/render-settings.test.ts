/**
 * `optout settings`'s text fits the terminal: at 80 and 160 columns every line fits,
 * and each setting keeps its name, field and value. Built from typed results, no org.
 */
import type { SettingsResult } from '../commands/settings';
import { renderSettings } from '../render/settings';

const SHOWN: SettingsResult = {
    targetOrg: 'acme-production-with-a-long-alias',
    source: 'org-default',
    recordId: 'a0B8d000001AbCdEAF',
    settings: {
        nightlySyncEnabled: false,
        optOutField: 'Marketo_Sales_Opt_Out__c',
        allAudiencesRule: true,
        applyToSameEmail: true
    },
    fieldWritten: 'HasOptedOutOfEmail'
};

const SAVED: SettingsResult = {
    ...SHOWN,
    settings: { ...SHOWN.settings, nightlySyncEnabled: true },
    fieldWritten: 'Marketo_Sales_Opt_Out__c',
    changed: ['nightlySyncEnabled', 'optOutField', 'allAudiencesRule']
};

function expectFits(text: string, columns: number): void {
    const long = text.split('\n').filter((l) => [...l].length > columns);
    expect(long).toEqual([]);
}

/** The table's rows as [setting words, field, value], whatever the wrapping. */
const flat = (text: string): string =>
    text.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ').replace(/\s+/g, ' ');

describe.each([80, 160])('renderSettings at %i columns', (columns) => {
    it('shows each setting with its field and value, and the field a push writes', () => {
        const text = renderSettings(SHOWN, columns);
        expectFits(text, columns);
        const f = flat(text);
        expect(f).toMatch(
            /^Opt-Out Sync Settings of acme-production-with-a-long-alias \(organization default\):/
        );
        for (const token of [
            'Nightly_Sync_Enabled__c',
            'Opt_Out_Field__c',
            'All_Audiences_Rule__c',
            'Apply_To_Same_Email__c',
            'Marketo_Sales_Opt_Out__c'
        ])
            expect(f).toContain(token);
        expect(f).toMatch(
            /Unsubscribes are written to HasOptedOutOfEmail \(the nightly sync is off, so pushes write Email Opt Out\)\.$/
        );
    });

    it('says what a set saved', () => {
        const text = renderSettings(SAVED, columns);
        expectFits(text, columns);
        expect(flat(text)).toMatch(
            /^Saved the organization default of acme-production-with-a-long-alias \(nightlySyncEnabled, optOutField, allAudiencesRule\)\./
        );
        expect(flat(text)).toMatch(
            /Unsubscribes are written to Marketo_Sales_Opt_Out__c\.$/
        );
    });

    it('says when the org has no record and the defaults apply', () => {
        const text = renderSettings(
            { ...SHOWN, source: 'defaults', recordId: null },
            columns
        );
        expectFits(text, columns);
        expect(flat(text)).toMatch(
            /has no Opt-Out Sync Settings record: the sync uses the defaults\./
        );
    });
});

describe('renderSettings at 160 columns', () => {
    it('is one table row per setting, nothing wrapped', () => {
        const text = renderSettings(SHOWN, 160);
        expect(text).toMatch(
            /│ Opt-out field \(R1\)\s+│ Opt_Out_Field__c\s+│ Marketo_Sales_Opt_Out__c\s+│/
        );
    });
});
