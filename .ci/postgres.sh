#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: a new cluster in a temporary folder,
# listening on 127.0.0.1 only, on a free port, with one role and one database for the
# tests. Used by .ci/run and by developers (npm run pg:start / npm run pg:stop).
#
#   .ci/postgres.sh start        prints `export NAME=VALUE` lines on stdout (progress goes
#                                to stderr), so that  eval "$(.ci/postgres.sh start)"  sets
#                                OPTOUT_TEST_PG_URL and OPTOUT_TEST_PG_DIR
#   .ci/postgres.sh stop [DIR]   stops the server and removes its folder (DIR, else
#                                $OPTOUT_TEST_PG_DIR, else the last one started here)
#
# When Debian's server programs (initdb, pg_ctl) are missing and we are root, start
# installs the `postgresql` package with apt-get. As root the cluster belongs to the
# `postgres` user (initdb refuses to run as root); otherwise to whoever runs this.
# The cluster trades durability for speed (fsync off): it lives for one test run.
set -euo pipefail

# The folder of the last cluster started, for `stop` without arguments (a developer's
# `npm run pg:stop`); CI passes the folder explicitly.
LAST_FILE="${TMPDIR:-/tmp}/optout-test-pg.last"
DB_NAME=optout_test
DB_ROLE=optout_test

say() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

# The folder holding initdb and pg_ctl: on PATH, else Debian's newest
# /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
find_bindir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        printf '%s\n' "$dir"
        return 0
    fi
    return 1
}

install_server() {
    [ "$(id -u)" = 0 ] || die "PostgreSQL's server programs (initdb, pg_ctl) are not installed. Install them (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql) and run this again."
    say "initdb/pg_ctl not found: installing Debian's postgresql package"
    # The package would create and start a default cluster on port 5432: we need none.
    # (Debian's documented switch; confold keeps this file when the package brings its own.)
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        mkdir -p /etc/postgresql-common
        printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold postgresql >&2
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A TCP port nobody listens on at 127.0.0.1 now (the kernel's pick).
free_port() {
    node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close();});"
}

random_hex() {
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

stop_cluster() {
    local dir="$1"
    [ -d "$dir" ] || return 0
    [ -f "$dir/bindir" ] || die "$dir is not a folder made by postgres.sh start; not removing it"
    local bindir
    bindir=$(cat "$dir/bindir")
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            say "could not stop the server in $dir (see $dir/server.log); removing its folder anyway"
    fi
    rm -rf -- "$dir"
    if [ -f "$LAST_FILE" ] && [ "$(cat "$LAST_FILE")" = "$dir" ]; then rm -f -- "$LAST_FILE"; fi
    say "stopped; removed $dir"
}

# The folder of a start under way, removed if the start fails.
STARTING_DIR=''
abandon_start() {
    if [ -n "$STARTING_DIR" ]; then
        say "start failed; removing $STARTING_DIR"
        if [ -f "$STARTING_DIR/bindir" ]; then stop_cluster "$STARTING_DIR" 2>/dev/null || true; fi
        rm -rf -- "$STARTING_DIR"
    fi
}

start_cluster() {
    local t0 bindir dir port password attempt started=''
    t0=$(date +%s%N)
    bindir=$(find_bindir) || {
        install_server
        bindir=$(find_bindir) || die "installed postgresql, yet initdb/pg_ctl are still not found"
    }
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        die "there is no 'postgres' user to own the cluster (Debian's postgresql-common creates it)"
    fi
    local t_install
    t_install=$(date +%s%N)

    dir=$(mktemp -d "${TMPDIR:-/tmp}/optout-pg.XXXXXX")
    # From here on a failure removes the folder (and stops a server already started).
    STARTING_DIR="$dir"
    trap abandon_start EXIT
    printf '%s\n' "$bindir" >"$dir/bindir"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; fi
    chmod 700 "$dir"

    # Connections over the socket (in the folder) are trusted, for setting up; over TCP
    # they need the test role's password, as a real deployment would.
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
        {
            cat "$dir/initdb.log" >&2
            false
        }
    local t_initdb
    t_initdb=$(date +%s%N)

    for attempt in 1 2 3; do
        port=$(free_port)
        cat >>"$dir/data/postgresql.conf" <<EOF
# postgres.sh (a throwaway cluster for tests; the last value of a setting wins)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
            started=yes
            break
        fi
        # Another process may have taken the port between our pick and the server's bind.
        say "server did not start on port $port (attempt $attempt); log:"
        tail -n 5 "$dir/server.log" >&2 || true
    done
    [ -n "$started" ] || false
    local t_start
    t_start=$(date +%s%N)

    password=$(random_hex)
    as_owner "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >/dev/null <<SQL
CREATE ROLE $DB_ROLE LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE $DB_NAME OWNER $DB_ROLE;
SQL
    trap - EXIT
    STARTING_DIR=''
    local url="postgres://$DB_ROLE:$password@127.0.0.1:$port/$DB_NAME"
    printf '%s\n' "$url" >"$dir/url"
    printf '%s\n' "$dir" >"$LAST_FILE"
    ms() { echo $((($2 - $1) / 1000000)); }
    say "PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port, folder $dir" \
        "(install check $(ms "$t0" "$t_install") ms, initdb $(ms "$t_install" "$t_initdb") ms," \
        "start $(ms "$t_initdb" "$t_start") ms, role and database $(ms "$t_start" "$(date +%s%N)") ms)"
    printf 'export OPTOUT_TEST_PG_URL=%q\n' "$url"
    printf 'export OPTOUT_TEST_PG_DIR=%q\n' "$dir"
}

case "${1:-}" in
start) start_cluster ;;
stop)
    target="${2:-${OPTOUT_TEST_PG_DIR:-}}"
    if [ -z "$target" ] && [ -f "$LAST_FILE" ]; then target=$(cat "$LAST_FILE"); fi
    [ -n "$target" ] || die "no cluster to stop (give its folder, or set OPTOUT_TEST_PG_DIR)"
    stop_cluster "$target"
    ;;
*)
    die "usage: .ci/postgres.sh start | stop [DIR]"
    ;;
esac
