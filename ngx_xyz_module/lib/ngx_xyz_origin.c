
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * Origins as RFC 6454 defines them (scheme, host, port), read from the
 * Origin header (RFC 6454, 7) or from the URL in Referer.
 */


#include <stdio.h>
#include <string.h>

#include "ngx_xyz_origin.h"


#define NGX_XYZ_ORIGIN_SCHEME_MAX  32
#define NGX_XYZ_ORIGIN_HOST_MAX    253


static int ngx_xyz_origin_parse(const char *url, size_t len, char *out,
    size_t size, size_t *rest);
static int ngx_xyz_origin_scheme(const char *url, size_t len, char *scheme,
    size_t *pos);
static int ngx_xyz_origin_authority(const char *url, size_t len, size_t i,
    size_t *end);
static int ngx_xyz_origin_host(const char *url, size_t end, size_t *pos,
    char *host);
static int ngx_xyz_origin_port(const char *url, size_t end, size_t i,
    unsigned *port);
static int ngx_xyz_origin_write(const char *scheme, const char *host,
    unsigned port, char *out, size_t size);
static int ngx_xyz_origin_host_char(unsigned char ch);
static int ngx_xyz_origin_ipv6_char(unsigned char ch);
static unsigned char ngx_xyz_origin_lower(unsigned char ch);


int
ngx_xyz_origin_of(const char *url, size_t len, char *out, size_t size)
{
    size_t  rest;

    return ngx_xyz_origin_parse(url, len, out, size, &rest);
}


int
ngx_xyz_origin_allowed(const char *origin, size_t origin_len,
    const char *referer, size_t referer_len, const char *const *allowed,
    size_t nallowed, int allow_absent)
{
    int     n;
    char    have[NGX_XYZ_ORIGIN_MAX + 1], want[NGX_XYZ_ORIGIN_MAX + 1];
    size_t  i, rest;

    if (origin != NULL && origin_len > 0) {

        /* an Origin header is an origin and nothing more (RFC 6454, 7.1);
         * a Referer's origin is not looked at when it is wrong */

        if (ngx_xyz_origin_parse(origin, origin_len, have, sizeof(have),
                                 &rest)
            < 0 || rest != origin_len)
        {
            return 0;
        }

    } else if (referer != NULL && referer_len > 0) {

        if (ngx_xyz_origin_of(referer, referer_len, have, sizeof(have)) < 0) {
            return 0;
        }

    } else {
        return allow_absent ? 1 : 0;
    }

    for (i = 0; i < nallowed; i++) {
        if (allowed[i] == NULL) {
            continue;
        }

        n = ngx_xyz_origin_of(allowed[i], strlen(allowed[i]), want,
                              sizeof(want));

        if (n >= 0 && strcmp(have, want) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Parses "scheme://authority[/?#...]" and writes the origin; *rest is
 * where the authority ends, so that a caller can tell a bare origin from
 * a URL with more after it.
 */

static int
ngx_xyz_origin_parse(const char *url, size_t len, char *out, size_t size,
    size_t *rest)
{
    char      scheme[NGX_XYZ_ORIGIN_SCHEME_MAX + 1];
    char      host[NGX_XYZ_ORIGIN_HOST_MAX + 1];
    size_t    i, end;
    unsigned  port;

    if (url == NULL) {
        return -1;
    }

    if (ngx_xyz_origin_scheme(url, len, scheme, &i) != 0
        || ngx_xyz_origin_authority(url, len, i, &end) != 0)
    {
        return -1;
    }

    *rest = end;

    if (ngx_xyz_origin_host(url, end, &i, host) != 0
        || ngx_xyz_origin_port(url, end, i, &port) != 0)
    {
        return -1;
    }

    return ngx_xyz_origin_write(scheme, host, port, out, size);
}


/* the scheme (RFC 3986, 3.1), in lowercase; *pos: the byte after "://" */

static int
ngx_xyz_origin_scheme(const char *url, size_t len, char *scheme,
    size_t *pos)
{
    size_t         i;
    unsigned char  ch;

    for (i = 0; i < len && i < NGX_XYZ_ORIGIN_SCHEME_MAX; i++) {
        ch = (unsigned char) url[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (i > 0 && ((ch >= '0' && ch <= '9')
                          || ch == '+' || ch == '-' || ch == '.')))
        {
            scheme[i] = (char) ngx_xyz_origin_lower(ch);
            continue;
        }

        break;
    }

    if (i == 0 || len - i < 3 || memcmp(url + i, "://", 3) != 0) {
        return -1;
    }

    scheme[i] = '\0';
    *pos = i + 3;

    return 0;
}


/* the authority, from i, ends at the path, the query or the fragment */

static int
ngx_xyz_origin_authority(const char *url, size_t len, size_t i,
    size_t *end)
{
    unsigned char  ch;

    for ( /* void */ ; i < len; i++) {
        ch = (unsigned char) url[i];

        if (ch == '/' || ch == '?' || ch == '#') {
            break;
        }

        /* "https://ours.example@evil.example/" is evil.example's: user
         * information is refused rather than parsed around */

        if (ch == '@') {
            return -1;
        }
    }

    *end = i;

    return 0;
}


/* the host from *pos, in lowercase, NUL-terminated; *pos: the byte after */

static int
ngx_xyz_origin_host(const char *url, size_t end, size_t *pos, char *host)
{
    size_t         i, hlen;
    unsigned char  ch;

    i = *pos;
    hlen = 0;

    if (i < end && url[i] == '[') {

        /* an IPv6 literal (RFC 3986, 3.2.2), brackets kept */

        host[hlen++] = '[';

        for (i++; i < end && url[i] != ']'; i++) {
            ch = (unsigned char) url[i];

            if (!ngx_xyz_origin_ipv6_char(ch) || hlen >= 2 + 45) {
                return -1;
            }

            host[hlen++] = (char) ngx_xyz_origin_lower(ch);
        }

        if (i == end || hlen == 1) {
            return -1;
        }

        host[hlen++] = ']';
        i++;

    } else {
        for ( /* void */ ; i < end && url[i] != ':'; i++) {
            ch = (unsigned char) url[i];

            if (!ngx_xyz_origin_host_char(ch)
                || hlen >= NGX_XYZ_ORIGIN_HOST_MAX)
            {
                return -1;
            }

            host[hlen++] = (char) ngx_xyz_origin_lower(ch);
        }

        if (hlen == 0) {
            return -1;
        }
    }

    host[hlen] = '\0';
    *pos = i;

    return 0;
}


/* the port from i to end: digits after ":", leading zeros allowed; 0 when
 * there is none */

static int
ngx_xyz_origin_port(const char *url, size_t end, size_t i, unsigned *port)
{
    unsigned char  ch;

    *port = 0;

    if (i == end) {
        return 0;
    }

    if (url[i] != ':' || ++i == end) {
        return -1;
    }

    for ( /* void */ ; i < end; i++) {
        ch = (unsigned char) url[i];

        if (ch < '0' || ch > '9') {
            return -1;
        }

        *port = *port * 10 + (ch - '0');

        if (*port > 65535) {
            return -1;
        }
    }

    return (*port == 0) ? -1 : 0;
}


/* "scheme://host", with ":port" unless it is the scheme's default */

static int
ngx_xyz_origin_write(const char *scheme, const char *host, unsigned port,
    char *out, size_t size)
{
    int       n;
    unsigned  default_port;

    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0) {
        default_port = 80;

    } else if (strcmp(scheme, "https") == 0 || strcmp(scheme, "wss") == 0) {
        default_port = 443;

    } else {
        default_port = 0;
    }

    if (port == 0 || port == default_port) {
        n = snprintf(out, size, "%s://%s", scheme, host);

    } else {
        n = snprintf(out, size, "%s://%s:%u", scheme, host, port);
    }

    if (n < 0 || (size_t) n >= size) {
        return -1;
    }

    return n;
}


static int
ngx_xyz_origin_host_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
}


static int
ngx_xyz_origin_ipv6_char(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')
           || (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.';
}


static unsigned char
ngx_xyz_origin_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch | 0x20 : ch;
}
