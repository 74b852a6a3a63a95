/**
 * Generates `scripts/model/schema.ts` — the record types, field-name maps and picklist
 * values the sync uses — from the package metadata in `force-app`, so that renaming a
 * field in the package breaks the build (and a jest test) instead of a production run.
 *
 *   npm run generate:schema          # rewrites scripts/model/schema.ts
 *   node bin/run-ts scripts/metadata/generate-schema.ts --check   # exit 1 when stale
 *
 * The package is read by metadata/package.ts. Standard fields (Salesforce defines them,
 * force-app has no file for them) are the ones the sync reads, named below, typed from
 * metadata/standard-fields.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPackage } from './package';
import { CustomFieldMeta, readCustomField } from './objects';
import { StandardFieldType, standardFieldsOf } from './standard-fields';
import { parseMetadataXml } from './xml';
import { PROJECT_ROOT } from '../model/project';

export const REPO_ROOT = PROJECT_ROOT;
export const SCHEMA_FILE = join(REPO_ROOT, 'scripts', 'model', 'schema.ts');
const OBJECTS_DIR = join(REPO_ROOT, 'force-app', 'main', 'default', 'objects');

type TsKind = 'id' | 'string' | 'boolean' | 'number' | 'datetime';

interface FieldSpec {
    name: string;
    kind: TsKind;
    nillable: boolean;
    custom: boolean;
    /** Metadata type (Checkbox, Text, …) or the standard field's SOAP-ish type. */
    type: string;
    length?: number;
    picklist?: string[];
    defaultValue?: string | boolean;
    externalId?: boolean;
    referenceTo?: string;
}

interface ObjectSpec {
    /** API name. */
    name: string;
    /** Constant prefix (CONTACT, AUDIENCE_MEMBERSHIP, …) and interface name. */
    constName: string;
    typeName: string;
    fields: FieldSpec[];
}

/**
 * The standard fields the sync reads, per object, in the order the schema lists them.
 * Their types come from the one list of standard fields (metadata/standard-fields.ts).
 */
const SYNC_STANDARD_FIELDS: Readonly<Record<string, readonly string[]>> = {
    Contact: ['Id', 'FirstName', 'LastName', 'Email', 'HasOptedOutOfEmail'],
    Lead: [
        'Id',
        'FirstName',
        'LastName',
        'Company',
        'Email',
        'HasOptedOutOfEmail',
        'IsConverted',
        'ConvertedContactId'
    ],
    Audience_Membership__c: ['Id', 'Name'],
    Opt_Out_Sync_Settings__c: ['Id', 'Name', 'SetupOwnerId']
};

const OBJECTS: {
    name: string;
    constName: string;
    typeName: string;
    /** A custom setting: its standard fields are a setting's, not a custom object's. */
    customSetting?: true;
}[] = [
    { name: 'Contact', constName: 'CONTACT', typeName: 'ContactRecord' },
    { name: 'Lead', constName: 'LEAD', typeName: 'LeadRecord' },
    {
        name: 'Audience_Membership__c',
        constName: 'AUDIENCE_MEMBERSHIP',
        typeName: 'AudienceMembershipRecord'
    },
    {
        name: 'Opt_Out_Sync_Settings__c',
        constName: 'OPT_OUT_SYNC_SETTINGS',
        typeName: 'OptOutSyncSettingsRecord',
        customSetting: true
    }
];

function kindOf(type: StandardFieldType): TsKind {
    switch (type) {
        case 'id':
        case 'reference':
            return 'id';
        case 'boolean':
            return 'boolean';
        case 'datetime':
            return 'datetime';
        default:
            return 'string';
    }
}

/** A standard field the sync reads, typed from the standard-field list. */
function standardSpec(
    objectName: string,
    customSetting: boolean,
    name: string
): FieldSpec {
    const field = standardFieldsOf(
        objectName,
        customSetting ? 'Hierarchy' : undefined
    ).find((f) => f.name === name);
    if (!field)
        throw new Error(
            `${objectName}.${name} is not in metadata/standard-fields.ts`
        );
    const kind = kindOf(field.type);
    return {
        name,
        kind,
        nillable: field.nillable,
        custom: false,
        type: kind === 'boolean' ? 'Checkbox' : 'Standard'
    };
}

/** A custom field's metadata → FieldSpec. */
function customSpec(f: CustomFieldMeta, file: string): FieldSpec {
    if (!f.name || !f.type)
        throw new Error(`${file}: fullName and type needed`);
    const spec: FieldSpec = {
        name: f.name,
        type: f.type,
        kind: 'string',
        nillable: true,
        custom: true
    };
    switch (f.type) {
        case 'Checkbox':
            spec.kind = 'boolean';
            spec.nillable = false;
            spec.defaultValue = f.defaultValue === 'true';
            break;
        case 'DateTime':
            spec.kind = 'datetime';
            break;
        case 'Number':
        case 'Currency':
        case 'Percent':
            spec.kind = 'number';
            break;
        case 'Lookup':
        case 'MasterDetail':
            spec.kind = 'id';
            spec.referenceTo = f.referenceTo;
            break;
        case 'Picklist':
            spec.picklist = f.picklistValues.map((v) => v.name);
            break;
        default:
            // Text defaults are formulas: a quoted literal is the only form we use.
            if (f.defaultValue && /^"[^"]*"$/.test(f.defaultValue))
                spec.defaultValue = f.defaultValue.slice(1, -1);
    }
    if (f.length) spec.length = f.length;
    if (f.externalId) spec.externalId = true;
    return spec;
}

/** One custom field file → FieldSpec. */
export function parseFieldXml(xml: string, file: string): FieldSpec {
    const doc = parseMetadataXml(xml, file);
    if (doc.name !== 'CustomField')
        throw new Error(`${file}: not a CustomField`);
    return customSpec(readCustomField(doc.root), file);
}

function loadObjects(root: string): ObjectSpec[] {
    const pkg = readPackage(root, ['.']);
    const [unreadable] = pkg.unreadable;
    if (unreadable) throw unreadable.error;
    return OBJECTS.map((o) => {
        const object = pkg.objects.get(o.name);
        const custom = [...(object?.fields.values() ?? [])].map((f) =>
            customSpec(f, f.file)
        );
        const standard = (SYNC_STANDARD_FIELDS[o.name] ?? []).map((name) =>
            standardSpec(o.name, o.customSetting === true, name)
        );
        return {
            name: o.name,
            constName: o.constName,
            typeName: o.typeName,
            fields: [...standard, ...custom]
        };
    });
}

function tsType(f: FieldSpec, picklistType?: string): string {
    const base =
        picklistType ??
        (f.kind === 'boolean'
            ? 'boolean'
            : f.kind === 'number'
              ? 'number'
              : 'string');
    return f.nillable ? `${base} | null` : base;
}

function pascal(apiName: string): string {
    return apiName
        .replace(/__c$/, '')
        .split('_')
        .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
        .join('');
}

function q(s: string): string {
    return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The source text of schema.ts (before prettier). */
export function renderSchema(root = OBJECTS_DIR): string {
    const objects = loadObjects(root);
    const out: string[] = [];
    out.push(
        '/**',
        ' * GENERATED by scripts/metadata/generate-schema.ts from force-app/main/default/objects.',
        ' * Do not edit: change the package metadata, then run `npm run generate:schema`.',
        ' * A test fails when this file differs from a fresh generation.',
        ' */',
        '',
        '/** API names of the objects the sync reads and writes. */',
        'export const SOBJECT = {',
        ...objects.map((o) => `    ${o.constName}: ${q(o.name)},`),
        '} as const;',
        'export type SObjectName = (typeof SOBJECT)[keyof typeof SOBJECT];',
        ''
    );
    for (const o of objects) {
        const picklistTypes = new Map<string, string>();
        for (const f of o.fields) {
            if (!f.picklist) continue;
            const constName = `${o.constName}_${pascal(f.name)
                .replace(/([a-z])([A-Z])/g, '$1_$2')
                .toUpperCase()}_VALUES`;
            const typeName = `${pascal(o.name)}${pascal(f.name)}`;
            picklistTypes.set(f.name, typeName);
            out.push(
                `/** \`${o.name}.${f.name}\` picklist values (API names). */`,
                `export const ${constName} = [${f.picklist.map(q).join(', ')}] as const;`,
                `export type ${typeName} = (typeof ${constName})[number];`,
                ''
            );
        }
        out.push(
            `/** Field API names of \`${o.name}\` used by the sync. */`,
            `export const ${o.constName} = {`,
            ...o.fields.map((f) => `    ${f.name}: ${q(f.name)},`),
            '} as const;',
            `export type ${o.typeName.replace(/Record$/, 'Field')} = keyof typeof ${o.constName};`,
            '',
            `/** One \`${o.name}\` record as the sync reads it. */`,
            `export interface ${o.typeName} {`,
            ...o.fields.map(
                (f) => `    ${f.name}: ${tsType(f, picklistTypes.get(f.name))};`
            ),
            '}',
            ''
        );
        const lengths = o.fields.filter((f) => f.custom && f.length);
        if (lengths.length) {
            out.push(
                `/** Text lengths of \`${o.name}\` custom fields. */`,
                `export const ${o.constName}_LENGTHS = {`,
                ...lengths.map((f) => `    ${f.name}: ${f.length},`),
                '} as const;',
                ''
            );
        }
        const ext = o.fields.filter((f) => f.externalId);
        if (ext.length) {
            out.push(
                `/** External id fields of \`${o.name}\` (upsert keys). */`,
                `export const ${o.constName}_EXTERNAL_IDS = [${ext.map((f) => q(f.name)).join(', ')}] as const;`,
                ''
            );
        }
    }
    const settings = objects.find((o) => o.name === 'Opt_Out_Sync_Settings__c');
    if (settings) {
        const defaults = settings.fields.filter(
            (f) => f.custom && f.defaultValue !== undefined
        );
        out.push(
            '/** Field defaults of the settings: what the sync uses when the org has no record. */',
            'export const OPT_OUT_SYNC_SETTINGS_DEFAULTS = {',
            ...defaults.map(
                (f) =>
                    `    ${f.name}: ${typeof f.defaultValue === 'string' ? q(f.defaultValue) : String(f.defaultValue)},`
            ),
            '} as const;',
            ''
        );
    }
    // R1: the opt-out fields are the standard Email Opt Out plus every custom checkbox
    // the package puts on both Contact and Lead.
    const contact = objects.find((o) => o.name === 'Contact');
    const lead = objects.find((o) => o.name === 'Lead');
    const shared = (contact?.fields ?? []).filter(
        (f) =>
            f.kind === 'boolean' &&
            (f.custom || f.name === 'HasOptedOutOfEmail') &&
            lead?.fields.some((l) => l.name === f.name && l.kind === 'boolean')
    );
    out.push(
        '/** The Contact and Lead checkboxes the sync may write for a global unsubscribe (R1). */',
        `export const OPT_OUT_FIELDS = [${shared.map((f) => q(f.name)).join(', ')}] as const;`,
        'export type OptOutField = (typeof OPT_OUT_FIELDS)[number];',
        ''
    );
    return out.join('\n');
}

/** Formats TypeScript with the repository's prettier configuration (its CLI: jest-safe). */
export function formatTs(source: string, file = SCHEMA_FILE): string {
    const bin = require.resolve('prettier/bin/prettier.cjs');
    return execFileSync(process.execPath, [bin, '--stdin-filepath', file], {
        cwd: REPO_ROOT,
        input: source,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024
    });
}

/** The schema file as it should be (formatted). */
export function generateSchema(root = OBJECTS_DIR): string {
    return formatTs(renderSchema(root));
}

if (require.main === module || process.argv[1] === __filename) {
    const fresh = generateSchema();
    const current = existsSync(SCHEMA_FILE)
        ? readFileSync(SCHEMA_FILE, 'utf8')
        : '';
    if (process.argv.includes('--check')) {
        if (fresh !== current) {
            process.stderr.write(
                `${SCHEMA_FILE} is stale: run npm run generate:schema\n`
            );
            process.exitCode = 1;
        }
    } else if (fresh !== current) {
        writeFileSync(SCHEMA_FILE, fresh);
        process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
    } else {
        process.stdout.write(`${SCHEMA_FILE} is up to date\n`);
    }
}
