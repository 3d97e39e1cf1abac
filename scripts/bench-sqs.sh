#!/usr/bin/env bash
# bench-sqs.sh — registrations/s with the outbox relay publishing to SQS,
# against the same nginx without it, in one run on this machine.
#
# Both runs use a cheap hash (m=64 t=1) so that what publishing costs is not
# hidden behind Argon2id, the same database (recreated: xyz_bench_sqs), the
# same wrk script (bench/register.lua), and the local SQS emulator. Prints
# both rates and their ratio. A benchmark, not a test: it exits 0 unless
# something is broken.
#
#   BENCH_DURATION      seconds of each wrk run      [10]
#   BENCH_CONNECTIONS   wrk connections              [32]
#   BENCH_ARGON2        hash parameters              [m=64 t=1 p=1]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
RUN="$REPO/.run/bench-sqs"
DURATION="${BENCH_DURATION:-10}"
CONNS="${BENCH_CONNECTIONS:-32}"
WORKERS="$(nproc)"
ARGON2="${BENCH_ARGON2:-m=64 t=1 p=1}"

"$S/deps.sh" >/dev/null
"$S/build.sh" >/dev/null

# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"

cleanup() {
    for d in "$RUN"/on "$RUN"/off; do
        [ -s "$d/logs/nginx.pid" ] && kill -QUIT "$(cat "$d/logs/nginx.pid")" 2>/dev/null || true
    done
    stack_stop >/dev/null 2>&1
}
trap cleanup EXIT

stack_start pg sqs >/dev/null
"$S/pg.sh" recreate-db xyz_bench_sqs >/dev/null
DSN="$("$S/pg.sh" url xyz_bench_sqs)"
"$S/migrate.sh" "$DSN" >/dev/null

EP="$("$S/sqs.sh" endpoint)"
EQ="$("$S/sqs.sh" queue-url xyz-email)"
CQ="$("$S/sqs.sh" queue-url xyz-crm)"

free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Listen => 1) or die; print $s->sockport'
}

# one nginx, with the relay ($1 = on) or without it
start_nginx() {
    local mode="$1" dir="$RUN/$1" port relay=""
    port="$(free_port)"
    mkdir -p "$dir/conf" "$dir/logs" "$dir/temp"
    if [ "$mode" = on ]; then
        relay="xyz_sqs_endpoint $EP;
    xyz_sqs_queue email $EQ;
    xyz_sqs_queue crm $CQ;"
    fi
    cat > "$dir/conf/nginx.conf" <<CONF
load_module "$REPO/build/ngx_xyz_module.so";
daemon on;
master_process on;
worker_processes $WORKERS;
worker_rlimit_nofile 20000;
user root;
pid $dir/logs/nginx.pid;
error_log $dir/logs/error.log warn;
env AWS_ACCESS_KEY_ID=bench;
env AWS_SECRET_ACCESS_KEY=bench;
thread_pool xyz_hash threads=1 max_queue=4096;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/temp;
    xyz_pg_dsn "$DSN";
    xyz_pg_pool_size 16;
    xyz_hash_thread_pool xyz_hash;
    xyz_argon2id $ARGON2;
    $relay
    server {
        listen 127.0.0.1:$port;
        location = /api/register { xyz_register; }
    }
}
CONF
    nginx -p "$dir/" -c "$dir/conf/nginx.conf" 2>/dev/null
    echo "$port"
}

measure() {
    local port="$1" out="$2"
    wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$REPO/bench/register.lua" \
        "http://127.0.0.1:$port/api/register" > "$out" 2>&1
    awk '/^Requests\/sec/ { print $2 }' "$out"
}

mkdir -p "$RUN"

port_off="$(start_nginx off)"
sleep 0.5
rate_off="$(measure "$port_off" "$RUN/wrk-off.txt")"
kill -QUIT "$(cat "$RUN/off/logs/nginx.pid")"

port_on="$(start_nginx on)"
sleep 0.5
rate_on="$(measure "$port_on" "$RUN/wrk-on.txt")"
sleep 3
pending="$(psql -X -q -At -d "$DSN" -c \
    "SELECT count(*) FROM outbox WHERE published_at IS NULL AND created_at > now() - interval '1 hour'")"
published="$(psql -X -q -At -d "$DSN" -c \
    "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")"

non2xx_off="$(awk '/Non-2xx/ { print $5 }' "$RUN/wrk-off.txt")"
non2xx_on="$(awk '/Non-2xx/ { print $5 }' "$RUN/wrk-on.txt")"

cat <<OUT

registrations ($ARGON2), relay off:  $rate_off /s   (non-2xx: ${non2xx_off:-0})
registrations ($ARGON2), relay on:   $rate_on /s   (non-2xx: ${non2xx_on:-0})
ratio on / off:                       $(awk -v a="$rate_on" -v b="$rate_off" 'BEGIN { printf "%.2f", a / b }')
outbox rows published: $published; still pending 3 s after the run: $pending
command: BENCH_ARGON2="$ARGON2" BENCH_DURATION=$DURATION BENCH_CONNECTIONS=$CONNS scripts/bench-sqs.sh ($(nproc) cores)
OUT
