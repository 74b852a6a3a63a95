/**
 * Salesforce record ids: 15-character case-sensitive ids and their 18-character
 * case-insensitive form (15 + 3 checksum characters). Shared by the local org, which
 * issues ids, and the sync, which validates the ids it is given (R6).
 */

const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const ID_CHARS = /^[a-zA-Z0-9]+$/;

/** Key prefixes of the objects this project reads and writes. */
export const KEY_PREFIX = {
    Account: '001',
    Contact: '003',
    Lead: '00Q',
    User: '005',
    Organization: '00D',
    BulkJob: '750',
    DeployRequest: '0Af',
    QueryLocator: '01g'
} as const;

/** The three checksum characters that turn a 15-character id into 18. */
export function idChecksum(id15: string): string {
    let out = '';
    for (let group = 0; group < 3; group++) {
        let bits = 0;
        for (let j = 0; j < 5; j++) {
            const c = id15.charCodeAt(group * 5 + j);
            if (c >= 65 && c <= 90) bits |= 1 << j;
        }
        out += CHECKSUM_ALPHABET[bits];
    }
    return out;
}

export type IdCheck =
    { ok: true; id: string; prefix: string } | { ok: false; reason: string };

/**
 * Validates an id and returns its 18-character form. An 18-character id must carry
 * the right checksum for its first 15 characters, compared case-insensitively
 * (18-character ids are case-insensitive).
 */
export function normalizeId(raw: string): IdCheck {
    const id = raw.trim();
    if (id.length !== 15 && id.length !== 18) {
        return {
            ok: false,
            reason: `Salesforce id '${raw}' has ${id.length} characters; expected 15 or 18`
        };
    }
    if (!ID_CHARS.test(id)) {
        return {
            ok: false,
            reason: `Salesforce id '${raw}' contains characters other than letters and digits`
        };
    }
    const base = id.slice(0, 15);
    const checksum = idChecksum(base);
    if (id.length === 18 && id.slice(15).toUpperCase() !== checksum) {
        return {
            ok: false,
            reason: `Salesforce id '${raw}' has a bad checksum (expected ${base}${checksum})`
        };
    }
    return { ok: true, id: base + checksum, prefix: base.slice(0, 3) };
}

/** The 18-character form of a 15- or 18-character id; throws on an invalid id. */
export function to18(raw: string): string {
    const check = normalizeId(raw);
    if (!check.ok) throw new Error(check.reason);
    return check.id;
}

/** Builds a valid 18-character id from a key prefix, a pod letter pair and a counter. */
export function makeId(prefix: string, counter: number, pod = '8d'): string {
    if (prefix.length !== 3)
        throw new Error(`key prefix must have 3 characters: '${prefix}'`);
    const width = 12 - pod.length;
    const body = counter.toString(36).padStart(width, '0');
    if (body.length > width)
        throw new Error(`id counter too large: ${counter}`);
    const id15 = prefix + pod + body;
    return id15 + idChecksum(id15);
}

/** Same 18-character id, ignoring case and the 15/18 form; false for invalid ids. */
export function sameId(a: string, b: string): boolean {
    const x = normalizeId(a);
    const y = normalizeId(b);
    return x.ok && y.ok && x.id.toLowerCase() === y.id.toLowerCase();
}
