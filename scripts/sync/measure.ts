/**
 * Measures the API requests (and the sync process's peak memory) of the three jobs
 * against an in-memory local org running in its own process (run with --expose-gc for
 * the retained JavaScript heap, before → peak, of each run):
 * `node bin/run-ts scripts/sync/measure.ts [--records N] [--changes C] [--push P]`. Seeds N Contacts and N/4 Leads (a quarter of them sharing
 * an email with a Contact), P pending global unsubscribes for the push, C more ledger
 * unsubscribes and C/10 opt-outs made in Salesforce for the nightly, and a few audience
 * memberships for the hourly; then prints one line per run. Counts, not timings, are the
 * point (timings depend on the machine).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ledger } from '../ledger/ledger';
import { connectionFor, type LocalOrgState } from '../local-org/connect';
import { deployPackage, fakePeople, seedRecords } from '../local-org/testing';
import { OrgClient } from '../salesforce/client';
import { writeSettings } from '../salesforce/settings';
import { runJob } from './run';
import type { JobName, JobResult } from './result';

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1].replace(/_/g, '')) : fallback;
}

async function main(): Promise<void> {
    const n = arg('records', 10_000);
    const pushN = arg('push', 1000);
    const changes = arg('changes', Math.round(n / 10));
    // The org in its own process, so that the memory measured is the sync's alone.
    const dir = mkdtempSync(join(tmpdir(), 'optout-measure-'));
    const stateFile = join(dir, 'state.json');
    const child = spawn(
        process.execPath,
        [
            resolve(__dirname, '../../bin/optout'),
            'local-org',
            'start',
            '--port',
            '0',
            '--db',
            ':memory:',
            '--state-file',
            stateFile
        ],
        { stdio: 'ignore' }
    );
    for (let i = 0; i < 300 && !existsSync(stateFile); i++)
        await new Promise((r) => setTimeout(r, 100));
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as LocalOrgState;
    const admin = async (
        path: string,
        method = 'GET'
    ): Promise<Record<string, unknown>> => {
        const res = await fetch(`${state.instanceUrl}/local/${path}`, {
            method,
            headers: { Authorization: `Bearer ${state.accessToken}` }
        });
        return (await res.json()) as Record<string, unknown>;
    };
    const t = { ...state, conn: connectionFor(state) };
    const deployed = await deployPackage(t);
    if (!deployed.success) throw new Error('deploy failed');
    const ledger = Ledger.open(join(dir, 'ledger.db'));
    let peak = 0;
    let base = 0;
    // The retained heap (after a full GC), sampled twice a second: what the run holds.
    const sample = setInterval(() => {
        global.gc?.();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 500);
    try {
        const seedStart = Date.now();
        for (let i = 0; i < n; i += 100_000)
            await seedRecords(
                t,
                'Contact',
                fakePeople(Math.min(100_000, n - i), { offset: i })
            );
        const leads = Math.round(n / 4);
        // Half the leads share a Contact's email (R8), half are their own people.
        for (let i = 0; i < leads; i += 100_000)
            await seedRecords(
                t,
                'Lead',
                fakePeople(Math.min(100_000, leads - i), {
                    type: 'Lead',
                    offset: i % 2 === 0 ? i : n + i
                })
            );
        // Opt-outs made in Salesforce (R3b): every 10th of the last `changes` Contacts.
        const ids = (
            await t.conn.query<{ Id: string }>(
                `SELECT Id FROM Contact WHERE Email LIKE 'person%' ORDER BY Id DESC LIMIT ${Math.min(n, 2000)}`
            )
        ).records.map((r) => r.Id);
        for (let i = 0; i < ids.length; i += 200)
            await t.conn.sobject('Contact').update(
                ids
                    .slice(i, i + 200)
                    .filter((_, j) => j % 10 === 0)
                    .map((Id) => ({ Id, HasOptedOutOfEmail: true }))
            );
        process.stderr.write(
            `seeded ${n} contacts, ${leads} leads in ${Date.now() - seedStart} ms\n`
        );
        const client = new OrgClient(t.conn as never, {
            targetOrg: 'local',
            local: true
        });
        await writeSettings(client, {
            nightlySyncEnabled: true,
            allAudiencesRule: true
        });
        const line = async (label: string, r: JobResult): Promise<void> => {
            const s = (await admin('stats')) as {
                totalRequests: number;
                byKind: Record<string, number>;
            };
            process.stdout.write(
                `${label.padEnd(36)} retained heap ${Math.round(base / 2 ** 20)}→${Math.round(peak / 2 ** 20)} MB, requests ${String(r.apiRequests).padStart(4)} (org served ${s.totalRequests}) written ${r.recordsWritten} memberships ${r.membershipsUpserted} ledger+ ${r.ledgerUnsubscribesAdded} delivered ${r.unsubscribesDelivered} modes ${JSON.stringify(r.modes ?? {})} kinds ${JSON.stringify(s.byKind)}\n`
            );
        };
        const run = async (label: string, job: JobName): Promise<void> => {
            await admin('stats/reset', 'POST');
            global.gc?.();
            base = process.memoryUsage().heapUsed;
            peak = base;
            // A fresh client per run: a new process, nothing cached.
            const org = new OrgClient(t.conn as never, {
                targetOrg: 'local',
                local: true
            });
            await line(label, await runJob(job, { ledger, org }));
        };
        ledger.recordUnsubscribes(
            Array.from({ length: pushN }, (_, i) => ({
                email: `person${i}@example.com`,
                scope: 'all' as const,
                source: 'webhook' as const
            }))
        );
        await run(`push of ${pushN} unsubscribes`, 'push');
        await run('push again', 'push');
        ledger.upsertAudience({ id: 'news', name: 'Newsletter' });
        ledger.upsertAudience({ id: 'offers', name: 'Offers' });
        for (let i = 0; i < 200; i++) {
            const person = ledger.upsertPerson({
                email: `person${n - 1 - i}@example.com`
            }).person;
            ledger.setMembershipStatus({
                personId: person.id,
                audienceId: 'news',
                status: 'Subscribed',
                source: 'import'
            });
            ledger.setMembershipStatus({
                personId: person.id,
                audienceId: 'offers',
                status: i % 4 === 0 ? 'Unsubscribed' : 'Subscribed',
                source: 'import'
            });
        }
        await run('hourly (400 membership changes)', 'hourly');
        await run('hourly again', 'hourly');
        ledger.recordUnsubscribes(
            Array.from({ length: changes }, (_, i) => ({
                email: `person${pushN + i}@example.com`,
                scope: 'all' as const,
                source: 'import' as const
            }))
        );
        // Leave them undelivered to the push: the nightly finds and writes them.
        await run(`nightly (${n + leads} records, ${changes} new)`, 'nightly');
        await run('nightly again', 'nightly');
    } finally {
        clearInterval(sample);
        ledger.close();
        child.kill('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((err: unknown) => {
    process.stderr.write(
        `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`
    );
    process.exitCode = 1;
});
