/**
 * The parent's side of org-process.ts: start a local org in its own process on a
 * database file, read its peak memory, stop it cleanly.
 */
import { Child } from './child';
import type { OrgProcessOptions, OrgReply } from './org-process';

export interface OrgMemory {
    /** Kernel peak resident set of the org process over its life (bytes). */
    maxRssBytes: number;
    /** Peak of the 25 ms sampler since the last reset (bytes). */
    sampledPeakBytes: number;
}

export class OrgHandle {
    private constructor(
        private readonly child: Child<OrgReply>,
        readonly instanceUrl: string,
        readonly accessToken: string
    ) {}

    static async start(options: OrgProcessOptions): Promise<OrgHandle> {
        const child = new Child<OrgReply>(
            'org-process.ts',
            'BENCH_ORG',
            options
        );
        try {
            const ready =
                await child.next<Extract<OrgReply, { type: 'ready' }>>('ready');
            return new OrgHandle(child, ready.instanceUrl, ready.accessToken);
        } catch (err) {
            child.kill();
            throw err;
        }
    }

    get pid(): number | undefined {
        return this.child.pid;
    }

    async memory(): Promise<OrgMemory> {
        this.child.send({ type: 'memory' });
        const m =
            await this.child.next<Extract<OrgReply, { type: 'memory' }>>(
                'memory'
            );
        return {
            maxRssBytes: m.maxRssBytes,
            sampledPeakBytes: m.sampledPeakBytes
        };
    }

    resetPeak(): void {
        this.child.send({ type: 'reset-peak' });
    }

    /** Closes the org's database (so that the file can be copied) and ends the process. */
    async stop(): Promise<void> {
        this.child.send({ type: 'stop' });
        await this.child.next('stopped');
        await this.child.exited();
    }

    kill(): void {
        this.child.kill();
    }
}
