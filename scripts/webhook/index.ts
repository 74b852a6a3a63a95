/**
 * The webhook (`optout serve`): an HTTP endpoint for Mailchimp events and JSON
 * unsubscribes, and the push loop that writes what it accepts to Salesforce within
 * seconds. See server.ts, mailchimp.ts, intake.ts, and ../sync/push-service.ts (the push).
 */
export {
    startWebhookServer,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_ITEMS,
    DEFAULT_RATE
} from './server';
export type { WebhookServer, WebhookServerOptions } from './server';
export { PushService } from '../sync/push-service';
export type {
    PushServiceOptions,
    PushServiceStats,
    PushRun
} from '../sync/push-service';
export {
    SECRET_ENV,
    MIN_SECRET_LENGTH,
    resolveSecret,
    secretChecker,
    presentedSecret
} from './auth';
export { parseRate, parseSize, RateLimiter } from './limits';
export type { Rate } from './limits';
export {
    MAILCHIMP_TYPES,
    mailchimpAction,
    parseFiredAt,
    parseMailchimpForm
} from './mailchimp';
export type { MailchimpAction, MailchimpEvent } from './mailchimp';
export {
    applyMailchimpAction,
    parseUnsubscribeItems,
    recordUnsubscribeItems
} from './intake';
export type { IntakeOutcome, UnsubscribeItem } from './intake';
export { WebhookError } from './errors';
export { startWebhook } from './service';
export type { Webhook, WebhookOptions } from './service';
export {
    NOTIFY_SECRET_ENV,
    SIGNATURE_HEADER,
    EVENT_ID_HEADER,
    NotifyLoop,
    backoffDelay,
    notificationBody,
    notifyStatus,
    parseNotifyUrls,
    resolveNotifySecret,
    signBody,
    startCursors,
    verifySignature
} from './notify';
export type {
    NotifyAttempt,
    NotifyLoopOptions,
    NotifyUrlStatus
} from './notify';
