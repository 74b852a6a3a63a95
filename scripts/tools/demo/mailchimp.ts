/**
 * The demo's Mailchimp side: a local Mailchimp on a file beside the demo's other files,
 * holding the demo's three audiences (the ledger's ids) and their members, and the
 * connector's own pull and push run against it — so the demo shows both directions:
 * an opt-out made in Salesforce reaching Mailchimp, and an unsubscribe made in
 * Mailchimp reaching Salesforce.
 *
 * The local Mailchimp is a tool, not product code: it is imported only when the demo
 * runs (a dynamic import), never at module load.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Ledger } from '../../ledger/ledger';
import { OptoutError } from '../../model/errors';
import { MailchimpClient } from '../../mailchimp/client';
import { asRun, listsFor } from '../../mailchimp/job';
import { fetchLists } from '../../mailchimp/lists';
import { PULL_JOB, pullMailchimp, type PullResult } from '../../mailchimp/pull';
import { PUSH_JOB, pushMailchimp, type PushResult } from '../../mailchimp/push';
import type { LocalMailchimp } from '../local-mailchimp/server';
import type { MailchimpStore, MemberStatus } from '../local-mailchimp/store';
import { AUDIENCES, peopleByKey, type DemoData } from './data';

/** The local Mailchimp's database: beside the local org's (`.optout/local-mailchimp.db`). */
export function mailchimpDbPathFor(orgDbPath: string): string {
    return join(dirname(orgDbPath), 'local-mailchimp.db');
}

/**
 * Starts the local Mailchimp on `dbPath`. Batches run without the default pause between
 * operations (it imitates Mailchimp's pace; the demo must stay short).
 */
export async function startDemoMailchimp(
    dbPath: string
): Promise<LocalMailchimp> {
    // Loaded on demand, as open.ts loads @salesforce/core: the tool stays out of the CLI's load.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startLocalMailchimp } = require('../local-mailchimp/server') as {
        startLocalMailchimp: typeof import('../local-mailchimp/server').startLocalMailchimp;
    };
    return startLocalMailchimp({ port: 0, dbPath, batchStepMs: 0 });
}

function clientFor(mc: LocalMailchimp): MailchimpClient {
    return new MailchimpClient({
        apiKey: mc.apiKey,
        dc: mc.dc,
        apiUrl: mc.apiUrl
    });
}

/**
 * True when the file at `dbPath` is absent or holds only the demo's audiences — the
 * demo removes it (`--reset`, or a fresh seed) only then.
 */
export async function isDemoMailchimp(dbPath: string): Promise<boolean> {
    if (!existsSync(dbPath)) return true;
    const mc = await startDemoMailchimp(dbPath);
    try {
        const ids = new Set<string>(AUDIENCES.map((a) => a.id));
        return (await fetchLists(clientFor(mc))).every((l) => ids.has(l.id));
    } finally {
        await mc.close();
    }
}

/** Removes the demo's Mailchimp file, refusing one holding other audiences. */
export async function removeDemoMailchimp(dbPath: string): Promise<void> {
    if (!(await isDemoMailchimp(dbPath)))
        throw new OptoutError(
            'NOT_DEMO_DATA',
            `The local Mailchimp ${dbPath} holds audiences the demo did not create. Nothing was removed.`,
            {
                actions: [
                    'Run the demo on its own files: npm start -- --ledger .optout/demo/ledger.db --db .optout/demo/local-org.db'
                ]
            }
        );
    for (const suffix of ['', '-wal', '-shm', '-journal'])
        rmSync(`${dbPath}${suffix}`, { force: true });
}

export interface MailchimpSeed {
    audiencesCreated: number;
    membersAdded: number;
}

/** What seeding needs of the local Mailchimp: its admin handle, or its store. */
interface SeedTarget {
    hasList(name: string): boolean;
    createList(name: string, id: string): void;
    addMember(
        listId: string,
        email: string,
        status: MemberStatus,
        merge: Record<string, string>
    ): void;
}

/**
 * Creates each demo audience that is missing, with the same id as the ledger's, and its
 * members with their statuses (Mailchimp's own import: no webhook fires). An audience
 * already there is left as it is (a second run reuses it).
 */
function seedInto(target: SeedTarget, data: DemoData): MailchimpSeed {
    const people = peopleByKey(data);
    const out: MailchimpSeed = { audiencesCreated: 0, membersAdded: 0 };
    for (const a of AUDIENCES) {
        if (target.hasList(a.name)) continue;
        target.createList(a.name, a.id);
        out.audiencesCreated += 1;
        for (const m of data.mailchimpMembers) {
            const p = people.get(m.key);
            if (m.audienceId !== a.id || !p) continue;
            target.addMember(
                a.id,
                p.email,
                m.status.toLowerCase() as MemberStatus,
                { FNAME: p.firstName, LNAME: p.lastName }
            );
            out.membersAdded += 1;
        }
    }
    return out;
}

/** Seeds a running local Mailchimp through its admin handle (tests' small data). */
export function seedMailchimp(
    mc: LocalMailchimp,
    data: DemoData
): MailchimpSeed {
    return seedInto(
        {
            hasList: (name) => mc.admin.listsByName(name) !== undefined,
            createList: (name, id) => void mc.admin.createList(name, id),
            addMember: (listId, email, status, merge) =>
                void mc.admin.addMember(listId, email, status, merge)
        },
        data
    );
}

/**
 * Seeds the local Mailchimp's file before it starts, in one transaction: the full
 * size's ~8,000 members one commit each would take seconds of the demo's time.
 */
export function seedMailchimpFile(
    dbPath: string,
    data: DemoData
): MailchimpSeed {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MailchimpStore: Store } = require('../local-mailchimp/store') as {
        MailchimpStore: typeof MailchimpStore;
    };
    const store = new Store(dbPath);
    const now = Math.floor(Date.now() / 1000);
    try {
        return store.db.transaction(() =>
            seedInto(
                {
                    hasList: (name) => store.listIdByName(name) !== undefined,
                    createList: (name, id) =>
                        void store.createList(name, now, id),
                    addMember: (listId, email, status, merge) =>
                        void store.insertMember(
                            listId,
                            email,
                            status,
                            merge,
                            now,
                            'Import'
                        )
                },
                data
            )
        )();
    } finally {
        store.close();
    }
}

export interface DemoPull {
    /** The named member unsubscribed in Mailchimp before the pull (false: done earlier). */
    unsubscribedInMailchimp: boolean;
    result: PullResult;
    durationMs: number;
}

/**
 * The named member unsubscribes from one audience in Mailchimp (the contact's own
 * unsubscribe link: source `user`), then `optout mailchimp pull` reads the audiences.
 */
export async function demoPull(
    ledger: Ledger,
    mc: LocalMailchimp,
    data: DemoData
): Promise<DemoPull> {
    const t = Date.now();
    const { key, audienceId } = data.mailchimpUnsubscribe;
    const email = peopleByKey(data).get(key)?.email ?? '';
    const member = mc.admin.member(audienceId, email);
    const unsubscribe = member?.status === 'subscribed';
    if (unsubscribe) {
        mc.admin.setStatus(audienceId, email, 'unsubscribed', {
            source: 'user',
            reason: 'normal'
        });
        await mc.admin.settle();
    }
    const client = clientFor(mc);
    const lists = await listsFor(client, []);
    const result = await asRun(
        ledger,
        PULL_JOB,
        (runId) => pullMailchimp(ledger, client, lists, runId),
        (r) => r.audiences.some((a) => a.skipped.length > 0)
    );
    return {
        unsubscribedInMailchimp: unsubscribe,
        result,
        durationMs: Date.now() - t
    };
}

export interface DemoPush {
    result: PushResult;
    durationMs: number;
}

/** `optout mailchimp push`: every ledger unsubscribe an audience has not got. */
export async function demoPush(
    ledger: Ledger,
    mc: LocalMailchimp
): Promise<DemoPush> {
    const t = Date.now();
    const client = clientFor(mc);
    const lists = await listsFor(client, []);
    const result = await asRun(
        ledger,
        PUSH_JOB,
        // The local Mailchimp finishes a batch in milliseconds: poll often.
        (runId) => pushMailchimp(ledger, client, lists, { runId, pollMs: 100 }),
        (r) => r.failed.length > 0
    );
    return { result, durationMs: Date.now() - t };
}
