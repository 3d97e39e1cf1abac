#!/usr/bin/env bash
# test-asan.sh — the suites against the module built with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer (`make test-asan`).
#
#   scripts/test-asan.sh              every suite but t/002-fuzz.t (its harnesses
#                                     are ASan and UBSan builds already) and
#                                     t/030-nonblocking.t (a timing bound on 20
#                                     Argon2id hashes that the sanitizers' slowdown
#                                     breaks; its code paths are those of t/010)
#   scripts/test-asan.sh t/foo.t ...  only these (arguments go to prove)
#
# `make test` runs it after scripts/test.sh with XYZ_ASAN_CI=1, over the
# suites in CI_SUITES below: when the nginx sources cannot be had (no
# NGINX_SRC, no build/nginx-VERSION, Debian's mirror unreachable) it says so
# and exits 0 instead of failing.
#
#   XYZ_ASAN_SKIP="t/a.t t/b.t"   leave these suites out of the default set
#
# scripts/test.sh with XYZ_SANITIZE=address,undefined: it builds nginx and the
# module with the sanitizers (build/asan/, see scripts/build.sh) and runs the
# suites with TEST_NGINX_BINARY=scripts/sanitizer-nginx. Each report lands in
# the server root's logs/sanitizer/report.PID (UBSan's in the error log) and
# fails the block (t/lib's runner), or the stop of an nginx a suite runs
# itself (t/lib/XyzTest.pm). t/lsan.suppress, t/ubsan.suppress and
# t/asan.suppress say what is suppressed and why.
# Prints the duration at the end. Exit status: that of prove.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export XYZ_SANITIZE="${XYZ_SANITIZE:-address,undefined}"
# the defaults of scripts/sanitizer-nginx, which adds the suppression files
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-print_suppressions=0}"

if [ "${XYZ_ASAN_CI:-0}" = 1 ]; then
    mkdir -p "$REPO/build"
    if ! "$REPO/scripts/build.sh" > "$REPO/build/asan-build.log" 2>&1; then
        if grep -q 'needs the full nginx' "$REPO/build/asan-build.log"; then
            cat "$REPO/build/asan-build.log" >&2
            echo "test-asan: SKIPPED, no nginx sources for the sanitizer build" >&2
            exit 0
        fi
        cat "$REPO/build/asan-build.log" >&2
        exit 1
    fi
fi

# What `make test` runs under the sanitizers (XYZ_ASAN_CI=1): the suites that
# drive the module's C through every handler, the pool, the relay and the
# dispatcher, without a timing or throughput bound that the sanitizers'
# slowdown would break (those are t/012's and t/082's medians, t/031, t/052,
# t/055, t/085, the browser, the container and the journey suites).
# `make test-asan` runs them all.
CI_SUITES="t/010-register.t t/011-config.t t/015-smuggling.t t/016-input-nul.t
t/032-argon2-arena.t t/033-retry-pace.t
t/017-session-cookie.t t/018-me-cleanup.t t/019-error-bounds.t t/020-pg-outage.t
t/021-pg-multiaddr.t t/022-mail-sender.t t/040-sqs-publish.t t/050-dispatch.t
t/051-dispatch-defects.t t/053-ses-feedback.t t/060-dlq-tool.t t/080-accounts.t
t/083-revocation.t t/093-ready.t"

if [ "$#" -eq 0 ] && [ "${XYZ_ASAN_CI:-0}" = 1 ]; then
    # shellcheck disable=SC2086  # one word a suite
    set -- $CI_SUITES
elif [ "$#" -eq 0 ]; then
    for f in "$REPO"/t/*.t; do
        name="t/$(basename "$f")"
        case " t/002-fuzz.t t/030-nonblocking.t ${XYZ_ASAN_SKIP:-} " in
            *" $name "*) ;;
            *) set -- "$@" "$name" ;;
        esac
    done
fi

start=$(date +%s)
status=0
"$REPO/scripts/test.sh" "$@" || status=$?
echo "test-asan: $(( $(date +%s) - start )) s, exit status $status"
exit "$status"
