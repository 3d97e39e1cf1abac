#!/usr/bin/env bash
# bench-cluster.sh — many instances on one database, on loopback
# (`make bench-cluster`): the container image as BENCH_CLUSTER_WEBS web
# instances [3] behind an nginx load balancer and BENCH_CLUSTER_DISPATCHERS
# dispatchers [2], one PostgreSQL, the local SQS emulator, maildev and the
# fake CRM. First BENCH_CLUSTER_BASELINE registrations [300] to one web
# instance and as many through the balancer (registrations/s, and the
# ratio); then BENCH_CLUSTER_USERS registrations [1000] through the
# balancer, BENCH_CLUSTER_CONCURRENCY at once [32], with one web and one
# dispatcher killed with SIGKILL at 40 % and started again at 60 %. Then it
# waits until every committed registration has its email and every CRM
# outbox row its record, and prints: lost, sent twice, the busiest second at
# the CRM against BENCH_CLUSTER_CAP [90]. Exit 1 when something was lost or
# doubled or the cap was passed. The instances use the suites' hashing cost
# (m=1024 t=1): the run measures the plumbing, not Argon2id.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S="$REPO/scripts"
cd "$REPO"

"$S/deps.sh"
"$S/build.sh" >/dev/null

started=()
start() { if ! "$S/$1.sh" status >/dev/null 2>&1; then "$S/$1.sh" start; started+=("$1"); fi; }
# shellcheck disable=SC2317
stop_all() { for s in "${started[@]}"; do "$S/$s.sh" stop || true; done; }
trap stop_all EXIT

start pg
"$S/pg.sh" recreate-db xyz_cluster
DSN="$("$S/pg.sh" url xyz_cluster)"
"$S/migrate.sh" "$DSN" >/dev/null
start sqs
start mail
start crm

export XYZ_ROOT="$REPO" PERL5LIB="$REPO/t/lib${PERL5LIB:+:$PERL5LIB}"
export TEST_NGINX_PG_DSN="$DSN"
TEST_NGINX_SQS_ENDPOINT="$("$S/sqs.sh" endpoint)"
TEST_NGINX_SQS_EMAIL_QUEUE="$("$S/sqs.sh" queue-url xyz-email)"
TEST_NGINX_SQS_CRM_QUEUE="$("$S/sqs.sh" queue-url xyz-crm)"
TEST_NGINX_SQS_EMAIL_DLQ="$("$S/sqs.sh" queue-url xyz-email-dlq)"
TEST_NGINX_SQS_CRM_DLQ="$("$S/sqs.sh" queue-url xyz-crm-dlq)"
TEST_NGINX_SMTP_URL="$("$S/mail.sh" smtp-url)"
TEST_NGINX_MAILDEV_API="$("$S/mail.sh" api-url)"
TEST_NGINX_CRM_URL="$("$S/crm.sh" url)"
TEST_NGINX_CRM_ADMIN="$("$S/crm.sh" admin-url)"
export TEST_NGINX_SQS_ENDPOINT TEST_NGINX_SQS_EMAIL_QUEUE TEST_NGINX_SQS_CRM_QUEUE \
    TEST_NGINX_SQS_EMAIL_DLQ TEST_NGINX_SQS_CRM_DLQ TEST_NGINX_SMTP_URL \
    TEST_NGINX_MAILDEV_API TEST_NGINX_CRM_URL TEST_NGINX_CRM_ADMIN

perl "$REPO/bench/cluster.pl"
