'use strict';
// Before the scripts tests run: bring the compiled CLI (dist/) up to date, because the
// tests run `bin/optout` as users do. Incremental: a few seconds when nothing changed.
// Type errors are reported by `npm run typecheck`; tsc still emits the JavaScript, so a
// type error alone does not stop the tests here.
const { spawnSync } = require('node:child_process');

module.exports = function buildCompiledCli() {
    const r = spawnSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
        { cwd: __dirname, encoding: 'utf8' }
    );
    if (r.status !== 0)
        process.stderr.write(
            `\nnpm run build reported problems (dist/ was still written):\n${r.stdout}${r.stderr}\n`
        );
};
