
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include "ngx_xyz_module.h"


typedef struct {
    ngx_xyz_sqs_call_pt      handler;
    void                    *data;
} ngx_xyz_sqs_call_t;


typedef struct {
    ngx_pool_t              *pool;           /* the batch's own, body too */
    ngx_xyz_sqs_handler_pt   handler;
    void                    *data;
    ngx_xyz_sqs_msg_t       *msgs;
    ngx_uint_t               n;
} ngx_xyz_sqs_batch_t;


static void ngx_xyz_sqs_call_done(ngx_xyz_curl_t *h);
static void ngx_xyz_sqs_batch_done(void *data, ngx_int_t rc,
    ngx_str_t *response, const char *error);


char *
ngx_xyz_sqs_conf_endpoint(ngx_conf_t *cf, ngx_xyz_sqs_conf_t *sqs)
{
    u_char     *p, *last, *host;
    ngx_str_t  *e;

    e = &sqs->endpoint;

    if (e->len == 0) {
        /* the regional endpoint */
        e->len = sizeof("https://sqs..amazonaws.com") - 1 + sqs->region.len;
        e->data = ngx_pnalloc(cf->pool, e->len + 1);
        if (e->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(e->data, "https://sqs.%V.amazonaws.com%Z", &sqs->region);
    }

    p = e->data;
    last = e->data + e->len;

    if (e->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        p += 7;

    } else if (e->len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        p += 8;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_sqs_endpoint\" must start with http:// or "
                           "https://, not \"%V\"", e);
        return NGX_CONF_ERROR;
    }

    host = p;

    while (p < last && *p != '/') {
        p++;
    }

    if (p == host) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"xyz_sqs_endpoint\" \"%V\" has no host", e);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_xyz_sqs_call(ngx_xyz_sqs_conf_t *sqs, const char *target, u_char *body,
    size_t len, ngx_msec_t timeout, ngx_pool_t **pool,
    ngx_xyz_sqs_call_pt handler, void *data, ngx_log_t *log)
{
    char                        *line;
    CURLcode                     cc;
    ngx_int_t                    rc;
    ngx_xyz_curl_t              *h;
    ngx_xyz_sqs_call_t          *call;
    const ngx_xyz_aws_creds_t   *cred;

    cred = ngx_xyz_aws_credentials();
    if (cred == NULL) {
        return NGX_DECLINED;
    }

    h = ngx_xyz_curl_create(log);
    if (h == NULL) {
        return NGX_ERROR;
    }

    call = ngx_palloc(h->pool, sizeof(ngx_xyz_sqs_call_t));
    if (call == NULL) {
        goto failed;
    }

    call->handler = handler;
    call->data = data;

    /*
     * libcurl signs (SigV4): it adds X-Amz-Date from its clock and signs
     * the method, the path, the Host it sends, the headers below and the
     * body.  The key is set on every request: role credentials rotate.
     *
     * No "Expect:" line to turn off 100-continue: libcurl before 8.3.0
     * signs that empty header although it does not send it, and the
     * signature would not verify.  libcurl asks for 100-continue only
     * above 1 MiB (that header goes unsigned and costs a round trip, no
     * more), and the largest body the module sends is a SendMessageBatch
     * of 10 outbox rows, each under 3 KiB once quoted: some 32 KiB.
     */

    h->keep_expect = 1;

    line = ngx_pnalloc(h->pool, sizeof("aws:amz::sqs") + sqs->region.len
                                + sizeof("X-Amz-Security-Token: ")
                                + ngx_strlen(cred->session_token) + 64);
    if (line == NULL) {
        goto failed;
    }

    ngx_sprintf((u_char *) line, "aws:amz:%V:sqs%Z", &sqs->region);

    cc = curl_easy_setopt(h->easy, CURLOPT_AWS_SIGV4, line);
    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(h->easy, CURLOPT_USERNAME, cred->access_key);
    }

    if (cc == CURLE_OK) {
        cc = curl_easy_setopt(h->easy, CURLOPT_PASSWORD, cred->secret_key);
    }

    if (cc != CURLE_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "xyz: cannot sign an SQS request: %s (libcurl 7.75 "
                      "or later signs SigV4)", curl_easy_strerror(cc));
        goto failed;
    }

    if (ngx_xyz_curl_header(h, "Content-Type: application/x-amz-json-1.0")
        != NGX_OK)
    {
        goto failed;
    }

    ngx_sprintf((u_char *) line, "X-Amz-Target: AmazonSQS.%s%Z", target);
    if (ngx_xyz_curl_header(h, line) != NGX_OK) {
        goto failed;
    }

    if (cred->session_token[0]) {
        ngx_sprintf((u_char *) line, "X-Amz-Security-Token: %s%Z",
                    cred->session_token);
        if (ngx_xyz_curl_header(h, line) != NGX_OK) {
            goto failed;
        }
    }

    h->body.data = body;
    h->body.len = len;
    h->timeout = timeout ? timeout : sqs->timeout;
    h->handler = ngx_xyz_sqs_call_done;
    h->data = call;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, log, 0,
                   "xyz sqs: %s call %p", target, h);

    rc = ngx_xyz_curl_start(h, (char *) sqs->endpoint.data);

    if (rc != NGX_OK) {
        ngx_xyz_curl_destroy(h);
        return rc;
    }

    if (pool) {
        *pool = h->pool;
    }

    return NGX_OK;

failed:

    ngx_xyz_curl_destroy(h);

    return NGX_ERROR;
}


static void
ngx_xyz_sqs_call_done(ngx_xyz_curl_t *h)
{
    ngx_xyz_sqs_call_t *call = h->data;

    char  err[256];

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, h->log, 0,
                   "xyz sqs: call %p answered %l", h, h->status);

    /*
     * ngx_snprintf() writes at most its size, and a "%Z" that does not fit
     * is dropped with the rest: curl's message fills up to 255 bytes, so
     * the terminator is written where the copy ends.
     */

    if (h->code != CURLE_OK) {
        *ngx_snprintf((u_char *) err, sizeof(err) - 1, "%s", h->error) = '\0';
        call->handler(call->data, NGX_ERROR, &h->response, err);
        return;
    }

    if (h->status != 200) {
        ngx_memzero(err, sizeof(err));

        if (h->response.len == 0
            || ngx_xyz_sqs_error((char *) h->response.data, err, sizeof(err))
               != 0)
        {
            *ngx_snprintf((u_char *) err, sizeof(err) - 1,
                          "HTTP %l from SQS", h->status) = '\0';
        }

        call->handler(call->data, NGX_ERROR, &h->response, err);
        return;
    }

    call->handler(call->data, NGX_OK, &h->response, NULL);
}


ngx_int_t
ngx_xyz_sqs_send_batch(ngx_xyz_sqs_conf_t *sqs, ngx_uint_t queue,
    ngx_xyz_sqs_msg_t *m, ngx_uint_t n, ngx_xyz_sqs_handler_pt handler,
    void *data, ngx_log_t *log)
{
    int                   len;
    char                 *body;
    size_t                size;
    ngx_int_t             rc;
    ngx_pool_t           *pool;
    ngx_xyz_sqs_batch_t  *b;

    /* the batch and its body live until the answer has been read */

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    size = ngx_xyz_sqs_batch_len((char *) sqs->queue[queue].url.data, m, n);

    b = ngx_palloc(pool, sizeof(ngx_xyz_sqs_batch_t));
    body = ngx_pnalloc(pool, size);
    if (b == NULL || body == NULL) {
        goto failed;
    }

    b->pool = pool;
    b->handler = handler;
    b->data = data;
    b->n = n;
    b->msgs = ngx_palloc(pool, n * sizeof(ngx_xyz_sqs_msg_t));
    if (b->msgs == NULL) {
        goto failed;
    }

    ngx_memcpy(b->msgs, m, n * sizeof(ngx_xyz_sqs_msg_t));

    len = ngx_xyz_sqs_batch_json(body, size,
                                 (char *) sqs->queue[queue].url.data, m, n,
                                 sqs->queue[queue].fifo);
    if (len < 0) {
        goto failed;
    }

    rc = ngx_xyz_sqs_call(sqs, "SendMessageBatch", (u_char *) body, len, 0,
                          NULL, ngx_xyz_sqs_batch_done, b, log);

    if (rc != NGX_OK) {
        ngx_destroy_pool(pool);
        return rc;
    }

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);

    return NGX_ERROR;
}


static void
ngx_xyz_sqs_batch_done(void *data, ngx_int_t rc, ngx_str_t *response,
    const char *error)
{
    ngx_xyz_sqs_batch_t *b = data;

    int            sent;
    char           err[256];
    unsigned char  ok[NGX_XYZ_SQS_BATCH_MAX];

    ngx_memzero(ok, sizeof(ok));

    if (rc != NGX_OK) {
        b->handler(b->data, NGX_ERROR, ok, error);
        goto done;
    }

    err[0] = '\0';

    sent = response->len
           ? ngx_xyz_sqs_batch_result((char *) response->data, b->msgs,
                                      b->n, ok, err, sizeof(err))
           : -1;

    if (sent < 0) {
        ngx_memzero(ok, sizeof(ok));
        b->handler(b->data, NGX_ERROR, ok, "an answer SQS should not give");
        goto done;
    }

    b->handler(b->data, NGX_OK, ok, err);

done:

    ngx_destroy_pool(b->pool);
}
