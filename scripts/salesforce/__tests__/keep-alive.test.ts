/**
 * A request after the event loop was blocked for longer than the server's keep-alive
 * timeout (the jobs' SQL over a million rows does that) must not go out on the socket
 * the server closed meanwhile: no ECONNRESET, no retry.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { connectionFor } from '../../tools/local-org/connect';
import { OrgClient, type RequestingConnection } from '../client';

// A server in another process, so that it closes idle sockets while this one is blocked.
const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
        res.setHeader('Content-Type', 'application/json');
        res.end('{"totalSize":0,"done":true,"records":[]}');
    });
});
// Sent as Keep-Alive: timeout=2; the client keeps an idle socket for 1 s.
server.keepAliveTimeout = 2000;
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

describe('OrgClient after a blocked event loop', () => {
    let server: ChildProcess;
    let port: number;

    beforeAll(async () => {
        server = fork('-e', [SERVER], { execArgv: ['-e', SERVER] });
        port = await new Promise<number>((resolve) =>
            server.once('message', (p) => resolve(p as number))
        );
    });

    afterAll(() => {
        server.kill();
    });

    it('does not reuse a keep-alive socket the server closed meanwhile', async () => {
        const conn = connectionFor({
            instanceUrl: `http://127.0.0.1:${port}`,
            accessToken: 'token'
        }) as unknown as RequestingConnection;
        const client = new OrgClient(conn, {
            targetOrg: 'test',
            sleep: () => Promise.resolve()
        });
        await client.request({
            method: 'POST',
            path: '/jobs/ingest',
            body: {}
        });
        // Busy for well past the server's keep-alive (as set-based SQL is; the agent's
        // own expiry timer cannot fire either).
        const until = Date.now() + 4500;
        while (Date.now() < until);
        await client.request({
            method: 'POST',
            path: '/jobs/ingest',
            body: {}
        });
        expect(client.retried.requests).toBe(0);
        expect(client.apiRequests).toBe(2);
    });
});
