/**
 * The demo's summary: what the three jobs changed, counted from their results and the
 * ledger's audit trail (R10) — records written per field, ledger unsubscribes added from
 * Salesforce, memberships upserted, skipped with reasons, push latency — the API
 * requests of each job, one story per rule from the named people, the records Salesforce
 * refused grouped by reason with what to do (as `optout status` shows them, R14), the
 * Mailchimp connector's pull and push against the local Mailchimp (both directions), and
 * where to look next.
 */
import {
    auditWithJob,
    deliveryLatencies,
    fieldWritesByRuns,
    mailchimpDeliveriesFor as deliveriesOf
} from '../../ledger/inspect';
import type { Ledger, StuckSummary } from '../../ledger/ledger';
import type { DeploySummary } from '../local-org/testing';
import type { OrgClient } from '../../salesforce/client';
import type { JobResult } from '../../sync/result';
import { summarizeResult, type RunSummaryLine } from '../../scheduler/format';
import { renderPairs, renderTable, wrapText } from '../../cli/table';
import {
    AUDIENCES,
    peopleByKey,
    type DemoData,
    type DemoExample
} from './data';
import type { SeedCounts } from './seed';
import type { BurstResult, DemoOrg, DemoPhase, FixResult } from './run';
import { DEMO_USERS } from './data';
import { MODIFY_ALL_PERMISSION_SET } from './users';
import { DEAD_LETTER_AFTER } from '../../model/stuck';
import type { DemoPull, DemoPush, MailchimpSeed } from './mailchimp';

/** The Mailchimp connector's runs in the demo, against the local Mailchimp. */
export interface DemoMailchimp {
    apiUrl: string;
    dbPath: string;
    /** Audiences and members created this run (0 when reused). */
    audiencesCreated: number;
    membersAdded: number;
    pull: {
        runId: string | null;
        /** The named member unsubscribed in Mailchimp just before (false: an earlier run did). */
        unsubscribedInMailchimp: boolean;
        membersRead: number;
        membershipsChanged: number;
        audienceUnsubscribes: number;
        skipped: number;
        apiRequests: number;
        durationMs: number;
    };
    /** The pull after the push, reading back the members it unsubscribed. */
    readback: {
        runId: string | null;
        membershipsChanged: number;
        audienceUnsubscribes: number;
        apiRequests: number;
        durationMs: number;
    };
    push: {
        runId: string | null;
        mode: 'none' | 'requests' | 'batch';
        delivered: number;
        skipped: number;
        failed: number;
        apiRequests: number;
        durationMs: number;
    };
}

interface MailchimpInput {
    seed: MailchimpSeed;
    pull: DemoPull;
    push: DemoPush;
    /** The pull after the push: reads back what the push set. */
    readback: DemoPull;
    apiUrl: string;
    dbPath: string;
}

function mailchimpSummary(m: MailchimpInput): DemoMailchimp {
    const pulled = m.pull.result.audiences;
    const sum = (f: (a: (typeof pulled)[number]) => number): number =>
        pulled.reduce((x, a) => x + f(a), 0);
    return {
        apiUrl: m.apiUrl,
        dbPath: m.dbPath,
        audiencesCreated: m.seed.audiencesCreated,
        membersAdded: m.seed.membersAdded,
        pull: {
            runId: m.pull.result.runId,
            unsubscribedInMailchimp: m.pull.unsubscribedInMailchimp,
            membersRead: sum((a) => a.read),
            membershipsChanged: sum((a) => a.changed),
            audienceUnsubscribes: sum((a) => a.unsubscribes),
            skipped: sum((a) => a.skipped.length),
            apiRequests: m.pull.result.requests,
            durationMs: m.pull.durationMs
        },
        readback: {
            runId: m.readback.result.runId,
            membershipsChanged: m.readback.result.audiences.reduce(
                (x, a) => x + a.changed,
                0
            ),
            audienceUnsubscribes: m.readback.result.audiences.reduce(
                (x, a) => x + a.unsubscribes,
                0
            ),
            apiRequests: m.readback.result.requests,
            durationMs: m.readback.durationMs
        },
        push: {
            runId: m.push.result.runId,
            mode: m.push.result.mode,
            delivered: m.push.result.delivered,
            skipped: m.push.result.skipped.length,
            failed: m.push.result.failed.length,
            apiRequests: m.push.result.requests,
            durationMs: m.push.durationMs
        }
    };
}

/** The summary's Mailchimp line: both directions, and the read-back. */
function mailchimpLine(m: DemoMailchimp): string {
    const plural = (x: number, one: string, many: string): string =>
        `${n(x)} ${x === 1 ? one : many}`;
    return [
        m.audiencesCreated
            ? `${plural(m.audiencesCreated, 'audience', 'audiences')} with ${plural(m.membersAdded, 'member', 'members')} created at ${m.apiUrl}`
            : `the audiences at ${m.apiUrl} reused`,
        `${m.pull.unsubscribedInMailchimp ? 'a member unsubscribed in Mailchimp; ' : ''}the pull read ${plural(m.pull.membersRead, 'member', 'members')}: ${plural(m.pull.audienceUnsubscribes, 'new audience unsubscribe', 'new audience unsubscribes')}, to Salesforce by the hourly`,
        `the push sent ${plural(m.push.delivered, 'unsubscribe', 'unsubscribes')} there${m.push.skipped ? ` (${n(m.push.skipped)} skipped)` : ''}`,
        `the read-back pull found ${plural(m.readback.membershipsChanged, 'membership', 'memberships')} it changed, for the next hourly`
    ].join('; ');
}

/** What Mailchimp recorded for an email's unsubscribes (the connector's deliveries). */
async function mailchimpDeliveriesFor(
    ledger: Ledger,
    email: string
): Promise<{ listId: string; outcome: string }[]> {
    return deliveriesOf(ledger, email);
}

export interface JobLine extends RunSummaryLine {
    /** The burst: how many push runs it took. */
    runs?: number;
}

export interface DemoExampleStory {
    rule: string;
    name: string;
    email: string;
    story: string;
}

/** One reason records are stuck for, as `optout status` groups them (R14). */
export interface DemoStuckReason {
    reason: string;
    title: string;
    whatToDo: string;
    retrying: number;
    deadLetters: number;
    /** Who, with Salesforce's own code and message. */
    records: { email: string; errorCode: string; message: string | null }[];
}

export interface DemoSummary {
    status: 'ok';
    /** False when an earlier run's data was reused (the jobs then write nothing, R11). */
    seeded: boolean;
    size: string;
    seed: number;
    durationMs: number;
    timings: Partial<Record<DemoPhase, number>>;
    org: { description: string; instanceUrl: string; dbPath: string };
    ledger: string;
    data: {
        contacts: number;
        leads: number;
        convertedLeads: number;
        duplicateEmails: number;
        optedOutInSalesforce: number;
        ledgerPersons: number;
        memberships: number;
        audiences: { id: string; name: string }[];
        salesforcePending: number;
        componentsDeployed: number;
    };
    burst: {
        webhookCalls: number;
        recorded: number;
        already: number;
        refused: number;
        pushes: number;
        latencyMs: { median: number; max: number } | null;
    };
    jobs: {
        push: JobLine;
        hourly: JobLine;
        nightly: JobLine;
        /** The push after `optout retry` (null when nothing was retried). */
        retry: JobLine | null;
        /** The hourly after the Mailchimp push and its read-back pull. */
        readback: JobLine;
    };
    changes: {
        /** `Object.Field` → records written by this run's jobs. */
        fieldWrites: Record<string, number>;
        recordsWritten: number;
        ledgerUnsubscribesAdded: number;
        membershipsUpserted: number;
        unsubscribesDelivered: number;
        skipped: Record<string, number>;
        failed: number;
    };
    apiRequests: {
        push: number;
        hourly: number;
        nightly: number;
        retry: number;
        readback: number;
        /** Salesforce requests of the jobs above (Mailchimp's are in `mailchimp`). */
        total: number;
    };
    mailchimp: DemoMailchimp;
    /** The user the sync ran as (not a System Administrator). */
    syncUser: string;
    /** Records Salesforce refused, still stuck at the end (what `optout status` shows). */
    stuck: {
        retrying: number;
        deadLetters: number;
        byReason: DemoStuckReason[];
    };
    /** What the demo fixed (null when nothing lacked access). */
    fixed: {
        reason: 'no_access';
        permissionSet: string;
        retried: number;
        delivered: number;
    } | null;
    apiUsage: { used: number; max: number } | null;
    examples: DemoExampleStory[];
    next: string[];
}

interface Input {
    ledger: Ledger;
    client: OrgClient;
    data: DemoData;
    ids: Record<string, string>;
    reused: boolean;
    seedCounts: Partial<SeedCounts>;
    burst: BurstResult;
    hourly: JobResult;
    nightly: JobResult;
    fix: FixResult;
    /** The hourly after the Mailchimp push's read-back. */
    readbackHourly: JobResult;
    mailchimp: MailchimpInput;
    deploy: DeploySummary;
    org: DemoOrg;
    ledgerPath: string;
    dbPath: string;
    timings: Partial<Record<DemoPhase, number>>;
    startedAt: number;
}

function add(into: Record<string, number>, from: Record<string, number>): void {
    for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** The burst's push runs as one line (sums; the last run's status and usage). */
function pushLine(results: JobResult[]): JobLine {
    const skipped: Record<string, number> = {};
    for (const r of results) add(skipped, r.skipped);
    const sum = (f: (r: JobResult) => number): number =>
        results.reduce((n, r) => n + f(r), 0);
    const last = results.at(-1);
    return {
        job: 'push',
        runId: results.map((r) => r.runId).join(','),
        status:
            results.length === 0
                ? 'nothing to push'
                : (results.find((r) => r.status !== 'succeeded')?.status ??
                  'succeeded'),
        dryRun: false,
        recordsWritten: sum((r) => r.recordsWritten),
        ledgerUnsubscribesAdded: sum((r) => r.ledgerUnsubscribesAdded),
        membershipsUpserted: sum((r) => r.membershipsUpserted),
        unsubscribesDelivered: sum((r) => r.unsubscribesDelivered),
        failed: sum((r) => r.failed.length),
        skipped,
        deferred: results.find((r) => r.deferred)?.deferred ?? null,
        apiRequests: sum((r) => r.apiRequests),
        apiUsage: last?.apiUsage ?? null,
        durationMs: sum((r) => r.durationMs),
        runs: results.length
    };
}

function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
}

interface AuditWrite {
    recordId: string;
    object: string;
    field: string;
    job: string | null;
}

/** The audit's field writes for an email, with the job that made them. */
async function writesFor(ledger: Ledger, email: string): Promise<AuditWrite[]> {
    return (await auditWithJob(ledger, 'field_write', email)) as AuditWrite[];
}

interface AuditFailure {
    recordId: string | null;
    code: string;
    message: string;
    job: string | null;
}

/** The refused deliveries for an email (R14), with Salesforce's code and message. */
async function failuresFor(
    ledger: Ledger,
    email: string
): Promise<AuditFailure[]> {
    const rows = await auditWithJob(ledger, 'delivery_failed', email);
    return rows.map((r) => {
        let detail: { code?: string; message?: string } = {};
        try {
            detail = JSON.parse(r.detail ?? '{}') as typeof detail;
        } catch {
            // free-text detail: no code to show
        }
        return {
            recordId: r.recordId,
            code: detail.code ?? '?',
            message: detail.message ?? '',
            job: r.job
        };
    });
}

/** The stuck records as the summary shows them (from the ledger's own grouping). */
export function stuckForSummary(summary: StuckSummary): DemoSummary['stuck'] {
    return {
        retrying: summary.retrying,
        deadLetters: summary.deadLetters,
        byReason: summary.byReason.map((g) => ({
            reason: g.reason,
            title: g.title,
            whatToDo: g.whatToDo,
            retrying: g.retrying,
            deadLetters: g.deadLetters,
            records: g.examples.map((e) => ({
                email: e.email,
                errorCode: e.errorCode,
                message: e.errorMessage
            }))
        }))
    };
}

function list(writes: AuditWrite[]): string {
    return writes.map((w) => `${w.object} ${w.recordId}`).join(' and ');
}

async function stories(input: Input): Promise<DemoExampleStory[]> {
    const { ledger, data, ids } = input;
    const people = peopleByKey(data);
    const ex = (
        e: DemoExample
    ): { name: string; email: string; key: string } => {
        const p = people.get(data.examples[e]);
        return {
            name: `${p?.firstName} ${p?.lastName}`,
            email: p?.email ?? '',
            key: p?.key ?? ''
        };
    };
    const out: DemoExampleStory[] = [];
    const jobOf = (w: AuditWrite[]): string =>
        [...new Set(w.map((x) => x.job ?? '?'))].join(' and ');

    const ana = ex('sameEmail');
    const anaWrites = await writesFor(ledger, ana.email);
    const anaLead = data.leads.find(
        (l) =>
            l.email.toLowerCase() === ana.email.toLowerCase() &&
            l.email !== ana.email
    );
    out.push({
        rule: 'R8',
        name: ana.name,
        email: ana.email,
        story: anaWrites.length
            ? `Unsubscribed once, by email; the ${jobOf(anaWrites)} wrote ${anaWrites.length} records: ${list(anaWrites)} — the Lead's email is typed ${anaLead?.email ?? 'differently'}. The org's duplicate rules match the two (same email), so an update of either without Sforce-Duplicate-Rule-Header: allowSave=true is refused with DUPLICATES_DETECTED; the sync sends it on every write.`
            : 'Not written yet.'
    });

    const kenji = ex('convertedLead');
    const leadId = ids[kenji.key];
    const contactId = ids[`${kenji.key}:contact`];
    const kenjiWrites = await writesFor(ledger, kenji.email);
    const kenjiPerson = await ledger.findPerson(kenji.email);
    out.push({
        rule: 'R9',
        name: kenji.name,
        email: kenji.email,
        story: `His Lead ${leadId} was converted to Contact ${contactId}; the unsubscribe came with the Lead's id in 15 characters (${leadId?.slice(0, 15)}, stored as ${kenjiPerson?.salesforceId ?? '?'}), and the ${jobOf(kenjiWrites)} wrote ${kenjiWrites.some((w) => w.recordId === contactId) ? `the Contact ${contactId}` : 'nothing'}${kenjiWrites.some((w) => w.recordId === leadId) ? ' and the Lead' : ', never the converted Lead'}.`
    });

    const chloe = ex('id15');
    const chloePerson = await ledger.findPerson(chloe.email);
    const chloeWrites = await writesFor(ledger, chloe.email);
    out.push({
        rule: 'R6',
        name: chloe.name,
        email: chloe.email,
        story: `The platform knew her Contact by its 15-character id ${ids[chloe.key]?.slice(0, 15)}; the ledger keeps ${chloePerson?.salesforceId}, and the ${jobOf(chloeWrites)} wrote ${list(chloeWrites) || 'nothing'}.`
    });

    const wei = ex('optedOutInSalesforce');
    const weiPerson = await ledger.findPerson(wei.email);
    const weiUnsub = weiPerson
        ? (await ledger.listUnsubscribes(weiPerson.id)).find(
              (u) => u.source === 'salesforce'
          )
        : undefined;
    out.push({
        rule: 'R3b',
        name: wei.name,
        email: wei.email,
        story: weiUnsub
            ? `Opted out in Salesforce and unknown to the platform: the nightly added him to the ledger with an unsubscribe from everything (source salesforce, ${weiUnsub.collectedAt}).`
            : 'Opted out in Salesforce; not yet in the ledger.'
    });

    const priya = ex('allAudiences');
    const priyaWrites = await writesFor(ledger, priya.email);
    out.push({
        rule: 'R5b',
        name: priya.name,
        email: priya.email,
        story: `Unsubscribed from all ${AUDIENCES.length} audiences, never globally; with the all-audiences rule on, the ${jobOf(priyaWrites)} set Email Opt Out on ${list(priyaWrites) || 'nothing'}.`
    });

    const lucas = ex('salesforceAudienceUnsubscribe');
    const lucasPerson = await ledger.findPerson(lucas.email);
    const pending = data.salesforcePending.find((p) => p.key === lucas.key);
    const lucasMembership =
        lucasPerson && pending
            ? await ledger.getMembership(lucasPerson.id, pending.audienceId)
            : undefined;
    const audienceName = AUDIENCES.find(
        (a) => a.id === pending?.audienceId
    )?.name;
    out.push({
        rule: 'R5c',
        name: lucas.name,
        email: lucas.email,
        story: `A Flow in Salesforce unsubscribed him from ${audienceName}; the hourly brought it into the ledger (now ${lucasMembership?.status ?? '?'}, source ${lucasMembership?.source ?? '?'}) and cleared Pending_Push__c. His other audiences are untouched: an audience unsubscribe is not a global one.${
            (await mailchimpDeliveriesFor(ledger, lucas.email)).some(
                (d) =>
                    d.listId === pending?.audienceId &&
                    d.outcome === 'delivered'
            )
                ? ` optout mailchimp push then set him unsubscribed from ${audienceName} in Mailchimp (R15).`
                : ''
        }`
    });

    const sofia = ex('platformBacklog');
    const sofiaWrites = await writesFor(ledger, sofia.email);
    out.push({
        rule: 'R3a',
        name: sofia.name,
        email: sofia.email,
        story: `Unsubscribed on the platform months before the sync existed; the ${jobOf(sofiaWrites)} wrote ${list(sofiaWrites) || 'nothing'}.`
    });

    const jordan = ex('noMatch');
    const jordanPerson = await ledger.findPerson(jordan.email);
    const global = jordanPerson
        ? (await ledger.listUnsubscribes(jordanPerson.id)).find(
              (u) => u.scope === 'all'
          )
        : undefined;
    out.push({
        rule: 'R6',
        name: jordan.name,
        email: jordan.email,
        story: `No Contact or Lead has this email: the push counted it as skipped (no matching record) and wrote nothing. ${
            global?.deliveredAt
                ? 'The unsubscribe stays in the ledger, and the nightly applies it to a record created later.'
                : 'The unsubscribe waits in the ledger for a record: the hourly job retries it with back-off (optout status shows it), so a Contact or Lead created later still gets the opt-out.'
        }`
    });
    const tomas = ex('noAccess');
    const tomasRefused = await failuresFor(ledger, tomas.email);
    const tomasWrites = await writesFor(ledger, tomas.email);
    const refusal = tomasRefused[0];
    out.push({
        rule: 'R14',
        name: tomas.name,
        email: tomas.email,
        story: `A Contact without an Account, owned by the sales rep ${DEMO_USERS.salesRep.firstName} ${DEMO_USERS.salesRep.lastName}: private to her. The integration user can see it (View All) but not edit it, so ${
            refusal
                ? `Salesforce refused the ${refusal.job ?? ''} with ${refusal.code} (${refusal.message}); optout status listed it under "no access" with its fix`
                : 'Salesforce would refuse the opt-out (no access)'
        }. ${
            tomasWrites.length
                ? `The demo assigned ${MODIFY_ALL_PERMISSION_SET} to the integration user and ran optout retry --reason no_access; the ${jobOf(tomasWrites)} then wrote ${list(tomasWrites)}.`
                : 'Still stuck: assign the Modify All set, then optout retry.'
        }`
    });

    const margaret = ex('validationRule');
    const margaretRefused = await failuresFor(ledger, margaret.email);
    const margaretWrites = await writesFor(ledger, margaret.email);
    const rule = margaretRefused[0];
    const refusals = margaretRefused.length;
    out.push({
        rule: 'R14',
        name: margaret.name,
        email: margaret.email,
        story: rule
            ? `Investor Relations: the customer's validation rule refuses any change of Email Opt Out on her Contact. The ${rule.job ?? 'push'} got ${rule.code} ("${rule.message}") and wrote nothing; the other unsubscribes of the same request went through. Refused ${refusals} time${refusals === 1 ? '' : 's'} so far: she stays stuck, retried with back-off and set aside as a dead letter after ${DEAD_LETTER_AFTER} refusals in a row; optout status says what to do, and optout retry --email ${margaret.email} sends her again once the rule lets the integration user through.`
            : margaretWrites.length
              ? `The validation rule let the write through: ${list(margaretWrites)}.`
              : 'Not attempted yet.'
    });

    const nameOf = (id: string): string =>
        AUDIENCES.find((a) => a.id === id)?.name ?? id;
    const elena = ex('mailchimpPush');
    const elenaPerson = await ledger.findPerson(elena.email);
    const elenaUnsub = elenaPerson
        ? (await ledger.listUnsubscribes(elenaPerson.id)).find(
              (u) => u.source === 'salesforce'
          )
        : undefined;
    const elenaSent = (
        await mailchimpDeliveriesFor(ledger, elena.email)
    ).filter((d) => d.outcome === 'delivered' || d.outcome === 'in_mailchimp');
    out.push({
        rule: 'R3b → Mailchimp',
        name: elena.name,
        email: elena.email,
        story:
            elenaUnsub && elenaSent.length
                ? `Opted out in Salesforce, subscribed in Mailchimp: the pull brought her membership into the ledger, the nightly her opt-out (an unsubscribe from everything, source salesforce), and optout mailchimp push set her unsubscribed in ${[...new Set(elenaSent.map((d) => nameOf(d.listId)))].join(', ')}. The connector only ever sends "unsubscribed".`
                : elenaUnsub
                  ? 'Opted out in Salesforce and in the ledger; not yet in Mailchimp.'
                  : 'Opted out in Salesforce; not yet in the ledger.'
    });

    const noah = ex('mailchimpPull');
    const noahPerson = await ledger.findPerson(noah.email);
    const left = data.mailchimpUnsubscribe.audienceId;
    const noahMembership = noahPerson
        ? await ledger.getMembership(noahPerson.id, left)
        : undefined;
    // Membership rows are audited as membership_written, not field_write.
    // The newest membership write for the audience Noah left.
    const noahWrites = (
        await auditWithJob(ledger, 'membership_written', noah.email)
    )
        .filter((a) => (a.detail ?? '').includes(left))
        .slice(-1) as AuditWrite[];
    out.push({
        rule: 'R5 ← Mailchimp',
        name: noah.name,
        email: noah.email,
        story:
            noahMembership?.status === 'Unsubscribed'
                ? `Unsubscribed from ${nameOf(left)} with Mailchimp's link: optout mailchimp pull recorded it in the ledger (source ${noahMembership.source})${noahWrites.length ? `, and the ${jobOf(noahWrites)} wrote Audience_Membership__c ${noahWrites[0].recordId} as Unsubscribed` : ''}. Leaving one audience is not leaving everything (R5): his Contact's Email Opt Out stays off and he still gets the other audience.`
                : 'Not unsubscribed in Mailchimp yet.'
    });
    return out;
}

export async function buildSummary(input: Input): Promise<DemoSummary> {
    const { ledger, data, burst, hourly, nightly } = input;
    const retryResult = input.fix.push;
    const runIds = [
        ...burst.results.map((r) => r.runId),
        hourly.runId,
        nightly.runId,
        ...(retryResult ? [retryResult.runId] : []),
        input.readbackHourly.runId
    ];
    const fieldWrites: Record<string, number> = {};
    for (const row of await fieldWritesByRuns(ledger, runIds))
        fieldWrites[`${row.object}.${row.field}`] = row.n;
    const latencies = await deliveryLatencies(
        ledger,
        burst.results.map((r) => r.runId)
    );

    const push = pushLine(burst.results);
    const retry = retryResult ? summarizeResult(retryResult) : null;
    const jobs = {
        push,
        hourly: summarizeResult(hourly),
        nightly: summarizeResult(nightly),
        retry,
        readback: summarizeResult(input.readbackHourly)
    };
    const skipped: Record<string, number> = {};
    for (const j of Object.values(jobs)) if (j) add(skipped, j.skipped);
    // The push after optout retry and the read-back hourly: counted like the others.
    const retryCount = (f: (j: JobLine) => number): number =>
        (retry ? f(retry) : 0) + f(jobs.readback);
    const status = await ledger.status();
    const people = peopleByKey(data);
    const ana = people.get(data.examples.sameEmail);
    const emails = new Map<string, number>();
    for (const p of [...data.contacts, ...data.leads])
        emails.set(
            p.email.toLowerCase(),
            (emails.get(p.email.toLowerCase()) ?? 0) + 1
        );

    return {
        status: 'ok',
        seeded: !input.reused,
        size: data.size,
        seed: data.seed,
        durationMs: Date.now() - input.startedAt,
        timings: input.timings,
        org: {
            description: input.org.description,
            instanceUrl: input.org.target.instanceUrl,
            dbPath: input.dbPath
        },
        ledger: input.ledgerPath,
        data: {
            contacts: data.contacts.length + 1,
            leads: data.leads.length,
            convertedLeads: 1,
            duplicateEmails: [...emails.values()].filter((n) => n > 1).length,
            optedOutInSalesforce: [...data.contacts, ...data.leads].filter(
                (p) => p.optedOut
            ).length,
            ledgerPersons: status.persons,
            memberships: status.memberships.total,
            audiences: AUDIENCES.map((a) => ({ id: a.id, name: a.name })),
            salesforcePending: data.salesforcePending.length,
            componentsDeployed: input.deploy.numberComponentsDeployed
        },
        burst: {
            webhookCalls: burst.sent,
            recorded: burst.recorded,
            already: burst.already,
            refused: burst.refused,
            pushes: burst.pushes,
            latencyMs: latencies.length
                ? { median: median(latencies), max: Math.max(...latencies) }
                : null
        },
        jobs,
        changes: {
            fieldWrites,
            recordsWritten:
                push.recordsWritten +
                hourly.recordsWritten +
                nightly.recordsWritten +
                retryCount((j) => j.recordsWritten),
            ledgerUnsubscribesAdded:
                hourly.ledgerUnsubscribesAdded +
                nightly.ledgerUnsubscribesAdded +
                jobs.readback.ledgerUnsubscribesAdded,
            membershipsUpserted:
                push.membershipsUpserted +
                hourly.membershipsUpserted +
                nightly.membershipsUpserted +
                retryCount((j) => j.membershipsUpserted),
            unsubscribesDelivered:
                push.unsubscribesDelivered +
                hourly.unsubscribesDelivered +
                nightly.unsubscribesDelivered +
                retryCount((j) => j.unsubscribesDelivered),
            skipped,
            failed:
                push.failed +
                hourly.failed.length +
                nightly.failed.length +
                retryCount((j) => j.failed)
        },
        apiRequests: {
            push: push.apiRequests,
            hourly: hourly.apiRequests,
            nightly: nightly.apiRequests,
            retry: retry?.apiRequests ?? 0,
            readback: jobs.readback.apiRequests,
            total:
                push.apiRequests +
                hourly.apiRequests +
                nightly.apiRequests +
                retryCount((j) => j.apiRequests)
        },
        syncUser: DEMO_USERS.integration.username,
        stuck: stuckForSummary(await ledger.stuckSummary()),
        fixed: input.fix.permissionSet
            ? {
                  reason: 'no_access',
                  permissionSet: MODIFY_ALL_PERMISSION_SET,
                  retried: input.fix.retried,
                  delivered: retryResult?.unsubscribesDelivered ?? 0
              }
            : null,
        apiUsage: nightly.apiUsage ?? hourly.apiUsage,
        mailchimp: mailchimpSummary(input.mailchimp),
        examples: await stories(input),
        next: [
            'optout status                      # the ledger, pending pushes, what is stuck and why, the last run of each job',
            `optout history --email ${people.get(data.examples.validationRule)?.email ?? 'EMAIL'}   # a refused record: the reason and the attempts`,
            `optout history --email ${ana?.email ?? 'EMAIL'}   # one person's audit trail`,
            'npm run preview                    # the record pages of the local org, with the component',
            `optout mailchimp pull|push         # the connector, with MAILCHIMP_API_KEY (the demo's local Mailchimp: ${input.mailchimp.apiUrl}, stopped with the demo)`,
            'npm start                          # again: the jobs find nothing to write (R11)',
            'optout serve --target-org local    # the webhook for real (OPTOUT_WEBHOOK_SECRET=…)'
        ]
    };
}

const REASONS: Record<string, string> = {
    already_opted_out: 'already opted out in Salesforce',
    no_matching_record: 'no Contact or Lead with that id or email',
    membership_unchanged: 'membership already up to date',
    pending_in_salesforce: 'changed in Salesforce, waiting for the hourly',
    converted_lead: 'converted Lead (its Contact was written)',
    record_deleted: 'record deleted in Salesforce',
    stuck_record:
        'refused by Salesforce before, waiting for its back-off (R14)',
    membership_shared_row:
        'membership of a record another person claims too (one row per key, R13)'
};

function n(x: number): string {
    return x.toLocaleString('en-US');
}

function secs(ms: number | undefined): string {
    return ms === undefined ? '' : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The summary for people, fitted to `columns` (the terminal's width): tables wrap or
 * become "Heading: value" blocks when narrow, free text wraps with its indent.
 */
export function renderSummary(s: DemoSummary, columns = 80): string {
    const parts: string[] = [];
    parts.push(
        indented(
            s.seeded
                ? `Demo finished in ${secs(s.durationMs)} on ${s.org.description}.`
                : `Demo run again in ${secs(s.durationMs)}: the org and ledger from the earlier run were reused, so the jobs had nothing new to write (R11).`,
            columns,
            '',
            ''
        )
    );
    parts.push(
        '',
        'The data',
        renderPairs(
            [
                [
                    'Salesforce',
                    `${n(s.data.contacts)} Contacts, ${n(s.data.leads)} Leads (${s.data.convertedLeads} converted), ${n(s.data.duplicateEmails)} emails on more than one record, ${n(s.data.optedOutInSalesforce)} already opted out`
                ],
                [
                    'Ledger',
                    `${n(s.data.ledgerPersons)} people, ${n(s.data.memberships)} memberships in ${s.data.audiences.map((a) => a.name).join(', ')}`
                ],
                [
                    'Made in Salesforce',
                    s.seeded
                        ? `${s.data.salesforcePending} audience unsubscribes waiting for the hourly (Pending_Push__c)`
                        : `${s.data.salesforcePending} audience unsubscribes (taken by the first run's hourly)`
                ],
                [
                    'Settings',
                    'nightly sync on, all-audiences rule on, opt-out field HasOptedOutOfEmail'
                ],
                [
                    'Sync user',
                    `${s.syncUser}: Standard User with the Opt_Out_Sync_Integration permission set (View All on Contact and Lead)${s.fixed ? `, then ${s.fixed.permissionSet}` : ''}`
                ],
                [
                    'Strict org',
                    "duplicate rules on, Contacts without an Account private to their owner, the customer's validation rule on Contact"
                ]
            ],
            columns
        )
    );
    const job = (
        label: string,
        j: JobLine,
        extra = ''
    ): (string | number)[] => [
        label,
        j.status + extra,
        n(j.recordsWritten),
        n(j.ledgerUnsubscribesAdded),
        n(j.membershipsUpserted),
        n(j.unsubscribesDelivered),
        j.failed,
        n(j.apiRequests),
        secs(j.durationMs)
    ];
    parts.push(
        '',
        'What the jobs did',
        renderTable(
            [
                'Job',
                'Status',
                'Records written',
                'Ledger unsubscribes added',
                'Memberships upserted',
                'Unsubscribes delivered',
                'Failed',
                'API requests',
                'Time'
            ],
            [
                job(
                    `push (${s.burst.webhookCalls} webhook calls)`,
                    s.jobs.push,
                    s.jobs.push.runs
                        ? ` (${s.jobs.push.runs} run${s.jobs.push.runs === 1 ? '' : 's'})`
                        : ''
                ),
                [
                    'mailchimp pull',
                    s.mailchimp.pull.skipped ? 'partial' : 'succeeded',
                    '-',
                    n(s.mailchimp.pull.audienceUnsubscribes),
                    n(s.mailchimp.pull.membershipsChanged),
                    '-',
                    0,
                    `${n(s.mailchimp.pull.apiRequests)} to Mailchimp`,
                    secs(s.mailchimp.pull.durationMs)
                ],
                job('hourly', s.jobs.hourly),
                job('nightly', s.jobs.nightly),
                [
                    'mailchimp push',
                    (s.mailchimp.push.failed ? 'partial' : 'succeeded') +
                        (s.mailchimp.push.mode === 'batch'
                            ? ' (batch operations)'
                            : ''),
                    '-',
                    '-',
                    '-',
                    n(s.mailchimp.push.delivered),
                    s.mailchimp.push.failed,
                    `${n(s.mailchimp.push.apiRequests)} to Mailchimp`,
                    secs(s.mailchimp.push.durationMs)
                ],
                [
                    'mailchimp pull (read back)',
                    'succeeded',
                    '-',
                    n(s.mailchimp.readback.audienceUnsubscribes),
                    n(s.mailchimp.readback.membershipsChanged),
                    '-',
                    0,
                    `${n(s.mailchimp.readback.apiRequests)} to Mailchimp`,
                    secs(s.mailchimp.readback.durationMs)
                ],
                job('hourly (read back)', s.jobs.readback),
                ...(s.jobs.retry
                    ? [job('push after optout retry', s.jobs.retry)]
                    : [])
            ],
            columns
        )
    );
    const writes = Object.entries(s.changes.fieldWrites);
    const skipped = Object.entries(s.changes.skipped).filter(([, x]) => x > 0);
    parts.push(
        renderPairs(
            [
                [
                    'Fields written',
                    writes.length
                        ? writes.map(([f, x]) => `${f} ${n(x)}`).join(', ')
                        : 'none'
                ],
                [
                    'Real-time push',
                    s.burst.recorded
                        ? `${s.burst.recorded} new unsubscribes in ${s.burst.pushes} micro-batched push${s.burst.pushes === 1 ? '' : 'es'}${s.burst.latencyMs ? `; collected → confirmed by Salesforce in ${secs(s.burst.latencyMs.median)} (median), ${secs(s.burst.latencyMs.max)} at most` : ''}`
                        : `all ${s.burst.already} already recorded: nothing to push`
                ],
                [
                    'Skipped',
                    skipped.length
                        ? skipped
                              .map(
                                  ([r, x]) =>
                                      `${n(x)} ${REASONS[r] ?? r.replace(/_/g, ' ')}`
                              )
                              .join('; ')
                        : 'nothing'
                ],
                ['Mailchimp', mailchimpLine(s.mailchimp)],
                [
                    'API requests',
                    `${s.apiRequests.total} to Salesforce for the jobs, ${n(s.mailchimp.pull.apiRequests + s.mailchimp.push.apiRequests + s.mailchimp.readback.apiRequests)} to Mailchimp${s.apiUsage ? ` (org usage ${n(s.apiUsage.used)} of ${n(s.apiUsage.max)} today)` : ''}`
                ]
            ],
            columns
        )
    );
    parts.push('', ...renderStuck(s, columns));
    parts.push(
        '',
        'A few people, one rule each',
        renderExamples(s.examples, columns),
        '',
        'Where to look next',
        ...s.next.map((x) => renderNext(x, columns))
    );
    parts.push('', renderPlaces(s, columns));
    return parts.join('\n');
}

/** Where the demo's files are: one line when it fits, else one line per file. */
function renderPlaces(s: DemoSummary, columns: number): string {
    const places = [
        `Local org: ${s.org.dbPath}`,
        `local Mailchimp: ${s.mailchimp.dbPath}`,
        `ledger: ${s.ledger}`,
        'start over: npm start -- --reset'
    ];
    const line = places.join(' · ');
    if ([...line].length <= columns) return line;
    return places.map((p) => indented(p, columns, '', '  ')).join('\n');
}

/**
 * Free text wrapped to `columns`: the first line after `first`, the others after
 * `rest` (a hanging indent).
 */
function indented(
    text: string,
    columns: number,
    first: string,
    rest: string
): string {
    const [head] = wrapText(text, columns - first.length);
    const tail = text.slice(head.length).trim();
    return [
        `${first}${head}`,
        ...(tail
            ? wrapText(tail, columns - rest.length).map((l) => `${rest}${l}`)
            : [])
    ].join('\n');
}

/** The stories' text is set in lines of this many characters in the table. */
const STORY_WIDTH = 72;

/**
 * One story per rule: a table (rule, person, story) when it fits with the story in
 * lines of STORY_WIDTH; else one block per person, the story wrapped under the name.
 */
function renderExamples(
    examples: readonly DemoExampleStory[],
    columns: number
): string {
    const widest = (f: (e: DemoExampleStory) => number): number =>
        Math.max(0, ...examples.map(f));
    const ruleWidth = Math.max(
        4,
        widest((e) => e.rule.length)
    );
    const personWidth = Math.max(
        6,
        widest((e) => Math.max(e.name.length, e.email.length))
    );
    // Three columns of content, each with 3 characters of borders and padding, + 1.
    if (ruleWidth + personWidth + STORY_WIDTH + 10 <= columns)
        return renderTable(
            ['Rule', 'Person', 'What happened'],
            examples.map((e) => [
                e.rule,
                `${e.name}\n${e.email}`,
                wrapText(e.story, STORY_WIDTH).join('\n')
            ]),
            columns
        );
    return examples
        .map((e) =>
            [
                indented(
                    `${e.rule} · ${e.name} · ${e.email}`,
                    columns,
                    '',
                    '  '
                ),
                indented(e.story, columns, '  ', '  ')
            ].join('\n')
        )
        .join('\n\n');
}

/** A "where to look next" line: the command, then its comment below it when narrow. */
function renderNext(line: string, columns: number): string {
    if ([...line].length + 2 <= columns) return `  ${line}`;
    const hash = line.indexOf('# ');
    if (hash < 0) return indented(line, columns, '  ', '      ');
    return [
        indented(line.slice(0, hash).trimEnd(), columns, '  ', '      '),
        indented(line.slice(hash), columns, '      ', '        ')
    ].join('\n');
}

/** What Salesforce refused: what was fixed, and what is still stuck, by reason (R14). */
function renderStuck(s: DemoSummary, columns: number): string[] {
    const lines = ['Refused by Salesforce (optout status)'];
    if (s.fixed)
        lines.push(
            indented(
                `Fixed: ${s.fixed.retried} no access — the demo assigned ${s.fixed.permissionSet} to the sync user and ran optout retry --reason no_access; ${s.fixed.delivered} delivered.`,
                columns,
                '  ',
                '    '
            )
        );
    if (s.stuck.byReason.length === 0) {
        lines.push('  Nothing is stuck.');
        return lines;
    }
    lines.push(
        indented(
            `Still stuck: ${s.stuck.retrying} retrying with back-off, ${s.stuck.deadLetters} dead letter${s.stuck.deadLetters === 1 ? '' : 's'}. The other records of the same requests went through.`,
            columns,
            '  ',
            '  '
        )
    );
    for (const g of s.stuck.byReason) {
        lines.push(
            '',
            indented(
                `${g.title} (${g.reason}): ${g.retrying + g.deadLetters} record${g.retrying + g.deadLetters === 1 ? '' : 's'}`,
                columns,
                '  ',
                '    '
            )
        );
        for (const r of g.records)
            lines.push(
                indented(
                    `${r.email}: ${r.errorCode}${r.message ? ` — ${r.message}` : ''}`,
                    columns,
                    '    ',
                    '      '
                )
            );
        // What to do reads best in lines of about 84 characters, narrower when the
        // terminal is.
        lines.push(
            indented(
                `What to do: ${g.whatToDo}`,
                Math.min(columns, 88),
                '    ',
                '    '
            )
        );
    }
    return lines;
}
