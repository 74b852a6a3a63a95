/**
 * The local org's data: one SQLite table per sObject with typed columns, the schema
 * (object definitions as JSON), and the write path every API shares (REST rows,
 * sObject Collections, Bulk API 2.0): field checks, defaults, required fields,
 * lookups, uniqueness, validation rules, converted leads, soft delete.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { makeId, normalizeId } from '../../model/ids';
import {
    type FieldDef,
    type ObjectDef,
    columnDecl,
    findField,
    quoteIdent,
    standardObjects,
    tableName
} from './schema';
import {
    type ColumnValue,
    type ValueSource,
    RecordFailure,
    recordError,
    toColumn,
    toWholeSecond
} from './values';
import {
    type FormulaNode,
    FormulaUnsupported,
    evaluateFormula,
    parseFormula
} from './formula';
import type { OrgOptions } from './context';
import {
    type Access,
    INSUFFICIENT_ACCESS,
    canDelete,
    canEdit,
    currentActor
} from './sharing';
import {
    checkAssignment,
    checkOwner,
    customPermissionsFor,
    ensureAccessModel
} from './users';

export type Row = Record<string, unknown>;

interface InsertPlan {
    defaults: Array<[string, string | number]>;
    hasOwner: boolean;
    derivedName: boolean;
    required: FieldDef[];
    references: FieldDef[];
    uniques: FieldDef[];
    autoNumbers: FieldDef[];
    hasRules: boolean;
    system: Record<
        | 'CreatedDate'
        | 'CreatedById'
        | 'IsDeleted'
        | 'LastModifiedDate'
        | 'LastModifiedById'
        | 'SystemModstamp',
        boolean
    >;
}

export interface WriteResult {
    id: string;
    created?: boolean;
}

/** The pod letters in every id this org issues (the "instance" part of an id). */
const POD = '8d';

const ORG_NAME = 'Local Org';

/** Objects whose changes alter some user's record access (see accessVersion). */
const ACCESS_OBJECTS = new Set([
    'User',
    'Profile',
    'PermissionSet',
    'ObjectPermissions',
    'PermissionSetAssignment',
    'CustomPermission',
    'SetupEntityAccess'
]);
const USER_NAME = 'admin@optout.local';

/**
 * A unique index that cannot be built because rows already share a value (a field made
 * unique, or case-insensitive, over duplicates). Salesforce refuses the change with
 * "Duplicate value found when building unique index" (Knowledge Article 000385434,
 * https://help.salesforce.com/s/articleView?id=000385434&type=1).
 */
export class UniqueIndexFailure extends Error {
    constructor(
        readonly objectName: string,
        readonly fieldName: string
    ) {
        super('Duplicate value found when building unique index');
    }
}

export class OrgStore {
    readonly db: Database.Database;
    orgId = '';
    userId = '';
    accessToken = '';
    /**
     * Bumped whenever users, profiles, permission sets, object permissions or
     * assignments change: cached per-user access (users.ts accessFor) is then stale.
     */
    accessVersion = 0;
    /** The org's sharing options (the server points this at its live settings). */
    sharingOptions: Pick<OrgOptions, 'leadSharing'> = {
        leadSharing: 'ReadWrite'
    };
    /** Bumped whenever a deploy changes the schema (invalidates compiled queries). */
    schemaVersion = 0;
    readonly counters = { inserted: 0, updated: 0, deleted: 0 };

    private objects = new Map<string, ObjectDef>();
    private prefixes = new Map<string, ObjectDef>();
    private nextRid = new Map<string, number>();
    private statements = new Map<string, Database.Statement>();
    private formulas = new Map<string, FormulaNode | null>();

    constructor(readonly dbPath: string) {
        // A first start in a fresh clone: `.optout/` does not exist yet.
        if (dbPath !== ':memory:')
            mkdirSync(dirname(dbPath), { recursive: true });
        // One connection per org: a short busy timeout makes a locked file fail fast.
        this.db = new Database(dbPath, { timeout: 200 });
        if (dbPath !== ':memory:') {
            // One org process per database file: a second opener gets "database is locked".
            this.db.pragma('locking_mode = EXCLUSIVE');
            this.db.pragma('journal_mode = WAL');
        }
        // OFF is safe when the process dies (WAL is in the OS cache); only a power loss
        // could lose the last writes, which is acceptable for a development org.
        this.db.pragma('synchronous = OFF');
        this.db.pragma('wal_autocheckpoint = 10000');
        this.db.pragma('temp_store = MEMORY');
        this.db.pragma('cache_size = -65536');
        this.init();
    }

    close(): void {
        if (this.db.open) this.db.close();
    }

    // ---- schema -------------------------------------------------------------

    private init(): void {
        this.db.exec(`
            CREATE TABLE IF NOT EXISTS _lo_meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS _lo_objects (name TEXT PRIMARY KEY COLLATE NOCASE, def TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS _lo_autonumber (object TEXT, field TEXT, next INTEGER NOT NULL, PRIMARY KEY (object, field));
            CREATE TABLE IF NOT EXISTS _lo_components (type TEXT NOT NULL, fullName TEXT NOT NULL, fileName TEXT, content BLOB, deployId TEXT, PRIMARY KEY (type, fullName));
            CREATE TABLE IF NOT EXISTS _lo_deploys (id TEXT PRIMARY KEY, result TEXT NOT NULL);
        `);
        const orgId = this.getMeta('orgId');
        if (!orgId) {
            this.db.transaction(() => this.bootstrap())();
        }
        this.orgId = this.getMeta('orgId') as string;
        this.userId = this.getMeta('userId') as string;
        this.accessToken = this.getMeta('accessToken') as string;
        this.loadSchema();
        ensureAccessModel(this, standardObjects());
    }

    /** Invalidates every user's cached record access (see accessVersion). */
    accessChanged(): void {
        this.accessVersion++;
    }

    /**
     * The user a write runs as: the request's session user (sharing.ts), or undefined
     * for the org itself (setup, deploys, admin routes), which sharing does not limit.
     */
    private actor(): Access | undefined {
        return currentActor();
    }

    /** Refuses a write to a record the acting user may not change (sharing.ts). */
    private checkWriteAccess(
        obj: ObjectDef,
        row: Row,
        op: 'edit' | 'delete'
    ): void {
        const actor = this.actor();
        // Modify All Data (every admin request): no per-row work at all.
        if (!actor || actor.modifyAllData) return;
        const ok =
            op === 'edit'
                ? canEdit(actor, obj.name, row, this.sharingOptions)
                : canDelete(actor, obj.name, row);
        if (!ok)
            throw recordError(
                INSUFFICIENT_ACCESS.statusCode,
                INSUFFICIENT_ACCESS.message
            );
    }

    /**
     * Users, profiles and permission sets are setup: changing them needs an
     * administrator (Salesforce asks for Manage Users / Assign Permission Sets, which
     * the local org's Standard User profile does not have).
     */
    private checkSetupAccess(obj: ObjectDef): void {
        if (!ACCESS_OBJECTS.has(obj.name)) return;
        const actor = this.actor();
        if (actor && !actor.modifyAllData)
            throw recordError(
                INSUFFICIENT_ACCESS.statusCode,
                INSUFFICIENT_ACCESS.message
            );
    }

    private bootstrap(): void {
        const orgId = makeId('00D', 1, POD);
        const userId = makeId('005', 1, POD);
        // sf accepts access tokens shaped <15-char org id>!<letters, digits, dots>.
        const secret = randomBytes(48)
            .toString('base64')
            .replace(/[^A-Za-z0-9]/g, '')
            .slice(0, 54);
        const token = `${orgId.slice(0, 15)}!AQ.${secret}`;
        // A throw-away org gets a username of its own: @salesforce/core keeps one auth
        // file (and file lock) per username, and parallel test orgs must not share one.
        const username =
            this.dbPath === ':memory:'
                ? `admin.${randomBytes(5).toString('hex')}@optout.local`
                : USER_NAME;
        this.setMeta('orgId', orgId);
        this.setMeta('userId', userId);
        this.setMeta('accessToken', token);
        for (const def of standardObjects()) this.createObject(def);
        this.reloadSchemaCache();
        const now = this.stamp();
        const org = this.getObject('Organization') as ObjectDef;
        const user = this.getObject('User') as ObjectDef;
        this.insertRaw(
            org,
            {
                Id: orgId,
                Name: ORG_NAME,
                OrganizationType: 'Developer Edition',
                InstanceName: 'LOCAL',
                IsSandbox: 0,
                DefaultLocaleSidKey: 'en_US',
                LanguageLocaleKey: 'en_US',
                TimeZoneSidKey: 'America/Los_Angeles'
            },
            now,
            userId
        );
        this.insertRaw(
            user,
            {
                Id: userId,
                Username: username,
                FirstName: 'Local',
                LastName: 'Admin',
                Name: 'Local Admin',
                Alias: 'ladmin',
                Email: username,
                IsActive: 1,
                UserType: 'Standard',
                TimeZoneSidKey: 'America/Los_Angeles',
                LocaleSidKey: 'en_US',
                LanguageLocaleKey: 'en_US',
                EmailEncodingKey: 'UTF-8'
            },
            now,
            userId
        );
    }

    getMeta(key: string): string | undefined {
        const row = this.db
            .prepare('SELECT value FROM _lo_meta WHERE key = ?')
            .get(key) as { value: string } | undefined;
        return row?.value;
    }

    setMeta(key: string, value: string): void {
        this.db
            .prepare(
                'INSERT INTO _lo_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'
            )
            .run(key, value);
    }

    private loadSchema(): void {
        this.reloadSchemaCache();
        for (const def of this.objects.values()) {
            const row = this.db
                .prepare(
                    `SELECT MAX(_rid) AS m FROM ${quoteIdent(tableName(def.name))}`
                )
                .get() as { m: number | null };
            this.nextRid.set(def.name, (row.m ?? 0) + 1);
        }
    }

    /** Re-reads object definitions from the database (after a deploy commits). */
    reloadSchemaCache(): void {
        this.objects.clear();
        this.prefixes.clear();
        this.statements.clear();
        const rows = this.db
            .prepare('SELECT def FROM _lo_objects')
            .all() as Array<{ def: string }>;
        for (const r of rows) {
            const def = JSON.parse(r.def) as ObjectDef;
            this.objects.set(def.name.toLowerCase(), def);
            this.prefixes.set(def.keyPrefix, def);
            if (!this.nextRid.has(def.name)) this.nextRid.set(def.name, 1);
        }
        this.schemaVersion++;
    }

    getObject(name: string): ObjectDef | undefined {
        return this.objects.get(name.toLowerCase());
    }

    listObjects(): ObjectDef[] {
        return [...this.objects.values()].sort((a, b) =>
            a.name.localeCompare(b.name)
        );
    }

    objectForId(id: string): ObjectDef | undefined {
        return this.prefixes.get(id.slice(0, 3));
    }

    /** Objects with a lookup to `name`, with the lookup field. */
    childReferences(
        name: string
    ): Array<{ child: ObjectDef; field: FieldDef }> {
        const out: Array<{ child: ObjectDef; field: FieldDef }> = [];
        for (const child of this.objects.values()) {
            for (const field of child.fields) {
                if (
                    field.type === 'reference' &&
                    field.relationshipName &&
                    !field.system &&
                    field.referenceTo?.some(
                        (r) => r.toLowerCase() === name.toLowerCase()
                    ) &&
                    !['CreatedById', 'LastModifiedById', 'OwnerId'].includes(
                        field.name
                    )
                ) {
                    out.push({ child, field });
                }
            }
        }
        return out;
    }

    /** A key prefix for a new custom object: a00, a01, … (as Salesforce hands out). */
    allocateKeyPrefix(): string {
        const alphabet =
            '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
        const used = new Set(this.prefixes.keys());
        for (const a of 'abcdefghijklm') {
            for (const b of alphabet) {
                for (const c of alphabet) {
                    const p = `${a}${b}${c}`;
                    if (!used.has(p)) return p;
                }
            }
        }
        throw new Error('no key prefix left');
    }

    /** Creates an object's table and stores its definition (inside the caller's transaction). */
    createObject(def: ObjectDef): void {
        const table = quoteIdent(tableName(def.name));
        const cols = def.fields.map(columnDecl);
        this.db.exec(
            `CREATE TABLE ${table} (_rid INTEGER PRIMARY KEY, ${cols.join(', ')})`
        );
        this.db.exec(
            `CREATE UNIQUE INDEX ${quoteIdent(`ux_${def.name}_Id`)} ON ${table} ("Id")`
        );
        if (findField(def, 'SystemModstamp')) {
            this.db.exec(
                `CREATE INDEX ${quoteIdent(`ix_${def.name}_SystemModstamp`)} ON ${table} ("SystemModstamp")`
            );
        }
        for (const field of def.fields) this.createFieldIndex(def, field);
        this.saveObjectDef(def);
    }

    /** Adds columns (and their indexes) for new fields of an existing object. */
    addFields(def: ObjectDef, fields: FieldDef[]): void {
        const table = quoteIdent(tableName(def.name));
        for (const field of fields) {
            this.db.exec(
                `ALTER TABLE ${table} ADD COLUMN ${columnDecl(field)}`
            );
            if (
                field.defaultValue !== undefined &&
                field.defaultValue !== null
            ) {
                // Existing rows get the default, as Salesforce back-fills checkboxes.
                if (field.type === 'boolean') {
                    this.db
                        .prepare(
                            `UPDATE ${table} SET ${quoteIdent(field.name)} = ?`
                        )
                        .run(field.defaultValue ? 1 : 0);
                }
            }
            this.createFieldIndex(def, field);
        }
    }

    /**
     * Rebuilds the indexes of a field whose definition changed (unique, external id,
     * case sensitivity). A text column is rebuilt too: its collation (NOCASE, or exact
     * for a case-sensitive unique field) decides unique checks, upsert matching and SOQL
     * `=`, and SQLite cannot change a column's collation in place.
     */
    reindexField(def: ObjectDef, field: FieldDef): void {
        for (const prefix of ['ux', 'ix']) {
            this.db.exec(
                `DROP INDEX IF EXISTS ${quoteIdent(`${prefix}_${def.name}_${field.name}`)}`
            );
        }
        if (/ TEXT( COLLATE NOCASE)?$/.test(columnDecl(field))) {
            const table = quoteIdent(tableName(def.name));
            const col = quoteIdent(field.name);
            const old = quoteIdent(`lo_old_${field.name}`);
            this.db.exec(`ALTER TABLE ${table} RENAME COLUMN ${col} TO ${old}`);
            this.db.exec(
                `ALTER TABLE ${table} ADD COLUMN ${columnDecl(field)}`
            );
            this.db.exec(`UPDATE ${table} SET ${col} = ${old}`);
            this.db.exec(`ALTER TABLE ${table} DROP COLUMN ${old}`);
        }
        try {
            this.createFieldIndex(def, field);
        } catch (err) {
            if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE')
                throw new UniqueIndexFailure(def.name, field.name);
            throw err;
        }
    }

    private createFieldIndex(def: ObjectDef, field: FieldDef): void {
        const table = quoteIdent(tableName(def.name));
        const col = quoteIdent(field.name);
        if (field.name === 'Id') return;
        if (field.unique && findField(def, 'IsDeleted')) {
            this.db.exec(
                `CREATE UNIQUE INDEX ${quoteIdent(`ux_${def.name}_${field.name}`)} ON ${table} (${col}) WHERE "IsDeleted" = 0`
            );
            return;
        }
        const audit = ['CreatedById', 'LastModifiedById', 'OwnerId'];
        if (
            field.externalId ||
            field.unique ||
            field.type === 'email' ||
            (field.type === 'reference' && !audit.includes(field.name))
        ) {
            // Lookups are mostly empty: index only the rows that have one
            // (SQLite still uses it for "col = ?" and joins).
            const partial =
                field.type === 'reference' ? ` WHERE ${col} IS NOT NULL` : '';
            this.db.exec(
                `CREATE INDEX ${quoteIdent(`ix_${def.name}_${field.name}`)} ON ${table} (${col})${partial}`
            );
        }
    }

    saveObjectDef(def: ObjectDef): void {
        this.db
            .prepare(
                'INSERT INTO _lo_objects (name, def) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET def = excluded.def'
            )
            .run(def.name, JSON.stringify(def));
    }

    // ---- time and ids -------------------------------------------------------

    /**
     * A write timestamp: the current whole second (one stamp per request or per bulk
     * slice, as records saved together share one in Salesforce). Salesforce keeps
     * DateTime to the second, so several writes, even several requests, can share one
     * SystemModstamp: a cursor on it needs a look-back (see toWholeSecond for sources).
     */
    stamp(): number {
        return toWholeSecond(Date.now());
    }

    private newId(obj: ObjectDef): { rid: number; id: string } {
        const rid = this.nextRid.get(obj.name) ?? 1;
        this.nextRid.set(obj.name, rid + 1);
        return { rid, id: makeId(obj.keyPrefix, rid, POD) };
    }

    // ---- statements ---------------------------------------------------------

    prepare(sql: string): Database.Statement {
        let stmt = this.statements.get(sql);
        if (!stmt) {
            stmt = this.db.prepare(sql);
            this.statements.set(sql, stmt);
        }
        return stmt;
    }

    getRow(obj: ObjectDef, id: string): Row | undefined {
        return this.prepare(
            `SELECT * FROM ${quoteIdent(tableName(obj.name))} WHERE "Id" = ?`
        ).get(id) as Row | undefined;
    }

    // ---- writes -------------------------------------------------------------

    /** The first key of a record that is not a field of the object (request-level check). */
    unknownField(obj: ObjectDef, keys: string[]): string | undefined {
        return keys.find(
            (k) => k !== 'attributes' && findField(obj, k) === undefined
        );
    }

    /** Field values of an incoming record, converted and checked. */
    private convertInput(
        obj: ObjectDef,
        input: Record<string, unknown>,
        source: ValueSource,
        mode: 'create' | 'update'
    ): Map<FieldDef, ColumnValue> {
        const values = new Map<FieldDef, ColumnValue>();
        const notWritable: string[] = [];
        for (const [key, raw0] of Object.entries(input)) {
            if (key === 'attributes') continue;
            let raw = raw0;
            if (source === 'csv') {
                if (raw === '' || raw === undefined) continue; // empty = unchanged
                if (raw === '#N/A') raw = null;
            }
            const field = findField(obj, key);
            if (!field) {
                throw recordError(
                    'INVALID_FIELD',
                    `No such column '${key}' on sobject of type ${obj.name}`
                );
            }
            if (field.name === 'Id') {
                if (mode === 'create' && raw !== null && raw !== undefined) {
                    throw recordError(
                        'INVALID_FIELD_FOR_INSERT_UPDATE',
                        'cannot specify Id in an insert call',
                        ['Id']
                    );
                }
                continue;
            }
            const writable =
                mode === 'create' ? field.createable : field.updateable;
            if (!writable) {
                notWritable.push(field.name);
                continue;
            }
            values.set(field, toColumn(field, raw, source));
        }
        if (notWritable.length > 0) {
            throw recordError(
                'INVALID_FIELD_FOR_INSERT_UPDATE',
                `Unable to create/update fields: ${notWritable.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
                notWritable
            );
        }
        return values;
    }

    private checkReference(field: FieldDef, id: string): void {
        const targets = (field.referenceTo ?? [])
            .map((n) => this.getObject(n))
            .filter((o): o is ObjectDef => o !== undefined);
        const target = targets.find((t) => t.keyPrefix === id.slice(0, 3));
        if (!target) {
            throw recordError(
                'FIELD_INTEGRITY_EXCEPTION',
                `${field.label}: id value of incorrect type: ${id}`,
                [field.name]
            );
        }
        const hasDeleted = findField(target, 'IsDeleted') !== undefined;
        const row = this.prepare(
            `SELECT ${hasDeleted ? '"IsDeleted"' : '0'} AS d FROM ${quoteIdent(
                tableName(target.name)
            )} WHERE "Id" = ?`
        ).get(id) as { d: number } | undefined;
        if (!row) {
            throw recordError(
                'INVALID_CROSS_REFERENCE_KEY',
                'invalid cross reference id',
                [field.name]
            );
        }
        if (row.d) {
            throw recordError('ENTITY_IS_DELETED', 'entity is deleted', [
                field.name
            ]);
        }
    }

    private checkUnique(
        obj: ObjectDef,
        field: FieldDef,
        value: ColumnValue,
        selfId: string | null
    ): void {
        if (value === null) return;
        const hasDeleted = findField(obj, 'IsDeleted') !== undefined;
        const row = this.prepare(
            `SELECT "Id" AS id FROM ${quoteIdent(tableName(obj.name))} WHERE ${quoteIdent(
                field.name
            )} = ?${hasDeleted ? ' AND "IsDeleted" = 0' : ''} AND "Id" IS NOT ? LIMIT 1`
        ).get(value, selfId) as { id: string } | undefined;
        if (row) {
            throw recordError(
                'DUPLICATE_VALUE',
                `duplicate value found: ${field.name} duplicates value on record with id: ${row.id}`
            );
        }
    }

    private compiledRule(formula: string): FormulaNode | null {
        if (!this.formulas.has(formula)) {
            try {
                this.formulas.set(formula, parseFormula(formula));
            } catch (err) {
                if (!(err instanceof FormulaUnsupported)) throw err;
                this.formulas.set(formula, null);
            }
        }
        return this.formulas.get(formula) ?? null;
    }

    private runValidationRules(
        obj: ObjectDef,
        record: Row,
        prior: Row | undefined
    ): void {
        if (obj.validationRules.length === 0) return;
        // `$Permission.X` is about the acting user (the request's session user; the
        // org's own admin outside a request). Looked up only when a rule reaches it,
        // and then from the per-user cache: no SQL per row.
        let held: ReadonlySet<string> | undefined;
        const hasPermission = (name: string): boolean => {
            held ??= customPermissionsFor(
                this,
                this.actor()?.userId ?? this.userId
            );
            return held.has(name.toLowerCase());
        };
        for (const rule of obj.validationRules) {
            if (!rule.active || !rule.supported) continue;
            const node = this.compiledRule(rule.errorConditionFormula);
            if (!node) continue;
            const valueOf = (row: Row | undefined, name: string): unknown => {
                const field = findField(obj, name);
                if (!field || !row) return undefined;
                const v = row[field.name];
                if (field.type === 'boolean') return v === 1 || v === true;
                return v === undefined ? null : v;
            };
            let hit: unknown;
            try {
                hit = evaluateFormula(node, {
                    get: (n) => valueOf(record, n),
                    prior: (n) => valueOf(prior, n),
                    isNew: prior === undefined,
                    hasPermission
                });
            } catch (err) {
                if (err instanceof FormulaUnsupported) continue;
                throw err;
            }
            if (hit === true) {
                const display = rule.errorDisplayField
                    ? findField(obj, rule.errorDisplayField)?.name
                    : undefined;
                throw recordError(
                    'FIELD_CUSTOM_VALIDATION_EXCEPTION',
                    rule.errorMessage,
                    display ? [display] : []
                );
            }
        }
    }

    /** Fields whose value Salesforce computes from others (Name of Contact, Lead, User). */
    private computeDerived(obj: ObjectDef, row: Row): void {
        const name = findField(obj, 'Name');
        if (
            name &&
            !name.createable &&
            !name.autoNumberFormat &&
            findField(obj, 'LastName') &&
            findField(obj, 'FirstName')
        ) {
            row.Name = [row.FirstName, row.LastName]
                .filter((x) => x !== null && x !== undefined && x !== '')
                .join(' ');
        }
    }

    private nextAutoNumber(obj: ObjectDef, field: FieldDef): string {
        const row = this.prepare(
            'SELECT next FROM _lo_autonumber WHERE object = ? AND field = ?'
        ).get(obj.name, field.name) as { next: number } | undefined;
        const n = row?.next ?? 1;
        this.prepare(
            'INSERT INTO _lo_autonumber (object, field, next) VALUES (?, ?, ?) ON CONFLICT(object, field) DO UPDATE SET next = excluded.next'
        ).run(obj.name, field.name, n + 1);
        const format = field.autoNumberFormat ?? '{0}';
        return format.replace(/\{(0+)\}/, (_, zeros: string) =>
            String(n).padStart(zeros.length, '0')
        );
    }

    /** Inserts a row as given (bootstrap and admin use); no checks. */
    insertRaw(
        obj: ObjectDef,
        values: Row,
        now: number,
        userId: string
    ): string {
        const { rid, id } = this.newId(obj);
        const row: Row = { ...values };
        if (!row.Id) row.Id = id;
        this.fillSystem(obj, row, now, userId, true);
        this.insertRow(obj, rid, row);
        return row.Id as string;
    }

    private fillSystem(
        obj: ObjectDef,
        row: Row,
        now: number,
        userId: string,
        create: boolean
    ): void {
        const has = this.insertPlan(obj).system;
        if (create) {
            if (has.CreatedDate) row.CreatedDate = now;
            if (has.CreatedById) row.CreatedById = userId;
            if (has.IsDeleted && row.IsDeleted === undefined) row.IsDeleted = 0;
        }
        if (has.LastModifiedDate) row.LastModifiedDate = now;
        if (has.LastModifiedById) row.LastModifiedById = userId;
        if (has.SystemModstamp) row.SystemModstamp = now;
    }

    private insertStatements = new WeakMap<ObjectDef, Database.Statement>();

    private insertRow(obj: ObjectDef, rid: number, row: Row): void {
        let stmt = this.insertStatements.get(obj);
        if (!stmt) {
            const cols = obj.fields.map((fd) => fd.name);
            stmt = this.prepare(
                `INSERT INTO ${quoteIdent(tableName(obj.name))} (_rid, ${cols
                    .map(quoteIdent)
                    .join(', ')}) VALUES (?, ${cols.map(() => '?').join(', ')})`
            );
            this.insertStatements.set(obj, stmt);
        }
        const args: unknown[] = [rid];
        for (const fd of obj.fields) {
            const v = row[fd.name];
            args.push(
                v === undefined || v === null
                    ? fd.type === 'boolean'
                        ? 0
                        : null
                    : typeof v === 'boolean'
                      ? v
                          ? 1
                          : 0
                      : v
            );
        }
        stmt.run(args);
    }

    /** Creates one record. Throws RecordFailure with Salesforce's error. */
    insert(
        obj: ObjectDef,
        input: Record<string, unknown>,
        source: ValueSource,
        now: number
    ): WriteResult {
        if (!obj.createable) {
            throw recordError(
                'INVALID_TYPE_FOR_OPERATION',
                `entity type ${obj.name} does not support insert`
            );
        }
        const plan = this.insertPlan(obj);
        const values = this.convertInput(obj, input, source, 'create');
        const row: Row = {};
        for (const [name, v] of plan.defaults) row[name] = v;
        for (const [field, v] of values) row[field.name] = v;
        this.checkSetupAccess(obj);
        const actingId = this.actor()?.userId ?? this.userId;
        if (plan.hasOwner && !row.OwnerId) row.OwnerId = actingId;
        if (plan.derivedName) this.computeDerived(obj, row);
        this.checkRequired(obj, row, plan.required);
        for (const field of plan.references) {
            const v = row[field.name];
            // The org's own user always exists (the default owner).
            if (
                typeof v === 'string' &&
                !(
                    field.name === 'OwnerId' &&
                    (v === this.userId || v === actingId)
                )
            ) {
                this.checkReference(field, v);
                if (field.name === 'OwnerId') checkOwner(this, obj, v);
            }
        }
        if (obj.name === 'PermissionSetAssignment') checkAssignment(this, row);
        if (plan.hasRules) this.runValidationRules(obj, row, undefined);
        for (const field of plan.uniques) {
            this.checkUnique(
                obj,
                field,
                (row[field.name] ?? null) as ColumnValue,
                null
            );
        }
        for (const field of plan.autoNumbers)
            row[field.name] = this.nextAutoNumber(obj, field);
        const { rid, id } = this.newId(obj);
        row.Id = id;
        this.fillSystem(obj, row, now, actingId, true);
        this.insertRow(obj, rid, row);
        this.counters.inserted++;
        if (ACCESS_OBJECTS.has(obj.name)) this.accessChanged();
        return { id, created: true };
    }

    private plans = new WeakMap<ObjectDef, InsertPlan>();

    /** What an insert into this object has to do, worked out once per definition. */
    private insertPlan(obj: ObjectDef): InsertPlan {
        let plan = this.plans.get(obj);
        if (!plan) {
            const name = findField(obj, 'Name');
            plan = {
                defaults: obj.fields
                    .filter(
                        (f) =>
                            f.defaultValue !== undefined &&
                            f.defaultValue !== null
                    )
                    .map((f) => [
                        f.name,
                        typeof f.defaultValue === 'boolean'
                            ? f.defaultValue
                                ? 1
                                : 0
                            : (f.defaultValue as string | number)
                    ]),
                hasOwner: findField(obj, 'OwnerId') !== undefined,
                derivedName:
                    !!name &&
                    !name.createable &&
                    !name.autoNumberFormat &&
                    !!findField(obj, 'LastName') &&
                    !!findField(obj, 'FirstName'),
                required: obj.fields.filter((f) => f.required),
                references: obj.fields.filter(
                    (f) => f.type === 'reference' && !f.system
                ),
                uniques: obj.fields.filter((f) => f.unique && !f.system),
                autoNumbers: obj.fields.filter(
                    (f) => f.autoNumberFormat !== undefined
                ),
                hasRules: obj.validationRules.some(
                    (r) => r.active && r.supported
                ),
                system: {
                    CreatedDate: !!findField(obj, 'CreatedDate'),
                    CreatedById: !!findField(obj, 'CreatedById'),
                    IsDeleted: !!findField(obj, 'IsDeleted'),
                    LastModifiedDate: !!findField(obj, 'LastModifiedDate'),
                    LastModifiedById: !!findField(obj, 'LastModifiedById'),
                    SystemModstamp: !!findField(obj, 'SystemModstamp')
                }
            };
            this.plans.set(obj, plan);
        }
        return plan;
    }

    private checkRequired(
        obj: ObjectDef,
        row: Row,
        required?: FieldDef[]
    ): void {
        const missing = (required ?? obj.fields.filter((fd) => fd.required))
            .filter(
                (fd) =>
                    row[fd.name] === null ||
                    row[fd.name] === undefined ||
                    row[fd.name] === ''
            )
            .map((fd) => fd.name);
        if (missing.length > 0) {
            throw recordError(
                'REQUIRED_FIELD_MISSING',
                `Required fields are missing: [${missing.join(', ')}]`,
                missing
            );
        }
    }

    /** The row of an id for a write, or the Salesforce error for a bad/deleted/missing id. */
    private rowForWrite(obj: ObjectDef, rawId: unknown): Row {
        const check =
            typeof rawId === 'string' ? normalizeId(rawId) : undefined;
        if (!check || !check.ok || check.prefix !== obj.keyPrefix) {
            throw recordError(
                'MALFORMED_ID',
                `${obj.label} ID: id value of incorrect type: ${String(rawId)}`,
                ['Id']
            );
        }
        const row = this.getRow(obj, check.id);
        if (!row) {
            throw recordError(
                'INVALID_CROSS_REFERENCE_KEY',
                'invalid cross reference id'
            );
        }
        if (row.IsDeleted) {
            throw recordError('ENTITY_IS_DELETED', 'entity is deleted');
        }
        return row;
    }

    /** Updates one record by id. */
    update(
        obj: ObjectDef,
        rawId: unknown,
        input: Record<string, unknown>,
        source: ValueSource,
        now: number
    ): WriteResult {
        const existing = this.rowForWrite(obj, rawId);
        return this.updateRow(obj, existing, input, source, now);
    }

    private updateRow(
        obj: ObjectDef,
        existing: Row,
        input: Record<string, unknown>,
        source: ValueSource,
        now: number
    ): WriteResult {
        const id = existing.Id as string;
        if (!obj.updateable) {
            throw recordError(
                'INVALID_TYPE_FOR_OPERATION',
                `entity type ${obj.name} does not support update`
            );
        }
        this.checkWriteAccess(obj, existing, 'edit');
        this.checkSetupAccess(obj);
        if (obj.name === 'Lead' && existing.IsConverted) {
            throw recordError(
                'CANNOT_UPDATE_CONVERTED_LEAD',
                'cannot reference converted lead'
            );
        }
        const values = this.convertInput(obj, input, source, 'update');
        const row: Row = { ...existing };
        for (const [field, v] of values) row[field.name] = v;
        this.computeDerived(obj, row);
        this.checkRequired(obj, row);
        for (const [field, v] of values) {
            if (
                field.type === 'reference' &&
                typeof v === 'string' &&
                v !== existing[field.name]
            ) {
                this.checkReference(field, v);
                if (field.name === 'OwnerId') checkOwner(this, obj, v);
            }
        }
        this.runValidationRules(obj, row, existing);
        for (const [field, v] of values) {
            if (field.unique) this.checkUnique(obj, field, v, id);
        }
        this.fillSystem(
            obj,
            row,
            now,
            this.actor()?.userId ?? this.userId,
            false
        );
        const changed = obj.fields.filter(
            (fd) =>
                values.has(fd) ||
                fd.name === 'Name' ||
                fd.name === 'LastModifiedDate' ||
                fd.name === 'LastModifiedById' ||
                fd.name === 'SystemModstamp'
        );
        const stmt = this.prepare(
            `UPDATE ${quoteIdent(tableName(obj.name))} SET ${changed
                .map((fd) => `${quoteIdent(fd.name)} = ?`)
                .join(', ')} WHERE "Id" = ?`
        );
        stmt.run([
            ...changed.map((fd) => {
                const v = row[fd.name];
                if (v === undefined || v === null)
                    return fd.type === 'boolean' ? 0 : null;
                return typeof v === 'boolean' ? (v ? 1 : 0) : v;
            }),
            id
        ]);
        this.counters.updated++;
        if (ACCESS_OBJECTS.has(obj.name)) this.accessChanged();
        return { id, created: false };
    }

    /**
     * Upsert on an external id field (or Id): updates the one match, creates when there
     * is none, fails when several records match.
     */
    upsert(
        obj: ObjectDef,
        extField: FieldDef,
        input: Record<string, unknown>,
        source: ValueSource,
        now: number
    ): WriteResult {
        const key = Object.keys(input).find(
            (k) => k.toLowerCase() === extField.name.toLowerCase()
        );
        const raw = key === undefined ? undefined : input[key];
        if (extField.name === 'Id') {
            if (raw === undefined || raw === null || raw === '') {
                const rest = { ...input };
                if (key !== undefined) delete rest[key];
                return this.insert(obj, rest, source, now);
            }
            const res = this.update(
                obj,
                raw,
                Object.fromEntries(
                    Object.entries(input).filter(([k]) => k !== key)
                ),
                source,
                now
            );
            return { id: res.id, created: false };
        }
        if (raw === undefined || raw === null || raw === '') {
            throw recordError(
                'MISSING_ARGUMENT',
                `${extField.name} not specified`
            );
        }
        const value = toColumn(extField, raw, source);
        const hasDeleted = findField(obj, 'IsDeleted') !== undefined;
        const matches = this.prepare(
            `SELECT * FROM ${quoteIdent(tableName(obj.name))} WHERE ${quoteIdent(
                extField.name
            )} = ?${hasDeleted ? ' AND "IsDeleted" = 0' : ''} LIMIT 2`
        ).all(value) as Row[];
        if (matches.length > 1) {
            throw recordError(
                'DUPLICATE_EXTERNAL_ID',
                `${extField.label}: more than one record found for external id field: [${matches
                    .map((m) => m.Id as string)
                    .join(', ')}]`,
                [extField.name]
            );
        }
        if (matches.length === 1) {
            const rest = Object.fromEntries(
                Object.entries(input).filter(([k]) => k !== key)
            );
            return this.updateRow(obj, matches[0], rest, source, now);
        }
        return this.insert(obj, input, source, now);
    }

    /** Soft-deletes one record (IsDeleted = true; queryAll still sees it). */
    delete(
        obj: ObjectDef,
        rawId: unknown,
        now: number,
        /** A cascade from a deleted parent: the parent's access decided. */
        cascade = false
    ): WriteResult {
        if (!obj.deletable) {
            throw recordError(
                'INVALID_TYPE_FOR_OPERATION',
                `entity type ${obj.name} does not support delete`
            );
        }
        const existing = this.rowForWrite(obj, rawId);
        if (!cascade) this.checkWriteAccess(obj, existing, 'delete');
        this.checkSetupAccess(obj);
        const id = existing.Id as string;
        for (const { child, field } of this.childReferences(obj.name)) {
            const table = quoteIdent(tableName(child.name));
            const col = quoteIdent(field.name);
            const hasDeleted = findField(child, 'IsDeleted') !== undefined;
            if (field.deleteConstraint === 'Restrict') {
                const kids = this.prepare(
                    `SELECT "Name" AS n FROM ${table} WHERE ${col} = ?${hasDeleted ? ' AND "IsDeleted" = 0' : ''} LIMIT 5`
                ).all(id) as Array<{ n: string }>;
                if (kids.length > 0) {
                    throw recordError(
                        'DELETE_FAILED',
                        `Your attempt to delete ${String(existing.Name ?? id)} could not be completed because it is associated with the following ${child.labelPlural.toLowerCase()}.: ${kids
                            .map((k) => k.n)
                            .join(', ')}`
                    );
                }
            }
        }
        for (const { child, field } of this.childReferences(obj.name)) {
            const table = quoteIdent(tableName(child.name));
            const col = quoteIdent(field.name);
            if (
                field.deleteConstraint === 'SetNull' ||
                (field.custom && field.deleteConstraint === undefined)
            ) {
                this.prepare(
                    `UPDATE ${table} SET ${col} = NULL, "SystemModstamp" = ? WHERE ${col} = ?`
                ).run(now, id);
            } else if (field.deleteConstraint === 'Cascade') {
                const kids = this.prepare(
                    `SELECT "Id" AS id FROM ${table} WHERE ${col} = ? AND "IsDeleted" = 0`
                ).all(id) as Array<{ id: string }>;
                for (const k of kids) this.delete(child, k.id, now, true);
            }
        }
        this.prepare(
            `UPDATE ${quoteIdent(tableName(obj.name))} SET "IsDeleted" = 1, "LastModifiedDate" = ?, "LastModifiedById" = ?, "SystemModstamp" = ? WHERE "Id" = ?`
        ).run(now, this.actor()?.userId ?? this.userId, now, id);
        this.counters.deleted++;
        if (ACCESS_OBJECTS.has(obj.name)) this.accessChanged();
        return { id };
    }

    /**
     * Converts a lead (test setup; Salesforce offers no REST call for it): creates the
     * Account and Contact unless given, copies the name, email and same-named custom
     * fields to a new Contact (a lead field mapping), and marks the lead converted.
     */
    convertLead(
        leadId: string,
        options: { contactId?: string; accountId?: string } = {}
    ): { leadId: string; contactId: string; accountId: string } {
        const leadObj = this.getObject('Lead') as ObjectDef;
        const contactObj = this.getObject('Contact') as ObjectDef;
        const accountObj = this.getObject('Account') as ObjectDef;
        return this.db.transaction(() => {
            const now = this.stamp();
            const lead = this.rowForWrite(leadObj, leadId);
            if (lead.IsConverted) {
                throw recordError(
                    'CANNOT_UPDATE_CONVERTED_LEAD',
                    'cannot reference converted lead'
                );
            }
            let accountId = options.accountId
                ? (this.rowForWrite(accountObj, options.accountId).Id as string)
                : undefined;
            let contactId: string;
            if (options.contactId) {
                const contact = this.rowForWrite(contactObj, options.contactId);
                contactId = contact.Id as string;
                accountId ??= (contact.AccountId as string | null) ?? undefined;
            } else {
                accountId ??= this.insert(
                    accountObj,
                    { Name: lead.Company },
                    'json',
                    now
                ).id;
                const fields: Record<string, unknown> = {
                    FirstName: lead.FirstName,
                    LastName: lead.LastName,
                    Email: lead.Email,
                    Phone: lead.Phone,
                    Title: lead.Title,
                    LeadSource: lead.LeadSource,
                    AccountId: accountId
                };
                for (const fd of leadObj.fields) {
                    const target = findField(contactObj, fd.name);
                    if (
                        target &&
                        target.type === fd.type &&
                        (fd.custom ||
                            fd.name === 'HasOptedOutOfEmail' ||
                            fd.name === 'DoNotCall') &&
                        target.createable
                    ) {
                        const v = lead[fd.name];
                        fields[target.name] =
                            fd.type === 'boolean' ? v === 1 : v;
                        if (fd.type === 'datetime' && typeof v === 'number')
                            fields[target.name] = new Date(v).toISOString();
                    }
                }
                contactId = this.insert(contactObj, fields, 'json', now).id;
            }
            if (!accountId) {
                accountId = this.insert(
                    accountObj,
                    { Name: lead.Company },
                    'json',
                    now
                ).id;
            }
            this.prepare(
                `UPDATE ${quoteIdent(tableName('Lead'))} SET "IsConverted" = 1, "ConvertedDate" = ?, "ConvertedContactId" = ?, "ConvertedAccountId" = ?, "Status" = 'Closed - Converted', "LastModifiedDate" = ?, "SystemModstamp" = ? WHERE "Id" = ?`
            ).run(
                new Date(now).toISOString().slice(0, 10),
                contactId,
                accountId,
                now,
                now,
                lead.Id
            );
            this.counters.updated++;
            return { leadId: lead.Id as string, contactId, accountId };
        })();
    }

    /**
     * Merges one or two Contacts (or Leads) into a master record, as the SOAP API's
     * merge() and the Merge button do (test setup; REST has no merge): every lookup
     * that points at a losing record is re-parented to the master, without running
     * validation rules and without touching the child's other fields; the losers are
     * deleted with MasterRecordId set (when the schema has it); the master's other
     * field values stay. "Up to three records can be merged in a single request,
     * including the master record"; "merge() deletes the other records … If a victim
     * record has related records, merge() makes the master record the new parent"
     * (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_merge.htm).
     */
    merge(masterId: string, duplicateIds: string[]): MergeResult {
        if (duplicateIds.length < 1 || duplicateIds.length > 2) {
            throw recordError(
                'INVALID_OPERATION',
                `Up to three records can be merged in a single request, including the master record: give 1 or 2 records to merge, got ${duplicateIds.length}`
            );
        }
        const master = this.objectForId(masterId);
        if (!master) {
            throw recordError(
                'MALFORMED_ID',
                `id value of incorrect type: ${masterId}`,
                ['Id']
            );
        }
        if (master.name !== 'Contact' && master.name !== 'Lead') {
            throw recordError(
                'INVALID_TYPE',
                `Only Contacts and Leads can be merged in the local org, got ${master.name}`
            );
        }
        return this.db.transaction(() => {
            const now = this.stamp();
            const masterRow = this.mergeable(master, masterId);
            const id = masterRow.Id as string;
            const losers: string[] = [];
            for (const raw of duplicateIds) {
                const obj = this.objectForId(raw);
                if (obj && obj !== master) {
                    throw recordError(
                        'INVALID_TYPE',
                        `Records to merge must be of the master record's type (${master.name}): ${raw}`
                    );
                }
                const loser = this.mergeable(master, raw).Id as string;
                if (loser === id || losers.includes(loser)) {
                    throw recordError(
                        'INVALID_OPERATION',
                        `The same record can't be merged twice or into itself: ${raw}`
                    );
                }
                losers.push(loser);
            }
            const updatedRelatedIds: string[] = [];
            for (const { child, field } of this.childReferences(master.name)) {
                const table = quoteIdent(tableName(child.name));
                const col = quoteIdent(field.name);
                const live = findField(child, 'IsDeleted')
                    ? ' AND "IsDeleted" = 0'
                    : '';
                const marks = losers.map(() => '?').join(', ');
                const kids = this.prepare(
                    `SELECT "Id" AS id FROM ${table} WHERE ${col} IN (${marks})${live}`
                ).all(...losers) as Array<{ id: string }>;
                if (kids.length === 0) continue;
                const has = this.insertPlan(child).system;
                const sets = [
                    `${col} = ?`,
                    ...(has.LastModifiedDate ? ['"LastModifiedDate" = ?'] : []),
                    ...(has.LastModifiedById ? ['"LastModifiedById" = ?'] : []),
                    ...(has.SystemModstamp ? ['"SystemModstamp" = ?'] : [])
                ];
                const args = [
                    id,
                    ...(has.LastModifiedDate ? [now] : []),
                    ...(has.LastModifiedById ? [this.userId] : []),
                    ...(has.SystemModstamp ? [now] : [])
                ];
                const stmt = this.prepare(
                    `UPDATE ${table} SET ${sets.join(', ')} WHERE "Id" = ?`
                );
                for (const k of kids) {
                    stmt.run(...args, k.id);
                    updatedRelatedIds.push(k.id);
                    this.counters.updated++;
                }
            }
            const table = quoteIdent(tableName(master.name));
            const masterRecord = findField(master, 'MasterRecordId')
                ? ', "MasterRecordId" = ?'
                : '';
            const remove = this.prepare(
                `UPDATE ${table} SET "IsDeleted" = 1${masterRecord}, "LastModifiedDate" = ?, "LastModifiedById" = ?, "SystemModstamp" = ? WHERE "Id" = ?`
            );
            for (const loser of losers) {
                remove.run(
                    ...(masterRecord ? [id] : []),
                    now,
                    this.userId,
                    now,
                    loser
                );
                this.counters.deleted++;
            }
            this.prepare(
                `UPDATE ${table} SET "LastModifiedDate" = ?, "LastModifiedById" = ?, "SystemModstamp" = ? WHERE "Id" = ?`
            ).run(now, this.userId, now, id);
            this.counters.updated++;
            const result: MergeResult = {
                id,
                success: true,
                errors: [],
                mergedRecordIds: losers,
                updatedRelatedIds
            };
            return result;
        })();
    }

    /**
     * Undeletes records from the Recycle Bin, as the SOAP API's undelete() (test setup;
     * REST has no undelete): "Use this call to restore any deleted record that is
     * undeletable … Records can be put in the Recycle Bin as the result of a merge() or
     * delete() call … You can undelete records that were deleted as the result of a
     * merge, but the child objects are reparented, which can't be undone"
     * (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_undelete.htm).
     * The undelete is a save: SystemModstamp and LastModifiedDate move, so a cursor on
     * SystemModstamp sees the record again. One result per id (UndeleteResult: id,
     * success, errors); a live record answers UNDELETE_FAILED, a unique value now
     * taken by a live record DUPLICATE_VALUE. Not modelled: undeleting the children a
     * delete cascaded, and restoring lookups a delete cleared (see KNOWN-DIFFERENCES).
     */
    undelete(ids: readonly string[]): UndeleteResult[] {
        return this.db.transaction(() => {
            const now = this.stamp();
            return ids.map((raw): UndeleteResult => {
                const obj = this.objectForId(raw);
                const check = normalizeId(raw);
                const row =
                    obj && check.ok ? this.getRow(obj, check.id) : undefined;
                if (!obj || !row)
                    return {
                        id: raw,
                        success: false,
                        errors: [
                            {
                                statusCode: 'INVALID_CROSS_REFERENCE_KEY',
                                message: 'invalid cross reference id',
                                fields: []
                            }
                        ]
                    };
                const id = row.Id as string;
                if (!row.IsDeleted)
                    return {
                        id,
                        success: false,
                        errors: [
                            {
                                statusCode: 'UNDELETE_FAILED',
                                message: 'Entity is not in the recycle bin',
                                fields: []
                            }
                        ]
                    };
                const has = this.insertPlan(obj).system;
                const sets = [
                    '"IsDeleted" = 0',
                    ...(has.LastModifiedDate ? ['"LastModifiedDate" = ?'] : []),
                    ...(has.LastModifiedById ? ['"LastModifiedById" = ?'] : []),
                    ...(has.SystemModstamp ? ['"SystemModstamp" = ?'] : [])
                ];
                const args = [
                    ...(has.LastModifiedDate ? [now] : []),
                    ...(has.LastModifiedById ? [this.userId] : []),
                    ...(has.SystemModstamp ? [now] : [])
                ];
                try {
                    this.prepare(
                        `UPDATE ${quoteIdent(tableName(obj.name))} SET ${sets.join(', ')} WHERE "Id" = ?`
                    ).run(...args, id);
                } catch (err) {
                    if (
                        (err as { code?: string }).code !==
                        'SQLITE_CONSTRAINT_UNIQUE'
                    )
                        throw err;
                    return {
                        id,
                        success: false,
                        errors: [
                            {
                                statusCode: 'DUPLICATE_VALUE',
                                message:
                                    'duplicate value found: a live record has the same unique value',
                                fields: []
                            }
                        ]
                    };
                }
                this.counters.updated++;
                if (ACCESS_OBJECTS.has(obj.name)) this.accessChanged();
                return { id, success: true, errors: [] };
            });
        })();
    }

    /** A record that can take part in a merge: live, and not a converted lead. */
    private mergeable(obj: ObjectDef, rawId: string): Row {
        const row = this.rowForWrite(obj, rawId);
        if (obj.name === 'Lead' && row.IsConverted) {
            throw recordError(
                'CANNOT_UPDATE_CONVERTED_LEAD',
                'cannot reference converted lead'
            );
        }
        return row;
    }
}

/** One record's undelete, shaped as the SOAP API's UndeleteResult. */
export interface UndeleteResult {
    id: string;
    success: boolean;
    errors: Array<{ statusCode: string; message: string; fields: string[] }>;
}

/** What a merge did, shaped as the SOAP API's MergeResult. */
export interface MergeResult {
    id: string;
    success: true;
    errors: [];
    mergedRecordIds: string[];
    updatedRelatedIds: string[];
}

export { RecordFailure };
