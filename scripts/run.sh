#!/usr/bin/env bash
# run.sh — run the whole thing locally (`make run`).
#
# deps → build → the front end's asset stamps and .gz copies (scripts/gzip-assets.sh) →
# the local stack (scripts/lib/stack.sh: PostgreSQL's private cluster, the SQS
# emulator scripts/sqs.sh with the project's queues, the mail catcher scripts/mail.sh,
# the fake CRM scripts/crm.sh) → migrations on database `xyz` →
# render conf/dev.conf into .run/nginx/conf/nginx.conf → nginx -t → start nginx in
# the foreground, print the URLs, and wait. Ctrl-C (or SIGTERM) stops nginx
# (graceful QUIT, then TERM), and the fake CRM, the mail catcher, the SQS emulator and
# the PostgreSQL cluster if this script started them. nginx gets dummy AWS
# credentials (test/test, us-east-1).
#
# Environment: XYZ_PORT (HTTP port; default 8080 or a free one), XYZ_ADDR
# (default 127.0.0.1), XYZ_DATABASE_URL (use that database instead of the private
# cluster), and the other overrides of scripts/render-conf.sh.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
NGINX="${NGINX:-/usr/sbin/nginx}"
export XYZ_PREFIX="${XYZ_PREFIX:-$REPO/.run/nginx}"

"$S/deps.sh"
"$S/build.sh"
"$S/gzip-assets.sh"

# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"

# Set before anything is started, so that a failure half-way stops what was started.
nginx_pid=
done_cleanup=0
# shellcheck disable=SC2317  # called from the traps below
cleanup() {
    [ "$done_cleanup" = 1 ] && return
    done_cleanup=1
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        echo "run: stopping nginx"
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    stack_stop
}
# A second Ctrl-C during the cleanup must not cut it short.
trap 'trap "" INT TERM; cleanup; exit 130' INT
trap 'trap "" INT TERM; cleanup; exit 143' TERM
trap cleanup EXIT

stack_start pg sqs mail crm
DSN="$("$S/pg.sh" url xyz)"
"$S/migrate.sh" "$DSN"
stack_addresses
# The emulator checks no signatures; nginx signs with these dummy credentials (its
# workers see them through the `env` directives of conf/dev.conf).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN
export XYZ_SQS_ENDPOINT="$SQS_ENDPOINT"
export XYZ_SQS_EMAIL_QUEUE="$SQS_EMAIL_QUEUE" XYZ_SQS_CRM_QUEUE="$SQS_CRM_QUEUE"
export XYZ_SMTP_URL="$SMTP_URL" XYZ_MAIL_WEB="$MAIL_WEB"
export XYZ_CRM_URL="$CRM_URL"

conf="$(XYZ_PG_DSN="$DSN" "$S/render-conf.sh")"
echo "run: configuration $conf"
PORT="$(cat "$XYZ_PREFIX/port")"
ADDR="${XYZ_ADDR:-127.0.0.1}"
[ "$ADDR" = 0.0.0.0 ] && ADDR=127.0.0.1

echo "run: nginx -t -p $XYZ_PREFIX/ -c conf/nginx.conf"
"$NGINX" -q -t -p "$XYZ_PREFIX/" -c conf/nginx.conf

"$NGINX" -p "$XYZ_PREFIX/" -c conf/nginx.conf &
nginx_pid=$!

# Wait until nginx answers (or died).
for _ in $(seq 1 50); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    curl -s -o /dev/null "http://$ADDR:$PORT/" && break
    sleep 0.1
done
if ! kill -0 "$nginx_pid" 2>/dev/null; then
    wait "$nginx_pid" || true
    echo "run: nginx did not start; see $XYZ_PREFIX/logs/error.log" >&2
    exit 1
fi

base="http://$ADDR:$PORT"
cat <<INFO

  XYZ sign-up is running (nginx pid $nginx_pid, logs in ${XYZ_PREFIX#"$REPO/"}/logs/)
    page:      $base/
    register:  $base/api/register   (POST JSON)
    database:  $DSN
    SQS:       $XYZ_SQS_ENDPOINT   (fauxqs emulator, in memory; log .run/sqs/fauxqs.log)
      email:   $XYZ_SQS_EMAIL_QUEUE
      crm:     $XYZ_SQS_CRM_QUEUE
      DLQs:    $SQS_EMAIL_DLQ
               $SQS_CRM_DLQ
    mail:      $XYZ_MAIL_WEB   (maildev web UI: every email sent; SMTP $XYZ_SMTP_URL)
    CRM:       $XYZ_CRM_URL   (fake CRM; POST /contacts, log .run/crm/crm.log)
      admin:   $CRM_ADMIN/stats   (also /records, /calls; POST /fault, /limit, /reset)
  try:
    curl -i -H 'Content-Type: application/json' -d '{"email":"alice@example.com","password":"correct horse battery staple","name":"Alice","locale":"en","marketing_consent":false}' $base/api/register

  Ctrl-C stops everything.

INFO

status=0
wait "$nginx_pid" || status=$?
nginx_pid=
echo "run: nginx exited (status $status)"
exit "$status"
