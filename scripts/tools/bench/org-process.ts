/**
 * The local org in a process of its own, so that the benchmark measures the sync's
 * memory and the org's separately: `node bin/run-ts scripts/tools/bench/org-process.ts`
 * started by org-handle.ts with an IPC channel. It serves the org on a free port
 * (options from the `BENCH_ORG` environment variable, JSON), sends
 * `{ type: 'ready', instanceUrl, accessToken }`, answers `{ type: 'memory' }` with its
 * peak resident memory (kernel maxRSS, and the peak of a 25 ms sampler since the last
 * `{ type: 'reset-peak' }`) and stops on `{ type: 'stop' }`, closing the database
 * cleanly so that the file can be copied.
 */
import { startLocalOrg, type LocalOrgOptions } from '../local-org/server';

export interface OrgProcessOptions {
    dbPath: string;
    latencyMs?: number;
    apiLimit?: number;
}

export type OrgRequest =
    { type: 'memory' } | { type: 'reset-peak' } | { type: 'stop' };

export type OrgReply =
    | { type: 'ready'; instanceUrl: string; accessToken: string; pid: number }
    | { type: 'memory'; maxRssBytes: number; sampledPeakBytes: number }
    | { type: 'stopped' }
    | { type: 'error'; message: string };

function send(message: OrgReply): void {
    process.send?.(message);
}

async function main(): Promise<void> {
    const options = JSON.parse(
        process.env.BENCH_ORG ?? '{}'
    ) as OrgProcessOptions;
    const orgOptions: LocalOrgOptions = {
        port: 0,
        dbPath: options.dbPath,
        apiLimit: options.apiLimit ?? 100_000_000,
        ...(options.latencyMs ? { latencyMs: options.latencyMs } : {})
    };
    const org = await startLocalOrg(orgOptions);
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
        clearInterval(sampler);
        stopping ??= org.close();
        return stopping;
    };
    process.on('message', (m: OrgRequest) => {
        if (m.type === 'memory')
            send({
                type: 'memory',
                maxRssBytes: process.resourceUsage().maxRSS * 1024,
                sampledPeakBytes: Math.max(peak, process.memoryUsage().rss)
            });
        else if (m.type === 'reset-peak') peak = process.memoryUsage().rss;
        else if (m.type === 'stop')
            void stop().then(() => {
                send({ type: 'stopped' });
                process.disconnect?.();
            });
    });
    // The parent went away: do not outlive it.
    process.on('disconnect', () => {
        void stop().finally(() => process.exit(0));
    });
    send({
        type: 'ready',
        instanceUrl: org.instanceUrl,
        accessToken: org.accessToken,
        pid: process.pid
    });
}

main().catch((err: unknown) => {
    send({
        type: 'error',
        message: err instanceof Error ? (err.stack ?? err.message) : String(err)
    });
    process.exitCode = 1;
});
