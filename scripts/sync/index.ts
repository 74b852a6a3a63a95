/**
 * The sync engine: `runJob('push' | 'hourly' | 'nightly', { ledger, org, … })` and the
 * pieces it is made of (decisions, JobResult). See run.ts.
 */
export { runJob, JobFailed, jobLockName, isJobName } from './run';
export type { RunJobOptions } from './run';
export * from './result';
export * from './decisions';
export {
    HOURLY_CURSOR,
    ALL_AUDIENCES_CURSOR,
    HOURLY_LOOKUP_LIMIT
} from './hourly';
export { NIGHTLY_CURSOR } from './nightly';
export { MEMBERSHIP_WRITE_FIELDS } from './push';
export type { PushOptions } from './push';
export type { Progress } from './records';
export {
    refreshMirror,
    DEFAULT_LOOKBACK_MS,
    DEFAULT_FULL_AFTER_MS,
    MIRROR_OBJECTS
} from './mirror';
export type {
    MirrorRefreshResult,
    ObjectRefresh,
    RefreshMirrorOptions
} from './mirror';
