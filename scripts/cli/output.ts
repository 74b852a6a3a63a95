/**
 * How commands talk to people and to scripts: one JSON object on stdout with --json,
 * readable text otherwise; logs always on stderr so stdout stays parseable.
 */
import { OptoutError, errorMessage } from '../model/errors';

import { LOG_LEVELS, shouldLog, type LogLevel } from '../model/log';

export type { LogLevel } from '../model/log';

export interface OutputOptions {
    json: boolean;
    logLevel: LogLevel;
    /** Whether stdout is a terminal: progress bars and colours only then. */
    interactive: boolean;
}

export class Output {
    constructor(readonly options: OutputOptions) {}

    get json(): boolean {
        return this.options.json;
    }

    /** Progress bars and spinners are shown only to a person at a terminal. */
    get showProgress(): boolean {
        return this.options.interactive && !this.options.json;
    }

    log(level: LogLevel, message: string): void {
        if (!shouldLog(level, this.options.logLevel)) return;
        process.stderr.write(
            `${level === 'info' ? '' : `${level}: `}${message}\n`
        );
    }

    /** Human text on stdout; suppressed with --json. */
    print(text: string): void {
        if (!this.options.json)
            process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }

    /** The command's result: JSON with --json, the given human rendering otherwise. */
    result(value: unknown, human?: () => string): void {
        if (this.options.json) {
            process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
        } else if (human) {
            this.print(human());
        }
    }

    /** Reports an error the way the result would have been reported; returns the exit code. */
    fail(err: unknown): number {
        const e =
            err instanceof OptoutError
                ? err
                : new OptoutError('UNEXPECTED', errorMessage(err), {
                      cause: err
                  });
        if (this.options.json) {
            process.stdout.write(
                `${JSON.stringify(
                    {
                        status: 'error',
                        code: e.code,
                        message: e.message,
                        actions: e.actions
                    },
                    null,
                    2
                )}\n`
            );
        } else {
            process.stderr.write(`Error (${e.code}): ${e.message}\n`);
            for (const action of e.actions)
                process.stderr.write(`  Try this: ${action}\n`);
            if (
                !(err instanceof OptoutError) &&
                err instanceof Error &&
                err.stack
            ) {
                this.log('debug', err.stack);
            }
        }
        return e.exitCode;
    }
}

export function parseLogLevel(value: string): LogLevel {
    if ((LOG_LEVELS as readonly string[]).includes(value))
        return value as LogLevel;
    throw new OptoutError(
        'BAD_ARGUMENT',
        `--log-level must be one of ${LOG_LEVELS.join(', ')}`
    );
}
