
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The registration location.  The path of a request:
 *
 *   content handler   method, type and length checks, then read the body
 *   body handler      parse and validate; post the hash to the thread pool
 *   hash done         make the confirmation token; queue one statement
 *   query done        202, the same for a new and a known address
 *
 * The statement (xyz_register, sql/008) does the same work for a new and
 * a known address, keeps the registration on its confirmation token until
 * the address's owner confirms it, and sends no email within the
 * address's mail cooldown.
 */


#include "ngx_xyz_module.h"

#include <sodium.h>


#define NGX_XYZ_TOKEN_BYTES  32


typedef struct {
    ngx_http_request_t        *request;
    ngx_xyz_main_conf_t       *xmcf;

    /* the input, at its own size: a request waiting in an overload holds
     * it for seconds, and the parser's buffers are sized for the longest */
    char                      *email;
    char                      *email_normalized;
    char                      *name;
    char                      *password;
    size_t                     password_len;
    char                       locale[3];
    unsigned                   marketing_consent:1;

    ngx_xyz_hash_job_t         job;
    ngx_xyz_pg_query_t         query;
    const char                *values[12];
    char                       token[NGX_XYZ_TOKEN_BYTES * 2];
    char                       token_hash[2 + crypto_hash_sha256_BYTES * 2
                                          + 1];
    char                       ttl[NGX_TIME_T_LEN + sizeof(" seconds")];
    char                       lease[NGX_TIME_T_LEN + sizeof(" seconds")];
    char                       cooldown[NGX_TIME_T_LEN + sizeof(" seconds")];
    ngx_str_t                 *client;
} ngx_xyz_register_ctx_t;


static void ngx_xyz_register_create_conf(ngx_xyz_main_conf_t *xmcf);
static char *ngx_xyz_register_init_conf(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static ngx_int_t ngx_xyz_register_handler(ngx_http_request_t *r);
static void ngx_xyz_register_body(ngx_http_request_t *r);
static void ngx_xyz_register_hashed(ngx_http_request_t *r);
static void ngx_xyz_register_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_register_keep(ngx_http_request_t *r,
    ngx_xyz_register_ctx_t *ctx, ngx_xyz_register_input_t *in);
static void ngx_xyz_register_cleanup(void *data);
static ngx_int_t ngx_xyz_register_redirect(ngx_http_request_t *r,
    const char *code, const char *field);
static ngx_int_t ngx_xyz_register_reject(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *field,
    const char *message);
static ngx_int_t ngx_xyz_register_unavailable(ngx_http_request_t *r,
    const char *message);


static const char  ngx_xyz_register_sql[] =
    "SELECT outcome, outbox_id, outbox_kind, body FROM xyz_register($1, $2, "
    "$3, $4, $5, $6, $7, $8, $9::interval, $10::interval, $11, "
    "$12::interval)";

static ngx_str_t  ngx_xyz_register_accepted = ngx_string(
    "{\"status\":\"accepted\",\"message\":\"Check your inbox: we sent a "
    "message to the address you gave. Follow its link to confirm your "
    "registration.\"}\n");


ngx_xyz_feature_t  ngx_xyz_register_feature = {
    ngx_xyz_register_create_conf,
    ngx_xyz_register_init_conf,
    NULL,
    NULL
};


ngx_xyz_location_t  ngx_xyz_register_location = {
    ngx_xyz_register_handler,
    NGX_XYZ_REGISTRATION,
    NGX_XYZ_NEEDS_PG | NGX_XYZ_NEEDS_HASH
};


static void
ngx_xyz_register_create_conf(ngx_xyz_main_conf_t *xmcf)
{
    xmcf->reg.password_min = NGX_CONF_UNSET_UINT;
    xmcf->reg.password_max = NGX_CONF_UNSET_UINT;
    xmcf->confirm_ttl = NGX_CONF_UNSET;
}


static char *
ngx_xyz_register_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_str_t            data;
    ngx_pool_cleanup_t  *cln;

    /* NIST SP 800-63B asks for at least 15 without a second factor; 12
     * is the project's default, raise it with xyz_password_length */
    ngx_conf_init_uint_value(xmcf->reg.password_min, 12);
    ngx_conf_init_uint_value(xmcf->reg.password_max, 256);

    ngx_conf_init_value(xmcf->confirm_ttl, 86400);

    if (xmcf->reg.page.len == 0) {
        ngx_str_set(&xmcf->reg.page, "/");
    }

    if (xmcf->reg.done_page.len == 0) {
        ngx_str_set(&xmcf->reg.done_page, "/check-email.html");
    }

    if (xmcf->reg.blocklist_file.len == 0) {
        return NGX_CONF_OK;
    }

    if (ngx_xyz_read_file(cf, &xmcf->reg.blocklist_file, &data, 0)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    xmcf->reg.blocklist = ngx_pcalloc(cf->pool, sizeof(ngx_xyz_blocklist_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (xmcf->reg.blocklist == NULL || cln == NULL
        || ngx_xyz_blocklist_load((char *) data.data, data.len,
                                  xmcf->reg.blocklist) < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot load \"xyz_password_blocklist %V\"",
                           &xmcf->reg.blocklist_file);
        return NGX_CONF_ERROR;
    }

    /* the list is malloc()ed: freed with the cycle, on reload too */
    cln->handler = (ngx_pool_cleanup_pt) ngx_xyz_blocklist_free;
    cln->data = xmcf->reg.blocklist;

    return NGX_CONF_OK;
}


/* a password of the blocklist, which registration and reset refuse */

ngx_uint_t
ngx_xyz_register_password_common(ngx_xyz_main_conf_t *xmcf,
    const char *password, size_t len)
{
    return xmcf->reg.blocklist
           && ngx_xyz_blocklist_contains(xmcf->reg.blocklist, password, len);
}


static ngx_int_t
ngx_xyz_register_handler(ngx_http_request_t *r)
{
    /* the sign-up page's plain form works without JavaScript */

    static const ngx_xyz_api_opts_t  opts = {
        "use POST to register", ngx_xyz_register_reject,
        ngx_xyz_register_body, 1, 0
    };

    return ngx_xyz_api_post(r, NULL, &opts);
}


static void
ngx_xyz_register_body(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_str_t                body;
    ngx_xyz_main_conf_t     *xmcf;
    ngx_pool_cleanup_t      *cln;
    ngx_xyz_input_error_t    err;
    ngx_xyz_register_ctx_t  *ctx;
    ngx_xyz_register_input_t in;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    if (ngx_xyz_api_read(r, ngx_xyz_register_reject, &body) != NGX_OK) {
        return;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_register_ctx_t));
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->request = r;
    ctx->xmcf = xmcf;

    if (ngx_xyz_form_type(r)) {
        u_char  *json;
        int      n;

        json = ngx_pnalloc(r->pool, 6 * body.len + 64);
        n = json ? ngx_xyz_register_form_to_json((char *) body.data,
                                                 body.len, (char *) json,
                                                 6 * body.len + 64)
                 : -1;

        if (n < 0) {
            ngx_http_finalize_request(r,
                ngx_xyz_register_reject(r, NGX_HTTP_BAD_REQUEST,
                                        "malformed_form", NULL,
                                        "the form could not be read"));
            return;
        }

        sodium_memzero(body.data, body.len);
        body.data = json;
        body.len = n;
    }

    if (ngx_xyz_register_input_parse((char *) body.data, body.len,
                                     xmcf->reg.password_min,
                                     xmcf->reg.password_max,
                                     &in, &err)
        != 0)
    {
        sodium_memzero(in.password, sizeof(in.password));
        ngx_http_finalize_request(r,
            ngx_xyz_register_reject(r, err.status, err.code, err.field,
                                err.message));
        return;
    }

    if (ngx_xyz_register_password_common(xmcf, in.password, in.password_len)) {
        sodium_memzero(in.password, sizeof(in.password));
        ngx_http_finalize_request(r,
            ngx_xyz_register_reject(r, 422, "common_password", "password",
                                    "this password is too common; choose "
                                    "another"));
        return;
    }

    /* the plaintext copies of the password go on every path */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        sodium_memzero(in.password, sizeof(in.password));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_xyz_register_cleanup;
    cln->data = ctx;

    rc = ngx_xyz_register_keep(r, ctx, &in);

    sodium_memzero(in.password, sizeof(in.password));

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (body.len) {
        sodium_memzero(body.data, body.len);
    }

    if (ngx_xyz_ctx_set_data(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a dead database: answer now rather than after tens of ms of hashing */

    if (!ngx_xyz_pg_available(xmcf->pg_pool)) {
        ngx_http_finalize_request(r,
            ngx_xyz_register_unavailable(r, NGX_XYZ_TRY_AGAIN));
        return;
    }

    ctx->job.password = ctx->password;
    ctx->job.password_len = ctx->password_len;
    ctx->job.opslimit = xmcf->hash.argon2_t;
    ctx->job.memlimit = xmcf->hash.argon2_m * 1024;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz register: input valid, hashing the password");

    rc = ngx_xyz_hash_post(r, xmcf->hash.pool, &ctx->job,
                           ngx_xyz_register_hashed);

    if (rc == NGX_BUSY) {
        ngx_http_finalize_request(r,
            ngx_xyz_register_unavailable(r, "too many registrations at once; "
                                         "try again shortly"));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
}


static void
ngx_xyz_register_hashed(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_xyz_register_ctx_t  *ctx;

    ctx = ngx_xyz_ctx_data(r);

    r->write_event_handler = ngx_http_request_empty_handler;

    sodium_memzero(ctx->password, ctx->password_len);

    if (ctx->job.busy) {
        /* its wait in the hash queue ran out */
        ngx_http_finalize_request(r,
            ngx_xyz_register_unavailable(r, "too many registrations at once; "
                                         "try again shortly"));
        return;
    }

    if (ctx->job.rc != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "xyz: password hashing failed (out of memory?)");
        ngx_http_finalize_request(r,
            ngx_xyz_register_unavailable(r, NGX_XYZ_TRY_AGAIN));
        return;
    }

    /* the token travels in the email; only its SHA-256 is stored */

    ngx_xyz_token_new(ctx->token, ctx->token_hash);

    ngx_sprintf((u_char *) ctx->ttl, "%T seconds%Z", ctx->xmcf->confirm_ttl);
    ngx_sprintf((u_char *) ctx->lease, "%M milliseconds%Z",
                ctx->xmcf->outbox.lease);

    /* every email of this path waits out the address's mail cooldown */
    ngx_sprintf((u_char *) ctx->cooldown, "%T seconds%Z",
                ctx->xmcf->acct.mail_cooldown);

    ctx->client = ngx_xyz_client_key(r);
    if (ctx->client == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->values[0] = ctx->email;
    ctx->values[1] = ctx->email_normalized;
    ctx->values[2] = ctx->name;
    ctx->values[3] = ctx->locale;
    ctx->values[4] = ctx->job.hash;
    ctx->values[5] = ctx->marketing_consent ? "true" : "false";
    ctx->values[6] = ctx->token;
    ctx->values[7] = ctx->token_hash;
    ctx->values[8] = ctx->ttl;
    ctx->values[9] = ctx->lease;
    ctx->values[10] = (char *) ctx->client->data;
    ctx->values[11] = ctx->cooldown;

    ngx_xyz_pg_query_init(&ctx->query, ngx_xyz_register_sql, 12,
                          ctx->values, ngx_xyz_register_done, ctx,
                          r->connection->log);

    rc = ngx_xyz_pg_query(ctx->xmcf->pg_pool, &ctx->query);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz register: hashed, storing, rc %i", rc);

    if (rc == NGX_OK) {
        return;
    }

    if (rc != NGX_BUSY || ngx_xyz_pg_log_busy(ctx->xmcf->pg_pool)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      rc == NGX_BUSY ? "xyz: PostgreSQL wait queue is full"
                                     : "xyz: PostgreSQL is unavailable");
    }

    ngx_http_finalize_request(r,
        ngx_xyz_register_unavailable(r, NGX_XYZ_TRY_AGAIN));
}


static void
ngx_xyz_register_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_xyz_register_ctx_t  *ctx;

    ctx = q->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    if (rc == NGX_OK && PQntuples(res) > 0 && PQnfields(res) == 4) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "xyz register: %s", PQgetvalue(res, 0, 0));

        ngx_xyz_metrics_add(ngx_strcmp(PQgetvalue(res, 0, 0), "created") == 0
                            ? NGX_XYZ_M_REGISTER_CREATED
                            : NGX_XYZ_M_REGISTER_EXISTS, 1);

        /* committed: hand the outbox rows, claimed by this worker, to the
         * relay; if it cannot take them a sweeper will */

        ngx_xyz_outbox_publish_result(res, 1, c->log);

        ngx_http_finalize_request(r, ngx_xyz_form_type(r)
            ? ngx_xyz_register_redirect(r, NULL, NULL)
            : ngx_xyz_reply_json(r, NGX_HTTP_ACCEPTED,
                                 &ngx_xyz_register_accepted));

    } else if (rc == NGX_ERROR && res != NULL) {
        /* the server refused the statement: a bug, not an outage */
        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "internal_error", NULL,
                                "the registration could not be stored"));

    } else {
        ngx_http_finalize_request(r,
            ngx_xyz_register_unavailable(r, NGX_XYZ_TRY_AGAIN));
    }

    ngx_http_run_posted_requests(c);
}


/* copies the parsed input into the request's pool at its own size */

static ngx_int_t
ngx_xyz_register_keep(ngx_http_request_t *r, ngx_xyz_register_ctx_t *ctx,
    ngx_xyz_register_input_t *in)
{
    ngx_str_t   s;
    char      **to[3];
    char       *from[3];
    ngx_uint_t  i;

    to[0] = &ctx->email;
    to[1] = &ctx->email_normalized;
    to[2] = &ctx->name;
    from[0] = in->email;
    from[1] = in->email_normalized;
    from[2] = in->name;

    for (i = 0; i < 3; i++) {
        s.data = (u_char *) from[i];
        s.len = ngx_strlen(from[i]);

        *to[i] = (char *) ngx_xyz_pstrdup0(r->pool, &s);
        if (*to[i] == NULL) {
            return NGX_ERROR;
        }
    }

    ctx->password = ngx_pnalloc(r->pool, in->password_len + 1);
    if (ctx->password == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->password, in->password, in->password_len);
    ctx->password[in->password_len] = '\0';
    ctx->password_len = in->password_len;

    ngx_memcpy(ctx->locale, in->locale, sizeof(ctx->locale));
    ctx->marketing_consent = in->marketing_consent ? 1 : 0;

    return NGX_OK;
}


static void
ngx_xyz_register_cleanup(void *data)
{
    ngx_xyz_register_ctx_t  *ctx = data;

    ngx_xyz_pg_cancel(&ctx->query);

    if (ctx->password) {
        sodium_memzero(ctx->password, ctx->password_len);
    }
}


/* the two kinds of refusal, counted for the operator view */

static ngx_int_t
ngx_xyz_register_reject(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *message)
{
    ngx_xyz_metrics_add(NGX_XYZ_M_REGISTER_REJECTED, 1);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz register: rejected %ui %s, field %s",
                   status, code, field ? field : "-");

    if (ngx_xyz_form_type(r) && status != NGX_HTTP_NOT_ALLOWED) {
        return ngx_xyz_register_redirect(r, code, field);
    }

    return ngx_xyz_reply_error(r, status, code, field, message);
}


static ngx_int_t
ngx_xyz_register_unavailable(ngx_http_request_t *r, const char *message)
{
    ngx_xyz_metrics_add(NGX_XYZ_M_REGISTER_UNAVAILABLE, 1);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz register: unavailable");

    if (ngx_xyz_form_type(r)) {
        return ngx_xyz_register_redirect(r, "unavailable", NULL);
    }

    return ngx_xyz_reply_unavailable(r, message);
}


/*
 * The answer to a form post: 303 to the page that says what happens next,
 * or back to the sign-up page with the error for it to show.
 */

static ngx_int_t
ngx_xyz_register_redirect(ngx_http_request_t *r, const char *code,
    const char *field)
{
    u_char               *loc, *p;
    size_t                len;
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    len = xmcf->reg.page.len + xmcf->reg.done_page.len + 128;

    loc = ngx_pnalloc(r->pool, len);
    if (loc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (code == NULL) {
        p = ngx_sprintf(loc, "%V", &xmcf->reg.done_page);

    } else {
        /* codes and field names are ours: letters and underscores only */
        p = ngx_sprintf(loc, "%V?error=%s%s%s", &xmcf->reg.page, code,
                        field ? "&field=" : "", field ? field : "");
    }

    return ngx_xyz_reply_see_other(r, loc, p - loc);
}
