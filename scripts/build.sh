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
# XYZ_SANITIZE=address,undefined (any -fsanitize= list): nginx itself and the
# module, both compiled and linked with -fsanitize=LIST, from the full nginx
# sources of Debian's version (NGINX_SRC, default build/nginx-VERSION, fetched
# from Debian's mirror and checked when missing) with the static modules of Debian's
# /usr/sbin/nginx, for
# `make test-asan` (scripts/test-asan.sh).
#   result: build/asan/nginx  build/asan/ngx_xyz_module.so
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

if [ -n "${NGINX_SRC:-}" ] && [ -z "${XYZ_SANITIZE:-}" ]; then
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

if [ -n "${XYZ_SANITIZE:-}" ]; then
    case "$XYZ_SANITIZE" in
        *[!a-z,-]*)
            echo "build: XYZ_SANITIZE=$XYZ_SANITIZE: expected a list such as address,undefined" >&2
            exit 1 ;;
    esac
    DEBSRC=/usr/share/nginx/src
    if [ ! -f "$DEBSRC/conf_flags" ]; then
        echo "build: $DEBSRC/conf_flags not found; install nginx-dev (scripts/deps.sh)" >&2
        exit 1
    fi
    VER="$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$DEBSRC/src/core/nginx.h")"
    SRC="${NGINX_SRC:-$REPO/build/nginx-$VER}"
    # The release tarball of Debian's version, checked against the hash that
    # Debian's own source package records for nginx_$VER.orig.tar.gz.
    case "$VER" in
        1.22.1) SHA=9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31 ;;
        *) SHA="" ;;
    esac
    if [ -z "${NGINX_SRC:-}" ] && [ ! -f "$SRC/src/core/nginx.c" ] && [ -n "$SHA" ]; then
        # Debian's source package of the installed nginx, from the mirror apt
        # is configured with (the orig tarball is the upstream release)
        mirror="$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/* *$/\1/p' \
                      /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
        if [ -z "$mirror" ]; then
            mirror="$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*debian\)\/* .*/\2/p' \
                          /etc/apt/sources.list 2>/dev/null | head -n 1)"
        fi
        mirror="${mirror:-http://deb.debian.org/debian}"
        url="$mirror/pool/main/n/nginx/nginx_$VER.orig.tar.gz"
        echo "build: fetching Debian's nginx_$VER.orig.tar.gz ($url)"
        tgz="$REPO/build/nginx-$VER.tar.gz"
        mkdir -p "$REPO/build"
        if curl -sSfL --max-time 120 -o "$tgz.tmp" "$url" \
                && echo "$SHA  $tgz.tmp" | sha256sum -c --quiet -; then
            tar -xzf "$tgz.tmp" -C "$REPO/build/"
        else
            echo "build: could not fetch nginx_$VER.orig.tar.gz (or its hash differs)" >&2
        fi
        rm -f "$tgz.tmp"
    fi
    if [ ! -f "$SRC/src/core/nginx.c" ]; then
        cat >&2 <<END
build: XYZ_SANITIZE needs the full nginx $VER sources (Debian's nginx-dev has only
its headers): NGINX_SRC=/path/to/nginx-$VER, or unpack them into build/nginx-$VER:
    apt-get source nginx    (with a deb-src line), or
    curl -O http://deb.debian.org/debian/pool/main/n/nginx/nginx_$VER.orig.tar.gz
    mkdir -p build && tar -xzf nginx_$VER.orig.tar.gz -C build/
(or: git -C /path/to/nginx archive release-$VER | tar -x -C build/nginx-$VER)
END
        exit 1
    fi
    SRC="$(cd "$SRC" && pwd)"
    # shellcheck disable=SC1091
    source "$DEBSRC/conf_flags"        # Debian's own configure flags
    OUT="$REPO/build/asan"
    WORK="$OUT/nginx-src"
    # conf_flags is the subset that module compatibility needs; Debian's binary
    # also has static modules (sub, gzip_static, ...) that configurations use.
    # Its dynamic ones, mail and stream are left out.
    mapfile -t STATIC < <(/usr/sbin/nginx -V 2>&1 | tr ' ' '\n' \
        | grep -E '^--with-[a-z0-9_]+_module$' | grep -vE '^--with-(mail|stream)' || true)
    FLAGS=("${NGX_CONF_FLAGS[@]}")
    for f in "${STATIC[@]}"; do
        case " ${FLAGS[*]} " in *" $f "*) ;; *) FLAGS+=("$f") ;; esac
    done
    # -O1 keeps the reports' stacks readable; the module's -Werror stays on.
    # NGX_DEBUG_PALLOC: every pool allocation is its own malloc, so that ASan
    # sees an overrun of a pool allocation, not just of a whole pool block.
    FLAGS+=("--with-cc-opt=-fsanitize=$XYZ_SANITIZE -fno-omit-frame-pointer -g -O1 -DNGX_DEBUG_PALLOC=1"
           "--with-ld-opt=-fsanitize=$XYZ_SANITIZE")
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
    configure=./configure               # a release tarball
    [ -f "$WORK/configure" ] || configure=auto/configure   # a git checkout
    if ! (cd "$WORK" && "$configure" "${FLAGS[@]}" \
            --add-dynamic-module="$REPO" --builddir="$OBJS" > "$OUT/configure.log" 2>&1); then
        tail -n 40 "$OUT/configure.log" >&2
        echo "build: configure failed; full log: $OUT/configure.log" >&2
        exit 1
    fi
    echo "$want_stamp" > "$STAMP"
fi

if [ -n "${XYZ_SANITIZE:-}" ]; then
    # nginx itself too, from the same sources with the same flags: named frames
    # in every report (Debian's binary is stripped) and instrumented pools.
    echo "build: make binary modules"
    (cd "$WORK" && make -s -j"$JOBS" -f "$OBJS/Makefile" binary modules)
    cp "$OBJS/nginx" "$OUT/nginx.tmp"
    mv -f "$OUT/nginx.tmp" "$OUT/nginx"
    echo "build: $OUT/nginx"
else
    echo "build: make modules"
    (cd "$WORK" && make -s -j"$JOBS" -f "$OBJS/Makefile" modules)
fi

cp "$OBJS/ngx_xyz_module.so" "$OUT/ngx_xyz_module.so.tmp"
mv -f "$OUT/ngx_xyz_module.so.tmp" "$OUT/ngx_xyz_module.so"
echo "build: $OUT/ngx_xyz_module.so"
