
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yajl/yajl_tree.h>

#include "ngx_xyz_uri.h"
#include "ngx_xyz_aws_creds.h"


#define NGX_XYZ_AWS_TIME_MAX  64


static int ngx_xyz_aws_json_fields(yajl_val root, ngx_xyz_aws_creds_t *c,
    char *err, size_t err_size);
static yajl_val ngx_xyz_aws_json_get(yajl_val obj, const char *name);
static int ngx_xyz_aws_xml_element(const char *p, const char *end,
    const char *name, const char **vs, const char **ve);
static int ngx_xyz_aws_xml_leaf(const char *p, const char *end,
    const char *name, char *out, size_t size, size_t *n, char *err,
    size_t err_size);
static int ngx_xyz_aws_xml_decode(const char *s, const char *e, char *out,
    size_t size, size_t *n);
static int ngx_xyz_aws_set(char *dst, size_t max, const char *s, size_t n,
    const char *field, char *err, size_t err_size);
static int ngx_xyz_aws_printable(const char *s, size_t n);
static int ngx_xyz_aws_digits(const char *s, size_t n, int *v);
static int ngx_xyz_aws_fail(char *err, size_t err_size, const char *fmt,
    ...);


int
ngx_xyz_aws_creds_parse_json(const char *buf, size_t len,
    ngx_xyz_aws_creds_t *c, char *err, size_t err_size)
{
    int        rc;
    char      *copy;
    size_t     i;
    yajl_val   root;

    memset(c, 0, sizeof(ngx_xyz_aws_creds_t));

    if (len == 0 || len > NGX_XYZ_AWS_ANSWER_MAX) {
        return ngx_xyz_aws_fail(err, err_size, "credentials answer is empty "
                                "or larger than %d bytes",
                                NGX_XYZ_AWS_ANSWER_MAX);
    }

    /*
     * yajl hands strings back NUL-terminated: a raw or escaped NUL would cut
     * a value short without notice, so neither is accepted.
     */

    if (memchr(buf, '\0', len) != NULL) {
        return ngx_xyz_aws_fail(err, err_size,
                                "credentials answer holds a NUL byte");
    }

    for (i = 0; i + 6 <= len; i++) {
        if (buf[i] == '\\' && buf[i + 1] == 'u'
            && memcmp(buf + i + 2, "0000", 4) == 0)
        {
            return ngx_xyz_aws_fail(err, err_size,
                                    "credentials answer holds a NUL byte");
        }
    }

    /* yajl_tree_parse() wants a string: the answer need not be one */

    copy = malloc(len + 1);

    if (copy == NULL) {
        return ngx_xyz_aws_fail(err, err_size, "out of memory");
    }

    memcpy(copy, buf, len);
    copy[len] = '\0';

    root = yajl_tree_parse(copy, NULL, 0);

    OPENSSL_cleanse(copy, len);
    free(copy);

    if (root == NULL) {
        return ngx_xyz_aws_fail(err, err_size,
                                "credentials answer is not valid JSON");
    }

    if (!YAJL_IS_OBJECT(root)) {
        yajl_tree_free(root);
        return ngx_xyz_aws_fail(err, err_size,
                                "credentials answer is not a JSON object");
    }

    rc = ngx_xyz_aws_json_fields(root, c, err, err_size);

    yajl_tree_free(root);

    if (rc != 0) {
        OPENSSL_cleanse(c, sizeof(ngx_xyz_aws_creds_t));
    }

    return rc;
}


static int
ngx_xyz_aws_json_fields(yajl_val root, ngx_xyz_aws_creds_t *c, char *err,
    size_t err_size)
{
    size_t       i, n;
    yajl_val     v;
    const char  *s;

    static const struct {
        const char  *name;
        size_t       offset;
        size_t       max;
    }  fields[] = {
        { "AccessKeyId", offsetof(ngx_xyz_aws_creds_t, access_key),
          NGX_XYZ_AWS_KEY_MAX },
        { "SecretAccessKey", offsetof(ngx_xyz_aws_creds_t, secret_key),
          NGX_XYZ_AWS_KEY_MAX },
        { "Token", offsetof(ngx_xyz_aws_creds_t, session_token),
          NGX_XYZ_AWS_TOKEN_MAX },
        { NULL, 0, 0 }
    };

    /* the instance metadata style: "Code": "Success" when all is well */

    v = ngx_xyz_aws_json_get(root, "Code");

    if (v != NULL) {
        s = YAJL_GET_STRING(v);

        if (s == NULL || strcmp(s, "Success") != 0) {
            n = s ? strlen(s) : 0;

            if (n == 0 || n > 64 || !ngx_xyz_aws_printable(s, n)) {
                s = "(unprintable)";
            }

            return ngx_xyz_aws_fail(err, err_size, "credentials endpoint "
                                    "answered Code \"%s\"", s);
        }
    }

    for (i = 0; fields[i].name; i++) {
        v = ngx_xyz_aws_json_get(root, fields[i].name);

        if (v == NULL) {
            return ngx_xyz_aws_fail(err, err_size, "credentials answer "
                                    "lacks %s", fields[i].name);
        }

        s = YAJL_GET_STRING(v);

        if (s == NULL) {
            return ngx_xyz_aws_fail(err, err_size, "%s is not a string",
                                    fields[i].name);
        }

        if (ngx_xyz_aws_set((char *) c + fields[i].offset, fields[i].max, s,
                            strlen(s), fields[i].name, err, err_size)
            != 0)
        {
            return -1;
        }
    }

    v = ngx_xyz_aws_json_get(root, "Expiration");

    if (v == NULL) {
        return ngx_xyz_aws_fail(err, err_size,
                                "credentials answer lacks Expiration");
    }

    s = YAJL_GET_STRING(v);

    if (s == NULL
        || ngx_xyz_aws_time_parse(s, strlen(s), &c->expiration) != 0)
    {
        return ngx_xyz_aws_fail(err, err_size, "Expiration is not an "
                                "ISO 8601 time such as "
                                "\"2026-11-27T19:00:00Z\"");
    }

    return 0;
}


static yajl_val
ngx_xyz_aws_json_get(yajl_val obj, const char *name)
{
    size_t  i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], name) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


int
ngx_xyz_aws_creds_parse_sts_xml(const char *buf, size_t len,
    ngx_xyz_aws_creds_t *c, char *err, size_t err_size)
{
    char         code[65], when[NGX_XYZ_AWS_TIME_MAX];
    size_t       n;
    const char  *end, *cs, *ce, *es, *ee;

    memset(c, 0, sizeof(ngx_xyz_aws_creds_t));

    if (len == 0 || len > NGX_XYZ_AWS_ANSWER_MAX) {
        return ngx_xyz_aws_fail(err, err_size, "STS answer is empty or "
                                "larger than %d bytes",
                                NGX_XYZ_AWS_ANSWER_MAX);
    }

    end = buf + len;

    if (ngx_xyz_aws_xml_element(buf, end, "Credentials", &cs, &ce) != 0) {

        /* <ErrorResponse><Error><Type/><Code/><Message/></Error>.. */

        if (ngx_xyz_aws_xml_element(buf, end, "Error", &es, &ee) == 0
            && ngx_xyz_aws_xml_leaf(es, ee, "Code", code, sizeof(code), &n,
                                    NULL, 0)
               == 0
            && n > 0 && ngx_xyz_aws_printable(code, n))
        {
            return ngx_xyz_aws_fail(err, err_size, "STS answered error "
                                    "\"%s\"", code);
        }

        return ngx_xyz_aws_fail(err, err_size,
                                "STS answer holds no Credentials element");
    }

    if (ngx_xyz_aws_xml_leaf(cs, ce, "AccessKeyId", c->access_key,
                             sizeof(c->access_key), &n, err, err_size)
        != 0
        || ngx_xyz_aws_set(c->access_key, NGX_XYZ_AWS_KEY_MAX, c->access_key,
                           n, "AccessKeyId", err, err_size)
           != 0
        || ngx_xyz_aws_xml_leaf(cs, ce, "SecretAccessKey", c->secret_key,
                                sizeof(c->secret_key), &n, err, err_size)
           != 0
        || ngx_xyz_aws_set(c->secret_key, NGX_XYZ_AWS_KEY_MAX, c->secret_key,
                           n, "SecretAccessKey", err, err_size)
           != 0
        || ngx_xyz_aws_xml_leaf(cs, ce, "SessionToken", c->session_token,
                                sizeof(c->session_token), &n, err, err_size)
           != 0
        || ngx_xyz_aws_set(c->session_token, NGX_XYZ_AWS_TOKEN_MAX,
                           c->session_token, n, "SessionToken", err,
                           err_size)
           != 0)
    {
        OPENSSL_cleanse(c, sizeof(ngx_xyz_aws_creds_t));
        return -1;
    }

    if (ngx_xyz_aws_xml_leaf(cs, ce, "Expiration", when, sizeof(when), &n,
                             err, err_size)
        != 0)
    {
        OPENSSL_cleanse(c, sizeof(ngx_xyz_aws_creds_t));
        return -1;
    }

    if (ngx_xyz_aws_time_parse(when, n, &c->expiration) != 0) {
        OPENSSL_cleanse(c, sizeof(ngx_xyz_aws_creds_t));
        return ngx_xyz_aws_fail(err, err_size, "Expiration is not an "
                                "ISO 8601 time such as "
                                "\"2026-11-27T19:00:00Z\"");
    }

    return 0;
}


/*
 * Finds the first element called name between p and end, and gives the
 * bounds of its content.  Enough for the answers of STS, which are plain:
 * no namespace prefixes, no CDATA, no comments.
 */

static int
ngx_xyz_aws_xml_element(const char *p, const char *end, const char *name,
    const char **vs, const char **ve)
{
    size_t       nlen;
    const char  *q, *a, *gt;

    nlen = strlen(name);

    for (q = p; q < end; q++) {
        q = memchr(q, '<', end - q);

        if (q == NULL || (size_t) (end - q) < nlen + 2) {
            return -1;
        }

        if (memcmp(q + 1, name, nlen) != 0) {
            continue;
        }

        a = q + 1 + nlen;

        if (*a == '>') {
            *vs = a + 1;

        } else if (*a == '/' || *a == ' ' || *a == '\t' || *a == '\r'
                   || *a == '\n')
        {
            /* attributes, or an empty element */

            gt = memchr(a, '>', end - a);

            if (gt == NULL) {
                return -1;
            }

            if (gt[-1] == '/') {
                *vs = gt + 1;
                *ve = gt + 1;
                return 0;
            }

            *vs = gt + 1;

        } else {
            /* a longer name that starts with this one */
            continue;
        }

        for (a = *vs; a < end; a++) {
            a = memchr(a, '<', end - a);

            if (a == NULL || (size_t) (end - a) < nlen + 3) {
                return -1;
            }

            if (a[1] == '/' && memcmp(a + 2, name, nlen) == 0
                && a[2 + nlen] == '>')
            {
                *ve = a;
                return 0;
            }
        }

        return -1;
    }

    return -1;
}


static int
ngx_xyz_aws_xml_leaf(const char *p, const char *end, const char *name,
    char *out, size_t size, size_t *n, char *err, size_t err_size)
{
    const char  *vs, *ve;

    if (ngx_xyz_aws_xml_element(p, end, name, &vs, &ve) != 0) {
        return ngx_xyz_aws_fail(err, err_size, "STS answer lacks %s", name);
    }

    if (memchr(vs, '<', ve - vs) != NULL) {
        return ngx_xyz_aws_fail(err, err_size, "%s holds markup", name);
    }

    while (vs < ve && (*vs == ' ' || *vs == '\t' || *vs == '\r'
                       || *vs == '\n'))
    {
        vs++;
    }

    while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'
                       || ve[-1] == '\n'))
    {
        ve--;
    }

    if (ngx_xyz_aws_xml_decode(vs, ve, out, size, n) != 0) {
        return ngx_xyz_aws_fail(err, err_size, "%s is too long or holds an "
                                "unknown entity", name);
    }

    return 0;
}


static int
ngx_xyz_aws_xml_decode(const char *s, const char *e, char *out, size_t size,
    size_t *n)
{
    size_t       k, i;
    long         ch;
    const char  *semi;

    static const struct {
        const char  *name;
        size_t       len;
        char         ch;
    }  entities[] = {
        { "amp;", 4, '&' },
        { "lt;", 3, '<' },
        { "gt;", 3, '>' },
        { "quot;", 5, '"' },
        { "apos;", 5, '\'' },
        { NULL, 0, 0 }
    };

    k = 0;

    while (s < e) {
        if (k + 1 >= size) {
            return -1;
        }

        if (*s != '&') {
            out[k++] = *s++;
            continue;
        }

        s++;

        for (i = 0; entities[i].name; i++) {
            if ((size_t) (e - s) >= entities[i].len
                && memcmp(s, entities[i].name, entities[i].len) == 0)
            {
                break;
            }
        }

        if (entities[i].name) {
            out[k++] = entities[i].ch;
            s += entities[i].len;
            continue;
        }

        /* character references; the values accepted are ASCII anyway */

        semi = memchr(s, ';', e - s);

        if (semi == NULL || semi - s < 2 || semi - s > 8 || *s != '#') {
            return -1;
        }

        ch = 0;

        if (s[1] == 'x' || s[1] == 'X') {
            for (s += 2; s < semi; s++) {
                if (*s >= '0' && *s <= '9') {
                    ch = ch * 16 + (*s - '0');

                } else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f') {
                    ch = ch * 16 + ((*s | 0x20) - 'a' + 10);

                } else {
                    return -1;
                }
            }

        } else {
            for (s += 1; s < semi; s++) {
                if (*s < '0' || *s > '9') {
                    return -1;
                }

                ch = ch * 10 + (*s - '0');
            }
        }

        if (ch < 1 || ch > 0x7f) {
            return -1;
        }

        out[k++] = (char) ch;
        s = semi + 1;
    }

    out[k] = '\0';
    *n = k;

    return 0;
}


int
ngx_xyz_aws_time_parse(const char *s, size_t len, time_t *t)
{
    int        year, mon, day, hour, min, sec, oh, om, mdays;
    size_t     i;
    long long  y, m, era, yoe, doy, doe, days, v, off;

    static const int  month_days[] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    if (len < 20
        || ngx_xyz_aws_digits(s, 4, &year) != 0 || s[4] != '-'
        || ngx_xyz_aws_digits(s + 5, 2, &mon) != 0 || s[7] != '-'
        || ngx_xyz_aws_digits(s + 8, 2, &day) != 0 || s[10] != 'T'
        || ngx_xyz_aws_digits(s + 11, 2, &hour) != 0 || s[13] != ':'
        || ngx_xyz_aws_digits(s + 14, 2, &min) != 0 || s[16] != ':'
        || ngx_xyz_aws_digits(s + 17, 2, &sec) != 0)
    {
        return -1;
    }

    i = 19;

    /* a fraction of a second is dropped */

    if (s[i] == '.') {
        i++;

        if (i == len || s[i] < '0' || s[i] > '9') {
            return -1;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (len - i == 1 && s[i] == 'Z') {
        off = 0;

    } else if (len - i == 6 && (s[i] == '+' || s[i] == '-')
               && ngx_xyz_aws_digits(s + i + 1, 2, &oh) == 0
               && s[i + 3] == ':'
               && ngx_xyz_aws_digits(s + i + 4, 2, &om) == 0
               && oh <= 23 && om <= 59)
    {
        off = (oh * 3600LL + om * 60LL) * (s[i] == '-' ? -1 : 1);

    } else {
        return -1;
    }

    if (year < 1970 || mon < 1 || mon > 12 || hour > 23 || min > 59
        || sec > 60)
    {
        return -1;
    }

    mdays = month_days[mon - 1];

    if (mon == 2
        && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    {
        mdays = 29;
    }

    if (day < 1 || day > mdays) {
        return -1;
    }

    /* days_from_civil (H. Hinnant): no timegm(), no time zone, no locale */

    y = year - (mon <= 2);
    m = mon;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;

    v = days * 86400 + hour * 3600LL + min * 60LL + sec - off;

    if (v < 0 || (long long) (time_t) v != v) {
        return -1;
    }

    *t = (time_t) v;

    return 0;
}


int
ngx_xyz_aws_sts_web_identity_query(const char *role_arn,
    const char *session_name, const char *token, size_t token_len,
    unsigned duration, char *out, size_t size)
{
    int     n;
    size_t  len, i, k;

    static const char  allowed[] = "+=,.@_-";

    if (role_arn == NULL || session_name == NULL || token == NULL
        || out == NULL)
    {
        return -1;
    }

    len = strlen(role_arn);

    if (len < 4 || len > 2048 || strncmp(role_arn, "arn:", 4) != 0
        || !ngx_xyz_aws_printable(role_arn, len))
    {
        return -1;
    }

    len = strlen(session_name);

    if (len < 2 || len > 64) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!((session_name[i] >= 'A' && session_name[i] <= 'Z')
              || (session_name[i] >= 'a' && session_name[i] <= 'z')
              || (session_name[i] >= '0' && session_name[i] <= '9')
              || strchr(allowed, session_name[i]) != NULL))
        {
            return -1;
        }
    }

    while (token_len && (*token == ' ' || *token == '\t' || *token == '\r'
                         || *token == '\n'))
    {
        token++;
        token_len--;
    }

    while (token_len && (token[token_len - 1] == ' '
                         || token[token_len - 1] == '\t'
                         || token[token_len - 1] == '\r'
                         || token[token_len - 1] == '\n'))
    {
        token_len--;
    }

    if (token_len == 0) {
        return -1;
    }

    if (duration != 0 && (duration < 900 || duration > 43200)) {
        return -1;
    }

    /* parameters in name order, which is how SDKs send them too */

    if (duration) {
        n = snprintf(out, size, "Action=AssumeRoleWithWebIdentity"
                     "&DurationSeconds=%u&RoleArn=", duration);
    } else {
        n = snprintf(out, size, "Action=AssumeRoleWithWebIdentity"
                     "&RoleArn=");
    }

    if (n < 0 || (size_t) n >= size) {
        return -1;
    }

    k = (size_t) n;

    n = ngx_xyz_uri_encode(role_arn, strlen(role_arn), out + k, size - k);
    if (n < 0) {
        return -1;
    }

    k += (size_t) n;

    n = snprintf(out + k, size - k, "&RoleSessionName=%s"
                 "&Version=2011-06-15&WebIdentityToken=", session_name);

    if (n < 0 || (size_t) n >= size - k) {
        return -1;
    }

    k += (size_t) n;

    n = ngx_xyz_uri_encode(token, token_len, out + k, size - k);

    if (n < 0) {
        return -1;
    }

    return (int) (k + (size_t) n);
}


static int
ngx_xyz_aws_set(char *dst, size_t max, const char *s, size_t n,
    const char *field, char *err, size_t err_size)
{
    if (n == 0) {
        return ngx_xyz_aws_fail(err, err_size, "%s is empty", field);
    }

    if (n > max) {
        return ngx_xyz_aws_fail(err, err_size, "%s is longer than %zu "
                                "bytes", field, max);
    }

    /* these values go into request headers: no room for CR, LF or NUL */

    if (!ngx_xyz_aws_printable(s, n)) {
        return ngx_xyz_aws_fail(err, err_size, "%s holds characters other "
                                "than printable ASCII", field);
    }

    memmove(dst, s, n);
    dst[n] = '\0';

    return 0;
}


static int
ngx_xyz_aws_printable(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x21 || (unsigned char) s[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


static int
ngx_xyz_aws_digits(const char *s, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


static int
ngx_xyz_aws_fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list  args;

    if (err && err_size) {
        va_start(args, fmt);
        vsnprintf(err, err_size, fmt, args);
        va_end(args);
    }

    return -1;
}
