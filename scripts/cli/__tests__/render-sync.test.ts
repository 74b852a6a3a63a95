/**
 * `optout sync` text at 80 and 160 columns: every line within the width, the run's key
 * facts still there (counts, settings, the dry-run plan, the refused records).
 */
import type { JobResult } from '../../sync/result';
import { renderJobResult } from '../render/sync';

function widest(text: string): number {
    return Math.max(...text.split('\n').map((l) => [...l].length));
}

const run: JobResult = {
    job: 'nightly',
    runId: 'run-2026-12-05T05-00-00-000Z-nightly-7f3a',
    dryRun: true,
    targetOrg: 'acme-production-org-with-a-long-alias',
    startedAt: '2026-12-05T05:00:00.000Z',
    durationMs: 12_345,
    apiRequests: 1234,
    apiUsage: { used: 4321, max: 15000 },
    recordsWritten: 0,
    ledgerUnsubscribesAdded: 0,
    membershipsUpserted: 0,
    unsubscribesDelivered: 0,
    skipped: { already_opted_out: 1200, no_matching_record: 17 },
    failed: Array.from({ length: 22 }, (_, i) => ({
        recordId: `0038d00000000${String(i).padStart(2, '0')}AAA`,
        object: 'Contact',
        field: 'HasOptedOutOfEmail',
        errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        message:
            "Investor Relations manages this contact's email preferences: ask the IR team to change them.",
        email: `investor.${i}@woodgrovebank.example`
    })),
    retried: { requests: 3, records: 40 },
    deferred: {
        count: 5000,
        reason: 'The API budget of this run (80% of the org’s daily requests) ran out; the next run goes on from here.'
    },
    status: 'partial',
    settings: {
        source: 'org-default',
        nightlySyncEnabled: true,
        optOutField: 'HasOptedOutOfEmail',
        fieldWritten: 'HasOptedOutOfEmail',
        allAudiencesRule: true,
        applyToSameEmail: false
    },
    modes: { read: 'scan', write: 'bulk' },
    plan: {
        fieldWrites: 1500,
        membershipUpserts: 300,
        ledgerUnsubscribes: 19,
        pendingCleared: 3,
        deliveries: 1500,
        sample: [
            {
                object: 'Contact',
                id: '0038d0000000001AAA',
                field: 'HasOptedOutOfEmail',
                value: true,
                email: 'ana.lopez@northwindtraders.example',
                because: 'unsubscribed from everything on 2026-12-04'
            }
        ]
    },
    stuck: { retrying: 2, deadLetters: 1 },
    message:
        'Nightly reconciliation compared 120000 Contacts and Leads with the ledger in 4 pages.'
};

describe.each([80, 160])('renderJobResult at %i columns', (columns) => {
    const text = renderJobResult(run, columns);

    it('keeps every line within the width', () => {
        expect(widest(text)).toBeLessThanOrEqual(columns);
    });

    it('keeps the key facts', () => {
        const flat = text.replace(/[\s│┌┐└┘├┤┬┴┼─]+/g, ' ');
        expect(flat).toContain(
            'nightly → acme-production-org-with-a-long-alias: partial (dry run: nothing was written) in 12.3 s'
        );
        expect(flat).toContain(run.runId);
        expect(flat).toContain(
            'already opted out 1,200, no matching record 17'
        );
        expect(flat).toContain('1,234 (org usage 4,321 of 15,000 today)');
        expect(flat).toContain('2 retrying, 1 dead letter(s)');
        expect(flat).toContain('Would write opt-out fields 1,500');
        expect(flat).toContain(
            'Deferred: 5,000 item(s) left for the next run.'
        );
        expect(flat).toContain('"email":"ana.lopez@northwindtraders.example"');
        expect(flat).toContain('… and 2 more (see --json).');
        // The refused records: ids, error codes and emails whole, in a table
        // when it fits, else one block per record.
        expect(text).toContain('0038d0000000019AAA');
        expect(text).not.toContain('0038d0000000020AAA'); // the first 20 only
        expect(text).toContain('FIELD_CUSTOM_VALIDATION_EXCEPTION');
        expect(text).toContain('investor.19@woodgrovebank.example');
    });
});

it('a run without a plan, failures or deferral is just its title and counts', () => {
    const text = renderJobResult(
        {
            ...run,
            dryRun: false,
            status: 'succeeded',
            failed: [],
            deferred: null,
            plan: undefined,
            stuck: undefined,
            message: undefined
        },
        80
    );
    expect(text.split('\n')[0]).toBe(
        'nightly → acme-production-org-with-a-long-alias: succeeded in 12.3 s'
    );
    expect(text).not.toMatch(/Would write|Deferred|more \(see --json\)/);
});
