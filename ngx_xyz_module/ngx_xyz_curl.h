
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * libcurl's multi interface driven by nginx events and timers: outbound
 * HTTP (SQS, the CRM, credential endpoints) and later SMTP, without a
 * blocking call on the event loop.
 */


#ifndef _NGX_XYZ_CURL_H_INCLUDED_
#define _NGX_XYZ_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <curl/curl.h>


typedef struct ngx_xyz_curl_s  ngx_xyz_curl_t;

typedef void (*ngx_xyz_curl_handler_pt)(ngx_xyz_curl_t *h);


struct ngx_xyz_curl_s {
    /* everything of one transfer lives here until the handler returns */
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_queue_t                 queue;          /* in the worker's list */
    CURL                       *easy;
    struct curl_slist          *headers;
    struct curl_slist          *rcpt;           /* SMTP recipients */

    ngx_str_t                   body;           /* request body, or empty */
    size_t                      sent;           /* of the body, uploads */
    unsigned                    upload:1;       /* SMTP: send body as data */
    unsigned                    keep_expect:1;  /* no "Expect:" line: curl
                                                   decides on 100-continue */
    ngx_msec_t                  timeout;        /* the whole transfer */
    size_t                      response_max;

    ngx_xyz_curl_handler_pt     handler;
    void                       *data;

    /* results, for the handler */
    CURLcode                    code;           /* CURLE_OK: an answer came */
    long                        status;         /* HTTP status */
    ngx_str_t                   response;
    char                        retry_after[64];
    char                        error[CURL_ERROR_SIZE];
};


ngx_int_t ngx_xyz_curl_init(ngx_cycle_t *cycle, ngx_uint_t max_transfers);
void ngx_xyz_curl_cleanup(void);

/* a transfer with its own pool; its easy handle may be given more options */
ngx_xyz_curl_t *ngx_xyz_curl_create(ngx_log_t *log);
ngx_int_t ngx_xyz_curl_header(ngx_xyz_curl_t *h, const char *line);

/*
 * Starts the transfer.  NGX_OK: the handler will be called, after which
 * the pool is destroyed.  NGX_BUSY: too many transfers already; NGX_ERROR:
 * nothing started.  In both failure cases the caller destroys h->pool.
 */
ngx_int_t ngx_xyz_curl_start(ngx_xyz_curl_t *h, const char *url);
void ngx_xyz_curl_destroy(ngx_xyz_curl_t *h);

ngx_uint_t ngx_xyz_curl_active(void);


#endif /* _NGX_XYZ_CURL_H_INCLUDED_ */
