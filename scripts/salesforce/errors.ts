/**
 * Errors of the Salesforce adapter. `BudgetExhausted` is not a failure: the jobs turn it
 * into a deferred run (R12). `SalesforceError` carries Salesforce's own error code and
 * the HTTP status so that callers can decide (retry, record, stop).
 */
import { OptoutError } from '../model/errors';

/** The run stopped before the configured share of the org's daily API requests (R12). */
export class BudgetExhausted extends OptoutError {
    readonly used: number;
    readonly max: number;
    readonly share: number;

    constructor(
        message: string,
        detail: { used: number; max: number; share: number }
    ) {
        super('API_BUDGET_EXHAUSTED', message, {
            actions: [
                'The remaining work is deferred: the next run picks it up when the daily allowance allows',
                'Raise the share with --api-budget-share (or OPTOUT_API_BUDGET_SHARE) if the org can spare it'
            ]
        });
        this.name = 'BudgetExhausted';
        this.used = detail.used;
        this.max = detail.max;
        this.share = detail.share;
    }
}

/** An error answered by Salesforce (or the network) for one API request. */
export class SalesforceError extends OptoutError {
    /** Salesforce's errorCode (INVALID_FIELD, …) or a network code (ECONNRESET). */
    readonly errorCode: string;
    /** HTTP status, when a response arrived. */
    readonly status: number | undefined;
    /** What the request was (for messages): "GET /query", … */
    readonly request: string;

    constructor(
        errorCode: string,
        message: string,
        options: {
            status?: number;
            request: string;
            actions?: string[];
            cause?: unknown;
        }
    ) {
        super(errorCode, message, {
            actions: options.actions,
            cause: options.cause
        });
        this.name = 'SalesforceError';
        this.errorCode = errorCode;
        this.status = options.status;
        this.request = options.request;
    }
}

/** The run was asked to stop (signal). */
export class RunAborted extends OptoutError {
    constructor(reason = 'The run was stopped before it finished.') {
        super('RUN_ABORTED', reason, {
            actions: ['Run the job again: nothing is lost, it resumes']
        });
        this.name = 'RunAborted';
    }
}
