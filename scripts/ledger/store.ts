/**
 * The ledger's domain store: persons, audiences, memberships and unsubscribes, with the
 * transactions that keep the invariants listed in ledger.ts (one person per email, at
 * most one active unsubscribe per scope, an audience unsubscribe and its membership
 * move together and block other statuses until `resubscribe`, unsubscribes are never
 * deleted, every membership change takes the next seq). Each write appends its audit
 * entry (audit.ts) and, for an unsubscribe, its suppression feed event.
 *
 * The `…In` functions run inside a caller's transaction; the others open their own.
 */
import { OptoutError } from '../model/errors';
import {
    LEDGER_SOURCES,
    checkAudienceId,
    checkAudienceName,
    checkEmail,
    checkPersonId,
    cleanReason,
    normalizeEmail,
    type LedgerSource,
    type UnsubscribeScope
} from '../model/statuses';
import { appendAuditIn } from './audit';
import { invalid, isoTime, type LedgerContext } from './context';
import type { SuppressionEventKind } from './feed';
import {
    AUDIENCE_COLS,
    MEMBERSHIP_COLS,
    MEMBERSHIP_SYNC_COLS,
    MEMBERSHIP_SYNC_RESET,
    PERSON_COLS,
    UNSUB_COLS
} from './sql-columns';
import type {
    MembershipOutcome,
    RecordUnsubscribeInput,
    RecordUnsubscribeResult,
    ResubscribeInput,
    ResubscribeResult,
    SetMembershipInput,
    SetMembershipResult,
    UpsertAudienceResult,
    UpsertPersonInput,
    UpsertPersonResult
} from './store-types';
import type {
    AudienceRecord,
    MembershipRecord,
    MembershipSyncState,
    PersonRecord,
    UnsubscribeRecord
} from './types';

export async function upsertPerson(
    ctx: LedgerContext,
    input: UpsertPersonInput
): Promise<UpsertPersonResult> {
    return ctx.transaction(async () => upsertPersonIn(ctx, input));
}

export async function upsertPersonIn(
    ctx: LedgerContext,
    input: UpsertPersonInput
): Promise<UpsertPersonResult> {
    const email = checkEmail(input.email);
    if (!email.ok) throw invalid('BAD_EMAIL', email.reason);
    let sfid: string | null = null;
    if (input.salesforceId != null && input.salesforceId.trim() !== '') {
        const id = checkPersonId(input.salesforceId);
        if (!id.ok) throw invalid('BAD_SALESFORCE_ID', id.reason);
        sfid = id.value.id;
    }
    const existing = await findPersonByNorm(ctx, email.value.norm);
    const at = ctx.nowIso();
    if (!existing) {
        const info = (await ctx
            .stmt(
                `INSERT INTO persons (email, email_norm, salesforce_id, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?) RETURNING id`
            )
            .get(email.value.email, email.value.norm, sfid, at, at)) as {
            id: number;
        };
        return {
            person: {
                id: info.id,
                email: email.value.email,
                emailNorm: email.value.norm,
                salesforceId: sfid,
                createdAt: at,
                updatedAt: at
            },
            created: true,
            changed: false
        };
    }
    if (sfid !== null && sfid !== existing.salesforceId) {
        await ctx
            .stmt(
                'UPDATE persons SET salesforce_id = ?, updated_at = ? WHERE id = ?'
            )
            .run(sfid, at, existing.id);
        await requeueLinkedPerson(ctx, existing, sfid, at);
        return {
            person: { ...existing, salesforceId: sfid, updatedAt: at },
            created: false,
            changed: true
        };
    }
    return { person: existing, created: false, changed: false };
}

/**
 * A person linked to a (new) Salesforce record: what it has must reach that record
 * too. Its memberships take new seqs (the hourly job upserts them, R5a), its
 * undelivered unsubscribes are due at once, and a delivered global unsubscribe is
 * re-opened for delivery (R2) — audited; nothing is removed (R4).
 */
async function requeueLinkedPerson(
    ctx: LedgerContext,
    person: PersonRecord,
    salesforceId: string,
    at: string
): Promise<void> {
    await requeuePersonIn(ctx, person.id);
    const delivered = (await ctx
        .stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? AND u.scope = 'all'
             AND u.removed_at IS NULL AND u.delivered_at IS NOT NULL`
        )
        .get(person.id)) as UnsubscribeRecord | undefined;
    if (!delivered) return;
    await ctx
        .stmt(
            `UPDATE unsubscribes SET delivered_at = NULL, delivered_run_id = NULL,
                 last_outcome = 'record_linked', next_attempt_at = NULL WHERE id = ?`
        )
        .run(delivered.id);
    await appendAuditIn(ctx, {
        action: 'unsubscribe_requeued',
        emailNorm: person.emailNorm,
        personId: person.id,
        recordId: salesforceId,
        object: 'ledger',
        field: 'unsubscribe',
        before: 'delivered',
        after: 'pending',
        source: delivered.source,
        collectedAt: delivered.collectedAt,
        detail: {
            unsubscribeId: delivered.id,
            why: `the person was linked to ${salesforceId}`,
            previousSalesforceId: person.salesforceId,
            at
        }
    });
}

/** See `requeuePersons`. */
async function requeuePersonIn(
    ctx: LedgerContext,
    personId: number
): Promise<void> {
    const memberships = (await ctx
        .stmt(
            'SELECT audience_id AS audienceId FROM memberships WHERE person_id = ? ORDER BY audience_id'
        )
        .all(personId)) as { audienceId: string }[];
    // A new record gets one try, dead letters included (R14): it may be the one
    // to write. The refusals in a row are kept, so a record still refused is set
    // aside again at once rather than after another full back-off.
    const bump = ctx.stmt(
        `UPDATE memberships SET seq = ?, sync_outcome = NULL, sync_attempts = 0,
                 next_attempt_at = NULL, sync_dead_at = NULL
             WHERE person_id = ? AND audience_id = ?`
    );
    for (const m of memberships)
        await bump.run(await ctx.nextSeq(), personId, m.audienceId);
    await ctx
        .stmt(
            `UPDATE unsubscribes SET next_attempt_at = NULL, dead_at = NULL,
                 last_outcome = CASE WHEN last_outcome = 'dead_letter' THEN 'rejected' ELSE last_outcome END
             WHERE person_id = ? AND delivered_at IS NULL AND removed_at IS NULL`
        )
        .run(personId);
}

export async function requeuePersons(
    ctx: LedgerContext,
    personIds: readonly number[]
): Promise<number> {
    return ctx.transaction(async () => {
        let n = 0;
        for (const id of new Set(personIds))
            if (await getPerson(ctx, id)) {
                await requeuePersonIn(ctx, id);
                n += 1;
            }
        return n;
    });
}

async function findPersonByNorm(
    ctx: LedgerContext,
    norm: string
): Promise<PersonRecord | undefined> {
    return (await ctx
        .stmt(`SELECT ${PERSON_COLS} FROM persons WHERE email_norm = ?`)
        .get(norm)) as PersonRecord | undefined;
}

export async function findPerson(
    ctx: LedgerContext,
    email: string
): Promise<PersonRecord | undefined> {
    return findPersonByNorm(ctx, normalizeEmail(email));
}

export async function getPerson(
    ctx: LedgerContext,
    id: number
): Promise<PersonRecord | undefined> {
    return (await ctx
        .stmt(`SELECT ${PERSON_COLS} FROM persons WHERE id = ?`)
        .get(id)) as PersonRecord | undefined;
}

export async function findPersonsBySalesforceId(
    ctx: LedgerContext,
    id: string
): Promise<PersonRecord[]> {
    const check = checkPersonId(id);
    if (!check.ok) throw invalid('BAD_SALESFORCE_ID', check.reason);
    return (await ctx
        .stmt(
            `SELECT ${PERSON_COLS} FROM persons WHERE salesforce_id = ? ORDER BY id`
        )
        .all(check.value.id)) as PersonRecord[];
}

export async function upsertAudience(
    ctx: LedgerContext,
    input: {
        id: string;
        name: string;
    }
): Promise<UpsertAudienceResult> {
    return ctx.transaction(async () =>
        upsertAudienceIn(ctx, input.id, input.name)
    );
}

export async function upsertAudienceIn(
    ctx: LedgerContext,
    rawId: string,
    rawName: string
): Promise<UpsertAudienceResult> {
    const id = checkAudienceId(rawId);
    if (!id.ok) throw invalid('BAD_AUDIENCE', id.reason);
    const name = checkAudienceName(rawName);
    if (!name.ok) throw invalid('BAD_AUDIENCE', name.reason);
    const existing = await getAudience(ctx, id.value);
    const at = ctx.nowIso();
    if (!existing) {
        await ctx
            .stmt(
                'INSERT INTO audiences (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)'
            )
            .run(id.value, name.value, at, at);
        return {
            audience: {
                id: id.value,
                name: name.value,
                createdAt: at,
                updatedAt: at
            },
            created: true,
            changed: false
        };
    }
    if (existing.name !== name.value) {
        await ctx
            .stmt('UPDATE audiences SET name = ?, updated_at = ? WHERE id = ?')
            .run(name.value, at, id.value);
        return {
            audience: { ...existing, name: name.value, updatedAt: at },
            created: false,
            changed: true
        };
    }
    return { audience: existing, created: false, changed: false };
}

export async function getAudience(
    ctx: LedgerContext,
    id: string
): Promise<AudienceRecord | undefined> {
    return (await ctx
        .stmt(`SELECT ${AUDIENCE_COLS} FROM audiences WHERE id = ?`)
        .get(id.trim())) as AudienceRecord | undefined;
}

export async function listAudiences(
    ctx: LedgerContext
): Promise<AudienceRecord[]> {
    return (await ctx
        .stmt(`SELECT ${AUDIENCE_COLS} FROM audiences ORDER BY id`)
        .all()) as AudienceRecord[];
}

export async function requireAudience(
    ctx: LedgerContext,
    id: string
): Promise<AudienceRecord> {
    const audience = await getAudience(ctx, id);
    if (audience) return audience;
    const known = await listAudiences(ctx);
    const shown = known
        .slice(0, 20)
        .map((a) => `${a.id} (${a.name})`)
        .join(', ');
    const more = known.length > 20 ? ` and ${known.length - 20} more` : '';
    throw new OptoutError(
        'UNKNOWN_AUDIENCE',
        `Audience '${id}' is not in the ledger. ` +
            (known.length
                ? `Known audiences: ${shown}${more}.`
                : 'The ledger has no audiences yet.'),
        {
            actions: [
                'Use one of the known audience ids',
                'Or create it by adding --audience-name NAME'
            ]
        }
    );
}

export async function getMembership(
    ctx: LedgerContext,
    personId: number,
    audienceId: string
): Promise<MembershipRecord | undefined> {
    return (await ctx
        .stmt(
            `SELECT ${MEMBERSHIP_COLS} FROM memberships m WHERE m.person_id = ? AND m.audience_id = ?`
        )
        .get(personId, audienceId)) as MembershipRecord | undefined;
}

export async function listMemberships(
    ctx: LedgerContext,
    personId: number
): Promise<
    (MembershipRecord & MembershipSyncState & { audienceName: string })[]
> {
    return (await ctx
        .stmt(
            `SELECT ${MEMBERSHIP_COLS}, ${MEMBERSHIP_SYNC_COLS}, a.name AS audienceName FROM memberships m
             JOIN audiences a ON a.id = m.audience_id WHERE m.person_id = ? ORDER BY m.audience_id`
        )
        .all(personId)) as (MembershipRecord &
        MembershipSyncState & { audienceName: string })[];
}

export async function setMembershipStatus(
    ctx: LedgerContext,
    input: SetMembershipInput
): Promise<SetMembershipResult> {
    return ctx.transaction(async () => setMembershipIn(ctx, input, false));
}

/**
 * `force`: an unsubscribe or resubscribe, applied whatever the stored time.
 * `known`: the person, when the caller has it and has checked the audience exists.
 */
export async function setMembershipIn(
    ctx: LedgerContext,
    input: SetMembershipInput,
    force: boolean,
    known?: PersonRecord
): Promise<SetMembershipResult> {
    let person = known;
    if (!person) {
        person = await getPerson(ctx, input.personId);
        if (!person)
            throw invalid(
                'UNKNOWN_PERSON',
                `no person with ledger id ${input.personId}`
            );
        await requireAudience(ctx, input.audienceId);
    }
    const changedAt = input.changedAt
        ? isoTime(input.changedAt, 'changedAt')
        : ctx.nowIso();
    const current = await getMembership(ctx, input.personId, input.audienceId);
    const previous = current?.status ?? null;
    let outcome: MembershipOutcome | null = null;
    if (current && current.status === input.status) outcome = 'unchanged';
    else if (current && !force && olderThan(changedAt, current.changedAt))
        outcome = 'stale';
    else if (
        current?.status === 'Unsubscribed' &&
        (await activeAudienceUnsubscribe(ctx, input.personId, input.audienceId))
    )
        outcome = 'blocked';
    if (outcome) {
        return {
            outcome,
            membership: current ?? null,
            previous,
            unsubscribeId: null
        };
    }
    const reason = cleanReason(input.reason);
    const seq = await ctx.nextSeq();
    await ctx
        .stmt(
            `INSERT INTO memberships (person_id, audience_id, status, changed_at, source, reason, seq)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (person_id, audience_id) DO UPDATE SET status = excluded.status,
                 changed_at = excluded.changed_at, source = excluded.source,
                 reason = excluded.reason, seq = excluded.seq,
                 ${MEMBERSHIP_SYNC_RESET}`
        )
        .run(
            input.personId,
            input.audienceId,
            input.status,
            changedAt,
            input.source,
            reason,
            seq
        );
    await appendAuditIn(ctx, {
        action:
            input.auditAction ??
            (input.source === 'import' ? 'import' : 'membership_changed'),
        runId: input.runId,
        emailNorm: person.emailNorm,
        personId: person.id,
        recordId: input.audienceId,
        object: 'ledger',
        field: 'membership.status',
        before: previous,
        after: input.status,
        source: input.source,
        detail: reason ? { reason, changedAt } : { changedAt }
    });
    let unsubscribeId: number | null = null;
    if (
        input.status === 'Unsubscribed' &&
        !(await activeAudienceUnsubscribe(
            ctx,
            input.personId,
            input.audienceId
        ))
    ) {
        unsubscribeId = (
            await insertUnsubscribe(ctx, person, {
                scope: 'audience',
                audienceId: input.audienceId,
                source: input.source,
                reason,
                collectedAt: ctx.nowIso(),
                runId: input.runId ?? null
            })
        ).id;
    }
    return {
        outcome: current ? 'changed' : 'created',
        membership: {
            personId: input.personId,
            audienceId: input.audienceId,
            status: input.status,
            changedAt,
            source: input.source,
            reason,
            seq
        },
        previous,
        unsubscribeId
    };
}

async function activeAudienceUnsubscribe(
    ctx: LedgerContext,
    personId: number,
    audienceId: string
): Promise<UnsubscribeRecord | undefined> {
    return (await ctx
        .stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? AND u.scope = 'audience'
             AND u.audience_id = ? AND u.removed_at IS NULL`
        )
        .get(personId, audienceId)) as UnsubscribeRecord | undefined;
}

async function activeGlobalUnsubscribe(
    ctx: LedgerContext,
    personId: number
): Promise<UnsubscribeRecord | undefined> {
    return (await ctx
        .stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? AND u.scope = 'all'
             AND u.removed_at IS NULL`
        )
        .get(personId)) as UnsubscribeRecord | undefined;
}

export async function getUnsubscribe(
    ctx: LedgerContext,
    id: number
): Promise<UnsubscribeRecord | undefined> {
    return (await ctx
        .stmt(`SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.id = ?`)
        .get(id)) as UnsubscribeRecord | undefined;
}

export async function listUnsubscribes(
    ctx: LedgerContext,
    personId: number
): Promise<UnsubscribeRecord[]> {
    return (await ctx
        .stmt(
            `SELECT ${UNSUB_COLS} FROM unsubscribes u WHERE u.person_id = ? ORDER BY u.id`
        )
        .all(personId)) as UnsubscribeRecord[];
}

async function insertUnsubscribe(
    ctx: LedgerContext,
    person: PersonRecord,
    u: {
        scope: UnsubscribeScope;
        audienceId: string | null;
        source: LedgerSource;
        reason: string | null;
        collectedAt: string;
        runId: string | null;
    }
): Promise<UnsubscribeRecord> {
    const info = (await ctx
        .stmt(
            `INSERT INTO unsubscribes (person_id, scope, audience_id, source, reason, collected_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
        )
        .get(
            person.id,
            u.scope,
            u.audienceId,
            u.source,
            u.reason,
            u.collectedAt
        )) as { id: number };
    const id = info.id;
    // The feed's event, in the same transaction as the unsubscribe (R15).
    await appendSuppressionEventIn(ctx, id, 'added', u.collectedAt);
    await appendAuditIn(ctx, {
        action: 'unsubscribe_recorded',
        runId: u.runId,
        emailNorm: person.emailNorm,
        personId: person.id,
        recordId: u.audienceId,
        object: 'ledger',
        field: 'unsubscribe',
        before: null,
        after: u.scope === 'all' ? 'all audiences' : `audience ${u.audienceId}`,
        source: u.source,
        collectedAt: u.collectedAt,
        detail: {
            unsubscribeId: id,
            scope: u.scope,
            audienceId: u.audienceId,
            reason: u.reason
        }
    });
    return {
        id,
        personId: person.id,
        scope: u.scope,
        audienceId: u.audienceId,
        source: u.source,
        reason: u.reason,
        collectedAt: u.collectedAt,
        deliveredAt: null,
        deliveredRunId: null,
        removedAt: null,
        removedReason: null,
        attempts: 0,
        lastAttemptAt: null,
        lastOutcome: null,
        nextAttemptAt: null,
        failures: 0,
        errorCode: null,
        errorMessage: null,
        errorRecordId: null,
        deadAt: null
    };
}

export async function recordUnsubscribe(
    ctx: LedgerContext,
    input: RecordUnsubscribeInput
): Promise<RecordUnsubscribeResult> {
    return ctx.transaction(async () => recordUnsubscribeIn(ctx, input));
}

export async function recordUnsubscribes(
    ctx: LedgerContext,
    inputs: RecordUnsubscribeInput[]
): Promise<RecordUnsubscribeResult[]> {
    return ctx.transaction(async () => {
        const results: RecordUnsubscribeResult[] = [];
        for (const i of inputs) results.push(await recordUnsubscribeIn(ctx, i));
        return results;
    });
}

async function recordUnsubscribeIn(
    ctx: LedgerContext,
    input: RecordUnsubscribeInput
): Promise<RecordUnsubscribeResult> {
    if (!(LEDGER_SOURCES as readonly string[]).includes(input.source))
        throw invalid(
            'BAD_SOURCE',
            `source '${input.source}' is not one of ${LEDGER_SOURCES.join(', ')}`
        );
    let audienceId: string | null = null;
    if (input.scope === 'audience') {
        const id = checkAudienceId(input.audienceId ?? '');
        if (!id.ok) throw invalid('BAD_AUDIENCE', id.reason);
        audienceId = id.value;
    } else if (input.scope !== 'all') {
        throw invalid(
            'BAD_SCOPE',
            `scope '${String(input.scope)}' is not 'all' or 'audience'`
        );
    } else if (input.audienceId) {
        throw invalid(
            'BAD_SCOPE',
            'a global unsubscribe (scope all) has no audience'
        );
    }
    // Find the person without writing, so that "already" writes nothing.
    let person: PersonRecord | undefined;
    if (input.personId !== undefined) {
        person = await getPerson(ctx, input.personId);
        if (!person)
            throw invalid(
                'UNKNOWN_PERSON',
                `no person with ledger id ${input.personId}`
            );
    } else {
        const email = checkEmail(input.email ?? '');
        if (!email.ok) throw invalid('BAD_EMAIL', email.reason);
        person = await findPersonByNorm(ctx, email.value.norm);
    }
    let audienceCreated = false;
    const audienceKnown =
        audienceId === null || Boolean(await getAudience(ctx, audienceId));
    if (!audienceKnown && !input.audienceName)
        await requireAudience(ctx, audienceId as string);
    if (person) {
        const active =
            audienceId === null
                ? await activeGlobalUnsubscribe(ctx, person.id)
                : await activeAudienceUnsubscribe(ctx, person.id, audienceId);
        if (active) {
            // The unsubscribe stays as it is; a Salesforce id that comes with it
            // still links the person (R6), or its record would never be known.
            if (input.salesforceId != null && input.salesforceId.trim() !== '')
                person = (
                    await upsertPersonIn(ctx, {
                        email: person.email,
                        salesforceId: input.salesforceId
                    })
                ).person;
            return {
                outcome: 'already',
                unsubscribe: (await getUnsubscribe(ctx, active.id)) ?? active,
                person,
                personCreated: false,
                audienceCreated: false,
                membershipChanged: false
            };
        }
    }
    let personCreated = false;
    if (
        !person ||
        (input.salesforceId != null && input.salesforceId.trim() !== '')
    ) {
        const up = await upsertPersonIn(ctx, {
            email: person?.email ?? input.email ?? '',
            salesforceId: input.salesforceId
        });
        person = up.person;
        personCreated = up.created;
    }
    if (!audienceKnown) {
        audienceCreated = (
            await upsertAudienceIn(
                ctx,
                audienceId as string,
                input.audienceName ?? ''
            )
        ).created;
    }
    const reason = cleanReason(input.reason);
    const collectedAt = input.collectedAt
        ? isoTime(input.collectedAt, 'collectedAt')
        : ctx.nowIso();
    const unsubscribe = await insertUnsubscribe(ctx, person, {
        scope: input.scope,
        audienceId,
        source: input.source,
        reason,
        collectedAt,
        runId: input.runId ?? null
    });
    let membershipChanged = false;
    if (audienceId !== null) {
        // An unsubscribe always wins over the stored status, whatever its time.
        const result = await setMembershipIn(
            ctx,
            {
                personId: person.id,
                audienceId,
                status: 'Unsubscribed',
                changedAt: collectedAt,
                source: input.source,
                reason,
                runId: input.runId
            },
            true
        );
        membershipChanged =
            result.outcome === 'changed' || result.outcome === 'created';
    }
    return {
        outcome: 'recorded',
        unsubscribe,
        person,
        personCreated,
        audienceCreated,
        membershipChanged
    };
}

export async function resubscribe(
    ctx: LedgerContext,
    input: ResubscribeInput
): Promise<ResubscribeResult> {
    const reason = cleanReason(input.reason);
    if (!reason)
        throw new OptoutError(
            'REASON_REQUIRED',
            'A resubscribe needs a reason (it is audited).',
            {
                actions: [
                    'Add --reason "why this person may be emailed again"'
                ],
                exitCode: 2
            }
        );
    return ctx.transaction(async () => {
        const person = await findPerson(ctx, input.email);
        if (!person) {
            throw new OptoutError(
                'UNKNOWN_EMAIL',
                `No person with email '${input.email.trim()}' in the ledger.`,
                {
                    actions: [
                        'Check the spelling',
                        'See what the ledger knows: optout history --email EMAIL'
                    ]
                }
            );
        }
        const audienceId = input.audienceId
            ? (await requireAudience(ctx, input.audienceId)).id
            : null;
        const active =
            audienceId === null
                ? await activeGlobalUnsubscribe(ctx, person.id)
                : await activeAudienceUnsubscribe(ctx, person.id, audienceId);
        if (!active) return { person, removed: [], membership: null };
        const at = input.at ?? ctx.nowIso();
        await ctx
            .stmt(
                'UPDATE unsubscribes SET removed_at = ?, removed_reason = ? WHERE id = ?'
            )
            .run(at, reason, active.id);
        await appendSuppressionEventIn(ctx, active.id, 'removed', at);
        await appendAuditIn(ctx, {
            action: 'resubscribe',
            at,
            runId: input.runId,
            emailNorm: person.emailNorm,
            personId: person.id,
            recordId: active.audienceId,
            object: 'ledger',
            field: 'unsubscribe',
            before:
                active.scope === 'all'
                    ? 'all audiences'
                    : `audience ${active.audienceId}`,
            after: 'removed',
            source: active.source,
            collectedAt: active.collectedAt,
            detail: {
                unsubscribeId: active.id,
                scope: active.scope,
                reason
            }
        });
        let membership: ResubscribeResult['membership'] = null;
        if (audienceId !== null) {
            const current = await getMembership(ctx, person.id, audienceId);
            if (current?.status === 'Unsubscribed') {
                await setMembershipIn(
                    ctx,
                    {
                        personId: person.id,
                        audienceId,
                        status: 'Subscribed',
                        changedAt: at,
                        source: 'platform',
                        reason,
                        runId: input.runId,
                        auditAction: 'resubscribe'
                    },
                    true
                );
                membership = {
                    audienceId,
                    before: 'Unsubscribed',
                    after: 'Subscribed'
                };
            }
        }
        return {
            person,
            removed: [{ ...active, removedAt: at, removedReason: reason }],
            membership
        };
    });
}

/** Appends a feed event; callers are inside the write that made the change. */
async function appendSuppressionEventIn(
    ctx: LedgerContext,
    unsubscribeId: number,
    kind: SuppressionEventKind,
    at: string
): Promise<void> {
    await ctx
        .stmt(
            'INSERT INTO suppression_events (unsubscribe_id, kind, at) VALUES (?, ?, ?)'
        )
        .run(unsubscribeId, kind, at);
}

/**
 * Whether a change at `incoming` is older than the stored `stored`. A time that comes
 * from Salesforce (whole seconds: DateTime fields drop the milliseconds) is compared to
 * the second, so a Salesforce change made in the same second as the ledger's is not
 * taken for an older one.
 */
function olderThan(incoming: string, stored: string): boolean {
    const a = Date.parse(incoming);
    const b = Date.parse(stored);
    if (Number.isNaN(a) || Number.isNaN(b)) return incoming < stored;
    return a % 1000 === 0 ? a < Math.floor(b / 1000) * 1000 : a < b;
}
