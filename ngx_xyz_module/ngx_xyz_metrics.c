
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Counters live in shared memory so that one scrape sees every worker;
 * they survive a reload.  The outbox gauges (rows waiting, age of the
 * oldest) come from PostgreSQL at scrape time, so they hold for every
 * instance that writes to the same database.
 */


#include "ngx_xyz_module.h"


typedef struct {
    ngx_atomic_t             counter[NGX_XYZ_M_LAST];
} ngx_xyz_metrics_shm_t;


static ngx_int_t ngx_xyz_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_xyz_metrics_handler(ngx_http_request_t *r);
static void ngx_xyz_metrics_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_metrics_send(ngx_http_request_t *r, PGresult *res);


static ngx_xyz_metrics_shm_t  *ngx_xyz_metrics_shm;

static ngx_str_t  ngx_xyz_metrics_zone_name = ngx_string("xyz_metrics");

static const char  ngx_xyz_metrics_sql[] =
    "SELECT 'xyz_outbox_pending', k.kind, count(o.id)::float8 "
    "FROM (VALUES ('email'), ('crm')) k (kind) "
    "LEFT JOIN outbox o ON o.kind = k.kind AND o.published_at IS NULL "
    "AND o.parked_at IS NULL "
    "GROUP BY k.kind "
    "UNION ALL "
    "SELECT 'xyz_outbox_oldest_pending_seconds', k.kind, "
    "coalesce(extract(epoch FROM now() - min(o.created_at)), 0)::float8 "
    "FROM (VALUES ('email'), ('crm')) k (kind) "
    "LEFT JOIN outbox o ON o.kind = k.kind AND o.published_at IS NULL "
    "AND o.parked_at IS NULL "
    "GROUP BY k.kind "
    "UNION ALL "
    "SELECT 'xyz_outbox_parked', k.kind, count(o.id)::float8 "
    "FROM (VALUES ('email'), ('crm')) k (kind) "
    "LEFT JOIN outbox o ON o.kind = k.kind AND o.parked_at IS NOT NULL "
    "GROUP BY k.kind "
    "UNION ALL "
    "SELECT 'xyz_deliveries_sent_per_second', k.kind, "
    "count(d.outbox_id) / 10.0 "
    "FROM (VALUES ('email'), ('crm')) k (kind) "
    "LEFT JOIN deliveries d ON d.kind = k.kind AND d.state = 'sent' "
    "AND d.updated_at > now() - interval '10 seconds' "
    "GROUP BY k.kind "
    "UNION ALL "
    "SELECT 'xyz_deliveries_dead', k.kind, count(d.outbox_id)::float8 "
    "FROM (VALUES ('email'), ('crm')) k (kind) "
    "LEFT JOIN deliveries d ON d.kind = k.kind AND d.state = 'dead' "
    "GROUP BY k.kind "
    "UNION ALL "
    "SELECT 'xyz_mail_suppressed', k.kind, count(m.reason)::float8 "
    "FROM (VALUES ('bounce'), ('complaint')) k (kind) "
    "LEFT JOIN mail_suppressions m ON m.reason = k.kind "
    "GROUP BY k.kind "
    "UNION ALL "
    "SELECT 'xyz_crm_breaker_open', 'crm', "
    "coalesce((SELECT (breaker_until IS NOT NULL)::int FROM rate_limits "
    "WHERE name = 'crm'), 0)::float8 "
    "ORDER BY 1, 2 DESC";


typedef struct {
    const char              *name;
    const char              *help;
} ngx_xyz_gauge_t;


static ngx_xyz_gauge_t  ngx_xyz_gauges[] = {
    { "xyz_crm_breaker_open",
      "Whether the CRM's circuit breaker is open (all dispatchers)." },
    { "xyz_deliveries_dead",
      "Deliveries given up for good (in the dead-letter queue)." },
    { "xyz_deliveries_sent_per_second",
      "Deliveries sent per second over the last ten seconds." },
    { "xyz_mail_suppressed",
      "Addresses no mail is sent to, by reason (SES bounces and "
      "complaints)." },
    { "xyz_outbox_oldest_pending_seconds",
      "Age of the oldest unpublished outbox row." },
    { "xyz_outbox_parked",
      "Outbox rows SQS refused too often, set aside (outbox.parked_at)." },
    { "xyz_outbox_pending", "Outbox rows not yet published (nor parked)." },
    { NULL, NULL }
};


ngx_int_t
ngx_xyz_metrics_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_xyz_metrics_zone_name,
                                     8 * ngx_pagesize, &ngx_xyz_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_xyz_metrics_init_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_xyz_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* a reload: keep counting where the old cycle stopped */
        shm_zone->data = data;
        ngx_xyz_metrics_shm = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        ngx_xyz_metrics_shm = shpool->data;
        return NGX_OK;
    }

    ngx_xyz_metrics_shm = ngx_slab_calloc(shpool,
                                          sizeof(ngx_xyz_metrics_shm_t));
    if (ngx_xyz_metrics_shm == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ngx_xyz_metrics_shm;
    shm_zone->data = ngx_xyz_metrics_shm;

    return NGX_OK;
}


void
ngx_xyz_metrics_add(ngx_uint_t metric, ngx_atomic_int_t n)
{
    if (ngx_xyz_metrics_shm && metric < NGX_XYZ_M_LAST) {
        (void) ngx_atomic_fetch_add(&ngx_xyz_metrics_shm->counter[metric], n);
    }
}


ngx_xyz_location_t  ngx_xyz_metrics_location = {
    ngx_xyz_metrics_handler, NGX_XYZ_CORE, 0
};


static ngx_int_t
ngx_xyz_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_xyz_main_conf_t  *xmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    if (xmcf->pg_pool == NULL || !ngx_xyz_pg_available(xmcf->pg_pool)) {
        return ngx_xyz_metrics_send(r, NULL);
    }

    rc = ngx_xyz_api_query(r, xmcf->pg_pool, ngx_xyz_metrics_sql,
                           ngx_xyz_metrics_done);

    if (rc == NGX_DECLINED) {
        return ngx_xyz_metrics_send(r, NULL);
    }

    return (rc == NGX_DONE) ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_xyz_metrics_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = q->data;
    c = r->connection;

    ngx_http_finalize_request(r,
        ngx_xyz_metrics_send(r, (rc == NGX_OK && PQnfields(res) == 3)
                                ? res : NULL));

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_xyz_metrics_send(ngx_http_request_t *r, PGresult *res)
{
    u_char       *p;
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_uint_t    i;
    ngx_chain_t   out;
    ngx_atomic_t  *m;
    ngx_xyz_gauge_t  *g;

    static ngx_atomic_t  zero[NGX_XYZ_M_LAST];

    m = ngx_xyz_metrics_shm ? ngx_xyz_metrics_shm->counter : zero;

    len = 8192;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;

    p = ngx_slprintf(p, b->end,
        "# HELP xyz_registrations_total Registrations answered 202, by "
        "whether the address was new.\n"
        "# TYPE xyz_registrations_total counter\n"
        "xyz_registrations_total{outcome=\"created\"} %uA\n"
        "xyz_registrations_total{outcome=\"exists\"} %uA\n"
        "# HELP xyz_registration_errors_total Registrations refused: bad "
        "input (4xx) or unavailable (503).\n"
        "# TYPE xyz_registration_errors_total counter\n"
        "xyz_registration_errors_total{reason=\"rejected\"} %uA\n"
        "xyz_registration_errors_total{reason=\"unavailable\"} %uA\n"
        "# HELP xyz_outbox_published_total Outbox rows accepted by SQS.\n"
        "# TYPE xyz_outbox_published_total counter\n"
        "xyz_outbox_published_total{kind=\"email\"} %uA\n"
        "xyz_outbox_published_total{kind=\"crm\"} %uA\n"
        "# HELP xyz_outbox_failed_total Outbox rows SQS did not take; each "
        "is tried again.\n"
        "# TYPE xyz_outbox_failed_total counter\n"
        "xyz_outbox_failed_total{kind=\"email\"} %uA\n"
        "xyz_outbox_failed_total{kind=\"crm\"} %uA\n"
        "# HELP xyz_sqs_requests_total SendMessageBatch calls by result.\n"
        "# TYPE xyz_sqs_requests_total counter\n"
        "xyz_sqs_requests_total{result=\"ok\"} %uA\n"
        "xyz_sqs_requests_total{result=\"error\"} %uA\n"
        "# HELP xyz_outbox_swept_total Rows claimed by the sweeper after "
        "their lease ran out.\n"
        "# TYPE xyz_outbox_swept_total counter\n"
        "xyz_outbox_swept_total %uA\n"
        "# HELP xyz_dispatch_total Deliveries by this instance's "
        "dispatchers, by kind and result.\n"
        "# TYPE xyz_dispatch_total counter\n"
        "xyz_dispatch_total{kind=\"email\",result=\"sent\"} %uA\n"
        "xyz_dispatch_total{kind=\"crm\",result=\"sent\"} %uA\n"
        "xyz_dispatch_total{kind=\"email\",result=\"retried\"} %uA\n"
        "xyz_dispatch_total{kind=\"crm\",result=\"retried\"} %uA\n"
        "xyz_dispatch_total{kind=\"email\",result=\"failed\"} %uA\n"
        "xyz_dispatch_total{kind=\"crm\",result=\"failed\"} %uA\n"
        "xyz_dispatch_total{kind=\"email\",result=\"dead_lettered\"} %uA\n"
        "xyz_dispatch_total{kind=\"crm\",result=\"dead_lettered\"} %uA\n"
        "xyz_dispatch_total{kind=\"email\",result=\"duplicate\"} %uA\n"
        "xyz_dispatch_total{kind=\"crm\",result=\"duplicate\"} %uA\n"
        "# HELP xyz_crm_rate_limited_total CRM answers 429.\n"
        "# TYPE xyz_crm_rate_limited_total counter\n"
        "xyz_crm_rate_limited_total %uA\n"
        "# HELP xyz_crm_breaker_failures_total CRM failures that found or "
        "left its breaker open.\n"
        "# TYPE xyz_crm_breaker_failures_total counter\n"
        "xyz_crm_breaker_failures_total %uA\n"
        "# HELP xyz_argon2_memory_total Argon2id runs by where their "
        "memory came from: mapped for a hashing thread, or reused from "
        "its last hash.\n"
        "# TYPE xyz_argon2_memory_total counter\n"
        "xyz_argon2_memory_total{result=\"mapped\"} %uA\n"
        "xyz_argon2_memory_total{result=\"reused\"} %uA\n",
        m[NGX_XYZ_M_REGISTER_CREATED], m[NGX_XYZ_M_REGISTER_EXISTS],
        m[NGX_XYZ_M_REGISTER_REJECTED], m[NGX_XYZ_M_REGISTER_UNAVAILABLE],
        m[NGX_XYZ_M_PUBLISHED_EMAIL], m[NGX_XYZ_M_PUBLISHED_CRM],
        m[NGX_XYZ_M_PUBLISH_FAILED_EMAIL], m[NGX_XYZ_M_PUBLISH_FAILED_CRM],
        m[NGX_XYZ_M_SQS_OK], m[NGX_XYZ_M_SQS_ERROR], m[NGX_XYZ_M_SWEPT],
        m[NGX_XYZ_M_SENT_EMAIL], m[NGX_XYZ_M_SENT_CRM],
        m[NGX_XYZ_M_RETRIED_EMAIL], m[NGX_XYZ_M_RETRIED_CRM],
        m[NGX_XYZ_M_FAILED_EMAIL], m[NGX_XYZ_M_FAILED_CRM],
        m[NGX_XYZ_M_DEAD_LETTERED_EMAIL], m[NGX_XYZ_M_DEAD_LETTERED_CRM],
        m[NGX_XYZ_M_DUPLICATE_EMAIL], m[NGX_XYZ_M_DUPLICATE_CRM],
        m[NGX_XYZ_M_CRM_429], m[NGX_XYZ_M_BREAKER_OPENED],
        m[NGX_XYZ_M_ARGON2_MAPPED], m[NGX_XYZ_M_ARGON2_REUSED]);

    p = ngx_slprintf(p, b->end,
        "# HELP xyz_database_up Whether PostgreSQL answered this scrape.\n"
        "# TYPE xyz_database_up gauge\n"
        "xyz_database_up %d\n", res ? 1 : 0);

    if (res) {
        for (g = ngx_xyz_gauges; g->name; g++) {
            p = ngx_slprintf(p, b->end, "# HELP %s %s\n# TYPE %s gauge\n",
                             g->name, g->help, g->name);

            for (i = 0; i < (ngx_uint_t) PQntuples(res); i++) {
                if (ngx_strcmp(PQgetvalue(res, i, 0), g->name) == 0) {
                    p = ngx_slprintf(p, b->end, "%s{kind=\"%s\"} %s\n",
                                     g->name, PQgetvalue(res, i, 1),
                                     PQgetvalue(res, i, 2));
                }
            }
        }
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_xyz_add_header(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
