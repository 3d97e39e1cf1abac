
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * What the account locations share: a POST with a small JSON body from
 * this site (method, type, size and Origin checked, the body parsed), a
 * GET of JSON (the method checked, any body discarded), the
 * client address for throttles, tokens and their hashes, and handing a
 * query's outbox rows to the relay.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_origin.h"
#include "ngx_xyz_json.h"

#include <sodium.h>


typedef struct {
    ngx_xyz_api_pt           handler;
} ngx_xyz_api_ctx_t;


static void ngx_xyz_api_body(ngx_http_request_t *r);
static void ngx_xyz_api_query_cleanup(void *data);


/*
 * A POST with a small JSON body from this site: the method, type, Origin
 * and size are checked, the body read and parsed, and handler called with
 * the object.  opts (or NULL) widens that: a form from this site too, the
 * raw body to its own reader, refusals answered the location's way.
 */

ngx_int_t
ngx_xyz_api_post(ngx_http_request_t *r, ngx_xyz_api_pt handler,
    const ngx_xyz_api_opts_t *opts)
{
    ngx_int_t                         rc;
    ngx_xyz_api_ctx_t                *ctx;
    ngx_http_client_body_handler_pt   read;

    if (ngx_xyz_api_check(r, opts, &rc) != NGX_OK) {
        return rc;
    }

    if (opts && opts->read) {
        read = opts->read;

    } else {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_api_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->handler = handler;

        if (ngx_xyz_ctx_set_data(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        read = ngx_xyz_api_body;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The body of a POST, whole, at most xyz_body_max_size.  NGX_OK; otherwise
 * the request is finalized (413 answered through reject, or 500).
 */

ngx_int_t
ngx_xyz_api_read(ngx_http_request_t *r, ngx_xyz_api_reject_pt reject,
    ngx_str_t *body)
{
    ngx_int_t            rc;
    ngx_xyz_loc_conf_t  *xlcf;

    xlcf = ngx_http_get_module_loc_conf(r, ngx_xyz_module);

    rc = ngx_xyz_read_body(r, xlcf->body_max_size, body);

    if (rc == NGX_DECLINED) {
        r->keepalive = 0;
        ngx_http_finalize_request(r,
            reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                   NULL, "the request body is too large"));
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The checks of a POST before its body is read.  NGX_OK: they passed;
 * NGX_DECLINED: the request was refused, *rc is the answer.  A refusal of
 * the Origin is never a location's own: a forged form gets no redirect.
 */

ngx_int_t
ngx_xyz_api_check(ngx_http_request_t *r, const ngx_xyz_api_opts_t *opts,
    ngx_int_t *rc)
{
    ngx_uint_t             form;
    ngx_xyz_loc_conf_t    *xlcf;
    ngx_xyz_api_reject_pt  reject;

    reject = (opts && opts->reject) ? opts->reject : ngx_xyz_reply_error;

    if (r->method != NGX_HTTP_POST) {
        if (ngx_xyz_add_header(r, "Allow", "POST") != NGX_OK) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DECLINED;
        }

        ngx_http_discard_request_body(r);

        *rc = reject(r, NGX_HTTP_NOT_ALLOWED, "method_not_allowed", NULL,
                     (opts && opts->use) ? opts->use : "use POST");
        return NGX_DECLINED;
    }

    form = 0;

    if (!(opts && opts->no_body)) {
        form = opts && opts->form && ngx_xyz_form_type(r);

        if (!form && !ngx_xyz_json_type(r)) {
            ngx_http_discard_request_body(r);

            *rc = reject(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "unsupported_media_type", NULL,
                         "send the body as application/json");
            return NGX_DECLINED;
        }
    }

    /* a browser always says where a form comes from */

    if (!ngx_xyz_same_origin(r, !form)) {
        ngx_http_discard_request_body(r);

        *rc = ngx_xyz_reply_error(r, NGX_HTTP_FORBIDDEN, "cross_origin",
                                  NULL, form ? "the form does not come from "
                                               "this site"
                                             : "the request does not come "
                                               "from this site");
        return NGX_DECLINED;
    }

    if (opts && opts->no_body) {
        return NGX_OK;
    }

    xlcf = ngx_http_get_module_loc_conf(r, ngx_xyz_module);

    if (r->headers_in.content_length_n > (off_t) xlcf->body_max_size) {
        ngx_http_discard_request_body(r);
        r->keepalive = 0;

        *rc = reject(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                     NULL, "the request body is too large");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * A GET (or HEAD) of JSON: NGX_OK, or what the handler returns (a 405
 * that says so, or the failure to discard a body).
 */

ngx_int_t
ngx_xyz_api_get(ngx_http_request_t *r)
{
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_http_discard_request_body(r);
        (void) ngx_xyz_add_header(r, "Allow", "GET");
        return ngx_xyz_reply_error(r, NGX_HTTP_NOT_ALLOWED,
                                   "method_not_allowed", NULL, "use GET");
    }

    return ngx_http_discard_request_body(r);
}


/*
 * A query without parameters whose answer finalizes r: it lives in r's
 * memory and goes with r (a client that went away is not called back).
 * NGX_DONE: r waits for handler, whose q->data is r; NGX_DECLINED: the
 * database cannot take it now; NGX_ERROR: no memory.
 */

ngx_int_t
ngx_xyz_api_query(ngx_http_request_t *r, ngx_xyz_pg_pool_t *pool,
    const char *sql, ngx_xyz_pg_handler_pt handler)
{
    ngx_pool_cleanup_t  *cln;
    ngx_xyz_pg_query_t  *q;

    q = ngx_palloc(r->pool, sizeof(ngx_xyz_pg_query_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (q == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ngx_xyz_pg_query_init(q, sql, 0, NULL, handler, r, r->connection->log);

    cln->handler = ngx_xyz_api_query_cleanup;
    cln->data = q;

    if (ngx_xyz_pg_query(pool, q) != NGX_OK) {
        return NGX_DECLINED;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_xyz_api_query_cleanup(void *data)
{
    ngx_xyz_pg_query_t *q = data;

    ngx_xyz_pg_cancel(q);
}


static void
ngx_xyz_api_body(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            body;
    yajl_val             root;
    ngx_pool_cleanup_t  *cln;
    ngx_xyz_api_ctx_t   *ctx;
    char                 field[64];

    ctx = ngx_xyz_ctx_data(r);

    /* a client that goes away while its request waits for a database
     * connection or a hash is let go of, and leaves the queue */
    r->read_event_handler = ngx_http_test_reading;

    if (ngx_xyz_api_read(r, ngx_xyz_reply_error, &body) != NGX_OK) {
        return;
    }

    /*
     * yajl reads a C string and hands strings back NUL-terminated: a raw
     * NUL byte would end the body early, an escaped one would cut a
     * password or an address short without notice.  Both are refused,
     * the second naming the field, as registration does.
     */

    if (ngx_strlen(body.data) != body.len) {
        sodium_memzero(body.data, body.len);
        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, NGX_HTTP_BAD_REQUEST, "malformed_json",
                                NULL, "the request body holds a NUL byte"));
        return;
    }

    if (body.len
        && ngx_xyz_json_find_nul((char *) body.data, body.len, field,
                                 sizeof(field))
           == 1)
    {
        sodium_memzero(body.data, body.len);
        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, 422, "invalid_field",
                                field[0] ? field : NULL,
                                "text fields must not contain NUL "
                                "characters"));
        return;
    }

    root = body.len ? yajl_tree_parse((char *) body.data, NULL, 0) : NULL;

    if (body.len) {
        sodium_memzero(body.data, body.len);
    }

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        if (root) {
            yajl_tree_free(root);
        }

        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, NGX_HTTP_BAD_REQUEST, "malformed_json",
                                NULL, "the request body must be a JSON "
                                      "object"));
        return;
    }

    /* the tree holds passwords: freed (not wiped: yajl owns it) with the
     * request whatever the handler does */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        yajl_tree_free(root);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = (ngx_pool_cleanup_pt) yajl_tree_free;
    cln->data = root;

    rc = ctx->handler(r, root);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


ngx_int_t
ngx_xyz_json_type(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t  *type;

    static u_char  json[] = "application/json";

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    type = &r->headers_in.content_type->value;

    if (type->len < sizeof(json) - 1
        || ngx_strncasecmp(type->data, json, sizeof(json) - 1) != 0)
    {
        return 0;
    }

    /* "application/json" alone or followed by parameters */

    p = type->data + sizeof(json) - 1;
    last = type->data + type->len;

    while (p < last && *p == ' ') {
        p++;
    }

    return p == last || *p == ';';
}


/* "application/x-www-form-urlencoded", alone or with parameters */

ngx_int_t
ngx_xyz_form_type(ngx_http_request_t *r)
{
    ngx_str_t  *type;

    static u_char  form[] = "application/x-www-form-urlencoded";

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    type = &r->headers_in.content_type->value;

    return type->len >= sizeof(form) - 1
           && ngx_strncasecmp(type->data, form, sizeof(form) - 1) == 0
           && (type->len == sizeof(form) - 1
               || type->data[sizeof(form) - 1] == ';');
}


/*
 * CSRF: a browser sends Origin with every cross-site POST; it must be this
 * site (the public URL, or the scheme and Host the request came to).  A
 * request without Origin or Referer comes from a program, not a page, and
 * is allowed when allow_absent: such clients cannot ride a visitor's
 * cookie.
 */

ngx_int_t
ngx_xyz_same_origin(ngx_http_request_t *r, ngx_uint_t allow_absent)
{
    u_char               *p;
    ngx_str_t             origin, referer;
    const char           *allowed[2];
    ngx_uint_t            n;
    ngx_list_part_t      *part;
    ngx_table_elt_t      *h;
    ngx_xyz_main_conf_t  *xmcf;
    char                  own[512];

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    ngx_str_null(&origin);
    ngx_str_null(&referer);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (n = 0; /* void */; n++) {
        if (n >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            n = 0;
        }

        if (h[n].key.len == 6
            && ngx_strncasecmp(h[n].key.data, (u_char *) "Origin", 6) == 0)
        {
            origin = h[n].value;

        } else if (h[n].key.len == 7
                   && ngx_strncasecmp(h[n].key.data, (u_char *) "Referer", 7)
                      == 0)
        {
            referer = h[n].value;
        }
    }

    n = 0;

    if (xmcf->origin.len) {
        allowed[n++] = (char *) xmcf->origin.data;
    }

    if (r->headers_in.host && r->headers_in.host->value.len < 400) {
        p = ngx_sprintf((u_char *) own, "%s://%V%Z",
#if (NGX_HTTP_SSL)
                        r->connection->ssl ? "https" : "http",
#else
                        "http",
#endif
                        &r->headers_in.host->value);
        (void) p;
        allowed[n++] = own;
    }

    return ngx_xyz_origin_allowed((char *) origin.data, origin.len,
                                  (char *) referer.data, referer.len,
                                  allowed, n, (int) allow_absent);
}


ngx_str_t *
ngx_xyz_client_key(ngx_http_request_t *r)
{
    ngx_str_t  *key;

    key = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (key == NULL) {
        return NULL;
    }

    key->data = ngx_pnalloc(r->pool, r->connection->addr_text.len + 1);
    if (key->data == NULL) {
        return NULL;
    }

    key->len = ngx_sprintf(key->data, "%V%Z", &r->connection->addr_text)
               - key->data - 1;

    return key;
}


/*
 * A token for a link: 256 random bits, base64url (43 characters), and the
 * "\x..." hex of its SHA-256 for PostgreSQL.  token takes 64 bytes,
 * hash 2 + 64 + 1.
 */

void
ngx_xyz_token_new(char *token, char *hash)
{
    u_char     raw[32];
    ngx_str_t  bin, text;

    randombytes_buf(raw, sizeof(raw));

    bin.data = raw;
    bin.len = sizeof(raw);
    text.data = (u_char *) token;

    ngx_encode_base64url(&text, &bin);
    token[text.len] = '\0';

    sodium_memzero(raw, sizeof(raw));

    ngx_xyz_token_hash(token, text.len, hash);
}


void
ngx_xyz_token_hash(const char *token, size_t len, char *hash)
{
    u_char  digest[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(digest, (u_char *) token, len);

    hash[0] = '\\';
    hash[1] = 'x';
    sodium_bin2hex(hash + 2, 2 * sizeof(digest) + 1, digest, sizeof(digest));
}


ngx_xyz_req_ctx_t *
ngx_xyz_ctx(ngx_http_request_t *r)
{
    ngx_xyz_req_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_xyz_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_req_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_xyz_module);
    }

    return ctx;
}


void *
ngx_xyz_ctx_data(ngx_http_request_t *r)
{
    ngx_xyz_req_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_xyz_module);

    return ctx ? ctx->data : NULL;
}


ngx_int_t
ngx_xyz_ctx_set_data(ngx_http_request_t *r, void *data)
{
    ngx_xyz_req_ctx_t  *ctx;

    ctx = ngx_xyz_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->data = data;

    return NGX_OK;
}
