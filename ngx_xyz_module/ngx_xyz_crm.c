
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The CRM report: one request per registration (or one per batch, in
 * HubSpot's batch upsert mode), with an Idempotency-Key made of the outbox
 * id, the secret from a file, and the answer sorted into what it means:
 *
 *   2xx          sent;
 *   207          (HubSpot batch) per contact: those in "results" sent,
 *                those named in "errors" dead-lettered, any other sent
 *                again on its own;
 *   429          everyone waits Retry-After (or a second, at most an
 *                hour): the shared bucket moves, the messages come back
 *                after it;
 *   5xx, no      transient: the breaker counts it, the messages back off;
 *   answer
 *   other 4xx    permanent: the dead-letter queue, with the reason; a
 *                HubSpot batch refused for what one contact holds is first
 *                split, each contact sent on its own, so that only the one
 *                at fault is dead-lettered.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_sender.h"
#include "ngx_xyz_crm_json.h"


/*
 * A Retry-After longer than this is taken as this: a date in year 9999 or
 * 2^31 seconds must not freeze the limiter every dispatcher shares.
 */
#define NGX_XYZ_RETRY_AFTER_MAX  3600

/* HubSpot's message for one contact of a 207, as much as is kept */
#define NGX_XYZ_CRM_REASON_LEN   160


typedef struct {
    ngx_xyz_job_t          **jobs;               /* up to xyz_crm_batch */
    ngx_xyz_crm_contact_t   *contacts;
    ngx_uint_t               n;
    ngx_uint_t               batch;              /* HubSpot batch mode */
} ngx_xyz_crm_call_t;


static ngx_uint_t ngx_xyz_crm_single_chosen(ngx_xyz_dispatch_conf_t *dc);
static ngx_uint_t ngx_xyz_hubspot_chosen(ngx_xyz_dispatch_conf_t *dc);
static char *ngx_xyz_crm_single_init_conf(ngx_conf_t *cf, void *conf,
    ngx_xyz_channel_t *ch, ngx_uint_t dispatched);
static char *ngx_xyz_hubspot_init_conf(ngx_conf_t *cf, void *conf,
    ngx_xyz_channel_t *ch, ngx_uint_t dispatched);
static char *ngx_xyz_crm_init_conf(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf, ngx_xyz_channel_t *ch,
    ngx_uint_t dispatched);
static char *ngx_xyz_crm_files(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf);
static void ngx_xyz_crm_single_send(ngx_xyz_job_t **jobs, ngx_uint_t n);
static void ngx_xyz_hubspot_send(ngx_xyz_job_t **jobs, ngx_uint_t n);
static void ngx_xyz_crm_send(ngx_xyz_job_t **jobs, ngx_uint_t n,
    ngx_uint_t batch);
static void ngx_xyz_crm_contacts(ngx_xyz_crm_call_t *call,
    ngx_xyz_job_t **jobs, ngx_uint_t n, ngx_pool_t *pool);
static ngx_int_t ngx_xyz_crm_request_body(ngx_xyz_crm_call_t *call,
    ngx_xyz_curl_t *h, ngx_xyz_dispatch_conf_t *dc);
static ngx_int_t ngx_xyz_crm_headers(ngx_xyz_crm_call_t *call,
    ngx_xyz_curl_t *h, ngx_xyz_dispatch_conf_t *dc);
static void ngx_xyz_crm_done(ngx_xyz_curl_t *h);
static void ngx_xyz_crm_multi(ngx_xyz_crm_call_t *call, ngx_xyz_curl_t *h);
static ngx_uint_t ngx_xyz_crm_splits(long status);
static long ngx_xyz_crm_retry_after(const char *value, time_t now);


/* one record a request */
ngx_xyz_sender_t  ngx_xyz_crm_sender = {
    "crm",
    "the CRM",
    NGX_XYZ_QUEUE_CRM,
    ngx_xyz_crm_single_chosen,
    ngx_xyz_crm_single_init_conf,
    ngx_xyz_crm_single_send,
    { NGX_XYZ_M_SENT_CRM, NGX_XYZ_M_RETRIED_CRM, NGX_XYZ_M_FAILED_CRM,
      NGX_XYZ_M_DUPLICATE_CRM, NGX_XYZ_M_DEAD_LETTERED_CRM }
};


/* HubSpot's batch upsert: up to xyz_crm_batch records a request */
ngx_xyz_sender_t  ngx_xyz_hubspot_sender = {
    "crm",
    "the CRM",
    NGX_XYZ_QUEUE_CRM,
    ngx_xyz_hubspot_chosen,
    ngx_xyz_hubspot_init_conf,
    ngx_xyz_hubspot_send,
    { NGX_XYZ_M_SENT_CRM, NGX_XYZ_M_RETRIED_CRM, NGX_XYZ_M_FAILED_CRM,
      NGX_XYZ_M_DUPLICATE_CRM, NGX_XYZ_M_DEAD_LETTERED_CRM }
};


static ngx_uint_t
ngx_xyz_crm_single_chosen(ngx_xyz_dispatch_conf_t *dc)
{
    return dc->crm_mode != NGX_XYZ_CRM_HUBSPOT;
}


static ngx_uint_t
ngx_xyz_hubspot_chosen(ngx_xyz_dispatch_conf_t *dc)
{
    return dc->crm_mode == NGX_XYZ_CRM_HUBSPOT;
}


static char *
ngx_xyz_crm_single_init_conf(ngx_conf_t *cf, void *conf,
    ngx_xyz_channel_t *ch, ngx_uint_t dispatched)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    if (!dispatched) {
        ngx_conf_init_uint_value(dc->crm_mode, NGX_XYZ_CRM_SINGLE);

        if (dc->crm_batch != NGX_CONF_UNSET_UINT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"xyz_crm_batch\" needs \"xyz_crm_mode "
                               "hubspot_batch\": the single mode sends one "
                               "record a request");
            return NGX_CONF_ERROR;
        }
    }

    return ngx_xyz_crm_init_conf(cf, xmcf, ch, dispatched);
}


static char *
ngx_xyz_hubspot_init_conf(ngx_conf_t *cf, void *conf, ngx_xyz_channel_t *ch,
    ngx_uint_t dispatched)
{
    ngx_xyz_main_conf_t *xmcf = conf;

    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    if (!dispatched) {
        /* HubSpot's batch upsert takes 100 inputs: a backlog goes 100 a
         * call */
        ngx_conf_init_uint_value(dc->crm_batch, 100);
        ngx_conf_init_msec_value(dc->crm_linger, 200);

        ch->group = 1;
        ch->batch = dc->crm_batch;
        ch->linger = dc->crm_linger;

    } else if (dc->crm_batch > xmcf->pg.queue_size) {
        /* a batch's claims begin as its messages arrive, all in the
         * queue */
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"xyz_crm_batch size=%ui\" is above "
                           "\"xyz_pg_queue_size %ui\": the claims the "
                           "queue refuses come back after their lease",
                           dc->crm_batch, xmcf->pg.queue_size);
    }

    return ngx_xyz_crm_init_conf(cf, xmcf, ch, dispatched);
}


/* what both modes share: the peer, its secret, its limits and breaker */

static char *
ngx_xyz_crm_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf,
    ngx_xyz_channel_t *ch, ngx_uint_t dispatched)
{
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    if (!dispatched) {
        ngx_conf_init_uint_value(dc->crm_rate, 90);
        ngx_conf_init_msec_value(dc->crm_margin, 50);
        ngx_conf_init_msec_value(dc->crm_timeout, 10000);
        ngx_conf_init_uint_value(dc->breaker_failures, 5);
        ngx_conf_init_msec_value(dc->breaker_open, 30000);

        if (dc->crm_method.len == 0) {
            ngx_str_set(&dc->crm_method, "POST");
        }

        ch->rate = dc->crm_rate;
        ch->margin = dc->crm_margin;
        ch->probe = dc->crm_timeout;
        ch->breaker_failures = dc->breaker_failures;
        ch->breaker_open = dc->breaker_open;

        return NGX_CONF_OK;
    }

    if (dc->crm_url.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_dispatch crm\" needs \"xyz_crm_url\"");
        return NGX_CONF_ERROR;
    }

    dc->crm_url.data = ngx_xyz_pstrdup0(cf->pool, &dc->crm_url);
    dc->crm_method.data = ngx_xyz_pstrdup0(cf->pool, &dc->crm_method);
    if (dc->crm_url.data == NULL || dc->crm_method.data == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_xyz_crm_files(cf, xmcf);
}


/* the secret and the body's template, read at configuration time */

static char *
ngx_xyz_crm_files(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    char                      err[128];
    ngx_xyz_dispatch_conf_t  *dc;

    dc = &xmcf->dispatch;

    if (xmcf->crm_secret_file.len
        && ngx_xyz_read_file(cf, &xmcf->crm_secret_file, &dc->crm_secret, 1)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (xmcf->crm_body_file.len == 0) {
        return NGX_CONF_OK;
    }

    if (ngx_xyz_read_file(cf, &xmcf->crm_body_file, &dc->crm_body, 0)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_xyz_crm_template_check((char *) dc->crm_body.data,
                                   dc->crm_body.len, err, sizeof(err))
        < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"xyz_crm_body %V\": %s",
                           &xmcf->crm_body_file, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_xyz_crm_single_send(ngx_xyz_job_t **jobs, ngx_uint_t n)
{
    ngx_xyz_crm_send(jobs, n, 0);
}


static void
ngx_xyz_hubspot_send(ngx_xyz_job_t **jobs, ngx_uint_t n)
{
    ngx_xyz_crm_send(jobs, n, 1);
}


static void
ngx_xyz_crm_send(ngx_xyz_job_t **jobs, ngx_uint_t n, ngx_uint_t batch)
{
    ngx_int_t                 rc;
    ngx_xyz_curl_t           *h;
    ngx_xyz_crm_call_t       *call;
    ngx_xyz_dispatch_conf_t  *dc;

    dc = ngx_xyz_job_conf(jobs[0]);

    h = ngx_xyz_curl_create(ngx_xyz_job_log(jobs[0]));
    if (h == NULL) {
        ngx_xyz_jobs_done(jobs, n, NGX_XYZ_RETRY, 0, "out of memory");
        return;
    }

    call = ngx_pcalloc(h->pool, sizeof(ngx_xyz_crm_call_t));

    if (call != NULL) {
        call->jobs = ngx_pcalloc(h->pool, n * sizeof(ngx_xyz_job_t *));
        call->contacts = ngx_pcalloc(h->pool,
                                     n * sizeof(ngx_xyz_crm_contact_t));
    }

    if (call == NULL || call->jobs == NULL || call->contacts == NULL) {
        ngx_xyz_jobs_done(jobs, n, NGX_XYZ_RETRY, 0, "out of memory");
        ngx_xyz_curl_destroy(h);
        return;
    }

    call->batch = batch;

    ngx_xyz_crm_contacts(call, jobs, n, h->pool);

    if (call->n == 0) {
        ngx_xyz_curl_destroy(h);
        return;
    }

    rc = ngx_xyz_crm_request_body(call, h, dc);

    if (rc == NGX_DECLINED) {
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_DEAD, 0,
                          "the CRM request cannot be built (check "
                          "xyz_crm_body)");
        ngx_xyz_curl_destroy(h);
        return;
    }

    if (rc != NGX_OK || ngx_xyz_crm_headers(call, h, dc) != NGX_OK) {
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                          "out of memory");
        ngx_xyz_curl_destroy(h);
        return;
    }

    h->timeout = dc->crm_timeout;
    /* a 207 answer repeats each of up to a hundred contacts */
    h->response_max = call->batch ? 1024 * 1024 : 64 * 1024;
    h->handler = ngx_xyz_crm_done;
    h->data = call;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, h->log, 0,
                   "xyz crm: request %p, %ui contacts, %s",
                   h, call->n, call->batch ? "batch" : "single");

    if (ngx_xyz_curl_start(h, (char *) dc->crm_url.data) != NGX_OK) {
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                          "too many transfers at once");
        ngx_xyz_curl_destroy(h);
    }
}


/* unreadable messages fail for good; the rest make the request */

static void
ngx_xyz_crm_contacts(ngx_xyz_crm_call_t *call, ngx_xyz_job_t **jobs,
    ngx_uint_t n, ngx_pool_t *pool)
{
    char                    *arena;
    size_t                   arena_size;
    ngx_uint_t               i;
    ngx_xyz_sqs_received_t  *msg;

    for (i = 0; i < n; i++) {
        msg = ngx_xyz_job_msg(jobs[i]);

        arena_size = msg->body_len + 256;
        arena = ngx_pnalloc(pool, arena_size);

        if (arena == NULL
            || ngx_xyz_crm_contact_parse(msg->body, msg->body_len,
                                         &call->contacts[call->n], arena,
                                         arena_size)
               < 0)
        {
            ngx_xyz_job_done(jobs[i], NGX_XYZ_DEAD, 0,
                             "the CRM message cannot be read");
            continue;
        }

        call->jobs[call->n++] = jobs[i];
    }
}


/* NGX_DECLINED: the records cannot make a request (the template) */

static ngx_int_t
ngx_xyz_crm_request_body(ngx_xyz_crm_call_t *call, ngx_xyz_curl_t *h,
    ngx_xyz_dispatch_conf_t *dc)
{
    int         len;
    char       *body;
    size_t      size;
    ngx_uint_t  i;

    size = 1024;

    if (call->batch) {
        /* fixed fields, each escaped: a hundred contacts stay small */
        size += ngx_xyz_crm_hubspot_batch_len(call->contacts, call->n);

    } else {
        for (i = 0; i < call->n; i++) {
            /* a template may quote any field many times, each escaped */
            size += dc->crm_body.len
                    + 6 * 20 * ngx_xyz_job_msg(call->jobs[i])->body_len
                    + 512;
        }
    }

    body = ngx_pnalloc(h->pool, size);
    if (body == NULL) {
        return NGX_ERROR;
    }

    if (call->batch) {
        len = ngx_xyz_crm_hubspot_batch(call->contacts, call->n, body, size);

    } else {
        len = ngx_xyz_crm_body(dc->crm_body.len ? (char *) dc->crm_body.data
                                                : NULL,
                               dc->crm_body.len, &call->contacts[0], body,
                               size);
    }

    if (len < 0) {
        return NGX_DECLINED;
    }

    h->body.data = (u_char *) body;
    h->body.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_xyz_crm_headers(ngx_xyz_crm_call_t *call, ngx_xyz_curl_t *h,
    ngx_xyz_dispatch_conf_t *dc)
{
    char        *line;
    ngx_uint_t   k;

    k = call->n;

    line = ngx_pnalloc(h->pool, 128 + dc->crm_secret.len);
    if (line == NULL) {
        return NGX_ERROR;
    }

    if (ngx_xyz_curl_header(h, "Content-Type: application/json") != NGX_OK
        || ngx_xyz_curl_header(h, "Accept: application/json") != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the same key for every attempt at the same record(s) */

    if (k == 1) {
        ngx_sprintf((u_char *) line, "Idempotency-Key: xyz-%L%Z",
                    ngx_xyz_job_msg(call->jobs[0])->outbox_id);

    } else {
        ngx_sprintf((u_char *) line, "Idempotency-Key: xyz-%L-%L-%ui%Z",
                    ngx_xyz_job_msg(call->jobs[0])->outbox_id,
                    ngx_xyz_job_msg(call->jobs[k - 1])->outbox_id, k);
    }

    if (ngx_xyz_curl_header(h, line) != NGX_OK) {
        return NGX_ERROR;
    }

    if (dc->crm_secret.len) {
        ngx_sprintf((u_char *) line, "Authorization: Bearer %V%Z",
                    &dc->crm_secret);

        if (ngx_xyz_curl_header(h, line) != NGX_OK) {
            ngx_explicit_memzero(line, 128 + dc->crm_secret.len);
            return NGX_ERROR;
        }

        ngx_explicit_memzero(line, 128 + dc->crm_secret.len);
    }

    if (ngx_strcmp(dc->crm_method.data, "POST") != 0) {
        curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST,
                         (char *) dc->crm_method.data);
    }

    return NGX_OK;
}


static void
ngx_xyz_crm_done(ngx_xyz_curl_t *h)
{
    ngx_xyz_crm_call_t *call = h->data;

    long        wait;
    u_char      detail[256];
    ngx_uint_t  i;

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, h->log, 0,
                   "xyz crm: request %p done, status %l, curl code %d, "
                   "%ui contacts", h, h->status, (int) h->code, call->n);

    if (h->code != CURLE_OK) {
        /* curl's message may fill its 256 bytes: cut it, but end it */
        *ngx_snprintf(detail, sizeof(detail) - 1, "CRM unreachable: %s",
                      h->error) = '\0';
        ngx_xyz_job_peer(call->jobs[0], 0, 0);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                          (char *) detail);
        return;
    }

    if (h->status == 207 && call->batch) {
        ngx_xyz_job_peer(call->jobs[0], 1, 0);
        ngx_xyz_crm_multi(call, h);
        return;
    }

    if (h->status >= 200 && h->status < 300) {
        ngx_xyz_job_peer(call->jobs[0], 1, 0);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_SENT, 0, "");
        return;
    }

    if (h->status == 429) {
        wait = h->retry_after[0] ? ngx_xyz_crm_retry_after(h->retry_after,
                                                           ngx_time())
                                 : -1;
        if (wait < 1) {
            wait = 1;
        }

        if (wait > NGX_XYZ_RETRY_AFTER_MAX) {
            wait = NGX_XYZ_RETRY_AFTER_MAX;
        }

        ngx_xyz_metrics_add(NGX_XYZ_M_CRM_429, 1);

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, h->log, 0,
                       "xyz crm: rate limited, Retry-After %l s", wait);

        ngx_snprintf(detail, sizeof(detail) - 1,
                     "CRM answered 429, Retry-After %l s%Z", wait);

        /* not the CRM failing: it tells everyone to wait */
        ngx_xyz_job_peer(call->jobs[0], 1, wait);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, wait,
                          (char *) detail);
        return;
    }

    if (h->status >= 500 || h->status == 408) {
        ngx_snprintf(detail, sizeof(detail) - 1, "CRM answered %l%Z",
                     h->status);
        ngx_xyz_job_peer(call->jobs[0], 0, 0);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                          (char *) detail);
        return;
    }

    /* the CRM works and refuses these records: no retry will help */

    if (call->batch && call->n > 1 && ngx_xyz_crm_splits(h->status)) {
        /* which contact? each one alone will tell */
        ngx_log_error(NGX_LOG_WARN, h->log, 0,
                      "xyz: the CRM refused a batch of %ui contacts "
                      "(%l); sending each on its own", call->n, h->status);
        ngx_xyz_job_peer(call->jobs[0], 1, 0);
        ngx_xyz_jobs_alone(call->jobs, call->n);
        return;
    }

    for (i = 0; i < h->response.len && i < 120; i++) {
        if (h->response.data[i] < 0x20 || h->response.data[i] >= 0x7f) {
            h->response.data[i] = ' ';
        }
    }

    ngx_snprintf(detail, sizeof(detail) - 1, "CRM answered %l: %*s%Z",
                 h->status, ngx_min(h->response.len, 120),
                 h->response.data);

    ngx_xyz_job_peer(call->jobs[0], 1, 0);
    ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_DEAD, 0, (char *) detail);
}


/* a 207 answer to a HubSpot batch: each contact by its own result */

static void
ngx_xyz_crm_multi(ngx_xyz_crm_call_t *call, ngx_xyz_curl_t *h)
{
    int             *state;
    u_char          *p, *reasons, *reason;
    ngx_uint_t       i, nsent, nalone;
    ngx_xyz_job_t  **sent, **alone;
    u_char           detail[256];

    state = ngx_palloc(h->pool, call->n * sizeof(int));
    sent = ngx_palloc(h->pool, call->n * sizeof(ngx_xyz_job_t *));
    alone = ngx_palloc(h->pool, call->n * sizeof(ngx_xyz_job_t *));
    reasons = ngx_palloc(h->pool, call->n * NGX_XYZ_CRM_REASON_LEN);

    if (state == NULL || sent == NULL || alone == NULL || reasons == NULL) {
        /* each alone cannot be worse than a retry of them all */
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                          "out of memory");
        return;
    }

    if (ngx_xyz_crm_hubspot_multi((char *) h->response.data,
                                  h->response.len, call->contacts, call->n,
                                  state, (char *) reasons,
                                  NGX_XYZ_CRM_REASON_LEN)
        != 0)
    {
        /* unreadable: what was written is written again, harmlessly */
        ngx_log_error(NGX_LOG_WARN, h->log, 0,
                      "xyz: the CRM's multi-status answer cannot be read; "
                      "sending each contact on its own");

        if (call->n > 1) {
            ngx_xyz_jobs_alone(call->jobs, call->n);

        } else {
            ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                              "CRM answered 207 unreadably");
        }

        return;
    }

    nsent = 0;
    nalone = 0;

    for (i = 0; i < call->n; i++) {
        switch (state[i]) {

        case NGX_XYZ_CRM_WRITTEN:
            sent[nsent++] = call->jobs[i];
            break;

        case NGX_XYZ_CRM_REFUSED:
            reason = reasons + i * NGX_XYZ_CRM_REASON_LEN;

            for (p = reason; *p; p++) {
                if (*p < 0x20 || *p == 0x7f) {
                    *p = ' ';
                }
            }

            ngx_snprintf(detail, sizeof(detail) - 1,
                         "CRM answered 207, refusing the contact: %s%Z",
                         reason[0] ? (char *) reason : "no reason");
            ngx_xyz_job_done(call->jobs[i], NGX_XYZ_DEAD, 0,
                             (char *) detail);
            break;

        default:
            alone[nalone++] = call->jobs[i];
        }
    }

    ngx_xyz_jobs_done(sent, nsent, NGX_XYZ_SENT, 0, "");

    if (nalone == 0) {
        return;
    }

    if (call->n == 1) {
        /* alone already: splitting it further cannot help */
        ngx_xyz_jobs_done(alone, nalone, NGX_XYZ_RETRY, 0,
                          "CRM answered 207 without a result for it");
        return;
    }

    ngx_log_error(NGX_LOG_WARN, h->log, 0,
                  "xyz: the CRM's multi-status answer leaves %ui contacts "
                  "unaccounted for; sending each on its own", nalone);
    ngx_xyz_jobs_alone(alone, nalone);
}


/*
 * A refused batch is split unless the refusal cannot depend on the
 * contacts in it (credentials, address, method): those refuse each one
 * alone just the same.
 */

static ngx_uint_t
ngx_xyz_crm_splits(long status)
{
    switch (status) {
    case 401:
    case 403:
    case 404:
    case 405:
        return 0;
    default:
        return 1;
    }
}


/*
 * A Retry-After value as seconds from now: delay-seconds, or an HTTP date
 * in any of its three forms (IMF-fixdate, the obsolete RFC 850 and
 * asctime), 0 for a date past; -1 when it is neither.  nginx's parser
 * reads the date but not the zone after it: IMF-fixdate and RFC 850 must
 * end in " GMT", and every form in its last digit.
 */

static long
ngx_xyz_crm_retry_after(const char *value, time_t now)
{
    long     n;
    time_t   t;
    u_char  *p, *end;

    p = (u_char *) value;
    end = p + ngx_strlen(p);

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    if (p == end) {
        return -1;
    }

    if (*p >= '0' && *p <= '9') {
        n = 0;

        for ( /* void */ ; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }

            /* absurd delays are clamped rather than refused: the caller
             * caps them anyway */

            n = (n < NGX_MAX_INT32_VALUE / 10) ? n * 10 + (*p - '0')
                                               : NGX_MAX_INT32_VALUE;
        }

        return n;
    }

    if (ngx_strlchr(p, end, ',') != NULL) {
        if (end - p < 4 || ngx_strncmp(end - 4, " GMT", 4) != 0) {
            return -1;
        }

        end -= 4;
    }

    if (end[-1] < '0' || end[-1] > '9') {
        return -1;
    }

    t = ngx_parse_http_time(p, end - p);

    if (t == NGX_ERROR) {
        return -1;
    }

    return t > now ? (long) (t - now) : 0;
}
