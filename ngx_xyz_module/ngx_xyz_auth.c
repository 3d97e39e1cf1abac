
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Authorization on any location: "xyz_auth on" checks the session (the
 * session cookie or an "Authorization: Bearer" token) in the access
 * phase, without a query: the signature (HS256, keys by kid), the expiry,
 * whether the session has ended since (ngx_xyz_session.c, fed from
 * PostgreSQL every second or so) and, with "xyz_auth_role", the user's
 * current role.  401 or 403 with JSON otherwise.  $xyz_user_id,
 * $xyz_user_role and $xyz_user_email carry the
 * user to proxy_set_header, log_format and if.
 */


#include "ngx_xyz_module.h"
#include "ngx_xyz_jwt.h"
#include "ngx_xyz_cookie.h"


static ngx_int_t ngx_xyz_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_xyz_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_xyz_auth_vars[] = {

    { ngx_string("xyz_user_id"), NULL, ngx_xyz_auth_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("xyz_user_role"), NULL, ngx_xyz_auth_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("xyz_user_email"), NULL, ngx_xyz_auth_variable, 2,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_xyz_auth_preconfiguration(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_xyz_auth_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


ngx_int_t
ngx_xyz_auth_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_xyz_auth_handler;

    return NGX_OK;
}


/*
 * The session of the request, checked, or NULL.  Locations without
 * "xyz_auth" (the "me" location, say) call it for themselves.
 */

ngx_xyz_jwt_claims_t *
ngx_xyz_auth_claims(ngx_http_request_t *r)
{
    int                    count;
    size_t                 len, olen;
    ngx_str_t              token;
    const char            *value, *other, *name;
    ngx_table_elt_t       *h;
    ngx_xyz_req_ctx_t     *ctx;
    ngx_xyz_main_conf_t   *xmcf;
    ngx_xyz_jwt_claims_t  *claims;

    ctx = ngx_xyz_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->claims) {
        return ctx->claims;
    }

    xmcf = ngx_http_get_module_main_conf(r, ngx_xyz_module);

    if (xmcf->acct.jwt_keys == NULL || xmcf->acct.jwt_keys->nelts == 0) {
        return NULL;
    }

    ngx_str_null(&token);

    h = r->headers_in.authorization;

    if (h && h->value.len > 7
        && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) == 0)
    {
        token.data = h->value.data + 7;
        token.len = h->value.len - 7;

    } else {
        /*
         * The session cookie must come once: a second one of the name
         * (planted by a sibling subdomain or a plain-HTTP answer, where
         * the name has no "__Host-" prefix) leaves it unclear which is the
         * visitor's, so neither is used.
         */

        /* value and len keep the first one found, other and olen the
         * rest */

        name = NGX_XYZ_SESSION_COOKIE(xmcf->acct.cookie_secure);
        value = NULL;
        len = 0;
        count = 0;

#if (nginx_version >= 1023000)
        for (h = r->headers_in.cookie; h; h = h->next) {
            count += ngx_xyz_cookie_count((char *) h->value.data,
                                          h->value.len, name,
                                          count ? &other : &value,
                                          count ? &olen : &len);
        }
#else
        {
            ngx_uint_t        i;
            ngx_table_elt_t **cookies;

            cookies = r->headers_in.cookies.elts;

            for (i = 0; i < r->headers_in.cookies.nelts; i++) {
                count += ngx_xyz_cookie_count(
                             (char *) cookies[i]->value.data,
                             cookies[i]->value.len, name,
                             count ? &other : &value,
                             count ? &olen : &len);
            }
        }
#endif

        if (count > 1) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "xyz auth: the cookie \"%s\" comes %d times; "
                          "the request is not logged in", name, count);
            return NULL;
        }

        if (value == NULL || len == 0) {
            return NULL;
        }

        token.data = (u_char *) value;
        token.len = len;
    }

    claims = ngx_pcalloc(r->pool, sizeof(ngx_xyz_jwt_claims_t));
    if (claims == NULL) {
        return NULL;
    }

    if (ngx_xyz_jwt_verify((char *) token.data, token.len,
                           xmcf->acct.jwt_keys->elts,
                           xmcf->acct.jwt_keys->nelts,
                           (long long) ngx_time(), claims)
        != 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "xyz auth: the session token is not valid");
        return NULL;
    }

    /* a logout, a reset, a disabled account or a role change since the
     * token was signed: known from shared memory, not from a query */

    if (ngx_xyz_session_check(xmcf, claims, r->connection->log) != NGX_OK) {
        ctx->ended = 1;
        return NULL;
    }

    ctx->claims = claims;

    return claims;
}


static ngx_int_t
ngx_xyz_auth_handler(ngx_http_request_t *r)
{
    ngx_xyz_req_ctx_t     *ctx;
    ngx_xyz_loc_conf_t    *xlcf;
    ngx_xyz_jwt_claims_t  *claims;

    xlcf = ngx_http_get_module_loc_conf(r, ngx_xyz_module);

    if (!xlcf->auth) {
        return NGX_DECLINED;
    }

    claims = ngx_xyz_auth_claims(r);

    /*
     * A refusal is answered here, with JSON, and the request finalized:
     * NGX_DONE stops the phases, so nothing of the location runs.
     */

    if (claims == NULL) {
        (void) ngx_xyz_add_header(r, "WWW-Authenticate",
                                  "Bearer realm=\"xyz\"");
        ngx_http_discard_request_body(r);

        ctx = ngx_http_get_module_ctx(r, ngx_xyz_module);

        if (ctx && ctx->ended) {
            ngx_http_finalize_request(r,
                ngx_xyz_reply_error(r, NGX_HTTP_UNAUTHORIZED, "session_ended",
                                    NULL, "this session has ended; log in "
                                          "again"));
            return NGX_DONE;
        }

        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, NGX_HTTP_UNAUTHORIZED, "not_logged_in",
                                NULL, "log in to see this page"));
        return NGX_DONE;
    }

    if (xlcf->auth_role.len
        && (ngx_strlen(claims->role) != xlcf->auth_role.len
            || ngx_strncmp(claims->role, xlcf->auth_role.data,
                           xlcf->auth_role.len) != 0))
    {
        ngx_http_discard_request_body(r);
        ngx_http_finalize_request(r,
            ngx_xyz_reply_error(r, NGX_HTTP_FORBIDDEN, "forbidden", NULL,
                                "your account may not see this page"));
        return NGX_DONE;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_xyz_auth_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                *p;
    ngx_xyz_req_ctx_t     *ctx;
    ngx_xyz_jwt_claims_t  *claims;

    ctx = ngx_http_get_module_ctx(r, ngx_xyz_module);
    claims = ctx ? ctx->claims : NULL;

    if (claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case 0:
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%L", claims->sub) - p;
        v->data = p;
        break;

    case 1:
        v->len = ngx_strlen(claims->role);
        v->data = (u_char *) claims->role;
        break;

    default:
        v->len = ngx_strlen(claims->email);
        v->data = (u_char *) claims->email;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
