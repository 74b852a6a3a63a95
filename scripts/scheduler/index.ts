/**
 * `optout schedule`: croner schedules for the hourly and nightly jobs, a push loop for
 * pending unsubscribes, and the ledger lock that keeps two runs of a job apart across
 * processes. See plan.ts and scheduler.ts.
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
export type { SchedulerEvent, SchedulerOptions, Trigger } from './scheduler';
export { describeRun, summarizeResult } from './format';
export type { RunSummaryLine } from './format';
