/**
 * Text of `optout settings show|set`: where the settings come from, one row per
 * setting (what it is, its field, its value), and the field a push writes now, fitted
 * to the terminal's width.
 */
import { OPT_OUT_SYNC_SETTINGS as F } from '../../model/schema';
import type { SettingsResult } from '../commands/settings';
import { renderTable, wrapText } from '../table';

const onOff = (b: boolean): string => (b ? 'on' : 'off');

/** The first line: saved, defaults, or the organization default shown. */
function headline(r: SettingsResult): string {
    if (r.changed !== undefined)
        return `Saved the organization default of ${r.targetOrg}${r.changed.length ? ` (${r.changed.join(', ')})` : ''}.`;
    return r.source === 'defaults'
        ? `${r.targetOrg} has no Opt-Out Sync Settings record: the sync uses the defaults.`
        : `Opt-Out Sync Settings of ${r.targetOrg} (organization default):`;
}

/** The whole `optout settings` text. */
export function renderSettings(r: SettingsResult, columns = Infinity): string {
    const s = r.settings;
    const rows: [string, string, string][] = [
        [
            'Nightly sync (R3)',
            F.Nightly_Sync_Enabled__c,
            onOff(s.nightlySyncEnabled)
        ],
        ['Opt-out field (R1)', F.Opt_Out_Field__c, s.optOutField],
        [
            'All-audiences rule (R5b)',
            F.All_Audiences_Rule__c,
            onOff(s.allAudiencesRule)
        ],
        ['Same email (R8)', F.Apply_To_Same_Email__c, onOff(s.applyToSameEmail)]
    ];
    const written = `Unsubscribes are written to ${r.fieldWritten}${r.fieldWritten !== s.optOutField ? ' (the nightly sync is off, so pushes write Email Opt Out)' : ''}.`;
    return [
        ...wrapText(headline(r), columns),
        renderTable(['Setting', 'Field', 'Value'], rows, columns),
        ...wrapText(written, columns)
    ].join('\n');
}
