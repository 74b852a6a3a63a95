/**
 * Measures the local org at volume: Bulk API 2.0 ingest of N Contacts and N Leads
 * (streamed CSV), Bulk query of everything back (50,000-row pages), REST query paging
 * (2,000-row pages) and peak memory.
 *
 *   node bin/run-ts scripts/tools/local-org/bench.ts [--rows 1000000] [--db file|:memory:]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startLocalOrg } from './server';

function arg(name: string, fallback: string): string {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

let peakRss = 0;
const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

function mb(n: number): string {
    return `${(n / 1024 / 1024).toFixed(0)} MB`;
}

function csvRows(type: 'Contact' | 'Lead', n: number): Readable {
    let i = 0;
    const header =
        type === 'Lead'
            ? 'FirstName,LastName,Email,Company,HasOptedOutOfEmail\n'
            : 'FirstName,LastName,Email,HasOptedOutOfEmail\n';
    let sentHeader = false;
    return new Readable({
        read() {
            if (!sentHeader) {
                sentHeader = true;
                this.push(header);
            }
            let chunk = '';
            for (let k = 0; k < 5000 && i < n; k++, i++) {
                chunk +=
                    type === 'Lead'
                        ? `First${i},Last${i},lead${i}@bench.test,Company ${i % 1000},${i % 10 === 0}\n`
                        : `First${i},Last${i},contact${i}@bench.test,${i % 10 === 0}\n`;
            }
            this.push(chunk || null);
            if (i >= n && chunk) this.push(null);
        }
    });
}

async function main(): Promise<void> {
    const rows = Number(arg('rows', '1000000'));
    const dir = mkdtempSync(join(tmpdir(), 'local-org-bench-'));
    const dbArg = arg('db', join(dir, 'bench.db'));
    // --url/--token measure an org running in another process (its memory alone).
    const external = process.argv.includes('--url')
        ? {
              instanceUrl: arg('url', ''),
              accessToken: arg('token', ''),
              close: async () => undefined
          }
        : undefined;
    const org =
        external ??
        (await startLocalOrg({ dbPath: dbArg, apiLimit: 1_000_000 }));
    const base = `${org.instanceUrl}/services/data/v66.0`;
    const headers = { Authorization: `Bearer ${org.accessToken}` };
    const json = async (
        method: string,
        path: string,
        body?: unknown
    ): Promise<Record<string, unknown>> => {
        const res = await fetch(`${base}${path}`, {
            method,
            headers: { ...headers, 'Content-Type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body)
        });
        return (await res.json()) as Record<string, unknown>;
    };
    const report: Record<string, string> = { rows: String(rows), db: dbArg };
    try {
        for (const type of ['Contact', 'Lead'] as const) {
            const t0 = Date.now();
            const job = await json('POST', '/jobs/ingest', {
                object: type,
                operation: 'insert'
            });
            const up = await fetch(
                `${base}/jobs/ingest/${String(job.id)}/batches`,
                {
                    method: 'PUT',
                    headers: { ...headers, 'Content-Type': 'text/csv' },
                    body: Readable.toWeb(csvRows(type, rows)) as ReadableStream,
                    duplex: 'half'
                } as RequestInit
            );
            if (up.status !== 201)
                throw new Error(`upload: ${up.status} ${await up.text()}`);
            const uploaded = Date.now();
            await json('PATCH', `/jobs/ingest/${String(job.id)}`, {
                state: 'UploadComplete'
            });
            let info: Record<string, unknown>;
            let maxStatusMs = 0;
            for (;;) {
                const s = Date.now();
                info = await json('GET', `/jobs/ingest/${String(job.id)}`);
                maxStatusMs = Math.max(maxStatusMs, Date.now() - s);
                if (info.state === 'JobComplete' || info.state === 'Failed')
                    break;
                await new Promise((r) => setTimeout(r, 100));
            }
            const done = Date.now();
            report[`${type} ingest`] =
                `${((done - t0) / 1000).toFixed(1)} s total (upload ${((uploaded - t0) / 1000).toFixed(1)} s), ${info.numberRecordsProcessed} processed, ${info.numberRecordsFailed} failed, ${Math.round((rows / (done - t0)) * 1000)} rows/s; slowest status call while processing ${maxStatusMs} ms`;
        }
        // Bulk query of all Contacts back, default page size.
        {
            const t0 = Date.now();
            const job = await json('POST', '/jobs/query', {
                operation: 'query',
                query: 'SELECT Id, Email, HasOptedOutOfEmail, SystemModstamp FROM Contact'
            });
            for (;;) {
                const info = await json('GET', `/jobs/query/${String(job.id)}`);
                if (info.state === 'JobComplete') break;
                await new Promise((r) => setTimeout(r, 50));
            }
            const ready = Date.now();
            let locator = '';
            let total = 0;
            let pages = 0;
            do {
                const res = await fetch(
                    `${base}/jobs/query/${String(job.id)}/results${locator ? `?locator=${locator}` : ''}`,
                    { headers }
                );
                const text = await res.text();
                total += Number(res.headers.get('sforce-numberofrecords'));
                locator = res.headers.get('sforce-locator') ?? 'null';
                pages++;
                void text;
            } while (locator !== 'null');
            const done = Date.now();
            report['Bulk query (Contacts)'] =
                `${((done - t0) / 1000).toFixed(1)} s (job ${((ready - t0) / 1000).toFixed(1)} s), ${total} rows in ${pages} pages, ${Math.round((total / (done - t0)) * 1000)} rows/s`;
        }
        // REST query paging over all Leads.
        {
            const t0 = Date.now();
            let page = await json(
                'GET',
                `/query?q=${encodeURIComponent('SELECT Id, Email, HasOptedOutOfEmail FROM Lead')}`
            );
            let total = (page.records as unknown[]).length;
            let requests = 1;
            while (page.done === false) {
                const res = await fetch(
                    `${org.instanceUrl}${String(page.nextRecordsUrl)}`,
                    { headers }
                );
                page = (await res.json()) as Record<string, unknown>;
                total += (page.records as unknown[]).length;
                requests++;
            }
            const done = Date.now();
            report['REST query paging (Leads)'] =
                `${((done - t0) / 1000).toFixed(1)} s, ${total} rows in ${requests} requests, ${Math.round((total / (done - t0)) * 1000)} rows/s`;
        }
        // Selective queries on the indexed columns.
        {
            const t0 = Date.now();
            const n = 200;
            for (let i = 0; i < n; i++) {
                const k = Math.floor(Math.random() * rows);
                await json(
                    'GET',
                    `/query?q=${encodeURIComponent(`SELECT Id FROM Contact WHERE Email = 'CONTACT${k}@bench.test'`)}`
                );
            }
            report['Email lookups (case-insensitive, indexed)'] =
                `${(((Date.now() - t0) / n) * 1000).toFixed(0)} µs per query over HTTP`;
        }
        report[
            external
                ? 'peak RSS (client process)'
                : 'peak RSS (server + client, one process)'
        ] = mb(peakRss);
    } finally {
        clearInterval(sampler);
        await org.close();
        rmSync(dir, { recursive: true, force: true });
    }
    for (const [k, v] of Object.entries(report))
        process.stdout.write(`${k}: ${v}\n`);
}

void main().catch((err: unknown) => {
    process.stderr.write(
        `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`
    );
    process.exitCode = 1;
});
