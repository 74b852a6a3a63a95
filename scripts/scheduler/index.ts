/**
 * `optout schedule`: croner schedules for the hourly and nightly jobs, a push loop for
 * pending unsubscribes, and the ledger lock that keeps two runs of a job apart across
 * processes; with several schedulers on one ledger, the one that leads (leader.ts) fires
 * the jobs. See plan.ts, scheduler.ts and leader.ts.
 */
export {
    DEFAULT_HOURLY,
    DEFAULT_NIGHTLY,
    DEFAULT_PUSH_INTERVAL_MS,
    DEFAULT_TIMEZONE,
    checkConfig,
    checkCron,
    checkTimezone,
    formatDuration,
    localTime,
    parseDuration,
    schedulePlan
} from './plan';
export type { JobPlan, ScheduleConfig, SchedulePlan } from './plan';
export { Scheduler, forkClient } from './scheduler';
export type {
    LeadershipEvent,
    SchedulerEvent,
    SchedulerOptions,
    Trigger
} from './scheduler';
export {
    DEFAULT_LEADER_POLL_MS,
    LEADER_LOCK_NAME,
    LockLeadership,
    PostgresLeadership,
    advisoryLockKey,
    leadershipFor,
    ledgerLockFunctions
} from './leader';
export type {
    Leadership,
    LedgerLockMethods,
    LockAttempt,
    LockFunctions
} from './leader';
export { describeRun, summarizeResult } from './format';
export type { RunSummaryLine } from './format';
