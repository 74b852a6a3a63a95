import { parseConfig, parseIntakeArgs } from '../intake-args';
import {
    exactlyOnceProblems,
    failureCell,
    mergeSamples,
    percentile,
    percentiles,
    renderIntakeSection,
    renderText,
    summarize,
    tableRows,
    type ConfigResult,
    type IntakeRunFile,
    type LoadRecord,
    type ServeTotals
} from '../intake-report';
import { soqlDateTime } from '../intake-load';
import { failureText, redactUrl, withDatabase } from '../intake-serve';
import { renderMarkdown } from '../report';

describe('percentiles', () => {
    it('takes the nearest rank: always a measured value', () => {
        const s = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
        expect(percentile(s, 50)).toBe(5);
        expect(percentile(s, 99)).toBe(10);
        expect(percentile(s, 10)).toBe(1);
        expect(percentile(s, 100)).toBe(10);
        // 1..100: the 99th of 100 samples is 99, not the max.
        const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
        expect(percentile(hundred, 99)).toBe(99);
        expect(percentile(hundred, 50)).toBe(50);
    });

    it('has nothing to say about no samples, and refuses a bad rank', () => {
        expect(percentile([], 50)).toBeNull();
        expect(percentiles([])).toEqual({
            n: 0,
            p50: null,
            p99: null,
            max: null
        });
        expect(() => percentile([1], 0)).toThrow(RangeError);
        expect(() => percentile([1], 101)).toThrow(RangeError);
    });

    it('merges replicas request by request, not by averaging their percentiles', () => {
        const busy = Array.from({ length: 98 }, () => 10);
        const idle = [1000, 1000];
        const merged = mergeSamples([busy, idle]);
        expect(merged).toHaveLength(100);
        expect(percentile(merged, 50)).toBe(10);
        expect(percentile(merged, 99)).toBe(1000);
        // The mean of the replicas' medians would say 505.
        expect(
            ((percentile(busy, 50) ?? 0) + (percentile(idle, 50) ?? 0)) / 2
        ).toBe(505);
        expect(mergeSamples([])).toEqual([]);
    });
});

function serveTotals(delivered: number, pending = 0): ServeTotals {
    return {
        requests: 0,
        accepted: 0,
        refused: 0,
        unsubscribesRecorded: delivered,
        pushes: 1,
        delivered,
        apiRequests: 3,
        pending
    };
}

/** A load of four emails on two replicas: a, b, c answered 200, d cut at the end. */
function load(): LoadRecord {
    return {
        sentAt: new Map([
            ['a', 1000],
            ['b', 1000],
            ['c', 1010],
            ['d', 1020]
        ]),
        okAt: new Map([
            ['a', 1005],
            ['b', 1020],
            ['c', 1040]
        ]),
        replicaOf: new Map([
            ['a', 0],
            ['b', 1],
            ['c', 0],
            ['d', 1]
        ]),
        non200: {},
        firstSentAt: 1000,
        lastAnswerAt: 1500,
        autocannon: { p50: 20, p99: 30, requests: 3 }
    };
}

describe('summarize', () => {
    const config = {
        name: 'postgres-2',
        engine: 'postgres',
        replicas: 2
    } as const;

    it('times each request from its own send, per replica and merged', () => {
        const seen = new Map([
            ['a', 2000],
            ['b', 3000],
            ['c', 2010]
        ]);
        const ledger = new Map([
            ['a', 1],
            ['b', 1],
            ['c', 1]
        ]);
        const r = summarize(
            config,
            4,
            load(),
            seen,
            ledger,
            [serveTotals(2), serveTotals(1)],
            3,
            0.5
        );
        expect(r.sent).toBe(4);
        expect(r.ok).toBe(3);
        expect(r.noAnswer).toBe(1);
        expect(r.loadSeconds).toBeCloseTo(0.5);
        expect(r.acceptedPerSecond).toBeCloseTo(6);
        expect(r.toOkByReplica?.map((p) => p.n)).toEqual([2, 1]);
        expect(r.toOkByReplica?.[0].max).toBe(30);
        expect(r.toOk).toEqual({ n: 3, p50: 20, p99: 30, max: 30 });
        expect(r.toConfirmed).toEqual({
            n: 3,
            p50: 1000,
            p99: 2000,
            max: 2000
        });
        expect(r.check?.problems).toEqual([]);
        expect(r.check?.delivered).toBe(3);
    });

    it('says what breaks "exactly once"', () => {
        const seen = new Map([
            ['a', 2000],
            ['d', 2000]
        ]);
        const ledger = new Map([
            ['a', 2],
            ['b', 1]
        ]);
        const r = summarize(
            config,
            4,
            load(),
            seen,
            ledger,
            [serveTotals(3, 1)],
            4,
            120
        );
        expect(r.check?.unconfirmed).toBe(2);
        expect(r.check?.seenWritten).toBe(2);
        expect(r.check?.problems).toEqual([
            '2 accepted but not seen in the org',
            '4 record writes for 2 records seen written',
            '1 emails twice in the ledger',
            '2 unsubscribes in the ledger for 3 answered 200',
            '3 delivered for 2 in the ledger',
            '1 still pending'
        ]);
    });

    it('finds nothing wrong when every count agrees', () => {
        expect(
            exactlyOnceProblems({
                ok: 10,
                confirmed: 10,
                unconfirmed: 0,
                seenWritten: 11,
                recordWrites: 11,
                ledgerUnsubscribes: 11,
                ledgerDuplicates: 0,
                delivered: 11,
                pending: 0
            })
        ).toEqual([]);
    });
});

function run(results: ConfigResult[], startedAt: string): IntakeRunFile {
    return {
        kind: 'optout-bench-intake',
        version: 1,
        startedAt,
        command: 'npm run bench:intake',
        machine: {
            cpuModel: 'Test CPU',
            cores: 2,
            memoryGiB: 24,
            node: 'v20',
            platform: 'Linux',
            date: startedAt,
            loadAverage: { start: 1, end: 2 }
        },
        settings: {
            durationSeconds: 10,
            connections: 10,
            count: 20_000,
            pollMs: 100,
            confirmTimeoutSeconds: 120,
            cli: 'source'
        },
        results
    };
}

const measured: ConfigResult = summarize(
    { name: 'sqlite-1', engine: 'sqlite', replicas: 1 },
    4,
    // d answered 503.
    { ...load(), replicaOf: new Map(), non200: { '503': 1 } },
    new Map([
        ['a', 2000],
        ['b', 3000],
        ['c', 2010]
    ]),
    new Map([
        ['a', 1],
        ['b', 1],
        ['c', 1]
    ]),
    [serveTotals(3)],
    3,
    1
);

const failed: ConfigResult = {
    config: { name: 'postgres-3', engine: 'postgres', replicas: 3 },
    status: 'failed',
    error: 'optout serve exited (1) before listening: LEDGER_ENGINE_UNAVAILABLE\nmore'
};

describe('rendering', () => {
    it('prints a row per configuration, a failed one with its error', () => {
        const rows = tableRows([measured, failed]);
        expect(rows[0]).toEqual([
            'sqlite-1',
            '4',
            '3',
            '1 (1×503)',
            '0',
            '6',
            '20 ms',
            '30 ms',
            '1.00 s',
            '2.00 s',
            'yes (3)'
        ]);
        expect(rows[1][0]).toBe('postgres-3');
        expect(rows[1][1]).toBe('–');
        expect(rows[1][10]).toBe(
            'failed: optout serve exited (1) before listening: LEDGER_ENGINE_UNAVAILABLE'
        );
        const text = renderText(
            run([measured, failed], '2026-12-05T08:00:00.000Z')
        );
        expect(text.split('\n')[0]).toMatch(/^config +sent +200s/);
        expect(text).toContain('polled every 100 ms');
    });

    it('shortens a failure to its first line, without the database URL', () => {
        expect(
            failureCell(
                'LEDGER_ENGINE_UNAVAILABLE: not yet (ledger postgres://u:***@127.0.0.1:5432/db_1). Nothing was written.\nstack'
            )
        ).toBe(
            'LEDGER_ENGINE_UNAVAILABLE: not yet (ledger postgres://…). Nothing was written.'
        );
        expect(failureCell('x'.repeat(300))).toHaveLength(160);
    });

    it('keeps the latest result of each configuration in the README section', () => {
        const older = run(
            [{ ...failed, config: { ...measured.config } }],
            '2026-12-04T08:00:00.000Z'
        );
        const newer = run([measured, failed], '2026-12-05T08:00:00.000Z');
        const md = renderIntakeSection(
            [older, newer],
            ['a-intake.json', 'b-intake.json']
        ).join('\n');
        expect(md).toContain('## Webhook intake');
        expect(md).toContain('[a-intake.json](results/a-intake.json)');
        expect(md).toMatch(/\| sqlite-1 \| 4 \| 3 \|/);
        expect(md.match(/\| sqlite-1 \|/g)).toHaveLength(1);
        expect(md).toMatch(/\| postgres-3 \|.*failed: /);
        expect(renderIntakeSection([], [])).toEqual([]);
    });

    it('leaves the sync tables as they were and adds the section after them', () => {
        const without = renderMarkdown([], []);
        const withIntake = renderMarkdown([], [], {
            runs: [run([measured], '2026-12-05T08:00:00.000Z')],
            files: ['x-intake.json']
        });
        expect(withIntake.startsWith(without.trimEnd())).toBe(true);
        expect(withIntake.slice(without.length)).toContain('## Webhook intake');
        expect(without).not.toContain('Webhook intake');
    });
});

describe('arguments', () => {
    it('measures the three configurations of the issue by default', () => {
        const o = parseIntakeArgs([], {});
        expect(o.configs.map((c) => c.name)).toEqual([
            'sqlite-1',
            'postgres-1',
            'postgres-3'
        ]);
        expect(o.pgUrl).toBeUndefined();
        expect(o.durationSeconds).toBe(10);
        expect(o.connections).toBe(10);
        expect(
            parseIntakeArgs([], { OPTOUT_TEST_PG_URL: 'postgres://u@h/db' })
                .pgUrl
        ).toBe('postgres://u@h/db');
    });

    it('takes configurations by name or as a, b, c', () => {
        expect(
            parseIntakeArgs(['--configs', 'a,c', '--duration=5s'], {}).configs
        ).toEqual([
            { name: 'sqlite-1', engine: 'sqlite', replicas: 1 },
            { name: 'postgres-3', engine: 'postgres', replicas: 3 }
        ]);
        expect(parseConfig('pg-2')).toEqual({
            name: 'postgres-2',
            engine: 'postgres',
            replicas: 2
        });
        expect(() => parseConfig('mysql-1')).toThrow(/ENGINE-REPLICAS/);
        expect(() => parseConfig('sqlite-0')).toThrow(/between 1 and 16/);
    });

    it('runs one configuration on a ledger given with --ledger', () => {
        const pg = parseIntakeArgs(
            ['--ledger', 'postgres://u:p@h/db', '--replicas', '2'],
            {}
        );
        expect(pg.configs).toEqual([
            {
                name: 'postgres-2',
                engine: 'postgres',
                replicas: 2,
                ledger: 'postgres://u:p@h/db'
            }
        ]);
        const file = parseIntakeArgs(['--ledger', 'x.db'], {}).configs[0];
        expect(file.engine).toBe('sqlite');
        expect(file.replicas).toBe(1);
        expect(file.ledger).toMatch(/\/x\.db$/);
    });

    it('refuses what cannot be run', () => {
        expect(() =>
            parseIntakeArgs(['--ledger', 'x.db', '--configs', 'a'], {})
        ).toThrow(/not with --configs/);
        expect(() =>
            parseIntakeArgs(['--configs', 'c', '--connections', '2'], {})
        ).toThrow(/fewer than its 3 replicas/);
        expect(() => parseIntakeArgs(['--count', '5'], {})).toThrow(
            /fewer than --connections/
        );
        expect(() => parseIntakeArgs(['--configs', 'a,sqlite-1'], {})).toThrow(
            /named twice/
        );
        expect(() => parseIntakeArgs(['--pg-url', 'mysql://x'], {})).toThrow(
            /not a postgres/
        );
        expect(() => parseIntakeArgs(['--duration'], {})).toThrow(
            /needs a value/
        );
        expect(() => parseIntakeArgs(['--bogus'], {})).toThrow(
            /unknown option/
        );
    });
});

describe('helpers', () => {
    it('writes SOQL datetimes in whole seconds', () => {
        expect(soqlDateTime(Date.UTC(2026, 11, 5, 7, 8, 9, 999))).toBe(
            '2026-12-05T07:08:09Z'
        );
    });

    it('names a fresh database on the same server and hides the password', () => {
        const url = 'postgres://optout_test:secret@127.0.0.1:5432/optout_test';
        expect(withDatabase(url, 'optout_intake_x')).toBe(
            'postgres://optout_test:secret@127.0.0.1:5432/optout_intake_x'
        );
        expect(redactUrl(url)).toBe(
            'postgres://optout_test:***@127.0.0.1:5432/optout_test'
        );
    });

    it("reads serve's failure envelope, else its stderr", () => {
        const envelope = JSON.stringify(
            {
                status: 1,
                name: 'LEDGER_ENGINE_UNAVAILABLE',
                message: 'not yet'
            },
            null,
            2
        );
        expect(failureText(`${envelope}\n`, 'ignored')).toBe(
            'LEDGER_ENGINE_UNAVAILABLE: not yet'
        );
        expect(failureText('', 'boom\n')).toBe('boom');
        expect(failureText('', '')).toBe('no output');
    });
});
