#!/usr/bin/env bash
# deps.sh — install what the project needs on Debian 12, and nothing more.
#
# Checks every Debian package with dpkg first; apt-get (update + install) runs only
# when something is missing, so a second run takes well under a second.
# Services are kept from starting during the install (policy-rc.d), and Debian's
# own nginx service (the one using /etc/nginx/nginx.conf, pid file /run/nginx.pid)
# is stopped afterwards so that it does not hold port 80. nginx processes started
# by the project (other prefixes/pid files) are never touched.
# Must run as root (or skip installation when everything is already present).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
    nginx nginx-dev build-essential
    libpq-dev libsodium-dev libyajl-dev libcurl4-openssl-dev libssl-dev
    postgresql postgresql-contrib
    libtest-base-perl libwww-perl libjson-pp-perl
    wrk curl ca-certificates
    # the browser tests (t/070-browser.t) and `make screenshots`: Debian's
    # chromium, driven by playwright-core from npm; a font for the pictures
    chromium fonts-dejavu-core
    # the libFuzzer harnesses (t/002-fuzz.t, `make fuzz`)
    clang libclang-rt-14-dev
    # the container image (`make image`, t/090-container.t, t/091-kube.t):
    # podman with runc (crun fails on cgroup v1 hybrid hosts), and
    # debootstrap for the base image (there is no registry to pull from);
    # catatonit for the pods of `podman kube play` (t/091-kube.t)
    podman runc debootstrap catatonit
    # the plots of `make bench-journey` and `make bench-open`
    gnuplot-nox
    # `make bench-runtime`: Java's BouncyCastle Argon2id next to libsodium and Node's
    default-jdk-headless libbcprov-java
    # npm ci builds the argon2 package from its sources (its prebuilt linux-x64
    # binary crashes with Debian's Node): node-gyp needs Python, the compiler
    # comes with build-essential, the headers with Node
    python3
)
# Node.js from Debian only when no node is installed at all (another build may be present).
# The SQS emulator (fauxqs 1.9.2) needs Node.js 20 or later; scripts/sqs.sh says so
# when the node found is older.
if ! command -v node >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm libnode-dev)
fi

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
done

# Stop Debian's nginx service if it runs with the system configuration.
stop_system_nginx() {
    local pidfile=/run/nginx.pid pid
    if [ -s "$pidfile" ]; then
        pid="$(cat "$pidfile")"
        if kill -0 "$pid" 2>/dev/null; then
            echo "deps: stopping Debian's nginx service (pid $pid, /etc/nginx/nginx.conf)"
            if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
                systemctl stop nginx >/dev/null 2>&1 || true
                systemctl disable nginx >/dev/null 2>&1 || true
            else
                service nginx stop >/dev/null 2>&1 || true
            fi
            # Still there? Stop the master found via the system pid file, and only it.
            if kill -0 "$pid" 2>/dev/null; then
                kill -QUIT "$pid" 2>/dev/null || true
                for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
                kill -TERM "$pid" 2>/dev/null || true
            fi
        fi
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages: ${missing[*]} (run this script as root)" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep services (nginx on :80, the distribution's PostgreSQL cluster) from starting.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    cleanup_policy() { if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
    trap cleanup_policy EXIT
    apt-get update -qq
    apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}"
    cleanup_policy
    trap - EXIT
fi

stop_system_nginx

# ---- npm packages (local to the repository, in node_modules/) ----------------------
# package.json pins them (fauxqs, the SQS emulator, ...); package-lock.json is committed.
# `npm ci` runs when node_modules/ is missing or was installed from another
# package.json/package-lock.json (their checksums are kept in a stamp file inside
# node_modules/). Nothing is installed globally.
if [ -f "$REPO/package.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "deps: package.json present but npm is missing" >&2
        exit 1
    fi
    stamp="$REPO/node_modules/.xyz-deps-stamp"
    lock="$REPO/package-lock.json"
    inputs=(package.json)
    [ -f "$lock" ] && inputs+=(package-lock.json)
    want="$(cd "$REPO" && sha256sum "${inputs[@]}")"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "deps: installing npm packages into node_modules/"
        if [ -f "$lock" ]; then
            (cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error)
        else
            (cd "$REPO" && npm install --no-audit --no-fund --loglevel=error)
        fi
        echo "$want" > "$stamp"
    fi
fi
