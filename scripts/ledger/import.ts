/**
 * CSV import into the ledger, in two phases so that a bad file changes nothing:
 *
 * 1. Validate: stream the file (encoding check → csv-parse), check every row, and
 *    stage the valid ones in a temporary on-disk SQLite database (memory stays flat
 *    for a million rows). Then the checks that need all rows run as SQL: the same
 *    email and audience twice with different data, one email with two Salesforce ids,
 *    one audience with two names, an unknown audience with no name.
 * 2. Apply, only when nothing is invalid (or with `skipInvalid`): the staged rows in
 *    line order, in batched transactions through `Ledger.importBatch`.
 *
 * Broken CSV quoting and wrong encodings refuse the whole file even with
 * `skipInvalid`: past such a point the rows cannot be read reliably.
 */
import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { parse, type CsvError } from 'csv-parse';
import { OptoutError, errorMessage } from '../model/errors';
import {
    checkAudienceId,
    checkAudienceName,
    type LedgerSource
} from '../model/statuses';
import {
    csvMapper,
    detectMailchimp,
    mailchimpMapper,
    type ImportFormat,
    type MailchimpKind,
    type RowMapper
} from './csv-format';
import { Utf8LineStream } from './encoding';
import type { ImportRecord, Ledger } from './ledger';

export interface ImportOptions {
    file: string;
    /** Default `auto`: Mailchimp when the header is a Mailchimp export, else optout's own. */
    format?: ImportFormat | 'auto';
    /** Source recorded on memberships and unsubscribes; default `import`. */
    source?: LedgerSource;
    /** Import the valid rows and report the rest, instead of importing nothing. */
    skipInvalid?: boolean;
    /** The audience of a Mailchimp export (the file does not name it). */
    audienceId?: string;
    audienceName?: string;
    /** Rows per transaction; default 5000. */
    batchSize?: number;
    now?: Date;
    runId?: string | null;
    onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
    phase: 'validate' | 'import';
    /** Bytes read (validate) or rows applied (import). */
    done: number;
    total: number;
}

export interface InvalidRow {
    line: number;
    problems: string[];
}

export interface ImportReport {
    file: string;
    format: ImportFormat;
    mailchimpKind: MailchimpKind | null;
    /** imported: every row valid; partial: invalid rows skipped; rejected: nothing imported. */
    status: 'imported' | 'partial' | 'rejected';
    rowsRead: number;
    rowsValid: number;
    personsUpserted: number;
    audiencesUpserted: number;
    membershipsChanged: number;
    unsubscribesAdded: number;
    skipped: { unchanged: number; stale: number; blocked: number };
    /** Lines whose status change was refused: an active unsubscribe (R4); first 10,000. */
    blockedLines: number[];
    /** How many lines are invalid. */
    invalidCount: number;
    /** The invalid lines with every problem, in line order; the first 10,000 (memory stays bounded). */
    invalid: InvalidRow[];
}

const PROGRESS_EVERY = 2000;
/** Invalid and blocked lines listed in a report; the counts cover all of them. */
export const MAX_LISTED = 10_000;

class Staging {
    readonly db = new Database(''); // anonymous temporary file, removed on close
    private readonly insertRow;
    private readonly insertProblem;
    constructor() {
        this.db.pragma('journal_mode = OFF');
        this.db.pragma('synchronous = OFF');
        this.db.exec(`
            CREATE TABLE rows (line INTEGER PRIMARY KEY, email TEXT NOT NULL, email_norm TEXT NOT NULL,
                salesforce_id TEXT, audience_id TEXT NOT NULL, audience_name TEXT, status TEXT NOT NULL,
                changed_at TEXT NOT NULL, reason TEXT);
            CREATE TABLE problems (line INTEGER NOT NULL, problem TEXT NOT NULL);
        `);
        this.insertRow = this.db.prepare(
            `INSERT INTO rows (line, email, email_norm, salesforce_id, audience_id, audience_name, status,
                changed_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
        );
        this.insertProblem = this.db.prepare(
            'INSERT INTO problems (line, problem) VALUES (?, ?)'
        );
        this.db.exec('BEGIN');
    }
    private pending = 0;
    private tick(): void {
        if (++this.pending >= 10_000) {
            this.db.exec('COMMIT; BEGIN');
            this.pending = 0;
        }
    }
    row(line: number, r: ImportRecord): void {
        this.insertRow.run(
            line,
            r.email,
            r.email.toLowerCase(),
            r.salesforceId,
            r.audienceId,
            r.audienceName,
            r.status,
            r.changedAt,
            r.reason
        );
        this.tick();
    }
    problem(line: number, problem: string): void {
        this.insertProblem.run(line, problem);
        this.tick();
    }
    commit(): void {
        if (this.db.inTransaction) this.db.exec('COMMIT');
    }
    close(): void {
        if (this.db.open) this.db.close();
    }
}

function fileError(
    code: string,
    message: string,
    actions: string[] = []
): OptoutError {
    return new OptoutError(code, message, { actions });
}

/** Header check and row mapping for the file's format. */
function mapperFor(
    header: string[],
    options: ImportOptions,
    now: Date
): RowMapper {
    const requested = options.format ?? 'auto';
    const kind = detectMailchimp(header);
    const useMailchimp =
        requested === 'mailchimp' || (requested === 'auto' && kind !== null);
    if (!useMailchimp) {
        if (options.audienceId || options.audienceName) {
            throw new OptoutError(
                'BAD_ARGUMENT',
                '--audience-id and --audience-name apply to Mailchimp exports only; this file has its own audience_id column.',
                {
                    actions: [
                        'Remove --audience-id/--audience-name, or add --format mailchimp for a Mailchimp export'
                    ],
                    exitCode: 2
                }
            );
        }
        return csvMapper(header, { now });
    }
    if (!kind) {
        throw fileError(
            'BAD_HEADER',
            'The header is not a Mailchimp audience export (it needs "Email Address" and Mailchimp columns such as MEMBER_RATING, OPTIN_TIME, LAST_CHANGED, LEID).',
            [
                'Export the audience from Mailchimp (Audience → Export audience) and import one of its CSV files',
                "Or import optout's own format without --format mailchimp"
            ]
        );
    }
    if (!options.audienceId) {
        throw new OptoutError(
            'AUDIENCE_REQUIRED',
            'A Mailchimp export does not say which audience it comes from.',
            {
                actions: [
                    'Add --audience-id ID (Mailchimp: Audience → Settings → Audience name and defaults → Audience ID) and --audience-name NAME'
                ],
                exitCode: 2
            }
        );
    }
    const id = checkAudienceId(options.audienceId);
    if (!id.ok)
        throw new OptoutError('BAD_ARGUMENT', `--audience-id: ${id.reason}`, {
            exitCode: 2
        });
    let name: string | null = null;
    if (options.audienceName !== undefined) {
        const n = checkAudienceName(options.audienceName);
        if (!n.ok)
            throw new OptoutError(
                'BAD_ARGUMENT',
                `--audience-name: ${n.reason}`,
                { exitCode: 2 }
            );
        name = n.value;
    }
    return mailchimpMapper(header, kind, { id: id.value, name }, { now });
}

function isBlank(cells: readonly string[]): boolean {
    return cells.every((c) => c.trim() === '');
}

/** Checks the whole file into the staging database. Returns the mapper and counts. */
async function validateInto(
    staging: Staging,
    options: ImportOptions,
    now: Date,
    size: number
): Promise<{ mapper: RowMapper; rowsRead: number; syntaxErrors: number }> {
    const parser = parse({
        bom: true,
        relax_column_count: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        info: true
    });
    let syntaxErrors = 0;
    parser.on('skip', (err: CsvError & { lines?: number }) => {
        syntaxErrors += 1;
        staging.problem(err.lines ?? 0, `CSV syntax: ${err.message}`);
    });
    let mapper: RowMapper | undefined;
    let rowsRead = 0;
    const source = createReadStream(options.file);
    const consume = async (): Promise<void> => {
        for await (const item of parser as AsyncIterable<{
            record: string[];
            info: { lines: number; bytes: number };
        }>) {
            const cells = item.record;
            // The parser reports the record's last line; a quoted field may span lines.
            const newlines = cells.reduce(
                (n, c) => n + (c.match(/\n/g)?.length ?? 0),
                0
            );
            const line = item.info.lines - newlines;
            if (!mapper) {
                mapper = mapperFor(cells, options, now);
                continue;
            }
            if (isBlank(cells)) continue;
            rowsRead += 1;
            const mapped = mapper.map(cells, line);
            if ('record' in mapped) staging.row(line, mapped.record);
            else for (const p of mapped.problems) staging.problem(line, p);
            if (options.onProgress && rowsRead % PROGRESS_EVERY === 0)
                options.onProgress({
                    phase: 'validate',
                    done: item.info.bytes,
                    total: size
                });
        }
    };
    try {
        await Promise.all([
            pipeline(source, new Utf8LineStream(), parser),
            consume()
        ]);
    } catch (err) {
        source.destroy();
        parser.destroy();
        if (err instanceof OptoutError) throw err;
        throw fileError(
            'IMPORT_READ_FAILED',
            `Cannot read ${options.file}: ${errorMessage(err)}`
        );
    }
    if (!mapper)
        throw fileError(
            'EMPTY_FILE',
            `${options.file} is empty: no header and no rows.`,
            [HEADER_OR_EXPORT]
        );
    if (rowsRead === 0 && syntaxErrors === 0)
        throw fileError(
            'EMPTY_FILE',
            `${options.file} has a header but no rows.`,
            [HEADER_OR_EXPORT]
        );
    options.onProgress?.({ phase: 'validate', done: size, total: size });
    return { mapper, rowsRead, syntaxErrors };
}

const HEADER_OR_EXPORT =
    'Import a CSV with a header line and one row per membership, or a Mailchimp audience export';

/** The checks that need every row, as SQL over the staged rows. */
async function crossCheck(staging: Staging, ledger: Ledger): Promise<void> {
    const db = staging.db;
    // Read before the staging transaction (a synchronous one): audiences are few.
    const known = new Set((await ledger.listAudiences()).map((a) => a.id));
    db.exec(`CREATE INDEX rows_member ON rows(email_norm, audience_id);
             CREATE INDEX rows_audience ON rows(audience_id);`);
    const add = db.prepare(
        'INSERT INTO problems (line, problem) VALUES (?, ?)'
    );
    const others = (lines: number[], line: number): string => {
        const rest = lines.filter((l) => l !== line);
        return rest.slice(0, 5).join(', ') + (rest.length > 5 ? ', …' : '');
    };
    db.transaction(() => {
        // Same email and audience more than once with different data.
        for (const g of db
            .prepare(
                `SELECT email_norm AS email, audience_id AS audience, group_concat(line) AS lines
                 FROM rows GROUP BY email_norm, audience_id
                 HAVING COUNT(DISTINCT status || '|' || changed_at || '|' || coalesce(reason, '')) > 1`
            )
            .all() as { email: string; audience: string; lines: string }[]) {
            const lines = g.lines
                .split(',')
                .map(Number)
                .sort((a, b) => a - b);
            for (const line of lines)
                add.run(
                    line,
                    `${g.email} in audience ${g.audience} also appears on line(s) ${others(lines, line)} with different data`
                );
        }
        // One email, several Salesforce ids.
        for (const g of db
            .prepare(
                `SELECT email_norm AS email, group_concat(DISTINCT salesforce_id) AS ids
                 FROM rows WHERE salesforce_id IS NOT NULL GROUP BY email_norm
                 HAVING COUNT(DISTINCT salesforce_id) > 1`
            )
            .all() as { email: string; ids: string }[]) {
            const rows = db
                .prepare(
                    'SELECT line FROM rows WHERE email_norm = ? AND salesforce_id IS NOT NULL ORDER BY line'
                )
                .all(g.email) as { line: number }[];
            const lines = rows.map((r) => r.line);
            for (const line of lines)
                add.run(
                    line,
                    `${g.email} has different Salesforce ids (${g.ids.split(',').join(', ')}) on lines ${lines.slice(0, 6).join(', ')}`
                );
        }
        // Audience names: one per audience id; unknown audiences need one.
        for (const g of db
            .prepare(
                `SELECT audience_id AS audience, COUNT(DISTINCT audience_name) AS names,
                        group_concat(DISTINCT audience_name) AS list
                 FROM rows GROUP BY audience_id`
            )
            .all() as {
            audience: string;
            names: number;
            list: string | null;
        }[]) {
            let problem: string | null = null;
            if (g.names > 1)
                problem = `audience ${g.audience} has different names in the file (${g.list})`;
            else if (g.names === 0 && !known.has(g.audience))
                problem = `audience ${g.audience} is not in the ledger and no row gives its audience_name`;
            if (problem)
                db.prepare(
                    `INSERT INTO problems (line, problem) SELECT line, ? FROM rows WHERE audience_id = ?`
                ).run(problem, g.audience);
        }
    })();
}

/** The first `MAX_LISTED` invalid lines with their problems, in line order. */
function invalidRows(staging: Staging): InvalidRow[] {
    const out: InvalidRow[] = [];
    let current: InvalidRow | undefined;
    for (const p of staging.db
        .prepare(
            `SELECT line, problem FROM problems WHERE line IN
                 (SELECT DISTINCT line FROM problems ORDER BY line LIMIT ?)
             ORDER BY line, rowid`
        )
        .iterate(MAX_LISTED) as Iterable<{ line: number; problem: string }>) {
        if (!current || current.line !== p.line) {
            current = { line: p.line, problems: [] };
            out.push(current);
        }
        current.problems.push(p.problem);
    }
    return out;
}

/**
 * Validates and imports a CSV file. Throws an OptoutError for file-level problems
 * (missing, empty, bad header, not UTF-8); returns a report otherwise, with
 * `status: 'rejected'` and nothing imported when a row is invalid (unless skipInvalid).
 */
export async function importCsv(
    ledger: Ledger,
    options: ImportOptions
): Promise<ImportReport> {
    let size: number;
    try {
        const st = statSync(options.file);
        if (!st.isFile()) throw new Error('not a regular file');
        size = st.size;
    } catch (err) {
        throw fileError(
            'FILE_NOT_FOUND',
            `Cannot read ${options.file}: ${errorMessage(err)}`,
            ['Check the path of the CSV file']
        );
    }
    if (size === 0)
        throw fileError('EMPTY_FILE', `${options.file} is empty (0 bytes).`, [
            HEADER_OR_EXPORT
        ]);
    const now = options.now ?? new Date();
    const staging = new Staging();
    try {
        const { mapper, rowsRead, syntaxErrors } = await validateInto(
            staging,
            options,
            now,
            size
        );
        staging.commit();
        await crossCheck(staging, ledger);
        const invalid = invalidRows(staging);
        const invalidCount = (
            staging.db
                .prepare('SELECT COUNT(DISTINCT line) AS n FROM problems')
                .get() as { n: number }
        ).n;
        const report: ImportReport = {
            file: options.file,
            format: mapper.format,
            mailchimpKind: mapper.mailchimpKind,
            status: 'rejected',
            rowsRead,
            rowsValid: (
                staging.db
                    .prepare(
                        'SELECT COUNT(*) AS n FROM rows WHERE line NOT IN (SELECT line FROM problems)'
                    )
                    .get() as { n: number }
            ).n,
            personsUpserted: 0,
            audiencesUpserted: 0,
            membershipsChanged: 0,
            unsubscribesAdded: 0,
            skipped: { unchanged: 0, stale: 0, blocked: 0 },
            blockedLines: [],
            invalidCount,
            invalid
        };
        if ((invalidCount > 0 && !options.skipInvalid) || syntaxErrors > 0)
            return report;
        await applyStaged(staging, ledger, options, report);
        report.status = invalidCount > 0 ? 'partial' : 'imported';
        return report;
    } finally {
        staging.close();
    }
}

async function applyStaged(
    staging: Staging,
    ledger: Ledger,
    options: ImportOptions,
    report: ImportReport
): Promise<void> {
    const batchSize = options.batchSize ?? 5000;
    const page = staging.db.prepare(
        `SELECT line, email, salesforce_id AS salesforceId, audience_id AS audienceId,
                audience_name AS audienceName, status, changed_at AS changedAt, reason
         FROM rows WHERE line > ? AND line NOT IN (SELECT line FROM problems)
         ORDER BY line LIMIT ?`
    );
    staging.db.exec('CREATE INDEX problems_line ON problems(line)');
    // Audiences first, so that rows without audience_name find theirs.
    for (const a of staging.db
        .prepare(
            `SELECT audience_id AS id, MIN(audience_name) AS name FROM rows
             WHERE audience_name IS NOT NULL AND line NOT IN (SELECT line FROM problems) GROUP BY audience_id`
        )
        .all() as { id: string; name: string }[]) {
        const r = await ledger.upsertAudience(a);
        if (r.created || r.changed) report.audiencesUpserted += 1;
    }
    let after = 0;
    let done = 0;
    for (;;) {
        const rows = page.all(after, batchSize) as ImportRecord[];
        if (rows.length === 0) break;
        const r = await ledger.importBatch(rows, {
            source: options.source ?? 'import',
            runId: options.runId
        });
        report.personsUpserted += r.personsCreated + r.personsUpdated;
        report.audiencesUpserted += r.audiencesCreated + r.audiencesUpdated;
        report.membershipsChanged += r.membershipsChanged;
        report.unsubscribesAdded += r.unsubscribesAdded;
        report.skipped.unchanged += r.skipped.unchanged;
        report.skipped.stale += r.skipped.stale;
        report.skipped.blocked += r.skipped.blocked;
        for (const line of r.blockedLines)
            if (report.blockedLines.length < MAX_LISTED)
                report.blockedLines.push(line);
        done += rows.length;
        after = rows[rows.length - 1].line as number;
        options.onProgress?.({
            phase: 'import',
            done,
            total: report.rowsValid
        });
    }
}
