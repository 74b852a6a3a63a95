/**
 * Mailchimp webhook parsing and the event → ledger decision (pure functions).
 */
import { WebhookError } from '../errors';
import {
    mailchimpAction,
    parseFiredAt,
    parseMailchimpForm,
    type MailchimpEvent
} from '../mailchimp';

function form(fields: Record<string, string>): string {
    return new URLSearchParams(fields).toString();
}

function event(fields: Record<string, string>): MailchimpEvent {
    return parseMailchimpForm(form(fields));
}

function refusal(fn: () => unknown): WebhookError {
    try {
        fn();
    } catch (err) {
        if (err instanceof WebhookError) return err;
        throw err;
    }
    throw new Error('expected a WebhookError');
}

describe('parseFiredAt', () => {
    it('reads Mailchimp’s "YYYY-MM-DD HH:MM:SS" as UTC', () => {
        expect(parseFiredAt('2024-05-01 13:45:07')).toBe(
            '2024-05-01T13:45:07.000Z'
        );
    });

    it('accepts ISO-8601 with an offset', () => {
        expect(parseFiredAt('2024-05-01T15:45:07+02:00')).toBe(
            '2024-05-01T13:45:07.000Z'
        );
    });

    it.each(['2024-02-31 10:00:00', 'yesterday', '2024-05-01', ''])(
        'rejects %p',
        (raw) => {
            expect(parseFiredAt(raw)).toBeUndefined();
        }
    );
});

describe('parseMailchimpForm', () => {
    it('collects data[…] fields, nested merges included', () => {
        const e = event({
            type: 'subscribe',
            fired_at: '2024-05-01 13:45:07',
            'data[id]': '8a25ff1d98',
            'data[email]': 'ana.lopez@example.com',
            'data[list_id]': 'a6b5da1054',
            'data[merges][FNAME]': 'Ana'
        });
        expect(e).toEqual({
            type: 'subscribe',
            firedAt: '2024-05-01T13:45:07.000Z',
            data: {
                id: '8a25ff1d98',
                email: 'ana.lopez@example.com',
                list_id: 'a6b5da1054',
                'merges][FNAME': 'Ana'
            }
        });
    });

    it('refuses a form without a type', () => {
        const e = refusal(() => parseMailchimpForm('data[email]=a@b.co'));
        expect(e.status).toBe(400);
        expect(e.code).toBe('MISSING_FIELD');
        expect(e.message).toMatch(/'type'/);
    });

    it('refuses an unknown event type, naming the known ones', () => {
        const e = refusal(() => parseMailchimpForm('type=explode'));
        expect(e.code).toBe('UNKNOWN_EVENT');
        expect(e.message).toMatch(/subscribe, unsubscribe, profile/);
    });

    it('refuses a fired_at that is not a time', () => {
        const e = refusal(() =>
            parseMailchimpForm('type=subscribe&fired_at=soon')
        );
        expect(e.code).toBe('BAD_FIELD');
        expect(e.message).toMatch(/fired_at/);
    });
});

describe('mailchimpAction', () => {
    const base = {
        fired_at: '2024-05-01 13:45:07',
        'data[email]': 'Ana.Lopez@Example.com',
        'data[list_id]': 'a6b5da1054'
    };

    it('maps unsubscribe (action unsub) to an audience unsubscribe, not a global one', () => {
        const a = mailchimpAction(
            event({
                ...base,
                type: 'unsubscribe',
                'data[action]': 'unsub',
                'data[reason]': 'manual',
                'data[campaign_id]': 'cb398d21d2'
            })
        );
        expect(a).toEqual({
            kind: 'unsubscribe',
            email: 'Ana.Lopez@Example.com',
            audienceId: 'a6b5da1054',
            reason: 'Unsubscribed in Mailchimp (campaign cb398d21d2)',
            firedAt: '2024-05-01T13:45:07.000Z'
        });
    });

    it('maps an abuse unsubscribe with its reason', () => {
        const a = mailchimpAction(
            event({
                ...base,
                type: 'unsubscribe',
                'data[reason]': 'abuse'
            })
        );
        expect(a).toMatchObject({
            kind: 'unsubscribe',
            reason: 'Abuse report in Mailchimp'
        });
    });

    it.each(['delete', 'archive'])(
        'maps unsubscribe with action %s to an Archived membership (not an opt-out)',
        (action) => {
            const a = mailchimpAction(
                event({ ...base, type: 'unsubscribe', 'data[action]': action })
            );
            expect(a).toMatchObject({ kind: 'membership', status: 'Archived' });
        }
    );

    it('maps cleaned to a Cleaned membership with the bounce reason', () => {
        const a = mailchimpAction(
            event({ ...base, type: 'cleaned', 'data[reason]': 'hard' })
        );
        expect(a).toEqual({
            kind: 'membership',
            email: 'Ana.Lopez@Example.com',
            audienceId: 'a6b5da1054',
            status: 'Cleaned',
            reason: 'Cleaned in Mailchimp: hard bounce',
            onlyIfNew: false,
            firedAt: '2024-05-01T13:45:07.000Z'
        });
    });

    it('maps subscribe to Subscribed and profile to Subscribed only for a new membership', () => {
        expect(
            mailchimpAction(event({ ...base, type: 'subscribe' }))
        ).toMatchObject({
            kind: 'membership',
            status: 'Subscribed',
            onlyIfNew: false
        });
        expect(
            mailchimpAction(event({ ...base, type: 'profile' }))
        ).toMatchObject({
            kind: 'membership',
            status: 'Subscribed',
            onlyIfNew: true
        });
    });

    it.each(['upemail', 'campaign'])('ignores %s with a reason', (type) => {
        const a = mailchimpAction(event({ type }));
        expect(a.kind).toBe('ignore');
        expect(a.kind === 'ignore' && a.reason.length).toBeGreaterThan(10);
    });

    it.each([
        [{ 'data[list_id]': 'a6b5da1054' }, 'MISSING_FIELD', /data\[email\]/],
        [{ 'data[email]': 'ana@example.com' }, 'MISSING_FIELD', /list_id/],
        [
            { 'data[email]': 'not-an-email', 'data[list_id]': 'x1' },
            'BAD_EMAIL',
            /has no '@'/
        ],
        [
            { 'data[email]': 'ana@example.com', 'data[list_id]': 'a b' },
            'BAD_AUDIENCE',
            /list_id/
        ]
    ])('refuses %p with %s', (fields, code, message) => {
        const e = refusal(() =>
            mailchimpAction(event({ type: 'unsubscribe', ...fields }))
        );
        expect(e.status).toBe(400);
        expect(e.code).toBe(code);
        expect(e.message).toMatch(message);
    });

    it('refuses an unknown unsubscribe action', () => {
        const e = refusal(() =>
            mailchimpAction(
                event({ ...base, type: 'unsubscribe', 'data[action]': 'zap' })
            )
        );
        expect(e.code).toBe('BAD_FIELD');
    });
});
