/**
 * Runs the local Mailchimp in the foreground until Ctrl-C:
 *
 *   node bin/run-ts scripts/tools/local-mailchimp/main.ts [--port 8643] [--db FILE|:memory:]
 *       [--api-key KEY-us1] [--faults SPEC] [--latency-ms N] [--seed N]
 *       [--list NAME]… (creates an audience when none has that name)
 *
 * Prints MAILCHIMP_API_URL and MAILCHIMP_API_KEY to export for the connector.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_API_KEY, startLocalMailchimp } from './server';

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            port: { type: 'string', default: '8643' },
            host: { type: 'string', default: '127.0.0.1' },
            db: { type: 'string', default: '.optout/local-mailchimp.db' },
            'api-key': { type: 'string', default: DEFAULT_API_KEY },
            faults: { type: 'string' },
            'latency-ms': { type: 'string' },
            seed: { type: 'string' },
            list: { type: 'string', multiple: true },
            verbose: { type: 'boolean', default: false }
        }
    });
    const mc = await startLocalMailchimp({
        port: Number(values.port),
        host: values.host,
        dbPath: values.db,
        apiKey: values['api-key'],
        faults: values.faults,
        latencyMs: values['latency-ms']
            ? Number(values['latency-ms'])
            : undefined,
        seed: values.seed ? Number(values.seed) : undefined,
        log: values.verbose ? (line): void => console.log(line) : undefined
    });
    for (const name of values.list ?? []) {
        const existing = mc.admin.listsByName(name);
        const id = existing ?? mc.admin.createList(name).id;
        console.log(`audience ${name}: ${id}`);
    }
    console.log(`local Mailchimp on ${mc.baseUrl} (data: ${mc.dbPath})`);
    console.log(`export MAILCHIMP_API_URL=${mc.apiUrl}`);
    console.log(`export MAILCHIMP_API_KEY=${mc.apiKey}`);
    const stop = (): void => {
        void mc.close().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
});
