# shellcheck shell=bash
# scripts/lib/service.sh — the life of a stand-in service (the fake CRM, the SQS
# emulator, the mail catcher): a node process in its own session, its pid in
# PID_FILE, its ports in files under RUN, its output appended to LOG_FILE.
# Sourced by scripts/crm.sh, sqs.sh and mail.sh, which set
#   SVC_NAME   the script's name in messages (crm)
#   SVC_TITLE  what is started, in messages (the fake CRM)
#   SVC_MATCH  a string of the server's command line: a pid is ours only if its
#              command line holds it
#   SVC_WAIT   how long a start may take to answer, in tenths of a second
#   RUN PID_FILE LOG_FILE REPO ADDR, and PORT_FILE for a server with one port
# and define log and die, and the hooks
#   svc_launch  starts the server in the background, its pid in SVC_CHILD, its
#               output appended to LOG_FILE; the server writes PID_FILE
#   svc_healthy does it answer on the recorded ports?
# and where the defaults below do not fit
#   svc_check   what the server needs (node, its package); dies when missing
#   svc_ports   picks the ports (pick_port) and records them in their files
#   svc_where   prints where it listens, from those files (" on 127.0.0.1:PORT")
#   svc_ready   what follows an answer (the queues of the SQS emulator)

# shellcheck source=ports.sh
. "${BASH_SOURCE[0]%/*}/ports.sh"

# Is process $1 alive? A zombie counts as gone.
svc_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# Pid of the running server (ours: its command line holds SVC_MATCH), else fail.
svc_running_pid() {
    local pid
    [ -s "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    svc_alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$SVC_MATCH" || return 1
    echo "$pid"
}

# svc_port_of FILE — the port recorded in FILE.
svc_port_of() {
    [ -s "$1" ] || die "no port yet; run: scripts/$SVC_NAME.sh start"
    cat "$1"
}

# Start the server if it is not running and answering, and wait until it answers.
svc_start() {
    local pid
    mkdir -p "$RUN"
    if svc_running_pid >/dev/null && svc_healthy; then
        svc_ready
        return 0
    fi
    command -v setsid >/dev/null 2>&1 || die "setsid not found (util-linux)"
    svc_check

    # A stale process of ours that does not answer: stop it first.
    svc_stop

    # Keep one old log, at most about 10 MB each.
    if [ -f "$LOG_FILE" ] && [ "$(stat -c %s "$LOG_FILE")" -gt 10000000 ]; then
        mv -f "$LOG_FILE" "$LOG_FILE.1"
    fi
    for _ in 1 2 3; do
        svc_ports
        rm -f "$PID_FILE"
        echo "---- $(date -u +%FT%TZ) start$(svc_where)" >> "$LOG_FILE"
        # Its own session: a Ctrl-C at the terminal does not reach it; stop does.
        svc_launch
        pid="$SVC_CHILD"
        for _ in $(seq 1 "$SVC_WAIT"); do
            svc_alive "$pid" || break
            if [ -s "$PID_FILE" ] && svc_healthy; then
                svc_ready
                log "started$(svc_where) (pid $(cat "$PID_FILE"), log: ${LOG_FILE#"$REPO/"})"
                return 0
            fi
            sleep 0.1
        done
        if svc_alive "$pid"; then
            svc_stop
            kill -TERM "$pid" 2>/dev/null || true
            tail -n 20 "$LOG_FILE" >&2 || true
            die "$SVC_TITLE did not answer within $(( SVC_WAIT / 10 )) s (log: $LOG_FILE)"
        fi
        wait "$pid" 2>/dev/null || true
        # Most likely a port was taken between the check and the listen: try again.
        tail -n 3 "$LOG_FILE" >&2 || true
    done
    die "could not start $SVC_TITLE (log: $LOG_FILE)"
}

# Stop the server and wait until it has exited (TERM, then KILL after 5 s); no-op
# when it is not running.
svc_stop() {
    local pid
    pid="$(svc_running_pid)" || { rm -f "$PID_FILE"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        svc_alive "$pid" || break
        sleep 0.05
    done
    if svc_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do svc_alive "$pid" || break; sleep 0.05; done
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

# "running <where> (pid N)" (exit 0) or "stopped" (exit 3).
svc_status() {
    local pid
    if pid="$(svc_running_pid)"; then
        echo "running$(svc_where) (pid $pid)"
    else
        echo "stopped"
        return 3
    fi
}

# One start or stop at a time (e.g. two test runs starting together).
svc_lock() {
    mkdir -p "$RUN"
    exec 9>"$RUN/lock"
    flock -w 60 9 || die "another $SVC_NAME.sh start/stop holds $RUN/lock"
}

# The defaults of the hooks: one port, kept in PORT_FILE.
current_port() { svc_port_of "$PORT_FILE"; }

svc_ports() {
    local port
    port="$(pick_port "$PORT_FILE")"
    echo "$port" > "$PORT_FILE"
}

svc_where() { echo " on $ADDR:$(current_port)"; }

svc_check() { :; }
svc_ready() { :; }
