#!/usr/bin/env bash
# render-conf.sh — render the nginx configuration template conf/dev.conf.
#
#   scripts/render-conf.sh       writes <prefix>/conf/nginx.conf and <prefix>/port,
#                                creates <prefix>/logs and <prefix>/temp, and prints
#                                the path of the rendered file
#
# Every placeholder can be set through the environment; defaults in brackets:
#   XYZ_PREFIX    runtime prefix                [<repo>/.run/nginx]
#   XYZ_MODULE    module .so                    [<repo>/build/ngx_xyz_module.so]
#   XYZ_HTML      static files                  [<repo>/html]
#   XYZ_ADDR      listen address                [127.0.0.1]
#   XYZ_PORT      HTTP port                     [8080 if free, else a free port]
#   XYZ_PG_DSN    libpq conninfo                [scripts/pg.sh url xyz]
#   XYZ_SQS_ENDPOINT     SQS endpoint URL        [scripts/sqs.sh endpoint, when running]
#   XYZ_SQS_EMAIL_QUEUE  URL of queue xyz-email  [scripts/sqs.sh queue-url xyz-email, ditto]
#   XYZ_SQS_CRM_QUEUE    URL of queue xyz-crm    [scripts/sqs.sh queue-url xyz-crm, ditto]
#   XYZ_SQS_FEEDBACK_QUEUE  URL of queue xyz-ses-feedback (SES bounces and
#                        complaints)             [scripts/sqs.sh queue-url xyz-ses-feedback, ditto]
#   XYZ_SMTP_URL  SMTP server, smtp://HOST:PORT [scripts/mail.sh smtp-url, when running]
#   XYZ_MAIL_WEB  the mail catcher's web UI     [scripts/mail.sh web-url, ditto]
#   XYZ_CRM_URL   CRM base URL, no trailing /   [scripts/crm.sh url, when running]
#   XYZ_USER      worker user and group         [www-data www-data if it can read
#                                                the html dir, else root root]
#   XYZ_CONF_TEMPLATE  the template             [<repo>/conf/dev.conf]
# The files the template includes (security-headers.conf) are copied from the
# template's directory into <prefix>/conf/.
# Start nginx afterwards with: nginx -p <prefix>/ -c conf/nginx.conf
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# shellcheck source=lib/ports.sh
. "$REPO/scripts/lib/ports.sh"

export XYZ_PREFIX="${XYZ_PREFIX:-$REPO/.run/nginx}"
export XYZ_MODULE="${XYZ_MODULE:-$REPO/build/ngx_xyz_module.so}"
export XYZ_HTML="${XYZ_HTML:-$REPO/html}"
export XYZ_ADDR="${XYZ_ADDR:-127.0.0.1}"
TEMPLATE="${XYZ_CONF_TEMPLATE:-$REPO/conf/dev.conf}"
export XYZ_TEMPLATE="$TEMPLATE"

XYZ_PREFIX="${XYZ_PREFIX%/}"

if [ -z "${XYZ_PORT:-}" ]; then
    XYZ_PORT=8080
    if ! port_free "$XYZ_PORT" "$XYZ_ADDR"; then
        for _ in $(seq 1 200); do
            XYZ_PORT=$(( 20000 + RANDOM % 12000 ))
            port_free "$XYZ_PORT" "$XYZ_ADDR" && break
        done
    fi
fi
export XYZ_PORT

if [ -z "${XYZ_PG_DSN:-}" ]; then
    XYZ_PG_DSN="$("$REPO/scripts/pg.sh" url xyz)"
fi
export XYZ_PG_DSN

# SQS: from the local emulator when it runs; otherwise left unset, which is an error
# only where the template uses the placeholder outside a comment.
if [ -x "$REPO/scripts/sqs.sh" ] && "$REPO/scripts/sqs.sh" status >/dev/null 2>&1; then
    : "${XYZ_SQS_ENDPOINT:=$("$REPO/scripts/sqs.sh" endpoint)}"
    : "${XYZ_SQS_EMAIL_QUEUE:=$("$REPO/scripts/sqs.sh" queue-url xyz-email)}"
    : "${XYZ_SQS_CRM_QUEUE:=$("$REPO/scripts/sqs.sh" queue-url xyz-crm)}"
    : "${XYZ_SQS_EMAIL_DLQ:=$("$REPO/scripts/sqs.sh" queue-url xyz-email-dlq)}"
    : "${XYZ_SQS_CRM_DLQ:=$("$REPO/scripts/sqs.sh" queue-url xyz-crm-dlq)}"
    : "${XYZ_SQS_FEEDBACK_QUEUE:=$("$REPO/scripts/sqs.sh" queue-url xyz-ses-feedback)}"
fi
export XYZ_SQS_ENDPOINT XYZ_SQS_EMAIL_QUEUE XYZ_SQS_CRM_QUEUE XYZ_SQS_EMAIL_DLQ \
    XYZ_SQS_CRM_DLQ XYZ_SQS_FEEDBACK_QUEUE
export XYZ_TEMPLATES="${XYZ_TEMPLATES:-$REPO/conf/templates}"
export XYZ_PASSWORDS="${XYZ_PASSWORDS:-$REPO/conf/passwords/common.txt}"

# The session signing key of local runs: made once, kept out of git.
if [ -z "${XYZ_JWT_KEY:-}" ]; then
    XYZ_JWT_KEY="$REPO/.run/jwt/local.key"
    if [ ! -s "$XYZ_JWT_KEY" ]; then
        mkdir -p "$(dirname "$XYZ_JWT_KEY")"
        (umask 077; head -c 48 /dev/urandom | base64 > "$XYZ_JWT_KEY")
    fi
fi
export XYZ_JWT_KEY

# Mail catcher and fake CRM: the same, from the local stand-ins when they run.
if [ -x "$REPO/scripts/mail.sh" ] && "$REPO/scripts/mail.sh" status >/dev/null 2>&1; then
    : "${XYZ_SMTP_URL:=$("$REPO/scripts/mail.sh" smtp-url)}"
    : "${XYZ_MAIL_WEB:=$("$REPO/scripts/mail.sh" web-url)}"
fi
if [ -x "$REPO/scripts/crm.sh" ] && "$REPO/scripts/crm.sh" status >/dev/null 2>&1; then
    : "${XYZ_CRM_URL:=$("$REPO/scripts/crm.sh" url)}"
fi
export XYZ_SMTP_URL XYZ_MAIL_WEB XYZ_CRM_URL

if [ -z "${XYZ_USER:-}" ]; then
    if id www-data >/dev/null 2>&1 && runuser -u www-data -- test -r "$XYZ_HTML/." -a -x "$XYZ_HTML"; then
        XYZ_USER="www-data www-data"
    else
        # e.g. a clone under /root, which other users cannot enter
        XYZ_USER="root root"
    fi
fi
export XYZ_USER

mkdir -p "$XYZ_PREFIX/conf" "$XYZ_PREFIX/logs" "$XYZ_PREFIX/temp"
out="$XYZ_PREFIX/conf/nginx.conf"

# Placeholders in comment lines are left alone (the template documents them).
perl -pe '
    BEGIN { print "# Rendered from $ENV{XYZ_TEMPLATE} by scripts/render-conf.sh: edit the template.\n" }
    next if /^\s*#/;
    s/\@XYZ_MODULE\@/$ENV{XYZ_MODULE}/g;
    s/\@XYZ_PREFIX\@/$ENV{XYZ_PREFIX}/g;
    s/\@XYZ_HTML\@/$ENV{XYZ_HTML}/g;
    s/\@XYZ_ADDR\@/$ENV{XYZ_ADDR}/g;
    s/\@XYZ_PORT\@/$ENV{XYZ_PORT}/g;
    s/\@XYZ_PG_DSN\@/$ENV{XYZ_PG_DSN}/g;
    s/\@XYZ_USER\@/$ENV{XYZ_USER}/g;
    s/\@XYZ_TEMPLATES\@/$ENV{XYZ_TEMPLATES}/g;
    s/\@XYZ_PASSWORDS\@/$ENV{XYZ_PASSWORDS}/g;
    s/\@XYZ_JWT_KEY\@/$ENV{XYZ_JWT_KEY}/g;
    for my $v (qw(XYZ_SQS_ENDPOINT XYZ_SQS_EMAIL_QUEUE XYZ_SQS_CRM_QUEUE
                  XYZ_SQS_EMAIL_DLQ XYZ_SQS_CRM_DLQ XYZ_SQS_FEEDBACK_QUEUE
                  XYZ_SMTP_URL XYZ_MAIL_WEB XYZ_CRM_URL)) {
        s/\@$v\@/$ENV{$v}/g if defined $ENV{$v} && length $ENV{$v};
    }
' "$TEMPLATE" > "$out.tmp"

if grep -n '@XYZ_[A-Z_]*@' "$out.tmp" | grep -v '^[0-9]*:[[:space:]]*#' >&2; then
    echo "render-conf: placeholders left unreplaced in $TEMPLATE (see above)" >&2
    exit 1
fi
mv -f "$out.tmp" "$out"
# The file the template includes by relative name sits next to the rendered one.
headers="$(dirname "$TEMPLATE")/security-headers.conf"
if [ -f "$headers" ]; then
    cp -f "$headers" "$XYZ_PREFIX/conf/security-headers.conf"
fi
echo "$XYZ_PORT" > "$XYZ_PREFIX/port"
echo "$out"
