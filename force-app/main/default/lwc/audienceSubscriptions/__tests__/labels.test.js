/**
 * The component's labels exist in labels/CustomLabels.labels-meta.xml and each one
 * is translated into French, Japanese and Simplified Chinese with the same {n}
 * placeholders as the English text.
 */
const fs = require('fs');
const path = require('path');

const DEFAULT_DIR = path.resolve(__dirname, '../../..');
// Translations have their own source folder (an org without Translation Workbench
// refuses a deploy that contains them).
const TRANSLATIONS_DIR = path.resolve(
    DEFAULT_DIR,
    '../../../force-app-translations/main/default'
);
const LANGUAGES = ['fr', 'ja', 'zh_CN'];

function read(relative, dir = DEFAULT_DIR) {
    return fs.readFileSync(path.join(dir, relative), 'utf8');
}

function unescapeXml(text) {
    return text
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&amp;/g, '&');
}

/** Text of <tag>…</tag> inside one block (prettier may break the opening tag). */
function textOf(block, tag) {
    const match = block.match(new RegExp(`<${tag}\\s*>([\\s\\S]*?)</${tag}>`));
    return match ? unescapeXml(match[1]) : undefined;
}

function blocks(xml, tag) {
    return xml.match(new RegExp(`<${tag}>[\\s\\S]*?</${tag}>`, 'g')) || [];
}

function placeholders(text) {
    return (text.match(/\{\d+\}/g) || []).sort();
}

const labels = new Map(
    blocks(read('labels/CustomLabels.labels-meta.xml'), 'labels').map((b) => [
        textOf(b, 'fullName'),
        b
    ])
);

const translations = Object.fromEntries(
    LANGUAGES.map((language) => [
        language,
        new Map(
            blocks(
                read(
                    `translations/${language}.translation-meta.xml`,
                    TRANSLATIONS_DIR
                ),
                'customLabels'
            ).map((b) => [textOf(b, 'name'), textOf(b, 'label')])
        )
    ])
);

const usedByComponent = [
    ...read('lwc/audienceSubscriptions/labels.js').matchAll(
        /@salesforce\/label\/c\.(\w+)/g
    )
].map((m) => m[1]);

describe('custom labels', () => {
    it('has every label the component imports', () => {
        expect(usedByComponent.length).toBeGreaterThan(20);
        expect(usedByComponent.filter((name) => !labels.has(name))).toEqual([]);
    });

    it('has the labels of the Flow action with the agreed English text', () => {
        const english = (name) => textOf(labels.get(name), 'value');
        expect(english('Flow_Action_Success')).toBe(
            '{0} audience membership(s) unsubscribed.'
        );
        expect(english('Flow_Action_Nothing_To_Change')).toBe(
            'No subscribed audience membership to change.'
        );
        expect(english('Flow_Action_Invalid_Record_Id')).toBe(
            '{0} is not the id of a Contact or Lead.'
        );
        expect(english('Flow_Action_Record_Not_Found')).toBe(
            'No Contact or Lead with id {0} is visible to you.'
        );
        expect(english('Flow_Action_No_Access')).toBe(
            'You do not have permission to change audience memberships.'
        );
    });

    it('describes every label completely', () => {
        labels.forEach((block, name) => {
            const problems = [];
            if (textOf(block, 'language') !== 'en_US')
                problems.push('language');
            if (textOf(block, 'protected') !== 'false')
                problems.push('protected');
            if (!textOf(block, 'categories')) problems.push('categories');
            const description = textOf(block, 'shortDescription') || '';
            if (description === '' || description.length > 80) {
                problems.push('shortDescription');
            }
            const value = textOf(block, 'value') || '';
            if (value === '' || value.length > 1000) problems.push('value');
            expect({ name, problems }).toEqual({ name, problems: [] });
        });
    });

    it.each(LANGUAGES)(
        'translates every label into %s, keeping the placeholders',
        (language) => {
            const translated = translations[language];
            expect([...translated.keys()].sort()).toEqual(
                [...labels.keys()].sort()
            );
            labels.forEach((block, name) => {
                const text = translated.get(name);
                expect(text).toBeTruthy();
                expect(text.length).toBeLessThanOrEqual(765);
                expect(placeholders(text)).toEqual(
                    placeholders(textOf(block, 'value'))
                );
                // Apex String.format treats a straight apostrophe as a quote
                expect(text).not.toContain("'");
            });
        }
    );
});
