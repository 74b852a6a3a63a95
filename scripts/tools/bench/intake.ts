/**
 * `npm run bench:intake [-- --configs sqlite-1,postgres-1,postgres-3] [--duration 10]
 * [--connections 10] [--count 20000] …` (options: intake-args.ts): the webhook intake of
 * `optout serve` under load, per configuration (an engine and a number of replicas on
 * one ledger):
 *
 * 1. a fresh local org in a process of its own (org-process.ts), the package deployed,
 *    the settings written (nightly sync on, opt-out field Marketo_Sales_Opt_Out__c);
 * 2. a fresh ledger (intake-serve.ts) and the replicas started on it, each ready at its
 *    `listening` line; then `--count` persons seeded (80 % Contacts, 20 % Leads) with
 *    this run's emails (after serve started, so that a ledger it refuses costs no seeding);
 * 3. the load (intake-load.ts): autocannon on loopback, one unique email per request,
 *    send and answer times kept per email, while a watcher polls the org for the
 *    records written;
 * 4. the wait until every email answered 200 is seen written (or the timeout), the
 *    ledger read back through serve's suppression feed, the replicas stopped with
 *    SIGTERM (their envelopes give what each delivered), the org's record updates;
 * 5. the figures (intake-report.ts), printed as a table, written as JSON to the results
 *    folder and into README.md's "Webhook intake" section.
 *
 * A configuration that fails (serve refuses the ledger, PostgreSQL is not there…) is
 * reported as failed with its error; the others still run.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { OptoutError, errorMessage } from '../../model/errors';
import { OrgClient } from '../../salesforce/client';
import { writeSettings } from '../../salesforce/settings';
import type { LocalOrgStats } from '../local-org/admin';
import { connectionFor, writeState } from '../local-org/connect';
import { deployPackage, seedRecords } from '../local-org/testing';
import { admin, type OrgAccess } from './dataset';
import { parseIntakeArgs, type IntakeOptions } from './intake-args';
import { Watcher, runLoad } from './intake-load';
import {
    renderText,
    summarize,
    type ConfigResult,
    type IntakeConfig,
    type IntakeRunFile,
    type ServeTotals
} from './intake-report';
import { ServeReplica, prepareLedger } from './intake-serve';
import { OrgHandle } from './org-handle';
import { shownCommand } from './pg-admin';
import { describeMachine, writeFormatted, writeReadme } from './run';

/** The field the push writes for a global unsubscribe once the settings choose it (R1). */
const OPT_OUT_FIELD = 'Marketo_Sales_Opt_Out__c';
const SEED_CHUNK = 50_000;

function log(line: string): void {
    process.stderr.write(`${line}\n`);
}

/** This run's emails: unique to the run, so a ledger given with --ledger is checked for ours only. */
export function intakeEmail(tag: string, i: number): string {
    return `p${i}.${tag}@intake.example.com`;
}

/** Seeds one record per email: every fifth a Lead, the others Contacts. */
async function seedPersons(
    org: OrgAccess,
    emails: readonly string[]
): Promise<void> {
    const contacts: Record<string, unknown>[] = [];
    const leads: Record<string, unknown>[] = [];
    emails.forEach((email, i) => {
        const row = {
            FirstName: `Intake${i}`,
            LastName: `Person${i}`,
            Email: email
        };
        if (i % 5 === 4) leads.push({ ...row, Company: `Company ${i % 97}` });
        else contacts.push(row);
    });
    for (const [object, rows] of [
        ['Contact', contacts],
        ['Lead', leads]
    ] as const)
        for (let k = 0; k < rows.length; k += SEED_CHUNK)
            await seedRecords(org, object, rows.slice(k, k + SEED_CHUNK));
}

/** A local org with the package and the settings; its state file in `dir`. */
async function prepareOrg(dir: string): Promise<OrgHandle> {
    const org = await OrgHandle.start({ dbPath: join(dir, 'org.db') });
    try {
        const deployed = await deployPackage(org);
        if (!deployed.success)
            throw new Error(
                `deploy failed: ${deployed.componentFailures.map((f) => `${f.fullName}: ${f.problem ?? ''}`).join('; ')}`
            );
        await writeSettings(
            new OrgClient(connectionFor(org) as never, {
                targetOrg: 'local',
                local: true
            }),
            { nightlySyncEnabled: true, optOutField: OPT_OUT_FIELD }
        );
        const health = await admin<{
            orgId: string;
            dbPath: string;
        }>(org, 'health');
        // `--target-org local` of the replicas (cwd = dir) finds this org.
        writeState(join(dir, '.optout', 'local-org.json'), {
            instanceUrl: org.instanceUrl,
            accessToken: org.accessToken,
            pid: org.pid ?? process.pid,
            port: Number(new URL(org.instanceUrl).port),
            dbPath: health.dbPath,
            orgId: health.orgId,
            username: 'bench@intake.local',
            startedAt: new Date().toISOString()
        });
        return org;
    } catch (err) {
        await org.stop().catch(() => org.kill());
        throw err;
    }
}

interface FeedPage {
    items: { email: string; removedAt?: string | null }[];
    next: string;
}

/** This run's emails in the ledger, as serve's suppression feed gives them: email → count. */
async function ledgerEmails(
    url: string,
    secret: string,
    ours: (email: string) => boolean
): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let since = '';
    for (;;) {
        const res = await fetch(
            `${url}/suppressions?limit=5000${since ? `&since=${encodeURIComponent(since)}` : ''}`,
            { headers: { Authorization: `Bearer ${secret}` } }
        );
        const text = await res.text();
        if (!res.ok)
            throw new Error(`GET /suppressions: ${res.status} ${text}`);
        const page = JSON.parse(text) as FeedPage;
        for (const item of page.items)
            if (ours(item.email))
                counts.set(item.email, (counts.get(item.email) ?? 0) + 1);
        if (page.items.length === 0 || page.next === since) break;
        since = page.next;
    }
    return counts;
}

async function measureConfig(
    config: IntakeConfig,
    opts: IntakeOptions,
    tag: string
): Promise<ConfigResult> {
    const dir = mkdtempSync(join(os.tmpdir(), `optout-intake-${config.name}-`));
    const secret = randomBytes(24).toString('hex');
    const emails = Array.from({ length: opts.count }, (_, i) =>
        intakeEmail(`${tag}-${config.name}`, i)
    );
    const ours = new Set(emails);
    let org: OrgHandle | undefined;
    const replicas: ServeReplica[] = [];
    let disposeLedger: (() => Promise<void>) | undefined;
    let watcher: Watcher | undefined;
    try {
        log(`${config.name}: org in ${dir}`);
        org = await prepareOrg(dir);
        const ledger = await prepareLedger(
            config,
            dir,
            opts.pgUrl,
            tag.replace(/[^a-z0-9]/g, '')
        );
        disposeLedger = ledger.dispose;
        log(`${config.name}: ledger ${ledger.shown}`);
        for (let i = 0; i < config.replicas; i++) {
            replicas.push(
                await ServeReplica.start({
                    cwd: dir,
                    ledger: ledger.ledger,
                    secret
                })
            );
            log(`${config.name}: replica ${i + 1} at ${replicas[i].url}`);
        }
        // Seeded once serve runs: a ledger serve refuses fails the configuration
        // before the org is filled.
        log(`${config.name}: seeding ${emails.length} persons`);
        await seedPersons(org, emails);
        const before = await admin<LocalOrgStats>(org, 'stats');
        watcher = new Watcher(org, OPT_OUT_FIELD, opts.pollMs);
        watcher.start();
        log(
            `${config.name}: load for ${opts.durationSeconds} s or ${emails.length} unsubscribes, ${opts.connections} connections`
        );
        const load = await runLoad({
            urls: replicas.map((r) => r.url),
            secret,
            connections: opts.connections,
            durationSeconds: opts.durationSeconds,
            emails
        });
        const waitStart = Date.now();
        const confirmed = await watcher.waitFor(
            [...load.okAt.keys()],
            opts.confirmTimeoutSeconds * 1000
        );
        const confirmWaitSeconds = (Date.now() - waitStart) / 1000;
        log(
            `${config.name}: ${load.okAt.size} answered 200, ${confirmed ? 'all' : 'not all'} confirmed after ${confirmWaitSeconds.toFixed(1)} s more`
        );
        const inLedger = await ledgerEmails(replicas[0].url, secret, (e) =>
            ours.has(e)
        );
        const totals: ServeTotals[] = [];
        for (const r of replicas.splice(0)) totals.push(await r.stop());
        // What the last pushes on the way out wrote, then the watcher's last look.
        await new Promise((r) => setTimeout(r, opts.pollMs * 3));
        await watcher.stop();
        if (watcher.lastError)
            log(
                `${config.name}: a poll of the org failed: ${watcher.lastError}`
            );
        const after = await admin<LocalOrgStats>(org, 'stats');
        return summarize(
            config,
            emails.length,
            load,
            watcher.seen,
            inLedger,
            totals,
            after.records.updated - before.records.updated,
            confirmWaitSeconds
        );
    } catch (err) {
        return {
            config,
            status: 'failed',
            error: errorMessage(err)
        };
    } finally {
        await watcher?.stop().catch(() => undefined);
        for (const r of replicas) r.kill();
        await org?.stop().catch(() => org?.kill());
        await disposeLedger?.().catch((err: unknown) =>
            log(
                `${config.name}: could not drop the ledger: ${errorMessage(err)}`
            )
        );
        rmSync(dir, { recursive: true, force: true });
    }
}

/** `2026-12-05T07-15-00Z-intake.json`, beside the other runs. */
export function resultFileName(startedAt: string): string {
    return `${startedAt.slice(0, 19).replace(/:/g, '-')}Z-intake.json`;
}

export async function runIntake(
    opts: IntakeOptions,
    command: string
): Promise<IntakeRunFile> {
    const startedAt = new Date().toISOString();
    const tag = startedAt.slice(0, 19).replace(/[-:T]/g, '').toLowerCase();
    const run: IntakeRunFile = {
        kind: 'optout-bench-intake',
        version: 1,
        startedAt,
        command,
        machine: describeMachine(),
        settings: {
            durationSeconds: opts.durationSeconds,
            connections: opts.connections,
            count: opts.count,
            pollMs: opts.pollMs,
            confirmTimeoutSeconds: opts.confirmTimeoutSeconds,
            cli: 'source'
        },
        results: []
    };
    mkdirSync(opts.out, { recursive: true });
    const file = join(opts.out, resultFileName(startedAt));
    const save = (): void => {
        run.machine.loadAverage.end = os.loadavg()[0];
        writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
    };
    for (const config of opts.configs) {
        const result = await measureConfig(config, opts, tag);
        if (result.status === 'failed')
            log(`${config.name}: FAILED — ${result.error}`);
        run.results.push(result);
        save();
    }
    run.finishedAt = new Date().toISOString();
    save();
    await writeFormatted(file, JSON.stringify(run));
    log(`results: ${file}`);
    if (opts.readme) await writeReadme(opts.out);
    return run;
}

export async function main(argv: readonly string[]): Promise<number> {
    const opts = parseIntakeArgs(argv);
    const run = await runIntake(
        opts,
        `npm run bench:intake -- ${shownCommand(argv)}`.trim()
    );
    process.stdout.write(renderText(run));
    return run.results.some((r) => r.status === 'failed') ? 1 : 0;
}

// Run as a script (bin/run-ts sets argv[1] to this file), not when imported by a test.
if (process.argv[1] === __filename) {
    main(process.argv.slice(2))
        .then((code) => {
            process.exitCode = code;
            // autocannon's and fetch's keep-alive sockets must not hold the process.
            setTimeout(() => process.exit(code), 500).unref();
        })
        .catch((err: unknown) => {
            if (err instanceof OptoutError) {
                process.stderr.write(
                    `${err.message}\n${err.actions.map((a) => `  ${a}\n`).join('')}`
                );
                process.exitCode = err.exitCode;
                return;
            }
            process.stderr.write(
                `${err instanceof Error ? (err.stack ?? errorMessage(err)) : String(err)}\n`
            );
            process.exitCode = 1;
        });
}
