
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Sockets owned by a library (libpq, libcurl) watched by nginx's event
 * loop: the descriptor gets an ngx_connection_t whose read and write
 * events call the library back, and is given back without being closed,
 * because the library closes it itself.
 */


#ifndef _NGX_XYZ_EVENT_H_INCLUDED_
#define _NGX_XYZ_EVENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


ngx_connection_t *ngx_xyz_event_attach(ngx_socket_t fd,
    ngx_event_handler_pt handler, void *data, ngx_log_t *log);
void ngx_xyz_event_wait(ngx_connection_t *c, ngx_uint_t rd, ngx_uint_t wr);
void ngx_xyz_event_detach(ngx_connection_t *c, ngx_uint_t flags);


#endif /* _NGX_XYZ_EVENT_H_INCLUDED_ */
