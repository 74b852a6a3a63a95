/** `optout export suppressions --out FILE` text at 80 and 160 columns. */
import type { ExportResult } from '../commands/export';
import { encodeCursor } from '../../ledger/feed';
import { renderExport } from '../render/export';
import { WIDTHS, missingFacts, overflowing } from './render-ledger-helpers';

const RESULT: ExportResult = {
    status: 'ok',
    format: 'csv',
    out: '/var/lib/optout/exports/suppressions-for-the-sending-platform-2026-11-03.csv',
    items: 1_234,
    since: encodeCursor(17),
    next: encodeCursor(1_251),
    ledger: '/srv/optout/.optout/ledger.db'
};

describe.each(WIDTHS)('optout export at %i columns', (columns) => {
    const text = renderExport(RESULT, columns);

    it('fits', () => {
        expect(overflowing(text, columns)).toEqual([]);
    });

    it('says how many items went where, and gives the next cursor whole on its line', () => {
        expect(
            missingFacts(text.replace(/\s+/g, ' '), [
                'Wrote 1234 suppression items to',
                '(csv).'
            ])
        ).toEqual([]);
        expect(text.replace(/\s/g, '')).toContain(RESULT.out);
        expect(text.split('\n')).toContain(`Next cursor: ${RESULT.next}`);
    });
});

it('says "item" for one', () => {
    expect(renderExport({ ...RESULT, items: 1 }, 160)).toMatch(
        /^Wrote 1 suppression item to /
    );
});
