/**
 * Prettier's verdict on files, from its command line in a child process: prettier 3 loads
 * its plugins with dynamic `import()`, which a jest VM cannot run in-process.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export interface FormatResult {
    /** Files (absolute) prettier would change. */
    unformatted: string[];
    /** Prettier's own error output, when it could not check a file. */
    errors: string;
}

/**
 * Runs `prettier --list-different` on the files (absolute paths). Prettier resolves the
 * plugins named in its configuration from its working folder, so it runs in the folder of
 * `configFile` (default: `cwd`).
 */
export function listUnformatted(
    files: string[],
    cwd: string,
    configFile?: string
): Promise<FormatResult> {
    if (files.length === 0)
        return Promise.resolve({ unformatted: [], errors: '' });
    const bin = require.resolve('prettier/bin/prettier.cjs');
    const workDir = configFile ? path.dirname(configFile) : cwd;
    const args = [
        bin,
        '--list-different',
        ...(configFile ? ['--config', configFile] : []),
        ...files
    ];
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            args,
            { cwd: workDir, maxBuffer: 16 * 1024 * 1024 },
            (error, stdout, stderr) => {
                // Exit 1: some files differ (or prettier failed, which it reports on stderr).
                const code =
                    error && typeof error.code === 'number' ? error.code : 0;
                if (error && code !== 1 && code !== 2) {
                    reject(error);
                    return;
                }
                const listed = new Set(
                    stdout
                        .split('\n')
                        .map((line) => line.trim())
                        .filter(Boolean)
                        .map((line) => path.resolve(workDir, line))
                );
                resolve({
                    unformatted: files.filter((file) =>
                        listed.has(path.resolve(file))
                    ),
                    errors: stderr.trim()
                });
            }
        );
    });
}
