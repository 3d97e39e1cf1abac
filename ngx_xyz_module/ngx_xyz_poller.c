
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * What every SQS consumer of the module shares; see ngx_xyz_poller.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_xyz_poller.h"


static void ngx_xyz_poller_free(void *data);
static void ngx_xyz_poller_end_handler(ngx_event_t *ev);
static void ngx_xyz_poller_guard_handler(ngx_event_t *ev);


void
ngx_xyz_poller_start(ngx_xyz_poller_t *p, const char *name,
    ngx_event_handler_pt handler, void *data, ngx_log_t *log)
{
    p->name = name;
    p->backoff = 0;

    p->poll.handler = handler;
    p->poll.data = data;
    p->poll.log = log;
    p->poll.cancelable = 1;

    p->guard.handler = ngx_xyz_poller_guard_handler;
    p->guard.data = p;
    p->guard.log = log;

    p->end.handler = ngx_xyz_poller_end_handler;
    p->end.data = p;
    p->end.log = log;

    ngx_add_timer(&p->poll, 1);
}


void
ngx_xyz_poller_stop(ngx_xyz_poller_t *p)
{
    if (p->poll.timer_set) {
        ngx_del_timer(&p->poll);
    }

    if (p->pool) {
        ngx_destroy_pool(p->pool);
    }
}


void
ngx_xyz_poller_again(ngx_xyz_poller_t *p, ngx_msec_t delay)
{
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, p->poll.log, 0,
                   "xyz poller: %s queue again in %M ms", p->name, delay);

    if (p->poll.timer_set) {
        ngx_del_timer(&p->poll);
    }

    ngx_add_timer(&p->poll, delay);
}


void *
ngx_xyz_poller_batch(ngx_xyz_poller_t *p, size_t size,
    ngx_pool_cleanup_pt free)
{
    void                *batch;
    ngx_pool_t          *pool;
    ngx_pool_cleanup_t  *own, *cln;

    if (ngx_exiting || ngx_quit || ngx_terminate || p->pool) {
        return NULL;
    }

    pool = ngx_create_pool(16384, p->poll.log);
    if (pool == NULL) {
        ngx_xyz_poller_again(p, 1000);
        return NULL;
    }

    /* the batch's own cleanup runs first, while the poller's events are
     * still set */

    batch = ngx_pcalloc(pool, size);
    own = ngx_pool_cleanup_add(pool, 0);
    cln = ngx_pool_cleanup_add(pool, 0);

    if (batch == NULL || own == NULL || cln == NULL) {
        ngx_destroy_pool(pool);
        ngx_xyz_poller_again(p, 1000);
        return NULL;
    }

    own->handler = ngx_xyz_poller_free;
    own->data = p;
    cln->handler = free;
    cln->data = batch;

    p->pool = pool;
    p->holds = 0;
    p->ending = 0;

    return batch;
}


void
ngx_xyz_poller_drop(ngx_xyz_poller_t *p, ngx_msec_t delay)
{
    if (p->pool) {
        ngx_destroy_pool(p->pool);
    }

    ngx_xyz_poller_again(p, delay);
}


void
ngx_xyz_poller_failed(ngx_xyz_poller_t *p, const char *error)
{
    ngx_uint_t  level;

    p->backoff = p->backoff ? ngx_min(p->backoff * 2, 30000) : 500;

    /* the first failure is worth a warning, the ones after it less; the
     * error may be in the batch's memory: logged first */
    level = (p->backoff > 500) ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(level, p->poll.log, 0,
                  "xyz: receiving from the %s queue failed: %s; next try "
                  "in %Mms", p->name, error, p->backoff);

    ngx_xyz_poller_drop(p, p->backoff);
}


/*
 * The pool goes in a posted event, never where the end is decided: the
 * end can come from deep inside a loop over the batch's jobs, which must
 * still find its memory when control comes back to it.
 */

void
ngx_xyz_poller_end(ngx_xyz_poller_t *p)
{
    if (p->ending) {
        return;
    }

    p->ending = 1;

    ngx_post_event(&p->end, &ngx_posted_events);
}


void
ngx_xyz_poller_release(ngx_xyz_poller_t *p)
{
    /* the batch's end waited for this answer: it may go now */

    if (--p->holds == 0 && p->ending) {
        ngx_post_event(&p->end, &ngx_posted_events);
    }
}


static void
ngx_xyz_poller_end_handler(ngx_event_t *ev)
{
    ngx_xyz_poller_t *p = ev->data;

    if (p->holds) {
        /* an answer is still to come into this batch */
        return;
    }

    ngx_xyz_poller_drop(p, 0);
}


static void
ngx_xyz_poller_free(void *data)
{
    ngx_xyz_poller_t *p = data;

    /* a batch ended early (worker exit) leaves nothing set */

    if (p->guard.timer_set) {
        ngx_del_timer(&p->guard);
    }

    if (p->end.posted) {
        ngx_delete_posted_event(&p->end);
    }

    p->pool = NULL;
    p->holds = 0;
    p->ending = 0;
}


static void
ngx_xyz_poller_guard_handler(ngx_event_t *ev)
{
    ngx_xyz_poller_t *p = ev->data;

    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "xyz: a batch of the %s queue outlived its lease; its "
                  "messages reappear in the queue", p->name);
}


ngx_int_t
ngx_xyz_poller_receive(ngx_xyz_sqs_conf_t *sqs, ngx_pool_t *pool,
    ngx_str_t *url, ngx_uint_t max, time_t wait, ngx_msec_t lease,
    ngx_xyz_sqs_call_pt handler, void *data, ngx_log_t *log)
{
    int      len;
    u_char  *body;
    size_t   size;

    size = 1024 + 6 * url->len;

    body = ngx_pnalloc(pool, size);
    if (body == NULL) {
        return NGX_ERROR;
    }

    len = ngx_xyz_sqs_receive_json((char *) body, size, (char *) url->data,
                                   (int) max, (int) wait,
                                   (int) (lease / 1000));
    if (len < 0) {
        return NGX_DECLINED;
    }

    return ngx_xyz_sqs_call(sqs, "ReceiveMessage", body, len,
                            (wait + 10) * 1000, NULL, handler, data, log);
}


int
ngx_xyz_poller_messages(ngx_xyz_poller_t *p, ngx_str_t *response,
    ngx_xyz_sqs_received_t *msgs, ngx_uint_t max)
{
    int      n;
    char    *arena;
    size_t   size;

    p->backoff = 0;

    /* every string of the answer, unescaped, with room for their ends */
    size = response->len + 4096;

    arena = ngx_pnalloc(p->pool, size);

    n = arena ? ngx_xyz_sqs_receive_result((char *) response->data, msgs,
                                           max, arena, size)
              : -1;

    if (n < 0) {
        ngx_log_error(NGX_LOG_ERR, p->poll.log, 0,
                      "xyz: an answer to ReceiveMessage SQS should not "
                      "give (the %s queue)", p->name);
    }

    return n;
}


u_char *
ngx_xyz_poller_delete_body(ngx_pool_t *pool, ngx_str_t *url,
    const char **handles, ngx_uint_t n, int *len)
{
    u_char      *body;
    size_t       size;
    ngx_uint_t   i;

    size = 256 + 6 * url->len;

    for (i = 0; i < n; i++) {
        size += 64 + 6 * ngx_strlen(handles[i]);
    }

    body = ngx_pnalloc(pool, size);
    if (body == NULL) {
        return NULL;
    }

    *len = ngx_xyz_sqs_delete_batch_json((char *) body, size,
                                         (char *) url->data, handles, n);

    return (*len > 0) ? body : NULL;
}
