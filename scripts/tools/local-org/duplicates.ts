/**
 * Duplicate rules of the local org: the standard Contact and Lead duplicate rules of an
 * org created since Summer '17, which match across both objects
 * (https://help.salesforce.com/s/articleView?id=sales.duplicate_rules_standard_contact_rule.htm,
 * https://help.salesforce.com/s/articleView?id=sales.duplicate_rules_standard_lead_rule.htm),
 * with the Alert action on create AND on edit. Out of the box Salesforce alerts on
 * create only and just reports on edit; an admin who ticks "Alert" on edit (common, and
 * what the issue asks the local org to model) makes every API update of a record that
 * has a duplicate fail, whichever field the update changes. The local org takes that
 * stricter setting (org option `duplicateRules`, on by default).
 *
 * An API save can't show an alert, so an Alert rule refuses it with DUPLICATES_DETECTED
 * unless the request carries `Sforce-Duplicate-Rule-Header: allowSave=true` (REST API
 * 52.0 and later: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_duplicaterules.htm;
 * "For a duplicate rule, when the Alert option is enabled, bypass alerts and save
 * duplicate records by setting this property to true":
 * https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_header_duplicateruleheader.htm).
 * An Allow-with-alert rule blocks Data Loader saves too
 * (http://www.cloudkaam.com/2018/07/), and a Bulk job has no way to send the header
 * (https://github.com/simple-salesforce/simple-salesforce/issues/628), so Bulk ingest
 * rows fail the same way whatever headers the job's requests carried.
 *
 * Matching is on Email alone, case-insensitive, against non-deleted Contacts and
 * unconverted Leads. The standard matching rules are fuzzier (first and last name AND
 * email, or name and phone, company, address…:
 * https://help.salesforce.com/s/articleView?id=sales.matching_rules_standard_contact_rule.htm):
 * the local org flags every same-email pair, also where the names differ.
 *
 * "If you're saving multiple records at the same time … records within the same save
 * aren't compared to each other; they are only compared with records already in
 * Salesforce" (https://help.salesforce.com/s/articleView?id=sales.duplicate_rules_overview.htm):
 * a DuplicateCheck is one save. A record written earlier in the same save is compared
 * as it was before the save (a record created in it not at all).
 */
import type { IncomingMessage } from 'node:http';
import type { OrgContext } from './context';
import { type ObjectDef, findField, quoteIdent, tableName } from './schema';
import type { OrgStore, WriteResult } from './store';
import { RecordFailure } from './values';

/** The standard rules' alert text, which is also the error message. */
export const DUPLICATE_MESSAGE = 'Use one of these records?';

type Checked = 'Contact' | 'Lead';

const RULES: Record<Checked, { duplicateRule: string; matchRule: string }> = {
    Contact: {
        duplicateRule: 'Standard_Contact_Duplicate_Rule',
        matchRule: 'Standard_Contact_Match_Rule_v1_1'
    },
    Lead: {
        duplicateRule: 'Standard_Lead_Duplicate_Rule',
        matchRule: 'Standard_Lead_Match_Rule_v1_0'
    }
};

export interface MatchRecord {
    additionalInformation: unknown[];
    fieldDiffs: unknown[];
    matchConfidence: number;
    record: { attributes: { type: string; url: string }; Id: string };
}

export interface MatchResult {
    entityType: string;
    errors: unknown[];
    matchEngine: string;
    matchRecords: MatchRecord[];
    rule: string;
    size: number;
    success: boolean;
}

/** Salesforce's DuplicateResult (SOAP API object reference, DuplicateResult). */
export interface DuplicateResult {
    allowSave: boolean;
    duplicateRule: string;
    duplicateRuleEntityType: string;
    errorMessage: string;
    matchResults: MatchResult[];
}

/** A save refused by a duplicate rule: the record error plus the rule's findings. */
export class DuplicateFailure extends RecordFailure {
    constructor(readonly duplicateResult: DuplicateResult) {
        super({
            statusCode: 'DUPLICATES_DETECTED',
            message: DUPLICATE_MESSAGE,
            fields: []
        });
    }
}

/**
 * The body of a single-record REST answer (400) for a duplicate. Salesforce spells the
 * key `duplicateResut` in REST answers, a long-standing typo that client code depends
 * on (a GitHub code search for "duplicateResut" finds handlers in many integrations,
 * with captured answers such as
 * `[{"duplicateResut":{"allowSave":true,"duplicateRule":"Standard_Contact_Duplicate_Rule",…},"errorCode":"DUPLICATES_DETECTED","message":…}]`);
 * the answer has no `fields` key. sObject Collections report the same failure as a
 * plain `{statusCode, message, fields}` error
 * (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite_allornone.htm).
 */
export function duplicateErrorBody(
    f: DuplicateFailure
): Array<Record<string, unknown>> {
    return [
        {
            duplicateResut: f.duplicateResult,
            errorCode: f.error.statusCode,
            message: f.error.message
        }
    ];
}

/** `allowSave=true; includeRecordDetails=false; …` → whether allowSave is true. */
export function headerAllowsSave(
    value: string | string[] | undefined
): boolean {
    const text = Array.isArray(value) ? value.join(';') : (value ?? '');
    return text.split(/[;,]/).some((part) => {
        const [k, v] = part.split('=').map((s) => s.trim().toLowerCase());
        return k === 'allowsave' && v === 'true';
    });
}

/** Whether a REST request asks to save duplicates (the header exists from API 52.0). */
export function requestAllowsSave(
    req: IncomingMessage,
    apiVersion: string
): boolean {
    if (Number.parseFloat(apiVersion) < 52) return false;
    return headerAllowsSave(req.headers['sforce-duplicate-rule-header']);
}

const indexed = new WeakMap<OrgStore, number>();

/**
 * Case-insensitive email lookups use an index on lower(Email) (SQLite uses an
 * expression index when the query repeats the expression), so a Bulk job of many
 * Contacts does not scan the table once per row.
 */
function ensureEmailIndexes(store: OrgStore): void {
    if (indexed.get(store) === store.schemaVersion) return;
    for (const name of ['Contact', 'Lead'] as const) {
        const obj = store.getObject(name);
        if (!obj || !findField(obj, 'Email')) continue;
        store.db.exec(
            `CREATE INDEX IF NOT EXISTS ${quoteIdent(`ix_${name}_EmailLower`)} ON ${quoteIdent(tableName(name))} (lower("Email"))`
        );
    }
    indexed.set(store, store.schemaVersion);
}

interface Before {
    type: Checked;
    /** Lower-cased email before the save; null for a record created in it. */
    email: string | null;
}

/** One save's duplicate check (a REST request, or a chunk of a Bulk job). */
export class DuplicateCheck {
    private readonly before = new Map<string, Before>();

    constructor(
        private readonly store: OrgStore,
        private readonly active: boolean,
        private readonly apiVersion: string
    ) {
        if (active) ensureEmailIndexes(store);
    }

    /** The check for a REST request: off when the org has no rules or allowSave=true. */
    static forRequest(
        org: OrgContext,
        req: IncomingMessage,
        apiVersion: string
    ): DuplicateCheck {
        return new DuplicateCheck(
            org.store,
            org.settings.options.duplicateRules &&
                !requestAllowsSave(req, apiVersion),
            apiVersion
        );
    }

    /** The check for a Bulk ingest save: Bulk requests can't carry the header. */
    static forBulk(org: OrgContext, apiVersion: string): DuplicateCheck {
        return new DuplicateCheck(
            org.store,
            org.settings.options.duplicateRules,
            apiVersion
        );
    }

    private checked(obj: ObjectDef): Checked | undefined {
        if (!this.active) return undefined;
        return obj.name === 'Contact' || obj.name === 'Lead'
            ? obj.name
            : undefined;
    }

    /**
     * Runs one record's write as Salesforce saves it: the write (field checks,
     * validation rules…), then the duplicate rules; a duplicate undoes the write (a
     * savepoint: better-sqlite3 nests transactions) and throws DuplicateFailure.
     * `targetId` is the existing record the write updates, when known before it runs.
     */
    run(
        obj: ObjectDef,
        targetId: string | undefined,
        write: () => WriteResult
    ): WriteResult {
        const type = this.checked(obj);
        if (!type) return write();
        if (targetId) this.remember(type, targetId);
        return this.store.db.transaction(() => {
            const res = write();
            if (res.created) this.before.set(res.id, { type, email: null });
            const found = this.duplicates(type, res.id);
            if (found) throw new DuplicateFailure(found);
            return res;
        })();
    }

    /** The existing record an upsert on `field` = `value` will update, if any. */
    upsertTarget(
        obj: ObjectDef,
        fieldName: string,
        value: unknown
    ): string | undefined {
        if (!this.checked(obj) || value === undefined || value === null)
            return undefined;
        const field = findField(obj, fieldName);
        if (!field) return undefined;
        const row = this.store
            .prepare(
                `SELECT "Id" AS id FROM ${quoteIdent(tableName(obj.name))} WHERE ${quoteIdent(field.name)} = ? AND "IsDeleted" = 0 LIMIT 2`
            )
            .all(String(value)) as Array<{ id: string }>;
        return row.length === 1 ? row[0].id : undefined;
    }

    private remember(type: Checked, id: string): void {
        if (this.before.has(id)) return;
        const row = this.store
            .prepare(
                `SELECT lower("Email") AS email FROM ${quoteIdent(tableName(type))} WHERE "Id" = ?`
            )
            .get(id) as { email: string | null } | undefined;
        if (row) this.before.set(id, { type, email: row.email || null });
    }

    /** What the rules find for a record just written, or undefined. */
    private duplicates(type: Checked, id: string): DuplicateResult | undefined {
        const self = this.store
            .prepare(
                `SELECT lower("Email") AS email FROM ${quoteIdent(tableName(type))} WHERE "Id" = ?`
            )
            .get(id) as { email: string | null } | undefined;
        const email = self?.email || null;
        if (!email) return undefined;
        // The record's own object first, then the other one (cross-object rule).
        const order: Checked[] =
            type === 'Contact' ? ['Contact', 'Lead'] : ['Lead', 'Contact'];
        const matchResults: MatchResult[] = [];
        for (const target of order) {
            const ids = this.matches(target, email, id);
            if (ids.length === 0) continue;
            matchResults.push({
                entityType: target,
                errors: [],
                matchEngine: 'FuzzyMatchEngine',
                matchRecords: ids.map((mid) => ({
                    additionalInformation: [],
                    fieldDiffs: [],
                    matchConfidence: 100.0,
                    record: {
                        attributes: {
                            type: target,
                            url: `/services/data/v${this.apiVersion}/sobjects/${target}/${mid}`
                        },
                        Id: mid
                    }
                })),
                rule: RULES[target].matchRule,
                size: ids.length,
                success: true
            });
        }
        if (matchResults.length === 0) return undefined;
        return {
            // The standard rules are Allow (with alert): allowSave=true saves anyway.
            allowSave: true,
            duplicateRule: RULES[type].duplicateRule,
            duplicateRuleEntityType: type,
            errorMessage: DUPLICATE_MESSAGE,
            matchResults
        };
    }

    /** Ids of `target` records that had `email` before this save, other than `self`. */
    private matches(target: Checked, email: string, self: string): string[] {
        const converted = target === 'Lead' ? ' AND "IsConverted" = 0' : '';
        const rows = this.store
            .prepare(
                `SELECT "Id" AS id FROM ${quoteIdent(tableName(target))} WHERE lower("Email") = ? AND "IsDeleted" = 0${converted} AND "Id" <> ? LIMIT 100`
            )
            .all(email, self) as Array<{ id: string }>;
        const out = rows
            .map((r) => r.id)
            .filter((mid) => {
                const b = this.before.get(mid);
                return !b || b.email === email;
            });
        // Records this save changed away from the email still count as they were.
        for (const [mid, b] of this.before) {
            if (b.type !== target || b.email !== email || mid === self)
                continue;
            if (out.includes(mid)) continue;
            const live = this.store
                .prepare(
                    `SELECT 1 AS ok FROM ${quoteIdent(tableName(target))} WHERE "Id" = ? AND "IsDeleted" = 0${converted}`
                )
                .get(mid);
            if (live) out.push(mid);
        }
        return out.sort();
    }
}
