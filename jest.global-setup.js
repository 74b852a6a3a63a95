'use strict';
// Before the scripts tests run: bring the compiled CLI (dist/) up to date, because the
// tests run `bin/optout` as users do. Incremental: a second ~5 s when nothing changed.
const { execFileSync } = require('node:child_process');

module.exports = function buildCompiledCli() {
    execFileSync(
        process.execPath,
        [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
        { cwd: __dirname, stdio: 'inherit' }
    );
};
