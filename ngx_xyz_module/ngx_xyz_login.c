
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Log in, log out, and "me".
 *
 * A login does the same work and gives the same answer for an unknown
 * address as for a wrong password: the password is checked against a
 * dummy hash made with the same parameters, and the failure is counted
 * against that address and the client all the same.  Only after a correct
 * password does an unconfirmed account learn that it is unconfirmed.  The
 * throttles live in PostgreSQL, so they hold across workers and instances;
 * an attempt is reserved there before its password is hashed and settled
 * after, so parallel guesses cannot outrun them.
 * A success sets a signed session (JWT, HS256) in an HttpOnly cookie.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_jwt.h"
#include "ngx_xyz_cookie.h"
#include "ngx_xyz_json.h"

#include <sodium.h>


typedef struct {
    ngx_http_request_t      *request;
    ngx_xyz_main_conf_t     *xmcf;
    char                     email[NGX_XYZ_EMAIL_MAX + 1];
    ngx_str_t               *client;
    char                    *password;
    size_t                   password_len;
    ngx_uint_t               want_token;

    ngx_xyz_pg_query_t       query;
    const char              *values[4];

    ngx_uint_t               known;
    long long                user_id;
    char                    *stored;
    char                     status[16];
    char                     role[16];
    char                     user_email[NGX_XYZ_EMAIL_MAX + 1];
    char                    *name;
    char                     locale[4];
    ngx_int_t                ver;

    ngx_xyz_hash_job_t       job;
    ngx_uint_t               ok;
    ngx_uint_t               busy;
} ngx_xyz_login_ctx_t;


static ngx_int_t ngx_xyz_login_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_login_body(ngx_http_request_t *r, yajl_val body);
static void ngx_xyz_login_begun(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_login_checked(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_login_end(ngx_xyz_login_ctx_t *ctx,
    const char *ok, const char *new_hash);
static void ngx_xyz_login_ended(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_login_reply(ngx_http_request_t *r,
    ngx_xyz_login_ctx_t *ctx);
static ngx_int_t ngx_xyz_logout_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_logout_end(ngx_http_request_t *r,
    ngx_xyz_jwt_claims_t *claims);
static void ngx_xyz_logout_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_logout_cleanup(void *data);
static ngx_int_t ngx_xyz_me_handler(ngx_http_request_t *r);
static void ngx_xyz_me_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_login_cleanup(void *data);
static void ngx_xyz_me_cleanup(void *data);


static const char  ngx_xyz_login_begin_sql[] =
    "SELECT user_id, password_hash, status, role, email, name, locale, "
    "token_version, wait_seconds FROM xyz_login_begin($1, $2)";

static const char  ngx_xyz_login_end_sql[] =
    "SELECT xyz_login_end($1, $2, $3::boolean, $4)";

static const char  ngx_xyz_logout_sql[] =
    "SELECT xyz_logout($1::bigint, $2::integer)";

static const char  ngx_xyz_me_sql[] =
    "SELECT json_build_object('id', id, 'email', email, 'name', name, "
    "'role', role, 'locale', locale, 'status', status)::text "
    "FROM users WHERE id = $1::bigint AND token_version = $2::integer "
    "AND status <> 'disabled'";


ngx_xyz_location_t  ngx_xyz_login_location = {
    ngx_xyz_login_handler, NGX_XYZ_ACCOUNTS,
    NGX_XYZ_NEEDS_PG | NGX_XYZ_NEEDS_HASH | NGX_XYZ_NEEDS_KEYS
};

/* ends the session in PostgreSQL where there is one; clears the cookie */
ngx_xyz_location_t  ngx_xyz_logout_location = {
    ngx_xyz_logout_handler, NGX_XYZ_ACCOUNTS, 0
};

ngx_xyz_location_t  ngx_xyz_me_location = {
    ngx_xyz_me_handler, NGX_XYZ_ACCOUNTS,
    NGX_XYZ_NEEDS_PG | NGX_XYZ_NEEDS_KEYS
};


static ngx_int_t
ngx_xyz_login_handler(ngx_http_request_t *r)
{
    return ngx_xyz_api_post(r, ngx_xyz_login_body, NULL);
}


static ngx_int_t
ngx_xyz_login_body(ngx_http_request_t *r, yajl_val body)
{
    size_t                len;
    yajl_val              v;
    const char           *email, *password, *start;
    ngx_pool_cleanup_t   *cln;
    ngx_xyz_main_conf_t  *xmcf;
    ngx_xyz_login_ctx_t  *ctx;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    email = ngx_xyz_json_string(body, "email");
    password = ngx_xyz_json_string(body, "password");

    if (email == NULL || password == NULL) {
        return ngx_xyz_reply_error(r, 422, "missing_field",
                                   email ? "password" : "email",
                                   "email and password are required");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_login_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->xmcf = xmcf;

    /* an address that cannot exist is looked up all the same, as ""; the
     * answer must not tell it from an unknown one */

    if (ngx_xyz_email_normalize(email, ngx_strlen(email), ctx->email, &start,
                                &len)
        != 0)
    {
        ctx->email[0] = '\0';
    }

    len = ngx_strlen(password);

    ctx->password = ngx_pnalloc(r->pool, len + 1);
    ctx->client = ngx_xyz_client_key(r);
    if (ctx->password == NULL || ctx->client == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->password, password, len + 1);
    ctx->password_len = len;

    cln->handler = ngx_xyz_login_cleanup;
    cln->data = ctx;

    v = ngx_xyz_json_member(body, "token");
    ctx->want_token = v && YAJL_IS_TRUE(v);

    if (ngx_xyz_ctx_set_data(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->values[0] = ctx->email;
    ctx->values[1] = (char *) ctx->client->data;

    ngx_xyz_pg_query_init(&ctx->query, ngx_xyz_login_begin_sql, 2,
                          ctx->values, ngx_xyz_login_begun, ctx,
                          r->connection->log);

    if (ngx_xyz_pg_query(xmcf->pg_pool, &ctx->query) != NGX_OK) {
        return ngx_xyz_reply_try_again(r);
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz login: begin queued");

    /* the request is held by its body reading; finalized once, later */
    return NGX_DONE;
}


static void
ngx_xyz_login_begun(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_login_ctx_t *ctx = q->data;

    char                *wait;
    ngx_int_t            n;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    if (rc != NGX_OK || PQntuples(res) != 1 || PQnfields(res) != 9) {
        ngx_http_finalize_request(r, ngx_xyz_reply_try_again(r));
        ngx_http_run_posted_requests(c);
        return;
    }

    n = ngx_atoi((u_char *) PQgetvalue(res, 0, 8), PQgetlength(res, 0, 8));

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "xyz login: begun, wait %i", n);

    if (n > 0) {
        /* throttled: answered before any hashing, whoever asks */

        wait = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
        if (wait) {
            ngx_sprintf((u_char *) wait, "%i%Z", n);
            (void) ngx_xyz_add_header(r, "Retry-After", wait);
        }

        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, 429, "too_many_attempts", NULL,
                                "too many attempts; wait before trying "
                                "again"));
        ngx_http_run_posted_requests(c);
        return;
    }

    ctx->known = !PQgetisnull(res, 0, 0);

    if (ctx->known) {
        ctx->user_id = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                                 PQgetlength(res, 0, 0));
        ctx->stored = ngx_pnalloc(r->pool, PQgetlength(res, 0, 1) + 1);
        ctx->name = ngx_pnalloc(r->pool, PQgetlength(res, 0, 5) + 1);

        if (ctx->stored == NULL || ctx->name == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_cpystrn((u_char *) ctx->stored, (u_char *) PQgetvalue(res, 0, 1),
                    PQgetlength(res, 0, 1) + 1);
        ngx_cpystrn((u_char *) ctx->status, (u_char *) PQgetvalue(res, 0, 2),
                    sizeof(ctx->status));
        ngx_cpystrn((u_char *) ctx->role, (u_char *) PQgetvalue(res, 0, 3),
                    sizeof(ctx->role));
        ngx_cpystrn((u_char *) ctx->user_email,
                    (u_char *) PQgetvalue(res, 0, 4),
                    sizeof(ctx->user_email));
        ngx_cpystrn((u_char *) ctx->name, (u_char *) PQgetvalue(res, 0, 5),
                    PQgetlength(res, 0, 5) + 1);
        ngx_cpystrn((u_char *) ctx->locale, (u_char *) PQgetvalue(res, 0, 6),
                    sizeof(ctx->locale));
        ctx->ver = ngx_atoi((u_char *) PQgetvalue(res, 0, 7),
                            PQgetlength(res, 0, 7));
    }

    ctx->job.password = ctx->password;
    ctx->job.password_len = ctx->password_len;
    ctx->job.opslimit = ctx->xmcf->hash.argon2_t;
    ctx->job.memlimit = ctx->xmcf->hash.argon2_m * 1024;
    ctx->job.stored = ctx->known ? ctx->stored : ctx->xmcf->acct.dummy_hash;

    rc = ngx_xyz_hash_post(r, ctx->xmcf->hash.pool, &ctx->job,
                           ngx_xyz_login_checked);

    if (rc == NGX_OK) {
        return;
    }

    /* the attempt was reserved: give it back unchecked, then answer */

    ctx->busy = 1;

    sodium_memzero(ctx->password, ctx->password_len);

    if (ngx_xyz_login_end(ctx, NULL, NULL) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_xyz_reply_unavailable(r, "too many requests at once; try "
                                         "again shortly"));
        ngx_http_run_posted_requests(c);
    }
}


static void
ngx_xyz_login_checked(ngx_http_request_t *r)
{
    ngx_xyz_login_ctx_t  *ctx;

    ctx = ngx_xyz_ctx_data(r);

    r->write_event_handler = ngx_http_request_empty_handler;

    sodium_memzero(ctx->password, ctx->password_len);

    if (ctx->job.busy) {
        /* its wait in the hash queue ran out: give the attempt back */

        ctx->busy = 1;

        if (ngx_xyz_login_end(ctx, NULL, NULL) != NGX_OK) {
            ngx_http_finalize_request(r,
                ngx_xyz_reply_unavailable(r, "too many requests at once; "
                                             "try again shortly"));
        }

        return;
    }

    ctx->ok = ctx->known && ctx->job.rc == 0;

    if (ngx_xyz_login_end(ctx, ctx->ok ? "true" : "false",
                          (ctx->ok && ctx->job.rehashed) ? ctx->job.hash
                                                         : NULL)
        != NGX_OK)
    {
        /* unrecorded, so unthrottled: better refuse than let it through */
        ngx_http_finalize_request(r, ngx_xyz_reply_try_again(r));
    }
}


/*
 * Settles the attempt xyz_login_begin reserved: ok is "true", "false", or
 * NULL when no password was checked (the reservation is only given back).
 */

static ngx_int_t
ngx_xyz_login_end(ngx_xyz_login_ctx_t *ctx, const char *ok,
    const char *new_hash)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "xyz login: end, %s", ok ? ok : "unchecked");

    ctx->values[0] = ctx->email;
    ctx->values[1] = (char *) ctx->client->data;
    ctx->values[2] = ok;
    ctx->values[3] = new_hash;

    ngx_xyz_pg_query_init(&ctx->query, ngx_xyz_login_end_sql, 4,
                          ctx->values, ngx_xyz_login_ended, ctx,
                          ctx->request->connection->log);

    return ngx_xyz_pg_query(ctx->xmcf->pg_pool, &ctx->query);
}


static void
ngx_xyz_login_ended(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_login_ctx_t *ctx = q->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "xyz login: ended, rc %i%s", rc, ctx->busy ? ", busy" : "");

    if (ctx->busy) {
        /* the hash queue was full or the wait ran out: nothing was
         * checked */
        ngx_http_finalize_request(r,
            ngx_xyz_reply_unavailable(r, "too many requests at once; try "
                                         "again shortly"));

    } else if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_xyz_reply_try_again(r));

    } else {
        ngx_http_finalize_request(r, ngx_xyz_login_reply(r, ctx));
    }

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_xyz_login_reply(ngx_http_request_t *r, ngx_xyz_login_ctx_t *ctx)
{
    int                    n;
    char                  *token, *cookie, *p, *last;
    size_t                 size;
    ngx_str_t              body;
    ngx_xyz_jwt_claims_t   claims;
    ngx_xyz_main_conf_t   *xmcf;

    xmcf = ctx->xmcf;

    if (!ctx->ok) {
        return ngx_xyz_reply_error(r, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_credentials", NULL,
                                   "the email or the password is wrong");
    }

    if (ngx_strcmp(ctx->status, "pending") == 0) {
        return ngx_xyz_reply_error(r, NGX_HTTP_FORBIDDEN, "unconfirmed",
                                   NULL, "confirm your email address "
                                         "first; we can send the link again");
    }

    if (ngx_strcmp(ctx->status, "confirmed") != 0) {
        return ngx_xyz_reply_error(r, NGX_HTTP_FORBIDDEN, "account_disabled",
                                   NULL, "this account is disabled");
    }

    ngx_memzero(&claims, sizeof(ngx_xyz_jwt_claims_t));

    claims.sub = ctx->user_id;
    ngx_cpystrn((u_char *) claims.email, (u_char *) ctx->user_email,
                sizeof(claims.email));
    ngx_cpystrn((u_char *) claims.role, (u_char *) ctx->role,
                sizeof(claims.role));
    claims.iat = ngx_time();
    claims.exp = claims.iat + xmcf->acct.session_ttl;
    claims.ver = (int) ctx->ver;

    size = 2048 + 6 * ngx_strlen(ctx->user_email);

    token = ngx_pnalloc(r->pool, size);
    cookie = ngx_pnalloc(r->pool, size + 256);
    if (token == NULL || cookie == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = ngx_xyz_jwt_sign(&claims, xmcf->acct.jwt_keys->elts, token, size);
    if (n < 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_xyz_cookie_set(cookie, size + 256,
                           NGX_XYZ_SESSION_COOKIE(xmcf->acct.cookie_secure),
                           token,
                           (long long) xmcf->acct.session_ttl,
                           (int) xmcf->acct.cookie_secure, "Lax")
        < 0
        || ngx_xyz_add_header(r, "Set-Cookie", cookie) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = 512 + 6 * (ngx_strlen(ctx->user_email) + ngx_strlen(ctx->name))
           + (ctx->want_token ? n + 32 : 0);

    body.data = ngx_pnalloc(r->pool, size);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = (char *) body.data;
    last = p + size;

    p = (char *) ngx_slprintf((u_char *) p, (u_char *) last,
                              "{\"status\":\"ok\",\"user\":{\"id\":%L,"
                              "\"email\":", ctx->user_id);
    p = ngx_xyz_json_quote(p, last, ctx->user_email,
                           ngx_strlen(ctx->user_email));
    p = ngx_xyz_json_raw(p, last, ",\"name\":");
    p = ngx_xyz_json_quote(p, last, ctx->name, ngx_strlen(ctx->name));
    p = (char *) ngx_slprintf((u_char *) p, (u_char *) last,
                              ",\"role\":\"%s\",\"locale\":\"%s\"}",
                              ctx->role, ctx->locale);

    if (ctx->want_token) {
        p = (char *) ngx_slprintf((u_char *) p, (u_char *) last,
                                  ",\"token\":\"%s\",\"expires_in\":%T",
                                  token, xmcf->acct.session_ttl);
    }

    p = ngx_xyz_json_raw(p, last, "}\n");

    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = (u_char *) p - body.data;

    return ngx_xyz_reply_json(r, NGX_HTTP_OK, &body);
}


static ngx_int_t
ngx_xyz_logout_handler(ngx_http_request_t *r)
{
    char                   cookie[256];
    ngx_int_t              rc;
    ngx_str_t              body;
    ngx_xyz_main_conf_t   *xmcf;
    ngx_xyz_jwt_claims_t  *claims;

    /* the method and Origin as any POST; whatever body comes is dropped */

    static const ngx_xyz_api_opts_t  opts = { NULL, NULL, NULL, 0, 1 };

    if (ngx_xyz_api_check(r, &opts, &rc) != NGX_OK) {
        return rc;
    }

    ngx_http_discard_request_body(r);

    /* the session ends on the server first (every session of the user,
     * on every nginx); this handler runs again to answer once it has */

    if (ngx_xyz_ctx_data(r) == NULL) {
        claims = ngx_xyz_auth_claims(r);

        if (claims) {
            return ngx_xyz_logout_end(r, claims);
        }
    }

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    if (ngx_xyz_cookie_set(cookie, sizeof(cookie),
                           NGX_XYZ_SESSION_COOKIE(xmcf->acct.cookie_secure),
                           "", 0,
                           (int) xmcf->acct.cookie_secure, "Lax")
        < 0)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cookie[sizeof(cookie) - 1] = '\0';

    body.data = ngx_pnalloc(r->pool, ngx_strlen(cookie) + 1);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body.data, cookie, ngx_strlen(cookie) + 1);

    if (ngx_xyz_add_header(r, "Set-Cookie", (char *) body.data) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&body, "{\"status\":\"logged_out\"}\n");

    return ngx_xyz_reply_json(r, NGX_HTTP_OK, &body);
}


/*
 * A logout raises the user's token version (xyz_logout): every session of
 * the user ends, on this device and the others, and every nginx sees it
 * within xyz_session_poll.  A per-token list would end this one only, but
 * would have to hold every token id until it expires.
 */

typedef struct {
    ngx_http_request_t      *request;
    ngx_xyz_jwt_claims_t    *claims;
    ngx_xyz_pg_query_t       query;
    const char              *values[2];
    char                     id[NGX_INT64_LEN + 1];
    char                     ver[NGX_INT_T_LEN + 1];
} ngx_xyz_logout_ctx_t;


static ngx_int_t
ngx_xyz_logout_end(ngx_http_request_t *r, ngx_xyz_jwt_claims_t *claims)
{
    ngx_pool_cleanup_t    *cln;
    ngx_xyz_logout_ctx_t  *ctx;
    ngx_xyz_main_conf_t   *xmcf;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_logout_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL
        || ngx_xyz_ctx_set_data(r, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_xyz_logout_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->claims = claims;
    ngx_sprintf((u_char *) ctx->id, "%L%Z", claims->sub);
    ngx_sprintf((u_char *) ctx->ver, "%d%Z", claims->ver);

    ctx->values[0] = ctx->id;
    ctx->values[1] = ctx->ver;

    ngx_xyz_pg_query_init(&ctx->query, ngx_xyz_logout_sql, 2, ctx->values,
                          ngx_xyz_logout_done, ctx, r->connection->log);

    if (ngx_xyz_pg_query(xmcf->pg_pool, &ctx->query) != NGX_OK) {
        ctx->query.handler = NULL;
        return ngx_xyz_reply_try_again(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_xyz_logout_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_logout_ctx_t *ctx = q->data;

    ngx_int_t             ver;
    ngx_connection_t     *c;
    ngx_http_request_t   *r;
    ngx_xyz_main_conf_t  *xmcf;

    r = ctx->request;
    c = r->connection;
    ctx->query.handler = NULL;

    if (rc != NGX_OK || PQntuples(res) != 1) {
        ngx_http_finalize_request(r, ngx_xyz_reply_try_again(r));
        ngx_http_run_posted_requests(c);
        return;
    }

    if (!PQgetisnull(res, 0, 0)) {
        /* seen by this nginx at once, by the others at their next poll */

        xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);
        ver = ngx_atoi((u_char *) PQgetvalue(res, 0, 0),
                       PQgetlength(res, 0, 0));

        if (ver != NGX_ERROR) {
            ngx_xyz_session_ended(xmcf, ctx->claims->sub, ver,
                                  ctx->claims->role, c->log);
        }
    }

    ngx_http_finalize_request(r, ngx_xyz_logout_handler(r));
    ngx_http_run_posted_requests(c);
}


static void
ngx_xyz_logout_cleanup(void *data)
{
    ngx_xyz_logout_ctx_t *ctx = data;

    if (ctx->query.handler) {
        ngx_xyz_pg_cancel(&ctx->query);
    }
}


/*
 * "me" reads the session and asks PostgreSQL for the user, so a password
 * reset (a new token version) or a disabled account ends the session here
 * even before the token expires.
 */

typedef struct {
    ngx_http_request_t      *request;
    ngx_xyz_pg_query_t       query;
    const char              *values[2];
    char                     id[NGX_INT64_LEN + 1];
    char                     ver[NGX_INT_T_LEN + 1];
} ngx_xyz_me_ctx_t;


static ngx_int_t
ngx_xyz_me_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_xyz_me_ctx_t      *ctx;
    ngx_pool_cleanup_t    *cln;
    ngx_xyz_jwt_claims_t  *claims;
    ngx_xyz_main_conf_t   *xmcf;

    rc = ngx_xyz_api_get(r);
    if (rc != NGX_OK) {
        return rc;
    }

    claims = ngx_xyz_auth_claims(r);

    if (claims == NULL) {
        if (ngx_xyz_ctx(r) && ngx_xyz_ctx(r)->ended) {
            return ngx_xyz_reply_error(r, NGX_HTTP_UNAUTHORIZED,
                                       "session_ended", NULL,
                                       "this session has ended; log in "
                                       "again");
        }

        return ngx_xyz_reply_error(r, NGX_HTTP_UNAUTHORIZED,
                                   "not_logged_in", NULL, "log in first");
    }

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_me_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a request torn down before the answer (a client error while its
     * body is discarded, say) takes the query with it: the answer must
     * not find freed memory */

    cln->handler = ngx_xyz_me_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ngx_sprintf((u_char *) ctx->id, "%L%Z", claims->sub);
    ngx_sprintf((u_char *) ctx->ver, "%d%Z", claims->ver);

    ctx->values[0] = ctx->id;
    ctx->values[1] = ctx->ver;

    ngx_xyz_pg_query_init(&ctx->query, ngx_xyz_me_sql, 2, ctx->values,
                          ngx_xyz_me_done, ctx, r->connection->log);

    if (ngx_xyz_pg_query(xmcf->pg_pool, &ctx->query) != NGX_OK) {
        return ngx_xyz_reply_try_again(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_xyz_me_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_me_ctx_t *ctx = q->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_xyz_reply_try_again(r));

    } else if (PQntuples(res) != 1) {
        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, NGX_HTTP_UNAUTHORIZED, "session_ended",
                                NULL, "this session has ended; log in "
                                      "again"));

    } else {
        ngx_http_finalize_request(r, ngx_xyz_reply_result(r, res));
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_xyz_login_cleanup(void *data)
{
    ngx_xyz_login_ctx_t *ctx = data;

    ngx_xyz_pg_cancel(&ctx->query);

    if (ctx->password) {
        sodium_memzero(ctx->password, ctx->password_len);
    }
}


static void
ngx_xyz_me_cleanup(void *data)
{
    ngx_xyz_me_ctx_t *ctx = data;

    ngx_xyz_pg_cancel(&ctx->query);
}
