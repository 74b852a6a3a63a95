/**
 * Who holds a cross-process lock, and whether that holder is still alive. A holder id
 * is `<host>:<pid>:<random>`, so a lock left by a dead process on this host can be
 * taken over at once; a holder on another host is judged only by its heartbeat.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LockInfo } from './types';

/** A fresh holder id for this process. */
export function lockHolderId(pid = process.pid): string {
    return `${hostname()}:${pid}:${randomUUID().slice(0, 8)}`;
}

/** Whether a process with this pid exists on this host. */
export function pidAlive(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        // EPERM: it exists but belongs to someone else.
        return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
}

/** Why a held lock may be taken over, or null when its holder is alive and fresh. */
export function lockTakeoverReason(
    lock: LockInfo,
    now: Date,
    staleAfterMs: number
): 'dead' | 'stale' | null {
    const host = lock.holder.split(':')[0];
    if (host === hostname() && !pidAlive(lock.pid)) return 'dead';
    const beat = Date.parse(lock.heartbeatAt);
    if (Number.isNaN(beat) || now.getTime() - beat > staleAfterMs)
        return 'stale';
    return null;
}
