
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * xyz_ready: the readiness probe of load balancers and orchestrators
 * (ALB target group, ECS health check, Kubernetes readinessProbe).  The
 * answer is 200 only when this worker could serve a registration now:
 * its database pool gets an answer to a trivial query within the pool's
 * own timeouts, and, where the module talks to SQS, AWS credentials are
 * loaded and not about to expire.  Anything else is 503 with the reason,
 * so that the instance is taken out of rotation instead of answering
 * 503 to visitors.  Liveness (is the process there at all) needs no
 * module code: a plain "return 200" location does it.
 *
 * The probe goes through the same bounded pool and wait queue as the
 * visitors' queries, so it never opens connections of its own and never
 * blocks the event loop.
 */


#include "ngx_xyz_module.h"


static ngx_int_t ngx_xyz_ready_handler(ngx_http_request_t *r);
static void ngx_xyz_ready_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_ready_send(ngx_http_request_t *r,
    const char *reason);


static const char  ngx_xyz_ready_sql[] = "SELECT 1";


ngx_xyz_location_t  ngx_xyz_ready_location = {
    ngx_xyz_ready_handler, NGX_XYZ_CORE, 0
};


static ngx_int_t
ngx_xyz_ready_handler(ngx_http_request_t *r)
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

    /* with queues configured, SQS calls need credentials (IRSA, task role) */
    if (xmcf->relay && ngx_xyz_aws_credentials() == NULL) {
        return ngx_xyz_ready_send(r, "credentials");
    }

    if (xmcf->pg_pool == NULL || !ngx_xyz_pg_available(xmcf->pg_pool)) {
        return ngx_xyz_ready_send(r, "database");
    }

    rc = ngx_xyz_api_query(r, xmcf->pg_pool, ngx_xyz_ready_sql,
                           ngx_xyz_ready_done);

    if (rc == NGX_DECLINED) {
        /* the wait queue is full or the database is down: not ready */
        return ngx_xyz_ready_send(r, "database");
    }

    return (rc == NGX_DONE) ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_xyz_ready_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = q->data;
    c = r->connection;

    ngx_http_finalize_request(r,
        ngx_xyz_ready_send(r, (rc == NGX_OK
                               && PQresultStatus(res) == PGRES_TUPLES_OK)
                              ? NULL : "database"));

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_xyz_ready_send(ngx_http_request_t *r, const char *reason)
{
    u_char     *p;
    ngx_str_t   body;

    if (reason == NULL) {
        ngx_str_set(&body, "{\"status\":\"ready\"}\n");
        return ngx_xyz_reply_json(r, NGX_HTTP_OK, &body);
    }

    p = ngx_pnalloc(r->pool, 64);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.data = p;
    body.len = ngx_snprintf(p, 64, "{\"status\":\"unavailable\","
                            "\"reason\":\"%s\"}\n", reason) - p;

    if (ngx_xyz_add_header(r, "Retry-After", "2") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_xyz_reply_json(r, NGX_HTTP_SERVICE_UNAVAILABLE, &body);
}
