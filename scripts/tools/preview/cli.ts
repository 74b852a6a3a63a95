/**
 * The `preview` command (npm run preview, see main.ts): builds the Audience
 * Subscriptions component from force-app with the open-source LWC compiler and serves
 * record pages of the local org's Contacts and Leads (see server.ts).
 */
import { Command } from 'commander';
import { runCommand } from '../../cli/command';
import { waitForStopSignal } from '../../scheduler/signals';
import { resolveLocalOrg } from '../local-org/connect';
import { OptoutError } from '../../model/errors';
import { DEFAULT_OUT_DIR, buildPreview } from './build';
import { startPreviewServer } from './server';

interface PreviewOptions {
    port: string;
    host: string;
    targetOrg: string;
    db?: string;
    out: string;
    rebuild?: boolean;
    buildOnly?: boolean;
}

function port(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
        throw new OptoutError(
            'BAD_ARGUMENT',
            `--port must be a port number (0 picks a free one), got '${value}'`,
            { exitCode: 2 }
        );
    }
    return n;
}

export function previewProgram(): Command {
    const program = new Command('preview')
        .description(
            'Serve the Audience Subscriptions component on record pages of the local org, as a Lightning record page shows it (compiled from force-app with the open-source LWC compiler).'
        )
        .option('--port <port>', 'TCP port (0 picks a free one)', '4100')
        .option('--host <host>', 'interface to listen on', '127.0.0.1')
        .option(
            '--target-org <org>',
            "the org to read and write: 'local' (the only one the preview serves)",
            'local'
        )
        .option(
            '--db <file>',
            'local org database when no local org runs (default .optout/local-org.db)'
        )
        .option('--out <dir>', 'where the bundle is built', DEFAULT_OUT_DIR)
        .option('--rebuild', 'build even when the bundle is up to date')
        .option('--build-only', 'build the bundle, then exit (serve nothing)')
        .option('--json', 'print one JSON object (the URLs) instead of text')
        .option('--log-level <level>', 'error, warn, info or debug', 'info');
    program.action(async (opts: PreviewOptions, command: Command) => {
        await runCommand(command, async (out) => {
            const listenPort = port(opts.port);
            if (opts.targetOrg !== 'local' && !opts.buildOnly) {
                throw new OptoutError(
                    'PREVIEW_LOCAL_ONLY',
                    `The preview serves the local org only, not '${opts.targetOrg}'`,
                    {
                        exitCode: 2,
                        actions: [
                            'Use --target-org local (the default)',
                            'To see the component in a real org: npm run org:deploy, then npm run org:open'
                        ]
                    }
                );
            }
            out.log('info', 'Building the component (cached when unchanged)…');
            const build = await buildPreview({
                outDir: opts.out,
                force: opts.rebuild
            });
            out.log(
                'info',
                build.upToDate
                    ? `Bundle up to date in ${build.outDir}`
                    : `Built ${build.modules} modules in ${(build.ms / 1000).toFixed(1)} s`
            );
            if (opts.buildOnly) {
                out.result(
                    {
                        status: build.upToDate ? 'up-to-date' : 'built',
                        outDir: build.outDir,
                        modules: build.modules,
                        ms: build.ms
                    },
                    () => `Bundle in ${build.outDir}`
                );
                return;
            }
            const org = await resolveLocalOrg({ dbPath: opts.db });
            if (org.inProcess) {
                out.log(
                    'info',
                    `No local org was running: serving ${opts.db ?? '.optout/local-org.db'} in this process`
                );
            }
            let server;
            try {
                server = await startPreviewServer({
                    org,
                    buildDir: build.outDir,
                    port: listenPort,
                    host: opts.host,
                    log: (line) => out.log('debug', line)
                });
            } catch (err) {
                await org.close();
                if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
                    throw new OptoutError(
                        'PORT_IN_USE',
                        `Port ${listenPort} is already in use`,
                        {
                            actions: [
                                'Pick another port: npm run preview -- --port 4101 (0 for any free port)'
                            ]
                        }
                    );
                }
                throw err;
            }
            // The first SIGINT/SIGTERM stops; handlers removed, a second one exits. Set
            // before the announcement: a signal sent as soon as it is read must find it.
            const signal = waitForStopSignal(() => undefined);
            // While it serves, one event line (JSON with --json); the envelope at the stop.
            out.event(
                {
                    event: 'serving',
                    url: server.url,
                    org: org.instanceUrl,
                    languages: ['en_US', 'fr', 'zh_CN', 'ja']
                },
                [
                    `Preview of the Audience Subscriptions card: ${server.url}/`,
                    `  record pages: ${server.url}/record/<Contact or Lead id>?lang=fr|zh_CN|ja`,
                    `  org: ${org.instanceUrl}${org.inProcess ? ' (in this process)' : ''}`,
                    'Stop with Ctrl-C.'
                ].join('\n')
            );
            await signal.stopped;
            signal.dispose();
            await server.close();
            await org.close();
            out.result({ stopped: true, url: server.url }, () => 'Stopped.');
        });
    });
    return program;
}
