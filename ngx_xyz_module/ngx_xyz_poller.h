
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * What every SQS consumer of the module shares (the dispatcher's queues,
 * the SES feedback queue): a poll timer that backs off while receiving
 * fails, the batch in work (one at a time, in a pool of its own, guarded
 * by its lease, freed in a posted event), and the ReceiveMessage and
 * DeleteMessageBatch calls.
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

    ngx_pool_t              *pool;               /* the batch's; NULL: none
                                                    in work */
    ngx_event_t              guard;              /* its lease is over */
    ngx_event_t              end;                /* posted: free the pool */
    ngx_uint_t               holds;              /* answers still to come
                                                    into the batch */
    unsigned                 ending:1;
} ngx_xyz_poller_t;


/* cancelable: an idle consumer never holds an exiting worker */
void ngx_xyz_poller_start(ngx_xyz_poller_t *p, const char *name,
    ngx_event_handler_pt handler, void *data, ngx_log_t *log);
/* what was received and not deleted reappears after its lease */
void ngx_xyz_poller_stop(ngx_xyz_poller_t *p);
void ngx_xyz_poller_again(ngx_xyz_poller_t *p, ngx_msec_t delay);

/*
 * The memory of a new batch of size bytes (zeroed), in a new pool whose
 * cleanup is free(batch).  NULL: the worker exits, a batch is in work,
 * or memory is short (the next poll is set).
 */
void *ngx_xyz_poller_batch(ngx_xyz_poller_t *p, size_t size,
    ngx_pool_cleanup_pt free);

/* the batch goes now, unfinished; the next poll after delay */
void ngx_xyz_poller_drop(ngx_xyz_poller_t *p, ngx_msec_t delay);

/* a receive failed: the batch goes, the next poll waits longer, up to
 * 30 s */
void ngx_xyz_poller_failed(ngx_xyz_poller_t *p, const char *error);

/* the batch is done: its pool goes in a posted event, once no hold is
 * left, and the next poll follows at once */
void ngx_xyz_poller_end(ngx_xyz_poller_t *p);
void ngx_xyz_poller_release(ngx_xyz_poller_t *p);

/*
 * A ReceiveMessage of up to max messages, hidden for lease, waiting up
 * to wait seconds for the first.  NGX_DECLINED: the request cannot be
 * made.
 */
ngx_int_t ngx_xyz_poller_receive(ngx_xyz_sqs_conf_t *sqs, ngx_pool_t *pool,
    ngx_str_t *url, ngx_uint_t max, time_t wait, ngx_msec_t lease,
    ngx_xyz_sqs_call_pt handler, void *data, ngx_log_t *log);

/* a receive worked: the messages of its answer, in memory of the batch,
 * how many, or -1 (logged) */
int ngx_xyz_poller_messages(ngx_xyz_poller_t *p, ngx_str_t *response,
    ngx_xyz_sqs_received_t *msgs, ngx_uint_t max);

/* the body of a DeleteMessageBatch of n (at most ten) handles, or NULL */
u_char *ngx_xyz_poller_delete_body(ngx_pool_t *pool, ngx_str_t *url,
    const char **handles, ngx_uint_t n, int *len);


#endif /* _NGX_XYZ_POLLER_H_INCLUDED_ */
