/**
 * `npm run preview [-- --port N --target-org local]`: builds the Audience
 * Subscriptions component from force-app with the open-source LWC compiler and serves
 * record pages of the local org's Contacts and Leads (see cli.ts and server.ts).
 */
import { previewProgram } from './cli';

previewProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
        process.stderr.write(`${String(err)}\n`);
        process.exitCode = 1;
    });
