import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrgStore } from '../store';

describe('OrgStore database file', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'org-store-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('creates the folder of a database path that does not exist yet', () => {
        const path = join(dir, '.optout', 'local-org.db');
        const store = new OrgStore(path);
        try {
            expect(existsSync(path)).toBe(true);
        } finally {
            store.close();
        }
    });
});
