
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The dispatcher's own: a job, what a message's delivery goes through.
 * Senders see a job only through ngx_xyz_sender.h.
 */


#ifndef _NGX_XYZ_DISPATCH_H_INCLUDED_
#define _NGX_XYZ_DISPATCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_xyz_pg.h"
#include "ngx_xyz_sqs_consume.h"
#include "ngx_xyz_sender.h"


typedef struct ngx_xyz_batch_s  ngx_xyz_batch_t;


struct ngx_xyz_job_s {
    ngx_xyz_batch_t         *batch;
    ngx_xyz_sqs_received_t  *msg;
    ngx_uint_t               outcome;
    ngx_uint_t               retry_seconds;      /* 0: the usual backoff */
    char                     detail[256];

    ngx_xyz_pg_query_t       query;
    const char              *values[5];
    char                     id[NGX_INT64_LEN + 1];
    char                     lease[NGX_INT_T_LEN + 16];
    char                     rate[NGX_INT_T_LEN + 8];

    /* the peer's answer moves the shared limit and breaker */
    ngx_xyz_pg_query_t       result_query;
    const char              *result_values[5];
    char                     block[NGX_INT_T_LEN + 16];
    char                     threshold[NGX_INT_T_LEN + 1];
    char                     open[NGX_INT_T_LEN + 16];

    ngx_event_t              wait;
    ngx_msec_t               slot;               /* when to send */
    int64_t                  asked;              /* wall ms, reservation */
    unsigned                 go:1;
    unsigned                 sending:1;
    unsigned                 recorded:1;
    unsigned                 alone:1;            /* out of its batch */
};


#endif /* _NGX_XYZ_DISPATCH_H_INCLUDED_ */
