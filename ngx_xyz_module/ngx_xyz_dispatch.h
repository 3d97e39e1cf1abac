
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The dispatcher role: consumers of the email and CRM queues, and what a
 * message's delivery goes through.
 */


#ifndef _NGX_XYZ_DISPATCH_H_INCLUDED_
#define _NGX_XYZ_DISPATCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_xyz_pg.h"
#include "ngx_xyz_sqs_consume.h"


#define NGX_XYZ_SENT        1       /* done: delete the message */
#define NGX_XYZ_RETRY       2       /* transient: back off, keep it */
#define NGX_XYZ_DEAD        3       /* permanent: to the dead-letter queue */

#define NGX_XYZ_CRM_SINGLE  0
#define NGX_XYZ_CRM_HUBSPOT 1


typedef struct ngx_xyz_job_s    ngx_xyz_job_t;
typedef struct ngx_xyz_batch_s  ngx_xyz_batch_t;


typedef struct {
    ngx_uint_t               queues;             /* 1 << NGX_XYZ_QUEUE_* */
    ngx_msec_t               lease;
    time_t                   poll;               /* long-poll seconds */
    ngx_uint_t               backoff_base;       /* seconds */
    ngx_uint_t               backoff_max;
    ngx_str_t                public_url;
    time_t                   confirm_ttl;        /* for the emails' text */
    time_t                   reset_ttl;

    ngx_str_t                smtp_url;
    ngx_str_t                smtp_user;
    ngx_str_t                smtp_password;      /* read from a file */
    ngx_flag_t               smtp_starttls;
    ngx_msec_t               smtp_timeout;
    ngx_str_t                mail_from;          /* header value */
    ngx_str_t                mail_from_addr;     /* for MAIL FROM */
    ngx_str_t                mail_domain;        /* for Message-ID */
    ngx_uint_t               mail_rate;          /* per second, 0: none */
    ngx_str_t                templates;          /* directory */

    /* [type][locale][part]: type confirm/already_registered/reset,
     * locale es/en, part subject/text/html */
    ngx_str_t                tpl[3][2][3];

    ngx_str_t                crm_url;
    ngx_str_t                crm_method;
    ngx_str_t                crm_secret;         /* read from a file */
    ngx_str_t                crm_body;           /* template, may be empty */
    ngx_uint_t               crm_mode;
    ngx_uint_t               crm_batch;          /* records a request */
    ngx_msec_t               crm_linger;         /* to gather them */
    ngx_uint_t               crm_rate;
    ngx_msec_t               crm_margin;         /* lateness slots allow */
    ngx_msec_t               crm_timeout;
    ngx_uint_t               breaker_failures;
    ngx_msec_t               breaker_open;

    ngx_str_t                dlq[2];             /* dead-letter queue URLs */
} ngx_xyz_dispatch_conf_t;


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


void ngx_xyz_mail_send(ngx_xyz_job_t *job);
void ngx_xyz_crm_send(ngx_xyz_job_t **jobs, ngx_uint_t n);
ngx_xyz_dispatch_conf_t *ngx_xyz_job_conf(ngx_xyz_job_t *job);
ngx_log_t *ngx_xyz_job_log(ngx_xyz_job_t *job);
void *ngx_xyz_job_pg(ngx_xyz_job_t *job);
ngx_pool_t *ngx_xyz_job_pool(ngx_xyz_job_t *job);
ngx_xyz_job_t *ngx_xyz_job_unit(ngx_xyz_job_t *job);

void ngx_xyz_job_done(ngx_xyz_job_t *job, ngx_uint_t outcome,
    ngx_uint_t retry_seconds, const char *detail);
void ngx_xyz_jobs_done(ngx_xyz_job_t **jobs, ngx_uint_t n,
    ngx_uint_t outcome, ngx_uint_t retry_seconds, const char *detail);

/* takes jobs out of their batch request: each reserves and sends alone */
void ngx_xyz_jobs_alone(ngx_xyz_job_t **jobs, ngx_uint_t n);


#endif /* _NGX_XYZ_DISPATCH_H_INCLUDED_ */
