
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The outbox relay: every worker publishes outbox rows to SQS.
 *
 *   - A registration's rows come back from its own transaction already
 *     claimed for a lease; the worker queues them here and sends them in
 *     batches of up to ten per queue a few milliseconds later.  The reply
 *     to the visitor does not wait for SQS.
 *   - After each SendMessageBatch one statement records the outcome: the
 *     published rows, and the failed ones with a growing delay.
 *   - A sweeper timer claims rows whose lease ran out (a worker died, SQS
 *     was down, the queue here was full) with FOR UPDATE SKIP LOCKED, so
 *     any number of nginx instances sweep one database at once.
 *   - While SQS fails the worker stops sending at once and sweeps less
 *     often, up to the configured longest delay.
 *
 * A row is marked published only after SQS said it took it, so nothing is
 * lost; a row is sent twice only when an outcome is unknown (a timeout, a
 * crash between the send and the record).  The message carries the row id
 * for consumers to deduplicate.
 */


#include "ngx_xyz_module.h"


#define NGX_XYZ_OUTBOX_PENDING_MAX   1000    /* per queue, per worker */
#define NGX_XYZ_OUTBOX_BATCHES_MAX   8       /* SQS calls at once */
#define NGX_XYZ_OUTBOX_GATHER        5       /* ms to fill a batch */
#define NGX_XYZ_OUTBOX_SWEEP_MAX     50      /* rows a sweep claims */


typedef struct {
    ngx_queue_t              queue;
    long long                id;
    size_t                   len;
    u_char                   body[1];
} ngx_xyz_outbox_msg_t;


typedef struct ngx_xyz_outbox_s  ngx_xyz_outbox_t;


typedef struct {
    ngx_queue_t              queue;          /* in relay->batches */
    ngx_xyz_outbox_t        *relay;
    ngx_uint_t               kind;
    ngx_uint_t               n;
    ngx_xyz_outbox_msg_t    *msg[NGX_XYZ_SQS_BATCH_MAX];
    ngx_xyz_pg_query_t       query;
    const char              *values[5];
    char                     published[NGX_XYZ_SQS_BATCH_MAX * 21 + 3];
    char                     failed[NGX_XYZ_SQS_BATCH_MAX * 21 + 3];
    char                     refused[NGX_XYZ_SQS_BATCH_MAX * 21 + 3];
    char                     error[256];
    char                     max_delay[32];
} ngx_xyz_outbox_batch_t;


struct ngx_xyz_outbox_s {
    ngx_xyz_main_conf_t     *xmcf;
    ngx_log_t               *log;
    ngx_queue_t              pending[NGX_XYZ_QUEUES];
    ngx_uint_t               npending[NGX_XYZ_QUEUES];
    ngx_queue_t              batches;
    ngx_uint_t               nbatches;
    ngx_event_t              flush;
    ngx_event_t              sweep;
    ngx_xyz_pg_query_t       claim;
    const char              *claim_values[2];
    ngx_uint_t               claim_n;
    char                     claim_limit[NGX_INT_T_LEN + 1];
    char                     claim_lease[NGX_INT_T_LEN + 16];
    ngx_msec_t               backoff;
    ngx_msec_t               paused_until;
    unsigned                 claiming:1;
};


static void ngx_xyz_outbox_add(ngx_xyz_outbox_t *relay, long long id,
    ngx_uint_t kind, u_char *body, size_t len);
static void ngx_xyz_outbox_flush_handler(ngx_event_t *ev);
static void ngx_xyz_outbox_send(ngx_xyz_outbox_t *relay, ngx_uint_t kind);
static void ngx_xyz_outbox_sent(void *data, ngx_int_t rc, unsigned char *ok,
    const char *error);
static void ngx_xyz_outbox_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_outbox_batch_free(ngx_xyz_outbox_batch_t *b);
static void ngx_xyz_outbox_sweep_handler(ngx_event_t *ev);
static void ngx_xyz_outbox_claimed(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_outbox_schedule(ngx_xyz_outbox_t *relay,
    ngx_msec_t delay);
static ngx_uint_t ngx_xyz_outbox_paused(ngx_xyz_outbox_t *relay);
static ngx_int_t ngx_xyz_outbox_kind(const char *kind);


static ngx_xyz_outbox_t  *ngx_xyz_outbox;

static const char  ngx_xyz_outbox_done_sql[] =
    "SELECT xyz_outbox_done($1::bigint[], $2::bigint[], $3, $4::interval, "
    "$5::bigint[])";

static const char  ngx_xyz_outbox_claim_sql[] =
    "SELECT outbox_id, outbox_kind, body "
    "FROM xyz_outbox_claim($1::integer, $2::interval)";


ngx_int_t
ngx_xyz_outbox_init_process(ngx_cycle_t *cycle, ngx_xyz_main_conf_t *xmcf)
{
    ngx_uint_t         i;
    ngx_xyz_outbox_t  *relay;

    relay = ngx_pcalloc(cycle->pool, sizeof(ngx_xyz_outbox_t));
    if (relay == NULL) {
        return NGX_ERROR;
    }

    relay->xmcf = xmcf;
    relay->log = cycle->log;

    for (i = 0; i < NGX_XYZ_QUEUES; i++) {
        ngx_queue_init(&relay->pending[i]);
    }

    ngx_queue_init(&relay->batches);

    /* both timers are cancelable: they never keep an exiting worker */

    relay->flush.handler = ngx_xyz_outbox_flush_handler;
    relay->flush.data = relay;
    relay->flush.log = cycle->log;
    relay->flush.cancelable = 1;

    relay->sweep.handler = ngx_xyz_outbox_sweep_handler;
    relay->sweep.data = relay;
    relay->sweep.log = cycle->log;
    relay->sweep.cancelable = 1;

    ngx_sprintf((u_char *) relay->claim_lease, "%M milliseconds%Z",
                xmcf->outbox.lease);

    ngx_xyz_outbox = relay;

    /* workers and instances start their sweeps at different moments */
    ngx_add_timer(&relay->sweep, ngx_random() % xmcf->outbox.sweep + 1);

    return NGX_OK;
}


void
ngx_xyz_outbox_exit_process(void)
{
    ngx_uint_t               i;
    ngx_queue_t             *q;
    ngx_xyz_outbox_t        *relay;
    ngx_xyz_outbox_msg_t    *m;
    ngx_xyz_outbox_batch_t  *b;

    relay = ngx_xyz_outbox;
    if (relay == NULL) {
        return;
    }

    ngx_xyz_outbox = NULL;

    if (relay->flush.timer_set) {
        ngx_del_timer(&relay->flush);
    }

    if (relay->sweep.timer_set) {
        ngx_del_timer(&relay->sweep);
    }

    ngx_xyz_pg_cancel(&relay->claim);

    /* rows not yet sent stay claimed until their lease ends, then swept */

    for (i = 0; i < NGX_XYZ_QUEUES; i++) {
        while (!ngx_queue_empty(&relay->pending[i])) {
            q = ngx_queue_head(&relay->pending[i]);
            ngx_queue_remove(q);
            m = ngx_queue_data(q, ngx_xyz_outbox_msg_t, queue);
            ngx_free(m);
        }
    }

    while (!ngx_queue_empty(&relay->batches)) {
        q = ngx_queue_head(&relay->batches);
        b = ngx_queue_data(q, ngx_xyz_outbox_batch_t, queue);
        ngx_xyz_pg_cancel(&b->query);
        ngx_xyz_outbox_batch_free(b);
    }
}


void
ngx_xyz_outbox_publish_result(PGresult *res, int col, ngx_log_t *log)
{
    int        i, n;
    char      *end;
    ngx_int_t  kind;
    long long  id;

    if (ngx_xyz_outbox == NULL) {
        return;
    }

    n = PQntuples(res);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, log, 0,
                   "xyz outbox: %d claimed rows to publish", n);

    for (i = 0; i < n; i++) {
        if (PQgetisnull(res, i, col)) {
            continue;
        }

        id = strtoll(PQgetvalue(res, i, col), &end, 10);
        kind = ngx_xyz_outbox_kind(PQgetvalue(res, i, col + 1));

        if (*end != '\0' || kind == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "xyz: unexpected outbox row from the database");
            continue;
        }

        ngx_xyz_outbox_add(ngx_xyz_outbox, id, kind,
                           (u_char *) PQgetvalue(res, i, col + 2),
                           PQgetlength(res, i, col + 2));
    }
}


static void
ngx_xyz_outbox_add(ngx_xyz_outbox_t *relay, long long id, ngx_uint_t kind,
    u_char *body, size_t len)
{
    ngx_xyz_outbox_msg_t  *m;

    /* a full queue: the row keeps its lease and a sweeper sends it later */

    if (relay->npending[kind] >= NGX_XYZ_OUTBOX_PENDING_MAX) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                       "xyz outbox: row %L left to a sweep, queue full", id);
        return;
    }

    m = ngx_alloc(sizeof(ngx_xyz_outbox_msg_t) + len, relay->log);
    if (m == NULL) {
        return;
    }

    m->id = id;
    m->len = len;
    ngx_memcpy(m->body, body, len);
    m->body[len] = '\0';

    ngx_queue_insert_tail(&relay->pending[kind], &m->queue);
    relay->npending[kind]++;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                   "xyz outbox: row %L pending, queue %ui, %ui pending",
                   id, kind, relay->npending[kind]);

    if (relay->flush.timer_set) {
        if (relay->npending[kind] < NGX_XYZ_SQS_BATCH_MAX) {
            return;
        }

        ngx_del_timer(&relay->flush);
    }

    ngx_add_timer(&relay->flush,
                  relay->npending[kind] >= NGX_XYZ_SQS_BATCH_MAX
                  ? 0 : NGX_XYZ_OUTBOX_GATHER);
}


static void
ngx_xyz_outbox_flush_handler(ngx_event_t *ev)
{
    ngx_uint_t         i;
    ngx_xyz_outbox_t  *relay;

    relay = ev->data;

    for (i = 0; i < NGX_XYZ_QUEUES; i++) {
        ngx_xyz_outbox_send(relay, i);
    }
}


static void
ngx_xyz_outbox_send(ngx_xyz_outbox_t *relay, ngx_uint_t kind)
{
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_queue_t             *q;
    ngx_xyz_sqs_msg_t        msgs[NGX_XYZ_SQS_BATCH_MAX];
    ngx_xyz_outbox_batch_t  *b;

    static char  *groups[] = { "email", "crm" };

    while (relay->npending[kind]) {

        if (ngx_xyz_outbox_paused(relay)
            || relay->nbatches >= NGX_XYZ_OUTBOX_BATCHES_MAX)
        {
            ngx_log_debug2(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                           "xyz outbox: publish held, %s, %ui pending",
                           ngx_xyz_outbox_paused(relay) ? "paused"
                                                        : "batches busy",
                           relay->npending[kind]);

            /* what waits here keeps its lease; try again shortly */
            if (!relay->flush.timer_set) {
                ngx_add_timer(&relay->flush, ngx_xyz_outbox_paused(relay)
                              ? relay->paused_until - ngx_current_msec
                              : 50);
            }

            return;
        }

        b = ngx_calloc(sizeof(ngx_xyz_outbox_batch_t), relay->log);
        if (b == NULL) {
            return;
        }

        b->relay = relay;
        b->kind = kind;

        while (b->n < NGX_XYZ_SQS_BATCH_MAX && relay->npending[kind]) {
            q = ngx_queue_head(&relay->pending[kind]);
            ngx_queue_remove(q);
            relay->npending[kind]--;

            b->msg[b->n++] = ngx_queue_data(q, ngx_xyz_outbox_msg_t, queue);
        }

        for (i = 0; i < b->n; i++) {
            msgs[i].id = b->msg[i]->id;
            msgs[i].body = (char *) b->msg[i]->body;
            msgs[i].body_len = b->msg[i]->len;
            msgs[i].group = groups[kind];
        }

        ngx_queue_insert_tail(&relay->batches, &b->queue);
        relay->nbatches++;

        ngx_log_debug3(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                       "xyz outbox: publish batch %p, %ui %s rows",
                       b, b->n, groups[kind]);

        rc = ngx_xyz_sqs_send_batch(&relay->xmcf->sqs, kind, msgs, b->n,
                                    ngx_xyz_outbox_sent, b, relay->log);

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_WARN, relay->log, 0,
                          "xyz: no AWS credentials yet; outbox rows wait");
        }

        /* the rows keep their lease; a sweep picks them up */
        ngx_xyz_outbox_batch_free(b);

        return;
    }
}


static void
ngx_xyz_outbox_sent(void *data, ngx_int_t rc, unsigned char *ok,
    const char *error)
{
    ngx_xyz_outbox_batch_t *b = data;

    u_char            *pp, *fp, *rp;
    ngx_uint_t         i, npub, nfail, nref;
    ngx_xyz_outbox_t  *relay;

    relay = b->relay;

    pp = (u_char *) b->published;
    fp = (u_char *) b->failed;
    rp = (u_char *) b->refused;
    *pp++ = '{';
    *fp++ = '{';
    *rp++ = '{';
    npub = 0;
    nfail = 0;
    nref = 0;

    /*
     * A row that SQS refused as the sender's fault is refused: its content
     * is at fault (e.g. characters SQS does not allow), and after
     * xyz_outbox_max_attempts() refusals it is parked.  A row of a batch
     * that failed as a whole (SQS down), or that SQS failed on its side
     * within a batch, is only failed and waits.
     */

    for (i = 0; i < b->n; i++) {
        if (rc == NGX_OK && ok[i] == NGX_XYZ_SQS_SENT) {
            pp = ngx_sprintf(pp, "%s%L", npub++ ? "," : "", b->msg[i]->id);

        } else if (rc == NGX_OK && ok[i] == NGX_XYZ_SQS_REFUSED) {
            rp = ngx_sprintf(rp, "%s%L", nref++ ? "," : "", b->msg[i]->id);
            nfail++;

        } else {
            fp = ngx_sprintf(fp, "%s%L", nfail++ ? "," : "", b->msg[i]->id);
        }
    }

    *pp++ = '}';
    *pp = '\0';
    *fp++ = '}';
    *fp = '\0';
    *rp++ = '}';
    *rp = '\0';

    ngx_xyz_metrics_add(rc == NGX_OK ? NGX_XYZ_M_SQS_OK : NGX_XYZ_M_SQS_ERROR,
                        1);
    ngx_xyz_metrics_add(b->kind == NGX_XYZ_QUEUE_EMAIL
                        ? NGX_XYZ_M_PUBLISHED_EMAIL : NGX_XYZ_M_PUBLISHED_CRM,
                        npub);
    ngx_xyz_metrics_add(b->kind == NGX_XYZ_QUEUE_EMAIL
                        ? NGX_XYZ_M_PUBLISH_FAILED_EMAIL
                        : NGX_XYZ_M_PUBLISH_FAILED_CRM, nfail);

    if (nfail) {
        ngx_log_error(NGX_LOG_WARN, relay->log, 0,
                      "xyz: SQS did not take %ui of %ui outbox rows: %s; "
                      "they are tried again later",
                      nfail, b->n, error ? error : "unknown error");

        ngx_cpystrn((u_char *) b->error,
                    (u_char *) (error ? error : "unknown error"),
                    sizeof(b->error));
    }

    if (npub || rc == NGX_OK) {
        /* SQS answered: rows it refused are no reason to stop the others */
        relay->backoff = 0;
        relay->paused_until = 0;

    } else {
        /* nothing got through: stop sending for a while */
        relay->backoff = relay->backoff
                         ? ngx_min(relay->backoff * 2,
                                   relay->xmcf->outbox.sweep_max)
                         : ngx_min(relay->xmcf->outbox.sweep,
                                   relay->xmcf->outbox.sweep_max);
        relay->paused_until = ngx_current_msec + relay->backoff;
    }

    ngx_log_debug5(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                   "xyz outbox: batch %p published %ui, failed %ui, "
                   "refused %ui, backoff %M",
                   b, npub, nfail - nref, nref, relay->backoff);

    ngx_sprintf((u_char *) b->max_delay, "%M milliseconds%Z",
                relay->xmcf->outbox.sweep_max);

    b->values[0] = b->published;
    b->values[1] = b->failed;
    b->values[2] = b->error;
    b->values[3] = b->max_delay;
    b->values[4] = b->refused;

    ngx_xyz_pg_query_init(&b->query, ngx_xyz_outbox_done_sql, 5, b->values,
                          ngx_xyz_outbox_recorded, b, relay->log);

    if (ngx_xyz_pg_query(relay->xmcf->pg_pool, &b->query) != NGX_OK) {
        /* unrecorded: the rows are sent again when their lease ends */
        ngx_log_error(NGX_LOG_WARN, relay->log, 0,
                      "xyz: cannot record the outcome of an SQS batch; its "
                      "rows are sent again after their lease");
        ngx_xyz_outbox_batch_free(b);
    }
}


static void
ngx_xyz_outbox_recorded(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_outbox_batch_t *b = q->data;

    ngx_xyz_outbox_t  *relay;

    relay = b->relay;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                   "xyz outbox: batch %p marked, rc %i", b, rc);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, relay->log, 0,
                      "xyz: cannot record the outcome of an SQS batch; its "
                      "rows are sent again after their lease");

    } else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)
               && ngx_strcmp(PQgetvalue(res, 0, 0), "0") != 0)
    {
        ngx_log_error(NGX_LOG_ERR, relay->log, 0,
                      "xyz: %s outbox row(s) parked: SQS refused them too "
                      "often (see outbox.parked_at, last_error)",
                      PQgetvalue(res, 0, 0));
    }

    ngx_xyz_outbox_batch_free(b);

    /* a slot is free: send what waits */
    if (!relay->flush.timer_set
        && (relay->npending[0] || relay->npending[1]))
    {
        ngx_add_timer(&relay->flush, 0);
    }
}


static void
ngx_xyz_outbox_batch_free(ngx_xyz_outbox_batch_t *b)
{
    ngx_uint_t  i;

    ngx_queue_remove(&b->queue);
    b->relay->nbatches--;

    for (i = 0; i < b->n; i++) {
        ngx_free(b->msg[i]);
    }

    ngx_free(b);
}


static void
ngx_xyz_outbox_sweep_handler(ngx_event_t *ev)
{
    ngx_int_t           rc;
    ngx_uint_t          room;
    ngx_xyz_outbox_t   *relay;

    relay = ev->data;

    if (relay->claiming) {
        return;
    }

    if (ngx_xyz_outbox_paused(relay)) {
        ngx_xyz_outbox_schedule(relay, relay->paused_until - ngx_current_msec);
        return;
    }

    room = (NGX_XYZ_OUTBOX_BATCHES_MAX - relay->nbatches)
           * NGX_XYZ_SQS_BATCH_MAX;

    if (room == 0 || relay->npending[0] + relay->npending[1] >= room) {
        ngx_xyz_outbox_schedule(relay, relay->xmcf->outbox.sweep);
        return;
    }

    relay->claim_n = ngx_min(room, NGX_XYZ_OUTBOX_SWEEP_MAX);
    ngx_sprintf((u_char *) relay->claim_limit, "%ui%Z", relay->claim_n);

    relay->claim_values[0] = relay->claim_limit;
    relay->claim_values[1] = relay->claim_lease;

    ngx_xyz_pg_query_init(&relay->claim, ngx_xyz_outbox_claim_sql, 2,
                          relay->claim_values, ngx_xyz_outbox_claimed, relay,
                          relay->log);

    rc = ngx_xyz_pg_query(relay->xmcf->pg_pool, &relay->claim);

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                   "xyz outbox: sweep claims up to %ui rows, rc %i",
                   relay->claim_n, rc);

    if (rc != NGX_OK) {
        ngx_xyz_outbox_schedule(relay, relay->xmcf->outbox.sweep);
        return;
    }

    relay->claiming = 1;
}


static void
ngx_xyz_outbox_claimed(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    int                n;
    ngx_xyz_outbox_t  *relay;

    relay = q->data;
    relay->claiming = 0;

    if (rc != NGX_OK || PQnfields(res) != 3) {
        ngx_xyz_outbox_schedule(relay, relay->xmcf->outbox.sweep);
        return;
    }

    n = PQntuples(res);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, relay->log, 0,
                   "xyz outbox: sweep claimed %d rows", n);

    if (n) {
        ngx_log_error(NGX_LOG_INFO, relay->log, 0,
                      "xyz: swept %d outbox rows", n);
        ngx_xyz_metrics_add(NGX_XYZ_M_SWEPT, n);
        ngx_xyz_outbox_publish_result(res, 0, relay->log);
    }

    /* a full claim means more may wait: sweep again as soon as there is
     * room, otherwise at the usual pace */

    ngx_xyz_outbox_schedule(relay, (ngx_uint_t) n >= relay->claim_n
                                   ? 10 : relay->xmcf->outbox.sweep);
}


static void
ngx_xyz_outbox_schedule(ngx_xyz_outbox_t *relay, ngx_msec_t delay)
{
    if (relay->sweep.timer_set) {
        ngx_del_timer(&relay->sweep);
    }

    /* up to a tenth more, so that sweepers drift apart */
    ngx_add_timer(&relay->sweep, delay + ngx_random() % (delay / 10 + 1));
}


static ngx_uint_t
ngx_xyz_outbox_paused(ngx_xyz_outbox_t *relay)
{
    return relay->backoff
           && (ngx_msec_int_t) (relay->paused_until - ngx_current_msec) > 0;
}


static ngx_int_t
ngx_xyz_outbox_kind(const char *kind)
{
    if (ngx_strcmp(kind, "email") == 0) {
        return NGX_XYZ_QUEUE_EMAIL;
    }

    if (ngx_strcmp(kind, "crm") == 0) {
        return NGX_XYZ_QUEUE_CRM;
    }

    return NGX_ERROR;
}
