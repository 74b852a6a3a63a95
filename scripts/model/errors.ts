/**
 * An error a user can act on: a stable code for scripts, a message that says what went
 * wrong, and the next steps that fix it (as the Salesforce CLI's "actions").
 */
export class OptoutError extends Error {
    readonly code: string;
    readonly actions: string[];
    readonly exitCode: number;

    constructor(
        code: string,
        message: string,
        options: { actions?: string[]; exitCode?: number; cause?: unknown } = {}
    ) {
        super(message, { cause: options.cause });
        this.name = 'OptoutError';
        this.code = code;
        this.actions = options.actions ?? [];
        this.exitCode = options.exitCode ?? 1;
    }
}

/** The message of anything thrown, for logs and reports. */
export function errorMessage(err: unknown): string {
    if (err instanceof Error) return err.message;
    return String(err);
}
