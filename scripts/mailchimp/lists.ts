/**
 * `GET /lists`, every page, and the choice of audiences a run covers (`--audience`).
 * https://mailchimp.com/developer/marketing/api/lists/get-lists-info/
 */
import { OptoutError } from '../model/errors';
import type { MailchimpClient } from './client';
import { selectLists, type ListInfo } from './decisions';

const PAGE = 1000;

export async function fetchLists(client: MailchimpClient): Promise<ListInfo[]> {
    const all: ListInfo[] = [];
    for (let offset = 0; ; offset += PAGE) {
        const page = await client.get<{
            lists: ListInfo[];
            total_items: number;
        }>('/lists', {
            count: PAGE,
            offset,
            fields: 'lists.id,lists.name,total_items'
        });
        all.push(...page.lists.map((l) => ({ id: l.id, name: l.name })));
        if (page.lists.length < PAGE || all.length >= page.total_items)
            return all;
    }
}

/** The audiences named with `--audience` (all when none); unknown ones are a usage error. */
export async function chosenLists(
    client: MailchimpClient,
    wanted: readonly string[]
): Promise<ListInfo[]> {
    const lists = await fetchLists(client);
    const chosen = selectLists(lists, wanted);
    if (!chosen.ok)
        throw new OptoutError(
            'UNKNOWN_AUDIENCE',
            `Mailchimp has no audience ${chosen.unknown.map((id) => `'${id}'`).join(', ')}; nothing was done.`,
            {
                actions: [
                    lists.length
                        ? `Audiences in this account: ${lists.map((l) => `${l.id} (${l.name})`).join(', ')}`
                        : 'This Mailchimp account has no audience yet',
                    'Find an audience id in Mailchimp: Audience → Settings → Audience name and defaults'
                ],
                exitCode: 2
            }
        );
    return chosen.lists;
}
