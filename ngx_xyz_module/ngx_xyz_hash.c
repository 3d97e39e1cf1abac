
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Argon2id on an nginx thread pool.  A hash costs tens of milliseconds of
 * CPU and memory-hard work: on the event loop it would stall every other
 * connection of the worker, so it runs on a thread and the request waits
 * the way nginx's own threaded file reads wait (r->main->blocked, r->aio).
 */


#include "ngx_xyz_module.h"

#include <sodium.h>


typedef struct {
    ngx_xyz_hash_job_t   *job;
} ngx_xyz_hash_task_ctx_t;


static void ngx_xyz_hash_thread(void *data, ngx_log_t *log);
static void ngx_xyz_hash_harden(ngx_xyz_hash_job_t *job);
static void ngx_xyz_hash_event_handler(ngx_event_t *ev);


/* a task should never take this long; the timer keeps an exiting worker
 * alive until the thread has let go of the request */
#define NGX_XYZ_HASH_TIMEOUT  60000


ngx_int_t
ngx_xyz_hash_post(ngx_http_request_t *r, ngx_thread_pool_t *tp,
    ngx_xyz_hash_job_t *job, ngx_http_event_handler_pt done)
{
    ngx_thread_task_t        *task;
    ngx_xyz_hash_task_ctx_t  *ctx;

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_xyz_hash_task_ctx_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    ctx = task->ctx;
    ctx->job = job;

    task->handler = ngx_xyz_hash_thread;
    task->event.data = r;
    task->event.handler = ngx_xyz_hash_event_handler;
    task->event.log = r->connection->log;

    if (ngx_thread_task_post(tp, task) != NGX_OK) {
        /* "thread pool queue overflow" is logged by nginx */
        return NGX_BUSY;
    }

    ngx_add_timer(&task->event, NGX_XYZ_HASH_TIMEOUT);

    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = done;

    return NGX_OK;
}


static void
ngx_xyz_hash_thread(void *data, ngx_log_t *log)
{
    ngx_xyz_hash_task_ctx_t  *ctx = data;

    ngx_xyz_hash_job_t  *job;

    /* only the job's own buffers and libsodium here: no nginx calls */

    job = ctx->job;

    if (job->stored == NULL) {
        job->rc = crypto_pwhash_str(job->hash, job->password,
                                    job->password_len, job->opslimit,
                                    job->memlimit);
        return;
    }

    job->rc = crypto_pwhash_str_verify(job->stored, job->password,
                                       job->password_len);

    if (job->rc != 0) {
        ngx_xyz_hash_harden(job);
        return;
    }

    /* the parameters were raised since: store a hash made with them */

    if (job->rc == 0
        && crypto_pwhash_str_needs_rehash(job->stored, job->opslimit,
                                          job->memlimit) != 0
        && crypto_pwhash_str(job->hash, job->password, job->password_len,
                             job->opslimit, job->memlimit) == 0)
    {
        job->rehashed = 1;
    }
}


/*
 * A wrong password against a hash made with older, cheaper parameters
 * would be answered sooner than one against the dummy hash of an unknown
 * address (made with the current ones): the account's existence would show
 * in the time.  So the work missing is done here, as an Argon2id run of
 * the difference in memory times passes; a hash made with dearer
 * parameters than the current ones is left as it is.
 */

static void
ngx_xyz_hash_harden(ngx_xyz_hash_job_t *job)
{
    u_char               out[32], salt[crypto_pwhash_SALTBYTES];
    const char          *p;
    unsigned long        m, t, lanes;
    unsigned long long   want, have, extra, passes, kib;

    p = strstr(job->stored, "$m=");

    if (p == NULL
        || sscanf(p, "$m=%lu,t=%lu,p=%lu$", &m, &t, &lanes) != 3)
    {
        return;
    }

    want = (unsigned long long) (job->memlimit / 1024) * job->opslimit;
    have = (unsigned long long) m * t;

    if (have >= want) {
        return;
    }

    extra = want - have;
    passes = job->opslimit;
    kib = extra / passes;

    if (kib < 8) {
        passes = 1;
        kib = extra;
    }

    if (kib < 8) {
        return;
    }

    ngx_memzero(salt, sizeof(salt));

    /* only the time it takes matters: the output is thrown away, and a
     * failure (out of memory) leaves the difference as it was before */

    if (crypto_pwhash(out, sizeof(out), job->password, job->password_len,
                      salt, passes, (size_t) kib * 1024,
                      crypto_pwhash_ALG_ARGON2ID13)
        == 0)
    {
        sodium_memzero(out, sizeof(out));
    }
}


static void
ngx_xyz_hash_event_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "xyz: password hashing took too long");
        ev->timedout = 0;
        return;
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    r->main->blocked--;
    r->aio = 0;

    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}
