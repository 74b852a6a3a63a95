/**
 * The hourly audience sync (R5), in this order:
 *
 * (c) audience changes made inside Salesforce (the component or the Flow action check
 *     Pending_Push__c) are applied to the ledger — an Unsubscribed row becomes the
 *     audience unsubscribe (source flow or salesforce) — and only after the ledger
 *     committed is the pending flag cleared in Salesforce (take-pending.ts);
 * (a) membership changes since the cursor (the ledger's `seq`) are upserted to
 *     Audience_Membership__c by Membership_Key__c on each of the person's records (R6,
 *     R8, R9); rows already equal are not written (R11), rows with a Salesforce change
 *     still pending are left for (c) of the next run (upsert-changes.ts);
 * (b) with All_Audiences_Rule__c on: a person in at least one audience (Archived aside)
 *     and Unsubscribed from all of them gets HasOptedOutOfEmail = true (all-audiences.ts).
 *
 * Taking (c) first means a Salesforce unsubscribe is never overwritten by an older
 * ledger status in (a). Cursors move only after the work they cover is confirmed. A
 * change whose person matches no record yet, or whose write Salesforce refuses (R14),
 * does not hold the cursor back: it waits in the ledger (sync_outcome, with the
 * refusal's code and message) and (a) retries it with back-off, as it retries the global
 * unsubscribes that wait for a record (with the nightly sync off; on, nightly covers them).
 */
import { SOBJECT } from '../../model/schema';
import { settingsSoql } from '../../salesforce/settings';
import { jobSettings, type JobContext } from '../context';
import { takeNewRecords } from '../new-records';
import { runPush } from '../push';
import { allAudiencesRule } from './all-audiences';
import { pendingRowsSoql, takePending } from './take-pending';
import { upsertChanges } from './upsert-changes';

export {
    ALL_AUDIENCES_CURSOR,
    HOURLY_CURSOR,
    HOURLY_LOOKUP_LIMIT
} from './cursors';

export async function runHourly(ctx: JobContext): Promise<void> {
    // What every run reads first, in one Composite request instead of five: the
    // settings, the pending rows (c), and the describes of the objects it writes and
    // mirrors (R7, the mirror's opt-out fields). Each step still makes its own read
    // and takes the page read ahead (OrgClient.readAhead).
    await ctx.client.readAhead({
        describes: [SOBJECT.AUDIENCE_MEMBERSHIP, SOBJECT.CONTACT, SOBJECT.LEAD],
        queries: [
            ...(ctx.settings ? [] : [{ soql: settingsSoql() }]),
            { soql: pendingRowsSoql() }
        ]
    });
    const { settings } = await jobSettings(ctx);
    await takePending(ctx);
    // Records created since the last run get what the person's other records have.
    await takeNewRecords(ctx);
    await upsertChanges(ctx, settings);
    // Global unsubscribes whose person matched no record yet (R6, R11): retried here
    // with back-off; with the nightly sync on, its reconciliation covers them.
    if (!settings.nightlySyncEnabled) await runPush(ctx, { waiting: true });
    if (settings.allAudiencesRule) await allAudiencesRule(ctx, settings);
}
