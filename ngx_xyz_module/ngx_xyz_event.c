
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The adaptor between a library's socket and nginx's events, shared by the
 * PostgreSQL pool (ngx_xyz_pg.c) and the libcurl multi handle
 * (ngx_xyz_curl.c).  Both libraries expect a poll()-like loop, so the
 * events are level-triggered.
 */


#include "ngx_xyz_event.h"


/* an nginx connection for a descriptor someone else opened and will close */

ngx_connection_t *
ngx_xyz_event_attach(ngx_socket_t fd, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NULL;
    }

    c->data = data;
    c->read->handler = handler;
    c->write->handler = handler;
    c->read->log = log;
    c->write->log = log;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, log, 0,
                   "xyz event: attach fd:%d", fd);

    return c;
}


/*
 * Level-triggered on purpose: PQconsumeInput() makes one read() and may
 * leave bytes in the socket, which an edge-triggered event would never
 * announce again; libcurl's socket callback speaks of poll() states too.
 */

void
ngx_xyz_event_wait(ngx_connection_t *c, ngx_uint_t rd, ngx_uint_t wr)
{
    ngx_event_t  *rev, *wev;

    rev = c->read;
    wev = c->write;

    if (rd && !rev->active) {
        (void) ngx_add_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT);

    } else if (!rd && rev->active) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }

    if (wr && !wev->active) {
        (void) ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);

    } else if (!wr && wev->active) {
        (void) ngx_del_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * Gives the ngx_connection_t back without closing the descriptor.  flags:
 * NGX_CLOSE_EVENT when the descriptor is (or is about to be) closed, so the
 * kernel drops it from epoll and no epoll_ctl() is needed; 0 when it may
 * live on, so its events are removed now.
 */

void
ngx_xyz_event_detach(ngx_connection_t *c, ngx_uint_t flags)
{
    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz event: detach fd:%d", c->fd);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->active || c->write->active) {
        if (ngx_del_conn) {
            (void) ngx_del_conn(c, flags);

        } else {
            if (c->read->active) {
                (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
            }

            if (c->write->active) {
                (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
            }
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}
