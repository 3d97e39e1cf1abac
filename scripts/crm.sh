#!/usr/bin/env bash
# crm.sh — the project's fake CRM (scripts/fake-crm.mjs) for local runs and tests.
#
#   scripts/crm.sh start       start it if not running and wait until it answers
#   scripts/crm.sh stop        stop it and wait until it has exited; no-op when stopped
#   scripts/crm.sh status      "running ..." (exit 0) or "stopped" (exit 3)
#   scripts/crm.sh url         the base URL, http://127.0.0.1:PORT (no trailing slash);
#                              the plain API is <url>/contacts, HubSpot's batch upsert
#                              <url>/crm/v3/objects/contacts/batch/upsert
#   scripts/crm.sh admin-url   the admin API, http://127.0.0.1:PORT/_admin
#   scripts/crm.sh port        the TCP port
#
# At start: CRM_LIMIT (calls admitted per sliding second, default 100) and CRM_TOKEN
# (require "Authorization: Bearer <token>"; default none). Both can be changed later
# through the admin API (POST /_admin/limit, /_admin/token).
#
# The server listens on 127.0.0.1 only, on a free port chosen once and kept in
# .run/crm/port (reused while it is free, so a stop and start keeps the URL). Log:
# .run/crm/crm.log (one line per call; appended, moved to crm.log.1 past 10 MB), pid:
# .run/crm/pid. State is in memory only: a stop forgets every record and call.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$REPO/.run/crm"
PORT_FILE="$RUN/port"
PID_FILE="$RUN/pid"
LOG_FILE="$RUN/crm.log"
SERVER="$REPO/scripts/fake-crm.mjs"
ADDR=127.0.0.1

log() { echo "crm: $*" >&2; }
die() { echo "crm: $*" >&2; exit 1; }

# shellcheck source=lib/service.sh
. "$REPO/scripts/lib/service.sh"

SVC_NAME=crm
SVC_TITLE="the fake CRM"
SVC_MATCH="$SERVER"
SVC_WAIT=100

svc_check() {
    command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
}

svc_launch() {
    CRM_ADDR="$ADDR" CRM_PORT="$(current_port)" CRM_PID_FILE="$PID_FILE" \
        setsid -w node "$SERVER" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    SVC_CHILD=$!
}

svc_healthy() {
    curl -sf --max-time 2 -o /dev/null "http://$ADDR:$(current_port)/_admin/health"
}

case "${1:-}" in
    start)     svc_lock; svc_start ;;
    stop)      svc_lock; svc_stop ;;
    status)    svc_status ;;
    url)       echo "http://$ADDR:$(current_port)" ;;
    admin-url) echo "http://$ADDR:$(current_port)/_admin" ;;
    port)      current_port ;;
    *)         echo "usage: $0 start|stop|status|url|admin-url|port" >&2
               exit 2 ;;
esac
