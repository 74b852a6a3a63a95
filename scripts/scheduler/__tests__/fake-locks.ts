/**
 * An in-memory stand-in for the ledger's named locks, with the ledger's takeover rules:
 * a holder marked dead (its process is gone) is taken over at once, a holder whose
 * heartbeat is older than `staleAfterMs` by the injected clock is taken over as stale.
 * Each scheduler gets its own functions (its own holder id), and each can be frozen
 * (its calls wait, as a process stopped or cut off) or killed (its calls fail).
 */
import type { LockFunctions } from '../leader';

interface Row {
    holder: string;
    heartbeatAt: number;
}

export class FakeLocks {
    readonly rows = new Map<string, Row>();
    private readonly dead = new Set<string>();
    private readonly frozen = new Map<string, Promise<void>>();
    private readonly thaw = new Map<string, () => void>();
    /** Every call, for assertions: "acquire A", "heartbeat B", … */
    readonly calls: string[] = [];

    constructor(
        private readonly clock: () => number,
        private readonly staleAfterMs: number
    ) {}

    holderOf(name: string): string | undefined {
        return this.rows.get(name)?.holder;
    }

    /** The holder's process is gone: its lock may be taken over, its calls fail. */
    kill(holder: string): void {
        this.dead.add(holder);
    }

    /** The holder's calls wait until `unfreeze` (a process stopped, a partition). */
    freeze(holder: string): void {
        this.frozen.set(
            holder,
            new Promise((resolve) => this.thaw.set(holder, resolve))
        );
    }

    unfreeze(holder: string): void {
        this.thaw.get(holder)?.();
        this.frozen.delete(holder);
        this.thaw.delete(holder);
    }

    private async enter(call: string, holder: string): Promise<void> {
        this.calls.push(`${call} ${holder}`);
        await this.frozen.get(holder);
        if (this.dead.has(holder))
            throw new Error(`${holder} is dead and makes no calls`);
    }

    functionsFor(holder: string): LockFunctions {
        return {
            acquire: async (name) => {
                await this.enter('acquire', holder);
                const now = this.clock();
                const row = this.rows.get(name);
                let takenOverFrom: string | undefined;
                if (row && row.holder !== holder) {
                    const takeover =
                        this.dead.has(row.holder) ||
                        now - row.heartbeatAt > this.staleAfterMs;
                    if (!takeover)
                        return { acquired: false, holder: row.holder };
                    takenOverFrom = row.holder;
                }
                this.rows.set(name, { holder, heartbeatAt: now });
                return takenOverFrom
                    ? { acquired: true, holder, takenOverFrom }
                    : { acquired: true, holder };
            },
            heartbeat: async (name, h) => {
                await this.enter('heartbeat', h);
                const row = this.rows.get(name);
                if (row?.holder !== h) return false;
                row.heartbeatAt = this.clock();
                return true;
            },
            release: async (name, h) => {
                await this.enter('release', h);
                if (this.rows.get(name)?.holder === h) this.rows.delete(name);
            }
        };
    }
}
