/**
 * The shared secret of `optout serve`. Mailchimp cannot send headers, so its webhook URL
 * carries the secret as a query parameter (`/mailchimp?secret=S`); other senders may use
 * `Authorization: Bearer S` or `X-Optout-Secret: S`. Comparison is constant-time on
 * SHA-256 digests (equal length whatever the input), so timing reveals nothing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OptoutError } from '../model/errors';

export const SECRET_ENV = 'OPTOUT_WEBHOOK_SECRET';
export const MIN_SECRET_LENGTH = 16;

function digest(value: string): Buffer {
    return createHash('sha256').update(value, 'utf8').digest();
}

/** A checker for one secret; keeps only its digest. */
export function secretChecker(secret: string): (given: string) => boolean {
    const expected = digest(secret);
    return (given) => timingSafeEqual(digest(given), expected);
}

/** The secret a request presents, if any (query, then headers). */
export function presentedSecret(
    url: URL,
    headers: IncomingHttpHeaders
): string | undefined {
    const query = url.searchParams.get('secret');
    if (query !== null && query !== '') return query;
    const auth = headers.authorization;
    if (typeof auth === 'string') {
        const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
        if (m) return m[1].trim();
    }
    const header = headers['x-optout-secret'];
    if (typeof header === 'string' && header !== '') return header.trim();
    return undefined;
}

/**
 * The secret from `--secret` or OPTOUT_WEBHOOK_SECRET (preferred: it does not show in
 * `ps`). Too short or missing → a usage error before the server starts.
 */
export function resolveSecret(
    option: string | undefined,
    env: NodeJS.ProcessEnv = process.env
): string {
    const raw = option ?? env[SECRET_ENV];
    const secret = (raw ?? '').trim();
    if (secret === '')
        throw new OptoutError(
            'SECRET_REQUIRED',
            `optout serve needs a shared secret: set ${SECRET_ENV} (or pass --secret).`,
            {
                actions: [
                    `Generate one: export ${SECRET_ENV}=$(openssl rand -hex 24)`,
                    'Then give Mailchimp the URL https://YOUR-HOST/mailchimp?secret=THAT-VALUE'
                ],
                exitCode: 2
            }
        );
    if (secret.length < MIN_SECRET_LENGTH)
        throw new OptoutError(
            'SECRET_TOO_SHORT',
            `The webhook secret must be at least ${MIN_SECRET_LENGTH} characters (it is the only thing that keeps strangers from unsubscribing people).`,
            {
                actions: [
                    `Generate one: export ${SECRET_ENV}=$(openssl rand -hex 24)`
                ],
                exitCode: 2
            }
        );
    if (!/^[\x21-\x7e]+$/.test(secret))
        throw new OptoutError(
            'BAD_SECRET',
            'The webhook secret must be printable ASCII without spaces (it travels in a URL).',
            {
                actions: [
                    `Generate one: export ${SECRET_ENV}=$(openssl rand -hex 24)`
                ],
                exitCode: 2
            }
        );
    return secret;
}
