
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * argon2_rate — the raw Argon2id rate of this machine: how many password
 * hashes per second T threads produce with libsodium, with nothing else
 * going on (no HTTP, no database).  It is the baseline the registration
 * benchmark is compared with (scripts/bench.sh).
 *
 * Each thread calls crypto_pwhash_str_alg(..., ARGON2ID13) in a loop, the
 * very call ngx_xyz_module makes on its thread pool, with the same
 * parameters: memlimit = m KiB, opslimit = t (libsodium always uses p=1).
 * By default each hash's memory is mapped and unmapped by libsodium, as
 * packaged: the baseline.  With -a each thread keeps it between
 * hashes, as the module's hashing threads do
 * (ngx_xyz_module/lib/ngx_xyz_argon2_arena.c): the module's hashing with
 * nothing else going on.
 * After D seconds the threads are told to stop; each finishes the hash it
 * is working on, and the rate is all completed hashes divided by the wall
 * time until the last thread is done.
 *
 *   argon2_rate [-a] [-t threads] [-d seconds] [-m KiB] [-i iterations]
 *
 * Output: one line per thread on stderr, then one line on stdout:
 *   threads=2 m=19456 t=2 seconds=10.041 hashes=346 rate=34.46 memory=mapped
 *
 * Build (as config links the module):
 *   cc -O2 -pthread -I ngx_xyz_module/lib argon2_rate.c \
 *      ngx_xyz_module/lib/ngx_xyz_argon2_arena.c -o argon2_rate \
 *      -Wl,--wrap=mmap -Wl,--wrap=munmap -l:libsodium.a
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ngx_xyz_argon2_arena.h"


typedef struct {
    pthread_t            tid;
    unsigned             id;
    unsigned long long   opslimit;
    size_t               memlimit;
    unsigned long        hashes;
    int                  failed;
} argon2_rate_worker_t;


static atomic_int  argon2_rate_stop;
static int         argon2_rate_arena;


static double
argon2_rate_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static void *
argon2_rate_thread(void *data)
{
    argon2_rate_worker_t  *w = data;

    char  out[crypto_pwhash_STRBYTES];
    char  password[32];
    int   len;

    if (argon2_rate_arena) {
        ngx_xyz_argon2_arena_arm();
    }

    while (!atomic_load(&argon2_rate_stop)) {

        /* a different 20-odd character password each time, like the
         * registrations the module hashes */
        len = snprintf(password, sizeof(password), "bench-pw-%u-%lu",
                       w->id, w->hashes);

        if (crypto_pwhash_str_alg(out, password, (unsigned long long) len,
                                  w->opslimit, w->memlimit,
                                  crypto_pwhash_ALG_ARGON2ID13)
            != 0)
        {
            w->failed = 1;   /* out of memory */
            break;
        }

        w->hashes++;
    }

    return NULL;
}


static unsigned long
argon2_rate_arg(const char *name, const char *s, unsigned long min)
{
    char           *end;
    unsigned long   v;

    errno = 0;
    v = strtoul(s, &end, 10);

    if (errno != 0 || *s == '\0' || *end != '\0' || v < min) {
        fprintf(stderr, "argon2_rate: invalid %s \"%s\"\n", name, s);
        exit(2);
    }

    return v;
}


int
main(int argc, char **argv)
{
    int                    opt, failed;
    double                 start, elapsed;
    unsigned               i;
    unsigned long          threads, seconds, m, t, total;
    argon2_rate_worker_t  *workers;

    threads = (unsigned long) sysconf(_SC_NPROCESSORS_ONLN);
    seconds = 10;
    m = 19456;
    t = 2;

    while ((opt = getopt(argc, argv, "at:d:m:i:h")) != -1) {
        switch (opt) {
        case 'a':
            argon2_rate_arena = 1;
            break;
        case 't':
            threads = argon2_rate_arg("thread count", optarg, 1);
            break;
        case 'd':
            seconds = argon2_rate_arg("duration", optarg, 1);
            break;
        case 'm':
            m = argon2_rate_arg("memory (KiB)", optarg, 8);
            break;
        case 'i':
            t = argon2_rate_arg("iterations", optarg, 1);
            break;
        default:
            fprintf(stderr, "usage: argon2_rate [-a] [-t threads] "
                            "[-d seconds] "
                            "[-m KiB] [-i iterations]\n");
            return 2;
        }
    }

    if (sodium_init() < 0) {
        fprintf(stderr, "argon2_rate: sodium_init() failed\n");
        return 1;
    }

    workers = calloc(threads, sizeof(argon2_rate_worker_t));
    if (workers == NULL) {
        fprintf(stderr, "argon2_rate: out of memory\n");
        return 1;
    }

    start = argon2_rate_now();

    for (i = 0; i < threads; i++) {
        workers[i].id = i;
        workers[i].opslimit = t;
        workers[i].memlimit = (size_t) m * 1024;

        if (pthread_create(&workers[i].tid, NULL, argon2_rate_thread,
                           &workers[i])
            != 0)
        {
            fprintf(stderr, "argon2_rate: pthread_create() failed\n");
            return 1;
        }
    }

    sleep((unsigned) seconds);
    atomic_store(&argon2_rate_stop, 1);

    total = 0;
    failed = 0;

    for (i = 0; i < threads; i++) {
        pthread_join(workers[i].tid, NULL);
        total += workers[i].hashes;
        failed |= workers[i].failed;
    }

    elapsed = argon2_rate_now() - start;

    for (i = 0; i < threads; i++) {
        fprintf(stderr, "argon2_rate: thread %u: %lu hashes\n",
                i, workers[i].hashes);
    }

    if (failed) {
        fprintf(stderr, "argon2_rate: crypto_pwhash_str_alg() failed "
                        "(out of memory?)\n");
        return 1;
    }

    printf("threads=%lu m=%lu t=%lu seconds=%.3f hashes=%lu rate=%.2f "
           "memory=%s\n", threads, m, t, elapsed, total,
           (double) total / elapsed, argon2_rate_arena ? "kept" : "mapped");

    free(workers);

    return 0;
}
