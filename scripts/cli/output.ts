/**
 * How commands talk to people and to scripts: one JSON envelope on stdout with --json
 * (`{"status": 0, "result": …, "warnings": []}`, or on failure `{"status": 1, "name":
 * CODE, "message": …, "actions": […], "exitCode": N}`, as the sf CLI prints), readable
 * text otherwise; logs always on stderr so stdout stays parseable.
 */
import { OptoutError, errorMessage } from '../model/errors';

import { LOG_LEVELS, shouldLog, type LogLevel } from '../model/log';

export type { LogLevel } from '../model/log';

export interface OutputOptions {
    json: boolean;
    logLevel: LogLevel;
    /** Whether stdout is a terminal: progress bars and colours only then. */
    interactive: boolean;
    /** Width of the terminal, for tables (unlimited when not a terminal). */
    columns?: number;
}

export class Output {
    constructor(readonly options: OutputOptions) {}

    get json(): boolean {
        return this.options.json;
    }

    /** The width human output should fit in. */
    get columns(): number {
        return this.options.columns ?? Infinity;
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

    private recorded: { value: unknown; human?: () => string } | undefined;
    private streamed = false;

    /**
     * The command's result. As text it is printed now; with --json it is kept for the
     * envelope that `finish` prints once the exit code is known.
     */
    result(value: unknown, human?: () => string): void {
        this.recorded = { value, human };
        if (!this.options.json && human) this.print(human());
    }

    /**
     * One line of an event stream (long-running commands: serve, schedule, local
     * servers): a compact JSON object per line with --json, the text otherwise.
     */
    event(value: Record<string, unknown>, text: string): void {
        this.streamed = true;
        if (this.options.json)
            process.stdout.write(`${JSON.stringify(value)}\n`);
        else this.print(text);
    }

    /**
     * Ends a command that did not throw: with --json, prints the envelope
     * `{"status": exitCode, "result": …, "warnings": […]}` as the sf CLI does. A command
     * that streams events prints it compact, as the stream's last line.
     */
    finish(exitCode: number): void {
        if (!this.options.json) return;
        const envelope = {
            status: exitCode,
            result: this.recorded ? this.recorded.value : null,
            // sf's field; no command has a warning to give yet (logs go to stderr).
            warnings: []
        };
        process.stdout.write(
            `${this.streamed ? JSON.stringify(envelope) : JSON.stringify(envelope, null, 2)}\n`
        );
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
                        status: 1,
                        name: e.code,
                        message: e.message,
                        actions: e.actions,
                        exitCode: e.exitCode,
                        warnings: []
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
