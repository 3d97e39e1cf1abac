#!/usr/bin/env bash
# run.sh — run the whole thing locally (`make run`).
#
# deps → build → PostgreSQL (private cluster) → migrations on database `xyz` →
# render conf/dev.conf into .run/nginx/conf/nginx.conf → nginx -t → start nginx in
# the foreground, print the URLs, and wait. Ctrl-C (or SIGTERM) stops nginx
# (graceful QUIT, then TERM) and the PostgreSQL cluster if this script started it.
#
# Environment: XYZ_PORT (HTTP port; default 8080 or a free one), XYZ_ADDR
# (default 127.0.0.1), XYZ_DATABASE_URL (use that database instead of the private
# cluster), and the other overrides of scripts/render-conf.sh.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
NGINX="${NGINX:-/usr/sbin/nginx}"
export XYZ_PREFIX="${XYZ_PREFIX:-$REPO/.run/nginx}"

"$S/deps.sh"
"$S/build.sh"

pg_started=0
if [ -z "${XYZ_DATABASE_URL:-}" ] && ! "$S/pg.sh" status >/dev/null 2>&1; then
    pg_started=1
fi
"$S/pg.sh" start
DSN="$("$S/pg.sh" url xyz)"
"$S/migrate.sh" "$DSN"

# ---- later: SQS emulator (fauxqs) -------------------------------------------------
# Start it here (from node_modules/), wait for its port, create the queues, and pass
# its endpoint to the configuration; stop it in cleanup().

# ---- later: mail catcher (maildev) ------------------------------------------------
# Start it here (SMTP sink + web UI on loopback ports); stop it in cleanup().

# ---- later: fake CRM --------------------------------------------------------------
# Start the project's fake CRM here; stop it in cleanup().

conf="$(XYZ_PG_DSN="$DSN" "$S/render-conf.sh")"
echo "run: configuration $conf"
PORT="$(cat "$XYZ_PREFIX/port")"
ADDR="${XYZ_ADDR:-127.0.0.1}"
[ "$ADDR" = 0.0.0.0 ] && ADDR=127.0.0.1

echo "run: nginx -t -p $XYZ_PREFIX/ -c conf/nginx.conf"
"$NGINX" -q -t -p "$XYZ_PREFIX/" -c conf/nginx.conf

nginx_pid=
done_cleanup=0
# shellcheck disable=SC2317  # called from the traps below
cleanup() {
    [ "$done_cleanup" = 1 ] && return
    done_cleanup=1
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        echo "run: stopping nginx"
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    # later: stop the SQS emulator, the mail catcher and the fake CRM here.
    if [ "$pg_started" = 1 ]; then
        "$S/pg.sh" stop || true
    fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

"$NGINX" -p "$XYZ_PREFIX/" -c conf/nginx.conf &
nginx_pid=$!

# Wait until nginx answers (or died).
for _ in $(seq 1 50); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    curl -s -o /dev/null "http://$ADDR:$PORT/" && break
    sleep 0.1
done
if ! kill -0 "$nginx_pid" 2>/dev/null; then
    wait "$nginx_pid" || true
    echo "run: nginx did not start; see $XYZ_PREFIX/logs/error.log" >&2
    exit 1
fi

base="http://$ADDR:$PORT"
cat <<INFO

  XYZ sign-up is running (nginx pid $nginx_pid, logs in ${XYZ_PREFIX#"$REPO/"}/logs/)
    page:      $base/
    register:  $base/api/register   (POST JSON)
    database:  $DSN
  try:
    curl -i -H 'Content-Type: application/json' -d '{"email":"alice@example.com","password":"correct horse battery staple","name":"Alice","locale":"en","marketing_consent":false}' $base/api/register

  Ctrl-C stops everything.

INFO

status=0
wait "$nginx_pid" || status=$?
nginx_pid=
echo "run: nginx exited (status $status)"
exit "$status"
