/**
 * Converts package directories to Metadata API format with
 * @salesforce/source-deploy-retrieve, as `sf project deploy` would before sending them,
 * and accounts for every file: a file no component claims would be silently left out of
 * a deploy, so it is reported.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
    ComponentSet,
    ForceIgnore,
    MetadataConverter,
    RegistryAccess,
    SourceComponent
} from '@salesforce/source-deploy-retrieve';
import { Problem } from './problems';
import { listFiles } from './model';

export interface ConversionResult {
    problems: Problem[];
    /** Components per metadata type, e.g. `{ CustomObject: 2 }`. */
    types: Map<string, number>;
    components: number;
}

function claimedFiles(component: SourceComponent, into: Set<string>): void {
    if (component.xml) into.add(path.resolve(component.xml));
    // A decomposed component (CustomObject, CustomObjectTranslation) is its children: its
    // folder may hold files no child claims. A bundle (lwc) is its whole folder.
    if (component.content && !component.type.children) {
        for (const file of component.walkContent())
            into.add(path.resolve(file));
    }
    for (const child of component.getChildren()) claimedFiles(child, into);
}

/** Converts one package directory (absolute path) into a temporary folder. */
export async function convertPackageDir(
    dir: string,
    projectRoot: string
): Promise<ConversionResult> {
    const problems: Problem[] = [];
    const types = new Map<string, number>();
    const relative = (file: string): string => path.relative(projectRoot, file);
    if (!fs.existsSync(dir)) {
        return {
            problems: [
                { rule: 'convert', message: `${relative(dir)} does not exist` }
            ],
            types,
            components: 0
        };
    }
    let set: ComponentSet;
    try {
        set = ComponentSet.fromSource({ fsPaths: [dir] });
    } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const file = /^(\/\S+?):/.exec(message)?.[1];
        return {
            problems: [
                {
                    file: file ? relative(file) : relative(dir),
                    rule: 'unknown-metadata',
                    message: message.replace(`${file}: `, '')
                }
            ],
            types,
            components: 0
        };
    }
    const registry = new RegistryAccess();
    const components = set.getSourceComponents().toArray();
    const claimed = new Set<string>();
    for (const component of components) {
        claimedFiles(component, claimed);
        const name = component.type.name;
        types.set(name, (types.get(name) ?? 0) + 1);
        try {
            registry.getTypeByName(name);
        } catch {
            problems.push({
                file: component.xml ? relative(component.xml) : undefined,
                rule: 'unknown-metadata',
                message: `${name} is not a type the metadata registry knows`
            });
        }
    }
    // Files in a metadata folder (classes/, objects/, lwc/...) that no component claims are
    // dropped by a deploy without a word. Files elsewhere (jest mocks) are not metadata.
    const metadataFolders = new Set(
        Object.values(registry.getRegistry().types).map(
            (type) => type.directoryName
        )
    );
    const forceIgnore = ForceIgnore.findAndCreate(dir);
    for (const file of listFiles(dir)) {
        if (forceIgnore.denies(file) || claimed.has(path.resolve(file)))
            continue;
        const folders = path.relative(dir, path.dirname(file)).split(path.sep);
        if (!folders.some((folder) => metadataFolders.has(folder))) continue;
        problems.push({
            file: relative(file),
            rule: 'unknown-metadata',
            message:
                'no metadata component claims this file, so a deploy would leave it out'
        });
    }
    const output = fs.mkdtempSync(path.join(os.tmpdir(), 'optout-convert-'));
    try {
        await new MetadataConverter().convert(set, 'metadata', {
            type: 'directory',
            outputDirectory: output,
            genUniqueDir: false
        });
        if (!fs.existsSync(path.join(output, 'package.xml'))) {
            problems.push({
                file: relative(dir),
                rule: 'convert',
                message: 'conversion wrote no package.xml'
            });
        }
    } catch (err) {
        problems.push({
            file: relative(dir),
            rule: 'convert',
            message: `conversion failed: ${err instanceof Error ? err.message : String(err)}`
        });
    } finally {
        fs.rmSync(output, { recursive: true, force: true });
    }
    return { problems, types, components: components.length };
}
