#!/usr/bin/env bash
# bench-runtime.sh — the runtime argument, measured (`make bench-runtime`). Most of a
# registration's CPU is Argon2id; this measures what the choice of runtime costs:
#
#   1. raw Argon2id rate at m=19456 KiB, t=2, p=1 of three libraries (four ways), nothing else
#      running: libsodium (bench/argon2_rate.c, as in make bench: as packaged, and
#      as the module runs it, each thread keeping its memory, "module"),
#      Node's `argon2` npm package (bench/runtime/argon2-rate.mjs, one process per
#      worker) and Java's BouncyCastle (Debian's libbcprov-java;
#      bench/runtime/Argon2Rate.java, 2 s of JIT warm-up not counted). Each with one
#      thread, then one per core; the four take turns within a round, in a
#      different order each round, for BENCH_ROUNDS rounds, so that the machine's
#      drift shows as a range. Prints hashes/s per vCPU and the ratio to libsodium
#      of the same round.
#   2. registrations: nginx + ngx_xyz_module (bench/nginx.conf.in, one worker and
#      one hashing thread per core, as make bench) against a minimal Node service
#      (bench/runtime/register-service.mjs: Fastify + pg + argon2, node:cluster with
#      one process per core, the module's SQL), both on the same PostgreSQL
#      database, driven by the same wrk script as make bench (bench/register.lua, a
#      new address per request), at each of BENCH_CONNECTIONS, the two servers
#      taking turns (a b, then b a) for BENCH_SERVICE_ROUNDS rounds: 2xx/s, p50 and
#      p99, answers by status, users rows added, and the RSS of the server's
#      processes (sampled mid-run) per vCPU.
#   3. the differences as vCPU and US$ at the campaign's rates of docs/solucion.md
#      §5 (10,000 people on the site with sessions of 1, 3, 12 and 30 minutes:
#      350, 117, 29 and 12 hashes/s), at the Fargate price of docs/solucion.md
#      (read from that file; the line is printed): per hour of campaign and per
#      month if kept all month.
#
# Like make bench it never fails because the machine is slow, only when something
# does not work at all. On a shared machine its figures are disturbed: the summary
# prints the load averages and the share of CPU that other work took.
#
# Environment (defaults in brackets):
#   BENCH_DURATION         seconds per measurement                               [15]
#   BENCH_ROUNDS           rounds of part 1                                      [3]
#   BENCH_SERVICE_ROUNDS   rounds of part 2 (per connection count)               [2]
#   BENCH_CONNECTIONS      wrk connection counts of part 2                [100 10000]
#   BENCH_PARTS            which parts: "rates", "service" or "rates service"
#                                                                  [rates service]
#   BENCH_CAMPAIGN_RATES   hashes/s of part 3                       [350 117 29 12]
#   BENCH_RECORD           1: append the summary to docs/benchmarks.md           [0]
#
# Runtime files (nginx prefix, logs, wrk and tool outputs, summary.txt) go to
# .run/bench-runtime/. Everything started here (nginx, the Node service, wrk, and
# the PostgreSQL cluster if it was not running) is stopped on exit, Ctrl-C included.
# The database xyz_bench_runtime is recreated on each run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
BENCH="$REPO/bench"
BIN="$REPO/build/bench"
RUN="$REPO/.run/bench-runtime"
NGINX="${NGINX:-/usr/sbin/nginx}"
MODULE="$REPO/build/ngx_xyz_module.so"
BCPROV="${BCPROV_JAR:-/usr/share/java/bcprov.jar}"

CORES="$(nproc)"
DURATION="${BENCH_DURATION:-15}"
ROUNDS="${BENCH_ROUNDS:-3}"
SVC_ROUNDS="${BENCH_SERVICE_ROUNDS:-2}"
CONN_LIST="${BENCH_CONNECTIONS:-100 10000}"
PARTS="${BENCH_PARTS:-rates service}"
RECORD="${BENCH_RECORD:-0}"
PG_POOL=16

log()  { printf 'bench-runtime: %s\n' "$*"; }
warn() { printf 'bench-runtime: WARNING: %s\n' "$*" >&2; }
die()  { printf 'bench-runtime: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

for v in "$DURATION" "$ROUNDS" "$SVC_ROUNDS" $CONN_LIST; do
    [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION, BENCH_ROUNDS, BENCH_SERVICE_ROUNDS and BENCH_CONNECTIONS take positive integers (got '$v')"
done
want() { [[ " $PARTS " == *" $1 "* ]]; }
want rates || want service || die "BENCH_PARTS names neither 'rates' nor 'service'"

# ---- cleanup: whatever this script started, and only that --------------------------

NGX_PREFIX=
SVC_PID=
WRK_PID=
PG_STARTED=0
CLEANED=0

nginx_stop() {
    local pid
    [ -n "$NGX_PREFIX" ] && [ -s "$NGX_PREFIX/logs/nginx.pid" ] || return 0
    pid="$(cat "$NGX_PREFIX/logs/nginx.pid")"
    kill -QUIT "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -TERM "$pid" 2>/dev/null || true
}

service_stop() {
    [ -n "$SVC_PID" ] || return 0
    kill -TERM "$SVC_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SVC_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SVC_PID" 2>/dev/null || true
    wait "$SVC_PID" 2>/dev/null || true
    SVC_PID=
}

# shellcheck disable=SC2317  # called from the traps below
cleanup() {
    [ "$CLEANED" = 1 ] && return
    CLEANED=1
    if [ -n "$WRK_PID" ]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
    service_stop || true
    nginx_stop || true
    if [ "$PG_STARTED" = 1 ]; then "$S/pg.sh" stop || true; fi
}
trap 'echo; log "interrupted"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------------

# $1 / $2 with two decimals ("-" when $2 is zero).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'; }

# "min–max (median m)" of the numbers on stdin, with $1 decimals.
range() {
    sort -g | awk -v d="${1:-1}" '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        f = "%." d "f"
        if (NR == 1) printf f "\n", v[1]
        else printf f "–" f " (median " f ")\n", v[1], v[NR], m }'
}
# The median alone.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0;
    else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# A free TCP port on 127.0.0.1, below the ephemeral range.
pick_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        if perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                LocalPort => $ARGV[0], Proto => "tcp", ReuseAddr => 1, Listen => 1) ? 0 : 1)' "$p"
        then echo "$p"; return; fi
    done
    die "no free TCP port found"
}

# Busy ticks of the whole machine, and CPU ticks of the process trees of the pids given.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
tree_pids() { local p; for p in "$@"; do echo "$p"; ps -o pid= --ppid "$p" | tr -d ' '; done; }
tree_ticks() {
    [ "$#" -gt 0 ] || { echo 0; return; }
    for p in $(tree_pids "$@"); do cat "/proc/$p/stat" 2>/dev/null || true; done \
        | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
# Sum of VmRSS (kB) of the process trees of the pids given.
tree_rss_kb() {
    for p in $(tree_pids "$@"); do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true; done \
        | awk '{ t += $1 } END { print t + 0 }'
}

CLK_TCK="$(getconf CLK_TCK)"
# Percent of all CPUs that processes other than the pids given (and their children,
# this script's children included through `times`) used between meter_start and
# meter_stop: the disturbance of a shared machine.
meter_start() {
    M_PIDS=("$@")
    M_T0="$(date +%s.%N)"; M_ALL0="$(machine_ticks)"; M_OWN0="$(tree_ticks "${M_PIDS[@]}")"
    times > "$RUN/.times"; M_KIDS0="$(kids_ticks)"
}
kids_ticks() {
    awk -v hz="$CLK_TCK" 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/);
        t += a[1] * 60 + a[2] } printf "%d", t * hz }' "$RUN/.times"
}
meter_stop() {
    local t1 all1 own1 kids1
    t1="$(date +%s.%N)"; all1="$(machine_ticks)"; own1="$(tree_ticks "${M_PIDS[@]}")"
    times > "$RUN/.times"; kids1="$(kids_ticks)"
    OTHERS="$(awk -v t0="$M_T0" -v t1="$t1" -v a0="$M_ALL0" -v a1="$all1" -v o0="$M_OWN0" \
        -v o1="$own1" -v k0="$M_KIDS0" -v k1="$kids1" -v hz="$CLK_TCK" -v n="$CORES" 'BEGIN {
            x = (a1 - a0) - (o1 - o0) - (k1 - k0); if (x < 0) x = 0
            printf "%d", 100 * x / ((t1 - t0) * hz * n) }')"
}

ALL_OTHERS=()
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- preparation ---------------------------------------------------------------------

cd "$REPO"
mkdir -p "$RUN" "$BIN/runtime"
LOAD_START="$(loadavg)"

step "dependencies and build"
"$S/deps.sh"
if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
    die "java/javac missing (default-jdk-headless)"
fi
[ -r "$BCPROV" ] || die "$BCPROV missing (libbcprov-java)"
# shellcheck source=lib/argon2.sh
. "$REPO/scripts/lib/argon2.sh"
build_argon2_rate "$BIN/argon2_rate"
javac -d "$BIN/runtime" -cp "$BCPROV" "$BENCH/runtime/Argon2Rate.java"
node -e 'require("argon2"); require("fastify"); require("pg")' \
    || die "the npm packages argon2, fastify and pg do not load (scripts/deps.sh runs npm ci)"
if want service; then "$S/build.sh"; fi

want_nofile=20000
hard_nofile="$(ulimit -Hn)"
if [ "$hard_nofile" != unlimited ] && [ "$hard_nofile" -lt "$want_nofile" ]; then
    want_nofile="$hard_nofile"
fi
ulimit -Sn "$want_nofile"

MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
log "machine: $CORES cores ($MODEL); load average at the start: $LOAD_START"

# ---- 1. raw Argon2id rates -----------------------------------------------------------

# libsodium: as packaged, each hash's memory mapped afresh (the baseline);
# module: the same library as the module runs it, each thread keeping its
# memory (argon2_rate -a, lib/ngx_xyz_argon2_arena.c)
RUNTIMES=(libsodium module node java)
declare -A RATE          # RATE[runtime,threads,round] = hashes/s (all threads)

# One measurement: $1 runtime, $2 threads; prints the rate.
rate_run() {
    local out="$RUN/rate-$1-$2-$3.txt" line
    case "$1" in
        libsodium) "$BIN/argon2_rate" -t "$2" -d "$DURATION" -m 19456 -i 2 > "$out" 2>&1 ;;
        module) "$BIN/argon2_rate" -a -t "$2" -d "$DURATION" -m 19456 -i 2 > "$out" 2>&1 ;;
        node) node "$BENCH/runtime/argon2-rate.mjs" -t "$2" -d "$DURATION" -m 19456 -i 2 > "$out" 2>&1 ;;
        java) java -cp "$BIN/runtime:$BCPROV" Argon2Rate -t "$2" -d "$DURATION" -m 19456 -i 2 \
                  > "$out" 2>&1 ;;
    esac || { warn "$1 with $2 thread(s) failed:"; tail -n 3 "$out" >&2; echo 0; return; }
    line="$(grep '^threads=' "$out")"
    sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$line"
}

if want rates; then
    step "1. raw Argon2id rate (m=19456 t=2 p=1), ${DURATION}s each, $ROUNDS round(s): 1 thread, then $CORES"
    for r in $(seq 1 "$ROUNDS"); do
        # a different runtime first in each round
        order=()
        n="${#RUNTIMES[@]}"
        for i in $(seq 0 $(( n - 1 ))); do order+=("${RUNTIMES[$(( (i + r - 1) % n ))]}"); done
        for rt in "${order[@]}"; do
            for th in 1 "$CORES"; do
                meter_start
                RATE[$rt,$th,$r]="$(rate_run "$rt" "$th" "$r")"
                meter_stop
                ALL_OTHERS+=("$OTHERS")
                log "round $r: $rt, $th thread(s): ${RATE[$rt,$th,$r]} hashes/s (others ${OTHERS}%, load $(loadavg))"
            done
        done
    done
fi

# ---- 2. registrations: the module against the Node service -----------------------------

declare -A RG            # RG[server,conns,field,round]
SERVERS=(module node)

if want service; then
    step "2. registrations: nginx + ngx_xyz_module against the Node service (Fastify + pg + argon2)"
    if ! "$S/pg.sh" status >/dev/null 2>&1; then PG_STARTED=1; fi
    "$S/pg.sh" start
    "$S/pg.sh" recreate-db xyz_bench_runtime
    DSN="$("$S/pg.sh" url xyz_bench_runtime)"
    "$S/migrate.sh" "$DSN"
    PG_POSTMASTER="$(head -n 1 "$("$S/pg.sh" datadir)/postmaster.pid")"

    # nginx as make bench runs it: one worker and one hashing thread per core
    NGX_PREFIX="$RUN/nginx"
    NGX_PORT="$(pick_port)"
    rm -rf "$NGX_PREFIX"; mkdir -p "$NGX_PREFIX/conf" "$NGX_PREFIX/logs" "$NGX_PREFIX/temp"
    if id www-data >/dev/null 2>&1 && runuser -u www-data -- test -r "$REPO/html/." -a -x "$REPO/html"; then
        NGX_USER="www-data www-data"
    else
        NGX_USER="root root"
    fi
    B_PREFIX="$NGX_PREFIX" B_PORT="$NGX_PORT" B_HTML="$REPO/html" B_USER="$NGX_USER" \
    B_WORKERS="$CORES" B_MODULE="$MODULE" B_THREADS=1 B_ARGON2="m=19456 t=2 p=1" \
    B_PG_DSN="$DSN" B_PG_POOL="$PG_POOL" perl -pe '
        BEGIN { print "# Rendered from bench/nginx.conf.in by scripts/bench-runtime.sh.\n" }
        next if /^\s*#/;
        s/\@(PREFIX|PORT|HTML|USER|WORKERS|MODULE|THREADS|ARGON2|PG_DSN|PG_POOL)\@/$ENV{"B_$1"}/g;
    ' "$BENCH/nginx.conf.in" > "$NGX_PREFIX/conf/nginx.conf"
    "$NGINX" -q -t -p "$NGX_PREFIX/" -c conf/nginx.conf -e "$NGX_PREFIX/logs/error.log" \
        || die "configuration test failed: $NGX_PREFIX/conf/nginx.conf"
    "$NGINX" -p "$NGX_PREFIX/" -c conf/nginx.conf -e "$NGX_PREFIX/logs/error.log"
    for _ in $(seq 1 50); do [ -s "$NGX_PREFIX/logs/nginx.pid" ] && break; sleep 0.1; done
    NGX_MASTER="$(cat "$NGX_PREFIX/logs/nginx.pid")"
    log "nginx on 127.0.0.1:$NGX_PORT, master $NGX_MASTER, workers $(ps -o pid= --ppid "$NGX_MASTER" | xargs)"

    # the Node service: one process per core, 16 database connections each
    SVC_PORT="$(pick_port)"
    XYZ_DATABASE_URL="$DSN" PORT="$SVC_PORT" WORKERS="$CORES" PG_POOL="$PG_POOL" \
        node "$BENCH/runtime/register-service.mjs" > "$RUN/node-service.log" 2>&1 &
    SVC_PID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$SVC_PORT/" && break
        kill -0 "$SVC_PID" 2>/dev/null || die "the Node service died: $(tail -n 5 "$RUN/node-service.log")"
        sleep 0.1
    done
    sleep 1
    log "Node service on 127.0.0.1:$SVC_PORT, primary $SVC_PID, workers $(ps -o pid= --ppid "$SVC_PID" | xargs)"

    users_count() { psql -X -q -At -d "$DSN" -c "SELECT count(*) FROM users"; }
    users_settled() {
        local prev cur
        prev="$(users_count)"
        for _ in $(seq 1 30); do sleep 1; cur="$(users_count)"; [ "$cur" = "$prev" ] && break; prev="$cur"; done
        echo "$prev"
    }

    # $1 server, $2 connections, $3 round
    register_run() {
        local server="$1" conns="$2" r="$3" port root out line before secs rss_kb workers
        if [ "$server" = module ]; then port="$NGX_PORT"; root="$NGX_MASTER"; else port="$SVC_PORT"; root="$SVC_PID"; fi
        out="$RUN/wrk-$server-$conns-$r.txt"
        before="$(users_count)"
        meter_start "$root" "$PG_POSTMASTER"
        # 30 s: a paced request takes its pause, its queue wait and its hash
        wrk -t"$CORES" -c"$conns" -d"${DURATION}s" --timeout 30s -s "$BENCH/register.lua" \
            "http://127.0.0.1:$port/api/register" > "$out" 2>&1 &
        WRK_PID=$!
        # memory of the server's processes mid-run, when its connections are open
        sleep "$(( (DURATION + 1) / 2 ))"
        rss_kb="$(tree_rss_kb "$root")"
        wait "$WRK_PID" || warn "wrk exited with status $? (output: $out)"
        WRK_PID=
        meter_stop
        ALL_OTHERS+=("$OTHERS")
        line="$(sed -n 's/^xyz-bench: //p' "$out")"
        [ -n "$line" ] || die "no status line from bench/register.lua in $out"
        secs="$(awk '/ requests in / { sub(/,$/, "", $4); print $4 }' "$out")"
        secs="$(awk -v t="$secs" 'BEGIN { v = t + 0; u = t; sub(/^[0-9.]+/, "", u)
            if (u == "ms") v /= 1e3; else if (u == "m") v *= 60; printf "%.3f", v }')"
        RG[$server,$conns,rate,$r]="$(awk -v n="$(sed -n 's/.* 2xx=\([0-9]*\).*/\1/p' <<<"$line")" \
            -v s="$secs" 'BEGIN { printf "%.1f", (s > 0) ? n / s : 0 }')"
        RG[$server,$conns,p50,$r]="$(sed -n 's/.* p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
        RG[$server,$conns,p99,$r]="$(sed -n 's/.* p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")"
        RG[$server,$conns,answers,$r]="$(grep -o 'status_[0-9]*=[0-9]*' <<<"$line" | sed 's/status_//' | xargs)"
        RG[$server,$conns,errors,$r]="$(sed -n 's/^ *Socket errors: *//p' "$out")"
        RG[$server,$conns,rss,$r]="$(awk -v k="$rss_kb" -v n="$CORES" 'BEGIN { printf "%.1f", k / 1024 / n }')"
        RG[$server,$conns,rows,$r]=$(( $(users_settled) - before ))
        RG[$server,$conns,others,$r]="$OTHERS"
        workers="$(ps -o pid= --ppid "$root" | wc -l)"
        log "$server, $conns conn, round $r: ${RG[$server,$conns,rate,$r]} /s, p50 ${RG[$server,$conns,p50,$r]} ms, p99 ${RG[$server,$conns,p99,$r]} ms; answers ${RG[$server,$conns,answers,$r]}; socket errors ${RG[$server,$conns,errors,$r]:-none}; rows ${RG[$server,$conns,rows,$r]}; RSS mid-run ${RG[$server,$conns,rss,$r]} MB per vCPU ($workers workers + master); others ${OTHERS}%, load $(loadavg)"
    }

    for conns in $CONN_LIST; do
        for r in $(seq 1 "$SVC_ROUNDS"); do
            if [ $(( r % 2 )) -eq 1 ]; then turns="module node"; else turns="node module"; fi
            for server in $turns; do
                register_run "$server" "$conns" "$r"
                sleep 2
            done
        done
    done
fi

# ---- 3. summary and costs ------------------------------------------------------------

# Fargate's price per vCPU-hour and per GB-hour, from the cost section of the
# solution document, so that the two never disagree; the line is cited.
# ("Fargate x86: 0,04048 por vCPU-h, 0,004445 por GB-h" in its appendix of
# sources; "Fargate x86 US$ 0,04048 por vCPU-h y US$ 0,004445 por GB-h" before)
PRICE_LINE="$(grep -n 'Fargate x86[: ]*\(US\$ \)\{0,1\}[0-9,]* por vCPU-h' "$REPO/docs/solucion.md" \
              | head -n 1 || true)"
VCPU_H="$(sed -n 's/.*Fargate x86[: ]*\(US\$ \)\{0,1\}\([0-9,]*\) por vCPU-h.*/\2/p' <<<"$PRICE_LINE" | tr , .)"
GB_H="$(sed -n 's/.*por vCPU-h[, y]*\(US\$ \)\{0,1\}\([0-9,]*\) por GB-h.*/\2/p' <<<"$PRICE_LINE" | tr , .)"
PRICE_AT="docs/solucion.md:${PRICE_LINE%%:*}"
[ -n "$VCPU_H" ] || { VCPU_H=0.04048; GB_H=0.004445; PRICE_AT="(not found in docs/solucion.md; list price of 2026-11)"; }
HOURS=730
# the campaign's rates of docs/solucion.md §5 (Little's law): 10,000 people on the
# site, 2.1 hashes each (registration, login, a tenth of logins failed once), with
# sessions of 1, 3, 12 and 30 minutes
CAMPAIGN_RATES="${BENCH_CAMPAIGN_RATES:-350 117 29 12}"

MAX_OTHERS="$(printf '%s\n' "${ALL_OTHERS[@]:-0}" | sort -n | tail -n 1)"
LOAD_END="$(loadavg)"

# $1 hashes/s per vCPU (or registrations/s per vCPU) of each runtime, as
# "name=value ..."; prints vCPU, US$ per hour of campaign and US$ per month
# (kept all month) at each campaign rate.
cost_table() {
    local name v rate
    printf '  %-30s' 'hashes/s needed:'
    for rate in $CAMPAIGN_RATES; do printf '%34s' "$rate /s"; done
    printf '\n'
    for pair in "$@"; do
        name="${pair%%=*}"; v="${pair#*=}"
        printf '  %-30s' "$name ($v /s per vCPU)"
        for rate in $CAMPAIGN_RATES; do
            awk -v r="$rate" -v v="$v" -v p="$VCPU_H" -v h="$HOURS" 'BEGIN {
                if (v <= 0) { printf "%34s", "-"; exit }
                c = r / v; printf "%34s", sprintf("%.2f vCPU, US$ %.2f/h, %.0f/mo", c, c * p, c * p * h) }'
        done
        printf '\n'
    done
    # what each runtime costs beyond the first at each rate
    first="${1#*=}"
    for pair in "${@:2}"; do
        name="${pair%%=*}"; v="${pair#*=}"
        printf '  %-30s' "$name minus ${1%%=*}"
        for rate in $CAMPAIGN_RATES; do
            awk -v r="$rate" -v v="$v" -v f="$first" -v p="$VCPU_H" -v h="$HOURS" 'BEGIN {
                if (v <= 0 || f <= 0) { printf "%34s", "-"; exit }
                c = r / v - r / f
                printf "%34s", sprintf("%+.2f vCPU, US$ %+.2f/h, %+.0f/mo", c, c * p, c * p * h) }'
        done
        printf '\n'
    done
}

summary="$(
    printf 'load average: %s at the start, %s at the end; other work took up to %s%% of the CPUs during a measurement\n' \
        "$LOAD_START" "$LOAD_END" "$MAX_OTHERS"
    if want rates; then
        printf '\nraw Argon2id, m=19456 KiB t=2 p=1, hashes/s per vCPU over %s round(s) of %ss (min–max, median):\n' "$ROUNDS" "$DURATION"
        for th in 1 "$CORES"; do
            for rt in "${RUNTIMES[@]}"; do
                per="$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${RATE[$rt,$th,$r]}" -v n="$th" 'BEGIN { print a / n }'; done)"
                rat="$(for r in $(seq 1 "$ROUNDS"); do ratio "${RATE[$rt,$th,$r]}" "${RATE[libsodium,$th,$r]}"; done)"
                printf '  %-10s %2s thread(s): %-28s ratio to libsodium %s\n' "$rt" "$th" \
                    "$(range 1 <<<"$per")" "$(range 2 <<<"$rat")"
            done
        done
    fi
    if want service; then
        printf '\nregistrations at m=19456 t=2 (wrk, bench/register.lua, %s round(s) of %ss; %s workers each;\n' "$SVC_ROUNDS" "$DURATION" "$CORES"
        printf 'both write user, token and outbox row in one statement, neither publishes to SQS):\n'
        for conns in $CONN_LIST; do
            for server in "${SERVERS[@]}"; do
                f() { for r in $(seq 1 "$SVC_ROUNDS"); do echo "${RG[$server,$conns,$1,$r]:-0}"; done; }
                perv="$(f rate | awk -v n="$CORES" '{ print $1 / n }' | range 1)"
                printf '  %-6s %5s conn: %s /s per vCPU; p50 %s ms; p99 %s ms; RSS %s MB per vCPU\n' \
                    "$server" "$conns" "$perv" "$(f p50 | range 0)" "$(f p99 | range 0)" "$(f rss | range 1)"
                for r in $(seq 1 "$SVC_ROUNDS"); do
                    printf '         round %s: answers %s; socket errors %s; users rows %s\n' "$r" \
                        "${RG[$server,$conns,answers,$r]:-none}" "${RG[$server,$conns,errors,$r]:-none}" \
                        "${RG[$server,$conns,rows,$r]:-0}"
                done
            done
            printf '  node / module at %s conn: %s\n' "$conns" "$(for r in $(seq 1 "$SVC_ROUNDS"); do
                ratio "${RG[node,$conns,rate,$r]:-0}" "${RG[module,$conns,rate,$r]:-0}"; done | range 2)"
        done
    fi
    printf '\nvCPU for the hashing alone at the campaign rates of docs/solucion.md §5 (10,000 people,\n'
    printf '2.1 hashes each, sessions of 1, 3, 12, 30 min; no margin), US$ per hour of campaign and per\n'
    printf 'month if kept all month (%s h), Fargate x86 US$ %s per vCPU-h (%s); the\n' "$HOURS" "$VCPU_H" "$PRICE_AT"
    printf 'registrations of part 2 stand for hashes there (one hash each):\n'
    if want rates; then
        pairs=()
        for rt in "${RUNTIMES[@]}"; do
            pairs+=("$rt=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${RATE[$rt,$CORES,$r]}" -v n="$CORES" 'BEGIN { print a / n }'; done | median | awk '{ printf "%.1f", $1 }')")
        done
        printf ' from the raw rates (%s threads, medians):\n' "$CORES"
        cost_table "${pairs[@]}"
    fi
    if want service; then
        c1="${CONN_LIST%% *}"
        pairs=()
        for server in "${SERVERS[@]}"; do
            pairs+=("$server=$(for r in $(seq 1 "$SVC_ROUNDS"); do awk -v a="${RG[$server,$c1,rate,$r]:-0}" -v n="$CORES" 'BEGIN { print a / n }'; done | median | awk '{ printf "%.1f", $1 }')")
        done
        printf ' from the registrations at %s connections (medians):\n' "$c1"
        cost_table "${pairs[@]}"
        mm="$(for r in $(seq 1 "$SVC_ROUNDS"); do echo "${RG[module,$c1,rss,$r]:-0}"; done | median)"
        nm="$(for r in $(seq 1 "$SVC_ROUNDS"); do echo "${RG[node,$c1,rss,$r]:-0}"; done | median)"
        awk -v a="$nm" -v b="$mm" -v p="$GB_H" -v h="$HOURS" 'BEGIN {
            printf " memory: node %.1f MB per vCPU against the module'"'"'s %.1f MB: US$ %.2f per vCPU-month at US$ %s per GB-h\n",
                a, b, (a - b) / 1024 * p * h, p }'
    fi
    if [ "$MAX_OTHERS" -gt 10 ]; then
        printf 'NOTE: other work took up to %s%% of the CPUs during a measurement: these figures are\n' "$MAX_OTHERS"
        printf '      disturbed; run again on a quiet machine\n'
    fi
)"

stamp="$(date -u '+%Y-%m-%d %H:%M UTC')"
machine="$CORES cores, $MODEL, $(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
versions="libsodium $(pkg-config --modversion libsodium 2>/dev/null || echo '?'), Node $(node -v) with argon2 $(node -p 'require("argon2/package.json").version'), fastify $(node -p 'require("fastify/package.json").version'), pg $(node -p 'require("pg/package.json").version'), $(java -version 2>&1 | head -n 1 | tr -d '"'), BouncyCastle $(basename "$(readlink -f "$BCPROV")" .jar | sed 's/^bcprov-//')"
command_line="BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS BENCH_SERVICE_ROUNDS=$SVC_ROUNDS BENCH_CONNECTIONS='$CONN_LIST' BENCH_PARTS='$PARTS' make bench-runtime"

printf '\n==> summary (%s; %s)\n\n%s\n' "$stamp" "$machine" "$summary"
printf '%s\n\nmachine: %s\nversions: %s\ncommand: %s\n' "$summary" "$machine" "$versions" "$command_line" \
    > "$RUN/summary.txt"
log "summary saved in ${RUN#"$REPO/"}/summary.txt; raw outputs in ${RUN#"$REPO/"}/"

if [ "$RECORD" = 1 ]; then
    record="$RUN/record.md"
    # shellcheck disable=SC2016  # the backquotes are Markdown
    {
        printf '### %s (make bench-runtime)\n\n' "$stamp"
        printf -- '- machine: %s\n- versions: %s\n- command: `%s`\n\n' "$machine" "$versions" "$command_line"
        printf '```\n%s\n```\n\n' "$summary"
    } > "$record"
    # at the end of "## Runtime comparison" (before the next "## " heading)
    perl -0777 -i -e '
        my $new = do { local $/; open my $f, "<", $ARGV[0] or die "$ARGV[0]: $!"; <$f> };
        shift @ARGV;
        my $doc = <>;
        $doc =~ /^## Runtime comparison\n/mg or die "no section \"## Runtime comparison\"\n";
        my $end = $doc =~ /\G(?:.*\n)*?(?=^## )/mgc ? pos($doc) : length($doc);
        my $head = substr($doc, 0, $end);
        $head =~ s/\n*\z/\n\n/;
        print $head, $new, substr($doc, $end);' "$record" "$REPO/docs/benchmarks.md"
    log "recorded in docs/benchmarks.md (section \"Runtime comparison\")"
fi
