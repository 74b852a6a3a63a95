/**
 * Runs compiled SOQL: REST query pages with query locators (nextRecordsUrl), and the
 * cursors Bulk API 2.0 query jobs page through. Paging is keyset-based on the row id
 * when rows come in insertion order, and over a materialised list of row ids when the
 * query has its own ORDER BY (or OFFSET); either way the set of rows is fixed when the
 * query starts, as a Salesforce query cursor is.
 */
import { makeId } from '../../model/ids';
import { ApiError } from './errors';
import type { FieldDef } from './schema';
import { currentActor, readFilter } from './sharing';
import {
    type ChildPlan,
    type CompiledQuery,
    type ShapeNode,
    compileSoql
} from './soql';
import type { OrgStore, Row } from './store';
import { csvQuote, toCsvText, toJson } from './values';

export interface QueryPage {
    totalSize: number;
    done: boolean;
    nextRecordsUrl?: string;
    records: unknown[];
}

interface Cursor {
    id: string;
    compiled: CompiledQuery;
    queryAll: boolean;
    kind: 'keyset' | 'seq';
    /** Highest _rid at start (keyset): rows inserted later are not part of the result. */
    maxRid: number;
    /** Rows in the result. */
    total: number;
    /** delivered-row count → position (last _rid or seq) after those rows. */
    positions: Map<number, number>;
    lastUsed: number;
    batchSize: number;
    /** 'query' or 'queryAll' in nextRecordsUrl. */
    resource: string;
    /** The sharing condition of the user who opened it (sharing.ts), kept for every page. */
    filter: RowFilter | null;
    /** REST cursors are evicted LRU; bulk job cursors live with their job. */
    bulk: boolean;
}

type RowFilter = { sql: string; params: string[] };

const CURSOR_TTL_MS = 15 * 60_000;
/** Salesforce keeps at most 10 open query cursors per user; older ones become invalid. */
const MAX_REST_CURSORS = 10;

export class QueryEngine {
    private compiledCache = new Map<string, CompiledQuery>();
    private cacheVersion = -1;
    private cursors = new Map<string, Cursor>();
    private cursorCounter = 1;

    constructor(private readonly store: OrgStore) {
        store.db.exec(
            `CREATE TABLE IF NOT EXISTS _lo_cursor_rows (cursor TEXT NOT NULL, seq INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (cursor, seq)) WITHOUT ROWID;
             DELETE FROM _lo_cursor_rows;`
        );
    }

    compile(soql: string): CompiledQuery {
        if (this.cacheVersion !== this.store.schemaVersion) {
            this.compiledCache.clear();
            this.cacheVersion = this.store.schemaVersion;
        }
        // Relative date literals depend on the clock: cache only queries without them.
        const cacheable =
            !/\b(TODAY|YESTERDAY|TOMORROW|LAST_|NEXT_|THIS_|N_DAYS|N_WEEKS|N_MONTHS|N_YEARS)/i.test(
                soql
            );
        const hit = cacheable ? this.compiledCache.get(soql) : undefined;
        if (hit) return hit;
        const compiled = compileSoql(this.store, soql);
        if (cacheable) {
            if (this.compiledCache.size > 500) this.compiledCache.clear();
            this.compiledCache.set(soql, compiled);
        }
        return compiled;
    }

    /**
     * The rows the acting user may see (sharing.ts): a condition on the query's main
     * object, or null for administrators and objects without owner sharing.
     */
    private sharingFilter(q: CompiledQuery): RowFilter | null {
        return readFilter(
            currentActor(),
            q.obj.name,
            't0',
            this.store.sharingOptions
        );
    }

    /** WHERE (deleted rows, the query's own filter, sharing); its parameters follow q.params. */
    private whereClause(
        q: CompiledQuery,
        queryAll: boolean,
        filter: RowFilter | null = null
    ): string {
        const parts: string[] = [];
        if (q.hasDeletedColumn && !queryAll) parts.push('t0."IsDeleted" = 0');
        if (q.whereSql) parts.push(`(${q.whereSql})`);
        if (filter) parts.push(filter.sql);
        return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
    }

    /** The query's parameters followed by the sharing filter's. */
    private whereParams(q: CompiledQuery, filter: RowFilter | null): unknown[] {
        return filter ? [...q.params, ...filter.params] : q.params;
    }

    private limitClause(q: CompiledQuery): { sql: string; params: number[] } {
        if (q.limit === null && q.offset === null)
            return { sql: '', params: [] };
        return {
            sql: ' LIMIT ? OFFSET ?',
            params: [q.limit ?? -1, q.offset ?? 0]
        };
    }

    // ---- REST ----------------------------------------------------------------

    /** First page of a REST query / queryAll. */
    query(
        soql: string,
        options: { queryAll: boolean; batchSize: number; apiVersion: string }
    ): QueryPage {
        const q = this.compile(soql);
        const filter = this.sharingFilter(q);
        const where = this.whereClause(q, options.queryAll, filter);
        const params = this.whereParams(q, filter);
        if (q.mode === 'count') {
            const lim = this.limitClause(q);
            const sql = lim.sql
                ? `SELECT COUNT(*) AS c0 FROM (SELECT 1 FROM ${q.fromSql}${where}${lim.sql})`
                : `SELECT COUNT(*) AS c0 FROM ${q.fromSql}${where}`;
            const row = this.store
                .prepare(sql)
                .get([...params, ...lim.params]) as { c0: number };
            return { totalSize: row.c0, done: true, records: [] };
        }
        if (q.mode === 'aggregate') {
            const lim = this.limitClause(q);
            const rows = this.store
                .prepare(
                    `SELECT ${q.selectSql.join(', ')} FROM ${q.fromSql}${where}${q.orderSql}${lim.sql}`
                )
                .all([...params, ...lim.params]) as Row[];
            const records = rows.map((r) => {
                const rec: Record<string, unknown> = {
                    attributes: { type: 'AggregateResult' }
                };
                for (const a of q.aggregates) {
                    const v = r[a.alias];
                    rec[a.key] = a.isCount
                        ? Number(v)
                        : a.field
                          ? v === null && a.field.type !== 'boolean'
                              ? null
                              : toJson(a.field, v)
                          : v;
                }
                return rec;
            });
            return { totalSize: records.length, done: true, records };
        }
        const batch = options.batchSize;
        const resource = options.queryAll ? 'queryAll' : 'query';
        // Small results: one statement, no cursor.
        if (q.ridOrder && q.offset === null) {
            const want =
                q.limit === null ? batch + 1 : Math.min(batch + 1, q.limit);
            const rows = this.store
                .prepare(
                    `SELECT ${q.selectSql.join(', ')}, t0._rid AS __rid FROM ${q.fromSql}${where} ORDER BY t0._rid LIMIT ?`
                )
                .all([...params, want]) as Row[];
            if (rows.length <= batch) {
                return {
                    totalSize: rows.length,
                    done: true,
                    records: this.shapeRows(q, rows, options.apiVersion)
                };
            }
        }
        const cursor = this.openCursor(q, options.queryAll, {
            bulk: false,
            batchSize: batch,
            resource
        });
        return this.restPage(cursor, 0, options.apiVersion);
    }

    /** A later page: locator `01g…-N` (N = rows already delivered). */
    queryMore(
        locator: string,
        apiVersion: string,
        batchSize?: number
    ): QueryPage {
        const m = /^(01g[0-9A-Za-z]{12,15})-(\d+)$/.exec(locator);
        const cursor = m ? this.cursors.get(m[1]) : undefined;
        const delivered = m ? Number(m[2]) : -1;
        if (
            !cursor ||
            cursor.bulk ||
            !cursor.positions.has(delivered) ||
            Date.now() - cursor.lastUsed > CURSOR_TTL_MS
        ) {
            throw new ApiError(
                400,
                'INVALID_QUERY_LOCATOR',
                'invalid query locator'
            );
        }
        if (batchSize) cursor.batchSize = batchSize;
        return this.restPage(cursor, delivered, apiVersion);
    }

    private restPage(
        cursor: Cursor,
        delivered: number,
        apiVersion: string
    ): QueryPage {
        const rows = this.fetch(cursor, delivered, cursor.batchSize);
        const next = delivered + rows.length;
        const done = next >= cursor.total || rows.length === 0;
        const page: QueryPage = {
            totalSize: cursor.total,
            done,
            records: this.shapeRows(cursor.compiled, rows, apiVersion)
        };
        // A finished cursor stays (until evicted or expired) so that a client that
        // lost the last page on a dropped connection can fetch it again.
        if (done) return page;
        return {
            totalSize: page.totalSize,
            done: false,
            nextRecordsUrl: `/services/data/v${apiVersion}/${cursor.resource}/${cursor.id}-${next}`,
            records: page.records
        };
    }

    /** `query?q=…&columns=true`: the query's column metadata (sf data query uses it). */
    columns(soql: string): Record<string, unknown> {
        const q = this.compile(soql);
        const fieldColumn = (f: FieldDef): Record<string, unknown> => ({
            aggregate: false,
            apexType: apexType(f),
            booleanType: f.type === 'boolean',
            columnName: f.name,
            custom: f.custom,
            displayName: f.name,
            foreignKeyName: null,
            insertable: f.createable,
            joinColumns: [],
            numberType: ['double', 'int', 'currency', 'percent'].includes(
                f.type
            ),
            textType: ![
                'boolean',
                'double',
                'int',
                'currency',
                'percent',
                'date',
                'datetime'
            ].includes(f.type),
            updatable: f.updateable
        });
        const nodeColumns = (node: ShapeNode): Array<Record<string, unknown>> =>
            node.entries.map((e) => {
                if (e.kind === 'field') return fieldColumn(e.field);
                const join =
                    e.kind === 'parent'
                        ? nodeColumns(e.node)
                        : nodeColumns(e.plan.shape);
                return {
                    aggregate: e.kind === 'child',
                    apexType: null,
                    booleanType: false,
                    columnName: e.key,
                    custom: e.key.endsWith('__r'),
                    displayName: e.key,
                    foreignKeyName: null,
                    insertable: false,
                    joinColumns: join,
                    numberType: false,
                    textType: false,
                    updatable: false
                };
            });
        const columnMetadata =
            q.mode === 'aggregate'
                ? q.aggregates.map((a) => ({
                      ...(a.field
                          ? fieldColumn(a.field)
                          : fieldColumn({
                                name: a.key,
                                label: a.key,
                                type: 'int',
                                custom: false,
                                nillable: true,
                                createable: false,
                                updateable: false
                            })),
                      aggregate: a.display !== a.field?.name,
                      columnName: a.key,
                      displayName: a.display
                  }))
                : q.mode === 'count'
                  ? []
                  : nodeColumns(q.shape);
        return {
            columnMetadata,
            entityName: q.obj.name,
            groupBy: q.mode === 'aggregate' && /GROUP BY/.test(q.orderSql),
            idSelected: q.flat.some((c) => c.header === 'Id'),
            keyPrefix: q.obj.keyPrefix
        };
    }

    // ---- cursors ---------------------------------------------------------------

    /** Fixes the result set of a records query and returns a cursor over it. */
    openCursor(
        q: CompiledQuery,
        queryAll: boolean,
        options: { bulk: boolean; batchSize: number; resource: string }
    ): Cursor {
        if (q.mode !== 'records') {
            throw new ApiError(
                400,
                'MALFORMED_QUERY',
                'Aggregate queries have no cursor'
            );
        }
        this.expireCursors();
        const id = makeId('01g', this.cursorCounter++, '8d');
        const filter = this.sharingFilter(q);
        const where = this.whereClause(q, queryAll, filter);
        const params = this.whereParams(q, filter);
        const lim = this.limitClause(q);
        let cursor: Cursor;
        if (q.ridOrder && q.offset === null) {
            const max = this.store
                .prepare(
                    `SELECT MAX(_rid) AS m FROM ${q.fromSql.split(' ')[0]}`
                )
                .get() as { m: number | null };
            const maxRid = max.m ?? 0;
            const countSql = lim.sql
                ? `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${q.fromSql}${where}${lim.sql})`
                : `SELECT COUNT(*) AS n FROM ${q.fromSql}${where}`;
            const { n } = this.store
                .prepare(countSql)
                .get([...params, ...lim.params]) as { n: number };
            cursor = {
                id,
                compiled: q,
                queryAll,
                kind: 'keyset',
                maxRid,
                total: n,
                positions: new Map([[0, 0]]),
                lastUsed: Date.now(),
                batchSize: options.batchSize,
                resource: options.resource,
                bulk: options.bulk,
                filter
            };
        } else {
            const order = q.orderSql ? `${q.orderSql}, t0._rid` : 't0._rid';
            const info = this.store
                .prepare(
                    `INSERT INTO _lo_cursor_rows (cursor, seq, rid) SELECT ?, seq, rid FROM (SELECT ROW_NUMBER() OVER (ORDER BY ${order}) AS seq, t0._rid AS rid FROM ${q.fromSql}${where} ORDER BY ${order}${lim.sql})`
                )
                .run([id, ...params, ...lim.params]);
            cursor = {
                id,
                compiled: q,
                queryAll,
                kind: 'seq',
                maxRid: 0,
                total: info.changes,
                positions: new Map([[0, 0]]),
                lastUsed: Date.now(),
                batchSize: options.batchSize,
                resource: options.resource,
                bulk: options.bulk,
                filter
            };
        }
        this.cursors.set(id, cursor);
        if (!options.bulk) this.evictRestCursors();
        return cursor;
    }

    /** Up to `n` rows after `delivered` rows of the cursor. */
    fetch(cursor: Cursor, delivered: number, n: number): Row[] {
        const after = cursor.positions.get(delivered);
        if (after === undefined) {
            throw new ApiError(
                400,
                'INVALID_QUERY_LOCATOR',
                'invalid query locator'
            );
        }
        cursor.lastUsed = Date.now();
        const want = Math.max(0, Math.min(n, cursor.total - delivered));
        if (want === 0) return [];
        const q = cursor.compiled;
        let rows: Row[];
        if (cursor.kind === 'keyset') {
            const base = this.whereClause(q, cursor.queryAll, cursor.filter);
            const where = `${base ? `${base} AND` : ' WHERE'} t0._rid > ? AND t0._rid <= ?`;
            rows = this.store
                .prepare(
                    `SELECT ${q.selectSql.join(', ')}, t0._rid AS __rid FROM ${q.fromSql}${where} ORDER BY t0._rid LIMIT ?`
                )
                .all([
                    ...this.whereParams(q, cursor.filter),
                    after,
                    cursor.maxRid,
                    want
                ]) as Row[];
            if (rows.length > 0) {
                cursor.positions.set(
                    delivered + rows.length,
                    rows[rows.length - 1].__rid as number
                );
            }
        } else {
            const table = q.fromSql.split(' ')[0];
            rows = this.store
                .prepare(
                    `SELECT ${q.selectSql.join(', ')}, cr.seq AS __seq FROM _lo_cursor_rows cr JOIN ${table} t0 ON t0._rid = cr.rid ${q.joinsSql} WHERE cr.cursor = ? AND cr.seq > ? ORDER BY cr.seq LIMIT ?`
                )
                .all([cursor.id, after, want]) as Row[];
            if (rows.length > 0) {
                cursor.positions.set(
                    delivered + rows.length,
                    rows[rows.length - 1].__seq as number
                );
            }
        }
        // REST cursors keep a few recent positions (a client may re-read the last
        // page); bulk cursors keep every page start (results can be re-read).
        if (!cursor.bulk && cursor.positions.size > 8) {
            const keys = [...cursor.positions.keys()].sort((a, b) => a - b);
            for (const k of keys.slice(0, keys.length - 8))
                cursor.positions.delete(k);
        }
        return rows;
    }

    /** Whether a cursor exists and has a position after `delivered` rows. */
    peekPosition(id: string, delivered: number): boolean {
        return this.cursors.get(id)?.positions.has(delivered) === true;
    }

    fetchByCursorId(id: string, delivered: number, n: number): Row[] {
        const cursor = this.cursors.get(id);
        if (!cursor)
            throw new ApiError(
                400,
                'INVALID_QUERY_LOCATOR',
                'invalid query locator'
            );
        return this.fetch(cursor, delivered, n);
    }

    closeCursor(id: string): void {
        const c = this.cursors.get(id);
        if (!c) return;
        this.cursors.delete(id);
        if (c.kind === 'seq') {
            this.store
                .prepare('DELETE FROM _lo_cursor_rows WHERE cursor = ?')
                .run(id);
        }
    }

    private expireCursors(): void {
        const now = Date.now();
        for (const c of [...this.cursors.values()]) {
            if (!c.bulk && now - c.lastUsed > CURSOR_TTL_MS)
                this.closeCursor(c.id);
        }
    }

    private evictRestCursors(): void {
        const rest = [...this.cursors.values()]
            .filter((c) => !c.bulk)
            .sort((a, b) => a.lastUsed - b.lastUsed);
        while (rest.length > MAX_REST_CURSORS) {
            const c = rest.shift() as Cursor;
            this.closeCursor(c.id);
        }
    }

    /** Open cursors (REST and bulk), for stats. */
    get openCursors(): number {
        return this.cursors.size;
    }

    // ---- output ------------------------------------------------------------------

    private shapeRows(
        q: CompiledQuery,
        rows: Row[],
        apiVersion: string
    ): unknown[] {
        const records = rows.map((r) => shapeRecord(q.shape, r, apiVersion));
        if (q.children.length && records.length) {
            const ids = rows.map((r) => r[q.shape.idAlias] as string);
            q.shape.entries.forEach((entry) => {
                if (entry.kind !== 'child') return;
                const byParent = this.childRows(entry.plan, ids, apiVersion);
                records.forEach((rec, i) => {
                    const kids = byParent.get(ids[i]?.toLowerCase() ?? '');
                    (rec as Record<string, unknown>)[entry.key] = kids
                        ? { totalSize: kids.length, done: true, records: kids }
                        : null;
                });
            });
        }
        return records;
    }

    private childRows(
        plan: ChildPlan,
        parentIds: string[],
        apiVersion: string
    ): Map<string, unknown[]> {
        const out = new Map<string, unknown[]>();
        const chunk = 500;
        for (let i = 0; i < parentIds.length; i += chunk) {
            const ids = parentIds.slice(i, i + chunk);
            const rows = this.store
                .prepare(
                    `SELECT ${plan.selectSql.join(', ')} FROM ${plan.fromSql} WHERE ${
                        plan.whereSql ? `${plan.whereSql} AND ` : ''
                    }${fkColumn(plan)} IN (${ids
                        .map(() => '?')
                        .join(', ')}) ORDER BY ${plan.orderSql}`
                )
                .all([...plan.params, ...ids]) as Row[];
            for (const r of rows) {
                const key = String(r[plan.fkAlias]).toLowerCase();
                let list = out.get(key);
                if (!list) {
                    list = [];
                    out.set(key, list);
                }
                if (plan.limit === null || list.length < plan.limit) {
                    list.push(shapeRecord(plan.shape, r, apiVersion));
                }
            }
        }
        return out;
    }

    /** Bulk API 2.0 CSV header line. */
    csvHeader(q: CompiledQuery, sep = ',', eol = '\n'): string {
        return `${q.flat.map((c) => csvQuote(c.header)).join(sep)}${eol}`;
    }

    /** Bulk API 2.0 CSV lines for rows (every value quoted, null as empty). */
    csvRows(q: CompiledQuery, rows: Row[], sep = ',', eol = '\n'): string {
        const cols = q.flat;
        let out = '';
        for (const r of rows) {
            let line = '';
            for (let i = 0; i < cols.length; i++) {
                if (i) line += sep;
                const v = r[cols[i].alias];
                if (v === null || v === undefined) {
                    if (cols[i].field.type === 'boolean') line += '"false"';
                    continue;
                }
                line += csvQuote(toCsvText(cols[i].field, v));
            }
            out += `${line}${eol}`;
        }
        return out;
    }
}

function apexType(f: FieldDef): string {
    switch (f.type) {
        case 'id':
        case 'reference':
            return 'Id';
        case 'boolean':
            return 'Boolean';
        case 'datetime':
            return 'Datetime';
        case 'date':
            return 'Date';
        case 'double':
        case 'percent':
            return 'Double';
        case 'currency':
            return 'Decimal';
        case 'int':
            return 'Integer';
        default:
            return 'String';
    }
}

function fkColumn(plan: ChildPlan): string {
    // The child's alias is the first word after the table in fromSql.
    const alias = plan.fromSql.split(' ')[1];
    return `${alias}."${plan.fkField.name}"`;
}

function sobjectUrl(type: string, id: unknown, apiVersion: string): string {
    return `/services/data/v${apiVersion}/sobjects/${type}/${String(id)}`;
}

/** One record in the REST shape: attributes, then the selected fields in order. */
export function shapeRecord(
    node: ShapeNode,
    row: Row,
    apiVersion: string
): Record<string, unknown> {
    const rec: Record<string, unknown> = {
        attributes: {
            type: node.obj.name,
            url: sobjectUrl(node.obj.name, row[node.idAlias], apiVersion)
        }
    };
    for (const entry of node.entries) {
        if (entry.kind === 'field') {
            rec[entry.key] = toJson(entry.field, row[entry.alias]);
        } else if (entry.kind === 'parent') {
            const pid = row[entry.node.idAlias];
            rec[entry.key] =
                pid === null || pid === undefined
                    ? null
                    : shapeRecord(entry.node, row, apiVersion);
        } else {
            rec[entry.key] = null;
        }
    }
    return rec;
}

/** A field's JSON value (exported for the sObject row endpoints). */
export function jsonValue(field: FieldDef, value: unknown): unknown {
    return toJson(field, value);
}
