/**
 * The preview's languages (labels and picklist translations from the package) and the
 * build's module plugin, without a browser.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plugin, PluginContext } from 'rollup';
import {
    CLIENT_DIR,
    PLATFORM_MODULES,
    buildFingerprint,
    componentModules,
    engineModules,
    platformModules,
    replaceBuildConstants,
    schemaImportValue
} from '../build';
import {
    DEFAULT_PACKAGE_DIR,
    loadPackageI18n,
    parseLanguage,
    picklistLabel,
    type PackageI18n
} from '../i18n';

describe('parseLanguage', () => {
    it.each([
        [undefined, 'en_US'],
        ['', 'en_US'],
        ['en', 'en_US'],
        ['en-US', 'en_US'],
        ['fr', 'fr'],
        ['zh_CN', 'zh_CN'],
        ['zh-CN', 'zh_CN'],
        ['JA', 'ja']
    ])('%s → %s', (value, lang) => {
        expect(parseLanguage(value)).toBe(lang);
    });

    it('rejects a language the package is not translated into, naming the choices', () => {
        expect(() => parseLanguage('de')).toThrow(
            /Unknown language 'de'.*en_US, fr, zh_CN, ja/
        );
    });
});

describe('loadPackageI18n (the package in force-app)', () => {
    const i18n = loadPackageI18n();

    it('has every label in every language, translated where the package translates it', () => {
        const names = Object.keys(i18n.labels.en_US);
        expect(names).toContain('Audience_Subscriptions_Title');
        for (const lang of ['fr', 'zh_CN', 'ja'] as const) {
            expect(Object.keys(i18n.labels[lang]).sort()).toEqual(
                [...names].sort()
            );
            expect(i18n.labels[lang].Audience_Subscriptions_Title).not.toBe(
                i18n.labels.en_US.Audience_Subscriptions_Title
            );
        }
    });

    it('translates picklist values by their label (masterLabel), else shows the label', () => {
        const fr = (value: string, label: string): string =>
            picklistLabel(i18n, 'fr', 'Audience_Membership__c', 'Status__c', {
                value,
                label
            });
        expect(fr('Subscribed', 'Subscribed')).toBe('Abonné');
        expect(
            picklistLabel(i18n, 'fr', 'Audience_Membership__c', 'Source__c', {
                value: 'Platform',
                label: 'Marketing platform'
            })
        ).toBe('Plateforme marketing');
        expect(fr('Unknown', 'Some label')).toBe('Some label');
        // A translation keyed by the API name (≠ label) is not one, as in an org.
        const byApiName: PackageI18n = {
            ...i18n,
            picklists: {
                ...i18n.picklists,
                fr: {
                    Audience_Membership__c: {
                        Source__c: { Platform: 'Plateforme marketing' }
                    }
                }
            }
        };
        expect(
            picklistLabel(
                byApiName,
                'fr',
                'Audience_Membership__c',
                'Source__c',
                {
                    value: 'Platform',
                    label: 'Marketing platform'
                }
            )
        ).toBe('Marketing platform');
        expect(
            picklistLabel(
                i18n,
                'en_US',
                'Audience_Membership__c',
                'Status__c',
                { value: 'Subscribed', label: 'Subscribed' }
            )
        ).toBe('Subscribed');
    });
});

describe('loadPackageI18n (a package folder of its own)', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'optout-preview-i18n-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    function write(path: string, text: string): void {
        mkdirSync(join(dir, path, '..'), { recursive: true });
        writeFileSync(join(dir, path), text);
    }

    it('falls back to English for untranslated labels and ignores translations of unknown labels', () => {
        write(
            'labels/CustomLabels.labels-meta.xml',
            `<?xml version="1.0" encoding="UTF-8"?>
<CustomLabels xmlns="http://soap.sforce.com/2006/04/metadata">
    <labels><fullName>A</fullName><language>en_US</language><protected>false</protected><shortDescription>A</shortDescription><value>Apple &amp; pear</value></labels>
    <labels><fullName>B</fullName><language>en_US</language><protected>false</protected><shortDescription>B</shortDescription><value>Banana</value></labels>
</CustomLabels>`
        );
        write(
            'translations/fr.translation-meta.xml',
            `<?xml version="1.0" encoding="UTF-8"?>
<Translations xmlns="http://soap.sforce.com/2006/04/metadata">
    <customLabels><label>Pomme</label><name>A</name></customLabels>
    <customLabels><label>Inconnu</label><name>Z</name></customLabels>
</Translations>`
        );
        const i18n = loadPackageI18n(dir);
        expect(i18n.labels.en_US).toEqual({ A: 'Apple & pear', B: 'Banana' });
        expect(i18n.labels.fr).toEqual({ A: 'Pomme', B: 'Banana' });
        expect(i18n.labels.ja).toEqual(i18n.labels.en_US);
    });

    it('fails clearly without a labels file', () => {
        expect(() => loadPackageI18n(dir)).toThrow(/No custom labels file/);
    });
});

/** Calls a rollup hook with `this` as a minimal plugin context. */
function hook(
    plugin: Plugin,
    name: 'resolveId' | 'load' | 'transform',
    ...args: unknown[]
): unknown {
    const fn = plugin[name] as (...a: unknown[]) => unknown;
    const context = {
        error(message: string): never {
            throw new Error(message);
        }
    } as unknown as PluginContext;
    return fn.apply(context, args);
}

describe('the build’s platform modules', () => {
    const plugin = platformModules(new Set(['Known_Label']));

    it('supplies the Salesforce platform modules from the preview’s client folder', () => {
        for (const [specifier, file] of Object.entries(PLATFORM_MODULES)) {
            expect(hook(plugin, 'resolveId', specifier)).toBe(
                join(CLIENT_DIR, file)
            );
        }
        // lightning/confirm and base components come from lightning-base-components.
        expect(hook(plugin, 'resolveId', 'lightning/confirm')).toBeNull();
        expect(
            hook(plugin, 'resolveId', '@salesforce/label/LightningToast.close')
        ).toBeNull();
    });

    it('turns a custom label import into the page language’s value, and refuses unknown labels', () => {
        const id = hook(plugin, 'resolveId', '@salesforce/label/c.Known_Label');
        expect(String(hook(plugin, 'load', id))).toContain(
            'export default label("Known_Label")'
        );
        expect(() =>
            hook(plugin, 'resolveId', '@salesforce/label/c.Missing')
        ).toThrow(/defines no custom label Missing/);
    });

    it('turns schema imports into { objectApiName, fieldApiName }', () => {
        const id = hook(
            plugin,
            'resolveId',
            '@salesforce/schema/Contact.Account.Name'
        );
        expect(String(hook(plugin, 'load', id))).toBe(
            'export default {"objectApiName":"Contact","fieldApiName":"Account.Name"};\n'
        );
        expect(schemaImportValue('Lead')).toEqual({ objectApiName: 'Lead' });
        expect(() => schemaImportValue('Lead.')).toThrow(/Malformed/);
    });

    it('gives the page’s locale to lightning-base-components’ i18n imports', () => {
        const id = hook(plugin, 'resolveId', '@salesforce/i18n/locale');
        expect(String(hook(plugin, 'load', id))).toMatch(
            /import \{ locale \} from .*runtime\.js";\nexport default locale;/
        );
    });

    it('refuses Apex method imports (the local org runs no Apex)', () => {
        expect(() =>
            hook(plugin, 'resolveId', '@salesforce/apex/MyClass.myMethod')
        ).toThrow(/cannot run Apex/);
    });

    it('replaces the build-time constants the engine and base components read', () => {
        const out = hook(
            replaceBuildConstants(),
            'transform',
            'if (process.env.NODE_ENV !== "production" && !import.meta.env.SSR) {}'
        ) as { code: string };
        expect(out.code).toBe(
            'if ("production" !== "production" && !false) {}'
        );
        expect(
            hook(replaceBuildConstants(), 'transform', 'const a = 1;')
        ).toBeNull();
    });

    it('lists the package’s components as c/ modules and uses lwc’s own engine', () => {
        expect(
            componentModules(join(DEFAULT_PACKAGE_DIR, 'lwc')).map(
                (m) => m.name
            )
        ).toEqual(
            expect.arrayContaining(['c/audienceSubscriptions', 'c/ldsUtils'])
        );
        expect(engineModules().map((m) => m.name)).toEqual([
            'lwc',
            '@lwc/synthetic-shadow',
            '@lwc/wire-service'
        ]);
        expect(() => componentModules(join(tmpdir(), 'no-such-dir'))).toThrow(
            /No Lightning Web Components folder/
        );
    });

    it('fingerprints the component sources (a change means a rebuild)', () => {
        const before = buildFingerprint(DEFAULT_PACKAGE_DIR);
        expect(buildFingerprint(DEFAULT_PACKAGE_DIR)).toBe(before);
        const copy = mkdtempSync(join(tmpdir(), 'optout-preview-fp-'));
        try {
            mkdirSync(join(copy, 'lwc', 'x'), { recursive: true });
            mkdirSync(join(copy, 'labels'), { recursive: true });
            writeFileSync(join(copy, 'lwc', 'x', 'x.js'), 'a');
            const one = buildFingerprint(copy);
            writeFileSync(join(copy, 'lwc', 'x', 'x.js'), 'b');
            expect(buildFingerprint(copy)).not.toBe(one);
        } finally {
            rmSync(copy, { recursive: true, force: true });
        }
    });
});
