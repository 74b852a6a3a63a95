/** The hourly job's cursors in the ledger, and when (a) reads everything at once. */
export const HOURLY_CURSOR = { job: 'hourly', name: 'membership_seq' } as const;
export const ALL_AUDIENCES_CURSOR = {
    job: 'hourly',
    name: 'all_audiences_seq'
} as const;

/** Above this many changes, read every record and membership once instead of looking up. */
export const HOURLY_LOOKUP_LIMIT = 5000;
