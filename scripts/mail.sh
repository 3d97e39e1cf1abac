#!/usr/bin/env bash
# mail.sh — the local mail catcher (maildev 3.0.0 from node_modules/) for local runs
# and tests: an SMTP sink that keeps every message, with a web UI and a REST API.
#
#   scripts/mail.sh start      start it if not running and wait until both the SMTP
#                              server and the web server answer
#   scripts/mail.sh stop       stop it and wait until it has exited; no-op when stopped
#   scripts/mail.sh status     "running ..." (exit 0) or "stopped" (exit 3)
#   scripts/mail.sh smtp-url   smtp://127.0.0.1:PORT
#   scripts/mail.sh web-url    http://127.0.0.1:PORT/   (the web UI, for people)
#   scripts/mail.sh api-url    http://127.0.0.1:PORT/api   (the REST API: GET /email,
#                              GET /email/:id, GET /email/:id/source, DELETE /email/all,
#                              GET /healthz)
#   scripts/mail.sh smtp-port, web-port   the TCP ports
#
# Both servers listen on 127.0.0.1 only, each on a free port chosen once and kept in
# .run/mail/smtp-port and .run/mail/web-port (reused while free, so a stop and start
# keeps the URLs). Plain SMTP: no STARTTLS, no AUTH (maildev hides both when no
# incoming user is configured); any sender and recipient are accepted. Messages are
# kept in memory (the raw .eml files maildev writes go to .run/mail/tmp/, emptied at
# every start): a stop loses them all. Log: .run/mail/maildev.log (appended; moved to
# maildev.log.1 past 10 MB), pid: .run/mail/pid.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="$REPO/.run/mail"
SMTP_PORT_FILE="$RUN/smtp-port"
WEB_PORT_FILE="$RUN/web-port"
PID_FILE="$RUN/pid"
LOG_FILE="$RUN/maildev.log"
TMP_DIR="$RUN/tmp"
MAILDEV="$REPO/node_modules/maildev/dist/bin/maildev.js"
ADDR=127.0.0.1

log() { echo "mail: $*" >&2; }
die() { echo "mail: $*" >&2; exit 1; }

# Is TCP port $1 on 127.0.0.1 free to listen on?
port_free() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                                      Proto => "tcp", ReuseAddr => 1, Listen => 1);
        exit($s ? 0 : 1);' "$1"
}

# pick_port FILE [AVOID] — the port recorded in FILE if it is free (and not AVOID),
# else a new free one.
pick_port() {
    local file="$1" avoid="${2:-}" p old=""
    if [ -s "$file" ]; then
        old="$(cat "$file")"
        if [ "$old" != "$avoid" ] && port_free "$old"; then echo "$old"; return; fi
    fi
    # Below the kernel's ephemeral range (32768+), so outgoing connections never take it.
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        if [ "$p" != "$avoid" ] && port_free "$p"; then
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

# Pid of the running maildev (ours: its command line names our copy), else fail.
running_pid() {
    local pid
    [ -s "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$MAILDEV" || return 1
    echo "$pid"
}

port_of() {
    [ -s "$1" ] || die "no port yet; run: scripts/mail.sh start"
    cat "$1"
}

# Does the SMTP server on port $1 greet with 220?
smtp_healthy() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0],
                                      Proto => "tcp", Timeout => 2) or exit 1;
        $s->timeout(2);
        local $SIG{ALRM} = sub { exit 1 };
        alarm 2;
        my $line = <$s>;
        print $s "QUIT\r\n";
        exit(defined $line && $line =~ /^220[ -]/ ? 0 : 1);' "$1"
}

web_healthy() {
    curl -sf --max-time 2 -o /dev/null "http://$ADDR:$1/api/healthz"
}

healthy() {
    smtp_healthy "$1" && web_healthy "$2"
}

cmd_start() {
    local smtp web pid major v
    mkdir -p "$RUN"
    if running_pid >/dev/null && healthy "$(port_of "$SMTP_PORT_FILE")" "$(port_of "$WEB_PORT_FILE")"; then
        return 0
    fi
    command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "maildev 3.0.0 needs Node.js 20 or later (found $(node --version))"
    [ -f "$MAILDEV" ] || die "node_modules/maildev missing; run scripts/deps.sh"
    command -v setsid >/dev/null 2>&1 || die "setsid not found (util-linux)"

    # A stale process of ours that does not answer: stop it first.
    cmd_stop

    if [ -f "$LOG_FILE" ] && [ "$(stat -c %s "$LOG_FILE")" -gt 10000000 ]; then
        mv -f "$LOG_FILE" "$LOG_FILE.1"
    fi
    # Only the command line configures it: no MAILDEV_* variable from the caller.
    for v in $(compgen -e); do
        case "$v" in MAILDEV_*) unset "$v" ;; esac
    done
    for _ in 1 2 3; do
        smtp="$(pick_port "$SMTP_PORT_FILE")"
        web="$(pick_port "$WEB_PORT_FILE" "$smtp")"
        echo "$smtp" > "$SMTP_PORT_FILE"
        echo "$web" > "$WEB_PORT_FILE"
        rm -f "$PID_FILE"
        rm -rf "$TMP_DIR"
        mkdir -p "$TMP_DIR"
        echo "---- $(date -u +%FT%TZ) start: SMTP $ADDR:$smtp, web $ADDR:$web" >> "$LOG_FILE"
        # Its own session: a Ctrl-C at the terminal does not reach it; stop does.
        # The shell writes its pid, then becomes node. Started in .run/mail so that
        # maildev finds no configuration file of ours (it looks in the working
        # directory and its parents). Raw messages go to $TMPDIR/maildev.
        (
            cd "$RUN"
            # shellcheck disable=SC2016  # $$ and $@ are for the inner sh
            TMPDIR="$TMP_DIR" exec setsid -w sh -c 'echo $$ > "$0"; exec "$@"' "$PID_FILE" \
                node "$MAILDEV" --ip "$ADDR" --smtp "$smtp" --web-ip "$ADDR" --web "$web" \
                </dev/null >>"$LOG_FILE" 2>&1 9>&-
        ) &
        pid=$!
        for _ in $(seq 1 150); do
            alive "$pid" || break
            if [ -s "$PID_FILE" ] && healthy "$smtp" "$web"; then
                log "started: SMTP $ADDR:$smtp, web http://$ADDR:$web/ (pid $(cat "$PID_FILE"), log: ${LOG_FILE#"$REPO/"})"
                return 0
            fi
            sleep 0.1
        done
        if alive "$pid"; then
            cmd_stop
            kill -TERM "$pid" 2>/dev/null || true
            tail -n 20 "$LOG_FILE" >&2 || true
            die "maildev did not answer within 15 s (log: $LOG_FILE)"
        fi
        wait "$pid" 2>/dev/null || true
        # Most likely a port was taken between the check and the listen: try others.
        tail -n 3 "$LOG_FILE" >&2 || true
    done
    die "could not start maildev (log: $LOG_FILE)"
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
        echo "running: SMTP $ADDR:$(port_of "$SMTP_PORT_FILE"), web $ADDR:$(port_of "$WEB_PORT_FILE") (pid $pid)"
    else
        echo "stopped"
        return 3
    fi
}

# One start or stop at a time.
lock() {
    mkdir -p "$RUN"
    exec 9>"$RUN/lock"
    flock -w 60 9 || die "another mail.sh start/stop holds $RUN/lock"
}

case "${1:-}" in
    start)     lock; cmd_start ;;
    stop)      lock; cmd_stop ;;
    status)    cmd_status ;;
    smtp-url)  echo "smtp://$ADDR:$(port_of "$SMTP_PORT_FILE")" ;;
    web-url)   echo "http://$ADDR:$(port_of "$WEB_PORT_FILE")/" ;;
    api-url)   echo "http://$ADDR:$(port_of "$WEB_PORT_FILE")/api" ;;
    smtp-port) port_of "$SMTP_PORT_FILE" ;;
    web-port)  port_of "$WEB_PORT_FILE" ;;
    *)         echo "usage: $0 start|stop|status|smtp-url|web-url|api-url|smtp-port|web-port" >&2
               exit 2 ;;
esac
