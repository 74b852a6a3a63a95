/** `optout import` text at 80 and 160 columns: the counts, and the diagnostics for stderr. */
import type { ImportResult } from '../commands/import';
import { renderImport, renderImportDiagnostics } from '../render/import';
import { WIDTHS, missingFacts, overflowing } from './render-ledger-helpers';

const IMPORTED: ImportResult = {
    file: '/home/marketing/exports/2026-11/members_export_Monthly_newsletter_and_partner_offers.csv',
    format: 'mailchimp',
    mailchimpKind: 'unsubscribed',
    status: 'partial',
    rowsRead: 120_431,
    rowsValid: 120_429,
    personsUpserted: 118_002,
    audiencesUpserted: 1,
    membershipsChanged: 9_876,
    unsubscribesAdded: 4_321,
    skipped: { unchanged: 105_000, stale: 12, blocked: 3 },
    blockedLines: [17, 2_048, 99_999],
    invalidCount: 2,
    invalid: [
        { line: 3, problems: ["email 'bad' has no '@'"] },
        {
            line: 4,
            problems: ["status 'Gone' is not one of Subscribed, Unsubscribed"]
        }
    ],
    ledger: '/srv/optout/.optout/ledger.db',
    durationMs: 8_412
};

const REJECTED: ImportResult = {
    ...IMPORTED,
    format: 'csv',
    mailchimpKind: null,
    status: 'rejected',
    code: 'INVALID_ROWS',
    message: 'Nothing imported: 2 invalid row(s).',
    actions: [
        'Fix the reported rows and import again',
        'Or import the valid rows only: add --skip-invalid'
    ]
};

describe.each(WIDTHS)('optout import at %i columns', (columns) => {
    it('fits and shows every count', () => {
        const text = renderImport(IMPORTED, columns);
        expect(overflowing(text, columns)).toEqual([]);
        expect(
            missingFacts(text, [
                'Mailchimp export (unsubscribed)',
                '120431',
                '118002',
                '9876',
                '4321',
                '105000',
                'Kept unsubscribed (R4)'
            ])
        ).toEqual([]);
        // The path may wrap, never lose a character.
        expect(text.replace(/[│\s]/g, '')).toContain(IMPORTED.file);
    });

    it('says a rejected file imported nothing, within the width', () => {
        const text = renderImport(REJECTED, columns);
        expect(overflowing(text, columns)).toEqual([]);
        expect(text.replace(/\s+/g, ' ')).toContain('Checked 120431 row(s) of');
        expect(text.replace(/\s+/g, ' ')).toContain(
            '2 invalid, nothing imported into /srv/optout/.optout/ledger.db.'
        );
    });
});

describe('the diagnostics on stderr', () => {
    it('list the invalid lines, the rows kept unsubscribed and the warning', () => {
        expect(renderImportDiagnostics(IMPORTED)).toBe(
            "line 3: email 'bad' has no '@'\n" +
                "line 4: status 'Gone' is not one of Subscribed, Unsubscribed\n" +
                'note: 3 row(s) asked to leave Unsubscribed while the audience unsubscribe is active (lines 17, 2048, 99999); use optout resubscribe to lift one deliberately.\n' +
                'warning: 2 invalid row(s) skipped.\n'
        );
    });

    it('end with the error and what to do when nothing was imported', () => {
        expect(renderImportDiagnostics(REJECTED)).toMatch(
            /Error \(INVALID_ROWS\): Nothing imported: 2 invalid row\(s\)\.\n {2}Try this: Fix the reported rows and import again\n {2}Try this: Or import the valid rows only: add --skip-invalid\n$/
        );
    });
});
