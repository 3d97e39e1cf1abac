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

# shellcheck source=lib/service.sh
. "$REPO/scripts/lib/service.sh"

SVC_NAME=mail
SVC_TITLE="maildev"
SVC_MATCH="$MAILDEV"
SVC_WAIT=150

port_of() { svc_port_of "$1"; }

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

svc_healthy() {
    smtp_healthy "$(port_of "$SMTP_PORT_FILE")" && web_healthy "$(port_of "$WEB_PORT_FILE")"
}

svc_check() {
    local major
    command -v node >/dev/null 2>&1 || die "node not found; run scripts/deps.sh"
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "maildev 3.0.0 needs Node.js 20 or later (found $(node --version))"
    [ -f "$MAILDEV" ] || die "node_modules/maildev missing; run scripts/deps.sh"
}

svc_ports() {
    local smtp web
    smtp="$(pick_port "$SMTP_PORT_FILE")"
    web="$(pick_port "$WEB_PORT_FILE" "$smtp")"
    echo "$smtp" > "$SMTP_PORT_FILE"
    echo "$web" > "$WEB_PORT_FILE"
}

svc_where() {
    echo ": SMTP $ADDR:$(port_of "$SMTP_PORT_FILE"), web http://$ADDR:$(port_of "$WEB_PORT_FILE")/"
}

# The shell writes its pid, then becomes node. Started in .run/mail so that maildev
# finds no configuration file of ours (it looks in the working directory and its
# parents). Raw messages go to $TMPDIR/maildev, emptied at every start.
svc_launch() {
    local smtp web v
    smtp="$(port_of "$SMTP_PORT_FILE")"
    web="$(port_of "$WEB_PORT_FILE")"
    rm -rf "$TMP_DIR"
    mkdir -p "$TMP_DIR"
    (
        # Only the command line configures it: no MAILDEV_* variable from the caller.
        for v in $(compgen -e); do
            case "$v" in MAILDEV_*) unset "$v" ;; esac
        done
        cd "$RUN"
        # shellcheck disable=SC2016  # $$ and $@ are for the inner sh
        TMPDIR="$TMP_DIR" exec setsid -w sh -c 'echo $$ > "$0"; exec "$@"' "$PID_FILE" \
            node "$MAILDEV" --ip "$ADDR" --smtp "$smtp" --web-ip "$ADDR" --web "$web" \
            </dev/null >>"$LOG_FILE" 2>&1 9>&-
    ) &
    SVC_CHILD=$!
}

case "${1:-}" in
    start)     svc_lock; svc_start ;;
    stop)      svc_lock; svc_stop ;;
    status)    svc_status ;;
    smtp-url)  echo "smtp://$ADDR:$(port_of "$SMTP_PORT_FILE")" ;;
    web-url)   echo "http://$ADDR:$(port_of "$WEB_PORT_FILE")/" ;;
    api-url)   echo "http://$ADDR:$(port_of "$WEB_PORT_FILE")/api" ;;
    smtp-port) port_of "$SMTP_PORT_FILE" ;;
    web-port)  port_of "$WEB_PORT_FILE" ;;
    *)         echo "usage: $0 start|stop|status|smtp-url|web-url|api-url|smtp-port|web-port" >&2
               exit 2 ;;
esac
