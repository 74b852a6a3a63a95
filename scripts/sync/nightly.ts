/**
 * The nightly reconciliation (R3), only when Nightly_Sync_Enabled__c is on:
 *
 * 1. the records to decide on are streamed into a table of the run's workspace
 *    (workspace.ts) — Bulk API 2.0 pages for a large read, REST pages for a small one —
 *    so memory stays flat at a million records. Which records (R16, nightly-mode.ts):
 *    - full: every Contact and Lead (Id, Email, the chosen field, conversion);
 *    - incremental: the Contacts and Leads with SystemModstamp after the last successful
 *      run less a look-back (the converted Leads of the Contacts among them, and the
 *      Contacts of the converted Leads, R9), plus every record (R6 id, R8 email, R9) of
 *      the persons changed in the ledger: a global unsubscribe recorded since that run
 *      (the ledger's sequence, `event_seq`) or still undelivered and due. When those
 *      persons take too many queries the look-up becomes a scan: the run is full;
 * 2. (b) every record read with the field true whose person has no active global
 *    unsubscribe becomes one in the ledger (source salesforce), creating the person
 *    when needed. Converted Leads are left out: they are frozen history whose Contact
 *    carries the state (otherwise unchecking the Contact could never stick, R4);
 * 3. (a) the active global unsubscribes of the persons the records read may match (all
 *    of them in a full run) are copied page by page from the ledger; their records
 *    (R6 id, R8 same email, R9 converted Lead → Contact) with the field false are set
 *    true — decided in SQL in the workspace, written in Bulk jobs (or Collections when
 *    few);
 * 4. pending global unsubscribes whose records are all confirmed are marked delivered —
 *    and only those with at least one record: one matched to nothing waits (R11). In an
 *    incremental run only those of the persons looked up in the ledger (step 1): a
 *    person reached through one changed record may have others that were not read.
 *    The per-unsubscribe skip counts (no matching record, converted Lead without its
 *    Contact) are over those persons too; the per-record ones over the records read.
 *
 * Running it again with no new input writes nothing (R11): every record already agrees.
 *
 * Every write goes through the run's writer (writer.ts). A dry run reads and decides as
 * a run does and plans the field writes (a) and the unsubscribes from Salesforce (b)
 * without making them; its deliveries are those Salesforce confirms already (a planned
 * write confirms nothing); it moves no cursor, records no refusal and takes no other
 * job's lock.
 */
import { SOBJECT, type OptOutField } from '../model/schema';
import {
    checkEmail,
    type LedgerSource,
    type PersonObject
} from '../model/statuses';
import { requireWritableFields } from '../salesforce/describe';
import {
    jobSettings,
    type JobContext,
    type WriteMeta,
    type WriteOutcome
} from './context';
import { RecordIndex, col } from './records';
import { soqlDateTime } from './new-records';
import {
    chooseNightlyMode,
    resolveNightlyOptions,
    type NightlyOptions
} from './nightly-mode';
import { tempName, type Workspace } from './workspace';
import { jobWriter } from './writer';
import { waitingRetryDelay } from './decisions';
import { firstError } from './push';
import type { ActiveGlobalUnsubscribe, AttemptError } from '../ledger/types';
import type { RecordUnsubscribeInput } from '../ledger/ledger';
import { classifyRecordError } from '../model/stuck';

export const NIGHTLY_CURSOR = { job: 'nightly', name: 'last_success' } as const;
/** The start of the last full reconciliation (R16: one at least every interval). */
export const NIGHTLY_FULL_CURSOR = {
    job: 'nightly',
    name: 'last_full'
} as const;
/**
 * The ledger's sequence at the start of the last successful run: the newest suppression
 * event id (unsubscribes added and removed), read before the org.
 */
export const NIGHTLY_EVENT_CURSOR = {
    job: 'nightly',
    name: 'event_seq'
} as const;

/** Ledger rows per transaction when recording unsubscribes from Salesforce. */
const LEDGER_BATCH = 1000;

export async function runNightly(
    ctx: JobContext,
    options: NightlyOptions = {}
): Promise<void> {
    const { settings } = await jobSettings(ctx);
    if (!settings.nightlySyncEnabled) {
        ctx.builder.result.status = 'skipped';
        ctx.builder.result.message =
            'The nightly sync is off in this org (Opt_Out_Sync_Settings__c.Nightly_Sync_Enabled__c); nothing was read or written.';
        return;
    }
    const field = settings.optOutField;
    await requireWritableFields(ctx.client, [
        { object: SOBJECT.CONTACT, field },
        { object: SOBJECT.LEAD, field }
    ]);
    const opts = resolveNightlyOptions(options);
    const cursor = (c: {
        job: string;
        name: string;
    }): Promise<string | undefined> => ctx.ledger.getCursor(c.job, c.name);
    const choice = chooseNightlyMode({
        options: opts,
        now: ctx.now(),
        lastSuccess: await cursor(NIGHTLY_CURSOR),
        eventCursor: await cursor(NIGHTLY_EVENT_CURSOR),
        lastFull: await cursor(NIGHTLY_FULL_CURSOR)
    });
    // The ledger's sequence before anything is read: what is recorded from here on is
    // looked at again by the next run.
    const eventSeq = await ctx.ledger.lastSuppressionEventId();
    const index = new RecordIndex(ctx.workspace, [field]);
    const unsubs = tempName('nightly_unsubscribes');
    const matches = tempName('nightly_match');
    const written = tempName('nightly_written');
    const seen = tempName('nightly_seen');
    const db = ctx.workspace;
    const T = index.table;
    const F = col(field);
    // Pushes that settle an unsubscribe from here on may have written its records
    // after this run read them (see settleSince). The ledger's clock (real time, as
    // markDelivered stamps it); other machines' clocks are assumed in step (NTP): one
    // running behind could at worst let a record be written a second time.
    const readFrom = new Date().toISOString();
    const writer = jobWriter(ctx);
    try {
        const onMode = (object: string, mode: string): void =>
            ctx.builder.mode(`read ${object}`, mode);
        let full = choice.mode === 'full';
        let reason = choice.reason;
        /** Incremental: the ledger side, whose persons' records are all read. */
        let lookedUp: ActiveGlobalUnsubscribe[] = [];
        if (full) await index.loadAll(ctx.client, ctx.progress, onMode);
        else {
            const since = soqlDateTime(Date.parse(choice.since as string));
            await index.loadWhere(
                ctx.client,
                () => `SystemModstamp > ${since}`,
                ctx.progress,
                onMode
            );
            // A changed Contact lacking the field may be a person's through the Lead
            // converted into it (R9); one with the field needs nothing written.
            await index.loadConvertingLeads(
                ctx.client,
                index.idsOf('Contact', field)
            );
            lookedUp = await ledgerSide(
                ctx,
                eventSeqOf(await cursor(NIGHTLY_EVENT_CURSOR))
            );
            let how: 'lookup' | 'scan' = 'lookup';
            if (lookedUp.length)
                how = await index.loadFor(ctx.client, lookedUp, {
                    applyToSameEmail: settings.applyToSameEmail,
                    onProgress: ctx.progress
                });
            // The Contacts of the converted Leads read (R9); none left after a scan.
            if (how === 'lookup') await index.loadConvertedContacts(ctx.client);
            ctx.builder.mode('read ledger changes', how);
            if (how === 'scan') {
                // Every record was read: this run is a full one.
                full = true;
                reason = `${lookedUp.length} persons changed in the ledger took a scan of every record`;
            }
        }
        ctx.builder.mode('reconciliation', full ? 'full' : 'incremental');
        ctx.builder.result.reconciliation = {
            mode: full ? 'full' : 'incremental',
            reason,
            ...(choice.since && !full ? { since: choice.since } : {}),
            recordsRead: index.count(),
            ledgerPersons: full
                ? null
                : new Set(lookedUp.map((u) => u.personId)).size
        };
        ctx.log(
            'info',
            `nightly: ${full ? 'full' : 'incremental'} reconciliation (${reason}); ${index.count()} records read`
        );
        ctx.heartbeat();

        // ---- (b) Salesforce → ledger
        const recorded = await fromSalesforce(ctx, index, field);
        if (!full && recorded.length) {
            // Persons unsubscribed just now from a changed record: all their records
            // are read too, so that (a) reaches them and they are delivered tonight,
            // as a full run does.
            const rows = await ctx.ledger.activeGlobalUnsubscribesOf(recorded);
            lookedUp = [...lookedUp, ...rows];
            db.exec(`CREATE TABLE ${seen} AS SELECT id FROM ${T}`);
            const before = index.count();
            const how = await index.loadFor(ctx.client, rows, {
                applyToSameEmail: settings.applyToSameEmail,
                onProgress: ctx.progress
            });
            // (b) for the records read only now.
            if (index.count() > before)
                await fromSalesforce(ctx, index, field, seen);
            if (how === 'scan') {
                full = true;
                reason = `${recorded.length} persons unsubscribed in Salesforce took a scan of every record`;
                ctx.builder.mode('reconciliation', 'full');
            }
            const r = ctx.builder.result.reconciliation;
            if (r) {
                r.mode = full ? 'full' : 'incremental';
                r.reason = reason;
                r.recordsRead = index.count();
                r.ledgerPersons = full
                    ? null
                    : new Set(lookedUp.map((u) => u.personId)).size;
            }
        }

        // ---- (a) ledger → Salesforce: which records of which unsubscribes
        createUnsubsTable(db, unsubs);
        if (full) await copyActiveUnsubscribes(ctx, unsubs);
        else
            await copyUnsubscribesOfRecords(
                ctx,
                unsubs,
                index,
                lookedUp,
                settings.applyToSameEmail
            );
        indexUnsubsTable(db, unsubs);
        db.exec(`CREATE TABLE ${matches} (
            unsub_id INTEGER NOT NULL, person_id INTEGER NOT NULL, target TEXT NULL,
            PRIMARY KEY (unsub_id, target))`);
        db.exec(`CREATE INDEX ${matches}_target ON ${matches}(target)`);
        db.exec(
            `CREATE TABLE ${written} (target TEXT PRIMARY KEY, ok INTEGER NOT NULL,
                code TEXT NULL, message TEXT NULL, object TEXT NULL)`
        );
        const targetExpr = `CASE WHEN r.object = 'Lead' AND r.is_converted = 1 THEN r.converted_contact_id ELSE r.id END`;
        db.prepare(
            `INSERT OR IGNORE INTO ${matches} (unsub_id, person_id, target)
             SELECT u.id, u.person_id, ${targetExpr} FROM ${unsubs} u
             JOIN ${T} r ON r.id = u.salesforce_id`
        ).run();
        if (settings.applyToSameEmail)
            db.prepare(
                `INSERT OR IGNORE INTO ${matches} (unsub_id, person_id, target)
                 SELECT u.id, u.person_id, ${targetExpr} FROM ${unsubs} u
                 JOIN ${T} r ON r.email_norm = u.email_norm`
            ).run();
        // From here to the deliveries the push's lock is held too: a push (a webhook
        // replica, the scheduler) may have written some of these records since they
        // were read, and must not write them while this run does (R11: once). A dry
        // run writes nothing and holds no other lock (the writer's `exclusive`).
        const tables: NightlyTables = { db, T, F, unsubs, matches, written };
        await writer.exclusive('push', () =>
            writeAndDeliver(ctx, tables, field, readFrom)
        );
        if (!transientFailure(ctx)) await saveCursors(ctx, eventSeq, full);
    } finally {
        index.drop();
        db.drop(unsubs);
        db.drop(matches);
        db.drop(written);
        db.drop(seen);
    }
}

/** The run's workspace tables: the records read and the field's column, the rest below. */
interface NightlyTables {
    db: Workspace;
    /** The records read (RecordIndex's table) and the opt-out field's column in it. */
    T: string;
    F: string;
    /** The active global unsubscribes copied from the ledger. */
    unsubs: string;
    /** Which record (target) each unsubscribe reaches. */
    matches: string;
    /** What Salesforce said of each record written this run. */
    written: string;
}

/** A record to set the field on, with its representative unsubscribe (the oldest). */
/** A record to write: its id and object only (what the audit needs is read as it goes). */
interface OptOutRow {
    id: string;
    object: PersonObject;
}

/** A record's representative unsubscribe (its oldest), for the audit trail (R10). */
type MetaOf = (id: string) => WriteMeta | undefined;

/**
 * (a) and R11, under the push's lock in a real run: counts what is not written and
 * why, writes the field on the records that need it, delivers what Salesforce confirms
 * and keeps the refusals (R14). Through the run's writer: a dry run plans the writes.
 */
async function writeAndDeliver(
    ctx: JobContext,
    t: NightlyTables,
    field: OptOutField,
    readFrom: string
): Promise<void> {
    await settleSince(ctx, readFrom, t);
    countSkips(ctx, t);
    // R14: a record refused for good is not sent again before its back-off is over,
    // nor at all once its unsubscribe is a dead letter (optout retry puts it back).
    const deferred = deferredSql(ctx.now().toISOString());
    ctx.builder.skip(
        'stuck_record',
        t.db.count(
            `SELECT COUNT(DISTINCT m.target) AS n FROM ${t.matches} m JOIN ${t.T} c ON c.id = m.target
             JOIN ${t.unsubs} u ON u.id = m.unsub_id WHERE c.${t.F} = 0 AND ${deferred}`
        )
    );
    await writeOptOuts(ctx, t, field, deferred);
    await deliverConfirmed(ctx, t);
    await jobWriter(ctx).ledger(() =>
        recordRefusals(ctx, t.db, t.matches, t.written)
    );
}

/**
 * Per unsubscribe (matched to nothing, to a converted Lead without its Contact): only
 * those whose records were all read (looked_up; all in a full run) — another may have
 * records this run did not read. Per record (already opted out): the records read.
 */
function countSkips(ctx: JobContext, t: NightlyTables): void {
    const { db, T, F, unsubs, matches } = t;
    ctx.builder.skip(
        'converted_lead_without_contact',
        db.count(
            `SELECT COUNT(*) AS n FROM ${matches} m JOIN ${unsubs} u ON u.id = m.unsub_id
             WHERE m.target IS NULL AND u.looked_up = 1`
        )
    );
    ctx.builder.skip(
        'no_matching_record',
        db.count(
            `SELECT COUNT(*) AS n FROM ${unsubs} u
             WHERE u.looked_up = 1 AND NOT EXISTS (SELECT 1 FROM ${matches} m WHERE m.unsub_id = u.id AND m.target IS NOT NULL)`
        )
    );
    ctx.builder.skip(
        'already_opted_out',
        db.count(
            `SELECT COUNT(DISTINCT m.target) AS n FROM ${matches} m JOIN ${T} c ON c.id = m.target WHERE c.${F} = 1`
        )
    );
}

/**
 * SQL on an unsubscribe `u`: its records wait (R14) — a dead letter, or refused and in
 * its back-off at `now`. (COALESCE: a NULL outcome must read as "not deferred", not as
 * unknown.)
 */
function deferredSql(now: string): string {
    return `(COALESCE(u.last_outcome, '') = 'dead_letter' OR (COALESCE(u.last_outcome, '') = 'rejected' AND COALESCE(u.next_attempt_at, '') > '${now}'))`;
}

/**
 * Sets the field on every record matched with it false and not deferred, a Bulk job's
 * worth at a time, through the run's writer; what Salesforce says of each is kept in
 * `written` (a dry run's plan confirms nothing there).
 */
async function writeOptOuts(
    ctx: JobContext,
    t: NightlyTables,
    field: OptOutField,
    deferred: string
): Promise<void> {
    const { db, T, F, unsubs, matches } = t;
    const total = db.count(
        `SELECT COUNT(DISTINCT m.target) AS n FROM ${matches} m JOIN ${T} c ON c.id = m.target
         JOIN ${unsubs} u ON u.id = m.unsub_id WHERE c.${F} = 0 AND NOT ${deferred}`
    );
    // The records to write, a Bulk job's worth at a time: their ids and objects only.
    // What the audit needs of each is read from the workspace as it is audited, not
    // held for the whole job (at a million persons, ~90,000 records at once).
    const page = db.prepare(
        `SELECT DISTINCT m.target AS id, c.object AS object
         FROM ${matches} m JOIN ${T} c ON c.id = m.target
         JOIN ${unsubs} u ON u.id = m.unsub_id
         WHERE c.${F} = 0 AND m.target > ? AND NOT ${deferred}
         ORDER BY m.target LIMIT ?`
    );
    // One representative unsubscribe per record (the oldest; SQLite takes the bare
    // columns from the row of the MIN).
    const representative = db.prepare(
        `SELECT MIN(m.unsub_id) AS unsubId, u.person_id AS personId,
            u.email_norm AS emailNorm, u.source AS source, u.collected_at AS collectedAt
         FROM ${matches} m JOIN ${unsubs} u ON u.id = m.unsub_id
         WHERE m.target = ? AND NOT ${deferred}`
    );
    const metaOf: MetaOf = (id) => {
        const r = representative.get(id) as
            | {
                  unsubId: number | null;
                  personId: number;
                  emailNorm: string;
                  source: LedgerSource;
                  collectedAt: string;
              }
            | undefined;
        return r && r.unsubId !== null
            ? {
                  emailNorm: r.emailNorm,
                  personId: r.personId,
                  source: r.source,
                  collectedAt: r.collectedAt,
                  detail: { unsubscribeId: r.unsubId }
              }
            : undefined;
    };
    const chunk = ctx.client.bulkJobSize;
    let after = '';
    let done = 0;
    for (;;) {
        const rows = page.all(after, chunk) as OptOutRow[];
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        keepOutcomes(t, await writeOptOutPage(ctx, field, rows, metaOf));
        done += rows.length;
        ctx.progress({ phase: 'write opt-outs', done, total });
    }
}

/** One page of opt-out writes, each audited with its unsubscribe (R10). */
async function writeOptOutPage(
    ctx: JobContext,
    field: OptOutField,
    rows: readonly OptOutRow[],
    metaOf: MetaOf
): Promise<Map<string, WriteOutcome>> {
    return jobWriter(ctx).optOut(
        field,
        rows,
        (id) =>
            metaOf(id) ?? {
                // A converted lead rewritten to its Contact carries its lead's meta.
                emailNorm: metaOf(rows[0].id)?.emailNorm ?? '',
                personId: null,
                source: 'salesforce',
                collectedAt: null
            },
        { sample: (r) => ({ email: metaOf(r.id)?.emailNorm }) }
    );
}

/**
 * Keeps what Salesforce said of each record written (confirmed, deleted or refused
 * with its error, R14). A planned write counts as confirmed, as in the push's plan: a
 * dry run's deliveries are those the real run would make once its writes are
 * confirmed (it records nothing, so it does not count the unsubscribes it would first
 * record from Salesforce).
 */
function keepOutcomes(
    t: NightlyTables,
    outcomes: ReadonlyMap<string, WriteOutcome>
): void {
    const mark = t.db.prepare(
        `INSERT OR REPLACE INTO ${t.written} (target, ok, code, message, object)
         VALUES (?, ?, ?, ?, ?)`
    );
    t.db.transaction(() => {
        for (const [id, o] of outcomes) {
            const error = o.ok ? undefined : o.error;
            mark.run(
                id,
                o.ok || o.deleted ? 1 : 0,
                error?.code ?? null,
                error?.message ?? null,
                error?.object ?? null
            );
        }
    });
}

/**
 * R11: delivers what Salesforce now confirms — the unsubscribes (whose records were
 * all read) with a record, every one opted out, written or gone (markDelivered skips
 * one delivered or removed since it was copied).
 */
async function deliverConfirmed(
    ctx: JobContext,
    t: NightlyTables
): Promise<void> {
    const { db, T, F, unsubs, matches, written } = t;
    const deliverable = db
        .prepare(
            `SELECT u.id FROM ${unsubs} u WHERE u.delivered_at IS NULL AND u.looked_up = 1
             AND EXISTS (SELECT 1 FROM ${matches} m WHERE m.unsub_id = u.id AND m.target IS NOT NULL)
             AND NOT EXISTS (
                 SELECT 1 FROM ${matches} m LEFT JOIN ${T} c ON c.id = m.target
                 LEFT JOIN ${written} w ON w.target = m.target
                 WHERE m.unsub_id = u.id AND m.target IS NOT NULL
                   -- COALESCE: a record not written this run (a refused one
                   -- waiting for its back-off, R14) is not confirmed.
                   AND NOT (c.${F} = 1 OR COALESCE(w.ok, 0) = 1 OR c.id IS NULL))
             ORDER BY u.id`
        )
        .all() as { id: number }[];
    for (let i = 0; i < deliverable.length; i += LEDGER_BATCH)
        await jobWriter(ctx).markDelivered(
            deliverable.slice(i, i + LEDGER_BATCH).map((r) => r.id),
            { job: 'nightly' }
        );
}

/**
 * A permanent refusal is kept on its unsubscribe (R14) and does not hold the cursors
 * back; a transient one does (the next night sends it again).
 */
function transientFailure(ctx: JobContext): boolean {
    return ctx.builder.result.failed.some(
        (f) => classifyRecordError(f.errorCode) === 'transient'
    );
}

/** Moves the cursors past this run (a dry run moves none). */
async function saveCursors(
    ctx: JobContext,
    eventSeq: number,
    full: boolean
): Promise<void> {
    const writer = jobWriter(ctx);
    const at = ctx.builder.result.startedAt;
    await writer.setCursor(NIGHTLY_EVENT_CURSOR, String(eventSeq));
    if (full) await writer.setCursor(NIGHTLY_FULL_CURSOR, at);
    await writer.setCursor(NIGHTLY_CURSOR, at);
}

/**
 * Unsubscribes a push delivered since this run began reading the org: their records
 * were written (or are, by the push) after the read, so they count as opted out here —
 * nothing to write, only to confirm (R11: a field written once). Removed ones (a
 * resubscribe) leave the run's copy. Runs under the push's lock, so no push is between
 * this read and the writes.
 */
async function settleSince(
    ctx: JobContext,
    readFrom: string,
    t: {
        db: JobContext['workspace'];
        unsubs: string;
        matches: string;
        T: string;
        F: string;
    }
): Promise<void> {
    const { delivered, removed } =
        await ctx.ledger.unsubscribesSettledSince(readFrom);
    if (delivered.length === 0 && removed.length === 0) return;
    const mark = t.db.prepare(
        `UPDATE ${t.T} SET ${t.F} = 1 WHERE id IN (SELECT target FROM ${t.matches} WHERE unsub_id = ?)`
    );
    const drop = t.db.prepare(`DELETE FROM ${t.matches} WHERE unsub_id = ?`);
    const dropUnsub = t.db.prepare(`DELETE FROM ${t.unsubs} WHERE id = ?`);
    t.db.transaction(() => {
        for (const id of delivered) mark.run(id);
        for (const id of removed) {
            drop.run(id);
            dropUnsub.run(id);
        }
    });
}

/**
 * R14: unsubscribes with a record Salesforce refused keep the refusal (code, message,
 * record) and are retried with back-off, then set aside as dead letters.
 */
async function recordRefusals(
    ctx: JobContext,
    db: Workspace,
    matches: string,
    written: string
): Promise<void> {
    const rows = db
        .prepare(
            `SELECT m.unsub_id AS id, w.target AS recordId, w.code, w.message, w.object
             FROM ${matches} m JOIN ${written} w ON w.target = m.target
             WHERE w.ok = 0 AND w.code IS NOT NULL ORDER BY m.unsub_id, w.target`
        )
        .all() as {
        id: number;
        recordId: string;
        code: string;
        message: string | null;
        object: string | null;
    }[];
    const byUnsub = new Map<number, AttemptError[]>();
    for (const r of rows)
        byUnsub.set(r.id, [
            ...(byUnsub.get(r.id) ?? []),
            {
                code: r.code,
                message: r.message ?? '',
                recordId: r.recordId,
                object: r.object
            }
        ]);
    await ctx.ledger.recordUnsubscribeAttempts(
        [...byUnsub].map(([id, errors]) => ({
            id,
            outcome: 'failed',
            error: firstError(errors) ?? null
        })),
        {
            at: ctx.now().toISOString(),
            delay: waitingRetryDelay,
            runId: ctx.runId
        }
    );
}

/**
 * R3(b): records with the field true whose person is not unsubscribed → ledger.
 * Returns the persons of the unsubscribes recorded.
 */
async function fromSalesforce(
    ctx: JobContext,
    index: RecordIndex,
    field: string,
    /** A table of record ids already taken (a second pass takes only the others). */
    exclude?: string
): Promise<number[]> {
    const notTaken = exclude
        ? `AND r.id NOT IN (SELECT id FROM ${exclude})`
        : '';
    const recorded: number[] = [];
    const db = ctx.workspace;
    const T = index.table;
    const F = col(field as Parameters<typeof col>[0]);
    const converted = db.count(
        `SELECT COUNT(*) AS n FROM ${T} r WHERE r.${F} = 1 AND r.object = 'Lead' AND r.is_converted = 1 ${notTaken}`
    );
    ctx.builder.skip('converted_lead', converted);
    const page = db.prepare(
        `SELECT r.id AS id, r.object AS object, r.email AS email, r.email_norm AS emailNorm
         FROM ${T} r
         WHERE r.${F} = 1 AND NOT (r.object = 'Lead' AND r.is_converted = 1) AND r.id > ? ${notTaken}
         ORDER BY r.id LIMIT ?`
    );
    const planned = new Set<string>();
    let after = '';
    for (;;) {
        const records = page.all(after, LEDGER_BATCH) as {
            id: string;
            object: PersonObject;
            email: string | null;
            emailNorm: string | null;
        }[];
        if (records.length === 0) break;
        after = records[records.length - 1].id;
        // The person of a record: linked by id (the oldest), else by email; none → a
        // new person. One ledger read per page, after the previous page's writes.
        const { bySalesforceId, byEmail } = await ctx.ledger.personIdsByRecord(
            records.map((r) => r.id),
            records
                .map((r) => r.emailNorm)
                .filter((e): e is string => e !== null)
        );
        const rows = records.map((r) => ({
            ...r,
            personId:
                bySalesforceId.get(r.id) ??
                (r.emailNorm !== null ? byEmail.get(r.emailNorm) : undefined) ??
                null
        }));
        const active = await ctx.ledger.personsWithActiveGlobalUnsubscribe(
            rows
                .map((r) => r.personId)
                .filter((id): id is number => id !== null)
        );
        const inputs = unsubscribeInputs(ctx, rows, active, field, planned);
        // The ledger audits each one (R10); the reason names the record and field.
        const results = await jobWriter(ctx).recordUnsubscribes(
            inputs,
            (i) => ({
                ledger: 'unsubscribe',
                scope: 'all',
                email: i.email ?? `person ${i.personId}`,
                source: 'salesforce'
            })
        );
        for (const x of results)
            if (x.outcome === 'recorded') recorded.push(x.person.id);
        if (inputs.length) ctx.heartbeat();
    }
    return recorded;
}

/** A record read with the field true, and its person in the ledger (null: none yet). */
interface OptedOutRecord {
    id: string;
    object: PersonObject;
    email: string | null;
    emailNorm: string | null;
    personId: number | null;
}

/**
 * R3(b): the unsubscribes to record for a page of records with the field true — one
 * per person (`planned`: the persons taken already, across pages), none for a person
 * unsubscribed already (`active`) nor for a new one without a valid email.
 */
function unsubscribeInputs(
    ctx: JobContext,
    rows: readonly OptedOutRecord[],
    active: ReadonlySet<number>,
    field: string,
    planned: Set<string>
): RecordUnsubscribeInput[] {
    const inputs: RecordUnsubscribeInput[] = [];
    for (const r of rows) {
        if (r.personId !== null && active.has(r.personId)) continue;
        if (r.personId === null) {
            const email = checkEmail(r.email ?? '');
            if (!email.ok) {
                ctx.builder.skip(r.email ? 'invalid_email' : 'no_email');
                continue;
            }
        }
        const key = r.personId !== null ? `p${r.personId}` : `e${r.emailNorm}`;
        if (planned.has(key)) continue;
        planned.add(key);
        const reason = `${field} is checked on ${r.object} ${r.id} in Salesforce`;
        inputs.push(
            r.personId !== null
                ? {
                      personId: r.personId,
                      scope: 'all',
                      source: 'salesforce',
                      reason,
                      runId: ctx.runId
                  }
                : {
                      email: r.email as string,
                      salesforceId: r.id,
                      scope: 'all',
                      source: 'salesforce',
                      reason,
                      runId: ctx.runId
                  }
        );
    }
    return inputs;
}

/** Page size when copying the active global unsubscribes into the workspace. */
const COPY_BATCH = 5000;

function createUnsubsTable(db: Workspace, table: string): void {
    // looked_up: 1 when all the person's records were read (a full run, or a person
    // changed in the ledger): only those are delivered and counted as skipped.
    db.exec(`CREATE TABLE ${table} (
        id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, salesforce_id TEXT NULL,
        email_norm TEXT NOT NULL, source TEXT NOT NULL, collected_at TEXT NULL,
        last_outcome TEXT NULL, next_attempt_at TEXT NULL, delivered_at TEXT NULL,
        looked_up INTEGER NOT NULL)`);
}

function indexUnsubsTable(db: Workspace, table: string): void {
    db.exec(`CREATE INDEX ${table}_sfid ON ${table}(salesforce_id)`);
    db.exec(`CREATE INDEX ${table}_email ON ${table}(email_norm)`);
}

function insertUnsubs(
    db: Workspace,
    table: string,
    rows: readonly ActiveGlobalUnsubscribe[],
    lookedUp: (u: ActiveGlobalUnsubscribe) => boolean
): void {
    const insert = db.prepare(
        `INSERT OR IGNORE INTO ${table} (id, person_id, salesforce_id, email_norm, source,
             collected_at, last_outcome, next_attempt_at, delivered_at, looked_up)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
    );
    db.transaction(() => {
        for (const u of rows)
            insert.run(
                u.id,
                u.personId,
                u.salesforceId,
                u.emailNorm,
                u.source,
                u.collectedAt,
                u.lastOutcome,
                u.nextAttemptAt,
                u.deliveredAt,
                lookedUp(u) ? 1 : 0
            );
    });
}

/** The event id a cursor holds (0 when none: chooseNightlyMode made the run full then). */
function eventSeqOf(value: string | undefined): number {
    const n = Number(value ?? '0');
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * The ledger side of an incremental run: the active global unsubscribes recorded
 * since the last successful run's sequence, or undelivered and due.
 */
async function ledgerSide(
    ctx: JobContext,
    afterEventId: number
): Promise<ActiveGlobalUnsubscribe[]> {
    const out: ActiveGlobalUnsubscribe[] = [];
    let afterId = 0;
    const dueBy = ctx.now().toISOString();
    for (;;) {
        const rows = await ctx.ledger.globalUnsubscribesToReconcile({
            afterEventId,
            afterId,
            limit: COPY_BATCH,
            dueBy
        });
        if (rows.length === 0) break;
        out.push(...rows);
        afterId = rows[rows.length - 1].id;
        if (rows.length < COPY_BATCH) break;
    }
    return out;
}

/**
 * Incremental: copies the active global unsubscribes of the persons changed in the
 * ledger (looked up: all their records were read) and of the persons the records read
 * may match — by their ids and the Contact ids of converted Leads (R6, R9) and, with
 * R8, their emails — into a workspace table named `table`.
 */
async function copyUnsubscribesOfRecords(
    ctx: JobContext,
    table: string,
    index: RecordIndex,
    lookedUp: readonly ActiveGlobalUnsubscribe[],
    applyToSameEmail: boolean
): Promise<void> {
    const db = ctx.workspace;
    insertUnsubs(db, table, lookedUp, () => true);
    const keys = index.linkKeys();
    const persons = await ctx.ledger.personIdsLinkedTo(
        keys.ids,
        applyToSameEmail ? keys.emails : []
    );
    for (let i = 0; i < persons.length; i += COPY_BATCH) {
        const rows = await ctx.ledger.activeGlobalUnsubscribesOf(
            persons.slice(i, i + COPY_BATCH)
        );
        insertUnsubs(db, table, rows, () => false);
    }
}

/**
 * Copies every active global unsubscribe, with its person's Salesforce id and email,
 * into the workspace table named `table` (columns as in the ledger, so that the match
 * queries read like joins on it): the records are matched to them here, not by a join
 * on the ledger's connection.
 */
async function copyActiveUnsubscribes(
    ctx: JobContext,
    table: string
): Promise<void> {
    let after = 0;
    for (;;) {
        const rows = await ctx.ledger.activeGlobalUnsubscribes(
            after,
            COPY_BATCH
        );
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        insertUnsubs(ctx.workspace, table, rows, () => true);
    }
}
