/**
 * (b) of the hourly sync, with All_Audiences_Rule__c on: a person in at least one
 * audience (Archived aside) and Unsubscribed from all of them gets HasOptedOutOfEmail =
 * true (R5b).
 */
import { CONTACT, SOBJECT, type OptOutField } from '../../model/schema';
import { classifyRecordError } from '../../model/stuck';
import { requireWritableFields } from '../../salesforce/describe';
import type { SyncSettings } from '../../salesforce/settings';
import {
    optOutDecision,
    resolveTargets,
    type PersonRef,
    type Target
} from '../decisions';
import type { JobContext, WriteMeta, WriteOutcome } from '../context';
import { jobWriter } from '../writer';
import { RecordIndex } from '../records';
import { ALL_AUDIENCES_CURSOR } from './cursors';
import { freshMirror, loadMirroredRecords } from './mirror-read';

const RULE = 'R5b unsubscribed from all audiences';

type Person = PersonRef & { personId: number };

export async function allAudiencesRule(
    ctx: JobContext,
    settings: SyncSettings
): Promise<void> {
    const cursor = Number(
        (await ctx.ledger.getCursor(
            ALL_AUDIENCES_CURSOR.job,
            ALL_AUDIENCES_CURSOR.name
        )) ?? '0'
    );
    const upTo = await ctx.ledger.maxSeq();
    if (upTo <= cursor) return;
    // Persons whose memberships changed since the cursor and for whom R5b holds now
    // (the SQL form of allAudiencesUnsubscribed()).
    const persons: Person[] =
        await ctx.ledger.personsUnsubscribedFromAllAudiences(cursor, upTo);
    const field: OptOutField = CONTACT.HasOptedOutOfEmail;
    let failed = false;
    if (persons.length) {
        await requireWritableFields(ctx.client, [
            { object: SOBJECT.CONTACT, field },
            { object: SOBJECT.LEAD, field }
        ]);
        const index = new RecordIndex(ctx.workspace, [field]);
        try {
            // From the mirror, refreshed once this run (a dry run, which writes
            // nothing, not even the mirror, looks the records up instead).
            if (ctx.dryRun)
                await index.loadFor(ctx.client, persons, {
                    applyToSameEmail: settings.applyToSameEmail,
                    onProgress: ctx.progress
                });
            else {
                await freshMirror(ctx);
                await loadMirroredRecords(
                    ctx,
                    index,
                    persons,
                    settings.applyToSameEmail
                );
            }
            const { toWrite, metas } = recordsToWrite(
                ctx,
                settings,
                index,
                persons,
                field
            );
            if (toWrite.size) {
                const outcomes = await jobWriter(ctx).optOut(
                    field,
                    [...toWrite.values()],
                    (id) => metas.get(id) as WriteMeta,
                    { sample: () => ({ rule: 'all audiences' }) }
                );
                // Only a transient refusal holds this cursor (the next run sends it
                // again); a permanent one is in the result and the audit trail, and
                // must not hold back every later person (R14).
                failed = [...outcomes.values()].some(
                    (o) =>
                        !o.ok &&
                        !o.deleted &&
                        (!o.error ||
                            classifyRecordError(o.error.code) === 'transient')
                );
                await auditRefusals(ctx, field, outcomes, metas);
            }
        } finally {
            index.drop();
        }
    }
    if (!failed) await jobWriter(ctx).setCursor(ALL_AUDIENCES_CURSOR, upTo);
}

/** The persons' records whose field is not true yet, each once, with who it is for. */
function recordsToWrite(
    ctx: JobContext,
    settings: SyncSettings,
    index: RecordIndex,
    persons: readonly Person[],
    field: OptOutField
): { toWrite: Map<string, Target>; metas: Map<string, WriteMeta> } {
    const toWrite = new Map<string, Target>();
    const metas = new Map<string, WriteMeta>();
    for (const p of persons) {
        const r = resolveTargets(
            p,
            index.candidates(p, settings.applyToSameEmail),
            {
                applyToSameEmail: settings.applyToSameEmail,
                lookup: (id) => index.get(id)
            }
        );
        if (r.skip) {
            ctx.builder.skip(r.skip);
            continue;
        }
        const d = optOutDecision(r.targets, field);
        ctx.builder.skip('already_opted_out', d.alreadySet.length);
        for (const t of d.write)
            if (!toWrite.has(t.id)) {
                toWrite.set(t.id, t);
                metas.set(t.id, {
                    emailNorm: p.emailNorm,
                    personId: p.personId,
                    source: 'platform',
                    collectedAt: null,
                    detail: { rule: RULE }
                });
            }
    }
    return { toWrite, metas };
}

/** Records Salesforce refused: a `delivery_failed` entry each, with its code (R14). */
async function auditRefusals(
    ctx: JobContext,
    field: OptOutField,
    outcomes: ReadonlyMap<string, WriteOutcome>,
    metas: ReadonlyMap<string, WriteMeta>
): Promise<void> {
    const refusals = [...outcomes].flatMap(([id, o]) =>
        !o.ok && o.error ? [{ id, error: o.error }] : []
    );
    if (refusals.length)
        await ctx.ledger.appendAudits(
            refusals.map(({ id, error }) => ({
                action: 'delivery_failed' as const,
                runId: ctx.runId,
                emailNorm: metas.get(id)?.emailNorm ?? null,
                personId: metas.get(id)?.personId ?? null,
                recordId: id,
                object: error.object ?? null,
                field,
                before: 'false',
                after: 'refused',
                detail: {
                    rule: RULE,
                    code: error.code,
                    message: error.message,
                    kind: classifyRecordError(error.code)
                }
            }))
        );
}
