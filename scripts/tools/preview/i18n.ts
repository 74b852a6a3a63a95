/**
 * The preview's languages, from the package's own metadata: custom labels
 * (labels/CustomLabels.labels-meta.xml, in force-app) with their translations
 * (translations/<lang>.translation-meta.xml), and the picklist value translations of
 * the package's object translations (objectTranslations/<Object>-<lang>/). The
 * translations live in their own source folder, force-app-translations, because an
 * org without Translation Workbench refuses a deploy that contains them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectPath } from '../../model/project';
import { OptoutError } from '../../model/errors';
import {
    readCustomLabels,
    readFieldTranslation,
    readTranslations
} from '../../metadata/components';
import { parseMetadataXml } from '../../metadata/xml';

export const DEFAULT_PACKAGE_DIR = projectPath('force-app', 'main', 'default');

/** The translations' own source folder (deployed after the package when the org accepts it). */
export const DEFAULT_TRANSLATIONS_DIR = projectPath(
    'force-app-translations',
    'main',
    'default'
);

/** The languages the package ships; en_US is the labels' own language. */
export const LANGUAGES = ['en_US', 'fr', 'zh_CN', 'ja'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface LanguageInfo {
    /** Salesforce language code. */
    code: Language;
    /** BCP 47 locale for Intl (dates in lightning-formatted-date-time). */
    locale: string;
    /** <html lang>. */
    htmlLang: string;
    /** The language's own name, for the language switch. */
    name: string;
}

export const LANGUAGE_INFO: Readonly<Record<Language, LanguageInfo>> = {
    en_US: { code: 'en_US', locale: 'en-US', htmlLang: 'en', name: 'English' },
    fr: { code: 'fr', locale: 'fr-FR', htmlLang: 'fr', name: 'Français' },
    zh_CN: {
        code: 'zh_CN',
        locale: 'zh-CN',
        htmlLang: 'zh-CN',
        name: '简体中文'
    },
    ja: { code: 'ja', locale: 'ja-JP', htmlLang: 'ja', name: '日本語' }
};

/**
 * The language a `?lang=` value asks for: en, en_US (or none) is English; fr,
 * zh_CN, ja as Salesforce spells them (zh-CN and en-US accepted too).
 */
export function parseLanguage(value: string | null | undefined): Language {
    if (value === undefined || value === null || value === '') return 'en_US';
    const normalized = value.replace('-', '_');
    if (normalized === 'en' || normalized === 'en_US') return 'en_US';
    const found = LANGUAGES.find(
        (l) => l.toLowerCase() === normalized.toLowerCase()
    );
    if (!found) {
        throw new OptoutError(
            'PREVIEW_BAD_LANGUAGE',
            `Unknown language '${value}'. The package is translated into: ${LANGUAGES.join(', ')}.`,
            { actions: ['Use ?lang=fr, ?lang=zh_CN, ?lang=ja or no lang'] }
        );
    }
    return found;
}

export interface PackageI18n {
    /** Label name -> value, per language (English for untranslated labels). */
    labels: Record<Language, Record<string, string>>;
    /**
     * Object -> field -> English (master) label -> translation, per language, from the
     * package's object translations.
     */
    picklists: Record<
        Language,
        Record<string, Record<string, Record<string, string>>>
    >;
    /** Object -> field -> translated field label, per language. */
    fieldLabels: Record<Language, Record<string, Record<string, string>>>;
}

function readXml(file: string): ReturnType<typeof parseMetadataXml> {
    try {
        return parseMetadataXml(readFileSync(file, 'utf8'), file);
    } catch (err) {
        // A MetadataXmlError's message starts with the file and the position.
        throw new OptoutError(
            'PREVIEW_BAD_METADATA',
            `Cannot read ${err instanceof Error ? err.message : `${file}: ${String(err)}`}`,
            { actions: ['Run npm run check:package to see what is wrong'] }
        );
    }
}

function emptyPerLanguage<T>(make: () => T): Record<Language, T> {
    return Object.fromEntries(LANGUAGES.map((l) => [l, make()])) as Record<
        Language,
        T
    >;
}

/**
 * Reads the labels of a package folder (force-app/main/default) and the translations
 * of `translationsDir`: by default force-app-translations for the default package, and
 * the package folder itself for any other (a folder of its own holds both).
 */
export function loadPackageI18n(
    packageDir = DEFAULT_PACKAGE_DIR,
    translationsDir = packageDir === DEFAULT_PACKAGE_DIR
        ? DEFAULT_TRANSLATIONS_DIR
        : packageDir
): PackageI18n {
    const labelsFile = join(
        packageDir,
        'labels',
        'CustomLabels.labels-meta.xml'
    );
    if (!existsSync(labelsFile)) {
        throw new OptoutError(
            'PREVIEW_NO_LABELS',
            `No custom labels file at ${labelsFile}`,
            { actions: ['Run the preview from the repository root'] }
        );
    }
    const english: Record<string, string> = {};
    for (const { name, value } of readCustomLabels(readXml(labelsFile).root)) {
        if (name) english[name] = value;
    }

    const i18n: PackageI18n = {
        labels: emptyPerLanguage(() => ({ ...english })),
        picklists: emptyPerLanguage(() => ({})),
        fieldLabels: emptyPerLanguage(() => ({}))
    };

    for (const lang of LANGUAGES) {
        if (lang === 'en_US') continue;
        const file = join(
            translationsDir,
            'translations',
            `${lang}.translation-meta.xml`
        );
        if (existsSync(file)) {
            for (const [name, value] of readTranslations(readXml(file).root)) {
                // A translation of a label the package does not define is ignored,
                // as the platform refuses it at deploy time (check:package reports it).
                if (name && value && name in english) {
                    i18n.labels[lang][name] = value;
                }
            }
        }
    }

    const objectsDir = join(translationsDir, 'objectTranslations');
    if (existsSync(objectsDir)) {
        for (const dir of readdirSync(objectsDir)) {
            const match = /^(.+)-([A-Za-z_]+)$/.exec(dir);
            if (!match) continue;
            const [, objectName, lang] = match;
            if (!(LANGUAGES as readonly string[]).includes(lang)) continue;
            const language = lang as Language;
            for (const file of readdirSync(join(objectsDir, dir))) {
                if (!file.endsWith('.fieldTranslation-meta.xml')) continue;
                const {
                    name: field,
                    label,
                    picklistValues
                } = readFieldTranslation(
                    readXml(join(objectsDir, dir, file)).root
                );
                if (!field) continue;
                if (label) {
                    (i18n.fieldLabels[language][objectName] ??= {})[field] =
                        label;
                }
                for (const [master, translation] of picklistValues) {
                    if (master && translation) {
                        ((i18n.picklists[language][objectName] ??= {})[
                            field
                        ] ??= {})[master] = translation;
                    }
                }
            }
        }
    }
    return i18n;
}

/**
 * The label a user of `lang` sees for a picklist value: the package's translation,
 * else the master label (from the org's describe). Translations are keyed by
 * masterLabel, which is the value's original (untranslated) label, as the
 * Translation Workbench retrieves them: one keyed by the API name (when it differs
 * from the label) is not used, as in an org.
 */
export function picklistLabel(
    i18n: PackageI18n,
    lang: Language,
    objectName: string,
    field: string,
    value: { value: string; label: string }
): string {
    const translations = i18n.picklists[lang][objectName]?.[field] ?? {};
    return translations[value.label] ?? value.label;
}
