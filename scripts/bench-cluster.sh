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

# shellcheck source=lib/stack.sh
. "$S/lib/stack.sh"
trap stack_stop EXIT

stack_start pg sqs mail crm
"$S/pg.sh" recreate-db xyz_cluster
DSN="$("$S/pg.sh" url xyz_cluster)"
"$S/migrate.sh" "$DSN" >/dev/null

export XYZ_ROOT="$REPO" PERL5LIB="$REPO/t/lib${PERL5LIB:+:$PERL5LIB}"
export TEST_NGINX_PG_DSN="$DSN"
stack_test_env

perl "$REPO/bench/cluster.pl"
