/**
 * Where the Mailchimp connector talks to: `MAILCHIMP_API_KEY` (its `-usN` suffix names
 * the data centre, https://mailchimp.com/developer/marketing/docs/fundamentals/ :
 * "the root url for the API is https://<dc>.api.mailchimp.com/3.0/"), overridable with
 * `MAILCHIMP_API_URL` (the local Mailchimp in tests and the demo). A missing or malformed
 * key is a usage error (exit 2) raised before any request or ledger write.
 */
import { OptoutError } from '../model/errors';

export const API_KEY_ENV = 'MAILCHIMP_API_KEY';
export const API_URL_ENV = 'MAILCHIMP_API_URL';

export interface MailchimpConfig {
    apiKey: string;
    /** The data centre from the key (`us6`). */
    dc: string;
    /** API root without a trailing slash (`https://us6.api.mailchimp.com/3.0`). */
    apiUrl: string;
}

// Mailchimp keys are 32 hex digits, a dash and the data centre (us1, us21, …).
const KEY = /^[0-9a-f]{32}-(us[0-9]{1,3})$/i;

/** True when a key is set at all (the scheduler runs the Mailchimp jobs only then). */
export function mailchimpConfigured(
    env: NodeJS.ProcessEnv = process.env
): boolean {
    return (env[API_KEY_ENV] ?? '').trim() !== '';
}

/** The configuration from the environment; an OptoutError (exit 2) when unusable. */
export function mailchimpConfig(
    env: NodeJS.ProcessEnv = process.env
): MailchimpConfig {
    const raw = (env[API_KEY_ENV] ?? '').trim();
    const actions = [
        `Create a key in Mailchimp (Profile → Extras → API keys) and set ${API_KEY_ENV}=<key>`,
        `For the local Mailchimp (development): optout mailchimp local start prints ${API_KEY_ENV} and ${API_URL_ENV}`
    ];
    if (raw === '')
        throw new OptoutError(
            'MAILCHIMP_NOT_CONFIGURED',
            `${API_KEY_ENV} is not set; nothing was done.`,
            { actions, exitCode: 2 }
        );
    const m = KEY.exec(raw);
    if (!m)
        throw new OptoutError(
            'MAILCHIMP_BAD_KEY',
            `${API_KEY_ENV} is not a Mailchimp API key (32 hexadecimal digits, a dash and the data centre, e.g. …-us6); nothing was done.`,
            { actions, exitCode: 2 }
        );
    const dc = m[1].toLowerCase();
    const override = (env[API_URL_ENV] ?? '').trim();
    let apiUrl = `https://${dc}.api.mailchimp.com/3.0`;
    if (override !== '') {
        let url: URL;
        try {
            url = new URL(override);
        } catch {
            url = new URL('invalid:');
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
            throw new OptoutError(
                'MAILCHIMP_BAD_URL',
                `${API_URL_ENV} '${override}' is not an http(s) URL; nothing was done.`,
                {
                    actions: [
                        `Unset ${API_URL_ENV} to use https://${dc}.api.mailchimp.com/3.0`
                    ],
                    exitCode: 2
                }
            );
        apiUrl = override.replace(/\/+$/, '');
    }
    return { apiKey: raw, dc, apiUrl };
}
