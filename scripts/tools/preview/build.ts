/**
 * Builds the preview bundle: the package's own components, compiled from
 * force-app/main/default/lwc by the open-source LWC compiler (rollup +
 * @lwc/rollup-plugin), with lightning-base-components and synthetic shadow, and the
 * platform modules Salesforce provides supplied by the preview (client/):
 *
 * | import                                | preview module                              |
 * |---------------------------------------|---------------------------------------------|
 * | lightning/uiRecordApi                 | client/uiRecordApi.js (UI API via server)   |
 * | lightning/uiRelatedListApi            | client/uiRelatedListApi.js                  |
 * | lightning/platformShowToastEvent      | client/platformShowToastEvent.js            |
 * | lightning/refresh                     | client/refresh.js                           |
 * | @salesforce/apex                      | client/apex.js (refreshApex)                |
 * | @salesforce/label/c.X                 | the page language's value of label X        |
 * | @salesforce/schema/Obj.Field          | { objectApiName, fieldApiName }             |
 * | @salesforce/i18n/locale, lang, timeZone | the page's language and the org user's zone |
 * | lightning/confirm, lightning-* tags   | lightning-base-components (the real ones)   |
 *
 * `@salesforce/apex/Class.method` fails the build: the preview runs no Apex.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
    existsSync,
    mkdirSync,
    readFileSync,
    readdirSync,
    rmSync,
    statSync,
    writeFileSync
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Plugin, RollupLog } from 'rollup';
import { OptoutError } from '../../model/errors';
import { DEFAULT_PACKAGE_DIR, loadPackageI18n } from './i18n';
import { PROJECT_ROOT } from '../../model/project';

export const CLIENT_DIR = resolve(__dirname, 'client');
export const DEFAULT_OUT_DIR = resolve(PROJECT_ROOT, '.optout', 'preview');
export const BUNDLE_FILE = 'app.js';

/** Platform modules the preview supplies, by import specifier. */
export const PLATFORM_MODULES: Readonly<Record<string, string>> = {
    'lightning/uiRecordApi': 'uiRecordApi.js',
    'lightning/uiRelatedListApi': 'uiRelatedListApi.js',
    'lightning/platformShowToastEvent': 'platformShowToastEvent.js',
    'lightning/refresh': 'refresh.js',
    '@salesforce/apex': 'apex.js'
};

const RUNTIME_I18N: Readonly<Record<string, string>> = {
    '@salesforce/i18n/locale': 'locale',
    '@salesforce/i18n/lang': 'lang',
    '@salesforce/i18n/timeZone': 'timeZone'
};

const VIRTUAL = '\0optout-preview:';

/** `Obj.Field` / `Obj.Rel__r.Field` / `Obj` → the value a schema import has. */
export function schemaImportValue(path: string): {
    objectApiName: string;
    fieldApiName?: string;
} {
    const [objectApiName, ...rest] = path.split('.');
    if (!objectApiName || rest.some((p) => p === '')) {
        throw new Error(`Malformed schema import @salesforce/schema/${path}`);
    }
    return rest.length === 0
        ? { objectApiName }
        : { objectApiName, fieldApiName: rest.join('.') };
}

function runtimeImport(): string {
    return JSON.stringify(join(CLIENT_DIR, 'runtime.js'));
}

/**
 * The rollup plugin for Salesforce-provided modules. It runs before the LWC plugin so
 * that its answers win over lightning-base-components' built-in English-only label modules.
 */
export function platformModules(labelNames: ReadonlySet<string>): Plugin {
    return {
        name: 'optout-preview-platform',
        resolveId(source) {
            if (source in PLATFORM_MODULES) {
                return join(CLIENT_DIR, PLATFORM_MODULES[source]);
            }
            if (source in RUNTIME_I18N) {
                return `${VIRTUAL}i18n:${RUNTIME_I18N[source]}`;
            }
            if (source.startsWith('@salesforce/label/c.')) {
                const name = source.slice('@salesforce/label/c.'.length);
                if (!labelNames.has(name)) {
                    this.error(
                        `${source}: the package defines no custom label ${name} (labels/CustomLabels.labels-meta.xml)`
                    );
                }
                return `${VIRTUAL}label:${name}`;
            }
            if (source.startsWith('@salesforce/schema/')) {
                return `${VIRTUAL}schema:${source.slice('@salesforce/schema/'.length)}`;
            }
            if (source.startsWith('@salesforce/apex/')) {
                this.error(
                    `${source}: the preview cannot run Apex (the local org has no Apex runtime). Read and write through Lightning Data Service, or test the class with Apex tests in a scratch org.`
                );
            }
            return null;
        },
        load(id) {
            if (!id.startsWith(VIRTUAL)) return null;
            const [kind, ...restParts] = id.slice(VIRTUAL.length).split(':');
            const rest = restParts.join(':');
            if (kind === 'label') {
                return `import { label } from ${runtimeImport()};\nexport default label(${JSON.stringify(rest)});\n`;
            }
            if (kind === 'i18n') {
                return `import { ${rest} } from ${runtimeImport()};\nexport default ${rest};\n`;
            }
            if (kind === 'schema') {
                return `export default ${JSON.stringify(schemaImportValue(rest))};\n`;
            }
            return null;
        }
    };
}

/**
 * Text replacements the LWC engine and lightning-base-components need outside the
 * platform's own build: production mode, and no server-side rendering.
 */
export function replaceBuildConstants(): Plugin {
    return {
        name: 'optout-preview-constants',
        transform(code) {
            if (
                !code.includes('process.env.NODE_ENV') &&
                !code.includes('import.meta.env.SSR')
            ) {
                return null;
            }
            return {
                code: code
                    .replace(/process\.env\.NODE_ENV/g, '"production"')
                    .replace(/import\.meta\.env\.SSR/g, 'false'),
                map: null
            };
        }
    };
}

/** Every component folder of the package, as `c/<name>` aliases for the resolver. */
export function componentModules(
    lwcDir: string
): Array<{ name: string; path: string }> {
    if (!existsSync(lwcDir)) {
        throw new OptoutError(
            'PREVIEW_NO_COMPONENTS',
            `No Lightning Web Components folder at ${lwcDir}`,
            { actions: ['Run the preview from the repository root'] }
        );
    }
    return readdirSync(lwcDir)
        .filter(
            (name) =>
                !name.startsWith('.') &&
                !name.startsWith('__') &&
                statSync(join(lwcDir, name)).isDirectory() &&
                existsSync(join(lwcDir, name, `${name}.js`))
        )
        .map((name) => ({
            name: `c/${name}`,
            path: join(lwcDir, name, `${name}.js`)
        }));
}

/**
 * The engine, synthetic shadow and wire service of the `lwc` package itself (9.4),
 * by path: the copies hoisted to node_modules/@lwc belong to sfdx-lwc-jest and may be
 * another major version.
 */
export function engineModules(): Array<{ name: string; path: string }> {
    const lwcDir = packageRoot('lwc', __dirname);
    const dist = (pkg: string): string =>
        join(packageRoot(pkg, lwcDir), 'dist', 'index.js');
    return [
        { name: 'lwc', path: dist('@lwc/engine-dom') },
        { name: '@lwc/synthetic-shadow', path: dist('@lwc/synthetic-shadow') },
        { name: '@lwc/wire-service', path: dist('@lwc/wire-service') }
    ];
}

/** The folder of package `name` as Node would find it from `from` (exports aside). */
export function packageRoot(name: string, from: string): string {
    for (let dir = resolve(from); ; dir = dirname(dir)) {
        const candidate = join(dir, 'node_modules', name);
        if (existsSync(join(candidate, 'package.json'))) return candidate;
        if (dirname(dir) === dir) {
            throw new OptoutError(
                'PREVIEW_MISSING_PACKAGE',
                `Cannot find the npm package ${name} (needed by the preview build)`,
                { actions: ['Run npm ci'] }
            );
        }
    }
}

export interface BuildOptions {
    /** Output folder (default .optout/preview). */
    outDir?: string;
    /** The package's source folder (default force-app/main/default). */
    packageDir?: string;
    /** Build even when the output is up to date with its inputs. */
    force?: boolean;
}

export interface BuildResult {
    outDir: string;
    bundle: string;
    /** Modules in the bundle (0 when the existing output was up to date). */
    modules: number;
    ms: number;
    /** True when the output was already up to date (nothing compiled). */
    upToDate: boolean;
}

const STAMP_FILE = 'build-stamp.json';

function hashTree(hash: ReturnType<typeof createHash>, dir: string): void {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
        a.name.localeCompare(b.name)
    )) {
        if (entry.name === '__tests__' || entry.name.startsWith('.')) continue;
        const path = join(dir, entry.name);
        if (entry.isDirectory()) hashTree(hash, path);
        else hash.update(`${path}\0`).update(readFileSync(path));
    }
}

/**
 * What the bundle is made of: the package's components and labels, the preview's
 * client modules and build code, and the compiler and base component versions.
 */
export function buildFingerprint(packageDir: string): string {
    const hash = createHash('sha256');
    hashTree(hash, join(packageDir, 'lwc'));
    hashTree(hash, join(packageDir, 'labels'));
    hashTree(hash, CLIENT_DIR);
    hash.update(readFileSync(__filename));
    for (const pkg of [
        'lwc',
        '@lwc/rollup-plugin',
        'lightning-base-components',
        'rollup'
    ]) {
        hash.update(
            readFileSync(join(packageRoot(pkg, __dirname), 'package.json'))
        );
    }
    return hash.digest('hex');
}

/** Compiles the preview bundle (app.js) into outDir. */
export async function buildPreview(
    options: BuildOptions = {}
): Promise<BuildResult> {
    const started = Date.now();
    const outDir = resolve(options.outDir ?? DEFAULT_OUT_DIR);
    const packageDir = resolve(options.packageDir ?? DEFAULT_PACKAGE_DIR);
    const fingerprint = buildFingerprint(packageDir);
    const stampFile = join(outDir, STAMP_FILE);
    if (
        !options.force &&
        existsSync(join(outDir, BUNDLE_FILE)) &&
        existsSync(stampFile) &&
        readFileSync(stampFile, 'utf8').includes(fingerprint)
    ) {
        return {
            outDir,
            bundle: join(outDir, BUNDLE_FILE),
            modules: 0,
            ms: Date.now() - started,
            upToDate: true
        };
    }
    const labelNames = new Set(
        Object.keys(loadPackageI18n(packageDir).labels.en_US)
    );
    // Loaded on use: only the preview needs the compiler.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { rollup } = require('rollup') as typeof import('rollup');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lwc = (require('@lwc/rollup-plugin') as { default: LwcPlugin })
        .default;
    const warnings: string[] = [];
    const bundle = await rollup({
        input: join(CLIENT_DIR, 'app.js'),
        plugins: [
            platformModules(labelNames),
            replaceBuildConstants(),
            lwc({
                rootDir: CLIENT_DIR,
                modules: [
                    ...componentModules(join(packageDir, 'lwc')),
                    { npm: 'lightning-base-components' }
                ],
                defaultModules: engineModules(),
                enableDynamicComponents: true
            })
        ],
        onwarn(warning: RollupLog) {
            // lightning-base-components' own warnings (circular imports, a duplicate
            // slot in lightning-card) are not the package's to fix.
            if (
                warning.code === 'CIRCULAR_DEPENDENCY' ||
                (warning.id ?? warning.message).includes(
                    'lightning-base-components'
                )
            ) {
                return;
            }
            warnings.push(warning.message);
        }
    });
    try {
        // Old chunks (other hashes) go, so the folder holds one consistent build.
        mkdirSync(outDir, { recursive: true });
        for (const name of readdirSync(outDir)) {
            if (
                name === BUNDLE_FILE ||
                name === STAMP_FILE ||
                /^chunk-.*\.js$/.test(name)
            ) {
                rmSync(join(outDir, name), { force: true });
            }
        }
        const { output } = await bundle.write({
            dir: outDir,
            format: 'esm',
            entryFileNames: BUNDLE_FILE,
            chunkFileNames: 'chunk-[hash].js',
            sourcemap: false
        });
        writeFileSync(
            stampFile,
            `${JSON.stringify({ fingerprint, builtAt: new Date().toISOString() })}\n`
        );
        if (warnings.length > 0) {
            process.stderr.write(
                `preview build warnings:\n${warnings.map((w) => `  ${w}`).join('\n')}\n`
            );
        }
        return {
            outDir,
            bundle: join(outDir, BUNDLE_FILE),
            modules: output
                .filter((o) => o.type === 'chunk')
                .reduce(
                    (n, chunk) =>
                        n +
                        ('modules' in chunk
                            ? Object.keys(chunk.modules).length
                            : 0),
                    0
                ),
            ms: Date.now() - started,
            upToDate: false
        };
    } finally {
        await bundle.close();
    }
}

/**
 * buildPreview in a child process (`npm run preview -- --build-only`): for callers
 * that cannot load the compiler's ES modules themselves, such as Jest.
 */
export function buildPreviewInChild(outDir: string): Promise<BuildResult> {
    const repo = PROJECT_ROOT;
    return new Promise((resolveBuild, reject) => {
        execFile(
            process.execPath,
            [
                join(repo, 'bin', 'run-ts'),
                join(__dirname, 'main.ts'),
                '--build-only',
                '--json',
                '--out',
                outDir
            ],
            { cwd: repo, maxBuffer: 10 * 1024 * 1024, timeout: 10 * 60_000 },
            (err, stdout, stderr) => {
                if (err) {
                    reject(
                        new Error(
                            `preview build failed: ${stderr.trim() || err.message}`
                        )
                    );
                    return;
                }
                // The CLI's --json envelope: {"status", "result", "warnings"}.
                const { result } = JSON.parse(stdout) as {
                    result: {
                        status: string;
                        outDir: string;
                        modules: number;
                        ms: number;
                    };
                };
                resolveBuild({
                    outDir: result.outDir,
                    bundle: join(result.outDir, BUNDLE_FILE),
                    modules: result.modules,
                    ms: result.ms,
                    upToDate: result.status === 'up-to-date'
                });
            }
        );
    });
}

type LwcPlugin = (options: {
    rootDir?: string;
    modules?: Array<Record<string, string>>;
    defaultModules?: Array<Record<string, string>>;
    enableDynamicComponents?: boolean;
}) => Plugin;
