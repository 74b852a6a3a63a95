/**
 * `optout settings show|set --target-org X` — the org's Opt-Out Sync Settings (the
 * organization default of the Opt_Out_Sync_Settings__c hierarchy custom setting).
 * `set` checks every value before connecting; a bad value writes nothing.
 */
import { Argument, type Command } from 'commander';
import { OptoutError } from '../../model/errors';
import { OPT_OUT_FIELDS, OPT_OUT_SYNC_SETTINGS as F } from '../../model/schema';
import { openOrg } from '../../salesforce/open';
import {
    effectiveOptOutField,
    isOptOutField,
    readSettings,
    writeSettings,
    type SettingsPatch,
    type SettingsReadResult
} from '../../salesforce/settings';
import { summaryOf } from './index';
import { parseOnOff } from '../options';
import { runCommand, type CommandModule } from '../command';
import type { Output } from '../output';
import { renderTable } from '../table';
import { targetOrgOption } from './sync';

interface SettingsOptions {
    targetOrg: string;
    nightlySync?: string;
    optOutField?: string;
    allAudiencesRule?: string;
    sameEmail?: string;
}

/** The patch a `set` asks for, validated (nothing is sent when a value is bad). */
export function settingsPatch(opts: SettingsOptions): SettingsPatch {
    const patch: SettingsPatch = {};
    const nightly = parseOnOff(opts.nightlySync, '--nightly-sync');
    if (nightly !== undefined) patch.nightlySyncEnabled = nightly;
    if (opts.optOutField !== undefined) {
        const field = opts.optOutField.trim();
        if (!isOptOutField(field))
            throw new OptoutError(
                'BAD_ARGUMENT',
                `--opt-out-field must be ${OPT_OUT_FIELDS.join(' or ')}, not '${opts.optOutField}'. Nothing was written.`,
                {
                    actions: [
                        'HasOptedOutOfEmail is the standard Email Opt Out; Marketo_Sales_Opt_Out__c comes with the package'
                    ],
                    exitCode: 2
                }
            );
        patch.optOutField = field;
    }
    const rule = parseOnOff(opts.allAudiencesRule, '--all-audiences-rule');
    if (rule !== undefined) patch.allAudiencesRule = rule;
    const same = parseOnOff(opts.sameEmail, '--same-email');
    if (same !== undefined) patch.applyToSameEmail = same;
    if (Object.keys(patch).length === 0)
        throw new OptoutError('BAD_ARGUMENT', 'Nothing to set.', {
            actions: [
                'Give at least one of --nightly-sync on|off, --opt-out-field FIELD, --all-audiences-rule on|off, --same-email on|off'
            ],
            exitCode: 2
        });
    return patch;
}

export interface SettingsReport {
    targetOrg: string;
    source: 'org-default' | 'defaults';
    recordId: string | null;
    settings: {
        nightlySyncEnabled: boolean;
        optOutField: string;
        allAudiencesRule: boolean;
        applyToSameEmail: boolean;
    };
    /** What a push writes now (R1/R2). */
    fieldWritten: string;
    changed?: string[];
}

function report(
    targetOrg: string,
    r: SettingsReadResult,
    changed?: string[]
): SettingsReport {
    return {
        targetOrg,
        source: r.source,
        recordId: r.recordId,
        settings: { ...r.settings },
        fieldWritten: effectiveOptOutField(r.settings),
        ...(changed ? { changed } : {})
    };
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');

function human(r: SettingsReport): string {
    const rows: [string, string, string][] = [
        [
            'Nightly sync (R3)',
            F.Nightly_Sync_Enabled__c,
            onOff(r.settings.nightlySyncEnabled)
        ],
        ['Opt-out field (R1)', F.Opt_Out_Field__c, r.settings.optOutField],
        [
            'All-audiences rule (R5b)',
            F.All_Audiences_Rule__c,
            onOff(r.settings.allAudiencesRule)
        ],
        [
            'Same email (R8)',
            F.Apply_To_Same_Email__c,
            onOff(r.settings.applyToSameEmail)
        ]
    ];
    const head =
        r.changed !== undefined
            ? `Saved the organization default of ${r.targetOrg}${r.changed.length ? ` (${r.changed.join(', ')})` : ''}.`
            : r.source === 'defaults'
              ? `${r.targetOrg} has no Opt-Out Sync Settings record: the sync uses the defaults.`
              : `Opt-Out Sync Settings of ${r.targetOrg} (organization default):`;
    return [
        head,
        renderTable(['Setting', 'Field', 'Value'], rows),
        `Unsubscribes are written to ${r.fieldWritten}${r.fieldWritten !== r.settings.optOutField ? ' (the nightly sync is off, so pushes write Email Opt Out)' : ''}.`
    ].join('\n');
}

async function settingsCommand(
    action: 'show' | 'set',
    opts: SettingsOptions,
    out: Output
): Promise<number> {
    const targetOrg = targetOrgOption(opts.targetOrg);
    const patch = action === 'set' ? settingsPatch(opts) : undefined;
    if (
        action === 'show' &&
        [
            opts.nightlySync,
            opts.optOutField,
            opts.allAudiencesRule,
            opts.sameEmail
        ].some((v) => v !== undefined)
    )
        throw new OptoutError(
            'BAD_ARGUMENT',
            '`settings show` takes no values; use `settings set` to change them.',
            {
                exitCode: 2
            }
        );
    const client = await openOrg(targetOrg, {
        log: (level, message) => out.log(level, message)
    });
    try {
        const result = patch
            ? await writeSettings(client, patch)
            : await readSettings(client);
        const r = report(
            targetOrg,
            result,
            patch ? Object.keys(patch) : undefined
        );
        out.result(r, () => human(r));
        return 0;
    } finally {
        await client.close();
    }
}

export const register: CommandModule = (program: Command) => {
    program
        .command('settings')
        .description(summaryOf('settings'))
        .addArgument(
            new Argument('<action>', 'show or set').choices(['show', 'set'])
        )
        .requiredOption(
            '--target-org <org>',
            'org alias or username known to the sf CLI, or "local"'
        )
        .option(
            '--nightly-sync <on|off>',
            'run the nightly two-way reconciliation (R3)'
        )
        .option(
            '--opt-out-field <field>',
            `the field unsubscribes are written to: ${OPT_OUT_FIELDS.join(' or ')}`
        )
        .option(
            '--all-audiences-rule <on|off>',
            'check Email Opt Out when unsubscribed from every audience (R5b)'
        )
        .option(
            '--same-email <on|off>',
            'apply an unsubscribe to every record with the same email (R8)'
        )
        .action(
            async (
                action: 'show' | 'set',
                opts: SettingsOptions,
                cmd: Command
            ) => runCommand(cmd, (out) => settingsCommand(action, opts, out))
        );
};
