/**
 * Salesforce records the jobs decide on, kept in tables of the job's workspace (a
 * SQLite scratch database of its own, see workspace.ts; never in JavaScript arrays),
 * so that memory stays flat whatever the org's size and decisions can be made in SQL:
 *
 * - RecordIndex: Contacts and Leads (id, email, opt-out fields, conversion), loaded by
 *   targeted REST queries for a few persons (`Email IN (…) OR Id IN (…)`, packed to
 *   the URI limit) or by a full scan (REST pages or Bulk API 2.0, streamed page by page).
 * - MembershipIndex: Audience_Membership__c rows by Membership_Key__c (exact) and by
 *   record and audience, loaded likewise (by the rows' Contact or Lead).
 *
 * The tables disappear with the workspace; each index uses its own names and drops
 * them when done.
 */
import { KEY_PREFIX } from '../model/ids';
import {
    AUDIENCE_MEMBERSHIP as AM,
    CONTACT,
    LEAD,
    OPT_OUT_FIELDS,
    SOBJECT,
    type OptOutField
} from '../model/schema';
import type { PersonObject } from '../model/statuses';
import type { OrgClient, SObjectRow } from '../salesforce/client';
import { packInQueries } from '../salesforce/soql';
import {
    emailKey,
    id18,
    membershipClaim,
    oneRowPerKey,
    type ExistingMembership,
    type MembershipFields,
    type PersonRef,
    type SfRecord
} from './decisions';
import { tempName, type Workspace } from './workspace';

export type Progress = (event: {
    phase: string;
    done: number;
    total?: number;
}) => void;

/** Lookups costing more queries than this per object become a full scan. */
export const MAX_LOOKUP_QUERIES = 8;

/** The workspace column of an opt-out field. */
export function col(field: OptOutField): string {
    return `o_${field}`;
}

interface RecordRow {
    id: string;
    object: PersonObject;
    email_norm: string | null;
    is_converted: number;
    converted_contact_id: string | null;
    [column: string]: unknown;
}

export class RecordIndex {
    readonly table: string;
    readonly fields: readonly OptOutField[];
    mode: 'lookup' | 'scan' | 'empty' = 'empty';
    private readonly ws: Workspace;
    private readonly insertStmt: ReturnType<Workspace['prepare']>;

    constructor(workspace: Workspace, fields: readonly OptOutField[]) {
        this.ws = workspace;
        this.fields = [...new Set(fields)];
        this.table = tempName('sf_records');
        const optCols = OPT_OUT_FIELDS.map(
            (f) => `${col(f)} INTEGER NULL`
        ).join(', ');
        this.ws.exec(`CREATE TABLE ${this.table} (
            id TEXT PRIMARY KEY,
            object TEXT NOT NULL,
            email_norm TEXT NULL,
            email TEXT NULL,
            ${optCols},
            is_converted INTEGER NOT NULL DEFAULT 0,
            converted_contact_id TEXT NULL
        )`);
        this.ws.exec(
            `CREATE INDEX ${this.table}_email ON ${this.table}(email_norm)`
        );
        this.insertStmt = this.ws.prepare(
            `INSERT OR REPLACE INTO ${this.table} (id, object, email_norm, email, ${OPT_OUT_FIELDS.map(
                col
            ).join(', ')}, is_converted, converted_contact_id)
             VALUES (?, ?, ?, ?, ${OPT_OUT_FIELDS.map(() => '?').join(', ')}, ?, ?)`
        );
    }

    drop(): void {
        this.ws.drop(this.table);
    }

    /** SOQL field list for an object. */
    private selectList(object: PersonObject): string {
        const base =
            object === 'Contact'
                ? [CONTACT.Id, CONTACT.Email]
                : [
                      LEAD.Id,
                      LEAD.Email,
                      LEAD.IsConverted,
                      LEAD.ConvertedContactId
                  ];
        return [...base, ...this.fields].join(', ');
    }

    /** Stores rows as read from Salesforce (REST or Bulk, already normalised). */
    insertRows(object: PersonObject, rows: readonly SObjectRow[]): void {
        this.ws.transaction(() => {
            for (const r of rows) {
                const id = id18(String(r.Id ?? ''));
                if (!id) continue;
                const values = OPT_OUT_FIELDS.map((f) =>
                    this.fields.includes(f)
                        ? r[f] === true || r[f] === 'true'
                            ? 1
                            : 0
                        : null
                );
                this.insertStmt.run([
                    id,
                    object,
                    emailKey(r.Email as string | null),
                    typeof r.Email === 'string' && r.Email.trim()
                        ? r.Email.trim()
                        : null,
                    ...values,
                    r.IsConverted === true || r.IsConverted === 'true' ? 1 : 0,
                    id18(r.ConvertedContactId as string | null)
                ]);
            }
        });
    }

    private toRecord(row: RecordRow): SfRecord {
        const optOut: Partial<Record<OptOutField, boolean>> = {};
        for (const f of this.fields) {
            const v = row[col(f)];
            if (v !== null && v !== undefined) optOut[f] = v === 1;
        }
        return {
            id: row.id,
            object: row.object,
            emailNorm: row.email_norm,
            optOut,
            isConverted: row.is_converted === 1,
            convertedContactId: row.converted_contact_id
        };
    }

    get(id: string): SfRecord | undefined {
        const row = this.ws
            .prepare(`SELECT * FROM ${this.table} WHERE id = ?`)
            .get(id) as RecordRow | undefined;
        return row && this.toRecord(row);
    }

    /** The records a person may match: by its id, and by email when R8 is on. */
    candidates(person: PersonRef, applyToSameEmail: boolean): SfRecord[] {
        const rows = this.ws
            .prepare(
                `SELECT * FROM ${this.table} WHERE id = ? OR (? = 1 AND email_norm = ?)`
            )
            .all(
                id18(person.salesforceId) ?? '',
                applyToSameEmail ? 1 : 0,
                person.emailNorm
            ) as RecordRow[];
        return rows.map((r) => this.toRecord(r));
    }

    /**
     * What links the records read to persons: their ids and the Contact ids of
     * converted Leads (R9), and their emails (R8), each once.
     */
    linkKeys(): { ids: string[]; emails: string[] } {
        const ids = (
            this.ws
                .prepare(
                    `SELECT id AS k FROM ${this.table}
                     UNION SELECT converted_contact_id FROM ${this.table} WHERE converted_contact_id IS NOT NULL`
                )
                .all() as { k: string }[]
        ).map((r) => r.k);
        const emails = (
            this.ws
                .prepare(
                    `SELECT DISTINCT email_norm AS k FROM ${this.table} WHERE email_norm IS NOT NULL`
                )
                .all() as { k: string }[]
        ).map((r) => r.k);
        return { ids, emails };
    }

    /** Records now known to have `field` true (written by this run). */
    markOptedOut(ids: readonly string[], field: OptOutField): void {
        if (!this.fields.includes(field) || ids.length === 0) return;
        const stmt = this.ws.prepare(
            `UPDATE ${this.table} SET ${col(field)} = 1 WHERE id = ?`
        );
        this.ws.transaction(() => {
            for (const id of ids) stmt.run(id);
        });
    }

    /** Every id read. */
    ids(): string[] {
        return (
            this.ws.prepare(`SELECT id FROM ${this.table}`).all() as {
                id: string;
            }[]
        ).map((r) => r.id);
    }

    /** Forgets these records. */
    remove(ids: readonly string[]): void {
        if (ids.length === 0) return;
        const stmt = this.ws.prepare(`DELETE FROM ${this.table} WHERE id = ?`);
        this.ws.transaction(() => {
            for (const id of ids) stmt.run(id);
        });
    }

    count(): number {
        return (
            this.ws
                .prepare(`SELECT COUNT(*) AS n FROM ${this.table}`)
                .get() as {
                n: number;
            }
        ).n;
    }

    /** Targeted queries for these persons, per object; null when too many for a lookup. */
    private lookupQueries(
        persons: readonly PersonRef[],
        applyToSameEmail: boolean
    ): Record<PersonObject, string[]> | null {
        const emails = applyToSameEmail
            ? [...new Set(persons.map((p) => p.emailNorm))]
            : [];
        const out = {} as Record<PersonObject, string[]>;
        for (const object of ['Contact', 'Lead'] as const) {
            const prefix =
                object === 'Contact' ? KEY_PREFIX.Contact : KEY_PREFIX.Lead;
            const ids = [
                ...new Set(
                    persons
                        .map((p) => id18(p.salesforceId))
                        .filter(
                            (id): id is string => !!id && id.startsWith(prefix)
                        )
                )
            ];
            const clauses = [
                ...(emails.length ? [{ field: 'Email', values: emails }] : []),
                ...(ids.length ? [{ field: 'Id', values: ids }] : [])
            ];
            const queries = clauses.length
                ? packInQueries(
                      `SELECT ${this.selectList(object)} FROM ${object}`,
                      clauses
                  )
                : [];
            if (queries.length > MAX_LOOKUP_QUERIES) return null;
            out[object] = queries;
        }
        return out;
    }

    /**
     * Loads the records these persons may match: targeted queries when they fit in a
     * few requests, else a full scan. Then the Contacts of converted Leads not read yet.
     */
    async loadFor(
        client: OrgClient,
        persons: readonly PersonRef[],
        options: { applyToSameEmail: boolean; onProgress?: Progress }
    ): Promise<'lookup' | 'scan'> {
        const queries = this.lookupQueries(persons, options.applyToSameEmail);
        if (!queries) {
            await this.loadAll(client, options.onProgress);
            return 'scan';
        }
        this.mode = 'lookup';
        // Contact and Lead queries together: up to five per Composite request.
        const objects = [
            ...queries.Contact.map(() => 'Contact' as const),
            ...queries.Lead.map(() => 'Lead' as const)
        ];
        for await (const page of client.queryEach([
            ...queries.Contact,
            ...queries.Lead
        ]))
            this.insertRows(objects[page.index], page.records);
        await this.loadConvertedContacts(client);
        return this.mode;
    }

    /** Every Contact and Lead (REST or Bulk, page by page). */
    async loadAll(
        client: OrgClient,
        onProgress?: Progress,
        onMode?: (object: PersonObject, mode: 'rest' | 'bulk') => void
    ): Promise<void> {
        this.mode = 'scan';
        for (const object of ['Contact', 'Lead'] as const) {
            let done = 0;
            for await (const rows of client.scan(
                `SELECT ${this.selectList(object)} FROM ${object}`,
                {
                    booleanFields: [...this.fields, LEAD.IsConverted],
                    onMode: (mode) => onMode?.(object, mode)
                }
            )) {
                this.insertRows(object, rows);
                done += rows.length;
                onProgress?.({ phase: `read ${object}s`, done });
            }
        }
    }

    /** The Contacts and Leads matching a SOQL condition (REST or Bulk, page by page). */
    async loadWhere(
        client: OrgClient,
        where: (object: PersonObject) => string,
        onProgress?: Progress,
        onMode?: (object: PersonObject, mode: 'rest' | 'bulk') => void
    ): Promise<void> {
        const soql = (object: PersonObject): string =>
            `SELECT ${this.selectList(object)} FROM ${object} WHERE ${where(object)}`;
        // Both first pages in one Composite request; each scan takes its own.
        await client.readAhead({
            queries: [{ soql: soql('Contact') }, { soql: soql('Lead') }]
        });
        for (const object of ['Contact', 'Lead'] as const) {
            let done = 0;
            for await (const rows of client.scan(soql(object), {
                booleanFields: [...this.fields, LEAD.IsConverted],
                onMode: (mode) => onMode?.(object, mode)
            })) {
                this.insertRows(object, rows);
                done += rows.length;
                onProgress?.({ phase: `read new ${object}s`, done });
            }
        }
    }

    /**
     * R9 the other way: the converted Leads whose Contact is one of `contactIds` (a
     * Contact read because it changed: the person of a Lead converted into it is
     * matched to it through the Lead). Targeted queries when they fit in a few
     * requests, else every converted Lead (REST or Bulk). Returns how many were read.
     */
    async loadConvertingLeads(
        client: OrgClient,
        contactIds: readonly string[]
    ): Promise<number> {
        if (contactIds.length === 0) return 0;
        const before = this.count();
        const queries = packInQueries(
            `SELECT ${this.selectList('Lead')} FROM ${SOBJECT.LEAD}`,
            [{ field: LEAD.ConvertedContactId, values: [...contactIds] }],
            { extraWhere: `${LEAD.IsConverted} = true` }
        );
        if (queries.length > MAX_LOOKUP_QUERIES) {
            for await (const rows of client.scan(
                `SELECT ${this.selectList('Lead')} FROM ${SOBJECT.LEAD} WHERE ${LEAD.IsConverted} = true`,
                { booleanFields: [...this.fields, LEAD.IsConverted] }
            ))
                this.insertRows('Lead', rows);
        } else
            for (const soql of queries)
                for await (const page of client.queryPages(soql))
                    this.insertRows('Lead', page.records);
        return this.count() - before;
    }

    /** The ids read of one object (only those with `withoutField` false, when given). */
    idsOf(object: PersonObject, withoutField?: OptOutField): string[] {
        const and = withoutField ? ` AND ${col(withoutField)} = 0` : '';
        return (
            this.ws
                .prepare(`SELECT id FROM ${this.table} WHERE object = ?${and}`)
                .all(object) as { id: string }[]
        ).map((r) => r.id);
    }

    /** R9: Contacts that converted Leads point at and that were not read. */
    async loadConvertedContacts(client: OrgClient): Promise<void> {
        const missing = (
            this.ws
                .prepare(
                    `SELECT DISTINCT l.converted_contact_id AS id FROM ${this.table} l
                     WHERE l.is_converted = 1 AND l.converted_contact_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM ${this.table} c WHERE c.id = l.converted_contact_id)`
                )
                .all() as { id: string }[]
        ).map((r) => r.id);
        if (missing.length === 0) return;
        for await (const page of client.queryEach(
            packInQueries(
                `SELECT ${this.selectList('Contact')} FROM ${SOBJECT.CONTACT}`,
                [{ field: 'Id', values: missing }]
            )
        ))
            this.insertRows('Contact', page.records);
    }
}

/** The Audience_Membership__c fields the jobs read (and the mirror keeps). */
export const AM_FIELDS = [
    AM.Id,
    AM.Membership_Key__c,
    AM.Contact__c,
    AM.Lead__c,
    AM.Audience_Id__c,
    AM.Audience_Name__c,
    AM.Email__c,
    AM.Status__c,
    AM.Status_Changed_At__c,
    AM.Source__c,
    AM.Unsubscribe_Reason__c,
    AM.Pending_Push__c
];

export const AUDIENCE_MEMBERSHIP_SELECT = `SELECT ${AM_FIELDS.join(', ')} FROM ${SOBJECT.AUDIENCE_MEMBERSHIP}`;

/** A row of Audience_Membership__c (REST or Bulk) → ExistingMembership. */
export function toExistingMembership(r: SObjectRow): ExistingMembership {
    const s = (k: string): string | null => {
        const v = r[k];
        return v === null || v === undefined || v === '' ? null : String(v);
    };
    return {
        id: String(r[AM.Id]),
        key: s(AM.Membership_Key__c) ?? '',
        contactId: s(AM.Contact__c),
        leadId: s(AM.Lead__c),
        audienceId: s(AM.Audience_Id__c),
        audienceName: s(AM.Audience_Name__c),
        email: s(AM.Email__c),
        status: s(AM.Status__c),
        changedAt: s(AM.Status_Changed_At__c),
        source: s(AM.Source__c),
        reason: s(AM.Unsubscribe_Reason__c),
        pending:
            r[AM.Pending_Push__c] === true || r[AM.Pending_Push__c] === 'true'
    };
}

/**
 * Existing Audience_Membership__c rows by Membership_Key__c — compared exactly: the key
 * is case-sensitive, so audiences `AbC` and `abc` never share a row — and by record and
 * audience, for rows re-parented by a merge (their key still names the merged-away
 * record).
 */
export class MembershipIndex {
    readonly table: string;
    mode: 'lookup' | 'scan' | 'empty' = 'empty';
    private readonly ws: Workspace;

    constructor(workspace: Workspace) {
        this.ws = workspace;
        this.table = tempName('sf_memberships');
        this.ws.exec(
            `CREATE TABLE ${this.table} (key TEXT PRIMARY KEY, record_id TEXT NULL,
             audience_id TEXT NULL, json TEXT NOT NULL)`
        );
        this.ws.exec(
            `CREATE INDEX ${this.table}_record ON ${this.table}(record_id, audience_id)`
        );
    }

    drop(): void {
        this.ws.drop(this.table);
    }

    insertRows(rows: readonly SObjectRow[]): void {
        this.insertExisting(rows.map(toExistingMembership));
    }

    /** Rows already in ExistingMembership form (the ledger's mirror of the org). */
    insertExisting(rows: readonly ExistingMembership[]): void {
        const stmt = this.ws.prepare(
            `INSERT OR REPLACE INTO ${this.table} (key, record_id, audience_id, json) VALUES (?, ?, ?, ?)`
        );
        this.ws.transaction(() => {
            for (const m of rows) {
                if (m.key)
                    stmt.run(
                        m.key,
                        id18(m.contactId) ?? id18(m.leadId),
                        m.audienceId,
                        JSON.stringify(m)
                    );
            }
        });
    }

    get(key: string): ExistingMembership | undefined {
        const row = this.ws
            .prepare(`SELECT json FROM ${this.table} WHERE key = ?`)
            .get(key) as { json: string } | undefined;
        return row ? (JSON.parse(row.json) as ExistingMembership) : undefined;
    }

    /**
     * The row a desired membership updates: the one with its key, else a row of the
     * same record and audience under another key — a merge in Salesforce re-parents the
     * loser's rows to the winner and keeps their `<audience>:<loser id>` key, and a
     * second row for the winner would show the audience twice. Callers write such a row
     * by its existing key.
     */
    find(fields: MembershipFields): ExistingMembership | undefined {
        const exact = this.get(fields[AM.Membership_Key__c]);
        if (exact) return exact;
        const recordId = fields[AM.Contact__c] ?? fields[AM.Lead__c];
        if (!recordId) return undefined;
        const row = this.ws
            .prepare(
                `SELECT json FROM ${this.table} WHERE record_id = ? AND audience_id = ? ORDER BY key LIMIT 1`
            )
            .get(recordId, fields[AM.Audience_Id__c]) as
            { json: string } | undefined;
        return row ? (JSON.parse(row.json) as ExistingMembership) : undefined;
    }

    /**
     * The rows to write for these desired rows, one per key. Merged records first: a
     * desired row whose record and audience have a row under another key is given that
     * key (so the upsert updates it). Then R13: the winning claim of each key. Returns
     * the winner per key; the caller decides for every claim with its key's winner.
     */
    claim<
        T extends {
            fields: MembershipFields;
            meta: { personId: number | null };
        }
    >(writes: readonly T[]): Map<string, T> {
        for (const w of writes) {
            const existing = this.find(w.fields);
            if (existing) w.fields[AM.Membership_Key__c] = existing.key;
        }
        return oneRowPerKey(
            writes,
            (w) => w.fields[AM.Membership_Key__c],
            (w) => membershipClaim(w.fields, w.meta.personId)
        );
    }

    /**
     * Loads the rows with these keys or on these rows' records (targeted), or every row
     * (scan) when that takes too many queries.
     */
    async loadFor(
        client: OrgClient,
        wanted: readonly MembershipFields[],
        onProgress?: Progress
    ): Promise<'lookup' | 'scan'> {
        if (wanted.length === 0) return 'lookup';
        // By record: a row's key names its record, so this finds the rows by key too,
        // and a record's id is shorter than its keys (one per audience) in the URI.
        // The rows of a merged-away record hang on the winner, so they come along.
        const contacts = wanted
            .map((f) => f[AM.Contact__c])
            .filter((id): id is string => !!id);
        const leads = wanted
            .map((f) => f[AM.Lead__c])
            .filter((id): id is string => !!id);
        const keys = wanted
            .filter((f) => !f[AM.Contact__c] && !f[AM.Lead__c])
            .map((f) => f[AM.Membership_Key__c]);
        const queries = packInQueries(AUDIENCE_MEMBERSHIP_SELECT, [
            { field: AM.Contact__c, values: contacts },
            { field: AM.Lead__c, values: leads },
            { field: AM.Membership_Key__c, values: keys }
        ]);
        if (queries.length > MAX_LOOKUP_QUERIES) {
            this.mode = 'scan';
            let done = 0;
            for await (const rows of client.scan(AUDIENCE_MEMBERSHIP_SELECT, {
                booleanFields: [AM.Pending_Push__c]
            })) {
                this.insertRows(rows);
                done += rows.length;
                onProgress?.({ phase: 'read audience memberships', done });
            }
            return 'scan';
        }
        this.mode = 'lookup';
        for await (const page of client.queryEach(queries))
            this.insertRows(page.records);
        return 'lookup';
    }
}
