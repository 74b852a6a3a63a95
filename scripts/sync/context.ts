/**
 * What the three jobs share: the run context, reading the settings, and the two kinds
 * of Salesforce writes with their bookkeeping — failures into the result, an audit
 * entry for every confirmed write (R10), converted leads rewritten to their Contact (R9).
 */
import type { AttemptError, AuditInput } from '../ledger/types';
import type { Ledger } from '../ledger/ledger';
import type { LogFn } from '../model/log';
import {
    AUDIENCE_MEMBERSHIP as AM,
    LEAD,
    SOBJECT,
    type OptOutField
} from '../model/schema';
import type { LedgerSource, PersonObject } from '../model/statuses';
import type { OrgClient, WriteResult } from '../salesforce/client';
import { packInQueries } from '../salesforce/soql';
import {
    effectiveOptOutField,
    readSettings,
    type SettingsReadResult
} from '../salesforce/settings';
import {
    id18,
    membershipClaim,
    oneRowPerKey,
    type MembershipFields
} from './decisions';
import type { Progress } from './records';
import type { JobName, ResultBuilder } from './result';
import type { Workspace } from './workspace';
import type { Writer } from './writer';

export interface JobContext {
    job: JobName;
    runId: string;
    ledger: Ledger;
    /** The run's scratch store for the Salesforce rows it reads (see workspace.ts). */
    workspace: Workspace;
    client: OrgClient;
    dryRun: boolean;
    builder: ResultBuilder;
    log: LogFn;
    progress: Progress;
    now: () => Date;
    /** Keeps the job lock alive during long phases. */
    heartbeat: () => void;
    /**
     * Runs `fn` holding another job's lock too (waiting while that job runs), so that
     * the two never write the same records at once; absent when the run takes no locks.
     */
    exclusive?: <T>(job: JobName, fn: () => Promise<T>) => Promise<T>;
    settings?: SettingsReadResult;
    /**
     * What the run writes with: Salesforce and the ledger, or the dry run's plan. Set
     * once from `dryRun` by `jobWriter` (writer.ts); the jobs use that, not this.
     */
    writer?: Writer;
}

/** Reads the org's settings once per run and reports them in the result (R1). */
export async function jobSettings(
    ctx: JobContext
): Promise<SettingsReadResult> {
    if (ctx.settings) return ctx.settings;
    const read = await readSettings(ctx.client);
    ctx.settings = read;
    ctx.builder.result.settings = {
        source: read.source,
        nightlySyncEnabled: read.settings.nightlySyncEnabled,
        optOutField: read.settings.optOutField,
        fieldWritten: effectiveOptOutField(read.settings),
        allAudiencesRule: read.settings.allAudiencesRule,
        applyToSameEmail: read.settings.applyToSameEmail
    };
    return read;
}

/** Who a Salesforce write is for (for the audit trail and the failure list). */
export interface WriteMeta {
    emailNorm: string;
    personId: number | null;
    source: LedgerSource;
    collectedAt: string | null;
    detail?: Record<string, unknown>;
}

export type WriteOutcome =
    /** `planned`: a dry run's write, reported as confirmed; nothing changed in the org. */
    | { ok: true; writtenId: string; object: PersonObject; planned?: true }
    /** `error`: what Salesforce said about a refused record (R14). */
    | { ok: false; deleted: boolean; error?: AttemptError };

/** Salesforce's error of a refused record, as the ledger keeps it (R14). */
export function attemptError(
    r: WriteResult,
    object: string,
    recordId?: string
): AttemptError {
    const e = r.errors[0];
    return {
        code: e?.statusCode ?? 'UNKNOWN',
        message: e?.message ?? 'no error reported',
        recordId: recordId ?? r.id ?? r.key,
        object
    };
}

/** Audit entries appended to the ledger at a time (one transaction each). */
const AUDIT_BATCH = 5000;

/**
 * Sets `field` = true on the targets (never false, R4). Returns each target's outcome.
 * Confirmed writes are audited (before false → after true) and counted; a converted
 * Lead refused by Salesforce (converted since it was read) is written to its Contact;
 * a record deleted since it was read is counted, not failed; other errors are failures.
 */
export async function writeOptOut(
    ctx: JobContext,
    field: OptOutField,
    targets: readonly { id: string; object: PersonObject }[],
    meta: (recordId: string) => WriteMeta
): Promise<Map<string, WriteOutcome>> {
    const outcomes = new Map<string, WriteOutcome>();
    // Appended as they fill, not all at the end: a Bulk job's confirmations (up to
    // 100,000) would otherwise all be held at once, each with its audit entry.
    let audits: AuditInput[] = [];
    const flushAudits = async (): Promise<void> => {
        if (!audits.length) return;
        const batch = audits;
        audits = [];
        await ctx.ledger.appendAudits(batch);
        ctx.builder.result.recordsWritten += batch.length;
    };
    const converted: string[] = [];
    // Contacts and Leads in the same requests (updateMixed): one Collections request
    // of 200 carries both, instead of one per object. Above the bulk threshold,
    // updateMixed would run one Bulk job per object, one after the other: they are run
    // here instead, each object's results audited and let go before the next one's
    // job (the same requests; a cold nightly's job is up to 100,000 records).
    const perObject = targets.length > ctx.client.bulkThreshold;
    ctx.heartbeat();
    const all =
        targets.length && !perObject
            ? await ctx.client.updateMixed(
                  targets.map((t) => ({
                      object: t.object,
                      record: { Id: t.id, [field]: true }
                  }))
              )
            : [];
    for (const object of ['Contact', 'Lead'] as const) {
        const list = targets.filter((t) => t.object === object);
        if (list.length === 0) continue;
        if (perObject) ctx.heartbeat();
        const results = perObject
            ? await ctx.client.updateRecords(
                  object,
                  list.map((t) => ({ Id: t.id, [field]: true }))
              )
            : all.filter((_r, i) => targets[i].object === object);
        ctx.builder.mode(
            `write ${object}`,
            list.length > ctx.client.bulkThreshold ? 'bulk' : 'collections'
        );
        const writtenAt = ctx.now().toISOString();
        for (const r of results) {
            const id = id18(r.key) ?? r.key;
            if (r.success) {
                outcomes.set(id, { ok: true, writtenId: id, object });
                audits.push(
                    fieldAudit(ctx, id, object, field, meta(id), writtenAt)
                );
                if (audits.length >= AUDIT_BATCH) await flushAudits();
                continue;
            }
            const code = r.errors[0]?.statusCode ?? 'UNKNOWN';
            if (code === 'CANNOT_UPDATE_CONVERTED_LEAD' && object === 'Lead') {
                converted.push(id);
                continue;
            }
            if (code === 'ENTITY_IS_DELETED') {
                outcomes.set(id, { ok: false, deleted: true });
                ctx.builder.skip('record_deleted');
                continue;
            }
            outcomes.set(id, {
                ok: false,
                deleted: false,
                error: attemptError(r, object, id)
            });
            recordFailure(ctx, r, object, field, meta(id).emailNorm);
        }
    }
    if (converted.length) {
        // R9, converted between read and write: find the Contacts and write those.
        const contactOf = new Map<string, string>();
        for (const soql of packInQueries(
            `SELECT ${LEAD.Id}, ${LEAD.ConvertedContactId} FROM ${SOBJECT.LEAD}`,
            [{ field: LEAD.Id, values: converted }]
        )) {
            for (const row of await ctx.client.queryAll(soql)) {
                const c = id18(row[LEAD.ConvertedContactId] as string | null);
                const l = id18(row[LEAD.Id] as string);
                if (c && l) contactOf.set(l, c);
            }
        }
        const contacts = [...new Set(contactOf.values())].filter(
            (c) => !outcomes.get(c)?.ok
        );
        const again = contacts.length
            ? await writeOptOut(
                  ctx,
                  field,
                  contacts.map((id) => ({ id, object: 'Contact' as const })),
                  (id) => {
                      const lead = [...contactOf].find(
                          ([, c]) => c === id
                      )?.[0];
                      const m = meta(lead ?? id);
                      return {
                          ...m,
                          detail: { ...m.detail, convertedLead: lead }
                      };
                  }
              )
            : new Map<string, WriteOutcome>();
        for (const lead of converted) {
            const contact = contactOf.get(lead);
            const o = contact
                ? (again.get(contact) ?? outcomes.get(contact))
                : undefined;
            if (o) outcomes.set(lead, o);
            else {
                outcomes.set(lead, {
                    ok: false,
                    deleted: false,
                    error: {
                        code: 'CANNOT_UPDATE_CONVERTED_LEAD',
                        message:
                            'The lead is converted and its converted Contact could not be found',
                        recordId: lead,
                        object: 'Lead'
                    }
                });
                ctx.builder.fail({
                    recordId: lead,
                    object: 'Lead',
                    field,
                    errorCode: 'CANNOT_UPDATE_CONVERTED_LEAD',
                    message:
                        'The lead is converted and its converted Contact could not be found',
                    email: meta(lead).emailNorm
                });
            }
        }
    }
    await flushAudits();
    return outcomes;
}

function fieldAudit(
    ctx: JobContext,
    recordId: string,
    object: PersonObject,
    field: string,
    m: WriteMeta,
    writtenAt: string
): AuditInput {
    return {
        action: 'field_write',
        runId: ctx.runId,
        emailNorm: m.emailNorm,
        personId: m.personId,
        recordId,
        object,
        field,
        before: 'false',
        after: 'true',
        source: m.source,
        collectedAt: m.collectedAt,
        writtenAt,
        detail: { job: ctx.job, ...(m.detail ?? {}) }
    };
}

export function recordFailure(
    ctx: JobContext,
    r: WriteResult,
    object: string,
    field: string | undefined,
    email?: string
): void {
    const e = r.errors[0];
    ctx.builder.fail({
        recordId: r.id ?? r.key,
        object,
        ...(field ? { field } : {}),
        errorCode: e?.statusCode ?? 'UNKNOWN',
        message: e?.message ?? 'no error reported',
        ...(email ? { email } : {})
    });
}

export interface MembershipWrite {
    fields: MembershipFields;
    /** The status before (null: a new row). */
    before: string | null;
    meta: WriteMeta;
}

/**
 * Upserts Audience_Membership__c rows on Membership_Key__c; confirmed rows are counted
 * and audited (`membership_written`). Returns the outcome per key (exact: the key is
 * case-sensitive).
 *
 * R13: one row per key. Two persons that resolve to one record and audience claim one
 * key; Salesforce refuses every row of a request carrying an external id twice
 * (DUPLICATE_VALUE), so only the winner of `claimWins` is sent, and the other claims
 * share its outcome (they are settled by that write, not failed).
 */
export async function upsertMemberships(
    ctx: JobContext,
    writes: readonly MembershipWrite[],
    /** Filled with Salesforce's error of each refused key (R14). */
    errors?: Map<string, AttemptError>
): Promise<Map<string, boolean>> {
    const outcomes = new Map<string, boolean>();
    if (writes.length === 0) return outcomes;
    const winners = oneRowPerKey(
        writes,
        (w) => w.fields[AM.Membership_Key__c],
        (w) => membershipClaim(w.fields, w.meta.personId)
    );
    if (winners.size < writes.length)
        ctx.builder.skip('membership_shared_row', writes.length - winners.size);
    writes = [...winners.values()];
    ctx.heartbeat();
    const results = await ctx.client.upsertRecords(
        SOBJECT.AUDIENCE_MEMBERSHIP,
        AM.Membership_Key__c,
        writes.map((w) => ({ ...w.fields }))
    );
    ctx.builder.mode(
        'write memberships',
        writes.length > ctx.client.bulkThreshold ? 'bulk' : 'collections'
    );
    const writtenAt = ctx.now().toISOString();
    const audits: AuditInput[] = [];
    results.forEach((r, i) => {
        const w = writes[i];
        const key = w.fields[AM.Membership_Key__c];
        outcomes.set(key, r.success);
        if (!r.success) {
            errors?.set(
                key,
                attemptError(r, SOBJECT.AUDIENCE_MEMBERSHIP, r.id ?? key)
            );
            recordFailure(
                ctx,
                r,
                SOBJECT.AUDIENCE_MEMBERSHIP,
                AM.Status__c,
                w.meta.emailNorm
            );
            return;
        }
        audits.push({
            action: 'membership_written',
            runId: ctx.runId,
            emailNorm: w.meta.emailNorm,
            personId: w.meta.personId,
            recordId: r.id,
            object: SOBJECT.AUDIENCE_MEMBERSHIP,
            field: AM.Status__c,
            before: w.before,
            after: w.fields[AM.Status__c],
            source: w.meta.source,
            collectedAt: w.meta.collectedAt,
            writtenAt,
            detail: {
                job: ctx.job,
                key,
                audienceId: w.fields[AM.Audience_Id__c],
                record: w.fields[AM.Contact__c] ?? w.fields[AM.Lead__c],
                created: r.created ?? w.before === null,
                ...(w.meta.detail ?? {})
            }
        });
    });
    if (audits.length) {
        await ctx.ledger.appendAudits(audits);
        ctx.builder.result.membershipsUpserted += audits.length;
    }
    return outcomes;
}
