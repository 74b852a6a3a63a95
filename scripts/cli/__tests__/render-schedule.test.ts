/**
 * `optout schedule` text at 80 and 160 columns: the plan of --dry-run and of the start
 * fit the width with each job's cron, zone and next runs; the stream's lines.
 */
import { checkConfig, schedulePlan } from '../../scheduler';
import type { SchedulePlanResult, StartedEvent } from '../commands/schedule';
import { eventText, renderSchedule, renderStarted } from '../render/schedule';

function widest(text: string): number {
    return Math.max(...text.split('\n').map((l) => [...l].length));
}

const plan = schedulePlan(
    checkConfig({
        hourly: '15 * * * *',
        nightly: '30 2 * * *',
        timezone: 'Europe/Berlin',
        pushIntervalMs: 300_000
    }),
    new Date('2026-12-05T05:00:00.000Z')
);

const dryRun: SchedulePlanResult = {
    status: 'plan',
    targetOrg: 'acme-production-org-with-a-long-alias',
    ledger: '/srv/opt-out-sync/shared/state/.optout/ledger.db',
    ...plan
};

describe.each([80, 160])('at %i columns', (columns) => {
    it('the --dry-run plan fits and names each job, its schedule and next runs', () => {
        const text = renderSchedule(dryRun, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        const flat = text.replace(/[\s│┌┐└┘├┤┬┴┼─]+/g, ' ');
        expect(flat).toContain(
            `Schedule for ${dryRun.targetOrg} (ledger ${dryRun.ledger}); nothing runs with --dry-run.`
        );
        expect(flat).toContain('15 * * * * (Europe/Berlin)');
        expect(flat).toContain('30 2 * * * (Europe/Berlin)');
        for (const job of plan.jobs)
            for (const t of job.nextLocal) expect(text).toContain(t);
        expect(flat).toContain('every 5m while unsubscribes are pending');
    });

    it('the start lines fit, with the note when nightly is off', () => {
        const started: StartedEvent = {
            event: 'started',
            targetOrg: dryRun.targetOrg,
            ledger: dryRun.ledger,
            pid: 4242,
            note: 'Nightly sync is off in acme-production-org-with-a-long-alias: nightly runs are skipped until it is on (optout settings set --target-org acme-production-org-with-a-long-alias --nightly-sync on).',
            ...plan
        };
        const text = renderStarted(started, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        const flat = text.replace(/\s+/g, ' ');
        expect(flat).toContain(
            'pid 4242); pending unsubscribes pushed every 5m.'
        );
        expect(flat).toContain('--nightly-sync on).');
        expect(text).toMatch(/Press Ctrl-C to stop\.$/);
    });
});

it('says Stopped. once stopped', () => {
    expect(
        renderSchedule(
            { stopped: true, signal: 'SIGTERM', at: '2026-12-05T05:00:00Z' },
            80
        )
    ).toBe('Stopped.');
});

it('a busy or failed job is one line with its next time', () => {
    const next = '2026-12-05T06:15:00.000Z';
    expect(
        eventText(
            {
                event: 'busy',
                job: 'hourly',
                trigger: 'cron',
                at: '2026-12-05T05:15:00.000Z',
                message: 'another process runs it',
                next
            },
            'Europe/Berlin'
        )
    ).toMatch(
        /^2026-12-05T05:15:00.000Z hourly busy: another process runs it — next .*07:15/
    );
    expect(
        eventText(
            {
                event: 'failed',
                job: 'nightly',
                trigger: 'cron',
                at: '2026-12-05T05:15:00.000Z',
                error: {
                    code: 'AUTH',
                    message: 'The session expired',
                    actions: ['sf org login web --alias prod']
                },
                result: null,
                next: null
            },
            'Europe/Berlin'
        )
    ).toBe(
        '2026-12-05T05:15:00.000Z nightly failed: The session expired (try: sf org login web --alias prod)'
    );
});
