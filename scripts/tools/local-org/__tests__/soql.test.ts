import { OrgStore } from '../store';
import { QueryEngine } from '../query';
import { compileSoql, dateLiteralRange, unquote } from '../soql';
import { ApiError } from '../errors';
import type { ObjectDef } from '../schema';

type Rec = Record<string, unknown>;

describe('SOQL translation', () => {
    let store: OrgStore;
    let q: QueryEngine;
    const ids: Record<string, string> = {};

    const run = (soql: string, queryAll = false, batchSize = 2000) =>
        q.query(soql, { queryAll, batchSize, apiVersion: '66.0' });
    const names = (soql: string): string[] =>
        (run(soql).records as Rec[]).map((r) => String(r.LastName));
    const soqlError = (soql: string): ApiError => {
        try {
            run(soql);
        } catch (err) {
            if (err instanceof ApiError) return err;
            throw err;
        }
        throw new Error(`no error for ${soql}`);
    };

    beforeAll(() => {
        store = new OrgStore(':memory:');
        q = new QueryEngine(store);
        const contact = store.getObject('Contact') as ObjectDef;
        const account = store.getObject('Account') as ObjectDef;
        const now = store.stamp();
        ids.acme = store.insert(account, { Name: 'Acme' }, 'json', now).id;
        const people: Rec[] = [
            {
                LastName: 'Ames',
                FirstName: 'Ann',
                Email: 'Ann@Example.com',
                AccountId: ids.acme,
                HasOptedOutOfEmail: true
            },
            {
                LastName: 'Baker',
                FirstName: 'Bo',
                Email: 'bo@example.com',
                AccountId: ids.acme
            },
            { LastName: 'Cole', Email: null, Title: 'CEO' },
            {
                LastName: 'Diaz',
                FirstName: 'Dee',
                Email: 'dee_d@other.org',
                EmailBouncedDate: '2020-01-15T10:00:00Z'
            },
            { LastName: "O'Hara", Email: 'oh@example.com' }
        ];
        for (const p of people)
            ids[String(p.LastName)] = store.insert(contact, p, 'json', now).id;
        store.delete(contact, ids.Cole, store.stamp());
    });

    afterAll(() => store.close());

    it('selects fields with canonical names and attributes', () => {
        const page = run(
            "SELECT id, lastname, EMAIL FROM contact WHERE LastName = 'Ames'"
        );
        expect(page).toEqual({
            totalSize: 1,
            done: true,
            records: [
                {
                    attributes: {
                        type: 'Contact',
                        url: `/services/data/v66.0/sobjects/Contact/${ids.Ames}`
                    },
                    Id: ids.Ames,
                    LastName: 'Ames',
                    Email: 'Ann@Example.com'
                }
            ]
        });
    });

    it('compares strings case-insensitively, as Salesforce does', () => {
        expect(
            names(
                "SELECT LastName FROM Contact WHERE Email = 'ann@example.COM'"
            )
        ).toEqual(['Ames']);
        expect(
            names(
                "SELECT LastName FROM Contact WHERE LastName IN ('ames', 'BAKER') ORDER BY LastName"
            )
        ).toEqual(['Ames', 'Baker']);
    });

    it('supports LIKE with % and _ and escaped wildcards', () => {
        expect(
            names(
                "SELECT LastName FROM Contact WHERE Email LIKE '%@EXAMPLE.com' ORDER BY LastName"
            )
        ).toEqual(['Ames', 'Baker', "O'Hara"]);
        expect(
            names("SELECT LastName FROM Contact WHERE LastName LIKE '_aker'")
        ).toEqual(['Baker']);
        expect(
            names("SELECT LastName FROM Contact WHERE Email LIKE 'dee\\_d%'")
        ).toEqual(['Diaz']);
        expect(
            names("SELECT LastName FROM Contact WHERE Email LIKE 'deexd%'")
        ).toEqual([]);
    });

    it('treats != and NOT IN as matching null values', () => {
        expect(
            names(
                "SELECT LastName FROM Contact WHERE FirstName != 'Ann' ORDER BY LastName"
            )
        ).toEqual(['Baker', 'Diaz', "O'Hara"]);
        expect(
            names(
                "SELECT LastName FROM Contact WHERE FirstName NOT IN ('Ann', 'Bo') ORDER BY LastName"
            )
        ).toEqual(['Diaz', "O'Hara"]);
        expect(
            names('SELECT LastName FROM Contact WHERE FirstName = null')
        ).toEqual(["O'Hara"]);
        expect(
            names(
                'SELECT LastName FROM Contact WHERE FirstName != null ORDER BY LastName'
            )
        ).toEqual(['Ames', 'Baker', 'Diaz']);
    });

    it('handles AND, OR, NOT and parentheses, and rejects mixing AND/OR without them', () => {
        expect(
            names(
                "SELECT LastName FROM Contact WHERE (LastName = 'Ames' OR LastName = 'Diaz') AND NOT (Email LIKE '%other%') "
            )
        ).toEqual(['Ames']);
        expect(
            names(
                "SELECT LastName FROM Contact WHERE (NOT LastName = 'Ames') AND FirstName = 'Bo'"
            )
        ).toEqual(['Baker']);
        const err = soqlError(
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Title = 'c'"
        );
        expect(err.errorCode).toBe('MALFORMED_QUERY');
    });

    it('filters booleans, date-times and relative date literals', () => {
        expect(
            names(
                'SELECT LastName FROM Contact WHERE HasOptedOutOfEmail = true'
            )
        ).toEqual(['Ames']);
        expect(
            names(
                'SELECT LastName FROM Contact WHERE EmailBouncedDate > 2020-01-01T00:00:00Z'
            )
        ).toEqual(['Diaz']);
        expect(
            names(
                'SELECT LastName FROM Contact WHERE EmailBouncedDate < 2020-01-15T10:00:00+01:00'
            )
        ).toEqual([]);
        expect(
            names(
                'SELECT LastName FROM Contact WHERE CreatedDate = TODAY ORDER BY LastName'
            )
        ).toHaveLength(4);
        expect(
            names(
                'SELECT LastName FROM Contact WHERE CreatedDate = LAST_N_DAYS:3'
            )
        ).toHaveLength(4);
        expect(
            names('SELECT LastName FROM Contact WHERE CreatedDate < YESTERDAY')
        ).toHaveLength(0);
    });

    it('rejects literals of the wrong type with Salesforce messages', () => {
        const quotedBool = soqlError(
            "SELECT Id FROM Contact WHERE HasOptedOutOfEmail = 'true'"
        );
        expect(quotedBool.errorCode).toBe('INVALID_FIELD');
        expect(quotedBool.message).toContain(
            "value of filter criterion for field 'HasOptedOutOfEmail' must be of type boolean and should not be enclosed in quotes"
        );
        expect(
            soqlError('SELECT Id FROM Contact WHERE CreatedDate > 2020-01-01')
                .errorCode
        ).toBe('INVALID_FIELD');
        expect(
            soqlError("SELECT Id FROM Contact WHERE Id = 'nope'").errorCode
        ).toBe('INVALID_QUERY_FILTER_OPERATOR');
    });

    it('normalises 15-character ids in filters', () => {
        expect(
            names(
                `SELECT LastName FROM Contact WHERE Id = '${ids.Baker.slice(0, 15)}'`
            )
        ).toEqual(['Baker']);
    });

    it('follows parent relationships and returns null for a missing parent', () => {
        const page = run(
            "SELECT LastName, Account.Name FROM Contact WHERE LastName IN ('Ames', 'Diaz') ORDER BY LastName"
        );
        const [ames, diaz] = page.records as Rec[];
        expect(ames.Account).toEqual({
            attributes: {
                type: 'Account',
                url: `/services/data/v66.0/sobjects/Account/${ids.acme}`
            },
            Name: 'Acme'
        });
        expect(diaz.Account).toBeNull();
        expect(
            names(
                "SELECT LastName FROM Contact WHERE Account.Name = 'acme' ORDER BY LastName"
            )
        ).toEqual(['Ames', 'Baker']);
    });

    it('returns child relationships as nested query results', () => {
        const page = run(
            'SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account'
        );
        const acct = page.records[0] as Rec;
        expect(acct.Contacts).toMatchObject({ totalSize: 2, done: true });
        expect(
            ((acct.Contacts as Rec).records as Rec[]).map((r) => r.LastName)
        ).toEqual(['Ames', 'Baker']);
    });

    it('hides deleted rows from query and shows them to queryAll', () => {
        expect(
            names("SELECT LastName FROM Contact WHERE LastName = 'Cole'")
        ).toEqual([]);
        const all = run(
            "SELECT LastName, IsDeleted FROM Contact WHERE LastName = 'Cole'",
            true
        );
        expect(all.records).toMatchObject([
            { LastName: 'Cole', IsDeleted: true }
        ]);
    });

    it('orders with NULLS FIRST/LAST, limits and offsets', () => {
        expect(
            names(
                'SELECT LastName FROM Contact ORDER BY FirstName DESC NULLS LAST'
            )
        ).toEqual(['Diaz', 'Baker', 'Ames', "O'Hara"]);
        expect(
            names(
                'SELECT LastName FROM Contact ORDER BY FirstName ASC NULLS FIRST LIMIT 2'
            )
        ).toEqual(["O'Hara", 'Ames']);
        expect(
            names(
                'SELECT LastName FROM Contact ORDER BY LastName LIMIT 2 OFFSET 1'
            )
        ).toEqual(['Baker', 'Diaz']);
        expect(soqlError('SELECT Id FROM Contact OFFSET 2001').errorCode).toBe(
            'NUMBER_OUTSIDE_VALID_RANGE'
        );
    });

    it('counts with COUNT() and aggregates with GROUP BY', () => {
        expect(run('SELECT COUNT() FROM Contact')).toEqual({
            totalSize: 4,
            done: true,
            records: []
        });
        expect(run('SELECT COUNT() FROM Contact', true).totalSize).toBe(5);
        expect(run('SELECT COUNT(Id) FROM Contact').records).toEqual([
            { attributes: { type: 'AggregateResult' }, expr0: 4 }
        ]);
        const grouped = run(
            'SELECT AccountId, COUNT(Id) n FROM Contact GROUP BY AccountId ORDER BY AccountId NULLS FIRST'
        ).records;
        expect(grouped).toEqual([
            { attributes: { type: 'AggregateResult' }, AccountId: null, n: 2 },
            {
                attributes: { type: 'AggregateResult' },
                AccountId: ids.acme,
                n: 2
            }
        ]);
        const having = run(
            'SELECT AccountId, COUNT(Id) n FROM Contact WHERE FirstName != null GROUP BY AccountId HAVING COUNT(Id) > 1'
        ).records;
        expect(having).toEqual([
            {
                attributes: { type: 'AggregateResult' },
                AccountId: ids.acme,
                n: 2
            }
        ]);
        expect(
            soqlError(
                'SELECT LastName, COUNT(Id) FROM Contact GROUP BY AccountId'
            ).errorCode
        ).toBe('MALFORMED_QUERY');
    });

    it('supports semi-joins', () => {
        expect(
            names(
                `SELECT LastName FROM Contact WHERE AccountId IN (SELECT Id FROM Account WHERE Name = 'Acme') ORDER BY LastName`
            )
        ).toEqual(['Ames', 'Baker']);
    });

    it('answers unknown fields and objects with INVALID_FIELD and INVALID_TYPE bodies', () => {
        const field = soqlError('SELECT Id, Foo__c FROM Contact');
        expect(field.errorCode).toBe('INVALID_FIELD');
        expect(field.message).toContain(
            "No such column 'Foo__c' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
        );
        expect(field.message).toContain('ERROR at Row:1:Column:12');
        const type = soqlError('SELECT Id FROM Widget__c');
        expect(type.errorCode).toBe('INVALID_TYPE');
        expect(type.message).toContain(
            "sObject type 'Widget__c' is not supported."
        );
        expect(soqlError('SELECT Id, Owner.Nope FROM Contact').errorCode).toBe(
            'INVALID_FIELD'
        );
        expect(soqlError('SELECT Id FROM Contact WHERE').errorCode).toBe(
            'MALFORMED_QUERY'
        );
    });

    it('pages with locators: fixed result set, re-readable, unknown locators rejected', () => {
        const first = run(
            'SELECT LastName FROM Contact ORDER BY LastName DESC',
            false,
            2
        );
        expect(first.done).toBe(false);
        expect(first.totalSize).toBe(4);
        expect(first.nextRecordsUrl).toMatch(
            /^\/services\/data\/v66\.0\/query\/01g[0-9A-Za-z]{15}-2$/
        );
        const locator = (first.nextRecordsUrl as string)
            .split('/')
            .pop() as string;
        const second = q.queryMore(locator, '66.0');
        expect((second.records as Rec[]).map((r) => r.LastName)).toEqual([
            'Baker',
            'Ames'
        ]);
        expect(second.done).toBe(true);
        expect(second.nextRecordsUrl).toBeUndefined();
        // The same locator can be read again (a client retrying after a dropped connection).
        expect(q.queryMore(locator, '66.0').records).toEqual(second.records);
        expect(() => q.queryMore(locator.replace(/-2$/, '-3'), '66.0')).toThrow(
            'invalid query locator'
        );
        expect(() => q.queryMore('01g000000000000AAA-2', '66.0')).toThrow(
            'invalid query locator'
        );
    });

    it('keyset pages in insertion order without ORDER BY', () => {
        const first = run('SELECT LastName FROM Contact', false, 3);
        const locator = (first.nextRecordsUrl as string)
            .split('/')
            .pop() as string;
        expect(locator.endsWith('-3')).toBe(true);
        const rest = q.queryMore(locator, '66.0');
        expect(
            [...(first.records as Rec[]), ...(rest.records as Rec[])].map(
                (r) => r.LastName
            )
        ).toEqual(['Ames', 'Baker', 'Diaz', "O'Hara"]);
    });

    it('translates to parameterised SQL (no literal reaches the SQL text)', () => {
        const c = compileSoql(
            store,
            "SELECT Id FROM Contact WHERE LastName = 'x\\' OR 1=1 --' AND Email LIKE 'a%'"
        );
        expect(c.whereSql).not.toContain('1=1');
        expect(c.params).toEqual(["x' OR 1=1 --", 'a%']);
    });

    it('unescapes SOQL string literals', () => {
        expect(unquote("'it\\'s\\n'")).toBe("it's\n");
        expect(unquote("'a\\%'", true)).toBe('a\\%');
        expect(unquote("'a\\%'", false)).toBe('a%');
    });

    it('computes relative date ranges in UTC', () => {
        const now = Date.UTC(2024, 4, 15, 13, 0, 0); // Wednesday 15 May 2024
        expect(dateLiteralRange('TODAY', now)).toEqual([
            Date.UTC(2024, 4, 15),
            Date.UTC(2024, 4, 16)
        ]);
        expect(dateLiteralRange('LAST_N_DAYS:2', now)).toEqual([
            Date.UTC(2024, 4, 13),
            Date.UTC(2024, 4, 16)
        ]);
        expect(dateLiteralRange('THIS_WEEK', now)).toEqual([
            Date.UTC(2024, 4, 12),
            Date.UTC(2024, 4, 19)
        ]);
        expect(dateLiteralRange('LAST_MONTH', now)).toEqual([
            Date.UTC(2024, 3, 1),
            Date.UTC(2024, 4, 1)
        ]);
        expect(dateLiteralRange('NEXT_N_DAYS:1', now)).toEqual([
            Date.UTC(2024, 4, 16),
            Date.UTC(2024, 4, 17)
        ]);
        expect(() => dateLiteralRange('THIS_FISCAL_YEAR', now)).toThrow(
            /not supported/
        );
    });
});
