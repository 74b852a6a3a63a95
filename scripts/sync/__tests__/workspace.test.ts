/**
 * The sync's scratch store keeps one prepared statement per text (an index's lookups
 * run per change: prepared anew each time, thousands stayed compiled until GC), and
 * lets a dropped table's statements go.
 */
import { Workspace, tempName } from '../workspace';

describe('Workspace statements', () => {
    let ws: Workspace;
    beforeEach(() => {
        ws = Workspace.open(':memory:');
    });
    afterEach(() => ws.close());

    it('prepares a text once and hands the same statement back', () => {
        const t = tempName('t');
        ws.exec(`CREATE TABLE ${t} (id TEXT PRIMARY KEY)`);
        const insert = ws.prepare(`INSERT INTO ${t} (id) VALUES (?)`);
        expect(ws.prepare(`INSERT INTO ${t} (id) VALUES (?)`)).toBe(insert);
        insert.run('a');
        ws.prepare(`INSERT INTO ${t} (id) VALUES (?)`).run('b');
        expect(ws.count(`SELECT COUNT(*) AS n FROM ${t}`)).toBe(2);
        expect(ws.prepare(`SELECT id FROM ${t} WHERE id = ?`)).not.toBe(insert);
    });

    it('forgets the statements of a dropped table, and only those', () => {
        // t_<pid>_N and t_<pid>_N0: one name a prefix of the other.
        const a = tempName('t');
        let b = tempName('t');
        while (b !== `${a}0`) b = tempName('t');
        ws.exec(`CREATE TABLE ${a} (id TEXT)`);
        ws.exec(`CREATE TABLE ${b} (id TEXT)`);
        const readA = ws.prepare(`SELECT id FROM ${a}`);
        const readB = ws.prepare(`SELECT id FROM ${b}`);
        const both = ws.prepare(
            `SELECT id FROM ${a} UNION SELECT id FROM ${b}`
        );
        ws.drop(a);
        expect(ws.prepare(`SELECT id FROM ${b}`)).toBe(readB);
        expect(() => ws.prepare(`SELECT id FROM ${a}`)).toThrow(
            /no such table/
        );
        ws.exec(`CREATE TABLE ${a} (id TEXT)`);
        const again = ws.prepare(`SELECT id FROM ${a}`);
        expect(again).not.toBe(readA);
        expect(again.all()).toEqual([]);
        expect(
            ws.prepare(`SELECT id FROM ${a} UNION SELECT id FROM ${b}`)
        ).not.toBe(both);
    });
});
