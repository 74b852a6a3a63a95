/**
 * `optout mailchimp push`: every ledger unsubscribe a Mailchimp audience has not got —
 * an audience unsubscribe to its audience, one from everything to every audience the
 * person is a member of — as `PATCH /lists/{list_id}/members/{subscriber_hash}`
 * `{"status": "unsubscribed"}`, or as batch operations above a threshold. Only ever
 * "unsubscribed": nothing here can subscribe anyone.
 *
 * Exactly once: an outcome is recorded only after Mailchimp answered, one row per
 * (unsubscribe, audience) with its audit entry; a crash between Mailchimp applying the
 * PATCH and the record re-sends it on the next run, which is harmless (setting
 * unsubscribed on an unsubscribed member changes nothing) and then recorded once.
 * https://mailchimp.com/developer/marketing/api/list-members/update-list-member/
 * https://mailchimp.com/developer/marketing/api/batch-operations/
 */
import { createHash } from 'node:crypto';
import type { Ledger } from '../ledger/ledger';
import { OptoutError } from '../model/errors';
import { MailchimpApiError, type MailchimpClient } from './client';
import {
    BATCH_SIZE,
    BATCH_THRESHOLD,
    operationId,
    parseOperationId,
    sendOutcome,
    useBatch,
    type ListInfo,
    type SendOutcome
} from './decisions';
import {
    pendingTargets,
    recordOutcomes,
    type PushTarget,
    type RecordedOutcome
} from '../ledger/mailchimp-deliveries';
import { batchResults } from './tar';

export const PUSH_JOB = 'mailchimp-push';

export interface PushOptions {
    runId?: string | null;
    /** Above this many operations, use `POST /batches`. */
    batchThreshold?: number;
    batchSize?: number;
    /** Between polls of a running batch (ms). Default 2000. */
    pollMs?: number;
    /** Give up waiting for a batch after (ms); its operations stay for the next run. */
    batchTimeoutMs?: number;
    sleep?: (ms: number) => Promise<void>;
}

export interface PushResult {
    runId: string | null;
    mode: 'none' | 'requests' | 'batch';
    pending: number;
    delivered: number;
    skipped: { email: string; listId: string; reason: string }[];
    /** Transient failures after the retries: sent again by the next run. */
    failed: { email: string; listId: string; reason: string }[];
    batches: string[];
    requests: number;
}

/** MD5 of the lower-cased address (https://mailchimp.com/developer/marketing/docs/methods-parameters/). */
export function subscriberHash(email: string): string {
    return createHash('md5').update(email.toLowerCase()).digest('hex');
}

function memberPath(t: PushTarget): string {
    return `/lists/${encodeURIComponent(t.listId)}/members/${subscriberHash(t.email)}`;
}

const BODY = { status: 'unsubscribed' } as const;

export async function pushMailchimp(
    ledger: Ledger,
    client: MailchimpClient,
    lists: readonly ListInfo[],
    options: PushOptions = {}
): Promise<PushResult> {
    const runId = options.runId ?? null;
    const targets = await pendingTargets(
        ledger,
        lists.map((l) => l.id)
    );
    const batch = useBatch(
        targets.length,
        options.batchThreshold ?? BATCH_THRESHOLD
    );
    const result: PushResult = {
        runId,
        mode: targets.length === 0 ? 'none' : batch ? 'batch' : 'requests',
        pending: targets.length,
        delivered: 0,
        skipped: [],
        failed: [],
        batches: [],
        requests: 0
    };
    const apply = async (
        pairs: readonly { target: PushTarget; outcome: SendOutcome }[]
    ): Promise<void> => {
        const records: RecordedOutcome[] = [];
        for (const { target, outcome } of pairs) {
            const who = { email: target.email, listId: target.listId };
            if (outcome.kind === 'delivered') {
                records.push({ target, outcome: 'delivered', detail: null });
                result.delivered += 1;
            } else if (outcome.kind === 'skipped') {
                records.push({
                    target,
                    outcome: 'skipped',
                    detail: outcome.reason
                });
                result.skipped.push({ ...who, reason: outcome.reason });
            } else if (outcome.kind === 'failed') {
                result.failed.push({ ...who, reason: outcome.reason });
            } else {
                throw fatal(outcome.reason);
            }
        }
        await recordOutcomes(ledger, records, runId);
    };
    try {
        if (batch) await sendBatches(client, targets, apply, result, options);
        else await sendEach(client, targets, apply);
    } finally {
        result.requests = client.requests;
    }
    return result;
}

function fatal(reason: string): OptoutError {
    return new OptoutError(
        'MAILCHIMP_REFUSED',
        `Mailchimp refused the key: ${reason}. What was sent before is recorded.`,
        {
            actions: [
                'Check MAILCHIMP_API_KEY: the key may be disabled or lack access to the audience'
            ]
        }
    );
}

/** One PATCH per target, at most the client's connection limit at once; each recorded as it answers. */
async function sendEach(
    client: MailchimpClient,
    targets: readonly PushTarget[],
    apply: (
        pairs: { target: PushTarget; outcome: SendOutcome }[]
    ) => Promise<void>
): Promise<void> {
    let firstFatal: unknown = null;
    await Promise.all(
        targets.map(async (target) => {
            let outcome: SendOutcome;
            try {
                await client.patch(memberPath(target), BODY);
                outcome = { kind: 'delivered' };
            } catch (err) {
                if (!(err instanceof MailchimpApiError)) throw err;
                outcome = sendOutcome(err.status, err.title, err.detail);
            }
            try {
                if (firstFatal === null) await apply([{ target, outcome }]);
            } catch (err) {
                firstFatal = err;
            }
        })
    );
    if (firstFatal !== null) throw firstFatal;
}

interface BatchStatus {
    id: string;
    status: string;
    total_operations: number;
    finished_operations: number;
    errored_operations: number;
    response_body_url: string;
}

/** Batches of PATCHes; each batch's per-operation results read from its archive. */
async function sendBatches(
    client: MailchimpClient,
    targets: readonly PushTarget[],
    apply: (
        pairs: { target: PushTarget; outcome: SendOutcome }[]
    ) => Promise<void>,
    result: PushResult,
    options: PushOptions
): Promise<void> {
    const size = options.batchSize ?? BATCH_SIZE;
    const sleep =
        options.sleep ??
        ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let i = 0; i < targets.length; i += size) {
        const chunk = targets.slice(i, i + size);
        const byOp = new Map(
            chunk.map((t) => [operationId(t.unsubscribeId, t.listId), t])
        );
        let started: BatchStatus;
        try {
            started = await client.post<BatchStatus>('/batches', {
                operations: chunk.map((t) => ({
                    method: 'PATCH',
                    path: memberPath(t),
                    operation_id: operationId(t.unsubscribeId, t.listId),
                    body: JSON.stringify(BODY)
                }))
            });
        } catch (err) {
            if (!(err instanceof MailchimpApiError)) throw err;
            await apply(
                chunk.map((target) => ({
                    target,
                    outcome: sendOutcome(err.status, err.title, err.detail)
                }))
            );
            continue;
        }
        result.batches.push(started.id);
        const done = await waitForBatch(client, started.id, sleep, options);
        if (!done) {
            await apply(
                chunk.map((target) => ({
                    target,
                    outcome: {
                        kind: 'failed',
                        reason: `batch ${started.id} did not finish in time`
                    }
                }))
            );
            continue;
        }
        const answers = batchResults(
            await client.download(done.response_body_url)
        );
        const seen = new Set<string>();
        const pairs: { target: PushTarget; outcome: SendOutcome }[] = [];
        for (const a of answers) {
            const id = parseOperationId(a.operation_id);
            const target =
                id && byOp.get(operationId(id.unsubscribeId, id.listId));
            if (!target || seen.has(a.operation_id as string)) continue;
            seen.add(a.operation_id as string);
            let title = '';
            let detail = '';
            try {
                const body = JSON.parse(a.response) as {
                    title?: string;
                    detail?: string;
                };
                title = body.title ?? '';
                detail = body.detail ?? '';
            } catch {
                // a success answer need not be parsed
            }
            pairs.push({
                target,
                outcome: sendOutcome(a.status_code, title, detail)
            });
        }
        // An operation missing from the archive is not known to have run: next run.
        for (const [id, target] of byOp)
            if (!seen.has(id))
                pairs.push({
                    target,
                    outcome: {
                        kind: 'failed',
                        reason: `no result in batch ${started.id}`
                    }
                });
        await apply(pairs);
    }
}

async function waitForBatch(
    client: MailchimpClient,
    id: string,
    sleep: (ms: number) => Promise<void>,
    options: PushOptions
): Promise<BatchStatus | null> {
    const deadline = Date.now() + (options.batchTimeoutMs ?? 30 * 60_000);
    for (;;) {
        const b = await client.get<BatchStatus>(
            `/batches/${encodeURIComponent(id)}`
        );
        if (b.status === 'finished' && b.response_body_url) return b;
        if (Date.now() > deadline) return null;
        await sleep(options.pollMs ?? 2000);
    }
}
