
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * What the dispatcher and its senders share, the way nginx's upstream
 * and its protocol modules share create_request/process_header/
 * finalize_request: the dispatcher begins, reserves, records and cleans
 * up; a sender turns the jobs it is given into a request to its peer and
 * reports each job's outcome.  Neither names the other: the dispatcher
 * finds the senders in ngx_xyz_senders[] (ngx_xyz_sender.c), and a
 * sender sees a job only through the accessors below.
 *
 * A new channel (an SMS, a webhook) is one file that defines an
 * ngx_xyz_sender_t, and one line in ngx_xyz_senders[].
 */


#ifndef _NGX_XYZ_SENDER_H_INCLUDED_
#define _NGX_XYZ_SENDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_xyz_sqs.h"
#include "ngx_xyz_sqs_consume.h"


#define NGX_XYZ_SENT        1       /* done: delete the message */
#define NGX_XYZ_RETRY       2       /* transient: back off, keep it */
#define NGX_XYZ_DEAD        3       /* permanent: to the dead-letter queue */

#define NGX_XYZ_CRM_SINGLE  0
#define NGX_XYZ_CRM_HUBSPOT 1

/* a sender's counters, in the order of ngx_xyz_sender_t's metrics[] */
#define NGX_XYZ_SENDER_M_SENT           0
#define NGX_XYZ_SENDER_M_RETRIED        1
#define NGX_XYZ_SENDER_M_FAILED         2
#define NGX_XYZ_SENDER_M_DUPLICATE      3
#define NGX_XYZ_SENDER_M_DEAD_LETTERED  4
#define NGX_XYZ_SENDER_METRICS          5


typedef struct ngx_xyz_job_s     ngx_xyz_job_t;      /* the dispatcher's */
typedef struct ngx_xyz_sender_s  ngx_xyz_sender_t;


/* how a queue is worked, as its sender's init_conf sets it */
typedef struct {
    ngx_xyz_sender_t        *sender;
    ngx_uint_t               group;              /* a send takes the
                                                    batch's jobs at once */
    ngx_uint_t               batch;              /* jobs a group gathers */
    ngx_msec_t               linger;             /* to gather them */
    ngx_uint_t               rate;               /* sends per second of
                                                    all dispatchers, 0:
                                                    no cap */
    ngx_msec_t               margin;             /* how late a send may
                                                    reach the peer */
    ngx_msec_t               probe;              /* a probe of an open
                                                    breaker holds it */
    ngx_uint_t               breaker_failures;
    ngx_msec_t               breaker_open;
} ngx_xyz_channel_t;


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

    ngx_xyz_channel_t        channel[NGX_XYZ_QUEUES];
} ngx_xyz_dispatch_conf_t;


struct ngx_xyz_sender_s {
    /* the queue's name in "xyz_dispatch", its rate limit's and the logs' */
    const char              *name;
    const char              *peer;               /* "the CRM" in logs */
    ngx_uint_t               queue;              /* NGX_XYZ_QUEUE_* */

    /* whether the configuration picks it for its queue; NULL: always */
    ngx_uint_t             (*chosen)(ngx_xyz_dispatch_conf_t *dc);

    /*
     * Completes and checks the configuration (conf: the module's main
     * configuration) and sets the channel; dispatched: its queue is
     * consumed here, not only configured.
     */
    char                  *(*init_conf)(ngx_conf_t *cf, void *conf,
                                        ngx_xyz_channel_t *ch,
                                        ngx_uint_t dispatched);

    /*
     * Sends n jobs (one, or a group) and calls ngx_xyz_job_done() for
     * each, now or later; jobs may be the caller's, copy what is kept.
     */
    void                   (*send)(ngx_xyz_job_t **jobs, ngx_uint_t n);

    ngx_uint_t               metrics[NGX_XYZ_SENDER_METRICS];
};


extern ngx_xyz_sender_t  *ngx_xyz_senders[];


/* what a sender may know of a job */

ngx_xyz_dispatch_conf_t *ngx_xyz_job_conf(ngx_xyz_job_t *job);
ngx_log_t *ngx_xyz_job_log(ngx_xyz_job_t *job);
ngx_xyz_sqs_received_t *ngx_xyz_job_msg(ngx_xyz_job_t *job);

/* a job's outcome: the message is deleted, retried or dead-lettered */
void ngx_xyz_job_done(ngx_xyz_job_t *job, ngx_uint_t outcome,
    ngx_uint_t retry_seconds, const char *detail);
void ngx_xyz_jobs_done(ngx_xyz_job_t **jobs, ngx_uint_t n,
    ngx_uint_t outcome, ngx_uint_t retry_seconds, const char *detail);

/* takes jobs out of their group: each reserves and is sent alone */
void ngx_xyz_jobs_alone(ngx_xyz_job_t **jobs, ngx_uint_t n);

/*
 * The peer's health as the answer to the request of this job (of its
 * group) shows it: ok or failing, and how long everyone waits; it moves
 * the rate limit and the breaker that every dispatcher shares.
 */
void ngx_xyz_job_peer(ngx_xyz_job_t *job, ngx_uint_t ok,
    ngx_uint_t block_seconds);


#endif /* _NGX_XYZ_SENDER_H_INCLUDED_ */
