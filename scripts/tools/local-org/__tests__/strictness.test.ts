/**
 * The local org is never kinder than Salesforce: duplicate external ids in one upsert
 * (sObject Collections and Bulk API 2.0), DateTime kept to the second, case-sensitive
 * unique fields, Translation Workbench for translations, and the deploy test level.
 * Driven with jsforce; the custom object comes from a hand-made deploy zip.
 */
import JSZip from 'jszip';
import type { Connection } from 'jsforce';
import { startTestOrg, waitForDeploy, type TestOrg } from '../testing';

type Rec = Record<string, unknown>;

interface JsforceError extends Error {
    errorCode?: string;
}

interface SaveResult {
    id?: string;
    success: boolean;
    created?: boolean;
    errors: Array<{ statusCode: string; message: string; fields: string[] }>;
}

async function failure(p: PromiseLike<unknown>): Promise<JsforceError> {
    try {
        await p;
    } catch (err) {
        return err as JsforceError;
    }
    throw new Error('expected the call to fail');
}

const PACKAGE_HEAD =
    '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata">';

function packageXml(types: Record<string, string[]>): string {
    return `${PACKAGE_HEAD}${Object.entries(types)
        .map(
            ([name, members]) =>
                `<types>${members.map((m) => `<members>${m}</members>`).join('')}<name>${name}</name></types>`
        )
        .join('')}<version>66.0</version></Package>`;
}

function textField(
    name: string,
    opts: { unique: boolean; caseSensitive?: boolean }
): string {
    return `<fields><fullName>${name}</fullName><label>${name.replace('__c', '')}</label><type>Text</type><length>80</length><externalId>true</externalId><unique>${opts.unique}</unique>${
        opts.caseSensitive === undefined
            ? ''
            : `<caseSensitive>${opts.caseSensitive}</caseSensitive>`
    }</fields>`;
}

/** Key_Thing__c: Key__c (unique, case-insensitive), Exact_Key__c (unique, case-sensitive), Seen_At__c. */
function keyThingObject(keyCaseSensitive = false): string {
    return `<?xml version="1.0" encoding="UTF-8"?><CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><deploymentStatus>Deployed</deploymentStatus><label>Key Thing</label><nameField><label>Key Thing Name</label><type>Text</type></nameField><pluralLabel>Key Things</pluralLabel><sharingModel>ReadWrite</sharingModel>${textField(
        'Key__c',
        { unique: true, caseSensitive: keyCaseSensitive }
    )}${textField('Exact_Key__c', {
        unique: true,
        caseSensitive: true
    })}<fields><fullName>Seen_At__c</fullName><label>Seen At</label><type>DateTime</type></fields></CustomObject>`;
}

async function deployZip(
    conn: Connection,
    files: Record<string, string>,
    options: Record<string, unknown> = { rollbackOnError: true }
): Promise<Awaited<ReturnType<typeof waitForDeploy>>> {
    const zip = new JSZip();
    for (const [name, content] of Object.entries(files))
        zip.file(name, content);
    const res = (await conn.metadata.deployRest(
        await zip.generateAsync({ type: 'nodebuffer' }),
        options
    )) as unknown as { id: string };
    return waitForDeploy(conn, res.id);
}

async function deployKeyThing(
    t: TestOrg,
    keyCaseSensitive = false
): Promise<void> {
    const summary = await deployZip(t.conn, {
        'package.xml': packageXml({ CustomObject: ['Key_Thing__c'] }),
        'objects/Key_Thing__c.object': keyThingObject(keyCaseSensitive)
    });
    expect(summary.componentFailures).toEqual([]);
    if (!summary.success) {
        const status = (await t.conn.metadata.checkDeployStatus(
            summary.id,
            true,
            true
        )) as unknown as Rec;
        throw new Error(`deploy failed: ${String(status.errorMessage)}`);
    }
}

function upsert(
    t: TestOrg,
    field: string,
    records: Rec[],
    allOrNone = false
): Promise<SaveResult[]> {
    return t.conn
        .sobject('Key_Thing__c')
        .upsert(records, field, { allOrNone }) as unknown as Promise<
        SaveResult[]
    >;
}

async function names(t: TestOrg, where: string): Promise<string[]> {
    const res = await t.conn.query<{ Name: string }>(
        `SELECT Name FROM Key_Thing__c WHERE ${where} ORDER BY Name`
    );
    return res.records.map((r) => r.Name);
}

describe('duplicate external ids in one upsert', () => {
    let t: TestOrg;

    beforeAll(async () => {
        // Small chunks: a job's rows are processed in several transactions.
        t = await startTestOrg({ bulkChunkSize: 2 });
        t.conn.bulk2.pollInterval = 20;
        t.conn.bulk2.pollTimeout = 60_000;
        await deployKeyThing(t);
    });
    afterAll(async () => {
        await t.close();
    });

    it('Collections: every record carrying a repeated key fails with DUPLICATE_VALUE, the others are saved', async () => {
        await upsert(t, 'Key__c', [{ Key__c: 'K-1', Name: 'original' }]);
        const res = await upsert(t, 'Key__c', [
            { Key__c: 'K-1', Name: 'first' },
            { Key__c: 'K-2', Name: 'other' },
            // The field is case-insensitive: k-1 is the same key as K-1.
            { Key__c: 'k-1', Name: 'second' }
        ]);
        expect(res[0]).toEqual({
            success: false,
            errors: [
                {
                    statusCode: 'DUPLICATE_VALUE',
                    message: 'Duplicate external id specified: K-1',
                    fields: ['Key__c']
                }
            ]
        });
        expect(res[2].errors[0]).toEqual({
            statusCode: 'DUPLICATE_VALUE',
            message: 'Duplicate external id specified: k-1',
            fields: ['Key__c']
        });
        expect(res[1]).toMatchObject({ success: true, created: true });
        // Neither duplicate touched the existing record.
        expect(await names(t, "Key__c = 'K-1'")).toEqual(['original']);
        expect(await names(t, "Key__c = 'K-2'")).toEqual(['other']);
    });

    it('Collections with allOrNone: the duplicates fail and everything else is rolled back', async () => {
        const res = await upsert(
            t,
            'Key__c',
            [
                { Key__c: 'K-3', Name: 'a' },
                { Key__c: 'K-4', Name: 'b' },
                { Key__c: 'K-3', Name: 'c' }
            ],
            true
        );
        expect(res.map((r) => r.errors[0]?.statusCode)).toEqual([
            'DUPLICATE_VALUE',
            'ALL_OR_NONE_OPERATION_ROLLED_BACK',
            'DUPLICATE_VALUE'
        ]);
        expect(await names(t, "Key__c IN ('K-3', 'K-4')")).toEqual([]);
    });

    it('Collections on a case-sensitive key: keys differing in case are two records, the same key twice fails', async () => {
        const res = await upsert(t, 'Exact_Key__c', [
            { Exact_Key__c: 'AbC', Name: 'upper' },
            { Exact_Key__c: 'abc', Name: 'lower' },
            { Exact_Key__c: 'Same', Name: 's1' },
            { Exact_Key__c: 'Same', Name: 's2' }
        ]);
        expect(res.map((r) => r.success)).toEqual([true, true, false, false]);
        expect(res[2].errors[0]).toMatchObject({
            statusCode: 'DUPLICATE_VALUE',
            message: 'Duplicate external id specified: Same'
        });
        // SOQL = on a unique case-sensitive field compares exactly.
        expect(await names(t, "Exact_Key__c = 'abc'")).toEqual(['lower']);
        expect(await names(t, "Exact_Key__c = 'Same'")).toEqual([]);
    });

    it('Bulk API 2.0: every row of a job carrying a repeated key fails, across internal chunks', async () => {
        const res = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Key_Thing__c',
            operation: 'upsert',
            externalIdFieldName: 'Key__c',
            // bulkChunkSize 2: B-1 and b-1 are saved in different transactions.
            input: 'Key__c,Name\nB-1,first\nB-2,other\nB-3,third\nb-1,second\n'
        });
        expect(
            res.successfulResults.map((r) => (r as Rec).Key__c).sort()
        ).toEqual(['B-2', 'B-3']);
        expect(
            res.failedResults
                .map((r) => [(r as Rec).Key__c, r.sf__Error])
                .sort()
        ).toEqual([
            [
                'B-1',
                'DUPLICATE_VALUE:Duplicate external id specified: B-1:Key__c --'
            ],
            [
                'b-1',
                'DUPLICATE_VALUE:Duplicate external id specified: b-1:Key__c --'
            ]
        ]);
        expect(await names(t, "Key__c = 'B-1'")).toEqual([]);

        // On a case-sensitive key, keys differing in case are two rows.
        const exact = await t.conn.bulk2.loadAndWaitForResults({
            object: 'Key_Thing__c',
            operation: 'upsert',
            externalIdFieldName: 'Exact_Key__c',
            input: 'Exact_Key__c,Name\nXy,upper\nxy,lower\n'
        });
        expect(exact.failedResults).toEqual([]);
        expect(exact.successfulResults).toHaveLength(2);
    });
});

describe('DateTime to the second', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg();
        t.conn.bulk2.pollInterval = 20;
        t.conn.bulk2.pollTimeout = 60_000;
        await deployKeyThing(t);
    });
    afterAll(async () => {
        await t.close();
    });

    it('drops the milliseconds of a custom DateTime (truncated, not rounded) and of system timestamps', async () => {
        const created = (await t.conn.sobject('Key_Thing__c').create({
            Name: 'dt',
            Seen_At__c: '2026-01-02T03:04:05.999Z'
        })) as { id: string };
        const row = (await t.conn
            .sobject('Key_Thing__c')
            .retrieve(created.id)) as Rec;
        expect(row.Seen_At__c).toBe('2026-01-02T03:04:05.000+0000');
        for (const f of ['CreatedDate', 'LastModifiedDate', 'SystemModstamp'])
            expect(row[f]).toMatch(
                /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$/
            );

        await t.conn.sobject('Key_Thing__c').update({
            Id: created.id,
            Seen_At__c: '2026-01-02T05:04:05.123+02:00'
        });
        const updated = await t.conn.query<Rec>(
            `SELECT Seen_At__c, SystemModstamp FROM Key_Thing__c WHERE Id = '${created.id}'`
        );
        expect(updated.records[0].Seen_At__c).toBe(
            '2026-01-02T03:04:05.000+0000'
        );
    });

    it('returns whole seconds in Bulk CSV and compares SOQL DateTime literals to the second', async () => {
        await t.conn.sobject('Key_Thing__c').create({
            Name: 'csv',
            Seen_At__c: '2026-03-04T10:00:00.750Z'
        });
        const rows = (await t.conn.bulk2.query(
            "SELECT Name, Seen_At__c, CreatedDate FROM Key_Thing__c WHERE Name = 'csv'"
        )) as unknown as Rec[];
        const all: Rec[] = [];
        for await (const r of rows) all.push(r);
        expect(all[0].Seen_At__c).toBe('2026-03-04T10:00:00.000Z');
        expect(String(all[0].CreatedDate)).toMatch(/\.000Z$/);

        expect(await names(t, 'Seen_At__c = 2026-03-04T10:00:00Z')).toEqual([
            'csv'
        ]);
        expect(await names(t, 'Seen_At__c >= 2026-03-04T10:00:00Z')).toEqual([
            'csv'
        ]);
        expect(await names(t, 'Seen_At__c > 2026-03-04T10:00:00Z')).toEqual([]);
        // A literal's milliseconds are ignored too (salesforce.stackexchange.com/q/234824).
        expect(
            await names(t, 'Seen_At__c >= 2026-03-04T10:00:00.900Z')
        ).toEqual(['csv']);
        expect(
            await names(
                t,
                `SystemModstamp >= ${new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z')} AND Name = 'csv'`
            )
        ).toEqual(['csv']);
    });
});

describe('case sensitivity of a unique field follows its definition', () => {
    let t: TestOrg;

    beforeAll(async () => {
        t = await startTestOrg();
        await deployKeyThing(t, false);
    });
    afterAll(async () => {
        await t.close();
    });

    it('turning caseSensitive on for an existing field makes AbC and abc two values', async () => {
        await t.conn
            .sobject('Key_Thing__c')
            .create({ Name: 'mixed', Key__c: 'Mixed' });
        // Case-insensitive today: MIXED duplicates Mixed.
        const dup = await failure(
            t.conn
                .sobject('Key_Thing__c')
                .create({ Name: 'upper', Key__c: 'MIXED' })
        );
        expect(dup.errorCode).toBe('DUPLICATE_VALUE');
        expect(await names(t, "Key__c = 'mixed'")).toEqual(['mixed']);

        await deployKeyThing(t, true);
        const describe = await t.conn.describe('Key_Thing__c');
        expect(describe.fields.find((f) => f.name === 'Key__c')).toMatchObject({
            caseSensitive: true,
            unique: true
        });

        const upper = (await t.conn.sobject('Key_Thing__c').create({
            Name: 'upper',
            Key__c: 'MIXED'
        })) as unknown as SaveResult;
        expect(upper.success).toBe(true);
        expect(await names(t, "Key__c = 'mixed'")).toEqual([]);
        expect(await names(t, "Key__c = 'Mixed'")).toEqual(['mixed']);
        // An upsert matches exactly: MIXED updates the second record only.
        const res = await upsert(t, 'Key__c', [
            { Key__c: 'MIXED', Name: 'upper2' }
        ]);
        expect(res[0]).toMatchObject({ success: true, created: false });
        expect(await names(t, "Key__c IN ('Mixed', 'MIXED')")).toEqual([
            'mixed',
            'upper2'
        ]);
        // The same value still collides.
        const again = await failure(
            t.conn
                .sobject('Key_Thing__c')
                .create({ Name: 'again', Key__c: 'Mixed' })
        );
        expect(again.errorCode).toBe('DUPLICATE_VALUE');

        // Back to case-insensitive while Mixed and MIXED both exist: the deploy fails
        // and changes nothing.
        const back = await deployZip(t.conn, {
            'package.xml': packageXml({ CustomObject: ['Key_Thing__c'] }),
            'objects/Key_Thing__c.object': keyThingObject(false)
        });
        expect(back.success).toBe(false);
        expect(back.componentFailures).toEqual([
            expect.objectContaining({
                componentType: 'CustomField',
                fullName: 'Key_Thing__c.Key__c',
                problem: 'Duplicate value found when building unique index'
            })
        ]);
        const after = await t.conn.describe('Key_Thing__c');
        expect(
            after.fields.find((f) => f.name === 'Key__c')?.caseSensitive
        ).toBe(true);
        expect(await names(t, "Key__c = 'MIXED'")).toEqual(['upper2']);
    });
});

describe('deploy: Translation Workbench and test level', () => {
    let t: TestOrg;

    const translationZip = {
        'package.xml': packageXml({
            CustomField: ['Lead.Translated_Flag__c'],
            Translations: ['fr'],
            CustomObjectTranslation: ['Lead-fr']
        }),
        'objects/Lead.object':
            '<?xml version="1.0" encoding="UTF-8"?><CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><fields><fullName>Translated_Flag__c</fullName><label>Translated Flag</label><type>Checkbox</type><defaultValue>false</defaultValue></fields></CustomObject>',
        'translations/fr.translation':
            '<?xml version="1.0" encoding="UTF-8"?><Translations xmlns="http://soap.sforce.com/2006/04/metadata"><customLabels><label>Bonjour</label><name>Hello</name></customLabels></Translations>',
        'objectTranslations/Lead-fr.objectTranslation':
            '<?xml version="1.0" encoding="UTF-8"?><CustomObjectTranslation xmlns="http://soap.sforce.com/2006/04/metadata"><fields><label>Drapeau</label><name>Translated_Flag__c</name></fields></CustomObjectTranslation>'
    };

    beforeAll(async () => {
        t = await startTestOrg();
    });
    afterAll(async () => {
        await t.close();
    });

    it('fails a deploy with translations as a whole while Translation Workbench is off', async () => {
        expect(t.admin.getOptions().translationWorkbench).toBe(false);
        const summary = await deployZip(t.conn, translationZip);
        expect(summary).toMatchObject({ status: 'Failed', success: false });
        expect(
            summary.componentFailures
                .map((f) => [f.componentType, f.fullName, f.problem])
                .sort()
        ).toEqual([
            [
                'CustomObjectTranslation',
                'Lead-fr',
                'Not available for deploy for this organization'
            ],
            [
                'Translations',
                'fr',
                'Not available for deploy for this organization'
            ]
        ]);
        // Nothing of the failed deploy is installed.
        const lead = await t.conn.describe('Lead');
        expect(lead.fields.some((f) => f.name === 'Translated_Flag__c')).toBe(
            false
        );

        // The same package deploys once Translation Workbench is on.
        t.admin.setOptions({ translationWorkbench: true });
        try {
            const summary = await deployZip(t.conn, translationZip);
            expect(summary.componentFailures).toEqual([]);
            expect(summary.success).toBe(true);
        } finally {
            t.admin.setOptions({ translationWorkbench: false });
        }
    });

    const plain = {
        'package.xml': packageXml({ CustomField: ['Lead.Level_Flag__c'] }),
        'objects/Lead.object':
            '<?xml version="1.0" encoding="UTF-8"?><CustomObject xmlns="http://soap.sforce.com/2006/04/metadata"><fields><fullName>Level_Flag__c</fullName><label>Level Flag</label><type>Checkbox</type><defaultValue>false</defaultValue></fields></CustomObject>'
    };

    it('refuses test options Salesforce refuses', async () => {
        const cases: Array<[Record<string, unknown>, string, string]> = [
            [
                { testLevel: 'RunSpecifiedTests' },
                'INVALID_OPERATION',
                'runTests must not be empty when a testLevel of RunSpecifiedTests is used.'
            ],
            [
                { testLevel: 'RunSpecifiedTests', runTests: [] },
                'INVALID_OPERATION',
                'runTests must not be empty when a testLevel of RunSpecifiedTests is used.'
            ],
            [
                { testLevel: 'RunLocalTests', runTests: ['SomeTest'] },
                'INVALID_OPERATION',
                'runTests can only be used with a testLevel of RunSpecifiedTests.'
            ],
            [
                { testLevel: 'RunEverything' },
                'JSON_PARSER_ERROR',
                'Cannot deserialize instance of TestLevel from VALUE_STRING value RunEverything or request may be missing a required field'
            ]
        ];
        for (const [options, code, message] of cases) {
            const zip = new JSZip();
            for (const [name, content] of Object.entries(plain))
                zip.file(name, content);
            const err = await failure(
                t.conn.metadata.deployRest(
                    await zip.generateAsync({ type: 'nodebuffer' }),
                    options
                )
            );
            expect([err.errorCode, err.message]).toEqual([code, message]);
        }
    });

    it('records the requested test level and tests in the deploy result (no Apex runs)', async () => {
        const specified = await deployZip(t.conn, plain, {
            testLevel: 'RunSpecifiedTests',
            runTests: ['UnsubscribeFromAudienceActionTest']
        });
        expect(specified.success).toBe(true);
        const status = (await t.conn.metadata.checkDeployStatus(
            specified.id,
            true,
            true
        )) as unknown as Rec;
        expect(status).toMatchObject({
            runTestsEnabled: true,
            numberTestsTotal: 0,
            numberTestsCompleted: 0
        });
        const request = (await t.conn.request(
            `/services/data/v66.0/metadata/deployRequest/${specified.id}`
        )) as { deployOptions: Rec };
        expect(request.deployOptions).toMatchObject({
            testLevel: 'RunSpecifiedTests',
            runTests: ['UnsubscribeFromAudienceActionTest']
        });

        const none = await deployZip(t.conn, plain, { testLevel: 'NoTestRun' });
        const noneStatus = (await t.conn.metadata.checkDeployStatus(
            none.id,
            true,
            true
        )) as unknown as Rec;
        expect(noneStatus.runTestsEnabled).toBe(false);
    });
});
