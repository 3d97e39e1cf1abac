
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The SES feedback consumer of the dispatcher: in every worker of an nginx
 * with "xyz_ses_feedback_queue", one consumer long-polls that queue, where
 * SES's bounce and complaint notifications arrive through SNS, and records
 * each in PostgreSQL (xyz_mail_feedback): a permanent bounce or a
 * complaint suppresses the address, so that the email sender sends it
 * nothing more; a transient bounce is counted.
 *
 *   receive  up to ten messages, hidden for xyz_dispatch_lease;
 *   read     each body (ngx_xyz_ses_json.c): an SNS envelope or the raw
 *            notification;
 *   record   one statement a notification;
 *   delete   what was recorded, what concerns no address (deliveries,
 *            sends), and what is no SES notification at all (with a log
 *            line: it would never become one); a notification the database
 *            did not take is left to reappear after the lease, and after
 *            the queue's maxReceiveCount goes to its dead-letter queue.
 *
 * The SQS calls, the arena-free JSON of ReceiveMessage and
 * DeleteMessageBatch and the database pool are the dispatcher's, the poll
 * timer, its backoff and the batch's pool, guard and end every consumer's
 * (ngx_xyz_poller.c).
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_ses_json.h"
#include "ngx_xyz_poller.h"


#define NGX_XYZ_FB_DELETE   1       /* done with it */
#define NGX_XYZ_FB_LEAVE    2       /* let it reappear */


typedef struct ngx_xyz_fb_batch_s  ngx_xyz_fb_batch_t;


typedef struct {
    ngx_xyz_main_conf_t     *xmcf;
    ngx_log_t               *log;
    ngx_xyz_poller_t         poller;
} ngx_xyz_fb_consumer_t;


typedef struct {
    ngx_xyz_fb_batch_t      *batch;
    ngx_xyz_sqs_received_t  *msg;
    ngx_xyz_ses_feedback_t   fb;
    ngx_uint_t               outcome;

    ngx_xyz_pg_query_t       query;
    const char              *values[4];
} ngx_xyz_fb_job_t;


struct ngx_xyz_fb_batch_s {
    ngx_pool_t              *pool;
    ngx_xyz_fb_consumer_t   *consumer;
    ngx_xyz_sqs_received_t   msgs[NGX_XYZ_SQS_RECEIVE_MAX];
    ngx_xyz_fb_job_t         jobs[NGX_XYZ_SQS_RECEIVE_MAX];
    ngx_uint_t               n;
    ngx_uint_t               pending;            /* jobs not yet decided */
};


static void ngx_xyz_fb_poll(ngx_event_t *ev);
static void ngx_xyz_fb_received(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);
static void ngx_xyz_fb_job_start(ngx_xyz_fb_job_t *job);
static void ngx_xyz_fb_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_fb_job_done(ngx_xyz_fb_job_t *job, ngx_uint_t outcome);
static void ngx_xyz_fb_delete(ngx_xyz_fb_batch_t *b);
static void ngx_xyz_fb_deleted(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);
static void ngx_xyz_fb_free(void *data);


ngx_xyz_feature_t  ngx_xyz_feedback_feature = {
    NULL,
    ngx_xyz_feedback_init_conf,
    ngx_xyz_feedback_init_process,
    ngx_xyz_feedback_exit_process
};


static ngx_xyz_fb_consumer_t  *ngx_xyz_fb_consumer;

static const char  ngx_xyz_fb_sql[] =
    "SELECT xyz_mail_feedback($1, $2, $3, $4)";

static const char  *ngx_xyz_fb_types[] = {
    "other", "bounce", "transient", "complaint"
};


char *
ngx_xyz_feedback_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_str_t  *value;

    if (xmcf->feedback_queue.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "http://", 7) != 0
        && ngx_strncmp(value[1].data, "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_ses_feedback_queue\" needs the URL of the "
                           "queue SES's SNS topic delivers to, e.g. "
                           "https://sqs.eu-west-1.amazonaws.com/"
                           "123456789012/xyz-ses-events, not \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    /* ngx_conf_file strings are NUL-terminated */
    xmcf->feedback_queue = value[1];

    return NGX_CONF_OK;
}


char *
ngx_xyz_feedback_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    if (xmcf->feedback_queue.len == 0) {
        return NGX_CONF_OK;
    }

    /* the SQS endpoint and credentials, the database pool and the poll
     * and lease settings are the dispatcher's */

    if (xmcf->dispatch.queues == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_ses_feedback_queue\" needs \"xyz_dispatch\": "
                           "the dispatcher reads the feedback queue");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_xyz_feedback_init_process(ngx_cycle_t *cycle, ngx_xyz_main_conf_t *xmcf)
{
    ngx_xyz_fb_consumer_t  *c;

    if (xmcf->feedback_queue.len == 0) {
        return NGX_OK;
    }

    c = ngx_pcalloc(cycle->pool, sizeof(ngx_xyz_fb_consumer_t));
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->xmcf = xmcf;
    c->log = cycle->log;

    ngx_xyz_poller_start(&c->poller, "SES feedback", ngx_xyz_fb_poll, c,
                         cycle->log);

    ngx_xyz_fb_consumer = c;

    return NGX_OK;
}


void
ngx_xyz_feedback_exit_process(void)
{
    ngx_xyz_fb_consumer_t  *c;

    c = ngx_xyz_fb_consumer;
    if (c == NULL) {
        return;
    }

    ngx_xyz_fb_consumer = NULL;

    ngx_xyz_poller_stop(&c->poller);
}


static void
ngx_xyz_fb_poll(ngx_event_t *ev)
{
    ngx_int_t               rc;
    ngx_xyz_fb_batch_t     *b;
    ngx_xyz_fb_consumer_t  *c;

    c = ev->data;

    b = ngx_xyz_poller_batch(&c->poller, sizeof(ngx_xyz_fb_batch_t),
                             ngx_xyz_fb_free);
    if (b == NULL) {
        return;
    }

    b->pool = c->poller.pool;
    b->consumer = c;

    rc = ngx_xyz_poller_receive(&c->xmcf->sqs, b->pool,
                                &c->xmcf->feedback_queue,
                                NGX_XYZ_SQS_RECEIVE_MAX,
                                c->xmcf->dispatch.poll,
                                c->xmcf->dispatch.lease, ngx_xyz_fb_received,
                                b, c->log);

    if (rc != NGX_OK) {
        ngx_xyz_poller_drop(&c->poller, rc == NGX_DECLINED ? 1000 : 200);
    }
}


static void
ngx_xyz_fb_received(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_fb_batch_t *b = data;

    int                     n;
    ngx_uint_t              i;
    ngx_xyz_fb_job_t       *job;
    ngx_xyz_fb_consumer_t  *c;

    c = b->consumer;

    if (rc != NGX_OK) {
        ngx_xyz_poller_failed(&c->poller, error);
        return;
    }

    n = ngx_xyz_poller_messages(&c->poller, response, b->msgs,
                                NGX_XYZ_SQS_RECEIVE_MAX);

    if (n <= 0) {
        ngx_xyz_poller_drop(&c->poller, n < 0 ? 1000 : 0);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz feedback: %d messages", n);

    b->n = n;

    /* one more than the jobs: none ends the batch inside this loop */
    b->pending = b->n + 1;

    ngx_add_timer(&c->poller.guard, c->xmcf->dispatch.lease);

    for (i = 0; i < b->n; i++) {
        job = &b->jobs[i];
        job->batch = b;
        job->msg = &b->msgs[i];

        ngx_xyz_fb_job_start(job);
    }

    if (--b->pending == 0) {
        ngx_xyz_fb_delete(b);
    }
}


static void
ngx_xyz_fb_job_start(ngx_xyz_fb_job_t *job)
{
    int                     len;
    char                    err[128], *arena, *addresses;
    size_t                  size;
    ngx_uint_t              i;
    ngx_xyz_fb_batch_t     *b;
    ngx_xyz_fb_consumer_t  *c;

    b = job->batch;
    c = b->consumer;

    size = job->msg->body_len + 1024;
    arena = ngx_pnalloc(b->pool, size);
    if (arena == NULL) {
        ngx_xyz_fb_job_done(job, NGX_XYZ_FB_LEAVE);
        return;
    }

    if (ngx_xyz_ses_feedback_parse(job->msg->body, job->msg->body_len,
                                   &job->fb, arena, size, err, sizeof(err))
        != 0)
    {
        /* never the body: it names addresses */
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "xyz: message \"%s\" on the SES feedback queue is no "
                      "SES bounce or complaint (%s); deleted",
                      job->msg->message_id, err);
        ngx_xyz_fb_job_done(job, NGX_XYZ_FB_DELETE);
        return;
    }

    if (job->fb.type == NGX_XYZ_SES_OTHER) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "xyz feedback: a \"%s\" notification, nothing to "
                       "record", job->fb.detail);
        ngx_xyz_fb_job_done(job, NGX_XYZ_FB_DELETE);
        return;
    }

    size = 0;

    for (i = 0; i < job->fb.nrcpt; i++) {
        size += ngx_strlen(job->fb.rcpt[i]) + 1;
    }

    addresses = ngx_pnalloc(b->pool, size + 1);

    len = addresses ? ngx_xyz_ses_feedback_join(&job->fb, addresses,
                                                size + 1)
                    : -1;
    if (len < 0) {
        ngx_xyz_fb_job_done(job, NGX_XYZ_FB_LEAVE);
        return;
    }

    job->values[0] = ngx_xyz_fb_types[job->fb.type];
    job->values[1] = addresses;
    job->values[2] = job->fb.detail;
    job->values[3] = job->fb.feedback_id;

    ngx_xyz_pg_query_init(&job->query, ngx_xyz_fb_sql, 4, job->values,
                          ngx_xyz_fb_recorded, job, c->log);

    if (ngx_xyz_pg_query(c->xmcf->pg_pool, &job->query) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "xyz: cannot record SES %s \"%s\" now (database "
                      "unavailable); it comes back after the lease",
                      ngx_xyz_fb_types[job->fb.type], job->fb.feedback_id);
        ngx_xyz_fb_job_done(job, NGX_XYZ_FB_LEAVE);
    }
}


static void
ngx_xyz_fb_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_fb_job_t *job = q->data;

    ngx_log_t  *log;

    log = job->batch->consumer->log;

    if (rc != NGX_OK || PQntuples(res) != 1) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "xyz: recording SES %s \"%s\" failed; it comes back "
                      "after the lease",
                      ngx_xyz_fb_types[job->fb.type], job->fb.feedback_id);
        ngx_xyz_fb_job_done(job, NGX_XYZ_FB_LEAVE);
        return;
    }

    /* the count and the kind, not the addresses */

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "xyz: SES %s \"%s\" (%s) recorded for %uz address(es), "
                  "%s changed%s",
                  ngx_xyz_fb_types[job->fb.type], job->fb.feedback_id,
                  job->fb.detail, job->fb.nrcpt, PQgetvalue(res, 0, 0),
                  job->fb.type == NGX_XYZ_SES_TRANSIENT ? ""
                  : "; no more mail is sent to them");

    ngx_xyz_fb_job_done(job, NGX_XYZ_FB_DELETE);
}


static void
ngx_xyz_fb_job_done(ngx_xyz_fb_job_t *job, ngx_uint_t outcome)
{
    ngx_xyz_fb_batch_t  *b;

    b = job->batch;
    job->outcome = outcome;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, b->consumer->log, 0,
                   "xyz feedback: job %p done, outcome %ui", job, outcome);

    if (--b->pending == 0) {
        ngx_xyz_fb_delete(b);
    }
}


static void
ngx_xyz_fb_delete(ngx_xyz_fb_batch_t *b)
{
    int                     len;
    u_char                 *body;
    ngx_int_t               rc;
    ngx_uint_t              i, n;
    const char             *handles[NGX_XYZ_SQS_RECEIVE_MAX];
    ngx_xyz_fb_consumer_t  *c;

    c = b->consumer;
    n = 0;

    for (i = 0; i < b->n; i++) {
        if (b->jobs[i].outcome == NGX_XYZ_FB_DELETE) {
            handles[n++] = b->msgs[i].receipt_handle;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz feedback: delete %ui messages", n);

    if (n == 0) {
        ngx_xyz_poller_end(&c->poller);
        return;
    }

    body = ngx_xyz_poller_delete_body(b->pool, &c->xmcf->feedback_queue,
                                      handles, n, &len);

    rc = body ? ngx_xyz_sqs_call(&c->xmcf->sqs, "DeleteMessageBatch", body,
                                 len, 0, NULL, ngx_xyz_fb_deleted, b, c->log)
              : NGX_ERROR;

    if (rc != NGX_OK) {
        /* recorded already: a repeat of the same notification counts
         * nothing (xyz_mail_feedback knows its id) */
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "xyz: cannot delete %ui handled messages from the SES "
                      "feedback queue; they come back", n);
        ngx_xyz_poller_end(&c->poller);
    }
}


static void
ngx_xyz_fb_deleted(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_fb_batch_t *b = data;

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, b->consumer->log, 0,
                      "xyz: deleting from the SES feedback queue failed: %s",
                      error);
    }

    ngx_xyz_poller_end(&b->consumer->poller);
}


static void
ngx_xyz_fb_free(void *data)
{
    ngx_xyz_fb_batch_t *b = data;

    ngx_uint_t  i;

    /* a batch ended early (worker exit): let nothing point into it */

    for (i = 0; i < b->n; i++) {
        ngx_xyz_pg_cancel(&b->jobs[i].query);
    }
}
