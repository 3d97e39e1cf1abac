#!/usr/bin/env bash
# worker-memory.sh — where an nginx worker's memory goes with N connections.
#
# One nginx worker (one hashing thread, the production hash), configured as
# bench/journey.conf.in without the relay and the dispatcher, and N client
# connections (bench/hold.mjs).  It prints the worker's RSS and the parts of
# it (/proc/PID/smaps_rollup, and the heap against anonymous mappings from
# /proc/PID/smaps) at each stage:
#
#   start     nginx started, no connection
#   idle      N keep-alive connections, each after one GET /
#   first     one registration answered (the worker learns how long a hash
#             takes, as it does while a crowd's registrations come in)
#   waiting   5 s after N registrations posted at once: those held in the
#             hash queue, and the keep-alive connections of those refused
#   answered  every registration answered, connections still open
#   closed    every connection closed
#
# Environment: MEM_N (connections, default 5000), MEM_WAIT (an xyz_hash_queue
# wait instead of the template's, e.g. 120s: long enough for every request to
# be held), MEM_CONF (another template than bench/journey.conf.in),
# XYZ_MODULE (a module .so to load instead of building one).
# Runtime files in .run/worker-memory/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
RUN="$REPO/.run/worker-memory"
PREFIX="$RUN/nginx"
NGINX="${NGINX:-/usr/sbin/nginx}"
MODULE="${XYZ_MODULE:-}"
N="${MEM_N:-5000}"
WAIT="${MEM_WAIT:-}"
CONF="${MEM_CONF:-$REPO/bench/journey.conf.in}"
DB=xyz_worker_memory
PG_STARTED=0
HOLD_PID=

log() { printf 'worker-memory: %s\n' "$*" >&2; }
warn() { printf 'worker-memory: WARNING: %s\n' "$*" >&2; }
die() { printf 'worker-memory: %s\n' "$*" >&2; exit 1; }
# shellcheck source=lib/ports.sh
. "$S/lib/ports.sh"
# shellcheck source=lib/nginx.sh
. "$S/lib/nginx.sh"

cleanup() {
    [ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null || true
    nginx_stop_prefix "$PREFIX"
    [ "$PG_STARTED" = 1 ] && "$S/pg.sh" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

cd "$REPO"
if [ -z "$MODULE" ]; then
    "$S/build.sh" >/dev/null
    MODULE="$REPO/build/ngx_xyz_module.so"
fi
"$S/pg.sh" status >/dev/null 2>&1 || PG_STARTED=1
"$S/pg.sh" start >/dev/null 2>&1
"$S/pg.sh" recreate-db "$DB" >/dev/null 2>&1
DSN="$("$S/pg.sh" url "$DB")"
"$S/migrate.sh" "$DSN" >/dev/null

ulimit -Sn "$(( N * 2 + 1000 ))" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
PORT="$(pick_port)"
rm -rf "$PREFIX"
mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/temp"
head -c 48 /dev/urandom | base64 > "$PREFIX/conf/jwt.key"

# the journey's configuration with one worker, one thread, and neither the
# relay nor the dispatcher (they need the SQS emulator and hold no client)
B_PREFIX="$PREFIX" B_PORT="$PORT" B_HTML="$REPO/html" B_USER="root root" B_WORKERS=1 \
B_MODULE="$MODULE" B_THREADS=1 B_ARGON2="m=19456 t=2 p=1" B_PG_DSN="$DSN" B_PG_POOL=16 \
B_MAX_QUEUE=4096 B_JWT_KEY="$PREFIX/conf/jwt.key" B_WAIT="$WAIT" perl -ne '
    next if /^\s*#/ || /xyz_(sqs|outbox|dispatch|smtp|mail|crm|public_url)/;
    s/(xyz_hash_queue\s.*wait=)[^\s;]+/$1$ENV{B_WAIT}/ if $ENV{B_WAIT} ne "";
    s/\@([A-Z0-9_]+)\@/exists $ENV{"B_$1"} ? $ENV{"B_$1"} : "x"/ge;
    print;
' "$CONF" > "$PREFIX/conf/nginx.conf"
"$NGINX" -q -t -p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log" \
    || die "configuration test failed: $PREFIX/conf/nginx.conf"
"$NGINX" -p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log"
sleep 1
WORKER="$(ps -o pid= --ppid "$(cat "$PREFIX/logs/nginx.pid")" | head -1 | tr -d ' ')"

report() { "$REPO/bench/mem-breakdown.sh" "$WORKER" "$1"; }

coproc HOLD { node "$REPO/bench/hold.mjs" --url "http://127.0.0.1:$PORT" --n "$N" --tag "m$RANDOM$RANDOM"; }
HOLD_PID="$HOLD_PID"
cmd() { echo "$1" >&"${HOLD[1]}"; read -r line <&"${HOLD[0]}"; echo "           ($line)"; }

echo "worker-memory: 1 worker (pid $WORKER), $N connections, $(basename "$CONF"): $(grep -o 'xyz_hash_queue[^;]*' "$PREFIX/conf/nginx.conf"), $(grep -o 'worker_connections[^;]*' "$PREFIX/conf/nginx.conf")"
report start
cmd idle;   report idle
cmd one;    report first
cmd post;   sleep 5; report waiting
cmd answers; report answered
cmd close;  sleep 2; report closed
grep -c 'alert\|crit\|emerg' "$PREFIX/logs/error.log" | sed 's/^/error log alert|crit|emerg lines: /'
