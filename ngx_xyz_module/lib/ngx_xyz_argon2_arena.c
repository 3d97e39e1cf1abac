
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The arena of ngx_xyz_argon2_arena.h: ld's --wrap=mmap --wrap=munmap
 * sends libsodium's (statically linked) mmap() and munmap() calls here.
 */


#include "ngx_xyz_argon2_arena.h"

#include <sys/mman.h>

#include <sodium.h>


void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
    off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
    off_t off);
int __wrap_munmap(void *addr, size_t len);


static __thread int      ngx_xyz_arena_armed;
static __thread int      ngx_xyz_arena_lent;
static __thread void    *ngx_xyz_arena;
static __thread size_t   ngx_xyz_arena_len;
static __thread unsigned long  ngx_xyz_arena_nmaps;
static __thread unsigned long  ngx_xyz_arena_nreuses;


void
ngx_xyz_argon2_arena_arm(void)
{
    ngx_xyz_arena_armed = 1;
}


void
ngx_xyz_argon2_arena_disarm(void)
{
    ngx_xyz_arena_armed = 0;
}


size_t
ngx_xyz_argon2_arena_size(void)
{
    return ngx_xyz_arena_len;
}


unsigned long
ngx_xyz_argon2_arena_maps(void)
{
    return ngx_xyz_arena_nmaps;
}


unsigned long
ngx_xyz_argon2_arena_reuses(void)
{
    return ngx_xyz_arena_nreuses;
}


void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void  *p;

    if (!ngx_xyz_arena_armed
        || ngx_xyz_arena_lent
        || addr != NULL
        || fd != -1
        || !(flags & MAP_ANONYMOUS)
        || len < NGX_XYZ_ARGON2_ARENA_MIN
        || prot != (PROT_READ | PROT_WRITE))
    {
        return __real_mmap(addr, len, prot, flags, fd, off);
    }

    if (ngx_xyz_arena != NULL && ngx_xyz_arena_len >= len) {
        ngx_xyz_arena_lent = 1;
        ngx_xyz_arena_nreuses++;
        return ngx_xyz_arena;
    }

    /* the thread's first hash, or one with a larger m than before */

    p = __real_mmap(NULL, len, prot, flags, -1, 0);

    if (p == MAP_FAILED) {
        return p;
    }

    if (ngx_xyz_arena != NULL) {
        (void) __real_munmap(ngx_xyz_arena, ngx_xyz_arena_len);
    }

    ngx_xyz_arena = p;
    ngx_xyz_arena_len = len;
    ngx_xyz_arena_lent = 1;

    ngx_xyz_arena_nmaps++;

    return p;
}


int
__wrap_munmap(void *addr, size_t len)
{
    if (addr == NULL || addr != ngx_xyz_arena || !ngx_xyz_arena_lent) {
        return __real_munmap(addr, len);
    }

    /*
     * The blocks of the hash just made stay in the process until the next
     * one overwrites them; a memory disclosure would let an attacker test
     * guesses of that password with less work than a full hash.  Wiping
     * costs about 5 % of a hash (docs/benchmarks.md).
     */

    sodium_memzero(addr, len);

    ngx_xyz_arena_lent = 0;

    return 0;
}
