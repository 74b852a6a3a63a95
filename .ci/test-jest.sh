#!/usr/bin/env bash
# The Jest run of `npm test`: the lwc and scripts projects (with coverage), then the
# ledger, sync, webhook and scheduler suites again on PostgreSQL (project `postgres`)
# when a server is named or required — one after the other, so that the timing-
# sensitive suites of the first run (the local org's Bulk jobs) keep the machine's
# two cores as before rather than share them with the second.
set -euo pipefail
cd "$(dirname "$0")/.."
npx jest --ci --coverage --maxWorkers=2 --selectProjects lwc scripts
if [ -n "${OPTOUT_TEST_PG_URL:-}" ] || [ "${OPTOUT_REQUIRE_PG:-}" = 1 ]; then
    npx jest --ci --maxWorkers=2 --selectProjects postgres
else
    echo "test-jest.sh: no PostgreSQL server for the tests: the postgres project is skipped" >&2
fi
