#!/usr/bin/env bash
# bench.sh — the benchmarks (`make bench`). It prints numbers and ratios; it never
# fails because the machine is slow. Every number is measured in this one run, on
# this machine, against baselines measured in the same run:
#
#   1. raw Argon2id rate: bench/argon2_rate.c (libsodium, m=19456 KiB t=2 p=1) on
#      T threads for D seconds, nothing else running            -> hashes/s
#   2. registrations/s at those parameters: nginx + ngx_xyz_module + PostgreSQL,
#      driven by wrk with bench/register.lua (a new address per request); only 2xx
#      answers count; the users table must hold one row per 202   -> ratio to 1.
#   3. static files at 10,000 keep-alive connections: html/index.html from plain
#      nginx (bench/nginx-plain.conf.in, no module) and from nginx with the module
#      and the registration location (bench/nginx.conf.in), taking turns, fresh
#      instances each round; requests/s of each, the ratio, and each worker's RSS
#      sampled mid-run.
#   4. cheap hash (m=64 t=1, to expose everything but the hash): registrations/s
#      at BENCH_CHEAP_CONNECTIONS, with p50/p99, next to pgbench running the same
#      statement against PostgreSQL alone (bench/pgbench-register.sql).
#   5. overload: registrations at BENCH_OVERLOAD_CONNECTIONS connections that never
#      back off (wrk sends the next request as soon as an answer comes, Retry-After
#      or not), production and cheap hash; goodput (2xx/s) as a ratio to the rate
#      of part 2 (production) and part 4 (cheap) of the same run, the counts of
#      503 and of other statuses, and wrk's socket errors. Budget: >= 0.9.
#
# Order of the run: 3 (while the database is idle), 1, 2, 1 again (the baseline is
# the mean of the two raw runs around the registrations), 4, 5.
#
# Environment (defaults in brackets):
#   BENCH_DURATION            seconds per measurement                  [15]
#   BENCH_THREADS             Argon2id threads: argon2_rate's threads, and the
#                             hashing threads of nginx in total          [nproc]
#   BENCH_POOL_THREADS        threads of the xyz_hash pool in EACH nginx worker
#                             (nginx gives every worker its own pool)
#                                              [BENCH_THREADS / workers, rounded up]
#   BENCH_CONNECTIONS         wrk connections for registrations        [100]
#   BENCH_STATIC_CONNECTIONS  wrk connections for the static runs      [10000]
#   BENCH_STATIC_ROUNDS       static rounds per server, each BENCH_DURATION
#                             long, taken in turns a b | b a | ..., both
#                             servers started afresh each round; an even
#                             number keeps the order balanced             [2]
#   BENCH_CHEAP               1: run part 4, 0: skip it                [1]
#   BENCH_CHEAP_CONNECTIONS   wrk connections for the cheap-hash run   [100]
#   BENCH_OVERLOAD            1: run part 5, 0: skip it                [1]
#   BENCH_OVERLOAD_CONNECTIONS  wrk connections for part 5 (needs an open files
#                             limit above it: ulimit -Hn >= 20000)     [10000]
#   BENCH_RECORD              1: append the summary, the machine and the exact
#                             command to docs/benchmarks.md             [0]
#   XYZ_DATABASE_URL          use that database instead of the private cluster
#                             (rows are then counted as a difference)
#
# nginx workers = number of cores. Runtime files (prefixes, logs, wrk output, the
# summary) go to .run/bench/. Everything started here (nginx instances, wrk, and
# the PostgreSQL cluster if it was not already running) is stopped on exit,
# Ctrl-C included. The database xyz_bench is recreated on each run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
BENCH="$REPO/bench"
BIN="$REPO/build/bench"
RUN="$REPO/.run/bench"
NGINX="${NGINX:-/usr/sbin/nginx}"
MODULE="$REPO/build/ngx_xyz_module.so"
HTML="$REPO/html"
STATIC_FILE=index.html

CORES="$(nproc)"
DURATION="${BENCH_DURATION:-15}"
THREADS="${BENCH_THREADS:-$CORES}"
WORKERS="$CORES"
POOL_THREADS="${BENCH_POOL_THREADS:-}"
CONNS="${BENCH_CONNECTIONS:-100}"
STATIC_CONNS="${BENCH_STATIC_CONNECTIONS:-10000}"
ROUNDS="${BENCH_STATIC_ROUNDS:-2}"
CHEAP="${BENCH_CHEAP:-1}"
CHEAP_CONNS="${BENCH_CHEAP_CONNECTIONS:-100}"
OVERLOAD="${BENCH_OVERLOAD:-1}"
OVER_CONNS="${BENCH_OVERLOAD_CONNECTIONS:-10000}"
RECORD="${BENCH_RECORD:-0}"
PG_POOL=16                       # database connections per nginx worker
PROD_ARGON2="m=19456 t=2 p=1"
CHEAP_ARGON2="m=64 t=1 p=1"

log()  { printf 'bench: %s\n' "$*"; }
warn() { printf 'bench: WARNING: %s\n' "$*" >&2; }
die()  { printf 'bench: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

for v in BENCH_DURATION:DURATION BENCH_THREADS:THREADS BENCH_CONNECTIONS:CONNS \
         BENCH_STATIC_CONNECTIONS:STATIC_CONNS BENCH_STATIC_ROUNDS:ROUNDS \
         BENCH_CHEAP_CONNECTIONS:CHEAP_CONNS \
         BENCH_OVERLOAD_CONNECTIONS:OVER_CONNS; do
    name="${v#*:}"
    value="${!name}"
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "${v%%:*} must be a positive integer (got '$value')"
done
# As many hashing threads in nginx as in the raw run: each worker has its own pool.
POOL_THREADS="${POOL_THREADS:-$(( (THREADS + WORKERS - 1) / WORKERS ))}"
[[ "$POOL_THREADS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_POOL_THREADS must be a positive integer"
[ -f "$HTML/$STATIC_FILE" ] || die "$HTML/$STATIC_FILE is missing"

# ---- cleanup: whatever this script started, and only that --------------------------

NGINX_PREFIXES=()     # prefixes of the nginx instances started here
WRK_PID=
# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"
CLEANED=0

# shellcheck source=lib/nginx.sh
. "$S/lib/nginx.sh"

# shellcheck disable=SC2317  # called from the traps below
cleanup() {
    local p
    [ "$CLEANED" = 1 ] && return
    CLEANED=1
    if [ -n "$WRK_PID" ] && kill -0 "$WRK_PID" 2>/dev/null; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
    fi
    for p in "${NGINX_PREFIXES[@]}"; do
        nginx_stop_prefix "$p" || true
    done
    stack_stop
}
trap 'echo; log "interrupted"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------------

# shellcheck source=lib/ports.sh
. "$S/lib/ports.sh"

# $1 / $2 with two decimals ("-" when $2 is zero).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# $1 / $2 with one decimal.
per_s() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "0" }'; }

# Seconds in a wrk duration such as "10.01s", "1.00m", "950.00ms".
wrk_seconds() {
    awk -v t="$1" 'BEGIN {
        v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
        if (u == "us") v /= 1e6; else if (u == "ms") v /= 1e3;
        else if (u == "m") v *= 60; else if (u == "h") v *= 3600;
        printf "%.3f", v }'
}

# From wrk's output file $1: "<requests> <seconds> <non-2xx/3xx> <socket errors>"
wrk_parse() {
    local f="$1" req secs non2xx errs
    req="$(awk '/ requests in / { print $1 }' "$f")"
    secs="$(wrk_seconds "$(awk '/ requests in / { sub(/,$/, "", $4); print $4 }' "$f")")"
    non2xx="$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$f")"
    errs="$(sed -n 's/^ *Socket errors: *//p' "$f" | tr -d ',' | tr ' ' '_')"
    echo "${req:-0} ${secs:-0} ${non2xx:-0} ${errs:-none}"
}

# Worker processes of the nginx master $1.
worker_pids() { ps -o pid= --ppid "$1" | tr -d ' '; }

# "12.3 MB + 12.1 MB" (VmRSS of each worker of master $1).
workers_rss() {
    local pid kb out=""
    for pid in $(worker_pids "$1"); do
        kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
        out="${out:+$out + }$(awk -v k="${kb:-0}" 'BEGIN { printf "%.1f MB", k / 1024 }')"
    done
    echo "${out:-?}"
}

# Established server-side connections on port $1 ("?" without ss, from iproute2).
open_conns() {
    command -v ss >/dev/null || { echo "?"; return; }
    ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l
}

# Rows and 202 answers: equal, or more rows by at most one request per connection
# (those in flight when wrk stopped: nginx finishes them though nobody reads the answer).
# $1 rows, $2 202 answers, $3 connections
rows_check() {
    local extra=$(( $1 - $2 ))
    if [ "$extra" -eq 0 ]; then
        echo "equal"
    elif [ "$extra" -gt 0 ] && [ "$extra" -le "$3" ]; then
        echo "consistent: $extra more rows than answers, at most $3 requests were in flight when wrk stopped"
    else
        echo "MISMATCH: $extra rows beyond the answers, with $3 connections"
    fi
}

# Workers run as www-data when it can read html/, else as root (e.g. a clone under /root).
if id www-data >/dev/null 2>&1 && runuser -u www-data -- test -r "$HTML/." -a -x "$HTML"; then
    NGX_USER="www-data www-data"
else
    NGX_USER="root root"
fi

# Render template $1 for instance $2 and start it; sets NGX_PORT, NGX_MASTER, NGX_PREFIX.
# $3: Argon2id parameters (module template only).
nginx_start() {
    local template="$1" name="$2" argon2="${3:-}" prefix port
    prefix="$RUN/$name"
    port="$(pick_port)"
    rm -rf "$prefix"
    mkdir -p "$prefix/conf" "$prefix/logs" "$prefix/temp"
    B_PREFIX="$prefix" B_PORT="$port" B_HTML="$HTML" B_USER="$NGX_USER" \
    B_WORKERS="$WORKERS" B_MODULE="$MODULE" B_THREADS="$POOL_THREADS" B_ARGON2="$argon2" \
    B_PG_DSN="$DSN" B_PG_POOL="$PG_POOL" B_TEMPLATE="$template" perl -pe '
        BEGIN { print "# Rendered from $ENV{B_TEMPLATE} by scripts/bench.sh.\n" }
        next if /^\s*#/;
        s/\@(PREFIX|PORT|HTML|USER|WORKERS|MODULE|THREADS|ARGON2|PG_DSN|PG_POOL)\@/$ENV{"B_$1"}/g;
    ' "$template" > "$prefix/conf/nginx.conf"

    NGINX_PREFIXES+=("$prefix")
    if ! "$NGINX" -q -t -p "$prefix/" -c conf/nginx.conf -e "$prefix/logs/error.log"; then
        die "configuration test failed: $prefix/conf/nginx.conf"
    fi
    "$NGINX" -p "$prefix/" -c conf/nginx.conf -e "$prefix/logs/error.log"
    for _ in $(seq 1 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/$STATIC_FILE" && break
        sleep 0.1
    done
    curl -s -f -o /dev/null "http://127.0.0.1:$port/$STATIC_FILE" \
        || die "nginx ($name) does not answer on port $port; see $prefix/logs/error.log"
    NGX_PORT="$port"
    NGX_MASTER="$(cat "$prefix/logs/nginx.pid")"
    NGX_PREFIX="$prefix"
    log "nginx ($name) on 127.0.0.1:$port, master pid $NGX_MASTER, workers $(worker_pids "$NGX_MASTER" | xargs)"
}

# One argon2_rate run at production parameters; prints hashes/s.  $1: -a to
# keep each thread's memory (the module's way), none for libsodium's own.
raw_argon2() {
    local line
    line="$("$BIN/argon2_rate" ${1:-} -t "$THREADS" -d "$DURATION" -m 19456 -i 2)"
    log "$line" >&2
    sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$line"
}

# ---- how much of the machine other work took ------------------------------------
# The machine may be shared (other builds, tests). Around each measurement the
# script compares all busy CPU time (/proc/stat, steal included) with the CPU
# time of the processes taking part in it: its own children (wrk, argon2_rate;
# bash's `times`), and, where the measurement uses them, its nginx instances and
# the private PostgreSQL cluster. The rest, as a share of all CPUs, is printed as
# "others N%". (So PostgreSQL's background work during a raw Argon2id run counts
# as other work: it takes CPU from the hashing.)

CLK_TCK="$(getconf CLK_TCK)"
PG_POSTMASTER=

# Busy ticks of the whole machine.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# Ticks of the running nginx instances (masters and workers) when $1 is 1, and of
# the cluster when $2 is 1.
own_ticks() {
    local roots=() p pids
    if [ "$1" = 1 ]; then
        for p in "${NGINX_PREFIXES[@]}"; do
            [ -s "$p/logs/nginx.pid" ] && roots+=("$(cat "$p/logs/nginx.pid")")
        done
    fi
    [ "$2" = 1 ] && [ -n "$PG_POSTMASTER" ] && roots+=("$PG_POSTMASTER")
    [ "${#roots[@]}" -gt 0 ] || { echo 0; return; }
    pids="$(for p in "${roots[@]}"; do echo "$p"; ps -o pid= --ppid "$p"; done)"
    # utime and stime: fields 14 and 15, counted after the ")" that ends the name
    for p in $pids; do cat "/proc/$p/stat" 2>/dev/null || true; done \
        | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# Sets KIDS: ticks used so far by the script's finished children. `times` must run
# in this shell, not in a $(...) subshell, which starts counting from zero.
children_ticks() {
    times > "$RUN/.times"
    KIDS="$(awk -v hz="$CLK_TCK" 'NR == 2 { for (i = 1; i <= 2; i++) {
                split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
            printf "%d", t * hz }' "$RUN/.times")"
}

# $1: 1 if the measurement uses the nginx instances, $2: 1 if it uses PostgreSQL.
meter_start() {
    M_NGINX="$1"; M_PG="$2"
    M_T0="$(date +%s.%N)"; M_ALL0="$(machine_ticks)"; M_OWN0="$(own_ticks "$M_NGINX" "$M_PG")"
    children_ticks
    M_KIDS0="$KIDS"
}

# Sets OTHERS (percent of all CPUs used by other work since meter_start).
meter_stop() {
    local t1 all1 own1 kids1
    t1="$(date +%s.%N)"; all1="$(machine_ticks)"; own1="$(own_ticks "$M_NGINX" "$M_PG")"
    children_ticks
    kids1="$KIDS"
    OTHERS="$(awk -v t0="$M_T0" -v t1="$t1" -v a0="$M_ALL0" -v a1="$all1" \
        -v o0="$M_OWN0" -v o1="$own1" -v k0="$M_KIDS0" -v k1="$kids1" \
        -v hz="$CLK_TCK" -v n="$CORES" 'BEGIN {
            x = (a1 - a0) - (o1 - o0) - (k1 - k0); if (x < 0) x = 0
            printf "%d", 100 * x / ((t1 - t0) * hz * n) }')"
    log "other processes used ${OTHERS}% of the CPUs meanwhile"
}

users_count() { psql -X -q -At -d "$DSN" -c "SELECT count(*) FROM users"; }

# Wait until the users count stops moving: requests still in flight when wrk
# stopped are finished by nginx (hash, then insert) after the client is gone.
users_settled() {
    local prev cur
    prev="$(users_count)"
    for _ in $(seq 1 30); do
        sleep 1
        cur="$(users_count)"
        [ "$cur" = "$prev" ] && break
        prev="$cur"
    done
    echo "$prev"
}

# wrk on the static file with STATIC_CONNS connections for DURATION seconds.
# $1 port, $2 nginx master pid, $3 output file. Sets ST_OK (2xx/3xx answers),
# ST_SECS, ST_CONNS (established connections mid-run), ST_RSS (worker RSS mid-run),
# ST_ERRS (wrk's socket errors, or "none"), OTHERS (see meter_stop).
static_run() {
    local port="$1" master="$2" out="$3" req secs non2xx errs
    meter_start 1 0
    wrk -t"$CORES" -c"$STATIC_CONNS" -d"${DURATION}s" --timeout 10s --latency \
        "http://127.0.0.1:$port/$STATIC_FILE" > "$out" 2>&1 &
    WRK_PID=$!
    sleep $(( DURATION / 2 > 0 ? DURATION / 2 : 1 ))
    ST_CONNS="$(open_conns "$port")"
    ST_RSS="$(workers_rss "$master")"
    log "mid-run: $ST_CONNS connections open, worker RSS $ST_RSS"
    wait "$WRK_PID" || warn "wrk exited with status $? (output: $out)"
    WRK_PID=
    meter_stop
    read -r req secs non2xx errs < <(wrk_parse "$out")
    ST_OK=$(( req - non2xx ))
    ST_SECS="$secs"
    ST_ERRS="$errs"
    log "$req requests in ${secs}s, non-2xx/3xx: $non2xx, socket errors: ${errs//_/ }"
    log "=> $(per_s "$ST_OK" "$secs") req/s"
}

# wrk with bench/register.lua on port $1 with $2 connections; output in $3; $4 is
# the nginx prefix (for its error log). Sets RG_RATE (2xx per second), RG_202,
# RG_ROWS (new users rows), RG_LINE (statuses), RG_P50, RG_P99 (ms), OTHERS.
register_run() {
    local port="$1" conns="$2" out="$3" prefix="$4" before req secs non2xx errs line ok
    before="$(users_count)"
    meter_start 1 1
    # 30 s, as a browser waits at least: a request sent at once after a 503
    # given at once waits its pause (xyz_retry_pace, 5 s), then up to the
    # hash queue's wait (5 s), then its hash: more than 10 s
    wrk -t"$CORES" -c"$conns" -d"${DURATION}s" --timeout 30s -s "$BENCH/register.lua" \
        "http://127.0.0.1:$port/api/register" > "$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || warn "wrk exited with status $? (output: $out)"
    WRK_PID=
    meter_stop
    read -r req secs non2xx errs < <(wrk_parse "$out")
    line="$(sed -n 's/^xyz-bench: //p' "$out")"
    [ -n "$line" ] || die "no status line from bench/register.lua in $out"
    ok="$(sed -n 's/.* 2xx=\([0-9]*\).*/\1/p' <<<"$line")"
    RG_202="$(sed -n 's/.* status_202=\([0-9]*\).*/\1/p' <<<"$line")"
    RG_202="${RG_202:-0}"
    RG_P50="$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
    RG_P99="$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
    RG_LINE="$line"
    RG_RATE="$(per_s "$ok" "$secs")"
    RG_ROWS=$(( $(users_settled) - before ))
    log "$req responses in ${secs}s: $line"
    RG_ERRS="${errs//_/ }"
    [ "$errs" = none ] || log "socket errors: $RG_ERRS"
    log "=> $RG_RATE registrations/s; users rows added: $RG_ROWS, 202 answers: $RG_202"
    if [ "$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$line")" != 0 ]; then
        warn "some registrations were not accepted; last lines of $prefix/logs/error.log:"
        tail -n 3 "$prefix/logs/error.log" | cut -c1-300 >&2 || true
    fi
}

# ---- preparation ---------------------------------------------------------------------

cd "$REPO"
mkdir -p "$RUN" "$BIN"

step "dependencies and build"
"$S/deps.sh"
"$S/build.sh"
# shellcheck source=lib/argon2.sh
. "$REPO/scripts/lib/argon2.sh"
build_argon2_rate "$BIN/argon2_rate"
log "built $BIN/argon2_rate"

# wrk holds one descriptor per connection, nginx workers set their own limit
# (worker_rlimit_nofile 20000).
want_nofile=20000
hard_nofile="$(ulimit -Hn)"
if [ "$hard_nofile" != unlimited ] && [ "$hard_nofile" -lt "$want_nofile" ]; then
    want_nofile="$hard_nofile"
fi
ulimit -Sn "$want_nofile"
for n in "$STATIC_CONNS" "$OVER_CONNS"; do
    if [ "$(ulimit -Sn)" -lt $(( n + 100 )) ]; then
        warn "open files limit $(ulimit -Sn) is below $n connections; wrk will report errors"
    fi
done

step "database"
stack_start pg
if [ -n "${XYZ_DATABASE_URL:-}" ]; then
    DSN="$XYZ_DATABASE_URL"
else
    "$S/pg.sh" recreate-db xyz_bench
    DSN="$("$S/pg.sh" url xyz_bench)"
fi
"$S/migrate.sh" "$DSN"
if [ -z "${XYZ_DATABASE_URL:-}" ]; then
    PG_POSTMASTER="$(head -n 1 "$("$S/pg.sh" datadir)/postmaster.pid")"
fi
log "database: $DSN"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
log "machine: $CORES cores ($MODEL), load average before the run: $LOAD_BEFORE"
log "parameters: duration ${DURATION}s; argon2_rate: $THREADS threads; nginx: $WORKERS workers x $POOL_THREADS hashing threads"

# ---- 3. static files at many connections -------------------------------------------
# Measured before the registrations, while PostgreSQL is idle. In each round both
# instances start afresh and run side by side (the idle one costs nothing), taking
# turns a b, then b a in the next round, so that drift in the machine's speed falls
# on both alike. Fresh instances each round, because where the scheduler places an
# instance's workers next to wrk's threads lasts for the instance's life and moves
# its rate by several percent. Each result is all 2xx/3xx answers of its rounds
# over their total time.

step "3. static file at $STATIC_CONNS connections: (a) plain nginx, (b) with ngx_xyz_module; $ROUNDS round(s) of ${DURATION}s each"
declare -A ST_SUM_OK=([plain]=0 [module]=0) ST_SUM_SECS=([plain]=0 [module]=0)
declare -A ST_LAST_CONNS ST_LAST_RSS ST_ALL_ERRS ST_ROUNDS ST_OTHERS
for r in $(seq 1 "$ROUNDS"); do
    nginx_start "$BENCH/nginx-plain.conf.in" plain
    PLAIN_PORT="$NGX_PORT"; PLAIN_MASTER="$NGX_MASTER"; PLAIN_PREFIX="$NGX_PREFIX"
    nginx_start "$BENCH/nginx.conf.in" module "$PROD_ARGON2"
    MOD_PORT="$NGX_PORT"; MOD_MASTER="$NGX_MASTER"; MOD_PREFIX="$NGX_PREFIX"
    if [ $(( r % 2 )) -eq 1 ]; then order="plain module"; else order="module plain"; fi
    for which in $order; do
        if [ "$which" = plain ]; then
            log "round $r: (a) plain nginx"
            static_run "$PLAIN_PORT" "$PLAIN_MASTER" "$RUN/wrk-static-plain-$r.txt"
        else
            log "round $r: (b) nginx with ngx_xyz_module"
            static_run "$MOD_PORT" "$MOD_MASTER" "$RUN/wrk-static-module-$r.txt"
        fi
        ST_SUM_OK[$which]=$(( ST_SUM_OK[$which] + ST_OK ))
        ST_SUM_SECS[$which]="$(awk -v a="${ST_SUM_SECS[$which]}" -v b="$ST_SECS" 'BEGIN { print a + b }')"
        ST_ROUNDS[$which]="${ST_ROUNDS[$which]:+${ST_ROUNDS[$which]}, }$(per_s "$ST_OK" "$ST_SECS" | cut -d. -f1)"
        ST_LAST_CONNS[$which]="$ST_CONNS"
        ST_LAST_RSS[$which]="$ST_RSS"
        [ "$OTHERS" -gt "${ST_OTHERS[$which]:-0}" ] && ST_OTHERS[$which]="$OTHERS"
        if [ "$ST_ERRS" != none ]; then
            ST_ALL_ERRS[$which]="${ST_ALL_ERRS[$which]:+${ST_ALL_ERRS[$which]}; }round $r: ${ST_ERRS//_/ }"
        fi
        sleep 2
    done
    nginx_stop_prefix "$PLAIN_PREFIX"
    nginx_stop_prefix "$MOD_PREFIX"
done

PLAIN_RPS="$(per_s "${ST_SUM_OK[plain]}" "${ST_SUM_SECS[plain]}")"
MOD_RPS="$(per_s "${ST_SUM_OK[module]}" "${ST_SUM_SECS[module]}")"
log "=> (a) plain $PLAIN_RPS req/s, (b) with module $MOD_RPS req/s, ratio $(ratio "$MOD_RPS" "$PLAIN_RPS")"

# ---- 1. and 2. raw Argon2id, registrations, raw Argon2id again ---------------------
# The raw rate is taken right before and right after the registrations, with the
# (idle) module instance already up, and the mean of the two is the baseline.

nginx_start "$BENCH/nginx.conf.in" module "$PROD_ARGON2"
MOD_PORT="$NGX_PORT"; MOD_MASTER="$NGX_MASTER"; MOD_PREFIX="$NGX_PREFIX"

step "1. raw Argon2id rate ($THREADS threads, m=19456 t=2, ${DURATION}s), before"
meter_start 0 0
RAW1="$(raw_argon2)"
meter_stop
RAW1_OTHERS="$OTHERS"
log "=> $RAW1 hashes/s (libsodium maps each hash's memory)"
RAWK1="$(raw_argon2 -a)"
log "=> $RAWK1 hashes/s (each thread keeps its memory, as the module)"
sleep 1

step "2. registrations, Argon2id $PROD_ARGON2, $CONNS connections, ${DURATION}s"
register_run "$MOD_PORT" "$CONNS" "$RUN/wrk-register.txt" "$MOD_PREFIX"
REG_RATE="$RG_RATE"; REG_202="$RG_202"; REG_ROWS="$RG_ROWS"; REG_LINE="$RG_LINE"
REG_P50="$RG_P50"; REG_P99="$RG_P99"; REG_OTHERS="$OTHERS"
REG_RSS="$(workers_rss "$MOD_MASTER")"
log "worker RSS after the registrations: $REG_RSS"
nginx_stop_prefix "$MOD_PREFIX"

step "1. raw Argon2id rate ($THREADS threads, m=19456 t=2, ${DURATION}s), after"
meter_start 0 0
RAW2="$(raw_argon2)"
meter_stop
RAW2_OTHERS="$OTHERS"
log "=> $RAW2 hashes/s (libsodium maps each hash's memory)"
RAWK2="$(raw_argon2 -a)"
log "=> $RAWK2 hashes/s (each thread keeps its memory, as the module)"
RAW_RATE="$(awk -v a="$RAW1" -v b="$RAW2" 'BEGIN { printf "%.1f", (a + b) / 2 }')"
RAWK_RATE="$(awk -v a="$RAWK1" -v b="$RAWK2" 'BEGIN { printf "%.1f", (a + b) / 2 }')"
# Percent by which the two raw runs differ: a busy machine shows here first.
RAW_SPREAD="$(awk -v a="$RAW1" -v b="$RAW2" 'BEGIN { d = a - b; if (d < 0) d = -d;
    printf "%d", (a + b > 0) ? 200 * d / (a + b) : 0 }')"

# ---- 4. cheap hash, and PostgreSQL alone ---------------------------------------------

if [ "$CHEAP" = 1 ]; then
    step "4. registrations, Argon2id $CHEAP_ARGON2 (cheap), $CHEAP_CONNS connections, ${DURATION}s"
    nginx_start "$BENCH/nginx.conf.in" cheap "$CHEAP_ARGON2"
    register_run "$NGX_PORT" "$CHEAP_CONNS" "$RUN/wrk-register-cheap.txt" "$NGX_PREFIX"
    CHEAP_RATE="$RG_RATE"; CHEAP_202="$RG_202"; CHEAP_ROWS="$RG_ROWS"; CHEAP_LINE="$RG_LINE"
    CHEAP_P50="$RG_P50"; CHEAP_P99="$RG_P99"; CHEAP_OTHERS="$OTHERS"
    nginx_stop_prefix "$NGX_PREFIX"

    PGB_CLIENTS=$(( WORKERS * PG_POOL ))
    step "4b. pgbench: the same statement, PostgreSQL alone, $PGB_CLIENTS clients, ${DURATION}s"
    tag="r$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    pgbench -n -M extended -D tag="$tag" -D i=0 -c "$PGB_CLIENTS" -j "$CORES" \
        -T "$DURATION" -f "$BENCH/pgbench-register.sql" "$DSN" > "$RUN/pgbench.txt" 2>&1 \
        || { warn "pgbench exited with status $? (output: $RUN/pgbench.txt):"
             grep -m 3 -i 'error' "$RUN/pgbench.txt" | cut -c1-300 >&2 || true; }
    PGB_TPS="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$RUN/pgbench.txt" | head -n 1)"
    PGB_TPS="$(awk -v t="${PGB_TPS:-0}" 'BEGIN { printf "%.1f", t }')"
    PGB_LAT="$(sed -n 's/^latency average = //p' "$RUN/pgbench.txt")"
    log "=> $PGB_TPS transactions/s (latency average ${PGB_LAT:-?})"
fi

# ---- 5. overload: many connections that never back off -------------------------------
# The same registrations with OVER_CONNS connections. The module holds what it
# cannot serve yet in its wait queues (bench/nginx.conf.in: xyz_hash_queue,
# xyz_pg_queue_size/timeout) and answers 503 only when a wait runs out; wrk takes
# no notice of Retry-After. Goodput is the 2xx rate; its ratio to the rate at
# CONNS (production) or CHEAP_CONNS (cheap) connections of this run shows whether
# the excess costs the served ones anything.

# From register.lua's line $1: "<503 count> <count of other non-2xx>"
over_counts() {
    local n503 non2xx
    n503="$(sed -n 's/.* status_503=\([0-9]*\).*/\1/p' <<<"$1")"
    non2xx="$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$1")"
    echo "${n503:-0} $(( ${non2xx:-0} - ${n503:-0} ))"
}

if [ "$OVERLOAD" = 1 ]; then
    step "5. overload: registrations, Argon2id $PROD_ARGON2, $OVER_CONNS connections, ${DURATION}s"
    nginx_start "$BENCH/nginx.conf.in" overload "$PROD_ARGON2"
    register_run "$NGX_PORT" "$OVER_CONNS" "$RUN/wrk-register-overload.txt" "$NGX_PREFIX"
    OV_RATE="$RG_RATE"; OV_LINE="$RG_LINE"; OV_P50="$RG_P50"; OV_P99="$RG_P99"
    OV_OTHERS="$OTHERS"; OV_ERRS="$RG_ERRS"
    read -r OV_503 OV_NON < <(over_counts "$OV_LINE")
    OV_RSS="$(workers_rss "$NGX_MASTER")"
    log "=> goodput $OV_RATE /s, ratio $(ratio "$OV_RATE" "$REG_RATE") of $REG_RATE /s at $CONNS connections; worker RSS $OV_RSS"
    nginx_stop_prefix "$NGX_PREFIX"

    if [ "$CHEAP" = 1 ]; then
        step "5. overload: registrations, Argon2id $CHEAP_ARGON2 (cheap), $OVER_CONNS connections, ${DURATION}s"
        nginx_start "$BENCH/nginx.conf.in" overload-cheap "$CHEAP_ARGON2"
        register_run "$NGX_PORT" "$OVER_CONNS" "$RUN/wrk-register-overload-cheap.txt" "$NGX_PREFIX"
        OVC_RATE="$RG_RATE"; OVC_LINE="$RG_LINE"; OVC_P50="$RG_P50"; OVC_P99="$RG_P99"
        OVC_OTHERS="$OTHERS"; OVC_ERRS="$RG_ERRS"
        read -r OVC_503 OVC_NON < <(over_counts "$OVC_LINE")
        OVC_RSS="$(workers_rss "$NGX_MASTER")"
        log "=> goodput $OVC_RATE /s, ratio $(ratio "$OVC_RATE" "$CHEAP_RATE") of $CHEAP_RATE /s at $CHEAP_CONNS connections; worker RSS $OVC_RSS"
        nginx_stop_prefix "$NGX_PREFIX"
    fi
fi

# ---- summary -------------------------------------------------------------------------

reg_check="$(rows_check "$REG_ROWS" "$REG_202" "$CONNS")"
cheap_check="$(rows_check "${CHEAP_ROWS:-0}" "${CHEAP_202:-0}" "$CHEAP_CONNS")"

MAX_OTHERS="$(printf '%s\n' "$RAW1_OTHERS" "$RAW2_OTHERS" "$REG_OTHERS" "${CHEAP_OTHERS:-0}" \
    "${OV_OTHERS:-0}" "${OVC_OTHERS:-0}" \
    "${ST_OTHERS[plain]:-0}" "${ST_OTHERS[module]:-0}" | sort -n | tail -n 1)"

summary="$(
    printf 'raw argon2id (%s threads, m=19456,t=2): %s hashes/s   (before %s, after %s; others %s%%, %s%%)\n' \
        "$THREADS" "$RAW_RATE" "$RAW1" "$RAW2" "$RAW1_OTHERS" "$RAW2_OTHERS"
    printf 'raw argon2id, memory kept:          %s hashes/s   (before %s, after %s; each thread keeps its memory, as the module does)\n' \
        "$RAWK_RATE" "$RAWK1" "$RAWK2"
    printf 'registrations (m=19456,t=2):      %s /s   ratio %s of raw argon2id, %s of raw with memory kept   (%s conn, p50 %s ms, p99 %s ms; others %s%%)\n' \
        "$REG_RATE" "$(ratio "$REG_RATE" "$RAW_RATE")" "$(ratio "$REG_RATE" "$RAWK_RATE")" "$CONNS" "$REG_P50" "$REG_P99" "$REG_OTHERS"
    printf '  nginx: %s workers x %s hashing threads\n' "$WORKERS" "$POOL_THREADS"
    printf '  answers: %s\n' "$REG_LINE"
    printf '  users rows: %s, 202 answers: %s (%s)\n' "$REG_ROWS" "$REG_202" "$reg_check"
    printf 'static, plain nginx (%s conn):  %s req/s   (rounds: %s; %s open mid-run; others up to %s%%)\n' \
        "$STATIC_CONNS" "$PLAIN_RPS" "${ST_ROUNDS[plain]}" "${ST_LAST_CONNS[plain]}" "${ST_OTHERS[plain]:-0}"
    printf 'static, with module (%s conn):  %s req/s   ratio %s   (rounds: %s; %s open mid-run; others up to %s%%)\n' \
        "$STATIC_CONNS" "$MOD_RPS" "$(ratio "$MOD_RPS" "$PLAIN_RPS")" "${ST_ROUNDS[module]}" "${ST_LAST_CONNS[module]}" \
        "${ST_OTHERS[module]:-0}"
    printf '  socket errors: plain %s; with module %s\n' "${ST_ALL_ERRS[plain]:-none}" "${ST_ALL_ERRS[module]:-none}"
    printf 'worker RSS at %s conn:           plain %s; with module %s\n' \
        "$STATIC_CONNS" "${ST_LAST_RSS[plain]}" "${ST_LAST_RSS[module]}"
    printf 'worker RSS after registrations:    %s\n' "$REG_RSS"
    if [ "$CHEAP" = 1 ]; then
        printf 'registrations (m=64,t=1, cheap):  %s /s   (%s conn, p50 %s ms, p99 %s ms; others %s%%)\n' \
            "$CHEAP_RATE" "$CHEAP_CONNS" "$CHEAP_P50" "$CHEAP_P99" "$CHEAP_OTHERS"
        printf '  answers: %s\n' "$CHEAP_LINE"
        printf '  users rows: %s, 202 answers: %s (%s)\n' "$CHEAP_ROWS" "$CHEAP_202" "$cheap_check"
        printf 'pgbench, same statement (%s cl):  %s tx/s   cheap registrations ratio %s\n' \
            "$PGB_CLIENTS" "$PGB_TPS" "$(ratio "$CHEAP_RATE" "$PGB_TPS")"
    fi
    if [ "$OVERLOAD" = 1 ]; then
        printf 'overload (m=19456,t=2, %s conn): goodput %s /s   ratio %s of %s conn (budget >= 0.9)   (p50 %s ms, p99 %s ms of all answers; others %s%%)\n' \
            "$OVER_CONNS" "$OV_RATE" "$(ratio "$OV_RATE" "$REG_RATE")" "$CONNS" "$OV_P50" "$OV_P99" "$OV_OTHERS"
        printf '  503: %s, other non-2xx: %s, socket errors: %s; worker RSS after: %s\n' \
            "$OV_503" "$OV_NON" "${OV_ERRS:-none}" "$OV_RSS"
        if [ "$CHEAP" = 1 ]; then
            printf 'overload (m=64,t=1, %s conn):    goodput %s /s   ratio %s of %s conn (budget >= 0.9)   (p50 %s ms, p99 %s ms of all answers; others %s%%)\n' \
                "$OVER_CONNS" "$OVC_RATE" "$(ratio "$OVC_RATE" "$CHEAP_RATE")" "$CHEAP_CONNS" "$OVC_P50" "$OVC_P99" "$OVC_OTHERS"
            printf '  503: %s, other non-2xx: %s, socket errors: %s; worker RSS after: %s\n' \
                "$OVC_503" "$OVC_NON" "${OVC_ERRS:-none}" "$OVC_RSS"
        fi
    fi
    if [ "$MAX_OTHERS" -gt 10 ]; then
        printf 'NOTE: other work took up to %s%% of the CPUs during a measurement: its rates are low\n' "$MAX_OTHERS"
        printf '      and the ratios unreliable; run again on a quiet machine\n'
    fi
    if [ "$RAW_SPREAD" -gt 10 ]; then
        printf 'NOTE: the raw Argon2id runs before and after the registrations differ by %s%%: the\n' "$RAW_SPREAD"
        printf '      machine ran at a different speed (other work, or the CPU clock); the ratio to\n'
        printf '      their mean is uncertain by about half as much\n'
    fi
)"

stamp="$(date -u '+%Y-%m-%d %H:%M UTC')"
machine="$CORES cores, $MODEL, $(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
versions="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), PostgreSQL $(psql -X -At -d "$DSN" -c 'SHOW server_version' | cut -d' ' -f1), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), libsodium $(pkg-config --modversion libsodium 2>/dev/null || echo '?')"
if [ -n "${MAKELEVEL:-}" ]; then runner="make bench"; else runner="scripts/bench.sh"; fi
command_line="BENCH_DURATION=$DURATION BENCH_THREADS=$THREADS BENCH_POOL_THREADS=$POOL_THREADS BENCH_CONNECTIONS=$CONNS BENCH_STATIC_CONNECTIONS=$STATIC_CONNS BENCH_STATIC_ROUNDS=$ROUNDS BENCH_CHEAP=$CHEAP BENCH_CHEAP_CONNECTIONS=$CHEAP_CONNS BENCH_OVERLOAD=$OVERLOAD BENCH_OVERLOAD_CONNECTIONS=$OVER_CONNS BENCH_RECORD=$RECORD $runner"

printf '\n==> summary (%s; %s; load average before: %s)\n\n%s\n' \
    "$stamp" "$machine" "$LOAD_BEFORE" "$summary"
printf '%s\n\nmachine: %s\nversions: %s\ncommand: %s\n' \
    "$summary" "$machine" "$versions" "$command_line" > "$RUN/summary.txt"
log "summary saved in ${RUN#"$REPO/"}/summary.txt; raw outputs in ${RUN#"$REPO/"}/"

if [ "$RECORD" = 1 ]; then
    doc="$REPO/docs/benchmarks.md"
    record="$RUN/record.md"
    # shellcheck disable=SC2016  # the backquotes are Markdown
    {
        printf '### %s\n\n' "$stamp"
        printf -- '- machine: %s (load average before the run: %s)\n' "$machine" "$LOAD_BEFORE"
        printf -- '- versions: %s\n' "$versions"
        printf -- '- command: `%s`\n\n' "$command_line"
        printf '```\n%s\n```\n\n' "$summary"
    } > "$record"
    [ -f "$doc" ] || printf '# Benchmarks\n\n' > "$doc"
    # At the end of the section "## Recorded runs" (before the next "## " heading
    # or marked section, other benchmarks write those), which is created if missing.
    perl -0777 -i -e '
        my $new = do { local $/; open my $f, "<", $ARGV[0] or die "$ARGV[0]: $!"; <$f> };
        shift @ARGV;
        my $doc = <>;
        if ($doc !~ /^## Recorded runs\n/m) {
            $doc =~ s/\n*\z/\n\n/;
            $doc .= "## Recorded runs\n\nAppended by `BENCH_RECORD=1 make bench`, oldest first.\n\n";
        }
        $doc =~ /^## Recorded runs\n/mg;
        my $end = $doc =~ /\G(?:.*\n)*?(?=^## |^<!-- )/mgc ? pos($doc) : length($doc);
        my $head = substr($doc, 0, $end);
        $head =~ s/\n*\z/\n\n/;
        print $head, $new, substr($doc, $end);' "$record" "$doc"
    log "recorded in docs/benchmarks.md (section \"Recorded runs\")"
fi
