#!/usr/bin/env bash
# sqs.sh — the local SQS emulator (fauxqs from node_modules/) for local runs and tests.
#
#   scripts/sqs.sh start           start it if not running, wait until it answers, and
#                                  create the project's queues (idempotent)
#   scripts/sqs.sh stop            stop it and wait until it has exited; no-op when stopped
#   scripts/sqs.sh status          "running ..." (exit 0) or "stopped" (exit 3)
#   scripts/sqs.sh endpoint        the endpoint, http://127.0.0.1:PORT (also: url)
#   scripts/sqs.sh port            the TCP port
#   scripts/sqs.sh queue-url NAME  the URL the emulator gives queue NAME, e.g.
#                                  http://sqs.us-east-1.localhost:PORT/000000000000/xyz-email
#   scripts/sqs.sh queues          "NAME URL" for each of the project's queues
#
# Queues (standard): xyz-email-dlq, xyz-crm-dlq, and xyz-email, xyz-crm with
# VisibilityTimeout 30 and RedrivePolicy {"deadLetterTargetArn": <their DLQ>,
# "maxReceiveCount": N} with N = XYZ_SQS_MAX_RECEIVES (default 100: the
# dispatcher dead-letters permanent failures itself, with their reason; the
# redrive policy only catches what fails again and again, and an outage of
# SMTP or the CRM must not push healthy mail there). xyz-ses-feedback (SES
# bounces and complaints, as SNS delivers them; the dispatcher's
# xyz_ses_feedback_queue) redrives to xyz-ses-feedback-dlq after
# XYZ_SQS_FEEDBACK_MAX_RECEIVES (default 5) receives: a notification the
# database keeps refusing. Region us-east-1, account 000000000000.
#
# The emulator listens on 127.0.0.1 only, on a free port chosen once and kept in
# .run/sqs/port (reused while it is free, so that a stop and start keeps the endpoint
# and the queue URLs). Log: .run/sqs/fauxqs.log (appended; moved to fauxqs.log.1 past
# 10 MB), pid: .run/sqs/pid. The server is scripts/sqs-emulator.mjs.
# It speaks the JSON protocol (POST / with X-Amz-Target: AmazonSQS.<Op>) and checks
# no signatures. Its state is in memory only: a stop loses every message; start
# creates the queues again, empty.
set -euo pipefail

MAX_RECEIVES="${XYZ_SQS_MAX_RECEIVES:-100}"
FEEDBACK_MAX_RECEIVES="${XYZ_SQS_FEEDBACK_MAX_RECEIVES:-5}"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$REPO/.run/sqs"
PORT_FILE="$RUN/port"
PID_FILE="$RUN/pid"
LOG_FILE="$RUN/fauxqs.log"
LAUNCHER="$REPO/scripts/sqs-emulator.mjs"
ADDR=127.0.0.1
REGION=us-east-1
QUEUES=(xyz-email-dlq xyz-crm-dlq xyz-ses-feedback-dlq xyz-email xyz-crm xyz-ses-feedback)

log() { echo "sqs: $*" >&2; }
die() { echo "sqs: $*" >&2; exit 1; }

# Is TCP port $1 on 127.0.0.1 free to listen on?
port_free() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                                      Proto => "tcp", ReuseAddr => 1, Listen => 1);
        exit($s ? 0 : 1);' "$1"
}

# The recorded port if it is free, else a new free one.
pick_port() {
    local p old=""
    if [ -s "$PORT_FILE" ]; then
        old="$(cat "$PORT_FILE")"
        if port_free "$old"; then echo "$old"; return; fi
    fi
    # Below the kernel's ephemeral range (32768+), so outgoing connections never take it.
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        if port_free "$p"; then
            [ -n "$old" ] && log "port $old is taken; moving to $p (queue URLs change)"
            echo "$p"
            return
        fi
    done
    die "no free TCP port found"
}

# Is process $1 alive? A zombie (exited, not yet reaped by its parent, which is
# init once this script has returned) counts as gone.
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# Pid of the running emulator (ours: its command line names the launcher), else fail.
running_pid() {
    local pid
    [ -s "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$LAUNCHER" || return 1
    echo "$pid"
}

current_port() {
    [ -s "$PORT_FILE" ] || die "no port yet; run: scripts/sqs.sh start"
    cat "$PORT_FILE"
}

# call OP JSON — one JSON-protocol request; prints the answer body, fails on non-200.
call() {
    local op="$1" body="$2" out code
    out="$(curl -sS --max-time 10 -w '\n%{http_code}' -X POST \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H "X-Amz-Target: AmazonSQS.$op" \
        --data-binary "$body" "http://$ADDR:$(current_port)/")" \
        || die "$op: no answer from http://$ADDR:$(current_port)/"
    code="${out##*$'\n'}"
    out="${out%$'\n'*}"
    [ "$code" = 200 ] || die "$op failed (HTTP $code): $out"
    printf '%s\n' "$out"
}

# json_get KEY... < JSON — the value at that path of the JSON on stdin.
json_get() {
    perl -MJSON::PP -0777 -e '
        my $d = JSON::PP::decode_json(<STDIN>);
        for my $k (@ARGV) { $d = ref $d eq "HASH" ? $d->{$k} : undef }
        defined $d or exit 1;
        print "$d\n";' "$@"
}

# json_obj KEY VALUE ... — a JSON object of string values; a key "A.B" nests B in A.
json_obj() {
    perl -MJSON::PP -e '
        my %o;
        while (my ($k, $v) = splice @ARGV, 0, 2) {
            my @p = split /\./, $k;
            my $h = \%o;
            $h = $h->{shift @p} //= {} while @p > 1;
            $h->{$p[0]} = $v;
        }
        print JSON::PP->new->canonical->encode(\%o), "\n";' "$@"
}

healthy() {
    curl -sf --max-time 2 -o /dev/null "http://$ADDR:$1/health"
}

# Create the queues (CreateQueue without attributes never conflicts with an existing
# queue; the attributes are then set, so a queue changed by a test is put right).
ensure_queues() {
    local q url dlq_arn policy max
    for q in "${QUEUES[@]}"; do
        call CreateQueue "$(json_obj QueueName "$q")" >/dev/null
    done
    for q in xyz-email xyz-crm xyz-ses-feedback; do
        url="$(call GetQueueUrl "$(json_obj QueueName "$q")" | json_get QueueUrl)"
        dlq_arn="$(call GetQueueAttributes "$(perl -MJSON::PP -e '
            print encode_json({QueueUrl => $ARGV[0], AttributeNames => ["QueueArn"]})' \
            "$(queue_url "$q-dlq")")" | json_get Attributes QueueArn)"
        max="$MAX_RECEIVES"
        [ "$q" = xyz-ses-feedback ] && max="$FEEDBACK_MAX_RECEIVES"
        policy="$(json_obj deadLetterTargetArn "$dlq_arn" maxReceiveCount "$max")"
        call SetQueueAttributes "$(json_obj QueueUrl "$url" \
            Attributes.VisibilityTimeout 30 Attributes.RedrivePolicy "$policy")" >/dev/null
    done
}

queue_url() {
    call GetQueueUrl "$(json_obj QueueName "$1")" | json_get QueueUrl
}

cmd_start() {
    local port pid major
    mkdir -p "$RUN"
    if running_pid >/dev/null && healthy "$(current_port)"; then
        ensure_queues
        return 0
    fi
    command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "fauxqs 1.9.2 needs Node.js 20 or later (found $(node --version))"
    [ -f "$REPO/node_modules/fauxqs/package.json" ] \
        || die "node_modules/fauxqs missing; run scripts/deps.sh"
    command -v setsid >/dev/null 2>&1 || die "setsid not found (util-linux)"

    # A stale process of ours that does not answer: stop it first.
    cmd_stop

    # Keep one old log, at most about 10 MB each.
    if [ -f "$LOG_FILE" ] && [ "$(stat -c %s "$LOG_FILE")" -gt 10000000 ]; then
        mv -f "$LOG_FILE" "$LOG_FILE.1"
    fi
    for _ in 1 2 3; do
        port="$(pick_port)"
        echo "$port" > "$PORT_FILE"
        rm -f "$PID_FILE"
        echo "---- $(date -u +%FT%TZ) start on $ADDR:$port" >> "$LOG_FILE"
        # Its own session: a Ctrl-C at the terminal does not reach it; stop does.
        XYZ_SQS_ADDR="$ADDR" FAUXQS_PORT="$port" FAUXQS_DEFAULT_REGION="$REGION" \
        FAUXQS_HOST=localhost XYZ_SQS_PID_FILE="$PID_FILE" \
            setsid -w node "$LAUNCHER" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
        pid=$!
        for _ in $(seq 1 100); do
            alive "$pid" || break
            if [ -s "$PID_FILE" ] && healthy "$port"; then
                ensure_queues
                log "started on $ADDR:$port (pid $(cat "$PID_FILE"), log: ${LOG_FILE#"$REPO/"})"
                return 0
            fi
            sleep 0.1
        done
        if alive "$pid"; then
            cmd_stop
            kill -TERM "$pid" 2>/dev/null || true
            tail -n 20 "$LOG_FILE" >&2 || true
            die "emulator did not answer within 10 s (log: $LOG_FILE)"
        fi
        wait "$pid" 2>/dev/null || true
        # Most likely the port was taken between the check and the listen: try another.
        tail -n 3 "$LOG_FILE" >&2 || true
    done
    die "could not start the emulator (log: $LOG_FILE)"
}

cmd_stop() {
    local pid
    pid="$(running_pid)" || { rm -f "$PID_FILE"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.05
    done
    if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do alive "$pid" || break; sleep 0.05; done
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        echo "running on $ADDR:$(current_port) (pid $pid)"
    else
        echo "stopped"
        return 3
    fi
}

need_running() {
    running_pid >/dev/null || die "not running; run: scripts/sqs.sh start"
}

# One start or stop at a time (e.g. two test runs starting together).
lock() {
    mkdir -p "$RUN"
    exec 9>"$RUN/lock"
    flock -w 60 9 || die "another sqs.sh start/stop holds $RUN/lock"
}

case "${1:-}" in
    start)        lock; cmd_start ;;
    stop)         lock; cmd_stop ;;
    status)       cmd_status ;;
    endpoint|url) echo "http://$ADDR:$(current_port)" ;;
    port)         current_port ;;
    queue-url)    [ -n "${2:-}" ] || die "usage: sqs.sh queue-url NAME"
                  need_running
                  queue_url "$2" ;;
    queues)       need_running
                  for q in "${QUEUES[@]}"; do echo "$q $(queue_url "$q")"; done ;;
    *)            echo "usage: $0 start|stop|status|endpoint|url|port|queue-url NAME|queues" >&2
                  exit 2 ;;
esac
