/** The connector's pure decisions. */
import { backoffDelay, isTransient, problemOf } from '../client';
import { mailchimpConfig } from '../config';
import {
    ledgerStatus,
    nextCursor,
    operationId,
    parseOperationId,
    selectLists,
    sendOutcome,
    sinceParam,
    useBatch
} from '../decisions';

describe('Mailchimp decisions', () => {
    it('maps every Mailchimp status and refuses others', () => {
        expect(ledgerStatus('unsubscribed')).toBe('Unsubscribed');
        expect(ledgerStatus('transactional')).toBe('Transactional');
        expect(ledgerStatus('archived')).toBe('Archived');
        expect(ledgerStatus('deleted')).toBeNull();
    });

    it('keeps the cursor a look-back behind the newest change and never moves it back', () => {
        expect(nextCursor(undefined, '2026-01-01T12:00:00.000Z', 60_000)).toBe(
            '2026-01-01T11:59:00.000Z'
        );
        expect(
            nextCursor(
                '2026-01-01T11:59:00.000Z',
                '2026-01-01T11:00:00.000Z',
                60_000
            )
        ).toBe('2026-01-01T11:59:00.000Z');
        expect(nextCursor('2026-01-01T11:59:00.000Z', null)).toBe(
            '2026-01-01T11:59:00.000Z'
        );
        expect(sinceParam('2026-01-01T11:59:00.000Z')).toBe(
            '2026-01-01T11:59:00+00:00'
        );
    });

    it('decides per answer: delivered, skipped for good, retried later, or fatal', () => {
        expect(sendOutcome(200, '', '')).toEqual({ kind: 'delivered' });
        expect(sendOutcome(404, 'Resource Not Found', 'x')).toMatchObject({
            kind: 'skipped'
        });
        expect(sendOutcome(400, 'Invalid Resource', 'y').kind).toBe('skipped');
        expect(sendOutcome(429, 'Too Many Requests', '').kind).toBe('failed');
        expect(sendOutcome(503, 'Service Unavailable', '').kind).toBe('failed');
        expect(sendOutcome(401, 'API Key Invalid', '').kind).toBe('fatal');
        expect([429, 500, 0].every(isTransient)).toBe(true);
        expect(isTransient(404)).toBe(false);
    });

    it('caps the back-off and honours Retry-After', () => {
        expect(backoffDelay(1, 500, 10_000, null, () => 1)).toBe(500);
        expect(backoffDelay(3, 500, 10_000, null, () => 1)).toBe(2000);
        expect(backoffDelay(30, 500, 10_000, null, () => 1)).toBe(10_000);
        expect(backoffDelay(1, 500, 10_000, 2)).toBe(2000);
    });

    it('reads problem documents and gateway pages', () => {
        expect(
            problemOf(400, '{"title":"Invalid Resource","detail":"Bad"}')
        ).toEqual({
            title: 'Invalid Resource',
            detail: 'Bad'
        });
        expect(problemOf(502, '<html><body>Bad Gateway</body></html>')).toEqual(
            {
                title: 'HTTP 502',
                detail: 'Bad Gateway'
            }
        );
    });

    it('selects named audiences, batches above the threshold, and round-trips operation ids', () => {
        const lists = [
            { id: 'a1', name: 'A' },
            { id: 'b2', name: 'B' }
        ];
        expect(selectLists(lists, [])).toEqual({ ok: true, lists });
        expect(selectLists(lists, ['b2'])).toEqual({
            ok: true,
            lists: [lists[1]]
        });
        expect(selectLists(lists, ['b2', 'zz'])).toEqual({
            ok: false,
            unknown: ['zz']
        });
        expect(useBatch(100)).toBe(false);
        expect(useBatch(101)).toBe(true);
        expect(parseOperationId(operationId(42, 'a:b'))).toEqual({
            unsubscribeId: 42,
            listId: 'a:b'
        });
        expect(parseOperationId('x')).toBeNull();
    });

    it('derives the API root from the key, overridable by MAILCHIMP_API_URL', () => {
        const key = '0123456789abcdef0123456789abcdef-us21';
        expect(mailchimpConfig({ MAILCHIMP_API_KEY: key }).apiUrl).toBe(
            'https://us21.api.mailchimp.com/3.0'
        );
        expect(
            mailchimpConfig({
                MAILCHIMP_API_KEY: key,
                MAILCHIMP_API_URL: 'http://127.0.0.1:9/3.0/'
            }).apiUrl
        ).toBe('http://127.0.0.1:9/3.0');
        expect(() =>
            mailchimpConfig({
                MAILCHIMP_API_KEY: key,
                MAILCHIMP_API_URL: 'ftp://x'
            })
        ).toThrow(/not an http/);
    });
});
