/*
 * Copyright (C) the XYZ sign-up authors
 *
 * The Cookie header parser, the Set-Cookie writer with an outside value,
 * and the Origin/Referer checks.  Parts: cookie header, origin, referer.
 */

#include "fuzz.h"
#include <ngx_xyz_cookie.h>
#include <ngx_xyz_origin.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                rc;
    char               out[512], set[512];
    const char        *value;
    xyz_fuzz_parts_t   fp;
    const char *const  allowed[] = { "https://signup.example.com",
                                     "http://localhost:8080" };

    xyz_fuzz_split(data, size, &fp);

    rc = ngx_xyz_cookie_get(fp.p[0], fp.len[0], "xyz_session", &value);
    if (rc >= 0) {
        if (value < fp.p[0] || value + rc > fp.p[0] + fp.len[0]) {
            abort();
        }
    }

    (void) ngx_xyz_cookie_get(fp.p[0], fp.len[0], "__Host-xyz_session",
                              &value);

    (void) ngx_xyz_cookie_set(set, sizeof(set), "xyz_session", fp.p[1],
                              3600, 1, "Lax");

    rc = ngx_xyz_origin_of(fp.p[1], fp.len[1], out, sizeof(out));
    if (rc >= 0 && strlen(out) != (size_t) rc) {
        abort();
    }

    (void) ngx_xyz_origin_allowed(fp.p[1], fp.len[1], fp.p[2], fp.len[2],
                                  allowed, 2, 0);

    free(fp.buf);

    return 0;
}
