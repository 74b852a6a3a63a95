/**
 * Where the project is on disk: the folder with `sfdx-project.json`, found by walking up
 * from this module, so that the same code works from `scripts/` (TypeScript run by tsx
 * or ts-jest) and from `dist/scripts/` (the compiled CLI).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(start: string): string {
    let dir = start;
    for (;;) {
        if (existsSync(join(dir, 'sfdx-project.json'))) return dir;
        const parent = dirname(dir);
        if (parent === dir)
            throw new Error(
                `sfdx-project.json not found above ${start}: run optout from its project folder`
            );
        dir = parent;
    }
}

/** The project's root folder (absolute). */
export const PROJECT_ROOT = findRoot(__dirname);

/** A path inside the project: `projectPath('force-app')`. */
export function projectPath(...parts: string[]): string {
    return join(PROJECT_ROOT, ...parts);
}
