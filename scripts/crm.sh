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
            [ -n "$old" ] && log "port $old is taken; moving to $p (the URL changes)"
            echo "$p"
            return
        fi
    done
    die "no free TCP port found"
}

# Is process $1 alive? A zombie counts as gone.
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# Pid of the running server (ours: its command line names the script), else fail.
running_pid() {
    local pid
    [ -s "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$SERVER" || return 1
    echo "$pid"
}

current_port() {
    [ -s "$PORT_FILE" ] || die "no port yet; run: scripts/crm.sh start"
    cat "$PORT_FILE"
}

healthy() {
    curl -sf --max-time 2 -o /dev/null "http://$ADDR:$1/_admin/health"
}

cmd_start() {
    local port pid
    mkdir -p "$RUN"
    if running_pid >/dev/null && healthy "$(current_port)"; then
        return 0
    fi
    command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
    command -v setsid >/dev/null 2>&1 || die "setsid not found (util-linux)"

    # A stale process of ours that does not answer: stop it first.
    cmd_stop

    if [ -f "$LOG_FILE" ] && [ "$(stat -c %s "$LOG_FILE")" -gt 10000000 ]; then
        mv -f "$LOG_FILE" "$LOG_FILE.1"
    fi
    for _ in 1 2 3; do
        port="$(pick_port)"
        echo "$port" > "$PORT_FILE"
        rm -f "$PID_FILE"
        echo "---- $(date -u +%FT%TZ) start on $ADDR:$port" >> "$LOG_FILE"
        # Its own session: a Ctrl-C at the terminal does not reach it; stop does.
        CRM_ADDR="$ADDR" CRM_PORT="$port" CRM_PID_FILE="$PID_FILE" \
            setsid -w node "$SERVER" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
        pid=$!
        for _ in $(seq 1 100); do
            alive "$pid" || break
            if [ -s "$PID_FILE" ] && healthy "$port"; then
                log "started on $ADDR:$port (pid $(cat "$PID_FILE"), log: ${LOG_FILE#"$REPO/"})"
                return 0
            fi
            sleep 0.1
        done
        if alive "$pid"; then
            cmd_stop
            kill -TERM "$pid" 2>/dev/null || true
            tail -n 20 "$LOG_FILE" >&2 || true
            die "fake CRM did not answer within 10 s (log: $LOG_FILE)"
        fi
        wait "$pid" 2>/dev/null || true
        # Most likely the port was taken between the check and the listen: try another.
        tail -n 3 "$LOG_FILE" >&2 || true
    done
    die "could not start the fake CRM (log: $LOG_FILE)"
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

# One start or stop at a time.
lock() {
    mkdir -p "$RUN"
    exec 9>"$RUN/lock"
    flock -w 60 9 || die "another crm.sh start/stop holds $RUN/lock"
}

case "${1:-}" in
    start)     lock; cmd_start ;;
    stop)      lock; cmd_stop ;;
    status)    cmd_status ;;
    url)       echo "http://$ADDR:$(current_port)" ;;
    admin-url) echo "http://$ADDR:$(current_port)/_admin" ;;
    port)      current_port ;;
    *)         echo "usage: $0 start|stop|status|url|admin-url|port" >&2
               exit 2 ;;
esac
