/**
 * The demo summary at 80 and 160 columns, from the summary of a real small run
 * (fixtures/summary-small.json, `optout --json demo --size small`, paths made neutral):
 * every line within the width, and the key facts still there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSummary, type DemoSummary } from '../summary';

const summary = JSON.parse(
    readFileSync(join(__dirname, 'fixtures', 'summary-small.json'), 'utf8')
) as DemoSummary;

function widest(text: string): number {
    return Math.max(...text.split('\n').map((l) => [...l].length));
}

/** The text without table borders and line breaks, to look for facts in. */
const flat = (text: string): string => text.replace(/[\s│┌┐└┘├┤┬┴┼─]+/g, ' ');

describe.each([80, 160])('renderSummary at %i columns', (columns) => {
    const text = renderSummary(summary, columns);

    it('keeps every line within the width', () => {
        expect(widest(text)).toBeLessThanOrEqual(columns);
    });

    it('keeps the key facts', () => {
        expect(text).toMatch(/^Demo finished in 5\.7 s/);
        const f = flat(text);
        expect(f).toContain('121 Contacts, 80 Leads (1 converted)');
        // Every job (a wrapped table cell leaves other cells between its words).
        for (const job of [
            'hourly',
            'nightly',
            'mailchimp pull',
            'mailchimp push',
            'push after optout retry'
        ])
            expect(f).toMatch(new RegExp(job.split(' ').join('.{1,120}?')));
        // A heading may wrap too, like the jobs' names.
        expect(f).toMatch(/Memberships.{1,120}?upserted/);
        expect(f).toContain('Contact.HasOptedOutOfEmail 31');
        expect(f).toContain('44 to Salesforce for the jobs');
        expect(text).toContain('Refused by Salesforce (optout status)');
        expect(f).toContain(
            'A validation rule refuses the write (validation_rule): 1 record'
        );
        expect(f).toContain('What to do:');
        // Every person's rule, name, email and story.
        for (const e of summary.examples) {
            expect(f).toContain(e.name);
            expect(text).toContain(e.email);
            // The story's start (in the table its lines sit beside the email).
            expect(f).toContain(e.story.slice(0, 40));
        }
        // Every next command, whole, and where the files are.
        for (const next of summary.next)
            expect(text).toContain(next.slice(0, next.indexOf('  ')));
        expect(text).toContain(summary.ledger);
        expect(text).toContain('start over: npm start -- --reset');
    });
});

it('puts the people in a table when there is room, in blocks when narrow', () => {
    expect(renderSummary(summary, 160)).toMatch(/│ Rule\s+│ Person\s+│/);
    const narrow = renderSummary(summary, 80);
    expect(narrow).not.toMatch(/│ Rule\s+│/);
    expect(narrow).toContain(`R8 · Ana López · ${summary.examples[0].email}`);
});
