/**
 * Reads a batch's result archive: Mailchimp's `response_body_url` is a .tar.gz of JSON
 * files, each an array of {status_code, operation_id, response}
 * (https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/).
 * A minimal ustar reader: regular files only, which is all the archive holds.
 */
import { gunzipSync } from 'node:zlib';

export interface TarFile {
    name: string;
    content: Buffer;
}

export function readTarGz(data: Buffer): TarFile[] {
    const tar = gunzipSync(data);
    const files: TarFile[] = [];
    let pos = 0;
    while (pos + 512 <= tar.length) {
        const header = tar.subarray(pos, pos + 512);
        if (header.every((b) => b === 0)) break;
        const text = (start: number, len: number): string =>
            header
                .subarray(start, start + len)
                .toString('utf8')
                .replace(/\0.*$/s, '');
        const size = parseInt(text(124, 12).trim() || '0', 8);
        const type = text(156, 1);
        const prefix = text(345, 155);
        const name = (prefix ? `${prefix}/` : '') + text(0, 100);
        pos += 512;
        if (type === '0' || type === '')
            files.push({ name, content: tar.subarray(pos, pos + size) });
        pos += Math.ceil(size / 512) * 512;
    }
    return files;
}

export interface BatchResult {
    status_code: number;
    operation_id: string | null;
    response: string;
}

/** Every operation result of the archive's JSON files. */
export function batchResults(data: Buffer): BatchResult[] {
    return readTarGz(data)
        .filter((f) => f.name.endsWith('.json'))
        .flatMap(
            (f) => JSON.parse(f.content.toString('utf8')) as BatchResult[]
        );
}
