#!/usr/bin/env bash
# run.sh — run the whole thing locally (`make run`).
#
# deps → build → the front end's asset stamps and .gz copies (scripts/gzip-assets.sh) →
# PostgreSQL (private cluster) → migrations on database `xyz` →
# SQS emulator (scripts/sqs.sh: fauxqs with the project's queues) → mail catcher
# (scripts/mail.sh: maildev) → fake CRM (scripts/crm.sh) →
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

# Set before anything is started, so that a failure half-way stops what was started.
nginx_pid=
pg_started=0
sqs_started=0
mail_started=0
crm_started=0
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
    if [ "$crm_started" = 1 ]; then
        "$S/crm.sh" stop || true
    fi
    if [ "$mail_started" = 1 ]; then
        "$S/mail.sh" stop || true
    fi
    if [ "$sqs_started" = 1 ]; then
        "$S/sqs.sh" stop || true
    fi
    if [ "$pg_started" = 1 ]; then
        "$S/pg.sh" stop || true
    fi
}
# A second Ctrl-C during the cleanup must not cut it short.
trap 'trap "" INT TERM; cleanup; exit 130' INT
trap 'trap "" INT TERM; cleanup; exit 143' TERM
trap cleanup EXIT

if [ -z "${XYZ_DATABASE_URL:-}" ] && ! "$S/pg.sh" status >/dev/null 2>&1; then
    pg_started=1
fi
"$S/pg.sh" start
DSN="$("$S/pg.sh" url xyz)"
"$S/migrate.sh" "$DSN"

# ---- SQS emulator (fauxqs, from node_modules/) ------------------------------------
if ! "$S/sqs.sh" status >/dev/null 2>&1; then
    sqs_started=1
fi
"$S/sqs.sh" start
XYZ_SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
XYZ_SQS_EMAIL_QUEUE="$("$S/sqs.sh" queue-url xyz-email)"
XYZ_SQS_CRM_QUEUE="$("$S/sqs.sh" queue-url xyz-crm)"
export XYZ_SQS_ENDPOINT XYZ_SQS_EMAIL_QUEUE XYZ_SQS_CRM_QUEUE
email_dlq="$("$S/sqs.sh" queue-url xyz-email-dlq)"
crm_dlq="$("$S/sqs.sh" queue-url xyz-crm-dlq)"
# The emulator checks no signatures; nginx signs with these dummy credentials (its
# workers see them through the `env` directives of conf/dev.conf).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN

# ---- mail catcher (maildev, from node_modules/) -----------------------------------
if ! "$S/mail.sh" status >/dev/null 2>&1; then
    mail_started=1
fi
"$S/mail.sh" start
XYZ_SMTP_URL="$("$S/mail.sh" smtp-url)"
XYZ_MAIL_WEB="$("$S/mail.sh" web-url)"
export XYZ_SMTP_URL XYZ_MAIL_WEB

# ---- fake CRM (scripts/fake-crm.mjs) ----------------------------------------------
if ! "$S/crm.sh" status >/dev/null 2>&1; then
    crm_started=1
fi
"$S/crm.sh" start
XYZ_CRM_URL="$("$S/crm.sh" url)"
export XYZ_CRM_URL
crm_admin="$("$S/crm.sh" admin-url)"

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
      DLQs:    $email_dlq
               $crm_dlq
    mail:      $XYZ_MAIL_WEB   (maildev web UI: every email sent; SMTP $XYZ_SMTP_URL)
    CRM:       $XYZ_CRM_URL   (fake CRM; POST /contacts, log .run/crm/crm.log)
      admin:   $crm_admin/stats   (also /records, /calls; POST /fault, /limit, /reset)
  try:
    curl -i -H 'Content-Type: application/json' -d '{"email":"alice@example.com","password":"correct horse battery staple","name":"Alice","locale":"en","marketing_consent":false}' $base/api/register

  Ctrl-C stops everything.

INFO

status=0
wait "$nginx_pid" || status=$?
nginx_pid=
echo "run: nginx exited (status $status)"
exit "$status"
