import { idChecksum, makeId, normalizeId, sameId, to18 } from '../ids';

describe('Salesforce ids', () => {
    it('computes the checksum of the documented test vectors', () => {
        expect(to18('001M000000qfPyS')).toBe('001M000000qfPySIAU');
        expect(to18('a0RE000000IJmcN')).toBe('a0RE000000IJmcNMAT');
        expect(idChecksum('003000000000000')).toBe('AAA');
    });

    it('accepts a valid 18-character id in any case of its checksum', () => {
        expect(normalizeId('001M000000qfPySiau')).toEqual({
            ok: true,
            id: '001M000000qfPySIAU',
            prefix: '001'
        });
    });

    it('rejects wrong lengths, bad characters and bad checksums with a reason', () => {
        const short = normalizeId('003abc');
        expect(short.ok).toBe(false);
        expect(!short.ok && short.reason).toMatch(/6 characters/);
        const bad = normalizeId('003M000000qfPy-');
        expect(!bad.ok && bad.reason).toMatch(/letters and digits/);
        const sum = normalizeId('001M000000qfPySAAA');
        expect(!sum.ok && sum.reason).toMatch(
            /bad checksum.*001M000000qfPySIAU/
        );
        expect(() => to18('x')).toThrow(/1 characters/);
    });

    it('makes unique valid ids with the given prefix', () => {
        const a = makeId('003', 1);
        const b = makeId('003', 2);
        expect(a).toHaveLength(18);
        expect(a.startsWith('003')).toBe(true);
        expect(a).not.toBe(b);
        expect(normalizeId(a).ok).toBe(true);
        expect(() => makeId('03', 1)).toThrow(/3 characters/);
    });

    it('compares ids across the 15/18 forms', () => {
        expect(sameId('001M000000qfPyS', '001M000000qfPySIAU')).toBe(true);
        expect(sameId('001M000000qfPyS', '001M000000qfPyT')).toBe(false);
    });
});
