/**
 * `optout settings show|set --target-org X` — the org's Opt-Out Sync Settings (the
 * organization default of the Opt_Out_Sync_Settings__c hierarchy custom setting), read
 * and written by the Salesforce adapter (`salesforce/settings.ts`). `set` checks every
 * value before connecting; a bad value writes nothing. Text in render/settings.ts.
 */
import { Argument, type Command } from 'commander';
import { OptoutError } from '../../model/errors';
import { OPT_OUT_FIELDS } from '../../model/schema';
import { openOrg } from '../../salesforce/open';
import {
    effectiveOptOutField,
    readSettings,
    writeSettings,
    type SettingsPatch,
    type SettingsReadResult,
    type SyncSettings
} from '../../salesforce/settings';
import { execute, type CommandModule } from '../command';
import type { Output } from '../output';
import { parseOnOff, parseOptOutField, parseTargetOrg } from '../options';
import { renderSettings } from '../render/settings';
import { summaryOf } from './index';

export type SettingsAction = 'show' | 'set';

export interface SettingsOptions {
    targetOrg: string;
    nightlySync?: string;
    optOutField?: string;
    allAudiencesRule?: string;
    sameEmail?: string;
}

/** The `--json` result: the settings as they are (after a `set`, as saved). */
export interface SettingsResult {
    targetOrg: string;
    source: SettingsReadResult['source'];
    recordId: string | null;
    settings: SyncSettings;
    /** What a push writes now (R1/R2). */
    fieldWritten: string;
    /** After a `set`: the settings it changed. */
    changed?: (keyof SettingsPatch)[];
}

/** The patch a `set` asks for, validated (nothing is sent when a value is bad). */
export function settingsPatch(opts: SettingsOptions): SettingsPatch {
    const patch: SettingsPatch = {};
    const nightly = parseOnOff(opts.nightlySync, '--nightly-sync');
    if (nightly !== undefined) patch.nightlySyncEnabled = nightly;
    if (opts.optOutField !== undefined)
        patch.optOutField = parseOptOutField(opts.optOutField);
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

/** `show` takes no values: a value there is a usage error, not a silent no-op. */
function checkShow(opts: SettingsOptions): void {
    const values = [
        opts.nightlySync,
        opts.optOutField,
        opts.allAudiencesRule,
        opts.sameEmail
    ];
    if (values.some((v) => v !== undefined))
        throw new OptoutError(
            'BAD_ARGUMENT',
            '`settings show` takes no values; use `settings set` to change them.',
            { exitCode: 2 }
        );
}

/** The result of a read or a write of the settings. */
export function settingsResult(
    targetOrg: string,
    r: SettingsReadResult,
    changed?: (keyof SettingsPatch)[]
): SettingsResult {
    return {
        targetOrg,
        source: r.source,
        recordId: r.recordId,
        settings: { ...r.settings },
        fieldWritten: effectiveOptOutField(r.settings),
        ...(changed ? { changed } : {})
    };
}

/** Runs `optout settings show|set`: checks the values, then reads or writes the org. */
export async function settings(
    action: SettingsAction,
    opts: SettingsOptions,
    out: Output
): Promise<SettingsResult> {
    const targetOrg = parseTargetOrg(opts.targetOrg);
    const patch = action === 'set' ? settingsPatch(opts) : undefined;
    if (action === 'show') checkShow(opts);
    const client = await openOrg(targetOrg, {
        log: (level, message) => out.log(level, message)
    });
    try {
        if (!patch)
            return settingsResult(targetOrg, await readSettings(client));
        const written = await writeSettings(client, patch);
        return settingsResult(
            targetOrg,
            written,
            Object.keys(patch) as (keyof SettingsPatch)[]
        );
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
                action: SettingsAction,
                opts: SettingsOptions,
                cmd: Command
            ) =>
                execute(cmd, {
                    run: (out) => settings(action, opts, out),
                    render: renderSettings
                })
        );
};
