
/*
 * Copyright (C) the XYZ sign-up authors
 */


#include <string.h>

#include "ngx_xyz_validate.h"


static int ngx_xyz_email_local_char(unsigned char ch);
static int ngx_xyz_email_domain(const char *d, size_t len);
static int ngx_xyz_utf8_decode(const unsigned char *p,
    const unsigned char *end, unsigned int *cp);


void
ngx_xyz_trim(const char **s, size_t *len)
{
    const char  *p;
    size_t       n;

    p = *s;
    n = *len;

    while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
        n--;
    }

    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'
                 || p[n - 1] == '\n'))
    {
        n--;
    }

    *s = p;
    *len = n;
}


int
ngx_xyz_email_normalize(const char *in, size_t in_len, char *out,
    const char **start, size_t *len)
{
    size_t       i, at, n;
    const char  *p;

    p = in;
    n = in_len;
    ngx_xyz_trim(&p, &n);

    if (n < 3 || n > NGX_XYZ_EMAIL_MAX) {
        return -1;
    }

    at = n;

    for (i = 0; i < n; i++) {
        if (p[i] == '@') {
            if (at != n) {
                return -1;              /* two '@' */
            }

            at = i;
        }
    }

    /* RFC 5321: the local part holds at most 64 octets */

    if (at == 0 || at == n || at > 64) {
        return -1;
    }

    /* dot-atom only: no quoted local parts, no leading, trailing or double
     * dots; these are what registration forms see in practice */

    if (p[0] == '.' || p[at - 1] == '.') {
        return -1;
    }

    for (i = 0; i < at; i++) {
        if (!ngx_xyz_email_local_char((unsigned char) p[i])) {
            return -1;
        }

        if (p[i] == '.' && p[i + 1] == '.') {
            return -1;
        }
    }

    if (ngx_xyz_email_domain(p + at + 1, n - at - 1) != 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        out[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char) (p[i] | 0x20) : p[i];
    }

    out[n] = '\0';

    *start = p;
    *len = n;

    return 0;
}


static int
ngx_xyz_email_local_char(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9'))
    {
        return 1;
    }

    return ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", ch) != NULL;
}


static int
ngx_xyz_email_domain(const char *d, size_t len)
{
    size_t  i, label, labels;
    int     alpha_tld;

    if (len == 0 || len > 253) {
        return -1;
    }

    label = 0;
    labels = 1;
    alpha_tld = 1;

    for (i = 0; i < len; i++) {
        unsigned char  ch = (unsigned char) d[i];

        if (ch == '.') {
            if (label == 0 || d[i - 1] == '-') {
                return -1;
            }

            label = 0;
            labels++;
            alpha_tld = 1;
            continue;
        }

        if (ch == '-') {
            if (label == 0) {
                return -1;
            }

        } else if ((ch >= '0' && ch <= '9')) {
            alpha_tld = 0;

        } else if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
            return -1;
        }

        if (++label > 63) {
            return -1;
        }
    }

    /* a public address has a dot and a top-level label that is not all
     * digits (rules out "user@localhost" and bare IPv4 addresses) */

    if (labels < 2 || label == 0 || d[len - 1] == '-' || !alpha_tld) {
        return -1;
    }

    return 0;
}


long
ngx_xyz_utf8_printable_length(const char *s, size_t len)
{
    int                   k;
    long                  n;
    unsigned int          cp;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + len;
    n = 0;

    while (p < end) {
        k = ngx_xyz_utf8_decode(p, end, &cp);

        /* invalid, or a control: C0, DEL, C1 */

        if (k < 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            return -1;
        }

        p += k;
        n++;
    }

    return n;
}


/*
 * As ngx_xyz_utf8_printable_length(), and refuses what must not reach a
 * mail or another system from a name: noncharacters (U+FDD0-U+FDEF and
 * the last two code points of every plane, U+FFFE, U+FFFF, U+1FFFE, ...;
 * SQS refuses U+FFFE and U+FFFF in a message) and the bidirectional
 * embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069),
 * which make text read in an order other than the stored one.
 */

long
ngx_xyz_utf8_name_length(const char *s, size_t len)
{
    int                   k;
    long                  n;
    unsigned int          cp;
    const unsigned char  *p, *end;

    n = ngx_xyz_utf8_printable_length(s, len);
    if (n < 0) {
        return -1;
    }

    p = (const unsigned char *) s;
    end = p + len;

    while (p < end) {
        k = ngx_xyz_utf8_decode(p, end, &cp);

        if (k < 0
            || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe
            || (cp >= 0x202a && cp <= 0x202e)
            || (cp >= 0x2066 && cp <= 0x2069))
        {
            return -1;
        }

        p += k;
    }

    return n;
}


/*
 * The code point that starts at p, in *cp: the length of its UTF-8 form,
 * or -1 where that is no valid UTF-8 (truncated, an overlong form, a
 * surrogate, beyond U+10FFFF).
 */

static int
ngx_xyz_utf8_decode(const unsigned char *p, const unsigned char *end,
    unsigned int *cp)
{
    unsigned int  c, need, i;

    if (*p < 0x80) {
        *cp = *p;
        return 1;
    }

    if ((*p & 0xe0) == 0xc0) {
        c = *p & 0x1f;
        need = 1;

    } else if ((*p & 0xf0) == 0xe0) {
        c = *p & 0x0f;
        need = 2;

    } else if ((*p & 0xf8) == 0xf0) {
        c = *p & 0x07;
        need = 3;

    } else {
        return -1;
    }

    if ((size_t) (end - p) <= need) {
        return -1;
    }

    for (i = 1; i <= need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return -1;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if ((need == 1 && c < 0x80) || (need == 2 && c < 0x800)
        || (need == 3 && c < 0x10000) || c > 0x10ffff
        || (c >= 0xd800 && c <= 0xdfff))
    {
        return -1;
    }

    *cp = c;

    return (int) need + 1;
}
