# shellcheck shell=bash
# scripts/lib/nginx.sh — stopping an nginx that a bench started. Sourced; the
# caller defines warn.

# nginx_stop_prefix PREFIX [SECONDS] — stop the nginx whose pid file is
# PREFIX/logs/nginx.pid: graceful (QUIT), then TERM after SECONDS (default 10),
# then a warning if it is still there 5 s later. No-op when it is not running.
nginx_stop_prefix() {
    local prefix="$1" tenths=$(( ${2:-10} * 10 )) pid
    [ -s "$prefix/logs/nginx.pid" ] || return 0
    pid="$(cat "$prefix/logs/nginx.pid")"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    warn "nginx (pid $pid, prefix $prefix) did not stop"
}
