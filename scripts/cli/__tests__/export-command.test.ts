/**
 * `optout export suppressions`: csv and jsonl, --since, the next cursor, and bad input
 * refused with nothing written.
 */
import {
    existsSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    rmSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Ledger } from '../../ledger/ledger';
import { encodeCursor } from '../../ledger/feed';
import { cli } from './run-cli';

let dir: string;
let ledgerPath: string;

beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cli-export-'));
    ledgerPath = join(dir, 'ledger.db');
    const ledger = await Ledger.open(ledgerPath);
    await ledger.upsertAudience({ id: 'aud1', name: 'News' });
    await ledger.recordUnsubscribe({
        email: 'A@x.org',
        scope: 'all',
        source: 'webhook',
        reason: 'said "stop", twice',
        collectedAt: '2025-03-01T12:00:00.000Z'
    });
    await ledger.recordUnsubscribe({
        email: 'b@x.org',
        scope: 'audience',
        audienceId: 'aud1',
        source: 'salesforce',
        collectedAt: '2025-03-01T13:00:00.000Z'
    });
    await ledger.resubscribe({
        email: 'a@x.org',
        reason: 'mistake',
        at: '2025-03-02T08:00:00.000Z'
    });
    await ledger.close();
});
afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
});

describe('optout export suppressions', () => {
    it('writes csv with a header, one row per event, and prints the next cursor', async () => {
        const file = join(dir, 's.csv');
        const r = await cli(
            'export',
            'suppressions',
            '--ledger',
            ledgerPath,
            '--out',
            file
        );
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`Next cursor: ${encodeCursor(3)}`);
        const rows = parse(readFileSync(file, 'utf8'), {
            columns: true
        }) as Record<string, string>[];
        expect(rows).toEqual([
            {
                email: 'A@x.org',
                scope: 'all',
                audienceId: '',
                source: 'webhook',
                reason: 'said "stop", twice',
                collectedAt: '2025-03-01T12:00:00.000Z',
                removedAt: ''
            },
            {
                email: 'b@x.org',
                scope: 'audience',
                audienceId: 'aud1',
                source: 'salesforce',
                reason: '',
                collectedAt: '2025-03-01T13:00:00.000Z',
                removedAt: ''
            },
            {
                email: 'A@x.org',
                scope: 'all',
                audienceId: '',
                source: 'webhook',
                reason: 'said "stop", twice',
                collectedAt: '2025-03-01T12:00:00.000Z',
                removedAt: '2025-03-02T08:00:00.000Z'
            }
        ]);
    });

    it('writes jsonl to stdout after --since, with the cursor on stderr', async () => {
        const r = await cli(
            'export',
            'suppressions',
            '--ledger',
            ledgerPath,
            '--format',
            'jsonl',
            '--since',
            encodeCursor(1)
        );
        expect(r.code).toBe(0);
        const lines = r.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(lines.map((l) => [l.email, l.removedAt])).toEqual([
            ['b@x.org', null],
            ['A@x.org', '2025-03-02T08:00:00.000Z']
        ]);
        expect(r.stderr.trim()).toBe(`Next cursor: ${encodeCursor(3)}`);
    });

    it('gives the result with --json, and an empty export keeps the cursor', async () => {
        const file = join(dir, 'none.jsonl');
        const r = await cli(
            'export',
            'suppressions',
            '--ledger',
            ledgerPath,
            '--format',
            'jsonl',
            '--since',
            encodeCursor(3),
            '--out',
            file,
            '--json'
        );
        expect(r.code).toBe(0);
        expect(r.json).toMatchObject({
            status: 'ok',
            format: 'jsonl',
            items: 0,
            next: encodeCursor(3),
            out: file
        });
        expect(readFileSync(file, 'utf8')).toBe('');
    });

    it('refuses bad input and writes nothing', async () => {
        const file = join(dir, 'out.csv');
        const cases: [string[], string][] = [
            [['--since', 'nope'], 'BAD_CURSOR'],
            [['--since', encodeCursor(4)], 'BAD_CURSOR'],
            [['--format', 'xml'], 'BAD_FORMAT']
        ];
        for (const [args, code] of cases) {
            const r = await cli(
                'export',
                'suppressions',
                '--ledger',
                ledgerPath,
                '--out',
                file,
                '--json',
                ...args
            );
            expect([args, r.code, r.json.name]).toEqual([args, 2, code]);
        }
        const noOut = await cli(
            'export',
            'suppressions',
            '--ledger',
            ledgerPath,
            '--json'
        );
        expect(noOut.json.name).toBe('OUT_REQUIRED');
        const missing = await cli(
            'export',
            'suppressions',
            '--ledger',
            join(dir, 'none.db'),
            '--out',
            file,
            '--json'
        );
        expect(missing.json.name).toBe('LEDGER_NOT_FOUND');
        expect(existsSync(file)).toBe(false);
        expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    });
});
