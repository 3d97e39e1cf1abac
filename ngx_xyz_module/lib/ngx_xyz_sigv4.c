
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * AWS Signature Version 4, as described in the IAM User Guide ("Create a
 * signed AWS API request") and checked against the AWS SigV4 test suite.
 */


#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ngx_xyz_sigv4.h"


#define NGX_XYZ_SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define NGX_XYZ_SIGV4_TERMINATOR "aws4_request"

/* "AWS4-HMAC-SHA256\n" date "\n" scope "\n" hash, with room to spare */
#define NGX_XYZ_SIGV4_STS_MAX                                                 \
    (sizeof(NGX_XYZ_SIGV4_ALGORITHM) + NGX_XYZ_SIGV4_DATE_LEN + 1            \
     + 8 + 1 + 2 * NGX_XYZ_SIGV4_MAX_NAME + 2                                 \
     + sizeof(NGX_XYZ_SIGV4_TERMINATOR) + NGX_XYZ_SIGV4_HEX_LEN + 1)


/*
 * Output goes through a sink: into a buffer for the helpers that show the
 * canonical request, straight into a digest when signing, so that signing
 * needs no buffer as large as the canonical request.
 */

typedef struct {
    char                           *buf;    /* NULL: nothing kept */
    size_t                          size;
    size_t                          len;
    EVP_MD_CTX                     *md;     /* NULL: nothing hashed */
    int                             failed;
} ngx_xyz_sigv4_sink_t;


typedef struct {
    const char                     *name;
    size_t                          name_len;
    const char                     *value;
} ngx_xyz_sigv4_hdr_t;


typedef struct {
    const char                     *key;
    size_t                          key_len;
    const char                     *value;
    size_t                          value_len;
} ngx_xyz_sigv4_param_t;


/*
 * Yields the SigV4 encoding of a string one byte at a time, so that query
 * parameters can be compared in their encoded form, as the specification
 * sorts them, without encoding them into a buffer first.
 */

typedef struct {
    const unsigned char            *p;
    const unsigned char            *end;
    unsigned char                   enc[3];
    int                             n;
    int                             i;
    unsigned                        decode:1;
    unsigned                        keep_slash:1;
} ngx_xyz_sigv4_iter_t;


/* what every step needs, worked out once */

typedef struct {
    const ngx_xyz_sigv4_request_t  *r;
    const char                     *path;
    const char                     *query;
    const char                     *payload_hash;
    char                            payload_hex[NGX_XYZ_SIGV4_HEX_LEN + 1];
    ngx_xyz_sigv4_hdr_t             hdrs[NGX_XYZ_SIGV4_MAX_HEADERS];
    size_t                          nhdrs;
} ngx_xyz_sigv4_ctx_t;


static int ngx_xyz_sigv4_prepare(const ngx_xyz_sigv4_request_t *r,
    ngx_xyz_sigv4_ctx_t *ctx);
static int ngx_xyz_sigv4_check(const ngx_xyz_sigv4_request_t *r);
static int ngx_xyz_sigv4_add_header(ngx_xyz_sigv4_ctx_t *ctx,
    const char *name, const char *value);
static void ngx_xyz_sigv4_sort_headers(ngx_xyz_sigv4_ctx_t *ctx);
static void ngx_xyz_sigv4_canonical(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s);
static void ngx_xyz_sigv4_canonical_path(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s);
static void ngx_xyz_sigv4_canonical_query(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s);
static void ngx_xyz_sigv4_signed_headers(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s);
static int ngx_xyz_sigv4_sts(ngx_xyz_sigv4_ctx_t *ctx, char *out,
    size_t size);
static int ngx_xyz_sigv4_sign(ngx_xyz_sigv4_ctx_t *ctx, char *out);
static int ngx_xyz_sigv4_hmac(const unsigned char *key, size_t key_len,
    const char *data, size_t len, unsigned char *out);

static void ngx_xyz_sigv4_put(ngx_xyz_sigv4_sink_t *s, const char *p,
    size_t n);
static void ngx_xyz_sigv4_put_str(ngx_xyz_sigv4_sink_t *s, const char *p);
static void ngx_xyz_sigv4_put_lower(ngx_xyz_sigv4_sink_t *s, const char *p,
    size_t n);
static void ngx_xyz_sigv4_put_value(ngx_xyz_sigv4_sink_t *s, const char *p);
static void ngx_xyz_sigv4_put_encoded(ngx_xyz_sigv4_sink_t *s,
    const char *p, size_t n, int decode, int keep_slash);
static int ngx_xyz_sigv4_finish(ngx_xyz_sigv4_sink_t *s);

static void ngx_xyz_sigv4_iter_init(ngx_xyz_sigv4_iter_t *it, const char *p,
    size_t n, int decode, int keep_slash);
static int ngx_xyz_sigv4_iter_next(ngx_xyz_sigv4_iter_t *it);
static int ngx_xyz_sigv4_cmp_encoded(const char *a, size_t alen,
    const char *b, size_t blen);
static int ngx_xyz_sigv4_cmp_lower(const char *a, size_t alen,
    const char *b, size_t blen);

static int ngx_xyz_sigv4_unreserved(unsigned char c);
static int ngx_xyz_sigv4_tchar(unsigned char c);
static int ngx_xyz_sigv4_hexval(unsigned char c);
static void ngx_xyz_sigv4_hex(const unsigned char *p, size_t n, char *out);
static void ngx_xyz_sigv4_digits(char *out, long long v, int n);


static const char  ngx_xyz_sigv4_hexdigits[] = "0123456789ABCDEF";
static const char  ngx_xyz_sigv4_hexlower[] = "0123456789abcdef";

/* names the signer adds itself, or that make no sense to sign */
static const char  *ngx_xyz_sigv4_reserved[] = {
    "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
    "authorization", NULL
};


int
ngx_xyz_sigv4_authorization(const ngx_xyz_sigv4_request_t *r, char *out,
    size_t size)
{
    char                  sig[NGX_XYZ_SIGV4_HEX_LEN + 1];
    ngx_xyz_sigv4_ctx_t   ctx;
    ngx_xyz_sigv4_sink_t  s;

    if (ngx_xyz_sigv4_prepare(r, &ctx) != 0
        || ngx_xyz_sigv4_sign(&ctx, sig) != 0)
    {
        return -1;
    }

    memset(&s, 0, sizeof(ngx_xyz_sigv4_sink_t));
    s.buf = out;
    s.size = size;

    ngx_xyz_sigv4_put_str(&s, NGX_XYZ_SIGV4_ALGORITHM " Credential=");
    ngx_xyz_sigv4_put_str(&s, r->access_key);
    ngx_xyz_sigv4_put_str(&s, "/");
    ngx_xyz_sigv4_put(&s, r->amz_date, 8);
    ngx_xyz_sigv4_put_str(&s, "/");
    ngx_xyz_sigv4_put_str(&s, r->region);
    ngx_xyz_sigv4_put_str(&s, "/");
    ngx_xyz_sigv4_put_str(&s, r->service);
    ngx_xyz_sigv4_put_str(&s, "/" NGX_XYZ_SIGV4_TERMINATOR
                              ", SignedHeaders=");
    ngx_xyz_sigv4_signed_headers(&ctx, &s);
    ngx_xyz_sigv4_put_str(&s, ", Signature=");
    ngx_xyz_sigv4_put_str(&s, sig);

    return ngx_xyz_sigv4_finish(&s);
}


int
ngx_xyz_sigv4_canonical_request(const ngx_xyz_sigv4_request_t *r, char *out,
    size_t size)
{
    ngx_xyz_sigv4_ctx_t   ctx;
    ngx_xyz_sigv4_sink_t  s;

    if (ngx_xyz_sigv4_prepare(r, &ctx) != 0) {
        return -1;
    }

    memset(&s, 0, sizeof(ngx_xyz_sigv4_sink_t));
    s.buf = out;
    s.size = size;

    ngx_xyz_sigv4_canonical(&ctx, &s);

    return ngx_xyz_sigv4_finish(&s);
}


int
ngx_xyz_sigv4_string_to_sign(const ngx_xyz_sigv4_request_t *r, char *out,
    size_t size)
{
    ngx_xyz_sigv4_ctx_t  ctx;

    if (ngx_xyz_sigv4_prepare(r, &ctx) != 0) {
        return -1;
    }

    return ngx_xyz_sigv4_sts(&ctx, out, size);
}


int
ngx_xyz_sigv4_signature(const ngx_xyz_sigv4_request_t *r, char *out)
{
    ngx_xyz_sigv4_ctx_t  ctx;

    if (ngx_xyz_sigv4_prepare(r, &ctx) != 0) {
        return -1;
    }

    return ngx_xyz_sigv4_sign(&ctx, out);
}


int
ngx_xyz_sigv4_amz_date(time_t t, char *out)
{
    long long  days, secs, z, era, doe, yoe, doy, mp, y, m, d;

    if (t < 0) {
        return -1;
    }

    days = (long long) t / 86400;
    secs = (long long) t % 86400;

    /* civil_from_days (H. Hinnant): no gmtime(), no time zone, no locale */

    z = days + 719468;
    era = z / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    if (y > 9999) {
        return -1;
    }

    ngx_xyz_sigv4_digits(out, y, 4);
    ngx_xyz_sigv4_digits(out + 4, m, 2);
    ngx_xyz_sigv4_digits(out + 6, d, 2);
    out[8] = 'T';
    ngx_xyz_sigv4_digits(out + 9, secs / 3600, 2);
    ngx_xyz_sigv4_digits(out + 11, secs / 60 % 60, 2);
    ngx_xyz_sigv4_digits(out + 13, secs % 60, 2);
    out[15] = 'Z';
    out[16] = '\0';

    return 0;
}


int
ngx_xyz_sigv4_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1) {
        return -1;
    }

    ngx_xyz_sigv4_hex(md, n, out);

    return 0;
}


int
ngx_xyz_sigv4_uri_encode(const char *s, size_t len, char *out, size_t size)
{
    ngx_xyz_sigv4_sink_t  sink;

    memset(&sink, 0, sizeof(ngx_xyz_sigv4_sink_t));
    sink.buf = out;
    sink.size = size;

    ngx_xyz_sigv4_put_encoded(&sink, s, len, 0, 0);

    return ngx_xyz_sigv4_finish(&sink);
}


static int
ngx_xyz_sigv4_prepare(const ngx_xyz_sigv4_request_t *r,
    ngx_xyz_sigv4_ctx_t *ctx)
{
    size_t                         i, j;
    int                            host;
    const ngx_xyz_sigv4_header_t  *h;

    if (ngx_xyz_sigv4_check(r) != 0) {
        return -1;
    }

    ctx->r = r;
    ctx->nhdrs = 0;
    ctx->path = (r->path && r->path[0]) ? r->path : "/";
    ctx->query = r->query ? r->query : "";

    if (r->payload_hash) {
        ctx->payload_hash = r->payload_hash;

    } else {
        if (ngx_xyz_sigv4_sha256_hex(r->payload ? r->payload
                                                : (const unsigned char *) "",
                                     r->payload_len, ctx->payload_hex)
            != 0)
        {
            return -1;
        }

        ctx->payload_hash = ctx->payload_hex;
    }

    host = 0;

    for (i = 0; i < r->nheaders; i++) {
        h = &r->headers[i];

        if (h->name == NULL || h->value == NULL) {
            return -1;
        }

        for (j = 0; ngx_xyz_sigv4_reserved[j]; j++) {
            if (ngx_xyz_sigv4_cmp_lower(h->name, strlen(h->name),
                                        ngx_xyz_sigv4_reserved[j],
                                        strlen(ngx_xyz_sigv4_reserved[j]))
                == 0)
            {
                return -1;
            }
        }

        if (ngx_xyz_sigv4_cmp_lower(h->name, strlen(h->name), "host", 4)
            == 0)
        {
            host = 1;
        }

        if (ngx_xyz_sigv4_add_header(ctx, h->name, h->value) != 0) {
            return -1;
        }
    }

    /* SigV4 requires the host header to be signed */

    if (!host) {
        return -1;
    }

    if (ngx_xyz_sigv4_add_header(ctx, "x-amz-date", r->amz_date) != 0) {
        return -1;
    }

    if (r->session_token
        && ngx_xyz_sigv4_add_header(ctx, "x-amz-security-token",
                                    r->session_token)
           != 0)
    {
        return -1;
    }

    if (r->sign_content_sha256
        && ngx_xyz_sigv4_add_header(ctx, "x-amz-content-sha256",
                                    ctx->payload_hash)
           != 0)
    {
        return -1;
    }

    ngx_xyz_sigv4_sort_headers(ctx);

    return 0;
}


static int
ngx_xyz_sigv4_check(const ngx_xyz_sigv4_request_t *r)
{
    size_t       i, n;
    const char  *p;

    if (r->method == NULL || r->method[0] == '\0') {
        return -1;
    }

    for (p = r->method; *p; p++) {
        if (!ngx_xyz_sigv4_tchar((unsigned char) *p)) {
            return -1;
        }
    }

    p = r->amz_date;

    if (p == NULL || strlen(p) != NGX_XYZ_SIGV4_DATE_LEN
        || p[8] != 'T' || p[15] != 'Z')
    {
        return -1;
    }

    for (i = 0; i < NGX_XYZ_SIGV4_DATE_LEN; i++) {
        if (i != 8 && i != 15 && (p[i] < '0' || p[i] > '9')) {
            return -1;
        }
    }

    /* these go into the credential scope, where "/" separates them */

    if (r->region == NULL || r->service == NULL || r->access_key == NULL
        || r->secret_key == NULL)
    {
        return -1;
    }

    n = strlen(r->region);

    if (n == 0 || n > NGX_XYZ_SIGV4_MAX_NAME
        || strcspn(r->region, "/ \t\r\n,") != n)
    {
        return -1;
    }

    n = strlen(r->service);

    if (n == 0 || n > NGX_XYZ_SIGV4_MAX_NAME
        || strcspn(r->service, "/ \t\r\n,") != n)
    {
        return -1;
    }

    n = strlen(r->access_key);

    if (n == 0 || n > NGX_XYZ_SIGV4_MAX_SECRET
        || strcspn(r->access_key, "/ \t\r\n,") != n)
    {
        return -1;
    }

    n = strlen(r->secret_key);

    if (n == 0 || n > NGX_XYZ_SIGV4_MAX_SECRET) {
        return -1;
    }

    if (r->payload_hash
        && (r->payload_hash[0] == '\0'
            || strcspn(r->payload_hash, " \t\r\n")
               != strlen(r->payload_hash)))
    {
        return -1;
    }

    if ((r->nheaders && r->headers == NULL)
        || (r->payload_len && r->payload == NULL))
    {
        return -1;
    }

    return 0;
}


static int
ngx_xyz_sigv4_add_header(ngx_xyz_sigv4_ctx_t *ctx, const char *name,
    const char *value)
{
    size_t                i, n;
    ngx_xyz_sigv4_hdr_t  *h;

    if (ctx->nhdrs == NGX_XYZ_SIGV4_MAX_HEADERS) {
        return -1;
    }

    n = strlen(name);

    if (n == 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (!ngx_xyz_sigv4_tchar((unsigned char) name[i])) {
            return -1;
        }
    }

    h = &ctx->hdrs[ctx->nhdrs++];
    h->name = name;
    h->name_len = n;
    h->value = value;

    return 0;
}


static void
ngx_xyz_sigv4_sort_headers(ngx_xyz_sigv4_ctx_t *ctx)
{
    size_t               i, j;
    ngx_xyz_sigv4_hdr_t  h;

    /*
     * Insertion sort: stable, so that the values of a repeated header keep
     * the order in which they were given, as the specification wants.
     */

    for (i = 1; i < ctx->nhdrs; i++) {
        h = ctx->hdrs[i];

        for (j = i;
             j > 0 && ngx_xyz_sigv4_cmp_lower(ctx->hdrs[j - 1].name,
                                              ctx->hdrs[j - 1].name_len,
                                              h.name, h.name_len)
                      > 0;
             j--)
        {
            ctx->hdrs[j] = ctx->hdrs[j - 1];
        }

        ctx->hdrs[j] = h;
    }
}


static void
ngx_xyz_sigv4_canonical(ngx_xyz_sigv4_ctx_t *ctx, ngx_xyz_sigv4_sink_t *s)
{
    size_t                i;
    ngx_xyz_sigv4_hdr_t  *h;

    ngx_xyz_sigv4_put_str(s, ctx->r->method);
    ngx_xyz_sigv4_put_str(s, "\n");
    ngx_xyz_sigv4_canonical_path(ctx, s);
    ngx_xyz_sigv4_put_str(s, "\n");
    ngx_xyz_sigv4_canonical_query(ctx, s);
    ngx_xyz_sigv4_put_str(s, "\n");

    /* a repeated header becomes one line, its values joined by commas */

    for (i = 0; i < ctx->nhdrs; i++) {
        h = &ctx->hdrs[i];

        if (i > 0
            && ngx_xyz_sigv4_cmp_lower(ctx->hdrs[i - 1].name,
                                       ctx->hdrs[i - 1].name_len,
                                       h->name, h->name_len)
               == 0)
        {
            ngx_xyz_sigv4_put_str(s, ",");

        } else {
            if (i > 0) {
                ngx_xyz_sigv4_put_str(s, "\n");
            }

            ngx_xyz_sigv4_put_lower(s, h->name, h->name_len);
            ngx_xyz_sigv4_put_str(s, ":");
        }

        ngx_xyz_sigv4_put_value(s, h->value);
    }

    ngx_xyz_sigv4_put_str(s, "\n\n");
    ngx_xyz_sigv4_signed_headers(ctx, s);
    ngx_xyz_sigv4_put_str(s, "\n");
    ngx_xyz_sigv4_put_str(s, ctx->payload_hash);
}


static void
ngx_xyz_sigv4_canonical_path(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s)
{
    size_t       i, n, nseg;
    int          dir;
    const char  *p, *seg;
    struct {
        const char  *p;
        size_t       n;
    }            segs[NGX_XYZ_SIGV4_MAX_SEGMENTS];

    p = ctx->path;

    if (ctx->r->no_normalize) {
        if (p[0] != '/') {
            ngx_xyz_sigv4_put_str(s, "/");
        }

        ngx_xyz_sigv4_put_encoded(s, p, strlen(p), 0, 1);
        return;
    }

    /*
     * RFC 3986 dot-segment removal, plus the collapsing of empty segments
     * that SigV4 does for every service but S3: "//a//" signs as "/a/".
     * The path ends with a slash if it did, or if it ended in "." or "..".
     */

    nseg = 0;
    dir = 0;

    while (*p) {
        while (*p == '/') {
            p++;
        }

        seg = p;
        n = strcspn(p, "/");
        p += n;
        dir = (*p == '/');

        if (n == 0) {
            dir = 1;
            continue;
        }

        if (n == 1 && seg[0] == '.') {
            dir = 1;
            continue;
        }

        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (nseg) {
                nseg--;
            }

            dir = 1;
            continue;
        }

        if (nseg == NGX_XYZ_SIGV4_MAX_SEGMENTS) {
            s->failed = 1;
            return;
        }

        segs[nseg].p = seg;
        segs[nseg].n = n;
        nseg++;
    }

    if (nseg == 0) {
        ngx_xyz_sigv4_put_str(s, "/");
        return;
    }

    for (i = 0; i < nseg; i++) {
        ngx_xyz_sigv4_put_str(s, "/");
        ngx_xyz_sigv4_put_encoded(s, segs[i].p, segs[i].n, 0, 0);
    }

    if (dir) {
        ngx_xyz_sigv4_put_str(s, "/");
    }
}


static void
ngx_xyz_sigv4_canonical_query(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s)
{
    size_t                 i, j, n, nparams;
    const char            *p, *eq;
    ngx_xyz_sigv4_param_t  params[NGX_XYZ_SIGV4_MAX_PARAMS], t;

    nparams = 0;
    p = ctx->query;

    while (*p) {
        n = strcspn(p, "&");

        if (n == 0) {
            p++;
            continue;
        }

        if (nparams == NGX_XYZ_SIGV4_MAX_PARAMS) {
            s->failed = 1;
            return;
        }

        /* a parameter without "=" signs as one with an empty value */

        eq = memchr(p, '=', n);

        t.key = p;
        t.key_len = eq ? (size_t) (eq - p) : n;
        t.value = eq ? eq + 1 : p + n;
        t.value_len = eq ? n - t.key_len - 1 : 0;

        /* sorted by encoded name, then by encoded value */

        for (j = nparams;
             j > 0
             && (ngx_xyz_sigv4_cmp_encoded(params[j - 1].key,
                                           params[j - 1].key_len,
                                           t.key, t.key_len) > 0
                 || (ngx_xyz_sigv4_cmp_encoded(params[j - 1].key,
                                               params[j - 1].key_len,
                                               t.key, t.key_len) == 0
                     && ngx_xyz_sigv4_cmp_encoded(params[j - 1].value,
                                                  params[j - 1].value_len,
                                                  t.value, t.value_len)
                        > 0));
             j--)
        {
            params[j] = params[j - 1];
        }

        params[j] = t;
        nparams++;

        p += n;
    }

    for (i = 0; i < nparams; i++) {
        if (i > 0) {
            ngx_xyz_sigv4_put_str(s, "&");
        }

        ngx_xyz_sigv4_put_encoded(s, params[i].key, params[i].key_len, 1, 0);
        ngx_xyz_sigv4_put_str(s, "=");
        ngx_xyz_sigv4_put_encoded(s, params[i].value, params[i].value_len,
                                  1, 0);
    }
}


static void
ngx_xyz_sigv4_signed_headers(ngx_xyz_sigv4_ctx_t *ctx,
    ngx_xyz_sigv4_sink_t *s)
{
    size_t                i;
    ngx_xyz_sigv4_hdr_t  *h;

    for (i = 0; i < ctx->nhdrs; i++) {
        h = &ctx->hdrs[i];

        if (i > 0) {
            if (ngx_xyz_sigv4_cmp_lower(ctx->hdrs[i - 1].name,
                                        ctx->hdrs[i - 1].name_len,
                                        h->name, h->name_len)
                == 0)
            {
                continue;
            }

            ngx_xyz_sigv4_put_str(s, ";");
        }

        ngx_xyz_sigv4_put_lower(s, h->name, h->name_len);
    }
}


static int
ngx_xyz_sigv4_sts(ngx_xyz_sigv4_ctx_t *ctx, char *out, size_t size)
{
    unsigned int          n;
    unsigned char         md[EVP_MAX_MD_SIZE];
    char                  hex[NGX_XYZ_SIGV4_HEX_LEN + 1];
    ngx_xyz_sigv4_sink_t  s;

    memset(&s, 0, sizeof(ngx_xyz_sigv4_sink_t));

    s.md = EVP_MD_CTX_new();

    if (s.md == NULL) {
        return -1;
    }

    if (EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s.md);
        return -1;
    }

    ngx_xyz_sigv4_canonical(ctx, &s);

    if (s.failed || EVP_DigestFinal_ex(s.md, md, &n) != 1) {
        EVP_MD_CTX_free(s.md);
        return -1;
    }

    EVP_MD_CTX_free(s.md);

    ngx_xyz_sigv4_hex(md, n, hex);

    memset(&s, 0, sizeof(ngx_xyz_sigv4_sink_t));
    s.buf = out;
    s.size = size;

    ngx_xyz_sigv4_put_str(&s, NGX_XYZ_SIGV4_ALGORITHM "\n");
    ngx_xyz_sigv4_put_str(&s, ctx->r->amz_date);
    ngx_xyz_sigv4_put_str(&s, "\n");
    ngx_xyz_sigv4_put(&s, ctx->r->amz_date, 8);
    ngx_xyz_sigv4_put_str(&s, "/");
    ngx_xyz_sigv4_put_str(&s, ctx->r->region);
    ngx_xyz_sigv4_put_str(&s, "/");
    ngx_xyz_sigv4_put_str(&s, ctx->r->service);
    ngx_xyz_sigv4_put_str(&s, "/" NGX_XYZ_SIGV4_TERMINATOR "\n");
    ngx_xyz_sigv4_put_str(&s, hex);

    return ngx_xyz_sigv4_finish(&s);
}


static int
ngx_xyz_sigv4_sign(ngx_xyz_sigv4_ctx_t *ctx, char *out)
{
    int                             rc, len;
    size_t                          n;
    char                            sts[NGX_XYZ_SIGV4_STS_MAX];
    unsigned char                   key[4 + NGX_XYZ_SIGV4_MAX_SECRET];
    unsigned char                   k[32], sig[32];
    const ngx_xyz_sigv4_request_t  *r;

    r = ctx->r;

    len = ngx_xyz_sigv4_sts(ctx, sts, sizeof(sts));

    if (len < 0) {
        return -1;
    }

    /* the signing key: an HMAC chain over the credential scope */

    n = strlen(r->secret_key);
    memcpy(key, "AWS4", 4);
    memcpy(key + 4, r->secret_key, n);

    rc = ngx_xyz_sigv4_hmac(key, 4 + n, r->amz_date, 8, k);

    if (rc == 0) {
        rc = ngx_xyz_sigv4_hmac(k, 32, r->region, strlen(r->region), k);
    }

    if (rc == 0) {
        rc = ngx_xyz_sigv4_hmac(k, 32, r->service, strlen(r->service), k);
    }

    if (rc == 0) {
        rc = ngx_xyz_sigv4_hmac(k, 32, NGX_XYZ_SIGV4_TERMINATOR,
                                sizeof(NGX_XYZ_SIGV4_TERMINATOR) - 1, k);
    }

    if (rc == 0) {
        rc = ngx_xyz_sigv4_hmac(k, 32, sts, (size_t) len, sig);
    }

    /* the key and its derivatives are as good as the secret for a day */

    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(k, sizeof(k));

    if (rc != 0) {
        return -1;
    }

    ngx_xyz_sigv4_hex(sig, sizeof(sig), out);

    return 0;
}


static int
ngx_xyz_sigv4_hmac(const unsigned char *key, size_t key_len,
    const char *data, size_t len, unsigned char *out)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    /* out may be the key itself: compute aside, then copy */

    if (HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) data,
             len, md, &n)
        == NULL || n != 32)
    {
        return -1;
    }

    memcpy(out, md, 32);
    OPENSSL_cleanse(md, sizeof(md));

    return 0;
}


static void
ngx_xyz_sigv4_put(ngx_xyz_sigv4_sink_t *s, const char *p, size_t n)
{
    if (s->failed) {
        return;
    }

    if (s->md && EVP_DigestUpdate(s->md, p, n) != 1) {
        s->failed = 1;
        return;
    }

    if (s->buf) {
        /* room is kept for the terminating NUL */

        if (n >= s->size - s->len) {
            s->failed = 1;
            return;
        }

        memcpy(s->buf + s->len, p, n);
    }

    s->len += n;
}


static void
ngx_xyz_sigv4_put_str(ngx_xyz_sigv4_sink_t *s, const char *p)
{
    ngx_xyz_sigv4_put(s, p, strlen(p));
}


static void
ngx_xyz_sigv4_put_lower(ngx_xyz_sigv4_sink_t *s, const char *p, size_t n)
{
    size_t  i, k;
    char    chunk[64];

    k = 0;

    for (i = 0; i < n; i++) {
        chunk[k++] = (p[i] >= 'A' && p[i] <= 'Z') ? (char) (p[i] | 0x20)
                                                  : p[i];

        if (k == sizeof(chunk)) {
            ngx_xyz_sigv4_put(s, chunk, k);
            k = 0;
        }
    }

    ngx_xyz_sigv4_put(s, chunk, k);
}


static void
ngx_xyz_sigv4_put_value(ngx_xyz_sigv4_sink_t *s, const char *p)
{
    int     space;
    size_t  k;
    char    chunk[64];

    /*
     * Leading and trailing white space dropped, inner runs made one space;
     * line breaks count as white space, so that a folded value signs as
     * its unfolded form.
     */

    k = 0;
    space = 0;

    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
        p++;
    }

    for ( /* void */ ; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            space = 1;
            continue;
        }

        if (k + 2 > sizeof(chunk)) {
            ngx_xyz_sigv4_put(s, chunk, k);
            k = 0;
        }

        if (space) {
            chunk[k++] = ' ';
            space = 0;
        }

        chunk[k++] = *p;
    }

    ngx_xyz_sigv4_put(s, chunk, k);
}


static void
ngx_xyz_sigv4_put_encoded(ngx_xyz_sigv4_sink_t *s, const char *p, size_t n,
    int decode, int keep_slash)
{
    int                   c;
    size_t                k;
    char                  chunk[64];
    ngx_xyz_sigv4_iter_t  it;

    ngx_xyz_sigv4_iter_init(&it, p, n, decode, keep_slash);
    k = 0;

    while ((c = ngx_xyz_sigv4_iter_next(&it)) != -1) {
        chunk[k++] = (char) c;

        if (k == sizeof(chunk)) {
            ngx_xyz_sigv4_put(s, chunk, k);
            k = 0;
        }
    }

    ngx_xyz_sigv4_put(s, chunk, k);
}


static int
ngx_xyz_sigv4_finish(ngx_xyz_sigv4_sink_t *s)
{
    if (s->failed || s->buf == NULL || s->len > INT_MAX) {
        return -1;
    }

    s->buf[s->len] = '\0';

    return (int) s->len;
}


static void
ngx_xyz_sigv4_iter_init(ngx_xyz_sigv4_iter_t *it, const char *p, size_t n,
    int decode, int keep_slash)
{
    it->p = (const unsigned char *) p;
    it->end = it->p + n;
    it->n = 0;
    it->i = 0;
    it->decode = decode ? 1 : 0;
    it->keep_slash = keep_slash ? 1 : 0;
}


static int
ngx_xyz_sigv4_iter_next(ngx_xyz_sigv4_iter_t *it)
{
    int  c, hi, lo;

    if (it->i < it->n) {
        return it->enc[it->i++];
    }

    if (it->p == it->end) {
        return -1;
    }

    c = *it->p++;

    /* a "%" not followed by two hex digits is a literal "%" */

    if (c == '%' && it->decode && it->end - it->p >= 2) {
        hi = ngx_xyz_sigv4_hexval(it->p[0]);
        lo = ngx_xyz_sigv4_hexval(it->p[1]);

        if (hi >= 0 && lo >= 0) {
            c = hi * 16 + lo;
            it->p += 2;
        }
    }

    if (ngx_xyz_sigv4_unreserved((unsigned char) c)
        || (c == '/' && it->keep_slash))
    {
        return c;
    }

    it->enc[0] = '%';
    it->enc[1] = (unsigned char) ngx_xyz_sigv4_hexdigits[c >> 4];
    it->enc[2] = (unsigned char) ngx_xyz_sigv4_hexdigits[c & 0x0f];
    it->n = 3;
    it->i = 1;

    return '%';
}


static int
ngx_xyz_sigv4_cmp_encoded(const char *a, size_t alen, const char *b,
    size_t blen)
{
    int                   ca, cb;
    ngx_xyz_sigv4_iter_t  ia, ib;

    ngx_xyz_sigv4_iter_init(&ia, a, alen, 1, 0);
    ngx_xyz_sigv4_iter_init(&ib, b, blen, 1, 0);

    do {
        ca = ngx_xyz_sigv4_iter_next(&ia);
        cb = ngx_xyz_sigv4_iter_next(&ib);
    } while (ca == cb && ca != -1);

    return ca - cb;
}


static int
ngx_xyz_sigv4_cmp_lower(const char *a, size_t alen, const char *b,
    size_t blen)
{
    size_t         i;
    unsigned char  ca, cb;

    for (i = 0; i < alen && i < blen; i++) {
        ca = (unsigned char) a[i];
        cb = (unsigned char) b[i];

        if (ca >= 'A' && ca <= 'Z') {
            ca |= 0x20;
        }

        if (cb >= 'A' && cb <= 'Z') {
            cb |= 0x20;
        }

        if (ca != cb) {
            return ca - cb;
        }
    }

    return (alen > blen) - (alen < blen);
}


static int
ngx_xyz_sigv4_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
           || c == '~';
}


static int
ngx_xyz_sigv4_tchar(unsigned char c)
{
    /* RFC 9110 token characters */

    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


static int
ngx_xyz_sigv4_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static void
ngx_xyz_sigv4_hex(const unsigned char *p, size_t n, char *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        out[2 * i] = ngx_xyz_sigv4_hexlower[p[i] >> 4];
        out[2 * i + 1] = ngx_xyz_sigv4_hexlower[p[i] & 0x0f];
    }

    out[2 * n] = '\0';
}


static void
ngx_xyz_sigv4_digits(char *out, long long v, int n)
{
    while (n--) {
        out[n] = (char) ('0' + v % 10);
        v /= 10;
    }
}
