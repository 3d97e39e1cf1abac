
/*
 * Copyright (C) the XYZ sign-up authors
 */


#ifndef _NGX_XYZ_ARGON2_ARENA_H_INCLUDED_
#define _NGX_XYZ_ARGON2_ARENA_H_INCLUDED_


#include <stddef.h>


/*
 * Argon2id's working memory, kept by a hashing thread from one hash to the
 * next.
 *
 * libsodium maps each hash's memory (m KiB, 19 MiB at the production
 * parameters) with mmap(MAP_POPULATE) and unmaps it afterwards: the kernel
 * zeroes and maps every page again for every hash.  On the 2-core machine
 * of docs/benchmarks.md that was more than half of a hash's CPU (user 4.2 s,
 * system 4.9 s for 627 hashes).  The module links libsodium statically
 * with its mmap() and munmap() calls wrapped (ld --wrap, see config): in a
 * thread that has called ngx_xyz_argon2_arena_arm(), the first large
 * anonymous mapping is kept and handed out again, and its "unmapping"
 * wipes it (sodium_memzero) instead of returning it to the kernel.
 *
 * Only the arming thread's calls are served from its arena, one mapping at
 * a time; every other call goes to the kernel as before.
 */

/* from this size on a mapping is Argon2id's memory (libsodium maps only
 * that; its smallest at the module's minimum m=64 is below it: those go
 * to the kernel) */
#define NGX_XYZ_ARGON2_ARENA_MIN  (1024 * 1024)


void ngx_xyz_argon2_arena_arm(void);
void ngx_xyz_argon2_arena_disarm(void);

/* the size kept by the calling thread (0: none yet) */
size_t ngx_xyz_argon2_arena_size(void);

/* the calling thread's arena mappings made, and served again */
unsigned long ngx_xyz_argon2_arena_maps(void);
unsigned long ngx_xyz_argon2_arena_reuses(void);


#endif /* _NGX_XYZ_ARGON2_ARENA_H_INCLUDED_ */
