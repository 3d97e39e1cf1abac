#!/usr/bin/env bash
# build.sh — build ngx_xyz_module as a dynamic nginx module, out of the nginx tree.
#
# Default: against Debian's nginx (package nginx-dev, sources in /usr/share/nginx/src),
# configured with the very flags Debian's /usr/sbin/nginx was built with
# (/usr/share/nginx/src/conf_flags), so the module is binary compatible with it.
#   result: build/ngx_xyz_module.so
#
# NGINX_SRC=/path/to/nginx-x.y.z: against that upstream source tree instead
# (./configure --with-compat --with-threads), for an nginx built the same way.
#   result: build/upstream/ngx_xyz_module.so
#
# configure runs again only when the module's `config`, the nginx sources or the
# flags changed, or the objs dir is missing; otherwise only `make modules` runs.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

if [ ! -f "$REPO/config" ]; then
    echo "build: $REPO/config is missing (the module's nginx config script)" >&2
    exit 1
fi

if [ -n "${NGINX_SRC:-}" ]; then
    SRC="$(cd "$NGINX_SRC" && pwd)"
    OUT="$REPO/build/upstream"
    FLAGS=(--with-compat --with-threads)
    # configure writes its top-level Makefile into the source tree; that tree is
    # the operator's own copy, so build in it directly.
    WORK="$SRC"
else
    DEBSRC=/usr/share/nginx/src
    if [ ! -f "$DEBSRC/conf_flags" ]; then
        echo "build: $DEBSRC/conf_flags not found; install nginx-dev (scripts/deps.sh)" >&2
        exit 1
    fi
    # shellcheck disable=SC1091
    source "$DEBSRC/conf_flags"        # defines the array NGX_CONF_FLAGS
    SRC="$DEBSRC"
    OUT="$REPO/build"
    FLAGS=("${NGX_CONF_FLAGS[@]}")
    # configure writes a top-level Makefile into the current directory. To leave
    # /usr/share/nginx/src untouched, work in a tree of symlinks to it under build/.
    WORK="$OUT/nginx-src"
fi

OBJS="$OUT/objs"
STAMP="$OBJS/.xyz-configure-stamp"
mkdir -p "$OUT"

# Everything whose change requires a new configure run.
want_stamp="$( {
    printf '%s\n' "$SRC" "${FLAGS[@]}"
    sha256sum "$REPO/config"
    sha256sum "$SRC/src/core/nginx.h"
} | sha256sum | cut -d' ' -f1 )"

if [ ! -f "$OBJS/Makefile" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want_stamp" ]; then
    if [ "$WORK" != "$SRC" ]; then
        rm -rf "$WORK"
        cp -rs "$SRC" "$WORK"
    fi
    rm -rf "$OBJS"
    echo "build: configure against $SRC (output in $OBJS)"
    if ! (cd "$WORK" && ./configure "${FLAGS[@]}" \
            --add-dynamic-module="$REPO" --builddir="$OBJS" > "$OUT/configure.log" 2>&1); then
        tail -n 40 "$OUT/configure.log" >&2
        echo "build: configure failed; full log: $OUT/configure.log" >&2
        exit 1
    fi
    echo "$want_stamp" > "$STAMP"
fi

echo "build: make modules"
(cd "$WORK" && make -s -j"$JOBS" -f "$OBJS/Makefile" modules)

cp "$OBJS/ngx_xyz_module.so" "$OUT/ngx_xyz_module.so.tmp"
mv -f "$OUT/ngx_xyz_module.so.tmp" "$OUT/ngx_xyz_module.so"
echo "build: $OUT/ngx_xyz_module.so"
