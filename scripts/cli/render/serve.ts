/**
 * Text of `optout serve`: the lines it streams while it runs (listening, each push,
 * each notification) and its totals when it stops, fitted to the terminal's width.
 */
import { describeRun } from '../../scheduler/format';
import type { PushRun } from '../../sync/push-service';
import type { NotifyAttempt } from '../../webhook/notify';
import { NOTIFY_SECRET_ENV } from '../../webhook/notify';
import type { ListeningEvent, ServeResult } from '../commands/serve';
import { wrapText } from '../table';

/** What the webhook listens on and for whom; the secret is never shown. */
export function renderListening(e: ListeningEvent): string {
    const url = e.url;
    return [
        `Webhook listening on ${url} — pushing to ${e.targetOrg} (field ${e.optOutField}), ledger ${e.ledger}`,
        `  Mailchimp webhook URL:  ${url}/mailchimp?secret=<the secret>   (or your public HTTPS address)`,
        `  JSON unsubscribes:      POST ${url}/unsubscribes   with Authorization: Bearer <the secret>`,
        `  Health check:           GET ${url}/healthz`,
        `  Suppression feed:       GET ${url}/suppressions?since=<cursor>   with Authorization: Bearer <the secret>`,
        ...e.notify.map(
            (u) =>
                `  Notifying:              POST ${u}   (signed with ${NOTIFY_SECRET_ENV})`
        ),
        'Press Ctrl-C to stop.'
    ].join('\n');
}

/** One line per push the webhook made. */
export function renderPush(run: PushRun, at: string): string {
    return run.result
        ? `${at} ${describeRun(run.result)}${run.stillPending ? ` (${run.stillPending} still pending, retried)` : ''}`
        : `${at} push failed: ${run.error} (${run.stillPending} pending, retried)`;
}

/** One line per attempt to notify a URL. */
export function renderNotify(a: NotifyAttempt, at: string): string {
    return `${at} notify ${a.url}: event ${a.eventId} ${a.delivered ? `delivered (${a.status})` : `not delivered (${a.error}); retry in ${a.retryInMs} ms`}`;
}

/** The totals when the webhook stopped. */
export function renderServe(r: ServeResult, columns: number): string {
    return wrapText(
        `Stopped. ${r.requests} requests (${r.refused} refused), ${r.unsubscribesRecorded} unsubscribes recorded, ${r.pushes} pushes delivered ${r.delivered} with ${r.apiRequests} API requests; ${r.pending} pending in the ledger${r.pending ? ' (the next push delivers them: optout sync push or optout schedule)' : ''}.`,
        columns
    ).join('\n');
}
