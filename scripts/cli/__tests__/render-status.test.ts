/**
 * `optout status` fits the terminal: at 80 and at 160 columns every line fits, and the
 * facts a person looks for (counts, pending, refusals with what to do, the last runs
 * with their API usage) are all there. Built from a real ledger with refusals and runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import { DEAD_LETTER_AFTER } from '../../model/stuck';
import { status, type StatusResult } from '../commands/status';
import { renderStatus } from '../render/status';

let dir: string;
let result: StatusResult;

beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'render-status-'));
    const path = join(
        dir,
        'a-rather-long-folder-name-for-the-ledger',
        'ledger.db'
    );
    const l = await Ledger.open(path);
    try {
        const id = (
            await l.recordUnsubscribe({
                email: 'blocked.person.with.a.long.address@example.com',
                scope: 'all',
                source: 'webhook'
            })
        ).unsubscribe.id;
        await l.recordUnsubscribe({
            email: 'fine@example.com',
            scope: 'audience',
            audienceId: 'news',
            audienceName: 'Monthly newsletter',
            source: 'platform'
        });
        for (let i = 0; i < DEAD_LETTER_AFTER; i++)
            await l.recordUnsubscribeAttempts(
                [
                    {
                        id,
                        outcome: 'failed',
                        error: {
                            code: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                            message:
                                'Blocked contacts cannot be opted out. Ask the account owner to unblock the contact first.',
                            recordId: '0038d0000000002AAA',
                            object: 'Contact'
                        }
                    }
                ],
                { at: new Date().toISOString(), delay: () => 0, runId: `r${i}` }
            );
        for (const job of ['push', 'hourly', 'nightly']) {
            const run = await l.startRun({ job });
            await l.finishRun(run.id, {
                status: 'succeeded',
                result: {
                    job,
                    status: 'succeeded',
                    apiRequests: 15,
                    apiUsage: { used: 1234, max: 15000 },
                    recordsWritten: 120,
                    membershipsUpserted: 40,
                    unsubscribesDelivered: 3,
                    deferred: 0
                }
            });
        }
    } finally {
        await l.close();
    }
    result = await status({ ledger: path });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([80, 160])('optout status at %i columns', (columns) => {
    const text = (): string => renderStatus(result, columns);

    it('fits: no line is wider than the terminal', () => {
        const widest = Math.max(
            ...text()
                .split('\n')
                .map((l) => [...l].length)
        );
        expect(widest).toBeLessThanOrEqual(columns);
    });

    it('keeps the facts', () => {
        const flat = text().replace(/[│┃|]/g, ' ').replace(/\s+/g, ' ');
        for (const fact of [
            'Persons',
            'Pending pushes',
            '1 dead letter',
            'blocked.person.with.a.long.address@example.com',
            '0038d0000000002AAA',
            'Blocked contacts cannot be opted out.',
            'What to do:',
            'hourly',
            'nightly',
            '1234/15000',
            'recordsWritten 120'
        ])
            expect(flat).toContain(fact);
    });
});

it('is not wrapped when the width is unlimited (output piped to a file)', () => {
    const text = renderStatus(result, Infinity);
    expect(text).toMatch(
        /hourly.*succeeded.*15.*1234\/15000.*recordsWritten 120/
    );
});
