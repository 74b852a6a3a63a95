/**
 * The CLI's one door to the development tools it runs, other than the local org (which
 * the product reaches through `salesforce/local-org.ts`): the demo (`optout demo`,
 * `npm start`) and the local Mailchimp (`optout mailchimp local start`). Nothing of them
 * loads until a loader here is called, from the command that needs it.
 *
 * eslint.config.js lets only this file and `salesforce/local-org.ts` reach a tool.
 */

// Types only (erased at compile time): naming them loads nothing.
type DemoData = typeof import('../tools/demo/data');
type DemoRun = typeof import('../tools/demo/run');
type DemoSummary = typeof import('../tools/demo/summary');
type LocalMailchimpServer = typeof import('../tools/local-mailchimp/server');
export type DemoSize = import('../tools/demo/data').DemoSize;
export type PhaseEvent = import('../tools/demo/run').PhaseEvent;
export type DemoResult = import('../tools/demo/summary').DemoSummary;

// `require` inside functions, not `import`: a call loads the tool only when the command
// that needs it runs.

/** The demo's data set sizes (no dependencies: cheap to load for `--help`). */
export function demoData(): DemoData {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/demo/data') as DemoData;
}

/** `runDemo` and its phase titles: the whole loop on the local org. */
export function demoRun(): DemoRun {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/demo/run') as DemoRun;
}

/** The demo summary's human rendering. */
export function demoSummary(): DemoSummary {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/demo/summary') as DemoSummary;
}

/** `startLocalMailchimp`: the local Mailchimp Marketing API in this process. */
export function localMailchimpServer(): LocalMailchimpServer {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (see above)
    return require('../tools/local-mailchimp/server') as LocalMailchimpServer;
}
