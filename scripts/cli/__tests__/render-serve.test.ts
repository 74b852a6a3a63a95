/**
 * `optout serve` text at 80 and 160 columns: the totals when it stopped fit the width
 * and keep their counts; the stream's lines say what happened.
 */
import type { JobResult } from '../../sync/result';
import type { ListeningEvent, ServeResult } from '../commands/serve';
import {
    renderListening,
    renderNotify,
    renderPush,
    renderServe
} from '../render/serve';

function widest(text: string): number {
    return Math.max(...text.split('\n').map((l) => [...l].length));
}

const totals: ServeResult = {
    stopped: true,
    requests: 12_345,
    accepted: 12_300,
    refused: 45,
    unsubscribesRecorded: 9876,
    pushes: 321,
    delivered: 9870,
    apiRequests: 654,
    pending: 6
};

describe.each([80, 160])('renderServe at %i columns', (columns) => {
    it('fits the width and keeps every total', () => {
        const text = renderServe(totals, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        const flat = text.replace(/\s+/g, ' ');
        expect(flat).toContain('Stopped. 12345 requests (45 refused)');
        expect(flat).toContain('9876 unsubscribes recorded');
        expect(flat).toContain(
            '321 pushes delivered 9870 with 654 API requests'
        );
        expect(flat).toContain(
            '6 pending in the ledger (the next push delivers them: optout sync push or optout schedule).'
        );
    });
});

it('says nothing of a next push when nothing is pending', () => {
    expect(renderServe({ ...totals, pending: 0 }, 160)).toMatch(
        /0 pending in the ledger\.$/
    );
});

it('the listening lines name every endpoint and never the secret', () => {
    const e: ListeningEvent = {
        event: 'listening',
        url: 'http://127.0.0.1:8787',
        targetOrg: 'local',
        ledger: '/srv/optout/ledger.db',
        optOutField: 'HasOptedOutOfEmail',
        nightlySyncEnabled: true,
        endpoints: {
            mailchimp: 'http://127.0.0.1:8787/mailchimp?secret=…',
            unsubscribes: 'http://127.0.0.1:8787/unsubscribes',
            health: 'http://127.0.0.1:8787/healthz',
            suppressions: 'http://127.0.0.1:8787/suppressions'
        },
        notify: ['https://crm.example/hooks/optout'],
        pending: 0
    };
    const text = renderListening(e);
    expect(text).toContain(
        'Webhook listening on http://127.0.0.1:8787 — pushing to local (field HasOptedOutOfEmail), ledger /srv/optout/ledger.db'
    );
    expect(text).toContain('/mailchimp?secret=<the secret>');
    expect(text).toContain('POST https://crm.example/hooks/optout');
    expect(text).toMatch(/Press Ctrl-C to stop\.$/);
});

it('one line per push and per notification', () => {
    const at = '2026-12-05T05:00:00.000Z';
    expect(
        renderPush(
            {
                kind: 'arrivals',
                ids: 3,
                error: 'socket hang up',
                stillPending: 3
            },
            at
        )
    ).toBe(`${at} push failed: socket hang up (3 pending, retried)`);
    const result: JobResult = {
        job: 'push',
        runId: 'r1',
        dryRun: false,
        targetOrg: 'local',
        startedAt: at,
        durationMs: 800,
        apiRequests: 2,
        apiUsage: null,
        recordsWritten: 2,
        ledgerUnsubscribesAdded: 0,
        membershipsUpserted: 0,
        unsubscribesDelivered: 2,
        skipped: {},
        failed: [],
        retried: { requests: 0, records: 0 },
        deferred: null,
        status: 'succeeded'
    };
    expect(
        renderPush({ kind: 'arrivals', ids: 2, result, stillPending: 1 }, at)
    ).toMatch(
        new RegExp(`^${at} push succeeded.*\\(1 still pending, retried\\)$`)
    );
    expect(
        renderNotify(
            {
                url: 'https://crm.example/h',
                eventId: 7,
                status: null,
                delivered: false,
                error: 'ECONNREFUSED',
                retryInMs: 2000
            },
            at
        )
    ).toBe(
        `${at} notify https://crm.example/h: event 7 not delivered (ECONNREFUSED); retry in 2000 ms`
    );
});
