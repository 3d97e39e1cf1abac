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

# shellcheck source=lib/service.sh
. "$REPO/scripts/lib/service.sh"

SVC_NAME=sqs
SVC_TITLE="the emulator"
SVC_MATCH="$LAUNCHER"
SVC_WAIT=100

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

svc_healthy() {
    curl -sf --max-time 2 -o /dev/null "http://$ADDR:$(current_port)/health"
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

svc_check() {
    local major
    command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "fauxqs 1.9.2 needs Node.js 20 or later (found $(node --version))"
    [ -f "$REPO/node_modules/fauxqs/package.json" ] \
        || die "node_modules/fauxqs missing; run scripts/deps.sh"
}

svc_launch() {
    XYZ_SQS_ADDR="$ADDR" FAUXQS_PORT="$(current_port)" FAUXQS_DEFAULT_REGION="$REGION" \
    FAUXQS_HOST=localhost XYZ_SQS_PID_FILE="$PID_FILE" \
        setsid -w node "$LAUNCHER" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    SVC_CHILD=$!
}

svc_ready() { ensure_queues; }

need_running() {
    svc_running_pid >/dev/null || die "not running; run: scripts/sqs.sh start"
}

case "${1:-}" in
    start)        svc_lock; svc_start ;;
    stop)         svc_lock; svc_stop ;;
    status)       svc_status ;;
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
