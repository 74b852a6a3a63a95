/**
 * The ledger's named cross-process locks (table `locks`): taken in a write transaction
 * so that two processes cannot both win, kept by a heartbeat, taken over from a dead or
 * silent holder (locks.ts decides which), released by their holder.
 */
import type { LedgerContext } from './context';
import { lockHolderId, lockTakeoverReason } from './locks';
import { LOCK_COLS } from './sql-columns';
import type { LockInfo, LockResult } from './types';

export interface AcquireLockOptions {
    /** Defaults to a fresh id for this process (see `lockHolderId`). */
    holder?: string;
    /** A holder whose heartbeat is older than this may be taken over; default 120 s. */
    staleAfterMs?: number;
    pid?: number;
}

export async function getLock(
    ctx: LedgerContext,
    name: string
): Promise<LockInfo | undefined> {
    return (await ctx
        .stmt(`SELECT ${LOCK_COLS} FROM locks WHERE name = ?`)
        .get(name)) as LockInfo | undefined;
}

export async function acquireLock(
    ctx: LedgerContext,
    name: string,
    options: AcquireLockOptions = {}
): Promise<LockResult> {
    const holder = options.holder ?? lockHolderId();
    const pid = options.pid ?? process.pid;
    const staleAfterMs = options.staleAfterMs ?? 120_000;
    return ctx.transaction(async (): Promise<LockResult> => {
        const now = ctx.now();
        const at = now.toISOString();
        const existing = await getLock(ctx, name);
        let takenOver: { from: LockInfo; why: 'dead' | 'stale' } | undefined;
        if (existing && existing.holder !== holder) {
            const why = lockTakeoverReason(existing, now, staleAfterMs);
            if (!why) return { acquired: false, heldBy: existing };
            takenOver = { from: existing, why };
        }
        const acquiredAt =
            existing && existing.holder === holder ? existing.acquiredAt : at;
        await ctx
            .stmt(
                `INSERT INTO locks (name, holder, pid, acquired_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
                         acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at`
            )
            .run(name, holder, pid, acquiredAt, at);
        const lock = { name, holder, pid, acquiredAt, heartbeatAt: at };
        return takenOver
            ? { acquired: true, lock, takenOver }
            : { acquired: true, lock };
    });
}

export async function heartbeatLock(
    ctx: LedgerContext,
    name: string,
    holder: string
): Promise<boolean> {
    const { changes } = await ctx
        .stmt('UPDATE locks SET heartbeat_at = ? WHERE name = ? AND holder = ?')
        .run(ctx.nowIso(), name, holder);
    return changes === 1;
}

export async function releaseLock(
    ctx: LedgerContext,
    name: string,
    holder: string
): Promise<boolean> {
    const { changes } = await ctx
        .stmt('DELETE FROM locks WHERE name = ? AND holder = ?')
        .run(name, holder);
    return changes === 1;
}
