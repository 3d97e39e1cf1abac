
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * What every SQS consumer of the module shares; see ngx_xyz_poller.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_xyz_poller.h"


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

    ngx_add_timer(&p->poll, 1);
}


void
ngx_xyz_poller_stop(ngx_xyz_poller_t *p)
{
    if (p->poll.timer_set) {
        ngx_del_timer(&p->poll);
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


void
ngx_xyz_poller_failed(ngx_xyz_poller_t *p, const char *error)
{
    ngx_uint_t  level;

    p->backoff = p->backoff ? ngx_min(p->backoff * 2, 30000) : 500;

    /* the first failure is worth a warning, the ones after it less */
    level = (p->backoff > 500) ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(level, p->poll.log, 0,
                  "xyz: receiving from the %s queue failed: %s; next try "
                  "in %Mms", p->name, error, p->backoff);

    ngx_xyz_poller_again(p, p->backoff);
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
ngx_xyz_poller_messages(ngx_pool_t *pool, ngx_str_t *response,
    ngx_xyz_sqs_received_t *msgs, ngx_uint_t max)
{
    char    *arena;
    size_t   size;

    /* every string of the answer, unescaped, with room for their ends */
    size = response->len + 4096;

    arena = ngx_pnalloc(pool, size);
    if (arena == NULL) {
        return -1;
    }

    return ngx_xyz_sqs_receive_result((char *) response->data, msgs, max,
                                      arena, size);
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
