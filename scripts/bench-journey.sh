#!/usr/bin/env bash
# bench-journey.sh — the whole journey of N users (`make bench-journey`). It prints
# numbers and ratios; it exits 0 whatever they are, and 1 only when something is
# broken (a journey lost, a record missing or written twice, a server that does not
# start).
#
# N users, C of them on their way at once, each with think time between the steps:
# the page and its assets, registration, the confirmation email (over real SMTP, to
# the SMTP sink inside the load generator), the landing page of its link and the
# form post that confirms, log in, the account (/api/me). The generator is
# bench/journey.mjs (Node.js, plain http with keep-alive agents; its own CPU is
# measured and reported). One nginx holds the web role and the dispatcher (emails to
# the sink, CRM records to the bench's own fake CRM, scripts/fake-crm.mjs).
#
# Reported, in one run:
#   - the hash bound: 2 Argon2id hashes per user (registration, login) / the raw
#     Argon2id rate of this machine (bench/argon2_rate.c, all cores, the same
#     parameters), measured right before and right after the journey (the mean of
#     the two); the journey's wall time against it (budget: <= 1.1 x);
#   - journeys/s; per step p50/p95/p99/max and the answers by status;
#   - the lost-check: registrations (users rows) = confirmation emails (one per
#     recipient, none twice) = confirmed accounts = logins = CRM records (none
#     written twice), all equal to N;
#   - nginx worker RSS (largest seen, sampled every second) and where it lies
#     at that moment (bench/mem-breakdown.sh: heap, anonymous mappings, files);
#   - the CPU seconds of each component during the journey (/proc: nginx's
#     hashing threads apart from its event loops, PostgreSQL, the SQS
#     emulator, the fake CRM, the generator), the floor they make ((all of
#     it) / cores, against the hash bound), and how long the hashing threads
#     stood idle (neither running nor waiting for a CPU) while users slept on
#     a Retry-After (bench/cpu-snapshot.pl, bench/journey-cpu.pl): figures
#     that a shared machine does not distort the way it does the wall time;
#   - a PNG plot: journeys completed, 2xx, 503 and p99 per second
#     (docs/journey.png, or BENCH_JOURNEY_PLOT).
#
# Environment (defaults in brackets):
#   BENCH_JOURNEY_USERS        users                                         [10000]
#   BENCH_JOURNEY_CONCURRENCY  users on their way at once                    [10000]
#   BENCH_JOURNEY_THINK        mean think time between steps, seconds (each
#                              one uniform in [0.5 x, 1.5 x])                    [3]
#   XYZ_BENCH_CHEAP            1: cheap hash m=64 t=1 (to expose all the rest) [0]
#   BENCH_JOURNEY_RAW_SECONDS  seconds of each raw Argon2id run                 [10]
#   BENCH_JOURNEY_MAX_QUEUE    max_queue of the hashing pool of each worker  [4096]
#   BENCH_JOURNEY_PLOT         where the PNG goes                [docs/journey.png]
#   BENCH_JOURNEY_RETRY        the generator's wait after a 503 or 429: around
#                              (0.5-1.5 x Retry-After, as the front end) or
#                              after (1-1.5 x)                          [around]
#   BENCH_JOURNEY_CONF         the configuration template   [bench/journey.conf.in]
#   XYZ_MODULE                 a module .so to load instead of building one
#   (an earlier version, for a comparison: XYZ_MODULE, BENCH_JOURNEY_CONF and
#   BENCH_JOURNEY_RETRY=after of that version)
#
# Runtime files: .run/bench-journey/ (nginx prefix and error log, the generator's
# journey.json and timeline.dat, the fake CRM's log, the summary). Everything
# started here (nginx, the fake CRM, the generator, and the SQS emulator and
# PostgreSQL cluster if they were not running) is stopped on exit, Ctrl-C
# included. The database xyz_bench_journey is recreated on each run.
#
# The machine may be shared: the load average before and after is printed next
# to the results, and the raw Argon2id rate (the bound) is taken in the same run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
BENCH="$REPO/bench"
BIN="$REPO/build/bench"
RUN="$REPO/.run/bench-journey"
NGINX="${NGINX:-/usr/sbin/nginx}"
MODULE="${XYZ_MODULE:-}"
DB=xyz_bench_journey

USERS="${BENCH_JOURNEY_USERS:-10000}"
CONC="${BENCH_JOURNEY_CONCURRENCY:-10000}"
THINK="${BENCH_JOURNEY_THINK:-3}"
CHEAP="${XYZ_BENCH_CHEAP:-0}"
RAW_SECS="${BENCH_JOURNEY_RAW_SECONDS:-10}"
MAX_QUEUE="${BENCH_JOURNEY_MAX_QUEUE:-4096}"
PLOT="${BENCH_JOURNEY_PLOT:-$REPO/docs/journey.png}"
RETRY="${BENCH_JOURNEY_RETRY:-around}"
CONF_IN="${BENCH_JOURNEY_CONF:-$BENCH/journey.conf.in}"
CORES="$(nproc)"
WORKERS="$CORES"
PG_POOL=16
if [ "$CHEAP" = 1 ]; then
    ARGON2="m=64 t=1 p=1"; RAW_M=64; RAW_T=1
else
    ARGON2="m=19456 t=2 p=1"; RAW_M=19456; RAW_T=2
fi

log()  { printf 'bench-journey: %s\n' "$*"; }
warn() { printf 'bench-journey: WARNING: %s\n' "$*" >&2; }
die()  { printf 'bench-journey: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

for v in BENCH_JOURNEY_USERS:USERS BENCH_JOURNEY_CONCURRENCY:CONC \
         BENCH_JOURNEY_RAW_SECONDS:RAW_SECS BENCH_JOURNEY_MAX_QUEUE:MAX_QUEUE; do
    name="${v#*:}"
    [[ "${!name}" =~ ^[1-9][0-9]*$ ]] || die "${v%%:*} must be a positive integer (got '${!name}')"
done
[[ "$THINK" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_JOURNEY_THINK must be a number of seconds (got '$THINK')"
[[ "$RETRY" =~ ^(around|after)$ ]] || die "BENCH_JOURNEY_RETRY must be around or after (got '$RETRY')"
[ -f "$CONF_IN" ] || die "BENCH_JOURNEY_CONF: no file $CONF_IN"
[ -z "${XYZ_DATABASE_URL:-}" ] \
    || die "the journey bench recreates database $DB in the private cluster; unset XYZ_DATABASE_URL"

# ---- cleanup: whatever this script started, and only that --------------------------

PREFIX="$RUN/nginx"
NGINX_STARTED=0
CRM_PID=
GEN_PID=
SAMPLER_PID=
# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"
CLEANED=0
declare -A QURL=()

# shellcheck source=lib/nginx.sh
. "$S/lib/nginx.sh"

nginx_stop() {
    [ "$NGINX_STARTED" = 1 ] || return 0
    nginx_stop_prefix "$PREFIX"
}

stop_pid() {
    local pid="$1"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # called from the traps below
cleanup() {
    [ "$CLEANED" = 1 ] && return
    CLEANED=1
    stop_pid "$GEN_PID"
    stop_pid "$SAMPLER_PID"
    nginx_stop
    stop_pid "$CRM_PID"
    if ! stack_started sqs && [ -n "${SQS_ENDPOINT:-}" ]; then
        for q in "${!QURL[@]}"; do
            sqs_call DeleteQueue "{\"QueueUrl\":\"${QURL[$q]}\"}" >/dev/null 2>&1 || true
        done
    fi
    stack_stop
}
trap 'echo; log "interrupted"; cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------------

# shellcheck source=lib/ports.sh
. "$S/lib/ports.sh"

json_get() {
    perl -MJSON::PP -0777 -e '
        my $d = JSON::PP::decode_json(<STDIN>);
        for my $k (@ARGV) { $d = ref $d eq "HASH" ? $d->{$k} : undef }
        print defined $d ? (ref $d ? JSON::PP::encode_json($d) : $d) : "", "\n";' "$@"
}

sqs_call() {
    local out code
    out="$(curl -sS --max-time 30 -w '\n%{http_code}' -X POST \
        -H 'Content-Type: application/x-amz-json-1.0' -H "X-Amz-Target: AmazonSQS.$1" \
        --data-binary "$2" "$SQS_ENDPOINT/")" || return 1
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    [ "$code" = 200 ] || { printf 'bench-journey: SQS %s failed (HTTP %s): %s\n' "$1" "$code" "$out" >&2; return 1; }
    printf '%s\n' "$out"
}

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DSN" -c "$1"; }

# One raw Argon2id run at the bench's parameters on all cores; prints hashes/s.
# $1: -a to keep each thread's memory (the module's way), none for libsodium's.
raw_argon2() {
    local line
    line="$("$BIN/argon2_rate" ${1:-} -t "$CORES" -d "$RAW_SECS" -m "$RAW_M" -i "$RAW_T" 2>/dev/null)"
    log "$line" >&2
    sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$line"
}

# ---- set-up ----------------------------------------------------------------------------

cd "$REPO"
mkdir -p "$RUN" "$BIN"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

step "dependencies and build"
"$S/deps.sh"
if [ -z "$MODULE" ]; then
    "$S/build.sh" >/dev/null
    MODULE="$REPO/build/ngx_xyz_module.so"
fi
[ -f "$MODULE" ] || die "$MODULE missing"
# shellcheck source=lib/argon2.sh
. "$REPO/scripts/lib/argon2.sh"
build_argon2_rate "$BIN/argon2_rate"
[ -d "$REPO/node_modules/fauxqs" ] || (cd "$REPO" && npm ci --no-audit --no-fund >/dev/null)

# One descriptor per user in the generator, and per connection in nginx.
want=$(( CONC * 2 + 1000 ))
hard="$(ulimit -Hn)"
[ "$hard" = unlimited ] || [ "$hard" -ge "$want" ] || want="$hard"
ulimit -Sn "$want"
[ "$(ulimit -Sn)" -ge $(( CONC + 200 )) ] \
    || warn "open files limit $(ulimit -Sn) is below $CONC users; expect connection errors"

step "PostgreSQL"
stack_start pg
"$S/pg.sh" recreate-db "$DB"
DSN="$("$S/pg.sh" url "$DB")"
"$S/migrate.sh" "$DSN" >/dev/null
log "database: $DSN"

step "SQS emulator (the bench's own queues)"
stack_start sqs
SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
for q in xyz-bench-journey-email-dlq xyz-bench-journey-crm-dlq xyz-bench-journey-email xyz-bench-journey-crm; do
    QURL[$q]="$(sqs_call CreateQueue "{\"QueueName\":\"$q\"}" | json_get QueueUrl)"
    [ -n "${QURL[$q]}" ] || die "could not create queue $q"
    sqs_call PurgeQueue "{\"QueueUrl\":\"${QURL[$q]}\"}" >/dev/null || true
done

step "fake CRM (the bench's own)"
CRM_PORT="$(pick_port)"
CRM_URL="http://127.0.0.1:$CRM_PORT"
CRM_ADDR=127.0.0.1 CRM_PORT="$CRM_PORT" CRM_LIMIT=100 CRM_TOKEN='' \
    CRM_PID_FILE="$RUN/crm.pid" CRM_MAX_CALLS=$(( USERS * 3 + 1000 )) \
    node "$S/fake-crm.mjs" </dev/null >"$RUN/crm.log" 2>&1 &
CRM_PID=$!
for _ in $(seq 1 100); do
    kill -0 "$CRM_PID" 2>/dev/null || { cat "$RUN/crm.log" >&2; die "the fake CRM exited"; }
    curl -sf --max-time 1 -o /dev/null "$CRM_URL/_admin/health" && break
    sleep 0.1
done
log "fake CRM on $CRM_URL"

step "1. raw Argon2id ($ARGON2, $CORES threads, ${RAW_SECS}s), before"
RAW1="$(raw_argon2)"
RAWK1="$(raw_argon2 -a)"

step "nginx (web role and dispatcher), Argon2id $ARGON2"
PORT="$(pick_port)"
SMTP_PORT="$(pick_port)"
rm -rf "$PREFIX"
mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/temp"
(umask 077; head -c 48 /dev/urandom | base64 > "$PREFIX/conf/jwt.key")
if id www-data >/dev/null 2>&1 && runuser -u www-data -- test -r "$REPO/html/." -a -x "$REPO/html"; then
    NGX_USER="www-data www-data"
    chown www-data "$PREFIX/conf/jwt.key" 2>/dev/null || true
else
    NGX_USER="root root"
fi
B_PREFIX="$PREFIX" B_PORT="$PORT" B_HTML="$REPO/html" B_USER="$NGX_USER" B_WORKERS="$WORKERS" \
B_MODULE="$MODULE" B_THREADS=$(( (CORES + WORKERS - 1) / WORKERS )) B_ARGON2="$ARGON2" \
B_PG_DSN="$DSN" B_PG_POOL="$PG_POOL" B_MAX_QUEUE="$MAX_QUEUE" B_SQS_ENDPOINT="$SQS_ENDPOINT" \
B_EMAIL_Q="${QURL[xyz-bench-journey-email]}" B_EMAIL_DLQ="${QURL[xyz-bench-journey-email-dlq]}" \
B_CRM_Q="${QURL[xyz-bench-journey-crm]}" B_CRM_DLQ="${QURL[xyz-bench-journey-crm-dlq]}" \
B_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" B_CRM_URL="$CRM_URL" B_TEMPLATES="$REPO/conf/templates" \
B_JWT_KEY="$PREFIX/conf/jwt.key" perl -pe '
    BEGIN { print "# Rendered from bench/journey.conf.in by scripts/bench-journey.sh.\n" }
    next if /^\s*#/;
    s/\@([A-Z0-9_]+)\@/exists $ENV{"B_$1"} ? $ENV{"B_$1"} : die "no value for \@$1\@\n"/ge;
' "$CONF_IN" > "$PREFIX/conf/nginx.conf"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
"$NGINX" -q -t -p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log" \
    || die "configuration test failed: $PREFIX/conf/nginx.conf"
NGINX_STARTED=1
"$NGINX" -p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log"
for _ in $(seq 1 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/" || die "nginx does not answer; see $PREFIX/logs/error.log"
MASTER="$(cat "$PREFIX/logs/nginx.pid")"
log "nginx on 127.0.0.1:$PORT (master $MASTER), SMTP sink on 127.0.0.1:$SMTP_PORT"

# Every second: the largest RSS of any nginx worker (into $RUN/rss.max, in kB,
# and where it lies then, per worker, into $RUN/rss.peak), and the hashing
# threads' time running and waiting for a CPU (the threads of a worker other
# than its main one; /proc/PID/task/TID/schedstat) into $RUN/hash-threads.dat.
echo 0 > "$RUN/rss.max"
: > "$RUN/rss.peak"
: > "$RUN/hash-threads.dat"
(
    max=0
    while sleep 1; do
        workers="$(ps -o pid= --ppid "$MASTER" 2>/dev/null)" || true
        for p in $workers; do
            kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)"
            if [ "${kb:-0}" -gt "$max" ]; then
                max="$kb"; echo "$max" > "$RUN/rss.max"
                for w in $workers; do
                    "$BENCH/mem-breakdown.sh" "$w" "pid $w" 2>/dev/null || true
                done > "$RUN/rss.peak"
            fi
        done
        for p in $workers; do
            for t in /proc/"$p"/task/*; do
                [ "${t##*/}" = "$p" ] || cat "$t/schedstat" 2>/dev/null
            done
        done | awk -v ms="$(date +%s%3N)" '{ r += $1; w += $2; n++ }
            END { if (n) print ms, r, w, n }' >> "$RUN/hash-threads.dat"
    done
) &
SAMPLER_PID=$!

# the CPU each component has used so far (bench/cpu-snapshot.pl)
PG_PID="$(head -1 "$("$S/pg.sh" datadir)/postmaster.pid" 2>/dev/null || true)"
SQS_PID="$(cat "$REPO/.run/sqs/pid" 2>/dev/null || true)"
cpu_snapshot() {
    "$BENCH/cpu-snapshot.pl" nginx="$MASTER" postgres="$PG_PID" sqs="$SQS_PID" crm="$CRM_PID" \
        > "$RUN/$1" 2>/dev/null || warn "no CPU snapshot ($1)"
}

step "2. the journey: $USERS users, $CONC at once, think ${THINK}s"
TAG="j$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
CPU0="$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)"
cpu_snapshot cpu.before
node "$BENCH/journey.mjs" --url "http://127.0.0.1:$PORT" --smtp-port "$SMTP_PORT" \
    --users "$USERS" --concurrency "$CONC" --think "$THINK" --tag "$TAG" --out "$RUN" \
    --retry-jitter "$RETRY" \
    > "$RUN/generator.out" 2>&1 &
GEN_PID=$!
touch "$RUN/generator.out"
tail -n +1 -f --pid="$GEN_PID" "$RUN/generator.out" &
TAIL_PID=$!
wait "$GEN_PID" || warn "the generator exited with status $?"
cpu_snapshot cpu.after
GEN_PID=
wait "$TAIL_PID" 2>/dev/null || true
CPU1="$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)"
[ -s "$RUN/journey.json" ] || die "the generator wrote no $RUN/journey.json"
BUSY="$(awk -v a="$CPU0" -v b="$CPU1" 'BEGIN { split(a, x, " "); split(b, y, " ");
    d = y[2] - x[2]; printf "%d", (d > 0) ? 100 * (y[1] - x[1]) / d : 0 }')"
LOAD_DURING="$(cut -d' ' -f1-3 /proc/loadavg)"

step "3. the CRM records (the dispatcher drains at its cap, 90/s)"
want_crm="$(sql "SELECT count(*) FROM users WHERE status = 'confirmed'")"
prev=-1; same=0
for _ in $(seq 1 $(( USERS / 30 + 120 ))); do
    n="$(curl -sf --max-time 10 "$CRM_URL/_admin/stats" | json_get records)"
    [ "$n" -ge "$want_crm" ] && break
    if [ "$n" = "$prev" ]; then same=$((same + 1)); else same=0; fi
    [ "$same" -ge 30 ] && { warn "the CRM records stopped at $n of $want_crm"; break; }
    prev="$n"
    sleep 1
done
sleep 2

step "4. raw Argon2id ($ARGON2, $CORES threads, ${RAW_SECS}s), after"
stop_pid "$SAMPLER_PID"; SAMPLER_PID=
RSS_MAX_MB="$(awk '{ printf "%.1f", $1 / 1024 }' "$RUN/rss.max")"
nginx_stop
RAW2="$(raw_argon2)"
RAWK2="$(raw_argon2 -a)"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the lost-check --------------------------------------------------------------------

J="$RUN/journey.json"
jq_() { json_get "$@" < "$J"; }
REG_ROWS="$(sql "SELECT count(*) FROM users WHERE email_normalized LIKE '${TAG}-%'")"
CONFIRMED="$(sql "SELECT count(*) FROM users WHERE email_normalized LIKE '${TAG}-%' AND status = 'confirmed'")"
TOKENS_USED="$(sql "SELECT count(*) FROM confirmation_tokens WHERE used_at IS NOT NULL")"
OUT_EMAIL="$(sql "SELECT count(*) FROM outbox WHERE kind = 'email'")"
OUT_CRM="$(sql "SELECT count(*) FROM outbox WHERE kind = 'crm'")"
OUT_UNPUB="$(sql "SELECT count(*) FROM outbox WHERE published_at IS NULL")"
MAILS="$(jq_ mail messages)"
MAIL_RCPT="$(jq_ mail recipients_of_run)"
MAIL_DUP="$(jq_ mail duplicated_recipients)"
LOGINS="$(jq_ steps login n)"
MES="$(jq_ steps me n)"
DONE="$(jq_ journeys_done)"
FAILED="$(jq_ journeys_failed)"
curl -sf --max-time 30 "$CRM_URL/_admin/records" > "$RUN/crm-records.json"
read -r CRM_RECORDS CRM_MULTI < <(TAG="$TAG" perl -MJSON::PP -0777 -ne '
    my $r = decode_json($_);
    my ($n, $multi) = (0, 0);
    for (@$r) { next unless index($_->{key}, $ENV{TAG} . "-") == 0; $n++; $multi++ if $_->{upserts} > 1 }
    print "$n $multi\n";' < "$RUN/crm-records.json")
CRM_REPEATS="$(curl -sf --max-time 10 "$CRM_URL/_admin/stats" | json_get repeats)"

LOST_OK=1
for v in REG_ROWS MAIL_RCPT MAILS CONFIRMED TOKENS_USED LOGINS MES CRM_RECORDS OUT_EMAIL OUT_CRM; do
    [ "${!v}" = "$USERS" ] || LOST_OK=0
done
[ "$MAIL_DUP" = 0 ] && [ "${CRM_MULTI:-1}" = 0 ] && [ "$OUT_UNPUB" = 0 ] || LOST_OK=0

# ---- summary ---------------------------------------------------------------------------

RAW="$(awk -v a="$RAW1" -v b="$RAW2" 'BEGIN { printf "%.2f", (a + b) / 2 }')"
WALL="$(jq_ wall_s)"
BOUND="$(awk -v u="$USERS" -v r="$RAW" 'BEGIN { printf "%.1f", (r > 0) ? 2 * u / r : 0 }')"
RATIO="$(awk -v w="$WALL" -v b="$BOUND" 'BEGIN { printf "%.2f", (b > 0) ? w / b : 0 }')"
RAWK="$(awk -v a="$RAWK1" -v b="$RAWK2" 'BEGIN { printf "%.2f", (a + b) / 2 }')"
BOUNDK="$(awk -v u="$USERS" -v r="$RAWK" 'BEGIN { printf "%.1f", (r > 0) ? 2 * u / r : 0 }')"
RATIOK="$(awk -v w="$WALL" -v b="$BOUNDK" 'BEGIN { printf "%.2f", (b > 0) ? w / b : 0 }')"
THINK_FLOOR="$(awk -v t="$THINK" 'BEGIN { printf "%.1f", 3.5 * t }')"
NON_OK="$(perl -MJSON::PP -0777 -ne '
    my $d = decode_json($_); my %o;
    for my $s (keys %{$d->{steps}}) { for my $c (keys %{$d->{steps}{$s}{status}}) {
        next if $c =~ /^[23]\d\d$/ || $c eq "503" || $c eq "429";
        $o{"$s:$c"} += $d->{steps}{$s}{status}{$c} } }
    print join(" ", map { "$_=$o{$_}" } sort keys %o) || "none";' < "$J")"

{
    printf 'journey: %s users, %s at once, think %s s (uniform 0.5-1.5 x), Argon2id %s, %s workers, retry %s Retry-After\n' \
        "$USERS" "$CONC" "$THINK" "$ARGON2" "$WORKERS" "$RETRY"
    printf 'wall time:   %s s for %s journeys (%s failed) = %s journeys/s\n' \
        "$(printf '%.1f' "$WALL")" "$DONE" "$FAILED" "$(printf '%.2f' "$(jq_ journeys_per_s)")"
    if [ "$CHEAP" = 1 ]; then budget="the budget of 1.10 is for the production hash"; else budget="budget <= 1.10"; fi
    printf 'hash bound:  2 x %s users / %s hashes/s raw (before %s, after %s) = %s s;  wall / bound = %s  (%s)\n' \
        "$USERS" "$RAW" "$RAW1" "$RAW2" "$BOUND" "$RATIO" "$budget"
    printf '             libsodium maps each hash'"'"'s memory; the module'"'"'s threads keep theirs: raw that way\n'
    printf '             %s hashes/s (before %s, after %s) = %s s for the hashes;  wall / that = %s\n' \
        "$RAWK" "$RAWK1" "$RAWK2" "$BOUNDK" "$RATIOK"
    printf '             (think time adds about %s s to each journey: 3 pauses of 0.5-1.5 x %s s, and a start within one)\n' \
        "$THINK_FLOOR" "$THINK"
    sed -n '/^step /,/^generator CPU/p' "$RUN/generator.out" 2>/dev/null || true
    printf 'answers other than 2xx/3xx, 503, 429: %s\n' "$NON_OK"
    printf 'lost-check:  users %s = emails %s (to %s addresses, %s got two or more) = confirmed %s (tokens used %s)\n' \
        "$REG_ROWS" "$MAILS" "$MAIL_RCPT" "$MAIL_DUP" "$CONFIRMED" "$TOKENS_USED"
    printf '             = logins %s (and /api/me %s) = CRM records %s (%s upserted twice; fake CRM repeats %s); outbox email %s, crm %s, unpublished %s\n' \
        "$LOGINS" "$MES" "${CRM_RECORDS:-0}" "${CRM_MULTI:-?}" "${CRM_REPEATS:-?}" "$OUT_EMAIL" "$OUT_CRM" "$OUT_UNPUB"
    if [ "$LOST_OK" = 1 ]; then
        printf '             => every count is %s: nothing lost, nothing twice\n' "$USERS"
    else
        printf '             => MISMATCH: some count is not %s (or something came twice)\n' "$USERS"
    fi
    printf 'nginx worker RSS: largest %s MB (budget < 64 MB); the workers then:\n' "$RSS_MAX_MB"
    sed 's/^/    /' "$RUN/rss.peak"
    "$BENCH/journey-cpu.pl" "$RUN" "$CORES" "$USERS" "$RAW" "$BOUND" "$WALL" \
        || echo "CPU breakdown: not available"
    printf 'machine: %s cores, busy %s%% during the journey; load average before %s, at the end %s, after %s\n' \
        "$CORES" "$BUSY" "$LOAD_BEFORE" "$LOAD_DURING" "$LOAD_AFTER"
    spread="$(awk -v a="$RAW1" -v b="$RAW2" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%d", (a + b > 0) ? 200 * d / (a + b) : 0 }')"
    if [ "$spread" -gt 10 ]; then
        printf 'NOTE: the raw Argon2id runs before and after differ by %s%%: the machine ran at another\n' "$spread"
        printf '      speed (other work, or the CPU clock); the bound is uncertain by about half as much.\n'
    fi
    printf 'NOTE: other work on the machine slows the journey and the raw runs alike only if it\n'
    printf '      lasts through both; a load average above %s means a shared machine: no budget claim.\n' "$CORES"
} > "$RUN/summary.txt.tmp"

# the generator's step table is in its output: keep it for the summary
mv "$RUN/summary.txt.tmp" "$RUN/summary.txt"

# ---- the plot --------------------------------------------------------------------------

if command -v gnuplot >/dev/null 2>&1; then
    mkdir -p "$(dirname "$PLOT")"
    gnuplot <<GP || warn "gnuplot failed"
set terminal pngcairo size 1100,640 font "DejaVu Sans,10"
set output "$PLOT"
set title "Journey: $USERS users, $CONC at once, think ${THINK} s, Argon2id $ARGON2 (load avg before: $LOAD_BEFORE)"
set xlabel "seconds since start"
set ylabel "per second (log scale; a zero leaves a gap)"
set y2label "p99 of the requests completed in the second (ms, log scale)"
set logscale y
set logscale y2
set ytics nomirror
set y2tics
set key outside bottom center horizontal
set grid
plot "$RUN/timeline.dat" using 1:(\$2 > 0 ? \$2 : 1/0) with lines lw 2 lc rgb "#1a56db" title "journeys completed", \
     "" using 1:(\$3 > 0 ? \$3 : 1/0) with lines lc rgb "#2e7d32" title "2xx/3xx answers", \
     "" using 1:(\$4 > 0 ? \$4 : 1/0) with lines lw 2 lc rgb "#c62828" title "503 answers", \
     "" using 1:(\$7 > 0 ? \$7 : 1/0) axes x1y2 with lines dt 2 lc rgb "#ef6c00" title "p99 (ms, right axis)"
GP
    log "plot: ${PLOT#"$REPO/"}"
else
    warn "gnuplot is missing (scripts/deps.sh installs gnuplot-nox): no plot"
fi

printf '\n==> summary (%s)\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
cat "$RUN/summary.txt"
log "files: ${RUN#"$REPO/"}/ (journey.json, timeline.dat, summary.txt, nginx/logs/error.log)"
[ "$LOST_OK" = 1 ] || exit 1
