/*
 * lib/ngx_xyz_argon2_arena.c: linked as the module links it (libsodium's
 * archive, mmap and munmap wrapped).
 */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "ngx_xyz_argon2_arena.h"
#include "tap.h"

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
    off_t off);
int __wrap_munmap(void *addr, size_t len);

#define PW      "correct horse battery staple"
#define M       (2048 * 1024)

static int
hash(char *out)
{
    return crypto_pwhash_str(out, PW, strlen(PW), 1, M);
}

int
main(void)
{
    char            a[crypto_pwhash_STRBYTES], b[crypto_pwhash_STRBYTES];
    unsigned char  *p, *q;
    size_t          i;
    int             zero;

    if (sodium_init() < 0) {
        return 1;
    }

    ok(hash(a) == 0 && ngx_xyz_argon2_arena_maps() == 0,
       "a thread that did not arm maps no arena");

    ngx_xyz_argon2_arena_arm();

    ok(hash(b) == 0, "hashes in the arena");
    ok(ngx_xyz_argon2_arena_maps() == 1 && ngx_xyz_argon2_arena_reuses() == 0,
       "the first hash maps the arena");
    ok(ngx_xyz_argon2_arena_size() == M, "of m KiB");

    ok(hash(b) == 0 && hash(b) == 0, "two more hashes");
    ok(ngx_xyz_argon2_arena_maps() == 1 && ngx_xyz_argon2_arena_reuses() == 2,
       "the next ones reuse it");

    ok(crypto_pwhash_str_verify(a, PW, strlen(PW)) == 0,
       "a hash made outside the arena checks in it");
    ok(crypto_pwhash_str_verify(a, "wrong", 5) != 0,
       "and a wrong password does not");
    ok(ngx_xyz_argon2_arena_reuses() == 4, "each check reused the arena");

    ngx_xyz_argon2_arena_disarm();

    ok(crypto_pwhash_str_verify(b, PW, strlen(PW)) == 0,
       "a hash made in the arena checks outside it");
    ok(ngx_xyz_argon2_arena_reuses() == 4, "disarmed, the arena is left alone");

    /* what the last hash left: served again, it must be all zeros */

    ngx_xyz_argon2_arena_arm();

    p = __wrap_mmap(NULL, M, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok(p != MAP_FAILED && ngx_xyz_argon2_arena_reuses() == 5,
       "the arena is lent again");

    zero = (p != MAP_FAILED);

    for (i = 0; zero && i < M; i++) {
        zero = (p[i] == 0);
    }

    ok(zero, "wiped after the hash that used it");

    q = __wrap_mmap(NULL, M, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok(q != MAP_FAILED && q != p && ngx_xyz_argon2_arena_maps() == 1,
       "while lent, another mapping comes from the kernel");

    if (q != MAP_FAILED) {
        memset(q, 1, M);
        ok(__wrap_munmap(q, M) == 0, "and goes back to it");
    }

    if (p != MAP_FAILED) {
        memset(p, 0xa5, 4096);
        ok(__wrap_munmap(p, M) == 0, "the arena is given back");
    }

    p = __wrap_mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok(p != MAP_FAILED && ngx_xyz_argon2_arena_reuses() == 5,
       "a small mapping is the kernel's");

    if (p != MAP_FAILED) {
        ok(__wrap_munmap(p, 4096) == 0, "unmapped by the kernel");
    }

    ok(hash(b) == 0 && ngx_xyz_argon2_arena_size() == M
       && ngx_xyz_argon2_arena_reuses() == 6, "hashing goes on in the arena");

    ok(crypto_pwhash_str(b, PW, strlen(PW), 1, 2 * M) == 0
       && ngx_xyz_argon2_arena_maps() == 2
       && ngx_xyz_argon2_arena_size() == 2 * M,
       "a larger m maps a larger arena in its place");

    ok(crypto_pwhash_str_verify(b, PW, strlen(PW)) == 0
       && ngx_xyz_argon2_arena_reuses() == 7, "which serves it again");

    return done_testing();
}
