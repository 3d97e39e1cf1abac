
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * JSON answers and request bodies: what every location of the module
 * shares.
 */


#include "ngx_xyz_module.h"


static u_char *ngx_xyz_reply_escape(u_char *dst, const char *src);


ngx_int_t
ngx_xyz_add_header(ngx_http_request_t *r, const char *key, const char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


ngx_int_t
ngx_xyz_reply_json(ngx_http_request_t *r, ngx_uint_t status, ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (r->header_sent) {
        return NGX_ERROR;
    }

    /*
     * An answer given before the body was read must not leave the body on
     * a keep-alive connection: nginx would parse it as the next request
     * (request smuggling).  Nothing happens when the body was read, is
     * being discarded or there is none; when it cannot be discarded, the
     * connection is not kept.
     */

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    ngx_str_set(&r->headers_out.charset, "utf-8");

    /* answers about accounts are never for caches */
    if (ngx_xyz_add_header(r, "Cache-Control", "no-store") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_xyz_reply_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *message)
{
    size_t      len;
    u_char     *p;
    ngx_str_t   body;

    /* the worst case: every byte escaped as \u00XX by ngx_escape_json() */

    len = sizeof("{\"error\":\"\",\"field\":\"\",\"message\":\"\"}\n")
          + 6 * (ngx_strlen(code) + ngx_strlen(message)
                 + (field ? ngx_strlen(field) : 0));

    body.data = ngx_pnalloc(r->pool, len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body.data, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    p = ngx_xyz_reply_escape(p, code);

    if (field) {
        p = ngx_cpymem(p, "\",\"field\":\"", sizeof("\",\"field\":\"") - 1);
        p = ngx_xyz_reply_escape(p, field);
    }

    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = ngx_xyz_reply_escape(p, message);
    p = ngx_cpymem(p, "\"}\n", 3);

    body.len = p - body.data;

    return ngx_xyz_reply_json(r, status, &body);
}


/*
 * 503.  While requests wait in this worker's queues (an overload, not an
 * outage) Retry-After is about the time those queues take to drain, with
 * jitter; otherwise 2 seconds.
 */

ngx_int_t
ngx_xyz_reply_unavailable(ngx_http_request_t *r, const char *message)
{
    u_char               *p;
    time_t                s, pg;
    ngx_time_t           *tp;
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    s = ngx_xyz_hash_retry_after();
    pg = ngx_xyz_pg_retry_after(xmcf->pg_pool);

    if (pg > s) {
        s = pg;
    }

    if (s == 0) {
        s = 2;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz reply: unavailable, Retry-After: %T", s);

    /* refused at once (a full queue, the database down), not after a
     * wait: its connection pauses before its next request is read */

    tp = ngx_timeofday();

    if ((tp->sec - r->start_sec) * 1000 + (tp->msec - r->start_msec)
        < NGX_XYZ_PACE_AT_ONCE)
    {
        ngx_xyz_pace(r, s);
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(p, "%T%Z", s);

    if (ngx_xyz_add_header(r, "Retry-After", (char *) p) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_xyz_reply_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                               NULL, message);
}


/* the 503 most failures end in: the database or the hashing let us down */

ngx_int_t
ngx_xyz_reply_try_again(ngx_http_request_t *r)
{
    return ngx_xyz_reply_unavailable(r, NGX_XYZ_TRY_AGAIN);
}


/* a 200 with the JSON a query built: the first value of its one row */

ngx_int_t
ngx_xyz_reply_result(ngx_http_request_t *r, PGresult *res)
{
    ngx_str_t  body;

    body.len = PQgetlength(res, 0, 0) + 1;
    body.data = ngx_pnalloc(r->pool, body.len);

    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body.data, PQgetvalue(res, 0, 0), body.len - 1);
    body.data[body.len - 1] = '\n';

    return ngx_xyz_reply_json(r, NGX_HTTP_OK, &body);
}


/* 303 to a page for people, after a form or a link from an email */

ngx_int_t
ngx_xyz_reply_see_other(ngx_http_request_t *r, u_char *location, size_t len)
{
    ngx_http_complex_value_t  cv;

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    cv.value.data = location;
    cv.value.len = len;

    return ngx_http_send_response(r, NGX_HTTP_SEE_OTHER, NULL, &cv);
}


/*
 * Copies the request body into one NUL-terminated buffer.  Returns NGX_OK,
 * NGX_DECLINED when it is larger than max, or NGX_ERROR.
 */

ngx_int_t
ngx_xyz_read_body(ngx_http_request_t *r, size_t max, ngx_str_t *body)
{
    size_t        len, size;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        body->len = 0;
        body->data = (u_char *) "";
        return NGX_OK;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? (size_t) (b->file_last - b->file_pos)
                          : (size_t) (b->last - b->pos);
    }

    if (len > max) {
        return NGX_DECLINED;
    }

    body->data = ngx_pnalloc(r->pool, len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            size = (size_t) (b->file_last - b->file_pos);
            n = ngx_read_file(b->file, p, size, b->file_pos);

            if (n != (ssize_t) size) {
                return NGX_ERROR;
            }

            p += size;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';
    body->len = len;

    return NGX_OK;
}


static u_char *
ngx_xyz_reply_escape(u_char *dst, const char *src)
{
    return (u_char *) ngx_escape_json(dst, (u_char *) src, ngx_strlen(src));
}
