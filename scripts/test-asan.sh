#!/usr/bin/env bash
# test-asan.sh — the suites against the module built with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer (`make test-asan`).
#
#   scripts/test-asan.sh              every suite (prove -r t/)
#   scripts/test-asan.sh t/foo.t ...  only these (arguments go to prove)
#
# scripts/test.sh with XYZ_SANITIZE=address,undefined: it builds
# build/asan/ngx_xyz_module.so and runs the suites with
# TEST_NGINX_BINARY=scripts/sanitizer-nginx, Debian's nginx with libasan and
# libubsan preloaded. Each report lands in the server root's
# logs/sanitizer/report.PID and fails the block (t/lib's runner), or the
# second nginx's stop (t/lib/XyzTest.pm). Leaks of the libraries the module
# links are suppressed by t/lsan.suppress (each entry says why).
# Prints the duration at the end. Exit status: that of prove.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export XYZ_SANITIZE="${XYZ_SANITIZE:-address,undefined}"
# the defaults of scripts/sanitizer-nginx, which adds the suppression files
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-print_suppressions=0}"

start=$(date +%s)
status=0
"$REPO/scripts/test.sh" "$@" || status=$?
echo "test-asan: $(( $(date +%s) - start )) s, exit status $status"
exit "$status"
