#!/usr/bin/env bash
# pg.sh — the project's private PostgreSQL 15 cluster for local runs and tests.
#
#   scripts/pg.sh start            create the cluster if missing, start it, ensure role
#                                  `xyz` (LOGIN CREATEDB) and database `xyz` exist
#   scripts/pg.sh stop             stop it (fast shutdown); no-op when not running
#   scripts/pg.sh status           "running ..." (exit 0) or "stopped" (exit 3)
#   scripts/pg.sh port             the TCP port (127.0.0.1)
#   scripts/pg.sh url [DBNAME]     libpq keyword DSN for DBNAME (default xyz), e.g.
#                                  host=127.0.0.1 port=54321 dbname=xyz user=xyz
#   scripts/pg.sh datadir          the cluster's data directory
#   scripts/pg.sh recreate-db NAME drop database NAME (if any) and create it owned by xyz
#
# The cluster runs as the `postgres` OS user, listens on 127.0.0.1 only, on a free port
# chosen once and kept in .run/pg/port, with trust authentication and its unix socket
# in its own data directory. The data directory is .run/pg/data, or
# /var/tmp/xyz-pg-<hash of repo path>/data when `postgres` cannot reach the repository
# (e.g. a clone under /root); the choice is recorded in .run/pg/datadir.
# Server log: <data dir>/server.log.
#
# When XYZ_DATABASE_URL is set, that database is used instead: start/stop do nothing,
# `url` prints XYZ_DATABASE_URL, and recreate-db refuses to run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
RUN="$REPO/.run/pg"
PORT_FILE="$RUN/port"
DATADIR_FILE="$RUN/datadir"

log() { echo "pg: $*" >&2; }
die() { echo "pg: $*" >&2; exit 1; }

# Run a command as the postgres OS user, from a directory it can enter.
as_pg() { (cd / && runuser -u postgres -- "$@"); }

# Choose (once) and print the data directory.
datadir() {
    local d
    if [ -s "$DATADIR_FILE" ]; then
        cat "$DATADIR_FILE"
        return
    fi
    mkdir -p "$RUN"
    d="$RUN/data"
    # postgres must traverse the path, and the socket path ($d/.s.PGSQL.NNNNN) must fit
    # in sun_path (108 bytes).
    if ! as_pg test -x "$RUN" || [ $(( ${#d} + 20 )) -gt 100 ]; then
        d="/var/tmp/xyz-pg-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)/data"
    fi
    echo "$d" > "$DATADIR_FILE"
    echo "$d"
}

# shellcheck source=lib/ports.sh
. "$REPO/scripts/lib/ports.sh"

is_running() {
    local d
    d="$(datadir)"
    [ -f "$d/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$d" status >/dev/null 2>&1
}

# Port of the running cluster (from postmaster.pid), else the recorded one.
current_port() {
    local d
    d="$(datadir)"
    if is_running && [ -f "$d/postmaster.pid" ]; then
        sed -n 4p "$d/postmaster.pid"
    elif [ -s "$PORT_FILE" ]; then
        cat "$PORT_FILE"
    else
        die "no port yet; run: scripts/pg.sh start"
    fi
}

# psql as the superuser over the cluster's unix socket.
psql_admin() {
    local d
    d="$(datadir)"
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$d" -p "$(current_port)" -U postgres -d postgres "$@"
}

cmd_start() {
    local d port base
    if [ -n "${XYZ_DATABASE_URL:-}" ]; then
        return 0
    fi
    command -v runuser >/dev/null || die "runuser not found"
    id postgres >/dev/null 2>&1 || die "OS user postgres missing; run scripts/deps.sh"
    d="$(datadir)"
    base="$(dirname "$d")"
    mkdir -p "$RUN"

    if [ ! -f "$d/PG_VERSION" ]; then
        mkdir -p "$base"
        rm -rf "$d"
        mkdir -p "$d"
        chown postgres:postgres "$d"
        chmod 700 "$d"
        if ! as_pg "$PGBIN/initdb" -D "$d" -U postgres -A trust -E UTF8 --locale=C \
                --no-sync >"$RUN/initdb.log" 2>&1; then
            cat "$RUN/initdb.log" >&2
            die "initdb failed"
        fi
        # Settings that change between starts live in xyz.conf, rewritten on each start.
        echo "include_if_exists = 'xyz.conf'" >> "$d/postgresql.conf"
    fi

    if ! is_running; then
        port="$(pick_port "$PORT_FILE")"
        as_pg tee "$d/xyz.conf" >/dev/null <<CONF
# Written by scripts/pg.sh start; changes here are overwritten.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$d'
max_connections = 200
CONF
        echo "$port" > "$PORT_FILE"
        if ! as_pg "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 -s start >/dev/null; then
            tail -n 30 "$d/server.log" >&2 || true
            die "could not start PostgreSQL (log: $d/server.log)"
        fi
        log "started on 127.0.0.1:$port (data: $d)"
    else
        current_port > "$PORT_FILE"
    fi

    # Role and database for the application; idempotent.
    psql_admin <<'SQL'
SELECT 'CREATE ROLE xyz LOGIN CREATEDB'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xyz') \gexec
SELECT 'CREATE DATABASE xyz OWNER xyz'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'xyz') \gexec
SQL
}

cmd_stop() {
    local d
    [ -n "${XYZ_DATABASE_URL:-}" ] && return 0
    [ -s "$DATADIR_FILE" ] || return 0
    d="$(datadir)"
    if is_running; then
        as_pg "$PGBIN/pg_ctl" -D "$d" -m fast -w -t 60 -s stop
        log "stopped"
    fi
}

cmd_status() {
    if [ -n "${XYZ_DATABASE_URL:-}" ]; then
        echo "external database (XYZ_DATABASE_URL)"
        return 0
    fi
    if [ -s "$DATADIR_FILE" ] && is_running; then
        echo "running on 127.0.0.1:$(current_port) (data: $(datadir))"
    else
        echo "stopped"
        return 3
    fi
}

cmd_url() {
    local db="${1:-xyz}"
    if [ -n "${XYZ_DATABASE_URL:-}" ]; then
        echo "$XYZ_DATABASE_URL"
        return 0
    fi
    echo "host=127.0.0.1 port=$(current_port) dbname=$db user=xyz"
}

cmd_recreate_db() {
    local db="${1:-}"
    [ -n "${XYZ_DATABASE_URL:-}" ] && die "recreate-db is not available with XYZ_DATABASE_URL"
    [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || die "usage: pg.sh recreate-db NAME (lower-case identifier)"
    is_running || die "cluster not running; run: scripts/pg.sh start"
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER xyz" 2>&1 \
        | { grep -v '^NOTICE:' || true; } >&2
}

case "${1:-}" in
    start)       cmd_start ;;
    stop)        cmd_stop ;;
    status)      cmd_status ;;
    port)        if [ -n "${XYZ_DATABASE_URL:-}" ]; then die "external database (XYZ_DATABASE_URL)"; fi
                 current_port ;;
    url)         cmd_url "${2:-}" ;;
    datadir)     datadir ;;
    recreate-db) cmd_recreate_db "${2:-}" ;;
    *)           echo "usage: $0 start|stop|status|port|url [DBNAME]|datadir|recreate-db NAME" >&2
                 exit 2 ;;
esac
