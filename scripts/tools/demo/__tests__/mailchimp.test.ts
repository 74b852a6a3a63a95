/**
 * The demo's Mailchimp file: seeded once in a transaction with the ledger's audience ids
 * and statuses, reused as it is, and removed only when it holds nothing but the demo's
 * audiences.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OptoutError } from '../../../model/errors';
import { MailchimpStore } from '../../local-mailchimp/store';
import { AUDIENCES, generateDemoData, peopleByKey } from '../data';
import {
    isDemoMailchimp,
    mailchimpDbPathFor,
    removeDemoMailchimp,
    seedMailchimpFile
} from '../mailchimp';

describe('the demo Mailchimp file', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'optout-demo-mc-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('lives beside the local org database', () => {
        expect(mailchimpDbPathFor('/a/b/org.db')).toBe(
            '/a/b/local-mailchimp.db'
        );
    });

    it('seeds the three audiences with the ledger ids once, then reuses them', async () => {
        const path = join(dir, 'mc.db');
        const data = generateDemoData({ size: 'small' });
        const first = seedMailchimpFile(path, data);
        expect(first).toEqual({
            audiencesCreated: 3,
            membersAdded: data.mailchimpMembers.length
        });
        expect(seedMailchimpFile(path, data)).toEqual({
            audiencesCreated: 0,
            membersAdded: 0
        });
        const store = new MailchimpStore(path);
        try {
            for (const a of AUDIENCES)
                expect(store.listIdByName(a.name)).toBe(a.id);
            // Elena is a member only Mailchimp knows, subscribed.
            const elena = peopleByKey(data).get(data.examples.mailchimpPush);
            const row = store.db
                .prepare(
                    'SELECT status FROM members WHERE list_id = ? AND email_address = ?'
                )
                .get(AUDIENCES[0].id, elena?.email) as { status: string };
            expect(row.status).toBe('subscribed');
        } finally {
            store.close();
        }
        expect(await isDemoMailchimp(path)).toBe(true);
        await removeDemoMailchimp(path);
        expect(existsSync(path)).toBe(false);
    });

    it('refuses to remove a file holding another audience, and leaves it', async () => {
        const path = join(dir, 'mc.db');
        const store = new MailchimpStore(path);
        store.createList('Real customers', 0);
        store.close();
        await expect(removeDemoMailchimp(path)).rejects.toBeInstanceOf(
            OptoutError
        );
        await expect(removeDemoMailchimp(path)).rejects.toMatchObject({
            code: 'NOT_DEMO_DATA'
        });
        expect(existsSync(path)).toBe(true);
    });
});
