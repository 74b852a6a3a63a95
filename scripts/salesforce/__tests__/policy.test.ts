/**
 * The adapter's pure decisions: retry classification, back-off, budget, read/write modes,
 * SOQL quoting and packing, limit-header parsing.
 */
import {
    DEFAULT_RETRY,
    backoffDelay,
    budgetAllows,
    chooseReadMode,
    chooseWriteMode,
    classifyFailure,
    parseBudgetShare,
    parseRetryAfter
} from '../policy';
import { RequestMeter, parseLimitInfo } from '../meter';
import { encodedLength, packInQueries, soqlQuote } from '../soql';
import { resolveBudgetShare } from '../open';
import { parseBulkError, toCsv } from '../bulk';
import {
    effectiveOptOutField,
    settingsFromRecord,
    DEFAULT_SETTINGS
} from '../settings';

describe('retries', () => {
    it.each([
        [{ status: 503 }, 'retry'],
        [{ status: 502 }, 'retry'],
        [{ status: 500 }, 'retry'],
        [{ status: 429, code: 'REQUEST_LIMIT_EXCEEDED' }, 'retry'],
        [{ status: 403, code: 'REQUEST_LIMIT_EXCEEDED' }, 'limit'],
        [
            {
                status: 403,
                code: 'REQUEST_LIMIT_EXCEEDED',
                message: 'TotalRequests Limit exceeded.'
            },
            'limit'
        ],
        // The concurrent limits clear when other requests finish: retried.
        [
            {
                status: 403,
                code: 'REQUEST_LIMIT_EXCEEDED',
                message: 'ConcurrentPerOrgLongTxn Limit exceeded.'
            },
            'retry'
        ],
        [
            {
                status: 403,
                code: 'REQUEST_LIMIT_EXCEEDED',
                message:
                    'ConcurrentRequests (Concurrent API Requests) Limit exceeded.'
            },
            'retry'
        ],
        [{ status: 400, code: 'INVALID_FIELD' }, 'fatal'],
        [{ status: 404, code: 'NOT_FOUND' }, 'fatal'],
        [{ status: 401, code: 'INVALID_SESSION_ID' }, 'fatal'],
        [{ code: 'ECONNRESET' }, 'retry'],
        [
            {
                code: 'UNKNOWN',
                message: 'request failed, reason: socket hang up'
            },
            'retry'
        ],
        [{ code: 'ENOTFOUND' }, 'fatal']
    ] as const)('%j → %s', (facts, expected) => {
        expect(classifyFailure(facts)).toBe(expected);
    });

    it('backs off exponentially with equal jitter, capped, honouring Retry-After', () => {
        const opts = { baseDelayMs: 500, maxDelayMs: 30_000 };
        expect([0, 1, 2, 3].map((a) => backoffDelay(a, opts, () => 0))).toEqual(
            [250, 500, 1000, 2000]
        );
        expect([0, 1, 2, 3].map((a) => backoffDelay(a, opts, () => 1))).toEqual(
            [500, 1000, 2000, 4000]
        );
        expect(backoffDelay(20, opts, () => 1)).toBe(30_000);
        expect(backoffDelay(0, opts, () => 0, 5000)).toBe(5000);
        expect(backoffDelay(0, opts, () => 0, 60_000)).toBe(30_000);
        expect(DEFAULT_RETRY.maxAttempts).toBeGreaterThan(1);
    });

    it('reads Retry-After as seconds or a date', () => {
        expect(parseRetryAfter('2')).toBe(2000);
        expect(parseRetryAfter(['3'])).toBe(3000);
        const now = Date.parse('2024-01-01T00:00:00Z');
        expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:10 GMT', now)).toBe(
            10_000
        );
        expect(parseRetryAfter(undefined)).toBeUndefined();
        expect(parseRetryAfter('soon')).toBeUndefined();
    });
});

describe('API budget (R12)', () => {
    it('allows a request only while usage stays within the share of the allowance', () => {
        expect(budgetAllows(undefined, 0.8)).toBe(true);
        expect(budgetAllows({ used: 79, max: 100 }, 0.8)).toBe(true);
        expect(budgetAllows({ used: 80, max: 100 }, 0.8)).toBe(false);
        expect(budgetAllows({ used: 70, max: 100 }, 0.8, 11)).toBe(false);
        expect(budgetAllows({ used: 14_999, max: 15_000 }, 1)).toBe(true);
    });

    it('parses shares from options and the environment, refusing nonsense', () => {
        expect(parseBudgetShare('0.5')).toBe(0.5);
        expect(parseBudgetShare('75%')).toBe(0.75);
        expect(parseBudgetShare('0')).toBeUndefined();
        expect(parseBudgetShare('1.5')).toBeUndefined();
        expect(parseBudgetShare('lots')).toBeUndefined();
        expect(resolveBudgetShare(undefined, {})).toBeUndefined();
        expect(
            resolveBudgetShare(undefined, { OPTOUT_API_BUDGET_SHARE: '0.6' })
        ).toBe(0.6);
        expect(
            resolveBudgetShare('0.9', { OPTOUT_API_BUDGET_SHARE: '0.6' })
        ).toBe(0.9);
        expect(() => resolveBudgetShare('2')).toThrow(
            /--api-budget-share must be a number above 0 and at most 1/
        );
        expect(() =>
            resolveBudgetShare(undefined, { OPTOUT_API_BUDGET_SHARE: 'x' })
        ).toThrow(/OPTOUT_API_BUDGET_SHARE must be/);
    });

    it('reads Sforce-Limit-Info and forgets a reading once it is stale', () => {
        expect(parseLimitInfo('api-usage=18/15000')).toEqual({
            used: 18,
            max: 15000
        });
        expect(
            parseLimitInfo('per-app-api-usage=1/10(appName=x), api-usage=7/100')
        ).toEqual({
            used: 7,
            max: 100
        });
        expect(parseLimitInfo(undefined)).toBeUndefined();
        let now = 0;
        const meter = new RequestMeter(1000, () => now);
        meter.onResponse(200, { 'sforce-limit-info': 'api-usage=10/100' });
        meter.onRequest('GET', '/x');
        meter.onRequest('GET', '/y');
        expect(meter.estimatedUsage()).toEqual({ used: 12, max: 100 });
        expect(meter.freshUsage()).toEqual({ used: 12, max: 100 });
        now = 1001;
        expect(meter.freshUsage()).toBeUndefined();
        expect(meter.requests).toBe(2);
    });

    it('chooses Bulk API 2.0 where it costs fewer requests', () => {
        expect(chooseWriteMode(2000, 2000)).toBe('collections');
        expect(chooseWriteMode(2001, 2000)).toBe('bulk');
        expect(chooseReadMode(8000)).toBe('rest');
        expect(chooseReadMode(1_000_000)).toBe('bulk');
        expect(
            chooseReadMode(6000, { restPageSize: 200, bulkPageSize: 1000 })
        ).toBe('bulk');
    });
});

describe('SOQL text', () => {
    it('quotes literals', () => {
        expect(soqlQuote("o'brien@example.com")).toBe(
            "'o\\'brien@example.com'"
        );
        expect(soqlQuote('a\\b')).toBe("'a\\\\b'");
        expect(soqlQuote('x\ny')).toBe("'x\\ny'");
    });

    it('packs IN lists into queries that fit the URI limit, each value exactly once', () => {
        const emails = Array.from(
            { length: 1500 },
            (_, i) => `person.${i}@example.com`
        );
        const ids = Array.from(
            { length: 300 },
            (_, i) => `003${String(i).padStart(15, '0')}`
        );
        const queries = packInQueries(
            'SELECT Id, Email FROM Contact',
            [
                { field: 'Email', values: [...emails, emails[0]] },
                { field: 'Id', values: ids }
            ],
            { maxEncoded: 8000 }
        );
        expect(queries.length).toBeGreaterThan(5);
        for (const q of queries) {
            expect(encodedLength(q)).toBeLessThanOrEqual(8000);
            expect(q).toMatch(/^SELECT Id, Email FROM Contact WHERE /);
        }
        const all = queries.join(' ');
        for (const e of emails) expect(all.split(`'${e}'`)).toHaveLength(2);
        for (const id of ids) expect(all.split(`'${id}'`)).toHaveLength(2);
        expect(
            queries.some((q) => /\(Email IN \(.*\) OR Id IN \(.*\)\)/.test(q))
        ).toBe(true);
        expect(
            packInQueries('SELECT Id FROM Lead', [{ field: 'Id', values: [] }])
        ).toEqual([]);
    });
});

describe('Bulk CSV', () => {
    it('writes null as #N/A and quotes what needs it', () => {
        expect(
            toCsv(
                ['Id', 'Name', 'Flag', 'Note'],
                [{ Id: '003A', Name: 'a, "b"', Flag: true, Note: null }]
            )
        ).toBe('Id,Name,Flag,Note\n003A,"a, ""b""",true,#N/A\n');
    });

    it('reads failed-result errors', () => {
        expect(
            parseBulkError(
                'UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--'
            )
        ).toEqual({
            statusCode: 'UNABLE_TO_LOCK_ROW',
            message: 'unable to obtain exclusive access',
            fields: []
        });
        expect(
            parseBulkError(
                'REQUIRED_FIELD_MISSING:Required fields are missing:LastName,Company'
            )
        ).toEqual({
            statusCode: 'REQUIRED_FIELD_MISSING',
            message: 'Required fields are missing',
            fields: ['LastName', 'Company']
        });
        expect(parseBulkError('garbled').statusCode).toBe('UNKNOWN');
    });
});

describe('settings (R1)', () => {
    it('maps a record, with defaults for missing values, and refuses other fields', () => {
        expect(settingsFromRecord({}, 'prod')).toEqual(DEFAULT_SETTINGS);
        expect(
            settingsFromRecord(
                {
                    Nightly_Sync_Enabled__c: true,
                    Opt_Out_Field__c: ' Marketo_Sales_Opt_Out__c '
                },
                'prod'
            )
        ).toMatchObject({
            nightlySyncEnabled: true,
            optOutField: 'Marketo_Sales_Opt_Out__c'
        });
        expect(() =>
            settingsFromRecord({ Opt_Out_Field__c: 'Email' }, 'prod')
        ).toThrow(/Opt_Out_Field__c is 'Email' in prod/);
    });

    it('writes HasOptedOutOfEmail whenever the nightly sync is off (R2)', () => {
        expect(
            effectiveOptOutField({
                ...DEFAULT_SETTINGS,
                optOutField: 'Marketo_Sales_Opt_Out__c'
            })
        ).toBe('HasOptedOutOfEmail');
        expect(
            effectiveOptOutField({
                ...DEFAULT_SETTINGS,
                nightlySyncEnabled: true,
                optOutField: 'Marketo_Sales_Opt_Out__c'
            })
        ).toBe('Marketo_Sales_Opt_Out__c');
    });
});
