
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <stdio.h>
#include <string.h>

#include "ngx_xyz_cookie.h"


static int ngx_xyz_cookie_token_char(unsigned char ch);
static int ngx_xyz_cookie_octet(unsigned char ch);


int
ngx_xyz_cookie_get(const char *header, size_t len, const char *name,
    const char **value)
{
    size_t       nlen;
    const char  *p, *end, *pair, *eq, *semi, *v, *e;

    if (header == NULL || name == NULL) {
        return -1;
    }

    nlen = strlen(name);

    if (nlen == 0) {
        return -1;
    }

    p = header;
    end = header + len;

    while (p < end) {
        semi = memchr(p, ';', end - p);
        if (semi == NULL) {
            semi = end;
        }

        pair = p;
        p = semi + 1;

        while (pair < semi && (*pair == ' ' || *pair == '\t')) {
            pair++;
        }

        eq = memchr(pair, '=', semi - pair);

        if (eq == NULL) {
            continue;
        }

        /* the name, blanks before "=" tolerated */

        e = eq;

        while (e > pair && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        if ((size_t) (e - pair) != nlen || memcmp(pair, name, nlen) != 0) {
            continue;
        }

        v = eq + 1;
        e = semi;

        while (v < e && (*v == ' ' || *v == '\t')) {
            v++;
        }

        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        if (e - v >= 2 && *v == '"' && e[-1] == '"') {
            v++;
            e--;
        }

        *value = v;

        return (int) (e - v);
    }

    return -1;
}


int
ngx_xyz_cookie_count(const char *header, size_t len, const char *name,
    const char **value, size_t *vlen)
{
    int          n, count;
    const char  *p, *end, *v, *semi;

    if (header == NULL) {
        return 0;
    }

    count = 0;
    p = header;
    end = header + len;

    while (p < end) {
        n = ngx_xyz_cookie_get(p, end - p, name, &v);
        if (n < 0) {
            break;
        }

        if (count++ == 0) {
            *value = v;
            *vlen = (size_t) n;
        }

        /* on after the pair found: its value holds no ';' */

        semi = memchr(v + n, ';', end - (v + n));
        if (semi == NULL) {
            break;
        }

        p = semi + 1;
    }

    return count;
}


int
ngx_xyz_cookie_set(char *out, size_t size, const char *name,
    const char *value, long long max_age, int secure, const char *same_site)
{
    int     n;
    char   *p, *last;
    size_t  i, len;

    if (out == NULL || size == 0 || name == NULL || name[0] == '\0'
        || max_age < NGX_XYZ_COOKIE_SESSION)
    {
        return -1;
    }

    len = strlen(name);

    for (i = 0; i < len; i++) {
        if (!ngx_xyz_cookie_token_char((unsigned char) name[i])) {
            return -1;
        }
    }

    /* the cookie prefixes (draft-ietf-httpbis-rfc6265bis, 4.1.3) */

    if (!secure
        && (strncmp(name, "__Host-", 7) == 0
            || strncmp(name, "__Secure-", 9) == 0))
    {
        return -1;
    }

    if (max_age == NGX_XYZ_COOKIE_DELETE || value == NULL) {
        value = "";
    }

    len = strlen(value);

    for (i = 0; i < len; i++) {
        if (!ngx_xyz_cookie_octet((unsigned char) value[i])) {
            return -1;
        }
    }

    if (same_site != NULL
        && strcmp(same_site, "Strict") != 0
        && strcmp(same_site, "Lax") != 0
        && (strcmp(same_site, "None") != 0 || !secure))
    {
        return -1;
    }

    p = out;
    last = out + size;

    n = snprintf(p, last - p, "%s=%s; Path=/", name, value);
    if (n < 0 || n >= last - p) {
        return -1;
    }

    p += n;

    if (max_age == NGX_XYZ_COOKIE_DELETE) {
        n = snprintf(p, last - p,
                     "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");

    } else if (max_age > 0) {
        n = snprintf(p, last - p, "; Max-Age=%lld", max_age);

    } else {
        n = 0;
    }

    if (n < 0 || n >= last - p) {
        return -1;
    }

    p += n;

    n = snprintf(p, last - p, "; HttpOnly%s%s%s",
                 secure ? "; Secure" : "",
                 same_site ? "; SameSite=" : "",
                 same_site ? same_site : "");

    if (n < 0 || n >= last - p) {
        return -1;
    }

    p += n;

    return (int) (p - out);
}


/* RFC 6265, 4.1.1: token (RFC 2616, 2.2) */

static int
ngx_xyz_cookie_token_char(unsigned char ch)
{
    if (ch <= 0x20 || ch >= 0x7f) {
        return 0;
    }

    return strchr("()<>@,;:\\\"/[]?={}", ch) == NULL;
}


/* RFC 6265, 4.1.1: cookie-octet */

static int
ngx_xyz_cookie_octet(unsigned char ch)
{
    return ch == 0x21
           || (ch >= 0x23 && ch <= 0x2b)
           || (ch >= 0x2d && ch <= 0x3a)
           || (ch >= 0x3c && ch <= 0x5b)
           || (ch >= 0x5d && ch <= 0x7e);
}
