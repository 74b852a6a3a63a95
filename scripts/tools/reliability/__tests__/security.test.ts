/**
 * Bad input and secrets, end to end (the unit tests of scripts/webhook, scripts/ledger,
 * scripts/cli and scripts/model cover each entry point's own refusals):
 *
 * - emails with quotes and SOQL metacharacters, accepted by the webhook, reach exactly
 *   their own records in the local org through the jobs' queries — no SOQL injection;
 * - Salesforce ids that are wrong (length, checksum, prefix, SOQL text) are refused by
 *   the webhook and the CLI with a clear error, and nothing is stored;
 * - the org's access token never appears in the CLI's output (JSON, debug logs), even
 *   when runs fail, nor in the ledger file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cli as runCli } from '../../../cli/__tests__/run-cli';
import { Ledger } from '../../../ledger/ledger';
import { connectionFor } from '../../local-org/connect';
import { makeId } from '../../../model/ids';
import {
    OrgClient,
    type RequestingConnection
} from '../../../salesforce/client';
import { runJob } from '../../../sync/run';
import { startWebhookServer } from '../../../webhook/server';
import { deliveryCheck, falseWrites, readPeople } from '../checks';
import { World } from '../world';

const SECRET = 'security-test-secret-0123456789';

let world: World;
afterEach(async () => {
    await world?.close();
});

/** POSTs JSON unsubscribes to a webhook on the world's ledger. */
async function postUnsubscribes(
    body: unknown
): Promise<{ status: number; body: Record<string, unknown> }> {
    const server = await startWebhookServer({
        ledger: world.ledger,
        secret: SECRET,
        port: 0,
        onUnsubscribes: () => undefined,
        log: () => undefined
    });
    try {
        const res = await fetch(`${server.url}/unsubscribes`, {
            method: 'POST',
            headers: {
                'Content-Type': 'application/json',
                Authorization: `Bearer ${SECRET}`
            },
            body: JSON.stringify(body)
        });
        return {
            status: res.status,
            body: (await res.json()) as Record<string, unknown>
        };
    } finally {
        await server.close();
    }
}

async function ledgerCounts(): Promise<Record<string, number>> {
    const { persons, unsubscribes, audit } = await world.ledger.rowCounts();
    return {
        persons,
        unsubscribes,
        audit
    };
}

describe('emails with quotes and SOQL metacharacters', () => {
    // Valid addresses (RFC 5322 allows ' = % _ ! in the local part), each one a
    // would-be injection if quoted naively: `Email IN ('x'OR'x'='x@…')`.
    const TRICKY = [
        "o'brien@example.com",
        "x'OR'x'='x@example.com",
        "a'or'1'='1'or'b@example.com",
        '50%_off!@example.com'
    ];

    it('reach exactly their own records through the jobs’ queries; nobody else is opted out', async () => {
        world = await World.create();
        await world.settings({
            nightlySyncEnabled: true,
            optOutField: 'HasOptedOutOfEmail',
            applyToSameEmail: true
        });
        await world.seed(
            'Contact',
            [...TRICKY.slice(0, 3), 'victim@example.com', 'x@example.com'].map(
                (email, i) => ({ LastName: `C${i}`, Email: email })
            )
        );
        await world.seed('Lead', [
            { LastName: 'L', Company: 'Acme', Email: TRICKY[3] },
            // A near miss of a LIKE pattern: must stay untouched.
            { LastName: 'M', Company: 'Acme', Email: '50xyoff!@example.com' }
        ]);
        const accepted = await postUnsubscribes(
            TRICKY.map((email) => ({ email }))
        );
        expect(accepted.status).toBe(200);
        for (const job of ['push', 'hourly', 'nightly'] as const) {
            const { result, error } = await world.run(job);
            expect(error).toBeUndefined();
            expect(result.status).toBe('succeeded');
        }
        const { contacts, leads } = await readPeople(world);
        const optedOut = [...contacts, ...leads]
            .filter((r) => r.HasOptedOutOfEmail)
            .map((r) => r.Email)
            .sort();
        expect(optedOut).toEqual([...TRICKY].sort());
        const delivery = await deliveryCheck(world, {
            field: 'HasOptedOutOfEmail',
            applyToSameEmail: true
        });
        expect(delivery.undelivered).toEqual([]);
        expect(delivery.unconfirmed).toEqual([]);
        expect(delivery.delivered).toBe(TRICKY.length);
        expect(falseWrites(world.sent)).toEqual([]);
        // The queries that named these persons quoted them (\' inside the literal):
        // GET …/query?q=, or a query subrequest of a Composite request.
        const urls = world.sent.flatMap((r) => {
            if (r.method === 'GET') return [r.url];
            if (!/\/composite$/.test(r.url) || typeof r.body !== 'string')
                return [];
            const body = JSON.parse(r.body) as {
                compositeRequest?: { method: string; url: string }[];
            };
            return (body.compositeRequest ?? [])
                .filter((sub) => sub.method === 'GET')
                .map((sub) => sub.url);
        });
        const soql = urls
            .filter((url) => /[?&]q=/.test(url))
            .map((url) => decodeURIComponent(url.split(/[?&]q=/)[1]));
        const named = soql.filter((q) => q.includes('brien'));
        expect(named.length).toBeGreaterThan(0);
        for (const q of named) {
            expect(q).toContain("'o\\'brien@example.com'");
            expect(q).toContain("'x\\'or\\'x\\'=\\'x@example.com'");
        }
    });
});

describe('Salesforce ids that are wrong: a clear error, nothing stored', () => {
    const contact = makeId('003', 7);
    const cases: [string, string, RegExp][] = [
        ['too short', contact.slice(0, 12), /12 characters; expected 15 or 18/],
        ['too long', `${contact}A`, /19 characters; expected 15 or 18/],
        [
            'a bad checksum',
            `${contact.slice(0, 15)}${contact.slice(15) === 'AAA' ? 'AAB' : 'AAA'}`,
            /bad checksum/
        ],
        ['an Account prefix', makeId('001', 7), /neither a Contact/],
        ['SOQL text', "003' OR Id != '", /letters and digits/]
    ];

    beforeEach(async () => {
        world = await World.create({ memoryLedger: true });
    });

    it.each(cases)(
        'the webhook refuses %s (400) and stores nothing',
        async (_what, id, message) => {
            const before = await ledgerCounts();
            const r = await postUnsubscribes([
                { email: 'ok@example.com' },
                { email: 'who@example.com', salesforceId: id }
            ]);
            expect(r.status).toBe(400);
            expect(r.body).toMatchObject({ code: 'INVALID_UNSUBSCRIBE' });
            expect(JSON.stringify(r.body.errors)).toMatch(message);
            expect(await ledgerCounts()).toEqual(before);
        }
    );

    it.each(cases)(
        'optout unsubscribe refuses %s (exit 1) and stores nothing',
        async (_what, id, message) => {
            const ledger = `${world.dir}/cli-ledger.db`;
            const r = await runCli(
                '--json',
                'unsubscribe',
                '--email',
                'who@example.com',
                '--salesforce-id',
                id,
                '--ledger',
                ledger
            );
            expect(r.code).toBe(1);
            expect(r.json).toMatchObject({ name: 'BAD_SALESFORCE_ID' });
            expect(String(r.json.message)).toMatch(message);
            // No ledger file, or one with nobody in it.
            const stored = existsSync(ledger)
                ? await (async () => {
                      const l = await Ledger.open(ledger);
                      try {
                          return (
                              (await l.findPerson('who@example.com')) ?? null
                          );
                      } finally {
                          await l.close();
                      }
                  })()
                : null;
            expect(stored).toBeNull();
        }
    );
});

describe('tokens and secrets', () => {
    const cwd = process.cwd();
    afterEach(() => process.chdir(cwd));

    it('the org’s access token is never in the CLI’s JSON, its debug logs or the ledger, even when requests fail', async () => {
        world = await World.create();
        await world.settings({ nightlySyncEnabled: true });
        await world.seed('Contact', [
            { LastName: 'Ana', Email: 'ana@example.com' }
        ]);
        world.writeLocalOrgState();
        process.chdir(world.dir);
        const token = world.t.accessToken;
        expect(token.length).toBeGreaterThan(10);
        const outputs: string[] = [];
        const run = async (...args: string[]): Promise<number> => {
            const r = await runCli('--json', '--log-level', 'debug', ...args);
            outputs.push(r.stdout, r.stderr);
            return r.code;
        };
        const ledger = ['--ledger', world.ledgerPath];
        const org = ['--target-org', 'local'];
        // An unsubscribe pushed at once, through two refused requests (retried).
        world.admin.setFaults('503:next=2');
        expect(
            await run(
                'unsubscribe',
                '--email',
                'ana@example.com',
                ...org,
                ...ledger
            )
        ).toBe(0);
        world.admin.clearFaults();
        // The three jobs, one of them refused by the org's daily limit.
        expect(await run('sync', 'push', ...org, ...ledger)).toBe(0);
        world.admin.setUsage(world.admin.stats().apiLimit);
        await run('sync', 'hourly', ...org, ...ledger);
        world.admin.resetUsage();
        expect(await run('sync', 'nightly', ...org, ...ledger)).toBe(0);
        expect(await run('status', ...ledger)).toBe(0);
        expect(
            await run('history', '--email', 'ana@example.com', ...ledger)
        ).toBe(0);
        const all = outputs.join('\n');
        // The runs really logged their requests, the retries and the refusal.
        expect(all).toMatch(/retry 1/);
        expect(all).toMatch(/REQUEST_LIMIT_EXCEEDED|daily API request limit/);
        expect(all).not.toContain(token);
        await world.ledger.close();
        const file = readFileSync(world.ledgerPath);
        await world.reopenLedger();
        expect(file.includes(Buffer.from(token))).toBe(false);
    });

    it('a token the org refuses (401) fails the run clearly, echoed nowhere', async () => {
        world = await World.create({ memoryLedger: true });
        await world.ledger.recordUnsubscribe({
            email: 'ana@example.com',
            scope: 'all',
            source: 'webhook'
        });
        const wrong = 'wrong-token-00000000000000000000';
        const logs: string[] = [];
        const org = new OrgClient(
            connectionFor({
                instanceUrl: world.t.instanceUrl,
                accessToken: wrong
            }) as unknown as RequestingConnection,
            {
                targetOrg: 'local',
                local: true,
                sleep: async () => undefined,
                log: (level, message) => logs.push(`${level} ${message}`)
            }
        );
        let result: unknown;
        try {
            result = await runJob('push', { ledger: world.ledger, org });
        } catch (err) {
            result = { thrown: String(err), ...(err as object) };
        }
        const text = `${JSON.stringify(result)}\n${logs.join('\n')}`;
        expect(text).toMatch(/INVALID_SESSION_ID|Session expired or invalid/);
        expect(text).not.toContain(wrong);
        expect(text).not.toContain(world.t.accessToken);
        expect(await world.ledger.countUndelivered()).toBe(1);
    });
});
