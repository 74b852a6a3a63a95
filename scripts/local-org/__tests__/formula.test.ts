import {
    evaluateFormula,
    FormulaUnsupported,
    parseFormula,
    referencedFields
} from '../formula';

function evaluate(
    formula: string,
    record: Record<string, unknown>,
    prior?: Record<string, unknown>
): unknown {
    return evaluateFormula(parseFormula(formula), {
        get: (n) => record[n] ?? null,
        prior: (n) => prior?.[n] ?? null,
        isNew: prior === undefined
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

    it('reports what it cannot evaluate instead of guessing', () => {
        for (const f of [
            'Contact__r.Email = "x"',
            '$User.Id = OwnerId',
            'TODAY() > Due__c',
            'A__c & B__c = "x"',
            'REGEX(Email__c, "[a-z]+")',
            'AND(A__c'
        ]) {
            expect(() => parseFormula(f)).toThrow(FormulaUnsupported);
        }
    });
});
