# shellcheck shell=bash
# scripts/lib/ports.sh — free TCP ports for the stand-in services, nginx and the
# benches. Sourced; the caller defines log and die (messages on stderr).

# port_free PORT [ADDR] — is TCP port PORT on ADDR (default 127.0.0.1) free to
# listen on?
port_free() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => $ARGV[1], LocalPort => $ARGV[0],
                                      Proto => "tcp", ReuseAddr => 1, Listen => 1);
        exit($s ? 0 : 1);' "$1" "${2:-127.0.0.1}"
}

# pick_port [FILE [AVOID]] — the port recorded in FILE if it is free (and not AVOID),
# else a new free one. A service keeps its URL across a stop and start this way.
# shellcheck disable=SC2120  # the benches want any free port: no FILE
pick_port() {
    local file="${1:-}" avoid="${2:-}" p old=""
    if [ -n "$file" ] && [ -s "$file" ]; then
        old="$(cat "$file")"
        if [ "$old" != "$avoid" ] && port_free "$old"; then echo "$old"; return; fi
    fi
    # Below the kernel's ephemeral range (32768+), so outgoing connections (wrk's,
    # curl's) never take it.
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 12000 ))
        if [ "$p" != "$avoid" ] && port_free "$p"; then
            [ -n "$old" ] && log "port $old is taken; moving to $p (the URL changes)" >&2
            echo "$p"
            return
        fi
    done
    die "no free TCP port found"
}
