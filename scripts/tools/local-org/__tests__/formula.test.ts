import {
    evaluateFormula,
    FormulaUnsupported,
    parseFormula,
    referencedFields,
    referencedPermissions
} from '../formula';

function evaluate(
    formula: string,
    record: Record<string, unknown>,
    prior?: Record<string, unknown>,
    permissions: string[] = []
): unknown {
    return evaluateFormula(parseFormula(formula), {
        get: (n) => record[n] ?? null,
        prior: (n) => prior?.[n] ?? null,
        isNew: prior === undefined,
        hasPermission: (n) => permissions.includes(n)
    });
}

describe('validation rule formulas (local org subset)', () => {
    const exactlyOne = 'ISBLANK(Contact__c) = ISBLANK(Lead__c)';

    it("evaluates the package's Exactly_One_Person rule", () => {
        expect(evaluate(exactlyOne, { Contact__c: null, Lead__c: null })).toBe(
            true
        );
        expect(
            evaluate(exactlyOne, { Contact__c: '003', Lead__c: '00Q' })
        ).toBe(true);
        expect(evaluate(exactlyOne, { Contact__c: '003', Lead__c: null })).toBe(
            false
        );
        expect(evaluate(exactlyOne, { Contact__c: '', Lead__c: '00Q' })).toBe(
            false
        );
    });

    it('supports AND/OR/NOT functions and &&, ||, ! operators', () => {
        const f =
            'OR(AND(ISBLANK(A__c), ISBLANK(B__c)), AND(NOT(ISBLANK(A__c)), NOT(ISBLANK(B__c))))';
        expect(evaluate(f, { A__c: 'x', B__c: null })).toBe(false);
        expect(evaluate(f, { A__c: 'x', B__c: 'y' })).toBe(true);
        expect(
            evaluate('!ISBLANK(A__c) && (B__c == "y" || C__c <> 1)', {
                A__c: 'a',
                B__c: 'n',
                C__c: 2
            })
        ).toBe(true);
        expect(
            evaluate('!ISBLANK(A__c) && (B__c == "y" || C__c <> 1)', {
                A__c: 'a',
                B__c: 'n',
                C__c: 1
            })
        ).toBe(false);
    });

    it('supports ISPICKVAL, TEXT, LEN, BEGINS, CONTAINS, IF and BLANKVALUE', () => {
        expect(
            evaluate(
                "ISPICKVAL(Status__c, 'Unsubscribed') && ISBLANK(Reason__c)",
                { Status__c: 'Unsubscribed' }
            )
        ).toBe(true);
        expect(
            evaluate('LEN(TEXT(Status__c)) > 5', { Status__c: 'Subscribed' })
        ).toBe(true);
        expect(
            evaluate('BEGINS(Key__c, "a1:") && CONTAINS(Key__c, "003")', {
                Key__c: 'a1:003x'
            })
        ).toBe(true);
        expect(evaluate('IF(Flag__c, 1, 2) = 2', { Flag__c: false })).toBe(
            true
        );
        expect(evaluate('BLANKVALUE(Name__c, "none") = "none"', {})).toBe(true);
    });

    it('supports ISNEW, ISCHANGED and PRIORVALUE', () => {
        expect(evaluate('ISNEW()', {})).toBe(true);
        expect(
            evaluate(
                'ISCHANGED(Status__c)',
                { Status__c: 'b' },
                { Status__c: 'a' }
            )
        ).toBe(true);
        expect(
            evaluate(
                'ISCHANGED(Status__c)',
                { Status__c: 'a' },
                { Status__c: 'a' }
            )
        ).toBe(false);
        expect(
            evaluate(
                'PRIORVALUE(Status__c) = "a"',
                { Status__c: 'b' },
                { Status__c: 'a' }
            )
        ).toBe(true);
    });

    it('lists the fields a formula references', () => {
        expect(referencedFields(parseFormula(exactlyOne)).sort()).toEqual([
            'Contact__c',
            'Lead__c'
        ]);
    });

    it('evaluates $Permission.<Name> as whether the acting user holds it', () => {
        const rule =
            "AND(ISCHANGED(HasOptedOutOfEmail), Department = 'Investor Relations', NOT($Permission.Opt_Out_Sync_Integration_User))";
        const prior = {
            HasOptedOutOfEmail: false,
            Department: 'Investor Relations'
        };
        const next = { ...prior, HasOptedOutOfEmail: true };
        expect(evaluate(rule, next, prior)).toBe(true);
        expect(
            evaluate(rule, next, prior, ['Opt_Out_Sync_Integration_User'])
        ).toBe(false);
        expect(referencedPermissions(parseFormula(rule))).toEqual([
            'Opt_Out_Sync_Integration_User'
        ]);
        // A permission is not a field: the deploy's field check must not see it.
        expect(referencedFields(parseFormula(rule)).sort()).toEqual([
            'Department',
            'HasOptedOutOfEmail'
        ]);
        // Only asked for when the formula reaches it (lazy lookup per user).
        let asked = 0;
        evaluateFormula(parseFormula(rule), {
            get: () => false,
            prior: () => false,
            isNew: false,
            hasPermission: () => {
                asked++;
                return false;
            }
        });
        expect(asked).toBe(0);
    });

    it('reports what it cannot evaluate instead of guessing', () => {
        for (const f of [
            'Contact__r.Email = "x"',
            '$User.Id = OwnerId',
            '$Permission.Has.Dot',
            '$Setup.Opt_Out_Sync_Settings__c.Enabled__c',
            'TODAY() > Due__c',
            'A__c & B__c = "x"',
            'REGEX(Email__c, "[a-z]+")',
            'AND(A__c'
        ]) {
            expect(() => parseFormula(f)).toThrow(FormulaUnsupported);
        }
    });
});
