/**
 * The schedule of `optout schedule`: cron expressions and the time zone they are read
 * in, validated with clear errors, and the next run times. Defaults follow the design:
 * hourly at minute 0, nightly at 20:00 America/Los_Angeles, pending unsubscribes pushed
 * every 30 seconds.
 */
import { Cron } from 'croner';
import { OptoutError, errorMessage } from '../model/errors';
import type { JobName } from '../sync/result';

export const DEFAULT_HOURLY = '0 * * * *';
export const DEFAULT_NIGHTLY = '0 20 * * *';
export const DEFAULT_TIMEZONE = 'America/Los_Angeles';
export const DEFAULT_PUSH_INTERVAL_MS = 30_000;

const UNITS: Record<string, number> = {
    ms: 1,
    s: 1000,
    sec: 1000,
    m: 60_000,
    min: 60_000,
    h: 3_600_000
};

/** "30s", "500ms", "2m", "1h" or a bare number of seconds → ms (usage error otherwise). */
export function parseDuration(
    raw: string,
    option: string,
    limits: { minMs?: number; maxMs?: number } = {}
): number {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
    const unit = m ? UNITS[(m[2] || 's').toLowerCase()] : undefined;
    const ms = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
    const min = limits.minMs ?? 1;
    const max = limits.maxMs ?? 24 * 3_600_000;
    if (!(ms >= min && ms <= max))
        throw new OptoutError(
            'BAD_ARGUMENT',
            `${option} must be a duration such as 30s, 500ms, 5m or 1h, between ${formatDuration(min)} and ${formatDuration(max)}, not '${raw}'.`,
            { exitCode: 2 }
        );
    return ms;
}

export function formatDuration(ms: number): string {
    if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
    if (ms % 60_000 === 0) return `${ms / 60_000}m`;
    if (ms % 1000 === 0) return `${ms / 1000}s`;
    return `${ms}ms`;
}

/** An IANA time zone, in its canonical spelling; a usage error otherwise. */
export function checkTimezone(raw: string, option = '--timezone'): string {
    const tz = raw.trim();
    try {
        if (tz === '') throw new RangeError('empty');
        return new Intl.DateTimeFormat('en-US', {
            timeZone: tz
        }).resolvedOptions().timeZone;
    } catch {
        throw new OptoutError(
            'BAD_TIMEZONE',
            `${option} '${raw}' is not a time zone this system knows.`,
            {
                actions: [
                    'Use an IANA name such as America/Los_Angeles, Europe/Paris, Asia/Tokyo or UTC'
                ],
                exitCode: 2
            }
        );
    }
}

/**
 * A paused croner job for `expression` in `timezone` (for next-run times and for
 * validation). Five fields (minute hour day month weekday), six with seconds first, or
 * @hourly/@daily/…; a usage error names the option and croner's reason.
 */
export function checkCron(
    expression: string,
    timezone: string,
    option: string
): Cron {
    const expr = expression.trim();
    let cron: Cron;
    try {
        cron = new Cron(expr, {
            timezone,
            paused: true,
            mode: '5-or-6-parts'
        });
    } catch (err) {
        throw new OptoutError(
            'BAD_CRON',
            `${option} '${expression}' is not a valid cron expression: ${errorMessage(err).replace(/^CronPattern: /, '')}.`,
            {
                actions: [
                    'Five fields: minute hour day-of-month month day-of-week, e.g. "0 * * * *" (every hour) or "0 20 * * *" (20:00 daily)'
                ],
                exitCode: 2
            }
        );
    }
    if (!cron.nextRun()) {
        cron.stop();
        throw new OptoutError(
            'BAD_CRON',
            `${option} '${expression}' never fires.`,
            { exitCode: 2 }
        );
    }
    return cron;
}

export interface ScheduleConfig {
    hourly: string;
    nightly: string;
    timezone: string;
    pushIntervalMs: number;
    /**
     * The nightly runs a full reconciliation when the last one is older than this
     * (R16; Infinity: never by age). Unset: OPTOUT_NIGHTLY_FULL_EVERY, else 7 days.
     */
    nightlyFullEveryMs?: number;
}

export interface JobPlan {
    job: JobName;
    cron: string;
    timezone: string;
    /** Next run times, ISO UTC. */
    next: string[];
    /** The same in the schedule's time zone, for people. */
    nextLocal: string[];
}

export interface SchedulePlan {
    timezone: string;
    jobs: JobPlan[];
    push: { intervalMs: number; every: string };
}

/** Validates a config (usage errors) and returns it normalised. */
export function checkConfig(input: Partial<ScheduleConfig>): ScheduleConfig {
    const timezone = checkTimezone(input.timezone ?? DEFAULT_TIMEZONE);
    const hourly = (input.hourly ?? DEFAULT_HOURLY).trim();
    const nightly = (input.nightly ?? DEFAULT_NIGHTLY).trim();
    checkCron(hourly, timezone, '--hourly').stop();
    checkCron(nightly, timezone, '--nightly').stop();
    return {
        hourly,
        nightly,
        timezone,
        pushIntervalMs: input.pushIntervalMs ?? DEFAULT_PUSH_INTERVAL_MS,
        ...(input.nightlyFullEveryMs !== undefined
            ? { nightlyFullEveryMs: input.nightlyFullEveryMs }
            : {})
    };
}

/** A time as people in `timezone` read it: "2024-05-01 20:00 PDT". */
export function localTime(iso: string | Date, timezone: string): string {
    const d = typeof iso === 'string' ? new Date(iso) : iso;
    const parts = Object.fromEntries(
        new Intl.DateTimeFormat('en-US', {
            timeZone: timezone,
            year: 'numeric',
            month: '2-digit',
            day: '2-digit',
            hour: '2-digit',
            minute: '2-digit',
            hourCycle: 'h23',
            timeZoneName: 'short'
        })
            .formatToParts(d)
            .map((p) => [p.type, p.value])
    );
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}

/** The next `count` runs of each job after `from`. */
export function schedulePlan(
    config: ScheduleConfig,
    from: Date = new Date(),
    count = 3
): SchedulePlan {
    const jobs: JobPlan[] = (
        [
            ['hourly', config.hourly],
            ['nightly', config.nightly]
        ] as const
    ).map(([job, expr]) => {
        const cron = checkCron(expr, config.timezone, `--${job}`);
        try {
            const next = cron.nextRuns(count, from).map((d) => d.toISOString());
            return {
                job,
                cron: expr,
                timezone: config.timezone,
                next,
                nextLocal: next.map((n) => localTime(n, config.timezone))
            };
        } finally {
            cron.stop();
        }
    });
    return {
        timezone: config.timezone,
        jobs,
        push: {
            intervalMs: config.pushIntervalMs,
            every: formatDuration(config.pushIntervalMs)
        }
    };
}
