#!/usr/bin/env bash
# Runs a command (the Jest run of `npm test`) with a PostgreSQL server for the tests:
# the one OPTOUT_TEST_PG_URL names, else a throwaway cluster started here and removed
# when the command ends (.ci/postgres.sh). When none can be started, the command still
# runs: the PostgreSQL suites then fail if OPTOUT_REQUIRE_PG=1 (CI), else are skipped
# with the reason.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -n "${OPTOUT_TEST_PG_URL:-}" ]; then
    exec "$@"
fi
if pg_env=$(bash "$here/postgres.sh" start); then
    eval "$pg_env"
    trap 'bash "$here/postgres.sh" stop "$OPTOUT_TEST_PG_DIR"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "$@"
    exit $?
fi
echo "with-postgres.sh: no PostgreSQL server for the tests (see above); running without one" >&2
exec "$@"
