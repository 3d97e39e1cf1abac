#!/usr/bin/env bash
# bench-open.sh — registration latency under an open loop (`make bench-open`): a
# fixed arrival rate, not a fixed number of connections. It prints numbers and
# ratios and exits 0 whatever they are (1 only when something does not start).
#
# For the production hash (m=19456 t=2) and the cheap one (m=64 t=1), on one
# nginx (bench/nginx.conf.in: the registration location only) and a fresh
# database each:
#
#   1. capacity: a short closed loop, wrk with bench/register.lua at
#      BENCH_OPEN_CONNECTIONS (prod) or BENCH_OPEN_CHEAP_CONNECTIONS (cheap)
#      connections for BENCH_OPEN_CAPACITY_SECONDS: 2xx answers per second;
#   2. at 50 %, 80 %, 100 % and 150 % of that capacity (BENCH_OPEN_LOADS), the
#      open loop of bench/open-loop.mjs for BENCH_OPEN_SECONDS each: Poisson
#      arrivals at that rate, latency from the planned arrival to the answer;
#      p50 and p99 of the 2xx answers, goodput (2xx per second), the answers by
#      status, the generator's lag and CPU;
#   3. next to each, the queueing model (bench/open-loop.mjs --model): each nginx
#      worker an M/D/1 queue with service time workers / capacity; and, as a lower
#      bound, all hashing threads behind one queue (M/D/c).
#
# A closed loop at saturation measures its own queue (100 connections / 5,000/s
# = 20 ms of waiting); the open loop shows what a visitor waits at a given
# traffic. The budgets (DESIGN.md): production p99 < 100 ms at 50 %, < 250 ms at
# 80 %; cheap p99 < 20 ms at 80 %. The machine may be shared: the load average
# is printed with the results; a disturbed run makes no budget claim.
#
# Environment (defaults in brackets):
#   BENCH_OPEN_SECONDS            seconds of each open-loop rate            [20]
#   BENCH_OPEN_CAPACITY_SECONDS   seconds of the closed loop                [10]
#   BENCH_OPEN_CONNECTIONS        closed-loop connections, production hash  [32]
#   BENCH_OPEN_CHEAP_CONNECTIONS  closed-loop connections, cheap hash      [100]
#   BENCH_OPEN_POOL               open-loop keep-alive connections         [512]
#   BENCH_OPEN_LOADS              percentages of the capacity     ["50 80 100 150"]
#   BENCH_OPEN_HASHES             which hashes, in order           ["prod cheap"]
#   XYZ_BENCH_CHEAP               1: the cheap hash only (BENCH_OPEN_HASHES=cheap)
#
# Runtime files: .run/bench-open/ (nginx prefixes, wrk and generator outputs,
# summary.txt). Everything started here (nginx, wrk, the generator, and the
# PostgreSQL cluster if it was not running) is stopped on exit.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
BENCH="$REPO/bench"
RUN="$REPO/.run/bench-open"
NGINX="${NGINX:-/usr/sbin/nginx}"
DB=xyz_bench_open

SECS="${BENCH_OPEN_SECONDS:-20}"
CAP_SECS="${BENCH_OPEN_CAPACITY_SECONDS:-10}"
CONNS="${BENCH_OPEN_CONNECTIONS:-32}"
CHEAP_CONNS="${BENCH_OPEN_CHEAP_CONNECTIONS:-100}"
POOL="${BENCH_OPEN_POOL:-512}"
LOADS="${BENCH_OPEN_LOADS:-50 80 100 150}"
if [ "${XYZ_BENCH_CHEAP:-0}" = 1 ]; then
    HASHES="${BENCH_OPEN_HASHES:-cheap}"
else
    HASHES="${BENCH_OPEN_HASHES:-prod cheap}"
fi
CORES="$(nproc)"
WORKERS="$CORES"
POOL_THREADS=$(( (CORES + WORKERS - 1) / WORKERS ))
PG_POOL=16

log()  { printf 'bench-open: %s\n' "$*"; }
warn() { printf 'bench-open: WARNING: %s\n' "$*" >&2; }
die()  { printf 'bench-open: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

for v in BENCH_OPEN_SECONDS:SECS BENCH_OPEN_CAPACITY_SECONDS:CAP_SECS BENCH_OPEN_CONNECTIONS:CONNS \
         BENCH_OPEN_CHEAP_CONNECTIONS:CHEAP_CONNS BENCH_OPEN_POOL:POOL; do
    name="${v#*:}"
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "${v%%:*} must be a positive integer (got '${!name}')"
done
for l in $LOADS; do [[ "$l" =~ ^[1-9][0-9]*$ ]] || die "BENCH_OPEN_LOADS: '$l' is not a percentage"; done
for h in $HASHES; do [[ "$h" =~ ^(prod|cheap)$ ]] || die "BENCH_OPEN_HASHES: '$h' (prod, cheap)"; done
[ -z "${XYZ_DATABASE_URL:-}" ] || die "the bench recreates database $DB in the private cluster; unset XYZ_DATABASE_URL"

PREFIX=
# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"
CHILD=
CLEANED=0

# shellcheck source=lib/nginx.sh
. "$S/lib/nginx.sh"

nginx_stop() {
    [ -n "$PREFIX" ] || return 0
    nginx_stop_prefix "$PREFIX"
}

# shellcheck disable=SC2317
cleanup() {
    [ "$CLEANED" = 1 ] && return
    CLEANED=1
    if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then kill -TERM "$CHILD" 2>/dev/null || true; fi
    nginx_stop || true
    stack_stop
}
trap 'echo; log "interrupted"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# shellcheck source=lib/ports.sh
. "$S/lib/ports.sh"

# json KEY < one JSON line
json() { perl -MJSON::PP -0777 -e 'my $d = decode_json(<STDIN>); my $v = $d->{$ARGV[0]};
    print !defined $v ? "" : JSON::PP::is_bool($v) ? ($v ? "true" : "false")
        : ref $v eq "HASH" ? join(" ", map { "$_:$v->{$_}" } sort keys %$v) : $v, "\n"' "$1"; }
f0() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }
f1() { awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }

# Start nginx with Argon2id parameters $1 on a fresh database; sets PORT, PREFIX.
nginx_start() {
    local argon2="$1" name="$2" user
    "$S/pg.sh" recreate-db "$DB" >/dev/null
    "$S/migrate.sh" "$DSN" >/dev/null
    PREFIX="$RUN/$name"
    PORT="$(pick_port)"
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/temp"
    if id www-data >/dev/null 2>&1 && runuser -u www-data -- test -r "$REPO/html/." -a -x "$REPO/html"; then
        user="www-data www-data"
    else
        user="root root"
    fi
    B_PREFIX="$PREFIX" B_PORT="$PORT" B_HTML="$REPO/html" B_USER="$user" B_WORKERS="$WORKERS" \
    B_MODULE="$REPO/build/ngx_xyz_module.so" B_THREADS="$POOL_THREADS" B_ARGON2="$argon2" \
    B_PG_DSN="$DSN" B_PG_POOL="$PG_POOL" perl -pe '
        next if /^\s*#/;
        s/\@([A-Z0-9_]+)\@/exists $ENV{"B_$1"} ? $ENV{"B_$1"} : die "no value for \@$1\@\n"/ge;
    ' "$BENCH/nginx.conf.in" > "$PREFIX/conf/nginx.conf"
    "$NGINX" -q -t -p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log" 2>/dev/null \
        || die "configuration test failed: $PREFIX/conf/nginx.conf"
    "$NGINX" -p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log" 2>/dev/null
    for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/index.html" && break; sleep 0.1; done
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/index.html" || die "nginx does not answer; see $PREFIX/logs/error.log"
}

# ---- set-up ----------------------------------------------------------------------------

cd "$REPO"
mkdir -p "$RUN"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
step "dependencies and build"
"$S/deps.sh"
"$S/build.sh" >/dev/null
ulimit -Sn "$(ulimit -Hn | sed 's/unlimited/65536/')" 2>/dev/null || true

step "PostgreSQL"
stack_start pg
"$S/pg.sh" recreate-db "$DB" >/dev/null
DSN="$("$S/pg.sh" url "$DB")"

TABLE="$RUN/table.txt"
: > "$TABLE"

for h in $HASHES; do
    if [ "$h" = prod ]; then argon2="m=19456 t=2 p=1"; c="$CONNS"; else argon2="m=64 t=1 p=1"; c="$CHEAP_CONNS"; fi
    step "$h hash ($argon2): nginx, $WORKERS workers x $POOL_THREADS hashing thread(s)"
    nginx_start "$argon2" "$h"

    step "$h: capacity, closed loop, $c connections, ${CAP_SECS}s"
    wrk -t"$CORES" -c"$c" -d"${CAP_SECS}s" --timeout 10s -s "$BENCH/register.lua" \
        "http://127.0.0.1:$PORT/api/register" > "$RUN/wrk-$h.txt" 2>&1 &
    CHILD=$!
    wait "$CHILD" || warn "wrk exited with status $?"
    CHILD=
    line="$(sed -n 's/^xyz-bench: //p' "$RUN/wrk-$h.txt")"
    ok="$(sed -n 's/.* 2xx=\([0-9]*\).*/\1/p' <<<"$line")"
    p99c="$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
    cap="$(awk -v n="${ok:-0}" -v s="$CAP_SECS" 'BEGIN { printf "%.1f", n / s }')"
    log "capacity: $cap registrations/s (closed loop p99 $p99c ms; $line)"
    [ "${ok:-0}" -gt 0 ] || die "no registration accepted; see $PREFIX/logs/error.log"
    printf '%s hash (%s): capacity %s/s (closed loop, %s connections, %s s; its p99 %s ms: the queue of the loop)\n' \
        "$h" "$argon2" "$cap" "$c" "$CAP_SECS" "$p99c" >> "$TABLE"
    printf '  %-5s %9s %9s %9s %9s %9s  %-9s %-9s %-16s %s\n' load "rate/s" "sent/s" "goodput" \
        "p50 ms" "p99 ms" "M/D/1 p50" "M/D/1 p99" "shared M/D/c p99" "answers (generator: lag p99 ms, p99 ms from the actual send, CPU)" >> "$TABLE"
    sleep 2

    for l in $LOADS; do
        rate="$(awk -v c="$cap" -v l="$l" 'BEGIN { printf "%.2f", c * l / 100 }')"
        step "$h: open loop at $l % = $rate/s for ${SECS}s"
        node "$BENCH/open-loop.mjs" --url "http://127.0.0.1:$PORT" --rate "$rate" --duration "$SECS" \
            --connections "$POOL" --out "$RUN/open-$h-$l.json" > "$RUN/open-$h-$l.out" 2>&1 &
        CHILD=$!
        wait "$CHILD" || warn "the generator exited with status $? (see $RUN/open-$h-$l.out)"
        CHILD=
        o="$RUN/open-$h-$l.json"
        [ -s "$o" ] || die "no result in $o"
        m="$(node "$BENCH/open-loop.mjs" --model --rate "$rate" --capacity "$cap" --servers "$WORKERS")"
        if [ "$(json unstable <<<"$m")" = true ]; then
            mp50="unstable"; mp99="unstable"; ms99="unstable"
        else
            mp50="$(f1 "$(json p50_ms <<<"$m")")"; mp99="$(f1 "$(json p99_ms <<<"$m")")"
            ms99="$(f1 "$(json shared_p99_ms <<<"$m")")"
        fi
        printf '  %-5s %9s %9s %9s %9s %9s  %-9s %-9s %-16s %s (lag p99 %s, p99 from send %s, CPU %s%%)\n' "$l%" "$rate" \
            "$(f1 "$(json achieved_rate < "$o")")" "$(f1 "$(json goodput < "$o")")" \
            "$(f1 "$(json p50_ms < "$o")")" "$(f1 "$(json p99_ms < "$o")")" "$mp50" "$mp99" "$ms99" \
            "$(json status < "$o")" "$(f1 "$(json lag_p99_ms < "$o")")" "$(f1 "$(json p99_from_send_ms < "$o")")" \
            "$(f0 "$(awk -v x="$(json generator_cpu_share < "$o")" 'BEGIN { print 100 * x }')")" >> "$TABLE"
        tail -n 1 "$TABLE"
        # let the queue drain before the next rate
        sleep 3
    done
    nginx_stop
    PREFIX=
done

LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
{
    printf 'open loop: Poisson arrivals, %s s per rate, %s keep-alive connections; %s cores, nginx %s workers\n' \
        "$SECS" "$POOL" "$CORES" "$WORKERS"
    printf 'latency: planned arrival to answer, 2xx answers only; goodput: 2xx answers within the window per second\n'
    printf 'model: each worker an M/D/1 queue, D = workers / capacity; "shared": one queue for all (M/D/c), a lower bound\n'
    printf 'budgets: prod p99 < 100 ms at 50 %%, < 250 ms at 80 %%; cheap p99 < 20 ms at 80 %%\n\n'
    cat "$TABLE"
    printf '\nload average before %s, after %s (above %s: a shared machine, no budget claim)\n' \
        "$LOAD_BEFORE" "$LOAD_AFTER" "$CORES"
} > "$RUN/summary.txt"
printf '\n==> summary (%s)\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
cat "$RUN/summary.txt"
