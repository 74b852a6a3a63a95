/**
 * `optout mailchimp pull | push | webhook | local start` text at 80 and 160 columns:
 * every line within the width, the counts and ids still there.
 */
import type {
    LocalMailchimpRunning,
    MailchimpPullResult,
    MailchimpPushResult,
    MailchimpWebhookResult
} from '../commands/mailchimp';
import {
    renderLocalMailchimpRunning,
    renderPull,
    renderPush,
    renderWebhooks
} from '../render/mailchimp';

function widest(text: string): number {
    return Math.max(...text.split('\n').map((l) => [...l].length));
}

const flat = (text: string): string => text.replace(/[\s│┌┐└┘├┤┬┴┼─]+/g, ' ');

const pull: MailchimpPullResult = {
    runId: 'mc-pull-1',
    audiencesCreated: 0,
    requests: 17,
    ledger: '/srv/optout/ledger.db',
    audiences: [
        {
            listId: 'a1b2c3d4e5',
            name: 'Monthly Newsletter for customers in Europe and the Americas',
            read: 12_000,
            changed: 340,
            unsubscribes: 12,
            unchanged: 11_600,
            skipped: [
                {
                    email: 'not-an-address',
                    reason: 'not an email address: the member is left out of the ledger'
                }
            ],
            cursorBefore: '2026-12-04T05:00:00+00:00',
            cursorAfter: '2026-12-05T05:00:00+00:00'
        },
        {
            listId: 'f6g7h8i9j0',
            name: 'Events & Webinars',
            read: 90,
            changed: 0,
            unsubscribes: 0,
            unchanged: 90,
            skipped: [],
            cursorBefore: null,
            cursorAfter: null
        }
    ]
};

const push: MailchimpPushResult = {
    runId: 'mc-push-1',
    mode: 'batch',
    pending: 250,
    delivered: 245,
    skipped: [
        {
            email: 'gone.member@example.com',
            listId: 'a1b2c3d4e5',
            reason: 'the member was deleted permanently in Mailchimp and cannot be changed again'
        }
    ],
    failed: [
        {
            email: 'slow.member@example.com',
            listId: 'f6g7h8i9j0',
            reason: 'Mailchimp answered 503 Service Unavailable three times in a row'
        }
    ],
    batches: ['batch-1', 'batch-2'],
    requests: 9,
    ledger: '/srv/optout/ledger.db'
};

const hooks: MailchimpWebhookResult = {
    url: 'https://optout.example.com/mailchimp?secret=s3cret',
    audiences: [
        {
            listId: 'a1b2c3d4e5',
            name: 'Monthly Newsletter for customers in Europe and the Americas',
            webhookId: 'wh-0123456789abcdef',
            outcome: 'registered'
        },
        {
            listId: 'f6g7h8i9j0',
            name: 'Events & Webinars',
            webhookId: 'wh-fedcba9876543210',
            outcome: 'already'
        }
    ]
};

describe.each([80, 160])('at %i columns', (columns) => {
    it('pull: each audience with its counts and cursor, and the members not taken', () => {
        const text = renderPull(pull, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        expect(text).toMatch(
            /^Pulled 2 audience\(s\) from Mailchimp \(17 request\(s\)\)\./
        );
        for (const id of ['a1b2c3d4e5', 'f6g7h8i9j0', '12000', '340'])
            expect(text).toContain(id);
        expect(flat(text)).toContain('2026-12-05T05:00:00+00:00');
        expect(flat(text)).toContain(
            'a1b2c3d4e5 not-an-address: not an email address'
        );
    });

    it('push: what was sent, skipped and left for the next run', () => {
        const text = renderPush(push, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        expect(flat(text)).toContain(
            'Sent 250 unsubscribe(s) to Mailchimp in 2 batch operation(s): 245 delivered, 1 skipped, 1 left for the next run (9 request(s)).'
        );
        expect(flat(text)).toContain(
            'skipped gone.member@example.com in a1b2c3d4e5: the member was deleted'
        );
        expect(flat(text)).toContain(
            'not sent slow.member@example.com to f6g7h8i9j0: Mailchimp answered 503'
        );
    });

    it('webhook: each audience with its webhook and outcome', () => {
        const text = renderWebhooks(hooks, columns);
        expect(widest(text)).toBeLessThanOrEqual(columns);
        expect(text).toContain('wh-0123456789abcdef');
        expect(flat(text)).toContain('already registered');
    });

    it('local start: the address, and export lines to copy', () => {
        const running: LocalMailchimpRunning = {
            event: 'running',
            apiUrl: 'http://127.0.0.1:8643/3.0',
            apiKey: '0123456789abcdef0123456789abcdef-us1',
            dbPath: '/srv/opt-out-sync/shared/state/.optout/local-mailchimp.db',
            audiences: [{ name: 'Monthly Newsletter', id: 'a1b2c3d4e5' }]
        };
        const text = renderLocalMailchimpRunning(
            running,
            'http://127.0.0.1:8643',
            columns
        );
        expect(widest(text)).toBeLessThanOrEqual(columns);
        expect(text).toContain(
            'export MAILCHIMP_API_URL=http://127.0.0.1:8643/3.0'
        );
        expect(text).toContain(
            'export MAILCHIMP_API_KEY=0123456789abcdef0123456789abcdef-us1'
        );
        expect(text).toContain('  audience Monthly Newsletter: a1b2c3d4e5');
    });
});

it('push with nothing pending says so', () => {
    expect(
        renderPush(
            { ...push, pending: 0, delivered: 0, skipped: [], failed: [] },
            80
        )
    ).toBe('Nothing to push: Mailchimp has every unsubscribe of the ledger.');
});

it('webhook on an account without audiences says so', () => {
    expect(renderWebhooks({ ...hooks, audiences: [] }, 80)).toBe(
        'This Mailchimp account has no audience.'
    );
});
