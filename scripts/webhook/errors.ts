/**
 * A request the webhook refuses: HTTP status, a stable code and a message for the
 * sender; per-item problems of a JSON batch in `errors`.
 */
export interface ItemProblem {
    /** Position in the array (0 for a single object). */
    index: number;
    field: string;
    message: string;
}

export class WebhookError extends Error {
    constructor(
        readonly status: number,
        readonly code: string,
        message: string,
        readonly errors: ItemProblem[] = [],
        readonly headers: Record<string, string> = {}
    ) {
        super(message);
        this.name = 'WebhookError';
    }

    toJSON(): Record<string, unknown> {
        return {
            status: 'error',
            code: this.code,
            message: this.message,
            ...(this.errors.length ? { errors: this.errors } : {})
        };
    }
}
