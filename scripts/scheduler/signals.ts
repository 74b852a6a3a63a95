/**
 * Graceful shutdown for the long-running commands: the first SIGINT/SIGTERM resolves
 * (stop accepting, finish what is in flight); a second one calls `onForce` (stop now —
 * runs end deferred, nothing is lost, R11).
 */
export function waitForStopSignal(
    onForce: () => void,
    signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']
): { stopped: Promise<NodeJS.Signals>; dispose: () => void } {
    let count = 0;
    let resolveStop: (s: NodeJS.Signals) => void = () => undefined;
    const stopped = new Promise<NodeJS.Signals>((r) => {
        resolveStop = r;
    });
    const handler = (signal: NodeJS.Signals): void => {
        count += 1;
        if (count === 1) resolveStop(signal);
        else onForce();
    };
    for (const s of signals) process.on(s, handler);
    return {
        stopped,
        dispose: () => {
            for (const s of signals) process.off(s, handler);
        }
    };
}
