/**
 * `optout mailchimp pull`: audiences and the members changed since the last pull into
 * the ledger — memberships with their status, and audience unsubscribes (source
 * `platform`: the ledger's sources are fixed by a released migration's CHECK; the reason
 * says Mailchimp). One cursor per audience (the job's cursors), moved in the same
 * transaction that stores the page. A member Mailchimp shows unsubscribed marks every
 * active unsubscribe that applies there as already in Mailchimp, so push never sends
 * it back.
 * https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
 */
import type { Ledger } from '../ledger/ledger';
import { checkEmail, cleanReason } from '../model/statuses';
import type { MailchimpClient } from './client';
import {
    ledgerStatus,
    nextCursor,
    sinceParam,
    type ListInfo
} from './decisions';
import { markInMailchimp } from '../ledger/mailchimp-deliveries';

export const PULL_JOB = 'mailchimp-pull';
const PAGE = 1000;

interface WireMember {
    email_address: string;
    status: string;
    last_changed: string;
    unsubscribe_reason?: string;
}

export interface ListPullResult {
    listId: string;
    name: string;
    /** Members read (re-reads of the look-back included). */
    read: number;
    /** Memberships created or changed. */
    changed: number;
    /** Audience unsubscribes recorded. */
    unsubscribes: number;
    /** Unchanged, older than the ledger's, or held by an active unsubscribe (R4). */
    unchanged: number;
    /** Members the ledger cannot take (bad address, unknown status). */
    skipped: { email: string; reason: string }[];
    cursorBefore: string | null;
    cursorAfter: string | null;
}

export interface PullResult {
    runId: string | null;
    audiences: ListPullResult[];
    audiencesCreated: number;
    requests: number;
}

export async function pullMailchimp(
    ledger: Ledger,
    client: MailchimpClient,
    lists: readonly ListInfo[],
    runId: string | null = null
): Promise<PullResult> {
    let audiencesCreated = 0;
    const results: ListPullResult[] = [];
    for (const list of lists) {
        if (
            (await ledger.upsertAudience({ id: list.id, name: list.name }))
                .created
        )
            audiencesCreated += 1;
        results.push(await pullList(ledger, client, list, runId));
    }
    return {
        runId,
        audiences: results,
        audiencesCreated,
        requests: client.requests
    };
}

async function pullList(
    ledger: Ledger,
    client: MailchimpClient,
    list: ListInfo,
    runId: string | null
): Promise<ListPullResult> {
    const before = await ledger.getCursor(PULL_JOB, list.id);
    const r: ListPullResult = {
        listId: list.id,
        name: list.name,
        read: 0,
        changed: 0,
        unsubscribes: 0,
        unchanged: 0,
        skipped: [],
        cursorBefore: before ?? null,
        cursorAfter: before ?? null
    };
    for (let offset = 0; ; offset += PAGE) {
        // Oldest change first, so a stored page's newest time is a safe resume point.
        const page = await client.get<{
            members: WireMember[];
            total_items: number;
        }>(`/lists/${encodeURIComponent(list.id)}/members`, {
            count: PAGE,
            offset,
            fields: 'members.email_address,members.status,members.last_changed,members.unsubscribe_reason,total_items',
            sort_field: 'last_changed',
            sort_dir: 'ASC',
            since_last_changed:
                before === undefined ? undefined : sinceParam(before)
        });
        await storePage(ledger, list.id, page.members, r, runId);
        if (page.members.length < PAGE || offset + PAGE >= page.total_items)
            break;
    }
    return r;
}

/** One page in one transaction, cursor included: a crash keeps all of it or none. */
async function storePage(
    ledger: Ledger,
    listId: string,
    members: readonly WireMember[],
    r: ListPullResult,
    runId: string | null
): Promise<void> {
    await ledger.transaction(async () => {
        let newest: string | null = null;
        const at = new Date().toISOString();
        for (const m of members) {
            r.read += 1;
            const changedAt = Date.parse(m.last_changed);
            const checked = checkEmail(m.email_address ?? '');
            const status = ledgerStatus(m.status ?? '');
            if (!checked.ok || status === null || !Number.isFinite(changedAt)) {
                r.skipped.push({
                    email: String(m.email_address),
                    reason: !checked.ok
                        ? checked.reason
                        : status === null
                          ? `unknown Mailchimp status '${m.status}'`
                          : `bad last_changed '${m.last_changed}'`
                });
                continue;
            }
            const iso = new Date(changedAt).toISOString();
            if (newest === null || iso > newest) newest = iso;
            const person = (
                await ledger.upsertPerson({
                    email: checked.value.email
                })
            ).person;
            const res = await ledger.setMembershipStatus({
                personId: person.id,
                audienceId: listId,
                status,
                changedAt: iso,
                source: 'platform',
                reason:
                    status === 'Unsubscribed'
                        ? cleanReason(
                              `Mailchimp: ${m.unsubscribe_reason || 'unsubscribed'}`
                          )
                        : null,
                runId
            });
            if (res.outcome === 'created' || res.outcome === 'changed')
                r.changed += 1;
            else r.unchanged += 1;
            if (res.unsubscribeId !== null) r.unsubscribes += 1;
            if (status === 'Unsubscribed')
                await markInMailchimp(ledger, person.id, listId, runId, at);
        }
        const after = nextCursor(r.cursorAfter ?? undefined, newest);
        if (after !== undefined && after !== r.cursorAfter) {
            await ledger.setCursor(PULL_JOB, listId, after);
            r.cursorAfter = after;
        }
    });
}
