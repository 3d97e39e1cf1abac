
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Where a worker finds its AWS credentials, in the order the AWS SDKs use
 * inside a container:
 *
 *   1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
 *   2. AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN: STS
 *      AssumeRoleWithWebIdentity (EKS IRSA);
 *   3. AWS_CONTAINER_CREDENTIALS_FULL_URI (or _RELATIVE_URI) with
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (or _TOKEN): the container
 *      credentials endpoint (ECS, EKS Pod Identity).
 *
 * nginx clears the environment of its workers: each variable must be named
 * by an "env" directive.  Temporary credentials are fetched through the
 * curl layer and refreshed five minutes before they expire.  No key,
 * secret or token is ever logged.
 */


#include "ngx_xyz_module.h"


#define NGX_XYZ_AWS_NONE          0
#define NGX_XYZ_AWS_ENV           1
#define NGX_XYZ_AWS_WEB_IDENTITY  2
#define NGX_XYZ_AWS_CONTAINER     3

#define NGX_XYZ_AWS_RETRY         10000
#define NGX_XYZ_AWS_EARLY         300     /* seconds before expiry */


typedef struct {
    ngx_xyz_aws_creds_t      creds;
    ngx_uint_t               have;
    ngx_uint_t               source;
    ngx_event_t              refresh;
    ngx_log_t               *log;
    ngx_str_t                region;
    unsigned                 fetching:1;
} ngx_xyz_aws_t;


static void ngx_xyz_aws_fetch(ngx_event_t *ev);
static ngx_int_t ngx_xyz_aws_fetch_container(void);
static ngx_int_t ngx_xyz_aws_fetch_web_identity(void);
static ngx_int_t ngx_xyz_aws_ask(ngx_xyz_curl_t *h, char *url,
    ngx_msec_t timeout);
static void ngx_xyz_aws_fetched(ngx_xyz_curl_t *h);
static ssize_t ngx_xyz_aws_read_file(const char *name, u_char *buf,
    size_t size);
static void ngx_xyz_aws_copy(char *dst, const char *src, size_t size);


static ngx_xyz_aws_t  ngx_xyz_aws;


ngx_int_t
ngx_xyz_aws_init_process(ngx_cycle_t *cycle, ngx_str_t *region)
{
    char  *key, *secret, *token;

    ngx_memzero(&ngx_xyz_aws, sizeof(ngx_xyz_aws_t));

    ngx_xyz_aws.log = cycle->log;
    ngx_xyz_aws.region = *region;

    ngx_xyz_aws.refresh.handler = ngx_xyz_aws_fetch;
    ngx_xyz_aws.refresh.log = cycle->log;
    ngx_xyz_aws.refresh.data = &ngx_xyz_aws;
    ngx_xyz_aws.refresh.cancelable = 1;

    key = getenv("AWS_ACCESS_KEY_ID");
    secret = getenv("AWS_SECRET_ACCESS_KEY");
    token = getenv("AWS_SESSION_TOKEN");

    if (key && secret && *key && *secret) {
        ngx_xyz_aws_copy(ngx_xyz_aws.creds.access_key, key,
                         sizeof(ngx_xyz_aws.creds.access_key));
        ngx_xyz_aws_copy(ngx_xyz_aws.creds.secret_key, secret,
                         sizeof(ngx_xyz_aws.creds.secret_key));
        ngx_xyz_aws_copy(ngx_xyz_aws.creds.session_token,
                         token ? token : "",
                         sizeof(ngx_xyz_aws.creds.session_token));

        ngx_xyz_aws.source = NGX_XYZ_AWS_ENV;
        ngx_xyz_aws.have = 1;

        return NGX_OK;
    }

    if (getenv("AWS_WEB_IDENTITY_TOKEN_FILE") && getenv("AWS_ROLE_ARN")) {
        ngx_xyz_aws.source = NGX_XYZ_AWS_WEB_IDENTITY;

    } else if (getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
               || getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
    {
        ngx_xyz_aws.source = NGX_XYZ_AWS_CONTAINER;

    } else {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "xyz: no AWS credentials: set AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE "
                      "and AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_"
                      "FULL_URI, each named by an \"env\" directive; "
                      "outbox rows wait in the database meanwhile");
        return NGX_OK;
    }

    /* fetched on the first turn of the event loop */
    ngx_add_timer(&ngx_xyz_aws.refresh, 1);

    return NGX_OK;
}


void
ngx_xyz_aws_exit_process(void)
{
    if (ngx_xyz_aws.refresh.timer_set) {
        ngx_del_timer(&ngx_xyz_aws.refresh);
    }

    ngx_explicit_memzero(&ngx_xyz_aws.creds, sizeof(ngx_xyz_aws_creds_t));
    ngx_xyz_aws.have = 0;
}


const ngx_xyz_aws_creds_t *
ngx_xyz_aws_credentials(void)
{
    if (!ngx_xyz_aws.have) {
        return NULL;
    }

    if (ngx_xyz_aws.creds.expiration
        && ngx_xyz_aws.creds.expiration <= ngx_time() + 30)
    {
        return NULL;
    }

    return &ngx_xyz_aws.creds;
}


static void
ngx_xyz_aws_fetch(ngx_event_t *ev)
{
    ngx_int_t  rc;

    if (ngx_xyz_aws.fetching) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_xyz_aws.log, 0,
                   "xyz aws: fetching credentials from %s",
                   ngx_xyz_aws.source == NGX_XYZ_AWS_WEB_IDENTITY
                   ? "STS" : "the container endpoint");

    rc = (ngx_xyz_aws.source == NGX_XYZ_AWS_WEB_IDENTITY)
         ? ngx_xyz_aws_fetch_web_identity()
         : ngx_xyz_aws_fetch_container();

    if (rc == NGX_OK) {
        ngx_xyz_aws.fetching = 1;
        return;
    }

    ngx_add_timer(&ngx_xyz_aws.refresh, NGX_XYZ_AWS_RETRY);
}


static ngx_int_t
ngx_xyz_aws_fetch_container(void)
{
    char            *full, *relative, *token, *token_file, *url, *line;
    size_t           len;
    ssize_t          n;
    ngx_xyz_curl_t  *h;
    u_char           buf[4096];

    full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    relative = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    token = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    token_file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");

    h = ngx_xyz_curl_create(ngx_xyz_aws.log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (full) {
        url = full;

    } else {
        /* the ECS agent's link-local address */
        len = sizeof("http://169.254.170.2") + ngx_strlen(relative);
        url = ngx_pnalloc(h->pool, len);
        if (url == NULL) {
            goto failed;
        }

        ngx_sprintf((u_char *) url, "http://169.254.170.2%s%Z", relative);
    }

    if (token_file) {
        /* the file is rotated by the platform: read it every time */
        n = ngx_xyz_aws_read_file(token_file, buf, sizeof(buf));
        if (n < 0) {
            goto failed;
        }

        token = (char *) buf;
    }

    if (token && *token) {
        line = ngx_pnalloc(h->pool, sizeof("Authorization: ")
                                    + ngx_strlen(token));
        if (line == NULL) {
            goto failed;
        }

        ngx_sprintf((u_char *) line, "Authorization: %s%Z", token);

        if (ngx_xyz_curl_header(h, line) != NGX_OK) {
            goto failed;
        }

        ngx_explicit_memzero(buf, sizeof(buf));
    }

    if (ngx_xyz_aws_ask(h, url, 5000) == NGX_OK) {
        return NGX_OK;
    }

failed:

    ngx_log_error(NGX_LOG_ERR, ngx_xyz_aws.log, 0,
                  "xyz: cannot ask the container credentials endpoint");
    ngx_xyz_curl_destroy(h);

    return NGX_ERROR;
}


static ngx_int_t
ngx_xyz_aws_fetch_web_identity(void)
{
    int              len;
    char            *endpoint, *role, *file, *url, *query;
    char             session[64];
    size_t           size;
    ssize_t          n;
    ngx_xyz_curl_t  *h;
    u_char           token[8192];

    endpoint = getenv("AWS_ENDPOINT_URL_STS");
    role = getenv("AWS_ROLE_ARN");
    file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");

    n = ngx_xyz_aws_read_file(file, token, sizeof(token));
    if (n <= 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_xyz_aws.log, 0,
                      "xyz: cannot read AWS_WEB_IDENTITY_TOKEN_FILE");
        return NGX_ERROR;
    }

    h = ngx_xyz_curl_create(ngx_xyz_aws.log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) session, "ngx-xyz-%P%Z", ngx_pid);

    size = 3 * n + 3 * ngx_strlen(role) + 512;

    query = ngx_pnalloc(h->pool, size);
    url = ngx_pnalloc(h->pool, size + 128 + ngx_xyz_aws.region.len
                               + (endpoint ? ngx_strlen(endpoint) : 0));
    if (query == NULL || url == NULL) {
        goto failed;
    }

    len = ngx_xyz_aws_sts_web_identity_query(role, session, (char *) token,
                                             n, 3600, query, size);

    ngx_explicit_memzero(token, sizeof(token));

    if (len < 0) {
        goto failed;
    }

    if (endpoint) {
        ngx_sprintf((u_char *) url, "%s/?%s%Z", endpoint, query);

    } else {
        ngx_sprintf((u_char *) url, "https://sts.%V.amazonaws.com/?%s%Z",
                    &ngx_xyz_aws.region, query);
    }

    if (ngx_xyz_aws_ask(h, url, 10000) == NGX_OK) {
        return NGX_OK;
    }

failed:

    ngx_log_error(NGX_LOG_ERR, ngx_xyz_aws.log, 0,
                  "xyz: cannot ask STS for web identity credentials");
    ngx_xyz_curl_destroy(h);

    return NGX_ERROR;
}


/* every source of credentials answers ngx_xyz_aws_fetched() */

static ngx_int_t
ngx_xyz_aws_ask(ngx_xyz_curl_t *h, char *url, ngx_msec_t timeout)
{
    h->timeout = timeout;
    h->response_max = NGX_XYZ_AWS_ANSWER_MAX;
    h->handler = ngx_xyz_aws_fetched;

    return ngx_xyz_curl_start(h, url);
}


static void
ngx_xyz_aws_fetched(ngx_xyz_curl_t *h)
{
    int                  rc;
    char                 err[128];
    time_t               left;
    ngx_xyz_aws_creds_t  creds;

    ngx_xyz_aws.fetching = 0;

    /* the answer holds the secret: only its size */
    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_xyz_aws.log, 0,
                   "xyz aws: credentials answer, HTTP %l, %uz bytes",
                   h->status, h->response.len);

    if (h->code != CURLE_OK || h->status != 200 || h->response.len == 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_xyz_aws.log, 0,
                      "xyz: fetching AWS credentials failed: %s (HTTP %l); "
                      "trying again in %d s",
                      h->code != CURLE_OK ? h->error : "bad answer",
                      h->status, NGX_XYZ_AWS_RETRY / 1000);
        goto retry;
    }

    err[0] = '\0';

    rc = (ngx_xyz_aws.source == NGX_XYZ_AWS_WEB_IDENTITY)
         ? ngx_xyz_aws_creds_parse_sts_xml((char *) h->response.data,
                                           h->response.len, &creds, err,
                                           sizeof(err))
         : ngx_xyz_aws_creds_parse_json((char *) h->response.data,
                                        h->response.len, &creds, err,
                                        sizeof(err));

    ngx_explicit_memzero(h->response.data, h->response.len);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_xyz_aws.log, 0,
                      "xyz: unusable AWS credentials answer: %s", err);
        goto retry;
    }

    ngx_memcpy(&ngx_xyz_aws.creds, &creds, sizeof(ngx_xyz_aws_creds_t));
    ngx_explicit_memzero(&creds, sizeof(ngx_xyz_aws_creds_t));
    ngx_xyz_aws.have = 1;

    left = ngx_xyz_aws.creds.expiration
           ? ngx_xyz_aws.creds.expiration - ngx_time() - NGX_XYZ_AWS_EARLY
           : 3600;

    if (left < 60) {
        left = 60;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_xyz_aws.log, 0,
                  "xyz: AWS credentials refreshed; next refresh in %T s",
                  left);

    ngx_add_timer(&ngx_xyz_aws.refresh, (ngx_msec_t) left * 1000);

    return;

retry:

    ngx_add_timer(&ngx_xyz_aws.refresh, NGX_XYZ_AWS_RETRY);
}


/* a token of a few hundred bytes on a local file system */

static ssize_t
ngx_xyz_aws_read_file(const char *name, u_char *buf, size_t size)
{
    ngx_int_t  rc;
    ngx_str_t  token;

    token.data = buf;

    rc = ngx_xyz_file_read((u_char *) name, NULL, size - 1, 1, &token);

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_xyz_aws.log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", name);
    }

    return (rc == NGX_OK) ? (ssize_t) token.len : -1;
}


static void
ngx_xyz_aws_copy(char *dst, const char *src, size_t size)
{
    ngx_cpystrn((u_char *) dst, (u_char *) src, size);
}
