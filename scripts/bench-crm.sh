#!/usr/bin/env bash
# bench-crm.sh — the CRM drain benchmark (`make bench-crm`). It prints numbers and
# ratios; it exits 0 whatever they are, and 1 only when something is broken (a
# message lost or left in a queue, a record written twice, a dispatcher that does not
# start).
#
# Three dispatchers (separate nginx instances, dispatcher role only: `xyz_dispatch
# crm`, one database, one queue) drain a backlog of CRM messages into the fake CRM,
# which admits 100 calls in any sliding second (what the real CRM allows); the
# dispatchers' `xyz_crm_rate` is the cap. Measured, for each mode:
#
#   single          one CRM call per message (POST /contacts):
#                   drain rate = messages / (last CRM call - first CRM call), its
#                   ratio to the cap (budget: >= 0.95), and the fake CRM's busiest
#                   one-second window of accepted calls and of all calls (budget:
#                   <= the cap), 429 answers, records written twice (must be 0);
#   hubspot_batch   HubSpot's batch upsert, records gathered across SQS receives
#                   (`xyz_crm_batch`, BENCH_CRM_BATCH: up to 100 a call): records/s
#                   and records/s / cap (budget: >= 20, from the dispatchers' start
#                   to the last record), calls/s, records a call, the busiest
#                   window of calls (budget: <= the cap), and its ratio to the
#                   single mode's drain when that ran too;
#   hubspot_batch10 the same, one call per SQS receive (`xyz_crm_batch size=10
#                   linger=0ms`, the mode's behaviour before gathering): the
#                   baseline the gathering is measured against, in the same run.
# Also: the busiest window from the third second on (start-up apart), each
# dispatcher's share, its error log's warnings and errors, what is left in the
# queues, and how busy the CPUs were meanwhile — and how much of that was other
# work than the bench (processes other than the nginx instances, the fake CRM, the
# emulator and PostgreSQL; over 10% means a shared machine and weaker numbers).
#
# Each mode: a fresh database xyz_bench_crm (recreated, migrated), the bench's own
# queues in the SQS emulator (xyz-bench-crm with its DLQ xyz-bench-crm-dlq, and
# xyz-bench-email, which the configuration needs but nobody reads) purged and
# filled with the backlog by SendMessageBatch (10 per call) — bodies as the outbox
# relay writes them, with the outbox_id message attribute — then the three nginx
# instances are started and the fake CRM's admin API is polled until it holds every
# record (the fake CRM is warmed up first by 500 calls and a reset: a cold Node.js
# stamps the first second's calls late and in bunches). The bench uses its own
# queues and its own fake CRM (scripts/fake-crm.mjs
# on a free port, not the one of scripts/crm.sh) so that a `make run` or `make
# test` on the same machine neither disturbs it nor is disturbed.
#
# Environment (defaults in brackets):
#   BENCH_CRM_MESSAGES   messages in the backlog                         [3000]
#   BENCH_CRM_CAP        xyz_crm_rate of the dispatchers                   [90]
#   BENCH_CRM_INSTANCES  nginx instances                                    [3]
#   BENCH_CRM_WORKERS    worker_processes of each (each worker runs its own
#                        consumer)                                      [nproc]
#   BENCH_CRM_MODES      modes to run, in order      ["single hubspot_batch"]
#                        (single, hubspot_batch, hubspot_batch10)
#   BENCH_CRM_BATCH      xyz_crm_batch of the hubspot_batch mode
#                                                 ["size=100 linger=200ms"]
#   BENCH_RECORD         1: write the results into the "CRM drain" section of
#                        docs/benchmarks.md (between its markers)           [0]
#   XYZ_MODULE           a module .so to load instead of building
#                        build/ngx_xyz_module.so with scripts/build.sh     [-]
#
# Runtime files go to .run/bench-crm/<mode>/ (each instance's prefix and error
# log in nginx-<i>/, the fake CRM's stats and call log, the summary). Everything
# started here (nginx instances, the fake CRM, and the SQS emulator and PostgreSQL
# cluster if they were not running) is stopped on exit, Ctrl-C included.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
RUN="$REPO/.run/bench-crm"
NGINX="${NGINX:-/usr/sbin/nginx}"
MODULE="${XYZ_MODULE:-}"
DB=xyz_bench_crm
CRM_LIMIT=100                  # the fake CRM: calls admitted per sliding second

MESSAGES="${BENCH_CRM_MESSAGES:-3000}"
CAP="${BENCH_CRM_CAP:-90}"
INSTANCES="${BENCH_CRM_INSTANCES:-3}"
WORKERS="${BENCH_CRM_WORKERS:-$(nproc)}"
MODES="${BENCH_CRM_MODES:-single hubspot_batch}"
BATCH="${BENCH_CRM_BATCH:-size=100 linger=200ms}"
RECORD="${BENCH_RECORD:-0}"

log()  { printf 'bench-crm: %s\n' "$*"; }
warn() { printf 'bench-crm: WARNING: %s\n' "$*" >&2; }
die()  { printf 'bench-crm: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

for v in BENCH_CRM_MESSAGES:MESSAGES BENCH_CRM_CAP:CAP BENCH_CRM_INSTANCES:INSTANCES \
         BENCH_CRM_WORKERS:WORKERS; do
    name="${v#*:}"
    value="${!name}"
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || die "${v%%:*} must be a positive integer (got '$value')"
done
[ "$CAP" -lt 100 ] || die "BENCH_CRM_CAP must be under the CRM's limit of 100 (got $CAP)"
for m in $MODES; do
    case "$m" in
        single|hubspot_batch|hubspot_batch10) ;;
        *) die "BENCH_CRM_MODES: unknown mode '$m' (single, hubspot_batch, hubspot_batch10)" ;;
    esac
done
[ -n "${XYZ_DATABASE_URL:-}" ] \
    && die "the CRM bench recreates database $DB in the private cluster; unset XYZ_DATABASE_URL"

# ---- cleanup: whatever this script started, and only that --------------------------

NGINX_PREFIXES=()
BENCH_QUEUES=(xyz-bench-crm-dlq xyz-bench-crm xyz-bench-email)
declare -A QURL=()
CRM_PID=
# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"
CLEANED=0

# shellcheck source=lib/nginx.sh
. "$S/lib/nginx.sh"

stop_all_nginx() {
    local p
    for p in "${NGINX_PREFIXES[@]}"; do
        nginx_stop_prefix "$p" 5 || true
    done
    NGINX_PREFIXES=()
}

crm_stop() {
    [ -n "$CRM_PID" ] || return 0
    if kill -0 "$CRM_PID" 2>/dev/null; then
        kill -TERM "$CRM_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$CRM_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CRM_PID" 2>/dev/null || true
    fi
    wait "$CRM_PID" 2>/dev/null || true
    CRM_PID=
}

# shellcheck disable=SC2317  # called from the traps below
cleanup() {
    [ "$CLEANED" = 1 ] && return
    CLEANED=1
    stop_all_nginx
    crm_stop
    if ! stack_started sqs && [ -n "${SQS_ENDPOINT:-}" ]; then
        # the emulator is someone else's: leave it without the bench's queues
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

# "BUSY TOTAL" jiffies of all CPUs, from /proc/stat.
cpu_jiffies() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# CPU jiffies used so far by the processes that serve the bench: the nginx
# instances (masters and workers), the fake CRM, the SQS emulator and PostgreSQL.
bench_jiffies() {
    local masters="" p
    for p in "${NGINX_PREFIXES[@]}"; do
        [ -s "$p/logs/nginx.pid" ] && masters="$masters $(cat "$p/logs/nginx.pid")"
    done
    perl -e '
        my ($masters, @pids) = @ARGV;
        my %m = map { $_ => 1 } split " ", $masters;
        my %own = map { $_ => 1 } grep { /^\d+$/ } @pids;
        my $pg = getpwnam("postgres");
        my $sum = 0;
        for my $d (glob "/proc/[0-9]*") {
            open my $f, "<", "$d/stat" or next;
            my $st = <$f>;
            close $f;
            $st =~ s/^(\d+) \(.*\) // or next;
            my $pid = $1;
            my @f = split " ", $st;         # from the state on: ppid is $f[1]
            my $uid = (stat $d)[4];
            next unless $m{$pid} || $m{ $f[1] } || $own{$pid}
                        || (defined $pg && defined $uid && $uid == $pg);
            $sum += $f[11] + $f[12];        # utime + stime
        }
        print "$sum\n";' "$masters" "${CRM_PID:-}" "$(cat "$REPO/.run/sqs/pid" 2>/dev/null || true)"
}

now_ms() { date +%s%3N; }

# json_get KEY... < JSON — the value at that path ("" when absent).
json_get() {
    perl -MJSON::PP -0777 -e '
        my $d = JSON::PP::decode_json(<STDIN>);
        for my $k (@ARGV) { $d = ref $d eq "HASH" ? $d->{$k} : undef }
        print defined $d ? (ref $d ? JSON::PP::encode_json($d) : $d) : "", "\n";' "$@"
}

# fmt EXPR — an awk expression, printed with two decimals.
fmt2() { awk "BEGIN { printf \"%.2f\", $1 }"; }
fmt1() { awk "BEGIN { printf \"%.1f\", $1 }"; }

# sqs_call OP JSON — one JSON-protocol call to the emulator; the answer on stdout.
sqs_call() {
    local out code
    out="$(curl -sS --max-time 30 -w '\n%{http_code}' -X POST \
        -H 'Content-Type: application/x-amz-json-1.0' -H "X-Amz-Target: AmazonSQS.$1" \
        --data-binary "$2" "$SQS_ENDPOINT/")" || return 1
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    if [ "$code" != 200 ]; then
        printf 'bench-crm: SQS %s failed (HTTP %s): %s\n' "$1" "$code" "$out" >&2
        return 1
    fi
    printf '%s\n' "$out"
}

# Visible and in-flight messages of queue $1: "VISIBLE INFLIGHT"
queue_counts() {
    sqs_call GetQueueAttributes "{\"QueueUrl\":\"$1\",\"AttributeNames\":[\"All\"]}" \
        | perl -MJSON::PP -0777 -ne '
            my $a = decode_json($_)->{Attributes} || {};
            printf "%d %d\n", $a->{ApproximateNumberOfMessages} // 0,
                              $a->{ApproximateNumberOfMessagesNotVisible} // 0;'
}

crm_admin() {
    local method="$1" path="$2" body="${3:-}"
    if [ -n "$body" ]; then
        curl -sS --fail --max-time 30 -X "$method" -H 'Content-Type: application/json' \
            --data-binary "$body" "$CRM_URL/_admin/$path"
    else
        curl -sS --fail --max-time 30 -X "$method" "$CRM_URL/_admin/$path"
    fi
}

# ---- set-up ----------------------------------------------------------------------------

if [ -z "$MODULE" ]; then
    step "build"
    "$S/build.sh" >/dev/null
    MODULE="$REPO/build/ngx_xyz_module.so"
fi
[ -f "$MODULE" ] || die "$MODULE missing"
command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"

mkdir -p "$RUN"
MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
CORES="$(nproc)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

step "PostgreSQL"
stack_start pg
DSN="$("$S/pg.sh" url "$DB")"

step "SQS emulator"
stack_start sqs
SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
for q in "${BENCH_QUEUES[@]}"; do
    QURL[$q]="$(sqs_call CreateQueue "{\"QueueName\":\"$q\"}" | json_get QueueUrl)"
    [ -n "${QURL[$q]}" ] || die "could not create queue $q"
done
DLQ_ARN="$(sqs_call GetQueueAttributes \
    "{\"QueueUrl\":\"${QURL[xyz-bench-crm-dlq]}\",\"AttributeNames\":[\"QueueArn\"]}" \
    | json_get Attributes QueueArn)"
# As the project's crm queue (scripts/sqs.sh): 30 s visibility, then the DLQ after
# XYZ_SQS_MAX_RECEIVES receives.
sqs_call SetQueueAttributes "$(perl -MJSON::PP -e '
    print encode_json({ QueueUrl => $ARGV[0], Attributes => {
        VisibilityTimeout => "30",
        RedrivePolicy => encode_json({ deadLetterTargetArn => $ARGV[1],
                                       maxReceiveCount => $ARGV[2] }) } })' \
    "${QURL[xyz-bench-crm]}" "$DLQ_ARN" "${XYZ_SQS_MAX_RECEIVES:-100}")" >/dev/null
log "queues: ${QURL[xyz-bench-crm]} (DLQ ${QURL[xyz-bench-crm-dlq]})"

step "fake CRM (the bench's own, limit $CRM_LIMIT calls per sliding second)"
CRM_PORT="$(pick_port)"
CRM_URL="http://127.0.0.1:$CRM_PORT"
rm -f "$RUN/crm.pid"
CRM_ADDR=127.0.0.1 CRM_PORT="$CRM_PORT" CRM_LIMIT="$CRM_LIMIT" CRM_TOKEN='' \
    CRM_PID_FILE="$RUN/crm.pid" CRM_MAX_CALLS=200000 \
    node "$S/fake-crm.mjs" </dev/null >"$RUN/crm.log" 2>&1 &
CRM_PID=$!
for _ in $(seq 1 100); do
    kill -0 "$CRM_PID" 2>/dev/null || { cat "$RUN/crm.log" >&2; die "the fake CRM exited"; }
    curl -sf --max-time 1 -o /dev/null "$CRM_URL/_admin/health" && break
    sleep 0.1
done
curl -sf --max-time 1 -o /dev/null "$CRM_URL/_admin/health" || die "the fake CRM does not answer"
log "fake CRM on $CRM_URL (pid $CRM_PID, log ${RUN#"$REPO/"}/crm.log)"

# A real CRM is warm: without this, the first second of calls would meet a Node.js
# process still compiling its handlers, which stamps them late and in bunches.
perl - "$CRM_URL" <<'PERL'
use strict;
use warnings;
use HTTP::Tiny;
package NoDelay {
    use Socket qw(IPPROTO_TCP TCP_NODELAY);
    our @ISA = ('HTTP::Tiny');
    sub _open_handle {
        my $self = shift;
        my $h = $self->SUPER::_open_handle(@_);
        setsockopt($h->{fh}, IPPROTO_TCP, TCP_NODELAY, 1);
        return $h;
    }
}
my $http = NoDelay->new(timeout => 10, keep_alive => 1);
for my $i (1 .. 500) {
    $http->request('POST', "$ARGV[0]/contacts", {
        headers => { 'Content-Type' => 'application/json' },
        content => qq({"email":"warm-up-$i\@example.com","name":"Warm up"}) });
}
PERL
crm_admin POST reset >/dev/null

# ---- one mode ----------------------------------------------------------------------------

# Fill queue $1 with $MESSAGES CRM messages (outbox ids 1..N), 10 per SendMessageBatch.
fill_backlog() {
    perl - "$SQS_ENDPOINT" "$1" "$MESSAGES" <<'PERL'
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(strftime);

# HTTP::Tiny writes a request's head and body apart; without TCP_NODELAY the body
# waits for the server's delayed ACK (about 40 ms a call)
package NoDelay {
    use Socket qw(IPPROTO_TCP TCP_NODELAY);
    our @ISA = ('HTTP::Tiny');
    sub _open_handle {
        my $self = shift;
        my $h = $self->SUPER::_open_handle(@_);
        setsockopt($h->{fh}, IPPROTO_TCP, TCP_NODELAY, 1);
        return $h;
    }
}

my ($endpoint, $queue, $n) = @ARGV;
my $http = NoDelay->new(timeout => 30, keep_alive => 1);
my $json = JSON::PP->new->canonical;
my $created = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime);

for (my $first = 1; $first <= $n; $first += 10) {
    my @entries;
    for my $id ($first .. ($first + 9 > $n ? $n : $first + 9)) {
        my $body = $json->encode({
            type => 'registration', kind => 'crm', outbox_id => $id, user_id => $id,
            email => "bench-$id\@example.com", name => "Bench $id", locale => 'es',
            marketing_consent => JSON::PP::false,
            registered_at => '2026-01-01T00:00:00Z', created_at => $created,
        });
        push @entries, { Id => "m$id", MessageBody => $body,
                         MessageAttributes => { outbox_id => {
                             DataType => 'Number', StringValue => "$id" } } };
    }
    my $res = $http->request('POST', "$endpoint/", {
        headers => { 'Content-Type' => 'application/x-amz-json-1.0',
                     'X-Amz-Target' => 'AmazonSQS.SendMessageBatch' },
        content => $json->encode({ QueueUrl => $queue, Entries => \@entries }),
    });
    die "SendMessageBatch: HTTP $res->{status} $res->{content}\n" unless $res->{success};
    my $r = decode_json($res->{content});
    if (@{ $r->{Failed} || [] } || @{ $r->{Successful} || [] } != @entries) {
        die "SendMessageBatch refused entries: $res->{content}\n";
    }
}
PERL
}

# Start instance $2 of mode $1; its prefix is printed.
start_instance() {
    local mode="$1" i="$2" prefix port url user="" crm_mode batch=""
    prefix="$RUN/$mode/nginx-$i"
    rm -rf "$prefix"
    mkdir -p "$prefix/conf" "$prefix/logs"
    port="$(pick_port)"
    crm_mode="$mode"
    if [ "$mode" = single ]; then
        url="$CRM_URL/contacts"
    else
        url="$CRM_URL/crm/v3/objects/contacts/batch/upsert"
        crm_mode=hubspot_batch
        if [ "$mode" = hubspot_batch10 ]; then
            batch="xyz_crm_batch size=10 linger=0ms;"
        else
            batch="xyz_crm_batch $BATCH;"
        fi
    fi
    [ "$(id -u)" = 0 ] && user="user root root;"
    cat > "$prefix/conf/nginx.conf" <<CONF
# Written by scripts/bench-crm.sh: dispatcher $i of $INSTANCES, mode $mode.
load_module $MODULE;
$user
daemon on;
master_process on;
worker_processes $WORKERS;
pid logs/nginx.pid;
error_log logs/error.log notice;
env AWS_ACCESS_KEY_ID=bench;
env AWS_SECRET_ACCESS_KEY=bench;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;

    xyz_pg_dsn "$DSN";
    xyz_pg_pool_size 8;

    xyz_sqs_endpoint $SQS_ENDPOINT;
    xyz_sqs_queue email ${QURL[xyz-bench-email]};
    xyz_sqs_queue crm ${QURL[xyz-bench-crm]} dlq=${QURL[xyz-bench-crm-dlq]};

    xyz_dispatch crm;
    xyz_dispatch_poll 1s;
    xyz_crm_url $url;
    xyz_crm_mode $crm_mode;
    $batch
    xyz_crm_rate $CAP;

    server {
        listen 127.0.0.1:$port;
        location = /metrics { xyz_metrics; }
    }
}
CONF
    mkdir -p "$prefix/temp"
    echo "$port" > "$prefix/port"
    if ! "$NGINX" -p "$prefix/" -c conf/nginx.conf 2>"$prefix/logs/start.err"; then
        cat "$prefix/logs/start.err" >&2
        tail -n 20 "$prefix/logs/error.log" >&2 2>/dev/null || true
        die "nginx instance $i ($mode) did not start"
    fi
    NGINX_PREFIXES+=("$prefix")
}

# Results of the last mode, for the summary.
declare -A R

BROKEN=()

run_mode() {
    local mode="$1" dir="$RUN/$1" crmq dlq t0 deadline busy0 total0 busy1 total1 ours0 ours1 stats records last_print=0 t \
          first last span vis inflight dvis dinflight p sent i tmo calls accepted
    crmq="${QURL[xyz-bench-crm]}"
    dlq="${QURL[xyz-bench-crm-dlq]}"
    rm -rf "$dir"
    mkdir -p "$dir"

    step "$mode: fresh database $DB, empty queues, fake CRM reset"
    "$S/pg.sh" recreate-db "$DB"
    "$S/migrate.sh" "$DSN" >/dev/null
    for q in "${BENCH_QUEUES[@]}"; do
        sqs_call PurgeQueue "{\"QueueUrl\":\"${QURL[$q]}\"}" >/dev/null
    done
    crm_admin POST reset >/dev/null
    crm_admin POST limit "{\"limit\":$CRM_LIMIT}" >/dev/null

    step "$mode: backlog of $MESSAGES CRM messages"
    t="$(now_ms)"
    fill_backlog "$crmq"
    read -r vis inflight < <(queue_counts "$crmq")
    log "queued in $(( $(now_ms) - t )) ms; the queue holds $vis visible, $inflight in flight"
    [ "$vis" -eq "$MESSAGES" ] || die "the queue holds $vis messages, not $MESSAGES"

    step "$mode: $INSTANCES dispatchers x $WORKERS workers, xyz_crm_rate $CAP"
    # generous: at half the cap, plus a minute
    tmo=$(( MESSAGES / (CAP / 2 > 0 ? CAP / 2 : 1) + 60 ))
    [ "$mode" != single ] && tmo=$(( MESSAGES / CAP + 60 ))
    t0="$(now_ms)"
    for i in $(seq 1 "$INSTANCES"); do
        start_instance "$mode" "$i"
    done
    # the CPU shares from here on (the start of nginx itself left out)
    read -r busy0 total0 < <(cpu_jiffies)
    ours0="$(bench_jiffies)"
    log "started in $(( $(now_ms) - t0 )) ms; waiting for $MESSAGES records (at most ${tmo}s)"
    deadline=$(( t0 + tmo * 1000 ))
    records=0
    # light: the polling's own CPU counts as other work
    while :; do
        stats="$(crm_admin GET stats)"
        [[ "$stats" =~ \"records\":([0-9]+) ]] || die "unexpected stats from the fake CRM: $stats"
        records="${BASH_REMATCH[1]}"
        t="$(now_ms)"
        [ "$records" -ge "$MESSAGES" ] && break
        [ "$t" -ge "$deadline" ] && break
        if [ $(( t - last_print )) -ge 5000 ]; then
            log "  $(( (t - t0) / 1000 ))s: $records records"
            last_print="$t"
        fi
        sleep 0.25
    done
    R[$mode,wall]="$(fmt1 "($t - $t0) / 1000")"
    R[$mode,wall_ms]="$(( t - t0 ))"
    read -r busy1 total1 < <(cpu_jiffies)
    ours1="$(bench_jiffies)"
    R[$mode,cpu]="$(awk -v b=$(( busy1 - busy0 )) -v t=$(( total1 - total0 )) \
        'BEGIN { printf "%.0f", (t > 0 ? 100 * b / t : 0) }')"
    R[$mode,others]="$(awk -v b=$(( busy1 - busy0 - (ours1 - ours0) )) -v t=$(( total1 - total0 )) \
        'BEGIN { v = t > 0 ? 100 * b / t : 0; printf "%.0f", (v < 0 ? 0 : v) }')"

    if [ "$records" -lt "$MESSAGES" ]; then
        read -r vis inflight < <(queue_counts "$crmq")
        read -r dvis dinflight < <(queue_counts "$dlq")
        warn "$mode: only $records of $MESSAGES records after ${tmo}s;" \
             "queue: $vis visible, $inflight in flight; DLQ: $dvis visible, $dinflight in flight"
        for p in "${NGINX_PREFIXES[@]}"; do
            warn "last lines of ${p#"$REPO/"}/logs/error.log:"
            tail -n 5 "$p/logs/error.log" >&2 || true
        done
        BROKEN+=("$mode: $((MESSAGES - records)) of $MESSAGES messages not delivered within ${tmo}s")
    fi

    # the last deletes, and any late second call, before the numbers are taken
    for _ in $(seq 1 50); do
        read -r vis inflight < <(queue_counts "$crmq")
        [ "$vis" -eq 0 ] && [ "$inflight" -eq 0 ] && break
        sleep 0.2
    done
    sleep 2
    read -r vis inflight < <(queue_counts "$crmq")
    read -r dvis dinflight < <(queue_counts "$dlq")
    stats="$(crm_admin GET stats)"
    printf '%s\n' "$stats" > "$dir/crm-stats.json"
    crm_admin GET calls > "$dir/crm-calls.json"
    # the busiest window of calls (any outcome) that starts 2 s or more after the
    # first call: start-up (first connections to the CRM and the database) apart
    R[$mode,max_steady]="$(perl -MJSON::PP -0777 -ne '
        my @t = sort { $a <=> $b } map { $_->{t_ms} } @{ decode_json($_) };
        my ($max, $j) = (0, 0);
        for my $i (0 .. $#t) {
            $j++ while $j <= $i && ($t[$j] <= $t[$i] - 1000 || $t[$j] < $t[0] + 2000);
            $max = $i - $j + 1 if $j <= $i && $i - $j + 1 > $max;
        }
        print "$max\n";' "$dir/crm-calls.json")"

    # each instance's share, from its metrics
    R[$mode,shares]=""
    for p in "${NGINX_PREFIXES[@]}"; do
        sent="$(curl -sS --max-time 5 "http://127.0.0.1:$(cat "$p/port")/metrics" 2>/dev/null \
            | awk '/^xyz_dispatch_total\{kind="crm",result="sent"\}/ { print $2 }')"
        R[$mode,shares]="${R[$mode,shares]:+${R[$mode,shares]} + }${sent:-?}"
    done
    stop_all_nginx

    # the dispatchers' complaints
    R[$mode,log]=""
    for i in $(seq 1 "$INSTANCES"); do
        p="$dir/nginx-$i/logs/error.log"
        R[$mode,log]="${R[$mode,log]:+${R[$mode,log]}, }#$i: $(grep -c '\[warn\]' "$p" || true) warn, $(grep -cE '\[(error|crit|alert|emerg)\]' "$p" || true) error"
    done

    records="$(json_get records <<<"$stats")"
    first="$(json_get first_call_ms <<<"$stats")"
    last="$(json_get last_call_ms <<<"$stats")"
    calls="$(json_get calls <<<"$stats")"
    accepted="$(json_get accepted <<<"$stats")"
    span="$(fmt2 "(${last:-0} - ${first:-0}) / 1000")"
    R[$mode,records]="$records"
    R[$mode,calls]="$calls"
    R[$mode,accepted]="$accepted"
    R[$mode,r429]="$(json_get rejected_429 <<<"$stats")"
    R[$mode,repeats]="$(json_get repeats <<<"$stats")"
    R[$mode,bad]="$(json_get bad_requests <<<"$stats")"
    R[$mode,max_ok]="$(json_get max_accepted_in_any_second <<<"$stats")"
    R[$mode,max_all]="$(json_get max_calls_in_any_second <<<"$stats")"
    R[$mode,span]="$span"
    R[$mode,rate]="$(awk -v n="$records" -v s="$span" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')"
    R[$mode,ratio]="$(awk -v n="$records" -v s="$span" -v c="$CAP" 'BEGIN { printf "%.3f", (s > 0 ? n / s / c : 0) }')"
    R[$mode,call_rate]="$(awk -v n="$accepted" -v s="$span" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')"
    # start of the dispatchers to the last record seen: gathering, start-up and
    # the last call included (at 100 records a call the first-to-last span
    # leaves one call's records out of the time)
    R[$mode,wall_rate]="$(awk -v n="$records" -v w="${R[$mode,wall_ms]}" 'BEGIN { printf "%.1f", (w > 0 ? n * 1000 / w : 0) }')"
    R[$mode,wall_ratio]="$(awk -v n="$records" -v w="${R[$mode,wall_ms]}" -v c="$CAP" 'BEGIN { printf "%.2f", (w > 0 ? n * 1000 / w / c : 0) }')"
    R[$mode,left]="queue $vis visible + $inflight in flight, DLQ $dvis + $dinflight"

    if [ "${R[$mode,repeats]}" -gt 0 ]; then
        BROKEN+=("$mode: ${R[$mode,repeats]} records written more than once")
    fi
    if [ $(( vis + inflight + dvis + dinflight )) -gt 0 ]; then
        sent="$(psql -X -At -d "$DSN" -c "SELECT count(*) FROM deliveries WHERE state = 'sent'")"
        if [ "$records" -ge "$MESSAGES" ] && [ "$sent" -ge "$MESSAGES" ] && [ $(( dvis + dinflight )) -eq 0 ]; then
            BROKEN+=("$mode: $(( vis + inflight )) messages stayed in the queue although their records were sent and their deliveries recorded (not deleted: they come back after the visibility timeout and are dropped as duplicates)")
        else
            BROKEN+=("$mode: messages left over (${R[$mode,left]}; deliveries sent: $sent)")
        fi
    fi
    if [ "${R[$mode,bad]}" -gt 0 ]; then
        BROKEN+=("$mode: the fake CRM refused ${R[$mode,bad]} malformed calls")
    fi
}

# The summary lines of mode $1.
summary_of() {
    local m="$1" ok_w all_w verdict
    if [ "${R[$m,max_ok]}" -le "$CAP" ]; then ok_w="<= cap"; else ok_w="OVER THE CAP"; fi
    if [ "${R[$m,max_all]}" -le "$CAP" ]; then all_w="<= cap"; else all_w="OVER THE CAP"; fi
    if [ "$m" = single ]; then
        if awk -v r="${R[$m,ratio]}" 'BEGIN { exit !(r >= 0.95) }'; then
            verdict="meets the budget (>= 0.95)"
        else
            verdict="BELOW the budget of 0.95"
        fi
        printf 'single (one call per record), %s messages, %s dispatchers x %s workers, cap %s/s:\n' \
            "$MESSAGES" "$INSTANCES" "$WORKERS" "$CAP"
        printf '  drain rate:            %s records/s over %s s (first to last CRM call)\n' \
            "${R[$m,rate]}" "${R[$m,span]}"
        printf '  drain / cap:           %s   %s\n' "${R[$m,ratio]}" "$verdict"
    else
        if [ "$m" = hubspot_batch10 ]; then
            printf 'hubspot_batch10 (one call per SQS receive, up to 10 records: the baseline), %s messages, %s dispatchers x %s workers, cap %s calls/s:\n' \
                "$MESSAGES" "$INSTANCES" "$WORKERS" "$CAP"
        else
            printf 'hubspot_batch (xyz_crm_batch %s), %s messages, %s dispatchers x %s workers, cap %s calls/s:\n' \
                "$BATCH" "$MESSAGES" "$INSTANCES" "$WORKERS" "$CAP"
        fi
        printf '  records/s:             %s over %s s (first to last CRM call)\n' \
            "${R[$m,rate]}" "${R[$m,span]}"
        printf '  records/s / cap:       %s x the cap\n' "$(fmt2 "${R[$m,ratio]}")"
        if awk -v r="${R[$m,wall_ratio]}" 'BEGIN { exit !(r >= 20) }'; then
            verdict="meets the budget (>= 20)"
        else
            verdict="BELOW the budget of 20"
        fi
        printf '  ... start to last:     %s records/s = %s x the cap   %s\n' \
            "${R[$m,wall_rate]}" "${R[$m,wall_ratio]}" \
            "$([ "$m" = hubspot_batch ] && echo "$verdict")"
        for b in single hubspot_batch10; do
            [ "$b" != "$m" ] && [ -n "${R[$b,wall_rate]:-}" ] || continue
            printf '  / %-20s %s x (start to last record, same run)\n' \
                "$b:" "$(awk -v a="${R[$m,wall_rate]}" -v b="${R[$b,wall_rate]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
        done
        printf '  calls/s:               %s (%s accepted calls, %s records a call on average)\n' \
            "${R[$m,call_rate]}" "${R[$m,accepted]}" \
            "$(awk -v r="${R[$m,records]}" -v c="${R[$m,accepted]}" 'BEGIN { printf "%.1f", (c > 0 ? r / c : 0) }')"
    fi
    printf '  busiest 1 s window:    %s accepted calls (%s), %s calls of any outcome (%s)\n' \
        "${R[$m,max_ok]}" "$ok_w" "${R[$m,max_all]}" "$all_w"
    printf '  ... from 2 s on:       %s calls of any outcome (the first 2 s left out)\n' \
        "${R[$m,max_steady]}"
    printf '  CRM calls:             %s, of which 429: %s; records %s, written twice: %s\n' \
        "${R[$m,calls]}" "${R[$m,r429]}" "${R[$m,records]}" "${R[$m,repeats]}"
    printf '  per dispatcher (sent): %s; from start to last record %s s\n' \
        "${R[$m,shares]}" "${R[$m,wall]}"
    printf '  CPUs meanwhile:        %s%% busy, %s%% of it other work than the bench%s\n' \
        "${R[$m,cpu]}" "${R[$m,others]}" \
        "$([ "${R[$m,others]}" -gt 10 ] && echo ' (over 10%: the numbers may suffer)')"
    printf '  left over:             %s\n' "${R[$m,left]}"
    printf '  error logs:            %s\n' "${R[$m,log]}"
}

# One short reading of mode $1's numbers, for the record.
reading_of() {
    local m="$1"
    if [ "$m" = single ]; then
        if [ "${R[$m,max_all]}" -eq "$CAP" ]; then
            printf 'The cap held, with no room to spare: the busiest second saw %s calls against a cap of %s.' \
                "${R[$m,max_all]}" "$CAP"
        elif [ "${R[$m,max_all]}" -lt "$CAP" ]; then
            printf 'The cap held: the busiest second saw %s calls against a cap of %s.' \
                "${R[$m,max_all]}" "$CAP"
        else
            printf 'The cap did NOT hold: the busiest second saw %s calls (%s accepted) against a cap of %s.' \
                "${R[$m,max_all]}" "${R[$m,max_ok]}" "$CAP"
        fi
        printf ' The dispatchers reserve evenly spaced slots at 0.97 x the cap (%s/s), which absorbs' \
            "$(fmt2 "$CAP * 0.97")"
        printf ' about %s ms of jitter: when calls leave behind their slots by delays that differ' \
            "$(awk 'BEGIN { printf "%.0f", (1 / 0.97 - 1) * 1000 }')"
        printf ' by more than that, more than the cap fit into one second. Leaving the first 2 s out'
        printf ' (first connections to the CRM and the database), the busiest second saw %s.' \
            "${R[$m,max_steady]}"
        printf ' The drain ran at %s x the cap' "${R[$m,ratio]}"
        if awk -v r="${R[$m,ratio]}" 'BEGIN { exit !(r >= 0.95) }'; then
            printf ' (budget 0.95; the reservations aim at 0.97).'
        else
            printf ', BELOW the budget of 0.95: slots went unused, at moments when no dispatcher'
            printf ' had a message waiting for one (or a 429 held everyone for a second).'
        fi
        printf ' %s answers were 429, %s records were written twice; the CPUs were %s%% busy' \
            "${R[$m,r429]}" "${R[$m,repeats]}" "${R[$m,cpu]}"
        printf ' during the drain, %s%% with other work than the bench.\n' "${R[$m,others]}"
    else
        if [ "$m" = hubspot_batch10 ]; then
            printf 'Batch mode with one call per SQS receive (up to ten records a call),'
        else
            printf 'Batch mode gathering records across receives (xyz_crm_batch %s),' "$BATCH"
        fi
        printf ' so the same call budget carries %s records/s, %s x the cap,' \
            "${R[$m,rate]}" "$(fmt2 "${R[$m,ratio]}")"
        printf ' with %s calls/s (%s records a call);' "${R[$m,call_rate]}" \
            "$(awk -v r="${R[$m,records]}" -v c="${R[$m,accepted]}" 'BEGIN { printf "%.1f", (c > 0 ? r / c : 0) }')"
        printf ' the busiest second saw %s calls.' "${R[$m,max_all]}"
        printf ' With %s messages the drain lasts only %s s, so the first and the last partial' \
            "$MESSAGES" "${R[$m,span]}"
        printf ' seconds weigh on these rates.\n'
    fi
}

for m in $MODES; do
    run_mode "$m"
done

# ---- summary -----------------------------------------------------------------------------

summary="$(for m in $MODES; do summary_of "$m"; done)"
stamp="$(date -u '+%Y-%m-%d %H:%M UTC')"
machine="$CORES cores, $MODEL, $(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
versions="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), PostgreSQL $(psql -X -At -d "$DSN" -c 'SHOW server_version' | cut -d' ' -f1), Node.js $(node --version)"
if [ -n "${MAKELEVEL:-}" ]; then runner="make bench-crm"; else runner="scripts/bench-crm.sh"; fi
command_line="BENCH_CRM_MESSAGES=$MESSAGES BENCH_CRM_CAP=$CAP BENCH_CRM_INSTANCES=$INSTANCES BENCH_CRM_WORKERS=$WORKERS BENCH_CRM_MODES=\"$MODES\" BENCH_RECORD=$RECORD $runner"

printf '\n==> summary (%s; %s; load average before: %s)\n\n%s\n' \
    "$stamp" "$machine" "$LOAD_BEFORE" "$summary"
for b in "${BROKEN[@]}"; do
    printf 'BROKEN: %s\n' "$b"
done
printf '%s\n\nmachine: %s\nversions: %s\ncommand: %s\n' \
    "$summary" "$machine" "$versions" "$command_line" > "$RUN/summary.txt"
log "summary saved in ${RUN#"$REPO/"}/summary.txt; stats, call logs and error logs in ${RUN#"$REPO/"}/<mode>/"

if [ "$RECORD" = 1 ]; then
    doc="$REPO/docs/benchmarks.md"
    section="$RUN/section.md"
    # shellcheck disable=SC2016  # the backquotes are Markdown
    {
        printf '<!-- crm-drain:begin -->\n'
        printf '## CRM drain\n\n'
        printf 'Written by `BENCH_RECORD=1 make bench-crm` (`scripts/bench-crm.sh`); each run replaces\n'
        printf 'this section. %s dispatchers (separate nginx instances, `xyz_dispatch crm`, one database,\n' "$INSTANCES"
        printf 'one queue) drain a backlog of %s CRM messages from the SQS emulator into the fake CRM,\n' "$MESSAGES"
        printf 'which admits %s calls in any sliding second; `xyz_crm_rate %s` is the cap they share\n' "$CRM_LIMIT" "$CAP"
        printf 'through PostgreSQL. Budget: the busiest one-second window at the CRM <= the cap, and\n'
        printf 'a drain rate >= 0.95 x the cap while there is a backlog. The drain rate is measured\n'
        printf 'from the first CRM call to the last (start-up excluded). The fake CRM is warmed up\n'
        printf 'first (500 calls, then a reset), as a real one would be.\n\n'
        printf -- '- date: %s\n' "$stamp"
        printf -- '- machine: %s (load average before the run: %s)\n' "$machine" "$LOAD_BEFORE"
        printf -- '- versions: %s\n' "$versions"
        printf -- '- command: `%s`\n\n' "$command_line"
        printf '```\n%s\n' "$summary"
        for b in "${BROKEN[@]}"; do printf 'BROKEN: %s\n' "$b"; done
        printf '```\n\n'
        printf 'Reading (generated from the numbers above):\n\n'
        for m in $MODES; do
            printf -- '- %s\n' "$(reading_of "$m")"
        done
        printf '<!-- crm-drain:end -->\n'
    } > "$section"
    if [ ! -f "$doc" ]; then
        printf '# Benchmarks\n\n' > "$doc"
    fi
    # Replace the section between the markers; without them, put it before
    # "## Recorded runs" (which the other benchmark appends to), else at the end.
    perl -0777 -i -e '
        my $new = do { local $/; open my $f, "<", $ARGV[0] or die "$ARGV[0]: $!"; <$f> };
        shift @ARGV;
        my $doc = <>;
        if ($doc =~ /<!-- crm-drain:begin -->.*?<!-- crm-drain:end -->\n?/s) {
            $doc =~ s/<!-- crm-drain:begin -->.*?<!-- crm-drain:end -->\n?/$new/s;
        } elsif ($doc =~ /^## Recorded runs/m) {
            $doc =~ s/^(## Recorded runs)/$new\n$1/m;
        } else {
            $doc .= "\n" unless $doc =~ /\n\n\z/;
            $doc .= $new;
        }
        print $doc;' "$section" "$doc"
    log "recorded in docs/benchmarks.md (section \"CRM drain\")"
fi

if [ "${#BROKEN[@]}" -gt 0 ]; then
    die "something is broken (see BROKEN above)"
fi
