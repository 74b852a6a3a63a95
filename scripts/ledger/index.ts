/**
 * The ledger API: `Ledger.open(path)` and its record types, the CSV import, and the
 * lock helpers. See ledger.ts for the invariants it keeps.
 */
export * from './ledger';
export * from './types';
export { LedgerBusy } from './errors';
export { importCsv } from './import';
export type {
    ImportOptions,
    ImportProgress,
    ImportReport,
    InvalidRow
} from './import';
export { CSV_COLUMNS, detectMailchimp } from './csv-format';
export type { ImportFormat, MailchimpKind } from './csv-format';
export { lockHolderId, pidAlive } from './locks';
export { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations';
export {
    FEED_DEFAULT_LIMIT,
    FEED_MAX_LIMIT,
    decodeCursor,
    encodeCursor,
    feedItem,
    parseFeedLimit
} from './feed';
export type {
    SuppressionEvent,
    SuppressionItem,
    SuppressionPage
} from './feed';
export {
    describeLedgerLocation,
    parseLedgerLocation,
    redactPassword
} from './location';
export type { LedgerLocation, ParseLedgerOptions } from './location';
