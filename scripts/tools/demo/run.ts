/**
 * `optout demo` (`npm start`): the whole product on the embedded local org, for a new
 * user. Starts the local org (or uses the running one), deploys the package through the
 * metadata deploy API, seeds a realistic data set (seed.ts, data.ts), turns the nightly
 * sync and the all-audiences rule on through the settings, then runs what production
 * runs, as a realistic integration user (a Standard User with the package's View All
 * permission set, not a System Administrator): a burst of real-time unsubscribes
 * through the webhook's HTTP endpoint and push loop, the hourly sync and the nightly
 * sync. The org is as strict as a real one (duplicate rules on, private Contacts, a
 * customer validation rule), so two named people are refused (R14); the demo then does
 * what `optout status` tells an admin for one of them — assign the Modify All set,
 * `optout retry` — and pushes again. The summary (summary.ts) says what changed, with
 * the audit trail's own numbers, and what is still stuck and why.
 *
 * A local Mailchimp (mailchimp.ts) holds the three audiences: before the hourly the
 * connector pulls them (a member who just unsubscribed there reaches the ledger, then
 * Salesforce), after the nightly it pushes the ledger's unsubscribes to them (an opt-out
 * made in Salesforce reaches Mailchimp). The members the push unsubscribed come back on
 * the next pull as audience unsubscribes, which the next hourly writes as memberships:
 * the demo runs that pull and hourly too, so the loop is closed when it ends and a
 * second run has nothing to write (R11).
 *
 * A second run reuses the seeded org and ledger and shows the jobs writing nothing (R11);
 * `--reset` starts over, but only on files the demo made.
 */
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ledger } from '../../ledger/ledger';
import type { LogFn } from '../../model/log';
import { OptoutError } from '../../model/errors';
import {
    DEFAULT_DB_PATH,
    DEFAULT_STATE_FILE,
    checkOrg,
    connectionFor,
    readState
} from '../local-org/connect';
import type { StuckSummary } from '../../ledger/ledger';
import { STUCK_REASON_CATALOGUE } from '../../model/stuck';
import { deployPackage } from '../local-org/testing';
import { openOrg } from '../../salesforce/open';
import { OrgClient, type RequestingConnection } from '../../salesforce/client';
import { writeSettings } from '../../salesforce/settings';
import { runJob } from '../../sync/run';
import type { JobResult } from '../../sync/result';
import type { Progress } from '../../sync/records';
import { startWebhook } from '../../webhook/service';
import type { PushRun } from '../../sync/push-service';
import {
    DEMO_SIZES,
    generateDemoData,
    peopleByKey,
    type DemoData,
    type DemoSize
} from './data';
import {
    orgCounts,
    readMarker,
    seedDecision,
    seedLedger,
    seedOrg,
    type OrgTarget,
    type SeedCounts
} from './seed';
import { buildSummary, type DemoSummary } from './summary';
import type { LocalMailchimp } from '../local-mailchimp/server';
import {
    demoPull,
    demoPush,
    mailchimpDbPathFor,
    removeDemoMailchimp,
    seedMailchimp,
    seedMailchimpFile,
    startDemoMailchimp,
    type DemoPull,
    type DemoPush
} from './mailchimp';
import {
    MODIFY_ALL_PERMISSION_SET,
    assignPermissionSet,
    type DemoUsers
} from './users';

/** The demo customer's own metadata: a validation rule on Contact (see data.ts). */
export const CUSTOMER_METADATA = 'scripts/tools/demo/customer-org';

/** An org the demo runs against (the local org, or a test's). */
export interface DemoOrg {
    client: OrgClient;
    target: OrgTarget;
    /** How it was reached, for the summary. */
    description: string;
    close(): Promise<void>;
}

export interface DemoOptions {
    size?: DemoSize;
    seed?: number;
    /** Ledger file (default: the CLI's --ledger resolution). */
    ledgerPath: string;
    /** The local org's database (default .optout/local-org.db). */
    dbPath?: string;
    stateFile?: string;
    reset?: boolean;
    /** Connects to another org than the embedded one (tests). */
    connect?: () => Promise<DemoOrg>;
    /** One call per phase, when it starts and when it ends. */
    onPhase?: (event: PhaseEvent) => void;
    /** Progress of a job's reads and writes. */
    onProgress?: Progress;
    log?: LogFn;
    /** How long the push loop gathers arrivals (ms, default 500). */
    pushDelayMs?: number;
    /** The local Mailchimp's database (default: local-mailchimp.db beside dbPath). */
    mailchimpDbPath?: string;
    /** A running local Mailchimp to use instead (tests; the demo does not close it). */
    mailchimp?: LocalMailchimp;
}

export interface PhaseEvent {
    phase: DemoPhase;
    state: 'start' | 'end';
    /** What the phase did, at its end. */
    detail?: string;
    durationMs?: number;
}

export type DemoPhase =
    | 'reset'
    | 'org'
    | 'deploy'
    | 'seed'
    | 'mailchimp'
    | 'settings'
    | 'burst'
    | 'mailchimp-pull'
    | 'hourly'
    | 'nightly'
    | 'mailchimp-push'
    | 'fix'
    | 'readback'
    | 'summary';

export const PHASE_TITLES: Record<DemoPhase, string> = {
    reset: 'Removing the earlier demo data',
    org: 'Starting the local org',
    deploy: 'Deploying the package',
    seed: 'Seeding Salesforce and the ledger',
    mailchimp: 'Starting the local Mailchimp with the three audiences',
    settings: 'Turning the nightly sync on',
    burst: 'Real-time unsubscribes through the webhook',
    'mailchimp-pull':
        'Someone unsubscribes in Mailchimp; optout mailchimp pull reads the audiences',
    hourly: 'Hourly audience sync',
    nightly: 'Nightly reconciliation',
    'mailchimp-push':
        'optout mailchimp push: the ledger unsubscribes to Mailchimp',
    readback:
        'The next pull and hourly read back what the push set in Mailchimp',
    fix: 'Fixing what Salesforce refused (optout status, then optout retry)',
    summary: 'Reading the audit trail'
};

export interface BurstResult {
    /** HTTP requests sent to the webhook. */
    sent: number;
    recorded: number;
    already: number;
    refused: number;
    pushes: number;
    results: JobResult[];
}

/** What the demo did about the records Salesforce refused (the `fix` phase). */
export interface FixResult {
    /** What `optout status` listed as stuck after the three jobs, by reason. */
    before: StuckSummary;
    /** The Modify All set given to the integration user (null: nobody lacked access). */
    permissionSet: 'assigned' | 'already assigned' | null;
    /** Records `optout retry --reason no_access` put back. */
    retried: number;
    /** The push that sent them again (null when nothing was retried). */
    push: JobResult | null;
}

/**
 * A client for the sync's integration user: the same org, that user's own session,
 * so sharing and its permission sets apply to every request the jobs make.
 */
function integrationClient(
    target: OrgTarget,
    users: DemoUsers,
    log: DemoOptions['log']
): OrgClient {
    const conn = connectionFor({
        instanceUrl: target.instanceUrl,
        accessToken: users.integration.accessToken
    }) as unknown as RequestingConnection;
    return new OrgClient(conn, { targetOrg: 'local', local: true, log });
}

/**
 * Does what `optout status` says for records refused for lack of access: assigns the
 * integration user the Modify All set (as an admin would in Setup), puts the records
 * back (`optout retry --reason no_access`) and pushes them again. Other reasons (the
 * validation rule) are left for the admin: the summary shows them with their fix.
 */
async function fixNoAccess(
    ledger: Ledger,
    target: OrgTarget,
    users: DemoUsers,
    sync: OrgClient,
    log: DemoOptions['log']
): Promise<FixResult> {
    const before = await ledger.stuckSummary();
    if (!before.byReason.some((g) => g.reason === 'no_access'))
        return { before, permissionSet: null, retried: 0, push: null };
    const permissionSet = await assignPermissionSet(
        target,
        users.integration.id,
        MODIFY_ALL_PERMISSION_SET
    );
    const retried = await ledger.retryStuck({
        codes: [...STUCK_REASON_CATALOGUE.no_access.codes]
    });
    const push = retried.some((r) => r.kind === 'unsubscribe')
        ? await runJob('push', { ledger, org: sync, log })
        : null;
    return { before, permissionSet, retried: retried.length, push };
}

/** The embedded local org on `dbPath`: the running one if it serves that file, else in-process. */
async function connectLocal(
    dbPath: string,
    stateFile: string,
    log: DemoOptions['log']
): Promise<DemoOrg> {
    const running = readState(stateFile);
    const reuse =
        running !== undefined &&
        resolve(running.dbPath) === resolve(dbPath) &&
        (await checkOrg(running.instanceUrl, running.accessToken));
    const client = await openOrg('local', {
        localOrg: { dbPath, stateFile },
        log
    });
    const conn = client.conn;
    return {
        client,
        target: {
            instanceUrl: conn.instanceUrl,
            accessToken: String(conn.accessToken)
        },
        description: reuse
            ? `the running local org at ${conn.instanceUrl} (pid ${running?.pid})`
            : `a local org served by this process on ${dbPath}`,
        close: () => client.close()
    };
}

function removeSqlite(path: string): void {
    for (const suffix of ['', '-wal', '-shm', '-journal'])
        rmSync(`${path}${suffix}`, { force: true });
}

/**
 * `--reset`: removes the ledger and the local org database, but only when they hold the
 * demo's data (the marker, or nothing at all) and no other process serves the org.
 */
async function reset(
    options: DemoOptions,
    dbPath: string,
    stateFile: string,
    mailchimpDbPath: string
): Promise<string> {
    const running = readState(stateFile);
    if (
        running &&
        resolve(running.dbPath) === resolve(dbPath) &&
        (await checkOrg(running.instanceUrl, running.accessToken))
    )
        throw new OptoutError(
            'LOCAL_ORG_RUNNING',
            `A local org serves ${dbPath} (pid ${running.pid}); the demo cannot reset a database in use.`,
            {
                actions: [
                    'Stop it first: optout local-org stop',
                    'Then: npm start -- --reset'
                ]
            }
        );
    let persons = 0;
    let marker;
    if (existsSync(options.ledgerPath)) {
        const ledger = await Ledger.open(options.ledgerPath);
        try {
            marker = await readMarker(ledger);
            persons = (await ledger.status()).persons;
        } finally {
            await ledger.close();
        }
    }
    let org = { contacts: 0, leads: 0 };
    if (existsSync(dbPath)) {
        const o = await connectLocal(dbPath, stateFile, options.log);
        try {
            org = await orgCounts(o.client);
        } finally {
            await o.close();
        }
    }
    const demoOrg =
        (org.contacts === 0 && org.leads === 0) ||
        (marker !== undefined &&
            org.contacts === marker.contacts &&
            org.leads === marker.leads);
    if ((!marker && persons > 0) || !demoOrg)
        throw new OptoutError(
            'NOT_DEMO_DATA',
            `--reset removes only the demo's own data, and ${!demoOrg ? `the local org ${dbPath} holds ${org.contacts} Contacts and ${org.leads} Leads` : `the ledger ${options.ledgerPath} holds ${persons} people`} it did not create. Nothing was removed.`,
            {
                actions: [
                    'Run the demo on its own files: npm start -- --ledger .optout/demo/ledger.db --db .optout/demo/local-org.db'
                ]
            }
        );
    // Checked before anything is removed: a foreign Mailchimp file stops the reset whole.
    const mailchimpThere = existsSync(mailchimpDbPath);
    if (mailchimpThere) await removeDemoMailchimp(mailchimpDbPath);
    removeSqlite(options.ledgerPath);
    removeSqlite(dbPath);
    return `removed ${options.ledgerPath}, ${dbPath}${mailchimpThere ? ` and ${mailchimpDbPath}` : ''}`;
}

/**
 * Runs `fn` without @salesforce/core's "Using insecure protocol: http" warning: the
 * local org is plain HTTP on the loopback interface, and the warning would be the first
 * thing a new user reads.
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
    const emit = process.emitWarning;
    process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
        const text = typeof warning === 'string' ? warning : warning.message;
        if (/insecure protocol: http:/i.test(text)) return;
        (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
    }) as typeof process.emitWarning;
    try {
        return await fn();
    } finally {
        process.emitWarning = emit;
    }
}

/** Mailchimp's fired_at: "YYYY-MM-DD HH:MM:SS" in UTC. */
function firedAt(d: Date): string {
    return d.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * The burst: every unsubscribe of the data set's burst list arrives as its own HTTP
 * request — global ones as JSON from "another platform", audience ones as Mailchimp
 * webhooks — 20 at a time; the push loop micro-batches them to Salesforce.
 */
async function burst(
    ledger: Ledger,
    org: OrgClient,
    data: DemoData,
    ids: Record<string, string>,
    options: DemoOptions
): Promise<BurstResult> {
    const secret = randomBytes(24).toString('hex');
    const runs: PushRun[] = [];
    const webhook = await startWebhook({
        ledger,
        org,
        secret,
        port: 0,
        // The push loop warns about the records Salesforce refuses (R14). In the demo
        // they are expected — two named people are there to be refused — and the
        // summary lists them by reason, so the warning is information here.
        log: (level, message) =>
            options.log?.(level === 'warn' ? 'info' : level, message),
        push: { maxDelayMs: options.pushDelayMs ?? 500 },
        onPush: (run) => runs.push(run)
    });
    const people = peopleByKey(data);
    const out: BurstResult = {
        sent: 0,
        recorded: 0,
        already: 0,
        refused: 0,
        pushes: 0,
        results: []
    };
    try {
        const send = async (item: DemoData['burst'][number]): Promise<void> => {
            const p = people.get(item.key);
            if (!p) return;
            let res: Response;
            if (item.kind === 'audience') {
                res = await fetch(`${webhook.url}/mailchimp?secret=${secret}`, {
                    method: 'POST',
                    headers: {
                        'Content-Type': 'application/x-www-form-urlencoded'
                    },
                    body: new URLSearchParams({
                        type: 'unsubscribe',
                        fired_at: firedAt(new Date()),
                        'data[action]': 'unsub',
                        'data[reason]': item.reason,
                        'data[id]': createHash('md5')
                            .update(p.email.toLowerCase())
                            .digest('hex')
                            .slice(0, 10),
                        'data[email]': p.email,
                        'data[email_type]': 'html',
                        'data[list_id]': item.audienceId as string,
                        'data[merges][FNAME]': p.firstName,
                        'data[merges][LNAME]': p.lastName
                    }).toString()
                });
            } else {
                const id = ids[item.key];
                res = await fetch(`${webhook.url}/unsubscribes`, {
                    method: 'POST',
                    headers: {
                        'Content-Type': 'application/json',
                        Authorization: `Bearer ${secret}`
                    },
                    body: JSON.stringify({
                        email: p.email,
                        reason: item.reason,
                        ...(item.withId15 && id
                            ? { salesforceId: id.slice(0, 15) }
                            : {})
                    })
                });
            }
            out.sent += 1;
            const body = (await res.json()) as {
                outcome?: string;
                recorded?: number;
                already?: number;
            };
            if (!res.ok) {
                out.refused += 1;
                return;
            }
            if (body.outcome === 'recorded' || body.recorded) out.recorded += 1;
            else out.already += 1;
        };
        // They trickle in as real unsubscribes do: 20 at a time, every 150 ms.
        for (let i = 0; i < data.burst.length; i += 20) {
            if (i > 0) await new Promise((r) => setTimeout(r, 150));
            await Promise.all(data.burst.slice(i, i + 20).map(send));
        }
        await webhook.loop.idle();
    } finally {
        await webhook.close();
    }
    out.pushes = runs.length;
    out.results = runs.flatMap((r) => (r.result ? [r.result] : []));
    return out;
}

/** Runs the demo; see the file comment. */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
    const started = Date.now();
    const size = options.size ?? 'full';
    const seed = options.seed ?? 42;
    const dbPath = resolve(options.dbPath ?? DEFAULT_DB_PATH);
    const stateFile = options.stateFile ?? DEFAULT_STATE_FILE;
    const mailchimpDbPath = resolve(
        options.mailchimpDbPath ?? mailchimpDbPathFor(dbPath)
    );
    const timings: Partial<Record<DemoPhase, number>> = {};
    const phase = async <T>(
        name: DemoPhase,
        fn: () => Promise<T>,
        detail?: (value: T) => string
    ): Promise<T> => {
        const t = Date.now();
        options.onPhase?.({ phase: name, state: 'start' });
        const value = await fn();
        timings[name] = Date.now() - t;
        options.onPhase?.({
            phase: name,
            state: 'end',
            durationMs: timings[name],
            detail: detail?.(value)
        });
        return value;
    };

    if (options.reset && !options.connect)
        await phase(
            'reset',
            () => reset(options, dbPath, stateFile, mailchimpDbPath),
            (s) => s
        );

    const data = generateDemoData({ seed, size });
    const ledger = await Ledger.open(options.ledgerPath);
    let org: DemoOrg | undefined;
    let ownMailchimp: LocalMailchimp | undefined;
    try {
        org = await phase(
            'org',
            () =>
                options.connect
                    ? options.connect()
                    : connectLocal(dbPath, stateFile, options.log),
            (o) => o.description
        );
        const o = org;
        const client = o.client;
        const deploy = await phase(
            'deploy',
            async () => {
                const summary = await quietly(() =>
                    deployPackage(o.target, 'force-app')
                );
                if (!summary.success)
                    throw new OptoutError(
                        'DEPLOY_FAILED',
                        `The package did not deploy: ${summary.componentFailures
                            .slice(0, 5)
                            .map(
                                (f) =>
                                    `${f.componentType} ${f.fullName}: ${f.problem ?? ''}`
                            )
                            .join('; ')}`,
                        {
                            actions: [
                                'Check the package: npm run check:package'
                            ]
                        }
                    );
                const customer = await quietly(() =>
                    deployPackage(o.target, CUSTOMER_METADATA)
                );
                if (!customer.success)
                    throw new OptoutError(
                        'DEPLOY_FAILED',
                        `The demo customer's validation rule did not deploy: ${customer.componentFailures
                            .map((f) => f.problem ?? f.fullName)
                            .join('; ')}`
                    );
                return summary;
            },
            (s) =>
                `${s.numberComponentsDeployed} components, and the customer's validation rule on Contact`
        );

        const seeding = await phase(
            'seed',
            async () => {
                const marker = await readMarker(ledger);
                const counts = await orgCounts(client);
                const decision = seedDecision(
                    marker,
                    (await ledger.status()).persons,
                    counts,
                    { seed, size, ...DEMO_SIZES[size] },
                    { ledger: options.ledgerPath, db: dbPath }
                );
                if (decision === 'reuse' && marker)
                    return {
                        reused: true,
                        ids: marker.ids,
                        users: marker.users,
                        counts: {} as Partial<SeedCounts>
                    };
                const seeded = await seedOrg(o.target, data, (what) =>
                    options.log?.('info', `seeding ${what}`)
                );
                const after = await orgCounts(client);
                const ledgerCounts = await seedLedger(
                    ledger,
                    data,
                    seeded.ids,
                    seeded.users,
                    after
                );
                return {
                    reused: false,
                    ids: Object.fromEntries(seeded.ids),
                    users: seeded.users,
                    counts: { ...seeded.counts, ...ledgerCounts }
                };
            },
            (s) =>
                s.reused
                    ? 'found the org and ledger seeded by an earlier run: reusing them'
                    : `${s.counts.contacts} Contacts, ${s.counts.leads} Leads, ${s.counts.ledgerPersons} people in the ledger`
        );

        const mailchimp = await phase(
            'mailchimp',
            async () => {
                if (options.mailchimp)
                    return {
                        mc: options.mailchimp,
                        seeded: seedMailchimp(options.mailchimp, data)
                    };
                // A fresh seed starts Mailchimp over too (only on the demo's own file).
                if (!seeding.reused) await removeDemoMailchimp(mailchimpDbPath);
                const seeded = seedMailchimpFile(mailchimpDbPath, data);
                ownMailchimp = await startDemoMailchimp(mailchimpDbPath);
                return { mc: ownMailchimp, seeded };
            },
            (m) =>
                m.seeded.audiencesCreated
                    ? `${m.seeded.audiencesCreated} audiences, ${m.seeded.membersAdded} members at ${m.mc.apiUrl}`
                    : `reusing its audiences at ${m.mc.apiUrl}`
        );
        const mc = mailchimp.mc;

        await phase(
            'settings',
            () =>
                writeSettings(client, {
                    nightlySyncEnabled: true,
                    allAudiencesRule: true
                }),
            () => 'nightly sync on, all-audiences rule on'
        );

        // From here on the sync runs as the integration user, as in production.
        const sync = integrationClient(o.target, seeding.users, options.log);
        const realtime = await phase(
            'burst',
            () => burst(ledger, sync, data, seeding.ids, options),
            (b) =>
                `${b.sent} webhook calls, ${b.recorded} new unsubscribes, ${b.pushes} push${b.pushes === 1 ? '' : 'es'}`
        );
        const mailchimpPull: DemoPull = await phase(
            'mailchimp-pull',
            () => demoPull(ledger, mc, data),
            (p) =>
                `${p.result.audiences.reduce((n, a) => n + a.changed, 0)} memberships changed, ${p.result.audiences.reduce((n, a) => n + a.unsubscribes, 0)} audience unsubscribes, ${p.result.requests} Mailchimp API requests`
        );
        const hourly = await phase(
            'hourly',
            () =>
                runJob('hourly', {
                    ledger,
                    org: sync,
                    onProgress: options.onProgress,
                    log: options.log
                }),
            (r) => `${r.status}, ${r.apiRequests} API requests`
        );
        const nightly = await phase(
            'nightly',
            () =>
                runJob('nightly', {
                    ledger,
                    org: sync,
                    onProgress: options.onProgress,
                    log: options.log
                }),
            (r) => `${r.status}, ${r.apiRequests} API requests`
        );
        const mailchimpPush: DemoPush = await phase(
            'mailchimp-push',
            () => demoPush(ledger, mc),
            (p) =>
                `${p.result.delivered} delivered, ${p.result.skipped.length} skipped, ${p.result.requests} Mailchimp API requests${p.result.mode === 'batch' ? ' (batch operations)' : ''}`
        );
        const fix = await phase(
            'fix',
            () =>
                fixNoAccess(ledger, o.target, seeding.users, sync, options.log),
            (f) =>
                f.permissionSet
                    ? `${MODIFY_ALL_PERMISSION_SET} ${f.permissionSet}, ${f.retried} record${f.retried === 1 ? '' : 's'} retried: push ${f.push?.status ?? 'not run'}`
                    : 'nobody lacked access: nothing to fix'
        );
        const readback = await phase(
            'readback',
            async () => {
                const pull = await demoPull(ledger, mc, data);
                const hourly2 = await runJob('hourly', {
                    ledger,
                    org: sync,
                    onProgress: options.onProgress,
                    log: options.log
                });
                return { pull, hourly: hourly2 };
            },
            (r) =>
                `${r.pull.result.audiences.reduce((n, a) => n + a.changed, 0)} memberships changed in the ledger, hourly ${r.hourly.status}: ${r.hourly.membershipsUpserted} memberships upserted`
        );
        return await phase('summary', async () =>
            buildSummary({
                ledger,
                client,
                data,
                ids: seeding.ids,
                reused: seeding.reused,
                seedCounts: seeding.counts,
                burst: realtime,
                hourly,
                nightly,
                fix,
                readbackHourly: readback.hourly,
                mailchimp: {
                    seed: mailchimp.seeded,
                    pull: mailchimpPull,
                    push: mailchimpPush,
                    readback: readback.pull,
                    apiUrl: mc.apiUrl,
                    dbPath: options.mailchimp ? mc.dbPath : mailchimpDbPath
                },
                deploy,
                org: o,
                ledgerPath: options.ledgerPath,
                dbPath,
                timings,
                startedAt: started
            })
        );
    } finally {
        await ownMailchimp?.close().catch(() => undefined);
        await org?.close().catch(() => undefined);
        await ledger.close();
    }
}
