
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The dispatcher: in every worker of an nginx whose configuration names
 * queues with "xyz_dispatch", one consumer per queue long-polls SQS and
 * works through what it receives, a batch of up to ten at a time (for a
 * sender that sends groups, up to its batch size gathered from several
 * receives within a short linger, sent as one request):
 *
 *   begin    xyz_delivery_begin() claims the outbox id; a message whose id
 *            was already sent is only deleted, one another dispatcher holds
 *            is left alone;
 *   reserve  xyz_rate_reserve() books the next slot of the peer's global
 *            rate (when the sender caps it), shared by every dispatcher
 *            through PostgreSQL; an open breaker or a Retry-After sends the
 *            message back to wait;
 *   send     the queue's sender (ngx_xyz_sender.h), which the dispatcher
 *            knows only by its interface;
 *   record   xyz_delivery_end() writes the outcome; a permanent failure
 *            is recorded "dead" only once its message is in the
 *            dead-letter queue, so that a failed move leaves it to be
 *            tried again rather than deleted as done;
 *   clean up sent messages are deleted in one DeleteMessageBatch, failed
 *            ones made visible again after an exponential backoff with
 *            jitter, permanent failures moved to the dead-letter queue with
 *            their reason; after maxReceiveCount receives SQS's redrive
 *            policy moves a message there by itself.
 *
 * While a batch is in work a timer that is not cancelable keeps the
 * worker alive on reload, so a batch finishes rather than half ends.  A
 * batch held for half its lease (a rate limit, a slow peer) renews the
 * leases of its messages, so that no other dispatcher takes them
 * meanwhile.
 *
 * A batch's pool goes in a posted event, never where its end is decided:
 * the end can come from deep inside a loop over the batch's jobs (a
 * refused query finishes the last job at once), and the loop must still
 * find its memory when control comes back to it.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_dispatch.h"
#include "ngx_xyz_poller.h"


#define NGX_XYZ_DUPLICATE   4       /* already sent: delete only */
#define NGX_XYZ_LEAVE       5       /* someone else's: let it reappear */

#define NGX_XYZ_SLOT_LATE   5       /* ms a reserved slot may be missed by */
#define NGX_XYZ_CLOCK_AGREE 5       /* ms the database's clock may be off */



typedef struct {
    ngx_uint_t               kind;
    ngx_xyz_sender_t        *sender;
    ngx_xyz_channel_t       *channel;
    ngx_xyz_main_conf_t     *xmcf;
    ngx_log_t               *log;
    ngx_xyz_poller_t         poller;
} ngx_xyz_consumer_t;


struct ngx_xyz_batch_s {
    ngx_pool_t              *pool;
    ngx_xyz_consumer_t      *consumer;
    ngx_xyz_sqs_received_t  *msgs;
    ngx_xyz_job_t           *jobs;
    ngx_uint_t               max;                /* messages it may hold */
    ngx_uint_t               n;
    ngx_uint_t               begun;
    ngx_uint_t               finished;
    ngx_uint_t               calls;              /* clean-up calls and
                                                    queries under way */
    ngx_msec_t               deadline;           /* the linger's end */
    ngx_event_t              gather;             /* the next receive */
    ngx_event_t              renew;              /* keeps the leases */
    unsigned                 grouped:1;
    unsigned                 gathering:1;        /* more receives to come */
    unsigned                 cleaning:1;

    /* a sender of groups sends the whole batch as one request */
    ngx_xyz_job_t          **group;
    ngx_uint_t               ngroup;
    ngx_xyz_job_t            unit;               /* its reservation */
};


typedef struct {
    ngx_xyz_batch_t         *batch;
    ngx_xyz_job_t           *job;
} ngx_xyz_cleanup_call_t;


static char *ngx_xyz_dispatch_check(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static void ngx_xyz_consumer_poll(ngx_event_t *ev);
static ngx_int_t ngx_xyz_batch_receive(ngx_xyz_batch_t *b, int wait);
static void ngx_xyz_batch_gather_next(ngx_xyz_batch_t *b, ngx_uint_t got);
static void ngx_xyz_batch_gather_handler(ngx_event_t *ev);
static void ngx_xyz_batch_gathered(ngx_xyz_batch_t *b);
static void ngx_xyz_batch_renew_handler(ngx_event_t *ev);
static void ngx_xyz_batch_renewed(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);
static void ngx_xyz_consumer_received(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);
static void ngx_xyz_job_begun(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_job_reserve(ngx_xyz_job_t *job);
static void ngx_xyz_job_reserved(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_job_wait_handler(ngx_event_t *ev);
static void ngx_xyz_job_send(ngx_xyz_job_t *job);
static void ngx_xyz_group_send(ngx_xyz_batch_t *b);
static ngx_int_t ngx_xyz_job_record(ngx_xyz_job_t *job, const char *result,
    ngx_xyz_pg_handler_pt handler);
static void ngx_xyz_job_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_job_finish(ngx_xyz_job_t *job);
static void ngx_xyz_batch_cleanup(ngx_xyz_batch_t *b);
static void ngx_xyz_batch_call_done(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);
static void ngx_xyz_batch_dlq_done(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);
static void ngx_xyz_batch_delete(ngx_xyz_batch_t *b);
static void ngx_xyz_batch_record(ngx_xyz_batch_t *b, ngx_xyz_job_t *job,
    const char *result);
static void ngx_xyz_batch_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_batch_free(void *data);
static void ngx_xyz_unit_done(ngx_xyz_job_t *job, ngx_uint_t outcome,
    ngx_uint_t retry_seconds, const char *detail);
static ngx_uint_t ngx_xyz_grouped(ngx_xyz_batch_t *b);
static ngx_xyz_job_t *ngx_xyz_job_unit(ngx_xyz_job_t *job);
static void ngx_xyz_job_peer_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_batch_call(ngx_xyz_batch_t *b, ngx_xyz_job_t *job,
    const char *target, u_char *body, int len, ngx_xyz_sqs_call_pt handler);
static ngx_uint_t ngx_xyz_job_backoff(ngx_xyz_job_t *job);
static ngx_uint_t ngx_xyz_metric(ngx_xyz_sender_t *s, ngx_uint_t outcome);
static ngx_msec_int_t ngx_xyz_slot_delay(ngx_xyz_job_t *job, PGresult *res,
    ngx_int_t wait);
static int64_t ngx_xyz_wall_msec(void);


static ngx_xyz_consumer_t  *ngx_xyz_consumers[NGX_XYZ_QUEUES];

/* also whether the message's address is suppressed (sql/010) */
static const char  ngx_xyz_begin_sql[] =
    "SELECT xyz_delivery_begin_checked($1::bigint, $2, $3::interval)";

/* the wait, and "now" on the database's clock (sql/011) */
static const char  ngx_xyz_reserve_sql[] =
    "SELECT w, current_setting('xyz.rate_now', true) FROM"
    " (SELECT xyz_rate_reserve($1, $2::float8, $3::interval, $4::interval)"
    " AS w OFFSET 0) s";

static const char  ngx_xyz_end_sql[] =
    "SELECT xyz_delivery_end($1::bigint, $2, $3)";

static const char  ngx_xyz_peer_sql[] =
    "SELECT xyz_rate_result($1, $2::boolean, $3::interval, $4::integer, "
    "$5::interval)";


/*
 * Picks each queue's sender and lets it complete its configuration: once
 * for every configuration (defaults, and checks that hold whether or not
 * the queue is consumed), and again for the queues this nginx consumes,
 * after the checks of what every queue needs.
 */

char *
ngx_xyz_dispatch_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    char                     *rv;
    ngx_uint_t                i, k;
    ngx_xyz_sender_t         *s;
    ngx_xyz_channel_t        *ch;
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    ngx_conf_init_msec_value(dc->lease, 60000);
    ngx_conf_init_value(dc->poll, 20);
    ngx_conf_init_uint_value(dc->backoff_base, 10);
    ngx_conf_init_uint_value(dc->backoff_max, 900);

    for (i = 0; ngx_xyz_senders[i]; i++) {
        s = ngx_xyz_senders[i];
        ch = &dc->channel[s->queue];

        if (ch->sender == NULL && (s->chosen == NULL || s->chosen(dc))) {
            ch->sender = s;
        }
    }

    for (k = 0; k < NGX_XYZ_QUEUES; k++) {
        ch = &dc->channel[k];

        if (ch->sender == NULL) {
            continue;
        }

        rv = ch->sender->init_conf(cf, xmcf, ch, 0);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (dc->queues == 0) {
        return NGX_CONF_OK;
    }

    rv = ngx_xyz_dispatch_check(cf, xmcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (k = 0; k < NGX_XYZ_QUEUES; k++) {
        if (!(dc->queues & (1 << k))) {
            continue;
        }

        ch = &dc->channel[k];

        rv = ch->sender->init_conf(cf, xmcf, ch, 1);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_xyz_dispatch_check(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_uint_t                k;
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    if (xmcf->pg.dsn.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch\" needs \"xyz_pg_dsn\": delivery "
                           "state and rate limits are in PostgreSQL");
        return NGX_CONF_ERROR;
    }

    for (k = 0; k < NGX_XYZ_QUEUES; k++) {
        if ((dc->queues & (1 << k)) && dc->channel[k].sender == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no sender for queue %ui of \"xyz_dispatch\"",
                               k);
            return NGX_CONF_ERROR;
        }

        if ((dc->queues & (1 << k)) && xmcf->sqs.queue[k].url.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"xyz_dispatch\" %s needs \"xyz_sqs_queue %s "
                               "URL\"", dc->channel[k].sender->name,
                               dc->channel[k].sender->name);
            return NGX_CONF_ERROR;
        }
    }

    if (dc->poll > 20) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch_poll\" is at most 20s, SQS's "
                           "longest poll");
        return NGX_CONF_ERROR;
    }

    if (dc->lease < 10000 || dc->lease > 43200000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch_lease\" must be from 10s to 12h");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_xyz_dispatch_init_process(ngx_cycle_t *cycle, ngx_xyz_main_conf_t *xmcf)
{
    ngx_uint_t           k;
    ngx_xyz_consumer_t  *c;

    for (k = 0; k < NGX_XYZ_QUEUES; k++) {

        if (!(xmcf->dispatch.queues & (1 << k))) {
            continue;
        }

        c = ngx_pcalloc(cycle->pool, sizeof(ngx_xyz_consumer_t));
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->kind = k;
        c->channel = &xmcf->dispatch.channel[k];
        c->sender = c->channel->sender;
        c->xmcf = xmcf;
        c->log = cycle->log;

        ngx_xyz_poller_start(&c->poller, c->sender->name,
                             ngx_xyz_consumer_poll, c, cycle->log);

        ngx_xyz_consumers[k] = c;
    }

    return NGX_OK;
}


void
ngx_xyz_dispatch_exit_process(void)
{
    ngx_uint_t           k;
    ngx_xyz_consumer_t  *c;

    for (k = 0; k < NGX_XYZ_QUEUES; k++) {
        c = ngx_xyz_consumers[k];
        if (c == NULL) {
            continue;
        }

        ngx_xyz_consumers[k] = NULL;

        ngx_xyz_poller_stop(&c->poller);
    }
}


static void
ngx_xyz_consumer_poll(ngx_event_t *ev)
{
    ngx_int_t                 rc;
    ngx_uint_t                max;
    ngx_pool_t               *pool;
    ngx_xyz_batch_t          *b;
    ngx_xyz_consumer_t       *c;
    ngx_xyz_dispatch_conf_t  *dc;

    c = ev->data;
    dc = &c->xmcf->dispatch;

    /* a group may take more than one receive can give */

    max = c->channel->group ? ngx_max(c->channel->batch, 1)
                            : NGX_XYZ_SQS_BATCH_MAX;

    b = ngx_xyz_poller_batch(&c->poller, sizeof(ngx_xyz_batch_t),
                             ngx_xyz_batch_free);
    if (b == NULL) {
        return;
    }

    pool = c->poller.pool;

    b->msgs = ngx_pcalloc(pool, max * sizeof(ngx_xyz_sqs_received_t));
    b->jobs = ngx_pcalloc(pool, max * sizeof(ngx_xyz_job_t));
    b->group = ngx_pcalloc(pool, max * sizeof(ngx_xyz_job_t *));

    if (b->msgs == NULL || b->jobs == NULL || b->group == NULL) {
        ngx_xyz_poller_drop(&c->poller, 1000);
        return;
    }

    b->pool = pool;
    b->consumer = c;
    b->max = max;

    b->gather.handler = ngx_xyz_batch_gather_handler;
    b->gather.data = b;
    b->gather.log = c->log;

    b->renew.handler = ngx_xyz_batch_renew_handler;
    b->renew.data = b;
    b->renew.log = c->log;

    rc = ngx_xyz_batch_receive(b, (int) dc->poll);

    if (rc != NGX_OK) {
        ngx_xyz_poller_drop(&c->poller, rc == NGX_DECLINED ? 1000 : 200);
    }
}


/* a ReceiveMessage for as many as the batch still takes, ten at most */

static ngx_int_t
ngx_xyz_batch_receive(ngx_xyz_batch_t *b, int wait)
{
    ngx_uint_t           max;
    ngx_xyz_consumer_t  *c;

    c = b->consumer;
    max = ngx_min(b->max - b->n, NGX_XYZ_SQS_RECEIVE_MAX);

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz dispatch: receive from the %s queue, up to %ui, "
                   "wait %d s", c->sender->name, max, wait);

    return ngx_xyz_poller_receive(&c->xmcf->sqs, b->pool,
                                  &c->xmcf->sqs.queue[c->kind].url, max,
                                  wait, c->xmcf->dispatch.lease,
                                  ngx_xyz_consumer_received, b, c->log);
}


static void
ngx_xyz_consumer_received(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_batch_t *b = data;

    int                  n;
    ngx_uint_t           i, first;
    ngx_xyz_job_t       *job;
    ngx_xyz_consumer_t  *c;

    c = b->consumer;

    if (rc != NGX_OK && b->n) {
        /* what was gathered goes as it is */
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "xyz: receiving more from the %s queue failed: %s; "
                      "sending the %ui messages gathered",
                      c->sender->name, error, b->n);
        ngx_xyz_batch_gathered(b);
        return;
    }

    if (rc != NGX_OK) {
        ngx_xyz_poller_failed(&c->poller, error);
        return;
    }

    n = ngx_xyz_poller_messages(&c->poller, response, &b->msgs[b->n],
                                ngx_min(b->max - b->n,
                                        NGX_XYZ_SQS_RECEIVE_MAX));

    if (n <= 0 && b->n) {
        if (n < 0) {
            ngx_xyz_batch_gathered(b);

        } else {
            ngx_xyz_batch_gather_next(b, 0);
        }

        return;
    }

    if (n <= 0) {
        ngx_xyz_poller_drop(&c->poller, n < 0 ? 1000 : 0);
        return;
    }

    first = b->n;
    b->n += n;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz dispatch: received %d messages from the %s queue", n,
                   c->sender->name);

    if (first == 0) {
        ngx_add_timer(&c->poller.guard, c->xmcf->dispatch.lease);
        ngx_add_timer(&b->renew, c->xmcf->dispatch.lease / 2);

        if (b->max > NGX_XYZ_SQS_RECEIVE_MAX) {
            /* the linger counts from the first message */
            b->gathering = 1;
            b->deadline = ngx_current_msec + c->channel->linger;
        }
    }

    for (i = first; i < b->n; i++) {
        job = &b->jobs[i];
        job->batch = b;
        job->msg = &b->msgs[i];

        job->wait.handler = ngx_xyz_job_wait_handler;
        job->wait.data = job;
        job->wait.log = c->log;

        if (job->msg->outbox_id < 0) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "xyz: a message without an outbox id in the %s "
                          "queue", c->sender->name);

            /* counted as begun: a group waits for every job */
            b->begun++;
            ngx_xyz_job_done(job, NGX_XYZ_DEAD, 0, "no outbox id");
            continue;
        }

        ngx_sprintf((u_char *) job->id, "%L%Z", job->msg->outbox_id);
        ngx_sprintf((u_char *) job->lease, "%M milliseconds%Z",
                    c->xmcf->dispatch.lease);

        job->values[0] = job->id;
        job->values[1] = c->sender->name;
        job->values[2] = job->lease;

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "xyz dispatch: begin row %L", job->msg->outbox_id);

        ngx_xyz_pg_query_init(&job->query, ngx_xyz_begin_sql, 3,
                              job->values, ngx_xyz_job_begun, job, c->log);

        if (ngx_xyz_pg_query(c->xmcf->pg_pool, &job->query) != NGX_OK) {
            b->begun++;
            job->outcome = NGX_XYZ_LEAVE;
            ngx_xyz_job_finish(job);
        }
    }

    if (b->gathering) {
        ngx_xyz_batch_gather_next(b, n);
        return;
    }

    /* every job began (or failed to) without a query answered */

    if (ngx_xyz_grouped(b) && b->begun == b->n) {
        ngx_xyz_group_send(b);
    }
}


/*
 * Gathering: a full answer is followed by the next receive at once, a
 * partial or empty one after a pause, until the batch is full or the
 * linger is over.  The claims of what was received begin meanwhile.
 */

static void
ngx_xyz_batch_gather_next(ngx_xyz_batch_t *b, ngx_uint_t got)
{
    ngx_msec_t      left, pause;
    ngx_msec_int_t  d;

    d = (ngx_msec_int_t) (b->deadline - ngx_current_msec);

    if (b->n >= b->max || d <= 0 || ngx_exiting || ngx_quit
        || ngx_terminate)
    {
        ngx_xyz_batch_gathered(b);
        return;
    }

    left = (ngx_msec_t) d;

    if (got > 0) {
        ngx_xyz_batch_gather_handler(&b->gather);
        return;
    }

    pause = ngx_max(b->consumer->channel->linger / 4, 10);

    ngx_add_timer(&b->gather, ngx_min(pause, left));
}


static void
ngx_xyz_batch_gather_handler(ngx_event_t *ev)
{
    ngx_xyz_batch_t *b = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate
        || ngx_xyz_batch_receive(b, 0) != NGX_OK)
    {
        ngx_xyz_batch_gathered(b);
    }
}


static void
ngx_xyz_batch_gathered(ngx_xyz_batch_t *b)
{
    if (!b->gathering) {
        return;
    }

    b->gathering = 0;

    if (b->gather.timer_set) {
        ngx_del_timer(&b->gather);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, b->consumer->log, 0,
                   "xyz dispatch: gathered %ui messages", b->n);

    if (b->finished == b->n) {
        ngx_xyz_batch_cleanup(b);
        return;
    }

    if (ngx_xyz_grouped(b) && b->begun == b->n) {
        ngx_xyz_group_send(b);
    }
}


/*
 * Half the lease is gone and the batch is still in work (a reservation
 * far off, a peer slow to answer): every message is hidden for another
 * lease, so that no dispatcher receives it meanwhile.
 */

static void
ngx_xyz_batch_renew_handler(ngx_event_t *ev)
{
    ngx_xyz_batch_t *b = ev->data;

    int                  len;
    u_char              *body;
    size_t               size;
    ngx_uint_t           i, k, n;
    const char          *handles[NGX_XYZ_SQS_RECEIVE_MAX];
    ngx_xyz_consumer_t  *c;

    c = b->consumer;

    if (b->cleaning || c->poller.ending) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "xyz: a %s batch of %ui messages is still in work after "
                  "half its lease; renewing the leases",
                  c->sender->name, b->n);

    for (i = 0; i < b->n; i += n) {
        n = ngx_min(b->n - i, NGX_XYZ_SQS_RECEIVE_MAX);
        size = 256 + 6 * c->xmcf->sqs.queue[c->kind].url.len;

        for (k = 0; k < n; k++) {
            handles[k] = b->msgs[i + k].receipt_handle;
            size += 96 + 6 * ngx_strlen(handles[k]);
        }

        body = ngx_pnalloc(b->pool, size);

        len = body ? ngx_xyz_sqs_visibility_batch_json((char *) body, size,
                         (char *) c->xmcf->sqs.queue[c->kind].url.data,
                         handles, n, (int) (c->xmcf->dispatch.lease / 1000))
                   : -1;

        if (len > 0
            && ngx_xyz_sqs_call(&c->xmcf->sqs, "ChangeMessageVisibilityBatch",
                                body, len, 0, NULL, ngx_xyz_batch_renewed, b,
                                c->log)
               == NGX_OK)
        {
            c->poller.holds++;

        } else {
            ngx_log_error(NGX_LOG_WARN, c->log, 0,
                          "xyz: cannot renew the leases of %ui messages of "
                          "the %s queue", n, c->sender->name);
        }
    }

    ngx_add_timer(&c->poller.guard, c->xmcf->dispatch.lease);
    ngx_add_timer(&b->renew, c->xmcf->dispatch.lease / 2);
}


static void
ngx_xyz_batch_renewed(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_batch_t *b = data;

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, b->consumer->log, 0,
                      "xyz: renewing leases failed: %s; those messages may "
                      "come back before the batch ends", error);
    }

    ngx_xyz_poller_release(&b->consumer->poller);
}


static void
ngx_xyz_job_begun(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_job_t *job = q->data;

    char             *state;
    ngx_xyz_batch_t  *b;

    b = job->batch;
    b->begun++;

    state = (rc == NGX_OK && PQntuples(res) == 1) ? PQgetvalue(res, 0, 0)
                                                  : NULL;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, b->consumer->log, 0,
                   "xyz dispatch: begun row %L: %s", job->msg->outbox_id,
                   state ? state : "(database error)");

    if (state == NULL) {
        /* the database is away: the message comes back after its timeout */
        job->outcome = NGX_XYZ_LEAVE;
        ngx_xyz_job_finish(job);

    } else if (ngx_strcmp(state, "done") == 0) {
        ngx_xyz_metrics_add(
                b->consumer->sender->metrics[NGX_XYZ_SENDER_M_DUPLICATE], 1);
        job->outcome = NGX_XYZ_DUPLICATE;
        ngx_xyz_job_finish(job);

    } else if (ngx_strcmp(state, "suppressed") == 0) {
        /* recorded with its reason by the query: deleted, never sent */
        ngx_log_error(NGX_LOG_NOTICE, b->consumer->log, 0,
                      "xyz: %s of outbox row %L not sent: the address "
                      "is suppressed (bounce or complaint)",
                      b->consumer->sender->name, job->msg->outbox_id);
        job->outcome = NGX_XYZ_DUPLICATE;
        ngx_xyz_job_finish(job);

    } else if (ngx_strcmp(state, "go") != 0) {
        job->outcome = NGX_XYZ_LEAVE;
        ngx_xyz_job_finish(job);

    } else if (ngx_xyz_grouped(b)) {
        job->go = 1;

    } else {
        job->go = 1;
        ngx_xyz_job_reserve(job);
    }

    if (ngx_xyz_grouped(b) && b->begun == b->n && !b->gathering) {
        ngx_xyz_group_send(b);
    }
}


static ngx_uint_t
ngx_xyz_grouped(ngx_xyz_batch_t *b)
{
    return b->consumer->channel->group;
}


static void
ngx_xyz_job_reserve(ngx_xyz_job_t *job)
{
    double              rate;
    ngx_xyz_batch_t    *b;
    ngx_xyz_channel_t  *ch;

    b = job->batch;
    ch = b->consumer->channel;

    rate = ch->rate;

    if (rate == 0) {
        ngx_xyz_job_send(job);
        return;
    }

    /*
     * Slots spaced so that a second and the margin hold the cap: a call
     * reaches the peer at its slot plus the delays of timers, event loops
     * and networks, and the peer counts arrivals in any one second.  Calls
     * that arrive up to the margin late still fit the cap (50 ms, the
     * default: 0.952 of the cap; xyz_crm_rate margin=).
     */

    ngx_sprintf((u_char *) job->rate, "%.3f%Z",
                rate * 1000 / (1000 + ch->margin));

    job->values[0] = b->consumer->sender->name;
    job->values[1] = job->rate;
    job->values[2] = "5 seconds";
    job->values[3] = job->lease;

    ngx_sprintf((u_char *) job->lease, "%M milliseconds%Z", ch->probe);

    job->asked = ngx_xyz_wall_msec();

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, b->consumer->log, 0,
                   "xyz dispatch: reserve slot %p, rate %s", job, job->rate);

    ngx_xyz_pg_query_init(&job->query, ngx_xyz_reserve_sql, 4, job->values,
                          ngx_xyz_job_reserved, job, b->consumer->log);

    if (ngx_xyz_pg_query(b->consumer->xmcf->pg_pool, &job->query) != NGX_OK) {
        ngx_xyz_unit_done(job, NGX_XYZ_RETRY, 0, "database unavailable");
    }
}


static void
ngx_xyz_job_reserved(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_job_t *job = q->data;

    ngx_int_t  wait;

    if (rc != NGX_OK || PQntuples(res) != 1) {
        ngx_xyz_unit_done(job, NGX_XYZ_RETRY, 0, "database unavailable");
        return;
    }

    wait = ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                    PQgetlength(res, 0, 0));

    if (wait == NGX_ERROR) {
        /* negative: nothing reserved, the peer is blocked or broken */
        wait = -ngx_atoi((u_char *) PQgetvalue(res, 0, 0) + 1,
                         PQgetlength(res, 0, 0) - 1);

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                       "xyz dispatch: slot %p refused, blocked %i ms",
                       job, -wait);

        if (-wait <= 5000) {
            job->sending = 0;
            ngx_add_timer(&job->wait, (ngx_msec_t) -wait);
            return;
        }

        ngx_xyz_unit_done(job, NGX_XYZ_RETRY, (-wait + 999) / 1000,
                          "the peer is rate limited or failing");
        return;
    }

    wait = ngx_xyz_slot_delay(job, res, wait);

    job->sending = 1;
    job->slot = ngx_current_msec + wait;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                   "xyz dispatch: slot %p reserved, wait %i ms", job, wait);

    if (wait <= 0) {
        /* due, or already past: the handler sends or books anew */
        ngx_xyz_job_wait_handler(&job->wait);
        return;
    }

    ngx_add_timer(&job->wait, (ngx_msec_t) wait);
}


/*
 * How many ms from now the slot is.  The database said "wait ms after my
 * now": timed from the answer's arrival, a slot leaves late by however
 * long the answer took, and late sends bunch up with the ones on time at
 * the peer.  When the database's "now" lies between the asking and the
 * answer on this host's clock, the clocks agree and the slot is timed on
 * the database's clock; otherwise (clocks apart) from the arrival, as
 * before.  "Now" is this moment's, not the time cached at the start of
 * this turn of the loop.
 */

static ngx_msec_int_t
ngx_xyz_slot_delay(ngx_xyz_job_t *job, PGresult *res, ngx_int_t wait)
{
    off_t    db_now;
    int64_t  now;

    now = ngx_xyz_wall_msec();

    if (PQnfields(res) < 2 || PQgetisnull(res, 0, 1)) {
        return wait;
    }

    db_now = ngx_atoof((u_char *) PQgetvalue(res, 0, 1),
                       PQgetlength(res, 0, 1));

    if (db_now == NGX_ERROR
        || db_now < job->asked - NGX_XYZ_CLOCK_AGREE
        || db_now > now + NGX_XYZ_CLOCK_AGREE)
    {
        ngx_log_debug3(NGX_LOG_DEBUG_EVENT, job->batch->consumer->log, 0,
                       "xyz dispatch: database clock %O outside %L..%L, "
                       "slot timed from the answer",
                       db_now, job->asked, now);
        return wait;
    }

    return (ngx_msec_int_t) (db_now + wait - now);
}


static int64_t
ngx_xyz_wall_msec(void)
{
    ngx_time_t  *tp;

    ngx_time_update();
    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


static void
ngx_xyz_job_wait_handler(ngx_event_t *ev)
{
    ngx_xyz_job_t *job = ev->data;

    if (!job->sending) {
        /* waited out a block: ask for a slot again */
        ngx_xyz_job_reserve(job);
        return;
    }

    /*
     * A slot missed (the worker was busy, the timer fired late) is given
     * up rather than used: late sends would bunch up with the ones on
     * time and push a one-second window over the cap.
     */

    if ((ngx_msec_int_t) (ngx_current_msec - job->slot)
        > NGX_XYZ_SLOT_LATE)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                       "xyz dispatch: slot missed by %M ms, booking anew",
                       ngx_current_msec - job->slot);
        job->sending = 0;
        ngx_xyz_job_reserve(job);
        return;
    }

    if (job == &job->batch->unit) {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                       "xyz dispatch: send %ui rows via %s",
                       job->batch->ngroup, job->batch->consumer->sender->name);

        job->batch->consumer->sender->send(job->batch->group,
                                           job->batch->ngroup);
        return;
    }

    ngx_xyz_job_send(job);
}


static void
ngx_xyz_job_send(ngx_xyz_job_t *job)
{
    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, job->batch->consumer->log, 0,
                   "xyz dispatch: send row %L via %s",
                   job->msg->outbox_id, job->batch->consumer->sender->name);

    job->batch->consumer->sender->send(&job, 1);
}


static void
ngx_xyz_group_send(ngx_xyz_batch_t *b)
{
    ngx_uint_t  i;

    if (b->grouped) {
        return;
    }

    b->grouped = 1;

    for (i = 0; i < b->n; i++) {
        if (b->jobs[i].go) {
            b->group[b->ngroup++] = &b->jobs[i];
        }
    }

    if (b->ngroup == 0) {
        return;
    }

    /* one reservation for the whole request */

    b->unit.batch = b;
    b->unit.wait.handler = ngx_xyz_job_wait_handler;
    b->unit.wait.data = &b->unit;
    b->unit.wait.log = b->consumer->log;

    ngx_xyz_job_reserve(&b->unit);
}


void
ngx_xyz_jobs_done(ngx_xyz_job_t **jobs, ngx_uint_t n, ngx_uint_t outcome,
    ngx_uint_t retry_seconds, const char *detail)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        ngx_xyz_job_done(jobs[i], outcome, retry_seconds, detail);
    }
}


void
ngx_xyz_jobs_alone(ngx_xyz_job_t **jobs, ngx_uint_t n)
{
    ngx_uint_t      i;
    ngx_xyz_job_t  *job;

    for (i = 0; i < n; i++) {
        job = jobs[i];

        job->alone = 1;
        job->sending = 0;

        ngx_xyz_job_reserve(job);
    }
}


/* the outcome of a job, or of every job of the group when it is the unit */

static void
ngx_xyz_unit_done(ngx_xyz_job_t *job, ngx_uint_t outcome,
    ngx_uint_t retry_seconds, const char *detail)
{
    ngx_xyz_batch_t  *b;

    b = job->batch;

    if (job == &b->unit) {
        ngx_xyz_jobs_done(b->group, b->ngroup, outcome, retry_seconds,
                          detail);
        return;
    }

    ngx_xyz_job_done(job, outcome, retry_seconds, detail);
}


void
ngx_xyz_job_done(ngx_xyz_job_t *job, ngx_uint_t outcome,
    ngx_uint_t retry_seconds, const char *detail)
{
    ngx_uint_t           level;
    ngx_xyz_batch_t     *b;
    ngx_xyz_consumer_t  *c;

    static const char  *results[] = { "", "sent", "retry", "dead" };

    b = job->batch;
    c = b->consumer;

    job->outcome = outcome;
    job->retry_seconds = retry_seconds;
    ngx_cpystrn((u_char *) job->detail, (u_char *) (detail ? detail : ""),
                sizeof(job->detail));

    ngx_xyz_metrics_add(ngx_xyz_metric(c->sender, outcome), 1);

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "xyz dispatch: record row %L %s, retry after %ui s",
                   job->msg->outbox_id, results[outcome], retry_seconds);

    if (outcome != NGX_XYZ_SENT) {
        level = (outcome == NGX_XYZ_DEAD) ? NGX_LOG_ERR : NGX_LOG_WARN;

        ngx_log_error(level, c->log, 0, "xyz: %s of outbox row %L %s: %s",
                      c->sender->name, job->msg->outbox_id,
                      outcome == NGX_XYZ_DEAD ? "failed for good"
                                              : "failed, retried later",
                      job->detail);
    }

    /*
     * "dead" is recorded when the message is in the dead-letter queue: if
     * the move fails the message must come back to be tried again, and a
     * row recorded "dead" would have it deleted as done instead.
     */

    if (job->msg->outbox_id < 0 || outcome == NGX_XYZ_DEAD) {
        ngx_xyz_job_finish(job);
        return;
    }

    if (ngx_xyz_job_record(job, results[outcome], ngx_xyz_job_recorded)
        != NGX_OK)
    {
        /* unrecorded: after the lease another dispatcher sends it again */
        ngx_xyz_job_finish(job);
    }
}


/* xyz_delivery_end() of a job: "sent", "retry" or "dead", and why */

static ngx_int_t
ngx_xyz_job_record(ngx_xyz_job_t *job, const char *result,
    ngx_xyz_pg_handler_pt handler)
{
    ngx_xyz_consumer_t  *c;

    c = job->batch->consumer;

    job->values[0] = job->id;
    job->values[1] = result;
    job->values[2] = job->detail;

    ngx_xyz_pg_query_init(&job->query, ngx_xyz_end_sql, 3, job->values,
                          handler, job, c->log);

    return ngx_xyz_pg_query(c->xmcf->pg_pool, &job->query);
}


static void
ngx_xyz_job_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_job_t *job = q->data;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, q->log, 0,
                   "xyz dispatch: recorded row %L, rc %i",
                   job->msg->outbox_id, rc);

    if (rc != NGX_OK && job->outcome == NGX_XYZ_SENT) {
        /* the message is deleted all the same: sending it again would
         * be worse than a row that stays "sending" */
        ngx_log_error(NGX_LOG_ERR, job->batch->consumer->log, 0,
                      "xyz: %s of outbox row %L was sent, but recording "
                      "it failed",
                      job->batch->consumer->sender->name,
                      job->msg->outbox_id);
    }

    ngx_xyz_job_finish(job);
}


static void
ngx_xyz_job_finish(ngx_xyz_job_t *job)
{
    ngx_xyz_batch_t  *b;

    b = job->batch;

    if (job->recorded) {
        return;
    }

    job->recorded = 1;

    /* a batch still gathering cleans up once the gathering is over */

    if (++b->finished == b->n && !b->gathering) {
        ngx_xyz_batch_cleanup(b);
    }
}


static void
ngx_xyz_batch_cleanup(ngx_xyz_batch_t *b)
{
    int                  len;
    char                 group[NGX_INT64_LEN + 8], dedup[160];
    u_char              *body;
    size_t               size;
    ngx_str_t           *dlq;
    ngx_uint_t           i, fifo;
    ngx_xyz_job_t       *job;
    ngx_xyz_consumer_t  *c;

    c = b->consumer;
    dlq = &c->xmcf->dispatch.dlq[c->kind];

    /* every outcome is known: the leases are not renewed any more */

    b->cleaning = 1;

    if (b->renew.timer_set) {
        ngx_del_timer(&b->renew);
    }

    fifo = dlq->len > 5
           && ngx_strncmp(dlq->data + dlq->len - 5, ".fifo", 5) == 0;

    /* the dead go to the dead-letter queue first, with their reason */

    for (i = 0; i < b->n; i++) {
        job = &b->jobs[i];

        if (job->outcome != NGX_XYZ_DEAD) {
            continue;
        }

        if (dlq->len == 0) {
            /* the queue's redrive policy will move it */
            job->outcome = NGX_XYZ_RETRY;
            ngx_xyz_batch_record(b, job, "retry");
            continue;
        }

        /*
         * A FIFO queue wants a group, and a deduplication id unless it
         * hashes bodies: the outbox id groups, and the received
         * message's id deduplicates a move retried after a lost answer
         * but not a re-driven message that fails again.
         */

        if (job->msg->outbox_id >= 0) {
            ngx_sprintf((u_char *) group, "xyz-%L%Z", job->msg->outbox_id);

        } else {
            ngx_sprintf((u_char *) group, "xyz%Z");
        }

        ngx_snprintf((u_char *) dedup, sizeof(dedup) - 1, "%s%Z",
                     job->msg->message_id[0] ? job->msg->message_id
                                             : job->msg->receipt_handle);
        if (ngx_strlen(dedup) > 128) {
            dedup[128] = '\0';
        }

        size = job->msg->body_len * 6 + dlq->len + sizeof(job->detail) * 6
               + sizeof(group) + sizeof(dedup) * 6 + 256;
        body = ngx_pnalloc(b->pool, size);

        len = body ? ngx_xyz_sqs_send_group_json((char *) body, size,
                                                 (char *) dlq->data,
                                                 job->msg->body,
                                                 job->msg->body_len,
                                                 "xyz_reason", job->detail,
                                                 fifo ? group : NULL,
                                                 fifo ? dedup : NULL)
                   : -1;

        if (len < 0
            || ngx_xyz_batch_call(b, job, "SendMessage", body, len,
                                  ngx_xyz_batch_dlq_done)
               != NGX_OK)
        {
            job->outcome = NGX_XYZ_RETRY;
            ngx_xyz_batch_record(b, job, "retry");
        }
    }

    if (b->calls == 0) {
        ngx_xyz_batch_delete(b);
    }
}


static void
ngx_xyz_batch_dlq_done(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_cleanup_call_t *cc = data;

    ngx_xyz_batch_t  *b;

    b = cc->batch;

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, b->consumer->log, 0,
                      "xyz: cannot move outbox row %L to the dead-letter "
                      "queue: %s; it is tried again later",
                      cc->job->msg->outbox_id, error);
        cc->job->outcome = NGX_XYZ_RETRY;
        ngx_xyz_batch_record(b, cc->job, "retry");

    } else {
        ngx_xyz_metrics_add(
            b->consumer->sender->metrics[NGX_XYZ_SENDER_M_DEAD_LETTERED], 1);
        ngx_xyz_batch_record(b, cc->job, "dead");
    }

    if (--b->calls == 0) {
        ngx_xyz_batch_delete(b);
    }
}


/*
 * Records a permanent failure's end once its move is decided: "dead" when
 * the message is in the dead-letter queue, "retry" (the claim released)
 * when it is not.  The batch's messages are deleted or made visible again
 * after the answer, so that a message deleted is one recorded.
 */

static void
ngx_xyz_batch_record(ngx_xyz_batch_t *b, ngx_xyz_job_t *job,
    const char *result)
{
    ngx_xyz_consumer_t  *c;

    c = b->consumer;

    if (job->msg->outbox_id < 0) {
        return;
    }

    if (ngx_xyz_job_record(job, result, ngx_xyz_batch_recorded) == NGX_OK) {
        b->calls++;
        return;
    }

    if (job->outcome == NGX_XYZ_DEAD) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "xyz: outbox row %L is in the dead-letter queue, but "
                      "recording it failed", job->msg->outbox_id);
    }
}


static void
ngx_xyz_batch_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_job_t *job = q->data;

    ngx_xyz_batch_t  *b;

    b = job->batch;

    if (rc != NGX_OK && job->outcome == NGX_XYZ_DEAD) {
        ngx_log_error(NGX_LOG_ERR, b->consumer->log, 0,
                      "xyz: outbox row %L is in the dead-letter queue, but "
                      "recording it failed", job->msg->outbox_id);
    }

    if (--b->calls == 0) {
        ngx_xyz_batch_delete(b);
    }
}


static void
ngx_xyz_batch_delete(ngx_xyz_batch_t *b)
{
    int                  len;
    u_char              *body;
    size_t               vsize;
    ngx_uint_t           i, n, chunk, backoff;
    const char         **handles;
    ngx_xyz_job_t       *job;
    ngx_xyz_consumer_t  *c;

    c = b->consumer;
    n = 0;

    handles = ngx_palloc(b->pool, b->n * sizeof(const char *));
    if (handles == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "xyz: cannot delete the handled messages from the %s "
                      "queue", c->sender->name);
        ngx_xyz_poller_end(&c->poller);
        return;
    }

    for (i = 0; i < b->n; i++) {
        job = &b->jobs[i];

        switch (job->outcome) {

        case NGX_XYZ_SENT:
        case NGX_XYZ_DUPLICATE:
        case NGX_XYZ_DEAD:
            handles[n++] = job->msg->receipt_handle;
            break;

        case NGX_XYZ_RETRY:
            backoff = ngx_xyz_job_backoff(job);

            ngx_log_debug2(NGX_LOG_DEBUG_EVENT, c->log, 0,
                           "xyz dispatch: backoff row %L, %ui s",
                           job->msg->outbox_id, backoff);

            vsize = 256 + c->xmcf->sqs.queue[c->kind].url.len
                    + 6 * ngx_strlen(job->msg->receipt_handle);
            body = ngx_pnalloc(b->pool, vsize);

            len = body ? ngx_xyz_sqs_visibility_json((char *) body, vsize,
                             (char *) c->xmcf->sqs.queue[c->kind].url.data,
                             job->msg->receipt_handle, backoff)
                       : -1;

            if (len > 0) {
                (void) ngx_xyz_batch_call(b, job, "ChangeMessageVisibility",
                                          body, len, ngx_xyz_batch_call_done);
            }

            break;

        default:
            /* left to reappear by itself */
            break;
        }
    }

    /* DeleteMessageBatch takes ten entries a call */

    for (i = 0; i < n; i += chunk) {
        chunk = ngx_min(n - i, NGX_XYZ_SQS_RECEIVE_MAX);

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "xyz dispatch: delete %ui messages from the %s queue",
                       chunk, c->sender->name);

        body = ngx_xyz_poller_delete_body(b->pool,
                                          &c->xmcf->sqs.queue[c->kind].url,
                                          &handles[i], chunk, &len);

        if (body == NULL
            || ngx_xyz_batch_call(b, NULL, "DeleteMessageBatch", body, len,
                                  ngx_xyz_batch_call_done)
               != NGX_OK)
        {
            /* the deliveries are recorded: they come back as duplicates */
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "xyz: cannot delete %ui handled messages from "
                          "the %s queue", chunk, c->sender->name);
        }
    }

    if (b->calls == 0) {
        ngx_xyz_poller_end(&c->poller);
    }
}


static void
ngx_xyz_batch_call_done(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_cleanup_call_t *cc = data;

    ngx_xyz_batch_t  *b;

    b = cc->batch;

    /*
     * A message not deleted comes back and finds its delivery recorded;
     * one whose visibility was not changed comes back at the lease's end.
     */

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, b->consumer->log, 0,
                      "xyz: SQS clean-up call failed: %s", error);
    }

    if (--b->calls == 0) {
        ngx_xyz_poller_end(&b->consumer->poller);
    }
}


static ngx_int_t
ngx_xyz_batch_call(ngx_xyz_batch_t *b, ngx_xyz_job_t *job,
    const char *target, u_char *body, int len, ngx_xyz_sqs_call_pt handler)
{
    ngx_int_t                rc;
    ngx_xyz_consumer_t      *c;
    ngx_xyz_cleanup_call_t  *cc;

    c = b->consumer;

    cc = ngx_palloc(b->pool, sizeof(ngx_xyz_cleanup_call_t));
    if (cc == NULL) {
        return NGX_ERROR;
    }

    cc->batch = b;
    cc->job = job;

    rc = ngx_xyz_sqs_call(&c->xmcf->sqs, target, body, len, 0, NULL,
                          handler, cc, c->log);

    if (rc == NGX_OK) {
        b->calls++;
    }

    return rc;
}


static void
ngx_xyz_batch_free(void *data)
{
    ngx_xyz_batch_t *b = data;

    ngx_uint_t  i;

    /* a batch ended early (worker exit): let nothing point into it */

    for (i = 0; i < b->n; i++) {
        ngx_xyz_pg_cancel(&b->jobs[i].query);

        if (b->jobs[i].wait.timer_set) {
            ngx_del_timer(&b->jobs[i].wait);
        }
    }

    ngx_xyz_pg_cancel(&b->unit.query);

    if (b->unit.wait.timer_set) {
        ngx_del_timer(&b->unit.wait);
    }

    if (b->gather.timer_set) {
        ngx_del_timer(&b->gather);
    }

    if (b->renew.timer_set) {
        ngx_del_timer(&b->renew);
    }

    for (i = 0; i < b->n; i++) {
        ngx_xyz_pg_cancel(&b->jobs[i].result_query);
    }

    ngx_xyz_pg_cancel(&b->unit.result_query);
}


static ngx_uint_t
ngx_xyz_job_backoff(ngx_xyz_job_t *job)
{
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &job->batch->consumer->xmcf->dispatch;

    if (job->retry_seconds) {
        return ngx_min(job->retry_seconds, 43200);
    }

    return ngx_xyz_backoff_seconds(job->msg->receive_count,
                                   (int) dc->backoff_base,
                                   (int) dc->backoff_max,
                                   (unsigned) (ngx_random() % 1000));
}


static ngx_uint_t
ngx_xyz_metric(ngx_xyz_sender_t *s, ngx_uint_t outcome)
{
    switch (outcome) {

    case NGX_XYZ_SENT:
        return s->metrics[NGX_XYZ_SENDER_M_SENT];

    case NGX_XYZ_RETRY:
        return s->metrics[NGX_XYZ_SENDER_M_RETRIED];

    default:
        return s->metrics[NGX_XYZ_SENDER_M_FAILED];
    }
}


ngx_xyz_dispatch_conf_t *
ngx_xyz_job_conf(ngx_xyz_job_t *job)
{
    return &job->batch->consumer->xmcf->dispatch;
}


ngx_log_t *
ngx_xyz_job_log(ngx_xyz_job_t *job)
{
    return job->batch->consumer->log;
}


ngx_xyz_sqs_received_t *
ngx_xyz_job_msg(ngx_xyz_job_t *job)
{
    return job->msg;
}


static ngx_xyz_job_t *
ngx_xyz_job_unit(ngx_xyz_job_t *job)
{
    /* where a request's shared state goes: the batch's unit in batch mode,
     * unless the job was split out of the batch's request */
    return (job->batch->ngroup && !job->alone) ? &job->batch->unit : job;
}


void
ngx_xyz_job_peer(ngx_xyz_job_t *job, ngx_uint_t ok, ngx_uint_t block_seconds)
{
    ngx_xyz_job_t       *unit;
    ngx_xyz_channel_t   *ch;
    ngx_xyz_consumer_t  *c;

    c = job->batch->consumer;
    ch = c->channel;
    unit = ngx_xyz_job_unit(job);

    ngx_xyz_pg_cancel(&unit->result_query);

    ngx_sprintf((u_char *) unit->block, "%ui seconds%Z", block_seconds);
    ngx_sprintf((u_char *) unit->threshold, "%ui%Z", ch->breaker_failures);
    ngx_sprintf((u_char *) unit->open, "%M milliseconds%Z",
                ch->breaker_open);

    unit->result_values[0] = c->sender->name;
    unit->result_values[1] = ok ? "true" : "false";
    unit->result_values[2] = unit->block;
    unit->result_values[3] = unit->threshold;
    unit->result_values[4] = unit->open;

    ngx_xyz_pg_query_init(&unit->result_query, ngx_xyz_peer_sql, 5,
                          unit->result_values, ngx_xyz_job_peer_done, unit,
                          c->log);

    (void) ngx_xyz_pg_query(c->xmcf->pg_pool, &unit->result_query);
}


static void
ngx_xyz_job_peer_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_job_t *unit = q->data;

    ngx_xyz_consumer_t  *c;

    c = unit->batch->consumer;

    if (rc == NGX_OK && PQntuples(res) == 1
        && ngx_strcmp(PQgetvalue(res, 0, 0), "open") == 0
        && unit->result_values[1][0] == 'f')
    {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "xyz: %s keeps failing; its breaker is open and "
                      "dispatchers wait before they probe it again",
                      c->sender->peer);
        ngx_xyz_metrics_add(NGX_XYZ_M_BREAKER_OPENED, 1);
    }
}
