
/*
 * Copyright (C) the XYZ sign-up authors
 *
 * base64url (RFC 4648, 5) without padding, as JWS uses it.
 */


#include <limits.h>
#include <stddef.h>

#include "ngx_xyz_base64url.h"


static int ngx_xyz_base64url_value(unsigned char ch);


static const char  ngx_xyz_base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


int
ngx_xyz_base64url_encode(const unsigned char *in, size_t len, char *out,
    size_t size)
{
    size_t    i, n;
    char     *p;
    unsigned  v;

    if (len > (INT_MAX - 3) / 4 * 3) {
        return -1;
    }

    n = NGX_XYZ_BASE64URL_ENCODED_LEN(len);

    if (size < n + 1) {
        return -1;
    }

    p = out;

    for (i = 0; i + 3 <= len; i += 3) {
        v = ((unsigned) in[i] << 16) | ((unsigned) in[i + 1] << 8) | in[i + 2];

        *p++ = ngx_xyz_base64url_alphabet[(v >> 18) & 0x3f];
        *p++ = ngx_xyz_base64url_alphabet[(v >> 12) & 0x3f];
        *p++ = ngx_xyz_base64url_alphabet[(v >> 6) & 0x3f];
        *p++ = ngx_xyz_base64url_alphabet[v & 0x3f];
    }

    if (len - i == 1) {
        v = (unsigned) in[i] << 16;

        *p++ = ngx_xyz_base64url_alphabet[(v >> 18) & 0x3f];
        *p++ = ngx_xyz_base64url_alphabet[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = ((unsigned) in[i] << 16) | ((unsigned) in[i + 1] << 8);

        *p++ = ngx_xyz_base64url_alphabet[(v >> 18) & 0x3f];
        *p++ = ngx_xyz_base64url_alphabet[(v >> 12) & 0x3f];
        *p++ = ngx_xyz_base64url_alphabet[(v >> 6) & 0x3f];
    }

    *p = '\0';

    return (int) (p - out);
}


int
ngx_xyz_base64url_decode(const char *in, size_t len, unsigned char *out,
    size_t size)
{
    int             d;
    size_t          i, n;
    unsigned        acc, bits;
    unsigned char  *p;

    if (len % 4 == 1 || len > INT_MAX) {
        return -1;
    }

    n = NGX_XYZ_BASE64URL_DECODED_LEN(len);

    if (size < n + 1) {
        return -1;
    }

    p = out;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        d = ngx_xyz_base64url_value((unsigned char) in[i]);

        if (d < 0) {
            return -1;
        }

        acc = (acc << 6) | (unsigned) d;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *p++ = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    /* RFC 4648, 3.5: the bits that pad the last character are zero in a
     * canonical encoding; refusing the others makes the text unique */

    if (acc != 0) {
        return -1;
    }

    *p = '\0';

    return (int) (p - out);
}


static int
ngx_xyz_base64url_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }

    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }

    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }

    if (ch == '-') {
        return 62;
    }

    if (ch == '_') {
        return 63;
    }

    return -1;
}
