/**
 * Logging vocabulary shared by every layer: the levels, and the function a component is
 * given to log with (the CLI writes it to stderr; tests collect it).
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** From the quietest to the most verbose. */
export const LOG_LEVELS: readonly LogLevel[] = [
    'error',
    'warn',
    'info',
    'debug'
];

/** Where a component sends its log lines. */
export type LogFn = (level: LogLevel, message: string) => void;

/** Whether a line at `level` is shown when the threshold is `threshold`. */
export function shouldLog(level: LogLevel, threshold: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(threshold);
}
