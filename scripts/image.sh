#!/usr/bin/env bash
# image.sh — build the container image without a Docker engine (`make image`).
#
#   scripts/image.sh              build xyz-signup:latest from ./Dockerfile
#   scripts/image.sh base         only make (or reuse) the Debian base image
#   scripts/image.sh size         print the image's size in bytes
#
# Debian's podman with the runc runtime (crun refuses cgroup v1 hybrid hosts).
# There is no registry here: the base `debian:bookworm` is made once by
# debootstrap (--variant=minbase) from the Debian mirror apt is configured
# with, imported into podman and tagged docker.io/library/debian:bookworm, so
# that the Dockerfile's unchanged `FROM debian:bookworm` resolves with
# --pull=never. The tree's tarball is kept in .run/image/ (git-ignored) so a
# removed podman store is refilled in seconds; delete .run/image/ to start over.
# Where a Docker engine exists, `docker build -t xyz-signup .` builds the same
# image from the same Dockerfile.
#
# Environment: XYZ_IMAGE (tag, default localhost/xyz-signup:latest),
# XYZ_PODMAN (command, default "podman --runtime runc").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.run/image"
IMAGE="${XYZ_IMAGE:-localhost/xyz-signup:latest}"
BASE=docker.io/library/debian:bookworm
read -r -a PODMAN <<< "${XYZ_PODMAN:-podman --runtime runc}"
# The default limits podman asks for cannot be set on this kind of host.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

log() { echo "image: $*" >&2; }

# The mirror apt itself uses (deb822 sources first, then sources.list).
mirror() {
    local m
    m="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources \
        | awk '{print $2}' | grep -v security | head -n1 || true)"
    if [ -z "$m" ]; then
        m="$(grep -hs '^deb ' /etc/apt/sources.list \
            | awk '{print $2}' | grep -v security | head -n1 || true)"
    fi
    echo "${m:-http://deb.debian.org/debian}"
}

base() {
    if "${PODMAN[@]}" image exists "$BASE"; then
        return 0
    fi
    mkdir -p "$CACHE"
    if [ ! -s "$CACHE/bookworm-minbase.tar" ]; then
        local root="$CACHE/rootfs" t0=$SECONDS
        rm -rf "$root"
        log "debootstrap --variant=minbase bookworm from $(mirror) (a minute or two)"
        debootstrap --variant=minbase bookworm "$root" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 \
            || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -cf "$CACHE/bookworm-minbase.tar.tmp" .
        mv -f "$CACHE/bookworm-minbase.tar.tmp" "$CACHE/bookworm-minbase.tar"
        rm -rf "$root"
        log "base tree made in $((SECONDS - t0)) s"
    fi
    "${PODMAN[@]}" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        "$CACHE/bookworm-minbase.tar" localhost/debian:bookworm >/dev/null
    "${PODMAN[@]}" tag localhost/debian:bookworm "$BASE"
}

build() {
    local t0=$SECONDS
    base
    log "building $IMAGE"
    "${PODMAN[@]}" build --pull=never --network host "${ULIMITS[@]}" \
        -t "$IMAGE" -f "$REPO/Dockerfile" "$REPO" >&2
    log "built $IMAGE in $((SECONDS - t0)) s, $(size) bytes"
}

size() {
    "${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE"
}

if ! command -v podman >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    log "podman and debootstrap are needed (scripts/deps.sh installs them)"
    exit 1
fi

case "${1:-build}" in
    base)  base ;;
    build) build ;;
    size)  size ;;
    *) echo "usage: $0 [build|base|size]" >&2; exit 2 ;;
esac
