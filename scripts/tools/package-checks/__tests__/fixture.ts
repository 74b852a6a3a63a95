/**
 * A throw-away copy of the project's package source in a temporary folder, which a test
 * breaks on purpose before running a check on it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckOptions } from '../checks';
import { PackageModel, loadPackage } from '../model';
import { PROJECT_ROOT } from '../../../model/project';

export const REPO_ROOT = PROJECT_ROOT;
export const DEFAULT = 'force-app/main/default';
/** The translations' own source folder (deployed after the package, when the org accepts them). */
export const TRANSLATIONS = 'force-app-translations/main/default';

export interface Fixture {
    root: string;
    /** Absolute path of a file in the copy. */
    path(relative: string): string;
    read(relative: string): string;
    write(relative: string, content: string): void;
    /** Replaces `search` (which must occur) in a file of the copy. */
    edit(relative: string, search: string | RegExp, replacement: string): void;
    remove(relative: string): void;
    model(): PackageModel;
    options(): CheckOptions;
    dispose(): void;
}

export function copyProject(): Fixture {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-package-'));
    for (const entry of [
        'force-app',
        'force-app-lead-convert',
        'force-app-translations',
        'sfdx-project.json',
        '.forceignore'
    ]) {
        const from = path.join(REPO_ROOT, entry);
        if (fs.existsSync(from))
            fs.cpSync(from, path.join(root, entry), { recursive: true });
    }
    const abs = (relative: string): string => path.join(root, relative);
    return {
        root,
        path: abs,
        read: (relative) => fs.readFileSync(abs(relative), 'utf8'),
        write: (relative, content) => {
            fs.mkdirSync(path.dirname(abs(relative)), { recursive: true });
            fs.writeFileSync(abs(relative), content);
        },
        edit(relative, search, replacement) {
            const before = fs.readFileSync(abs(relative), 'utf8');
            const found =
                typeof search === 'string'
                    ? before.includes(search)
                    : search.test(before);
            if (!found)
                throw new Error(
                    `fixture edit: ${String(search)} not found in ${relative}`
                );
            fs.writeFileSync(
                abs(relative),
                before.replace(search, replacement)
            );
        },
        remove: (relative) =>
            fs.rmSync(abs(relative), { recursive: true, force: true }),
        model: () =>
            loadPackage(root, [
                'force-app',
                'force-app-lead-convert',
                'force-app-translations'
            ]),
        options: () => ({
            projectRoot: root,
            packageDir: 'force-app',
            extraDirs: ['force-app-lead-convert', 'force-app-translations'],
            prettierConfig: path.join(REPO_ROOT, '.prettierrc')
        }),
        dispose: () => fs.rmSync(root, { recursive: true, force: true })
    };
}
