/**
 * jsforce connections to a local org, without the simulator: this module loads jsforce
 * and nothing of `./server`, so that a process that only talks to an org another
 * process serves (the benchmark's measured job, scripts/tools/bench/worker.ts) loads
 * what a process talking to a real org loads. `./connect` re-exports it beside the
 * state file and the in-process org.
 */
import { Connection } from 'jsforce';

export const LOCAL_ORG_API_VERSION = '66.0';

/**
 * jsforce sends even loopback traffic through http(s)_proxy when set, and reads the
 * variables when it loads: clear them and jsforce's request defaults for this process.
 */
export function clearLoopbackProxies(): void {
    for (const k of ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'])
        delete process.env[k];
    for (const mod of [
        'jsforce/lib/request',
        '@jsforce/jsforce-node/lib/request'
    ]) {
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const req = require(mod) as {
                setDefaults?: (d: Record<string, unknown>) => void;
            };
            req.setDefaults?.({
                httpProxy: undefined,
                timeout: process.env.HTTP_TIMEOUT
                    ? parseInt(process.env.HTTP_TIMEOUT, 10)
                    : undefined,
                followRedirect: true
            });
        } catch {
            // the package is not installed: nothing to reset
        }
    }
}

/** A jsforce connection to a local org (API 66.0, proxies cleared for loopback). */
export function connectionFor(
    target: { instanceUrl: string; accessToken: string },
    version = LOCAL_ORG_API_VERSION
): Connection {
    clearLoopbackProxies();
    return new Connection({
        instanceUrl: target.instanceUrl,
        accessToken: target.accessToken,
        version
    });
}
