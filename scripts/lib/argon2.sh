# shellcheck shell=bash
# scripts/lib/argon2.sh — building bench/argon2_rate.c, the raw Argon2id rate.
# Sourced; the caller defines REPO.

# build_argon2_rate OUT — linked as config links the module: libsodium's
# archive with mmap and munmap wrapped (lib/ngx_xyz_argon2_arena.c), so that
# -a keeps each thread's Argon2id memory as the module's hashing threads do,
# and without -a libsodium maps it for every hash, as packaged.
build_argon2_rate() {
    cc -O2 -Wall -Wextra -pthread -I"$REPO/ngx_xyz_module/lib" "$REPO/bench/argon2_rate.c" \
        "$REPO/ngx_xyz_module/lib/ngx_xyz_argon2_arena.c" -o "$1" \
        -Wl,--wrap=mmap -Wl,--wrap=munmap -l:libsodium.a
}
