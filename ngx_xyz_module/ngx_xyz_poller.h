
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * What every SQS consumer of the module shares (the dispatcher's queues,
 * the SES feedback queue): a poll timer that backs off while receiving
 * fails, and the ReceiveMessage and DeleteMessageBatch calls.
 */


#ifndef _NGX_XYZ_POLLER_H_INCLUDED_
#define _NGX_XYZ_POLLER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_xyz_sqs.h"
#include "ngx_xyz_sqs_consume.h"


typedef struct {
    ngx_event_t              poll;
    ngx_msec_t               backoff;            /* 0: the last receive
                                                    worked */
    const char              *name;               /* "the %s queue" */
} ngx_xyz_poller_t;


/* cancelable: an idle consumer never holds an exiting worker */
void ngx_xyz_poller_start(ngx_xyz_poller_t *p, const char *name,
    ngx_event_handler_pt handler, void *data, ngx_log_t *log);
void ngx_xyz_poller_stop(ngx_xyz_poller_t *p);
void ngx_xyz_poller_again(ngx_xyz_poller_t *p, ngx_msec_t delay);

/* a receive failed: the next one waits longer, up to 30 s */
void ngx_xyz_poller_failed(ngx_xyz_poller_t *p, const char *error);

/*
 * A ReceiveMessage of up to max messages, hidden for lease, waiting up
 * to wait seconds for the first.  NGX_DECLINED: the request cannot be
 * made.
 */
ngx_int_t ngx_xyz_poller_receive(ngx_xyz_sqs_conf_t *sqs, ngx_pool_t *pool,
    ngx_str_t *url, ngx_uint_t max, time_t wait, ngx_msec_t lease,
    ngx_xyz_sqs_call_pt handler, void *data, ngx_log_t *log);

/* the messages of its answer, in memory of the pool: how many, or -1 */
int ngx_xyz_poller_messages(ngx_pool_t *pool, ngx_str_t *response,
    ngx_xyz_sqs_received_t *msgs, ngx_uint_t max);

/* the body of a DeleteMessageBatch of n (at most ten) handles, or NULL */
u_char *ngx_xyz_poller_delete_body(ngx_pool_t *pool, ngx_str_t *url,
    const char **handles, ngx_uint_t n, int *len);


#endif /* _NGX_XYZ_POLLER_H_INCLUDED_ */
