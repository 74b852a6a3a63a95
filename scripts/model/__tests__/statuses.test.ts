import { makeId, to18 } from '../ids';
import {
    checkAudienceId,
    checkAudienceName,
    checkEmail,
    checkPersonId,
    cleanReason,
    normalizeEmail,
    parseIsoTime,
    parseSource,
    parseStatus,
    sourceFromPicklist
} from '../statuses';

describe('membership statuses and sources', () => {
    it('parses the six statuses in any case and rejects others with the list', () => {
        expect(parseStatus(' unsubscribed ')).toEqual({
            ok: true,
            value: 'Unsubscribed'
        });
        expect(parseStatus('CLEANED')).toEqual({ ok: true, value: 'Cleaned' });
        expect(parseStatus('transactional')).toEqual({
            ok: true,
            value: 'Transactional'
        });
        const bad = parseStatus('bounced');
        expect(bad.ok).toBe(false);
        expect(!bad.ok && bad.reason).toMatch(
            /'bounced'.*Subscribed, Unsubscribed, Cleaned, Pending, Transactional, Archived/
        );
    });

    it('parses ledger sources and maps Source__c back (Flow → flow, else salesforce)', () => {
        expect(parseSource('Webhook')).toEqual({ ok: true, value: 'webhook' });
        expect(parseSource('mailchimp').ok).toBe(false);
        expect(sourceFromPicklist('Flow')).toBe('flow');
        expect(sourceFromPicklist('Salesforce')).toBe('salesforce');
        expect(sourceFromPicklist(null)).toBe('salesforce');
    });
});

describe('emails', () => {
    it('normalises by trimming and lower-casing', () => {
        expect(normalizeEmail('  Ana.Lopez@Example.COM ')).toBe(
            'ana.lopez@example.com'
        );
        expect(checkEmail(' Ana@Example.com')).toEqual({
            ok: true,
            value: { email: 'Ana@Example.com', norm: 'ana@example.com' }
        });
        expect(checkEmail("o'brien+news@mail.example.co.uk").ok).toBe(true);
    });

    it.each([
        ['', /empty/],
        ['ana', /no '@'/],
        ['@example.com', /nothing before/],
        ['ana@', /nothing after/],
        ['ana@localhost', /no '\.' in the domain/],
        ['ana lopez@example.com', /space/],
        ['ana..l@example.com', /misplaced '\.'/],
        ['ana@exa_mple.com', /invalid domain/],
        ['ana@-example.com', /invalid domain/],
        ['ana@example.123', /invalid domain/],
        ['an(a)@example.com', /not allowed/],
        [`${'a'.repeat(65)}@example.com`, /64/]
    ])('rejects %j with a reason', (raw, reason) => {
        const r = checkEmail(raw);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.reason).toMatch(reason);
    });
});

describe('ISO-8601 times', () => {
    it.each([
        ['2024-05-20', '2024-05-20T00:00:00.000Z'],
        ['2024-05-20T20:49:32Z', '2024-05-20T20:49:32.000Z'],
        ['2024-05-20T20:49:32.5Z', '2024-05-20T20:49:32.500Z'],
        ['2024-05-20T22:49:32.123+02:00', '2024-05-20T20:49:32.123Z'],
        ['2024-05-20T20:49:32.000+0000', '2024-05-20T20:49:32.000Z'],
        ['2024-05-20T15:49-05', '2024-05-20T20:49:00.000Z'],
        ['2024-05-20 20:49:32', '2024-05-20T20:49:32.000Z'],
        ['2024-02-29T00:00:00z', '2024-02-29T00:00:00.000Z']
    ])('reads %s as %s', (raw, iso) => {
        expect(parseIsoTime(raw)).toEqual({ ok: true, value: iso });
    });

    it.each([
        ['yesterday', /not an ISO-8601/],
        ['20/05/2024', /not an ISO-8601/],
        ['2023-02-29', /no day 29/],
        ['2024-13-01', /no month/],
        ['2024-05-20T24:00:00Z', /impossible time/],
        ['2024-05-20T10:00:00+15:00', /impossible offset/],
        ['', /not an ISO-8601/]
    ])('rejects %j', (raw, reason) => {
        const r = parseIsoTime(raw);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.reason).toMatch(reason);
    });
});

describe('person ids (R6)', () => {
    it('accepts Contact and Lead ids in 15 or 18 characters, normalised to 18', () => {
        const contact = makeId('003', 42);
        expect(checkPersonId(contact.slice(0, 15))).toEqual({
            ok: true,
            value: { id: contact, object: 'Contact' }
        });
        const lead = makeId('00Q', 7);
        expect(
            checkPersonId(lead.slice(0, 15) + lead.slice(15).toLowerCase())
        ).toEqual({ ok: true, value: { id: lead, object: 'Lead' } });
        expect(checkPersonId(lead)).toEqual({
            ok: true,
            value: { id: lead, object: 'Lead' }
        });
    });

    it('rejects other objects, bad lengths, characters and checksums with a reason', () => {
        const account = checkPersonId(to18('001M000000qfPyS'));
        expect(!account.ok && account.reason).toMatch(
            /starts with 001.*Contact \(003\).*Lead \(00Q\)/
        );
        expect(checkPersonId('003abc').ok).toBe(false);
        expect(checkPersonId('003M000000qfPy-').ok).toBe(false);
        const sum = checkPersonId(makeId('003', 1).slice(0, 15) + 'ZZZ');
        expect(!sum.ok && sum.reason).toMatch(/checksum/);
    });
});

describe('audiences and reasons', () => {
    it('validates audience ids and names against the field lengths', () => {
        expect(checkAudienceId(' a1b2c3 ')).toEqual({
            ok: true,
            value: 'a1b2c3'
        });
        expect(checkAudienceId('').ok).toBe(false);
        expect(checkAudienceId('has space').ok).toBe(false);
        expect(checkAudienceId('x'.repeat(65)).ok).toBe(false);
        expect(checkAudienceName('Newsletter')).toEqual({
            ok: true,
            value: 'Newsletter'
        });
        expect(checkAudienceName('  ').ok).toBe(false);
        expect(checkAudienceName('n'.repeat(256)).ok).toBe(false);
    });

    it('trims reasons, drops empty ones and cuts them to 255 characters', () => {
        expect(cleanReason('  too many emails ')).toBe('too many emails');
        expect(cleanReason('   ')).toBeNull();
        expect(cleanReason(undefined)).toBeNull();
        expect(cleanReason('r'.repeat(300))).toHaveLength(255);
    });
});
