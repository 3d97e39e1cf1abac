
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The account locations around registration and login:
 *
 *   xyz_confirm        GET/HEAD /confirm?token=T: the landing page (an
 *                      internal redirect; nothing confirmed, so that mail
 *                      scanners following links confirm nothing);
 *                      POST /confirm?token=T from its form: 303 to the
 *                      result page; POST {"token"}: JSON
 *   xyz_resend         POST {"email"}: a new confirmation link
 *   xyz_reset_request  POST {"email"}: a password reset link
 *   xyz_reset          POST {"token","password"}: the new password
 *   xyz_admin_users    GET ?state=&page=&per_page=: the registrations
 *
 * Resend and reset requests answer the same whatever the address: 202,
 * with a per-address cooldown (a second request within it sends nothing)
 * and a per-client limit (429 with Retry-After).  Mails go through the
 * outbox like the registration's.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_json.h"
#include "ngx_xyz_password.h"
#include "ngx_xyz_origin.h"

#include <sodium.h>


#define NGX_XYZ_ACC_CONFIRM      0
#define NGX_XYZ_ACC_RESEND       1
#define NGX_XYZ_ACC_RESET_REQ    2
#define NGX_XYZ_ACC_RESET        3


typedef struct {
    ngx_http_request_t      *request;
    ngx_xyz_main_conf_t     *xmcf;
    ngx_uint_t               what;
    ngx_uint_t               redirect;           /* GET /confirm */
    ngx_xyz_pg_query_t       query;
    const char              *values[6];
    char                     email[NGX_XYZ_EMAIL_MAX + 1];
    char                     key[NGX_XYZ_EMAIL_MAX + 16];
    char                     token[64];
    char                     hash[2 + 64 + 1];
    char                     ttl[NGX_TIME_T_LEN + 16];
    char                     lease[NGX_INT_T_LEN + 16];
    char                     cooldown[NGX_TIME_T_LEN + 16];
    char                     per_hour[NGX_INT_T_LEN + 1];
    ngx_str_t               *client;
    char                    *password;
    size_t                   password_len;
    ngx_xyz_hash_job_t       job;
    ngx_event_t              floor;
    ngx_msec_t               started;
    ngx_int_t                rc;
} ngx_xyz_acc_ctx_t;


static void ngx_xyz_account_create_conf(ngx_xyz_main_conf_t *xmcf);
static char *ngx_xyz_account_init_conf(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static char *ngx_xyz_account_origin(ngx_conf_t *cf,
    ngx_xyz_main_conf_t *xmcf);
static ngx_int_t ngx_xyz_confirm_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_confirm_body(ngx_http_request_t *r, yajl_val body);
static ngx_int_t ngx_xyz_confirm_start(ngx_http_request_t *r,
    const char *token, size_t len, ngx_uint_t redirect);
static ngx_int_t ngx_xyz_mail_request_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_mail_request_body(ngx_http_request_t *r,
    yajl_val body, ngx_uint_t what);
static void ngx_xyz_mail_request_allowed(ngx_xyz_pg_query_t *q,
    ngx_int_t rc, PGresult *res);
static void ngx_xyz_mail_request_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_reset_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_reset_body(ngx_http_request_t *r, yajl_val body);
static void ngx_xyz_reset_checked(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static void ngx_xyz_reset_hashed(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_admin_handler(ngx_http_request_t *r);
static void ngx_xyz_admin_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_xyz_acc_ctx_t *ngx_xyz_acc_ctx(ngx_http_request_t *r,
    ngx_uint_t what);
static ngx_int_t ngx_xyz_acc_query(ngx_xyz_acc_ctx_t *ctx, const char *sql,
    int n, ngx_xyz_pg_handler_pt handler);
static ngx_int_t ngx_xyz_acc_answer(ngx_xyz_acc_ctx_t *ctx, ngx_int_t rc,
    const char *result);
static void ngx_xyz_acc_finalize(ngx_xyz_acc_ctx_t *ctx, ngx_int_t rc,
    const char *result);
static void ngx_xyz_acc_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res);
static ngx_int_t ngx_xyz_resend_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_resend_body(ngx_http_request_t *r, yajl_val body);
static ngx_int_t ngx_xyz_reset_request_body(ngx_http_request_t *r,
    yajl_val body);
static void ngx_xyz_acc_floor_handler(ngx_event_t *ev);
static void ngx_xyz_acc_cleanup(void *data);


static ngx_str_t  ngx_xyz_acc_accepted = ngx_string(
    "{\"status\":\"accepted\",\"message\":\"If an account uses this address, "
    "a message is on its way to it.\"}\n");

static const char  ngx_xyz_confirm_sql[] =
    "SELECT xyz_confirm($1::bytea)";

static const char  ngx_xyz_allowed_sql[] =
    "SELECT xyz_mail_request_allowed($1, $2::interval, $3, $4::integer)";

static const char  ngx_xyz_resend_sql[] =
    "SELECT outcome, outbox_id, outbox_kind, body "
    "FROM xyz_resend($1, $2, $3::bytea, $4::interval, $5::interval)";

static const char  ngx_xyz_reset_req_sql[] =
    "SELECT outcome, outbox_id, outbox_kind, body "
    "FROM xyz_reset_request($1, $2, $3::bytea, $4::interval, $5::interval)";

static const char  ngx_xyz_reset_check_sql[] =
    "SELECT xyz_reset_check($1::bytea)";

static const char  ngx_xyz_reset_sql[] =
    "SELECT xyz_reset_complete($1::bytea, $2)";

static const char  ngx_xyz_admin_sql[] =
    "SELECT json_build_object('users', coalesce(json_agg(u ORDER BY u.id DESC)"
    " FILTER (WHERE u.id IS NOT NULL), '[]'), 'page', $2::integer, "
    "'per_page', $3::integer, 'total', max(t.total))::text "
    "FROM (SELECT count(*) AS total FROM xyz_user_states s WHERE "
    "  ($1 = 'all' OR ($1 IN ('pending','confirmed','disabled') AND "
    "   s.status = $1) OR ($1 = 'email_sent' AND s.email_sent) OR "
    "   ($1 = 'crm_synced' AND s.crm_synced) OR ($1 = 'dead' AND "
    "   s.dead_lettered) OR ($1 = 'suppressed' AND s.mail_suppressed))) t "
    "LEFT JOIN LATERAL (SELECT id, email, name, role, status, locale, "
    "  created_at, email_sent, crm_synced, dead_lettered, outbox_parked, "
    "  mail_suppressed, mail_suppressed_reason, mail_suppressed_at, "
    "  mail_transient_bounces "
    "  FROM xyz_user_states s WHERE "
    "  ($1 = 'all' OR ($1 IN ('pending','confirmed','disabled') AND "
    "   s.status = $1) OR ($1 = 'email_sent' AND s.email_sent) OR "
    "   ($1 = 'crm_synced' AND s.crm_synced) OR ($1 = 'dead' AND "
    "   s.dead_lettered) OR ($1 = 'suppressed' AND s.mail_suppressed)) "
    "  ORDER BY id DESC LIMIT $3::integer "
    "  OFFSET ($2::integer - 1) * $3::integer) u ON true";


ngx_xyz_feature_t  ngx_xyz_account_feature = {
    ngx_xyz_account_create_conf,
    ngx_xyz_account_init_conf,
    ngx_xyz_session_init_process,
    ngx_xyz_session_exit_process
};


ngx_xyz_location_t  ngx_xyz_confirm_location = {
    ngx_xyz_confirm_handler, NGX_XYZ_ACCOUNTS, NGX_XYZ_NEEDS_PG
};

ngx_xyz_location_t  ngx_xyz_resend_location = {
    ngx_xyz_resend_handler, NGX_XYZ_ACCOUNTS, NGX_XYZ_NEEDS_PG
};

ngx_xyz_location_t  ngx_xyz_reset_request_location = {
    ngx_xyz_mail_request_handler, NGX_XYZ_ACCOUNTS, NGX_XYZ_NEEDS_PG
};

ngx_xyz_location_t  ngx_xyz_reset_location = {
    ngx_xyz_reset_handler, NGX_XYZ_ACCOUNTS,
    NGX_XYZ_NEEDS_PG | NGX_XYZ_NEEDS_HASH
};

ngx_xyz_location_t  ngx_xyz_admin_users_location = {
    ngx_xyz_admin_handler, NGX_XYZ_ACCOUNTS, NGX_XYZ_NEEDS_PG
};


static void
ngx_xyz_account_create_conf(ngx_xyz_main_conf_t *xmcf)
{
    xmcf->acct.session_ttl = NGX_CONF_UNSET;
    xmcf->acct.session_zone_size = NGX_CONF_UNSET_SIZE;
    xmcf->acct.session_poll = NGX_CONF_UNSET_MSEC;
    xmcf->acct.cookie_secure = NGX_CONF_UNSET;
    xmcf->acct.mail_cooldown = NGX_CONF_UNSET;
    xmcf->acct.mail_per_hour = NGX_CONF_UNSET_UINT;
    xmcf->acct.mail_floor = NGX_CONF_UNSET_MSEC;
    xmcf->reset_ttl = NGX_CONF_UNSET;
}


static char *
ngx_xyz_account_init_conf(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    ngx_xyz_account_conf_t  *ac;

    ac = &xmcf->acct;

    ngx_conf_init_value(ac->session_ttl, 7200);
    ngx_conf_init_value(ac->cookie_secure, 1);
    ngx_conf_init_value(xmcf->reset_ttl, 3600);
    ngx_conf_init_value(ac->mail_cooldown, 60);
    ngx_conf_init_uint_value(ac->mail_per_hour, 20);
    ngx_conf_init_msec_value(ac->mail_floor, 50);

    if (ac->confirm_page.len == 0) {
        ngx_str_set(&ac->confirm_page, "/confirmed.html");
    }

    if (ac->confirm_landing.len == 0) {
        ngx_str_set(&ac->confirm_landing, "/confirm.html");

    } else if (ac->confirm_landing.data[0] != '/'
               || ngx_strlchr(ac->confirm_landing.data,
                              ac->confirm_landing.data
                              + ac->confirm_landing.len, '?'))
    {
        /* an internal redirect: a path on this server, no query string */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_confirm_landing\" \"%V\"; give "
                           "a path on this server without a query string, "
                           "e.g. /confirm.html", &ac->confirm_landing);
        return NGX_CONF_ERROR;
    }

    if (ngx_xyz_account_origin(cf, xmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * Wherever sessions are checked, ended ones must be seen: the zone
     * and its poll of PostgreSQL come with the keys.  Without a database
     * an nginx can check signatures only.
     */

    if (ac->jwt_keys && ac->jwt_keys->nelts) {
        if (xmcf->pg.dsn.len) {
            if (ngx_xyz_session_zone(cf, xmcf) != NGX_CONF_OK) {
                return NGX_CONF_ERROR;
            }

        } else {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "without \"xyz_pg_dsn\" this nginx cannot "
                               "see sessions ended by a logout, a password "
                               "reset, a role change or a disabled account; "
                               "they pass until they expire");
        }
    }

    if ((xmcf->needs & NGX_XYZ_NEEDS_KEYS) && ac->dummy_hash == NULL) {
        /* unknown addresses are checked against this, at the same cost */

        if (sodium_init() < 0) {
            return NGX_CONF_ERROR;
        }

        ac->dummy_hash = ngx_pnalloc(cf->pool, crypto_pwhash_STRBYTES);
        if (ac->dummy_hash == NULL
            || crypto_pwhash_str(ac->dummy_hash, "no such account", 15,
                                 xmcf->hash.argon2_t,
                                 xmcf->hash.argon2_m * 1024)
               != 0)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* the site's origin, which the POST locations' requests must come from */

static char *
ngx_xyz_account_origin(ngx_conf_t *cf, ngx_xyz_main_conf_t *xmcf)
{
    char  origin[512];

    if (xmcf->dispatch.public_url.len == 0) {
        return NGX_CONF_OK;
    }

    if (ngx_xyz_origin_of((char *) xmcf->dispatch.public_url.data,
                          xmcf->dispatch.public_url.len, origin,
                          sizeof(origin))
        < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"xyz_public_url\" \"%V\"; give "
                           "the site's address, e.g. "
                           "https://signup.example.com",
                           &xmcf->dispatch.public_url);
        return NGX_CONF_ERROR;
    }

    xmcf->origin.len = ngx_strlen(origin);
    xmcf->origin.data = (u_char *) origin;

    xmcf->origin.data = ngx_xyz_pstrdup0(cf->pool, &xmcf->origin);

    return xmcf->origin.data ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static ngx_int_t
ngx_xyz_confirm_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_str_t             token;
    ngx_xyz_main_conf_t  *xmcf;

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        /*
         * Following the link confirms nothing: mail scanners and link
         * previews fetch it.  The landing page is served at this address,
         * query string and all, and its form posts back here.
         */

        xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

        return ngx_http_internal_redirect(r, &xmcf->acct.confirm_landing,
                                          &r->args);
    }

    if (r->method == NGX_HTTP_POST && ngx_xyz_form_type(r)) {

        /* the landing page's form: the token is in the address it posts
         * to; the body says nothing we need */

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (!ngx_xyz_same_origin(r, 0)) {
            return ngx_xyz_reply_error(r, NGX_HTTP_FORBIDDEN, "cross_origin",
                                       NULL, "the form does not come from "
                                             "this site");
        }

        if (ngx_http_arg(r, (u_char *) "token", 5, &token) != NGX_OK) {
            token.len = 0;
        }

        /* base64url needs no unescaping; anything else is not a token */
        return ngx_xyz_confirm_start(r, (char *) token.data, token.len, 1);
    }

    return ngx_xyz_api_post(r, ngx_xyz_confirm_body, NULL);
}


static ngx_int_t
ngx_xyz_confirm_body(ngx_http_request_t *r, yajl_val body)
{
    const char  *token;

    token = ngx_xyz_json_string(body, "token");

    return ngx_xyz_confirm_start(r, token, token ? ngx_strlen(token) : 0, 0);
}


static ngx_int_t
ngx_xyz_confirm_start(ngx_http_request_t *r, const char *token, size_t len,
    ngx_uint_t redirect)
{
    ngx_int_t           rc;
    ngx_xyz_acc_ctx_t  *ctx;

    ctx = ngx_xyz_acc_ctx(r, NGX_XYZ_ACC_CONFIRM);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->redirect = redirect;

    if (len == 0 || len > 64) {
        return ngx_xyz_acc_answer(ctx, NGX_OK, "invalid");
    }

    ngx_xyz_token_hash(token, len, ctx->hash);

    ctx->values[0] = ctx->hash;

    rc = ngx_xyz_acc_query(ctx, ngx_xyz_confirm_sql, 1,
                           ngx_xyz_acc_done);

    if (rc == NGX_DECLINED) {
        return ngx_xyz_reply_try_again(r);
    }

    /* the link is a content handler of its own: hold the request */
    if (redirect) {
        r->main->count++;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_xyz_resend_handler(ngx_http_request_t *r)
{
    return ngx_xyz_api_post(r, ngx_xyz_resend_body, NULL);
}


static ngx_int_t
ngx_xyz_mail_request_handler(ngx_http_request_t *r)
{
    return ngx_xyz_api_post(r, ngx_xyz_reset_request_body, NULL);
}


static ngx_int_t
ngx_xyz_resend_body(ngx_http_request_t *r, yajl_val body)
{
    return ngx_xyz_mail_request_body(r, body, NGX_XYZ_ACC_RESEND);
}


static ngx_int_t
ngx_xyz_reset_request_body(ngx_http_request_t *r, yajl_val body)
{
    return ngx_xyz_mail_request_body(r, body, NGX_XYZ_ACC_RESET_REQ);
}


static ngx_int_t
ngx_xyz_mail_request_body(ngx_http_request_t *r, yajl_val body,
    ngx_uint_t what)
{
    size_t                     len;
    const char                *email, *start;
    ngx_xyz_acc_ctx_t         *ctx;

    ctx = ngx_xyz_acc_ctx(r, what);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    email = ngx_xyz_json_string(body, "email");

    if (email == NULL
        || ngx_xyz_email_normalize(email, ngx_strlen(email), ctx->email,
                                   &start, &len)
           != 0)
    {
        return ngx_xyz_reply_error(r, 422, "invalid_field", "email",
                                   "email is not a valid address");
    }

    ctx->client = ngx_xyz_client_key(r);
    if (ctx->client == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf((u_char *) ctx->key, "%s:%s%Z",
                ctx->what == NGX_XYZ_ACC_RESEND ? "resend" : "reset",
                ctx->email);
    ngx_sprintf((u_char *) ctx->cooldown, "%T seconds%Z",
                ctx->xmcf->acct.mail_cooldown);
    ngx_sprintf((u_char *) ctx->per_hour, "%ui%Z",
                ctx->xmcf->acct.mail_per_hour);

    ctx->values[0] = ctx->key;
    ctx->values[1] = ctx->cooldown;
    ctx->values[2] = (char *) ctx->client->data;
    ctx->values[3] = ctx->per_hour;

    if (ngx_xyz_acc_query(ctx, ngx_xyz_allowed_sql, 4,
                          ngx_xyz_mail_request_allowed)
        != NGX_DONE)
    {
        return ngx_xyz_reply_try_again(r);
    }

    return NGX_DONE;
}


static void
ngx_xyz_mail_request_allowed(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res)
{
    ngx_xyz_acc_ctx_t *ctx = q->data;

    char                *wait;
    ngx_int_t            n;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (rc != NGX_OK || PQntuples(res) != 1) {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
        return;
    }

    n = ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));

    if (n > 0) {
        /* this client asks too often, whatever the address */
        wait = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
        if (wait) {
            ngx_sprintf((u_char *) wait, "%i%Z", n);
            (void) ngx_xyz_add_header(r, "Retry-After", wait);
        }

        ngx_xyz_acc_finalize(ctx, 429, NULL);
        return;
    }

    if (n != 0) {
        /* within the address's cooldown: the same answer, no mail */
        ngx_xyz_acc_finalize(ctx, NGX_OK, NULL);
        return;
    }

    ngx_xyz_token_new(ctx->token, ctx->hash);

    ngx_sprintf((u_char *) ctx->ttl, "%T seconds%Z",
                ctx->what == NGX_XYZ_ACC_RESEND ? ctx->xmcf->confirm_ttl
                                                : ctx->xmcf->reset_ttl);
    ngx_sprintf((u_char *) ctx->lease, "%M milliseconds%Z",
                ctx->xmcf->outbox.lease);

    ctx->values[0] = ctx->email;
    ctx->values[1] = ctx->token;
    ctx->values[2] = ctx->hash;
    ctx->values[3] = ctx->ttl;
    ctx->values[4] = ctx->lease;

    if (ngx_xyz_acc_query(ctx, ctx->what == NGX_XYZ_ACC_RESEND
                               ? ngx_xyz_resend_sql : ngx_xyz_reset_req_sql,
                          5, ngx_xyz_mail_request_done)
        != NGX_DONE)
    {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
    }
}


static void
ngx_xyz_mail_request_done(ngx_xyz_pg_query_t *q, ngx_int_t rc,
    PGresult *res)
{
    ngx_xyz_acc_ctx_t *ctx = q->data;

    if (rc != NGX_OK) {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
        return;
    }

    sodium_memzero(ctx->token, sizeof(ctx->token));

    /* rows for a known address go to the relay; none for others */
    ngx_xyz_outbox_publish_result(res, 1, ctx->request->connection->log);

    ngx_xyz_acc_finalize(ctx, NGX_OK, NULL);
}


static ngx_int_t
ngx_xyz_reset_handler(ngx_http_request_t *r)
{
    return ngx_xyz_api_post(r, ngx_xyz_reset_body, NULL);
}


static ngx_int_t
ngx_xyz_reset_body(ngx_http_request_t *r, yajl_val body)
{
    long                  n;
    size_t                len;
    const char           *token, *password;
    ngx_xyz_acc_ctx_t    *ctx;
    ngx_xyz_main_conf_t  *xmcf;

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    token = ngx_xyz_json_string(body, "token");
    password = ngx_xyz_json_string(body, "password");

    if (token == NULL || ngx_strlen(token) == 0 || ngx_strlen(token) > 64) {
        return ngx_xyz_reply_error(r, NGX_HTTP_BAD_REQUEST, "invalid_token",
                                   "token", "this link is not valid");
    }

    if (password == NULL) {
        return ngx_xyz_reply_error(r, 422, "missing_field", "password",
                                   "password is required");
    }

    len = ngx_strlen(password);
    n = ngx_xyz_utf8_printable_length(password, len);

    if (n < 0 || (ngx_uint_t) n < xmcf->reg.password_min
        || (ngx_uint_t) n > xmcf->reg.password_max)
    {
        return ngx_xyz_reply_error(r, 422, "invalid_field", "password",
                                   "the password is too short, too long "
                                   "or has control characters");
    }

    if (ngx_xyz_register_password_common(xmcf, password, len)) {
        return ngx_xyz_reply_error(r, 422, "common_password", "password",
                                   "this password is too common; choose "
                                   "another");
    }

    ctx = ngx_xyz_acc_ctx(r, NGX_XYZ_ACC_RESET);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_xyz_token_hash(token, ngx_strlen(token), ctx->hash);

    ctx->password = ngx_pnalloc(r->pool, len + 1);
    if (ctx->password == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->password, password, len + 1);
    ctx->password_len = len;

    /*
     * The token first, with a read: a hash costs far more than the query,
     * so a dead or guessed token must not buy one.
     */

    ctx->values[0] = ctx->hash;

    if (ngx_xyz_acc_query(ctx, ngx_xyz_reset_check_sql, 1,
                          ngx_xyz_reset_checked)
        != NGX_DONE)
    {
        return ngx_xyz_reply_try_again(r);
    }

    return NGX_DONE;
}


static void
ngx_xyz_reset_checked(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_acc_ctx_t *ctx = q->data;

    const char           *result;
    ngx_http_request_t   *r;
    ngx_xyz_main_conf_t  *xmcf;

    r = ctx->request;
    xmcf = ctx->xmcf;

    if (rc != NGX_OK || PQntuples(res) != 1) {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
        return;
    }

    result = PQgetvalue(res, 0, 0);

    if (ngx_strcmp(result, "ok") != 0) {
        sodium_memzero(ctx->password, ctx->password_len);
        ngx_xyz_acc_finalize(ctx, NGX_OK, result);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "xyz reset: the token is live, hashing the password");

    ctx->job.password = ctx->password;
    ctx->job.password_len = ctx->password_len;
    ctx->job.opslimit = xmcf->hash.argon2_t;
    ctx->job.memlimit = xmcf->hash.argon2_m * 1024;

    if (ngx_xyz_hash_post(r, xmcf->hash.pool, &ctx->job,
                          ngx_xyz_reset_hashed)
        != NGX_OK)
    {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
    }
}


static void
ngx_xyz_reset_hashed(ngx_http_request_t *r)
{
    ngx_xyz_acc_ctx_t  *ctx;

    ctx = ngx_xyz_ctx_data(r);

    r->write_event_handler = ngx_http_request_empty_handler;

    sodium_memzero(ctx->password, ctx->password_len);

    if (ctx->job.rc != 0) {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
        return;
    }

    ctx->values[0] = ctx->hash;
    ctx->values[1] = ctx->job.hash;

    if (ngx_xyz_acc_query(ctx, ngx_xyz_reset_sql, 2, ngx_xyz_acc_done)
        != NGX_DONE)
    {
        ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
    }
}


static ngx_int_t
ngx_xyz_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t           rc, page, per_page;
    ngx_str_t           state, arg;
    ngx_xyz_acc_ctx_t  *ctx;

    static ngx_str_t  states[] = {
        ngx_string("all"), ngx_string("pending"), ngx_string("confirmed"),
        ngx_string("disabled"), ngx_string("email_sent"),
        ngx_string("crm_synced"), ngx_string("dead"),
        ngx_string("suppressed"), ngx_null_string
    };

    rc = ngx_xyz_api_get(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the location must be behind "xyz_auth on; xyz_auth_role admin;";
     * this checks it again, in case it is not */

    if (ngx_xyz_auth_claims(r) == NULL
        || ngx_strcmp(ngx_xyz_auth_claims(r)->role, "admin") != 0)
    {
        return ngx_xyz_reply_error(r, NGX_HTTP_FORBIDDEN, "forbidden", NULL,
                                   "this list is for administrators");
    }

    if (ngx_http_arg(r, (u_char *) "state", 5, &state) != NGX_OK) {
        ngx_str_set(&state, "all");
    }

    for (rc = 0; states[rc].len; rc++) {
        if (states[rc].len == state.len
            && ngx_strncmp(states[rc].data, state.data, state.len) == 0)
        {
            break;
        }
    }

    if (states[rc].len == 0) {
        return ngx_xyz_reply_error(r, 422, "invalid_field", "state",
                                   "state is one of all, pending, "
                                   "confirmed, disabled, email_sent, "
                                   "crm_synced, dead, suppressed");
    }

    page = 1;
    per_page = 50;

    if (ngx_http_arg(r, (u_char *) "page", 4, &arg) == NGX_OK) {
        page = ngx_atoi(arg.data, arg.len);
    }

    if (ngx_http_arg(r, (u_char *) "per_page", 8, &arg) == NGX_OK) {
        per_page = ngx_atoi(arg.data, arg.len);
    }

    if (page < 1 || page > 100000 || per_page < 1 || per_page > 500) {
        return ngx_xyz_reply_error(r, 422, "invalid_field", "page",
                                   "page from 1, per_page from 1 to 500");
    }

    ctx = ngx_xyz_acc_ctx(r, NGX_XYZ_ACC_CONFIRM);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf((u_char *) ctx->key, "%V%Z", &states[rc]);
    ngx_sprintf((u_char *) ctx->ttl, "%i%Z", page);
    ngx_sprintf((u_char *) ctx->lease, "%i%Z", per_page);

    ctx->values[0] = ctx->key;
    ctx->values[1] = ctx->ttl;
    ctx->values[2] = ctx->lease;

    if (ngx_xyz_acc_query(ctx, ngx_xyz_admin_sql, 3, ngx_xyz_admin_done)
        != NGX_DONE)
    {
        return ngx_xyz_reply_try_again(r);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_xyz_admin_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_acc_ctx_t *ctx = q->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    if (rc != NGX_OK || PQntuples(res) != 1) {
        ngx_http_finalize_request(r, ngx_xyz_reply_try_again(r));

    } else {
        ngx_http_finalize_request(r, ngx_xyz_reply_result(r, res));
    }

    ngx_http_run_posted_requests(c);
}


static ngx_xyz_acc_ctx_t *
ngx_xyz_acc_ctx(ngx_http_request_t *r, ngx_uint_t what)
{
    ngx_pool_cleanup_t  *cln;
    ngx_xyz_acc_ctx_t   *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_xyz_acc_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);
    ctx->what = what;
    ctx->started = ngx_current_msec;

    cln->handler = ngx_xyz_acc_cleanup;
    cln->data = ctx;

    if (ngx_xyz_ctx_set_data(r, ctx) != NGX_OK) {
        return NULL;
    }

    return ctx;
}


static ngx_int_t
ngx_xyz_acc_query(ngx_xyz_acc_ctx_t *ctx, const char *sql, int n,
    ngx_xyz_pg_handler_pt handler)
{
    ngx_xyz_pg_query_init(&ctx->query, sql, n, ctx->values, handler, ctx,
                          ctx->request->connection->log);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "xyz account: query, kind %ui", ctx->what);

    /* NGX_DONE: the handler will be called; NGX_DECLINED: it will not */
    if (ngx_xyz_pg_query(ctx->xmcf->pg_pool, &ctx->query) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_DONE;
}


/*
 * The answers.  rc is NGX_OK (accepted, or for confirm and reset the
 * result from PostgreSQL: "ok", "used", "expired", "invalid"), NGX_ERROR
 * (unavailable) or 429.
 */

static void
ngx_xyz_acc_finalize(ngx_xyz_acc_ctx_t *ctx, ngx_int_t rc,
    const char *result)
{
    ngx_msec_t           elapsed;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    /* the result of a token ("ok", "used", ...), never the token */
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "xyz account: answer %i, %s", rc, result ? result : "-");

    /*
     * A known address costs an insert more than an unknown one.  Both
     * answers leave no sooner than xyz_mail_request_floor after the
     * request came, so their timing does not tell them apart.
     */

    if ((ctx->what == NGX_XYZ_ACC_RESEND || ctx->what == NGX_XYZ_ACC_RESET_REQ)
        && rc != NGX_ERROR && rc != 429)
    {
        elapsed = ngx_current_msec - ctx->started;

        if (elapsed < ctx->xmcf->acct.mail_floor) {
            ctx->rc = rc;
            ctx->floor.handler = ngx_xyz_acc_floor_handler;
            ctx->floor.data = ctx;
            ctx->floor.log = c->log;
            ngx_add_timer(&ctx->floor, ctx->xmcf->acct.mail_floor - elapsed);
            return;
        }
    }

    ngx_http_finalize_request(r, ngx_xyz_acc_answer(ctx, rc, result));
    ngx_http_run_posted_requests(c);
}


/* a function of one result (confirm, reset): the reply names it */

static void
ngx_xyz_acc_done(ngx_xyz_pg_query_t *q, ngx_int_t rc, PGresult *res)
{
    ngx_xyz_acc_ctx_t *ctx = q->data;

    if (rc == NGX_OK && PQntuples(res) == 1) {
        ngx_xyz_acc_finalize(ctx, NGX_OK, PQgetvalue(res, 0, 0));
        return;
    }

    ngx_xyz_acc_finalize(ctx, NGX_ERROR, NULL);
}


static void
ngx_xyz_acc_floor_handler(ngx_event_t *ev)
{
    ngx_xyz_acc_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_finalize_request(r, ngx_xyz_acc_answer(ctx, ctx->rc, NULL));
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_xyz_acc_answer(ngx_xyz_acc_ctx_t *ctx, ngx_int_t rc, const char *result)
{
    u_char              *loc, *p;
    ngx_str_t            body;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (rc == NGX_ERROR) {
        return ngx_xyz_reply_try_again(r);
    }

    if (rc == 429) {
        return ngx_xyz_reply_error(r, 429, "too_many_requests", NULL,
                                   "too many requests from this address; "
                                   "wait before trying again");
    }

    if (ctx->what == NGX_XYZ_ACC_RESEND || ctx->what == NGX_XYZ_ACC_RESET_REQ)
    {
        return ngx_xyz_reply_json(r, NGX_HTTP_ACCEPTED,
                                  &ngx_xyz_acc_accepted);
    }

    if (result == NULL) {
        result = "invalid";
    }

    if (ctx->redirect) {
        /* the link from the email: a page for people */

        loc = ngx_pnalloc(r->pool, ctx->xmcf->acct.confirm_page.len + 32);
        if (loc == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_sprintf(loc, "%V?result=%s", &ctx->xmcf->acct.confirm_page,
                        result);

        if (ngx_xyz_add_header(r, "Cache-Control", "no-store") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_xyz_reply_see_other(r, loc, p - loc);
    }

    if (ngx_strcmp(result, "ok") == 0) {
        if (ctx->what == NGX_XYZ_ACC_CONFIRM) {
            ngx_str_set(&body, "{\"status\":\"confirmed\"}\n");

        } else {
            ngx_str_set(&body, "{\"status\":\"password_changed\"}\n");
        }

        return ngx_xyz_reply_json(r, NGX_HTTP_OK, &body);
    }

    if (ngx_strcmp(result, "used") == 0) {
        return ngx_xyz_reply_error(r, 410, "token_used", "token",
                                   "this link was already used");
    }

    if (ngx_strcmp(result, "expired") == 0) {
        return ngx_xyz_reply_error(r, 410, "token_expired", "token",
                                   "this link has expired; ask for a new "
                                   "one");
    }

    return ngx_xyz_reply_error(r, NGX_HTTP_BAD_REQUEST, "invalid_token",
                               "token", "this link is not valid");
}


static void
ngx_xyz_acc_cleanup(void *data)
{
    ngx_xyz_acc_ctx_t *ctx = data;

    ngx_xyz_pg_cancel(&ctx->query);

    if (ctx->floor.timer_set) {
        ngx_del_timer(&ctx->floor);
    }

    if (ctx->password) {
        sodium_memzero(ctx->password, ctx->password_len);
    }
}
