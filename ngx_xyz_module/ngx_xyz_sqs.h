
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * SQS over its JSON protocol, signed with SigV4, sent through the curl
 * layer: SendMessageBatch for now.
 */


#ifndef _NGX_XYZ_SQS_H_INCLUDED_
#define _NGX_XYZ_SQS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_xyz_sqs_json.h"


#define NGX_XYZ_QUEUE_EMAIL  0
#define NGX_XYZ_QUEUE_CRM    1
#define NGX_XYZ_QUEUES       2


typedef struct {
    ngx_str_t                url;            /* NUL-terminated */
    unsigned                 fifo:1;
} ngx_xyz_sqs_queue_t;


typedef struct {
    ngx_str_t                region;
    ngx_str_t                endpoint;       /* scheme://host[:port][/path] */
    ngx_xyz_sqs_queue_t      queue[NGX_XYZ_QUEUES];
    ngx_msec_t               timeout;
} ngx_xyz_sqs_conf_t;


/*
 * rc: NGX_OK when SQS answered the batch (ok[i] tells each entry), or
 * NGX_ERROR when it did not (error says why).
 */
typedef void (*ngx_xyz_sqs_handler_pt)(void *data, ngx_int_t rc,
    unsigned char *ok, const char *error);


/*
 * One signed call of the JSON protocol.  rc: NGX_OK for an HTTP 200 (the
 * answer in response), NGX_ERROR otherwise (error says why; response may
 * hold SQS's error document).
 */
typedef void (*ngx_xyz_sqs_call_pt)(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);


char *ngx_xyz_sqs_conf_endpoint(ngx_conf_t *cf, ngx_xyz_sqs_conf_t *sqs);

/*
 * Sends AmazonSQS.<target> with the JSON body (which must stay valid until
 * the handler runs).  timeout 0: xyz_sqs_timeout.  NGX_OK: the handler
 * will be called; NGX_DECLINED: no credentials yet; NGX_BUSY: too many
 * transfers; NGX_ERROR: nothing started.
 */
ngx_int_t ngx_xyz_sqs_call(ngx_xyz_sqs_conf_t *sqs, const char *target,
    u_char *body, size_t len, ngx_msec_t timeout, ngx_pool_t **pool,
    ngx_xyz_sqs_call_pt handler, void *data, ngx_log_t *log);

/*
 * NGX_OK: the handler will be called.  NGX_DECLINED: no credentials yet;
 * NGX_BUSY: too many transfers; NGX_ERROR: nothing started.
 */
ngx_int_t ngx_xyz_sqs_send_batch(ngx_xyz_sqs_conf_t *sqs, ngx_uint_t queue,
    ngx_xyz_sqs_msg_t *m, ngx_uint_t n, ngx_xyz_sqs_handler_pt handler,
    void *data, ngx_log_t *log);


#endif /* _NGX_XYZ_SQS_H_INCLUDED_ */
