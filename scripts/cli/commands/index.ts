/**
 * The manifest of the `optout` commands: name, arguments and summary of each, and how to
 * load it. `optout --help` reads only this file; running a command loads that command's
 * module alone (as oclif's manifest does for the sf CLI), so a command pays only for the
 * libraries it uses. Add a command by adding its module here; the module takes its summary
 * from this list (`summaryOf`), and a test checks that each module registers what its
 * entry says.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- each module is required when its command runs, not at start */
import type { CommandModule } from '../command';

export interface CommandEntry {
    name: string;
    /** Positional arguments as shown in the help, e.g. `<file>`. */
    args?: string;
    summary: string;
    /** Loads the command's module and returns its registration. */
    load(): CommandModule;
}

export const COMMANDS: readonly CommandEntry[] = [
    {
        name: 'import',
        args: '<file>',
        summary:
            'Import memberships into the ledger from a CSV file (email,salesforce_id,audience_id,audience_name,status,changed_at) or a Mailchimp audience export',
        load: () => (require('./import') as typeof import('./import')).register
    },
    {
        name: 'unsubscribe',
        summary:
            'Record an unsubscribe in the ledger: from all email, or from one audience with --audience',
        load: () =>
            (require('./unsubscribe') as typeof import('./unsubscribe'))
                .register
    },
    {
        name: 'resubscribe',
        summary:
            'Remove an unsubscribe from the ledger, deliberately and audited (R4); never changes Salesforce',
        load: () =>
            (require('./resubscribe') as typeof import('./resubscribe'))
                .register
    },
    {
        name: 'history',
        summary:
            'Show the audit trail of an email: unsubscribes, memberships, Salesforce writes (R10)',
        load: () =>
            (require('./history') as typeof import('./history')).register
    },
    {
        name: 'status',
        summary:
            'Show ledger counts, pending pushes with their age, and the last run of each job',
        load: () => (require('./status') as typeof import('./status')).register
    },
    {
        name: 'retry',
        summary:
            'Put records Salesforce refused (dead letters, and those waiting for their back-off) back for the next sync, after the cause was fixed (R14)',
        load: () => (require('./retry') as typeof import('./retry')).register
    },
    {
        name: 'sync',
        args: '<job>',
        summary:
            'Run a sync job against an org: push (pending unsubscribes, real time), hourly (audience memberships), nightly (two-way reconciliation)',
        load: () => (require('./sync') as typeof import('./sync')).register
    },
    {
        name: 'deploy',
        summary:
            'Deploy the package (force-app) to an org, then its translations (force-app-translations) where the org has Translation Workbench, and give the sync’s user the Opt_Out_Sync_Integration permission set',
        load: () => (require('./deploy') as typeof import('./deploy')).register
    },
    {
        name: 'settings',
        args: '<action>',
        summary:
            'Show or change the org’s Opt-Out Sync Settings (organization default)',
        load: () =>
            (require('./settings') as typeof import('./settings')).register
    },
    {
        name: 'serve',
        summary:
            'Receive unsubscribes over HTTP (Mailchimp webhooks and JSON) and push them to Salesforce within seconds',
        load: () => (require('./serve') as typeof import('./serve')).register
    },
    {
        name: 'schedule',
        summary:
            'Run the hourly and nightly syncs on a schedule and push pending unsubscribes, until stopped',
        load: () =>
            (require('./schedule') as typeof import('./schedule')).register
    },
    {
        name: 'mailchimp',
        summary:
            'The Mailchimp connector: pull audiences and members, push unsubscribes (MAILCHIMP_API_KEY)',
        load: () =>
            (require('./mailchimp') as typeof import('./mailchimp')).register
    },
    {
        name: 'export',
        summary: 'Export ledger data for other tools',
        load: () => (require('./export') as typeof import('./export')).register
    },
    {
        name: 'ledger',
        summary:
            'Manage the ledger itself: copy it into an empty one (SQLite ↔ PostgreSQL), ids and cursors kept',
        load: () => (require('./ledger') as typeof import('./ledger')).register
    },
    {
        name: 'local-org',
        summary:
            'Run the local org: the Salesforce REST, Bulk API 2.0 and deploy APIs on SQLite, for development and tests without a Salesforce org.',
        load: () =>
            (require('./local-org') as typeof import('./local-org')).register
    },
    {
        name: 'demo',
        summary:
            'Run the whole product on the embedded local org with a realistic data set (npm start)',
        load: () => (require('./demo') as typeof import('./demo')).register
    }
];

/** The summary of a command, for its module's `.description(...)`. */
export function summaryOf(name: string): string {
    const entry = COMMANDS.find((c) => c.name === name);
    if (!entry) throw new Error(`No command '${name}' in the manifest`);
    return entry.summary;
}
