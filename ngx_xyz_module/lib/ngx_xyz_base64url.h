
/*
 * Copyright (C) the XYZ sign-up authors
 */


#ifndef _NGX_XYZ_BASE64URL_H_INCLUDED_
#define _NGX_XYZ_BASE64URL_H_INCLUDED_


#include <stddef.h>


/* base64url (RFC 4648, 5) without padding, as JWS uses it */

#define NGX_XYZ_BASE64URL_ENCODED_LEN(n)  (((n) * 4 + 2) / 3)
#define NGX_XYZ_BASE64URL_DECODED_LEN(n)  ((n) * 3 / 4)

/*
 * Encodes len bytes, NUL-terminated, to out; returns the length written
 * (NGX_XYZ_BASE64URL_ENCODED_LEN(len)), or -1 when out is too small.
 */
int ngx_xyz_base64url_encode(const unsigned char *in, size_t len, char *out,
    size_t size);

/*
 * Decodes len characters to out and puts a NUL after the bytes (so out
 * needs NGX_XYZ_BASE64URL_DECODED_LEN(len) + 1 bytes); returns the number
 * of bytes, or -1 when out is too small or the text is not canonical
 * base64url without padding: a character outside A-Z a-z 0-9 - _, "=",
 * a length of 4n+1, or bits left over that are not zero.
 */
int ngx_xyz_base64url_decode(const char *in, size_t len, unsigned char *out,
    size_t size);


#endif /* _NGX_XYZ_BASE64URL_H_INCLUDED_ */
