
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Pacing refused connections (xyz_retry_pace).  A request refused with 503
 * is told when to come back (Retry-After).  A client that does not listen
 * sends its next request at once on the same keep-alive connection, and
 * once the wait queues are full it would be refused at once again: a storm
 * of refusals that eats the CPU the hashing needs.  Holding the request
 * instead costs its memory (about 9 KB in nginx's pools) for the whole
 * wait.  So the refusal is sent at once, the request freed, and the idle
 * connection is not read again before its pause (the Retry-After, at most
 * xyz_retry_pace): the client's next request waits in the socket's
 * receive buffer, and the worker holds only the idle connection.
 *
 * nginx frees the request and turns the connection to keep-alive after
 * the response (ngx_http_set_keepalive); a cleanup of the request's pool
 * posts an event that, once that is done, takes the idle connection's
 * read handler over for the pause and gives it back to nginx's keep-alive
 * handler after it, with a fresh keep-alive timeout.  A connection nginx
 * closes instead, or one it reaps or closes at shutdown during the pause
 * (c->close), is left to nginx.
 */


#include "ngx_xyz_module.h"


typedef struct {
    ngx_connection_t            *connection;
    ngx_event_t                  start;          /* posted after the free */
    ngx_event_handler_pt         keepalive;      /* nginx's handler */
    ngx_msec_t                   pause;
    ngx_msec_t                   keepalive_timeout;
} ngx_xyz_pace_t;


static ngx_xyz_pace_t *ngx_xyz_pace_find(ngx_connection_t *c);
static ngx_xyz_pace_t *ngx_xyz_pace_get(ngx_connection_t *c);
static void ngx_xyz_pace_request_done(void *data);
static void ngx_xyz_pace_start(ngx_event_t *ev);
static void ngx_xyz_pace_handler(ngx_event_t *rev);
static void ngx_xyz_pace_cleanup(void *data);


/*
 * Called with the 503 of r, told to come back in retry_after seconds; the
 * connection is paused for that long, at most xyz_retry_pace.
 */

void
ngx_xyz_pace(ngx_http_request_t *r, time_t retry_after)
{
    ngx_msec_t                 pause;
    ngx_xyz_pace_t            *p;
    ngx_pool_cleanup_t        *cln;
    ngx_xyz_main_conf_t       *xmcf;
    ngx_http_core_loc_conf_t  *clcf;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    if (xmcf->retry_pace == 0 || r != r->main || !r->keepalive) {
        return;
    }

#if (NGX_HTTP_V2)
    if (r->stream) {
        return;
    }
#endif

    pause = ngx_min((ngx_msec_t) retry_after * 1000, xmcf->retry_pace);

    p = ngx_xyz_pace_get(r->connection);
    if (p == NULL) {
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p->pause = pause;
    p->keepalive_timeout = clcf->keepalive_timeout;

    cln->handler = ngx_xyz_pace_request_done;
    cln->data = p;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz pace: the connection pauses %M ms after the 503",
                   pause);
}


/* one per connection, from its pool, found again by its cleanup */

static ngx_xyz_pace_t *
ngx_xyz_pace_find(ngx_connection_t *c)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = c->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_xyz_pace_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


static ngx_xyz_pace_t *
ngx_xyz_pace_get(ngx_connection_t *c)
{
    ngx_xyz_pace_t      *p;
    ngx_pool_cleanup_t  *cln;

    p = ngx_xyz_pace_find(c);
    if (p) {
        return p;
    }

    p = ngx_pcalloc(c->pool, sizeof(ngx_xyz_pace_t));
    if (p == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    p->connection = c;
    p->start.handler = ngx_xyz_pace_start;
    p->start.data = p;
    p->start.log = c->log;

    cln->handler = ngx_xyz_pace_cleanup;
    cln->data = p;

    return p;
}


/* the request's pool is being destroyed: act once nginx is done with it */

static void
ngx_xyz_pace_request_done(void *data)
{
    ngx_xyz_pace_t *p = data;

    if (!p->start.posted) {
        ngx_post_event(&p->start, &ngx_posted_events);
    }
}


static void
ngx_xyz_pace_start(ngx_event_t *ev)
{
    ngx_xyz_pace_t *p = ev->data;

    ngx_event_t       *rev;
    ngx_connection_t  *c;

    c = p->connection;
    rev = c->read;

    /* not idle: closed, in a lingering close, or already reading the next
     * (pipelined) request; or paused already */

    if (!c->idle || c->close || rev->handler == ngx_xyz_pace_handler) {
        return;
    }

    p->keepalive = rev->handler;
    rev->handler = ngx_xyz_pace_handler;

    if (rev->timer_set) {
        ngx_del_timer(rev);
    }

    ngx_add_timer(rev, p->pause);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "xyz pace: paused for %M ms", p->pause);
}


static void
ngx_xyz_pace_handler(ngx_event_t *rev)
{
    ngx_connection_t  *c;
    ngx_xyz_pace_t    *p;

    c = rev->data;
    p = ngx_xyz_pace_find(c);

    if (p == NULL) {
        /* cannot be: the pause began with it */
        ngx_http_close_connection(c);
        return;
    }

    if (c->close) {
        /* reaped, or the worker is shutting down: nginx's handler closes */
        rev->handler = p->keepalive;
        rev->handler(rev);
        return;
    }

    if (!rev->timedout) {
        /* the next request (or the client's close) came early: it is read
         * when the pause ends */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "xyz pace: data during the pause");
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "xyz pace: resumed");

    rev->timedout = 0;
    rev->handler = p->keepalive;

    ngx_add_timer(rev, p->keepalive_timeout);

    rev->handler(rev);
}


static void
ngx_xyz_pace_cleanup(void *data)
{
    ngx_xyz_pace_t *p = data;

    if (p->start.posted) {
        ngx_delete_posted_event(&p->start);
    }
}


char *
ngx_xyz_retry_pace(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   ms;

    if (xmcf->retry_pace != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        xmcf->retry_pace = 0;
        return NGX_CONF_OK;
    }

    ms = ngx_parse_time(&value[1], 0);

    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms > 60000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_retry_pace\" \"%V\"; give a time "
                           "from 1ms to 60s (e.g. 5s), or off", &value[1]);
        return NGX_CONF_ERROR;
    }

    xmcf->retry_pace = ms;

    return NGX_CONF_OK;
}
