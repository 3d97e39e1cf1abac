#!/usr/bin/env bash
# fuzz.sh — build and run the libFuzzer harnesses of t/fuzz/ (`make fuzz`).
#
#   scripts/fuzz.sh                  every harness for FUZZ_SECONDS (default 600) each
#   scripts/fuzz.sh NAME ...         only these (e.g. jwt sqs)
#   scripts/fuzz.sh --build          build only
#
# Each harness is built with Debian's clang, -fsanitize=fuzzer,address,undefined,
# from the same sources as the module (the nginx-free half, ngx_xyz_module/lib/).
# It starts from the seeds in t/fuzz/corpus/NAME/ (committed) and keeps what it
# finds in build/fuzz/corpus/NAME/ (not committed); a crash is written to
# build/fuzz/crash-NAME-* and stops the run with a non-zero status. Every crash
# found becomes a unit test in t/unit/.
#
#   FUZZ_SECONDS=N     seconds per harness
#   FUZZ_RUNS=N        stop a harness after N executions instead (libFuzzer -runs)
#   FUZZ_JOBS=N        parallel fuzzing processes per harness (default 1)
#   FUZZ_OUT=DIR       binaries, logs, corpora and crashes (default build/fuzz)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$REPO/ngx_xyz_module/lib"
FZ="$REPO/t/fuzz"
OUT="${FUZZ_OUT:-$REPO/build/fuzz}"
SECONDS_EACH="${FUZZ_SECONDS:-600}"
JOBS="${FUZZ_JOBS:-1}"
CC="${FUZZ_CC:-clang}"

# harness name -> the module's sources it needs
declare -A SOURCES=(
    [register]="ngx_xyz_json.c ngx_xyz_validate.c ngx_xyz_register_input.c"
    [jwt]="ngx_xyz_json.c ngx_xyz_base64url.c ngx_xyz_jwt.c"
    [cookie_origin]="ngx_xyz_cookie.c ngx_xyz_origin.c"
    [sqs]="ngx_xyz_json.c ngx_xyz_sqs_json.c ngx_xyz_sqs_consume.c"
    [crm]="ngx_xyz_json.c ngx_xyz_template.c ngx_xyz_crm_json.c"
    [aws_creds]="ngx_xyz_aws_creds.c ngx_xyz_uri.c"
    [template]="ngx_xyz_json.c ngx_xyz_template.c ngx_xyz_crm_json.c"
    [mime]="ngx_xyz_mime.c"
    [password]="ngx_xyz_password.c"
    [ses]="ngx_xyz_json.c ngx_xyz_validate.c ngx_xyz_ses_json.c"
)

if ! command -v "$CC" >/dev/null 2>&1 \
   || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
        >/dev/null 2>&1; then
    echo "fuzz: needs clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi

build() {
    local name="$1" srcs=() f
    for f in ${SOURCES[$name]}; do
        srcs+=("$SRC/$f")
    done
    "$CC" -g -O1 -std=c99 -D_DEFAULT_SOURCE \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -fno-omit-frame-pointer -I"$SRC" -I"$FZ" \
        -o "$OUT/fuzz_$name" "$FZ/fuzz_$name.c" "${srcs[@]}" \
        -lyajl -lsodium -lcrypto
}

mkdir -p "$OUT"

build_only=0
if [ "${1:-}" = "--build" ]; then
    build_only=1
    shift
fi

if [ "$#" -gt 0 ]; then
    names=("$@")
else
    mapfile -t names < <(printf '%s\n' "${!SOURCES[@]}" | sort)
fi

status=0
for name in "${names[@]}"; do
    if [ -z "${SOURCES[$name]:-}" ]; then
        echo "fuzz: no harness called $name (have: ${!SOURCES[*]})" >&2
        exit 2
    fi
    echo "==> fuzz_$name: build"
    build "$name"
    [ "$build_only" = 1 ] && continue

    mkdir -p "$OUT/corpus/$name"
    args=(-print_final_stats=1 -max_len=8192 -timeout=10 -rss_limit_mb=2048
          -artifact_prefix="$OUT/crash-$name-")
    if [ -n "${FUZZ_RUNS:-}" ]; then
        args+=(-runs="$FUZZ_RUNS")
    else
        args+=(-max_total_time="$SECONDS_EACH")
    fi
    if [ -f "$FZ/$name.dict" ]; then
        args+=(-dict="$FZ/$name.dict")
    elif [ -f "$FZ/json.dict" ] && grep -q json <<<"${SOURCES[$name]}"; then
        args+=(-dict="$FZ/json.dict")
    fi
    if [ "$JOBS" -gt 1 ]; then
        args+=(-jobs="$JOBS" -workers="$JOBS")
    fi
    if [ -n "${FUZZ_RUNS:-}" ]; then
        echo "==> fuzz_$name: run ($FUZZ_RUNS executions)"
    else
        echo "==> fuzz_$name: run ($SECONDS_EACH s)"
    fi
    if ! "$OUT/fuzz_$name" "${args[@]}" "$OUT/corpus/$name" "$FZ/corpus/$name" \
            2>"$OUT/$name.log"; then
        echo "fuzz: fuzz_$name FAILED; see $OUT/$name.log and $OUT/crash-$name-*" >&2
        tail -40 "$OUT/$name.log" >&2
        status=1
        continue
    fi
    grep -a -E '^stat::(number_of_executed_units|peak_rss_mb)|cov: ' "$OUT/$name.log" \
        | tail -3 | sed "s/^/    fuzz_$name: /"
done
exit "$status"
