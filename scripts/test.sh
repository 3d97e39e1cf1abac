#!/usr/bin/env bash
# test.sh — run the test suites (`make test`).
#
# deps → build → the front end's asset stamps and .gz copies (scripts/gzip-assets.sh) →
# the local stack (scripts/lib/stack.sh: PostgreSQL's private cluster, SQS emulator,
# mail catcher, fake CRM) → fresh database `xyz_test` → migrations → prove -r t/ with
# the test environment below. Stops the fake CRM, the mail catcher, the SQS emulator
# and the PostgreSQL cluster at the end if this script started them. Exit status:
# that of prove.
#
#   scripts/test.sh                 all suites (prove -r t/)
#   scripts/test.sh t/foo.t ...     only these (arguments go to prove)
#
# Exported for the suites (t/lib reads them):
#   PERL5LIB=<repo>/t/lib  TEST_NGINX_BINARY  TEST_NGINX_LOAD_MODULES  TEST_NGINX_PG_DSN
#   XYZ_ROOT  XYZ_PGDATA
#   TEST_NGINX_SQS_ENDPOINT=http://127.0.0.1:PORT  TEST_NGINX_SQS_EMAIL_QUEUE
#   TEST_NGINX_SQS_CRM_QUEUE  TEST_NGINX_SQS_EMAIL_DLQ  TEST_NGINX_SQS_CRM_DLQ
#   TEST_NGINX_SQS_FEEDBACK_QUEUE  TEST_NGINX_SQS_FEEDBACK_DLQ (queue URLs)
#   AWS_ACCESS_KEY_ID=test  AWS_SECRET_ACCESS_KEY=test  AWS_REGION=us-east-1 (dummies:
#   the emulator checks no signatures)
#   TEST_NGINX_SMTP_URL=smtp://127.0.0.1:PORT  TEST_NGINX_MAILDEV_API=http://127.0.0.1:PORT/api
#   (maildev's SMTP sink and REST API)
#   TEST_NGINX_CRM_URL=http://127.0.0.1:PORT (the fake CRM, no trailing slash)
#   TEST_NGINX_CRM_ADMIN=http://127.0.0.1:PORT/_admin (its admin API)
# With XYZ_DATABASE_URL set, that database is migrated and used as is (not recreated).
# With XYZ_SANITIZE set (e.g. address,undefined; scripts/test-asan.sh does it), the
# module and nginx itself are built with those sanitizers (build/asan/, see
# scripts/build.sh) and the suites run them (TEST_NGINX_BINARY=scripts/sanitizer-nginx).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
cd "$REPO"

step() { echo "==> $*"; }

step "dependencies"
"$S/deps.sh"
step "build"
"$S/build.sh"
"$S/gzip-assets.sh"

# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"
trap stack_stop EXIT

step "database, SQS emulator, mail catcher and fake CRM"
stack_start pg sqs mail crm
if [ -n "${XYZ_DATABASE_URL:-}" ]; then
    DSN="$XYZ_DATABASE_URL"
    XYZ_PGDATA=""
else
    "$S/pg.sh" recreate-db xyz_test
    DSN="$("$S/pg.sh" url xyz_test)"
    XYZ_PGDATA="$("$S/pg.sh" datadir)"
fi
"$S/migrate.sh" "$DSN"

stack_test_env
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN

export PERL5LIB="$REPO/t/lib${PERL5LIB:+:$PERL5LIB}"
if [ -n "${XYZ_SANITIZE:-}" ]; then
    export TEST_NGINX_BINARY="$S/sanitizer-nginx"
    export TEST_NGINX_LOAD_MODULES="$REPO/build/asan/ngx_xyz_module.so"
else
    export TEST_NGINX_BINARY="${TEST_NGINX_BINARY:-/usr/sbin/nginx}"
    export TEST_NGINX_LOAD_MODULES="$REPO/build/ngx_xyz_module.so"
fi
export TEST_NGINX_PG_DSN="$DSN"
export XYZ_ROOT="$REPO"
export XYZ_PGDATA

if [ "$#" -eq 0 ]; then
    set -- -r t/
fi

step "tests"
echo "    PERL5LIB=$PERL5LIB"
echo "    TEST_NGINX_BINARY=$TEST_NGINX_BINARY"
echo "    TEST_NGINX_LOAD_MODULES=$TEST_NGINX_LOAD_MODULES"
echo "    TEST_NGINX_PG_DSN=$TEST_NGINX_PG_DSN"
echo "    XYZ_ROOT=$XYZ_ROOT"
echo "    XYZ_PGDATA=$XYZ_PGDATA"
echo "    TEST_NGINX_SQS_ENDPOINT=$TEST_NGINX_SQS_ENDPOINT"
echo "    TEST_NGINX_SQS_EMAIL_QUEUE=$TEST_NGINX_SQS_EMAIL_QUEUE"
echo "    TEST_NGINX_SQS_CRM_QUEUE=$TEST_NGINX_SQS_CRM_QUEUE"
echo "    TEST_NGINX_SQS_EMAIL_DLQ=$TEST_NGINX_SQS_EMAIL_DLQ"
echo "    TEST_NGINX_SQS_CRM_DLQ=$TEST_NGINX_SQS_CRM_DLQ"
echo "    TEST_NGINX_SQS_FEEDBACK_QUEUE=$TEST_NGINX_SQS_FEEDBACK_QUEUE"
echo "    TEST_NGINX_SMTP_URL=$TEST_NGINX_SMTP_URL"
echo "    TEST_NGINX_MAILDEV_API=$TEST_NGINX_MAILDEV_API"
echo "    TEST_NGINX_CRM_URL=$TEST_NGINX_CRM_URL"
echo "    TEST_NGINX_CRM_ADMIN=$TEST_NGINX_CRM_ADMIN"
echo "    prove $*"
status=0
prove "$@" || status=$?
exit "$status"
