#!/usr/bin/env bash
# Makes sure a PostgreSQL server listens on 127.0.0.1:5432 with the role `loader` (password `loader`)
# and the database `harness_test` it owns, which tests/test_postgres.py uses by default.
#
# Idempotent; run as root on Debian (CI calls it before `make test`). It installs the `postgresql`
# package if the binaries are missing, starts the Debian cluster (or creates one, or as a last resort
# runs `initdb` + `pg_ctl` in a private directory), always as the `postgres` user since PostgreSQL
# refuses to run as root. Prints one line saying what it did; details of a failure go to a log file.
set -euo pipefail

PORT=5432
ROLE=loader
PASSWORD=loader
DATABASE=harness_test
DSN="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
FALLBACK_DATA=/var/lib/postgresql/harness-ci
LOG=$(mktemp /tmp/harness-postgres-ci.XXXXXX.log)
did=()

fail() {
    echo "postgres.sh: $1 (details in $LOG)" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        exec sudo -n -- "$0" "$@"
    fi
    fail "run me as root: I install PostgreSQL and start it as the postgres user"
fi
cd /  # the postgres user may not be allowed into the caller's directory

newest_bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/postgres" ]; then echo "$dir"; fi
}

BIN=$(newest_bin_dir)
if [ -z "$BIN" ]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update && apt-get install -y --no-install-recommends postgresql; } >>"$LOG" 2>&1 \
        || fail "apt-get install postgresql failed"
    BIN=$(newest_bin_dir)
    [ -n "$BIN" ] || fail "postgresql is installed but no /usr/lib/postgresql/*/bin/postgres was found"
    did+=("installed the postgresql package")
fi
VERSION=$(basename "$(dirname "$BIN")")

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1; }

wait_ready() {
    for _ in $(seq 1 60); do
        if ready; then return 0; fi
        sleep 0.5
    done
    return 1
}

if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres >>"$LOG" 2>&1 \
        || fail "could not create the postgres user"
fi

if ready; then
    did+=("found PostgreSQL already running")
elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -f "/etc/postgresql/$VERSION/main/postgresql.conf" ]; then
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    pg_ctlcluster "$VERSION" main start >>"$LOG" 2>&1 || fail "pg_ctlcluster $VERSION main start failed"
    did+=("started cluster $VERSION/main")
elif command -v pg_createcluster >/dev/null 2>&1; then
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    pg_createcluster --start -p "$PORT" --encoding UTF8 --locale C.UTF-8 "$VERSION" main >>"$LOG" 2>&1 \
        || fail "pg_createcluster $VERSION main failed"
    did+=("created and started cluster $VERSION/main")
else
    if [ ! -f "$FALLBACK_DATA/PG_VERSION" ]; then
        install -d -o postgres -g postgres -m 700 "$FALLBACK_DATA"
        runuser -u postgres -- "$BIN/initdb" -D "$FALLBACK_DATA" -U postgres -E UTF8 --locale=C \
            --auth-local=trust --auth-host=scram-sha-256 >>"$LOG" 2>&1 || fail "initdb failed"
        did+=("initialised $FALLBACK_DATA")
    fi
    runuser -u postgres -- "$BIN/pg_ctl" -D "$FALLBACK_DATA" -l "$FALLBACK_DATA/server.log" -w \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -k $FALLBACK_DATA" start >>"$LOG" 2>&1 \
        || fail "pg_ctl start failed (see also $FALLBACK_DATA/server.log)"
    did+=("started a server in $FALLBACK_DATA")
fi
wait_ready || fail "no PostgreSQL server answers on 127.0.0.1:$PORT"

# The superuser connects through the Unix socket of whichever server is running (peer or trust auth).
SOCKET=/var/run/postgresql
if [ ! -S "$SOCKET/.s.PGSQL.$PORT" ] && [ -S "$FALLBACK_DATA/.s.PGSQL.$PORT" ]; then
    SOCKET=$FALLBACK_DATA
fi
as_superuser() {
    runuser -u postgres -- "$BIN/psql" -h "$SOCKET" -p "$PORT" -d postgres -X -q -t -A \
        -v ON_ERROR_STOP=1 "$@" 2>>"$LOG"
}

role_exists=$(as_superuser -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'") \
    || fail "cannot connect as the postgres superuser through $SOCKET"
if [ "$role_exists" = 1 ]; then
    # keeps the password the tests expect, whatever it was
    as_superuser -c "ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'" >>"$LOG" \
        || fail "ALTER ROLE $ROLE failed"
else
    as_superuser -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'" >>"$LOG" \
        || fail "CREATE ROLE $ROLE failed"
    did+=("created role $ROLE")
fi
if [ "$(as_superuser -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    # C collation: ORDER BY on text sorts by code point, as DuckDB does
    as_superuser -c "CREATE DATABASE $DATABASE OWNER $ROLE ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" >>"$LOG" \
        || fail "CREATE DATABASE $DATABASE failed"
    did+=("created database $DATABASE")
fi

PGPASSWORD=$PASSWORD "$BIN/psql" -X -q -t -A -c "SELECT 1" "$DSN" >>"$LOG" 2>&1 \
    || fail "the server runs but $ROLE cannot log in over TCP to $DATABASE"

summary=$(printf '%s, ' "${did[@]}")
summary=${summary%, }
echo "postgres.sh: PostgreSQL $VERSION ready at $DSN ($summary)"
rm -f "$LOG"
