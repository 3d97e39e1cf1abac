/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The session token verifier, with two keys, at a fixed time; and the
 * base64url decoder it uses.  A token that verifies must carry claims
 * that sign again.
 */

#include "fuzz.h"
#include <ngx_xyz_base64url.h>
#include <ngx_xyz_jwt.h>


static const unsigned char  xyz_key1[] = "0123456789abcdef0123456789abcdef";
static const unsigned char  xyz_key2[] = "fedcba9876543210fedcba9876543210";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                  *s, tok[NGX_XYZ_JWT_MAX + 1];
    unsigned char         *raw;
    ngx_xyz_jwt_key_t      keys[2];
    ngx_xyz_jwt_claims_t   c;

    keys[0].kid = "k1";
    keys[0].key = xyz_key1;
    keys[0].key_len = 32;
    keys[1].kid = "k2";
    keys[1].key = xyz_key2;
    keys[1].key_len = 32;

    s = xyz_fuzz_str(data, size);

    if (ngx_xyz_jwt_verify(s, size, keys, 2, 1800000000LL, &c) == 0) {
        if (ngx_xyz_jwt_sign(&c, &keys[0], tok, sizeof(tok)) < 0) {
            abort();
        }
    }

    raw = malloc(NGX_XYZ_BASE64URL_DECODED_LEN(size) + 1);
    if (raw == NULL) {
        abort();
    }

    (void) ngx_xyz_base64url_decode(s, size, raw,
                                    NGX_XYZ_BASE64URL_DECODED_LEN(size) + 1);

    free(raw);
    free(s);

    return 0;
}
