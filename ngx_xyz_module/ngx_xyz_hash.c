
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Argon2id on an nginx thread pool.  A hash costs tens of milliseconds of
 * CPU and memory-hard work: on the event loop it would stall every other
 * connection of the worker, so it runs on a thread and the request waits
 * the way nginx's own threaded file reads wait (r->main->blocked, r->aio).
 *
 * Overload control.  Only a few tasks per worker are handed to the pool
 * at a time (xyz_hash_queue tasks=); the other requests wait in this
 * worker's own queue, in order, each with a timer and a few hundred bytes
 * and no CPU, until a task is done or their wait runs out.  Only then, or
 * when the queue is full, do they get 503 with a Retry-After of about the
 * queue's drain time.  The pool's own queue would take anything up to its
 * max_queue, hash for clients that gave up long ago, and answer the rest
 * with an instant 503 that a client which does not back off turns into a
 * storm of refusals eating the CPU the hashing needs.  A waiting client
 * that goes away leaves the queue at once (the read event is watched).
 *
 * Every hash is followed by a query.  While the database's wait queue is
 * backlogged (ngx_xyz_pg_backlogged) no hash is started: a request hashed
 * then would likely run out of time waiting for a connection, its hash
 * (and with a cheap hash, most of its cost) spent for a 503.  The pool
 * posts ngx_xyz_hash_wake when its queue has drained.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_rate.h"

#include <sodium.h>

#include "ngx_xyz_argon2_arena.h"


typedef struct {
    ngx_xyz_hash_job_t          *job;
} ngx_xyz_hash_task_ctx_t;


/* a request waiting for its turn; from the request's pool */
typedef struct {
    ngx_http_request_t          *request;
    ngx_thread_pool_t           *tp;
    ngx_xyz_hash_job_t          *job;
    ngx_http_event_handler_pt    done;
    ngx_queue_t                  queue;
    ngx_event_t                  timer;
    unsigned                     queued:1;
} ngx_xyz_hash_wait_t;


/* per worker */
typedef struct {
    ngx_queue_t                  waiting;
    ngx_uint_t                   nwaiting;
    ngx_uint_t                   running;        /* tasks in the pool */
    ngx_uint_t                   expiring;       /* being refused */
    ngx_msec_t                   wait;           /* of the last request */
    ngx_xyz_rate_t               rate;
    time_t                       logged;         /* the last "full" */
    ngx_event_t                  wake;           /* the database drained */
} ngx_xyz_hash_queue_t;


static ngx_int_t ngx_xyz_hash_start(ngx_http_request_t *r,
    ngx_thread_pool_t *tp, ngx_xyz_hash_job_t *job,
    ngx_http_event_handler_pt done);
static void ngx_xyz_hash_next(void);
static void ngx_xyz_hash_wake(ngx_event_t *ev);
static void ngx_xyz_hash_expired(ngx_event_t *ev);
static void ngx_xyz_hash_wait_cleanup(void *data);
static void ngx_xyz_hash_thread(void *data, ngx_log_t *log);
static void ngx_xyz_hash_run(ngx_xyz_hash_job_t *job);
static void ngx_xyz_hash_harden(ngx_xyz_hash_job_t *job);
static void ngx_xyz_hash_event_handler(ngx_event_t *ev);


/* a task should never take this long; the timer keeps an exiting worker
 * alive until the thread has let go of the request */
#define NGX_XYZ_HASH_TIMEOUT  60000


static ngx_xyz_hash_queue_t  ngx_xyz_hash_queue;


char *
ngx_xyz_hash_queue_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i;
    ngx_msec_t   ms;

    if (xmcf->hash.queue_length != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "length=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);

            if (n < 0 || n > 1048576) {
                goto invalid;
            }

            xmcf->hash.queue_length = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "wait=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            xmcf->hash.queue_wait = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "tasks=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n < 1 || n > 1024) {
                goto invalid;
            }

            xmcf->hash.tasks = n;
            continue;
        }

        goto invalid;
    }

    if (xmcf->hash.queue_length == NGX_CONF_UNSET_UINT) {
        xmcf->hash.queue_length = 1024;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\" in \"xyz_hash_queue\"; give "
                       "length=N (0 to 1048576 waiting requests per worker), "
                       "wait=TIME (more than 0, e.g. 5s) and "
                       "tasks=N (1 to 1024 hashes handed to the thread pool "
                       "at a time)", &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * Hashes job->password (or checks it) and calls done(r) when it is done
 * or, with job->busy set, when the request waited its xyz_hash_queue wait
 * in vain.  NGX_OK: done will be called; NGX_BUSY: the wait queue is full
 * (answer 503 with ngx_xyz_reply_unavailable); NGX_ERROR.
 */

ngx_int_t
ngx_xyz_hash_post(ngx_http_request_t *r, ngx_thread_pool_t *tp,
    ngx_xyz_hash_job_t *job, ngx_http_event_handler_pt done)
{
    ngx_pool_cleanup_t    *cln;
    ngx_xyz_hash_wait_t   *w;
    ngx_xyz_main_conf_t   *xmcf;
    ngx_xyz_hash_queue_t  *hq;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);
    hq = &ngx_xyz_hash_queue;

    if (hq->waiting.next == NULL) {
        ngx_queue_init(&hq->waiting);

        hq->wake.handler = ngx_xyz_hash_wake;
        hq->wake.log = ngx_cycle->log;
        ngx_xyz_pg_on_drain(xmcf->pg_pool, &hq->wake);
    }

    hq->wait = xmcf->hash.queue_wait;

    /* a client that goes away while it waits or hashes is let go of */
    r->read_event_handler = ngx_http_test_reading;

    if (hq->nwaiting == 0 && hq->running < xmcf->hash.tasks
        && !ngx_xyz_pg_backlogged(xmcf->pg_pool))
    {
        return ngx_xyz_hash_start(r, tp, job, done);
    }

    if (hq->nwaiting >= xmcf->hash.queue_length) {

        /* one line a second: a line per refusal would add to the load */

        if (hq->logged != ngx_time()) {
            hq->logged = ngx_time();
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "xyz: hash wait queue is full (%ui waiting); "
                          "answering 503", hq->nwaiting);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "xyz hash: refused, %ui waiting", hq->nwaiting);

        return NGX_BUSY;
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_xyz_hash_wait_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_xyz_hash_wait_cleanup;
    cln->data = w;

    w->request = r;
    w->tp = tp;
    w->job = job;
    w->done = done;

    w->timer.handler = ngx_xyz_hash_expired;
    w->timer.data = w;
    w->timer.log = r->connection->log;

    ngx_queue_insert_tail(&hq->waiting, &w->queue);
    hq->nwaiting++;
    w->queued = 1;

    ngx_add_timer(&w->timer, xmcf->hash.queue_wait);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz hash: waiting, %ui in the queue", hq->nwaiting);

    return NGX_OK;
}


/* the Retry-After of a refusal while requests wait for a hash; 0 when
 * none wait */

time_t
ngx_xyz_hash_retry_after(void)
{
    ngx_xyz_hash_queue_t  *hq;

    hq = &ngx_xyz_hash_queue;

    if (hq->nwaiting + hq->expiring == 0) {
        return 0;
    }

    return ngx_xyz_rate_retry_after(&hq->rate,
                                    hq->nwaiting + hq->expiring + hq->running,
                                    hq->wait);
}


static ngx_int_t
ngx_xyz_hash_start(ngx_http_request_t *r, ngx_thread_pool_t *tp,
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

    /* before the post: the thread may start it before the post returns */
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz hash: task %p queued, %ui running before",
                   task, ngx_xyz_hash_queue.running);

    if (ngx_thread_task_post(tp, task) != NGX_OK) {
        /* "thread pool queue overflow" is logged by nginx: the pool's
         * max_queue is below xyz_hash_queue tasks= */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "xyz hash: task %p refused by the thread pool", task);
        return NGX_BUSY;
    }

    ngx_add_timer(&task->event, NGX_XYZ_HASH_TIMEOUT);

    ngx_xyz_hash_queue.running++;

    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = done;

    return NGX_OK;
}


/* hands the first waiting requests to the pool while there is room */

static void
ngx_xyz_hash_next(void)
{
    ngx_queue_t           *q;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_xyz_hash_wait_t   *w;
    ngx_xyz_main_conf_t   *xmcf;
    ngx_xyz_hash_queue_t  *hq;

    hq = &ngx_xyz_hash_queue;

    while (hq->nwaiting) {
        q = ngx_queue_head(&hq->waiting);
        w = ngx_queue_data(q, ngx_xyz_hash_wait_t, queue);
        r = w->request;

        xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

        if (hq->running >= xmcf->hash.tasks
            || ngx_xyz_pg_backlogged(xmcf->pg_pool))
        {
            return;
        }

        ngx_queue_remove(q);
        hq->nwaiting--;
        w->queued = 0;

        if (w->timer.timer_set) {
            ngx_del_timer(&w->timer);
        }

        if (ngx_xyz_hash_start(r, w->tp, w->job, w->done) == NGX_OK) {
            continue;
        }

        /* the pool refused it: answered as if its wait had run out */

        c = r->connection;
        ngx_http_set_log_request(c->log, r);

        w->job->busy = 1;
        w->job->rc = -1;
        w->done(r);

        ngx_http_run_posted_requests(c);
    }
}


static void
ngx_xyz_hash_wake(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "xyz hash: the database queue drained");

    ngx_xyz_hash_next();
}


static void
ngx_xyz_hash_expired(ngx_event_t *ev)
{
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_xyz_hash_wait_t  *w;

    w = ev->data;
    r = w->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "xyz hash: the wait ran out");

    ngx_queue_remove(&w->queue);
    ngx_xyz_hash_queue.nwaiting--;
    w->queued = 0;

    w->job->busy = 1;
    w->job->rc = -1;

    /* still counted while it is answered, for the Retry-After */
    ngx_xyz_hash_queue.expiring++;
    w->done(r);
    ngx_xyz_hash_queue.expiring--;

    ngx_http_run_posted_requests(c);
}


static void
ngx_xyz_hash_wait_cleanup(void *data)
{
    ngx_xyz_hash_wait_t *w = data;

    if (!w->queued) {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, w->timer.log, 0,
                   "xyz hash: a waiting request left the queue");

    ngx_queue_remove(&w->queue);
    ngx_xyz_hash_queue.nwaiting--;
    w->queued = 0;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }
}


static void
ngx_xyz_hash_thread(void *data, ngx_log_t *log)
{
    ngx_xyz_hash_task_ctx_t  *ctx = data;

    unsigned long        maps, reuses;
    ngx_xyz_hash_job_t  *job;

    /*
     * only the job's own buffers and libsodium here, and a debug line as
     * nginx's own thread handlers write: no other nginx calls
     */

    job = ctx->job;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "xyz hash: task started, %s, m=%uz",
                   job->stored ? "verify" : "hash", job->memlimit / 1024);

    /* Argon2id's memory from this thread's arena (ngx_xyz_argon2_arena.h);
     * a check, a rehash and a hardening are up to three runs */

    maps = ngx_xyz_argon2_arena_maps();
    reuses = ngx_xyz_argon2_arena_reuses();

    ngx_xyz_argon2_arena_arm();
    ngx_xyz_hash_run(job);
    ngx_xyz_argon2_arena_disarm();

    job->mapped = ngx_xyz_argon2_arena_maps() - maps;
    job->reused = ngx_xyz_argon2_arena_reuses() - reuses;
}


static void
ngx_xyz_hash_run(ngx_xyz_hash_job_t *job)
{
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
    ngx_thread_task_t   *task;
    ngx_http_request_t  *r;
    ngx_xyz_hash_job_t  *job;

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

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "xyz hash: task done, %ui waiting",
                   ngx_xyz_hash_queue.nwaiting);

    ngx_xyz_hash_queue.running--;
    ngx_xyz_rate_count(&ngx_xyz_hash_queue.rate, ngx_current_msec);

    task = (ngx_thread_task_t *) ((u_char *) ev
                                  - offsetof(ngx_thread_task_t, event));
    job = ((ngx_xyz_hash_task_ctx_t *) task->ctx)->job;

    ngx_xyz_metrics_add(NGX_XYZ_M_ARGON2_MAPPED, job->mapped);
    ngx_xyz_metrics_add(NGX_XYZ_M_ARGON2_REUSED, job->reused);

    ngx_xyz_hash_next();

    r->main->blocked--;
    r->aio = 0;

    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}
