/**
 * A byte-level pass in front of the CSV parser: refuses files that are not UTF-8
 * (UTF-16/UTF-32 byte order marks, NUL bytes, invalid UTF-8 sequences — the usual
 * result of saving from Excel as "CSV" in a legacy code page) with the line of the
 * first bad byte, and turns CRLF / CR line ends into LF so that line numbers reported
 * by the parser are exact. A UTF-8 byte order mark passes through (the parser drops it).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { OptoutError } from '../model/errors';

const SAVE_AS_UTF8 =
    'Save the file as "CSV UTF-8" (Excel: File → Save As → CSV UTF-8) and import it again';

function encodingError(message: string): OptoutError {
    return new OptoutError('BAD_ENCODING', message, {
        actions: [SAVE_AS_UTF8]
    });
}

/** The encoding a byte order mark announces, if it is not UTF-8. */
export function foreignBom(head: Buffer): string | null {
    if (head.length >= 4 && head.readUInt32BE(0) === 0x0000feff)
        return 'UTF-32 (big-endian)';
    if (head.length >= 4 && head.readUInt32BE(0) === 0xfffe0000)
        return 'UTF-32 (little-endian)';
    if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff)
        return 'UTF-16 (big-endian)';
    if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe)
        return 'UTF-16 (little-endian)';
    return null;
}

export class Utf8LineStream extends Transform {
    /** 1-based line of the byte being examined. */
    private line = 1;
    /** Continuation bytes still expected, and the allowed range of the next one. */
    private need = 0;
    private lo = 0x80;
    private hi = 0xbf;
    /** The first byte of the character being read. */
    private lead = 0;
    private first = true;
    private pendingCr = false;
    private head = Buffer.alloc(0);

    override _transform(
        chunk: Buffer,
        _enc: BufferEncoding,
        done: TransformCallback
    ): void {
        try {
            if (this.first) {
                // Wait for four bytes to recognise a byte order mark.
                this.head = Buffer.concat([this.head, chunk]);
                if (this.head.length < 4) return done();
                chunk = this.head;
                this.first = false;
                this.checkBom(chunk);
            }
            this.push(this.scan(chunk));
            done();
        } catch (err) {
            done(err as Error);
        }
    }

    override _flush(done: TransformCallback): void {
        try {
            if (this.first && this.head.length > 0) {
                this.first = false;
                this.checkBom(this.head);
                this.push(this.scan(this.head));
            }
            if (this.need > 0)
                throw encodingError(
                    `The file is not valid UTF-8: it ends in the middle of a character (line ${this.line}).`
                );
            if (this.pendingCr) this.push(Buffer.from('\n'));
            done();
        } catch (err) {
            done(err as Error);
        }
    }

    private checkBom(head: Buffer): void {
        const bom = foreignBom(head);
        if (bom)
            throw encodingError(
                `The file is encoded as ${bom}; optout reads UTF-8 only.`
            );
    }

    /** Validates UTF-8 and rewrites line ends; returns the bytes to pass on. */
    private scan(chunk: Buffer): Buffer {
        const out = Buffer.allocUnsafe(chunk.length + 1);
        let n = 0;
        if (this.pendingCr) {
            // A CR at the end of the previous chunk: one line end, whatever follows.
            out[n++] = 0x0a;
            this.pendingCr = false;
            if (chunk[0] === 0x0a) chunk = chunk.subarray(1);
        }
        for (let i = 0; i < chunk.length; i++) {
            const b = chunk[i];
            if (this.need > 0) {
                if (b < this.lo || b > this.hi) this.badByte(this.lead);
                this.need -= 1;
                this.lo = 0x80;
                this.hi = 0xbf;
                out[n++] = b;
                continue;
            }
            if (b < 0x80) {
                if (b === 0x00)
                    throw encodingError(
                        `The file contains NUL bytes (line ${this.line}): it is probably UTF-16 without a byte order mark, or not a text file.`
                    );
                if (b === 0x0d) {
                    if (i + 1 === chunk.length) {
                        this.pendingCr = true;
                    } else {
                        out[n++] = 0x0a;
                        if (chunk[i + 1] === 0x0a) i += 1;
                    }
                    this.line += 1;
                    continue;
                }
                if (b === 0x0a) this.line += 1;
                out[n++] = b;
                continue;
            }
            this.lead = b;
            if (b >= 0xc2 && b <= 0xdf) {
                this.need = 1;
            } else if (b >= 0xe0 && b <= 0xef) {
                this.need = 2;
                if (b === 0xe0) this.lo = 0xa0; // overlong
                if (b === 0xed) this.hi = 0x9f; // UTF-16 surrogates
            } else if (b >= 0xf0 && b <= 0xf4) {
                this.need = 3;
                if (b === 0xf0) this.lo = 0x90; // overlong
                if (b === 0xf4) this.hi = 0x8f; // above U+10FFFF
            } else {
                this.badByte(b);
            }
            out[n++] = b;
        }
        return out.subarray(0, n);
    }

    private badByte(b: number): never {
        const hex = b.toString(16).toUpperCase().padStart(2, '0');
        throw encodingError(
            `The file is not valid UTF-8: byte 0x${hex} on line ${this.line} does not start a valid UTF-8 character ` +
                '(the file is probably in a legacy encoding such as Windows-1252 or Latin-1).'
        );
    }
}
