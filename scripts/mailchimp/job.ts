/**
 * A connector job as a ledger run (shown by `optout status`), under the ledger lock
 * `job:mailchimp` so that a manual run and the scheduler never push at the same time
 * (sending twice would be harmless, recording is idempotent, but it wastes Mailchimp's
 * connections). And the hourly pull-then-push that `optout schedule` runs when a key is
 * configured.
 */
import { Cron } from 'croner';
import type { Ledger } from '../ledger/ledger';
import { OptoutError } from '../model/errors';
import { MailchimpApiError, MailchimpClient } from './client';
import type { MailchimpConfig } from './config';
import type { ListInfo } from './decisions';
import { chosenLists } from './lists';
import { PULL_JOB, pullMailchimp, type PullResult } from './pull';
import { PUSH_JOB, pushMailchimp, type PushResult } from './push';

export const CONNECTOR_LOCK = 'job:mailchimp';

/** Mailchimp's own title and detail, with what to do. */
export function connectorError(err: unknown): unknown {
    if (!(err instanceof MailchimpApiError)) return err;
    const auth = err.status === 401 || err.status === 403;
    return new OptoutError(
        auth ? 'MAILCHIMP_REFUSED' : 'MAILCHIMP_ERROR',
        `Mailchimp: ${err.message}`,
        {
            actions: auth
                ? [
                      'Check MAILCHIMP_API_KEY (Mailchimp: Profile → Extras → API keys) and its data centre suffix'
                  ]
                : [
                      'Run the command again: what was done is recorded and is not repeated'
                  ],
            cause: err
        }
    );
}

/** The lists a run covers, with Mailchimp's errors made readable. */
export async function listsFor(
    client: MailchimpClient,
    wanted: readonly string[]
): Promise<ListInfo[]> {
    try {
        return await chosenLists(client, wanted);
    } catch (err) {
        throw connectorError(err);
    }
}

/** Runs `work` as a ledger run of `job` under the connector lock. */
export async function asRun<T>(
    ledger: Ledger,
    job: string,
    work: (runId: string) => Promise<T>,
    partial: (r: T) => boolean
): Promise<T> {
    const lock = await ledger.acquireLock(CONNECTOR_LOCK, {
        staleAfterMs: 60 * 60_000
    });
    if (!lock.acquired)
        throw new OptoutError(
            'MAILCHIMP_BUSY',
            `Another Mailchimp run holds the ledger (pid ${lock.heldBy.pid} since ${lock.heldBy.acquiredAt}); nothing was done.`,
            { actions: ['Wait for it to finish and run again'] }
        );
    const run = await ledger.startRun({ job });
    try {
        const result = await work(run.id);
        await ledger.finishRun(run.id, {
            status: partial(result) ? 'partial' : 'succeeded',
            result
        });
        return result;
    } catch (err) {
        await ledger.finishRun(run.id, {
            status: 'failed',
            result: { error: String(err) }
        });
        throw connectorError(err);
    } finally {
        await ledger.releaseLock(CONNECTOR_LOCK, lock.lock.holder);
    }
}

export async function runPull(
    ledger: Ledger,
    client: MailchimpClient,
    lists: readonly ListInfo[]
): Promise<PullResult> {
    return asRun(
        ledger,
        PULL_JOB,
        (runId) => pullMailchimp(ledger, client, lists, runId),
        (r) => r.audiences.some((a) => a.skipped.length > 0)
    );
}

export async function runPush(
    ledger: Ledger,
    client: MailchimpClient,
    lists: readonly ListInfo[],
    batchThreshold?: number
): Promise<PushResult> {
    return asRun(
        ledger,
        PUSH_JOB,
        (runId) =>
            pushMailchimp(ledger, client, lists, { runId, batchThreshold }),
        (r) => r.failed.length > 0
    );
}

export type ConnectorEvent =
    | { event: 'mailchimp'; at: string; pull: PullResult; push: PushResult }
    | {
          event: 'mailchimp_failed';
          at: string;
          error: { code: string; message: string };
      };

/** `optout schedule`: pull then push on the hourly cron, one at a time. */
export class MailchimpSchedule {
    private cron: Cron | null = null;
    private running: Promise<void> | null = null;

    constructor(
        private readonly options: {
            ledger: Ledger;
            config: MailchimpConfig;
            cron: string;
            timezone: string;
            onEvent: (e: ConnectorEvent) => void;
            /** Whether this process runs the jobs now (the leading scheduler does). */
            leads?: () => boolean;
        }
    ) {}

    start(): void {
        this.cron = new Cron(
            this.options.cron,
            {
                timezone: this.options.timezone,
                mode: '5-or-6-parts'
            },
            () => {
                if (this.options.leads && !this.options.leads()) return;
                if (!this.running)
                    this.running = this.runOnce().finally(() => {
                        this.running = null;
                    });
            }
        );
    }

    /** One pull and push; errors become an event, never a crash of the scheduler. */
    async runOnce(): Promise<void> {
        const { ledger, config, onEvent } = this.options;
        const at = new Date().toISOString();
        try {
            const client = new MailchimpClient(config);
            const lists = await listsFor(client, []);
            const pull = await runPull(ledger, client, lists);
            const push = await runPush(ledger, client, lists);
            onEvent({ event: 'mailchimp', at, pull, push });
        } catch (err) {
            onEvent({
                event: 'mailchimp_failed',
                at,
                error: {
                    code:
                        err instanceof OptoutError
                            ? err.code
                            : 'MAILCHIMP_ERROR',
                    message: err instanceof Error ? err.message : String(err)
                }
            });
        }
    }

    async stop(): Promise<void> {
        this.cron?.stop();
        await this.running;
    }
}
