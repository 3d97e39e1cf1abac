#!/usr/bin/env bash
# dlq.sh — see and re-drive the dead-lettered messages of the email and CRM queues.
#
#   scripts/dlq.sh list [email|crm]     every message in the dead-letter queue(s): outbox
#                                       id, type, address (masked: a***@example.com),
#                                       receive count, sent time and the reason the
#                                       dispatcher gave (message attribute xyz_reason;
#                                       "-" for a message SQS moved by itself after too
#                                       many receives). Nothing is deleted.
#   scripts/dlq.sh count [email|crm]    how many messages each dead-letter queue holds
#   scripts/dlq.sh redrive email|crm [--reset]
#                                       moves every message of that dead-letter queue back
#                                       to its source queue (the same body and message
#                                       attributes, less xyz_reason) and prints how many
#
# A re-driven message is delivered once more only if its delivery is not recorded as
# done in the dispatcher's table `deliveries`: one recorded as `sent` is deleted as a
# duplicate, and one recorded as `dead` (a permanent failure: the CRM refused the
# record, the address was rejected) is deleted too unless it is reset first. With
# --reset, redrive sets those deliveries back before it sends the messages:
#     UPDATE deliveries SET state = 'sending', claimed_until = now()
#      WHERE state = 'dead' AND outbox_id = ANY(<the messages' outbox ids>)
# so that the dispatcher tries them again. Fix the cause first (the CRM mapping, the
# SMTP relay), or the messages come back to the dead-letter queue.
#
# `list` receives the messages with a visibility timeout of 30 s, so that each is seen
# once, and makes them visible again at the end (if the command is interrupted they
# reappear after those 30 s by themselves). Receiving counts: each listing adds one to
# a message's receive count. `redrive` stops at messages dead-lettered after it
# started, so a message that fails again at once is not sent round in circles.
#
# Queues and endpoint, from the environment (as scripts/render-conf.sh names them):
#   XYZ_SQS_EMAIL_QUEUE, XYZ_SQS_EMAIL_DLQ, XYZ_SQS_CRM_QUEUE, XYZ_SQS_CRM_DLQ
#                       queue URLs; each one unset is asked of the local emulator
#                       (scripts/sqs.sh queue-url xyz-email, ...), which must run
#   XYZ_SQS_ENDPOINT    where the calls go; default: the emulator when the queue URLs
#                       are its own, else https://<host of the queue URL> for AWS URLs
#   AWS_REGION          the region requests are signed for (else AWS_DEFAULT_REGION,
#                       else the region in the endpoint's host name, else us-east-1)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
#                       with a key, every call is signed (SigV4, by curl); without one
#                       calls go unsigned, which only the local emulator accepts. For a
#                       role or SSO profile, export its keys first, e.g.
#                       eval "$(aws configure export-credentials --format env)"
#   XYZ_PG_DSN          for --reset: the dispatchers' database (libpq string or URL);
#                       default XYZ_DATABASE_URL, else scripts/pg.sh url xyz
# The keys reach curl through a config file readable only by this user, never its
# command line.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"

die() { echo "dlq: $*" >&2; exit 1; }

usage() {
    echo "usage: $0 list [email|crm] | count [email|crm] | redrive email|crm [--reset]" >&2
    exit 2
}

cmd="${1:-}"
shift || true
kinds=()
reset=0
for a in "$@"; do
    case "$a" in
        email|crm) kinds+=("$a") ;;
        --reset)   reset=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *)         usage ;;
    esac
done
case "$cmd" in
    list|count)
        [ "$reset" = 0 ] || usage
        [ "${#kinds[@]}" -gt 0 ] || kinds=(email crm) ;;
    redrive)
        [ "${#kinds[@]}" -eq 1 ] || usage ;;
    -h|--help|help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *)  usage ;;
esac

# A queue URL from the environment, else from the local emulator.
emulator_checked=0
queue_url() {
    local var="$1" name="$2"
    if [ -n "${!var:-}" ]; then
        printf '%s\n' "${!var}"
        return
    fi
    if [ "$emulator_checked" = 0 ]; then
        "$S/sqs.sh" status >/dev/null 2>&1 \
            || die "$var is not set and the local SQS emulator is not running (scripts/sqs.sh start)"
        emulator_checked=1
    fi
    "$S/sqs.sh" queue-url "$name"
}

for k in "${kinds[@]}"; do
    K="${k^^}"
    url="$(queue_url "XYZ_SQS_${K}_QUEUE" "xyz-$k")"
    export "DLQ_SOURCE_$K=$url"
    url="$(queue_url "XYZ_SQS_${K}_DLQ" "xyz-$k-dlq")"
    export "DLQ_DEAD_$K=$url"
done

if [ -z "${XYZ_SQS_ENDPOINT:-}" ]; then
    first="DLQ_DEAD_${kinds[0]^^}"
    host="$(printf '%s\n' "${!first}" | sed -E 's#^[a-z]+://([^/]+).*#\1#')"
    if [[ "$host" == *.amazonaws.com* ]]; then
        XYZ_SQS_ENDPOINT="https://$host"
    else
        "$S/sqs.sh" status >/dev/null 2>&1 \
            || die "XYZ_SQS_ENDPOINT is not set and the local SQS emulator is not running"
        XYZ_SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
    fi
fi
export XYZ_SQS_ENDPOINT

if [ -z "${AWS_REGION:-}" ]; then
    AWS_REGION="${AWS_DEFAULT_REGION:-}"
    if [ -z "$AWS_REGION" ] && [[ "$XYZ_SQS_ENDPOINT" =~ sqs[.-]([a-z0-9-]+)\.amazonaws\.com ]]; then
        AWS_REGION="${BASH_REMATCH[1]}"
    fi
    AWS_REGION="${AWS_REGION:-us-east-1}"
fi
export AWS_REGION

if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
    case "$XYZ_SQS_ENDPOINT" in
        http://127.*|http://localhost*|http://\[::1\]*) ;;
        *) die "no AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) for $XYZ_SQS_ENDPOINT" ;;
    esac
fi

if [ "$reset" = 1 ]; then
    DLQ_PG_DSN="${XYZ_PG_DSN:-${XYZ_DATABASE_URL:-}}"
    [ -n "$DLQ_PG_DSN" ] || DLQ_PG_DSN="$("$S/pg.sh" url xyz)"
    export DLQ_PG_DSN
    command -v psql >/dev/null 2>&1 || die "psql not found (postgresql-client)"
fi
command -v curl >/dev/null 2>&1 || die "curl not found"

exec perl "$S/lib/dlq.pl" "$cmd" "$reset" "${kinds[@]}"
