
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
#include "ngx_xyz_dispatch.h"
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


static void ngx_xyz_crm_done(ngx_xyz_curl_t *h);
static void ngx_xyz_crm_multi(ngx_xyz_crm_call_t *call, ngx_xyz_curl_t *h);
static ngx_uint_t ngx_xyz_crm_splits(long status);
static void ngx_xyz_crm_result(ngx_xyz_job_t *unit, ngx_uint_t ok,
    ngx_uint_t block_seconds);
static void ngx_xyz_crm_result_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);


static const char  ngx_xyz_crm_result_sql[] =
    "SELECT xyz_rate_result('crm', $1::boolean, $2::interval, $3::integer, "
    "$4::interval)";


void
ngx_xyz_crm_send(ngx_xyz_job_t **jobs, ngx_uint_t n)
{
    int                       len;
    char                     *arena, *body, *line;
    size_t                    size, arena_size;
    ngx_uint_t                i, k;
    ngx_log_t                *log;
    ngx_xyz_curl_t           *h;
    ngx_xyz_crm_call_t       *call;
    ngx_xyz_crm_contact_t    *contacts;
    ngx_xyz_dispatch_conf_t  *dc;

    dc = ngx_xyz_job_conf(jobs[0]);
    log = ngx_xyz_job_log(jobs[0]);

    h = ngx_xyz_curl_create(log);
    if (h == NULL) {
        ngx_xyz_jobs_done(jobs, n, NGX_XYZ_RETRY, 0, "out of memory");
        return;
    }

    call = ngx_pcalloc(h->pool, sizeof(ngx_xyz_crm_call_t));
    if (call == NULL) {
        goto failed;
    }

    call->jobs = ngx_pcalloc(h->pool, n * sizeof(ngx_xyz_job_t *));
    call->contacts = ngx_pcalloc(h->pool, n * sizeof(ngx_xyz_crm_contact_t));
    if (call->jobs == NULL || call->contacts == NULL) {
        call = NULL;
        goto failed;
    }

    contacts = call->contacts;
    call->batch = (dc->crm_mode == NGX_XYZ_CRM_HUBSPOT);

    /* unreadable messages fail for good; the rest make the request */

    size = 1024;
    k = 0;

    for (i = 0; i < n; i++) {
        arena_size = jobs[i]->msg->body_len + 256;
        arena = ngx_pnalloc(h->pool, arena_size);

        if (arena == NULL
            || ngx_xyz_crm_contact_parse(jobs[i]->msg->body,
                                         jobs[i]->msg->body_len, &contacts[k],
                                         arena, arena_size)
               < 0)
        {
            ngx_xyz_job_done(jobs[i], NGX_XYZ_DEAD, 0,
                             "the CRM message cannot be read");
            continue;
        }

        call->jobs[k++] = jobs[i];

        if (dc->crm_mode != NGX_XYZ_CRM_HUBSPOT) {
            /* a template may quote any field many times, each escaped */
            size += dc->crm_body.len + 6 * 20 * jobs[i]->msg->body_len + 512;
        }
    }

    call->n = k;

    if (k == 0) {
        ngx_xyz_curl_destroy(h);
        return;
    }

    if (dc->crm_mode == NGX_XYZ_CRM_HUBSPOT) {
        /* fixed fields, each escaped: a hundred contacts stay small */
        size += ngx_xyz_crm_hubspot_batch_len(contacts, k);
    }

    body = ngx_pnalloc(h->pool, size);
    if (body == NULL) {
        goto failed;
    }

    if (dc->crm_mode == NGX_XYZ_CRM_HUBSPOT) {
        len = ngx_xyz_crm_hubspot_batch(contacts, k, body, size);

    } else {
        len = ngx_xyz_crm_body(dc->crm_body.len ? (char *) dc->crm_body.data
                                                : NULL,
                               dc->crm_body.len, &contacts[0], body, size);
    }

    if (len < 0) {
        ngx_xyz_jobs_done(call->jobs, k, NGX_XYZ_DEAD, 0,
                          "the CRM request cannot be built (check "
                          "xyz_crm_body)");
        ngx_xyz_curl_destroy(h);
        return;
    }

    line = ngx_pnalloc(h->pool, 128 + dc->crm_secret.len);
    if (line == NULL) {
        goto failed;
    }

    if (ngx_xyz_curl_header(h, "Content-Type: application/json") != NGX_OK
        || ngx_xyz_curl_header(h, "Accept: application/json") != NGX_OK)
    {
        goto failed;
    }

    /* the same key for every attempt at the same record(s) */

    if (k == 1) {
        ngx_sprintf((u_char *) line, "Idempotency-Key: xyz-%L%Z",
                    call->jobs[0]->msg->outbox_id);

    } else {
        ngx_sprintf((u_char *) line, "Idempotency-Key: xyz-%L-%L-%ui%Z",
                    call->jobs[0]->msg->outbox_id,
                    call->jobs[k - 1]->msg->outbox_id, k);
    }

    if (ngx_xyz_curl_header(h, line) != NGX_OK) {
        goto failed;
    }

    if (dc->crm_secret.len) {
        ngx_sprintf((u_char *) line, "Authorization: Bearer %V%Z",
                    &dc->crm_secret);

        if (ngx_xyz_curl_header(h, line) != NGX_OK) {
            goto failed;
        }

        ngx_explicit_memzero(line, 128 + dc->crm_secret.len);
    }

    if (ngx_strcmp(dc->crm_method.data, "POST") != 0) {
        curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST,
                         (char *) dc->crm_method.data);
    }

    h->body.data = (u_char *) body;
    h->body.len = len;
    h->timeout = dc->crm_timeout;
    /* a 207 answer repeats each of up to a hundred contacts */
    h->response_max = call->batch ? 1024 * 1024 : 64 * 1024;
    h->handler = ngx_xyz_crm_done;
    h->data = call;

    if (ngx_xyz_curl_start(h, (char *) dc->crm_url.data) != NGX_OK) {
        ngx_xyz_jobs_done(call->jobs, k, NGX_XYZ_RETRY, 0,
                          "too many transfers at once");
        ngx_xyz_curl_destroy(h);
    }

    return;

failed:

    ngx_xyz_jobs_done(call ? call->jobs : jobs, call ? call->n : n,
                      NGX_XYZ_RETRY, 0, "out of memory");
    ngx_xyz_curl_destroy(h);
}


static void
ngx_xyz_crm_done(ngx_xyz_curl_t *h)
{
    ngx_xyz_crm_call_t *call = h->data;

    long        wait;
    u_char      detail[256];
    ngx_uint_t  i;

    if (h->code != CURLE_OK) {
        /* curl's message may fill its 256 bytes: cut it, but end it */
        *ngx_snprintf(detail, sizeof(detail) - 1, "CRM unreachable: %s",
                      h->error) = '\0';
        ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 0, 0);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, 0,
                          (char *) detail);
        return;
    }

    if (h->status == 207 && call->batch) {
        ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 1, 0);
        ngx_xyz_crm_multi(call, h);
        return;
    }

    if (h->status >= 200 && h->status < 300) {
        ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 1, 0);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_SENT, 0, "");
        return;
    }

    if (h->status == 429) {
        wait = h->retry_after[0] ? ngx_xyz_retry_after(h->retry_after,
                                                       ngx_time())
                                 : -1;
        if (wait < 1) {
            wait = 1;
        }

        if (wait > NGX_XYZ_RETRY_AFTER_MAX) {
            wait = NGX_XYZ_RETRY_AFTER_MAX;
        }

        ngx_xyz_metrics_add(NGX_XYZ_M_CRM_429, 1);

        ngx_snprintf(detail, sizeof(detail) - 1,
                     "CRM answered 429, Retry-After %l s%Z", wait);

        /* not the CRM failing: it tells everyone to wait */
        ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 1, wait);
        ngx_xyz_jobs_done(call->jobs, call->n, NGX_XYZ_RETRY, wait,
                          (char *) detail);
        return;
    }

    if (h->status >= 500 || h->status == 408) {
        ngx_snprintf(detail, sizeof(detail) - 1, "CRM answered %l%Z",
                     h->status);
        ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 0, 0);
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
        ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 1, 0);
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

    ngx_xyz_crm_result(ngx_xyz_job_unit(call->jobs[0]), 1, 0);
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


static void
ngx_xyz_crm_result(ngx_xyz_job_t *unit, ngx_uint_t ok,
    ngx_uint_t block_seconds)
{
    ngx_xyz_dispatch_conf_t  *dc;

    dc = ngx_xyz_job_conf(unit);

    ngx_xyz_pg_cancel(&unit->result_query);

    ngx_sprintf((u_char *) unit->block, "%ui seconds%Z", block_seconds);
    ngx_sprintf((u_char *) unit->threshold, "%ui%Z", dc->breaker_failures);
    ngx_sprintf((u_char *) unit->open, "%M milliseconds%Z",
                dc->breaker_open);

    unit->result_values[0] = ok ? "true" : "false";
    unit->result_values[1] = unit->block;
    unit->result_values[2] = unit->threshold;
    unit->result_values[3] = unit->open;

    unit->result_query.sql = ngx_xyz_crm_result_sql;
    unit->result_query.nparams = 4;
    unit->result_query.values = unit->result_values;
    unit->result_query.handler = ngx_xyz_crm_result_done;
    unit->result_query.data = unit;
    unit->result_query.log = ngx_xyz_job_log(unit);

    (void) ngx_xyz_pg_query(ngx_xyz_job_pg(unit), &unit->result_query);
}


static void
ngx_xyz_crm_result_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_job_t *unit = q->data;

    if (rc == NGX_OK && PQntuples(res) == 1
        && ngx_strcmp(PQgetvalue(res, 0, 0), "open") == 0
        && unit->result_values[0][0] == 'f')
    {
        ngx_log_error(NGX_LOG_WARN, ngx_xyz_job_log(unit), 0,
                      "xyz: the CRM keeps failing; its breaker is open and "
                      "dispatchers wait before they probe it again");
        ngx_xyz_metrics_add(NGX_XYZ_M_BREAKER_OPENED, 1);
    }
}
