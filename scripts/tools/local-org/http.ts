/**
 * Small HTTP plumbing shared by the local org's handlers: the request context, the
 * reply shape handlers return (so the server can add headers, count, or drop the
 * connection after processing), and body reading.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors';
import type { Access } from './sharing';

export const JSON_TYPE = 'application/json;charset=UTF-8';

export interface Reply {
    status: number;
    headers?: Record<string, string>;
    /** Serialised as JSON with Salesforce's content type. */
    json?: unknown;
    /** A text body with its own content type. */
    text?: string;
    contentType?: string;
    /** Writes the body itself (large CSV); headers are sent before it runs. */
    stream?: (res: ServerResponse) => Promise<void>;
}

export interface RequestContext {
    req: IncomingMessage;
    method: string;
    url: URL;
    /** Path segments after /services/data/vNN.N/ (or the full path for other routes). */
    segments: string[];
    apiVersion: string;
    /**
     * The session's user (set once the bearer token is checked); its record access
     * travels with the request's async context too (sharing.ts runAs/currentActor).
     */
    userId?: string;
    access?: Access;
}

export function jsonReply(status: number, body: unknown): Reply {
    return { status, json: body };
}

export function errorReply(err: ApiError): Reply {
    return { status: err.status, json: err.body() };
}

/** Reads the whole request body (bounded). */
export async function readBody(
    req: IncomingMessage,
    limit: number
): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > limit) {
            throw new ApiError(
                413,
                'REQUEST_ENTITY_TOO_LARGE',
                `The request body exceeds the limit of ${limit} bytes`
            );
        }
        chunks.push(buf);
    }
    return Buffer.concat(chunks);
}

/** Reads and parses a JSON body; a parse failure answers JSON_PARSER_ERROR as Salesforce does. */
export async function readJson(
    req: IncomingMessage,
    limit = 50 * 1024 * 1024
): Promise<unknown> {
    const buf = await readBody(req, limit);
    const text = buf.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
        return JSON.parse(text) as unknown;
    } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new ApiError(
            400,
            'JSON_PARSER_ERROR',
            `Unexpected character in JSON body: ${message} at [line:1, column:1]`
        );
    }
}

/** Writes a chunk and waits for the socket to drain when its buffer is full. */
export async function writeChunk(
    res: ServerResponse,
    chunk: string | Buffer
): Promise<void> {
    if (res.destroyed) throw new Error('connection closed');
    if (!res.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
            const onDrain = (): void => {
                cleanup();
                resolve();
            };
            const onClose = (): void => {
                cleanup();
                reject(new Error('connection closed'));
            };
            const cleanup = (): void => {
                res.off('drain', onDrain);
                res.off('close', onClose);
            };
            res.on('drain', onDrain);
            res.on('close', onClose);
        });
    }
}

/** Yields to the event loop (lets other requests run between chunks of work). */
export function yieldToLoop(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
}
